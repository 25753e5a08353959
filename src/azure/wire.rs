//! Typed wire bodies for the APIs no SDK crate here covers: Key Vault keys (data plane), Azure
//! Monitor metric alerts (`2018-03-01`) and diagnostic settings (`2021-05-01-preview`), and Azure
//! Resource Graph query answers (`2022-10-01`). Fields the service always sends are required, so a
//! body missing one fails to parse; everything else is optional and unknown fields are ignored, as
//! the services add fields over time. The contract test parses every official example's answer
//! from the mock into these.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Key attributes (times are Unix seconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyAttributes {
    pub enabled: bool,
    pub created: i64,
    pub updated: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_level: Option<String>,
}

/// The public part of a key (JSON Web Key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonWebKey {
    /// `https://{vault}.vault.azure.net/keys/{name}/{version}`.
    pub kid: String,
    pub kty: String,
    #[serde(default)]
    pub key_ops: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

/// `GET /keys/{name}[/{version}]`, `POST /keys/{name}/create` and `/rotate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyBundle {
    pub key: JsonWebKey,
    pub attributes: KeyAttributes,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// One entry of `GET /keys/{name}/versions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyItem {
    pub kid: String,
    pub attributes: KeyAttributes,
}

/// `GET /keys/{name}/versions`: one page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyItemList {
    pub value: Vec<KeyItem>,
    #[serde(default)]
    pub next_link: Option<String>,
}

/// One static-threshold criterion of a single-resource metric alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricCriterion {
    pub criterion_type: String,
    pub name: String,
    pub metric_name: String,
    pub operator: String,
    pub threshold: f64,
    pub time_aggregation: String,
    #[serde(default)]
    pub dimensions: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricCriteria {
    #[serde(rename = "odata.type")]
    pub odata_type: String,
    pub all_of: Vec<MetricCriterion>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricAlertAction {
    pub action_group_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricAlertProperties {
    #[serde(default)]
    pub description: Option<String>,
    pub severity: i64,
    pub enabled: bool,
    pub scopes: Vec<String>,
    pub evaluation_frequency: String,
    pub window_size: String,
    pub criteria: MetricCriteria,
    #[serde(default)]
    pub auto_mitigate: Option<bool>,
    #[serde(default)]
    pub actions: Vec<MetricAlertAction>,
}

/// `Microsoft.Insights/metricAlerts/{rule}` as GET and PUT answer it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricAlertResource {
    pub id: String,
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub location: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub properties: MetricAlertProperties,
}

/// The resource group's list of metric alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricAlertList {
    pub value: Vec<MetricAlertResource>,
    #[serde(default)]
    pub next_link: Option<String>,
}

/// One `logs` entry of a diagnostic setting: a category or a category group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiagnosticLogSettings {
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub category_group: Option<String>,
    pub enabled: bool,
}

/// One `metrics` entry of a diagnostic setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiagnosticMetricSettings {
    #[serde(default)]
    pub category: Option<String>,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiagnosticSettingsProperties {
    #[serde(default)]
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub storage_account_id: Option<String>,
    #[serde(default)]
    pub event_hub_authorization_rule_id: Option<String>,
    #[serde(default)]
    pub marketplace_partner_id: Option<String>,
    #[serde(default)]
    pub logs: Vec<DiagnosticLogSettings>,
    #[serde(default)]
    pub metrics: Vec<DiagnosticMetricSettings>,
}

/// `{resourceId}/providers/Microsoft.Insights/diagnosticSettings/{name}` (2021-05-01-preview).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosticSettingsResource {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub properties: DiagnosticSettingsProperties,
}

/// The settings of one resource (the API returns them in one answer, without nextLink).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosticSettingsList {
    pub value: Vec<DiagnosticSettingsResource>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_bundle_without_its_kid_or_attributes_does_not_parse() {
        let ok = r#"{"key":{"kid":"https://v.vault.azure.net/keys/k/1","kty":"RSA"},"attributes":{"enabled":true,"created":1,"updated":2,"exp":9}}"#;
        let b: KeyBundle = serde_json::from_str(ok).unwrap();
        assert_eq!(b.attributes.exp, Some(9));
        assert!(serde_json::from_str::<KeyBundle>(
            r#"{"key":{"kty":"RSA"},"attributes":{"enabled":true,"created":1,"updated":2}}"#
        )
        .is_err());
        assert!(serde_json::from_str::<KeyBundle>(r#"{"key":{"kid":"x","kty":"RSA"}}"#).is_err());
    }

    #[test]
    fn a_metric_alert_needs_its_criteria_and_threshold() {
        let mut v = serde_json::json!({"id": "/x", "type": "Microsoft.Insights/metricAlerts", "location": "global",
            "properties": {"severity": 2, "enabled": true, "scopes": ["/s"], "evaluationFrequency": "PT1M", "windowSize": "PT5M",
            "criteria": {"odata.type": "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria", "allOf": [
                {"criterionType": "StaticThresholdCriterion", "name": "c", "metricName": "cpu_percent", "operator": "GreaterThan", "threshold": 60, "timeAggregation": "Average"}]}}});
        let a: MetricAlertResource = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(a.properties.criteria.all_of[0].threshold, 60.0);
        v["properties"]["criteria"]["allOf"][0]
            .as_object_mut()
            .unwrap()
            .remove("threshold");
        assert!(serde_json::from_value::<MetricAlertResource>(v).is_err());
    }
}

/// The answer to a Resource Graph query (`POST /providers/Microsoft.ResourceGraph/resources`,
/// `2022-10-01`), with `resultFormat: objectArray`: `data` is the rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphQueryResponse {
    pub total_records: i64,
    pub count: i64,
    /// `"true"` or `"false"` (a string in the spec).
    pub result_truncated: String,
    /// Present when more rows follow: send it back with the same query and subscriptions.
    #[serde(
        rename = "$skipToken",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub skip_token: Option<String>,
    pub data: Vec<serde_json::Value>,
    #[serde(default)]
    pub facets: Vec<serde_json::Value>,
}
