//! Issue 11, item 6, offline: the geo-backup key a CMK + geo-redundant server needs, and every
//! declared server parameter against Microsoft's published table (data/postgres-parameters).

use crate::validation;

use engram_operator::api;
use serde_json::{json, Value};
use validation::*;

#[test]
fn geo_backup_key_rules() {
    let g = "/spec/encryption/geoBackup";
    // CMK and geo-redundant backup (prod's default, or declared) without the geo key.
    assert_rule(
        "prod",
        &[(g, Value::Null)],
        "spec.encryption.geoBackup: required when a customer-managed key and geo-redundant backup (from the prod profile) are both on",
    );
    assert_rule(
        "uat",
        &[("/spec/postgres/backup/geoRedundant", json!(true))],
        "spec.encryption.geoBackup: required when a customer-managed key and geo-redundant backup are both on",
    );
    // Without geo-redundant backup it has nothing to encrypt.
    assert_rule(
        "uat",
        &[(g, geo_backup())],
        "spec.encryption.geoBackup: applies only with geo-redundant backup",
    );
    // Its fields follow the primary key's rules, and it lives in another vault (the paired region).
    assert_rule(
        "prod",
        &[(
            &format!("{g}/keyVaultUri"),
            json!("http://kv.vault.azure.net"),
        )],
        "spec.encryption.geoBackup.keyVaultUri:",
    );
    assert_rule(
        "prod",
        &[(&format!("{g}/keyVaultUri"), json!("https://kv-t.vault.azure.net"))],
        "spec.encryption.geoBackup.keyVaultUri: must be a Key Vault in the geo-backup (paired) region",
    );
    assert_rule(
        "prod",
        &[(&format!("{g}/keyName"), json!("bad name"))],
        "spec.encryption.geoBackup.keyName:",
    );
    assert_rule(
        "prod",
        &[(&format!("{g}/keyVersion"), json!("v1"))],
        "spec.encryption.geoBackup.keyVersion:",
    );
    assert_rule(
        "prod",
        &[(&format!("{g}/identityId"), json!("/x"))],
        "spec.encryption.geoBackup.identityId:",
    );
    // Rendered with the rest of the spec, and valid again once rendered.
    let (_, eff) = api::load(&serde_json::to_string(&base("prod")).unwrap()).unwrap();
    let geo = eff.encryption.as_ref().and_then(|e| e.geo_backup.as_ref());
    assert_eq!(geo.map(|g| g.key_version.as_str()), Some("latest"));
    assert_eq!(api::resolve(&eff.to_spec()).as_ref(), Ok(&eff));
}

#[test]
fn server_parameters_are_checked_against_microsofts_table() {
    let param = |name: &str, value: &str| {
        let mut v = json!({});
        v[name] = json!(value);
        ("/spec/postgres/parameters", v)
    };
    let p = "spec.postgres.parameters";
    assert_rule(
        "dev",
        &[param("pgaudit.log", "reads")],
        &format!(
            "{p}.pgaudit.log: \"reads\" is not one of none,read,write,function,role,ddl,misc,all"
        ),
    );
    assert_rule(
        "dev",
        &[param("pgaudit.log", "read,bogus")],
        &format!("{p}.pgaudit.log: \"bogus\" is not one of none,read,write"),
    );
    assert_rule(
        "dev",
        &[param("no_such_parameter", "1")],
        &format!("{p}.no_such_parameter: not a server parameter of PostgreSQL 16"),
    );
    assert_rule(
        "dev",
        &[param("port", "5433")],
        &format!("{p}.port: read-only"),
    );
    assert_rule(
        "dev",
        &[param("work_mem", "1024")],
        &format!("{p}.work_mem: 1024 is out of range 4096-2097151"),
    );
    assert_rule(
        "dev",
        &[param("work_mem", "64MB")],
        &format!("{p}.work_mem: \"64MB\" is not an integer"),
    );
    assert_rule(
        "dev",
        &[param("array_nulls", "maybe")],
        &format!("{p}.array_nulls: \"maybe\" is not one of on,off"),
    );
    assert_rule(
        "dev",
        &[param("random_page_cost", "-1.5")],
        &format!("{p}.random_page_cost: -1.5 is out of range"),
    );
    assert_rule(
        "dev",
        &[param("ssl_min_protocol_version", "TLSv1.1")],
        &format!("{p}.ssl_min_protocol_version: \"TLSv1.1\" is not one of TLSv1.2,TLSv1.3"),
    );
    // PostgreSQL 17 has parameters 16 does not, and the table follows the declared version.
    assert_rule(
        "dev",
        &[param("transaction_timeout", "0")],
        &format!("{p}.transaction_timeout: not a server parameter of PostgreSQL 16"),
    );
    let mut doc = base("dev");
    set(&mut doc, "/spec/postgres/version", json!("17"));
    set(
        &mut doc,
        "/spec/postgres/parameters",
        json!({"transaction_timeout": "0", "pgaudit.log": "read, ddl", "work_mem": "8192",
               "array_nulls": "OFF", "random_page_cost": "1.1", "DateStyle": "ISO, MDY"}),
    );
    assert_eq!(errors(&doc), Vec::<String>::new());
}
