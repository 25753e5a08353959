//! Environment profiles: the customer's per-environment defaults (seed §2 "Engram Platform SKU
//! Sizing", §2 "Alert Thresholds", §3 lifecycle policy, §9 risk mitigation).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::spec::{HaMode, LifecycleRule, PublicNetworkAccess, Replication, SkuTier, Threshold};

/// The four environments of the seed document.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Development: minimal, cost-optimized, may be stopped.
    Dev,
    /// Test: load scenarios, may be stopped.
    Test,
    /// User acceptance: production-like, zone-redundant HA.
    Uat,
    /// Production: enterprise scale with headroom.
    Prod,
}

impl Environment {
    /// All environments, in promotion order.
    pub const ALL: [Environment; 4] = [Self::Dev, Self::Test, Self::Uat, Self::Prod];

    /// The profile of defaults for this environment.
    pub fn profile(self) -> Profile {
        let alerts = AlertDefaults::seed();
        match self {
            Self::Dev => Profile {
                sku_tier: SkuTier::Burstable,
                sku_name: "Standard_B1ms",
                storage_gib: 32,
                ha_mode: HaMode::Disabled,
                backup_retention_days: 7,
                geo_redundant_backup: false,
                stopped_allowed: true,
                replication: Replication::Standard_LRS,
                public_network_access: PublicNetworkAccess::Enabled,
                maintenance_window: None,
                cmk_required: false,
                max_key_age_days: None,
                private_network_required: false,
                prune_allowed: true,
                recreate_deleted: true,
                audit_logs_expected: false,
                alerts,
            },
            Self::Test => Profile {
                sku_tier: SkuTier::Burstable,
                sku_name: "Standard_B2s",
                storage_gib: 32,
                ha_mode: HaMode::Disabled,
                backup_retention_days: 7,
                geo_redundant_backup: false,
                stopped_allowed: true,
                replication: Replication::Standard_LRS,
                public_network_access: PublicNetworkAccess::Enabled,
                maintenance_window: None,
                cmk_required: false,
                max_key_age_days: None,
                private_network_required: false,
                prune_allowed: true,
                recreate_deleted: true,
                audit_logs_expected: false,
                alerts,
            },
            Self::Uat => Profile {
                sku_tier: SkuTier::GeneralPurpose,
                sku_name: "Standard_D2s_v3",
                storage_gib: 64,
                ha_mode: HaMode::ZoneRedundant,
                backup_retention_days: 14,
                geo_redundant_backup: false,
                stopped_allowed: false,
                replication: Replication::Standard_ZRS,
                public_network_access: PublicNetworkAccess::Disabled,
                maintenance_window: Some((0, 2, 0)),
                cmk_required: true,
                max_key_age_days: Some(90),
                private_network_required: true,
                prune_allowed: false,
                recreate_deleted: false,
                audit_logs_expected: true,
                alerts,
            },
            Self::Prod => Profile {
                sku_tier: SkuTier::GeneralPurpose,
                sku_name: "Standard_D4s_v3",
                storage_gib: 128,
                ha_mode: HaMode::ZoneRedundant,
                backup_retention_days: 35,
                geo_redundant_backup: true,
                stopped_allowed: false,
                replication: Replication::Standard_GZRS,
                public_network_access: PublicNetworkAccess::Disabled,
                maintenance_window: Some((0, 2, 0)),
                cmk_required: true,
                max_key_age_days: Some(90),
                private_network_required: true,
                prune_allowed: false,
                recreate_deleted: false,
                audit_logs_expected: true,
                alerts,
            },
        }
    }

    /// The lower-case name used in specs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dev => "dev",
            Self::Test => "test",
            Self::Uat => "uat",
            Self::Prod => "prod",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Environment {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|e| e.as_str() == s).ok_or(())
    }
}

