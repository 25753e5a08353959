//! Azure Monitor platform metrics (`Microsoft.Insights/metrics`, api-version 2023-10-01), a
//! read-only extension of any resource: `GET {resourceId}/providers/Microsoft.Insights/metrics
//! ?metricnames=a,b&timespan={from}/{to}&interval=PT15M&aggregation=average[&$filter=Tier eq '*']`.
//!
//! Series are set through the control API (`POST /_mock/metrics`, [`super::MockArm::set_metric`]).
//! A flexible server's `cpu_percent`, `memory_percent` and `active_connections` default to a flat
//! low load ([`DEFAULT_LOAD`]) over any window; anything unset has no data. Answers follow the
//! official `GetMetric` example: one `value` entry per metric name, one `timeseries` per dimension
//! value (`metadatavalues` named in lower case, as the service does), one `data` point per interval
//! of the timespan (no `average` where nothing was recorded), `cost`, `timespan`, `interval`,
//! `namespace`, `resourceregion`. An unknown metric name is the service's flat 400
//! (`{"code","message"}`, naming the valid metrics).

use std::collections::BTreeMap;

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::store::{Reply, Req, World};

pub const VERSIONS: &[&str] = &["2023-10-01"];
pub const TYPE: &str = "Microsoft.Insights/metrics";

/// What an unset server metric reads: cpu_percent, memory_percent, active_connections.
pub const DEFAULT_LOAD: [(&str, f64); 3] = [
    ("cpu_percent", 12.0),
    ("memory_percent", 30.0),
    ("active_connections", 5.0),
];

/// The metrics a resource type publishes (namespace, metrics, dimensions), from Azure Monitor's
/// "Supported metrics" tables (the ones the operator reads, and their neighbours).
const PUBLISHED: &[(&str, &[&str], &[&str])] = &[
    (
        "microsoft.dbforpostgresql/flexibleservers",
        &[
            "cpu_percent",
            "memory_percent",
            "active_connections",
            "storage_percent",
            "storage_used",
            "iops",
            "network_bytes_egress",
            "network_bytes_ingress",
        ],
        &[],
    ),
    (
        "microsoft.storage/storageaccounts/blobservices",
        &[
            "BlobCapacity",
            "BlobCount",
            "ContainerCount",
            "Transactions",
        ],
        &["Tier", "BlobType"],
    ),
    (
        "microsoft.storage/storageaccounts",
        &["UsedCapacity", "Transactions", "Ingress", "Egress"],
        &[],
    ),
];

/// One series: its dimension values and its points (unix seconds, value), oldest first.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub dims: BTreeMap<String, String>,
    pub points: Vec<(i64, f64)>,
}

/// Every series set, by (lower-case resource id, lower-case metric name).
#[derive(Debug, Default)]
pub struct MetricStore {
    series: BTreeMap<(String, String), Vec<Series>>,
}

impl MetricStore {
    /// Set (replace) the series of `metric` of `id` with these dimension values.
    pub fn set(&mut self, id: &str, metric: &str, series: Series) {
        let key = (
            id.trim_end_matches('/').to_ascii_lowercase(),
            metric.to_ascii_lowercase(),
        );
        let all = self.series.entry(key).or_default();
        all.retain(|s| !same_dims(&s.dims, &series.dims));
        let mut series = series;
        series.points.sort_by_key(|p| p.0);
        all.push(series);
    }

    fn get(&self, id: &str, metric: &str) -> Option<&Vec<Series>> {
        self.series
            .get(&(id.to_ascii_lowercase(), metric.to_ascii_lowercase()))
    }
}

