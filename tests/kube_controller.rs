//! The Kubernetes front door against a scenario verifier of the API server and a fake ARM:
//! finalizer first, status apply contents, Events once per transition, deletion under retain, and
//! the leader gate.

use crate::kube_api;

use std::sync::Arc;

use engram_operator::sources::assign::plane_shard;
use engram_operator::sources::kube::{reconcile, KubeError, FINALIZER};
use engram_operator::sources::shards::Gates;
use kube_api::*;

fn cond<'a>(s: &'a engram_operator::api::EngramDataPlaneStatus, t: &str) -> (&'a str, &'a str) {
    let c = s
        .conditions
        .iter()
        .find(|c| c.type_ == t)
        .unwrap_or_else(|| panic!("condition {t} missing: {:?}", s.conditions));
    (c.status.as_str(), c.reason.as_str())
}

#[tokio::test]
async fn the_finalizer_is_added_before_any_arm_request() {
    let timeline = Timeline::default();
    let obj = prod_object();
    let (client, api) = client(&obj, timeline.clone());
    let arm = Arc::new(FakeArm::new(timeline.clone()));
    let (_tx, gate) = gate(true);
    reconcile(Arc::new(obj), ctx(client, arm.clone(), gate))
        .await
        .expect("reconcile");
    let calls = api.calls();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert!(calls[0].is_finalizer_patch(), "{:?}", calls[0]);
    assert!(calls[0].uri.starts_with(
        "/apis/engram.zimax.net/v1alpha1/namespaces/engram/engramdataplanes/acme-prod"
    ));
    let add = calls[0]
        .body
        .as_array()
        .and_then(|ops| ops.iter().find(|op| op["op"] == "add"))
        .expect("an add operation");
    assert_eq!(add["path"], "/metadata/finalizers");
    assert_eq!(add["value"], serde_json::json!([FINALIZER]));
    assert!(
        arm.arm_lines().is_empty(),
        "ARM touched before the finalizer: {:?}",
        arm.arm_lines()
    );
}

#[tokio::test]
async fn status_is_applied_with_generation_and_conditions_and_events_fire_once() {
    let timeline = Timeline::default();
    let mut obj = with_finalizer(prod_object());
    obj.metadata.generation = Some(3);
    let (client, api) = client(&obj, timeline.clone());
    let arm = Arc::new(FakeArm::new(timeline.clone()));
    let (_tx, gate) = gate(true);
    let ctx = ctx(client, arm.clone(), gate);

    reconcile(Arc::new(obj.clone()), ctx.clone())
        .await
        .expect("first pass");
    let calls = api.take();
    let lines = timeline.lock().unwrap().clone();
    let submit = lines
        .iter()
        .position(|l| l == "arm submit PgCreate")
        .expect("create sent");
    let writes: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.ends_with("/status"))
        .map(|(i, _)| i)
        .collect();
    // Write-ahead: the create's intent is in status before the create is sent; the last write
    // describes the pass.
    assert!(writes.first().is_some_and(|w| *w < submit), "{lines:?}");
    assert!(writes.last().is_some_and(|w| *w > submit), "{lines:?}");
    let intent = calls
        .iter()
        .find(|c| c.is_status_apply())
        .expect("intent written")
        .status();
    let recorded: Vec<&str> = intent
        .create_intents
        .iter()
        .map(|i| i.resource.as_str())
        .collect();
    assert_eq!(recorded, ["postgres/acme-prod-pg"]);
    assert!(intent.pending_operations.is_empty());

    let apply = calls
        .iter()
        .rev()
        .find(|c| c.is_status_apply())
        .expect("status apply patch");
    assert!(
        apply.uri.contains("fieldManager=engram-operator"),
        "{}",
        apply.uri
    );
    assert!(apply.uri.contains("force=true"), "{}", apply.uri);
    assert_eq!(apply.body["apiVersion"], "engram.zimax.net/v1alpha1");
    assert_eq!(apply.body["kind"], "EngramDataPlane");
    let status = apply.status();
    assert_eq!(status.observed_generation, Some(3));
    assert_eq!(cond(&status, "Ready").0, "False");
    assert_eq!(cond(&status, "Progressing"), ("True", "Applying"));
    assert_eq!(cond(&status, "Degraded").0, "False");
    // Nothing exists: the server and the storage account are both created (one write each).
    let created: Vec<&str> = status
        .pending_operations
        .iter()
        .map(|p| p.resource.split('/').next().unwrap_or_default())
        .collect();
    assert_eq!(
        created,
        ["postgres", "storage"],
        "{:?}",
        status.pending_operations
    );
    assert!(status
        .pending_operations
        .iter()
        .all(|p| p.action == "create"));
    assert!(status.create_intents.is_empty(), "accepted: now pending");
    for c in &status.conditions {
        assert_eq!(c.observed_generation, Some(3));
    }
    let events: Vec<_> = calls.iter().filter(|c| c.is_event()).collect();
    assert_eq!(
        events.len(),
        1,
        "one Created Event for the pass: {events:#?}"
    );
    assert_eq!(events[0].method, "POST");
    assert_eq!(events[0].reason(), Some("Created"));
    let note = events[0].body["note"].as_str().unwrap_or_default();
    assert!(
        note.contains("postgres/acme-prod-pg") && note.contains("storage/"),
        "{note}"
    );
    assert_eq!(events[0].body["regarding"]["name"], "acme-prod");
    assert_eq!(events[0].body["reportingController"], "engram-operator");

    // Second pass from the status just written: the operation is still running and nothing
    // changed, so nothing is written: no status apply (a status write is a watch event that would
    // start the next pass at once: the reconcile storm), and no Event.
    obj.status = Some(status.clone());
    reconcile(Arc::new(obj.clone()), ctx)
        .await
        .expect("second pass");
    let calls = api.take();
    assert_eq!(
        calls.iter().filter(|c| c.is_status_apply()).count(),
        0,
        "an unchanged status is not written: {calls:#?}"
    );
    assert!(
        !calls.iter().any(|c| c.is_event()),
        "an Event repeated: {calls:#?}"
    );
}

