//! The Cost Management query (api-version 2025-03-01): `POST {scope}/providers/
//! Microsoft.CostManagement/query` at a subscription or resource group, answering from cost rows
//! set through the control API (`POST /_mock/costs`, `MockArm::set_costs`). No rows: no cost.
//!
//! Served: type Usage / ActualCost / AmortizedCost (one set of rows for all); timeframe Custom
//! (`timePeriod`, whole days, both ends included), MonthToDate, WeekToDate, TheLastMonth,
//! BillingMonthToDate, TheLastBillingMonth; granularity None or Daily (`UsageDate` as yyyymmdd);
//! aggregation Sum of PreTaxCost or Cost (the column takes the aggregated name); grouping by the
//! dimensions ResourceId, ResourceGroup (or ResourceGroupName) and ResourceType; a filter of
//! `and` / `or` / `not` over those dimensions with `In` (a tag or another dimension matches no row,
//! as the mock records none). Pages of `pageRows` rows (default 1000) with a `nextLink` carrying
//! `$skiptoken`. Not modelled: Cost Management's own QPU quota.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use time::Date;

use super::control::Inner;
use super::errors::ArmError;
use super::store::{guid, Reply, Req, World};

pub const TYPE: &str = "Microsoft.CostManagement/query";
pub const VERSIONS: &[&str] = &["2025-03-01"];
const PAGE_ROWS: usize = 1000;

/// One day's actual cost of one resource.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CostRow {
    pub resource_id: String,
    #[serde(with = "day")]
    pub date: Date,
    pub amount: f64,
    #[serde(default = "usd")]
    pub currency: String,
}

fn usd() -> String {
    "USD".into()
}

mod day {
    use serde::{Deserialize, Deserializer};
    use time::Date;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let s = String::deserialize(d)?;
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        Date::parse(&s, &fmt)
            .map_err(|_| serde::de::Error::custom(format!("date {s:?} is not YYYY-MM-DD")))
    }
}

/// The rows the query answers from, and the page size.
#[derive(Debug, Default)]
pub struct CostState {
    pub rows: Vec<CostRow>,
    /// Rows per answer page (0: the default 1000).
    pub page_rows: usize,
}

impl CostState {
    /// The actual cost under `scope` (an id prefix ending in `/`) from the first of `today`'s month
    /// to `today`, and its currency (USD without rows).
    pub fn month_to_date(&self, scope: &str, today: Date) -> (f64, String) {
        let from = today.replace_day(1).unwrap_or(today);
        let scope = scope.to_ascii_lowercase();
        let rows = self.rows.iter().filter(|r| {
            r.resource_id.to_ascii_lowercase().starts_with(&scope)
                && r.date >= from
                && r.date <= today
        });
        let mut currency = None;
        let total = rows
            .inspect(|r| currency = currency.take().or(Some(r.currency.clone())))
            .map(|r| r.amount)
            .sum();
        (total, currency.unwrap_or_else(usd))
    }
}

fn bad(message: impl Into<String>) -> ArmError {
    ArmError::bad_request("BadRequest", message)
}

/// The part of a resource id a dimension names (lower case).
fn dimension(row: &CostRow, name: &str) -> Option<String> {
    let id = row.resource_id.to_ascii_lowercase();
    let segs: Vec<&str> = id.split('/').collect();
    match name.to_ascii_lowercase().as_str() {
        "resourceid" => Some(id.clone()),
        "resourcegroup" | "resourcegroupname" => segs.get(4).map(|s| (*s).to_owned()),
        "resourcetype" => Some(format!("{}/{}", segs.get(6)?, segs.get(7)?)),
        _ => None,
    }
}

