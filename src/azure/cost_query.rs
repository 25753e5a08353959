//! The Cost Management query (`POST {scope}/providers/Microsoft.CostManagement/query`,
//! api-version 2025-03-01): the actual cost of some resources over a custom period, summed with
//! no granularity. A read that takes a body: nothing is written. The answer is a table
//! (`properties.columns`, `properties.rows`); columns are found by name, not position, and pages
//! (`nextLink`) are followed.

use serde::Deserialize;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::error::ArmError;
use super::Arm;
use azure_core::Method;

pub const COST_API_VERSION: &str = "2025-03-01";

/// What to sum.
#[derive(Clone, Debug, PartialEq)]
pub struct CostQuery {
    /// `/subscriptions/{s}` or `/subscriptions/{s}/resourceGroups/{rg}`.
    pub scope: String,
    /// The resources whose cost is summed (the `ResourceId` dimension).
    pub resource_ids: Vec<String>,
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
}

/// The sum, in the billing currency.
#[derive(Clone, Debug, PartialEq)]
pub struct CostTotal {
    pub amount: f64,
    pub currency: String,
}

/// The query's answer (also what the contract test parses the official example into).
#[derive(Deserialize)]
pub struct QueryResult {
    pub properties: Table,
}

/// The answer's table: columns by name, rows of values, the next page.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Table {
    #[serde(default)]
    pub columns: Vec<Column>,
    #[serde(default)]
    pub rows: Vec<Vec<Value>>,
    #[serde(default)]
    pub next_link: Option<String>,
}

#[derive(Deserialize)]
pub struct Column {
    pub name: String,
}

/// The request body of `q`.
pub fn body(q: &CostQuery) -> Result<Value, ArmError> {
    let t = |x: OffsetDateTime| {
        x.format(&Rfc3339)
            .map_err(|e| ArmError::Decode(format!("cost query period: {e}")))
    };
    Ok(json!({
        "type": "ActualCost",
        "timeframe": "Custom",
        "timePeriod": {"from": t(q.from)?, "to": t(q.to)?},
        "dataset": {
            "granularity": "None",
            "aggregation": {"totalCost": {"name": "Cost", "function": "Sum"}},
            "filter": {"dimensions": {"name": "ResourceId", "operator": "In", "values": q.resource_ids}},
        },
    }))
}

/// Add one page's rows to `total` (the cost column is `Cost`, `PreTaxCost` or `totalCost`; the
/// currency column `Currency`, USD when absent). A second currency is an error: sums in two
/// currencies do not add.
fn add_page(table: &Table, total: &mut Option<CostTotal>) -> Result<(), ArmError> {
    let at = |names: &[&str]| {
        table
            .columns
            .iter()
            .position(|c| names.iter().any(|n| c.name.eq_ignore_ascii_case(n)))
    };
    let Some(cost) = at(&["Cost", "PreTaxCost", "totalCost", "CostUSD"]) else {
        return if table.rows.is_empty() {
            Ok(())
        } else {
            Err(ArmError::Decode("cost query: no cost column".into()))
        };
    };
    let currency = at(&["Currency", "BillingCurrency"]);
    for row in &table.rows {
        let amount = row
            .get(cost)
            .and_then(Value::as_f64)
            .ok_or_else(|| ArmError::Decode("cost query: a row without a numeric cost".into()))?;
        let cur = currency
            .and_then(|i| row.get(i))
            .and_then(Value::as_str)
            .unwrap_or("USD")
            .to_owned();
        match total {
            Some(t) if !t.currency.eq_ignore_ascii_case(&cur) => {
                return Err(ArmError::Decode(format!(
                    "cost query: costs in {} and {cur}",
                    t.currency
                )))
            }
            Some(t) => t.amount += amount,
            None => {
                *total = Some(CostTotal {
                    amount,
                    currency: cur,
                })
            }
        }
    }
    Ok(())
}

impl Arm {
    /// The summed actual cost of `q.resource_ids` over the period (0 USD when there is none).
    pub async fn query_cost(&self, q: &CostQuery) -> Result<CostTotal, ArmError> {
        let body = body(q)?;
        let mut url = Some(format!(
            "{}/{}/providers/Microsoft.CostManagement/query?api-version={COST_API_VERSION}",
            self.endpoint.as_str().trim_end_matches('/'),
            q.scope.trim_matches('/')
        ));
        let mut total = None;
        // A bound on pages, so that a service that keeps answering a nextLink cannot loop us.
        for _ in 0..50 {
            let Some(u) = url.take() else { break };
            let table: QueryResult = self
                .retrying("cost query", || async {
                    let (_, _, bytes) = self.raw_send(Method::Post, &u, Some(&body)).await?;
                    serde_json::from_slice(&bytes)
                        .map_err(|e| ArmError::Decode(format!("cost query: {e}")))
                })
                .await?;
            add_page(&table.properties, &mut total)?;
            url = table.properties.next_link.filter(|l| !l.is_empty());
        }
        Ok(total.unwrap_or(CostTotal {
            amount: 0.0,
            currency: "USD".into(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The official `ResourceGroupQuery` example's answer (Azure/azure-rest-api-specs,
    /// specification/cost-management/resource-manager/Microsoft.CostManagement/stable/2025-03-01/
    /// examples/ResourceGroupQuery.json).
    const OFFICIAL: &str = r#"{"name":"9af9459d-441d-4055-9ed0-83d4c4a363fb","type":"microsoft.costmanagement/Query","id":"subscriptions/55312978-ba1b-415c-9304-c4b9c43c0481/resourcegroups/ScreenSharingTest-peer/providers/Microsoft.CostManagement/Query/9af9459d-441d-4055-9ed0-83d4c4a363fb","properties":{"columns":[{"name":"PreTaxCost","type":"Number"},{"name":"ResourceGroup","type":"String"},{"name":"UsageDate","type":"Number"},{"name":"Currency","type":"String"}],"nextLink":null,"rows":[[2.10333307059661,"ScreenSharingTest-peer",20180417,"USD"],[20.10333307059661,"ScreenSharingTest-peer",20180418,"USD"]]}}"#;

    #[test]
    fn the_official_answer_sums_by_column_name() {
        let a: QueryResult = serde_json::from_str(OFFICIAL).unwrap();
        let mut total = None;
        add_page(&a.properties, &mut total).unwrap();
        let t = total.unwrap();
        assert!((t.amount - 22.20666614119322).abs() < 1e-9);
        assert_eq!(t.currency, "USD");
    }

    #[test]
    fn two_currencies_do_not_add() {
        let a: QueryResult = serde_json::from_str(
            r#"{"properties":{"columns":[{"name":"Cost"},{"name":"Currency"}],"rows":[[1.0,"USD"],[2.0,"EUR"]]}}"#,
        )
        .unwrap();
        let e = add_page(&a.properties, &mut None).unwrap_err().to_string();
        assert!(e.contains("USD") && e.contains("EUR"), "{e}");
    }

    #[test]
    fn the_body_asks_actual_cost_of_the_resources_over_the_period() {
        let t = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let b = body(&CostQuery {
            scope: "/subscriptions/s/resourceGroups/rg".into(),
            resource_ids: vec![
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a"
                    .into(),
            ],
            from: t,
            to: t + time::Duration::days(7),
        })
        .unwrap();
        assert_eq!(b["type"], "ActualCost");
        assert_eq!(b["timeframe"], "Custom");
        assert_eq!(b["timePeriod"]["from"], "2023-11-14T22:13:20Z");
        assert_eq!(b["dataset"]["filter"]["dimensions"]["name"], "ResourceId");
    }
}
