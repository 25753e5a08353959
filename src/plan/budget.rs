//! Planner for the plane's cost budget (`spec.costs.budget`): one `Microsoft.Consumption/budgets`
//! resource at the plane's resource group, category Cost, time grain Monthly, with one
//! notification per threshold on the actual cost.
//!
//! - Created with one PUT whose period starts on the first day of the current month (UTC), as
//!   Azure requires a budget to start on the first of a month, not in the past.
//! - Drift in the amount, the category or grain, the notifications (a threshold, a contact, one
//!   switched off, one added by hand) or a filter added to it is corrected with one PUT of the
//!   whole budget, carrying the observed `eTag` and start date. Nothing when in sync.
//! - A budget carries no tags: its name is how the operator knows its own. It is never deleted,
//!   not even by teardown (a budget costs nothing and its history is the customer's).
//! - The amount is in the subscription's billing currency (a budget has no currency field):
//!   when Azure shows spend in another currency than the declared one, a note says so.

use time::OffsetDateTime;

use super::{Action, FieldChange, Observed, Op, Plan, Verb};
use crate::api::costs::EffectiveBudget;
use crate::api::status::BudgetObserved;
use crate::api::EffectiveSpec;

/// Note marker: the billing currency differs from `spec.costs.budget.currency`.
pub const CURRENCY_MISMATCH: &str = "BudgetCurrencyMismatch";
/// The notification operator and threshold type the operator writes.
pub const OPERATOR: &str = "GreaterThanOrEqualTo";
pub const THRESHOLD_TYPE: &str = "Actual";

/// Where a budget lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BudgetTarget {
    pub subscription_id: String,
    pub resource_group: String,
    pub name: String,
}

impl BudgetTarget {
    pub fn id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Consumption/budgets/{}",
            self.subscription_id, self.resource_group, self.name
        )
    }
}

/// One notification of a budget (enabled, [`OPERATOR`], [`THRESHOLD_TYPE`]).
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetNotification {
    pub key: String,
    pub threshold: f64,
    pub contact_emails: Vec<String>,
    pub contact_groups: Vec<String>,
}

/// The whole budget, for one PUT.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredBudget {
    pub amount: f64,
    /// `timePeriod.startDate` (RFC 3339, the first of a month).
    pub start_date: String,
    /// The observed `timePeriod.endDate`, kept on an update.
    pub end_date: Option<String>,
    pub notifications: Vec<BudgetNotification>,
    /// The observed `eTag` on an update (optimistic concurrency), None on create.
    pub e_tag: Option<String>,
}

// Amounts and thresholds are validated finite (`validate/costs.rs`), so equality is total.
impl Eq for BudgetNotification {}
impl Eq for DesiredBudget {}

/// One observed notification (only what the planner compares).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedNotification {
    pub key: String,
    pub enabled: bool,
    pub operator: String,
    pub threshold: f64,
    pub threshold_type: String,
    pub contact_emails: Vec<String>,
    pub contact_groups: Vec<String>,
    pub contact_roles: Vec<String>,
}

/// An observed budget.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedBudget {
    pub id: String,
    pub name: String,
    pub e_tag: Option<String>,
    pub category: String,
    pub amount: f64,
    pub time_grain: String,
    pub start_date: String,
    pub end_date: Option<String>,
    /// Whether a `filter` narrows the budget.
    pub filtered: bool,
    /// `currentSpend`: (amount, unit) as Azure computes it.
    pub current_spend: Option<(f64, String)>,
    pub notifications: Vec<ObservedNotification>,
}

impl Eq for ObservedNotification {}
impl Eq for ObservedBudget {}

/// The plane's budget target.
pub fn target(eff: &EffectiveSpec, b: &EffectiveBudget) -> BudgetTarget {
    BudgetTarget {
        subscription_id: eff.azure.subscription_id.clone(),
        resource_group: eff.azure.resource_group.clone(),
        name: b.name.clone(),
    }
}

/// The resource label in status, drift and plan output.
pub fn resource_label(name: &str) -> String {
    format!("budget/{name}")
}

/// `Actual_GreaterThanOrEqualTo_80_Percent` (a decimal point becomes `_`).
pub fn notification_key(threshold: f64) -> String {
    let t = format!("{threshold}").replace('.', "_");
    format!("{THRESHOLD_TYPE}_{OPERATOR}_{t}_Percent")
}

/// The first day of `now`'s month, 00:00 UTC, as RFC 3339.
pub fn month_start(now: OffsetDateTime) -> String {
    let d = now.to_offset(time::UtcOffset::UTC).date();
    format!("{:04}-{:02}-01T00:00:00Z", d.year(), u8::from(d.month()))
}

fn notifications(b: &EffectiveBudget) -> Vec<BudgetNotification> {
    b.thresholds
        .iter()
        .map(|t| BudgetNotification {
            key: notification_key(*t),
            threshold: *t,
            contact_emails: b.contact_emails.clone(),
            contact_groups: b.action_group_id.iter().cloned().collect(),
        })
        .collect()
}

