//! The annotation `engram.zimax.net/reconcile-policy`: `skip` sends nothing to ARM (folder mode and
//! the Kubernetes reconcile, counted on the mock ARM's journal), `observe` writes nothing, an
//! unknown value is reported with the annotation's name, a set and a clear are announced once, and
//! a deletion under `skip` or `detach-on-delete` releases the finalizer without an ARM request
//! whatever `policy.deletion` says. (That the controller sees an annotation change at once, with
//! no resync, is in tests/kube_binary/policy.rs.)

use crate::kube_api;
use crate::support;

use std::sync::Arc;

use engram_operator::api::EngramDataPlaneStatus;
use engram_operator::azure::ArmApi;
use engram_operator::mock_arm::OpClass;
use engram_operator::reconcile::policy::ANNOTATION;
use engram_operator::sources::folder::read_status;
use engram_operator::sources::kube::reconcile;
use kube_api::*;

fn condition<'a>(s: &'a EngramDataPlaneStatus, t: &str) -> Option<(&'a str, &'a str, &'a str)> {
    s.conditions
        .iter()
        .find(|c| c.type_ == t)
        .map(|c| (c.status.as_str(), c.reason.as_str(), c.message.as_str()))
}

/// examples/dev.yaml with the annotation set to `value` (None: without it).
fn dev_yaml(value: Option<&str>) -> String {
    let text = std::fs::read_to_string("examples/dev.yaml").expect("examples/dev.yaml");
    match value {
        None => text,
        Some(v) => text.replace(
            "  namespace: engram\n",
            &format!("  namespace: engram\n  annotations:\n    {ANNOTATION}: {v}\n"),
        ),
    }
}

#[tokio::test]
async fn folder_skip_sends_nothing_to_arm_until_the_annotation_goes() {
    let m = support::mock().await;
    let (_dir, specs, status_dir, mut folder) = support::dev_folder(&m);
    std::fs::write(specs.join("dev.yaml"), dev_yaml(Some("skip"))).unwrap();
    let before = m.journal().len();
    folder.scan().unwrap();
    folder.pass().await.unwrap();
    folder.force_due();
    folder.pass().await.unwrap();
    assert_eq!(m.journal().len(), before, "ARM saw {:?}", m.journal());
    let status = read_status(&status_dir, "acme-dev").expect("status file");
    let (s, reason, msg) = condition(&status, "Paused").expect("Paused");
    assert_eq!((s, reason), ("True", "ReconcilePolicySkip"));
    assert!(msg.contains(ANNOTATION), "{msg}");
    assert_eq!(status.reconcile_policy.as_deref(), Some("skip"));

    // The annotation removed: the next pass reconciles (creates sent), Paused is gone.
    std::fs::write(specs.join("dev.yaml"), dev_yaml(None)).unwrap();
    folder.scan().unwrap();
    folder.pass().await.unwrap();
    assert!(
        m.journal()[before..].iter().any(|e| e.method == "PUT"),
        "managed again: {:?}",
        m.journal()
    );
    let status = read_status(&status_dir, "acme-dev").expect("status file");
    assert_eq!(condition(&status, "Paused"), None);
    assert_eq!(status.reconcile_policy, None);
}

#[tokio::test]
async fn folder_observe_writes_nothing_and_an_unknown_value_is_an_error_naming_the_annotation() {
    let m = support::mock().await;
    let (_dir, specs, status_dir, mut folder) = support::dev_folder(&m);
    std::fs::write(specs.join("dev.yaml"), dev_yaml(Some("observe"))).unwrap();
    let before = m.journal().len();
    folder.scan().unwrap();
    folder.pass().await.unwrap();
    let seen = m.journal();
    assert!(seen.len() > before, "observe reads");
    assert!(
        seen[before..].iter().all(|e| e.class == OpClass::Read),
        "observe wrote: {seen:?}"
    );
    let status = read_status(&status_dir, "acme-dev").expect("status file");
    assert_eq!(status.reconcile_policy.as_deref(), Some("observe"));

    std::fs::write(specs.join("dev.yaml"), dev_yaml(Some("pause"))).unwrap();
    let before = m.journal().len();
    folder.scan().unwrap();
    folder.pass().await.unwrap();
    assert_eq!(m.journal().len(), before, "an invalid value reaches no ARM");
    let status = read_status(&status_dir, "acme-dev").expect("status file");
    let line = status.errors.first().cloned().unwrap_or_default();
    assert!(
        line.contains(&format!("metadata.annotations[{ANNOTATION}]"))
            && line.contains("\"pause\"")
            && line.contains("manage, observe, skip, detach-on-delete"),
        "{:?}",
        status.errors
    );
    assert_eq!(
        condition(&status, "Ready").map(|c| (c.0, c.1)),
        Some(("False", "InvalidSpec"))
    );
}

