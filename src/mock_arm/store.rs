//! The mock's world: stored resources (JSON bodies), operations and keys; request context and reply
//! types shared by the resource handlers; JSON merge patch.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::clock::rfc3339;
use super::errors::ArmError;
use super::keyvault::KeyVersion;
use super::lro::Operation;
use super::MockConfig;

/// One stored resource.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The body GET returns.
    pub body: Value,
    /// Bumped on every change; the ETag is derived from it.
    pub rev: u64,
    /// False while a 202-accepted create runs (ARM: not visible until the operation completes).
    pub visible: bool,
    /// The id of the operation in flight on this resource.
    pub busy: Option<String>,
    /// When (clock elapsed) a PostgreSQL server was stopped.
    pub stopped_at: Option<Duration>,
}

impl Resource {
    pub fn etag(&self) -> String {
        format!("\"{:016x}\"", self.rev)
    }
}

/// Everything the mock holds.
#[derive(Debug, Default)]
pub struct World {
    /// Keyed by lower-cased resource id.
    pub resources: BTreeMap<String, Resource>,
    pub ops: HashMap<String, Operation>,
    /// Ids (lower-case) of operations still in progress.
    pub pending: Vec<String>,
    /// Key Vault keys, keyed by lower-cased `vault/name`; versions oldest first.
    pub keys: BTreeMap<String, Vec<KeyVersion>>,
    /// Resource Graph: quota windows and the lag's history.
    pub graph: super::resource_graph::GraphState,
    /// When the 7-day auto-start was last looked for (at most once per second of the clock: it
    /// walks the store).
    pub auto_start_checked: Option<std::time::Duration>,
    /// Azure Monitor series set through the control API.
    pub metrics: super::metrics::MetricStore,
    /// Cost Management rows set through the control API.
    pub costs: Vec<super::cost_query::CostRow>,
    seq: u64,
}

impl World {
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// A visible resource.
    pub fn get(&self, id: &str) -> Option<&Resource> {
        self.resources
            .get(&id.to_ascii_lowercase())
            .filter(|r| r.visible)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Resource> {
        self.resources
            .get_mut(&id.to_ascii_lowercase())
            .filter(|r| r.visible)
    }

    /// A resource, visible or not.
    pub fn get_any(&self, id: &str) -> Option<&Resource> {
        self.resources.get(&id.to_ascii_lowercase())
    }

    pub fn get_any_mut(&mut self, id: &str) -> Option<&mut Resource> {
        self.resources.get_mut(&id.to_ascii_lowercase())
    }

    /// Store a body (create or replace), bumping the revision.
    pub fn put(&mut self, id: &str, body: Value, visible: bool) -> &mut Resource {
        let rev = self.next_seq();
        let entry = self
            .resources
            .entry(id.to_ascii_lowercase())
            .or_insert_with(|| Resource {
                body: Value::Null,
                rev,
                visible,
                busy: None,
                stopped_at: None,
            });
        entry.body = body;
        entry.rev = rev;
        entry.visible = visible;
        entry
    }

    /// Bump a resource's revision after an in-place change.
    pub fn touch(&mut self, id: &str) {
        let rev = self.next_seq();
        if let Some(r) = self.resources.get_mut(&id.to_ascii_lowercase()) {
            r.rev = rev;
        }
    }

    /// Visible resources strictly under `id` (children, grandchildren...), in id order.
    pub fn children(&self, id: &str) -> Vec<(&String, &Resource)> {
        let prefix = format!("{}/", id.to_ascii_lowercase());
        self.resources
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(_, r)| r.visible)
            .collect()
    }

    /// Remove a resource and everything under it.
    pub fn remove_tree(&mut self, id: &str) {
        let key = id.to_ascii_lowercase();
        let prefix = format!("{key}/");
        self.resources
            .retain(|k, _| k != &key && !k.starts_with(&prefix));
    }
}

/// One ARM request, parsed.
pub struct Req<'a> {
    /// Upper-case HTTP method.
    pub method: &'a str,
    pub api_version: &'a str,
    /// The raw query string (the metrics API reads its parameters there).
    pub query: &'a str,
    pub body: Value,
    pub if_match: Option<&'a str>,
    pub if_none_match: Option<&'a str>,
    /// The mock's base URL, for absolute LRO URLs.
    pub base: &'a str,
    pub now: OffsetDateTime,
    /// Clock elapsed at `now`.
    pub elapsed: Duration,
    /// Who sent it (`static`, or `{tenant}/{clientId}`).
    pub principal: &'a str,
    /// Set by a `fail_operation` fault: the LRO this request starts ends Failed with it.
    pub fail_op: Option<ArmError>,
    pub cfg: &'a MockConfig,
}

