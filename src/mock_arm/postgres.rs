//! Microsoft.DBforPostgreSQL/flexibleServers: create, update, get, delete, list, start/stop/restart,
//! with the service rules of FACTS.md section 8.

use serde_json::{json, Map, Value};

use super::errors::ArmError;
use super::lro::{begin, Begin, Effect, OpKind};
use super::names;
use super::pg_config;
use super::pg_rules::{check_encryption, check_network, check_rules, derive, INVALID_PARAMETER};
use super::restore;
use super::store::{arm_id, fill_defaults, guid, merge_patch, set_at, str_at, Reply, Req, World};

pub const TYPE: &str = "Microsoft.DBforPostgreSQL/flexibleServers";

pub const NOT_READY: &str = "ServerIsNotReady";
pub const NOT_STOPPED: &str = "ServerIsNotStopped";

pub fn server_id(sub: &str, rg: &str, name: &str) -> String {
    arm_id(sub, rg, &format!("{TYPE}/{name}"))
}

/// GET / PUT / PATCH / DELETE of one server.
pub fn server(
    world: &mut World,
    req: &Req,
    sub: &str,
    rg: &str,
    name: &str,
) -> Result<Reply, ArmError> {
    let id = server_id(sub, rg, name);
    match req.method {
        "GET" => {
            let r = world
                .get(&id)
                .ok_or_else(|| ArmError::not_found(TYPE, name))?;
            let body = with_key_status(world, r.body.clone(), req.now.unix_timestamp());
            Ok(Reply::json(200, body).with_etag(r))
        }
        "PUT" => {
            if let Some(r) = world.get_any(&id) {
                if r.busy.is_some() {
                    return Err(ArmError::busy(name));
                }
            }
            req.check_preconditions(world.get(&id))?;
            if world.get(&id).is_some() {
                update(world, req, sub, &id, name)
            } else {
                create(world, req, sub, &id, name)
            }
        }
        "PATCH" => {
            let r = world
                .get(&id)
                .ok_or_else(|| ArmError::not_found(TYPE, name))?;
            if r.busy.is_some() {
                return Err(ArmError::busy(name));
            }
            req.check_preconditions(Some(r))?;
            update(world, req, sub, &id, name)
        }
        "DELETE" => {
            let Some(r) = world.get(&id) else {
                return Ok(Reply::empty(204));
            };
            if r.busy.is_some() {
                return Err(ArmError::busy(name));
            }
            // Azure names the location by its display name here, URL-encoded (real traffic).
            let location = display_name(&location_of(&r.body));
            Ok(begin(
                world,
                req,
                Begin {
                    kind: OpKind::PgDelete,
                    target: &id,
                    lock: &id,
                    sub,
                    location: &location,
                    effect: Effect::Delete,
                    transitional: Some("Dropping"),
                    failure: None,
                },
            ))
        }
        _ => Err(method_not_allowed()),
    }
}

pub fn method_not_allowed() -> ArmError {
    ArmError::new(
        405,
        "MethodNotAllowed",
        "The requested HTTP method is not allowed for this resource.",
    )
}

/// GET of a server's child collection (`configurations`, `firewallRules`): every child, in one
/// page; 404 when the server does not exist.
pub fn list_children(
    world: &World,
    req: &Req,
    sub: &str,
    rg: &str,
    server: &str,
    collection: &str,
) -> Result<Reply, ArmError> {
    if req.method != "GET" {
        return Err(method_not_allowed());
    }
    let sid = server_id(sub, rg, server);
    if world.get(&sid).is_none() {
        return Err(ArmError::parent_not_found(TYPE, server));
    }
    let value: Vec<Value> = world
        .children(&format!("{sid}/{collection}"))
        .into_iter()
        .map(|(_, r)| with_key_status(world, r.body.clone(), req.now.unix_timestamp()))
        .collect();
    Ok(Reply::json(200, json!({ "value": value })))
}

