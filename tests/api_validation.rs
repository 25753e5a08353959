//! Validation rules, one case each: a valid base document with one field changed must fail with that
//! field's path and rule, and nothing else.

use crate::validation;

use engram_operator::api;
use serde_json::{json, Value};
use validation::*;

#[test]
fn bases_are_valid() {
    for env in ["dev", "test", "uat", "prod"] {
        assert_eq!(errors(&base(env)), Vec::<String>::new(), "{env}");
    }
}

#[test]
fn azure_target_rules() {
    assert_rule(
        "dev",
        &[("/spec/azure/subscriptionId", json!("1234"))],
        "spec.azure.subscriptionId:",
    );
    assert_rule(
        "dev",
        &[("/spec/azure/resourceGroup", json!("rg."))],
        "spec.azure.resourceGroup:",
    );
    assert_rule(
        "dev",
        &[("/spec/azure/resourceGroup", json!("x".repeat(91)))],
        "spec.azure.resourceGroup:",
    );
    assert_rule(
        "dev",
        &[("/spec/azure/location", json!("East US"))],
        "spec.azure.location:",
    );
}

#[test]
fn policy_rules() {
    assert_rule(
        "dev",
        &[("/spec/policy/resyncSeconds", json!(5))],
        "spec.policy.resyncSeconds: 5 is out of range",
    );
    assert_rule(
        "dev",
        &[("/spec/policy/mode", json!("yolo"))],
        "spec.policy.mode: unknown variant",
    );
}

#[test]
fn encryption_rules() {
    let p = "/spec/encryption";
    assert_rule(
        "prod",
        &[(
            &format!("{p}/keyVaultUri"),
            json!("https://a.vault.azure.net"),
        )],
        "spec.encryption.keyVaultUri:",
    );
    assert_rule(
        "prod",
        &[(
            &format!("{p}/keyVaultUri"),
            json!("https://kv-x.vault.evil.net"),
        )],
        "spec.encryption.keyVaultUri:",
    );
    assert_rule(
        "prod",
        &[(&format!("{p}/keyName"), json!("bad name"))],
        "spec.encryption.keyName:",
    );
    assert_rule(
        "prod",
        &[(&format!("{p}/keyVersion"), json!("XYZ"))],
        "spec.encryption.keyVersion:",
    );
    assert_rule("prod", &[(&format!("{p}/identityId"), json!("/subscriptions/x/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/i"))], "spec.encryption.identityId:");
    // A pinned 32-hex version and a managed-HSM URI are fine.
    let mut doc = base("prod");
    set(
        &mut doc,
        &format!("{p}/keyVersion"),
        json!("78deebed173b48e48f55abf87ed4cf71"),
    );
    set(
        &mut doc,
        &format!("{p}/keyVaultUri"),
        json!("https://hsm-acme.managedhsm.azure.net/"),
    );
    assert!(errors(&doc).is_empty());
}

#[test]
fn postgres_rules() {
    assert_rule(
        "dev",
        &[("/spec/postgres/serverName", json!("Acme"))],
        "spec.postgres.serverName:",
    );
    assert_rule(
        "dev",
        &[("/spec/postgres/serverName", json!("ab"))],
        "spec.postgres.serverName:",
    );
    assert_rule(
        "dev",
        &[("/spec/postgres/version", json!("9.6"))],
        "spec.postgres.version:",
    );
    assert_rule(
        "dev",
        &[(
            "/spec/postgres/sku",
            json!({"tier": "MemoryOptimized", "name": "Standard_D2s_v3"}),
        )],
        "spec.postgres.sku.name:",
    );
    assert_rule(
        "dev",
        &[("/spec/postgres/sku", json!("auto"))],
        "spec.postgres.sizing: sku: auto needs sizing",
    );
    assert_rule(
        "dev",
        &[("/spec/postgres/availabilityZone", json!("4"))],
        "spec.postgres.availabilityZone:",
    );
    assert_rule(
        "dev",
        &[("/spec/postgres/backup/retentionDays", json!(36))],
        "spec.postgres.backup.retentionDays: 36 is out of range",
    );
    assert_rule(
        "dev",
        &[(
            "/spec/postgres/maintenanceWindow",
            json!({"dayOfWeek": 1, "startHour": 1, "startMinute": 60}),
        )],
        "spec.postgres.maintenanceWindow.startMinute:",
    );
    assert_rule(
        "dev",
        &[("/spec/postgres/extensions", json!(["vector", "pg-trgm"]))],
        "spec.postgres.extensions[1]:",
    );
    assert_rule(
        "dev",
        &[(
            "/spec/postgres/parameters",
            json!({"azure.extensions": "VECTOR"}),
        )],
        "spec.postgres.parameters.azure.extensions: declare extensions",
    );
    assert_rule(
        "dev",
        &[("/spec/postgres/parameters", json!({"bad name": "1"}))],
        "spec.postgres.parameters.bad name:",
    );
    assert_rule(
        "dev",
        &[("/spec/postgres/storage/sizeGiB", json!(48))],
        "spec.postgres.storage.sizeGiB: 48 is not",
    );
}

