//! Leases in a JetStream key-value bucket, against a real NATS server.

use std::time::{Duration, Instant};

use callcenter_eventlog::Name;
use callcenter_eventlog::lease::{JetStreamLeases, Leases};
use callcenter_testkit::unique_name;

#[tokio::test]
async fn a_jetstream_lease_has_one_holder_and_frees_itself_when_not_renewed() {
    let prefix = Name::new(unique_name("lease")).unwrap();
    let ttl = Duration::from_secs(1);
    let leases = JetStreamLeases::connect(&callcenter_testkit::nats_url(), &prefix, ttl)
        .await
        .expect("the bucket");
    let name = Name::new("routing-p0").unwrap();
    assert!(leases.hold(&name, "replica-a").await.unwrap());
    assert!(!leases.hold(&name, "replica-b").await.unwrap());
    // Renewed within the time to live, it stays with its holder.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(leases.hold(&name, "replica-a").await.unwrap());
        assert!(!leases.hold(&name, "replica-b").await.unwrap());
    }
    // The holder stops renewing (it died): the lease frees itself within the time to live.
    let stopped = Instant::now();
    while !leases.hold(&name, "replica-b").await.unwrap() {
        assert!(
            stopped.elapsed() < Duration::from_secs(5),
            "the lease never expired"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !leases.hold(&name, "replica-a").await.unwrap(),
        "a late renewal fails"
    );
    leases.release(&name, "replica-a").await.unwrap();
    assert!(
        leases.hold(&name, "replica-b").await.unwrap(),
        "others cannot release it"
    );
    leases.release(&name, "replica-b").await.unwrap();
    assert!(leases.hold(&name, "replica-a").await.unwrap());
    let other = Name::new("routing-p1").unwrap();
    assert!(leases.hold(&other, "replica-b").await.unwrap());
    assert_eq!(leases.count("routing-p").await.unwrap(), 2);
    assert_eq!(leases.count("routing-replica-").await.unwrap(), 0);
    leases.delete_bucket().await.expect("clean up");
}