/// Plan the budget: create it, correct its drift, or nothing.
pub fn plan(eff: &EffectiveSpec, observed: &Observed, now: OffsetDateTime) -> Plan {
    let mut plan = Plan::default();
    let Some(b) = &eff.budget else {
        return plan;
    };
    let resource = resource_label(&b.name);
    let wanted = notifications(b);
    let (verb, changes, desired) = match &observed.budget {
        None => {
            let mut changes = vec![created("amount", b.monthly_amount)];
            changes.extend(wanted.iter().map(|n| created(&n.key, n.threshold)));
            let d = DesiredBudget {
                amount: b.monthly_amount,
                start_date: month_start(now),
                end_date: None,
                notifications: wanted,
                e_tag: None,
            };
            (Verb::Create, changes, d)
        }
        Some(o) => {
            if let Some((_, unit)) = &o.current_spend {
                if !unit.eq_ignore_ascii_case(&b.currency) {
                    plan.notes.push(format!(
                        "{CURRENCY_MISMATCH}: {resource} is read in the billing currency {unit}, not {} (spec.costs.budget.currency): its amount {} is {unit}",
                        b.currency, b.monthly_amount
                    ));
                }
            }
            let changes = diff(b, &wanted, o);
            if changes.is_empty() {
                return plan;
            }
            for c in &changes {
                plan.drift.push((resource.clone(), c.clone()));
            }
            let d = DesiredBudget {
                amount: b.monthly_amount,
                start_date: o.start_date.clone(),
                end_date: o.end_date.clone(),
                notifications: wanted,
                e_tag: o.e_tag.clone(),
            };
            (Verb::Update, changes, d)
        }
    };
    plan.actions.push(Action {
        resource,
        verb,
        changes,
        op: Op::BudgetPut(target(eff, b), Box::new(desired)),
    });
    plan
}

fn created(field: &str, desired: f64) -> FieldChange {
    FieldChange {
        field: field.into(),
        observed: None,
        desired: desired.to_string(),
    }
}

fn same_set(a: &[String], b: &[String]) -> bool {
    let norm = |v: &[String]| {
        let mut v: Vec<String> = v.iter().map(|s| s.to_ascii_lowercase()).collect();
        v.sort();
        v.dedup();
        v
    };
    norm(a) == norm(b)
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "-".into()
    } else {
        v.join(",")
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.005
}

/// Field-level differences between the declared budget and the observed one.
pub fn diff(
    b: &EffectiveBudget,
    wanted: &[BudgetNotification],
    o: &ObservedBudget,
) -> Vec<FieldChange> {
    let mut ch = Vec::new();
    if !close(o.amount, b.monthly_amount) {
        ch.push(FieldChange::new("amount", o.amount, b.monthly_amount));
    }
    if !o.category.eq_ignore_ascii_case("Cost") {
        ch.push(FieldChange::new("category", &o.category, "Cost"));
    }
    if !o.time_grain.eq_ignore_ascii_case("Monthly") {
        ch.push(FieldChange::new("timeGrain", &o.time_grain, "Monthly"));
    }
    if o.filtered {
        ch.push(FieldChange::new("filter", "set", "none"));
    }
    for w in wanted {
        let k = &w.key;
        let Some(n) = o
            .notifications
            .iter()
            .find(|n| n.key.eq_ignore_ascii_case(k))
        else {
            ch.push(FieldChange::new(k.as_str(), "absent", w.threshold));
            continue;
        };
        if !n.enabled {
            ch.push(FieldChange::new(format!("{k}.enabled"), false, true));
        }
        if !close(n.threshold, w.threshold) {
            ch.push(FieldChange::new(
                format!("{k}.threshold"),
                n.threshold,
                w.threshold,
            ));
        }
        if !n.operator.eq_ignore_ascii_case(OPERATOR) {
            ch.push(FieldChange::new(
                format!("{k}.operator"),
                &n.operator,
                OPERATOR,
            ));
        }
        if !n.threshold_type.eq_ignore_ascii_case(THRESHOLD_TYPE) {
            ch.push(FieldChange::new(
                format!("{k}.thresholdType"),
                &n.threshold_type,
                THRESHOLD_TYPE,
            ));
        }
        if !same_set(&n.contact_emails, &w.contact_emails) {
            ch.push(FieldChange::new(
                format!("{k}.contactEmails"),
                list(&n.contact_emails),
                list(&w.contact_emails),
            ));
        }
        if !same_set(&n.contact_groups, &w.contact_groups) {
            ch.push(FieldChange::new(
                format!("{k}.contactGroups"),
                list(&n.contact_groups),
                list(&w.contact_groups),
            ));
        }
        if !n.contact_roles.is_empty() {
            ch.push(FieldChange::new(
                format!("{k}.contactRoles"),
                list(&n.contact_roles),
                "-",
            ));
        }
    }
    for n in &o.notifications {
        if !wanted.iter().any(|w| w.key.eq_ignore_ascii_case(&n.key)) {
            ch.push(FieldChange::new(n.key.as_str(), n.threshold, "absent"));
        }
    }
    ch
}

