//! Planner for the Azure Monitor metric alerts on the PostgreSQL server: one rule per metric and
//! severity (warning = severity 2, critical = severity 0), created once the server exists.
//!
//! Create when missing (one PUT), PUT again only when a field that matters differs, compared
//! semantically (case, ISO-8601 spelling, number formatting); fields Azure adds are never compared.
//! Nothing is deleted here.

use std::collections::BTreeMap;

use super::observed::{ObservedAlert, ObservedPostgres};
use super::{postgres, Action, FieldChange, Op, Plan, Verb};
use crate::api::spec::Threshold;
use crate::api::EffectiveSpec;

/// How often a rule is evaluated, and over which window.
pub const FREQUENCY: &str = "PT1M";
pub const WINDOW: &str = "PT5M";
pub const OPERATOR: &str = "GreaterThan";
pub const AGGREGATION: &str = "Average";
/// Metric alerts are global resources.
pub const LOCATION: &str = "global";
pub const WARNING_SEVERITY: u8 = 2;
pub const CRITICAL_SEVERITY: u8 = 0;

/// Where a metric alert rule lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertTarget {
    pub subscription_id: String,
    pub resource_group: String,
    pub rule_name: String,
}

/// One desired metric alert rule (a single static-threshold criterion on one resource).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertRule {
    pub description: String,
    pub severity: u8,
    pub enabled: bool,
    pub scope: String,
    pub metric_name: String,
    pub threshold: u32,
    pub window_size: String,
    pub evaluation_frequency: String,
    pub action_group_id: Option<String>,
    /// The owner tags (set by the ownership gate, `owner::gate`; not compared for drift).
    pub tags: std::collections::BTreeMap<String, String>,
}

/// The resource label of a rule in status, drift and plan output.
pub fn resource_label(rule_name: &str) -> String {
    format!("alert/{rule_name}")
}

/// The ARM id of the server the rules watch.
pub fn server_id(eff: &EffectiveSpec) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.DBforPostgreSQL/flexibleServers/{}",
        eff.azure.subscription_id, eff.azure.resource_group, eff.postgres.server_name
    )
}

/// Every rule name the spec implies, whether or not it can be planned now (what `observe` GETs).
pub fn rule_names(eff: &EffectiveSpec) -> Vec<String> {
    ["cpu", "memory", "connections", "storage"]
        .iter()
        .flat_map(|m| {
            ["warning", "critical"]
                .iter()
                .map(move |s| format!("{}-{m}-{s}", eff.postgres.server_name))
        })
        .collect()
}

/// The active-connections count matching `percent` of `max_connections` (rounded down).
pub fn connections_threshold(percent: u8, max_connections: u32) -> u32 {
    u32::try_from(u64::from(percent) * u64::from(max_connections) / 100).unwrap_or(u32::MAX)
}

/// The desired rules, keyed by name, plus notes for rules that cannot be planned yet.
pub fn desired(
    eff: &EffectiveSpec,
    pg: &ObservedPostgres,
) -> (BTreeMap<String, AlertRule>, Vec<String>) {
    let a = &eff.alerts;
    let server = &eff.postgres.server_name;
    let max_connections = pg
        .configs
        .get("max_connections")
        .and_then(|c| c.value.trim().parse::<u32>().ok())
        .filter(|n| *n > 0);
    let mut notes = Vec::new();
    let mut metrics: Vec<(&str, &str, &Threshold, Option<u32>)> = vec![
        ("cpu", "cpu_percent", &a.cpu_percent, None),
        ("memory", "memory_percent", &a.memory_percent, None),
    ];
    match max_connections {
        Some(max) => metrics.push((
            "connections",
            "active_connections",
            &a.connections_percent,
            Some(max),
        )),
        None => notes.push(format!(
            "alert/{server}-connections-*: skipped until the server's max_connections is known"
        )),
    }
    metrics.push(("storage", "storage_percent", &a.storage_percent, None));
    let mut rules = BTreeMap::new();
    for (short, metric, t, max) in metrics {
        for (level, severity, percent) in [
            ("warning", WARNING_SEVERITY, t.warning),
            ("critical", CRITICAL_SEVERITY, t.critical),
        ] {
            let (threshold, what) = match max {
                Some(max) => (
                    connections_threshold(percent, max),
                    format!("{percent}% of max_connections ({max})"),
                ),
                None => (u32::from(percent), format!("{percent}%")),
            };
            rules.insert(
                format!("{server}-{short}-{level}"),
                AlertRule {
                    tags: Default::default(),
                    description: format!("{server}: {metric} above {what} ({level})"),
                    severity,
                    enabled: true,
                    scope: server_id(eff),
                    metric_name: metric.into(),
                    threshold,
                    window_size: WINDOW.into(),
                    evaluation_frequency: FREQUENCY.into(),
                    action_group_id: a.action_group_id.clone(),
                },
            );
        }
    }
    (rules, notes)
}

/// Plan the metric alert rules. Nothing is planned while the server does not exist.
pub fn plan(
    eff: &EffectiveSpec,
    pg: &ObservedPostgres,
    observed: &BTreeMap<String, ObservedAlert>,
) -> Plan {
    let mut plan = Plan::default();
    if pg.server.is_none() {
        plan.notes.push(format!(
            "{}: metric alerts are created once the server exists",
            postgres::resource_label(eff)
        ));
        return plan;
    }
    let (rules, notes) = desired(eff, pg);
    plan.notes.extend(notes);
    for (name, rule) in rules {
        let resource = resource_label(&name);
        let target = AlertTarget {
            subscription_id: eff.azure.subscription_id.clone(),
            resource_group: eff.azure.resource_group.clone(),
            rule_name: name.clone(),
        };
        let (verb, changes) = match observed.get(&name) {
            None => (Verb::Create, created(&rule)),
            Some(o) => {
                let changes = diff(&rule, o);
                if changes.is_empty() {
                    continue;
                }
                for c in &changes {
                    plan.drift.push((resource.clone(), c.clone()));
                }
                (Verb::Update, changes)
            }
        };
        plan.actions.push(Action {
            resource,
            verb,
            changes,
            op: Op::AlertPut(target, Box::new(rule)),
        });
    }
    plan
}

