//! The customer-managed keys a server must carry: versioned key URIs (pinned tracking). At
//! api-version 2024-08-01 a versionless `primaryKeyURI` / `geoBackupKeyURI` is not what the operator
//! may send, so a `latest` key whose current version could not be read is refused, never sent
//! without one. With `postgresKeyTracking: auto` the URIs are versionless on purpose (sent at
//! 2025-08-01, see `azure::postgres`): Azure follows the vault.

use super::{CmkKeys, KeyRef, ObservedPostgres};
use crate::api::EffectiveSpec;

/// A key that cannot be sent: the field it would go to and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unresolved {
    pub field: &'static str,
    pub reason: String,
}

/// One key reference: the pinned version, else the current version Key Vault reported; the
/// versionless URI when PostgreSQL follows the vault itself (`auto`).
fn key(
    field: &'static str,
    vault: &str,
    name: &str,
    version: &str,
    identity: &str,
    (latest, auto): (Option<&String>, bool),
) -> Result<KeyRef, Unresolved> {
    let base = format!("{}/keys/{name}", vault.trim_end_matches('/'));
    let uri = if auto {
        base
    } else if version == "latest" {
        latest.cloned().ok_or_else(|| Unresolved {
            field,
            reason: format!(
                "the current version of key {name} in {vault} could not be read (no such key, or no version): a versionless key URI is not sent at api-version 2024-08-01; create the key or pin keyVersion"
            ),
        })?
    } else {
        format!("{base}/{version}")
    };
    Ok(KeyRef {
        uri,
        identity_id: identity.to_owned(),
    })
}

/// The keys the spec asks for (None without a customer-managed key). The geo-backup key is
/// part of it only with geo-redundant backup.
pub fn desired(eff: &EffectiveSpec, obs: &ObservedPostgres) -> Result<Option<CmkKeys>, Unresolved> {
    let Some(enc) = &eff.encryption else {
        return Ok(None);
    };
    let primary = key(
        "dataEncryption.primaryKeyURI",
        &enc.key_vault_uri,
        &enc.key_name,
        &enc.key_version,
        &enc.identity_id,
        (obs.latest_key_uri.as_ref(), eff.postgres_follows_vault()),
    )?;
    let geo = match (&enc.geo_backup, eff.postgres.geo_redundant_backup) {
        (Some(g), true) => Some(key(
            "dataEncryption.geoBackupKeyURI",
            &g.key_vault_uri,
            &g.key_name,
            &g.key_version,
            &g.identity_id,
            (
                obs.latest_geo_key_uri.as_ref(),
                eff.postgres_follows_vault(),
            ),
        )?),
        _ => None,
    };
    Ok(Some(CmkKeys { primary, geo }))
}

/// Whether the geo-backup key is to be followed through Key Vault (`latest`).
pub fn follows_latest_geo(eff: &EffectiveSpec) -> bool {
    eff.postgres.geo_redundant_backup
        && eff
            .encryption
            .as_ref()
            .and_then(|e| e.geo_backup.as_ref())
            .is_some_and(|g| g.key_version == "latest")
}
