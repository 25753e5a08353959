//! Fault injection: a request on objects that matches a fault (by verb, resource, namespace and
//! name, as the journal records them) is answered with it instead of being served.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::journal::JournalEntry;

/// What an injected fault answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultKind {
    /// This status code, with a `Status` body of this reason (e.g. 500 `InternalError`, 409
    /// `Conflict`).
    Status { code: u16, reason: String },
    /// 429 `TooManyRequests` with `Retry-After: {retry_after}`.
    Throttle { retry_after: u64 },
}

/// A fault to inject. Empty matchers match anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultSpec {
    /// A journal verb: `get`, `list`, `watch`, `create`, `update`, `patch`, `apply`, `delete`.
    #[serde(default)]
    pub verb: Option<String>,
    /// `plural.group`, with `/status` for the subresource (as in the journal's counts).
    #[serde(default)]
    pub resource: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    pub kind: FaultKind,
    /// Fire at most this many times (then the fault is removed); `None`: every time.
    #[serde(default)]
    pub count: Option<u32>,
}

impl FaultSpec {
    /// A fault on every `verb` of `resource`.
    pub fn new(verb: &str, resource: &str, kind: FaultKind) -> Self {
        Self {
            verb: Some(verb.into()),
            resource: Some(resource.into()),
            namespace: None,
            name: None,
            kind,
            count: None,
        }
    }

    /// Fire at most `n` times.
    pub fn times(mut self, n: u32) -> Self {
        self.count = Some(n);
        self
    }

    fn matches(&self, e: &JournalEntry) -> bool {
        let resource = if e.subresource.is_empty() {
            e.resource.clone()
        } else {
            format!("{}/{}", e.resource, e.subresource)
        };
        let ok = |want: &Option<String>, got: &str| want.as_deref().is_none_or(|w| w == got);
        ok(&self.verb, &e.verb)
            && ok(&self.resource, &resource)
            && ok(&self.namespace, &e.namespace)
            && ok(&self.name, &e.name)
    }
}

/// The faults in force, with their ids.
#[derive(Debug, Default)]
pub struct Faults {
    next_id: u64,
    active: Vec<(u64, FaultSpec)>,
}

impl Faults {
    pub fn add(&mut self, f: FaultSpec) -> u64 {
        self.next_id += 1;
        self.active.push((self.next_id, f));
        self.next_id
    }

    pub fn list(&self) -> Vec<serde_json::Value> {
        self.active
            .iter()
            .map(|(id, f)| json!({"id": id, "fault": f}))
            .collect()
    }

    pub fn clear(&mut self) {
        self.active.clear();
    }

    /// The answer of the first fault matching the request, counting it down.
    pub fn fire(&mut self, e: &JournalEntry) -> Option<Response> {
        let i = self.active.iter().position(|(_, f)| f.matches(e))?;
        let kind = self.active[i].1.kind.clone();
        if let Some(n) = &mut self.active[i].1.count {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.active.remove(i);
            }
        }
        Some(answer(&kind))
    }
}

fn answer(kind: &FaultKind) -> Response {
    let (code, reason, retry) = match kind {
        FaultKind::Status { code, reason } => (*code, reason.as_str(), None),
        FaultKind::Throttle { retry_after } => (429, "TooManyRequests", Some(*retry_after)),
    };
    let mut body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": format!("an injected fault ({reason})"), "reason": reason, "code": code,
    });
    if let Some(s) = retry {
        body["details"] = json!({"retryAfterSeconds": s});
    }
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, Json(body)).into_response();
    if let Some(s) = retry {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    resp
}
