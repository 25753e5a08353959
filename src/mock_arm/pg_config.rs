//! flexibleServers/{server}/configurations: list, get, PUT and PATCH (both long-running).

use serde_json::{json, Value};

use super::errors::ArmError;
use super::lro::{begin, Begin, Effect, OpKind};
use super::postgres::{method_not_allowed, server_id, NOT_READY, TYPE as SERVER_TYPE};
use super::store::{str_at, Reply, Req, World};

const TYPE: &str = "Microsoft.DBforPostgreSQL/flexibleServers/configurations";
/// Observed: `(ConfigurationNotExists) The configuration '...' does not exist for ... server version ...`.
const NOT_EXISTS: &str = "ConfigurationNotExists";

/// The parameters every new server starts with: (name, value, dataType, allowedValues, dynamic).
const SEED: &[(&str, &str, &str, &str, bool)] = &[
    (
        "azure.extensions",
        "",
        "Set",
        "ADDRESS_STANDARDIZER,AMCHECK,BLOOM,BTREE_GIN,BTREE_GIST,CITEXT,CUBE,DBLINK,FUZZYSTRMATCH,HSTORE,INTARRAY,LTREE,PG_BUFFERCACHE,PG_CRON,PG_PARTMAN,PG_PREWARM,PG_STAT_STATEMENTS,PG_TRGM,PGAUDIT,PGCRYPTO,PGROWLOCKS,PGSTATTUPLE,PLPGSQL,POSTGIS,POSTGRES_FDW,TABLEFUNC,UNACCENT,UUID-OSSP,VECTOR",
        true,
    ),
    (
        "shared_preload_libraries",
        "pg_cron,pg_stat_statements",
        "Set",
        "age,auto_explain,azure_storage,pg_cron,pg_failover_slots,pg_hint_plan,pg_partman_bgw,pg_prewarm,pg_squeeze,pg_stat_statements,pgaudit,pglogical,timescaledb,wal2json",
        false,
    ),
    ("ssl_min_protocol_version", "TLSv1.2", "Enumeration", "TLSv1.2,TLSv1.3", true),
    ("max_connections", "859", "Integer", "25-5000", false),
    ("log_min_duration_statement", "-1", "Integer", "-1-2147483647", true),
    ("pg_qs.query_capture_mode", "none", "Enumeration", "top,all,none", true),
    ("array_nulls", "on", "Boolean", "on,off", true),
    ("constraint_exclusion", "partition", "Enumeration", "partition,on,off", true),
];

/// Create the default configurations of a new server.
pub fn seed(world: &mut World, server: &str, version: &str) {
    for (name, value, data_type, allowed, dynamic) in SEED {
        let id = format!("{server}/configurations/{name}");
        let body = json!({
            "id": id,
            "name": name,
            "type": TYPE,
            "properties": {
                "value": value,
                "defaultValue": value,
                "description": format!("Server parameter {name}."),
                "dataType": data_type,
                "allowedValues": allowed,
                "source": "system-default",
                "isDynamicConfig": dynamic,
                "isReadOnly": false,
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
    if req.method != "GET" {
        return Err(method_not_allowed());
    }
    let sid = server_id(sub, rg, server);
    if world.get(&sid).is_none() {
        return Err(ArmError::parent_not_found(SERVER_TYPE, server));
    }
    let value: Vec<Value> = world
        .children(&format!("{sid}/configurations"))
        .into_iter()
        .map(|(_, r)| r.body.clone())
        .collect();
    Ok(Reply::json(200, json!({ "value": value })))
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
    let bad = || {
        ArmError::bad_request(
            "InvalidParameterValue",
            format!(
                "Invalid value '{value}' for configuration '{name}'. Allowed values: {allowed}."
            ),
        )
    };
    let in_list = |v: &str| {
        allowed
            .split(',')
            .any(|a| a.trim().eq_ignore_ascii_case(v.trim()))
    };
    match props["dataType"].as_str().unwrap_or("") {
        "Set" => {
            if value
                .split(',')
                .filter(|v| !v.trim().is_empty())
                .all(in_list)
            {
                Ok(())
            } else {
                Err(bad())
            }
        }
        "Enumeration" | "Boolean" => in_list(value).then_some(()).ok_or_else(bad),
        "Integer" | "Numeric" => {
            let n: i64 = value.trim().parse().map_err(|_| bad())?;
            // allowedValues is "min-max"; min may be negative ("-1-2147483647").
            let split = allowed.get(1..).and_then(|s| s.find('-')).map(|i| i + 1);
            match split {
                Some(i) => {
                    let lo: i64 = allowed[..i].parse().map_err(|_| bad())?;
                    let hi: i64 = allowed[i + 1..].parse().map_err(|_| bad())?;
                    (lo..=hi).contains(&n).then_some(()).ok_or_else(bad)
                }
                None => Ok(()),
            }
        }
        _ => Ok(()),
    }
}