#[tokio::test]
async fn an_invalid_spec_is_reported_once_and_reaches_no_arm() {
    let timeline = Timeline::default();
    let mut obj = with_finalizer(prod_object());
    obj.spec.azure.subscription_id = "not-a-guid".into();
    let (client, api) = client(&obj, timeline.clone());
    let arm = Arc::new(FakeArm::new(timeline.clone()));
    let (_tx, gate) = gate(true);
    let ctx = ctx(client, arm.clone(), gate);
    reconcile(Arc::new(obj.clone()), ctx.clone())
        .await
        .expect("pass");
    let calls = api.take();
    let status = calls
        .iter()
        .find(|c| c.is_status_apply())
        .expect("status")
        .status();
    assert_eq!(cond(&status, "Degraded"), ("True", "InvalidSpec"));
    assert!(
        status
            .errors
            .iter()
            .any(|e| e.contains("spec.azure.subscriptionId")),
        "{:?}",
        status.errors
    );
    let events: Vec<_> = calls.iter().filter(|c| c.is_event()).collect();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].reason(), Some("InvalidSpec"));
    assert_eq!(events[0].body["type"], "Warning");
    assert!(arm.arm_lines().is_empty());

    obj.status = Some(status);
    reconcile(Arc::new(obj), ctx).await.expect("pass");
    let calls = api.take();
    assert!(
        !calls.iter().any(|c| c.is_event()),
        "the same failure is not announced twice"
    );
    assert!(
        !calls.iter().any(|c| c.is_status_apply()),
        "nor written twice: the refusal waits for a new generation"
    );
}

#[tokio::test]
async fn deletion_under_retain_releases_the_finalizer_and_leaves_azure_untouched() {
    let timeline = Timeline::default();
    let obj = deleting(with_finalizer(prod_object()));
    let (client, api) = client(&obj, timeline.clone());
    let arm = Arc::new(FakeArm::new(timeline.clone()));
    let (_tx, gate) = gate(true);
    reconcile(Arc::new(obj), ctx(client, arm.clone(), gate))
        .await
        .expect("cleanup");
    assert!(
        arm.arm_lines().is_empty(),
        "retain reads or writes nothing in Azure"
    );
    let calls = api.calls();
    let release = calls
        .iter()
        .find(|c| c.is_finalizer_patch())
        .expect("finalizer removed");
    let ops = release.body.as_array().unwrap();
    assert!(ops
        .iter()
        .any(|op| op["op"] == "remove" && op["path"] == "/metadata/finalizers/0"));
    assert!(ops
        .iter()
        .any(|op| op["op"] == "test" && op["value"] == FINALIZER));
    assert!(!calls.iter().any(|c| c.is_status_apply()));
    let reasons: Vec<_> = calls
        .iter()
        .filter_map(|c| c.is_event().then(|| c.reason()).flatten())
        .collect();
    assert_eq!(reasons, ["Retained"]);
}

