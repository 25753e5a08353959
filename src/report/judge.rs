//! Each success metric against its target, purely from what was measured and the plane's status.
//!
//! The targets are the seed's (§10 "Success Metrics"): CPU < 70 %, memory < 80 %, connection
//! pool < 70 % (each the 95th percentile over the window), Blob cost < $0.015 per GB weighted,
//! tiers 30 % Hot / 50 % Cool / 20 % Archive, key rotation, backup and RPO achievement 100 %.

use serde::Serialize;

use super::{Metric, Outcome, Share};
use crate::api::EngramDataPlaneStatus;

/// One point of a series: unix seconds, value.
#[derive(Serialize, Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub at: i64,
    pub value: f64,
}

/// Blob capacity by access tier, bytes: the latest value of each.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TierBytes {
    pub hot: f64,
    pub cool: f64,
    pub archive: f64,
}

/// The seed's tier distribution, percent.
pub const TIER_TARGETS: [(&str, f64); 3] = [("Hot", 30.0), ("Cool", 50.0), ("Archive", 20.0)];
/// How far (percentage points) a tier's share may be from its target and still meet it: the
/// seed gives the mix, not a tolerance; this is ours.
pub const TIER_TOLERANCE: f64 = 10.0;
/// The seed's Blob cost target, USD per GB and month, weighted over the tiers.
pub const COST_PER_GB_TARGET: f64 = 0.015;
/// The RPO a drill must show to count as achieved: the 5 minutes the heartbeat is written well
/// within (docs/database.md). The seed names RPO achievement, not the RPO; this is ours.
pub const RPO_TARGET_SECONDS: i64 = 300;
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// What was read for one plane over the window. `None`: not read (the detail says why, in
/// `why_not`).
#[derive(Clone, Debug, Default)]
pub struct Measured {
    pub window_days: u32,
    pub cpu: Option<Vec<Point>>,
    pub memory: Option<Vec<Point>>,
    /// Active connections as a percentage of the server's max_connections.
    pub connections: Option<Vec<Point>>,
    /// The max_connections the percentage is of.
    pub max_connections: Option<u32>,
    pub tiers: Option<TierBytes>,
    /// Average Blob capacity over the window, bytes.
    pub capacity_bytes: Option<f64>,
    /// Actual cost of the account over the window, and its currency.
    pub cost: Option<(f64, String)>,
    /// Why a metric was not read: (metric id, reason).
    pub why_not: Vec<(&'static str, String)>,
}

/// The 95th percentile (nearest rank) of the values, None when there are none.
pub fn p95(points: &[Point]) -> Option<f64> {
    let mut v: Vec<f64> = points
        .iter()
        .map(|p| p.value)
        .filter(|x| x.is_finite())
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((0.95 * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

fn metric(id: &'static str, name: &'static str, target: impl Into<String>) -> Metric {
    Metric {
        id,
        name,
        target: target.into(),
        measured: None,
        outcome: Outcome::NotMeasured,
        detail: String::new(),
        series: Vec::new(),
        threshold: None,
        shares: Vec::new(),
    }
}

impl Measured {
    fn why(&self, id: &str, otherwise: &str) -> String {
        self.why_not
            .iter()
            .find(|(m, _)| *m == id)
            .map_or_else(|| otherwise.to_owned(), |(_, w)| w.clone())
    }

    fn percent(
        &self,
        (id, name, what): (&'static str, &'static str, &str),
        series: Option<&Vec<Point>>,
        limit: f64,
    ) -> Metric {
        let mut m = metric(id, name, format!("< {limit} % (p95)"));
        m.threshold = Some(limit);
        match series.and_then(|s| p95(s).map(|v| (s, v))) {
            Some((s, v)) => {
                m.series = s.clone();
                m.measured = Some(format!("{v:.1} % p95"));
                m.outcome = Outcome::of(v < limit);
                m.detail = format!(
                    "95th percentile of {} points of {what} over {} days",
                    s.len(),
                    self.window_days
                );
            }
            None => m.detail = self.why(id, "no points in the window"),
        }
        m
    }

    fn tiers(&self) -> Metric {
        let mut m = metric(
            "blob.tierDistribution",
            "Tier distribution",
            format!("30 % Hot / 50 % Cool / 20 % Archive (± {TIER_TOLERANCE} points)"),
        );
        let Some(t) = &self.tiers else {
            m.detail = self.why(m.id, "BlobCapacity by tier not read");
            return m;
        };
        let total = t.hot + t.cool + t.archive;
        if total <= 0.0 {
            m.detail = "the account holds no blob data yet".into();
            return m;
        }
        m.shares = TIER_TARGETS
            .iter()
            .zip([t.hot, t.cool, t.archive])
            .map(|((tier, target), bytes)| Share {
                tier: (*tier).to_owned(),
                measured: 100.0 * bytes / total,
                target: *target,
            })
            .collect();
        let off: Vec<String> = m
            .shares
            .iter()
            .filter(|s| (s.measured - s.target).abs() > TIER_TOLERANCE)
            .map(|s| format!("{} {:.0} % (target {:.0} %)", s.tier, s.measured, s.target))
            .collect();
        m.measured = Some(
            m.shares
                .iter()
                .map(|s| format!("{:.0} % {}", s.measured, s.tier))
                .collect::<Vec<_>>()
                .join(" / "),
        );
        m.outcome = Outcome::of(off.is_empty());
        m.detail = if off.is_empty() {
            format!("BlobCapacity by Tier, {:.2} GiB in all", total / GIB)
        } else {
            format!("off target: {}", off.join(", "))
        };
        m
    }

    fn cost_per_gb(&self) -> Metric {
        let mut m = metric(
            "blob.costPerGb",
            "Blob cost per GB",
            format!("< ${COST_PER_GB_TARGET} per GB-month, weighted"),
        );
        m.threshold = Some(COST_PER_GB_TARGET);
        let (Some((cost, currency)), Some(bytes)) = (&self.cost, self.capacity_bytes) else {
            m.detail = self.why(m.id, "cost or capacity not read");
            return m;
        };
        if bytes <= 0.0 || self.window_days == 0 {
            m.detail = "the account holds no blob data yet".into();
            return m;
        }
        let per_gb = cost * (30.0 / f64::from(self.window_days)) / (bytes / GIB);
        m.measured = Some(format!("{per_gb:.4} {currency} per GB-month"));
        if !currency.eq_ignore_ascii_case("USD") {
            m.detail = format!("the target is in USD; the cost is in {currency}, so not judged");
            return m;
        }
        m.outcome = Outcome::of(per_gb < COST_PER_GB_TARGET);
        m.detail = format!(
            "actual cost {cost:.2} {currency} over {} days, as a 30-day month, over {:.2} GiB average capacity",
            self.window_days,
            bytes / GIB
        );
        m
    }
}

fn rotation(status: Option<&EngramDataPlaneStatus>) -> Metric {
    let mut m = metric("keys.rotationSuccess", "Key rotation success", "100 %");
    let Some(r) = status.and_then(|s| s.key_rotation.as_ref()) else {
        m.detail = "no key rotation in the plane's status".into();
        return m;
    };
    let total = r.consumers.len();
    let confirmed = r
        .consumers
        .iter()
        .filter(|c| c.state == "Confirmed")
        .count();
    let failed = r
        .consumers
        .iter()
        .filter(|c| matches!(c.state.as_str(), "Failed" | "Refused"))
        .count();
    if failed == 0 && r.phase != "Complete" {
        m.detail = format!(
            "rotation {} → {} in progress ({confirmed} of {total} confirmed)",
            r.from_version, r.to_version
        );
        return m;
    }
    let rate = if total == 0 {
        100.0
    } else {
        100.0 * confirmed as f64 / total as f64
    };
    m.measured = Some(format!("{rate:.0} %"));
    m.outcome = Outcome::of(failed == 0);
    m.detail = format!(
        "last rotation {} → {}: {confirmed} of {total} consumers confirmed",
        r.from_version, r.to_version
    );
    m
}

fn drills(status: Option<&EngramDataPlaneStatus>) -> [Metric; 2] {
    let mut backup = metric(
        "backup.success",
        "Backup success",
        "100 % (the last restore drill)",
    );
    let mut rpo = metric(
        "backup.rpo",
        "RPO achievement",
        format!("100 % (RPO ≤ {RPO_TARGET_SECONDS} s in the last drill)"),
    );
    let Some(last) = status
        .and_then(|s| s.restore_drill.as_ref())
        .and_then(|d| d.last.as_ref())
    else {
        backup.detail = "no finished restore drill in the plane's status".into();
        rpo.detail = backup.detail.clone();
        return [backup, rpo];
    };
    let ok = last.result.as_deref() == Some("Succeeded");
    backup.measured = Some(if ok { "100 %" } else { "0 %" }.into());
    backup.outcome = Outcome::of(ok);
    backup.detail = format!(
        "restore to {} on {}: {}",
        last.restore_point,
        last.server,
        last.result.as_deref().unwrap_or(&last.phase)
    );
    match last.rpo_seconds {
        Some(s) => {
            let met = ok && s <= RPO_TARGET_SECONDS;
            rpo.measured = Some(format!("RPO {s} s"));
            rpo.outcome = Outcome::of(met);
            rpo.detail = format!(
                "measured by the heartbeat in the restore of {}",
                last.restore_point
            );
        }
        None => rpo.detail = "the last drill found no heartbeat to measure RPO".into(),
    }
    [backup, rpo]
}

/// Every success metric of one plane.
pub fn judge(m: &Measured, status: Option<&EngramDataPlaneStatus>) -> Vec<Metric> {
    let conn_what = match m.max_connections {
        Some(n) => format!("active_connections / max_connections ({n})"),
        None => "active_connections / max_connections".into(),
    };
    let mut out = vec![
        m.percent(
            ("postgres.cpu", "PostgreSQL CPU", "cpu_percent"),
            m.cpu.as_ref(),
            70.0,
        ),
        m.percent(
            ("postgres.memory", "Memory", "memory_percent"),
            m.memory.as_ref(),
            80.0,
        ),
        m.percent(
            ("postgres.connections", "Connection pool", &conn_what),
            m.connections.as_ref(),
            70.0,
        ),
        m.cost_per_gb(),
        m.tiers(),
        rotation(status),
    ];
    out.extend(drills(status));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(v: f64, n: i64) -> Vec<Point> {
        (0..n)
            .map(|i| Point {
                at: i * 300,
                value: v,
            })
            .collect()
    }

    fn healthy() -> Measured {
        Measured {
            window_days: 7,
            cpu: Some(flat(20.0, 100)),
            memory: Some(flat(40.0, 100)),
            connections: Some(flat(10.0, 100)),
            max_connections: Some(859),
            tiers: Some(TierBytes {
                hot: 3.0 * GIB,
                cool: 5.0 * GIB,
                archive: 2.0 * GIB,
            }),
            capacity_bytes: Some(10.0 * GIB),
            cost: Some((0.02, "USD".into())),
            why_not: Vec::new(),
        }
    }

    fn outcome(ms: &[Metric], id: &str) -> Outcome {
        ms.iter().find(|m| m.id == id).unwrap().outcome
    }

    #[test]
    fn p95_is_the_nearest_rank() {
        let pts: Vec<Point> = (1..=100)
            .map(|i| Point {
                at: i,
                value: i as f64,
            })
            .collect();
        assert_eq!(p95(&pts), Some(95.0));
        assert_eq!(p95(&pts[..1]), Some(1.0));
        assert_eq!(p95(&[]), None);
    }

    #[test]
    fn a_healthy_plane_meets_what_was_measured_and_the_rest_is_not_measured() {
        let ms = judge(&healthy(), None);
        for id in [
            "postgres.cpu",
            "postgres.memory",
            "postgres.connections",
            "blob.costPerGb",
            "blob.tierDistribution",
        ] {
            assert_eq!(outcome(&ms, id), Outcome::Met, "{id}");
        }
        for id in ["keys.rotationSuccess", "backup.success", "backup.rpo"] {
            assert_eq!(outcome(&ms, id), Outcome::NotMeasured, "{id}");
        }
    }

    #[test]
    fn a_skewed_mix_a_hot_cpu_and_a_dear_gb_miss() {
        let mut m = healthy();
        m.tiers = Some(TierBytes {
            hot: 9.0 * GIB,
            cool: 1.0 * GIB,
            archive: 0.0,
        });
        let mut cpu = flat(20.0, 100);
        for p in cpu.iter_mut().skip(90) {
            p.value = 85.0;
        }
        m.cpu = Some(cpu);
        m.cost = Some((1.0, "USD".into()));
        let ms = judge(&m, None);
        let tiers = ms.iter().find(|x| x.id == "blob.tierDistribution").unwrap();
        assert_eq!(tiers.outcome, Outcome::Missed);
        assert!(tiers.detail.contains("Hot 90 %"), "{}", tiers.detail);
        assert_eq!(
            outcome(&ms, "postgres.cpu"),
            Outcome::Missed,
            "p95 sees the top 10 %"
        );
        assert_eq!(outcome(&ms, "blob.costPerGb"), Outcome::Missed);
        // Another currency is shown, not judged.
        m.cost = Some((1.0, "EUR".into()));
        assert_eq!(
            outcome(&judge(&m, None), "blob.costPerGb"),
            Outcome::NotMeasured
        );
    }

    #[test]
    fn a_read_that_failed_says_why() {
        let m = Measured {
            window_days: 7,
            why_not: vec![("postgres.cpu", "metrics: 403 AuthorizationFailed".into())],
            ..Measured::default()
        };
        let ms = judge(&m, None);
        let cpu = ms.iter().find(|x| x.id == "postgres.cpu").unwrap();
        assert_eq!(cpu.outcome, Outcome::NotMeasured);
        assert!(cpu.detail.contains("403"));
    }
}