fn action_groups(rule: &AlertRule) -> String {
    rule.action_group_id.clone().unwrap_or_else(|| "-".into())
}

fn created(rule: &AlertRule) -> Vec<FieldChange> {
    let c = |field: &str, desired: String| FieldChange {
        field: field.into(),
        observed: None,
        desired,
    };
    vec![
        c("criteria.metricName", rule.metric_name.clone()),
        c("criteria.threshold", rule.threshold.to_string()),
        c("severity", rule.severity.to_string()),
        c("actions", action_groups(rule)),
    ]
}

/// Seconds of an ISO-8601 duration made of days/hours/minutes/seconds (PT5M, P1D, pt1m ...).
fn iso_seconds(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_uppercase();
    let rest = s.strip_prefix('P')?;
    let (mut total, mut num, mut in_time) = (0u64, String::new(), false);
    for ch in rest.chars() {
        match ch {
            'T' => in_time = true,
            '0'..='9' => num.push(ch),
            unit => {
                let n: u64 = num.parse().ok()?;
                num.clear();
                total += n * match (unit, in_time) {
                    ('D', false) => 86_400,
                    ('H', true) => 3_600,
                    ('M', true) => 60,
                    ('S', true) => 1,
                    _ => return None,
                };
            }
        }
    }
    num.is_empty().then_some(total)
}

fn same_duration(a: Option<&str>, b: &str) -> bool {
    match (a.and_then(iso_seconds), iso_seconds(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a.is_some_and(|a| a.eq_ignore_ascii_case(b)),
    }
}

fn eq_ci(a: Option<&str>, b: &str) -> bool {
    a.is_some_and(|a| a.eq_ignore_ascii_case(b))
}

fn shown(v: Option<&str>) -> &str {
    v.unwrap_or("-")
}

/// Field-level differences that matter between the desired rule and what Azure holds.
pub fn diff(rule: &AlertRule, o: &ObservedAlert) -> Vec<FieldChange> {
    let mut ch = Vec::new();
    if o.severity != Some(i64::from(rule.severity)) {
        let seen = o.severity.map_or_else(|| "-".into(), |s| s.to_string());
        ch.push(FieldChange::new("severity", seen, rule.severity));
    }
    if o.enabled != Some(rule.enabled) {
        let seen = o.enabled.map_or_else(|| "-".into(), |e| e.to_string());
        ch.push(FieldChange::new("enabled", seen, rule.enabled));
    }
    let scope_ok = o.scopes.len() == 1 && o.scopes[0].eq_ignore_ascii_case(&rule.scope);
    if !scope_ok {
        ch.push(FieldChange::new("scopes", o.scopes.join(","), &rule.scope));
    }
    if !same_duration(o.window_size.as_deref(), &rule.window_size) {
        let seen = shown(o.window_size.as_deref());
        ch.push(FieldChange::new("windowSize", seen, &rule.window_size));
    }
    if !same_duration(
        o.evaluation_frequency.as_deref(),
        &rule.evaluation_frequency,
    ) {
        let seen = shown(o.evaluation_frequency.as_deref());
        ch.push(FieldChange::new(
            "evaluationFrequency",
            seen,
            &rule.evaluation_frequency,
        ));
    }
    match o.criteria.as_slice() {
        [c] => {
            if !c.metric_name.eq_ignore_ascii_case(&rule.metric_name) {
                ch.push(FieldChange::new(
                    "criteria.metricName",
                    &c.metric_name,
                    &rule.metric_name,
                ));
            }
            if !eq_ci(c.operator.as_deref(), OPERATOR) {
                ch.push(FieldChange::new(
                    "criteria.operator",
                    shown(c.operator.as_deref()),
                    OPERATOR,
                ));
            }
            if !eq_ci(c.time_aggregation.as_deref(), AGGREGATION) {
                let seen = shown(c.time_aggregation.as_deref());
                ch.push(FieldChange::new(
                    "criteria.timeAggregation",
                    seen,
                    AGGREGATION,
                ));
            }
            let same = c
                .threshold
                .as_deref()
                .and_then(|t| t.parse::<f64>().ok())
                .is_some_and(|t| t == f64::from(rule.threshold));
            if !same {
                let seen = shown(c.threshold.as_deref());
                ch.push(FieldChange::new("criteria.threshold", seen, rule.threshold));
            }
        }
        other => ch.push(FieldChange::new(
            "criteria",
            format!("{} criteria", other.len()),
            format!("{} > {}", rule.metric_name, rule.threshold),
        )),
    }
    let groups_ok = match &rule.action_group_id {
        None => o.action_group_ids.is_empty(),
        Some(g) => o.action_group_ids.len() == 1 && o.action_group_ids[0].eq_ignore_ascii_case(g),
    };
    if !groups_ok {
        let seen = if o.action_group_ids.is_empty() {
            "-".into()
        } else {
            o.action_group_ids.join(",")
        };
        ch.push(FieldChange::new("actions", seen, action_groups(rule)));
    }
    ch
}