#[tokio::test]
async fn deletion_under_delete_keeps_the_finalizer_while_the_delete_runs() {
    let timeline = Timeline::default();
    let mut obj = with_finalizer(prod_object());
    set_deletion(&mut obj, "delete");
    let obj = deleting(obj);
    let (client, api) = client(&obj, timeline.clone());
    let mut fake = FakeArm::new(timeline.clone());
    // The plane's own server: tagged for engram/acme-prod (only such a resource is deleted).
    fake.observed.postgres.server = Some(engram_operator::plan::ObservedServer {
        state: "Ready".into(),
        tags: engram_operator::plan::owner::owner_tags("engram/acme-prod"),
        ..Default::default()
    });
    let arm = Arc::new(fake);
    let (_tx, gate) = gate(true);
    let err = reconcile(Arc::new(obj), ctx(client, arm.clone(), gate))
        .await
        .expect_err("not finished while the server exists");
    assert!(matches!(err, KubeError::CleanupPending { .. }), "{err}");
    assert_eq!(arm.arm_lines(), ["arm observe", "arm submit PgDelete"]);
    let calls = api.calls();
    assert!(
        !calls.iter().any(|c| c.is_finalizer_patch()),
        "finalizer kept: {calls:#?}"
    );
    let status = calls
        .iter()
        .find(|c| c.is_status_apply())
        .expect("status")
        .status();
    assert_eq!(cond(&status, "Progressing"), ("True", "Deleting"));
    assert_eq!(status.pending_operations[0].action, "delete");
    let reasons: Vec<_> = calls
        .iter()
        .filter_map(|c| c.is_event().then(|| c.reason()).flatten())
        .collect();
    assert_eq!(reasons, ["Deleting"]);
}

#[tokio::test]
async fn a_non_leader_makes_no_writes() {
    let timeline = Timeline::default();
    for obj in [
        prod_object(),
        with_finalizer(prod_object()),
        deleting(with_finalizer(prod_object())),
    ] {
        let (client, api) = client(&obj, timeline.clone());
        let arm = Arc::new(FakeArm::new(timeline.clone()));
        let (_tx, gate) = gate(false);
        reconcile(Arc::new(obj), ctx(client, arm.clone(), gate))
            .await
            .expect("a follower just waits");
        assert!(api.calls().is_empty(), "{:#?}", api.calls());
    }
    assert!(
        timeline.lock().unwrap().is_empty(),
        "{:?}",
        timeline.lock().unwrap()
    );
}

/// A pass whose Lease `lose` takes away while it observes: it ends NotLeader, the create it
/// planned withheld, and no status written.
async fn lose_mid_pass(gates: Gates, lose: Box<dyn Fn() + Send + Sync>) {
    let timeline = Timeline::default();
    let obj = with_finalizer(prod_object());
    let (client, api) = client(&obj, timeline.clone());
    let mut fake = FakeArm::new(timeline.clone());
    fake.lose_lease = Some(lose);
    let arm = Arc::new(fake);
    let err = reconcile(Arc::new(obj), ctx(client, arm.clone(), gates))
        .await
        .expect_err("lost the lease");
    assert!(matches!(err, KubeError::NotLeader), "{err}");
    assert_eq!(arm.arm_lines(), ["arm observe"], "the create was withheld");
    assert!(
        api.calls().is_empty(),
        "no status from a former holder: {:#?}",
        api.calls()
    );
}

#[tokio::test]
async fn a_lease_lost_during_a_reconcile_stops_writes_at_once() {
    let (tx, gate) = gate(true);
    let lose = move || {
        tx.send_replace(false);
    };
    lose_mid_pass(gate.into(), Box::new(lose)).await;
}

/// The gates of 4 shards following one mask of Leases held, and its sender.
fn four_shards(held: u64) -> (tokio::sync::watch::Sender<u64>, Gates) {
    let (tx, rx) = tokio::sync::watch::channel(held);
    (tx, Gates::from_mask(&rx, 4))
}

#[tokio::test]
async fn with_shards_only_the_holder_of_the_plane_s_shard_acts() {
    let timeline = Timeline::default();
    let obj = with_finalizer(prod_object());
    let shard = plane_shard(&obj.spec, 4);
    // Every shard but the plane's: nothing at all, as a follower.
    let (tx, gates) = four_shards(0b1111 & !(1 << shard));
    let (client, api) = client(&obj, timeline.clone());
    let arm = Arc::new(FakeArm::new(timeline.clone()));
    let ctx = ctx(client, arm.clone(), gates);
    reconcile(Arc::new(obj.clone()), ctx.clone())
        .await
        .expect("another shard's plane: wait");
    assert!(api.calls().is_empty(), "{:#?}", api.calls());
    assert!(arm.arm_lines().is_empty(), "{:?}", arm.arm_lines());

    // Its shard alone: the pass runs and writes.
    tx.send_replace(1 << shard);
    reconcile(Arc::new(obj), ctx)
        .await
        .expect("its shard's plane");
    assert!(arm.arm_lines().iter().any(|l| l.starts_with("arm submit")));
    assert!(api.calls().iter().any(|c| c.is_status_apply()));
}

#[tokio::test]
async fn a_shard_lost_during_a_reconcile_stops_its_writes_at_once() {
    let shard = plane_shard(&prod_object().spec, 4);
    let (tx, gates) = four_shards(0b1111);
    // The plane's shard goes in the middle of the pass; the replica keeps the three others.
    let lose = move || {
        tx.send_modify(|m| *m &= !(1 << shard));
    };
    lose_mid_pass(gates, Box::new(lose)).await;
}
