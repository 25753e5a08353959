//! Validation: pure functions that return every error at once, each with the field path (as written
//! in YAML) and the rule broken. Service rules follow shared/arm-contract/FACTS.md.

use std::fmt;

use super::effective::EffectiveSpec;
use super::spec::*;

mod costs;
pub mod database;
mod diagnostics;
mod exports;
pub use exports::is_dns1123_subdomain;
mod network;
mod scaling;
mod storage;
use storage::storage;

/// One broken rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Field path as written in YAML, e.g. `spec.postgres.highAvailability.mode`.
    pub path: String,
    /// The rule that was broken, in words.
    pub rule: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, rule: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            rule: rule.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.rule)
    }
}

/// Storage sizes a Premium SSD Flexible Server accepts (GiB), FACTS §8.3.
pub const ALLOWED_STORAGE_GIB: &[u32] =
    &[32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32767];
/// PostgreSQL major versions of the 2024-08-01 API.
pub const SUPPORTED_PG_VERSIONS: &[&str] = &["11", "12", "13", "14", "15", "16", "17"];
/// Longest time-based retention Azure accepts (days).
pub const MAX_IMMUTABILITY_DAYS: u32 = 146_000;
/// Largest lifecycle day value (FACTS §9.4, observed).
pub const MAX_LIFECYCLE_DAYS: u32 = 99_999;

struct Errors(Vec<FieldError>);

impl Errors {
    fn check(&mut self, ok: bool, path: impl Into<String>, rule: impl Into<String>) {
        if !ok {
            self.0.push(FieldError::new(path, rule));
        }
    }
}

/// Checks that hold whatever the profile: names, formats, ranges of declared values.
pub fn validate_raw(spec: &EngramDataPlaneSpec) -> Vec<FieldError> {
    let mut e = Errors(Vec::new());
    azure_target(&mut e, &spec.azure);
    if let Some(p) = &spec.policy {
        if let Some(s) = p.resync_seconds {
            e.check(
                (30..=86_400).contains(&s),
                "spec.policy.resyncSeconds",
                format!("{s} is out of range: must be 30-86400 seconds"),
            );
        }
        if let Some(from) = &p.adopt_from {
            let ok = from.split_once('/').is_some_and(|(ns, name)| {
                !ns.is_empty() && !name.is_empty() && !name.contains('/')
            });
            e.check(
                ok,
                "spec.policy.adoptFrom",
                format!("{from:?} must be an owner as {{namespace}}/{{name}} (folder mode: folder/{{name}})"),
            );
        }
    }
    if let Some(enc) = &spec.encryption {
        encryption(&mut e, enc);
    }
    postgres(&mut e, &spec.postgres);
    storage(&mut e, &spec.storage);
    if let Some(n) = &spec.postgres.network {
        network::postgres(&mut e, n);
    }
    if let Some(n) = &spec.storage.network {
        network::storage(&mut e, n);
    }
    if let Some(a) = &spec.alerts {
        alerts(&mut e, a);
    }
    if let Some(a) = &spec.postgres.entra_admin {
        database::entra_admin(&mut e, a);
    }
    if let Some(v) = &spec.postgres.vector {
        database::vector(&mut e, v);
    }
    if let Some(d) = &spec.postgres.restore_drill {
        database::restore_drill(&mut e, d);
    }
    if let Some(s) = &spec.postgres.scaling {
        scaling::scaling(&mut e, s, spec.postgres.sku.as_ref());
    }
    if let Some(d) = &spec.diagnostics {
        diagnostics::diagnostics(&mut e, d, spec.encryption.as_ref());
    }
    if let Some(x) = &spec.exports {
        exports::exports(&mut e, x);
    }
    costs::costs(&mut e, spec);
    e.0
}

