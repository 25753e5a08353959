//! The effective spec: a declared spec with its environment profile applied and every default
//! resolved. Every later stage (render, plan, reconcile) reads this, never the raw spec.

use std::collections::BTreeMap;

use super::network::{EffectivePgNetwork, EffectiveStorageNetwork};
use super::profiles::{
    default_lifecycle, Environment, DEFAULT_CONTAINER, DEFAULT_EXTENSIONS, DEFAULT_PG_VERSION,
    DEFAULT_RESYNC_SECONDS,
};
use super::spec::*;
use super::validate::{validate_effective, validate_raw, FieldError};

/// Resolved PostgreSQL settings.
#[derive(Clone, Debug, PartialEq)]
pub struct EffectivePostgres {
    pub server_name: String,
    pub version: String,
    pub sku: Sku,
    /// Set when `sku: auto` chose the SKU: the calculator's explanation.
    pub auto_sized: Option<String>,
    pub availability_zone: Option<String>,
    pub storage_gib: u32,
    pub auto_grow: bool,
    pub high_availability: HighAvailability,
    pub backup_retention_days: u32,
    pub geo_redundant_backup: bool,
    pub maintenance_window: Option<MaintenanceWindow>,
    pub state: ServerState,
    pub extensions: Vec<String>,
    pub parameters: BTreeMap<String, String>,
    pub restart_policy: RestartPolicy,
    pub network: EffectivePgNetwork,
    pub entra_admin: Option<crate::api::spec::EntraAdmin>,
    pub vector: Option<crate::api::spec::VectorSpec>,
    pub restore_drill: Option<crate::api::spec::RestoreDrill>,
    /// `postgres.scaling` as declared (None: the defaults, mode recommend).
    pub scaling: Option<crate::api::scaling::ScalingSpec>,
}

/// Resolved Storage settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EffectiveStorage {
    pub account_name: String,
    pub replication: Replication,
    pub minimum_tls_version: String,
    pub public_network_access: PublicNetworkAccess,
    pub containers: Vec<ContainerSpec>,
    pub lifecycle: Vec<LifecycleRule>,
    /// The spec is the whole management policy (undeclared rules are removed).
    pub lifecycle_exclusive: bool,
    /// Undeclared, unprotected containers are deleted.
    pub prune_undeclared_containers: bool,
    pub network: EffectiveStorageNetwork,
}

/// Resolved alert settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EffectiveAlerts {
    pub action_group_id: Option<String>,
    pub cpu_percent: Threshold,
    pub memory_percent: Threshold,
    pub connections_percent: Threshold,
    pub storage_percent: Threshold,
}

/// Resolved diagnostic settings (`spec.diagnostics`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EffectiveDiagnostics {
    pub workspace_id: String,
    /// Write the setting on the key vault too.
    pub key_vault: bool,
    pub key_vault_id: Option<String>,
}

/// A spec with every default resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct EffectiveSpec {
    pub environment: Environment,
    pub azure: AzureTarget,
    pub mode: Mode,
    pub deletion: DeletionPolicy,
    pub resync_seconds: u64,
    /// `policy.adopt`: take over an untagged existing resource.
    pub adopt: bool,
    /// `policy.adoptFrom`: the owner whose resources may be taken over.
    pub adopt_from: Option<String>,
    /// `policy.recreateDeleted` (profile default).
    pub recreate_deleted: bool,
    pub encryption: Option<Encryption>,
    pub postgres: EffectivePostgres,
    pub storage: EffectiveStorage,
    pub alerts: EffectiveAlerts,
    /// None: no audit logs are routed (uat and prod report it).
    pub diagnostics: Option<EffectiveDiagnostics>,
    /// `spec.costs.budget` (None: no budget is managed).
    pub budget: Option<super::costs::EffectiveBudget>,
    pub overrides: Overrides,
    /// `spec.exports`, as declared.
    pub exports: Option<Exports>,
}

/// Resolve a declared spec into its effective spec, or return every validation error found.
pub fn resolve(spec: &EngramDataPlaneSpec) -> Result<EffectiveSpec, Vec<FieldError>> {
    let mut errors = validate_raw(spec);
    let Ok(environment) = spec.environment.parse::<Environment>() else {
        errors.push(FieldError::new(
            "spec.environment",
            format!(
                "unknown environment {:?}: must be one of dev, test, uat, prod",
                spec.environment
            ),
        ));
        return Err(errors);
    };
    let eff = apply_profile(environment, spec, &mut errors);
    if let Some(eff) = eff {
        errors.extend(validate_effective(spec, &eff));
        if errors.is_empty() {
            return Ok(eff);
        }
    }
    Err(errors)
}