/// A server with a customer-managed key reports, as it is read, whether it can use each key:
/// `primaryEncryptionKeyStatus` (and `geoBackupEncryptionKeyStatus`) is `Valid` while the version
/// its URI names (the newest for a versionless URI) exists, is enabled and is inside its nbf/exp
/// window, and `Invalid` otherwise.
fn with_key_status(world: &World, mut body: Value, now: i64) -> Value {
    let Some(enc) = body.pointer_mut("/properties/dataEncryption") else {
        return body;
    };
    if enc["type"] != "AzureKeyVault" {
        return body;
    }
    for (uri, status) in [
        ("primaryKeyURI", "primaryEncryptionKeyStatus"),
        ("geoBackupKeyURI", "geoBackupEncryptionKeyStatus"),
    ] {
        if let Some(u) = enc[uri].as_str().filter(|u| !u.is_empty()) {
            let valid = super::keyvault::uri_usable(world, u, now);
            enc[status] = json!(if valid { "Valid" } else { "Invalid" });
        }
    }
    body
}

/// GET .../flexibleServers: the servers of a resource group.
pub fn list(world: &World, req: &Req, sub: &str, rg: &str) -> Result<Reply, ArmError> {
    if req.method != "GET" {
        return Err(method_not_allowed());
    }
    let prefix = arm_id(sub, rg, TYPE);
    let value: Vec<Value> = world
        .children(&prefix)
        .into_iter()
        .filter(|(k, _)| !k[prefix.len() + 1..].contains('/'))
        .map(|(_, r)| r.body.clone())
        .collect();
    Ok(Reply::json(200, json!({ "value": value })))
}

/// POST .../start | stop | restart.
pub fn action(
    world: &mut World,
    req: &Req,
    sub: &str,
    rg: &str,
    name: &str,
    action: &str,
) -> Result<Reply, ArmError> {
    if req.method != "POST" {
        return Err(method_not_allowed());
    }
    let id = server_id(sub, rg, name);
    let r = world
        .get(&id)
        .ok_or_else(|| ArmError::not_found(TYPE, name))?;
    if r.busy.is_some() {
        return Err(ArmError::busy(name));
    }
    let state = str_at(&r.body, &["properties", "state"])
        .unwrap_or("Ready")
        .to_string();
    let location = location_of(&r.body);
    let (kind, effect, transitional) = match action.to_ascii_lowercase().as_str() {
        "start" => {
            if state != "Stopped" {
                return Err(ArmError::conflict(
                    NOT_STOPPED,
                    format!("Start Server can only be performed on Stopped servers. Server Name = {name}, Current Server State = {state}"),
                ));
            }
            (
                OpKind::PgStart,
                Effect::State {
                    state: "Ready",
                    stopped: false,
                    restart: false,
                },
                "Starting",
            )
        }
        a @ ("stop" | "restart") => {
            if state != "Ready" {
                return Err(ArmError::conflict(
                    NOT_READY,
                    format!("Restart or Stop Server can only be performed on Started servers. Server Name = {name}, Current Server State = {state}"),
                ));
            }
            if a == "stop" {
                (
                    OpKind::PgStop,
                    Effect::State {
                        state: "Stopped",
                        stopped: true,
                        restart: false,
                    },
                    "Stopping",
                )
            } else {
                (
                    OpKind::PgRestart,
                    Effect::State {
                        state: "Ready",
                        stopped: false,
                        restart: true,
                    },
                    "Restarting",
                )
            }
        }
        _ => return Err(ArmError::not_found(TYPE, &format!("{name}/{action}"))),
    };
    Ok(begin(
        world,
        req,
        Begin {
            kind,
            target: &id,
            lock: &id,
            sub,
            location: &location,
            effect,
            transitional: Some(transitional),
            failure: None,
        },
    ))
}

/// The display name of a region ("uksouth" → "UK South"), for the regions the tests and
/// examples use; others keep their name.
fn display_name(location: &str) -> String {
    let known = [
        ("eastus", "East US"),
        ("eastus2", "East US 2"),
        ("westus", "West US"),
        ("westus2", "West US 2"),
        ("westus3", "West US 3"),
        ("centralus", "Central US"),
        ("uksouth", "UK South"),
        ("westeurope", "West Europe"),
        ("northeurope", "North Europe"),
    ];
    known
        .iter()
        .find(|(k, _)| *k == location)
        .map_or_else(|| location.to_owned(), |(_, d)| (*d).to_owned())
}

fn location_of(body: &Value) -> String {
    str_at(body, &["location"])
        .unwrap_or("westus")
        .replace(' ', "")
        .to_ascii_lowercase()
}

