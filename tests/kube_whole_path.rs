//! The whole path: the controller's reconcile with a mocked Kubernetes API (tower-test verifier),
//! the real ARM client, the real engine and the mock ARM server over HTTP on 127.0.0.1. A data
//! plane goes from a fresh object to Ready, a portal edit is corrected, and `deletion: delete`
//! removes the server before the finalizer is released.

use crate::kube_api;
use crate::support;

use engram_operator::api::{EngramDataPlane, EngramDataPlaneStatus};
use engram_operator::azure::ArmApi;
use engram_operator::mock_arm::MockArm;
use engram_operator::sources::kube::{reconcile, KubeError};
use kube_api::*;
use serde_json::json;
use std::sync::Arc;

use support::LRO;
const SERVER: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-engram-prod/providers/Microsoft.DBforPostgreSQL/flexibleServers/acme-prod-pg";

/// The mock ARM (its Key Vault holding the prod key) and the real ARM client pointed at it.
async fn mock() -> (MockArm, Arc<dyn ArmApi>) {
    let m = support::mock().await;
    let arm: Arc<dyn ArmApi> = Arc::new(support::arm(&m));
    (m, arm)
}

fn ready(s: &EngramDataPlaneStatus) -> bool {
    s.conditions
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// Reconcile through the controller, feeding each applied status back into the object and moving
/// the mock's clock past each operation, until Ready. Returns the Event reasons published.
async fn until_ready(m: &MockArm, obj: &mut EngramDataPlane, arm: &Arc<dyn ArmApi>) -> Vec<String> {
    let mut reasons = Vec::new();
    for _ in 0..30 {
        let (kc, api) = client(obj, Timeline::default());
        let (_tx, gate) = gate(true);
        reconcile(Arc::new(obj.clone()), ctx(kc, arm.clone(), gate))
            .await
            .expect("reconcile");
        let calls = api.calls();
        reasons.extend(
            calls
                .iter()
                .filter_map(|c| c.is_event().then(|| c.reason()).flatten().map(String::from)),
        );
        let status = calls
            .iter()
            .find(|c| c.is_status_apply())
            .expect("status")
            .status();
        obj.status = Some(status.clone());
        if ready(&status) {
            return reasons;
        }
        m.advance(LRO);
    }
    panic!("not Ready: {:#?}", obj.status);
}

#[tokio::test]
async fn fresh_object_to_ready_drift_corrected_then_deleted() {
    let (m, arm) = mock().await;
    let mut obj = prod_object();
    set_deletion(&mut obj, "delete");

    let seeded = m.journal().len(); // the test's own Key Vault seeding
                                    // 1. A fresh object: the finalizer, and not one request to ARM.
    let (kc, api) = client(&obj, Timeline::default());
    let (_tx, g) = gate(true);
    reconcile(Arc::new(obj.clone()), ctx(kc, arm.clone(), g))
        .await
        .expect("finalizer pass");
    assert!(api.calls()[0].is_finalizer_patch());
    assert_eq!(api.calls().len(), 1);
    assert_eq!(m.journal().len(), seeded, "ARM saw {:?}", m.journal());
    obj = with_finalizer(obj);

    // 2. Converge: the engine creates and configures the server; status and Events follow.
    let reasons = until_ready(&m, &mut obj, &arm).await;
    assert_eq!(
        reasons.first().map(String::as_str),
        Some("Created"),
        "{reasons:?}"
    );
    assert_eq!(
        reasons.last().map(String::as_str),
        Some("Ready"),
        "{reasons:?}"
    );
    assert_eq!(
        reasons.iter().filter(|r| *r == "Ready").count(),
        1,
        "{reasons:?}"
    );
    assert!(
        !reasons.iter().any(|r| r == "DriftCorrected"),
        "converging is not drift: {reasons:?}"
    );
    let status = obj.status.clone().unwrap();
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(
        status.postgres.as_ref().and_then(|p| p.sku.as_deref()),
        Some("Standard_D4s_v3")
    );
    assert!(status.drift.is_empty() && status.pending_operations.is_empty());

    // 3. In sync: a resync applies the same status, publishes nothing, writes nothing to ARM.
    let writes = m.writes_to(SERVER);
    let (kc, api) = client(&obj, Timeline::default());
    let (_tx, g) = gate(true);
    reconcile(Arc::new(obj.clone()), ctx(kc, arm.clone(), g))
        .await
        .expect("resync");
    assert!(
        !api.calls().iter().any(|c| c.is_event()),
        "{:#?}",
        api.calls()
    );
    assert_eq!(m.writes_to(SERVER), writes);

    // 4. A portal edit: drift in status, one correcting write, a DriftCorrected Event.
    m.edit(
        SERVER,
        json!({"properties": {"backup": {"backupRetentionDays": 7}}}),
    )
    .expect("portal edit");
    let (kc, api) = client(&obj, Timeline::default());
    let (_tx, g) = gate(true);
    reconcile(Arc::new(obj.clone()), ctx(kc, arm.clone(), g))
        .await
        .expect("drift pass");
    let calls = api.calls();
    let drifted = calls.iter().find(|c| c.is_status_apply()).unwrap().status();
    let entry = drifted
        .drift
        .iter()
        .find(|d| d.field.contains("backup"))
        .expect("drift listed");
    assert_eq!(
        (entry.observed.as_str(), entry.corrected),
        ("7", true),
        "{entry:?}"
    );
    assert_eq!(drifted.drift_count as usize, drifted.drift.len());
    assert!(drifted
        .conditions
        .iter()
        .any(|c| c.type_ == "Drifted" && c.status == "True"));
    let reasons: Vec<_> = calls
        .iter()
        .filter_map(|c| c.is_event().then(|| c.reason()).flatten())
        .collect();
    assert_eq!(reasons, ["DriftCorrected"]);
    assert_eq!(m.writes_to(SERVER), writes + 1);
    obj.status = Some(drifted);
    m.advance(LRO);
    until_ready(&m, &mut obj, &arm).await;

    // 5. Deleted under `deletion: delete`. The storage account holds a container under legal
    //    hold, so it is refused; teardown is all or nothing, so nothing else goes either (not the
    //    server, not the alert rules), status says why, and the finalizer stays.
    obj = deleting(obj);
    let mut refused_events = 0;
    let mut status_writes = 0;
    for _ in 0..6 {
        let (kc, api) = client(&obj, Timeline::default());
        let (_tx, g) = gate(true);
        let res = reconcile(Arc::new(obj.clone()), ctx(kc, arm.clone(), g)).await;
        assert!(
            matches!(res, Err(KubeError::CleanupPending { .. })),
            "{res:?}"
        );
        let calls = api.calls();
        assert!(!calls.iter().any(|c| c.is_finalizer_patch()), "{calls:#?}");
        refused_events += calls
            .iter()
            .filter(|c| c.is_event() && c.reason() == Some("Refused"))
            .count();
        // The refusal is written once; the same refusal again is no status write.
        if let Some(apply) = calls.iter().find(|c| c.is_status_apply()) {
            obj.status = Some(apply.status());
            status_writes += 1;
        }
        m.advance(LRO);
    }
    assert_eq!(
        status_writes, 1,
        "one status write for an unchanged refusal"
    );
    let journal = m.journal();
    let deletes = |prefix: &str| {
        journal
            .iter()
            .filter(|e| e.method == "DELETE" && e.path.starts_with(prefix))
            .count()
    };
    assert_eq!(deletes(SERVER), 0, "all or nothing: the server is kept");
    assert_eq!(
        journal.iter().filter(|e| e.method == "DELETE").count(),
        0,
        "not one DELETE while a part is refused"
    );
    assert_eq!(deletes("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-engram-prod/providers/Microsoft.Storage"), 0);
    let status = obj.status.clone().unwrap();
    assert!(
        status
            .errors
            .iter()
            .any(|e| e.contains("refused") && e.contains("legal hold")),
        "{:?}",
        status.errors
    );
    assert!(status
        .conditions
        .iter()
        .any(|c| c.type_ == "Degraded" && c.status == "True" && c.reason == "DeletionBlocked"));
    assert_eq!(refused_events, 1, "the refusal is announced once");
    assert!(
        status
            .notes
            .iter()
            .any(|n| n.contains("nothing is deleted")),
        "{:?}",
        status.notes
    );

    // 6. The owner chooses to keep the account: `deletion: retain` releases the finalizer, no ARM write.
    set_deletion(&mut obj, "retain");
    let writes_before = journal.iter().filter(|e| e.method != "GET").count();
    let (kc, api) = client(&obj, Timeline::default());
    let (_tx, g) = gate(true);
    reconcile(Arc::new(obj.clone()), ctx(kc, arm.clone(), g))
        .await
        .expect("released");
    assert!(api.calls().iter().any(|c| c.is_finalizer_patch()));
    let writes_after = m.journal().iter().filter(|e| e.method != "GET").count();
    assert_eq!(writes_before, writes_after);
}