fn azure_target(e: &mut Errors, a: &AzureTarget) {
    if let Some(c) = &a.credential_from {
        e.check(
            !c.trim().is_empty() && c.len() <= 253 && !c.chars().any(char::is_control),
            "spec.azure.credentialFrom",
            "must name a Secret (Kubernetes) or a file (folder mode): 1-253 characters, no control characters",
        );
    }
    e.check(
        is_guid(&a.subscription_id),
        "spec.azure.subscriptionId",
        format!("{:?} is not a subscription id (a GUID)", a.subscription_id),
    );
    let rg = &a.resource_group;
    e.check(
        (1..=90).contains(&rg.len())
            && rg
                .chars()
                .all(|c| c.is_alphanumeric() || "-_.()".contains(c))
            && !rg.ends_with('.'),
        "spec.azure.resourceGroup",
        format!("{rg:?} breaks Azure's resource group naming rule: 1-90 letters, digits, '-', '_', '.', '(', ')', not ending with '.'"),
    );
    e.check(
        !a.location.is_empty()
            && a.location
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
        "spec.azure.location",
        format!(
            "{:?} is not an Azure region name (lowercase letters and digits, e.g. eastus2)",
            a.location
        ),
    );
}

fn encryption(e: &mut Errors, enc: &Encryption) {
    let p = "spec.encryption";
    key_ref(
        e,
        p,
        &enc.key_vault_uri,
        &enc.key_name,
        &enc.key_version,
        &enc.identity_id,
    );
    if let Some(g) = &enc.geo_backup {
        let gp = format!("{p}.geoBackup");
        key_ref(
            e,
            &gp,
            &g.key_vault_uri,
            &g.key_name,
            &g.key_version,
            &g.identity_id,
        );
        e.check(
            !same_vault(&g.key_vault_uri, &enc.key_vault_uri),
            format!("{gp}.keyVaultUri"),
            "must be a Key Vault in the geo-backup (paired) region, not the primary key's vault: a vault lives in one region",
        );
    }
    if enc.postgres_key_tracking == Some(crate::api::spec::KeyTracking::Auto) {
        let geo_pinned = enc
            .geo_backup
            .as_ref()
            .is_some_and(|g| g.key_version != "latest");
        e.check(
            enc.key_version == "latest" && !geo_pinned,
            format!("{p}.postgresKeyTracking"),
            "auto needs keyVersion: latest (and geoBackup.keyVersion: latest): Azure follows the vault's current version",
        );
    }
    if let Some(r) = &enc.rotation {
        let rp = format!("{p}.rotation");
        e.check(
            r.release_after_hours
                .is_none_or(|h| (1..=8760).contains(&h)),
            format!("{rp}.releaseAfterHours"),
            "must be 1-8760 hours",
        );
        e.check(
            r.max_key_age_days.is_none_or(|d| (1..=3650).contains(&d)),
            format!("{rp}.maxKeyAgeDays"),
            "must be 1-3650 days",
        );
        e.check(
            r.rotate != Some(true) || enc.key_version == "latest",
            format!("{rp}.rotate"),
            "needs keyVersion: latest (a version the operator creates is followed, not pinned)",
        );
    }
}

/// One customer-managed key reference: vault URI, key name, version, identity.
fn key_ref(e: &mut Errors, p: &str, vault: &str, name: &str, version: &str, identity: &str) {
    e.check(
        is_key_vault_uri(vault),
        format!("{p}.keyVaultUri"),
        format!("{vault:?} is not a Key Vault URI: expected https://<vault-name>.vault.azure.net (vault name 3-24 letters, digits and hyphens, starting with a letter)"),
    );
    e.check(
        (1..=127).contains(&name.len())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
        format!("{p}.keyName"),
        format!("{name:?} is not a Key Vault key name (1-127 letters, digits and hyphens)"),
    );
    e.check(
        version == "latest"
            || (version.len() == 32 && version.chars().all(|c| c.is_ascii_hexdigit())),
        format!("{p}.keyVersion"),
        format!("{version:?} must be `latest` or a key version of 32 hexadecimal characters"),
    );
    e.check(
        is_identity_id(identity),
        format!("{p}.identityId"),
        format!("{identity:?} is not a user-assigned identity resource id: expected /subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>"),
    );
}

