//! The plane's cost budget against the mock ARM (issue 18 §2): created with the seed's three
//! notifications on the actual cost; an edited amount corrected with one PUT; a contact removed
//! by someone else put back; observe mode writes nothing; a bad spec is refused before any ARM
//! request. And the Cost Management query: only the given resources, only inside the window,
//! and a budget's current spend from the same rows.

use crate::support;

use engram_operator::api::spec::Mode;
use engram_operator::api::{self, EffectiveSpec};
use engram_operator::azure::cost_query::CostQuery;
use engram_operator::mock_arm::MockArm;
use engram_operator::reconcile;
use serde_json::{json, Value};
use support::*;

const BUDGET_API: &str = "2024-08-01";
const EXAMPLE: &str = include_str!("../examples/costs/prod-budget.yaml");

fn spec() -> EffectiveSpec {
    api::load(EXAMPLE).expect("the budget example is valid").1
}

fn budget_id(eff: &EffectiveSpec) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Consumption/budgets/engram-acme-prod-pg",
        eff.azure.subscription_id, eff.azure.resource_group
    )
}

/// A request to the mock's ARM as someone else would send it (the portal, another tool).
async fn call(m: &MockArm, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    direct(m, method, path, BUDGET_API, body).await
}

fn budget_writes(m: &MockArm, from: usize) -> Vec<(String, String)> {
    writes_since(m, from)
        .into_iter()
        .filter(|(_, p)| p.contains("Microsoft.Consumption/budgets"))
        .collect()
}

#[tokio::test]
async fn the_budget_is_created_with_the_three_notifications_then_left_alone() {
    let eff = spec();
    let m = mock().await;
    let arm = arm(&m);
    let out = converge(&m, &arm, &eff, Default::default()).await;
    assert_eq!(m.writes_to(&budget_id(&eff)), 1, "one PUT creates it");
    let (status, b) = call(&m, "GET", &budget_id(&eff), None).await;
    assert_eq!(status, 200);
    let p = &b["properties"];
    assert_eq!(p["category"], "Cost");
    assert_eq!(p["timeGrain"], "Monthly");
    assert_eq!(p["amount"], 4000.0);
    let start = p["timePeriod"]["startDate"].as_str().expect("start");
    assert!(start.ends_with("-01T00:00:00Z"), "{start}");
    let notes = p["notifications"].as_object().expect("notifications");
    let mut thresholds: Vec<f64> = notes
        .values()
        .filter_map(|n| n["threshold"].as_f64())
        .collect();
    thresholds.sort_by(f64::total_cmp);
    assert_eq!(thresholds, [50.0, 80.0, 100.0]);
    for n in notes.values() {
        assert_eq!(n["thresholdType"], "Actual");
        assert_eq!(n["enabled"], true);
        assert_eq!(
            n["contactEmails"],
            json!(["finops@acme.example", "platform@acme.example"])
        );
        let group = eff.alerts.action_group_id.clone().expect("alerts' group");
        assert_eq!(
            n["contactGroups"],
            json!([group]),
            "the alerts' action group is reused"
        );
    }
    let st = out.status.budget.clone().expect("status.budget");
    assert_eq!(st.name, "engram-acme-prod-pg");
    assert_eq!(st.thresholds.len(), 3);
    // In sync: the next pass reads the budget and writes nothing.
    let from = m.journal().len();
    let again = pass(&arm, &eff, &out.status).await;
    assert!(budget_writes(&m, from).is_empty());
    assert!(again.status.drift.is_empty(), "{:?}", again.status.drift);
}