/// Evaluate a query filter on a row.
fn matches(f: &Value, row: &CostRow) -> bool {
    if let Some(all) = f["and"].as_array() {
        return all.iter().all(|g| matches(g, row));
    }
    if let Some(any) = f["or"].as_array() {
        return any.iter().any(|g| matches(g, row));
    }
    if f["not"].is_object() {
        return !matches(&f["not"], row);
    }
    let d = &f["dimensions"];
    let Some(name) = d["name"].as_str() else {
        return false; // tags and other kinds: the mock records none
    };
    let Some(value) = dimension(row, name) else {
        return false;
    };
    d["values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .any(|v| v.eq_ignore_ascii_case(&value))
}

/// The window of the request, in whole days.
fn window(body: &Value, today: Date) -> Result<(Date, Date), ArmError> {
    let frame = body["timeframe"].as_str().unwrap_or_default();
    let first = today.replace_day(1).unwrap_or(today);
    let last_month_end = first.previous_day().unwrap_or(first);
    let last_month = last_month_end.replace_day(1).unwrap_or(last_month_end);
    Ok(match frame.to_ascii_lowercase().as_str() {
        "custom" => {
            let day = |k: &str| {
                let s = body["timePeriod"][k].as_str().unwrap_or_default();
                let fmt = time::macros::format_description!("[year]-[month]-[day]");
                Date::parse(s.get(..10).unwrap_or_default(), &fmt)
                    .map_err(|_| bad(format!("timePeriod.{k} '{s}' is not a valid date time.")))
            };
            let (from, to) = (day("from")?, day("to")?);
            if to < from {
                return Err(bad("timePeriod.to must not be before timePeriod.from."));
            }
            (from, to)
        }
        "monthtodate" | "billingmonthtodate" => (first, today),
        "weektodate" => (
            today - time::Duration::days(i64::from(today.weekday().number_days_from_sunday())),
            today,
        ),
        "thelastmonth" | "thelastbillingmonth" => (last_month, last_month_end),
        _ => return Err(bad(format!("Timeframe '{frame}' is not supported."))),
    })
}

/// POST the query.
pub fn query(world: &mut World, req: &Req, scope: &str) -> Result<Reply, ArmError> {
    if req.method != "POST" {
        return Err(super::postgres::method_not_allowed());
    }
    let body = &req.body;
    let kind = body["type"].as_str().unwrap_or_default();
    if !["Usage", "ActualCost", "AmortizedCost"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(kind))
    {
        return Err(bad(format!("Query type '{kind}' is not supported.")));
    }
    let (from, to) = window(body, req.now.date())?;
    let ds = &body["dataset"];
    let daily = match ds["granularity"].as_str().unwrap_or("None") {
        g if g.eq_ignore_ascii_case("Daily") => true,
        g if g.eq_ignore_ascii_case("None") => false,
        g => return Err(bad(format!("Granularity '{g}' is not supported."))),
    };
    let mut cost_name = "PreTaxCost".to_owned();
    if let Some(aggs) = ds["aggregation"].as_object() {
        for (alias, a) in aggs {
            let name = a["name"].as_str().unwrap_or_default();
            let sum = a["function"].as_str() == Some("Sum");
            if !sum || !["PreTaxCost", "Cost"].contains(&name) {
                return Err(bad(format!(
                    "Aggregation '{alias}' must be Sum of PreTaxCost or Cost."
                )));
            }
            cost_name = name.to_owned();
        }
    }
    let groups: Vec<String> = ds["grouping"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| g["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    for g in &groups {
        if ![
            "ResourceId",
            "ResourceGroup",
            "ResourceGroupName",
            "ResourceType",
        ]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(g))
        {
            return Err(bad(format!("Grouping by '{g}' is not supported.")));
        }
    }
    let prefix = format!("{}/", scope.trim_end_matches('/').to_ascii_lowercase());
    let filter = &ds["filter"];
    // Sum per (groups, day, currency), in a stable order.
    let mut sums: BTreeMap<(Vec<String>, Option<i64>, String), f64> = BTreeMap::new();
    for r in world.costs.rows.iter().filter(|r| {
        r.resource_id.to_ascii_lowercase().starts_with(&prefix)
            && r.date >= from
            && r.date <= to
            && (filter.is_null() || matches(filter, r))
    }) {
        let key: Vec<String> = groups
            .iter()
            .map(|g| dimension(r, g).unwrap_or_default())
            .collect();
        let day = daily.then(|| {
            i64::from(r.date.year()) * 10_000
                + i64::from(u8::from(r.date.month())) * 100
                + i64::from(r.date.day())
        });
        *sums.entry((key, day, r.currency.clone())).or_default() += r.amount;
    }
    let mut columns = vec![json!({"name": cost_name, "type": "Number"})];
    columns.extend(groups.iter().map(|g| json!({"name": g, "type": "String"})));
    if daily {
        columns.push(json!({"name": "UsageDate", "type": "Number"}));
    }
    columns.push(json!({"name": "Currency", "type": "String"}));
    let rows: Vec<Value> = sums
        .into_iter()
        .map(|((key, day, currency), amount)| {
            let mut row = vec![json!(amount)];
            row.extend(key.into_iter().map(Value::from));
            row.extend(day.map(Value::from));
            row.push(json!(currency));
            Value::Array(row)
        })
        .collect();
    let page = match world.costs.page_rows {
        0 => PAGE_ROWS,
        n => n,
    };
    let skip: usize = req
        .query
        .split('&')
        .find_map(|kv| kv.strip_prefix("$skiptoken="))
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let next = (skip + page < rows.len()).then(|| {
        format!(
            "{}{scope}/providers/{TYPE}?api-version={}&$skiptoken={}",
            req.base.trim_end_matches('/'),
            req.api_version,
            skip + page
        )
    });
    let name = guid(world.next_seq(), 0xc057);
    Ok(Reply::json(
        200,
        json!({
            "id": format!("{scope}/providers/{TYPE}/{name}"),
            "name": name,
            "type": TYPE,
            "properties": {
                "nextLink": next,
                "columns": columns,
                "rows": rows.into_iter().skip(skip).take(page).collect::<Vec<_>>(),
            }
        }),
    ))
}

impl Inner {
    /// Replace every cost row.
    pub fn set_costs(&self, rows: Vec<CostRow>) {
        self.lock().world.costs.rows = rows;
    }
}

/// `POST /_mock/costs`: add one row or a list of rows; `{"pageRows": n}` sets the answer's page
/// size. `DELETE /_mock/costs` removes every row.
pub fn control_routes() -> Router<std::sync::Arc<Inner>> {
    Router::new().route("/_mock/costs", post(add).delete(clear))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Added {
    Page {
        #[serde(rename = "pageRows")]
        page_rows: usize,
    },
    One(CostRow),
    Many(Vec<CostRow>),
}

async fn add(State(inner): State<std::sync::Arc<Inner>>, Json(v): Json<Value>) -> Response {
    let added = match serde_json::from_value::<Added>(v) {
        Ok(a) => a,
        Err(e) => {
            let msg = format!("expected {{resourceId, date (YYYY-MM-DD), amount, currency}}, a list of them, or {{pageRows}}: {e}");
            return (StatusCode::BAD_REQUEST, Json(json!({"error": msg}))).into_response();
        }
    };
    let mut s = inner.lock();
    match added {
        Added::Page { page_rows } => s.world.costs.page_rows = page_rows,
        Added::One(r) => s.world.costs.rows.push(r),
        Added::Many(rs) => s.world.costs.rows.extend(rs),
    }
    Json(json!({"rows": s.world.costs.rows.len()})).into_response()
}

async fn clear(State(inner): State<std::sync::Arc<Inner>>) -> Json<Value> {
    inner.lock().world.costs.rows.clear();
    Json(json!({"rows": 0}))
}
