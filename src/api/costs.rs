//! `spec.costs`: what the plane may cost. Today one part, `budget`: a monthly
//! `Microsoft.Consumption/budgets` budget at the plane's resource group, with e-mail and/or
//! action-group notifications at percentages of the actual cost (the seed's 50 / 80 / 100 % by
//! default, §9 "Cost alerts at 50 %, 80 %, 100 % of budget"). Validation is in
//! `validate/costs.rs`; the planner is `plan/budget.rs`; docs/costs.md says what is reconciled.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::profiles::DEFAULT_BUDGET_THRESHOLDS;

/// Cost controls of the data plane.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CostsSpec {
    /// A monthly cost budget on the plane's resource group (Microsoft.Consumption/budgets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetSpec>,
}

/// A monthly budget with notifications at percentages of the actual cost.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BudgetSpec {
    /// The budget's name (1-63 letters, digits, hyphens and underscores). Default
    /// `engram-<postgres.serverName>`, so that several planes can share a resource group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The monthly amount (> 0), in the billing currency of the subscription.
    pub monthly_amount: f64,
    /// ISO 4217 code (3 capital letters) the amount is meant in. A Consumption budget has no
    /// currency of its own: Azure reads the amount in the subscription's billing currency. The
    /// operator reports a note when the billing currency Azure shows differs from this one.
    pub currency: String,
    /// Who is told by e-mail (at most 50 addresses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_emails: Option<Vec<String>>,
    /// Azure Monitor action group notified (a contact group of the budget). Default: the alerts'
    /// `spec.alerts.actionGroupId`. At least one e-mail or an action group is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_group_id: Option<String>,
    /// Percentages of the actual monthly cost that notify (each 0 < t <= 1000, at most 5, as
    /// Azure allows). Default the seed's 50, 80 and 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Vec<f64>>,
}

/// The budget with every default resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct EffectiveBudget {
    pub name: String,
    pub monthly_amount: f64,
    pub currency: String,
    pub contact_emails: Vec<String>,
    /// The budget's own action group, else the alerts'.
    pub action_group_id: Option<String>,
    pub thresholds: Vec<f64>,
}

/// The default budget name of a plane.
pub fn default_budget_name(server_name: &str) -> String {
    format!("engram-{server_name}")
}

/// Resolve `spec.costs.budget` (None when not declared).
pub fn resolve_budget(
    costs: Option<&CostsSpec>,
    server_name: &str,
    alerts_action_group: Option<&String>,
) -> Option<EffectiveBudget> {
    let b = costs?.budget.as_ref()?;
    Some(EffectiveBudget {
        name: b
            .name
            .clone()
            .unwrap_or_else(|| default_budget_name(server_name)),
        monthly_amount: b.monthly_amount,
        currency: b.currency.clone(),
        contact_emails: b.contact_emails.clone().unwrap_or_default(),
        action_group_id: b
            .action_group_id
            .clone()
            .or_else(|| alerts_action_group.cloned()),
        thresholds: b
            .thresholds
            .clone()
            .unwrap_or_else(|| DEFAULT_BUDGET_THRESHOLDS.to_vec()),
    })
}

impl EffectiveBudget {
    /// Written back as a fully explicit `spec.costs` (what `render` prints).
    pub fn to_spec(&self) -> CostsSpec {
        CostsSpec {
            budget: Some(BudgetSpec {
                name: Some(self.name.clone()),
                monthly_amount: self.monthly_amount,
                currency: self.currency.clone(),
                contact_emails: (!self.contact_emails.is_empty())
                    .then(|| self.contact_emails.clone()),
                action_group_id: self.action_group_id.clone(),
                thresholds: Some(self.thresholds.clone()),
            }),
        }
    }
}
