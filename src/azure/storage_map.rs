//! Storage (2023-05-01) ARM JSON ⇄ the planner's structs: responses into `ObservedStorage`, storage
//! `StorageOp`s into request bodies. Bodies are parsed into the SDK models by the caller, which
//! checks their shape against the API version.

use serde_json::{json, Map, Value};

use super::postgres::s;
use crate::api::spec::LifecycleRule;
use crate::plan::lifecycle::{BLOB_TYPE, RULE_TYPE};
use crate::plan::storage_account::KIND;
use crate::plan::{
    AccountCreate, AccountIdentity, AccountKey, AccountPatch, ObservedAccount,
    ObservedAccountEncryption, ObservedAccountKey, ObservedContainer, ObservedImmutability,
    ObservedLifecycleRule,
};

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => true,
        Value::Object(m) => m.values().all(is_empty),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(ToOwned::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// ARM storage account JSON → observed account.
pub fn map_account(v: &Value) -> ObservedAccount {
    let p = |path: &[&str]| {
        let mut full = vec!["properties"];
        full.extend_from_slice(path);
        s(v, &full)
    };
    let b = |path: &[&str]| p(path).map(|x| x.eq_ignore_ascii_case("true"));
    let identity_type = s(v, &["identity", "type"]).unwrap_or_default();
    let user_assigned = v
        .pointer("/identity/userAssignedIdentities")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let key_source = p(&["encryption", "keySource"]).unwrap_or_default();
    let encryption = if key_source.eq_ignore_ascii_case("Microsoft.Keyvault") {
        let kv = |k: &str| p(&["encryption", "keyvaultproperties", k]);
        ObservedAccountEncryption::KeyVault(ObservedAccountKey {
            key_vault_uri: kv("keyvaulturi").unwrap_or_default(),
            key_name: kv("keyname").unwrap_or_default(),
            key_version: kv("keyversion").unwrap_or_default(),
            identity_id: p(&["encryption", "identity", "userAssignedIdentity"]),
            current_versioned_key_id: kv("currentVersionedKeyIdentifier"),
        })
    } else {
        ObservedAccountEncryption::MicrosoftManaged
    };
    ObservedAccount {
        tags: super::tags_of(v),
        id: s(v, &["id"]).unwrap_or_default(),
        provisioning_state: p(&["provisioningState"]).unwrap_or_default(),
        kind: s(v, &["kind"]).unwrap_or_default(),
        sku_name: s(v, &["sku", "name"]).unwrap_or_default(),
        minimum_tls_version: p(&["minimumTlsVersion"]),
        allow_blob_public_access: b(&["allowBlobPublicAccess"]),
        https_only: b(&["supportsHttpsTrafficOnly"]),
        public_network_access: p(&["publicNetworkAccess"]),
        system_assigned_identity: identity_type.contains("SystemAssigned"),
        user_assigned_identities: user_assigned,
        encryption,
        network_acls: super::network::map_acls(v),
        connections: super::network::map_connections(v),
        primary_blob_endpoint: p(&["primaryEndpoints", "blob"]),
    }
}

/// Whole days of a `daysAfterModificationGreaterThan`; a fractional value is kept out (drift).
fn whole_days(v: &Value) -> Option<u32> {
    let d = v.as_f64()?;
    (d.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&d)).then_some(d as u32)
}

/// One lifecycle rule JSON → observed rule. Everything the spec cannot express goes to `other`.
pub fn map_rule(v: &Value) -> ObservedLifecycleRule {
    let def = &v["definition"];
    let mut other = Vec::new();
    for (k, val) in def["filters"].as_object().into_iter().flatten() {
        if !matches!(k.as_str(), "blobTypes" | "prefixMatch") && !is_empty(val) {
            other.push(format!("filters.{k}"));
        }
    }
    let mut days = [None, None, None];
    for (target, acts) in def["actions"].as_object().into_iter().flatten() {
        if target != "baseBlob" {
            if !is_empty(acts) {
                other.push(format!("actions.{target}"));
            }
            continue;
        }
        for (act, cond) in acts.as_object().into_iter().flatten() {
            let slot = ["tierToCool", "tierToArchive", "delete"]
                .iter()
                .position(|a| a == act);
            let Some(slot) = slot else {
                if !is_empty(cond) {
                    other.push(format!("actions.baseBlob.{act}"));
                }
                continue;
            };
            for (ck, cv) in cond.as_object().into_iter().flatten() {
                if ck == "daysAfterModificationGreaterThan" {
                    days[slot] = whole_days(cv);
                    if days[slot].is_none() {
                        other.push(format!("actions.baseBlob.{act}.{ck}"));
                    }
                } else if !is_empty(cv) {
                    other.push(format!("actions.baseBlob.{act}.{ck}"));
                }
            }
        }
    }
    ObservedLifecycleRule {
        name: s(v, &["name"]).unwrap_or_default(),
        enabled: v.get("enabled").and_then(Value::as_bool),
        rule_type: s(v, &["type"]).unwrap_or_default(),
        blob_types: strings(&def["filters"]["blobTypes"]),
        prefix_match: strings(&def["filters"]["prefixMatch"]),
        cool_after_days: days[0],
        archive_after_days: days[1],
        delete_after_days: days[2],
        other,
        raw: v.clone(),
    }
}

