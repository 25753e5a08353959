//! The key-version safety rule, applied to a finished plan: no consumer (the PostgreSQL primary
//! key, its geo-backup key, the storage account) is ever moved to a key version that is disabled,
//! not yet active (nbf) or expired. Such a move is taken out of the plan and refused with the
//! reason; everything else in the same write still goes. A consumer already on a version is never
//! "moved" to it, so a version that becomes unusable under a consumer is reported elsewhere
//! (KeyVersionDisabled), not refused here.

use super::{
    key_version_of, Action, CmkKeys, KeyRef, KeyVersionInfo, Observed, Op, PgServerPatch, Plan,
    Refusal, StorageOp,
};

/// Why `uri`'s version may not be used (None: usable, or its versions were not read).
fn unusable(uri: &str, versions: &[KeyVersionInfo], now: i64) -> Option<String> {
    let version = key_version_of(uri)?;
    versions
        .iter()
        .find(|v| v.version.eq_ignore_ascii_case(&version))
        .and_then(|v| v.unusable(now))
}

fn refusal(resource: &str, field: &str, why: String) -> Refusal {
    Refusal {
        resource: resource.to_owned(),
        field: field.to_owned(),
        reason: format!("{why}: no consumer is moved to it"),
    }
}

/// A server's keys with every move to an unusable version undone (the key stays where it is).
/// Returns the keys still to send (None: nothing left to change) and the refusals.
fn gate_server_keys(
    resource: &str,
    keys: CmkKeys,
    current: (Option<&str>, Option<&str>),
    obs: &Observed,
    now: i64,
) -> (Option<CmkKeys>, Vec<Refusal>) {
    let mut refused = Vec::new();
    // A key with nowhere to stay (no current URI) and an unusable target: nothing can be sent.
    let mut blocked = false;
    let mut keep = |target: KeyRef, current: Option<&str>, versions, field: &str| match (
        unusable(&target.uri, versions, now),
        current,
    ) {
        (Some(why), Some(cur)) if !cur.eq_ignore_ascii_case(&target.uri) => {
            refused.push(refusal(resource, field, why));
            KeyRef {
                uri: cur.to_owned(),
                ..target
            }
        }
        (Some(why), None) => {
            refused.push(refusal(resource, field, why));
            blocked = true;
            target
        }
        _ => target,
    };
    let pg = &obs.postgres;
    let primary = keep(
        keys.primary,
        current.0,
        &pg.key_versions,
        "dataEncryption.primaryKeyURI",
    );
    let geo = keys.geo.map(|g| {
        keep(
            g,
            current.1,
            &pg.geo_key_versions,
            "dataEncryption.geoBackupKeyURI",
        )
    });
    let moves = |want: &str, cur: Option<&str>| !cur.is_some_and(|c| c.eq_ignore_ascii_case(want));
    let still =
        moves(&primary.uri, current.0) || geo.as_ref().is_some_and(|g| moves(&g.uri, current.1));
    let keys = (still && !blocked).then_some(CmkKeys { primary, geo });
    (keys, refused)
}

/// Apply the rule to one action: the action as it may go (None: nothing left), and refusals.
fn gate_action(mut a: Action, obs: &Observed, now: i64) -> (Option<Action>, Vec<Refusal>) {
    let current = obs.postgres.key_uris();
    match &mut a.op {
        Op::PgCreate(_, create) => {
            let Some(keys) = create.cmk.clone() else {
                return (Some(a), Vec::new());
            };
            let (keys, refused) = gate_server_keys(&a.resource, keys, (None, None), obs, now);
            if keys.is_none() && !refused.is_empty() {
                return (None, refused);
            }
            (Some(a), refused)
        }
        Op::PgPatch(_, patch) => {
            let Some(keys) = patch.key.take() else {
                return (Some(a), Vec::new());
            };
            let (keys, refused) = gate_server_keys(&a.resource, keys, current, obs, now);
            if keys.is_none() {
                a.changes
                    .retain(|c| !c.field.starts_with("dataEncryption."));
            }
            patch.key = keys;
            let empty = *patch == PgServerPatch::default();
            ((!empty).then_some(a), refused)
        }
        Op::Storage(StorageOp::PatchAccount(_, patch)) => {
            let target = patch.cmk.as_ref().map(|k| k.key_version.clone());
            let Some(why) = target.filter(|v| !v.is_empty()).and_then(|v| {
                obs.postgres
                    .key_versions
                    .iter()
                    .find(|k| k.version.eq_ignore_ascii_case(&v))
                    .and_then(|k| k.unusable(now))
            }) else {
                return (Some(a), Vec::new());
            };
            let refused = vec![refusal(&a.resource, "encryption.keyVersion", why)];
            patch.cmk = None;
            a.changes.retain(|c| !c.field.starts_with("encryption."));
            let empty = patch.is_empty();
            ((!empty).then_some(a), refused)
        }
        _ => (Some(a), Vec::new()),
    }
}

/// The plan with every move to an unusable key version taken out and refused.
pub fn gate(plan: Plan, obs: &Observed, now: i64) -> Plan {
    let Plan {
        actions,
        drift,
        mut refused,
        notes,
        waiting,
    } = plan;
    let mut kept = Vec::with_capacity(actions.len());
    for a in actions {
        let (a, r) = gate_action(a, obs, now);
        refused.extend(r);
        kept.extend(a);
    }
    Plan {
        actions: kept,
        drift,
        refused,
        notes,
        waiting,
    }
}
