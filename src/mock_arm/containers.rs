//! Blob containers with legal hold and immutability policy (create / get / delete / lock /
//! extend); a container with a legal hold or a locked policy cannot be deleted.

use serde_json::{json, Value};

use super::errors::ArmError;
use super::postgres::method_not_allowed;
use super::storage_account::require;
use super::store::{str_at, Reply, Req, World};

const TYPE: &str = "Microsoft.Storage/storageAccounts/blobServices/containers";
const POLICY_TYPE: &str =
    "Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies";
// Not established by the contract sources; this mock's descriptive names.
pub const PROTECTED: &str = "ContainerProtectedFromDeletion";
pub const POLICY_LOCKED: &str = "ImmutabilityPolicyLocked";
pub const CANNOT_SHORTEN: &str = "ImmutabilityPeriodCannotBeShortened";
pub const NOT_LOCKED: &str = "ImmutabilityPolicyNotLocked";

/// Dispatch `.../blobServices/default/containers/{name}/{rest...}`.
pub fn handle(
    world: &mut World,
    req: &Req,
    sub: &str,
    rg: &str,
    account: &str,
    name: &str,
    rest: &[&str],
) -> Result<Reply, ArmError> {
    let acct = require(world, sub, rg, account)?;
    let id = format!("{acct}/blobServices/default/containers/{name}");
    let lower: Vec<String> = rest.iter().map(|s| s.to_ascii_lowercase()).collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
    match (req.method, lower.as_slice()) {
        ("PUT", []) => put(world, req, &acct, &id, name),
        ("GET", []) => {
            let r = world
                .get(&id)
                .ok_or_else(|| ArmError::not_found(TYPE, name))?;
            // Like Azure, the body carries the container's etag too, not only the header.
            let mut out = view(world, &id, &r.body);
            out["etag"] = json!(r.etag());
            Ok(Reply::json(200, out).with_etag(r))
        }
        ("DELETE", []) => {
            if world.get(&id).is_none() {
                return Ok(Reply::empty(204));
            }
            if let Some(why) = protection(world, &id) {
                return Err(ArmError::conflict(
                    PROTECTED,
                    format!("Container '{name}' has {why} and cannot be deleted."),
                ));
            }
            world.remove_tree(&id);
            Ok(Reply::empty(200))
        }
        ("POST", [action @ ("setlegalhold" | "clearlegalhold")]) => {
            legal_hold(world, req, &id, name, *action == "setlegalhold")
        }
        (_, ["immutabilitypolicies", "default", rest @ ..]) => policy(world, req, &id, name, rest),
        _ => Err(method_not_allowed()),
    }
}

/// What protects a container from deletion: a legal hold or a locked time-based policy.
fn protection(world: &World, id: &str) -> Option<&'static str> {
    let r = world.get(id)?;
    if r.body.pointer("/properties/legalHold/hasLegalHold") == Some(&json!(true)) {
        return Some("a legal hold");
    }
    world
        .get(&policy_id(id))
        .is_some_and(|p| str_at(&p.body, &["properties", "state"]) == Some("Locked"))
        .then_some("a locked immutability policy")
}

/// The protected containers of an account, as (name, what protects it); an account holding any
/// cannot be deleted.
pub fn protected(world: &World, account_id: &str) -> Vec<(String, &'static str)> {
    let prefix = format!("{account_id}/blobServices/default/containers");
    let skip = prefix.len() + 1;
    world
        .children(&prefix)
        .into_iter()
        .filter(|(key, _)| !key[skip..].contains('/'))
        .filter_map(|(key, r)| {
            let name = str_at(&r.body, &["name"])
                .unwrap_or(&key[skip..])
                .to_string();
            protection(world, key).map(|why| (name, why))
        })
        .collect()
}

fn policy_id(container: &str) -> String {
    format!("{container}/immutabilityPolicies/default")
}

