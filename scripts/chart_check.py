"""Renders charts/callcenter with Helm's own library for every value set in charts/callcenter/ci,
validates each object against the Kubernetes schemas, checks what the platform relies on (probes,
targets, upstreams), checks that the chart's services agree with the binary's list of services
(`callcenter services`), and checks that bad values are refused.

Run by `just chart` (part of `just test`); needs scripts/setup's tools."""

import json
import os
import pathlib
import subprocess
import sys

import helm_python as helm
import kubernetes_validate
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHART = ROOT / "charts" / "callcenter"
KUBERNETES_VERSION = "1.33.0"

# Value sets that must be refused, with why.
INVALID = {
    "negative replicas": {"services": {"routing": {"enabled": True, "replicas": -1}}},
    "unknown top-level key": {"replicaCount": 3},
    "short signing secret": {"auth": {"jwtSecret": "too-short"}},
    "missing signing secret": {"database": {"url": "postgres://x@y/z"}},
    "not a NATS URL": {"nats": {"url": "http://nats:4222"}},
    "unknown autoscaling mode": {"services": {"routing": {"enabled": True, "replicas": 1,
                                                          "autoscaling": {"mode": "magic"}}}},
    "zero routing partitions": {"services": {"routing": {"enabled": True, "replicas": 1,
                                                         "partitions": 0}}},
    "a setting that is no environment variable": {
        "services": {"routing": {"enabled": True, "replicas": 1, "settings": {"lease": 5}}}},
}

# Kinds from CRDs that Kubernetes' own schemas do not know; checked by hand below.
CUSTOM_KINDS = {("keda.sh/v1alpha1", "ScaledObject"), ("monitoring.coreos.com/v1", "ServiceMonitor")}


def declared_services():
    """The binary's list of services (`callcenter services`)."""
    binary = os.environ.get("CALLCENTER_BIN") or str(ROOT / "target" / "debug" / "callcenter")
    command = [binary, "services"]
    if not pathlib.Path(binary).exists():
        command = ["cargo", "run", "-q", "-p", "callcenter", "--", "services"]
    output = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return {service["name"]: service for service in json.loads(output)}


def check_services_agree(declared):
    """The chart's services map is the binary's list: the same names, each with the upstreams
    its service calls and a database when it keeps read models."""
    services = yaml.safe_load((CHART / "values.yaml").read_text())["services"]
    if sorted(services) != sorted(declared):
        fail(f"values.yaml services {sorted(services)} differ from the binary's {sorted(declared)}")
    for name, service in declared.items():
        values = services[name]
        if sorted(values.get("upstreams") or []) != sorted(service["upstreams"]):
            fail(f"values.yaml: {name} calls {service['upstreams']}, "
                 f"the chart gives it {values.get('upstreams')}")
        if bool(values.get("database")) != service["database"]:
            fail(f"values.yaml: {name} database should be {service['database']}")


def check_scaled_object(values_file, document, deployments):
    spec = document["spec"]
    target = spec["scaleTargetRef"]["name"]
    if target not in deployments:
        fail(f"{values_file.name}: the ScaledObject scales {target}, which does not exist")
    triggers = spec["triggers"]
    consumers = [trigger["metadata"]["consumer"] for trigger in triggers]
    if any(trigger["type"] != "nats-jetstream" for trigger in triggers) or not consumers:
        fail(f"{values_file.name}: the ScaledObject needs nats-jetstream triggers")
    if consumers != [f"routing-distributor-p{index}" for index in range(len(consumers))]:
        fail(f"{values_file.name}: the triggers watch {consumers}, not one consumer per partition")
    if spec["minReplicaCount"] > spec["maxReplicaCount"]:
        fail(f"{values_file.name}: min replicas above max")


def fail(message):
    print(f"chart: FAIL {message}", file=sys.stderr)
    sys.exit(1)


def render(chart, values):
    rendered = chart.render(values, name="cc", namespace="callcenter", is_install=True)
    objects = []
    for path, text in sorted(rendered.items()):
        if not path.endswith(".yaml"):
            continue
        for document in yaml.safe_load_all(text):
            if document:
                objects.append((path, document))
    return objects


