//! The connection details a Ready data plane publishes for its applications (`spec.exports`):
//! flat string keys, usable as they are with Kubernetes `envFrom` or as an env file. Never a
//! secret: applications sign in with their own Entra identity. Pure; the front doors write it.
//!
//! | key | value |
//! |---|---|
//! | `PGHOST` | the server's FQDN as ARM reports it |
//! | `PGPORT` | `5432` (or the port ARM's address carries) |
//! | `PGSSLMODE` | `require` |
//! | `PGDATABASE` | the first database of `postgres.vector.databases` (when declared) |
//! | `PGDATABASES` | every declared database, comma-separated (when declared) |
//! | `PG_ENTRA_ADMIN` | `postgres.entraAdmin.principalName` (when declared) |
//! | `BLOB_ENDPOINT` | the account's `primaryEndpoints.blob` |
//! | `BLOB_CONTAINERS` | the declared container names, comma-separated |
//! | `KEY_VERSION_POSTGRES` | the key version the server reports (customer-managed key only) |
//! | `KEY_VERSION_STORAGE` | the key version the account reports (customer-managed key only) |

use std::collections::BTreeMap;

use super::Observed;
use crate::api::{EffectiveSpec, EngramDataPlaneStatus};

/// Every key the operator may export (a published key no longer in the map is stale).
pub const KEYS: &[&str] = &[
    "PGHOST",
    "PGPORT",
    "PGSSLMODE",
    "PGDATABASE",
    "PGDATABASES",
    "PG_ENTRA_ADMIN",
    "BLOB_ENDPOINT",
    "BLOB_CONTAINERS",
    "KEY_VERSION_POSTGRES",
    "KEY_VERSION_STORAGE",
];

/// PostgreSQL's port on a flexible server.
pub const PG_PORT: u16 = 5432;

/// The export map of a data plane from its effective spec, what was observed and the status just
/// built. A key whose value is unknown or not declared is left out.
pub fn build(
    eff: &EffectiveSpec,
    observed: &Observed,
    status: &EngramDataPlaneStatus,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            out.insert(k.to_owned(), v);
        }
    };
    let fqdn = observed
        .postgres
        .server
        .as_ref()
        .and_then(|s| s.fqdn.clone());
    // The mock may report `host:port`; Azure reports a bare host (port 5432).
    let (host, port) = match fqdn.as_deref().map(crate::database::Address::parse) {
        Some(Ok(a)) => (Some(a.host), a.port),
        _ => (fqdn, PG_PORT),
    };
    put("PGHOST", host);
    put("PGPORT", Some(port.to_string()));
    put("PGSSLMODE", Some("require".into()));
    let databases: Vec<&str> = eff
        .postgres
        .vector
        .iter()
        .flat_map(|v| v.databases.iter().map(|d| d.name.as_str()))
        .collect();
    put("PGDATABASE", databases.first().map(|d| (*d).to_owned()));
    put("PGDATABASES", Some(databases.join(",")));
    put(
        "PG_ENTRA_ADMIN",
        eff.postgres
            .entra_admin
            .as_ref()
            .map(|a| a.principal_name.clone()),
    );
    put(
        "BLOB_ENDPOINT",
        observed
            .storage
            .account
            .as_ref()
            .and_then(|a| a.primary_blob_endpoint.clone()),
    );
    let containers: Vec<&str> = eff
        .storage
        .containers
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    put("BLOB_CONTAINERS", Some(containers.join(",")));
    put(
        "KEY_VERSION_POSTGRES",
        status.postgres.as_ref().and_then(|p| p.key_version.clone()),
    );
    put(
        "KEY_VERSION_STORAGE",
        status.storage.as_ref().and_then(|s| s.key_version.clone()),
    );
    debug_assert!(out.keys().all(|k| KEYS.contains(&k.as_str())));
    out
}