#[test]
fn high_availability_rules() {
    let gp = json!({"tier": "GeneralPurpose", "name": "Standard_D2s_v3"});
    assert_rule(
        "dev",
        &[("/spec/postgres/highAvailability/mode", json!("SameZone"))],
        "spec.postgres.highAvailability.mode: SameZone is not available on the Burstable tier",
    );
    // Burstable SKU declared in prod: the prod profile's ZoneRedundant HA conflicts, and says where it came from.
    assert_rule("prod", &[("/spec/postgres/sku", json!({"tier": "Burstable", "name": "Standard_B2s"}))], "spec.postgres.highAvailability.mode: ZoneRedundant (from the prod profile) is not available");
    assert_rule("dev", &[("/spec/postgres/sku", gp.clone()), ("/spec/postgres/highAvailability", json!({"mode": "SameZone", "standbyZone": "2"}))], "spec.postgres.highAvailability.standbyZone: a standby zone only applies to mode ZoneRedundant");
    assert_rule(
        "dev",
        &[
            ("/spec/postgres/sku", gp.clone()),
            ("/spec/postgres/availabilityZone", json!("2")),
            (
                "/spec/postgres/highAvailability",
                json!({"mode": "ZoneRedundant", "standbyZone": "2"}),
            ),
        ],
        "spec.postgres.highAvailability.standbyZone: the standby zone must differ",
    );
    assert_rule(
        "dev",
        &[
            ("/spec/postgres/sku", gp),
            (
                "/spec/postgres/highAvailability",
                json!({"mode": "ZoneRedundant", "standbyZone": "9"}),
            ),
        ],
        "spec.postgres.highAvailability.standbyZone: \"9\"",
    );
}

#[test]
fn environment_rules_and_their_overrides() {
    assert_rule(
        "test",
        &[("/spec/environment", json!("Prod"))],
        "spec.environment: unknown environment",
    );
    assert_rule(
        "prod",
        &[("/spec/postgres/state", json!("Stopped"))],
        "spec.postgres.state: Stopped is only allowed in dev and test",
    );
    assert_rule(
        "prod",
        &[("/spec/postgres/highAvailability/mode", json!("Disabled"))],
        "spec.postgres.highAvailability.mode: prod requires high availability",
    );
    let mut prod = base("prod");
    prod["spec"].as_object_mut().unwrap().remove("encryption");
    assert_eq!(errors(&prod).len(), 1);
    assert!(errors(&prod)[0].starts_with("spec.encryption: prod requires a customer-managed key"));
    // Each override lifts exactly its rule.
    set(
        &mut prod,
        "/spec/overrides",
        json!({"allowWithoutCmk": true, "allowStopped": true, "allowProdWithoutHa": true}),
    );
    set(&mut prod, "/spec/postgres/state", json!("Stopped"));
    set(
        &mut prod,
        "/spec/postgres/highAvailability/mode",
        json!("Disabled"),
    );
    assert_eq!(errors(&prod), Vec::<String>::new());
    // Stopped is fine in dev and test without any override.
    for env in ["dev", "test"] {
        let mut doc = base(env);
        set(&mut doc, "/spec/postgres/state", json!("Stopped"));
        assert!(errors(&doc).is_empty(), "{env}");
    }
}

#[test]
fn storage_rules() {
    assert_rule(
        "dev",
        &[("/spec/storage/accountName", json!("a".repeat(25)))],
        "spec.storage.accountName:",
    );
    assert_rule(
        "dev",
        &[("/spec/storage/minimumTlsVersion", json!("TLS1_1"))],
        "spec.storage.minimumTlsVersion:",
    );
    assert_rule(
        "dev",
        &[("/spec/storage/replication", json!("Standard_XRS"))],
        "spec.storage.replication: unknown variant",
    );
    let c = "/spec/storage/containers";
    assert_rule(
        "dev",
        &[(c, json!([{"name": "Record"}]))],
        "spec.storage.containers[0].name:",
    );
    assert_rule(
        "dev",
        &[(c, json!([{"name": "a--b"}]))],
        "spec.storage.containers[0].name:",
    );
    assert_rule(
        "dev",
        &[(c, json!([{"name": "docs"}, {"name": "docs"}]))],
        "spec.storage.containers[1].name: container \"docs\" is declared twice",
    );
    assert_rule(
        "dev",
        &[(c, json!([{"name": "docs", "immutabilityDays": 0}]))],
        "spec.storage.containers[0].immutabilityDays: 0 is out of range",
    );
    assert_rule(
        "dev",
        &[(c, json!([{"name": "docs", "locked": true}]))],
        "spec.storage.containers[0].locked: locked needs immutabilityDays",
    );
    assert_rule(
        "dev",
        &[(
            c,
            json!([{"name": "docs", "legalHolds": ["case1", "CASE1"]}]),
        )],
        "spec.storage.containers[0].legalHolds[1]: tag \"CASE1\" is listed twice",
    );
}

