//! The Cost Management query (`POST {scope}/providers/Microsoft.CostManagement/query`,
//! api-version 2025-03-01) at a subscription's or a resource group's scope, summing cost rows set
//! through the control API (`POST /_mock/costs`, [`super::MockArm::set_costs`]). It takes the
//! subset the operator sends: `type` ActualCost, AmortizedCost or Usage; `timeframe` Custom with a
//! `timePeriod`, or MonthToDate; `dataset.granularity` None or Daily; one Sum aggregation; a
//! `ResourceId` (or `ResourceGroup`) dimension filter with operator In. The answer has the
//! official example's shape (`properties.columns`, `properties.rows`, `nextLink` null): the
//! aggregation's column (named by its `name`), `UsageDate` (yyyymmdd) when Daily, and `Currency`.
//! Nothing set: no rows.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use time::{Date, OffsetDateTime};

use super::store::{Reply, Req, World};

pub const VERSIONS: &[&str] = &["2025-03-01", "2024-08-01", "2023-11-01"];

/// One day's cost of one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct CostRow {
    /// Lower-case resource id.
    pub resource_id: String,
    pub date: Date,
    pub amount: f64,
    pub currency: String,
}

/// One body of `POST /_mock/costs`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SetCost {
    pub resource_id: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    pub amount: f64,
    #[serde(default = "usd")]
    pub currency: String,
}

fn usd() -> String {
    "USD".into()
}

impl SetCost {
    pub fn row(&self) -> Result<CostRow, String> {
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        let date = Date::parse(&self.date, fmt)
            .map_err(|_| format!("date {:?}: expected YYYY-MM-DD", self.date))?;
        if !self.amount.is_finite() {
            return Err("amount must be a finite number".into());
        }
        if self.resource_id.is_empty() || self.currency.len() != 3 {
            return Err("resourceId is required and currency is 3 letters".into());
        }
        Ok(CostRow {
            resource_id: self.resource_id.to_ascii_lowercase(),
            date,
            amount: self.amount,
            currency: self.currency.to_ascii_uppercase(),
        })
    }
}

/// The service's own error body, as Cost Management answers it.
fn bad(message: impl Into<String>) -> Reply {
    Reply::json(
        400,
        json!({"error": {"code": "BadRequest", "message": message.into()}}),
    )
}

fn day(v: &Value) -> Option<Date> {
    let s = v.as_str()?;
    let t = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok();
    t.map(|t| t.date()).or_else(|| {
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        Date::parse(s.get(..10)?, fmt).ok()
    })
}

/// The query.
pub fn query(world: &World, req: &Req, scope: &str) -> Reply {
    if req.method != "POST" {
        return Reply::json(
            405,
            json!({"error": {"code": "MethodNotAllowed", "message": "The query API takes POST."}}),
        );
    }
    let b = &req.body;
    let kind = b["type"].as_str().unwrap_or_default();
    if !["ActualCost", "AmortizedCost", "Usage"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(kind))
    {
        return bad(format!(
            "Invalid query type '{kind}': expected ActualCost, AmortizedCost or Usage."
        ));
    }
    let today = req.now.date();
    let (from, to) = match b["timeframe"].as_str().unwrap_or_default() {
        t if t.eq_ignore_ascii_case("Custom") => {
            match (day(&b["timePeriod"]["from"]), day(&b["timePeriod"]["to"])) {
                (Some(f), Some(t)) if f <= t => (f, t),
                _ => return bad("A Custom timeframe needs timePeriod.from and timePeriod.to, from not after to."),
            }
        }
        t if t.eq_ignore_ascii_case("MonthToDate") => {
            (today.replace_day(1).unwrap_or(today), today)
        }
        t => {
            return bad(format!(
                "Unsupported timeframe '{t}' (the mock takes Custom and MonthToDate)."
            ))
        }
    };
    let ds = &b["dataset"];
    let daily = match ds["granularity"].as_str().unwrap_or("None") {
        g if g.eq_ignore_ascii_case("Daily") => true,
        g if g.eq_ignore_ascii_case("None") => false,
        g => return bad(format!("Invalid granularity '{g}'.")),
    };
    let column = match ds["aggregation"].as_object() {
        Some(a) if a.len() == 1 => {
            let agg = a.values().next().cloned().unwrap_or(Value::Null);
            if !agg["function"]
                .as_str()
                .is_some_and(|f| f.eq_ignore_ascii_case("Sum"))
            {
                return bad("The aggregation function must be Sum.");
            }
            agg["name"].as_str().unwrap_or("Cost").to_owned()
        }
        None => "Cost".to_owned(),
        _ => return bad("The mock takes one aggregation."),
    };
    let dim = &ds["filter"]["dimensions"];
    let filter: Option<(String, Vec<String>)> = if dim.is_object() {
        let name = dim["name"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !dim["operator"]
            .as_str()
            .is_some_and(|o| o.eq_ignore_ascii_case("In"))
            || !["resourceid", "resourcegroup", "resourcegroupname"].contains(&name.as_str())
        {
            return bad(
                "The mock filters by the ResourceId or ResourceGroup dimension with operator In.",
            );
        }
        let values = dim["values"]
            .as_array()
            .map(|v| {
                v.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_ascii_lowercase)
                    .collect()
            })
            .unwrap_or_default();
        Some((name, values))
    } else {
        None
    };
    let scope_l = scope.to_ascii_lowercase();
    let mut sums: BTreeMap<(Option<Date>, String), f64> = BTreeMap::new();
    for r in &world.costs {
        let in_scope = r.resource_id.starts_with(&format!("{scope_l}/"));
        let matched = match &filter {
            None => true,
            Some((n, values)) if n == "resourceid" => values.contains(&r.resource_id),
            Some((_, values)) => values
                .iter()
                .any(|g| r.resource_id.contains(&format!("/resourcegroups/{g}/"))),
        };
        if in_scope && matched && r.date >= from && r.date <= to {
            *sums
                .entry((daily.then_some(r.date), r.currency.clone()))
                .or_default() += r.amount;
        }
    }
    let mut columns = vec![json!({"name": column, "type": "Number"})];
    if daily {
        columns.push(json!({"name": "UsageDate", "type": "Number"}));
    }
    columns.push(json!({"name": "Currency", "type": "String"}));
    let rows: Vec<Value> = sums
        .into_iter()
        .map(|((d, currency), amount)| match d {
            Some(d) => json!([
                amount,
                i64::from(d.year()) * 10_000
                    + i64::from(u8::from(d.month())) * 100
                    + i64::from(d.day()),
                currency
            ]),
            None => json!([amount, currency]),
        })
        .collect();
    Reply::json(
        200,
        json!({
            "id": format!("{scope}/providers/Microsoft.CostManagement/query/{:016x}", req.now.unix_timestamp_nanos() as u64),
            "name": format!("{:016x}", req.now.unix_timestamp_nanos() as u64),
            "type": "Microsoft.CostManagement/query",
            "properties": {"nextLink": null, "columns": columns, "rows": rows},
        }),
    )
}
