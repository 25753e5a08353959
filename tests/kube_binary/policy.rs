//! The reconcile-policy annotation through kubectl with the real binary watching: an annotation
//! change is a watch event, so `skip` takes hold at once (the resync here is a day), a spec change
//! under `skip` reaches no ARM, set and cleared are Events, and `kubectl delete` under
//! `detach-on-delete` leaves Azure as it is although the plane says `deletion: delete`.

use std::time::Duration;

use engram_operator::mock_arm::MockArm;
use engram_operator::reconcile::policy::ANNOTATION;
use serde_json::Value;

use super::cluster::Cluster;
use super::harness::{self, Operator};

const NAME: &str = "brake";

/// ARM requests whose path names this plane's server or storage account.
fn arm_requests(m: &MockArm) -> usize {
    m.journal()
        .iter()
        .filter(|e| e.path.contains("brake-pg") || e.path.contains("engrambrake"))
        .count()
}

async fn annotate(c: &Cluster, value: Option<&str>) {
    let arg = match value {
        Some(v) => format!("{ANNOTATION}={v}"),
        None => format!("{ANNOTATION}-"),
    };
    c.ok(&["annotate", "edp", NAME, "-n", "engram", "--overwrite", &arg])
        .await;
}

/// Wait until the plane's status.reconcilePolicy is `want` (None: absent).
async fn policy_in_status(c: &Cluster, op: &Operator, want: Option<&str>) -> Value {
    let items = harness::wait_for(
        c,
        &format!("status.reconcilePolicy {want:?}"),
        Duration::from_secs(30),
        &[op],
        |items| {
            items
                .iter()
                .any(|o| o["status"]["reconcilePolicy"].as_str() == want)
        },
    )
    .await;
    items.into_iter().next().unwrap_or_default()
}

async fn notes(c: &Cluster, reason: &str) -> Vec<String> {
    let events = c.get_json(&["events", "-n", "engram"]).await;
    events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["reason"] == reason)
        .filter_map(|e| e["note"].as_str().or(e["message"].as_str()))
        .map(String::from)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_takes_hold_on_the_annotation_change_and_detach_on_delete_keeps_azure() {
    let c = Cluster::start().await;
    c.install().await;
    c.apply_text(
        "brake.yaml",
        &harness::dev_plane(NAME, 86400, "    deletion: delete\n"),
    )
    .await;
    let arm = harness::arm().await;
    let op = Operator::spawn(&c, &arm, "policy-a", &[]);
    harness::all_ready(&c, 1, &[&op]).await;

    // skip: seen at once (the next resync is a day away), Paused, one Event.
    annotate(&c, Some("skip")).await;
    let obj = policy_in_status(&c, &op, Some("skip")).await;
    let paused = harness::condition(&obj, "Paused")
        .cloned()
        .unwrap_or_default();
    assert_eq!(paused["status"], "True", "{obj}");
    assert!(
        paused["message"]
            .as_str()
            .unwrap_or_default()
            .contains(ANNOTATION),
        "{paused}"
    );
    // A spec change under skip: a pass runs (observedGeneration 2) and sends nothing to ARM.
    let before = arm_requests(&arm);
    harness::merge_patch(&c, NAME, r#"{"spec":{"policy":{"resyncSeconds":86399}}}"#).await;
    harness::wait_for(
        &c,
        "generation 2 seen under skip",
        Duration::from_secs(30),
        &[&op],
        |items| items.iter().any(|o| o["status"]["observedGeneration"] == 2),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(arm_requests(&arm), before, "{}", op.log());

    // Cleared: managed again, announced.
    annotate(&c, None).await;
    let obj = policy_in_status(&c, &op, None).await;
    assert!(harness::condition(&obj, "Paused").is_none(), "{obj}");
    // The Event follows the status write: give it a moment.
    let want = ["reconcile-policy skip set", "reconcile-policy skip cleared"];
    let mut changed = Vec::new();
    for _ in 0..20 {
        changed = notes(&c, "ReconcilePolicyChanged").await;
        if want.iter().all(|w| changed.iter().any(|n| n == w)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(changed.len(), 2, "{changed:?}");
    for w in want {
        assert!(changed.iter().any(|n| n == w), "{w}: {changed:?}");
    }

    // detach-on-delete, then kubectl delete: the finalizer goes, Azure keeps everything.
    annotate(&c, Some("detach-on-delete")).await;
    policy_in_status(&c, &op, Some("detach-on-delete")).await;
    let out = c
        .ok(&["delete", "edp", NAME, "-n", "engram", "--timeout=50s"])
        .await;
    assert!(out.contains("deleted"), "{out}");
    let deletes = arm
        .journal()
        .iter()
        .filter(|e| e.method == "DELETE")
        .count();
    assert_eq!(deletes, 0, "{}", op.log());
    let dump = arm.dump();
    let held = |part: &str| {
        dump["resources"]
            .as_object()
            .into_iter()
            .flatten()
            .any(|(id, r)| id.ends_with(part) && r["visible"] != false)
    };
    assert!(held("/flexibleServers/brake-pg") && held("/storageAccounts/engrambrake"));
}
