//! Table-driven tests of the metric alert planner.

use std::collections::BTreeMap;

use super::alerts::{self, AlertRule};
use super::*;

fn prod() -> EffectiveSpec {
    crate::api::load(include_str!("../../examples/prod.yaml"))
        .unwrap()
        .1
}

/// An existing server whose max_connections is `max` (None: not reported).
fn server(max: Option<&str>) -> ObservedPostgres {
    let mut configs = BTreeMap::new();
    if let Some(m) = max {
        configs.insert(
            "max_connections".to_string(),
            ObservedConfig {
                value: m.into(),
                ..Default::default()
            },
        );
    }
    ObservedPostgres {
        server: Some(ObservedServer {
            id: "/x".into(),
            state: "Ready".into(),
            ..Default::default()
        }),
        configs,
        ..Default::default()
    }
}

/// What Azure reports for a rule created as desired, spelled the way ARM may spell it back.
fn observed_of(r: &AlertRule) -> ObservedAlert {
    ObservedAlert {
        severity: Some(i64::from(r.severity)),
        enabled: Some(r.enabled),
        scopes: vec![r.scope.to_ascii_lowercase()],
        window_size: Some(r.window_size.to_ascii_lowercase()),
        evaluation_frequency: Some("PT60S".into()),
        criteria: vec![ObservedCriterion {
            metric_name: r.metric_name.clone(),
            operator: Some("GreaterThan".into()),
            time_aggregation: Some("average".into()),
            threshold: Some(format!("{}.0", r.threshold)),
        }],
        action_group_ids: r.action_group_id.iter().map(|g| g.to_uppercase()).collect(),
    }
}

/// Every desired rule as Azure would report it (in sync).
pub(super) fn in_sync(
    eff: &EffectiveSpec,
    pg: &ObservedPostgres,
) -> BTreeMap<String, ObservedAlert> {
    alerts::desired(eff, pg)
        .0
        .into_iter()
        .map(|(n, r)| (n, observed_of(&r)))
        .collect()
}

fn puts(p: &Plan) -> Vec<(&str, Verb, &AlertRule)> {
    p.actions
        .iter()
        .filter_map(|a| match &a.op {
            Op::AlertPut(t, r) => Some((t.rule_name.as_str(), a.verb, r.as_ref())),
            _ => None,
        })
        .collect()
}

#[test]
fn missing_rules_are_created_one_per_metric_and_severity() {
    let eff = prod();
    let pg = server(Some("859"));
    let p = alerts::plan(&eff, &pg, &BTreeMap::new());
    let got = puts(&p);
    assert_eq!(got.len(), 8);
    assert!(got.iter().all(|(_, v, _)| *v == Verb::Create));
    assert!(p.drift.is_empty(), "creation is not drift");
    let by_name: BTreeMap<_, _> = got.iter().map(|(n, _, r)| (*n, *r)).collect();
    let name = |s: &str| format!("{}-{s}", eff.postgres.server_name);
    // (rule, metric, severity, threshold) from the seed defaults: CPU 60/80, memory 70/90,
    // connections 70/90 of 859, storage 85/90.
    let table = [
        ("cpu-warning", "cpu_percent", 2, 60),
        ("cpu-critical", "cpu_percent", 0, 80),
        ("memory-warning", "memory_percent", 2, 70),
        ("memory-critical", "memory_percent", 0, 90),
        ("connections-warning", "active_connections", 2, 601),
        ("connections-critical", "active_connections", 0, 773),
        ("storage-warning", "storage_percent", 2, 85),
        ("storage-critical", "storage_percent", 0, 90),
    ];
    for (rule, metric, severity, threshold) in table {
        let r = by_name[name(rule).as_str()];
        assert_eq!(
            (r.metric_name.as_str(), r.severity, r.threshold),
            (metric, severity, threshold),
            "{rule}"
        );
        assert_eq!(r.scope, alerts::server_id(&eff));
        assert_eq!(
            (r.window_size.as_str(), r.evaluation_frequency.as_str()),
            ("PT5M", "PT1M")
        );
        assert_eq!(r.action_group_id, eff.alerts.action_group_id);
        assert!(r.enabled);
    }
}

#[test]
fn no_alert_is_planned_before_the_server_exists() {
    let eff = prod();
    let p = alerts::plan(&eff, &ObservedPostgres::default(), &BTreeMap::new());
    assert!(p.actions.is_empty());
    assert!(p.notes.iter().any(|n| n.contains("once the server exists")));
}

