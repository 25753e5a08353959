//! Events: one store for `events.k8s.io/v1` and core `v1` Events, as on a real server. Objects
//! are stored in the `events.k8s.io` shape; core reads and writes are converted field by field
//! (regarding ↔ involvedObject, note ↔ message, …), so what the operator records with
//! `events.k8s.io/v1` is what `kubectl describe` lists through `/api/v1/.../events`.

use serde_json::{Map, Value};

use super::types::ResourceType;

/// (events.k8s.io/v1 name, core v1 name)
const RENAMES: [(&str, &str); 7] = [
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("reportingController", "reportingComponent"),
];

/// Whether the type is the core v1 Event (read and written in the core shape).
pub fn is_core(t: &ResourceType) -> bool {
    t.group.is_empty() && t.plural == "events"
}

fn rename(obj: &Value, to_core: bool) -> Value {
    let Value::Object(m) = obj else {
        return obj.clone();
    };
    let mut out = Map::new();
    for (k, v) in m {
        let name = RENAMES
            .iter()
            .find_map(|(ev, core)| match to_core {
                true if k == ev => Some(*core),
                false if k == core => Some(*ev),
                _ => None,
            })
            .unwrap_or(k);
        out.insert(name.to_owned(), v.clone());
    }
    Value::Object(out)
}

/// A stored event as core v1 shows it.
pub fn to_core(stored: &Value) -> Value {
    rename(stored, true)
}

/// What a write through `t` stores: core events are converted, and Secrets get their
/// `stringData` written into `data`.
pub fn stored(t: &ResourceType, body: Value) -> Value {
    if is_core(t) {
        rename(&body, false)
    } else {
        super::secrets::stored(t, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_two_shapes_convert_both_ways() {
        let ev = json!({"metadata": {"name": "e"}, "regarding": {"kind": "EngramDataPlane", "name": "a"},
                        "note": "Converged", "reason": "Ready", "reportingController": "engram-operator"});
        let core = to_core(&ev);
        assert_eq!(core["involvedObject"]["name"], "a");
        assert_eq!(core["message"], "Converged");
        assert_eq!(core["reportingComponent"], "engram-operator");
        assert!(core.get("note").is_none());
        let t = super::super::types::builtins()
            .into_iter()
            .find(is_core)
            .unwrap();
        assert_eq!(stored(&t, core), ev);
    }
}