/// True when `published` differs from `desired` in a key the operator exports: a value missing
/// or different, or an export key that is no longer wanted. Keys someone else added are theirs.
pub fn differs(published: &BTreeMap<String, String>, desired: &BTreeMap<String, String>) -> bool {
    KEYS.iter().any(|k| published.get(*k) != desired.get(*k))
}

/// The map as an env file: one `KEY=value` line per key, in key order.
pub fn env_file(map: &BTreeMap<String, String>) -> String {
    map.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::status::{PostgresObserved, StorageObserved};
    use crate::plan::{ObservedAccount, ObservedServer};

    fn eff(yaml: &str) -> EffectiveSpec {
        crate::api::load(yaml).expect("example").1
    }

    fn observed(fqdn: &str) -> Observed {
        let mut o = Observed::default();
        o.postgres.server = Some(ObservedServer {
            fqdn: Some(fqdn.into()),
            ..Default::default()
        });
        o.storage.account = Some(ObservedAccount {
            primary_blob_endpoint: Some("https://acmeengramprod.blob.core.windows.net/".into()),
            ..Default::default()
        });
        o
    }

    fn status() -> EngramDataPlaneStatus {
        EngramDataPlaneStatus {
            postgres: Some(PostgresObserved {
                key_version: Some("v2".into()),
                ..Default::default()
            }),
            storage: Some(StorageObserved {
                key_version: Some("v1".into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn pairs(m: &BTreeMap<String, String>) -> Vec<(&str, &str)> {
        m.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    #[test]
    fn a_database_plane_exports_every_key() {
        let e = eff(include_str!("../../examples/database/prod-database.yaml"));
        let m = build(
            &e,
            &observed("acme-prod-pg.postgres.database.azure.com"),
            &status(),
        );
        assert_eq!(
            pairs(&m),
            vec![
                ("BLOB_CONTAINERS", "record-plane"),
                (
                    "BLOB_ENDPOINT",
                    "https://acmeengramprod.blob.core.windows.net/"
                ),
                ("KEY_VERSION_POSTGRES", "v2"),
                ("KEY_VERSION_STORAGE", "v1"),
                ("PGDATABASE", "engram"),
                ("PGDATABASES", "engram"),
                ("PGHOST", "acme-prod-pg.postgres.database.azure.com"),
                ("PGPORT", "5432"),
                ("PGSSLMODE", "require"),
                ("PG_ENTRA_ADMIN", "engram-operator"),
            ]
        );
        assert_eq!(
            env_file(&m).lines().nth(5),
            Some("PGDATABASES=engram"),
            "{}",
            env_file(&m)
        );
    }

    #[test]
    fn undeclared_and_unknown_values_are_left_out_and_a_port_in_the_address_is_split() {
        let e = eff(include_str!("../../examples/dev.yaml"));
        let mut o = observed("127.0.0.1:6543");
        o.storage.account = None;
        let m = build(&e, &o, &EngramDataPlaneStatus::default());
        for absent in [
            "PGDATABASE",
            "PGDATABASES",
            "PG_ENTRA_ADMIN",
            "BLOB_ENDPOINT",
            "KEY_VERSION_POSTGRES",
            "KEY_VERSION_STORAGE",
        ] {
            assert!(!m.contains_key(absent), "{absent}: {m:?}");
        }
        assert_eq!(m["PGHOST"], "127.0.0.1");
        assert_eq!(m["PGPORT"], "6543");
    }

    #[test]
    fn published_maps_differ_only_in_export_keys() {
        let e = eff(include_str!("../../examples/database/prod-database.yaml"));
        let want = build(&e, &observed("h"), &status());
        let mut have = want.clone();
        assert!(!differs(&have, &want));
        have.insert("APP_OWN".into(), "theirs".into());
        assert!(!differs(&have, &want), "someone else's key");
        have.insert("PGHOST".into(), "old".into());
        assert!(differs(&have, &want), "a changed value");
        let mut fewer = want.clone();
        fewer.remove("KEY_VERSION_STORAGE");
        assert!(differs(&want, &fewer), "a stale export key");
        assert!(differs(&fewer, &want), "a missing one");
    }
}