#[test]
fn lifecycle_rules() {
    let l = "/spec/storage/lifecycle";
    let rule = |v: Value| json!([v]);
    assert_rule(
        "dev",
        &[(l, rule(json!({"name": "r", "prefix": "docs/"})))],
        "spec.storage.lifecycle[0]: a lifecycle rule needs at least one",
    );
    assert_rule(
        "dev",
        &[(
            l,
            rule(json!({"name": "r-1", "prefix": "docs/", "coolAfterDays": 1})),
        )],
        "spec.storage.lifecycle[0].name:",
    );
    assert_rule(
        "dev",
        &[(
            l,
            rule(json!({"name": "r", "prefix": "/docs", "coolAfterDays": 1})),
        )],
        "spec.storage.lifecycle[0].prefix:",
    );
    assert_rule(
        "dev",
        &[(
            l,
            rule(json!({"name": "r", "prefix": "docs/", "deleteAfterDays": 100000})),
        )],
        "spec.storage.lifecycle[0].deleteAfterDays: 100000 is out of range",
    );
    assert_rule("dev", &[(l, rule(json!({"name": "r", "prefix": "docs/", "coolAfterDays": 30, "deleteAfterDays": 30})))], "spec.storage.lifecycle[0].deleteAfterDays: deleteAfterDays (30) must be greater than coolAfterDays (30)");
    assert_rule(
        "dev",
        &[(
            l,
            json!([{"name": "r", "prefix": "aa1/", "coolAfterDays": 1}, {"name": "r", "prefix": "bb1/", "coolAfterDays": 1}]),
        )],
        "spec.storage.lifecycle[1].name: rule \"r\" is declared twice",
    );
    let many: Vec<Value> = (0..101)
        .map(|i| json!({"name": format!("r{i}"), "prefix": "docs/", "coolAfterDays": 1}))
        .collect();
    assert_rule(
        "dev",
        &[(l, Value::Array(many))],
        "spec.storage.lifecycle: at most 100",
    );
}

#[test]
fn alert_rules() {
    assert_rule(
        "dev",
        &[(
            "/spec/alerts/cpuPercent",
            json!({"warning": 80, "critical": 60}),
        )],
        "spec.alerts.cpuPercent: warning 80 / critical 60",
    );
    assert_rule(
        "dev",
        &[(
            "/spec/alerts/storagePercent",
            json!({"warning": 90, "critical": 101}),
        )],
        "spec.alerts.storagePercent:",
    );
    assert_rule(
        "dev",
        &[("/spec/alerts/actionGroupId", json!("oncall"))],
        "spec.alerts.actionGroupId:",
    );
}

#[test]
fn document_rules() {
    let mut doc = base("dev");
    doc["kind"] = json!("Other");
    assert_eq!(
        errors(&doc),
        ["kind: must be EngramDataPlane, found \"Other\""]
    );
    let mut doc = base("dev");
    doc["metadata"] = json!({});
    assert_eq!(errors(&doc), ["metadata.name: is required"]);
    let mut doc = base("dev");
    doc["spec"]["postgres"]["backup"] = json!({"retentionDays": "seven"});
    let errs = errors(&doc);
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with("spec.postgres.backup.retentionDays: invalid type"),
        "{errs:?}"
    );
    assert!(api::load("a: [unclosed").unwrap_err()[0]
        .to_string()
        .starts_with("(document): not valid YAML"));
}

#[test]
fn all_errors_are_reported_together() {
    let mut doc = base("prod");
    set(&mut doc, "/spec/azure/location", json!("East US"));
    set(&mut doc, "/spec/postgres/backup/retentionDays", json!(1));
    set(&mut doc, "/spec/storage/accountName", json!("BAD"));
    set(
        &mut doc,
        "/spec/postgres/highAvailability/mode",
        json!("Disabled"),
    );
    set(&mut doc, "/spec/postgres/storage/sizeGiB", json!(33));
    let errs = errors(&doc);
    let paths: Vec<&str> = errs.iter().map(|e| e.split(':').next().unwrap()).collect();
    assert_eq!(
        paths,
        [
            "spec.azure.location",
            "spec.postgres.backup.retentionDays",
            "spec.storage.accountName",
            "spec.postgres.storage.sizeGiB",
            "spec.postgres.highAvailability.mode",
        ]
    );
}
