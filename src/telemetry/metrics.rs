//! Prometheus metrics of the operator (prometheus-client). One `Metrics` per process, shared by
//! the engine, the ARM client and the admin HTTP server.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of a reconcile outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// ok, progressing, invalid, refused, error, fatal
    pub result: String,
}

/// Labels of one ARM request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ArmLabels {
    /// HTTP method.
    pub method: String,
    /// Resource kind, e.g. postgres, pg_config, storage_account, operation.
    pub kind: String,
    /// HTTP status code, or "network" when no response came back.
    pub status: String,
}

/// Labels naming a resource kind.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// Resource kind.
    pub kind: String,
}

/// A data plane's restore drills, by result.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DrillLabels {
    /// The data plane (`{namespace}/{name}` or `folder/{name}`).
    pub plane: String,
    /// Succeeded or Failed.
    pub result: String,
}

/// One data plane.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PlaneLabels {
    pub plane: String,
}

/// A scaling recommendation of one plane.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScalingLabels {
    pub plane: String,
    /// cpuPercent, memoryPercent or connectionsPercent.
    pub trigger: String,
    /// The SKU recommended ("" when a limit stops it at the top of its series).
    pub next_sku: String,
}

/// Every metric the operator exports.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ResultLabels, Counter>,
    reconcile_duration: Histogram,
    arm_requests: Family<ArmLabels, Counter>,
    throttle_waits: Counter,
    throttle_wait_seconds: Counter<f64, AtomicU64>,
    drift_detected: Family<KindLabels, Counter>,
    drift_corrected: Family<KindLabels, Counter>,
    drift_open: Gauge,
    pending_operations: Gauge,
    leader: Gauge,
    shards_held: Gauge,
    child_period: Gauge<f64, AtomicU64>,
    restore_drills: Family<DrillLabels, Counter>,
    restore_drill_rpo: Family<PlaneLabels, Gauge>,
    restore_drill_rto: Family<PlaneLabels, Gauge>,
    scaling_recommended: Family<ScalingLabels, Gauge>,
    /// Each plane's series of `scaling_recommended`, to remove it when the recommendation goes.
    scaling_last: std::sync::Mutex<std::collections::HashMap<String, ScalingLabels>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("engram");
        let reconciles = Family::<ResultLabels, Counter>::default();
        registry.register(
            "reconciles",
            "Reconciles of a data plane, by result",
            reconciles.clone(),
        );
        let reconcile_duration = Histogram::new(exponential_buckets(0.005, 2.0, 14));
        registry.register(
            "reconcile_duration_seconds",
            "Time to observe, plan and apply one data plane",
            reconcile_duration.clone(),
        );
        let arm_requests = Family::<ArmLabels, Counter>::default();
        registry.register(
            "arm_requests",
            "Requests sent to Azure Resource Manager, by method, resource kind and status",
            arm_requests.clone(),
        );
        let throttle_waits = Counter::default();
        registry.register(
            "throttle_waits",
            "Times a request waited for the client-side ARM budget or a Retry-After",
            throttle_waits.clone(),
        );
        let throttle_wait_seconds = Counter::<f64, AtomicU64>::default();
        registry.register(
            "throttle_wait_seconds",
            "Seconds spent waiting for the ARM budget or a Retry-After",
            throttle_wait_seconds.clone(),
        );
        let drift_detected = Family::<KindLabels, Counter>::default();
        registry.register(
            "drift_detected",
            "Drifted fields detected, by resource kind",
            drift_detected.clone(),
        );
        let drift_corrected = Family::<KindLabels, Counter>::default();
        registry.register(
            "drift_corrected",
            "Drifted fields corrected by a write, by resource kind",
            drift_corrected.clone(),
        );
        let drift_open = Gauge::default();
        registry.register(
            "drift_open",
            "Drifted fields not (yet) corrected",
            drift_open.clone(),
        );
        let pending_operations = Gauge::default();
        registry.register(
            "pending_operations",
            "Long-running ARM operations in flight",
            pending_operations.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "leader",
            "1 when this replica may write to ARM and status",
            leader.clone(),
        );
        let shards_held = Gauge::default();
        registry.register(
            "shards_held",
            "Shard Leases this replica holds (run --kube --shards N)",
            shards_held.clone(),
        );
        let child_period = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "child_sweep_period_seconds",
            "The period of the child tier (every resource of every plane), computed from the budgets",
            child_period.clone(),
        );
        let restore_drills = Family::<DrillLabels, Counter>::default();
        registry.register(
            "restore_drill_runs",
            "Finished point-in-time restore drills, by data plane and result",
            restore_drills.clone(),
        );
        let restore_drill_rpo = Family::<PlaneLabels, Gauge>::default();
        registry.register(
            "restore_drill_rpo_seconds",
            "Restore point minus the newest heartbeat found in the last drill's restore",
            restore_drill_rpo.clone(),
        );
        let restore_drill_rto = Family::<PlaneLabels, Gauge>::default();
        registry.register(
            "restore_drill_rto_seconds",
            "From the last drill's restore request to its verification",
            restore_drill_rto.clone(),
        );
        let scaling_recommended = Family::<ScalingLabels, Gauge>::default();
        registry.register(
            "scaling_recommended",
            "1 while the server's metrics hold a scaling trigger (postgres.scaling), by trigger and next SKU",
            scaling_recommended.clone(),
        );
        Self {
            registry,
            scaling_recommended,
            scaling_last: Default::default(),
            restore_drills,
            restore_drill_rpo,
            restore_drill_rto,
            reconciles,
            reconcile_duration,
            arm_requests,
            throttle_waits,
            throttle_wait_seconds,
            drift_detected,
            drift_corrected,
            drift_open,
            pending_operations,
            leader,
            shards_held,
            child_period,
        }
    }
}

