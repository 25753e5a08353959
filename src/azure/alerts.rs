//! Microsoft.Insights/metricAlerts (2018-03-01) over the raw pipeline (there is no SDK crate for
//! it here): list the resource group's rules into `ObservedAlert`, PUT a rule as ARM JSON, DELETE
//! one at teardown. Both writes are synchronous (200/201/204), so nothing is left to poll.

use std::collections::BTreeMap;

use azure_core::Method;
use serde_json::{json, Value};

use super::error::ArmError;
use super::{Arm, Submitted};
use crate::api::EffectiveSpec;
use crate::plan::alerts::{self as alplan, AlertRule, AlertTarget};
use crate::plan::{ObservedAlert, ObservedCriterion};

pub const API_VERSION: &str = "2018-03-01";

fn rule_url(endpoint: &str, t: &AlertTarget) -> String {
    format!(
        "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Insights/metricAlerts/{}?api-version={API_VERSION}",
        endpoint.trim_end_matches('/'),
        t.subscription_id,
        t.resource_group,
        t.rule_name
    )
}

fn list_url(endpoint: &str, subscription_id: &str, resource_group: &str) -> String {
    format!(
        "{}/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.Insights/metricAlerts?api-version={API_VERSION}",
        endpoint.trim_end_matches('/'),
    )
}

/// The PUT body of a rule, in the shape of the official single-resource example.
pub fn rule_body(name: &str, r: &AlertRule) -> Value {
    let actions: Vec<Value> = r
        .action_group_id
        .iter()
        .map(|g| json!({"actionGroupId": g}))
        .collect();
    json!({
        "location": alplan::LOCATION,
        "tags": r.tags,
        "properties": {
            "description": r.description,
            "severity": r.severity,
            "enabled": r.enabled,
            "scopes": [r.scope],
            "evaluationFrequency": r.evaluation_frequency,
            "windowSize": r.window_size,
            "criteria": {
                "odata.type": "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                "allOf": [{
                    "criterionType": "StaticThresholdCriterion",
                    "name": name,
                    "metricName": r.metric_name,
                    "dimensions": [],
                    "operator": alplan::OPERATOR,
                    "threshold": r.threshold,
                    "timeAggregation": alplan::AGGREGATION,
                }],
            },
            "autoMitigate": true,
            "actions": actions,
        },
    })
}

/// Map a GET body into the fields the planner compares.
pub fn map_alert(v: &Value) -> ObservedAlert {
    let p = &v["properties"];
    let text = |x: &Value| x.as_str().map(ToOwned::to_owned);
    let criteria = p["criteria"]["allOf"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|c| ObservedCriterion {
                    metric_name: c["metricName"].as_str().unwrap_or_default().to_owned(),
                    operator: text(&c["operator"]),
                    time_aggregation: text(&c["timeAggregation"]),
                    threshold: c["threshold"]
                        .is_number()
                        .then(|| c["threshold"].to_string()),
                })
                .collect()
        })
        .unwrap_or_default();
    let strings = |x: &Value| -> Vec<String> {
        x.as_array()
            .map(|a| a.iter().filter_map(&text).collect())
            .unwrap_or_default()
    };
    ObservedAlert {
        severity: p["severity"].as_i64(),
        enabled: p["enabled"].as_bool(),
        scopes: strings(&p["scopes"]),
        window_size: text(&p["windowSize"]),
        evaluation_frequency: text(&p["evaluationFrequency"]),
        criteria,
        action_group_ids: p["actions"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| text(&x["actionGroupId"])).collect())
            .unwrap_or_default(),
    }
}

impl Arm {
    /// The resource group's metric alerts (one list, following nextLink, shared with the group's
    /// other planes: [`super::alert_lists`]), kept to the rules the spec implies; a rule absent
    /// from the list is missing.
    pub(super) async fn observe_alerts(
        &self,
        eff: &EffectiveSpec,
    ) -> Result<BTreeMap<String, ObservedAlert>, ArmError> {
        let (sub, group) = (&eff.azure.subscription_id, &eff.azure.resource_group);
        let plane = &eff.postgres.server_name;
        let rules = match self.alert_lists.take(sub, group, plane) {
            Some(rules) => rules,
            None => {
                let rules = std::sync::Arc::new(self.list_alerts(sub, group).await?);
                // Kept for the group's other planes only when there are rules of others in it:
                // a plane alone in its group would hold a list nobody else reads.
                let own = format!("{}-", plane.to_ascii_lowercase());
                if rules.keys().any(|name| !name.starts_with(&own)) {
                    self.alert_lists.put(sub, group, plane, rules.clone());
                }
                rules
            }
        };
        Ok(alplan::rule_names(eff)
            .into_iter()
            .filter_map(|n| Some((n.clone(), rules.get(&n.to_ascii_lowercase())?.clone())))
            .collect())
    }

