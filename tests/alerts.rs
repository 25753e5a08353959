//! Metric alerts against the mock ARM: created once the server exists, zero writes in sync,
//! an out-of-band threshold edit corrected with one PUT, observe mode writes nothing.

use crate::support;

use engram_operator::api::spec::Mode;
use serde_json::json;
use support::*;

const ALERT_PATH: &str = "/providers/Microsoft.Insights/metricAlerts/";

fn rule_id(eff: &engram_operator::api::EffectiveSpec, rule: &str) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Insights/metricAlerts/{}-{rule}",
        eff.azure.subscription_id, eff.azure.resource_group, eff.postgres.server_name
    )
}

/// The stored rule (an empty merge patch changes nothing).
fn stored(m: &engram_operator::mock_arm::MockArm, id: &str) -> serde_json::Value {
    m.edit(id, json!({})).expect("rule exists")
}

fn alert_puts(w: &[(String, String)]) -> Vec<String> {
    w.iter()
        .filter(|(m, p)| m == "PUT" && p.contains(ALERT_PATH))
        .map(|(_, p)| p.rsplit('/').next().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn prod_converges_with_its_eight_rules_then_stays_in_sync() {
    let eff = prod();
    let m = mock().await;
    let arm = arm(&m);
    let out = converge(&m, &arm, &eff, Default::default()).await;
    assert!(out.ready(), "{:#?}", out.status);
    let mut created = alert_puts(&writes_since(&m, 0));
    created.sort();
    let server = &eff.postgres.server_name;
    let mut want: Vec<String> = ["connections", "cpu", "memory", "storage"]
        .iter()
        .flat_map(|k| ["critical", "warning"].map(|s| format!("{server}-{k}-{s}")))
        .collect();
    want.sort();
    assert_eq!(created, want);

    // The rules hold what the spec says (seed defaults; connections from max_connections 859).
    let body = stored(&m, &rule_id(&eff, "connections-warning"));
    let p = &body["properties"];
    assert_eq!(p["severity"], 2);
    assert_eq!(p["scopes"][0], server_id(&eff));
    assert_eq!(
        p["criteria"]["allOf"][0]["metricName"],
        "active_connections"
    );
    assert_eq!(p["criteria"]["allOf"][0]["threshold"], 601);
    assert_eq!(
        p["actions"][0]["actionGroupId"].as_str(),
        eff.alerts.action_group_id.as_deref()
    );
    let body = stored(&m, &rule_id(&eff, "cpu-critical"));
    assert_eq!(body["properties"]["severity"], 0);
    assert_eq!(body["properties"]["criteria"]["allOf"][0]["threshold"], 80);

    let before = m.journal().len();
    let again = pass(&arm, &eff, &out.status).await;
    assert_eq!(writes_since(&m, before), vec![], "in sync: zero writes");
    assert!(again.ready());
    // All eight rules are read with one list request per pass, not one GET each.
    let alert_reads: Vec<String> = m
        .journal()
        .into_iter()
        .skip(before)
        .filter(|e| e.path.to_ascii_lowercase().contains("metricalerts"))
        .map(|e| format!("{} {}", e.method, e.path))
        .collect();
    assert_eq!(alert_reads.len(), 1, "{alert_reads:?}");
    assert!(alert_reads[0]
        .to_ascii_lowercase()
        .ends_with("/providers/microsoft.insights/metricalerts"));
}

#[tokio::test]
async fn threshold_edited_out_of_band_is_one_put_and_observe_mode_only_reports_it() {
    let mut eff = prod();
    let m = mock().await;
    let arm = arm(&m);
    let out = converge(&m, &arm, &eff, Default::default()).await;
    assert!(out.ready(), "{:#?}", out.status);
    let id = rule_id(&eff, "memory-warning");
    let drifted = json!({"properties": {"criteria": {
        "odata.type": "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
        "allOf": [{"criterionType": "StaticThresholdCriterion", "name": "x",
                   "metricName": "memory_percent", "dimensions": [], "operator": "GreaterThan",
                   "threshold": 95.5, "timeAggregation": "Average"}]}}});

    // Observe mode: the drift is reported, nothing is written.
    eff.mode = Mode::Observe;
    m.edit(&id, drifted).expect("edit");
    let before = m.journal().len();
    let seen = pass(&arm, &eff, &out.status).await;
    assert_eq!(writes_since(&m, before), vec![]);
    let label = format!("alert/{}-memory-warning", eff.postgres.server_name);
    let d: Vec<_> = seen
        .status
        .drift
        .iter()
        .filter(|d| d.resource == label)
        .collect();
    assert_eq!(d.len(), 1, "{:?}", seen.status.drift);
    assert_eq!(d[0].field, "criteria.threshold");
    assert!(!d[0].corrected);
    assert!(!seen.ready());

    // Enforce: exactly one PUT of that rule, then back in sync.
    eff.mode = Mode::Enforce;
    let before = m.journal().len();
    let fixed = pass(&arm, &eff, &seen.status).await;
    let w = writes_since(&m, before);
    assert_eq!(
        alert_puts(&w),
        vec![format!("{}-memory-warning", eff.postgres.server_name)]
    );
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(fixed
        .status
        .drift
        .iter()
        .any(|d| d.resource == label && d.corrected));
    let body = stored(&m, &id);
    assert_eq!(body["properties"]["criteria"]["allOf"][0]["threshold"], 70);
    let before = m.journal().len();
    let out = converge(&m, &arm, &eff, fixed.status).await;
    assert!(out.ready(), "{:#?}", out.status);
    assert_eq!(writes_since(&m, before), vec![], "back in sync");
}

#[tokio::test]
async fn no_rule_is_read_or_written_before_the_server_exists() {
    let mut eff = prod();
    eff.mode = Mode::Observe;
    let m = mock().await;
    let arm = arm(&m);
    let out = pass(&arm, &eff, &Default::default()).await;
    assert!(!out.ready());
    assert!(
        m.journal().iter().all(|e| !e.path.contains(ALERT_PATH)),
        "no metric alert request while the server is missing"
    );
}