/// Management policy JSON → its rules.
pub fn map_policy(v: &Value) -> Vec<ObservedLifecycleRule> {
    v.pointer("/properties/policy/rules")
        .and_then(Value::as_array)
        .map(|rules| rules.iter().map(map_rule).collect())
        .unwrap_or_default()
}

/// Container JSON (GET or list item) → observed container.
pub fn map_container(v: &Value) -> ObservedContainer {
    let props = &v["properties"];
    let imm = &props["immutabilityPolicy"];
    let has_policy = props["hasImmutabilityPolicy"].as_bool().unwrap_or(true);
    let days = imm
        .pointer("/properties/immutabilityPeriodSinceCreationInDays")
        .and_then(Value::as_u64);
    let immutability = match days {
        Some(d) if has_policy && d > 0 => Some(ObservedImmutability {
            days: u32::try_from(d).unwrap_or(u32::MAX),
            locked: imm
                .pointer("/properties/state")
                .and_then(Value::as_str)
                .is_some_and(|st| st.eq_ignore_ascii_case("Locked")),
            etag: imm["etag"].as_str().unwrap_or_default().to_owned(),
        }),
        _ => None,
    };
    let legal_hold_tags = props["legalHold"]["tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .filter_map(|t| t["tag"].as_str().or_else(|| t.as_str()))
                .map(ToOwned::to_owned)
                .collect()
        })
        .unwrap_or_default();
    ObservedContainer {
        public_access: props["publicAccess"].as_str().map(ToOwned::to_owned),
        immutability,
        legal_hold_tags,
    }
}

fn identity_json(i: &AccountIdentity) -> Value {
    let users: Map<String, Value> = i
        .user_assigned
        .iter()
        .map(|id| (id.clone(), json!({})))
        .collect();
    let mut v = json!({"type": i.type_name()});
    if !users.is_empty() {
        v["userAssignedIdentities"] = Value::Object(users);
    }
    v
}

fn encryption_json(k: &AccountKey) -> Value {
    let svc = json!({"enabled": true, "keyType": "Account"});
    json!({
        "keySource": "Microsoft.Keyvault",
        "keyvaultproperties": {"keyvaulturi": k.key_vault_uri, "keyname": k.key_name, "keyversion": k.key_version},
        "identity": {"userAssignedIdentity": k.identity_id},
        "services": {"blob": svc, "file": svc},
    })
}

/// The create PUT body: StorageV2, the declared replication, and the fixed hardening.
pub fn create_body(c: &AccountCreate) -> Value {
    let mut body = json!({
        "location": c.location,
        "tags": c.tags,
        "kind": KIND,
        "sku": {"name": c.sku_name},
        "properties": {
            "minimumTlsVersion": c.minimum_tls_version,
            "allowBlobPublicAccess": false,
            "supportsHttpsTrafficOnly": true,
            "publicNetworkAccess": c.public_network_access,
            "networkAcls": super::network::acls_json(&c.network_acls),
        },
    });
    if let Some(i) = &c.identity {
        body["identity"] = identity_json(i);
    }
    if let Some(k) = &c.cmk {
        body["properties"]["encryption"] = encryption_json(k);
    }
    body
}

/// The PATCH body: only the fields that differ.
pub fn patch_body(p: &AccountPatch) -> Value {
    let mut body = json!({});
    let mut props = Map::new();
    if let Some(sku) = &p.sku_name {
        body["sku"] = json!({"name": sku});
    }
    if let Some(kind) = &p.kind {
        body["kind"] = json!(kind);
    }
    if let Some(i) = &p.identity {
        body["identity"] = identity_json(i);
    }
    let mut put = |k: &str, v: Value| {
        props.insert(k.into(), v);
    };
    if let Some(t) = &p.minimum_tls_version {
        put("minimumTlsVersion", json!(t));
    }
    if let Some(b) = p.allow_blob_public_access {
        put("allowBlobPublicAccess", json!(b));
    }
    if let Some(b) = p.https_only {
        put("supportsHttpsTrafficOnly", json!(b));
    }
    if let Some(a) = &p.public_network_access {
        put("publicNetworkAccess", json!(a));
    }
    if let Some(a) = &p.network_acls {
        put("networkAcls", super::network::acls_json(a));
    }
    if let Some(k) = &p.cmk {
        put("encryption", encryption_json(k));
    }
    if !props.is_empty() {
        body["properties"] = Value::Object(props);
    }
    body
}

/// The management policy PUT body for the declared rules.
pub fn policy_body(rules: &[LifecycleRule], kept: &[Value]) -> Value {
    let mut all = lifecycle_rules_json(rules);
    all.extend(kept.iter().cloned());
    json!({"properties": {"policy": {"rules": all}}})
}

