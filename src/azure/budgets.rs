//! Microsoft.Consumption/budgets (api-version 2024-08-01, the newest stable Consumption API) at
//! the plane's resource group, over the raw pipeline (no SDK crate): one GET per pass, one PUT to
//! create or correct. The API is synchronous (PUT 201 created / 200 updated). A budget is never
//! deleted by the operator. The typed body here is also what the contract test parses the
//! official examples into.

use std::collections::BTreeMap;

use azure_core::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::error::ArmError;
use super::{Arm, Submitted};
use crate::plan::budget::{
    BudgetTarget, DesiredBudget, ObservedBudget, ObservedNotification, OPERATOR, THRESHOLD_TYPE,
};

pub const API_VERSION: &str = "2024-08-01";

/// A budget as the API answers it (the fields the operator reads; others are ignored).
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct Budget {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(rename = "eTag", default)]
    pub e_tag: Option<String>,
    pub properties: BudgetProperties,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct BudgetProperties {
    pub category: String,
    pub amount: f64,
    pub time_grain: String,
    pub time_period: TimePeriod,
    #[serde(default)]
    pub filter: Option<Value>,
    #[serde(default)]
    pub current_spend: Option<Spend>,
    #[serde(default)]
    pub notifications: BTreeMap<String, Notification>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct TimePeriod {
    pub start_date: String,
    #[serde(default)]
    pub end_date: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct Spend {
    pub amount: f64,
    pub unit: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub enabled: bool,
    pub operator: String,
    pub threshold: f64,
    #[serde(default)]
    pub contact_emails: Vec<String>,
    #[serde(default)]
    pub contact_roles: Vec<String>,
    #[serde(default)]
    pub contact_groups: Vec<String>,
    #[serde(default)]
    pub threshold_type: Option<String>,
    #[serde(default)]
    pub locale: Option<String>,
}

fn budget_url(endpoint: &str, t: &BudgetTarget) -> String {
    format!(
        "{}{}?api-version={API_VERSION}",
        endpoint.trim_end_matches('/'),
        t.id()
    )
}

/// The PUT body of the plane's budget: Cost, Monthly, every notification on the actual cost.
pub fn budget_body(d: &DesiredBudget) -> Value {
    let notifications: serde_json::Map<String, Value> = d
        .notifications
        .iter()
        .map(|n| {
            let mut v = json!({
                "enabled": true,
                "operator": OPERATOR,
                "threshold": n.threshold,
                "thresholdType": THRESHOLD_TYPE,
                "contactEmails": n.contact_emails,
            });
            if !n.contact_groups.is_empty() {
                v["contactGroups"] = json!(n.contact_groups);
            }
            (n.key.clone(), v)
        })
        .collect();
    let mut period = json!({ "startDate": d.start_date });
    if let Some(end) = &d.end_date {
        period["endDate"] = json!(end);
    }
    let mut body = json!({"properties": {
        "category": "Cost",
        "amount": d.amount,
        "timeGrain": "Monthly",
        "timePeriod": period,
        "notifications": notifications,
    }});
    if let Some(e) = &d.e_tag {
        body["eTag"] = json!(e);
    }
    body
}

/// Typed budget → observed budget.
pub fn map_budget(b: Budget) -> ObservedBudget {
    let p = b.properties;
    ObservedBudget {
        id: b.id.unwrap_or_default(),
        name: b.name.unwrap_or_default(),
        e_tag: b.e_tag,
        category: p.category,
        amount: p.amount,
        time_grain: p.time_grain,
        start_date: p.time_period.start_date,
        end_date: p.time_period.end_date,
        filtered: p
            .filter
            .as_ref()
            .is_some_and(|f| f.as_object().is_some_and(|m| !m.is_empty())),
        current_spend: p.current_spend.map(|s| (s.amount, s.unit)),
        notifications: p
            .notifications
            .into_iter()
            .map(|(key, n)| ObservedNotification {
                key,
                enabled: n.enabled,
                operator: n.operator,
                threshold: n.threshold,
                threshold_type: n.threshold_type.unwrap_or_else(|| THRESHOLD_TYPE.into()),
                contact_emails: n.contact_emails,
                contact_groups: n.contact_groups,
                contact_roles: n.contact_roles,
            })
            .collect(),
    }
}

impl Arm {
    /// The plane's budget (None: there is none of that name).
    pub(super) async fn observe_budget(
        &self,
        t: &BudgetTarget,
    ) -> Result<Option<ObservedBudget>, ArmError> {
        let url = budget_url(self.endpoint.as_str(), t);
        let body: Option<Budget> = self.get_json("get budget", &url).await?;
        Ok(body.map(map_budget))
    }

    /// PUT the whole budget (create or replace).
    pub(super) async fn submit_budget(
        &self,
        t: &BudgetTarget,
        d: &DesiredBudget,
    ) -> Result<Submitted, ArmError> {
        let url = budget_url(self.endpoint.as_str(), t);
        self.sync_write("put budget", Method::Put, &url, Some(&budget_body(d)))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::budget::BudgetNotification;

    #[test]
    fn the_body_round_trips_into_the_same_notifications() {
        let d = DesiredBudget {
            amount: 120.5,
            start_date: "2026-03-01T00:00:00Z".into(),
            end_date: None,
            notifications: vec![BudgetNotification {
                key: "Actual_GreaterThanOrEqualTo_80_Percent".into(),
                threshold: 80.0,
                contact_emails: vec!["a@b.example".into()],
                contact_groups: vec![],
            }],
            e_tag: Some("\"7\"".into()),
        };
        let v = budget_body(&d);
        assert_eq!(v["eTag"], "\"7\"");
        assert!(v["properties"]["timePeriod"].get("endDate").is_none());
        let b: Budget = serde_json::from_value(v).expect("typed");
        let o = map_budget(b);
        assert_eq!(o.amount, 120.5);
        assert!(!o.filtered);
        assert_eq!(o.notifications.len(), 1);
        assert_eq!(o.notifications[0].operator, OPERATOR);
        assert_eq!(o.notifications[0].contact_emails, ["a@b.example"]);
    }
}
