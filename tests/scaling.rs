//! `postgres.scaling` against the mock (issue 18, Done when "Scaling"): the server's Azure Monitor
//! metrics, set through the mock's control API on its clock, drive a recommendation (status, and
//! the Event and gauge built from it) or, in `apply`, one SKU PATCH, then nothing in the cooldown.

use crate::support;

use std::time::Duration;

use engram_operator::api::scaling::{ScalingMode, ScalingSpec};
use engram_operator::api::spec::RestartPolicy;
use engram_operator::api::{EffectiveSpec, EngramDataPlaneStatus};
use engram_operator::azure::ArmApi;
use engram_operator::mock_arm::MockArm;
use engram_operator::reconcile::{self, Context, Outcome};
use serde_json::json;
use support::*;

/// The pass's context on the mock's clock (the metrics' window is read against it).
fn on_clock(m: &MockArm) -> Context {
    Context {
        now: time::OffsetDateTime::from_unix_timestamp(m.now_unix()).expect("clock"),
        ..ctx()
    }
}

async fn pass_at(m: &MockArm, eff: &EffectiveSpec, prev: &EngramDataPlaneStatus) -> Outcome {
    reconcile::reconcile(&arm(m), Ok(eff), prev, &on_clock(m)).await
}

/// prod with `postgres.scaling` and restarts allowed at once (the window gate has its own test).
fn prod_with(mode: ScalingMode, tune: impl FnOnce(&mut ScalingSpec)) -> EffectiveSpec {
    let mut eff = prod();
    let mut s = ScalingSpec {
        mode: Some(mode),
        ..ScalingSpec::default()
    };
    tune(&mut s);
    eff.postgres.scaling = Some(s);
    eff.postgres.restart_policy = RestartPolicy::Immediate;
    eff
}

/// Converged, then a resync later (the metrics are due again).
async fn converged(m: &MockArm, eff: &EffectiveSpec) -> EngramDataPlaneStatus {
    let mut status = EngramDataPlaneStatus::default();
    for _ in 0..40 {
        let out = pass_at(m, eff, &status).await;
        status = out.status;
        if out.settled {
            m.advance(Duration::from_secs(eff.resync_seconds));
            return status;
        }
        m.advance(LRO);
    }
    panic!("did not converge");
}

fn series(m: &MockArm, eff: &EffectiveSpec, metric: &str, points: Vec<(u32, f64)>) {
    let points: Vec<_> = points.into_iter().map(|(a, v)| json!([a, v])).collect();
    m.set_metrics(json!({"id": server_id(eff), "metric": metric, "points": points}))
        .expect("metrics set");
}

/// A mock with `eff` converged, a resync later, with `metric` at `value` for the last hour.
async fn loaded(eff: &EffectiveSpec, metric: &str, value: f64) -> (MockArm, EngramDataPlaneStatus) {
    let m = mock().await;
    let status = converged(&m, eff).await;
    series(&m, eff, metric, flat(value, 60));
    (m, status)
}

/// `value` every minute of the last `minutes`.
fn flat(value: f64, minutes: u32) -> Vec<(u32, f64)> {
    (1..=minutes).map(|a| (a, value)).collect()
}

fn sku_patches(m: &MockArm, eff: &EffectiveSpec, from: usize) -> usize {
    m.journal()[from..]
        .iter()
        .filter(|e| e.method == "PATCH" && e.path.eq_ignore_ascii_case(&server_id(eff)))
        .count()
}

#[tokio::test]
async fn sustained_cpu_gives_one_recommendation_and_no_write() {
    let eff = prod();
    let (m, status) = loaded(&eff, "cpu_percent", 88.0).await;
    let from = m.journal().len();
    let out = pass_at(&m, &eff, &status).await;
    let s = out.status.scaling.clone().expect("scaling status");
    let r = s.recommendation.expect("a recommendation");
    assert_eq!(
        (
            r.trigger.as_str(),
            r.current_sku.as_str(),
            r.next_sku.as_deref()
        ),
        ("cpuPercent", "Standard_D4s_v3", Some("Standard_D8s_v3"))
    );
    assert_eq!(r.measured, 88.0);
    assert!(
        writes_since(&m, from).is_empty(),
        "recommend writes nothing"
    );
    assert_eq!(s.scaled_sku, None);
    // The same load a resync later leaves status exactly as it was: no status write.
    m.advance(Duration::from_secs(eff.resync_seconds));
    series(&m, &eff, "cpu_percent", flat(88.0, 60));
    let again = pass_at(&m, &eff, &out.status).await;
    assert_eq!(again.status.scaling, out.status.scaling);
}