fn same_vault(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

fn postgres(e: &mut Errors, pg: &PostgresSpec) {
    let n = &pg.server_name;
    e.check(
        (3..=63).contains(&n.len())
            && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !n.starts_with('-')
            && !n.ends_with('-'),
        "spec.postgres.serverName",
        format!("{n:?} breaks the server naming rule: 3-63 lowercase letters, digits and hyphens, not starting or ending with a hyphen"),
    );
    if let Some(v) = &pg.version {
        e.check(
            SUPPORTED_PG_VERSIONS.contains(&v.as_str()),
            "spec.postgres.version",
            format!("{v:?} is not a supported PostgreSQL major version (11-17)"),
        );
    }
    match (&pg.sku, &pg.sizing) {
        (Some(SkuSetting::Explicit(sku)), _) => {
            let prefix = match sku.tier {
                SkuTier::Burstable => "Standard_B",
                SkuTier::GeneralPurpose => "Standard_D",
                SkuTier::MemoryOptimized => "Standard_E",
            };
            e.check(
                sku.name.starts_with(prefix) && sku.name.len() > prefix.len(),
                "spec.postgres.sku.name",
                format!(
                    "{:?} does not belong to the {:?} tier (expected {prefix}...)",
                    sku.name, sku.tier
                ),
            );
        }
        (Some(SkuSetting::Auto(_)), None) => e.check(
            false,
            "spec.postgres.sizing",
            "sku: auto needs sizing: {sessions, facts, connections}",
        ),
        _ => {}
    }
    if let Some(z) = &pg.availability_zone {
        e.check(
            is_zone(z),
            "spec.postgres.availabilityZone",
            format!("{z:?} must be \"1\", \"2\" or \"3\""),
        );
    }
    if let Some(b) = &pg.backup {
        if let Some(d) = b.retention_days {
            e.check(
                (7..=35).contains(&d),
                "spec.postgres.backup.retentionDays",
                format!("{d} is out of range: backup retention must be 7-35 days"),
            );
        }
    }
    if let Some(mw) = &pg.maintenance_window {
        let p = "spec.postgres.maintenanceWindow";
        e.check(
            mw.day_of_week <= 6,
            format!("{p}.dayOfWeek"),
            format!(
                "{} is out of range: 0 (Sunday) to 6 (Saturday)",
                mw.day_of_week
            ),
        );
        e.check(
            mw.start_hour <= 23,
            format!("{p}.startHour"),
            format!("{} is out of range: 0-23", mw.start_hour),
        );
        e.check(
            mw.start_minute <= 59,
            format!("{p}.startMinute"),
            format!("{} is out of range: 0-59", mw.start_minute),
        );
    }
    if let Some(exts) = &pg.extensions {
        for (i, x) in exts.iter().enumerate() {
            e.check(
                !x.is_empty() && x.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                format!("spec.postgres.extensions[{i}]"),
                format!("{x:?} is not an extension name (letters, digits and underscores)"),
            );
        }
    }
    if let Some(params) = &pg.parameters {
        for name in params.keys() {
            let path = format!("spec.postgres.parameters.{name}");
            e.check(
                is_parameter_name(name),
                path.clone(),
                "not a server parameter name (1-256 letters, digits, '-', '_', '.')",
            );
            e.check(
                !is_extensions(name),
                path,
                "declare extensions in spec.postgres.extensions, not as a parameter",
            );
        }
    }
}

fn is_parameter_name(name: &str) -> bool {
    (1..=256).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "-_.".contains(c))
}

fn is_extensions(name: &str) -> bool {
    name.eq_ignore_ascii_case("azure.extensions")
}