/// Defaults an environment contributes to the effective spec.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// SKU tier of the seed's table.
    pub sku_tier: SkuTier,
    /// SKU name of the seed's table.
    pub sku_name: &'static str,
    /// Initial storage (GiB).
    pub storage_gib: u32,
    /// HA mode.
    pub ha_mode: HaMode,
    /// Backup retention (days).
    pub backup_retention_days: u32,
    /// Geo-redundant backups.
    pub geo_redundant_backup: bool,
    /// Whether `state: Stopped` is allowed without an override.
    pub stopped_allowed: bool,
    /// Storage replication.
    pub replication: Replication,
    /// Storage public network access.
    pub public_network_access: PublicNetworkAccess,
    /// Default maintenance window (day, hour, minute), None = system-managed.
    pub maintenance_window: Option<(u8, u8, u8)>,
    /// Whether a customer-managed key is required (seed §4: CMK is critical for customer data).
    pub cmk_required: bool,
    /// Default `encryption.rotation.maxKeyAgeDays` (the strategy's quarterly rotation).
    pub max_key_age_days: Option<u32>,
    /// Whether both services must be private: public access Disabled and private endpoints
    /// (AI-SEC-01 "Access Control: RBAC, Private Endpoints, network isolation").
    pub private_network_required: bool,
    /// Whether `storage.pruneUndeclaredContainers` may be set: pruning deletes containers with
    /// their data, which the record plane of uat and prod must never lose by a spec omission.
    pub prune_allowed: bool,
    /// Default of `policy.recreateDeleted`: whether a server or account deleted outside the
    /// operator is created again (empty). uat and prod refuse, so it can be restored instead.
    pub recreate_deleted: bool,
    /// Whether a plane without `diagnostics` is reported (AuditLogsOff): the seed's AI-SEC-01 asks
    /// for audit logs of key access. Reported, not refused: the workspace is the customer's, and
    /// refusing the spec would stop every other correction on the plane.
    pub audit_logs_expected: bool,
    /// Alert thresholds.
    pub alerts: AlertDefaults,
}

/// The seed's alert thresholds (§2 "Monitoring and Alerting").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertDefaults {
    /// CPU: warning 60, critical 80.
    pub cpu: Threshold,
    /// Memory: warning 70, critical 90.
    pub memory: Threshold,
    /// Connections (of max_connections): warning 70, critical 90.
    pub connections: Threshold,
    /// Storage: alert at 85, critical 90.
    pub storage: Threshold,
}

impl AlertDefaults {
    fn seed() -> Self {
        Self {
            cpu: Threshold {
                warning: 60,
                critical: 80,
            },
            memory: Threshold {
                warning: 70,
                critical: 90,
            },
            connections: Threshold {
                warning: 70,
                critical: 90,
            },
            storage: Threshold {
                warning: 85,
                critical: 90,
            },
        }
    }
}

/// The seed's record-plane lifecycle policy (§3): cool after 30 days, archive after 90, delete after
/// 2555 (7 years).
pub fn default_lifecycle() -> Vec<LifecycleRule> {
    vec![LifecycleRule {
        name: "RecordPlaneLifecycle".into(),
        prefix: "record-plane/".into(),
        cool_after_days: Some(30),
        archive_after_days: Some(90),
        delete_after_days: Some(2555),
    }]
}

/// The record-plane container every data plane has unless the spec lists its own.
pub const DEFAULT_CONTAINER: &str = "record-plane";

/// Default extension allow-list: pgvector is essential (seed §1).
pub const DEFAULT_EXTENSIONS: &[&str] = &["vector"];

/// Default PostgreSQL major version.
pub const DEFAULT_PG_VERSION: &str = "16";

/// The seed's cost notifications (§9 "Cost alerts at 50%, 80%, 100% of budget"), percent of the
/// actual cost; the same in every profile.
pub const DEFAULT_BUDGET_THRESHOLDS: [f64; 3] = [50.0, 80.0, 100.0];

/// Default resync period in seconds.
pub const DEFAULT_RESYNC_SECONDS: u64 = 300;