#[tokio::test]
async fn apply_patches_the_next_size_once_and_not_again_within_the_cooldown() {
    let eff = prod_with(ScalingMode::Apply, |_| {});
    let (m, status) = loaded(&eff, "cpu_percent", 91.0).await;
    let from = m.journal().len();
    let mut status = status;
    for _ in 0..10 {
        let out = pass_at(&m, &eff, &status).await;
        status = out.status;
        if out.settled {
            break;
        }
        m.advance(LRO);
    }
    assert_eq!(sku_patches(&m, &eff, from), 1, "one SKU PATCH");
    let server = arm(&m)
        .get_resources(&[server_id(&eff)])
        .await
        .expect("server");
    assert_eq!(server[0]["sku"]["name"], "Standard_D8s_v3");
    let s = status.scaling.clone().expect("status");
    assert_eq!(s.scaled_sku.as_deref(), Some("Standard_D8s_v3"));
    assert_eq!(s.scaled_from.as_deref(), Some("Standard_D4s_v3"));

    // Still hot an hour later: the cooldown (24 h) holds the next step back.
    m.advance(Duration::from_secs(3600));
    series(&m, &eff, "cpu_percent", flat(93.0, 60));
    let from = m.journal().len();
    let out = pass_at(&m, &eff, &status).await;
    assert_eq!(
        sku_patches(&m, &eff, from),
        0,
        "no second scale in the cooldown"
    );
    let r = out
        .status
        .scaling
        .and_then(|s| s.recommendation)
        .expect("rec");
    assert_eq!(r.next_sku.as_deref(), Some("Standard_D16s_v3"));
    assert!(r.limit.unwrap_or_default().starts_with("cooldown until"));
}

#[tokio::test]
async fn memory_above_80_on_d_series_recommends_e_series() {
    let eff = prod();
    let (m, status) = loaded(&eff, "memory_percent", 86.0).await;
    let out = pass_at(&m, &eff, &status).await;
    let r = out
        .status
        .scaling
        .and_then(|s| s.recommendation)
        .expect("rec");
    assert_eq!(
        (r.trigger.as_str(), r.next_sku.as_deref()),
        ("memoryPercent", Some("Standard_E4s_v3"))
    );
}

#[tokio::test]
async fn max_sku_reached_names_the_limit_and_writes_nothing() {
    let eff = prod_with(ScalingMode::Apply, |s| {
        s.max_sku = Some("Standard_D4s_v3".into())
    });
    let (m, status) = loaded(&eff, "cpu_percent", 95.0).await;
    let from = m.journal().len();
    let out = pass_at(&m, &eff, &status).await;
    let r = out
        .status
        .scaling
        .and_then(|s| s.recommendation)
        .expect("rec");
    assert_eq!(r.limit.as_deref(), Some("maxSku Standard_D4s_v3 reached"));
    assert!(writes_since(&m, from).is_empty());
}

#[tokio::test]
async fn a_short_spike_gives_nothing() {
    let m = mock().await;
    let eff = prod_with(ScalingMode::Apply, |_| {});
    let status = converged(&m, &eff).await;
    let mut points = flat(25.0, 60);
    for p in points.iter_mut().take(10) {
        p.1 = 99.0;
    }
    series(&m, &eff, "cpu_percent", points);
    let from = m.journal().len();
    let out = pass_at(&m, &eff, &status).await;
    assert!(
        m.journal()[from..]
            .iter()
            .any(|e| e.path.ends_with("/providers/Microsoft.Insights/metrics")),
        "the metrics were read"
    );
    assert_eq!(
        out.status.scaling, None,
        "nothing to say, nothing in status"
    );
    assert!(writes_since(&m, from).is_empty());
}

#[tokio::test]
async fn observe_mode_and_a_closed_maintenance_window_write_nothing() {
    let mut eff = prod_with(ScalingMode::Apply, |_| {});
    let (m, status) = loaded(&eff, "cpu_percent", 90.0).await;
    eff.mode = engram_operator::api::spec::Mode::Observe;
    let from = m.journal().len();
    let out = pass_at(&m, &eff, &status).await;
    assert!(writes_since(&m, from).is_empty(), "observe mode");
    assert_eq!(out.status.scaling.and_then(|s| s.scaled_sku), None);

    // Enforce, restartPolicy MaintenanceWindow, the mock's clock (Wednesday) outside Sunday 02:00.
    let mut eff = prod_with(ScalingMode::Apply, |_| {});
    eff.postgres.restart_policy = RestartPolicy::MaintenanceWindow;
    let out = pass_at(&m, &eff, &status).await;
    let r = out
        .status
        .scaling
        .and_then(|s| s.recommendation)
        .expect("rec");
    assert!(r
        .limit
        .unwrap_or_default()
        .starts_with("waiting for the maintenance window"));
    assert!(writes_since(&m, from).is_empty());
}

#[test]
fn bad_scaling_input_names_the_field_and_the_rule() {
    use crate::validation::assert_rule;
    assert_rule(
        "prod",
        &[("/spec/postgres/scaling", json!({"cpuPercent": 120}))],
        "spec.postgres.scaling.cpuPercent: 120 is out of range: a trigger is a percentage above 0 and below 100",
    );
    assert_rule(
        "prod",
        &[("/spec/postgres/scaling", json!({"maxSku": "Standard_D3s_v3"}))],
        "spec.postgres.scaling.maxSku: Standard_D3s_v3 is not a Flexible Server compute SKU of the sizing catalogue",
    );
    assert_rule(
        "prod",
        &[
            (
                "/spec/postgres/sku",
                json!({"tier": "GeneralPurpose", "name": "Standard_D4s_v3"}),
            ),
            ("/spec/postgres/scaling", json!({"maxSku": "Standard_E8s_v3"})),
        ],
        "spec.postgres.scaling.maxSku: Standard_E8s_v3 is MemoryOptimized, not the declared SKU's tier: set allowTierChange to scale across tiers",
    );
    assert_rule(
        "prod",
        &[("/spec/postgres/scaling", json!({"sustainedMinutes": 2}))],
        "spec.postgres.scaling.sustainedMinutes: 2 is out of range: 5-1440 minutes (metrics are averaged per 5 minutes)",
    );
}
