//! The scaling step of a pass: on a quiet pass (no operation pending: in steady state, one pass
//! per resync), one read of the server's Azure Monitor metrics (cpu_percent, memory_percent, active_connections: averages per 5 minutes over the
//! sustained window), then [`plan::scaling::decide`]. In `apply` (and enforce mode) the decision
//! is recorded as `scaledSku`, which the pass's plan uses instead of the spec's SKU: the scale-up
//! is the normal plan's one SKU PATCH, with its restart policy and maintenance window. An edit of
//! the spec's SKU drops `scaledSku` (a later edit wins).

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::Context;
use crate::api::scaling::{ScalingMode, ScalingStatus};
use crate::api::spec::{MaintenanceWindow, RestartPolicy, Sku};
use crate::api::EffectiveSpec;
use crate::azure::metrics::MetricsQuery;
use crate::azure::ArmApi;
use crate::plan::{self, scaling::Load, Observed};

/// The metrics' averaging interval.
const STEP_MINUTES: u32 = 5;

/// What the step leaves for the pass.
#[derive(Debug, Default)]
pub struct Step {
    pub status: Option<ScalingStatus>,
    /// The SKU the plan uses instead of the spec's (an applied scale).
    pub sku: Option<Sku>,
    /// A read that failed (the pass goes on; the next resync reads again).
    pub error: Option<String>,
}

fn at(s: Option<&str>) -> Option<i64> {
    s.and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
        .map(OffsetDateTime::unix_timestamp)
}

fn effective(st: &ScalingStatus) -> Option<Sku> {
    let s = plan::scaling::find(st.scaled_sku.as_deref()?)?;
    Some(Sku {
        tier: s.tier,
        name: s.name,
    })
}

/// Run the step.
pub async fn step(
    arm: &dyn ArmApi,
    eff: &EffectiveSpec,
    observed: &Observed,
    prev: Option<&ScalingStatus>,
    ctx: &Context,
    enforce: bool,
    quiet: bool,
) -> Step {
    let spec = eff.postgres.scaling.clone().unwrap_or_default();
    if spec.mode() == ScalingMode::Off {
        return Step::default();
    }
    let mut st = prev.cloned().unwrap_or_default();
    if st
        .scaled_from
        .as_deref()
        .is_some_and(|f| !f.eq_ignore_ascii_case(&eff.postgres.sku.name))
    {
        st.scaled_sku = None;
        st.scaled_from = None;
        st.scaled_reason = None;
    }
    let now = ctx.now.unix_timestamp();
    let server = observed
        .postgres
        .server
        .as_ref()
        .filter(|s| s.state.eq_ignore_ascii_case("Ready"));
    let Some(server) = server.filter(|_| quiet) else {
        return Step {
            sku: effective(&st),
            status: non_empty(st),
            error: None,
        };
    };
    let sustained = spec.sustained().max(STEP_MINUTES);
    let q = MetricsQuery {
        resource_id: plan::owner::server_id(eff),
        names: ["cpu_percent", "memory_percent", "active_connections"]
            .map(str::to_owned)
            .to_vec(),
        from: ctx.now - Duration::minutes(i64::from(sustained)),
        to: ctx.now,
        interval: format!("PT{STEP_MINUTES}M"),
        split: None,
    };
    let series = match arm.metrics(&q).await {
        Ok(s) => s,
        Err(e) => {
            return Step {
                sku: effective(&st),
                status: non_empty(st),
                error: Some(format!("scaling: reading the server's metrics: {e}")),
            }
        }
    };
    let values = |name: &str| -> Vec<f64> {
        series
            .iter()
            .filter(|s| s.name == name)
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .collect()
    };
    let max_connections = observed
        .postgres
        .configs
        .get("max_connections")
        .and_then(|c| c.value.parse::<f64>().ok())
        .filter(|m| *m > 0.0);
    let load = Load {
        cpu: values("cpu_percent"),
        memory: values("memory_percent"),
        connections: max_connections.map_or_else(Vec::new, |m| {
            values("active_connections")
                .into_iter()
                .map(|c| 100.0 * c / m)
                .collect()
        }),
    };
    let cooling_until =
        at(st.scaled_at.as_deref()).map(|t| t + i64::from(spec.cooldown_hours()) * 3600);
    let needed = (sustained / STEP_MINUTES) as usize;
    let d = plan::scaling::decide(&spec, &server.sku_name, &load, needed, cooling_until, now);
    let mut d = d;
    let closed = match (
        &eff.postgres.maintenance_window,
        eff.postgres.restart_policy,
    ) {
        (Some(w), RestartPolicy::MaintenanceWindow) if !in_window(ctx.now, w) => Some(w),
        _ => None,
    };
    if let (Some(w), Some(r), Some(_)) = (closed, d.recommendation.as_mut(), &d.apply) {
        r.limit = Some(format!(
            "waiting for the maintenance window (day {} {:02}:{:02} UTC, restartPolicy MaintenanceWindow)",
            w.day_of_week, w.start_hour, w.start_minute
        ));
        d.apply = None;
    }
    if let (Some(next), true) = (&d.apply, enforce) {
        st.scaled_sku = Some(next.clone());
        st.scaled_from = Some(eff.postgres.sku.name.clone());
        st.scaled_at = Some(plan::unix_rfc3339(now));
        st.scaled_reason = d.recommendation.as_ref().map(|r| r.reason.clone());
    }
    st.recommendation = d.recommendation;
    Step {
        sku: effective(&st),
        status: non_empty(st),
        error: None,
    }
}

/// None for a status with nothing in it (no `scaling: {}` in every plane's status).
fn non_empty(st: ScalingStatus) -> Option<ScalingStatus> {
    (st != ScalingStatus::default()).then_some(st)
}

/// Whether `now` is within the hour that starts at the declared window (Azure's maintenance
/// window is one hour).
fn in_window(now: OffsetDateTime, w: &MaintenanceWindow) -> bool {
    let week = 7 * 24 * 60;
    let at = i64::from(now.weekday().number_days_from_sunday()) * 24 * 60
        + i64::from(now.hour()) * 60
        + i64::from(now.minute());
    let start = i64::from(w.day_of_week) * 24 * 60
        + i64::from(w.start_hour) * 60
        + i64::from(w.start_minute);
    (at - start).rem_euclid(week) < 60
}

/// `eff` with the scaled SKU in place of the declared one.
pub fn with_sku(eff: &EffectiveSpec, sku: &Sku) -> EffectiveSpec {
    let mut e = eff.clone();
    e.postgres.sku = sku.clone();
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_the_hour_from_its_start_wrapping_the_week() {
        let sat = time::macros::datetime!(2025-01-04 23:30 UTC);
        let w = MaintenanceWindow {
            day_of_week: 6,
            start_hour: 23,
            start_minute: 0,
        };
        assert!(in_window(sat, &w));
        assert!(!in_window(sat + Duration::minutes(31), &w));
        let sunday_early = MaintenanceWindow {
            day_of_week: 0,
            start_hour: 0,
            start_minute: 15,
        };
        assert!(in_window(sat + Duration::minutes(50), &sunday_early));
        assert!(!in_window(sat, &sunday_early));
    }
}
