//! What lives inside the PostgreSQL server (declared): the Microsoft Entra administrator the
//! operator connects as, pgvector with its HNSW indexes, and the scheduled point-in-time restore
//! drill. Validation is in `validate/database.rs`; defaults are resolved by the accessors here.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Default `hnsw.m` of pgvector (links per node).
pub const DEFAULT_M: u32 = 16;
/// Default `hnsw.ef_construction` of pgvector.
pub const DEFAULT_EF_CONSTRUCTION: u32 = 64;
/// The database the operator owns for the drill heartbeat.
pub const OPS_DATABASE: &str = "engram_ops";

/// The server's Microsoft Entra administrator (flexibleServers/{s}/administrators/{objectId}).
/// Servers are created Entra-only; the operator's own identity must be this principal or be
/// granted by it to reach the databases.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EntraAdmin {
    /// Object id (GUID) of the user, group or service principal.
    pub object_id: String,
    /// Its name as PostgreSQL sees it: the role name the operator logs in with.
    pub principal_name: String,
    /// User, Group, ServicePrincipal (a managed identity is a ServicePrincipal).
    pub principal_type: PrincipalType,
    /// Tenant of the principal (a GUID). Omitted: none is sent (the administrators API does not
    /// require one) and Azure takes the server's tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

/// The kind of Entra principal.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum PrincipalType {
    User,
    Group,
    ServicePrincipal,
}

impl PrincipalType {
    /// The value ARM uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Group => "Group",
            Self::ServicePrincipal => "ServicePrincipal",
        }
    }
}

/// pgvector: the extension in each declared database and its HNSW indexes.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VectorSpec {
    /// Databases to hold the extension; created if missing, never dropped.
    pub databases: Vec<VectorDatabase>,
    /// hnsw.ef_search set on each declared database (ALTER DATABASE … SET). Omit to leave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ef_search: Option<u32>,
    /// maintenance_work_mem for index builds, MiB (64-16384). Default: the server's setting.
    #[serde(
        default,
        rename = "maintenanceWorkMemMiB",
        skip_serializing_if = "Option::is_none"
    )]
    pub maintenance_work_mem_mib: Option<u32>,
}

/// One database with pgvector.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VectorDatabase {
    /// Database name: 1-63 letters, digits and underscores, not starting with a digit.
    pub name: String,
    /// HNSW indexes kept as declared.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<HnswIndex>,
}

/// One HNSW index. The table and column are the application's; the operator never creates or
/// alters a table, only the index.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HnswIndex {
    /// Table, optionally schema-qualified (schema.table); schema public when omitted.
    pub table: String,
    /// The vector column.
    pub column: String,
    /// Distance operator class.
    #[serde(default)]
    pub opclass: Opclass,
    /// Links per node (2-100). Default 16.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub m: Option<u32>,
    /// Candidate list size while building (4-1000, at least 2 × m). Default 64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ef_construction: Option<u32>,
    /// Index name. Default `{table}_{column}_hnsw`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl HnswIndex {
    /// Declared or default `m`.
    pub fn m(&self) -> u32 {
        self.m.unwrap_or(DEFAULT_M)
    }
    /// Declared or default `ef_construction`.
    pub fn ef_construction(&self) -> u32 {
        self.ef_construction.unwrap_or(DEFAULT_EF_CONSTRUCTION)
    }
    /// (schema, table).
    pub fn schema_table(&self) -> (&str, &str) {
        self.table
            .split_once('.')
            .unwrap_or(("public", &self.table))
    }
    /// Declared or default index name.
    pub fn index_name(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => {
                let base = format!("{}_{}_hnsw", self.schema_table().1, self.column);
                base.chars().take(63).collect()
            }
        }
    }
}

/// pgvector's HNSW operator classes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[allow(non_camel_case_types)]
pub enum Opclass {
    /// Cosine distance (the default: sentence embeddings).
    #[default]
    vector_cosine_ops,
    /// Euclidean distance.
    vector_l2_ops,
    /// Inner product.
    vector_ip_ops,
}

impl Opclass {
    /// The SQL name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::vector_cosine_ops => "vector_cosine_ops",
            Self::vector_l2_ops => "vector_l2_ops",
            Self::vector_ip_ops => "vector_ip_ops",
        }
    }
    /// From the SQL name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::vector_cosine_ops,
            Self::vector_l2_ops,
            Self::vector_ip_ops,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

/// A scheduled point-in-time restore drill: restore to a scratch server, verify, delete.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreDrill {
    /// A five-field cron expression (UTC), or `weekly` (Sundays 03:00 UTC).
    pub schedule: String,
    /// What the restore must hold, per database.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verify: Vec<DrillVerify>,
    /// Keep a scratch server whose verification failed, for investigation. Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_failed: bool,
}

impl RestoreDrill {
    /// The schedule as a cron expression.
    pub fn cron(&self) -> &str {
        if self.schedule.trim() == "weekly" {
            "0 3 * * 0"
        } else {
            self.schedule.trim()
        }
    }
}

/// Checks on one database of the restored server.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DrillVerify {
    /// Database name.
    pub database: String,
    /// Tables that must exist, each with a minimum row count.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<DrillTable>,
    /// One read-only query that must return at least one row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

/// A table that must exist in the restore.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DrillTable {
    /// Table, optionally schema-qualified.
    pub name: String,
    /// Minimum row count. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_rows: Option<u64>,
}