def check_value_set(chart, values_file):
    values = yaml.safe_load(values_file.read_text()) or {}
    objects = render(chart, values)
    for path, document in objects:
        if (document.get("apiVersion"), document.get("kind")) in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            fail(f"{values_file.name}: {path} {document.get('kind')}: {error.message}")
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())["services"]
    merged = {name: {**defaults.get(name, {}), **(values.get("services") or {}).get(name, {})}
              for name in {*defaults, *(values.get("services") or {})}}
    enabled = sorted(name for name, service in merged.items() if service.get("enabled"))
    deployments = {d["metadata"]["name"]: d for _, d in objects if d["kind"] == "Deployment"}
    services = {d["metadata"]["name"] for _, d in objects if d["kind"] == "Service"}
    expected = sorted(f"cc-callcenter-{name}" for name in enabled)
    if sorted(deployments) != expected or sorted(services) != expected:
        fail(f"{values_file.name}: expected Deployments and Services {expected}, "
             f"got {sorted(deployments)} and {sorted(services)}")
    for name, deployment in deployments.items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        target = name.removeprefix("cc-callcenter-")
        if container["args"] != ["serve", "--target", target]:
            fail(f"{values_file.name}: {name} runs {container['args']}")
        if container["readinessProbe"]["httpGet"]["path"] != "/healthz":
            fail(f"{values_file.name}: {name} readiness probe is not /healthz")
        env = {e["name"] for e in container["env"]}
        if "CALLCENTER_JWT_SECRET" not in env:
            fail(f"{values_file.name}: {name} has no signing secret")
        service = merged[target]
        for upstream in service.get("upstreams") or []:
            if f"CALLCENTER_UPSTREAM_{upstream.upper()}" not in env:
                fail(f"{values_file.name}: {name} cannot reach its upstream {upstream}")
        if service.get("database") and "CALLCENTER_DATABASE_URL" not in env:
            fail(f"{values_file.name}: {name} has no database")
        if service.get("partitions") and f"CALLCENTER_{target.upper()}_PARTITIONS" not in env:
            fail(f"{values_file.name}: {name} lacks its partitions")
        for key in service.get("settings") or {}:
            if f"CALLCENTER_{key}" not in env:
                fail(f"{values_file.name}: {name} lacks its setting {key}")
        annotations = deployment["spec"]["template"]["metadata"].get("annotations") or {}
        scraped = annotations.get("prometheus.io/path") == "/metrics"
        if scraped != values.get("metrics", {}).get("scrapeAnnotations", True):
            fail(f"{values_file.name}: {name} scrape annotations do not follow the values")
    for _, document in objects:
        if document["kind"] == "ScaledObject":
            check_scaled_object(values_file, document, deployments)
        if document["kind"] == "ServiceMonitor":
            endpoint = document["spec"]["endpoints"][0]
            if (endpoint["port"], endpoint["path"]) != ("http", "/metrics"):
                fail(f"{values_file.name}: a ServiceMonitor scrapes {endpoint}")
        if document["kind"] == "HorizontalPodAutoscaler":
            target = document["spec"]["scaleTargetRef"]["name"]
            if target not in deployments:
                fail(f"{values_file.name}: the autoscaler scales {target}, which does not exist")
    return len(objects)


def main():
    value_sets = sorted((CHART / "ci").glob("*-values.yaml"))
    if not value_sets:
        fail("no value sets in charts/callcenter/ci")
    check_services_agree(declared_services())
    with helm.Chart.load(str(CHART)) as chart:
        total = 0
        for values_file in value_sets:
            count = check_value_set(chart, values_file)
            print(f"chart: {values_file.name}: {count} objects valid for Kubernetes {KUBERNETES_VERSION}")
            total += count
        base = yaml.safe_load((CHART / "ci" / "default-values.yaml").read_text())
        for reason, overrides in INVALID.items():
            values = {**base, **overrides} if reason != "missing signing secret" else overrides
            try:
                render(chart, values)
            except helm.HelmError as error:
                detail = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
                detail = detail.split("chart(s): ", 1)[-1]
                print(f"chart: refused ({reason}): {detail[:140]}")
                continue
            fail(f"values with {reason} were accepted")
    print(f"chart: ok, {len(value_sets)} value sets, {total} objects, {len(INVALID)} bad value sets refused")


if __name__ == "__main__":
    main()
