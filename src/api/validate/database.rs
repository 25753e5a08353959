//! Checks on what lives inside the server: the Entra administrator, pgvector's databases and HNSW
//! indexes, and the restore drill (declared values), then what they need of the rest of the spec.

use std::collections::HashSet;

use super::super::database::{EntraAdmin, HnswIndex, RestoreDrill, VectorSpec};
use super::super::effective::EffectiveSpec;
use super::{is_guid, Errors};

/// A PostgreSQL identifier we accept unquoted-safe: 1-63 letters, digits and underscores, not
/// starting with a digit. (We quote them anyway; the rule keeps names portable.)
pub fn is_identifier(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// A database the service itself keeps: never declared in `postgres.vector`.
pub fn is_system_database(name: &str) -> bool {
    matches!(
        name,
        "postgres" | "azure_maintenance" | "azure_sys" | "template0" | "template1"
    )
}

const IDENT_RULE: &str = "must be 1-63 letters, digits and underscores, not starting with a digit";

fn ident(e: &mut Errors, path: String, s: &str) {
    e.check(is_identifier(s), path, format!("{s:?} {IDENT_RULE}"));
}

/// A table name, optionally schema-qualified.
fn table(e: &mut Errors, path: String, t: &str) {
    let ok = match t.split_once('.') {
        Some((s, n)) => is_identifier(s) && is_identifier(n),
        None => is_identifier(t),
    };
    e.check(
        ok,
        path,
        format!("{t:?} must be a table name or schema.table, each part {IDENT_RULE}"),
    );
}

pub(super) fn entra_admin(e: &mut Errors, a: &EntraAdmin) {
    let p = "spec.postgres.entraAdmin";
    e.check(
        is_guid(&a.object_id),
        format!("{p}.objectId"),
        format!(
            "{:?} must be a GUID (the principal's object id)",
            a.object_id
        ),
    );
    e.check(
        !a.principal_name.trim().is_empty() && a.principal_name.len() <= 128,
        format!("{p}.principalName"),
        "must be 1-128 characters: the role name PostgreSQL knows the principal by",
    );
    if let Some(t) = &a.tenant_id {
        e.check(
            is_guid(t),
            format!("{p}.tenantId"),
            format!("{t:?} must be a GUID"),
        );
    }
}

pub(super) fn vector(e: &mut Errors, v: &VectorSpec) {
    let p = "spec.postgres.vector";
    e.check(
        !v.databases.is_empty(),
        format!("{p}.databases"),
        "must name at least one database",
    );
    let mut dbs = HashSet::new();
    for (i, db) in v.databases.iter().enumerate() {
        let dp = format!("{p}.databases[{i}]");
        ident(e, format!("{dp}.name"), &db.name);
        e.check(
            dbs.insert(db.name.as_str()),
            format!("{dp}.name"),
            format!("{:?} is declared twice", db.name),
        );
        e.check(
            !is_system_database(&db.name),
            format!("{dp}.name"),
            format!("{:?} is a system database of the service", db.name),
        );
        let mut names = HashSet::new();
        for (j, ix) in db.indexes.iter().enumerate() {
            let ip = format!("{dp}.indexes[{j}]");
            index(e, &ip, ix);
            e.check(
                names.insert(ix.index_name()),
                format!("{ip}.name"),
                format!("{:?} is declared twice in this database", ix.index_name()),
            );
        }
    }
    if let Some(ef) = v.ef_search {
        e.check(
            (1..=1000).contains(&ef),
            format!("{p}.efSearch"),
            format!("{ef} is out of range: pgvector accepts 1-1000"),
        );
    }
    if let Some(m) = v.maintenance_work_mem_mib {
        e.check(
            (64..=16_384).contains(&m),
            format!("{p}.maintenanceWorkMemMiB"),
            format!("{m} is out of range: must be 64-16384 MiB"),
        );
    }
}

fn index(e: &mut Errors, ip: &str, ix: &HnswIndex) {
    table(e, format!("{ip}.table"), &ix.table);
    ident(e, format!("{ip}.column"), &ix.column);
    if let Some(n) = &ix.name {
        // Room for the `_engram_new` suffix of a rebuild.
        e.check(
            is_identifier(n) && n.len() <= 52,
            format!("{ip}.name"),
            format!("{n:?} must be 1-52 letters, digits and underscores, not starting with a digit (a rebuild adds a suffix)"),
        );
    }
    let m = ix.m();
    e.check(
        (2..=100).contains(&m),
        format!("{ip}.m"),
        format!("{m} is out of range: pgvector accepts 2-100"),
    );
    let ef = ix.ef_construction();
    e.check(
        (4..=1000).contains(&ef),
        format!("{ip}.efConstruction"),
        format!("{ef} is out of range: pgvector accepts 4-1000"),
    );
    e.check(
        ef >= 2 * m,
        format!("{ip}.efConstruction"),
        format!(
            "{ef} must be at least 2 × m ({}), as pgvector requires",
            2 * m
        ),
    );
}

pub(super) fn restore_drill(e: &mut Errors, d: &RestoreDrill) {
    let p = "spec.postgres.restoreDrill";
    if let Err(why) = crate::plan::drill::parse_schedule(d.cron()) {
        e.check(
            false,
            format!("{p}.schedule"),
            format!(
                "{:?} is not `weekly` or a five-field cron expression: {why}",
                d.schedule
            ),
        );
    }
    for (i, v) in d.verify.iter().enumerate() {
        let vp = format!("{p}.verify[{i}]");
        ident(e, format!("{vp}.database"), &v.database);
        e.check(
            !v.tables.is_empty() || v.query.is_some(),
            vp.clone(),
            "must list tables or a query to check",
        );
        for (j, t) in v.tables.iter().enumerate() {
            table(e, format!("{vp}.tables[{j}].name"), &t.name);
        }
        if let Some(q) = &v.query {
            let lower = q.trim_start().to_ascii_lowercase();
            e.check(
                lower.starts_with("select") || lower.starts_with("with"),
                format!("{vp}.query"),
                "must be one read-only SELECT (it runs in a read-only transaction)",
            );
        }
    }
}

/// What vector and the drill need from the rest of the spec.
pub(super) fn effective(e: &mut Errors, eff: &EffectiveSpec) {
    let pg = &eff.postgres;
    if pg.vector.is_some() {
        e.check(
            pg.extensions
                .iter()
                .any(|x| x.eq_ignore_ascii_case("vector")),
            "spec.postgres.vector",
            "needs `vector` in spec.postgres.extensions (azure.extensions allow-lists it)",
        );
    }
    if pg.restore_drill.is_some() {
        e.check(
            pg.state == crate::api::spec::ServerState::Running,
            "spec.postgres.restoreDrill",
            "needs a Running server: a stopped server cannot be restored from",
        );
    }
}