/// Every declared parameter against Microsoft's published table for the server's version (names
/// the raw checks already refused are not reported twice).
fn parameters(e: &mut Errors, pg: &super::effective::EffectivePostgres) {
    for (name, value) in &pg.parameters {
        if !is_parameter_name(name) || is_extensions(name) {
            continue;
        }
        if let Err(rule) = super::pg_parameters::check(&pg.version, name, value) {
            e.check(false, format!("spec.postgres.parameters.{name}"), rule);
        }
    }
}

fn alerts(e: &mut Errors, a: &AlertsSpec) {
    if let Some(id) = &a.action_group_id {
        e.check(
            is_resource_id(id, "microsoft.insights/actiongroups"),
            "spec.alerts.actionGroupId",
            format!("{id:?} is not an action group resource id (/subscriptions/<guid>/resourceGroups/<rg>/providers/microsoft.insights/actionGroups/<name>)"),
        );
    }
    for (name, t) in [
        ("cpuPercent", &a.cpu_percent),
        ("memoryPercent", &a.memory_percent),
        ("connectionsPercent", &a.connections_percent),
        ("storagePercent", &a.storage_percent),
    ] {
        if let Some(t) = t {
            e.check(
                t.warning > 0 && t.warning < t.critical && t.critical <= 100,
                format!("spec.alerts.{name}"),
                format!(
                    "warning {} / critical {}: must be 0 < warning < critical <= 100",
                    t.warning, t.critical
                ),
            );
        }
    }
}

/// Checks that need the profile applied: combinations of declared and default values.
pub fn validate_effective(spec: &EngramDataPlaneSpec, eff: &EffectiveSpec) -> Vec<FieldError> {
    use super::profiles::Environment;
    let mut e = Errors(Vec::new());
    let pg = &eff.postgres;
    let env = eff.environment;
    let origin = |declared: bool| {
        if declared {
            String::new()
        } else {
            format!(" (from the {env} profile)")
        }
    };
    let ha_declared = spec.postgres.high_availability.is_some();
    let ha = &pg.high_availability;
    e.check(
        !(ha.mode != HaMode::Disabled && pg.sku.tier == SkuTier::Burstable),
        "spec.postgres.highAvailability.mode",
        format!("{:?}{} is not available on the Burstable tier ({}): use GeneralPurpose or MemoryOptimized, or mode Disabled", ha.mode, origin(ha_declared), pg.sku.name),
    );
    if let Some(z) = &ha.standby_zone {
        e.check(
            is_zone(z),
            "spec.postgres.highAvailability.standbyZone",
            format!("{z:?} must be \"1\", \"2\" or \"3\""),
        );
        e.check(
            ha.mode == HaMode::ZoneRedundant,
            "spec.postgres.highAvailability.standbyZone",
            format!(
                "a standby zone only applies to mode ZoneRedundant, not {:?}",
                ha.mode
            ),
        );
        e.check(
            pg.availability_zone.as_deref() != Some(z.as_str()),
            "spec.postgres.highAvailability.standbyZone",
            "the standby zone must differ from the primary's availabilityZone",
        );
    }
    parameters(&mut e, pg);
    e.check(
        ALLOWED_STORAGE_GIB.contains(&pg.storage_gib),
        "spec.postgres.storage.sizeGiB",
        format!(
            "{} is not a Flexible Server storage size: one of {ALLOWED_STORAGE_GIB:?} GiB",
            pg.storage_gib
        ),
    );
    e.check(
        pg.state == ServerState::Running || env.profile().stopped_allowed || eff.overrides.allow_stopped,
        "spec.postgres.state",
        format!("Stopped is only allowed in dev and test; {env} needs spec.overrides.allowStopped: true"),
    );
    e.check(
        !(env == Environment::Prod && ha.mode == HaMode::Disabled && !eff.overrides.allow_prod_without_ha),
        "spec.postgres.highAvailability.mode",
        "prod requires high availability; set spec.overrides.allowProdWithoutHa: true to run without it",
    );
    let st = &spec.storage;
    if eff.storage.prune_undeclared_containers {
        e.check(
            env.profile().prune_allowed,
            "spec.storage.pruneUndeclaredContainers",
            format!("true is only allowed in dev and test: pruning deletes undeclared containers with every blob in them, and {env} keeps the system of record (delete such a container by hand)"),
        );
        e.check(
            st.containers.is_some(),
            "spec.storage.pruneUndeclaredContainers",
            "true needs spec.storage.containers declared: every container not listed there is deleted with its data",
        );
    }
    e.check(
        !eff.storage.lifecycle_exclusive || st.lifecycle.is_some(),
        "spec.storage.lifecycleExclusive",
        "true needs spec.storage.lifecycle declared: the declared rules become the whole policy and every other rule is removed",
    );
    if let Some(enc) = &eff.encryption {
        let geo_declared = spec
            .postgres
            .backup
            .as_ref()
            .is_some_and(|b| b.geo_redundant.is_some());
        e.check(
            enc.geo_backup.is_some() || !pg.geo_redundant_backup,
            "spec.encryption.geoBackup",
            format!("required when a customer-managed key and geo-redundant backup{} are both on: Azure encrypts the geo-backup copy with a key and a user-assigned identity in the paired region (geoBackupKeyURI, geoBackupUserAssignedIdentityId) and refuses the server without them", origin(geo_declared)),
        );
        e.check(
            enc.geo_backup.is_none() || pg.geo_redundant_backup,
            "spec.encryption.geoBackup",
            "applies only with geo-redundant backup (spec.postgres.backup.geoRedundant: true); remove it or turn geo-redundant backup on",
        );
    }
    network::effective(&mut e, eff);
    database::effective(&mut e, eff);
    e.check(
        eff.encryption.is_some() || !env.profile().cmk_required || eff.overrides.allow_without_cmk,
        "spec.encryption",
        format!("{env} requires a customer-managed key (seed §4); set spec.overrides.allowWithoutCmk: true to run without it"),
    );
    e.0
}

