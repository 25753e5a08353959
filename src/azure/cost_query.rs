//! The Cost Management query API (api-version 2025-03-01, the newest stable):
//! `POST {scope}/providers/Microsoft.CostManagement/query` for the actual cost of some resources
//! over a custom window, summed. The request goes through the same pipeline as every ARM call
//! (client budget, counters, the pass meter, error capture); Cost Management's own quota (QPU per
//! tenant and scope) is not modelled client-side: a 429 from it is obeyed through Retry-After like
//! any other (docs/costs.md).
//!
//! The answer is a table: `columns` (name, type) and `rows`. It is read by column name, never by
//! position, and `nextLink` pages are followed (the same body is POSTed to each).

use azure_core::Method;
use serde::Deserialize;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::error::ArmError;
use super::Arm;

pub const API_VERSION: &str = "2025-03-01";
/// The aggregation's alias in the request.
const ALIAS: &str = "totalCost";
/// The cost column names the service may answer for the aggregation, in order of preference.
const COST_COLUMNS: &[&str] = &["PreTaxCost", "Cost", ALIAS, "CostUSD"];
/// What the total is reported in when the service sends no row (no cost in the window).
pub const NO_ROWS_CURRENCY: &str = "USD";
/// A bound on pages, so that a service that keeps answering a nextLink cannot loop us.
const MAX_PAGES: usize = 100;

/// What to ask: the actual cost of `resource_ids` (all of the scope's when empty) within
/// `scope` (`/subscriptions/{s}` or `/subscriptions/{s}/resourceGroups/{rg}`), from `from` to
/// `to` (the service counts whole days, both ends included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CostQuery {
    pub scope: String,
    pub resource_ids: Vec<String>,
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
}

/// The summed cost and its currency.
#[derive(Clone, Debug, PartialEq)]
pub struct CostTotal {
    pub amount: f64,
    pub currency: String,
}

/// The query's answer (also what the contract test parses the official example into).
#[derive(Deserialize, Debug)]
pub struct QueryResult {
    pub properties: Table,
}

/// The answer's table: columns by name and type, rows of values, the next page.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Table {
    #[serde(default)]
    pub columns: Vec<Column>,
    #[serde(default)]
    pub rows: Vec<Vec<Value>>,
    #[serde(default)]
    pub next_link: Option<String>,
}

#[derive(Deserialize, Debug)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

fn stamp(t: OffsetDateTime) -> Result<String, ArmError> {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .map_err(|e| ArmError::Decode(format!("cost query time: {e}")))
}

/// The request body: ActualCost over a custom window, the cost summed per resource id.
pub fn query_body(q: &CostQuery) -> Result<Value, ArmError> {
    let mut dataset = json!({
        "granularity": "None",
        "aggregation": { ALIAS: {"name": "PreTaxCost", "function": "Sum"} },
        "grouping": [{"type": "Dimension", "name": "ResourceId"}],
    });
    if !q.resource_ids.is_empty() {
        dataset["filter"] = json!({"dimensions": {
            "name": "ResourceId", "operator": "In", "values": q.resource_ids,
        }});
    }
    Ok(json!({
        "type": "ActualCost",
        "timeframe": "Custom",
        "timePeriod": {"from": stamp(q.from)?, "to": stamp(q.to)?},
        "dataset": dataset,
    }))
}

fn column(cols: &[Column], names: &[&str]) -> Option<usize> {
    names
        .iter()
        .find_map(|n| cols.iter().position(|c| c.name.eq_ignore_ascii_case(n)))
}

