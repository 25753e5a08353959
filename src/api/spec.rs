//! The `EngramDataPlane` custom resource: what an SRE team declares.
//!
//! Every optional field here may be filled in by the environment profile (see `profiles.rs`);
//! whatever is declared explicitly wins. Later stages never read this type directly: they read the
//! effective spec (`effective.rs`), where every default is resolved.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::azure::AzureTarget;
pub use super::costs::{BudgetSpec, CostsSpec};
pub use super::database::{EntraAdmin, RestoreDrill, VectorSpec};
pub use super::exports::Exports;
pub use super::network::{FirewallRule, PgNetwork, PrivateEndpointSpec, StorageNetwork};
use super::status::EngramDataPlaneStatus;

/// Declared state of one Engram data plane: one PostgreSQL Flexible Server (the system of recall),
/// one Storage account (the system of record), one customer-managed key shared by both, and the
/// Azure Monitor alerts that watch them.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "engram.zimax.net",
    version = "v1alpha1",
    kind = "EngramDataPlane",
    plural = "engramdataplanes",
    shortname = "edp",
    namespaced,
    status = "EngramDataPlaneStatus",
    printcolumn = r#"{"name":"Environment","type":"string","jsonPath":".spec.environment"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Progressing","type":"string","jsonPath":".status.conditions[?(@.type==\"Progressing\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"PostgreSQL SKU","type":"string","jsonPath":".status.postgres.sku"}"#,
    printcolumn = r#"{"name":"HA","type":"string","jsonPath":".status.postgres.haState"}"#,
    printcolumn = r#"{"name":"Drift","type":"integer","jsonPath":".status.driftCount"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct EngramDataPlaneSpec {
    /// Deployment environment: dev, test, uat or prod. Selects the profile whose defaults
    /// (SKU, storage, HA, backups, alerts, whether Stopped is allowed) fill what this spec omits.
    pub environment: String,
    /// Where the data plane lives in Azure.
    pub azure: AzureTarget,
    /// How the operator treats this data plane: enforce or observe, retain or delete, resync period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
    /// The one customer-managed key (Azure Key Vault) that encrypts both PostgreSQL and Blob Storage.
    /// Required in uat and prod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    /// The PostgreSQL Flexible Server (pgvector), the system of recall.
    pub postgres: PostgresSpec,
    /// The Storage account (blob documents), the system of record.
    pub storage: StorageSpec,
    /// Azure Monitor metric alerts on the PostgreSQL server. Omitted thresholds come from the profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<AlertsSpec>,
    /// Azure Monitor diagnostic settings that send the audit logs of the server, the blob service
    /// and (optionally) the key vault to a Log Analytics workspace. No profile fills it in (the
    /// workspace is the customer's); uat and prod report its absence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<DiagnosticsSpec>,
    /// Cost controls: a monthly budget on the resource group with notifications (docs/costs.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub costs: Option<CostsSpec>,
    /// Explicit, audited exceptions to the environment's safety rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<Overrides>,
    /// Connection details for the applications (no secrets), published once the plane is Ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exports: Option<Exports>,
}

/// Operator behaviour for this data plane.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    /// enforce (default): correct drift with minimal writes. observe: report drift, write nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// retain (default): deleting the data plane leaves Azure untouched. delete: remove the Azure
    /// resources too (never a container under legal hold or a locked immutability policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion: Option<DeletionPolicy>,
    /// Seconds between two reconciles of an in-sync data plane (30-86400, default 300, ±20 % jitter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resync_seconds: Option<u64>,
    /// Adopt an existing server or storage account that carries no `engram-owner` tag (the tag is
    /// added). Without it such a resource is refused (NotOwned) and nothing is written to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopt: Option<bool>,
    /// Take over resources tagged for this other owner (`{namespace}/{name}`; folder mode's
    /// namespace is `folder`): the ownership transfer, e.g. from folder mode to Kubernetes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopt_from: Option<String>,
    /// A server or account this plane owned that was deleted outside the operator: true creates it
    /// again, empty, with a Warning; false refuses (ResourceDeleted) so that it can be restored.
    /// Default true in dev and test, false in uat and prod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recreate_deleted: Option<bool>,
}

/// Whether the operator writes to Azure.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Correct drift.
    #[default]
    Enforce,
    /// Report drift only; zero ARM writes.
    Observe,
}

/// What deleting the data plane does in Azure.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeletionPolicy {
    /// Leave every Azure resource in place.
    #[default]
    Retain,
    /// Delete the Azure resources the spec declares.
    Delete,
}

