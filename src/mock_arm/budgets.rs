//! Microsoft.Consumption/budgets (api-version 2024-08-01) at a resource group's scope.
//!
//! Budgets are synchronous in Azure: PUT answers 201 when it creates, 200 when it replaces, with
//! the budget; GET 200 or 404; DELETE 200 (204 when there was none). As the service does, a PUT is
//! refused (400) for: a category other than Cost, an amount not above 0, an unknown time grain, a
//! start date that is not the first of a month (or, on create, before the current month), an end
//! date before the start, more than five notifications, a threshold outside 0 < t <= 1000, an
//! unknown operator or threshold type, a notification without contactEmails or contactGroups. An
//! `eTag` sent on an update must be the budget's (else 412). `currentSpend` is the month's actual
//! cost of the resource group from the rows `POST /_mock/costs` set.

use serde_json::{json, Value};

use super::errors::ArmError;
use super::postgres::method_not_allowed;
use super::router::{Route, Target};
use super::store::{arm_id, set_at, Reply, Req, World};

pub const TYPE: &str = "Microsoft.Consumption/budgets";
const VERSIONS: &[&str] = &["2024-08-01"];
const MAX_NOTIFICATIONS: usize = 5;
const GRAINS: &[&str] = &[
    "Monthly",
    "Quarterly",
    "Annually",
    "BillingMonth",
    "BillingQuarter",
    "BillingAnnual",
];
const OPERATORS: &[&str] = &["EqualTo", "GreaterThan", "GreaterThanOrEqualTo"];

/// The budget a path names.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetRef {
    pub sub: String,
    pub rg: String,
    pub name: String,
}

/// Route `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Consumption/budgets/{name}`
/// (case-insensitive); None for any other path.
pub fn route(segs: &[&str], l: &[&str]) -> Option<Route> {
    let ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.consumption", "budgets", _] =
        l
    else {
        return None;
    };
    let (sub, rg, name) = (segs[1], segs[3], segs[7]);
    Some(Route {
        target: Target::Budget(BudgetRef {
            sub: sub.into(),
            rg: rg.into(),
            name: name.into(),
        }),
        sub: Some(sub.to_string()),
        journal_id: arm_id(sub, rg, &format!("{TYPE}/{name}")),
        versions: VERSIONS,
        type_name: TYPE,
    })
}

fn bad(message: impl Into<String>) -> ArmError {
    ArmError::bad_request("BadRequest", message)
}

pub fn handle(world: &mut World, req: &Req, b: &BudgetRef) -> Result<Reply, ArmError> {
    let (sub, rg, name) = (b.sub.as_str(), b.rg.as_str(), b.name.as_str());
    let id = arm_id(sub, rg, &format!("{TYPE}/{name}"));
    match req.method {
        "GET" => {
            let Some(r) = world.get(&id) else {
                return Err(ArmError::new(
                    404,
                    "NotFound",
                    format!("Budget '{name}' was not found."),
                ));
            };
            let mut body = r.body.clone();
            spend_into(world, req, sub, rg, &mut body);
            Ok(Reply::json(200, body))
        }
        "PUT" => {
            let mut body = Value::Object(req.object()?);
            let existing = world.get(&id).map(|r| r.body.clone());
            if let (Some(old), Some(sent)) = (&existing, body["eTag"].as_str()) {
                if old["eTag"].as_str() != Some(sent) {
                    return Err(ArmError::new(
                        412,
                        "PreconditionFailed",
                        format!("The eTag {sent} does not match the budget's current eTag: it was changed since it was read."),
                    ));
                }
            }
            validate(&body, req, existing.is_none())?;
            let tag = format!("\"{:x}\"", 0x1d3_4d00_0000_0000_u64 + world.next_seq());
            if let Some(m) = body["properties"].as_object_mut() {
                m.remove("currentSpend");
                m.remove("forecastSpend");
            }
            set_at(&mut body, &["id"], json!(id));
            set_at(&mut body, &["name"], json!(name));
            set_at(&mut body, &["type"], json!(TYPE));
            set_at(&mut body, &["eTag"], json!(tag));
            world.put(&id, body.clone(), true);
            spend_into(world, req, sub, rg, &mut body);
            Ok(Reply::json(
                if existing.is_some() { 200 } else { 201 },
                body,
            ))
        }
        "DELETE" => Ok(world.delete_now(&id)),
        _ => Err(method_not_allowed()),
    }
}