/// Add one page's rows to the total (by column name). Rows in another currency than the first
/// seen are refused: a sum across currencies means nothing.
fn add_page(t: &Table, total: &mut Option<CostTotal>) -> Result<(), ArmError> {
    if t.rows.is_empty() {
        return Ok(());
    }
    let cost = column(&t.columns, COST_COLUMNS)
        .ok_or_else(|| ArmError::Decode("cost query: no cost column in the answer".into()))?;
    let currency = column(&t.columns, &["Currency"]);
    for row in &t.rows {
        let amount = row
            .get(cost)
            .and_then(Value::as_f64)
            .ok_or_else(|| ArmError::Decode(format!("cost query: row without a cost: {row:?}")))?;
        let unit = currency
            .and_then(|i| row.get(i))
            .and_then(Value::as_str)
            .unwrap_or(NO_ROWS_CURRENCY);
        match total {
            None => {
                *total = Some(CostTotal {
                    amount,
                    currency: unit.to_owned(),
                })
            }
            Some(s) if s.currency.eq_ignore_ascii_case(unit) => s.amount += amount,
            Some(s) => {
                return Err(ArmError::Decode(format!(
                    "cost query: rows in {} and {unit}",
                    s.currency
                )))
            }
        }
    }
    Ok(())
}

impl Arm {
    /// The actual cost of the query's resources over its window, summed.
    pub async fn query_cost(&self, q: &CostQuery) -> Result<CostTotal, ArmError> {
        let body = query_body(q)?;
        let scope = format!("/{}", q.scope.trim_matches('/'));
        let mut url = Some(format!(
            "{}{scope}/providers/Microsoft.CostManagement/query?api-version={API_VERSION}",
            self.endpoint.as_str().trim_end_matches('/')
        ));
        let mut total = None;
        for _ in 0..MAX_PAGES {
            let Some(u) = url.take() else {
                return Ok(total.unwrap_or(CostTotal {
                    amount: 0.0,
                    currency: NO_ROWS_CURRENCY.into(),
                }));
            };
            let page: QueryResult = self
                .retrying("cost query", || async {
                    let (_, _, bytes) = self.raw_send(Method::Post, &u, Some(&body)).await?;
                    serde_json::from_slice(&bytes)
                        .map_err(|e| ArmError::Decode(format!("cost query: {e}")))
                })
                .await?;
            add_page(&page.properties, &mut total)?;
            url = page.properties.next_link.filter(|l| !l.is_empty());
        }
        Err(ArmError::Decode(format!(
            "cost query: more than {MAX_PAGES} pages"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(v: Value) -> Table {
        serde_json::from_value(v).expect("table")
    }

    #[test]
    fn columns_are_read_by_name_not_position() {
        let t = table(json!({
            "columns": [{"name": "Currency", "type": "String"}, {"name": "ResourceId", "type": "String"}, {"name": "PreTaxCost", "type": "Number"}],
            "rows": [["EUR", "/a", 1.5], ["EUR", "/b", 2.25]]
        }));
        let mut total = None;
        add_page(&t, &mut total).expect("summed");
        assert_eq!(
            total,
            Some(CostTotal {
                amount: 3.75,
                currency: "EUR".into()
            })
        );
    }

    #[test]
    fn mixed_currencies_and_a_missing_cost_column_are_errors() {
        let mut total = None;
        let t = table(
            json!({"columns": [{"name": "Cost"}, {"name": "Currency"}], "rows": [[1.0, "USD"], [2.0, "EUR"]]}),
        );
        assert!(add_page(&t, &mut total).is_err());
        let t = table(json!({"columns": [{"name": "Currency"}], "rows": [["USD"]]}));
        assert!(add_page(&t, &mut None).is_err());
    }

    #[test]
    fn the_body_filters_by_resource_id_over_a_custom_window() {
        let q = CostQuery {
            scope: "/subscriptions/s/resourceGroups/rg".into(),
            resource_ids: vec!["/x".into()],
            from: time::macros::datetime!(2026-03-01 00:00 UTC),
            to: time::macros::datetime!(2026-03-07 23:59:59 UTC),
        };
        let b = query_body(&q).expect("body");
        assert_eq!(b["type"], "ActualCost");
        assert_eq!(b["timePeriod"]["from"], "2026-03-01T00:00:00Z");
        assert_eq!(b["dataset"]["filter"]["dimensions"]["values"][0], "/x");
        assert_eq!(b["dataset"]["aggregation"]["totalCost"]["function"], "Sum");
    }
}