/// The customer-managed key shared by PostgreSQL (primaryKeyURI) and Storage (keyvaultproperties).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Encryption {
    /// Key Vault URI, e.g. https://kv-acme.vault.azure.net
    pub key_vault_uri: String,
    /// Key name in that vault (1-127 letters, digits and hyphens).
    pub key_name: String,
    /// A pinned key version (32 hex characters), or `latest` to follow Key Vault rotation.
    #[serde(default = "latest", skip_serializing_if = "is_latest")]
    pub key_version: String,
    /// Resource id of the user-assigned managed identity allowed to wrap/unwrap with the key.
    pub identity_id: String,
    /// The key and identity that encrypt the geo-redundant backup copy in the paired region
    /// (PostgreSQL geoBackupKeyURI, geoBackupUserAssignedIdentityId). Required when the
    /// customer-managed key and backup.geoRedundant are both on (prod's default); Azure refuses the
    /// server otherwise. Not used by Storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo_backup: Option<GeoBackupKey>,
    /// How key versions are rotated across the key's consumers (status.keyRotation tracks it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<KeyRotationPolicy>,
    /// How PostgreSQL follows the key: `pinned` (default: the operator moves a versioned URI,
    /// api-version 2024-08-01) or `auto` (a versionless URI at api-version 2025-08-01: Azure follows
    /// the vault and the operator only confirms; needs keyVersion `latest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres_key_tracking: Option<KeyTracking>,
}

/// How PostgreSQL follows the customer-managed key.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyTracking {
    /// The operator moves PostgreSQL to each version (a versioned key URI).
    #[default]
    Pinned,
    /// PostgreSQL follows the vault itself (a versionless key URI, api-version 2025-08-01).
    Auto,
}

/// Key rotation: when the previous version may go, when a rotation is due, and whether the
/// operator makes the new version itself.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyRotationPolicy {
    /// Hours after every consumer is confirmed on the new version before status says the previous
    /// version may be disabled (1-8760, default 24).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_after_hours: Option<u32>,
    /// A key version older than this many days is reported as KeyRotationDue (1-3650; uat and
    /// prod default to 90, the strategy's quarterly rotation; dev and test to none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_key_age_days: Option<u32>,
    /// When a rotation is due, create the new version through Key Vault's rotate endpoint (needs
    /// the Key Vault Crypto Officer role; keyVersion must be `latest`). Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotate: Option<bool>,
}

/// A customer-managed key in the geo-backup (paired) region, with the identity that uses it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GeoBackupKey {
    /// Key Vault URI in the paired region, e.g. https://kv-acme-westus.vault.azure.net (not the
    /// primary key's vault).
    pub key_vault_uri: String,
    /// Key name in that vault (1-127 letters, digits and hyphens).
    pub key_name: String,
    /// A pinned key version (32 hexadecimal characters), or `latest` to follow Key Vault rotation.
    #[serde(default = "latest", skip_serializing_if = "is_latest")]
    pub key_version: String,
    /// Resource id of the user-assigned managed identity (in the paired region) allowed to
    /// wrap/unwrap with this key. It is attached to the server beside the primary identity.
    pub identity_id: String,
}

fn latest() -> String {
    "latest".to_owned()
}
fn is_latest(v: &String) -> bool {
    v == "latest"
}

/// PostgreSQL Flexible Server settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostgresSpec {
    /// Server name: 3-63 lowercase letters, digits and hyphens, not starting or ending with a hyphen.
    pub server_name: String,
    /// Major PostgreSQL version (11-17). Default 16.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Compute SKU: {tier, name}, or the word `auto` to size it from `sizing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<SkuSetting>,
    /// Workload figures used when `sku: auto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sizing: Option<SizingInput>,
    /// Availability zone of the primary ("1", "2" or "3"); Azure picks one when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// Storage size and auto-grow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<PgStorage>,
    /// High availability (not available on Burstable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high_availability: Option<HighAvailability>,
    /// Backup retention and geo-redundancy (geo-redundancy can only be chosen at creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<Backup>,
    /// Custom maintenance window (UTC). Omit for the system-managed window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_window: Option<MaintenanceWindow>,
    /// Running (default) or Stopped. Stopped is allowed in dev and test, elsewhere only with
    /// overrides.allowStopped. Azure restarts a stopped server after 7 days; the operator stops it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ServerState>,
    /// Extensions to allow-list (server parameter azure.extensions), e.g. [vector].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Vec<String>>,
    /// Other server parameters, name to value (e.g. ssl_min_protocol_version: TLSv1.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<BTreeMap<String, String>>,
    /// When a parameter that needs a restart may restart the server: Immediate,
    /// MaintenanceWindow (default) or Never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
    /// Network isolation: public access with firewall rules, a private endpoint, or VNet
    /// integration (create-time only). uat and prod require public access Disabled and a private
    /// endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<PgNetwork>,
    /// The Microsoft Entra administrator the operator connects as (needed for vector and
    /// restoreDrill against Azure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entra_admin: Option<EntraAdmin>,
    /// pgvector in the databases, with HNSW indexes kept as declared (needs `vector` in extensions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector: Option<VectorSpec>,
    /// A scheduled point-in-time restore drill with measured RPO and RTO.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_drill: Option<RestoreDrill>,
    /// Scale-up from Azure Monitor metrics (the seed's triggers; default mode recommend).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling: Option<super::scaling::ScalingSpec>,
}

