//! OpenAPI v3: the root listing each group/version, and per group/version a document with a
//! schema per kind (a CRD's openAPIV3Schema) and paths whose write operations advertise the
//! `fieldValidation` parameter, which is what kubectl looks for before it sends
//! `fieldValidation=Strict` instead of validating on its own.

use serde_json::{json, Map, Value};

use super::errors::KubeError;
use super::types::ResourceType;

/// The URL path of a group/version: `api/v1` or `apis/{group}/{version}`.
fn gv_path(t: &ResourceType) -> String {
    if t.group.is_empty() {
        format!("api/{}", t.version)
    } else {
        format!("apis/{}/{}", t.group, t.version)
    }
}

/// FNV-1a, so a document's URL changes when it does (kubectl caches by that URL).
fn hash(v: &Value) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in v.to_string().bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016X}")
}

/// `/openapi/v3`.
pub fn root(types: &[ResourceType]) -> Value {
    let mut paths = Map::new();
    for t in types {
        let p = gv_path(t);
        if paths.contains_key(&p) {
            continue;
        }
        let doc = document(types, &p).unwrap_or(Value::Null);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={}", hash(&doc))}),
        );
    }
    json!({"paths": paths})
}

/// The schema name of a kind: the group reversed, then version and kind.
fn schema_name(t: &ResourceType) -> String {
    let mut g: Vec<&str> = t.group.split('.').filter(|s| !s.is_empty()).collect();
    g.reverse();
    if g.is_empty() {
        g.push("io.k8s.api.core");
    }
    format!("{}.{}.{}", g.join("."), t.version, t.kind)
}

fn gvk(t: &ResourceType) -> Value {
    json!([{"group": t.group, "version": t.version, "kind": t.kind}])
}

fn schema(t: &ResourceType) -> Value {
    let mut s = t
        .schema
        .clone()
        .unwrap_or_else(|| json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
    if let Some(props) = s.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert("apiVersion".into(), json!({"type": "string"}));
        props.insert("kind".into(), json!({"type": "string"}));
        props.insert("metadata".into(), json!({"type": "object"}));
    }
    s["x-kubernetes-group-version-kind"] = gvk(t);
    s
}

fn param(name: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}})
}

fn operation(t: &ResourceType, action: &str, writes: bool) -> Value {
    let mut params = vec![param("pretty")];
    if writes {
        params.extend(["dryRun", "fieldManager", "fieldValidation"].map(param));
    }
    let reference = json!({"$ref": format!("#/components/schemas/{}", schema_name(t))});
    json!({
        "operationId": format!("{action}{}", t.kind),
        "parameters": params,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": reference}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": t.group, "version": t.version, "kind": t.kind},
    })
}

/// `/openapi/v3/{api/v1 | apis/group/version}`.
pub fn document(types: &[ResourceType], gv: &str) -> Result<Value, KubeError> {
    let mine: Vec<&ResourceType> = types.iter().filter(|t| gv_path(t) == gv).collect();
    if mine.is_empty() {
        return Err(KubeError::NoRoute);
    }
    let mut schemas = Map::new();
    let mut paths = Map::new();
    for t in mine {
        schemas.insert(schema_name(t), schema(t));
        let base = if t.namespaced {
            format!("/{gv}/namespaces/{{namespace}}/{}", t.plural)
        } else {
            format!("/{gv}/{}", t.plural)
        };
        paths.insert(
            base.clone(),
            json!({"get": operation(t, "list", false), "post": operation(t, "post", true)}),
        );
        let item = json!({
            "get": operation(t, "get", false),
            "put": operation(t, "put", true),
            "patch": operation(t, "patch", true),
            "delete": operation(t, "delete", false),
        });
        if t.status_subresource {
            paths.insert(format!("{base}/{{name}}/status"), item.clone());
        }
        paths.insert(format!("{base}/{{name}}"), item);
    }
    Ok(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (mock-kube)", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}
