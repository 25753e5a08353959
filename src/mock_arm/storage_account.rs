//! Microsoft.Storage/storageAccounts: create (202 + Location), update (PATCH, synchronous), get,
//! delete; customer-managed key resolution against the mock Key Vault.

use serde_json::{json, Value};

use super::errors::ArmError;
use super::keyvault;
use super::lro::{self, begin, Begin, Effect, OpKind};
use super::names;
use super::postgres::{fill_identity, method_not_allowed};
use super::store::{arm_id, fill_defaults, merge_patch, set_at, str_at, Reply, Req, World};

pub const TYPE: &str = "Microsoft.Storage/storageAccounts";
/// Azure's code for deleting an account that holds a container under a locked immutability
/// policy (observed, quoted in Azure/azure-powershell#26148); the mock gives it for a legal hold
/// too, which the same rule covers.
pub const PROTECTED: &str = "AccountProtectedFromDeletion";

pub fn account_id(sub: &str, rg: &str, name: &str) -> String {
    arm_id(sub, rg, &format!("{TYPE}/{name}"))
}

/// The account must exist for anything under it.
pub fn require(world: &World, sub: &str, rg: &str, name: &str) -> Result<String, ArmError> {
    let id = account_id(sub, rg, name);
    world
        .get(&id)
        .map(|_| id)
        .ok_or_else(|| ArmError::parent_not_found(TYPE, name))
}

pub fn handle(
    world: &mut World,
    req: &Req,
    sub: &str,
    rg: &str,
    name: &str,
) -> Result<Reply, ArmError> {
    let id = account_id(sub, rg, name);
    match req.method {
        "GET" => {
            if world.get(&id).is_none() {
                return Err(ArmError::not_found(TYPE, name));
            }
            resolve_cmk(world, req, &id)?;
            let r = world
                .get(&id)
                .ok_or_else(|| ArmError::not_found(TYPE, name))?;
            Ok(Reply::resource(r))
        }
        "PUT" => {
            if let Some(op) = world
                .get_any(&id)
                .filter(|r| !r.visible)
                .and_then(|r| r.busy.clone())
            {
                // A repeated create while the first runs answers like the first.
                return lro::result(world, req, &op);
            }
            req.check_preconditions(world.get(&id))?;
            if world.get(&id).is_some() {
                return update(world, req, &id, name);
            }
            create(world, req, sub, &id, name)
        }
        "PATCH" => {
            let r = world
                .get(&id)
                .ok_or_else(|| ArmError::not_found(TYPE, name))?;
            req.check_preconditions(Some(r))?;
            update(world, req, &id, name)
        }
        "DELETE" => {
            let blocked = super::containers::protected(world, &id);
            if !blocked.is_empty() {
                let list: Vec<String> = blocked
                    .iter()
                    .map(|(c, why)| format!("{c} ({why})"))
                    .collect();
                return Err(ArmError::conflict(
                    PROTECTED,
                    format!(
                        "Storage account {name} is protected from deletion. The container(s) {} \
                         must be unprotected first.",
                        list.join(", ")
                    ),
                ));
            }
            Ok(world.delete_now(&id))
        }
        _ => Err(method_not_allowed()),
    }
}