fn put(world: &mut World, req: &Req, acct: &str, id: &str, name: &str) -> Result<Reply, ArmError> {
    let ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if !ok {
        return Err(ArmError::bad_request(
            "ContainerNameInvalid",
            format!("The container name '{name}' is not valid."),
        ));
    }
    let public = str_at(&req.body, &["properties", "publicAccess"])
        .unwrap_or("None")
        .to_string();
    let allow_public = world
        .get(acct)
        .and_then(|a| a.body.pointer("/properties/allowBlobPublicAccess").cloned())
        == Some(json!(true));
    if public != "None" && !allow_public {
        return Err(ArmError::conflict(
            "PublicAccessNotPermitted",
            "Public access is not permitted on this storage account.",
        ));
    }
    let existing = world.get(id).map(|r| r.body.clone());
    let created = existing.is_none();
    let mut body = existing.unwrap_or_else(|| {
        json!({"id": id, "name": name, "type": TYPE, "properties": {
            "publicAccess": "None", "leaseStatus": "Unlocked", "leaseState": "Available",
            "defaultEncryptionScope": "$account-encryption-key", "denyEncryptionScopeOverride": false,
            "deleted": false, "remainingRetentionDays": 0,
            "hasImmutabilityPolicy": false, "hasLegalHold": false,
            "legalHold": {"hasLegalHold": false, "tags": []},
        }})
    });
    body["properties"]["publicAccess"] = json!(public);
    if let Some(m) = req.body.pointer("/properties/metadata") {
        body["properties"]["metadata"] = m.clone();
    }
    body["properties"]["lastModifiedTime"] = json!(req.now_str());
    let r = world.put(id, body, true);
    let etag = r.etag();
    let body = r.body.clone();
    let mut out = view(world, id, &body);
    out["etag"] = json!(etag);
    Ok(Reply::json(if created { 201 } else { 200 }, out))
}

/// The container as GET shows it, with its immutability policy projected in.
/// GET `.../blobServices/default/containers`: the account's containers (ListContainerItems), each
/// as GET shows it.
pub fn list(
    world: &World,
    req: &Req,
    sub: &str,
    rg: &str,
    account: &str,
) -> Result<Reply, ArmError> {
    if req.method != "GET" {
        return Err(method_not_allowed());
    }
    let acct = require(world, sub, rg, account)?;
    let prefix = format!("{acct}/blobServices/default/containers");
    let skip = prefix.len() + 1;
    let value: Vec<Value> = world
        .children(&prefix)
        .into_iter()
        // Direct children only: immutability policies live below their container.
        .filter(|(key, _)| !key[skip..].contains('/'))
        .map(|(key, r)| {
            let mut out = view(world, key, &r.body);
            out["etag"] = json!(r.etag());
            out
        })
        .collect();
    Ok(Reply::json(200, json!({ "value": value })))
}

fn view(world: &World, id: &str, body: &Value) -> Value {
    let mut out = body.clone();
    if let Some(p) = world.get(&policy_id(id)) {
        out["properties"]["hasImmutabilityPolicy"] = json!(true);
        out["properties"]["immutabilityPolicy"] =
            json!({"etag": p.etag(), "properties": p.body["properties"], "updateHistory": []});
    } else {
        out["properties"]["hasImmutabilityPolicy"] = json!(false);
    }
    out
}

fn legal_hold(
    world: &mut World,
    req: &Req,
    id: &str,
    name: &str,
    set: bool,
) -> Result<Reply, ArmError> {
    let now = req.now_str();
    let r = world
        .get_mut(id)
        .ok_or_else(|| ArmError::not_found(TYPE, name))?;
    let asked: Vec<String> = req
        .body
        .get("tags")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if asked.is_empty() {
        return Err(ArmError::bad_request(
            "InvalidRequestPropertyValue",
            "At least one legal hold tag is required.",
        ));
    }
    let mut tags: Vec<Value> = r
        .body
        .pointer("/properties/legalHold/tags")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let has = |tags: &Vec<Value>, t: &str| {
        tags.iter()
            .any(|x| x["tag"].as_str().is_some_and(|s| s.eq_ignore_ascii_case(t)))
    };
    for t in &asked {
        if set && !has(&tags, t) {
            tags.push(json!({"tag": t.to_ascii_lowercase(), "timestamp": now, "objectIdentifier": "mock", "tenantId": "mock"}));
        }
        if !set {
            tags.retain(|x| !x["tag"].as_str().is_some_and(|s| s.eq_ignore_ascii_case(t)));
        }
    }
    let hold = !tags.is_empty();
    let names: Vec<Value> = tags.iter().map(|t| t["tag"].clone()).collect();
    r.body["properties"]["legalHold"] = json!({"hasLegalHold": hold, "tags": tags});
    r.body["properties"]["hasLegalHold"] = json!(hold);
    world.touch(id);
    Ok(Reply::json(
        200,
        json!({"hasLegalHold": hold, "tags": names}),
    ))
}

