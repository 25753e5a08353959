//! What the operator reports about a data plane: the same shape in the CRD status subresource and in
//! folder mode's status files.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::status_database::{
    DrillRun, IndexStatus, RestoreDrillStatus, VectorDatabaseStatus, VectorStatus,
};

/// Observed state of a data plane.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EngramDataPlaneStatus {
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Progressing, Drifted and Degraded, following Kubernetes condition conventions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// What the operator last observed of the PostgreSQL server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres: Option<PostgresObserved>,
    /// What the operator last observed of the Storage account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageObserved>,
    /// The audit-log diagnostic settings (spec.diagnostics) and the key vault's audit check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<DiagnosticsObserved>,
    /// The cost budget (spec.costs.budget) as Azure shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetObserved>,
    /// Number of entries in drift (for the printer column).
    #[serde(default)]
    pub drift_count: u32,
    /// Field-level differences between the declared and the observed state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<DriftEntry>,
    /// Long-running ARM operations in flight; a restarted operator resumes polling these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_operations: Vec<PendingOperation>,
    /// Creates about to be sent, or sent without their answer recorded (write-ahead intent): a
    /// restarted operator that finds the resource absent waits out the create's window instead of
    /// sending it again (docs/crash-safety.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub create_intents: Vec<CreateIntent>,
    /// Validation errors and refused changes, one line each (field path and rule).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// Informational notes (auto-sizing decisions, auto-grown storage, active overrides).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// An access failure being retried (AuthorizationFailed, CredentialInvalid): the wait before
    /// the next try doubles from `since`, from 1 to 30 minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryState>,
    /// The last key rotation: which version each consumer of the customer-managed key moved from
    /// and to, and when it was confirmed on all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_rotation: Option<KeyRotation>,
    /// pgvector in the declared databases (postgres.vector).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector: Option<VectorStatus>,
    /// The point-in-time restore drill (postgres.restoreDrill).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_drill: Option<RestoreDrillStatus>,
    /// What the server's metrics call for (postgres.scaling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling: Option<super::scaling::ScalingStatus>,
    /// The annotation `engram.zimax.net/reconcile-policy` in force at the last pass, when it is
    /// not `manage` (observe, skip or detach-on-delete): how a change of it is noticed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconcile_policy: Option<String>,
    /// The Entra principal the operator uses for this plane (spec.azure.credentialFrom).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<super::status_azure::AzureStatus>,
}

/// A key-version rotation across every consumer of the key, tracked until each consumer's own
/// report shows the new version.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyRotation {
    /// InProgress, Complete (every consumer confirmed) or SafeToDisablePrevious (the release
    /// delay has passed too).
    pub phase: String,
    /// The primary key's version before and after (PostgreSQL and Storage share it).
    pub from_version: String,
    pub to_version: String,
    /// When the rotation was detected (RFC 3339).
    pub started_at: String,
    /// When the last consumer was confirmed on the new version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_at: Option<String>,
    /// Confirmation + `encryption.rotation.releaseAfterHours`: the earliest time the previous
    /// version may be disabled. Nothing says so earlier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safe_to_disable_previous_after: Option<String>,
    /// One entry per consumer of a key version.
    pub consumers: Vec<KeyConsumer>,
}

/// One consumer of a key version in a rotation.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyConsumer {
    /// postgres, postgres-geo-backup or storage.
    pub consumer: String,
    /// The versionless key URI this consumer uses.
    pub key: String,
    pub from_version: String,
    pub to_version: String,
    /// The version the consumer itself reports now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_version: Option<String>,
    /// Pending, Moving, Following (Storage under `latest`: Azure moves it), Confirmed, Refused or
    /// Failed.
    pub state: String,
    /// Why it is Refused or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_at: Option<String>,
}

/// The failure a data plane is retrying, and since when.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetryState {
    /// The condition reason (AuthorizationFailed or CredentialInvalid).
    pub reason: String,
    /// When it was first seen (RFC 3339).
    pub since: String,
}

/// Summary of the observed PostgreSQL server.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostgresObserved {
    /// ARM resource id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Server state (Ready, Stopped, Updating ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// SKU name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// Storage size in GiB.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "storageGiB"
    )]
    pub storage_gib: Option<u32>,
    /// High-availability state (NotEnabled, Healthy ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ha_state: Option<String>,
    /// Key version of the customer-managed key in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_version: Option<String>,
    /// Fully qualified domain name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<String>,
    /// The address the operator would use for the in-database steps, and how it is reached:
    /// `{fqdn}:5432`, through the private endpoint (its private address, resolved by the linked
    /// private DNS zone), VNet integration, or public access with firewall rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// How the server is reached (for evidence: the network mode and the private endpoint's state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkObserved>,
}

