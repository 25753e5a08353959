//! Azure Monitor platform metrics through ARM: `GET {resourceId}/providers/Microsoft.Insights/
//! metrics` (api-version 2023-10-01) with the metric names, the timespan, the interval, average
//! aggregation and, to split by a dimension, `$filter={dim} eq '*'`. One GET, paced and counted
//! like every other ARM read of the client. A metric the service could not serve (its `errorCode`
//! is not `Success`) is an error naming it.

use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::error::ArmError;
use super::Arm;

pub const METRICS_API_VERSION: &str = "2023-10-01";

/// What to read.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsQuery {
    /// The resource's ARM id (a server, or `{account}/blobServices/default`).
    pub resource_id: String,
    /// Metric names, as the resource type publishes them (`cpu_percent`, `BlobCapacity`).
    pub names: Vec<String>,
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    /// ISO 8601 duration: `PT1M`, `PT5M`, `PT15M`, `PT1H`, `P1D`.
    pub interval: String,
    /// A dimension to split by (`Tier`), one series per value.
    pub split: Option<String>,
}

/// One series of averages.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSeries {
    pub name: String,
    /// The split dimension's value ("" when unsplit).
    pub dimension: String,
    /// (interval start, average), oldest first; intervals without data are left out.
    pub points: Vec<(OffsetDateTime, f64)>,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    value: Vec<Metric>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metric {
    name: Name,
    #[serde(default)]
    timeseries: Vec<Timeseries>,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    error_message: Option<String>,
}

#[derive(Deserialize)]
struct Name {
    value: String,
}

#[derive(Deserialize)]
struct Timeseries {
    #[serde(default)]
    metadatavalues: Vec<Meta>,
    #[serde(default)]
    data: Vec<Data>,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(default)]
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    time_stamp: String,
    #[serde(default)]
    average: Option<f64>,
}

fn stamp(t: OffsetDateTime) -> Result<String, ArmError> {
    t.format(&Rfc3339)
        .map_err(|e| ArmError::Decode(format!("metrics timespan: {e}")))
}

/// The request URL of `q` under `endpoint`.
pub fn url(endpoint: &str, q: &MetricsQuery) -> Result<String, ArmError> {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("api-version", METRICS_API_VERSION)
        .append_pair("metricnames", &q.names.join(","))
        .append_pair("timespan", &format!("{}/{}", stamp(q.from)?, stamp(q.to)?))
        .append_pair("interval", &q.interval)
        .append_pair("aggregation", "average");
    if let Some(dim) = &q.split {
        query.append_pair("$filter", &format!("{dim} eq '*'"));
    }
    Ok(format!(
        "{}/{}/providers/Microsoft.Insights/metrics?{}",
        endpoint.trim_end_matches('/'),
        q.resource_id.trim_matches('/'),
        query.finish()
    ))
}

/// The series of an answer's body.
pub fn parse(body: &[u8]) -> Result<Vec<MetricSeries>, ArmError> {
    let answer: Answer =
        serde_json::from_slice(body).map_err(|e| ArmError::Decode(format!("metrics: {e}")))?;
    let mut out = Vec::new();
    for m in answer.value {
        if let Some(code) = m.error_code.as_deref().filter(|c| *c != "Success") {
            return Err(ArmError::Decode(format!(
                "metric {}: {code}: {}",
                m.name.value,
                m.error_message.unwrap_or_default()
            )));
        }
        for ts in m.timeseries {
            let mut points = Vec::new();
            for d in ts.data {
                let Some(avg) = d.average else { continue };
                let at = OffsetDateTime::parse(&d.time_stamp, &Rfc3339).map_err(|e| {
                    ArmError::Decode(format!("metric {}: timeStamp: {e}", m.name.value))
                })?;
                points.push((at, avg));
            }
            out.push(MetricSeries {
                name: m.name.value.clone(),
                dimension: ts
                    .metadatavalues
                    .first()
                    .map(|v| v.value.clone())
                    .unwrap_or_default(),
                points,
            });
        }
    }
    Ok(out)
}