/// The declared rules as ARM lifecycle rule JSON (also what the demo's portal edit starts from).
pub fn lifecycle_rules_json(rules: &[LifecycleRule]) -> Vec<Value> {
    rules
        .iter()
        .map(|r| {
            let mut base = Map::new();
            for (k, d) in [
                ("tierToCool", r.cool_after_days),
                ("tierToArchive", r.archive_after_days),
                ("delete", r.delete_after_days),
            ] {
                if let Some(d) = d {
                    base.insert(k.into(), json!({"daysAfterModificationGreaterThan": d}));
                }
            }
            json!({
                "enabled": true,
                "name": r.name,
                "type": RULE_TYPE,
                "definition": {
                    "filters": {"blobTypes": [BLOB_TYPE], "prefixMatch": [r.prefix]},
                    "actions": {"baseBlob": base},
                },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_policy_round_trips_without_drift() {
        let rule = crate::api::profiles::default_lifecycle();
        let body = policy_body(&rule, &[]);
        let got = map_policy(&body);
        assert!(crate::plan::lifecycle::diff_policy(&rule, Some(&got), &[]).is_empty());
    }

    #[test]
    fn unexpressible_settings_are_listed() {
        let v = json!({"name": "r", "type": "Lifecycle", "definition": {
        "filters": {"blobTypes": ["blockBlob"], "prefixMatch": ["a/"], "blobIndexMatch": [{"name": "t", "op": "==", "value": "1"}]},
        "actions": {
            "baseBlob": {"tierToCool": {"daysAfterModificationGreaterThan": 30.5}, "delete": {"daysAfterLastAccessTimeGreaterThan": 9}, "enableAutoTierToHotFromCool": false},
            "snapshot": {"delete": {"daysAfterCreationGreaterThan": 30}}
        }}});
        let r = map_rule(&v);
        assert_eq!(
            r.other,
            vec![
                "filters.blobIndexMatch",
                "actions.baseBlob.delete.daysAfterLastAccessTimeGreaterThan",
                "actions.baseBlob.tierToCool.daysAfterModificationGreaterThan",
                "actions.snapshot"
            ]
        );
        assert_eq!(r.enabled, None);
        assert_eq!(r.cool_after_days, None);
    }

    #[test]
    fn container_with_locked_policy_and_holds() {
        let v = json!({"properties": {"publicAccess": "None", "hasImmutabilityPolicy": true,
            "immutabilityPolicy": {"etag": "\"8d5\"", "properties": {"immutabilityPeriodSinceCreationInDays": 100, "state": "Locked"}},
            "legalHold": {"hasLegalHold": true, "tags": [{"tag": "tag1"}, {"tag": "tag2"}]}}});
        let c = map_container(&v);
        assert_eq!(
            c.immutability,
            Some(ObservedImmutability {
                days: 100,
                locked: true,
                etag: "\"8d5\"".into()
            })
        );
        assert_eq!(c.legal_hold_tags, vec!["tag1", "tag2"]);
        let none = map_container(&json!({"properties": {"hasImmutabilityPolicy": false}}));
        assert_eq!(none.immutability, None);
    }

    #[test]
    fn cmk_account_maps_its_key() {
        let k = AccountKey {
            key_vault_uri: "https://kv.vault.azure.net".into(),
            key_name: "k".into(),
            key_version: String::new(),
            identity_id: "/id".into(),
        };
        let mut v = create_body(&AccountCreate {
            tags: Default::default(),
            location: "eastus2".into(),
            sku_name: "Standard_ZRS".into(),
            minimum_tls_version: "TLS1_2".into(),
            public_network_access: "Disabled".into(),
            network_acls: Default::default(),
            identity: Some(AccountIdentity {
                system_assigned: false,
                user_assigned: vec!["/id".into()],
            }),
            cmk: Some(k),
        });
        v["properties"]["encryption"]["keyvaultproperties"]["currentVersionedKeyIdentifier"] =
            json!("https://kv.vault.azure.net/keys/k/v9");
        v["properties"]["primaryEndpoints"] = json!({"blob": "https://acct.blob.core.windows.net/", "dfs": "https://acct.dfs.core.windows.net/"});
        let a = map_account(&v);
        assert_eq!(
            a.primary_blob_endpoint.as_deref(),
            Some("https://acct.blob.core.windows.net/")
        );
        assert_eq!(a.user_assigned_identities, vec!["/id"]);
        assert_eq!(a.allow_blob_public_access, Some(false));
        let ObservedAccountEncryption::KeyVault(k) = a.encryption else {
            panic!()
        };
        assert_eq!(k.version_in_use().as_deref(), Some("v9"));
        assert_eq!(k.identity_id.as_deref(), Some("/id"));
    }

    #[test]
    fn patch_carries_only_the_differing_fields() {
        let p = AccountPatch {
            minimum_tls_version: Some("TLS1_2".into()),
            ..Default::default()
        };
        assert_eq!(
            patch_body(&p),
            json!({"properties": {"minimumTlsVersion": "TLS1_2"}})
        );
    }
}