fn create(
    world: &mut World,
    req: &Req,
    sub: &str,
    id: &str,
    name: &str,
) -> Result<Reply, ArmError> {
    if !names::valid_account_name(name) {
        return Err(ArmError::bad_request(
            "AccountNameInvalid",
            format!("{name} is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only."),
        ));
    }
    names::claim_account(world, id, name)?;
    let mut body = Value::Object(req.object()?);
    let location = str_at(&body, &["location"])
        .ok_or_else(|| {
            ArmError::bad_request(
                "LocationRequired",
                "The location property is required for this definition.",
            )
        })?
        .to_string();
    let sku = str_at(&body, &["sku", "name"])
        .ok_or_else(|| {
            ArmError::bad_request("MissingRequiredProperty", "The sku property is required.")
        })?
        .to_string();
    let kind = str_at(&body, &["kind"]).unwrap_or("StorageV2").to_string();
    let now = req.now_str();
    let ep = |svc: &str| format!("https://{name}.{svc}.core.windows.net/");
    let enc_svc = json!({"keyType": "Account", "enabled": true, "lastEnabledTime": now});
    let defaults = json!({
        "id": id, "name": name, "type": TYPE, "kind": kind,
        "sku": {"tier": if sku.starts_with("Premium") { "Premium" } else { "Standard" }},
        "properties": {
            "provisioningState": "Succeeded",
            "creationTime": now,
            "primaryLocation": location,
            "statusOfPrimary": "available",
            "primaryEndpoints": {"blob": ep("blob"), "dfs": ep("dfs"), "file": ep("file"), "queue": ep("queue"), "table": ep("table"), "web": ep("web")},
            "encryption": {"services": {"blob": enc_svc, "file": enc_svc}, "keySource": "Microsoft.Storage"},
            "minimumTlsVersion": "TLS1_0",
            "allowBlobPublicAccess": false,
            "supportsHttpsTrafficOnly": true,
            "accountMigrationInProgress": false,
            "isSkuConversionBlocked": false,
            "networkAcls": {"bypass": "AzureServices", "defaultAction": "Allow", "ipRules": [], "virtualNetworkRules": []},
            "privateEndpointConnections": [],
        },
    });
    for k in ["id", "name", "type"] {
        set_at(&mut body, &[k], defaults[k].clone());
    }
    fill_defaults(&mut body, &defaults);
    if kind == "StorageV2" || kind == "BlobStorage" {
        fill_defaults(&mut body, &json!({"properties": {"accessTier": "Hot"}}));
    }
    fill_identity(&mut body, world.next_seq());
    check_network_acls(&body)?;
    check_cmk(world, &mut body, req, None)?;
    world.put(id, body.clone(), false);
    Ok(begin(
        world,
        req,
        Begin {
            kind: OpKind::StorageCreate,
            target: id,
            lock: id,
            sub,
            location: &location.replace(' ', "").to_ascii_lowercase(),
            effect: Effect::Commit(body),
            transitional: None,
            failure: None,
        },
    ))
}

fn update(world: &mut World, req: &Req, id: &str, name: &str) -> Result<Reply, ArmError> {
    let patch = Value::Object(req.object()?);
    let old = world
        .get(id)
        .map(|r| r.body.clone())
        .ok_or_else(|| ArmError::not_found(TYPE, name))?;
    let mut new = old.clone();
    let mut clean = patch.clone();
    if let Value::Object(m) = &mut clean {
        for k in ["id", "name", "type", "location"] {
            m.remove(k);
        }
    }
    if let Some(Value::Object(p)) = clean.get_mut("properties") {
        p.remove("privateEndpointConnections");
    }
    merge_patch(&mut new, &clean);
    if let Some(tags) = patch.get("tags") {
        set_at(&mut new, &["tags"], tags.clone());
    }
    fill_identity(&mut new, world.next_seq());
    check_network_acls(&new)?;
    check_cmk(world, &mut new, req, Some(&old))?;
    let r = world.put(id, new, true);
    Ok(Reply::resource(r))
}

/// With `keySource: Microsoft.Keyvault`, the key must exist in the mock Key Vault; with an empty
/// `keyversion` the account follows the newest key version (Azure's automatic key version update).
fn check_cmk(
    world: &World,
    body: &mut Value,
    req: &Req,
    old: Option<&Value>,
) -> Result<(), ArmError> {
    let source =
        str_at(body, &["properties", "encryption", "keySource"]).unwrap_or("Microsoft.Storage");
    if !source.eq_ignore_ascii_case("Microsoft.Keyvault") {
        if let Some(Value::Object(enc)) = body.pointer_mut("/properties/encryption") {
            enc.remove("keyvaultproperties");
        }
        return Ok(());
    }
    let kv = |k: &str| {
        str_at(body, &["properties", "encryption", "keyvaultproperties", k])
            .unwrap_or("")
            .to_string()
    };
    let (uri, key, version) = (kv("keyvaulturi"), kv("keyname"), kv("keyversion"));
    let vault = uri
        .trim_start_matches("https://")
        .split(['.', '/'])
        .next()
        .unwrap_or("")
        .to_string();
    if vault.is_empty() || key.is_empty() {
        return Err(ArmError::bad_request(
            "InvalidValuesForRequestParameters",
            "keyvaulturi and keyname are required when keySource is Microsoft.Keyvault.",
        ));
    }
    let current = if version.is_empty() {
        keyvault::latest_kid(world, &vault, &key)
    } else {
        keyvault::has_version(world, &vault, &key, &version)
            .then(|| keyvault::kid(&vault, &key, &version))
    };
    let current = current.ok_or_else(|| {
        ArmError::bad_request(
            "KeyVaultKeyNotFound",
            format!("The key '{key}' (version '{version}') was not found in key vault '{uri}'."),
        )
    })?;
    let before = old
        .and_then(|o| {
            str_at(
                o,
                &[
                    "properties",
                    "encryption",
                    "keyvaultproperties",
                    "currentVersionedKeyIdentifier",
                ],
            )
        })
        .map(str::to_string);
    let path = ["properties", "encryption", "keyvaultproperties"];
    if before.as_deref() != Some(current.as_str()) {
        set_at(
            body,
            &[path[0], path[1], path[2], "lastKeyRotationTimestamp"],
            json!(req.now_str()),
        );
    }
    set_at(
        body,
        &[path[0], path[1], path[2], "currentVersionedKeyIdentifier"],
        json!(current),
    );
    Ok(())
}

