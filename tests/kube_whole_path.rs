//! The whole path: the controller's reconcile with a mocked Kubernetes API (tower-test verifier),
//! the real ARM client, the real engine and the mock ARM server over HTTP on 127.0.0.1. A data
//! plane goes from a fresh object to Ready, a portal edit is corrected, and `deletion: delete`
//! removes the server before the finalizer is released.

mod kube_api;

use std::sync::Arc;
use std::time::Duration;

use engram_operator::api::{EngramDataPlane, EngramDataPlaneStatus};
use engram_operator::azure::{Arm, ArmApi, ArmSettings};
use engram_operator::mock_arm::{LroDurations, MockArm, MockConfig};
use engram_operator::sources::kube::{reconcile, KubeError};
use kube_api::*;
use serde_json::json;

const LRO: Duration = Duration::from_secs(60);
const SERVER: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-engram-prod/providers/Microsoft.DBforPostgreSQL/flexibleServers/acme-prod-pg";

async fn mock() -> (MockArm, Arc<dyn ArmApi>) {
    let m = MockArm::start(MockConfig {
        lro: LroDurations::uniform(LRO),
        ..MockConfig::default()
    })
    .await
    .expect("mock starts");
    let mut s = ArmSettings::with_token(m.base_url(), m.token());
    s.min_backoff = Duration::from_millis(5);
    let arm: Arc<dyn ArmApi> = Arc::new(Arm::new(s).expect("client"));
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

    // 1. A fresh object: the finalizer, and not one request to ARM.
    let (kc, api) = client(&obj, Timeline::default());
    let (_tx, g) = gate(true);
    reconcile(Arc::new(obj.clone()), ctx(kc, arm.clone(), g))
        .await
        .expect("finalizer pass");
    assert!(api.calls()[0].is_finalizer_patch());
    assert_eq!(api.calls().len(), 1);
    assert!(m.journal().is_empty(), "ARM saw {:?}", m.journal());
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
        reasons.iter().filter(|r| *r == "Created").count(),
        1,
        "{reasons:?}"
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

    // 5. Deleted under `deletion: delete`: DELETE sent, the finalizer stays until the server is gone.
    obj = deleting(obj);
    let mut released = false;
    for _ in 0..10 {
        let (kc, api) = client(&obj, Timeline::default());
        let (_tx, g) = gate(true);
        let res = reconcile(Arc::new(obj.clone()), ctx(kc, arm.clone(), g)).await;
        let calls = api.calls();
        match res {
            Ok(_) => {
                assert!(calls.iter().any(|c| c.is_finalizer_patch()), "{calls:#?}");
                released = true;
                break;
            }
            Err(KubeError::CleanupPending { .. }) => {
                assert!(!calls.iter().any(|c| c.is_finalizer_patch()));
                obj.status = Some(calls.iter().find(|c| c.is_status_apply()).unwrap().status());
            }
            Err(e) => panic!("{e}"),
        }
        m.advance(LRO);
    }
    assert!(released, "finalizer never released: {:#?}", obj.status);
    let deletes = m
        .journal()
        .into_iter()
        .filter(|e| e.method == "DELETE" && e.path.starts_with(SERVER))
        .count();
    assert_eq!(deletes, 1, "one DELETE, then waiting on the operation");
}