fn same_dims(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> bool {
    a.len() == b.len()
        && a.iter().all(|(k, v)| {
            b.iter()
                .any(|(k2, v2)| k.eq_ignore_ascii_case(k2) && v.eq_ignore_ascii_case(v2))
        })
}

/// The query string's value of `key` (percent-decoded; `+` as a space).
fn param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        let k = url::form_urlencoded::parse(format!("{k}=").as_bytes())
            .next()
            .map(|(k, _)| k.into_owned())?;
        if !k.eq_ignore_ascii_case(key) {
            return None;
        }
        url::form_urlencoded::parse(format!("x={v}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    })
}

// Azure Monitor's own error body (`{"code","message"}`, not wrapped), as diagnostic settings'.
use super::diagnostics::refuse as flat;

/// `PT15M`, `PT1H`, `P1D`, `PT5M`... as a duration (the ISO 8601 subset the service takes).
fn interval(s: &str) -> Option<Duration> {
    let s = s.to_ascii_uppercase();
    if let Some(d) = s.strip_prefix('P').and_then(|r| r.strip_suffix('D')) {
        return d.parse::<i64>().ok().map(Duration::days);
    }
    let t = s.strip_prefix("PT")?;
    let (n, unit) = t.split_at(t.len().checked_sub(1)?);
    let n: i64 = n.parse().ok()?;
    match unit {
        "M" => Some(Duration::minutes(n)),
        "H" => Some(Duration::hours(n)),
        _ => None,
    }
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s.trim(), &Rfc3339).ok()
}

fn stamp(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// The `Tier eq '*'` / `Tier eq 'Hot'` filter: (dimension, value or `*`).
fn split_filter(filter: Option<&str>) -> Option<(String, String)> {
    let f = filter?;
    let (dim, value) = f.split_once(" eq ")?;
    Some((
        dim.trim().to_owned(),
        value.trim().trim_matches('\'').to_owned(),
    ))
}

/// The metrics GET.
pub fn query(world: &World, req: &Req, scope: &str) -> Reply {
    if req.method != "GET" {
        return flat(405, "MethodNotAllowed", "The metrics API only answers GET.");
    }
    // The resource itself (a blob service is there when its account is).
    let owner = scope
        .to_ascii_lowercase()
        .trim_end_matches("/blobservices/default")
        .to_owned();
    let Some(resource) = world.get(&owner) else {
        return Reply::json(
            404,
            json!({"error": {"code": "ResourceNotFound", "message": format!("The Resource '{scope}' was not found.")}}),
        );
    };
    let region = resource.body["location"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase()
        .replace(' ', "");
    let ns = super::diagnostics::scope_type(scope).unwrap_or_default();
    let Some((_, published, dims)) = PUBLISHED.iter().find(|(n, _, _)| *n == ns) else {
        return flat(
            400,
            "BadRequest",
            format!("Failed to find metric configuration for resource type: {ns}"),
        );
    };
    let names = param(req.query, "metricnames").unwrap_or_else(|| published[0].to_owned());
    let mut wanted = Vec::new();
    for n in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let Some(p) = published.iter().find(|p| p.eq_ignore_ascii_case(n)) else {
            let (provider, kind) = ns.split_once('/').unwrap_or((&ns, ""));
            return flat(
                400,
                "BadRequest",
                format!(
                    "Failed to find metric configuration for provider: {provider}, resource Type: {kind}, metric: {n}, Valid metrics: {}",
                    published.join(",")
                ),
            );
        };
        wanted.push(*p);
    }
    let now = req.now;
    let (from, to) = match param(req.query, "timespan") {
        Some(ts) => match ts.split_once('/').and_then(|(a, b)| Some((parse_time(a)?, parse_time(b)?))) {
            Some((a, b)) if a < b => (a, b),
            _ => return flat(400, "BadRequest", format!("Invalid timespan '{ts}': expected {{start}}/{{end}} in ISO 8601 with start before end.")),
        },
        None => (now - Duration::hours(1), now),
    };
    let step_name = param(req.query, "interval").unwrap_or_else(|| "PT1M".into());
    let Some(step) = interval(&step_name).filter(|d| *d >= Duration::minutes(1)) else {
        return flat(
            400,
            "BadRequest",
            format!("Invalid interval '{step_name}'."),
        );
    };
    if (to - from) / step > 10_000.0 {
        return flat(400, "BadRequest", "The requested timespan and interval would return more than 10,000 points; use a larger interval.");
    }
    let filter = param(req.query, "$filter");
    let split = split_filter(filter.as_deref());
    if let Some((dim, _)) = &split {
        if !dims.iter().any(|d| d.eq_ignore_ascii_case(dim)) {
            return flat(
                400,
                "BadRequest",
                format!("Metric dimension '{dim}' is not valid for this metric."),
            );
        }
    }
    let value: Vec<Value> = wanted
        .iter()
        .map(|name| metric(world, scope, name, &ns, from, to, step, split.as_ref()))
        .collect();
    Reply::json(
        200,
        json!({
            "cost": 0,
            "timespan": format!("{}/{}", stamp(from), stamp(to)),
            "interval": step_name.to_ascii_uppercase(),
            "value": value,
            "namespace": ns,
            "resourceregion": region,
        }),
    )
}

/// One metric's entry: its series, filtered and split as asked, averaged per interval.
#[allow(clippy::too_many_arguments)]
fn metric(
    world: &World,
    scope: &str,
    name: &str,
    ns: &str,
    from: OffsetDateTime,
    to: OffsetDateTime,
    step: Duration,
    split: Option<&(String, String)>,
) -> Value {
    let default;
    let set = match world.metrics.get(scope, name) {
        Some(s) => s.as_slice(),
        None => match DEFAULT_LOAD.iter().find(|(n, _)| *n == name) {
            Some((_, v)) if ns == "microsoft.dbforpostgresql/flexibleservers" => {
                default = vec![flat_series(*v, from, to)];
                default.as_slice()
            }
            _ => &[],
        },
    };
    let mut timeseries = Vec::new();
    match split {
        Some((dim, want)) => {
            let mut values: Vec<&str> = set
                .iter()
                .filter_map(|s| {
                    s.dims
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(dim))
                        .map(|(_, v)| v.as_str())
                })
                .filter(|v| want == "*" || v.eq_ignore_ascii_case(want))
                .collect();
            values.sort_unstable();
            values.dedup();
            for v in values {
                let of: Vec<&Series> = set
                    .iter()
                    .filter(|s| {
                        s.dims
                            .iter()
                            .any(|(k, x)| k.eq_ignore_ascii_case(dim) && x == v)
                    })
                    .collect();
                timeseries.push(json!({
                    "metadatavalues": [{"name": {"value": dim.to_ascii_lowercase(), "localizedValue": dim.to_ascii_lowercase()}, "value": v}],
                    "data": buckets(&of, from, to, step),
                }));
            }
        }
        None => {
            let all: Vec<&Series> = set.iter().collect();
            timeseries.push(json!({"metadatavalues": [], "data": buckets(&all, from, to, step)}));
        }
    }
    json!({
        "id": format!("{scope}/providers/{TYPE}/{name}"),
        "type": TYPE,
        "name": {"value": name, "localizedValue": name},
        "unit": unit(name),
        "timeseries": timeseries,
        "errorCode": "Success",
    })
}

fn unit(name: &str) -> &'static str {
    match name {
        "cpu_percent" | "memory_percent" | "storage_percent" => "Percent",
        "BlobCapacity"
        | "UsedCapacity"
        | "storage_used"
        | "Ingress"
        | "Egress"
        | "network_bytes_egress"
        | "network_bytes_ingress" => "Bytes",
        _ => "Count",
    }
}

