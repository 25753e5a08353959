//! Object metadata as the API server keeps it: the fields it owns on create and update,
//! `generation`, finalizers and `deletionTimestamp`.

use serde_json::{json, Value};

use super::errors::KubeError;
use super::store::Part;
use super::types::ResourceType;

/// Now, as Kubernetes writes times (RFC 3339, whole seconds, UTC).
pub fn now() -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::now_utc()
        .format(fmt)
        .unwrap_or_default()
}

fn uid() -> String {
    let hex = |n: usize| -> String {
        (0..n)
            .map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0'))
            .collect()
    };
    format!("{}-{}-{}-{}-{}", hex(8), hex(4), hex(4), hex(4), hex(12))
}

/// The object's name.
pub fn name(obj: &Value) -> &str {
    obj["metadata"]["name"].as_str().unwrap_or_default()
}

/// The object's finalizers.
pub fn finalizers(obj: &Value) -> Vec<&str> {
    obj["metadata"]["finalizers"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Whether the object carries a deletionTimestamp.
pub fn deleting(obj: &Value) -> bool {
    obj["metadata"]
        .get("deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

/// The object with the `kind` and `apiVersion` of the type it is read through.
pub fn with_type(obj: &Value, t: &ResourceType) -> Value {
    let mut o = if super::events::is_core(t) {
        super::events::to_core(obj)
    } else {
        obj.clone()
    };
    o["apiVersion"] = json!(t.api_version());
    o["kind"] = json!(t.kind);
    o
}

fn check_type(t: &ResourceType, body: &Value) -> Result<(), KubeError> {
    for (field, want) in [("kind", t.kind.clone()), ("apiVersion", t.api_version())] {
        if let Some(got) = body.get(field).and_then(Value::as_str) {
            if got != want {
                return Err(KubeError::BadRequest(format!(
                    "the API version in the data ({got}) does not match the expected API version ({want})"
                )));
            }
        }
    }
    Ok(())
}

/// A new object: name (or generateName), namespace, uid, creationTimestamp, generation 1.
pub fn for_create(t: &ResourceType, ns: &str, body: Value) -> Result<Value, KubeError> {
    if !body.is_object() || !body["metadata"].is_object() {
        return Err(KubeError::BadRequest(
            "the body must be an object with metadata".into(),
        ));
    }
    check_type(t, &body)?;
    let mut obj = body;
    let m = &mut obj["metadata"];
    if name_of(m).is_empty() {
        match m["generateName"].as_str() {
            Some(prefix) if !prefix.is_empty() => {
                let suffix: String = (0..5).map(|_| fastrand::alphanumeric().to_ascii_lowercase()).collect();
                m["name"] = json!(format!("{prefix}{suffix}"));
            }
            _ => {
                return Err(KubeError::Invalid(format!(
                    "{} \"\" is invalid: metadata.name: Required value: name or generateName is required",
                    t.kind
                )))
            }
        }
    }
    if t.namespaced {
        match m["namespace"].as_str() {
            Some(n) if n != ns => {
                return Err(KubeError::BadRequest(
                    "the namespace of the provided object does not match the namespace sent on the request".into(),
                ))
            }
            _ => m["namespace"] = json!(ns),
        }
    } else if let Some(o) = m.as_object_mut() {
        o.remove("namespace");
    }
    m["uid"] = json!(uid());
    m["creationTimestamp"] = json!(now());
    // Custom resources and CRDs have a generation; the built-in kinds served here do not.
    if t.custom || t.group == "apiextensions.k8s.io" {
        m["generation"] = json!(1);
    }
    if let Some(o) = m.as_object_mut() {
        for owned in [
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "resourceVersion",
            "selfLink",
        ] {
            o.remove(owned);
        }
    }
    if t.status_subresource && !t.group.is_empty() {
        if let Some(o) = obj.as_object_mut() {
            o.remove("status");
        }
    }
    obj["apiVersion"] = json!(t.api_version());
    obj["kind"] = json!(t.kind);
    Ok(obj)
}

fn name_of(m: &Value) -> &str {
    m["name"].as_str().unwrap_or_default()
}

/// Everything but metadata and (with a status subresource) status: what bumps the generation.
fn spec_part(t: &ResourceType, obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("metadata");
        m.remove("apiVersion");
        m.remove("kind");
        if t.status_subresource {
            m.remove("status");
        }
    }
    o
}

/// The object a PUT (or patch) of `body` over `old` leaves: the server's fields kept, status or
/// everything but status kept according to `part`, generation bumped on a spec change.
pub fn for_update(
    t: &ResourceType,
    old: &Value,
    body: Value,
    part: Part,
) -> Result<Value, KubeError> {
    if !body.is_object() {
        return Err(KubeError::BadRequest("the body must be an object".into()));
    }
    check_type(t, &body)?;
    let old_name = name(old);
    let sent_name = body["metadata"]["name"].as_str().unwrap_or(old_name);
    if sent_name != old_name {
        return Err(KubeError::BadRequest(format!(
            "the name of the object ({sent_name}) does not match the name on the URL ({old_name})"
        )));
    }
    let old_rv = &old["metadata"]["resourceVersion"];
    if let Some(rv) = body["metadata"]["resourceVersion"].as_str() {
        if Some(rv) != old_rv.as_str() {
            return Err(KubeError::Conflict(format!(
                "Operation cannot be fulfilled on {} \"{old_name}\": the object has been modified; please apply your changes to the latest version and try again",
                t.qualified()
            )));
        }
    }
    let body_managed = body["metadata"].get("managedFields").cloned();
    let mut next = match part {
        Part::Status => {
            let mut n = old.clone();
            match body.get("status") {
                Some(s) => n["status"] = s.clone(),
                None => {
                    if let Some(o) = n.as_object_mut() {
                        o.remove("status");
                    }
                }
            }
            n
        }
        Part::Main => {
            let mut n = body;
            if n["metadata"].is_null() {
                n["metadata"] = json!({});
            }
            if t.status_subresource {
                match old.get("status") {
                    Some(s) => n["status"] = s.clone(),
                    None => {
                        if let Some(o) = n.as_object_mut() {
                            o.remove("status");
                        }
                    }
                }
            }
            for owned in [
                "name",
                "namespace",
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "resourceVersion",
                "generation",
            ] {
                match old["metadata"].get(owned) {
                    Some(v) => n["metadata"][owned] = v.clone(),
                    None => {
                        if let Some(m) = n["metadata"].as_object_mut() {
                            m.remove(owned);
                        }
                    }
                }
            }
            n
        }
    };
    // managedFields: as sent (server-side apply sends them), else kept.
    match body_managed {
        Some(mf) => next["metadata"]["managedFields"] = mf,
        None => {
            if let Some(mf) = old["metadata"].get("managedFields") {
                next["metadata"]["managedFields"] = mf.clone();
            }
        }
    }
    next["apiVersion"] = json!(t.api_version());
    next["kind"] = json!(t.kind);
    if old["metadata"].get("generation").is_some() && spec_part(t, &next) != spec_part(t, old) {
        let g = old["metadata"]["generation"].as_i64().unwrap_or(0);
        next["metadata"]["generation"] = json!(g + 1);
    }
    Ok(next)
}

/// What the server adds to a new CRD: its checks on names, and the status that says it is
/// established.
pub fn accept_crd(crd: &mut Value) -> Result<(), KubeError> {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default();
    let plural = spec["names"]["plural"].as_str().unwrap_or_default();
    let want = format!("{plural}.{group}");
    if group.is_empty() || plural.is_empty() || spec["names"]["kind"].as_str().is_none() {
        return Err(KubeError::Invalid(
            "CustomResourceDefinition is invalid: spec.group, spec.names.plural and spec.names.kind are required".into(),
        ));
    }
    if name(crd) != want {
        return Err(KubeError::Invalid(format!(
            "CustomResourceDefinition.apiextensions.k8s.io \"{}\" is invalid: metadata.name: Invalid value: \"{}\": must be spec.names.plural+\".\"+spec.group",
            name(crd),
            name(crd)
        )));
    }
    let stored: Vec<Value> = spec["versions"]
        .as_array()
        .map(|vs| {
            vs.iter()
                .filter(|v| v["storage"].as_bool() == Some(true))
                .map(|v| v["name"].clone())
                .collect()
        })
        .unwrap_or_default();
    let condition = |kind: &str, reason: &str| json!({"type": kind, "status": "True", "reason": reason, "message": "", "lastTransitionTime": now()});
    crd["status"] = json!({
        "acceptedNames": spec["names"].clone(),
        "conditions": [condition("NamesAccepted", "NoConflicts"), condition("Established", "InitialNamesAccepted")],
        "storedVersions": stored,
    });
    Ok(())
}