    /// Every metric alert of a resource group, by lower-cased name.
    async fn list_alerts(
        &self,
        subscription_id: &str,
        resource_group: &str,
    ) -> Result<BTreeMap<String, ObservedAlert>, ArmError> {
        let mut out = BTreeMap::new();
        let first = list_url(self.endpoint.as_str(), subscription_id, resource_group);
        self.each_alert(first, |item| {
            let name = item["name"].as_str().unwrap_or_default();
            out.insert(name.to_ascii_lowercase(), map_alert(item));
        })
        .await?;
        Ok(out)
    }

    /// Every rule of a metric alert list from `first` on, following nextLink.
    pub(super) async fn each_alert(
        &self,
        first: String,
        mut each: impl FnMut(&Value) + Send,
    ) -> Result<(), ArmError> {
        let mut next = Some(first);
        while let Some(url) = next.take() {
            let page: Value = self
                .retrying("list metric alerts", || async {
                    let (_, _, body) = self.raw_send(Method::Get, &url, None).await?;
                    serde_json::from_slice(&body)
                        .map_err(|e| ArmError::Decode(format!("metric alerts: {e}")))
                })
                .await?;
            page["value"]
                .as_array()
                .into_iter()
                .flatten()
                .for_each(&mut each);
            next = page["nextLink"].as_str().map(ToOwned::to_owned);
        }
        Ok(())
    }

    /// PUT one rule (create or replace).
    pub(super) async fn submit_alert(
        &self,
        t: &AlertTarget,
        rule: &AlertRule,
    ) -> Result<Submitted, ArmError> {
        let url = rule_url(self.endpoint.as_str(), t);
        let body = rule_body(&t.rule_name, rule);
        let sent = self
            .sync_write("put metric alert", Method::Put, &url, Some(&body))
            .await;
        // The group's shared list no longer shows this rule as it is.
        self.alert_lists
            .forget(&t.subscription_id, &t.resource_group);
        sent
    }

    /// DELETE one rule (synchronous: 200, or 204 when it is already gone).
    pub(super) async fn delete_alert(&self, t: &AlertTarget) -> Result<Submitted, ArmError> {
        let url = rule_url(self.endpoint.as_str(), t);
        let sent = self
            .sync_write("delete metric alert", Method::Delete, &url, None)
            .await;
        // The group's shared list no longer shows this rule as it is.
        self.alert_lists
            .forget(&t.subscription_id, &t.resource_group);
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> AlertRule {
        AlertRule {
            tags: Default::default(),
            description: "d".into(),
            severity: 2,
            enabled: true,
            scope: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg".into(),
            metric_name: "cpu_percent".into(),
            threshold: 60,
            window_size: "PT5M".into(),
            evaluation_frequency: "PT1M".into(),
            action_group_id: Some("/subscriptions/s/resourceGroups/rg/providers/microsoft.insights/actionGroups/g".into()),
        }
    }

    #[test]
    fn body_round_trips_into_an_in_sync_observation() {
        let r = rule();
        let body = rule_body("pg-cpu-warning", &r);
        assert_eq!(body["location"], "global");
        assert_eq!(
            body["properties"]["criteria"]["odata.type"],
            "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria"
        );
        let o = map_alert(&body);
        assert_eq!(o.criteria.len(), 1);
        assert_eq!(o.action_group_ids.len(), 1);
        assert!(
            alplan::diff(&r, &o).is_empty(),
            "{:?}",
            alplan::diff(&r, &o)
        );
    }

    #[test]
    fn server_added_fields_and_spelling_do_not_count_as_drift() {
        let r = rule();
        let mut v = rule_body("pg-cpu-warning", &r);
        v["id"] = json!("/subscriptions/s/resourceGroups/rg/providers/microsoft.insights/metricalerts/pg-cpu-warning");
        v["properties"]["lastUpdatedTime"] = json!("2026-01-01T00:00:00Z");
        v["properties"]["isMigrated"] = json!(false);
        v["properties"]["windowSize"] = json!("Pt5m");
        v["properties"]["evaluationFrequency"] = json!("PT60S");
        v["properties"]["criteria"]["allOf"][0]["threshold"] = json!(60.0);
        v["properties"]["actions"][0]["actionGroupId"] =
            json!("/subscriptions/s/resourcegroups/rg/providers/Microsoft.Insights/actiongroups/g");
        assert!(alplan::diff(&r, &map_alert(&v)).is_empty());
        v["properties"]["criteria"]["allOf"][0]["threshold"] = json!(60.5);
        let d = alplan::diff(&r, &map_alert(&v));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].field, "criteria.threshold");
        assert_eq!(d[0].observed.as_deref(), Some("60.5"));
    }
}
