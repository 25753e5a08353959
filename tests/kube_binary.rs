//! The real binary (`run --kube`) against mock-kube, which has real watch semantics (a status write
//! is a watch event; a write that changes nothing is none), and a mock ARM, both in this process.
//! Real time by nature (several processes): bounded, and the assertions are counts from the two
//! journals, not durations (the one exception: a takeover within lease + grace, in `replicas`).
//! The tests of this binary run side by side, so the soak's two minutes are shared.
//!
//! Before status was written only when it changed, the same setup showed 143 status applies in
//! about 25 s for one plane: every status write started the next pass (the reconcile storm).

mod audit;
use crate::mock_kube::cluster;
mod harness;
mod lifecycle;
mod policy;
mod replicas;
mod shards;
mod soak;

use std::time::Duration;

use cluster::Cluster;
use harness::Operator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_ready_the_controller_writes_nothing_to_kubernetes_or_to_arm() {
    let c = Cluster::start().await;
    c.install().await;
    c.ok(&["apply", "-f", "examples/dev.yaml"]).await;
    let arm = harness::arm().await;
    let op = Operator::spawn(&c, &arm, "quiet-a", &[]);

    // Ready within a bound (the operations last half a second each).
    harness::all_ready(&c, 1, &[&op]).await;
    let (applies, writes) = (
        harness::status_applies(&c, None, None),
        harness::arm_writes(&arm, None),
    );
    assert!(applies >= 1, "status was written on the way to Ready");

    // A window of quiet: the plane is in sync, its resync (300 s) is far away.
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(
        harness::status_applies(&c, None, None),
        applies,
        "an unchanged status was applied again (the reconcile storm)"
    );
    assert_eq!(
        harness::arm_writes(&arm, None),
        writes,
        "zero ARM writes once Ready"
    );
    // Both journals say which replica sent each request.
    let agent = harness::agent("quiet-a");
    assert!(arm
        .journal()
        .iter()
        .all(|e| e.user_agent.starts_with(&agent)));
    assert!(c
        .mock
        .journal()
        .iter()
        .filter(|e| e.resource == harness::STATUS)
        .all(|e| e.user_agent == agent || e.user_agent.starts_with("kubectl")));
}