impl Req<'_> {
    pub fn now_str(&self) -> String {
        rfc3339(self.now)
    }

    /// The request body as an object (an empty or null body is an empty object).
    pub fn object(&self) -> Result<Map<String, Value>, ArmError> {
        match &self.body {
            Value::Object(m) => Ok(m.clone()),
            Value::Null => Ok(Map::new()),
            _ => Err(ArmError::bad_request(
                "InvalidRequestContent",
                "The request content was invalid and could not be deserialized: expected a JSON object.",
            )),
        }
    }

    /// ETag preconditions (RPC Addendum): If-Match on a missing resource or a different ETag, or
    /// If-None-Match `*` on an existing one, fail with 412 for PUT; PATCH on missing is a 404
    /// handled by the caller.
    pub fn check_preconditions(&self, existing: Option<&Resource>) -> Result<(), ArmError> {
        if let Some(m) = self.if_match.filter(|m| !m.is_empty()) {
            match existing {
                None => return Err(ArmError::precondition_failed()),
                Some(r) if m != "*" && unquote(m) != unquote(&r.etag()) => {
                    return Err(ArmError::precondition_failed())
                }
                _ => {}
            }
        }
        if self.if_none_match == Some("*") && existing.is_some() {
            return Err(ArmError::precondition_failed());
        }
        Ok(())
    }
}

fn unquote(s: &str) -> &str {
    s.trim_start_matches("W/").trim_matches('"')
}

/// What a handler answers.
#[derive(Debug, Default)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Value>,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Some(body),
        }
    }

    pub fn empty(status: u16) -> Self {
        Self {
            status,
            ..Self::default()
        }
    }

    pub fn with_etag(mut self, r: &Resource) -> Self {
        self.headers.push(("etag", r.etag()));
        self
    }

    /// 200 with a resource's body and its ETag: what a GET or a synchronous write answers.
    pub fn resource(r: &Resource) -> Self {
        Self::json(200, r.body.clone()).with_etag(r)
    }
}

impl World {
    /// GET of one resource: its body, or ARM's 404 naming the kind and name.
    pub fn read(&self, id: &str, kind: &str, name: &str) -> Result<Reply, ArmError> {
        self.get(id)
            .map(Reply::resource)
            .ok_or_else(|| ArmError::not_found(kind, name))
    }

    /// A synchronous DELETE: 200 and the resource (with its children) gone, or 204 when absent.
    pub fn delete_now(&mut self, id: &str) -> Reply {
        if self.get(id).is_none() {
            return Reply::empty(204);
        }
        self.remove_tree(id);
        Reply::empty(200)
    }
}

/// RFC 7396 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    json_patch::merge(target, patch);
}

/// Fill `target` with `defaults` wherever `target` has no value (objects merged recursively).
pub fn fill_defaults(target: &mut Value, defaults: &Value) {
    if let (Value::Object(t), Value::Object(d)) = (&mut *target, defaults) {
        for (k, v) in d {
            match t.get_mut(k) {
                Some(existing) if !existing.is_null() => fill_defaults(existing, v),
                _ => {
                    t.insert(k.clone(), v.clone());
                }
            }
        }
    }
}

/// `body[a][b]...` as a string, if present.
pub fn str_at<'v>(body: &'v Value, path: &[&str]) -> Option<&'v str> {
    at(body, path).and_then(Value::as_str)
}

/// `body[a][b]...`, if present.
pub fn at<'v>(body: &'v Value, path: &[&str]) -> Option<&'v Value> {
    let mut v = body;
    for p in path {
        v = v.get(p)?;
    }
    Some(v).filter(|v| !v.is_null())
}

/// Set `body[a][b]...` = value, creating objects on the way.
pub fn set_at(body: &mut Value, path: &[&str], value: Value) {
    let mut v = body;
    for p in path {
        if !v.is_object() {
            *v = Value::Object(Map::new());
        }
        v = match v {
            Value::Object(m) => m.entry((*p).to_string()).or_insert(Value::Null),
            _ => return,
        };
    }
    *v = value;
}

/// The canonical ARM id of a resource under a resource group.
pub fn arm_id(sub: &str, rg: &str, rest: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/{rest}")
}

/// A 32-hex-digit id derived from a sequence number (operation ids, key versions).
pub fn hex_id(seq: u64, salt: u64) -> String {
    let mut rng = fastrand::Rng::with_seed(seq ^ salt.rotate_left(17));
    format!("{:016x}{:016x}", rng.u64(..), seq)
}

/// A GUID-shaped id.
pub fn guid(seq: u64, salt: u64) -> String {
    let h = hex_id(seq, salt);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc7396() {
        let mut t = json!({"a": {"b": 1, "c": 2}, "d": [1], "e": 1});
        merge_patch(
            &mut t,
            &json!({"a": {"b": null, "x": 3}, "d": [2, 3], "e": {"f": 1}}),
        );
        assert_eq!(
            t,
            json!({"a": {"c": 2, "x": 3}, "d": [2, 3], "e": {"f": 1}})
        );
    }

    #[test]
    fn defaults_fill_only_missing() {
        let mut t = json!({"a": {"b": 1}, "n": null});
        fill_defaults(&mut t, &json!({"a": {"b": 9, "c": 2}, "n": 5, "z": true}));
        assert_eq!(t, json!({"a": {"b": 1, "c": 2}, "n": 5, "z": true}));
    }
}