fn policy(
    world: &mut World,
    req: &Req,
    container: &str,
    name: &str,
    rest: &[&str],
) -> Result<Reply, ArmError> {
    if world.get(container).is_none() {
        return Err(ArmError::parent_not_found(TYPE, name));
    }
    let pid = policy_id(container);
    let existing = world.get(&pid).cloned();
    let state = existing
        .as_ref()
        .and_then(|p| str_at(&p.body, &["properties", "state"]).map(str::to_string));
    let locked = state.as_deref() == Some("Locked");
    let days_now = existing
        .as_ref()
        .and_then(|p| {
            p.body
                .pointer("/properties/immutabilityPeriodSinceCreationInDays")
        })
        .and_then(Value::as_i64);
    let days = || {
        req.body
            .pointer("/properties/immutabilityPeriodSinceCreationInDays")
            .and_then(Value::as_i64)
            .filter(|d| (1..=146_000).contains(d))
            .ok_or_else(|| {
                ArmError::bad_request(
                    "InvalidRequestPropertyValue",
                    "immutabilityPeriodSinceCreationInDays must be 1 to 146000.",
                )
            })
    };
    let need_match = |what: &str| -> Result<(), ArmError> {
        match (&existing, req.if_match) {
            (None, _) => Err(ArmError::not_found(POLICY_TYPE, "default")),
            (Some(_), None) => Err(ArmError::bad_request(
                "MissingRequiredHeader",
                format!("{what} requires an If-Match header."),
            )),
            (Some(p), Some(_)) => req.check_preconditions(Some(p)),
        }
    };
    let mut props = existing
        .as_ref()
        .map(|p| p.body["properties"].clone())
        .unwrap_or_else(|| json!({}));
    match (req.method, rest) {
        ("GET", []) => {
            let p = existing.ok_or_else(|| ArmError::not_found(POLICY_TYPE, "default"))?;
            return Ok(policy_reply(&p.body, &p.etag()));
        }
        ("PUT", []) => {
            if locked {
                return Err(ArmError::conflict(
                    POLICY_LOCKED,
                    "A locked immutability policy can only be extended.",
                ));
            }
            req.check_preconditions(existing.as_ref())?;
            props = json!({"immutabilityPeriodSinceCreationInDays": days()?, "state": "Unlocked"});
            for k in [
                "allowProtectedAppendWrites",
                "allowProtectedAppendWritesAll",
            ] {
                if let Some(v) = req.body.pointer(&format!("/properties/{k}")) {
                    props[k] = v.clone();
                }
            }
        }
        ("DELETE", []) => {
            need_match("Deleting an immutability policy")?;
            if locked {
                return Err(ArmError::conflict(
                    POLICY_LOCKED,
                    "A locked immutability policy cannot be deleted.",
                ));
            }
            world.remove_tree(&pid);
            let body = json!({"properties": {"immutabilityPeriodSinceCreationInDays": 0, "state": "Unlocked"}});
            return Ok(policy_reply(&with_ids(&pid, body), "\"0\""));
        }
        ("POST", [a]) if a.eq_ignore_ascii_case("lock") => {
            need_match("Locking an immutability policy")?;
            if locked {
                return Err(ArmError::conflict(
                    POLICY_LOCKED,
                    "The immutability policy is already locked.",
                ));
            }
            props["state"] = json!("Locked");
        }
        ("POST", [a]) if a.eq_ignore_ascii_case("extend") => {
            need_match("Extending an immutability policy")?;
            if !locked {
                return Err(ArmError::conflict(NOT_LOCKED, "Only a locked immutability policy can be extended; update an unlocked one with PUT."));
            }
            let d = days()?;
            if days_now.is_some_and(|now| d < now) {
                return Err(ArmError::bad_request(
                    CANNOT_SHORTEN,
                    format!("The retention period of a locked policy can only be extended (from {} days, asked {d}).", days_now.unwrap_or(0)),
                ));
            }
            props["immutabilityPeriodSinceCreationInDays"] = json!(d);
        }
        _ => return Err(method_not_allowed()),
    }
    let r = world.put(&pid, with_ids(&pid, json!({"properties": props})), true);
    let (body, etag) = (r.body.clone(), r.etag());
    world.touch(container);
    Ok(policy_reply(&body, &etag))
}

fn with_ids(pid: &str, mut body: Value) -> Value {
    body["id"] = json!(pid);
    body["name"] = json!("default");
    body["type"] = json!(POLICY_TYPE);
    body
}

fn policy_reply(body: &Value, etag: &str) -> Reply {
    let mut out = body.clone();
    out["etag"] = json!(etag);
    let mut r = Reply::json(200, out);
    r.headers.push(("etag", etag.to_string()));
    r
}
