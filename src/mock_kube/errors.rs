//! Kubernetes `Status` failure bodies, with the reason and code the real API server sends.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// One field at fault in a 422 `Invalid` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// e.g. `spec.postgres.state`
    pub field: String,
    /// e.g. `FieldValueNotSupported`
    pub reason: &'static str,
    /// e.g. `Unsupported value: "Paused": supported values: "Running", "Stopped"`
    pub message: String,
}

fn listed(causes: &[Cause]) -> String {
    let all: Vec<String> = causes
        .iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect();
    match all.as_slice() {
        [one] => one.clone(),
        _ => format!("[{}]", all.join(", ")),
    }
}

/// A failed API call, answered as a `Status` object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KubeError {
    /// 404 `NotFound`.
    #[error("{what} \"{name}\" not found")]
    NotFound { what: String, name: String },
    /// 404 for a path that names no resource.
    #[error("the server could not find the requested resource")]
    NoRoute,
    /// 409 `AlreadyExists`.
    #[error("{what} \"{name}\" already exists")]
    AlreadyExists { what: String, name: String },
    /// 409 `Conflict` (stale resourceVersion).
    #[error("{0}")]
    Conflict(String),
    /// 400 `BadRequest`.
    #[error("{0}")]
    BadRequest(String),
    /// 422 `Invalid`.
    #[error("{0}")]
    Invalid(String),
    /// 422 `Invalid`, naming each field at fault (kubectl lists them one per line).
    #[error("{kind}.{group} \"{name}\" is invalid: {}", listed(causes))]
    InvalidFields {
        kind: String,
        group: String,
        name: String,
        causes: Vec<Cause>,
    },
    /// 405 `MethodNotAllowed`.
    #[error("the server does not allow this method on the requested resource")]
    MethodNotAllowed,
    /// 406 `NotAcceptable`.
    #[error("only the following media types are accepted: {0}")]
    NotAcceptable(String),
    /// 415 `UnsupportedMediaType`.
    #[error(
        "the body of the request was in an unknown format - accepted media types include: {0}"
    )]
    UnsupportedMediaType(String),
    /// 410 `Expired` (a watch or list from a compacted resourceVersion).
    #[error("too old resource version: {asked} ({oldest})")]
    Expired { asked: u64, oldest: u64 },
}

impl KubeError {
    pub fn not_found(what: &str, name: &str) -> Self {
        Self::NotFound {
            what: what.into(),
            name: name.into(),
        }
    }

    fn reason_code(&self) -> (&'static str, u16) {
        match self {
            Self::NotFound { .. } | Self::NoRoute => ("NotFound", 404),
            Self::AlreadyExists { .. } => ("AlreadyExists", 409),
            Self::Conflict(_) => ("Conflict", 409),
            Self::BadRequest(_) => ("BadRequest", 400),
            Self::Invalid(_) | Self::InvalidFields { .. } => ("Invalid", 422),
            Self::MethodNotAllowed => ("MethodNotAllowed", 405),
            Self::NotAcceptable(_) => ("NotAcceptable", 406),
            Self::UnsupportedMediaType(_) => ("UnsupportedMediaType", 415),
            Self::Expired { .. } => ("Expired", 410),
        }
    }

    /// The HTTP status code.
    pub fn code(&self) -> u16 {
        self.reason_code().1
    }

    /// The `Status` object.
    pub fn status(&self) -> Value {
        let (reason, code) = self.reason_code();
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": reason,
            "code": code,
        });
        if let Self::NotFound { what, name } | Self::AlreadyExists { what, name } = self {
            let (kind, group) = what.split_once('.').unwrap_or((what, ""));
            s["details"] = json!({"name": name, "group": group, "kind": kind});
        }
        if let Self::InvalidFields {
            kind,
            group,
            name,
            causes,
        } = self
        {
            let causes: Vec<Value> = causes
                .iter()
                .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                .collect();
            s["details"] = json!({"name": name, "group": group, "kind": kind, "causes": causes});
        }
        s
    }
}

impl IntoResponse for KubeError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (code, Json(self.status())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_names_group_and_kind() {
        let s = KubeError::not_found("engramdataplanes.engram.zimax.net", "x").status();
        assert_eq!(s["code"], 404);
        assert_eq!(s["reason"], "NotFound");
        assert_eq!(s["details"]["group"], "engram.zimax.net");
        assert_eq!(
            s["message"],
            "engramdataplanes.engram.zimax.net \"x\" not found"
        );
    }
}