/// What status says of the budget (None when none is declared).
pub fn summary(eff: &EffectiveSpec, observed: &Observed) -> Option<BudgetObserved> {
    let b = eff.budget.as_ref()?;
    let o = observed.budget.as_ref();
    Some(BudgetObserved {
        name: b.name.clone(),
        id: o.map(|o| o.id.clone()),
        amount: o.map(|o| o.amount),
        current_spend: o.and_then(|o| o.current_spend.as_ref().map(|s| s.0)),
        billing_currency: o.and_then(|o| o.current_spend.as_ref().map(|s| s.1.clone())),
        thresholds: o
            .map(|o| o.notifications.iter().map(|n| n.threshold).collect())
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eff() -> EffectiveSpec {
        crate::api::load(include_str!("../../examples/costs/prod-budget.yaml"))
            .expect("the budget example is valid")
            .1
    }

    fn in_sync(eff: &EffectiveSpec) -> ObservedBudget {
        let b = eff.budget.as_ref().expect("budget");
        ObservedBudget {
            id: target(eff, b).id(),
            name: b.name.clone(),
            e_tag: Some("\"1\"".into()),
            category: "Cost".into(),
            amount: b.monthly_amount,
            time_grain: "Monthly".into(),
            start_date: "2026-01-01T00:00:00Z".into(),
            end_date: None,
            filtered: false,
            current_spend: Some((10.0, b.currency.clone())),
            notifications: notifications(b)
                .into_iter()
                .map(|n| ObservedNotification {
                    key: n.key,
                    enabled: true,
                    operator: OPERATOR.into(),
                    threshold: n.threshold,
                    threshold_type: THRESHOLD_TYPE.into(),
                    contact_emails: n.contact_emails,
                    contact_groups: n.contact_groups,
                    contact_roles: vec![],
                })
                .collect(),
        }
    }

    fn now() -> OffsetDateTime {
        time::macros::datetime!(2026-03-17 10:00 UTC)
    }

    #[test]
    fn a_missing_budget_is_created_from_the_first_of_the_month_with_the_seed_thresholds() {
        let e = eff();
        let p = plan(&e, &Observed::default(), now());
        assert_eq!(p.actions.len(), 1);
        let Op::BudgetPut(t, d) = &p.actions[0].op else {
            panic!("{:?}", p.actions[0].op)
        };
        assert_eq!(p.actions[0].verb, Verb::Create);
        assert!(t
            .id()
            .ends_with("/providers/Microsoft.Consumption/budgets/engram-acme-prod-pg"));
        assert_eq!(d.start_date, "2026-03-01T00:00:00Z");
        let ts: Vec<f64> = d.notifications.iter().map(|n| n.threshold).collect();
        assert_eq!(ts, [50.0, 80.0, 100.0]);
        assert!(p.drift.is_empty(), "a create is no drift");
    }

    #[test]
    fn in_sync_plans_nothing() {
        let e = eff();
        let o = Observed {
            budget: Some(in_sync(&e)),
            ..Default::default()
        };
        assert!(plan(&e, &o, now()).in_sync());
    }

    #[test]
    fn amount_contact_and_an_extra_notification_are_drift_corrected_with_the_etag() {
        let e = eff();
        let mut ob = in_sync(&e);
        ob.amount = 1.0;
        ob.notifications[1].contact_emails.clear();
        let mut extra = ob.notifications[0].clone();
        extra.key = "Actual_GreaterThan_10_Percent".into();
        extra.threshold = 10.0;
        ob.notifications.push(extra);
        let o = Observed {
            budget: Some(ob),
            ..Default::default()
        };
        let p = plan(&e, &o, now());
        let fields: Vec<&str> = p.drift.iter().map(|(_, c)| c.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "amount",
                "Actual_GreaterThanOrEqualTo_80_Percent.contactEmails",
                "Actual_GreaterThan_10_Percent"
            ]
        );
        let Op::BudgetPut(_, d) = &p.actions[0].op else {
            panic!()
        };
        assert_eq!(d.e_tag.as_deref(), Some("\"1\""));
        assert_eq!(d.start_date, "2026-01-01T00:00:00Z", "the start is kept");
        assert_eq!(p.actions[0].verb, Verb::Update);
    }

    #[test]
    fn another_billing_currency_is_a_note_not_drift() {
        let e = eff();
        let mut ob = in_sync(&e);
        ob.current_spend = Some((3.0, "EUR".into()));
        let o = Observed {
            budget: Some(ob),
            ..Default::default()
        };
        let p = plan(&e, &o, now());
        assert!(p.actions.is_empty());
        assert!(p.notes.iter().any(|n| n.starts_with(CURRENCY_MISMATCH)));
    }

    #[test]
    fn keys_and_month_starts() {
        assert_eq!(
            notification_key(12.5),
            "Actual_GreaterThanOrEqualTo_12_5_Percent"
        );
        assert_eq!(
            month_start(time::macros::datetime!(2026-12-31 23:59 UTC)),
            "2026-12-01T00:00:00Z"
        );
    }
}
