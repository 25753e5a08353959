//! The operator against the mock ARM over HTTP: create, in-sync zero writes, drift correction,
//! observe mode, stop/start with the 7-day auto-start, LRO resume after a restart.

use crate::support;

use engram_operator::api::spec::Mode;
use engram_operator::reconcile::conditions::{self, DEGRADED, DRIFTED, READY};
use serde_json::json;
use support::*;

#[tokio::test]
async fn created_from_nothing_reaches_ready_then_costs_zero_writes() {
    let m = mock().await;
    let arm = arm(&m);
    let eff = prod();
    let first = pass(&arm, &eff, &Default::default()).await;
    // The server and the storage account: one create each, both in flight.
    assert_eq!(first.writes, 2);
    assert_eq!(first.status.pending_operations.len(), 2);
    assert!(first
        .status
        .pending_operations
        .iter()
        .all(|p| p.action == "create"));
    assert!(!first.ready());
    let out = converge(&m, &arm, &eff, first.status).await;
    assert!(out.ready(), "{:#?}", out.status);
    assert_eq!(
        out.status.postgres.as_ref().and_then(|p| p.sku.as_deref()),
        Some("Standard_D4s_v3")
    );
    // One create, one configure (ssl_min_protocol_version); the extension allow-list is seeded?
    let id = server_id(&eff);
    let writes = m.writes_to(&id);
    assert!(writes >= 2, "create + parameters: {writes}");

    let before = m.journal().len();
    let again = pass(&arm, &eff, &out.status).await;
    assert!(again.ready());
    assert_eq!(again.writes, 0);
    assert!(
        writes_since(&m, before).is_empty(),
        "in-sync reconcile wrote: {:?}",
        writes_since(&m, before)
    );
    assert_eq!(m.writes_to(&id), writes);
}

async fn ready_plane() -> (
    engram_operator::mock_arm::MockArm,
    engram_operator::azure::Arm,
    engram_operator::api::EffectiveSpec,
    engram_operator::api::EngramDataPlaneStatus,
) {
    let m = mock().await;
    let arm = arm(&m);
    let eff = prod();
    let out = converge(&m, &arm, &eff, Default::default()).await;
    assert!(out.ready(), "{:#?}", out.status);
    (m, arm, eff, out.status)
}

#[tokio::test]
async fn each_drifted_field_is_corrected_with_one_minimal_write_and_observe_mode_writes_nothing() {
    let (m, arm, eff, mut status) = ready_plane().await;
    let id = server_id(&eff);
    let cases = vec![
        (
            "sku",
            json!({"sku": {"name": "Standard_D2s_v3", "tier": "GeneralPurpose"}}),
            "PATCH",
            json!({"sku": {"name": "Standard_D4s_v3"}}),
        ),
        (
            "storage.autoGrow",
            json!({"properties": {"storage": {"autoGrow": "Disabled"}}}),
            "PATCH",
            json!({}),
        ),
        (
            "backup.retentionDays",
            json!({"properties": {"backup": {"backupRetentionDays": 7}}}),
            "PATCH",
            json!({}),
        ),
        (
            "maintenanceWindow",
            json!({"properties": {"maintenanceWindow": {"customWindow": "Disabled"}}}),
            "PATCH",
            json!({}),
        ),
        (
            "highAvailability.mode",
            json!({"properties": {"highAvailability": {"mode": "Disabled", "standbyAvailabilityZone": null}}}),
            "PATCH",
            json!({}),
        ),
    ];
    for (field, edit, method, _) in cases {
        m.edit(&id, edit).expect("portal edit");
        // Observe mode first: same drift, zero writes.
        let mut observe = eff.clone();
        observe.mode = Mode::Observe;
        let before = m.journal().len();
        let seen = pass(&arm, &observe, &status).await;
        assert!(
            writes_since(&m, before).is_empty(),
            "{field}: observe mode wrote"
        );
        assert_eq!(
            seen.status.drift.len(),
            1,
            "{field}: {:?}",
            seen.status.drift
        );
        assert_eq!(seen.status.drift[0].field, field);
        assert!(!seen.status.drift[0].corrected);
        assert!(
            conditions::get(&seen.status.conditions, DRIFTED).is_some_and(|c| c.status == "True")
        );

        // Enforce: exactly one write, to the server, of the right kind.
        let before = m.journal().len();
        let fixed = pass(&arm, &eff, &status).await;
        let w = writes_since(&m, before);
        assert_eq!(w.len(), 1, "{field}: {w:?}");
        assert_eq!(w[0].0, method, "{field}");
        assert!(w[0].1.eq_ignore_ascii_case(&id), "{field}: {}", w[0].1);
        assert!(fixed.status.drift.iter().all(|d| d.corrected));
        let out = converge(&m, &arm, &eff, fixed.status).await;
        assert!(out.ready(), "{field}: {:#?}", out.status);
        status = out.status;
    }
}