/// A GUID in its 8-4-4-4-12 hexadecimal form.
pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn is_zone(z: &str) -> bool {
    matches!(z, "1" | "2" | "3")
}

const KEY_VAULT_SUFFIXES: &[&str] = &[
    ".vault.azure.net",
    ".vault.azure.cn",
    ".vault.usgovcloudapi.net",
    ".vault.microsoftazure.de",
    ".managedhsm.azure.net",
];

fn is_key_vault_uri(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("https://") else {
        return false;
    };
    let host = rest.strip_suffix('/').unwrap_or(rest);
    KEY_VAULT_SUFFIXES.iter().any(|suffix| {
        host.strip_suffix(suffix).is_some_and(|name| {
            (3..=24).contains(&name.len())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && name.starts_with(|c: char| c.is_ascii_alphabetic())
                && !name.ends_with('-')
                && !name.contains("--")
        })
    })
}

/// `/subscriptions/<guid>/resourceGroups/<rg>/providers/<provider>/<type>/<name>`, compared case-insensitively.
fn is_resource_id(id: &str, provider_and_type: &str) -> bool {
    let parts: Vec<&str> = id.split('/').collect();
    let want: Vec<&str> = provider_and_type.split('/').collect();
    parts.len() == 9
        && parts[0].is_empty()
        && parts[1].eq_ignore_ascii_case("subscriptions")
        && is_guid(parts[2])
        && parts[3].eq_ignore_ascii_case("resourceGroups")
        && !parts[4].is_empty()
        && parts[5].eq_ignore_ascii_case("providers")
        && parts[6].eq_ignore_ascii_case(want[0])
        && parts[7].eq_ignore_ascii_case(want[1])
        && !parts[8].is_empty()
}

fn is_identity_id(id: &str) -> bool {
    is_resource_id(id, "Microsoft.ManagedIdentity/userAssignedIdentities")
}