impl Arm {
    /// Read `q`'s metrics (one ARM read).
    pub async fn metrics(&self, q: &MetricsQuery) -> Result<Vec<MetricSeries>, ArmError> {
        let url = url(self.endpoint.as_str(), q)?;
        let (_, _, body) = self
            .retrying("get metrics", || async { self.raw_get(&url).await })
            .await?;
        parse(&body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The official `GetMetric` example's answer (Azure/azure-rest-api-specs,
    /// specification/monitor/resource-manager/Microsoft.Insights/stable/2023-10-01/examples/
    /// GetMetric.json), cut to one metric and two tiers.
    const OFFICIAL: &str = r#"{"cost":598,"timespan":"2021-04-20T09:00:00Z/2021-04-20T14:00:00Z","interval":"PT1H","value":[{"id":"/subscriptions/1f3fa6d2-851c-4a91-9087-1a050f3a9c38/resourceGroups/todking/providers/Microsoft.Storage/storageAccounts/tkfileserv/blobServices/default/providers/Microsoft.Insights/metrics/BlobCapacity","type":"Microsoft.Insights/metrics","name":{"value":"BlobCapacity","localizedValue":"Blob Capacity"},"unit":"Bytes","timeseries":[{"metadatavalues":[{"name":{"value":"tier","localizedValue":"tier"},"value":"Standard"}],"data":[{"timeStamp":"2021-04-20T09:00:00Z","average":621492.0,"minimum":621492.0,"maximum":621492.0},{"timeStamp":"2021-04-20T10:00:00Z","average":621492.0}]},{"metadatavalues":[{"name":{"value":"tier","localizedValue":"tier"},"value":"Hot"}],"data":[{"timeStamp":"2021-04-20T09:00:00Z","average":4733.0},{"timeStamp":"2021-04-20T10:00:00Z"}]}],"errorCode":"Success"}],"namespace":"microsoft.storage/storageaccounts/blobservices","resourceregion":"westus"}"#;

    #[test]
    fn the_official_answer_parses_into_one_series_per_tier() {
        let s = parse(OFFICIAL.as_bytes()).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].name.as_str(), s[0].dimension.as_str()),
            ("BlobCapacity", "Standard")
        );
        assert_eq!(s[0].points.len(), 2);
        assert_eq!(s[1].dimension, "Hot");
        assert_eq!(
            s[1].points.len(),
            1,
            "an interval without an average is left out"
        );
        assert_eq!(s[1].points[0].1, 4733.0);
    }

    #[test]
    fn a_metric_the_service_could_not_serve_is_an_error_naming_it() {
        let body = br#"{"value":[{"name":{"value":"MongoRequestsCount"},"timeseries":[],"errorCode":"InvalidSamplingType","errorMessage":"Sampling type is not found."}]}"#;
        let e = parse(body).unwrap_err().to_string();
        assert!(
            e.contains("MongoRequestsCount") && e.contains("InvalidSamplingType"),
            "{e}"
        );
    }

    #[test]
    fn the_url_carries_names_timespan_interval_average_and_the_split() {
        let t = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let q = MetricsQuery {
            resource_id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a/blobServices/default".into(),
            names: vec!["BlobCapacity".into()],
            from: t,
            to: t + time::Duration::hours(1),
            interval: "PT1H".into(),
            split: Some("Tier".into()),
        };
        let u = url("https://management.azure.com/", &q).unwrap();
        assert!(u.starts_with("https://management.azure.com/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a/blobServices/default/providers/Microsoft.Insights/metrics?api-version=2023-10-01&metricnames=BlobCapacity&timespan=2023-11-14T22%3A13%3A20Z%2F2023-11-14T23%3A13%3A20Z&interval=PT1H&aggregation=average&%24filter=Tier+eq+%27*%27"), "{u}");
    }
}
