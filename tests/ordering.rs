//! Ordering rules against the mock ARM: SKU before HA in separate operations; a static parameter
//! is restarted only when ARM reports the pending restart and the restart policy allows it.

use crate::support;

use engram_operator::api::spec::RestartPolicy;
use engram_operator::azure::ArmApi;
use serde_json::json;
use support::*;

#[tokio::test]
async fn sku_and_ha_drift_are_two_patches_sku_first() {
    let m = mock().await;
    let arm = arm(&m);
    let eff = prod();
    let out = converge(&m, &arm, &eff, Default::default()).await;
    let id = server_id(&eff);
    m.edit(
        &id,
        json!({"sku": {"name": "Standard_D2s_v3"}, "properties": {"highAvailability": {"mode": "Disabled", "standbyAvailabilityZone": null}}}),
    )
    .unwrap();
    let before = m.journal().len();
    let first = pass(&arm, &eff, &out.status).await;
    assert_eq!(first.writes, 1);
    m.advance(LRO);
    // The first operation restored the SKU only; HA is still off.
    let seen = arm.observe(&eff).await.unwrap().postgres.server.unwrap();
    assert_eq!(
        (seen.sku_name.as_str(), seen.ha_mode.as_str()),
        ("Standard_D4s_v3", "Disabled")
    );
    let out = converge(&m, &arm, &eff, first.status).await;
    assert!(out.ready(), "{:#?}", out.status);
    let patches: Vec<_> = m
        .journal()
        .into_iter()
        .skip(before)
        .filter(|e| e.method == "PATCH")
        .collect();
    assert_eq!(patches.len(), 2, "{patches:?}");
    // Both went to the server, one after the other finished (never two in flight: no 409).
    assert!(patches.iter().all(|p| p.status == 202), "{patches:?}");
}

#[tokio::test]
async fn static_parameter_restarts_only_as_the_policy_allows() {
    let m = mock().await;
    let arm = arm(&m);
    let mut eff = prod();
    eff.postgres
        .parameters
        .insert("max_connections".into(), "1000".into());
    let restarts = |m: &engram_operator::mock_arm::MockArm| {
        m.journal()
            .iter()
            .filter(|e| e.method == "POST" && e.path.to_ascii_lowercase().ends_with("/restart"))
            .count()
    };
    eff.postgres.restart_policy = RestartPolicy::Never;
    let out = converge(&m, &arm, &eff, Default::default()).await;
    assert_eq!(restarts(&m), 0);
    assert!(
        out.status
            .notes
            .iter()
            .any(|n| n.contains("restart pending for max_connections")),
        "{:?}",
        out.status.notes
    );

    eff.postgres.restart_policy = RestartPolicy::Immediate;
    let out = converge(&m, &arm, &eff, out.status).await;
    assert_eq!(restarts(&m), 1);
    assert!(out.ready(), "{:#?}", out.status);
    assert!(out
        .status
        .notes
        .iter()
        .all(|n| !n.contains("restart pending")));
}

#[tokio::test]
async fn of_the_servers_parameters_only_those_the_plan_reads_are_kept() {
    use engram_operator::plan::pg_config::ALWAYS_OBSERVED;
    let m = mock().await;
    let arm = arm(&m);
    let eff = prod();
    let out = converge(&m, &arm, &eff, Default::default()).await;
    assert!(out.ready(), "{:#?}", out.status);
    let kept = |obs: &engram_operator::plan::Observed| -> Vec<String> {
        obs.postgres.configs.keys().cloned().collect()
    };
    let obs = arm.observe(&eff).await.unwrap();
    let names = kept(&obs);
    for n in ALWAYS_OBSERVED {
        assert!(names.iter().any(|k| k == n), "{n} in {names:?}");
    }
    assert!(
        names
            .iter()
            .all(|k| ALWAYS_OBSERVED.contains(&k.as_str())
                || eff.postgres.parameters.contains_key(k)),
        "{names:?}"
    );
    assert!(names.len() < 40, "not all ~350: {}", names.len());
    // An undeclared parameter waiting for a restart is kept: the restart is planned from it.
    let id = format!("{}/configurations/shared_buffers", server_id(&eff));
    m.edit(&id, json!({"properties": {"isConfigPendingRestart": true}}))
        .unwrap();
    let obs = arm.observe(&eff).await.unwrap();
    assert!(obs.postgres.configs["shared_buffers"].pending_restart);
}
