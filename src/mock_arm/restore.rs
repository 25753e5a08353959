//! Point-in-time restore of a flexible server (`createMode: PointInTimeRestore`): the source must
//! exist, the point must lie inside what its backups cover (not before it was created, not
//! before now − its retention, not after now, on the mock's clock), and the restore of a source
//! with a customer-managed key must carry a key and the identity that reads it. The restored
//! server takes the source's SKU, version, storage, administrator login and authentication
//! settings. Also the address a new server reports (`--pg-fqdn`, `--pg-restore-fqdn`).

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::clock::rfc3339;
use super::errors::ArmError;
use super::pg_rules::{CMK_INVALID, INVALID_PARAMETER};
use super::store::{at, set_at, str_at, Req, World};
use super::MockConfig;

/// The mock's own code (no example or fact names the service's): `sourceServerResourceId` does
/// not name an existing server.
pub const SOURCE_NOT_FOUND: &str = "RestoreSourceServerNotFound";
/// The mock's own code: `pointInTimeUTC` lies outside what the source's backups cover.
pub const POINT_OUTSIDE_RETENTION: &str = "RestorePointOutsideRetention";

/// The create mode of a create body, lower case (`default` when absent).
pub fn create_mode(body: &Value) -> String {
    str_at(body, &["properties", "createMode"])
        .unwrap_or("Default")
        .to_ascii_lowercase()
}

/// Check a point-in-time restore body against its source and the clock; returns the source's
/// body.
pub fn check_point_in_time(world: &World, req: &Req, body: &Value) -> Result<Value, ArmError> {
    let source_id = str_at(body, &["properties", "sourceServerResourceId"]).unwrap_or_default();
    let Some(source) = world
        .get(source_id)
        .filter(|_| !source_id.is_empty())
        .map(|r| r.body.clone())
        .filter(|b| str_at(b, &["type"]) == Some(super::postgres::TYPE))
    else {
        return Err(ArmError::bad_request(
            SOURCE_NOT_FOUND,
            format!("The source server '{source_id}' of the point-in-time restore was not found (properties.sourceServerResourceId must name an existing flexible server)."),
        ));
    };
    let given = str_at(body, &["properties", "pointInTimeUTC"]).unwrap_or_default();
    let point = OffsetDateTime::parse(given, &Rfc3339).map_err(|_| {
        ArmError::bad_request(
            INVALID_PARAMETER,
            format!("Invalid value given for parameter pointInTimeUTC '{given}': an RFC 3339 UTC time is required for createMode PointInTimeRestore."),
        )
    })?;
    let days = at(&source, &["properties", "backup", "backupRetentionDays"])
        .and_then(Value::as_i64)
        .unwrap_or(7);
    let created = str_at(&source, &["systemData", "createdAt"])
        .and_then(|c| OffsetDateTime::parse(c, &Rfc3339).ok());
    let by_retention = req.now - time::Duration::days(days);
    let earliest = created.map_or(by_retention, |c| c.max(by_retention));
    let why = if point > req.now {
        Some(format!("it is in the future (now {})", req.now_str()))
    } else if point < earliest {
        let cause = if created.is_some_and(|c| c > by_retention) {
            "the source server was created then".to_owned()
        } else {
            format!("the backup retention is {days} days")
        };
        Some(format!(
            "it is before the earliest restore point {} ({cause})",
            rfc3339(earliest)
        ))
    } else {
        None
    };
    if let Some(why) = why {
        return Err(ArmError::bad_request(
            POINT_OUTSIDE_RETENTION,
            format!("The point in time {given} is outside the backup retention of source server '{source_id}': {why}. Choose a point between {} and {}.", rfc3339(earliest), req.now_str()),
        ));
    }
    check_cmk(&source, body)?;
    Ok(source)
}

/// A source with a customer-managed key is restored only with a key and the identity that
/// reads it attached to the new server.
fn check_cmk(source: &Value, body: &Value) -> Result<(), ArmError> {
    let cmk = |b: &Value| {
        str_at(b, &["properties", "dataEncryption", "type"])
            .is_some_and(|t| t.eq_ignore_ascii_case("AzureKeyVault"))
    };
    if !cmk(source) {
        return Ok(());
    }
    let identity = str_at(
        body,
        &[
            "properties",
            "dataEncryption",
            "primaryUserAssignedIdentityId",
        ],
    )
    .unwrap_or_default();
    let attached = at(body, &["identity", "userAssignedIdentities"])
        .and_then(Value::as_object)
        .is_some_and(|m| m.keys().any(|k| k.eq_ignore_ascii_case(identity)));
    let key = str_at(body, &["properties", "dataEncryption", "primaryKeyURI"])
        .is_some_and(|k| !k.is_empty());
    if !(cmk(body) && key && attached) {
        return Err(ArmError::bad_request(
            CMK_INVALID,
            "The input server encryption parameters are invalid: the source server is encrypted with a customer-managed key, so the restore must carry identity (UserAssigned) and dataEncryption (AzureKeyVault, primaryKeyURI, primaryUserAssignedIdentityId of an attached identity).",
        ));
    }
    Ok(())
}

/// What the restored server takes from its source.
pub fn inherit(body: &mut Value, source: &Value) {
    for path in [
        &["sku"][..],
        &["properties", "version"],
        &["properties", "storage"],
        &["properties", "administratorLogin"],
    ] {
        if let Some(v) = at(source, path) {
            set_at(body, path, v.clone());
        }
    }
    if at(body, &["properties", "authConfig"]).is_none() {
        if let Some(v) = at(source, &["properties", "authConfig"]) {
            set_at(body, &["properties", "authConfig"], v.clone());
        }
    }
}

/// The address a new server reports instead of its Azure DNS name, if the mock is told one.
pub fn fqdn(cfg: &MockConfig, restored: bool) -> Option<&str> {
    let restore = cfg.pg_restore_fqdn.as_deref().filter(|_| restored);
    restore.or(cfg.pg_fqdn.as_deref())
}