#[tokio::test]
async fn an_edited_amount_is_corrected_by_one_put() {
    let mut eff = spec();
    let m = mock().await;
    let arm = arm(&m);
    let out = converge(&m, &arm, &eff, Default::default()).await;
    if let Some(b) = eff.budget.as_mut() {
        b.monthly_amount = 5500.0;
    }
    let from = m.journal().len();
    let next = pass(&arm, &eff, &out.status).await;
    let w = budget_writes(&m, from);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].0, "PUT");
    let (_, b) = call(&m, "GET", &budget_id(&eff), None).await;
    assert_eq!(b["properties"]["amount"], 5500.0);
    assert_eq!(
        b["properties"]["notifications"]
            .as_object()
            .map(|n| n.len()),
        Some(3)
    );
    assert!(next
        .status
        .drift
        .iter()
        .any(|d| d.field == "amount" && d.desired == "5500" && d.corrected));
}

#[tokio::test]
async fn a_contact_removed_outside_the_operator_is_put_back() {
    let eff = spec();
    let m = mock().await;
    let arm = arm(&m);
    let out = converge(&m, &arm, &eff, Default::default()).await;
    let id = budget_id(&eff);
    let (_, mut b) = call(&m, "GET", &id, None).await;
    let key = "Actual_GreaterThanOrEqualTo_80_Percent";
    b["properties"]["notifications"][key]["contactEmails"] = json!(["finops@acme.example"]);
    let (status, _) = call(&m, "PUT", &id, Some(b)).await;
    assert_eq!(status, 200, "someone else's replace");
    let from = m.journal().len();
    let next = pass(&arm, &eff, &out.status).await;
    assert_eq!(budget_writes(&m, from).len(), 1);
    let (_, b) = call(&m, "GET", &id, None).await;
    assert_eq!(
        b["properties"]["notifications"][key]["contactEmails"],
        json!(["finops@acme.example", "platform@acme.example"])
    );
    let field = format!("{key}.contactEmails");
    assert!(next
        .status
        .drift
        .iter()
        .any(|d| d.field == field && d.corrected));
}

#[tokio::test]
async fn a_stale_etag_is_refused_by_the_mock() {
    let eff = spec();
    let m = mock().await;
    let arm = arm(&m);
    converge(&m, &arm, &eff, Default::default()).await;
    let id = budget_id(&eff);
    let (_, mut b) = call(&m, "GET", &id, None).await;
    b["eTag"] = json!("\"stale\"");
    let (status, body) = call(&m, "PUT", &id, Some(b)).await;
    assert_eq!(status, 412, "{body}");
}

#[tokio::test]
async fn observe_mode_reports_the_drift_and_writes_nothing() {
    let mut eff = spec();
    let m = mock().await;
    let arm = arm(&m);
    let out = converge(&m, &arm, &eff, Default::default()).await;
    eff.mode = Mode::Observe;
    if let Some(b) = eff.budget.as_mut() {
        b.monthly_amount = 10.0;
        b.thresholds = vec![90.0];
    }
    let from = m.journal().len();
    let next = pass(&arm, &eff, &out.status).await;
    assert!(writes_since(&m, from).is_empty(), "observe writes nothing");
    let fields: Vec<&str> = next.status.drift.iter().map(|d| d.field.as_str()).collect();
    assert!(fields.contains(&"amount"), "{fields:?}");
    assert!(
        fields.contains(&"Actual_GreaterThanOrEqualTo_90_Percent"),
        "{fields:?}"
    );
    assert!(next.status.drift.iter().all(|d| !d.corrected));
}

#[tokio::test]
async fn bad_budgets_name_the_field_and_send_nothing() {
    let m = mock().await;
    let arm = arm(&m);
    let before = m.journal().len();
    let no_contact = EXAMPLE
        .replace("      contactEmails: [finops@acme.example, platform@acme.example]\n", "")
        .replace("    actionGroupId: /subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-engram-prod/providers/microsoft.insights/actionGroups/engram-oncall\n", "");
    let cases = [
        (
            no_contact,
            "spec.costs.budget.contactEmails: a budget needs a contact",
        ),
        (
            EXAMPLE.replace("# thresholds: [50, 80, 100]", "thresholds: [0, 80]"),
            "spec.costs.budget.thresholds[0]: 0 is out of range",
        ),
        (
            EXAMPLE.replace("currency: USD", "currency: usd"),
            "spec.costs.budget.currency: \"usd\" is not an ISO 4217",
        ),
        (
            EXAMPLE.replace("monthlyAmount: 4000", "monthlyAmount: 0"),
            "spec.costs.budget.monthlyAmount: 0 must be greater than 0",
        ),
    ];
    for (yaml, want) in cases {
        let errors = api::load(&yaml).expect_err("refused");
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            shown.iter().any(|s| s.starts_with(want)),
            "{want}: {shown:?}"
        );
        let out =
            reconcile::reconcile(&arm, Err(errors.as_slice()), &Default::default(), &ctx()).await;
        assert!(out.status.errors.iter().any(|e| e.starts_with(want)));
    }
    assert_eq!(
        m.journal().len(),
        before,
        "no ARM request for an invalid spec"
    );
}

