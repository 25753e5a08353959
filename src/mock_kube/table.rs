//! The `meta.k8s.io/v1` Table format `kubectl get` asks for, with the type's printer columns.

use serde_json::{json, Value};

use super::jsonpath::select;
use super::types::{Column, ResourceType};

/// Whether the Accept header asks for a Table.
pub fn wants_table(accept: &str) -> bool {
    accept.split(',').next().is_some_and(|first| {
        first.contains("as=Table")
            && first.contains("g=meta.k8s.io")
            && first.contains("v=v1")
            && !first.contains("v=v1beta1")
    })
}

/// How a duration since a timestamp prints (kubectl's short human form).
fn age(ts: &str) -> Option<String> {
    let then =
        time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339).ok()?;
    let secs = (time::OffsetDateTime::now_utc() - then)
        .whole_seconds()
        .max(0);
    Some(match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    })
}

fn cell(obj: &Value, c: &Column) -> Value {
    let found = select(obj, &c.json_path);
    let Some(first) = found.first() else {
        return Value::Null;
    };
    match c.kind.as_str() {
        "date" => first
            .as_str()
            .and_then(age)
            .map_or(Value::Null, Value::String),
        "string" => Value::String(
            found
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(","),
        ),
        _ => (*first).clone(),
    }
}

fn definition(c: &Column) -> Value {
    let format = if c.name == "Name" { "name" } else { "" };
    json!({"name": c.name, "type": c.kind, "format": format, "description": c.description, "priority": c.priority})
}

/// A Table of `objects`; `include` is the `includeObject` parameter (`None`, `Object`, or the
/// default `Metadata`).
pub fn table(t: &ResourceType, objects: &[Value], rv: u64, include: Option<&str>) -> Value {
    let name = Column {
        name: "Name".into(),
        kind: "string".into(),
        json_path: ".metadata.name".into(),
        priority: 0,
        description: "Name must be unique within a namespace.".into(),
    };
    let columns: Vec<&Column> = std::iter::once(&name).chain(&t.columns).collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let cells: Vec<Value> = columns.iter().map(|c| cell(o, c)).collect();
            let object = match include {
                Some("None") => Value::Null,
                Some("Object") => o.clone(),
                _ => json!({
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": o["metadata"].clone(),
                }),
            };
            json!({"cells": cells, "object": object})
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv.to_string()},
        "columnDefinitions": columns.iter().map(|c| definition(c)).collect::<Vec<_>>(),
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_get_accept_header_asks_for_a_table() {
        assert!(wants_table(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
        ));
        assert!(!wants_table("application/json"));
    }

    #[test]
    fn cells_follow_the_columns() {
        let t = &super::super::types::builtins()[0];
        let ns = json!({"metadata": {"name": "a", "creationTimestamp": "2020-01-01T00:00:00Z"}, "status": {"phase": "Active"}});
        let tb = table(t, &[ns], 7, None);
        assert_eq!(tb["rows"][0]["cells"][0], "a");
        assert_eq!(tb["rows"][0]["cells"][1], "Active");
        assert!(tb["rows"][0]["cells"][2].as_str().unwrap().ends_with('d'));
        assert_eq!(tb["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    }
}
