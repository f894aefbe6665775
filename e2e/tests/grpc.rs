//! The gRPC surface of the running binary: health, reflection, authentication and rich errors.

use callcenter_e2e::{Instance, Mode};
use callcenter_proto::telephony::v1 as telephony;
use callcenter_proto::telephony::v1::telephony_service_client::TelephonyServiceClient;
use callcenter_testkit::TempDir;
use tonic::metadata::MetadataValue;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_serves_health_checks_auth_and_rich_errors() {
    let directory = TempDir::new("e2e-grpc");
    let instance = Instance::start(Mode::Dev {
        data_dir: directory.path().join("data"),
        extra: vec!["--no-demo".into()],
    })
    .await;
    let channel = tonic::transport::Endpoint::from_shared(instance.grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();

    // Health answers without a token, for the whole server and for each service.
    let mut health = HealthClient::new(channel.clone());
    for service in ["", "callcenter.telephony.v1.TelephonyService"] {
        let mut status = ServingStatus::Unknown;
        for _ in 0..50 {
            let answer = health
                .check(HealthCheckRequest {
                    service: service.into(),
                })
                .await
                .unwrap()
                .into_inner();
            status = answer.status();
            if status == ServingStatus::Serving {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(status, ServingStatus::Serving, "service {service:?}");
    }

    // Reflection lists the platform's services.
    let services = reflected_services(channel.clone()).await;
    assert!(
        services.contains(&"callcenter.routing.v1.RoutingService".to_owned()),
        "{services:?}"
    );

    // Without a token: UNAUTHENTICATED with an ErrorInfo reason.
    let mut calls = TelephonyServiceClient::new(channel.clone());
    let refused = calls
        .get_call(telephony::GetCallRequest {
            call_id: "c1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    assert_eq!(
        refused.get_error_details().error_info().unwrap().reason,
        "UNAUTHENTICATED"
    );

    // With a token but a malformed request: INVALID_ARGUMENT with the field named.
    let token = instance.token("acme", "partner", "pbx-1");
    let mut request = tonic::Request::new(telephony::ReportCallRequest {
        caller_number: "12345".into(),
        dialled_number: "".into(),
        ..Default::default()
    });
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {token}")).unwrap(),
    );
    let invalid = calls.report_call(request).await.unwrap_err();
    assert_eq!(invalid.code(), tonic::Code::InvalidArgument);
    let details = invalid.get_error_details();
    let violations = &details.bad_request().unwrap().field_violations;
    assert_eq!(violations[0].field, "dialled_number");
    instance.stop().await;
}

/// The services that grpc.reflection.v1 lists.
async fn reflected_services(channel: tonic::transport::Channel) -> Vec<String> {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = ServerReflectionClient::new(channel)
        .server_reflection_info(futures_util::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    match answers.message().await.unwrap().unwrap().message_response {
        Some(MessageResponse::ListServicesResponse(list)) => list
            .service
            .into_iter()
            .map(|service| service.name)
            .collect(),
        other => panic!("unexpected reflection answer {other:?}"),
    }
}
