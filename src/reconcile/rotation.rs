//! The key rotation step of a pass: what each consumer of the customer-managed key shows (from the
//! observation), what this pass sent or was refused, into `plan::rotation::track`; and the
//! conditions it sets (KeyRotated; Degraded with KeyVersionDisabled while a consumer sits on a
//! version it can no longer use).

use std::collections::BTreeMap;

use time::{Duration, OffsetDateTime};

use crate::api::{EffectiveSpec, KeyRotation};
use crate::plan::rotation::{self, ConsumerView, KeyEvent};
use crate::plan::{
    key_version_of, newest, KeyVersionInfo, Observed, ObservedAccountEncryption, Op, Plan,
    StorageOp,
};

/// What the rotation step gives the status.
#[derive(Debug, Default)]
pub struct Step {
    pub rotation: Option<KeyRotation>,
    pub events: Vec<KeyEvent>,
    /// Consumers on a version they can no longer use: "postgres: key version … is disabled".
    pub unusable_in_use: Vec<String>,
    /// With a maximum key age: why a rotation is due (None: it is not). None without one.
    pub due: Option<Option<String>>,
}

/// What happened to each resource this pass.
pub struct PassFacts<'a> {
    pub plan: &'a Plan,
    pub accepted: &'a [&'a Op],
    /// Resource labels with an operation of ours in flight.
    pub in_flight: Vec<&'a str>,
    /// Resource label → why a write or an operation on it failed this pass.
    pub failed: &'a BTreeMap<String, String>,
    /// Resource label → ARM's request id of the write accepted on it this pass.
    pub request_ids: &'a BTreeMap<String, String>,
}

fn target(pinned: &str, versions: &[KeyVersionInfo]) -> Option<String> {
    if pinned != "latest" {
        return Some(pinned.to_owned());
    }
    newest(versions).map(|v| v.version.clone())
}

fn refused(plan: &Plan, resource: &str, field: &str) -> Option<String> {
    plan.refused
        .iter()
        .find(|r| r.resource == resource && r.field == field)
        .map(|r| r.reason.clone())
}

fn unusable(versions: &[KeyVersionInfo], version: Option<&str>, now: i64) -> Option<String> {
    let v = version?;
    versions
        .iter()
        .find(|k| k.version.eq_ignore_ascii_case(v))
        .and_then(|k| k.unusable(now))
}

/// The consumers of the plane's key versions, as this pass sees them.
fn views(eff: &EffectiveSpec, obs: &Observed, facts: &PassFacts<'_>) -> Vec<ConsumerView> {
    let Some(enc) = &eff.encryption else {
        return Vec::new();
    };
    let pg = crate::plan::postgres::resource_label(eff);
    let st = crate::plan::storage_account::resource_label(eff);
    let key = |vault: &str, name: &str| format!("{}/keys/{name}", vault.trim_end_matches('/'));
    let flying = |label: &str| facts.in_flight.contains(&label);
    let pg_key_sent = facts.accepted.iter().any(|op| match op {
        Op::PgPatch(_, p) => p.key.is_some(),
        _ => false,
    });
    let (pg_uri, geo_uri) = obs.postgres.key_uris();
    let server = obs.postgres.server.as_ref();
    let valid = |s: Option<&String>| s.is_none_or(|s| s.eq_ignore_ascii_case("Valid"));
    // A versionless URI (`postgresKeyTracking: auto`) does not say which version the server is
    // on: while its key status is Valid it follows the vault's current one.
    let version_in_use = |uri: Option<&str>, healthy: bool, versions: &[KeyVersionInfo]| {
        let uri = uri?;
        match key_version_of(uri) {
            Some(v) => Some(v),
            None if healthy => newest(versions).map(|v| v.version.clone()),
            None => None,
        }
    };
    // The server's two keys: the same write moves both, each has its own versions and status.
    let pg_view = |consumer: &str,
                   (vault, name, version): (&str, &str, &str),
                   uri: Option<&str>,
                   status: Option<&String>,
                   versions: &[KeyVersionInfo],
                   field: &str| {
        let healthy = valid(status);
        ConsumerView {
            consumer: consumer.into(),
            key: key(vault, name),
            target: target(version, versions),
            observed: version_in_use(uri, healthy, versions),
            healthy,
            move_sent: pg_key_sent,
            in_flight: flying(&pg),
            follows: eff.postgres_follows_vault(),
            refused: refused(facts.plan, &pg, field),
            failed: facts.failed.get(&pg).cloned(),
            request_id: facts.request_ids.get(&pg).cloned(),
        }
    };
    let mut out = vec![pg_view(
        "postgres",
        (&enc.key_vault_uri, &enc.key_name, &enc.key_version),
        pg_uri,
        server.and_then(|s| s.primary_key_status.as_ref()),
        &obs.postgres.key_versions,
        "dataEncryption.primaryKeyURI",
    )];
    if let Some(g) = enc
        .geo_backup
        .as_ref()
        .filter(|_| eff.postgres.geo_redundant_backup)
    {
        out.push(pg_view(
            "postgres-geo-backup",
            (&g.key_vault_uri, &g.key_name, &g.key_version),
            geo_uri,
            server.and_then(|s| s.geo_key_status.as_ref()),
            &obs.postgres.geo_key_versions,
            "dataEncryption.geoBackupKeyURI",
        ));
    }
    let account_key = obs
        .storage
        .account
        .as_ref()
        .and_then(|a| match &a.encryption {
            ObservedAccountEncryption::KeyVault(k) => Some(k),
            _ => None,
        });
    out.push(ConsumerView {
        consumer: "storage".into(),
        key: key(&enc.key_vault_uri, &enc.key_name),
        target: target(&enc.key_version, &obs.postgres.key_versions),
        observed: account_key.and_then(|k| k.version_in_use()),
        healthy: true,
        move_sent: facts
            .accepted
            .iter()
            .any(|op| matches!(op, Op::Storage(StorageOp::PatchAccount(_, p)) if p.cmk.is_some())),
        in_flight: flying(&st),
        follows: enc.key_version == "latest",
        refused: refused(facts.plan, &st, "encryption.keyVersion"),
        failed: facts.failed.get(&st).cloned(),
        request_id: facts.request_ids.get(&st).cloned(),
    });
    out
}

/// The rotation step of one pass.
pub fn step(
    eff: &EffectiveSpec,
    obs: &Observed,
    facts: &PassFacts<'_>,
    prev: Option<&KeyRotation>,
    now: OffsetDateTime,
) -> Step {
    let views = views(eff, obs, facts);
    if views.is_empty() {
        return Step {
            rotation: prev.cloned(),
            ..Step::default()
        };
    }
    let t = now.unix_timestamp();
    let unusable_in_use = views
        .iter()
        .filter_map(|v| {
            let versions = if v.consumer == "postgres-geo-backup" {
                &obs.postgres.geo_key_versions
            } else {
                &obs.postgres.key_versions
            };
            unusable(versions, v.observed.as_deref(), t).map(|why| format!("{}: {why}", v.consumer))
        })
        .collect();
    let policy = eff.rotation();
    let release_after = Duration::hours(i64::from(policy.release_after_hours.unwrap_or(24)));
    let (rotation, events) = rotation::track(prev, &views, now, release_after);
    Step {
        rotation,
        events,
        unusable_in_use,
        due: policy
            .max_key_age_days
            .map(|_| rotation::due(eff, obs, now)),
    }
}
