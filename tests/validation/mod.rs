//! Helpers for the validation tests: a valid base document per environment, JSON-pointer edits,
//! and "exactly this one error" assertions.
#![allow(dead_code)]

use engram_operator::api;
use serde_json::{json, Value};

pub fn base(env: &str) -> Value {
    let mut doc = json!({
        "apiVersion": "engram.zimax.net/v1alpha1",
        "kind": "EngramDataPlane",
        "metadata": {"name": "t"},
        "spec": {
            "environment": env,
            "azure": {"subscriptionId": "00000000-0000-0000-0000-000000000001", "resourceGroup": "rg-t", "location": "eastus2"},
            "postgres": {"serverName": "t-pg"},
            "storage": {"accountName": "tstorage"}
        }
    });
    if env == "uat" || env == "prod" {
        doc["spec"]["encryption"] = json!({
            "keyVaultUri": "https://kv-t.vault.azure.net",
            "keyName": "k",
            "identityId": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-t/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
        });
    }
    if env == "uat" || env == "prod" {
        // uat and prod reach both services through private endpoints only.
        doc["spec"]["postgres"]["network"] =
            json!({"privateEndpoint": private_endpoint("privatelink.postgres.database.azure.com")});
        doc["spec"]["storage"]["network"] =
            json!({"privateEndpoint": private_endpoint("privatelink.blob.core.windows.net")});
    }
    if env == "prod" {
        // prod backs up geo-redundantly: the geo-backup copy needs its own key and identity.
        doc["spec"]["encryption"]["geoBackup"] = geo_backup();
    }
    doc
}

pub const NET: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-net/providers/Microsoft.Network";

pub fn private_endpoint(zone: &str) -> Value {
    json!({
        "subnetId": format!("{NET}/virtualNetworks/vnet/subnets/endpoints"),
        "privateDnsZoneId": format!("{NET}/privateDnsZones/{zone}")
    })
}

pub fn geo_backup() -> Value {
    json!({
        "keyVaultUri": "https://kv-t-paired.vault.azure.net",
        "keyName": "k",
        "identityId": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-t/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-paired"
    })
}

/// Set `value` at a JSON pointer, creating objects on the way.
pub fn set(doc: &mut Value, pointer: &str, value: Value) {
    let mut node = doc;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        if i == parts.len() - 1 {
            node[*part] = value;
            return;
        }
        if node.get(*part).is_none() {
            node[*part] = json!({});
        }
        node = node.get_mut(*part).unwrap();
    }
}

pub fn errors(doc: &Value) -> Vec<String> {
    match api::load(&serde_json::to_string(doc).unwrap()) {
        Ok(_) => vec![],
        Err(errs) => errs.iter().map(|e| e.to_string()).collect(),
    }
}

pub fn assert_rule(env: &str, changes: &[(&str, Value)], want: &str) {
    let mut doc = base(env);
    for (p, v) in changes {
        set(&mut doc, p, v.clone());
    }
    let errs = errors(&doc);
    assert_eq!(
        errs.len(),
        1,
        "{changes:?}: expected exactly one error starting {want:?}, got {errs:#?}"
    );
    assert!(
        errs[0].starts_with(want),
        "{changes:?}: expected {want:?}, got {:?}",
        errs[0]
    );
}