impl Metrics {
    /// One reconcile finished with `result` after `took`.
    pub fn reconciled(&self, result: &str, took: Duration) {
        self.reconciles
            .get_or_create(&ResultLabels {
                result: result.to_owned(),
            })
            .inc();
        self.reconcile_duration.observe(took.as_secs_f64());
    }

    /// One ARM request came back (`status` is the HTTP code, or None for a network failure).
    pub fn arm_request(&self, method: &str, kind: &str, status: Option<u16>) {
        let status = status.map_or_else(|| "network".to_owned(), |s| s.to_string());
        self.arm_requests
            .get_or_create(&ArmLabels {
                method: method.to_owned(),
                kind: kind.to_owned(),
                status,
            })
            .inc();
    }

    /// A request waited `waited` for the budget or a Retry-After.
    pub fn throttled(&self, waited: Duration) {
        self.throttle_waits.inc();
        self.throttle_wait_seconds.inc_by(waited.as_secs_f64());
    }

    /// `n` drifted fields of `kind` were detected, and `corrected` of them written.
    pub fn drift(&self, kind: &str, detected: u64, corrected: u64) {
        let labels = KindLabels {
            kind: kind.to_owned(),
        };
        self.drift_detected.get_or_create(&labels).inc_by(detected);
        self.drift_corrected
            .get_or_create(&labels)
            .inc_by(corrected);
    }

    /// Current totals across data planes.
    pub fn set_open(&self, drift_open: i64, pending_operations: i64) {
        self.drift_open.set(drift_open);
        self.pending_operations.set(pending_operations);
    }

    /// A restore drill of `plane` finished.
    pub fn restore_drill(&self, plane: &str, run: &crate::api::status::DrillRun) {
        let result = run.result.clone().unwrap_or_else(|| "Failed".into());
        self.restore_drills
            .get_or_create(&DrillLabels {
                plane: plane.to_owned(),
                result,
            })
            .inc();
        let labels = PlaneLabels {
            plane: plane.to_owned(),
        };
        if let Some(rpo) = run.rpo_seconds {
            self.restore_drill_rpo.get_or_create(&labels).set(rpo);
        }
        if let Some(rto) = run.rto_seconds {
            self.restore_drill_rto.get_or_create(&labels).set(rto);
        }
    }

    /// The plane's scaling recommendation, as the status holds it: 1 for the one in force, none
    /// other for the plane.
    pub fn scaling(&self, plane: &str, status: Option<&crate::api::scaling::ScalingStatus>) {
        let rec = status.and_then(|s| s.recommendation.as_ref());
        let now = rec.map(|r| ScalingLabels {
            plane: plane.to_owned(),
            trigger: r.trigger.clone(),
            next_sku: r.next_sku.clone().unwrap_or_default(),
        });
        let Ok(mut last) = self.scaling_last.lock() else {
            return;
        };
        if let Some(old) = last.remove(plane) {
            if Some(&old) != now.as_ref() {
                self.scaling_recommended.remove(&old);
            }
        }
        if let Some(l) = now {
            self.scaling_recommended.get_or_create(&l).set(1);
            last.insert(plane.to_owned(), l);
        }
    }