fn create(
    world: &mut World,
    req: &Req,
    sub: &str,
    id: &str,
    name: &str,
) -> Result<Reply, ArmError> {
    validate_name(name)?;
    names::claim_server(world, id, name)?;
    let input = req.object()?;
    let location = input
        .get("location")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ArmError::bad_request(
                "LocationRequired",
                "The location property is required for this definition.",
            )
        })?
        .to_string();
    let mut body = Value::Object(input);
    let mode = restore::create_mode(&body);
    let restored = mode == "pointintimerestore";
    if restored {
        let source = restore::check_point_in_time(world, req, &body)?;
        restore::inherit(&mut body, &source);
    }
    if str_at(&body, &["sku", "name"]).is_none() || str_at(&body, &["sku", "tier"]).is_none() {
        if mode == "create" || mode == "default" {
            return Err(ArmError::bad_request(
                INVALID_PARAMETER,
                "Invalid value given for parameter Sku. Specify a valid parameter value.",
            ));
        }
        // Restores and replicas inherit the source's SKU; the mock does not model the source.
        set_at(
            &mut body,
            &["sku"],
            json!({"name": "Standard_D2ds_v5", "tier": "GeneralPurpose"}),
        );
    }
    strip_write_only(&mut body);
    check_network(&mut body, None)?;
    check_rules(&body, None)?;
    check_encryption(&body, req.api_version, true)?;
    let now = req.now_str();
    let version = str_at(&body, &["properties", "version"])
        .unwrap_or("16")
        .to_string();
    let defaults = json!({
        "id": id,
        "name": name,
        "type": TYPE,
        "location": location,
        "systemData": {"createdAt": now, "createdBy": "mock", "createdByType": "Application", "lastModifiedAt": now},
        "properties": {
            "version": version,
            "minorVersion": "8",
            "state": "Ready",
            "fullyQualifiedDomainName": format!("{}.postgres.database.azure.com", name.to_ascii_lowercase()),
            "availabilityZone": "1",
            "storage": {"storageSizeGB": 128, "autoGrow": "Disabled"},
            "backup": {"backupRetentionDays": 7, "geoRedundantBackup": "Disabled", "earliestRestoreDate": now},
            "network": {"publicNetworkAccess": "Enabled"},
            "highAvailability": {"mode": "Disabled"},
            "maintenanceWindow": {"customWindow": "Disabled", "dayOfWeek": 0, "startHour": 0, "startMinute": 0},
            "dataEncryption": {"type": "SystemManaged"},
            "authConfig": {"activeDirectoryAuth": "Disabled", "passwordAuth": "Enabled"},
            "replicationRole": "Primary",
            "replicaCapacity": 5,
            "privateEndpointConnections": [],
        },
    });
    // Name, id, type and location come from the URL / request, never from an older body.
    for k in ["id", "name", "type"] {
        set_at(&mut body, &[k], defaults[k].clone());
    }
    fill_defaults(&mut body, &defaults);
    if let Some(f) = restore::fqdn(req.cfg, restored) {
        set_at(
            &mut body,
            &["properties", "fullyQualifiedDomainName"],
            json!(f),
        );
    }
    derive(&mut body, None, world.next_seq());
    let mut pending = body.clone();
    set_at(
        &mut pending,
        &["properties", "state"],
        json!("Provisioning"),
    );
    world.put(id, pending, false);
    pg_config::seed(world, id, &version);
    Ok(begin(
        world,
        req,
        Begin {
            kind: OpKind::PgCreate,
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

fn update(
    world: &mut World,
    req: &Req,
    sub: &str,
    id: &str,
    name: &str,
) -> Result<Reply, ArmError> {
    let patch = Value::Object(req.object()?);
    let Some(old) = world.get(id).map(|r| r.body.clone()) else {
        return Err(ArmError::not_found(TYPE, name));
    };
    let state = str_at(&old, &["properties", "state"])
        .unwrap_or("Ready")
        .to_string();
    if state != "Ready" {
        return Err(ArmError::conflict(
            NOT_READY,
            format!(
                "Server '{name}' is not ready for this operation. Current Server State = {state}"
            ),
        ));
    }
    let mut new = old.clone();
    let mut clean = patch.clone();
    strip_write_only(&mut clean);
    for k in ["id", "name", "type", "location", "systemData"] {
        if let Value::Object(m) = &mut clean {
            m.remove(k);
        }
    }
    if let Some(Value::Object(p)) = clean.get_mut("properties") {
        // Read-only: connections come and go with the private endpoints themselves.
        p.remove("privateEndpointConnections");
    }
    merge_patch(&mut new, &clean);
    if let Some(tags) = patch.get("tags") {
        set_at(&mut new, &["tags"], tags.clone());
    }
    check_network(&mut new, Some(&old))?;
    check_rules(&new, Some(&old))?;
    check_encryption(&clean, req.api_version, false)?;
    derive(&mut new, Some(&patch), world.next_seq());
    set_at(&mut new, &["properties", "state"], json!("Ready"));
    set_at(
        &mut new,
        &["systemData", "lastModifiedAt"],
        json!(req.now_str()),
    );
    let location = location_of(&old);
    Ok(begin(
        world,
        req,
        Begin {
            kind: OpKind::PgUpdate,
            target: id,
            lock: id,
            sub,
            location: &location,
            effect: Effect::Commit(new),
            transitional: Some("Updating"),
            failure: None,
        },
    ))
}

fn validate_name(name: &str) -> Result<(), ArmError> {
    if !names::valid_server_name(name) {
        return Err(ArmError::bad_request(
            INVALID_PARAMETER,
            format!("Invalid value given for parameter ServerName '{name}': 3 to 63 letters, digits and inner hyphens."),
        ));
    }
    Ok(())
}

/// Remove what ARM never returns or keeps: the password and the create mode.
fn strip_write_only(body: &mut Value) {
    if let Some(Value::Object(p)) = body.get_mut("properties") {
        p.remove("administratorLoginPassword");
        p.remove("createMode");
    }
}

/// Give managed identities their principal / client ids, as ARM does.
pub fn fill_identity(body: &mut Value, seq: u64) {
    let Some(identity) = body.get_mut("identity").and_then(Value::as_object_mut) else {
        return;
    };
    let kind = identity
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if kind.contains("SystemAssigned") {
        identity
            .entry("principalId")
            .or_insert_with(|| json!(guid(seq, 1)));
        identity
            .entry("tenantId")
            .or_insert_with(|| json!(guid(0, 2)));
    }
    if let Some(Value::Object(uai)) = identity.get_mut("userAssignedIdentities") {
        for (i, v) in uai.values_mut().enumerate() {
            if !v.is_object() {
                *v = Value::Object(Map::new());
            }
            if let Value::Object(m) = v {
                m.entry("principalId")
                    .or_insert_with(|| json!(guid(seq + i as u64, 3)));
                m.entry("clientId")
                    .or_insert_with(|| json!(guid(seq + i as u64, 4)));
            }
        }
    }
}

/// What a write under a server (a firewall rule, an administrator) goes on with.
pub struct ChildWrite {
    /// The child's resource id.
    pub id: String,
    /// The server's body (for its settings), as it is now.
    pub server: serde_json::Value,
    /// The server's region, normalised (`eastus2`), for the operation URLs.
    pub location: String,
}

/// The common start of a write-capable route under a server: the server must exist; GET reads the
/// child (`Err(reply)`); only PUT and DELETE go on, after `check` of the request, and only while
/// the server is not busy and is Ready (`what` names the children in that refusal).
pub fn child_write(
    world: &World,
    req: &Req,
    (sub, rg, server): (&str, &str, &str),
    (segment, kind, name): (&str, &str, &str),
    what: &str,
    check: impl FnOnce() -> Result<(), ArmError>,
) -> Result<Result<ChildWrite, Reply>, ArmError> {
    let sid = server_id(sub, rg, server);
    let Some(srv) = world.get(&sid) else {
        return Err(ArmError::parent_not_found(TYPE, server));
    };
    let id = format!("{sid}/{segment}/{name}");
    if req.method == "GET" {
        return world.read(&id, kind, name).map(Err);
    }
    if !matches!(req.method, "PUT" | "DELETE") {
        return Err(method_not_allowed());
    }
    check()?;
    if srv.busy.is_some() {
        return Err(ArmError::busy(server));
    }
    let state = str_at(&srv.body, &["properties", "state"]).unwrap_or("Ready");
    if state != "Ready" {
        return Err(ArmError::conflict(
            NOT_READY,
            format!("{what} cannot be changed while the server is not ready. Server Name = {server}, Current Server State = {state}"),
        ));
    }
    let location = str_at(&srv.body, &["location"])
        .unwrap_or("westus")
        .replace(' ', "")
        .to_ascii_lowercase();
    Ok(Ok(ChildWrite {
        id,
        server: srv.body.clone(),
        location,
    }))
}