/// A service's network isolation as observed. The private endpoint control holds when
/// publicNetworkAccess is Disabled, the connection Approved and the DNS zone group present.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkObserved {
    /// The declared mode: PrivateEndpoint, VnetIntegration or Public.
    pub mode: String,
    /// publicNetworkAccess as Azure reports it (Enabled or Disabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_network_access: Option<String>,
    /// The private endpoint's name, when it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_endpoint: Option<String>,
    /// Its connection state as the server or account lists it (Approved, Pending ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// Whether its DNS zone group names the declared private DNS zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_zone_group: Option<bool>,
    /// The endpoint's private IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip_address: Option<String>,
}

/// Summary of the observed Storage account.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageObserved {
    /// ARM resource id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Key version of the customer-managed key in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_version: Option<String>,
    /// Names of the lifecycle rules in force.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lifecycle_rules: Vec<String>,
    /// How the account is reached (for evidence: the network mode and the private endpoint's state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkObserved>,
    /// Legal-hold tags this data plane set, by container (lower case, sorted). The operator only
    /// ever clears a hold listed here; a hold someone else set is kept and reported. Losing this
    /// record makes the operator keep holds, never clear them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub legal_holds_set: BTreeMap<String, Vec<String>>,
    /// Names of the lifecycle rules this data plane created (sorted). When the operator writes the
    /// management policy it keeps every rule that the spec does not name and that is not listed
    /// here (unless `storage.lifecycleExclusive`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lifecycle_rules_created: Vec<String>,
}

/// What the operator observed of the audit-log diagnostic settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiagnosticsObserved {
    /// The Log Analytics workspace the settings send to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
    /// Resources whose `engram-audit` setting is in place as declared, e.g.
    /// diagnostics/postgres/acme-prod-pg.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub in_place: Vec<String>,
    /// Whether any diagnostic setting on the key vault sends AuditEvent somewhere (whoever made
    /// it): pass, fail, or unknown when the operator may not read the vault's settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_vault_audit: Option<AuditCheck>,
}

/// What the operator observed of the cost budget.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BudgetObserved {
    /// The budget's name.
    pub name: String,
    /// Its ARM id, once it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The monthly amount Azure holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<f64>,
    /// Azure's actual cost of the current month so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_spend: Option<f64>,
    /// The currency Azure reports spend in (the subscription's billing currency).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_currency: Option<String>,
    /// The notification thresholds Azure holds (percent of the amount).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<f64>,
}

/// The result of one audit check.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditCheck {
    /// pass, fail or unknown.
    pub result: String,
    /// What was seen, or why it is unknown.
    pub detail: String,
}

/// One field that differs between declared and observed state.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftEntry {
    /// Resource kind and name, e.g. postgres/acme-prod-pg.
    pub resource: String,
    /// Field path, e.g. sku.name.
    pub field: String,
    /// Declared value.
    pub desired: String,
    /// Observed value.
    pub observed: String,
    /// When the drift was first seen (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected_at: Option<String>,
    /// Whether a correcting write was sent.
    #[serde(default)]
    pub corrected: bool,
}

/// A long-running ARM operation in flight.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingOperation {
    /// Resource kind and name.
    pub resource: String,
    /// What was asked: create, update, start, stop, restart, configure ...
    pub action: String,
    /// The Azure-AsyncOperation (or Location) URL to poll.
    pub operation_url: String,
    /// When the write was accepted (RFC 3339).
    pub started_at: String,
}

/// A create recorded before its PUT is sent. Once ARM accepts it, it becomes a pending operation;
/// while ARM shows nothing it holds the create back until its window has passed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateIntent {
    /// Resource kind and name, e.g. postgres/acme-prod-pg.
    pub resource: String,
    /// The ARM resource type, e.g. Microsoft.DBforPostgreSQL/flexibleServers.
    pub kind: String,
    /// The ARM id the create is sent to.
    pub id: String,
    /// When the intent was recorded, just before the PUT (RFC 3339).
    pub recorded_at: String,
}
