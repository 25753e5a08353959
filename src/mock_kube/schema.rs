//! A custom object checked against its CRD's structural schema, as the API server does on every
//! write: unknown fields are refused under `fieldValidation=Strict` (400, "strict decoding
//! error") and dropped otherwise; absent properties with a `default` get it; then type,
//! nullable, enum, required, minimum/maximum,
//! minLength/maxLength and minItems/maxItems give 422 `Invalid`, naming each field. `pattern`
//! and `format` are not checked.

use serde_json::{Map, Value};

use super::errors::{Cause, KubeError};
use super::store::Part;
use super::types::ResourceType;

/// The `fieldValidation` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    /// Unknown fields are an error.
    Strict,
    /// Unknown fields are dropped (the real server also sends a warning header).
    Warn,
    /// Unknown fields are dropped.
    Ignore,
}

impl FieldValidation {
    pub fn parse(v: Option<&str>) -> Result<Self, KubeError> {
        match v {
            Some("Strict") => Ok(Self::Strict),
            None | Some("Warn") | Some("") => Ok(Self::Warn),
            Some("Ignore") => Ok(Self::Ignore),
            Some(other) => Err(KubeError::BadRequest(format!(
                "fieldValidation parameter unsupported: {other}"
            ))),
        }
    }
}

#[derive(Default)]
struct Findings {
    unknown: Vec<String>,
    causes: Vec<Cause>,
}

impl Findings {
    fn invalid(&mut self, field: &str, reason: &'static str, message: String) {
        self.causes.push(Cause {
            field: field.to_owned(),
            reason,
            message,
        });
    }
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

fn bound(s: &Value, key: &str) -> Option<f64> {
    s.get(key).and_then(Value::as_f64)
}

/// Bounds on a number, a string's length or an array's length.
fn bounds(s: &Value, path: &str, v: &Value, f: &mut Findings) {
    let (n, lo, hi, what) = match v {
        Value::Number(n) => (n.as_f64(), "minimum", "maximum", ""),
        Value::String(t) => (
            Some(t.chars().count() as f64),
            "minLength",
            "maxLength",
            " chars long",
        ),
        Value::Array(a) => (Some(a.len() as f64), "minItems", "maxItems", " items"),
        _ => (None, "", "", ""),
    };
    let Some(n) = n else { return };
    if let Some(min) = bound(s, lo).filter(|m| n < *m) {
        f.invalid(
            path,
            "FieldValueInvalid",
            format!(
                "Invalid value: {}: {path} in body should be greater than or equal to {min}{what}",
                shown(v)
            ),
        );
    }
    if let Some(max) = bound(s, hi).filter(|m| n > *m) {
        f.invalid(
            path,
            "FieldValueInvalid",
            format!(
                "Invalid value: {}: {path} in body should be less than or equal to {max}{what}",
                shown(v)
            ),
        );
    }
}

fn walk(s: &Value, v: &mut Value, path: &str, f: &mut Findings) {
    if v.is_null() {
        if s["nullable"].as_bool() != Some(true) && s.get("type").is_some() {
            f.invalid(
                path,
                "FieldValueTypeInvalid",
                format!(
                    "Invalid value: \"null\": {path} in body must be of type {}: \"null\"",
                    s["type"].as_str().unwrap_or_default()
                ),
            );
        }
        return;
    }
    if let Some(want) = s["type"].as_str() {
        let got = type_of(v);
        if got != want && !(want == "number" && got == "integer") {
            f.invalid(
                path,
                "FieldValueTypeInvalid",
                format!(
                    "Invalid value: \"{got}\": {path} in body must be of type {want}: \"{got}\""
                ),
            );
            return;
        }
    }
    if let Some(allowed) = s["enum"].as_array() {
        if !allowed.contains(v) {
            let list: Vec<String> = allowed.iter().map(shown).collect();
            f.invalid(
                path,
                "FieldValueNotSupported",
                format!(
                    "Unsupported value: {}: supported values: {}",
                    shown(v),
                    list.join(", ")
                ),
            );
        }
    }
    bounds(s, path, v, f);
    match v {
        Value::Object(m) => object(s, m, path, f),
        Value::Array(a) => {
            if let Some(items) = s.get("items") {
                for (i, e) in a.iter_mut().enumerate() {
                    walk(items, e, &format!("{path}[{i}]"), f);
                }
            }
        }
        _ => {}
    }
}

fn object(s: &Value, m: &mut Map<String, Value>, path: &str, f: &mut Findings) {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_owned()
        } else {
            format!("{path}.{k}")
        }
    };
    for (k, ps) in s["properties"].as_object().into_iter().flatten() {
        if let (false, Some(d)) = (m.contains_key(k), ps.get("default")) {
            m.insert(k.clone(), d.clone());
        }
    }
    for r in s["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !m.contains_key(r) {
            f.invalid(&join(r), "FieldValueRequired", "Required value".into());
        }
    }
    let keep_unknown = s["x-kubernetes-preserve-unknown-fields"].as_bool() == Some(true);
    let props = s["properties"].as_object();
    let extra = s.get("additionalProperties").filter(|a| a.is_object());
    let mut unknown = Vec::new();
    for (k, child) in m.iter_mut() {
        if let Some(cs) = props.and_then(|p| p.get(k)).or(extra) {
            walk(cs, child, &join(k), f);
        } else if !keep_unknown && props.is_some() {
            unknown.push(k.clone());
        }
    }
    for k in unknown {
        f.unknown.push(join(&k));
        m.remove(&k);
    }
}

/// Check (and prune) a custom object about to be written; `part` says which fields the write
/// can change. Built-in kinds and kinds without a schema pass as they are.
pub fn admit(
    t: &ResourceType,
    obj: &mut Value,
    part: Part,
    mode: FieldValidation,
) -> Result<(), KubeError> {
    let Some(schema) = &t.schema else {
        return Ok(());
    };
    let mut f = Findings::default();
    let Some(m) = obj.as_object_mut() else {
        return Err(KubeError::BadRequest("the body must be an object".into()));
    };
    let props = schema["properties"].as_object();
    for (k, v) in m.iter_mut() {
        let checked = match part {
            Part::Status => k == "status",
            Part::Main => k != "status" || !t.status_subresource,
        };
        if !checked || matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        match props.and_then(|p| p.get(k)) {
            Some(s) => walk(s, v, k, &mut f),
            None => f.unknown.push(k.clone()),
        }
    }
    for k in f.unknown.iter().filter(|k| !k.contains('.')) {
        m.remove(k);
    }
    let name = super::meta::name(obj).to_owned();
    if mode == FieldValidation::Strict && !f.unknown.is_empty() {
        let fields: Vec<String> = f
            .unknown
            .iter()
            .map(|u| format!("unknown field \"{u}\""))
            .collect();
        return Err(KubeError::BadRequest(format!(
            "{kind} in version \"{v}\" cannot be handled as a {kind}: strict decoding error: {}",
            fields.join(", "),
            kind = t.kind,
            v = t.version
        )));
    }
    if f.causes.is_empty() {
        return Ok(());
    }
    Err(KubeError::InvalidFields {
        kind: t.kind.clone(),
        group: t.group.clone(),
        name,
        causes: f.causes,
    })
}
