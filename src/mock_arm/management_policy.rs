//! storageAccounts/{account}/managementPolicies/default: lifecycle rules PUT / GET / DELETE.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::errors::ArmError;
use super::postgres::method_not_allowed;
use super::storage_account::require;
use super::store::{Reply, Req, World};

const TYPE: &str = "Microsoft.Storage/storageAccounts/managementPolicies";
/// Not established by the contract sources: this mock's name for a rejected lifecycle policy.
pub const INVALID_POLICY: &str = "InvalidManagementPolicyRules";

pub fn handle(
    world: &mut World,
    req: &Req,
    sub: &str,
    rg: &str,
    account: &str,
    name: &str,
) -> Result<Reply, ArmError> {
    let acct = require(world, sub, rg, account)?;
    if !name.eq_ignore_ascii_case("default") {
        return Err(ArmError::not_found(TYPE, name));
    }
    let id = format!("{acct}/managementPolicies/default");
    match req.method {
        "GET" => world.read(&id, TYPE, name),
        "PUT" => {
            let policy = req
                .body
                .pointer("/properties/policy")
                .cloned()
                .ok_or_else(|| bad("The request must carry properties.policy."))?;
            validate(&policy)?;
            let body = json!({
                "id": id, "name": "DefaultManagementPolicy", "type": TYPE,
                "properties": {"policy": policy, "lastModifiedTime": req.now_str()},
            });
            let r = world.put(&id, body, true);
            Ok(Reply::resource(r))
        }
        "DELETE" => Ok(world.delete_now(&id)),
        _ => Err(method_not_allowed()),
    }
}

fn bad(msg: impl Into<String>) -> ArmError {
    ArmError::bad_request(INVALID_POLICY, msg)
}

/// Lifecycle rule constraints (FACTS 9.4): 1..=100 rules; names 1..=256 chars, unique
/// (case-sensitive); type Lifecycle; blobTypes required; at most 10 prefixes; at least one action;
/// day counts 0..=99999; an action cannot combine days-since-modification with
/// days-since-last-access.
pub fn validate(policy: &Value) -> Result<(), ArmError> {
    let rules = policy
        .get("rules")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("policy.rules must be an array."))?;
    if rules.is_empty() || rules.len() > 100 {
        return Err(bad(format!(
            "A policy needs 1 to 100 rules; it has {}.",
            rules.len()
        )));
    }
    let mut names = HashSet::new();
    for rule in rules {
        let name = rule.get("name").and_then(Value::as_str).unwrap_or("");
        if name.is_empty() || name.chars().count() > 256 {
            return Err(bad("A rule name must have 1 to 256 characters."));
        }
        if !names.insert(name) {
            return Err(bad(format!("Rule name '{name}' is used more than once.")));
        }
        if rule.get("type").and_then(Value::as_str) != Some("Lifecycle") {
            return Err(bad(format!("Rule '{name}': type must be Lifecycle.")));
        }
        let def = rule
            .get("definition")
            .ok_or_else(|| bad(format!("Rule '{name}' has no definition.")))?;
        let blob_types = def.pointer("/filters/blobTypes").and_then(Value::as_array);
        if blob_types.is_none_or(|b| b.is_empty()) {
            return Err(bad(format!(
                "Rule '{name}': filters.blobTypes is required."
            )));
        }
        if def
            .pointer("/filters/prefixMatch")
            .and_then(Value::as_array)
            .is_some_and(|p| p.len() > 10)
        {
            return Err(bad(format!(
                "Rule '{name}': at most 10 prefixes are allowed."
            )));
        }
        let actions = def.get("actions").and_then(Value::as_object);
        let mut count = 0;
        for (_, target) in actions.into_iter().flatten() {
            for (action, cond) in target.as_object().into_iter().flatten() {
                let Some(cond) = cond.as_object() else {
                    continue;
                };
                count += 1;
                if cond.contains_key("daysAfterModificationGreaterThan")
                    && cond.contains_key("daysAfterLastAccessTimeGreaterThan")
                {
                    return Err(bad(format!(
                        "Rule '{name}': action {action} cannot use both daysAfterModificationGreaterThan and daysAfterLastAccessTimeGreaterThan."
                    )));
                }
                for (k, v) in cond {
                    if k.starts_with("days")
                        && !v.as_f64().is_some_and(|d| (0.0..=99999.0).contains(&d))
                    {
                        return Err(bad(format!(
                            "Rule '{name}': {action}.{k} must be a number of days from 0 to 99999."
                        )));
                    }
                }
            }
        }
        if count == 0 {
            return Err(bad(format!("Rule '{name}' has no action.")));
        }
    }
    Ok(())
}
