//! A plane's life through kubectl with the real binary watching: a spec the planner refuses, specs
//! the server or the operator refuses, and deletion under `retain` and under `delete`. Counted on
//! both journals.

use std::time::Duration;

use engram_operator::mock_arm::MockArm;
use serde_json::Value;

use super::cluster::Cluster;
use super::harness::{self, Operator};

/// ARM requests (any method) whose path names `part` (a server or account name).
fn arm_requests_for(m: &MockArm, method: Option<&str>, part: &str) -> usize {
    m.journal()
        .iter()
        .filter(|e| method.is_none_or(|x| e.method == x))
        .filter(|e| e.path.contains(part))
        .count()
}

async fn get(c: &Cluster, name: &str) -> Value {
    c.get_json(&["edp", name, "-n", "engram"]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_shrink_is_written_once_and_sends_nothing_to_arm_until_the_spec_changes() {
    let c = Cluster::start().await;
    c.install().await;
    let yaml = harness::dev_plane("shrink", 30, "").replace(
        "  postgres:\n",
        "  postgres:\n    storage:\n      sizeGiB: 64\n      autoGrow: false\n",
    );
    c.apply_text("shrink.yaml", &yaml).await;
    let arm = harness::arm().await;
    let op = Operator::spawn(&c, &arm, "refuse-a", &[]);
    harness::all_ready(&c, 1, &[&op]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (writes, applies) = (
        harness::arm_writes(&arm, None),
        harness::status_applies(&c, None, Some("shrink")),
    );

    // 64 → 32 GiB with auto-grow off: the planner refuses (storage never shrinks).
    harness::merge_patch(
        &c,
        "shrink",
        r#"{"spec":{"postgres":{"storage":{"sizeGiB":32}}}}"#,
    )
    .await;
    let refused = harness::wait_for(
        &c,
        "the refusal in status",
        Duration::from_secs(60),
        &[&op],
        |items| {
            items.iter().any(|o| {
                o["status"]["observedGeneration"] == 2
                    && o["status"].to_string().contains("cannot shrink")
            })
        },
    )
    .await;
    let reads_then = arm_requests_for(&arm, Some("GET"), "shrink-pg");
    // Longer than the longest jittered resync (1.2 × 30 s): at least one more pass runs.
    tokio::time::sleep(Duration::from_secs(40)).await;
    assert!(
        arm_requests_for(&arm, Some("GET"), "shrink-pg") > reads_then,
        "a resync pass ran in the window (it observed the server)"
    );
    assert_eq!(
        harness::status_applies(&c, None, Some("shrink")),
        applies + 1,
        "one status write with the refusal, none after it: {}",
        refused[0]["status"]
    );
    assert_eq!(
        harness::arm_writes(&arm, None),
        writes,
        "no ARM write\n{}",
        op.log()
    );
    assert!(!harness::is_ready(&get(&c, "shrink").await));

    // The generation changes (back to 64): the refusal goes, in one more status write.
    harness::merge_patch(
        &c,
        "shrink",
        r#"{"spec":{"postgres":{"storage":{"sizeGiB":64}}}}"#,
    )
    .await;
    harness::ready_at(&c, 3, &[&op]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        harness::status_applies(&c, None, Some("shrink")),
        applies + 2
    );
    assert_eq!(
        harness::arm_writes(&arm, None),
        writes,
        "back in sync: no ARM write"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_refuses_a_misspelt_field_and_the_operator_reports_a_rule_the_schema_cannot_hold(
) {
    let c = Cluster::start().await;
    c.install().await;
    let arm = harness::arm().await;
    let op = Operator::spawn(&c, &arm, "validate-a", &[]);

    // fieldValidation=Strict: the API server refuses an unknown field; nothing is stored.
    let typo = c.apply_in_engram("examples/invalid/typo-field.yaml").await;
    assert!(!typo.ok);
    assert!(typo.stderr.contains("highAvaliability"), "{}", typo.stderr);
    let missing = c
        .kubectl(&["get", "edp", "typo-field", "-n", "engram"])
        .await;
    assert!(
        !missing.ok && missing.stderr.contains("NotFound"),
        "{}",
        missing.stderr
    );

    // HA on the dev profile's Burstable SKU: every field is well-formed, so the schema accepts it;
    // the rule joins two fields and a profile default, which only the operator's validation
    // knows. It is stored, and reported in status with nothing sent to Azure.
    let ha = c
        .apply_in_engram("examples/invalid/ha-on-burstable.yaml")
        .await;
    assert!(ha.ok, "{}", ha.stderr);
    let items = harness::wait_for(
        &c,
        "the validation error in status",
        Duration::from_secs(60),
        &[&op],
        |items| {
            items.iter().any(|o| {
                harness::condition(o, "Ready").is_some_and(|r| r["reason"] == "InvalidSpec")
            })
        },
    )
    .await;
    let errors = items[0]["status"]["errors"].to_string();
    assert!(
        errors.contains("spec.postgres.highAvailability.mode") && errors.contains("Burstable"),
        "{errors}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(harness::arm_writes(&arm, None), 0);
    assert_eq!(
        harness::arm_reads(&arm),
        0,
        "an invalid spec is not even observed"
    );
    assert_eq!(
        harness::status_applies(&c, None, Some("ha-on-burstable")),
        1,
        "one status write for the refusal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_delete_keeps_azure_under_retain_and_removes_it_under_delete() {
    let c = Cluster::start().await;
    c.install().await;
    c.apply_text(
        "keep.yaml",
        &harness::dev_plane("keep", 300, "    deletion: retain\n"),
    )
    .await;
    c.apply_text(
        "gone.yaml",
        &harness::dev_plane("gone", 300, "    deletion: delete\n"),
    )
    .await;
    let arm = harness::arm().await;
    let op = Operator::spawn(&c, &arm, "delete-a", &[]);
    harness::all_ready(&c, 2, &[&op]).await;
    assert_eq!(arm_requests_for(&arm, Some("DELETE"), "keep"), 0);
    assert_eq!(arm_requests_for(&arm, Some("DELETE"), "gone"), 0);

    // kubectl waits until the finalizer is released.
    let out = c
        .ok(&["delete", "edp", "keep", "-n", "engram", "--timeout=50s"])
        .await;
    assert!(out.contains("deleted"), "{out}");
    let out = c
        .ok(&["delete", "edp", "gone", "-n", "engram", "--timeout=50s"])
        .await;
    assert!(out.contains("deleted"), "{out}");
    let left = c.get_json(&["edp", "-n", "engram"]).await;
    assert_eq!(
        left["items"].as_array().map(Vec::len),
        Some(0),
        "both released"
    );

    // retain: nothing deleted in Azure, the server and account still there.
    assert_eq!(
        arm_requests_for(&arm, Some("DELETE"), "keep"),
        0,
        "{}",
        op.log()
    );
    let dump = arm.dump();
    let held: Vec<&String> = dump["resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["visible"] != false)
        .map(|(id, _)| id)
        .collect();
    let holds = |part: &str| held.iter().any(|id| id.ends_with(part));
    assert!(holds("/flexibleServers/keep-pg") && holds("/storageAccounts/engramkeep"));
    // delete: the server and the storage account the plane owned are gone.
    assert!(arm_requests_for(&arm, Some("DELETE"), "/flexibleServers/gone-pg") >= 1);
    assert!(arm_requests_for(&arm, Some("DELETE"), "/storageAccounts/engramgone") >= 1);
    assert!(
        !holds("/flexibleServers/gone-pg") && !holds("/storageAccounts/engramgone"),
        "{held:?}"
    );
}