fn apply_profile(
    environment: Environment,
    spec: &EngramDataPlaneSpec,
    errors: &mut Vec<FieldError>,
) -> Option<EffectiveSpec> {
    let profile = environment.profile();
    let pg = &spec.postgres;
    let storage = pg.storage.clone().unwrap_or_default();
    let backup = pg.backup.clone().unwrap_or_default();

    let (sku, auto_sized, sized_storage) = match &pg.sku {
        Some(SkuSetting::Explicit(sku)) => (sku.clone(), None, None),
        None => (
            Sku {
                tier: profile.sku_tier,
                name: profile.sku_name.to_owned(),
            },
            None,
            None,
        ),
        // validate_raw already reported the missing sizing block.
        Some(SkuSetting::Auto(_)) if pg.sizing.is_none() => return None,
        Some(SkuSetting::Auto(_)) => match crate::sizing::auto_sku(
            pg.sizing.as_ref(),
            environment,
            pg.high_availability
                .as_ref()
                .map_or(profile.ha_mode, |ha| ha.mode)
                != HaMode::Disabled,
        ) {
            Ok(choice) => (
                choice.sku,
                Some(choice.explanation),
                Some(choice.storage_gib),
            ),
            Err(rule) => {
                errors.push(FieldError::new("spec.postgres.sizing", rule));
                return None;
            }
        },
    };

    let policy = spec.policy.clone().unwrap_or_default();
    let alerts = spec.alerts.clone().unwrap_or_default();
    let defaults = &profile.alerts;
    Some(EffectiveSpec {
        environment,
        azure: spec.azure.clone(),
        mode: policy.mode.unwrap_or_default(),
        deletion: policy.deletion.unwrap_or_default(),
        resync_seconds: policy.resync_seconds.unwrap_or(DEFAULT_RESYNC_SECONDS),
        adopt: policy.adopt.unwrap_or(false),
        adopt_from: policy.adopt_from.clone(),
        recreate_deleted: policy.recreate_deleted.unwrap_or(profile.recreate_deleted),
        encryption: spec.encryption.clone().map(|mut e| {
            let r = e.rotation.take().unwrap_or_default();
            e.rotation = Some(crate::api::spec::KeyRotationPolicy {
                release_after_hours: Some(r.release_after_hours.unwrap_or(24)),
                max_key_age_days: r.max_key_age_days.or(profile.max_key_age_days),
                rotate: Some(r.rotate.unwrap_or(false)),
            });
            e
        }),
        postgres: EffectivePostgres {
            server_name: pg.server_name.clone(),
            version: pg
                .version
                .clone()
                .unwrap_or_else(|| DEFAULT_PG_VERSION.into()),
            sku,
            auto_sized,
            availability_zone: pg.availability_zone.clone(),
            storage_gib: storage
                .size_gib
                .or(sized_storage)
                .unwrap_or(profile.storage_gib),
            auto_grow: storage.auto_grow.unwrap_or(true),
            high_availability: pg.high_availability.clone().unwrap_or(HighAvailability {
                mode: profile.ha_mode,
                standby_zone: None,
            }),
            backup_retention_days: backup
                .retention_days
                .unwrap_or(profile.backup_retention_days),
            geo_redundant_backup: backup.geo_redundant.unwrap_or(profile.geo_redundant_backup),
            maintenance_window: pg.maintenance_window.clone().or_else(|| {
                profile
                    .maintenance_window
                    .map(
                        |(day_of_week, start_hour, start_minute)| MaintenanceWindow {
                            day_of_week,
                            start_hour,
                            start_minute,
                        },
                    )
            }),
            state: pg.state.unwrap_or(ServerState::Running),
            extensions: pg
                .extensions
                .clone()
                .unwrap_or_else(|| DEFAULT_EXTENSIONS.iter().map(|s| (*s).to_owned()).collect()),
            parameters: pg.parameters.clone().unwrap_or_default(),
            restart_policy: pg
                .restart_policy
                .unwrap_or(RestartPolicy::MaintenanceWindow),
            network: EffectivePgNetwork::resolve(pg.network.as_ref(), &profile),
            entra_admin: pg.entra_admin.clone(),
            vector: pg.vector.clone(),
            restore_drill: pg.restore_drill.clone(),
            scaling: pg.scaling.clone(),
        },
        storage: EffectiveStorage {
            account_name: spec.storage.account_name.clone(),
            replication: spec.storage.replication.unwrap_or(profile.replication),
            minimum_tls_version: spec
                .storage
                .minimum_tls_version
                .clone()
                .unwrap_or_else(|| "TLS1_2".into()),
            public_network_access: spec
                .storage
                .public_network_access
                .unwrap_or(profile.public_network_access),
            containers: spec.storage.containers.clone().unwrap_or_else(|| {
                vec![ContainerSpec {
                    name: DEFAULT_CONTAINER.into(),
                    ..ContainerSpec::default()
                }]
            }),
            lifecycle: spec
                .storage
                .lifecycle
                .clone()
                .unwrap_or_else(default_lifecycle),
            lifecycle_exclusive: spec.storage.lifecycle_exclusive.unwrap_or(false),
            prune_undeclared_containers: spec.storage.prune_undeclared_containers.unwrap_or(false),
            network: EffectiveStorageNetwork::resolve(spec.storage.network.as_ref()),
        },
        alerts: EffectiveAlerts {
            action_group_id: alerts.action_group_id,
            cpu_percent: alerts.cpu_percent.unwrap_or_else(|| defaults.cpu.clone()),
            memory_percent: alerts
                .memory_percent
                .unwrap_or_else(|| defaults.memory.clone()),
            connections_percent: alerts
                .connections_percent
                .unwrap_or_else(|| defaults.connections.clone()),
            storage_percent: alerts
                .storage_percent
                .unwrap_or_else(|| defaults.storage.clone()),
        },
        diagnostics: spec.diagnostics.as_ref().map(|d| EffectiveDiagnostics {
            workspace_id: d.workspace_id.clone(),
            key_vault: d.key_vault.unwrap_or(false),
            key_vault_id: d.key_vault_id.clone(),
        }),
        budget: super::costs::resolve_budget(
            spec.costs.as_ref(),
            &pg.server_name,
            spec.alerts
                .as_ref()
                .and_then(|a| a.action_group_id.as_ref()),
        ),
        overrides: spec.overrides.clone().unwrap_or_default(),
        exports: spec.exports.clone(),
    })
}