#[test]
fn in_sync_rules_plan_nothing() {
    let eff = prod();
    let pg = server(Some("859"));
    let p = alerts::plan(&eff, &pg, &in_sync(&eff, &pg));
    assert!(p.in_sync(), "{p:#?}");
}

#[test]
fn each_drift_is_one_put_of_that_rule_with_its_field() {
    let eff = prod();
    let pg = server(Some("859"));
    let cpu_w = format!("{}-cpu-warning", eff.postgres.server_name);
    type Edit = fn(&mut ObservedAlert);
    let table: [(&str, Edit, &str, &str); 6] = [
        (
            "threshold",
            |o| o.criteria[0].threshold = Some("75".into()),
            "criteria.threshold",
            "75",
        ),
        ("severity", |o| o.severity = Some(3), "severity", "3"),
        ("disabled", |o| o.enabled = Some(false), "enabled", "false"),
        (
            "action group",
            |o| o.action_group_ids = vec!["/other/group".into()],
            "actions",
            "/other/group",
        ),
        (
            "no action group",
            |o| o.action_group_ids.clear(),
            "actions",
            "-",
        ),
        (
            "window",
            |o| o.window_size = Some("PT15M".into()),
            "windowSize",
            "PT15M",
        ),
    ];
    for (case, edit, field, seen) in table {
        let mut obs = in_sync(&eff, &pg);
        edit(obs.get_mut(&cpu_w).unwrap());
        let p = alerts::plan(&eff, &pg, &obs);
        let got = puts(&p);
        assert_eq!(got.len(), 1, "{case}");
        assert_eq!(
            (got[0].0, got[0].1),
            (cpu_w.as_str(), Verb::Update),
            "{case}"
        );
        assert_eq!(p.drift.len(), 1, "{case}");
        let (resource, c) = &p.drift[0];
        assert_eq!(resource, &format!("alert/{cpu_w}"), "{case}");
        assert_eq!(
            (c.field.as_str(), c.observed.as_deref()),
            (field, Some(seen)),
            "{case}"
        );
    }
}

#[test]
fn a_changed_spec_action_group_rewrites_every_rule() {
    let eff = prod();
    let pg = server(Some("859"));
    let obs = in_sync(&eff, &pg);
    let mut new = eff.clone();
    new.alerts.action_group_id = Some(
        "/subscriptions/s/resourceGroups/rg/providers/microsoft.insights/actionGroups/new".into(),
    );
    let p = alerts::plan(&new, &pg, &obs);
    let got = puts(&p);
    assert_eq!(got.len(), 8);
    assert!(got
        .iter()
        .all(|(_, v, r)| *v == Verb::Update && r.action_group_id == new.alerts.action_group_id));
    assert!(p.drift.iter().all(|(_, c)| c.field == "actions"));
}

#[test]
fn connections_follow_max_connections_or_are_skipped() {
    let eff = prod();
    let conn = |p: &Plan| -> Vec<u32> {
        puts(p)
            .iter()
            .filter(|(_, _, r)| r.metric_name == "active_connections")
            .map(|(_, _, r)| r.threshold)
            .collect()
    };
    let table: [(Option<&str>, Vec<u32>); 4] = [
        (Some("859"), vec![773, 601]),
        (Some("1000"), vec![900, 700]),
        (Some("not-a-number"), vec![]),
        (None, vec![]),
    ];
    for (max, want) in table {
        let p = alerts::plan(&eff, &server(max), &BTreeMap::new());
        assert_eq!(conn(&p), want, "{max:?}");
        let skipped = p
            .notes
            .iter()
            .any(|n| n.contains("max_connections is known"));
        assert_eq!(skipped, want.is_empty(), "{max:?}");
        assert_eq!(puts(&p).len(), 6 + want.len(), "{max:?}");
    }
    // A larger max_connections moves the connection thresholds: drift on those two rules only.
    let old = server(Some("859"));
    let p = alerts::plan(&eff, &server(Some("1000")), &in_sync(&eff, &old));
    assert_eq!(conn(&p), vec![900, 700]);
    assert_eq!(puts(&p).len(), 2);
}

#[test]
fn connections_threshold_rounds_down() {
    assert_eq!(alerts::connections_threshold(70, 859), 601);
    assert_eq!(alerts::connections_threshold(90, 5000), 4500);
    assert_eq!(alerts::connections_threshold(100, 25), 25);
}
