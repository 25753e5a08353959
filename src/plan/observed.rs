//! What the operator observed in Azure, as plain structs. `src/azure/` maps ARM responses into these;
//! the planner reads only these (never an SDK type).

use std::collections::BTreeMap;

/// Observed encryption of a PostgreSQL server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ObservedEncryption {
    /// Service-managed keys (no CMK).
    #[default]
    SystemManaged,
    /// A customer-managed key in Key Vault.
    AzureKeyVault {
        /// `primaryKeyURI` as ARM reports it (versioned or versionless).
        key_uri: String,
        /// `primaryUserAssignedIdentityId`.
        identity_id: Option<String>,
        /// `geoBackupKeyURI` (servers with geo-redundant backup).
        geo_key_uri: Option<String>,
    },
}

/// One version of a Key Vault key and the attributes that decide whether a service may use it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyVersionInfo {
    /// The version segment of its kid.
    pub version: String,
    pub enabled: bool,
    /// Not before (Unix seconds).
    pub nbf: Option<i64>,
    /// Expires (Unix seconds).
    pub exp: Option<i64>,
    /// Created (Unix seconds).
    pub created: i64,
}

impl KeyVersionInfo {
    /// Why a consumer may not be moved to this version at `now` (Unix seconds), if it may not.
    pub fn unusable(&self, now: i64) -> Option<String> {
        if !self.enabled {
            Some(format!("key version {} is disabled", self.version))
        } else if let Some(t) = self.nbf.filter(|t| *t > now) {
            Some(format!(
                "key version {} is not active until {}",
                self.version,
                unix_rfc3339(t)
            ))
        } else {
            self.exp.filter(|t| *t <= now).map(|t| {
                format!(
                    "key version {} expired at {}",
                    self.version,
                    unix_rfc3339(t)
                )
            })
        }
    }
}

/// Unix seconds as RFC 3339 (the raw number when out of range).
pub fn unix_rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

/// The newest version (Key Vault's current version: the last created).
pub fn newest(versions: &[KeyVersionInfo]) -> Option<&KeyVersionInfo> {
    versions.iter().max_by_key(|v| v.created)
}

/// Observed custom maintenance window; `None` on the server means the system-managed window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObservedWindow {
    pub day_of_week: u8,
    pub start_hour: u8,
    pub start_minute: u8,
}

/// A server's `authConfig`: which sign-ins it accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthConfig {
    /// `activeDirectoryAuth`: Microsoft Entra sign-in.
    pub active_directory: bool,
    /// `passwordAuth`: PostgreSQL passwords.
    pub password: bool,
}

/// The server's Microsoft Entra administrator with the declared object id
/// (`flexibleServers/{s}/administrators/{objectId}`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedAdmin {
    pub principal_name: String,
    pub principal_type: String,
    pub tenant_id: Option<String>,
}

/// The observed PostgreSQL flexible server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedServer {
    pub id: String,
    /// `properties.state`: Ready, Stopped, Updating, Starting, Stopping, ...
    pub state: String,
    pub version: Option<String>,
    pub sku_name: String,
    pub sku_tier: String,
    pub storage_gib: u32,
    pub auto_grow: bool,
    /// Disabled, ZoneRedundant or SameZone.
    pub ha_mode: String,
    /// NotEnabled, Healthy, ...
    pub ha_state: Option<String>,
    pub availability_zone: Option<String>,
    pub standby_zone: Option<String>,
    pub backup_retention_days: u32,
    pub geo_redundant_backup: bool,
    pub maintenance_window: Option<ObservedWindow>,
    pub encryption: ObservedEncryption,
    pub fqdn: Option<String>,
    /// `dataEncryption.primaryEncryptionKeyStatus`: Valid, or Invalid when the server cannot use
    /// its key (a disabled, expired or deleted version).
    pub primary_key_status: Option<String>,
    /// `dataEncryption.geoBackupEncryptionKeyStatus`.
    pub geo_key_status: Option<String>,
    /// ARM tags (the owner tag among them).
    pub tags: std::collections::BTreeMap<String, String>,
    /// `network.publicNetworkAccess` (None: not reported, which means Enabled).
    pub public_network_access: Option<String>,
    /// `network.delegatedSubnetResourceId`: set on a VNet-integrated server.
    pub delegated_subnet: Option<String>,
    /// `privateEndpointConnections`.
    pub connections: Vec<super::observed_network::ObservedConnection>,
    /// `authConfig` (None: not reported).
    pub auth: Option<AuthConfig>,
}