/// The compute SKU: explicit, or sized automatically.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(untagged)]
pub enum SkuSetting {
    /// The word `auto`: the sizing calculator picks the SKU from `postgres.sizing`.
    Auto(AutoWord),
    /// An explicit tier and name.
    Explicit(Sku),
}

/// The literal `auto`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutoWord {
    /// auto
    #[serde(rename = "auto")]
    Auto,
}

impl JsonSchema for SkuSetting {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SkuSetting".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Compute SKU: an object {tier: Burstable|GeneralPurpose|MemoryOptimized, name: e.g. Standard_D4s_v3}, or the string `auto` to size it from postgres.sizing.",
            "x-kubernetes-preserve-unknown-fields": true
        })
    }
}

/// An explicit compute SKU.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sku {
    /// Burstable, GeneralPurpose or MemoryOptimized.
    pub tier: SkuTier,
    /// SKU name matching the tier: Standard_B* (Burstable), Standard_D* (GeneralPurpose),
    /// Standard_E* (MemoryOptimized).
    pub name: String,
}

/// Flexible Server compute tiers.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum SkuTier {
    /// B-series, dev/test.
    Burstable,
    /// D-series, most production.
    GeneralPurpose,
    /// E-series, large vector sets.
    MemoryOptimized,
}

/// Workload figures for `sku: auto`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SizingInput {
    /// Expected sessions.
    pub sessions: u64,
    /// Expected facts (vectors).
    pub facts: u64,
    /// Expected concurrent connections.
    pub connections: u64,
    /// Growth factor applied to the load (default 2.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub growth: Option<f64>,
}

/// Storage of the server.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PgStorage {
    /// Size in GiB: 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384 or 32767. Never shrinks.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "sizeGiB")]
    pub size_gib: Option<u32>,
    /// Let Azure grow the disk when it fills up (growth beyond sizeGiB is not drift).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_grow: Option<bool>,
}

/// High availability.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HighAvailability {
    /// Disabled, ZoneRedundant or SameZone.
    pub mode: HaMode,
    /// Zone of the standby ("1", "2" or "3"); only with ZoneRedundant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby_zone: Option<String>,
}

/// HA modes of Flexible Server.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum HaMode {
    /// No standby.
    Disabled,
    /// Standby in another zone (99.99 % SLA).
    ZoneRedundant,
    /// Standby in the same zone.
    SameZone,
}

/// Backups.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Backup {
    /// Retention in days, 7-35.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    /// Geo-redundant backups; can only be chosen when the server is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo_redundant: Option<bool>,
}

/// A weekly maintenance window in UTC.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceWindow {
    /// Day of week, 0 (Sunday) to 6 (Saturday).
    pub day_of_week: u8,
    /// Start hour, 0-23.
    pub start_hour: u8,
    /// Start minute, 0-59.
    #[serde(default)]
    pub start_minute: u8,
}

/// Declared power state of the server.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ServerState {
    /// Started.
    Running,
    /// Stopped (compute not billed).
    Stopped,
}

/// When a pending restart may be performed.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum RestartPolicy {
    /// Restart as soon as ARM reports a pending restart.
    Immediate,
    /// Leave the restart to the next maintenance window.
    MaintenanceWindow,
    /// Never restart; report the pending restart.
    Never,
}