impl EffectiveSpec {
    /// The effective spec written back as a fully explicit declared spec (what `render` prints).
    /// Resolving it again yields the same effective spec.
    pub fn to_spec(&self) -> EngramDataPlaneSpec {
        let pg = &self.postgres;
        EngramDataPlaneSpec {
            environment: self.environment.to_string(),
            azure: self.azure.clone(),
            policy: Some(Policy {
                mode: Some(self.mode),
                deletion: Some(self.deletion),
                resync_seconds: Some(self.resync_seconds),
                adopt: Some(self.adopt),
                adopt_from: self.adopt_from.clone(),
                recreate_deleted: Some(self.recreate_deleted),
            }),
            encryption: self.encryption.clone(),
            postgres: PostgresSpec {
                server_name: pg.server_name.clone(),
                version: Some(pg.version.clone()),
                sku: Some(SkuSetting::Explicit(pg.sku.clone())),
                sizing: None,
                availability_zone: pg.availability_zone.clone(),
                storage: Some(PgStorage {
                    size_gib: Some(pg.storage_gib),
                    auto_grow: Some(pg.auto_grow),
                }),
                high_availability: Some(pg.high_availability.clone()),
                backup: Some(Backup {
                    retention_days: Some(pg.backup_retention_days),
                    geo_redundant: Some(pg.geo_redundant_backup),
                }),
                maintenance_window: pg.maintenance_window.clone(),
                state: Some(pg.state),
                extensions: Some(pg.extensions.clone()),
                parameters: Some(pg.parameters.clone()),
                restart_policy: Some(pg.restart_policy),
                network: Some(pg.network.to_spec()),
                entra_admin: pg.entra_admin.clone(),
                vector: pg.vector.clone(),
                restore_drill: pg.restore_drill.clone(),
                scaling: pg.scaling.clone(),
            },
            storage: StorageSpec {
                account_name: self.storage.account_name.clone(),
                replication: Some(self.storage.replication),
                minimum_tls_version: Some(self.storage.minimum_tls_version.clone()),
                public_network_access: Some(self.storage.public_network_access),
                containers: Some(self.storage.containers.clone()),
                lifecycle: Some(self.storage.lifecycle.clone()),
                lifecycle_exclusive: Some(self.storage.lifecycle_exclusive),
                prune_undeclared_containers: Some(self.storage.prune_undeclared_containers),
                network: Some(self.storage.network.to_spec()),
            },
            alerts: Some(AlertsSpec {
                action_group_id: self.alerts.action_group_id.clone(),
                cpu_percent: Some(self.alerts.cpu_percent.clone()),
                memory_percent: Some(self.alerts.memory_percent.clone()),
                connections_percent: Some(self.alerts.connections_percent.clone()),
                storage_percent: Some(self.alerts.storage_percent.clone()),
            }),
            diagnostics: self.diagnostics.as_ref().map(|d| DiagnosticsSpec {
                workspace_id: d.workspace_id.clone(),
                key_vault: Some(d.key_vault),
                key_vault_id: d.key_vault_id.clone(),
            }),
            costs: self
                .budget
                .as_ref()
                .map(super::costs::EffectiveBudget::to_spec),
            overrides: (self.overrides != Overrides::default()).then(|| self.overrides.clone()),
            exports: self.exports.clone(),
        }
    }

    /// The key version to use: None means follow the latest version in Key Vault.
    /// The rotation policy with its defaults (every field set by `resolve`).
    pub fn rotation(&self) -> crate::api::spec::KeyRotationPolicy {
        self.encryption
            .as_ref()
            .and_then(|e| e.rotation.clone())
            .unwrap_or_default()
    }

    /// True when PostgreSQL follows the vault itself (`postgresKeyTracking: auto`).
    pub fn postgres_follows_vault(&self) -> bool {
        self.encryption
            .as_ref()
            .is_some_and(|e| e.postgres_key_tracking == Some(crate::api::spec::KeyTracking::Auto))
    }

    pub fn pinned_key_version(&self) -> Option<&str> {
        self.encryption
            .as_ref()
            .map(|e| e.key_version.as_str())
            .filter(|v| *v != "latest")
    }
}
