//! ARM error bodies: `{"error":{"code","message"}}` with the HTTP status (and `details`, where a
//! service sends them: Resource Graph).

use serde_json::{json, Value};

/// An ARM error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmError {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// `error.details`, when the service sends any.
    pub details: Option<Value>,
}

impl ArmError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            details: None,
        }
    }

    /// The same error with `error.details`.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::new(409, code, message)
    }

    /// ARM's 404 for a missing resource.
    pub fn not_found(kind: &str, name: &str) -> Self {
        Self::new(
            404,
            "ResourceNotFound",
            format!("The Resource '{kind}/{name}' under resource group was not found."),
        )
    }

    /// ARM's 404 for a missing parent resource.
    pub fn parent_not_found(kind: &str, name: &str) -> Self {
        Self::new(
            404,
            "ParentResourceNotFound",
            format!("Can not perform requested operation on nested resource. Parent resource '{kind}/{name}' not found."),
        )
    }

    /// The server is busy with another operation (observed code `ServerBusy`).
    pub fn busy(name: &str) -> Self {
        Self::conflict(
            "ServerBusy",
            format!("Server '{name}' is busy with another operation. Please try again later."),
        )
    }

    pub fn precondition_failed() -> Self {
        Self::new(
            412,
            "PreconditionFailed",
            "The condition specified in If-Match or If-None-Match was not met.",
        )
    }

    pub fn body(&self) -> Value {
        let mut body = json!({"error": {"code": self.code, "message": self.message}});
        if let Some(d) = &self.details {
            body["error"]["details"] = d.clone();
        }
        body
    }
}