/// A constant value sampled each minute over [from, to).
fn flat_series(v: f64, from: OffsetDateTime, to: OffsetDateTime) -> Series {
    let (a, b) = (from.unix_timestamp(), to.unix_timestamp());
    Series {
        dims: BTreeMap::new(),
        points: (a..b).step_by(60).map(|t| (t, v)).collect(),
    }
}

/// One data point per interval from `from`: the average of the points in it (of every series
/// given: the sum across series of their averages, as an unsplit metric adds its dimensions), or
/// a point without `average` when none fell in it.
fn buckets(
    set: &[&Series],
    from: OffsetDateTime,
    to: OffsetDateTime,
    step: Duration,
) -> Vec<Value> {
    let (a, b, w) = (
        from.unix_timestamp(),
        to.unix_timestamp(),
        step.whole_seconds().max(60),
    );
    let mut out = Vec::new();
    let mut t = a;
    while t < b {
        let end = (t + w).min(b);
        let avgs: Vec<f64> = set
            .iter()
            .filter_map(|s| {
                let lo = s.points.partition_point(|p| p.0 < t);
                let hi = s.points.partition_point(|p| p.0 < end);
                let pts = &s.points[lo..hi];
                (!pts.is_empty()).then(|| pts.iter().map(|p| p.1).sum::<f64>() / pts.len() as f64)
            })
            .collect();
        let at = OffsetDateTime::from_unix_timestamp(t)
            .map(stamp)
            .unwrap_or_default();
        out.push(if avgs.is_empty() {
            json!({"timeStamp": at})
        } else {
            json!({"timeStamp": at, "average": avgs.iter().sum::<f64>()})
        });
        t += w;
    }
    out
}