#[tokio::test]
async fn parameter_drift_is_one_configuration_put() {
    let (m, arm, eff, status) = ready_plane().await;
    let cfg = format!(
        "{}/configurations/ssl_min_protocol_version",
        server_id(&eff)
    );
    m.edit(&cfg, json!({"properties": {"value": "TLSv1.2"}}))
        .expect("portal edit");
    let before = m.journal().len();
    let out = pass(&arm, &eff, &status).await;
    let w = writes_since(&m, before);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].0, "PUT");
    assert!(w[0].1.eq_ignore_ascii_case(&cfg));
    assert!(converge(&m, &arm, &eff, out.status).await.ready());
}

#[tokio::test]
async fn stopped_dev_server_is_stopped_again_after_the_7_day_auto_start() {
    let m = mock().await;
    let arm = arm(&m);
    let eff = dev();
    let out = converge(&m, &arm, &eff, Default::default()).await;
    assert!(out.ready(), "{:#?}", out.status);
    assert_eq!(
        out.status
            .postgres
            .as_ref()
            .and_then(|p| p.state.as_deref()),
        Some("Stopped")
    );
    let id = server_id(&eff);
    let stops = |m: &engram_operator::mock_arm::MockArm| {
        m.journal()
            .iter()
            .filter(|e| e.method == "POST" && e.path.to_ascii_lowercase().ends_with("/stop"))
            .count()
    };
    assert_eq!(stops(&m), 1);
    m.advance(std::time::Duration::from_secs(7 * 24 * 3600 + 60));
    let woke = pass(&arm, &eff, &out.status).await;
    assert_eq!(woke.writes, 1, "re-stop: {:#?}", woke.status);
    assert_eq!(stops(&m), 2);
    let out = converge(&m, &arm, &eff, woke.status).await;
    assert!(out.ready());
    assert_eq!(
        out.status
            .postgres
            .as_ref()
            .and_then(|p| p.state.as_deref()),
        Some("Stopped")
    );
    let _ = id;
}

#[tokio::test]
async fn a_restarted_operator_resumes_polling_and_never_writes_twice() {
    let m = mock().await;
    let eff = prod();
    let first = pass(&arm(&m), &eff, &Default::default()).await;
    assert_eq!(first.status.pending_operations.len(), 2, "server + account");
    // The status survives the restart as a YAML file.
    let text = serde_saphyr::to_string(&first.status).unwrap();
    let restored: engram_operator::api::EngramDataPlaneStatus =
        serde_saphyr::from_str(&text).unwrap();
    let id = server_id(&eff);
    let fresh = arm(&m);
    for _ in 0..3 {
        let out = pass(&fresh, &eff, &restored).await;
        assert_eq!(out.writes, 0);
        assert_eq!(out.status.pending_operations, restored.pending_operations);
    }
    assert_eq!(m.writes_to(&id), 1, "the create was not re-sent");
    m.advance(LRO);
    let out = converge(&m, &fresh, &eff, restored).await;
    assert!(out.ready());
    let puts = m
        .journal()
        .iter()
        .filter(|e| e.method == "PUT" && e.path.eq_ignore_ascii_case(&id))
        .count();
    assert_eq!(puts, 1);
}

#[tokio::test]
async fn an_invalid_spec_makes_zero_arm_requests_and_lists_its_errors() {
    let m = mock().await;
    let arm = arm(&m);
    let text = include_str!("../examples/dev.yaml").replace("state: Stopped", "state: Paused");
    let errors = engram_operator::api::load(&text).expect_err("invalid");
    let before = m.journal().len();
    let out =
        engram_operator::reconcile::reconcile(&arm, Err(&errors), &Default::default(), &ctx())
            .await;
    assert_eq!(m.journal().len(), before);
    assert!(!out.status.errors.is_empty());
    assert!(
        out.status.errors[0].contains("spec.postgres.state"),
        "{:?}",
        out.status.errors
    );
    assert!(conditions::get(&out.status.conditions, DEGRADED).is_some_and(|c| c.status == "True"));
    assert!(
        conditions::get(&out.status.conditions, READY).is_some_and(|c| c.reason == "InvalidSpec")
    );
}
