//! Status of what lives inside the server: pgvector per database and index, and the restore drill.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// pgvector as found in the declared databases.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VectorStatus {
    /// Why the databases could not be read or changed this pass (no secret in it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// One entry per declared database.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub databases: Vec<VectorDatabaseStatus>,
    /// SQL this pass would run (observe mode and `plan`) or ran (enforce), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sql: Vec<String>,
}

/// One database.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VectorDatabaseStatus {
    pub name: String,
    /// Whether the database exists.
    pub exists: bool,
    /// Installed version of the vector extension (None: not installed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_version: Option<String>,
    /// hnsw.ef_search set on the database (None: not set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ef_search: Option<u32>,
    /// The declared indexes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<IndexStatus>,
}

/// One declared HNSW index.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IndexStatus {
    pub name: String,
    pub table: String,
    pub column: String,
    /// Ready, Missing, Building, Invalid (a failed concurrent build), Drifted (parameters differ),
    /// TableMissing.
    pub state: String,
    /// Whether PostgreSQL marks the index valid.
    pub valid: bool,
    /// On-disk size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opclass: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub m: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ef_construction: Option<u32>,
}

/// The scheduled point-in-time restore drill.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreDrillStatus {
    /// When the next drill is due (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_due: Option<String>,
    /// The drill in progress, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<DrillRun>,
    /// The last finished drill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<DrillRun>,
    /// A heartbeat written to engram_ops.heartbeat on the source server (RFC 3339), recorded at
    /// most every 15 minutes: a status that changed on every pass would be a write (and, in
    /// Kubernetes, a watch event) on every pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_heartbeat: Option<String>,
}

/// One drill: restore → verify → delete.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DrillRun {
    /// The scratch server.
    pub server: String,
    /// Restoring, Verifying, Deleting, Succeeded, Failed.
    pub phase: String,
    /// When the restore was requested (RFC 3339).
    pub requested_at: String,
    /// The point in time restored to (RFC 3339).
    pub restore_point: String,
    /// When verification passed or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<String>,
    /// Succeeded or Failed, once finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Restore point − the latest heartbeat found in the restore, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo_seconds: Option<i64>,
    /// Request → verified, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto_seconds: Option<i64>,
    /// What failed, or what was checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Whether the scratch server was kept (keepFailed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub kept: bool,
}
