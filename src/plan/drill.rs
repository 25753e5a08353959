//! The restore drill's pure parts: when it is due, what the scratch server is called, and the
//! point in time it restores to. The orchestration (ARM create, verify, delete) is in
//! `reconcile::drill`.

use std::collections::BTreeMap;
use std::str::FromStr;

use croner::Cron;
use time::OffsetDateTime;

use super::{CmkKeys, KeyRef, ObservedEncryption, ObservedServer, Op, PgTarget};
use crate::api::EffectiveSpec;

/// How far behind "now" the drill restores: the newest point Azure reliably has backed up.
pub const RESTORE_LAG: time::Duration = time::Duration::minutes(5);
/// Longest server name Azure accepts.
const MAX_NAME: usize = 63;

/// A five-field cron expression (minute hour day-of-month month day-of-week, UTC).
pub fn parse_schedule(expr: &str) -> Result<Cron, String> {
    let fields = expr.split_whitespace().count();
    if fields != 5 {
        return Err(format!(
            "expected 5 fields (minute hour day month weekday), found {fields}"
        ));
    }
    Cron::from_str(expr).map_err(|e| e.to_string())
}

/// The first time the schedule fires strictly after `after` (None when the expression is invalid
/// or never fires).
pub fn next_due(expr: &str, after: OffsetDateTime) -> Option<OffsetDateTime> {
    let cron = parse_schedule(expr).ok()?;
    let start = chrono::DateTime::<chrono::Utc>::from_timestamp(after.unix_timestamp(), 0)?;
    let next = cron.find_next_occurrence(&start, false).ok()?;
    OffsetDateTime::from_unix_timestamp(next.timestamp()).ok()
}

/// The restore point of a drill requested at `now`.
pub fn restore_point(now: OffsetDateTime) -> OffsetDateTime {
    now - RESTORE_LAG
}

/// `{server}-drill-{yyyymmddhhmm}`; when that passes 63 characters the source name is shortened
/// and a short hash of the full name keeps drills of different long-named servers apart.
pub fn scratch_name(server: &str, at: OffsetDateTime) -> String {
    let stamp = format!(
        "{:04}{:02}{:02}{:02}{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    );
    let suffix = format!("-drill-{stamp}");
    if server.len() + suffix.len() <= MAX_NAME {
        return format!("{server}{suffix}");
    }
    let hash = format!("{:06x}", fnv1a(server) & 0xff_ffff);
    let room = MAX_NAME - suffix.len() - hash.len() - 1;
    let prefix = server[..room.min(server.len())].trim_end_matches('-');
    format!("{prefix}-{hash}{suffix}")
}

/// True for a name this operator gives scratch servers of `server`'s drills: exactly
/// [`scratch_name`] of `server` at the minute its stamp names (the shortened form's hash included),
/// so the delete guard cannot be met by a look-alike.
pub fn is_scratch_of(server: &str, name: &str) -> bool {
    let Some((_, stamp)) = name.rsplit_once("-drill-") else {
        return false;
    };
    let format = time::macros::format_description!("[year][month][day][hour][minute]");
    time::PrimitiveDateTime::parse(stamp, &format)
        .is_ok_and(|at| scratch_name(server, at.assume_utc()) == name)
}

/// The create PUT of a scratch server: a point-in-time restore of the plane's server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgRestore {
    /// The source's region (a point-in-time restore stays in it).
    pub location: String,
    /// `sourceServerResourceId`.
    pub source_id: String,
    /// `pointInTimeUTC`, RFC 3339.
    pub point_in_time_utc: String,
    /// For a source with a customer-managed key: the same key and identity (the service requires
    /// them on the restore of such a server).
    pub cmk: Option<CmkKeys>,
    /// The owner tags.
    pub tags: BTreeMap<String, String>,
}