    /// Whether this replica leads.
    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// How many shard Leases this replica holds.
    pub fn set_shards_held(&self, held: usize) {
        self.shards_held
            .set(i64::try_from(held).unwrap_or(i64::MAX));
    }

    /// The child tier's period, as the scheduler computed it.
    pub fn set_child_period(&self, period: Duration) {
        self.child_period.set(period.as_secs_f64());
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The `result` label of a reconcile outcome: invalid, fatal, refused, error, ok or progressing.
pub fn outcome_label(out: &crate::reconcile::Outcome) -> &'static str {
    use crate::reconcile::conditions::{get, READY};
    let s = &out.status;
    if get(&s.conditions, READY).is_some_and(|c| c.reason == "InvalidSpec") {
        "invalid"
    } else if out.fatal {
        "fatal"
    } else if s.errors.iter().any(|e| e.contains(": refused: ")) {
        "refused"
    } else if !s.errors.is_empty() {
        "error"
    } else if out.ready() {
        "ok"
    } else {
        "progressing"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_show_up_in_the_exposition() {
        let m = Metrics::default();
        m.reconciled("ok", Duration::from_millis(20));
        m.arm_request("GET", "postgres", Some(200));
        m.arm_request("PATCH", "postgres", None);
        m.throttled(Duration::from_secs(2));
        m.drift("postgres", 3, 2);
        m.set_open(1, 4);
        m.set_leader(true);
        m.set_shards_held(3);
        m.set_child_period(Duration::from_secs(1800));
        m.restore_drill(
            "engram/acme",
            &crate::api::status::DrillRun {
                result: Some("Succeeded".into()),
                rpo_seconds: Some(90),
                rto_seconds: Some(1800),
                ..Default::default()
            },
        );
        let text = m.encode();
        for line in [
            "engram_reconciles_total{result=\"ok\"} 1",
            "engram_reconcile_duration_seconds_count 1",
            "engram_arm_requests_total{method=\"GET\",kind=\"postgres\",status=\"200\"} 1",
            "engram_arm_requests_total{method=\"PATCH\",kind=\"postgres\",status=\"network\"} 1",
            "engram_throttle_waits_total 1",
            "engram_throttle_wait_seconds_total 2.0",
            "engram_drift_detected_total{kind=\"postgres\"} 3",
            "engram_drift_corrected_total{kind=\"postgres\"} 2",
            "engram_drift_open 1",
            "engram_pending_operations 4",
            "engram_leader 1",
            "engram_shards_held 3",
            "engram_child_sweep_period_seconds 1800.0",
            "engram_restore_drill_runs_total{plane=\"engram/acme\",result=\"Succeeded\"} 1",
            "engram_restore_drill_rpo_seconds{plane=\"engram/acme\"} 90",
            "engram_restore_drill_rto_seconds{plane=\"engram/acme\"} 1800",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn the_scaling_gauge_follows_the_recommendation_of_each_plane() {
        use crate::api::scaling::{ScalingRecommendation, ScalingStatus};
        let m = Metrics::default();
        let rec = |next: &str| ScalingStatus {
            recommendation: Some(ScalingRecommendation {
                trigger: "cpuPercent".into(),
                next_sku: Some(next.into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        m.scaling("engram/a", Some(&rec("Standard_D8s_v3")));
        m.scaling("engram/b", Some(&rec("Standard_D4s_v3")));
        let line = "engram_scaling_recommended{plane=\"engram/a\",trigger=\"cpuPercent\",next_sku=\"Standard_D8s_v3\"} 1";
        assert!(m.encode().contains(line), "{}", m.encode());
        m.scaling("engram/a", None);
        let text = m.encode();
        assert!(!text.contains("plane=\"engram/a\",trigger"), "{text}");
        assert!(
            text.contains("plane=\"engram/b\""),
            "the other plane's stays"
        );
    }
}
