//! The one aggregation the mock's Resource Graph serves:
//! `| summarize NAME = make_list(EXPR) by COLUMN [, COLUMN …]`, as the last operator of a query,
//! where EXPR is a column of the `resources` table or a call of `pack_array(…)`, `tolower(…)`,
//! `tostring(…)` or `hash(…)` on such expressions. That is what the operator's fast tier sends to
//! fingerprint a thousand resources in one page (docs/mock-arm.md, "Resource Graph").
//!
//! As in ARG, a summarized answer is "simplified first page only": it is never paged, and rows
//! past `$top` are dropped with `resultTruncated: "true"`.
//!
//! `hash()` here is FNV-1a 64 of the value's text, as a signed long; Kusto's is xxHash64. The
//! numbers differ, but all a caller may rely on is the same text giving the same number.

use serde_json::{Map, Value};

/// An expression of the subset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Column(&'static str),
    Call(Func, Vec<Expr>),
}

/// The scalar functions served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    PackArray,
    ToLower,
    ToString,
    Hash,
}

impl Func {
    pub fn named(name: &str) -> Option<Self> {
        Some(match name {
            "pack_array" => Self::PackArray,
            "tolower" => Self::ToLower,
            "tostring" => Self::ToString,
            "hash" => Self::Hash,
            _ => return None,
        })
    }

    /// How many arguments it takes (None: any number, at least one).
    pub fn arity(self) -> Option<usize> {
        match self {
            Self::PackArray => None,
            _ => Some(1),
        }
    }
}

/// `summarize NAME = make_list(EXPR) by COLUMNS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summarize {
    pub name: String,
    pub expr: Expr,
    pub by: Vec<&'static str>,
}

/// KQL's `tostring`: a string as itself, null as empty, anything else as its JSON text (the
/// mock's JSON objects keep their keys sorted, so the text is stable).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl Expr {
    /// The value of the expression on one row.
    pub fn eval(&self, row: &Map<String, Value>) -> Value {
        match self {
            Expr::Column(c) => row.get(*c).cloned().unwrap_or(Value::Null),
            Expr::Call(f, args) => {
                let mut vals = args.iter().map(|a| a.eval(row));
                match f {
                    Func::PackArray => Value::Array(vals.collect()),
                    Func::ToLower => {
                        Value::String(text(&vals.next().unwrap_or_default()).to_lowercase())
                    }
                    Func::ToString => Value::String(text(&vals.next().unwrap_or_default())),
                    Func::Hash => {
                        let h = crate::sources::assign::fnv1a64(
                            text(&vals.next().unwrap_or_default()).as_bytes(),
                        );
                        Value::from(i64::from_ne_bytes(h.to_ne_bytes()))
                    }
                }
            }
        }
    }
}

impl Summarize {
    /// The summarized rows, one per distinct value of the `by` columns, in the order each first
    /// appears.
    pub fn apply(&self, rows: &[Map<String, Value>]) -> Vec<Map<String, Value>> {
        let mut out: Vec<Map<String, Value>> = Vec::new();
        let mut index: std::collections::HashMap<Vec<String>, usize> = Default::default();
        for row in rows {
            let key: Vec<String> = self
                .by
                .iter()
                .map(|c| text(row.get(*c).unwrap_or(&Value::Null)))
                .collect();
            let at = *index.entry(key).or_insert_with(|| {
                let mut group: Map<String, Value> = self
                    .by
                    .iter()
                    .map(|c| {
                        let v = row.get(*c).cloned().unwrap_or(Value::Null);
                        ((*c).to_owned(), v)
                    })
                    .collect();
                group.insert(self.name.clone(), Value::Array(Vec::new()));
                out.push(group);
                out.len() - 1
            });
            if let Some(Value::Array(list)) = out[at].get_mut(&self.name) {
                list.push(self.expr.eval(row));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(id: &str, rg: &str, sku: &str) -> Map<String, Value> {
        match json!({"id": id, "resourceGroup": rg, "sku": {"name": sku}, "tags": {}}) {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn rows_group_by_their_columns_and_hash_their_text() {
        let s = Summarize {
            name: "f".into(),
            expr: Expr::Call(
                Func::PackArray,
                vec![
                    Expr::Call(Func::ToLower, vec![Expr::Column("id")]),
                    Expr::Call(
                        Func::Hash,
                        vec![Expr::Call(Func::ToString, vec![Expr::Column("sku")])],
                    ),
                ],
            ),
            by: vec!["resourceGroup"],
        };
        let rows = [
            row("/A", "rg1", "x"),
            row("/B", "rg2", "x"),
            row("/C", "rg1", "y"),
        ];
        let out = s.apply(&rows);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0]["resourceGroup"], "rg1");
        let list = out[0]["f"].as_array().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0][0], "/a");
        // The same text, the same number; another text, another.
        assert_eq!(out[1]["f"][0][1], list[0][1]);
        assert_ne!(list[1][1], list[0][1]);
        assert!(list[0][1].is_i64());
    }
}