/// `currentSpend`: the resource group's actual cost of the current month so far, from the rows
/// `POST /_mock/costs` set (USD when there are none).
fn spend_into(world: &World, req: &Req, sub: &str, rg: &str, body: &mut Value) {
    let scope = format!("/subscriptions/{sub}/resourcegroups/{rg}/").to_ascii_lowercase();
    let today = req.now.date();
    let first = today.replace_day(1).unwrap_or(today);
    let rows: Vec<_> = world
        .costs
        .iter()
        .filter(|r| r.resource_id.starts_with(&scope) && r.date >= first && r.date <= today)
        .collect();
    let amount: f64 = rows.iter().map(|r| r.amount).sum();
    let unit = rows.first().map_or("USD", |r| r.currency.as_str());
    set_at(
        body,
        &["properties", "currentSpend"],
        json!({"amount": amount, "unit": unit}),
    );
}

fn one_of(list: &[&str], v: &str) -> bool {
    list.iter().any(|x| x.eq_ignore_ascii_case(v))
}

fn date_of(v: &Value, what: &str) -> Result<time::Date, ArmError> {
    let s = v.as_str().unwrap_or_default();
    let day = s.get(..10).unwrap_or_default();
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(day, &fmt).map_err(|_| bad(format!("The {what} '{s}' is not a valid date.")))
}

/// The service's checks of a PUT body.
fn validate(body: &Value, req: &Req, creating: bool) -> Result<(), ArmError> {
    let p = &body["properties"];
    if !p.is_object() {
        return Err(bad("The budget's 'properties' are required."));
    }
    let category = p["category"].as_str().unwrap_or_default();
    if !category.eq_ignore_ascii_case("Cost") {
        return Err(bad(format!(
            "Category '{category}' is not supported: budgets at this scope take 'Cost'."
        )));
    }
    if !p["amount"].as_f64().is_some_and(|a| a > 0.0) {
        return Err(bad("The budget amount must be greater than 0."));
    }
    let grain = p["timeGrain"].as_str().unwrap_or_default();
    if !one_of(GRAINS, grain) {
        return Err(bad(format!("Time grain '{grain}' is not supported.")));
    }
    let start = date_of(&p["timePeriod"]["startDate"], "start date")?;
    if start.day() != 1 {
        return Err(bad("The start date must be the first of a month."));
    }
    let month = req.now.date().replace_day(1).unwrap_or(start);
    if creating && start < month {
        return Err(bad(format!(
            "The start date must be on or after the first of the current month ({month})."
        )));
    }
    if !p["timePeriod"]["endDate"].is_null() {
        let end = date_of(&p["timePeriod"]["endDate"], "end date")?;
        if end <= start {
            return Err(bad("The end date must be after the start date."));
        }
    }
    let empty = serde_json::Map::new();
    let notes = p["notifications"].as_object().unwrap_or(&empty);
    if notes.len() > MAX_NOTIFICATIONS {
        return Err(bad(format!(
            "A budget has at most {MAX_NOTIFICATIONS} notifications."
        )));
    }
    for (key, n) in notes {
        let t = n["threshold"].as_f64().unwrap_or(0.0);
        if !(t > 0.0 && t <= 1000.0) {
            return Err(bad(format!(
                "Notification '{key}': the threshold must be greater than 0 and at most 1000."
            )));
        }
        let op = n["operator"].as_str().unwrap_or_default();
        if !one_of(OPERATORS, op) {
            return Err(bad(format!(
                "Notification '{key}': operator '{op}' is not supported."
            )));
        }
        let kind = n["thresholdType"].as_str().unwrap_or("Actual");
        if !one_of(&["Actual", "Forecasted"], kind) {
            return Err(bad(format!(
                "Notification '{key}': threshold type '{kind}' is not supported."
            )));
        }
        let some = |k: &str| n[k].as_array().is_some_and(|a| !a.is_empty());
        if !some("contactEmails") && !some("contactGroups") {
            return Err(bad(format!(
                "Notification '{key}': contactEmails or contactGroups must have at least one entry."
            )));
        }
    }
    Ok(())
}
