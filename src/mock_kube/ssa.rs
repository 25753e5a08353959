//! Server-side apply (`application/apply-patch+yaml`): field ownership per manager in
//! `metadata.managedFields` (FieldsV1), conflicts, `force`, and removal of the fields a manager
//! stops applying when no one else owns them. Lists are atomic (owned whole), as in a CRD without
//! `x-kubernetes-list-type`. Other writes (PUT and patches) move the fields they change to the
//! writer's `Update` entry, and fields they remove leave every manager, as on a real server.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::errors::KubeError;
use super::meta;
use super::store::Part;
use super::types::ResourceType;

type Path = Vec<String>;
type Fields = BTreeSet<Path>;

/// The media type.
pub const MEDIA_TYPE: &str = "application/apply-patch+yaml";

/// What one apply asks.
pub struct Apply<'a> {
    pub manager: &'a str,
    pub force: bool,
    pub part: Part,
}

/// Parse the body: YAML, or JSON (which kube-rs sends).
pub fn parse(body: &[u8]) -> Result<Value, KubeError> {
    serde_json::from_slice(body).or_else(|_| {
        let text = std::str::from_utf8(body)
            .map_err(|_| KubeError::BadRequest("the apply body is not UTF-8".into()))?;
        serde_saphyr::from_str(text)
            .map_err(|e| KubeError::BadRequest(format!("the apply body is not YAML: {e}")))
    })
}

/// The leaf paths of an applied configuration (objects are walked, anything else is a leaf).
fn leaves(v: &Value, prefix: &mut Path, out: &mut Fields) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, c) in m {
                prefix.push(k.clone());
                leaves(c, prefix, out);
                prefix.pop();
            }
        }
        _ => {
            out.insert(prefix.clone());
        }
    }
}

fn to_tree(fields: &Fields) -> Value {
    let mut root = Map::new();
    for p in fields {
        let mut cur = &mut root;
        for seg in p {
            let next = cur
                .entry(format!("f:{seg}"))
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(m) = next else { break };
            cur = m;
        }
    }
    Value::Object(root)
}

fn from_tree(v: &Value, prefix: &mut Path, out: &mut Fields) {
    let Some(m) = v.as_object() else { return };
    let children: Vec<(&String, &Value)> = m.iter().filter(|(k, _)| k.starts_with("f:")).collect();
    if children.is_empty() && !prefix.is_empty() {
        out.insert(prefix.clone());
    }
    for (k, c) in children {
        prefix.push(k[2..].to_owned());
        from_tree(c, prefix, out);
        prefix.pop();
    }
}

/// One `managedFields` entry.
struct Entry {
    raw: Value,
    manager: String,
    subresource: String,
    fields: Fields,
}

fn entries(obj: &Value) -> Vec<Entry> {
    obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let mut fields = Fields::new();
            from_tree(&e["fieldsV1"], &mut Vec::new(), &mut fields);
            Entry {
                raw: e.clone(),
                manager: e["manager"].as_str().unwrap_or_default().to_owned(),
                subresource: e["subresource"].as_str().unwrap_or_default().to_owned(),
                fields,
            }
        })
        .collect()
}

/// The `managedFields` list of these entries (those still owning something).
fn managed(entries: &[Entry]) -> Vec<Value> {
    entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut raw = e.raw.clone();
            raw["fieldsV1"] = to_tree(&e.fields);
            raw
        })
        .collect()
}

fn at<'a>(v: &'a Value, p: &Path) -> Option<&'a Value> {
    p.iter().try_fold(v, |cur, seg| cur.get(seg))
}

/// Remove a path, then the objects it leaves empty (up to, not including, the root's children).
fn remove(v: &mut Value, p: &Path) {
    let Some((last, parents)) = p.split_last() else {
        return;
    };
    if let Some(Value::Object(m)) = parents.iter().try_fold(&mut *v, |cur, s| cur.get_mut(s)) {
        m.remove(last);
        if m.is_empty() && parents.len() > 1 {
            remove(v, &parents.to_vec());
        }
    }
}