/// One body of `POST /_mock/metrics`: `{"id", "metric", "points": [[minutesAgo, value], ...]}` or
/// `{"id", "metric", "value", "minutes"}` (constant, one point a minute over the last `minutes`),
/// with optional `"dimensions": {"Tier": "Hot"}`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetMetric {
    pub id: String,
    pub metric: String,
    #[serde(default)]
    pub points: Option<Vec<(f64, f64)>>,
    #[serde(default)]
    pub value: Option<f64>,
    #[serde(default)]
    pub minutes: Option<u32>,
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
}

impl SetMetric {
    /// The series it sets, on the clock's `now`.
    pub fn series(&self, now: OffsetDateTime) -> Result<Series, String> {
        let at = |minutes_ago: f64| (now.unix_timestamp() as f64 - minutes_ago * 60.0) as i64;
        let points = match (&self.points, self.value, self.minutes) {
            (Some(p), None, None) => {
                if let Some((m, v)) = p
                    .iter()
                    .find(|(m, v)| !(m.is_finite() && *m >= 0.0 && v.is_finite()))
                {
                    return Err(format!(
                        "points: [{m}, {v}] must be [minutesAgo >= 0, a finite value]"
                    ));
                }
                p.iter().map(|(m, v)| (at(*m), *v)).collect()
            }
            (None, Some(v), Some(n)) if v.is_finite() => {
                (1..=n).rev().map(|m| (at(f64::from(m)), v)).collect()
            }
            _ => return Err("give either points, or value (finite) and minutes".into()),
        };
        if self.id.is_empty() || self.metric.is_empty() {
            return Err("id and metric are required".into());
        }
        Ok(Series {
            dims: self.dimensions.clone(),
            points,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_and_filters_parse_as_the_service_takes_them() {
        assert_eq!(interval("PT15M"), Some(Duration::minutes(15)));
        assert_eq!(interval("pt1h"), Some(Duration::hours(1)));
        assert_eq!(interval("P1D"), Some(Duration::days(1)));
        assert_eq!(interval("FULL"), None);
        assert_eq!(
            split_filter(Some("Tier eq '*'")),
            Some(("Tier".into(), "*".into()))
        );
        assert_eq!(
            param(
                "metricnames=cpu_percent%2Cmemory_percent&x=1",
                "metricnames"
            )
            .as_deref(),
            Some("cpu_percent,memory_percent")
        );
        assert_eq!(
            param("%24filter=Tier+eq+%27%2A%27", "$filter").as_deref(),
            Some("Tier eq '*'")
        );
    }

    #[test]
    fn buckets_average_within_and_sum_across_series() {
        let t0 = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let a = Series {
            dims: BTreeMap::new(),
            points: vec![
                (t0.unix_timestamp(), 10.0),
                (t0.unix_timestamp() + 60, 20.0),
            ],
        };
        let b = Series {
            dims: BTreeMap::new(),
            points: vec![(t0.unix_timestamp() + 30, 5.0)],
        };
        let out = buckets(
            &[&a, &b],
            t0,
            t0 + Duration::minutes(10),
            Duration::minutes(5),
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0]["average"], 20.0, "15 + 5");
        assert!(out[1].get("average").is_none(), "nothing recorded");
    }
}
