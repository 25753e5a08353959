//! Reading for the success-metrics report (GETs and the Cost Management query only; nothing is
//! written): Azure Monitor platform metrics of the server and of the account's blob service, the
//! account's actual cost, then [`super::judge`].

use time::{Duration, OffsetDateTime};

use super::{judge, Measured, PlaneReport, Point, Report, TierBytes};
use crate::api::EffectiveSpec;
use crate::azure::{Arm, ArmSettings};
use crate::evidence::collect::Plane;

/// What the report reads, whatever serves it.
#[async_trait::async_trait]
pub trait Readings: Send + Sync {
    /// The average of `metric` of `resource` per `interval` over [from, to), one series per value
    /// of `split` (a dimension name) or a single series (dimension value "") without it.
    async fn series(
        &self,
        resource: &str,
        metric: &str,
        split: Option<&str>,
        window: (OffsetDateTime, OffsetDateTime),
        interval: &str,
    ) -> Result<Vec<(String, Vec<Point>)>, String>;
    /// The server's max_connections.
    async fn max_connections(&self, eff: &EffectiveSpec) -> Result<u32, String>;
    /// The actual cost of `resource` over [from, to) at `scope`, and its currency.
    async fn cost(
        &self,
        scope: &str,
        resource: &str,
        window: (OffsetDateTime, OffsetDateTime),
    ) -> Result<(f64, String), String>;
}

/// The sampling of a window: 15-minute averages up to a week (672 points), hourly beyond.
fn interval(days: u32) -> &'static str {
    if days <= 7 {
        "PT15M"
    } else {
        "PT1H"
    }
}

fn single(series: Vec<(String, Vec<Point>)>) -> Vec<Point> {
    series.into_iter().flat_map(|(_, p)| p).collect()
}

/// Read everything one plane's metrics need; a read that fails leaves its metric unmeasured,
/// saying why.
pub async fn measure(
    r: &dyn Readings,
    eff: &EffectiveSpec,
    days: u32,
    now: OffsetDateTime,
) -> Measured {
    let window = (now - Duration::days(i64::from(days)), now);
    let server = crate::plan::owner::server_id(eff);
    let account = crate::plan::owner::account_id(eff);
    let blob = format!("{account}/blobServices/default");
    let step = interval(days);
    let mut m = Measured {
        window_days: days,
        ..Measured::default()
    };
    for (id, metric) in [
        ("postgres.cpu", "cpu_percent"),
        ("postgres.memory", "memory_percent"),
    ] {
        match r.series(&server, metric, None, window, step).await {
            Ok(s) => {
                let s = Some(single(s));
                if metric == "cpu_percent" {
                    m.cpu = s;
                } else {
                    m.memory = s;
                }
            }
            Err(e) => m.why_not.push((id, format!("{metric}: {e}"))),
        }
    }
    let conns = r
        .series(&server, "active_connections", None, window, step)
        .await;
    match (conns, r.max_connections(eff).await) {
        (Ok(s), Ok(max)) if max > 0 => {
            m.max_connections = Some(max);
            m.connections = Some(
                single(s)
                    .into_iter()
                    .map(|p| Point {
                        at: p.at,
                        value: 100.0 * p.value / f64::from(max),
                    })
                    .collect(),
            );
        }
        (Err(e), _) | (_, Err(e)) => m
            .why_not
            .push(("postgres.connections", format!("active_connections: {e}"))),
        _ => m
            .why_not
            .push(("postgres.connections", "max_connections is 0".into())),
    }
    // BlobCapacity is reported hourly, per access tier.
    match r
        .series(&blob, "BlobCapacity", Some("Tier"), window, "PT1H")
        .await
    {
        Ok(tiers) => {
            let latest = |name: &str| {
                tiers
                    .iter()
                    .filter(|(t, _)| t.eq_ignore_ascii_case(name))
                    .filter_map(|(_, s)| s.iter().max_by_key(|p| p.at))
                    .map(|p| p.value)
                    .sum::<f64>()
            };
            m.tiers = Some(TierBytes {
                hot: latest("Hot"),
                cool: latest("Cool"),
                archive: latest("Archive"),
            });
            let mut by_time = std::collections::BTreeMap::<i64, f64>::new();
            for p in tiers.iter().flat_map(|(_, s)| s) {
                *by_time.entry(p.at).or_default() += p.value;
            }
            if !by_time.is_empty() {
                m.capacity_bytes = Some(by_time.values().sum::<f64>() / by_time.len() as f64);
            }
        }
        Err(e) => {
            m.why_not
                .push(("blob.tierDistribution", format!("BlobCapacity: {e}")));
            m.why_not
                .push(("blob.costPerGb", format!("BlobCapacity: {e}")));
        }
    }
    let scope = server
        .split("/providers/")
        .next()
        .unwrap_or_default()
        .to_owned();
    match r.cost(&scope, &account, window).await {
        Ok(c) => m.cost = Some(c),
        Err(e) => m
            .why_not
            .push(("blob.costPerGb", format!("cost query: {e}"))),
    }
    m
}

/// Measure and judge every plane, one after the other; a plane whose client cannot be built is an
/// error line, and the others are still reported.
pub async fn report(
    settings: &ArmSettings,
    planes: &[Plane],
    errors: Vec<String>,
    status_given: bool,
    days: u32,
    now: OffsetDateTime,
) -> Report {
    let mut out = Report {
        generated_at: crate::plan::unix_rfc3339(now.unix_timestamp()),
        window_days: days,
        planes: Vec::new(),
        errors,
    };
    let arm = match Arm::new(settings.clone()) {
        Ok(a) => a,
        Err(e) => {
            out.errors.push(format!("ARM client: {e}"));
            return out;
        }
    };
    for p in planes {
        let measured = measure(&arm, &p.eff, days, now).await;
        let status = p.status.as_ref().filter(|_| status_given);
        out.planes.push(PlaneReport {
            plane: p.name.clone(),
            environment: p.eff.environment.to_string(),
            metrics: judge(&measured, status),
        });
    }
    out
}