fn row(id: &str, date: &str, amount: f64) -> Value {
    json!({"resourceId": id, "date": date, "amount": amount, "currency": "EUR"})
}

#[tokio::test]
async fn query_cost_sums_only_the_given_resources_inside_the_window() {
    let eff = spec();
    let m = mock().await;
    let arm = arm(&m);
    let rg = format!(
        "/subscriptions/{}/resourceGroups/{}",
        eff.azure.subscription_id, eff.azure.resource_group
    );
    let pg = server_id(&eff);
    let st = format!("{rg}/providers/Microsoft.Storage/storageAccounts/acmeengramprod");
    let other = format!("{rg}/providers/Microsoft.Compute/disks/someone-elses");
    let q = CostQuery {
        scope: rg.clone(),
        resource_ids: vec![pg.clone(), st.to_uppercase()],
        from: time::macros::datetime!(2026-03-01 00:00 UTC),
        to: time::macros::datetime!(2026-03-31 23:59:59 UTC),
    };
    let none = arm.query_cost(&q).await.expect("query");
    assert_eq!(
        (none.amount, none.currency.as_str()),
        (0.0, "USD"),
        "no rows: no cost"
    );
    m.set_costs(json!([
        row(&pg, "2026-03-01", 10.0),
        row(&pg, "2026-03-31", 2.5),
        row(&pg, "2026-02-28", 100.0), // before the window
        row(&pg, "2026-04-01", 100.0), // after it
        row(&st, "2026-03-15", 0.25),
        row(&other, "2026-03-15", 1000.0), // not asked for
    ]))
    .expect("rows set");
    let total = arm.query_cost(&q).await.expect("query");
    assert_eq!(total.currency, "EUR");
    assert!((total.amount - 12.75).abs() < 1e-9, "{total:?}");
}

#[tokio::test]
async fn cost_rows_posted_to_the_control_api_answer_the_query() {
    let eff = spec();
    let m = mock().await;
    let arm = arm(&m);
    let pg = server_id(&eff);
    let url = format!("{}/_mock/costs", m.base_url());
    let http = reqwest::Client::new();
    let one = json!({"resourceId": pg, "date": "2026-05-02", "amount": 3.0, "currency": "USD"});
    let list = json!([{"resourceId": pg, "date": "2026-05-03", "amount": 4.0, "currency": "USD"}]);
    for body in [one, list] {
        let r = http.post(&url).json(&body).send().await.expect("control");
        assert!(r.status().is_success());
    }
    let bad = http
        .post(&url)
        .json(&json!({"resourceId": pg, "date": "May 2"}))
        .send()
        .await
        .expect("control");
    assert_eq!(bad.status().as_u16(), 400);
    let q = CostQuery {
        scope: format!("/subscriptions/{}", eff.azure.subscription_id),
        resource_ids: vec![pg],
        from: time::macros::datetime!(2026-05-01 00:00 UTC),
        to: time::macros::datetime!(2026-05-02 12:00 UTC),
    };
    let total = arm.query_cost(&q).await.expect("query");
    assert_eq!(
        (total.amount, total.currency.as_str()),
        (3.0, "USD"),
        "the 3rd is outside"
    );
}
