//! flexibleServers/{server}/configurations: list, get, PUT and PATCH (both long-running), seeded
//! from Microsoft's published parameter tables.

use serde_json::{json, Value};

use crate::api::pg_parameters;

use super::errors::ArmError;
use super::lro::{begin, Begin, Effect, OpKind};
use super::postgres::{method_not_allowed, server_id, NOT_READY, TYPE as SERVER_TYPE};
use super::store::{str_at, Reply, Req, World};

const TYPE: &str = "Microsoft.DBforPostgreSQL/flexibleServers/configurations";
/// Observed: `(ConfigurationNotExists) The configuration '...' does not exist for ... server version ...`.
const NOT_EXISTS: &str = "ConfigurationNotExists";

/// The mock's values for the parameters whose published default depends on the server's
/// resources (as for a 4-vCore, 16 GiB General Purpose server); every other parameter starts at
/// its published default.
const SKU_VALUES: &[(&str, &str)] = &[
    ("max_connections", "859"),
    ("shared_buffers", "524288"),
    ("effective_cache_size", "1572864"),
    ("maintenance_work_mem", "216064"),
    ("max_wal_size", "2048"),
    ("wal_buffers", "2048"),
    ("azure_storage.blob_block_size_mb", "1024"),
];

/// Create the configurations of a new server: every parameter Microsoft publishes for its
/// version (`data/postgres-parameters`), with the table's type, allowed values and
/// dynamic/static/read-only facts.
pub fn seed(world: &mut World, server: &str, version: &str) {
    let (table, _) = pg_parameters::table(version);
    for p in table.values() {
        let value = match SKU_VALUES.iter().find(|(n, _)| *n == p.name) {
            Some((_, v)) => (*v).to_string(),
            None if p.sku_dependent() => String::new(),
            None => p.default_value.clone(),
        };
        // ARM lists the extensions Azure offers in upper case (the tables publish lower case).
        let allowed = if p.name == "azure.extensions" {
            p.allowed_values.to_ascii_uppercase()
        } else {
            p.allowed_values.clone()
        };
        let id = format!("{server}/configurations/{}", p.name);
        let body = json!({
            "id": id,
            "name": p.name,
            "type": TYPE,
            "properties": {
                "value": value,
                "defaultValue": value,
                "description": format!("Server parameter {}.", p.name),
                "dataType": p.arm_data_type(),
                "allowedValues": allowed,
                "source": "system-default",
                "isDynamicConfig": p.is_dynamic,
                "isReadOnly": p.is_read_only,
                "isConfigPendingRestart": false,
                "documentationLink": format!("https://www.postgresql.org/docs/{version}/runtime-config.html"),
            },
        });
        world.put(&id, body, true);
    }
}

/// GET .../configurations.
pub fn list(
    world: &World,
    req: &Req,
    sub: &str,
    rg: &str,
    server: &str,
) -> Result<Reply, ArmError> {
    super::postgres::list_children(world, req, sub, rg, server, "configurations")
}

/// GET / PUT / PATCH .../configurations/{name}.
pub fn one(
    world: &mut World,
    req: &Req,
    sub: &str,
    rg: &str,
    server: &str,
    name: &str,
) -> Result<Reply, ArmError> {
    let sid = server_id(sub, rg, server);
    let Some(srv) = world.get(&sid) else {
        return Err(ArmError::parent_not_found(SERVER_TYPE, server));
    };
    let (busy, state) = (
        srv.busy.is_some(),
        str_at(&srv.body, &["properties", "state"])
            .unwrap_or("Ready")
            .to_string(),
    );
    let location = str_at(&srv.body, &["location"])
        .unwrap_or("westus")
        .replace(' ', "")
        .to_ascii_lowercase();
    let version = str_at(&srv.body, &["properties", "version"])
        .unwrap_or("16")
        .to_string();
    let id = format!("{sid}/configurations/{name}");
    let Some(cfg) = world.get(&id) else {
        return Err(ArmError::new(
            404,
            NOT_EXISTS,
            format!(
                "The configuration '{name}' does not exist for {server} server version {version}."
            ),
        ));
    };
    match req.method {
        "GET" => Ok(Reply::json(200, cfg.body.clone()).with_etag(cfg)),
        "PUT" | "PATCH" => {
            if busy {
                if req.cfg.busy_configuration_writes == super::BusyWrites::Reject {
                    return Err(ArmError::busy(server));
                }
                // Azure accepts it and fails the operation (real traffic, PG 19 → 29).
                let unchanged = Effect::Commit(cfg.body.clone());
                let why = ArmError::conflict(
                    "ServerIsBusy",
                    format!("Cannot complete operation while server '{server}' is busy processing another operation."),
                );
                return Ok(begin(
                    world,
                    req,
                    Begin {
                        kind: OpKind::PgConfiguration,
                        target: &id,
                        lock: &id,
                        sub,
                        location: &location,
                        effect: unchanged,
                        transitional: None,
                        failure: Some(why),
                    },
                ));
            }
            if state != "Ready" {
                return Err(ArmError::conflict(
                    NOT_READY,
                    format!("Server parameters cannot be changed while the server is not ready. Server Name = {server}, Current Server State = {state}"),
                ));
            }
            req.check_preconditions(Some(cfg))?;
            let value = str_at(&req.body, &["properties", "value"]).ok_or_else(|| {
                ArmError::bad_request(
                    "InvalidParameterValue",
                    "Both 'value' and 'source' are required to update a configuration.",
                )
            })?;
            let props = &cfg.body["properties"];
            if props["isReadOnly"] == json!(true) {
                return Err(ArmError::bad_request(
                    "InvalidParameterValue",
                    format!("The configuration '{name}' is read-only."),
                ));
            }
            check_value(name, value, props)?;
            let source = str_at(&req.body, &["properties", "source"]).unwrap_or("user-override");
            let mut new = cfg.body.clone();
            let changed = props["value"].as_str() != Some(value);
            new["properties"]["value"] = json!(value);
            new["properties"]["source"] = json!(source);
            if changed && props["isDynamicConfig"] == json!(false) {
                new["properties"]["isConfigPendingRestart"] = json!(true);
            }
            Ok(begin(
                world,
                req,
                Begin {
                    kind: OpKind::PgConfiguration,
                    target: &id,
                    lock: &sid,
                    sub,
                    location: &location,
                    effect: Effect::Commit(new),
                    transitional: Some("Updating"),
                    failure: None,
                },
            ))
        }
        _ => Err(method_not_allowed()),
    }
}

/// The value must fit the parameter's data type and allowed values.
fn check_value(name: &str, value: &str, props: &Value) -> Result<(), ArmError> {
    let allowed = props["allowedValues"].as_str().unwrap_or("");
    let data_type = props["dataType"].as_str().unwrap_or("");
    pg_parameters::check_value(data_type, allowed, value).map_err(|_| {
        ArmError::bad_request(
            "InvalidParameterValue",
            format!(
                "Invalid value '{value}' for configuration '{name}'. Allowed values: {allowed}."
            ),
        )
    })
}