/// One observed server parameter (configuration).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedConfig {
    pub value: String,
    pub is_read_only: bool,
    pub is_dynamic: bool,
    pub pending_restart: bool,
    pub allowed_values: Option<String>,
}

/// Everything observed about the PostgreSQL side of a data plane.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedPostgres {
    /// None when the server does not exist.
    pub server: Option<ObservedServer>,
    /// Server parameters by name (empty when the server does not exist).
    pub configs: BTreeMap<String, ObservedConfig>,
    /// The current versioned key URI in Key Vault when the spec follows `latest`.
    pub latest_key_uri: Option<String>,
    /// The current versioned geo-backup key URI when the spec's geo-backup key follows `latest`.
    pub latest_geo_key_uri: Option<String>,
    /// The versions of the customer-managed key (from Key Vault's versions list, oldest first),
    /// when the spec declares one; empty when the key has none or does not exist.
    pub key_versions: Vec<KeyVersionInfo>,
    /// The same for the geo-backup key, when the spec declares one and geo-redundant backup is on.
    pub geo_key_versions: Vec<KeyVersionInfo>,
    /// Why the server name cannot be created, when the server does not exist and the provider's
    /// checkNameAvailability said the name is taken or invalid.
    pub name_unavailable: Option<String>,
    /// The server's firewall rules by name; None when they were not read.
    pub firewall_rules: Option<BTreeMap<String, super::observed_network::ObservedFirewallRule>>,
    /// The declared private endpoint, when it exists.
    pub private_endpoint: Option<super::observed_network::ObservedPrivateEndpoint>,
    /// The administrator with the declared `entraAdmin.objectId`: None when it was not read (no
    /// server, or none declared), `Some(None)` when the server has no such administrator.
    pub entra_admin: Option<Option<ObservedAdmin>>,
}

impl ObservedPostgres {
    /// The server's customer-managed key URIs as it reports them: (primary, geo-backup); none
    /// without a server or a customer-managed key.
    pub fn key_uris(&self) -> (Option<&str>, Option<&str>) {
        match self.server.as_ref().map(|s| &s.encryption) {
            Some(ObservedEncryption::AzureKeyVault {
                key_uri,
                geo_key_uri,
                ..
            }) => (Some(key_uri.as_str()), geo_key_uri.as_deref()),
            _ => (None, None),
        }
    }
}

/// One static-threshold criterion of an observed metric alert.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedCriterion {
    pub metric_name: String,
    pub operator: Option<String>,
    pub time_aggregation: Option<String>,
    /// The threshold as ARM's JSON number text (e.g. `80` or `80.5`).
    pub threshold: Option<String>,
}

/// An observed Microsoft.Insights metric alert rule (only the fields the planner compares).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedAlert {
    pub severity: Option<i64>,
    pub enabled: Option<bool>,
    pub scopes: Vec<String>,
    pub window_size: Option<String>,
    pub evaluation_frequency: Option<String>,
    pub criteria: Vec<ObservedCriterion>,
    pub action_group_ids: Vec<String>,
}

/// Everything observed for one data plane.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    pub postgres: ObservedPostgres,
    pub storage: super::observed_storage::ObservedStorage,
    /// Metric alert rules by name (only the rules the spec implies are read; absent = missing).
    pub alerts: BTreeMap<String, ObservedAlert>,
    /// Diagnostic settings on the server, the blob service and the key vault.
    pub diagnostics: super::diagnostics::ObservedDiagnostics,
    /// The plane's cost budget (None: absent or not declared).
    pub budget: Option<super::budget::ObservedBudget>,
}
