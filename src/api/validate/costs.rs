//! Checks of `spec.costs.budget`: the amount, the currency code, the thresholds as Azure accepts
//! them (0 < t <= 1000, at most 5 notifications), the contacts (at least one e-mail or an action
//! group, the alerts' one counting), and the name.

use super::super::costs::{default_budget_name, BudgetSpec};
use super::super::spec::EngramDataPlaneSpec;
use super::{is_resource_id, Errors};

const P: &str = "spec.costs.budget";
/// Azure's most notifications on one budget.
pub const MAX_NOTIFICATIONS: usize = 5;
/// Azure's most e-mail addresses on one notification.
pub const MAX_EMAILS: usize = 50;
/// Azure's largest threshold (percent).
pub const MAX_THRESHOLD: f64 = 1000.0;

fn name_ok(n: &str) -> bool {
    (1..=63).contains(&n.len())
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn email_ok(m: &str) -> bool {
    m.split_once('@').is_some_and(|(user, host)| {
        !user.is_empty()
            && host.contains('.')
            && !host.starts_with('.')
            && !host.ends_with('.')
            && !m.chars().any(|c| c.is_whitespace() || c.is_control())
    }) && m.matches('@').count() == 1
}

pub(super) fn costs(e: &mut Errors, spec: &EngramDataPlaneSpec) {
    let Some(b) = spec.costs.as_ref().and_then(|c| c.budget.as_ref()) else {
        return;
    };
    budget(e, b, spec);
}

fn budget(e: &mut Errors, b: &BudgetSpec, spec: &EngramDataPlaneSpec) {
    e.check(
        b.monthly_amount.is_finite() && b.monthly_amount > 0.0,
        format!("{P}.monthlyAmount"),
        format!("{} must be greater than 0", b.monthly_amount),
    );
    e.check(
        b.currency.len() == 3 && b.currency.chars().all(|c| c.is_ascii_uppercase()),
        format!("{P}.currency"),
        format!(
            "{:?} is not an ISO 4217 currency code (3 capital letters, e.g. USD, EUR)",
            b.currency
        ),
    );
    match &b.name {
        Some(n) => e.check(
            name_ok(n),
            format!("{P}.name"),
            format!("{n:?} must be 1-63 letters, digits, hyphens and underscores"),
        ),
        None => {
            let n = default_budget_name(&spec.postgres.server_name);
            e.check(
                n.len() <= 63,
                format!("{P}.name"),
                format!("the default name {n:?} is longer than 63 characters: declare a name"),
            );
        }
    }
    let emails = b.contact_emails.as_deref().unwrap_or_default();
    for (i, m) in emails.iter().enumerate() {
        e.check(
            email_ok(m),
            format!("{P}.contactEmails[{i}]"),
            format!("{m:?} is not an e-mail address"),
        );
    }
    e.check(
        emails.len() <= MAX_EMAILS,
        format!("{P}.contactEmails"),
        format!(
            "{} addresses: Azure allows at most {MAX_EMAILS}",
            emails.len()
        ),
    );
    if let Some(id) = &b.action_group_id {
        e.check(
            is_resource_id(id, "microsoft.insights/actiongroups"),
            format!("{P}.actionGroupId"),
            format!("{id:?} is not an action group resource id (/subscriptions/<guid>/resourceGroups/<rg>/providers/microsoft.insights/actionGroups/<name>)"),
        );
    }
    let alerts_group = spec
        .alerts
        .as_ref()
        .and_then(|a| a.action_group_id.as_ref());
    e.check(
        !emails.is_empty() || b.action_group_id.is_some() || alerts_group.is_some(),
        format!("{P}.contactEmails"),
        "a budget needs a contact: set contactEmails or actionGroupId (or spec.alerts.actionGroupId, which the budget reuses)",
    );
    if let Some(ts) = &b.thresholds {
        e.check(
            !ts.is_empty() && ts.len() <= MAX_NOTIFICATIONS,
            format!("{P}.thresholds"),
            format!(
                "{} thresholds: Azure allows 1 to {MAX_NOTIFICATIONS} notifications on a budget",
                ts.len()
            ),
        );
        for (i, t) in ts.iter().enumerate() {
            e.check(
                t.is_finite() && *t > 0.0 && *t <= MAX_THRESHOLD,
                format!("{P}.thresholds[{i}]"),
                format!("{t} is out of range: must be 0 < threshold <= {MAX_THRESHOLD} (percent of the budget)"),
            );
        }
        let mut seen: Vec<String> = ts.iter().map(|t| format!("{t}")).collect();
        seen.sort();
        let n = seen.len();
        seen.dedup();
        e.check(
            seen.len() == n,
            format!("{P}.thresholds"),
            "a threshold is listed twice",
        );
    }
}