fn merge(live: &mut Value, applied: &Value) {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) => {
            for (k, v) in a {
                match l.get_mut(k) {
                    Some(existing) if v.is_object() => merge(existing, v),
                    _ => {
                        l.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (l, a) => *l = a.clone(),
    }
}

fn conflict_message(conflicts: &[(String, String)]) -> String {
    let n = conflicts.len();
    let mut managers: Vec<&str> = conflicts.iter().map(|(m, _)| m.as_str()).collect();
    managers.dedup();
    if n == 1 {
        let (m, p) = &conflicts[0];
        return format!("Apply failed with 1 conflict: conflict with \"{m}\": {p}");
    }
    let lines: Vec<String> = managers
        .iter()
        .map(|m| {
            let paths: Vec<String> = conflicts
                .iter()
                .filter(|(cm, _)| cm == m)
                .map(|(_, p)| format!("- {p}"))
                .collect();
            format!("conflicts with \"{m}\":\n{}", paths.join("\n"))
        })
        .collect();
    format!("Apply failed with {n} conflicts: {}", lines.join("\n"))
}

/// The part of an object whose fields managers own: without apiVersion and kind, with only the
/// metadata users set, and only the status (or everything but the status) when the kind has a
/// status subresource and the request is for the other part.
fn scope(t: &ResourceType, part: Part, mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.remove("apiVersion");
        m.remove("kind");
        match part {
            Part::Status => m.retain(|k, _| k == "status"),
            Part::Main if t.status_subresource => {
                m.remove("status");
            }
            Part::Main => {}
        }
        if let Some(md) = m.get_mut("metadata").and_then(Value::as_object_mut) {
            md.retain(|k, _| {
                matches!(
                    k.as_str(),
                    "labels" | "annotations" | "finalizers" | "ownerReferences"
                )
            });
        }
        if m.get("metadata")
            .is_some_and(|md| md.as_object().is_some_and(Map::is_empty))
        {
            m.remove("metadata");
        }
    }
    v
}

/// Ownership after a write that is not an apply (PUT, or a JSON, merge or strategic patch), as a
/// real server keeps it: every manager loses the fields this write changed or removed, and the
/// writer's `Update` entry gains the fields it changed or added. A write that changes nothing
/// leaves `managedFields` as it was. `managedFields` the request itself set are kept as sent.
pub fn record_update(t: &ResourceType, old: &Value, next: &mut Value, manager: &str, part: Part) {
    let sent = next["metadata"].get("managedFields");
    if sent.is_some_and(|m| Some(m) != old["metadata"].get("managedFields")) {
        return;
    }
    let (was, now) = (scope(t, part, old.clone()), scope(t, part, next.clone()));
    let mut paths = Fields::new();
    leaves(&was, &mut Vec::new(), &mut paths);
    leaves(&now, &mut Vec::new(), &mut paths);
    paths.retain(|p| !p.is_empty() && at(&was, p) != at(&now, p));
    if paths.is_empty() {
        return;
    }
    let sub = if part == Part::Status { "status" } else { "" };
    let mut all = entries(old);
    for e in &mut all {
        e.fields.retain(|p| at(&was, p) == at(&now, p));
    }
    let gained: Fields = paths
        .into_iter()
        .filter(|p| at(&now, p).is_some())
        .collect();
    let mine = all.iter().position(|e| {
        e.manager == manager && e.subresource == sub && e.raw["operation"] == "Update"
    });
    match mine {
        Some(i) => {
            all[i].fields.extend(gained);
            all[i].raw["time"] = json!(meta::now());
        }
        None if !manager.is_empty() && !gained.is_empty() => {
            let mut raw = json!({
                "manager": manager, "operation": "Update", "apiVersion": t.api_version(),
                "time": meta::now(), "fieldsType": "FieldsV1",
            });
            if !sub.is_empty() {
                raw["subresource"] = json!(sub);
            }
            all.push(Entry {
                raw,
                manager: manager.to_owned(),
                subresource: sub.to_owned(),
                fields: gained,
            });
        }
        None => {}
    }
    next["metadata"]["managedFields"] = Value::Array(managed(&all));
}

/// The object an apply of `config` over `live` (absent: the apply creates it) leaves.
pub fn apply(
    t: &ResourceType,
    live: Option<&Value>,
    config: Value,
    req: &Apply,
) -> Result<Value, KubeError> {
    if req.manager.is_empty() {
        return Err(KubeError::BadRequest(
            "PATCH, application/apply-patch+yaml requires fieldManager to be set".into(),
        ));
    }
    if config.get("apiVersion").is_none() || config.get("kind").is_none() {
        return Err(KubeError::BadRequest(
            "apiVersion and kind must be set".into(),
        ));
    }
    let scoped = scope(t, req.part, config);
    let mut applied = Fields::new();
    leaves(&scoped, &mut Vec::new(), &mut applied);
    applied.retain(|p| !p.is_empty());

    let base = live.cloned().unwrap_or_else(|| json!({}));
    let sub = if req.part == Part::Status {
        "status"
    } else {
        ""
    };
    let mut others = entries(&base);
    let mine_pos = others.iter().position(|e| {
        e.manager == req.manager && e.subresource == sub && e.raw["operation"] == "Apply"
    });
    let mine = mine_pos.map(|i| others.remove(i));

    let mut conflicts = Vec::new();
    for e in &others {
        for p in applied.intersection(&e.fields) {
            if at(&base, p) != at(&scoped, p) {
                conflicts.push((e.manager.clone(), format!(".{}", p.join("."))));
            }
        }
    }
    if !conflicts.is_empty() && !req.force {
        return Err(KubeError::Conflict(conflict_message(&conflicts)));
    }
    for e in &mut others {
        e.fields
            .retain(|p| !applied.contains(p) || at(&base, p) == at(&scoped, p));
    }

    let mut next = base.clone();
    merge(&mut next, &scoped);
    let before = mine.as_ref().map(|e| e.fields.clone()).unwrap_or_default();
    for p in before.difference(&applied) {
        if others.iter().all(|e| !e.fields.contains(p)) {
            remove(&mut next, p);
        }
    }

    let mut managed = managed(&others);
    if !applied.is_empty() {
        let time = match &mine {
            Some(e) if e.fields == applied => e.raw["time"].clone(),
            _ => json!(meta::now()),
        };
        let mut entry = json!({
            "manager": req.manager, "operation": "Apply", "apiVersion": t.api_version(),
            "time": time, "fieldsType": "FieldsV1", "fieldsV1": to_tree(&applied),
        });
        if !sub.is_empty() {
            entry["subresource"] = json!(sub);
        }
        managed.push(entry);
    }
    next["metadata"]["managedFields"] = Value::Array(managed);
    next["apiVersion"] = json!(t.api_version());
    next["kind"] = json!(t.kind);
    Ok(next)
}
