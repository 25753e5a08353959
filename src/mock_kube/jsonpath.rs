//! The JSONPath subset printer columns use: `.a.b`, `.a[0]`, `.a[*].b` and
//! `.a[?(@.k=="v")].b`.

use serde_json::Value;

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
    All,
    Filter(String, String),
}

fn parse(path: &str) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    let mut rest = path.trim().trim_start_matches('{').trim_end_matches('}');
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end > 0 {
                steps.push(Step::Field(r[..end].to_owned()));
            }
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = &r[..end];
            // A filter may hold `]` only inside quotes; the CRD's do not.
            steps.push(if inner == "*" {
                Step::All
            } else if let Some(f) = inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')')) {
                let (k, v) = f.split_once("==")?;
                Step::Filter(
                    k.trim().to_owned(),
                    v.trim().trim_matches(['"', '\'']).to_owned(),
                )
            } else {
                Step::Index(inner.parse().ok()?)
            });
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}

/// Every value the path selects.
pub fn select<'a>(obj: &'a Value, path: &str) -> Vec<&'a Value> {
    let Some(steps) = parse(path) else {
        return vec![];
    };
    let mut cur = vec![obj];
    for step in &steps {
        cur = cur
            .into_iter()
            .flat_map(|v| -> Vec<&Value> {
                match step {
                    Step::Field(f) => v.get(f).into_iter().collect(),
                    Step::Index(i) => v.get(*i).into_iter().collect(),
                    Step::All => v.as_array().map(|a| a.iter().collect()).unwrap_or_default(),
                    Step::Filter(k, want) => v
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter(|e| match &e[k.as_str()] {
                                    Value::String(s) => s == want,
                                    other => {
                                        serde_json::from_str::<Value>(want).ok().as_ref()
                                            == Some(other)
                                    }
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                }
            })
            .collect();
    }
    cur
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn printer_column_paths() {
        let o = json!({"spec": {"environment": "dev"}, "status": {"conditions": [
            {"type": "Progressing", "status": "False"},
            {"type": "Ready", "status": "True", "reason": "InSync"}]}});
        assert_eq!(select(&o, ".spec.environment"), [&json!("dev")]);
        assert_eq!(
            select(&o, r#".status.conditions[?(@.type=="Ready")].reason"#),
            [&json!("InSync")]
        );
        assert_eq!(
            select(&o, ".status.conditions[0].type"),
            [&json!("Progressing")]
        );
        assert_eq!(select(&o, ".status.conditions[*].status").len(), 2);
        assert!(select(&o, ".status.driftCount").is_empty());
    }
}