/// Storage account settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// Account name: 3-24 lowercase letters and digits, globally unique.
    pub account_name: String,
    /// Replication SKU, e.g. Standard_LRS, Standard_ZRS, Standard_GZRS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<Replication>,
    /// Minimum TLS version accepted by the account: TLS1_2 (default; lower is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_tls_version: Option<String>,
    /// Public network access: Enabled or Disabled (default Disabled in uat and prod, where Enabled
    /// needs overrides.allowPublicNetwork).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_network_access: Option<PublicNetworkAccess>,
    /// Blob containers (never public).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containers: Option<Vec<ContainerSpec>>,
    /// Lifecycle management rules (tiering by prefix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Vec<LifecycleRule>>,
    /// false (default): the account's one management policy is shared. When the operator writes it,
    /// it keeps every rule that this spec does not name and that it did not create (another team's,
    /// the portal's), and reports them. true: this spec is the whole policy and every undeclared
    /// rule is removed on the next write. Needs `lifecycle` declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_exclusive: Option<bool>,
    /// false (default): a container that is not in `containers` is never deleted; it is reported.
    /// true: undeclared containers are DELETED, AND EVERY BLOB IN THEM WITH THEM, except one under a
    /// legal hold or a locked immutability policy (refused). Only in dev and test, and only with
    /// `containers` declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune_undeclared_containers: Option<bool>,
    /// Network isolation: the blob private endpoint and the account firewall (networkAcls: default
    /// action Deny, bypass AzureServices, plus the declared IP and virtual network rules). uat and
    /// prod require the private endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<StorageNetwork>,
}

/// Storage replication SKUs.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[allow(non_camel_case_types)]
pub enum Replication {
    /// Locally redundant.
    Standard_LRS,
    /// Zone redundant.
    Standard_ZRS,
    /// Geo redundant.
    Standard_GRS,
    /// Read-access geo redundant.
    Standard_RAGRS,
    /// Geo-zone redundant.
    Standard_GZRS,
    /// Read-access geo-zone redundant.
    Standard_RAGZRS,
}

/// Enabled or Disabled.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum PublicNetworkAccess {
    /// Reachable from public networks (still HTTPS only, no anonymous blob access).
    Enabled,
    /// Private endpoints only.
    Disabled,
}

/// A blob container.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerSpec {
    /// Container name: 3-63 lowercase letters, digits and single hyphens.
    pub name: String,
    /// Time-based retention (WORM) in days since creation, 1-146000. Can be extended, never shortened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutability_days: Option<u32>,
    /// Lock the immutability policy. Irreversible: a locked policy can never be shortened or removed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub locked: bool,
    /// Legal-hold tags (3-23 letters and digits). Removing a tag clears that hold if this operator
    /// set it (recorded in status.storage.legalHoldsSet); a hold someone else set is kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub legal_holds: Vec<String>,
}

/// A lifecycle rule on one prefix: move to cool, then archive, then delete.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleRule {
    /// Rule name, unique, letters and digits (1-256).
    pub name: String,
    /// Blob prefix the rule applies to; starts with the container name, e.g. record-plane/.
    pub prefix: String,
    /// Days after last modification before moving to the cool tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cool_after_days: Option<u32>,
    /// Days after last modification before moving to the archive tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_after_days: Option<u32>,
    /// Days after last modification before deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_after_days: Option<u32>,
}

/// Alert thresholds (percent) and where alerts go.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertsSpec {
    /// Resource id of the Azure Monitor action group that receives the alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_group_id: Option<String>,
    /// CPU percent thresholds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<Threshold>,
    /// Memory percent thresholds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_percent: Option<Threshold>,
    /// Active connections as a percent of max_connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections_percent: Option<Threshold>,
    /// Storage used percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_percent: Option<Threshold>,
}

/// A warning and a critical threshold, in percent (0 < warning < critical <= 100).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Threshold {
    /// Warning threshold (severity 2).
    pub warning: u8,
    /// Critical threshold (severity 0).
    pub critical: u8,
}

/// Where the audit logs go (Microsoft.Insights/diagnosticSettings, one setting named
/// `engram-audit` on each resource).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiagnosticsSpec {
    /// Resource id of the Log Analytics workspace:
    /// /subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.OperationalInsights/workspaces/<name>
    pub workspace_id: String,
    /// true: also put the setting on the key vault of spec.encryption (category AuditEvent). This
    /// writes to the customer's vault, so it is off by default; when off, the operator only reads
    /// whether any setting on the vault sends AuditEvent somewhere and reports it in status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_vault: Option<bool>,
    /// Resource id of the vault named by spec.encryption.keyVaultUri
    /// (/subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.KeyVault/vaults/<name>): the
    /// URI alone does not say the vault's subscription and resource group. Needed for keyVault:
    /// true, and for the read-only check when it is false (without it the check reports unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_vault_id: Option<String>,
}

/// Explicit exceptions to the environment rules; each one is reported in status.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Overrides {
    /// Allow state: Stopped outside dev and test.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_stopped: bool,
    /// Allow prod without high availability.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_prod_without_ha: bool,
    /// Allow uat or prod without a customer-managed key.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_without_cmk: bool,
    /// Allow uat or prod with public network access or without private endpoints.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_public_network: bool,
}
