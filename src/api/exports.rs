//! `spec.exports`: where the operator publishes the connection details applications need (server
//! address, databases, blob endpoint, key versions), never a secret. Validation is in
//! `validate/exports.rs`; the contents are built by `plan/exports.rs`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where the connection details go. Each front door writes the target it knows and ignores the
/// other: Kubernetes writes `configMap`, folder mode writes `file`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Exports {
    /// Kubernetes: a ConfigMap in the plane's namespace (a DNS-1123 subdomain name), owned by the
    /// plane (garbage-collected with it) and written only when a value changes. Use it with
    /// `envFrom.configMapRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<String>,
    /// Folder mode: a file path relative to the spec file's folder (no `..`), written atomically
    /// as `KEY=value` lines (an env file) and only when a value changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}
