//! A key rotation seen by the binary in Kubernetes mode: each step is an audit line on stdout
//! (marked `"audit":true`) and an Event on the plane.

use std::time::Duration;

use serde_json::Value;

use super::cluster::Cluster;
use super::harness::{self, Operator};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_prints_audit_lines_and_records_events() {
    let c = Cluster::start().await;
    c.install().await;
    c.ok(&["apply", "-f", "examples/prod.yaml"]).await;
    let arm = harness::arm().await;
    arm.new_key_version("kv-acme-prod", "engram-cmk");
    arm.new_key_version("kv-acme-prod-cus", "engram-cmk");
    let op = Operator::spawn(&c, &arm, "audit-a", &[]);
    harness::all_ready(&c, 1, &[&op]).await;
    assert!(
        !op.stdout().contains("\"audit\":true"),
        "creating is not rotating"
    );

    // The vault rotates; a spec change (a shorter resync) starts the next pass at once.
    let v2 = arm.new_key_version("kv-acme-prod", "engram-cmk");
    harness::merge_patch(
        &c,
        "acme-prod",
        r#"{"spec":{"policy":{"resyncSeconds":30}}}"#,
    )
    .await;
    harness::wait_for(
        &c,
        "KeyRotated",
        Duration::from_secs(120),
        &[&op],
        |items| {
            items
                .iter()
                .any(|o| harness::condition(o, "KeyRotated").is_some_and(|k| k["status"] == "True"))
        },
    )
    .await;

    let lines: Vec<Value> = op
        .stdout()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["audit"] == true)
        .collect();
    let steps: Vec<String> = lines
        .iter()
        .map(|l| {
            format!(
                "{} {}",
                l["event"].as_str().unwrap(),
                l["consumer"].as_str().unwrap()
            )
        })
        .collect();
    for want in [
        "detected all",
        "move-sent postgres",
        "consumer-confirmed postgres",
        "consumer-confirmed storage",
        "rotation-complete all",
    ] {
        assert!(
            steps.iter().any(|s| s == want),
            "{want} missing from {steps:?}"
        );
    }
    assert!(lines
        .iter()
        .all(|l| l["plane"] == "engram/acme-prod" && l["toVersion"] == v2.as_str()));

    let events = c.get_json(&["events", "-n", "engram"]).await;
    let reasons: Vec<&str> = events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    for want in ["KeyRotationDetected", "KeyMoveSent", "KeyRotated"] {
        assert!(reasons.contains(&want), "{want} missing from {reasons:?}");
    }
}