/// On read, an auto-updating CMK account picks up a newer key version.
fn resolve_cmk(world: &mut World, req: &Req, id: &str) -> Result<(), ArmError> {
    let Some(old) = world.get(id).map(|r| r.body.clone()) else {
        return Ok(());
    };
    // Storage looks at the vault now and then: a version newer than the follow delay, or one it
    // cannot use, is not picked up yet.
    let kv = |k: &str| {
        str_at(&old, &["properties", "encryption", "keyvaultproperties", k])
            .unwrap_or_default()
            .to_string()
    };
    let vault = kv("keyvaulturi");
    let vault = vault
        .trim_start_matches("https://")
        .split(['.', '/'])
        .next()
        .unwrap_or_default();
    if kv("keyversion").is_empty() {
        let delay = i64::try_from(req.cfg.storage_key_follow_delay.as_secs()).unwrap_or(i64::MAX);
        let now = req.now.unix_timestamp();
        let ready = keyvault::version_of(world, vault, &kv("keyname"), "latest")
            .is_some_and(|v| v.usable(now) && v.created.saturating_add(delay) <= now);
        if !ready {
            return Ok(());
        }
    }
    let mut new = old.clone();
    if check_cmk(world, &mut new, req, Some(&old)).is_ok() && new != old {
        world.put(id, new, true);
    }
    Ok(())
}

/// `networkAcls`: default action Allow or Deny, IP rules as IPv4 addresses or CIDR ranges (Azure
/// takes /0 to /30), virtual network rules naming subnets.
fn check_network_acls(body: &Value) -> Result<(), ArmError> {
    let Some(acls) = body.pointer("/properties/networkAcls") else {
        return Ok(());
    };
    let invalid = |what: &str| {
        ArmError::bad_request(
            "NetworkAclsValidationFailure",
            format!("Validation of network acls failure: {what}."),
        )
    };
    let action = acls["defaultAction"].as_str().unwrap_or("Allow");
    if !["Allow", "Deny"]
        .iter()
        .any(|a| a.eq_ignore_ascii_case(action))
    {
        return Err(invalid(&format!(
            "defaultAction '{action}' is not Allow or Deny"
        )));
    }
    for r in acls["ipRules"].as_array().into_iter().flatten() {
        let v = r["value"].as_str().unwrap_or_default();
        let (ip, bits) = v.split_once('/').unwrap_or((v, "32"));
        let ok = ip.parse::<std::net::Ipv4Addr>().is_ok()
            && bits
                .parse::<u8>()
                .is_ok_and(|b| b <= 30 || (b == 32 && !v.contains('/')));
        if !ok {
            return Err(invalid(&format!(
                "ipRules value '{v}' is not an IPv4 address or range"
            )));
        }
    }
    for r in acls["virtualNetworkRules"].as_array().into_iter().flatten() {
        let id = r["id"].as_str().unwrap_or_default();
        if !super::network::is_id_of(id, "Microsoft.Network", &["virtualNetworks", "subnets"]) {
            return Err(invalid(&format!(
                "virtualNetworkRules id '{id}' is not a subnet"
            )));
        }
    }
    Ok(())
}
