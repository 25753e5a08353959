//! The mock's Azure Monitor metrics API and Cost Management query (issue 18 §4), and the client's
//! reads of both ([`Arm::metrics`], [`Arm::query_cost`]): the official answers' shapes, series set
//! through the control API, the default low load, the Tier split, and the service's refusals.

use crate::support;

use engram_operator::azure::cost_query::CostQuery;
use engram_operator::azure::metrics::MetricsQuery;
use engram_operator::mock_arm::MockArm;
use serde_json::{json, Value};
use support::*;
use time::{Duration, OffsetDateTime};

const RG: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-m";

fn server() -> String {
    format!("{RG}/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-m")
}
fn account() -> String {
    format!("{RG}/providers/Microsoft.Storage/storageAccounts/stm")
}

async fn seeded() -> MockArm {
    let m = bare_mock().await;
    m.seed(
        &server(),
        json!({"location": "East US 2", "properties": {}}),
    )
    .expect("server");
    m.seed(
        &account(),
        json!({"location": "eastus2", "kind": "StorageV2"}),
    )
    .expect("account");
    m
}

fn now(m: &MockArm) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(m.now_unix()).expect("clock")
}

async fn get(m: &MockArm, path_and_query: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{}{path_and_query}", m.base_url()))
        .bearer_auth(m.token())
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn q(resource: &str, names: &[&str], m: &MockArm, minutes: i64, interval: &str) -> MetricsQuery {
    MetricsQuery {
        resource_id: resource.into(),
        names: names.iter().map(|n| n.to_string()).collect(),
        from: now(m) - Duration::minutes(minutes),
        to: now(m),
        interval: interval.into(),
        split: None,
    }
}

#[tokio::test]
async fn an_unset_server_reads_a_flat_low_load_in_the_official_shape() {
    let m = seeded().await;
    let series = arm(&m)
        .metrics(&q(
            &server(),
            &["cpu_percent", "memory_percent", "active_connections"],
            &m,
            60,
            "PT15M",
        ))
        .await
        .expect("metrics");
    let by: Vec<(&str, usize, f64)> = series
        .iter()
        .map(|s| (s.name.as_str(), s.points.len(), s.points[0].1))
        .collect();
    assert_eq!(
        by,
        [
            ("cpu_percent", 4, 12.0),
            ("memory_percent", 4, 30.0),
            ("active_connections", 4, 5.0)
        ]
    );
    let ts = format!("{}/{}", fmt(now(&m) - Duration::hours(1)), fmt(now(&m)));
    let (status, body) = get(
        &m,
        &format!("{}/providers/Microsoft.Insights/metrics?api-version=2023-10-01&metricnames=cpu_percent&timespan={ts}&interval=PT30M&aggregation=average", server()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["interval"], "PT30M");
    assert_eq!(
        body["namespace"],
        "microsoft.dbforpostgresql/flexibleservers"
    );
    assert_eq!(body["resourceregion"], "eastus2");
    let v = &body["value"][0];
    assert_eq!(v["type"], "Microsoft.Insights/metrics");
    assert_eq!(v["name"]["value"], "cpu_percent");
    assert_eq!(v["unit"], "Percent");
    assert_eq!(v["errorCode"], "Success");
    assert_eq!(v["timeseries"][0]["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        m.journal().last().map(|e| e.method.clone()).as_deref(),
        Some("GET")
    );
}

fn fmt(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("rfc3339")
}

#[tokio::test]
async fn a_series_set_through_the_control_api_is_averaged_per_interval() {
    let m = seeded().await;
    // 90 % for the last 20 minutes, 10 % for the 40 before.
    let mut points: Vec<Value> = (1..=20).map(|a| json!([a, 90.0])).collect();
    points.extend((21..=60).map(|a| json!([a, 10.0])));
    m.set_metrics(json!({"id": server(), "metric": "cpu_percent", "points": points}))
        .expect("set");
    let s = arm(&m)
        .metrics(&q(&server(), &["cpu_percent"], &m, 60, "PT20M"))
        .await
        .expect("metrics");
    let avgs: Vec<f64> = s[0].points.iter().map(|p| p.1).collect();
    assert_eq!(avgs, [10.0, 10.0, 90.0]);
    // A bad body is refused, naming the rule.
    let e = m
        .set_metrics(json!({"id": server(), "metric": "cpu_percent", "value": 1.0}))
        .unwrap_err();
    assert!(e.contains("minutes"), "{e}");
}

#[tokio::test]
async fn blob_capacity_splits_by_tier() {
    let m = seeded().await;
    let blob = format!("{}/blobServices/default", account());
    for (tier, gib) in [("Hot", 3.0), ("Cool", 5.0), ("Archive", 2.0)] {
        m.set_metrics(json!({"id": blob, "metric": "BlobCapacity", "value": gib, "minutes": 180, "dimensions": {"Tier": tier}}))
            .expect("set");
    }
    let mut query = q(&blob, &["BlobCapacity"], &m, 120, "PT1H");
    query.split = Some("Tier".into());
    let mut s = arm(&m).metrics(&query).await.expect("metrics");
    s.sort_by(|a, b| a.dimension.cmp(&b.dimension));
    let got: Vec<(&str, f64)> = s
        .iter()
        .map(|x| (x.dimension.as_str(), x.points[1].1))
        .collect();
    assert_eq!(got, [("Archive", 2.0), ("Cool", 5.0), ("Hot", 3.0)]);
    // Unsplit, the tiers add up.
    let s = arm(&m)
        .metrics(&q(&blob, &["BlobCapacity"], &m, 120, "PT1H"))
        .await
        .expect("metrics");
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].points[0].1, 10.0);
}

#[tokio::test]
async fn the_service_refuses_an_unknown_metric_an_unknown_resource_and_a_wrong_version() {
    let m = seeded().await;
    let (status, body) = get(
        &m,
        &format!(
            "{}/providers/Microsoft.Insights/metrics?api-version=2023-10-01&metricnames=cpu_percnt",
            server()
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["code"], "BadRequest",
        "the service's flat error: {body}"
    );
    let msg = body["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("metric: cpu_percnt") && msg.contains("Valid metrics: cpu_percent"),
        "{msg}"
    );
    let e = arm(&m)
        .metrics(&q(&server(), &["cpu_percnt"], &m, 60, "PT15M"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("cpu_percnt"), "{e}");

    let gone = format!("{RG}/providers/Microsoft.DBforPostgreSQL/flexibleServers/nope");
    let (status, _) = get(
        &m,
        &format!("{gone}/providers/Microsoft.Insights/metrics?api-version=2023-10-01"),
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = get(
        &m,
        &format!(
            "{}/providers/Microsoft.Insights/metrics?api-version=2019-01-01",
            server()
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "NoRegisteredProviderFound");
}

#[tokio::test]
async fn the_cost_query_sums_only_the_asked_resources_within_the_period() {
    let m = seeded().await;
    let today = now(&m).date();
    let other = format!("{RG}/providers/Microsoft.Storage/storageAccounts/other");
    let day = |d: i64| (today - Duration::days(d)).to_string();
    m.set_costs(json!([
        {"resourceId": account(), "date": day(1), "amount": 1.25, "currency": "USD"},
        {"resourceId": account(), "date": day(2), "amount": 0.75, "currency": "USD"},
        {"resourceId": account(), "date": day(30), "amount": 100.0, "currency": "USD"},
        {"resourceId": other, "date": day(1), "amount": 9.0, "currency": "USD"},
    ]))
    .expect("costs");
    let query = CostQuery {
        scope: RG.into(),
        resource_ids: vec![account()],
        from: now(&m) - Duration::days(7),
        to: now(&m),
    };
    let total = arm(&m).query_cost(&query).await.expect("cost");
    assert_eq!((total.amount, total.currency.as_str()), (2.0, "USD"));
    let e = m
        .set_costs(json!({"resourceId": account(), "date": "yesterday", "amount": 1.0}))
        .unwrap_err();
    assert!(e.contains("YYYY-MM-DD"), "{e}");
    // Nothing set for a resource: zero.
    let none = CostQuery {
        resource_ids: vec![server()],
        ..query
    };
    assert_eq!(arm(&m).query_cost(&none).await.expect("cost").amount, 0.0);
}
