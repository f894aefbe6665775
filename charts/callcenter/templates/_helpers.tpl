{{/* The release-scoped name of the whole chart. */}}
{{- define "callcenter.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels shared by every object. */}}
{{- define "callcenter.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The Secret that holds the signing key and the database URL. */}}
{{- define "callcenter.secretName" -}}
{{- printf "%s-secrets" (include "callcenter.fullname" .) -}}
{{- end -}}

{{- define "callcenter.jwtSecretRef" -}}
name: {{ .Values.auth.existingSecret | default (include "callcenter.secretName" .) }}
key: jwt-secret
{{- end -}}

{{- define "callcenter.databaseSecretRef" -}}
name: {{ .Values.database.existingSecret | default (include "callcenter.secretName" .) }}
key: database-url
{{- end -}}