/// The write that creates scratch server `scratch_name`: `source` (the plane's server as
/// observed) restored to `point`, owner-tagged, carrying the source's key and identity when it
/// has a customer-managed key.
pub fn restore_op(
    eff: &EffectiveSpec,
    source: &ObservedServer,
    scratch_name: &str,
    point: OffsetDateTime,
    owner: &str,
) -> Op {
    let cmk = match &source.encryption {
        ObservedEncryption::AzureKeyVault {
            key_uri,
            identity_id,
            ..
        } => identity_id
            .clone()
            .or_else(|| eff.encryption.as_ref().map(|e| e.identity_id.clone()))
            .map(|identity_id| CmkKeys {
                primary: KeyRef {
                    uri: key_uri.clone(),
                    identity_id,
                },
                geo: None,
            }),
        ObservedEncryption::SystemManaged => None,
    };
    let target = PgTarget {
        subscription_id: eff.azure.subscription_id.clone(),
        resource_group: eff.azure.resource_group.clone(),
        server_name: scratch_name.to_owned(),
    };
    Op::DrillRestore(
        target,
        Box::new(PgRestore {
            location: eff.azure.location.clone(),
            source_id: source.id.clone(),
            point_in_time_utc: super::observed::unix_rfc3339(point.unix_timestamp()),
            cmk,
            tags: super::owner::owner_tags(owner),
        }),
    )
}

fn fnv1a(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn weekly_fires_sunday_three_am() {
        let next = next_due("0 3 * * 0", datetime!(2026-12-02 08:50 UTC)).unwrap();
        assert_eq!(next, datetime!(2026-12-06 03:00 UTC));
    }

    #[test]
    fn bad_schedules_are_refused() {
        assert!(parse_schedule("0 3 * *").is_err());
        assert!(parse_schedule("0 3 * * 0 0").is_err());
        assert!(parse_schedule("61 3 * * 0").is_err());
        assert!(parse_schedule("*/15 * * * *").is_ok());
    }

    #[test]
    fn scratch_names_stay_valid() {
        let at = datetime!(2026-12-02 08:05 UTC);
        assert_eq!(scratch_name("pg-dev", at), "pg-dev-drill-202612020805");
        let long = "a".repeat(50) + "-bb";
        let n = scratch_name(&long, at);
        assert!(n.len() <= 63, "{n} is {} long", n.len());
        assert!(n.ends_with("-drill-202612020805"));
        assert!(!n.contains("--"));
        assert_ne!(n, scratch_name(&("a".repeat(50) + "-cc"), at));
        assert!(is_scratch_of("pg-dev", "pg-dev-drill-202612020805"));
        assert!(is_scratch_of(&long, &n));
        assert!(!is_scratch_of("pg-dev", "pg-dev-replica"));
        // A look-alike of the shortened form with another hash is not ours.
        let prefix = n.split_once("-drill-").map(|(h, _)| h).unwrap_or_default();
        let forged = format!("{}-000000-drill-202612020805", &prefix[..prefix.len() - 7]);
        assert_ne!(forged, n);
        assert!(!is_scratch_of(&long, &forged));
    }

    fn prod() -> EffectiveSpec {
        crate::api::load(include_str!("../../examples/prod.yaml"))
            .expect("prod")
            .1
    }

    #[test]
    fn the_restore_names_its_source_point_and_owner() {
        let e = prod();
        let src = ObservedServer {
            id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/acme-prod-pg".into(),
            ..Default::default()
        };
        let at = datetime!(2026-12-02 08:05 UTC);
        let Op::DrillRestore(t, r) =
            restore_op(&e, &src, "x-drill-1", restore_point(at), "folder/p")
        else {
            panic!("not a restore");
        };
        assert_eq!(t.server_name, "x-drill-1");
        assert_eq!(t.resource_group, e.azure.resource_group);
        assert_eq!(r.source_id, src.id);
        assert_eq!(r.point_in_time_utc, "2026-12-02T08:00:00Z");
        assert_eq!(r.tags[super::super::owner::OWNER_TAG], "folder/p");
        assert_eq!(r.cmk, None);
    }

    #[test]
    fn a_cmk_source_is_restored_with_its_key_and_identity() {
        let e = prod();
        let src = ObservedServer {
            encryption: ObservedEncryption::AzureKeyVault {
                key_uri: "https://kv/keys/k/1".into(),
                identity_id: Some("/id".into()),
                geo_key_uri: Some("https://kv2/keys/k/2".into()),
            },
            ..Default::default()
        };
        let Op::DrillRestore(_, r) =
            restore_op(&e, &src, "s", datetime!(2026-12-02 08:00 UTC), "o")
        else {
            panic!("not a restore");
        };
        let k = r.cmk.expect("key carried");
        assert_eq!(
            (k.primary.uri.as_str(), k.primary.identity_id.as_str()),
            ("https://kv/keys/k/1", "/id")
        );
        assert!(
            k.geo.is_none(),
            "the scratch server has no geo-redundant backup"
        );
    }
}