fn annotated(
    mut o: engram_operator::api::EngramDataPlane,
    value: &str,
) -> engram_operator::api::EngramDataPlane {
    o.metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(ANNOTATION.into(), value.into());
    o
}

fn events(calls: &[Call]) -> Vec<(String, String)> {
    calls
        .iter()
        .filter(|c| c.is_event())
        .map(|c| {
            (
                c.reason().unwrap_or_default().to_owned(),
                c.body["note"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn kube_skip_reaches_no_arm_and_set_and_cleared_are_announced_once() {
    let m = support::mock().await;
    let arm: Arc<dyn ArmApi> = Arc::new(support::arm(&m));
    let mut obj = annotated(with_finalizer(prod_object()), "skip");
    let before = m.journal().len();
    let pass = |obj: &engram_operator::api::EngramDataPlane| {
        let (kc, api) = client(obj, Timeline::default());
        let (_tx, g) = gate(true);
        let c = ctx(kc, arm.clone(), g);
        let obj = Arc::new(obj.clone());
        async move {
            reconcile(obj, c).await.expect("reconcile");
            api.calls()
        }
    };

    let calls = pass(&obj).await;
    assert_eq!(m.journal().len(), before, "ARM saw {:?}", m.journal());
    let status = calls
        .iter()
        .find(|c| c.is_status_apply())
        .expect("status")
        .status();
    assert_eq!(
        condition(&status, "Paused").map(|c| c.0),
        Some("True"),
        "{status:?}"
    );
    assert_eq!(status.reconcile_policy.as_deref(), Some("skip"));
    let ev = events(&calls);
    assert!(
        ev.contains(&(
            "ReconcilePolicyChanged".into(),
            "reconcile-policy skip set".into()
        )),
        "{ev:?}"
    );

    // The same again: no ARM request, no status write, no Event.
    obj.status = Some(status);
    let calls = pass(&obj).await;
    assert_eq!(m.journal().len(), before);
    assert!(!calls.iter().any(|c| c.is_status_apply()), "{calls:#?}");
    assert!(events(&calls).is_empty());

    // Cleared: reconciled again, and announced.
    if let Some(a) = obj.metadata.annotations.as_mut() {
        a.remove(ANNOTATION);
    }
    let calls = pass(&obj).await;
    assert!(m.journal().len() > before, "managed again");
    // The last status write (the creates' intents were written before them).
    let status = calls
        .iter()
        .rev()
        .find(|c| c.is_status_apply())
        .expect("status")
        .status();
    assert_eq!(condition(&status, "Paused"), None);
    assert_eq!(status.reconcile_policy, None);
    let ev = events(&calls);
    assert!(
        ev.contains(&(
            "ReconcilePolicyChanged".into(),
            "reconcile-policy skip cleared".into()
        )),
        "{ev:?}"
    );
}

#[tokio::test]
async fn kube_deletion_under_skip_or_detach_on_delete_leaves_azure_untouched_despite_delete() {
    let m = support::mock().await;
    let arm: Arc<dyn ArmApi> = Arc::new(support::arm(&m));
    for value in ["skip", "detach-on-delete"] {
        let mut obj = with_finalizer(prod_object());
        set_deletion(&mut obj, "delete");
        let obj = deleting(annotated(obj, value));
        let before = m.journal().len();
        let (kc, api) = client(&obj, Timeline::default());
        let (_tx, g) = gate(true);
        reconcile(Arc::new(obj), ctx(kc, arm.clone(), g))
            .await
            .expect("released");
        assert_eq!(
            m.journal().len(),
            before,
            "{value}: ARM saw {:?}",
            m.journal()
        );
        let calls = api.calls();
        assert!(calls.iter().any(|c| c.is_finalizer_patch()), "{value}");
        let ev = events(&calls);
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert_eq!(ev[0].0, "Retained");
        assert!(ev[0].1.contains(&format!("{ANNOTATION}={value}")), "{ev:?}");
    }
}
