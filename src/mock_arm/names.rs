//! Server and storage account names are global: each becomes a DNS name
//! (`{name}.postgres.database.azure.com`, `{name}.blob.core.windows.net`), so a name taken in any
//! subscription cannot be created in another. Both providers' `checkNameAvailability` actions.

use serde_json::{json, Value};

use super::errors::ArmError;
use super::postgres::{method_not_allowed, TYPE as SERVER_TYPE};
use super::storage_account::TYPE as ACCOUNT_TYPE;
use super::store::{str_at, Reply, Req, World};

/// Observed in a deployment error (code and message); the HTTP status is the mock's choice.
pub const SERVER_TAKEN: &str = "ServerNameAlreadyExists";
/// The Storage provider's code for a name another account holds.
pub const ACCOUNT_TAKEN: &str = "StorageAccountAlreadyTaken";
const SERVER_TAKEN_MESSAGE: &str = "Specified server name is already used.";

/// 3-63 letters, digits and inner single hyphens.
pub fn valid_server_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .split('-')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// 3-24 lowercase letters and digits.
pub fn valid_account_name(name: &str) -> bool {
    (3..=24).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Whether a resource of `kind` named `name` exists (or, with `creating`, is being created) under
/// any id but `own`.
fn taken(world: &World, kind: &str, name: &str, own: Option<&str>, creating: bool) -> bool {
    let suffix = format!("/providers/{kind}/{name}").to_ascii_lowercase();
    let own = own.map(str::to_ascii_lowercase);
    world
        .resources
        .iter()
        .any(|(k, r)| k.ends_with(&suffix) && Some(k) != own.as_ref() && (creating || r.visible))
}

/// What `checkNameAvailability` counts as taken: a name whose create is still running too, unless
/// the configuration says otherwise.
fn checked(world: &World, req: &Req, kind: &str, name: &str) -> bool {
    taken(
        world,
        kind,
        name,
        None,
        req.cfg.names_reserved_while_creating,
    )
}

/// Refuse a server create whose name another subscription or resource group holds.
pub fn claim_server(world: &World, id: &str, name: &str) -> Result<(), ArmError> {
    if taken(world, SERVER_TYPE, name, Some(id), true) {
        return Err(ArmError::conflict(SERVER_TAKEN, SERVER_TAKEN_MESSAGE));
    }
    Ok(())
}

/// Refuse an account create whose name another subscription or resource group holds.
pub fn claim_account(world: &World, id: &str, name: &str) -> Result<(), ArmError> {
    if taken(world, ACCOUNT_TYPE, name, Some(id), true) {
        return Err(ArmError::conflict(
            ACCOUNT_TAKEN,
            account_taken_message(name),
        ));
    }
    Ok(())
}

fn account_taken_message(name: &str) -> String {
    format!("The storage account named {name} is already taken.")
}

/// The requested name, and whether the request named the expected type.
fn requested(req: &Req, kind: &str) -> Result<String, ArmError> {
    if req.method != "POST" {
        return Err(method_not_allowed());
    }
    let name = str_at(&req.body, &["name"]).unwrap_or_default().to_string();
    let ty = str_at(&req.body, &["type"]).unwrap_or_default();
    if name.is_empty() || !ty.eq_ignore_ascii_case(kind) {
        return Err(ArmError::bad_request(
            "InvalidParameterValue",
            format!("The request must name a resource (name) of type {kind} (type)."),
        ));
    }
    Ok(name)
}

/// POST .../Microsoft.DBforPostgreSQL[/locations/{l}]/checkNameAvailability.
pub fn check_server(world: &World, req: &Req) -> Result<Reply, ArmError> {
    let name = requested(req, SERVER_TYPE)?;
    let mut body = json!({"name": name, "type": SERVER_TYPE, "nameAvailable": true});
    if !valid_server_name(&name) {
        body["nameAvailable"] = json!(false);
        body["reason"] = json!("Invalid");
        body["message"] = json!("Specified server name contains unsupported characters or is too long. Server name must be no longer than 63 characters long, contain only lower-case characters or digits, cannot contain '.' or '_' characters and can't start or end with '-' character.");
    } else if checked(world, req, SERVER_TYPE, &name) {
        body["nameAvailable"] = json!(false);
        body["reason"] = json!("AlreadyExists");
        body["message"] = json!(SERVER_TAKEN_MESSAGE);
    }
    Ok(Reply::json(200, body))
}

/// POST .../Microsoft.Storage/checkNameAvailability.
pub fn check_account(world: &World, req: &Req) -> Result<Reply, ArmError> {
    let name = requested(req, ACCOUNT_TYPE)?;
    let body: Value = if !valid_account_name(&name) {
        json!({"nameAvailable": false, "reason": "AccountNameInvalid",
               "message": format!("{name} is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only.")})
    } else if checked(world, req, ACCOUNT_TYPE, &name) {
        json!({"nameAvailable": false, "reason": "AlreadyExists", "message": account_taken_message(&name)})
    } else {
        json!({"nameAvailable": true})
    };
    Ok(Reply::json(200, body))
}
