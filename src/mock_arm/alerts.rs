//! Microsoft.Insights/metricAlerts (api-version 2018-03-01): PUT, GET, DELETE.

use serde_json::{json, Value};

use super::errors::ArmError;
use super::postgres::method_not_allowed;
use super::store::{arm_id, set_at, str_at, Reply, Req, World};

const TYPE: &str = "Microsoft.Insights/metricAlerts";

/// GET `.../providers/Microsoft.Insights/metricAlerts`: every rule of the resource group.
pub fn list(world: &World, req: &Req, sub: &str, rg: &str) -> Result<Reply, ArmError> {
    if req.method != "GET" {
        return Err(method_not_allowed());
    }
    let value: Vec<Value> = world
        .children(&arm_id(sub, rg, TYPE))
        .into_iter()
        .map(|(_, r)| r.body.clone())
        .collect();
    Ok(Reply::json(200, json!({ "value": value })))
}

pub fn handle(
    world: &mut World,
    req: &Req,
    sub: &str,
    rg: &str,
    name: &str,
) -> Result<Reply, ArmError> {
    let id = arm_id(sub, rg, &format!("{TYPE}/{name}"));
    match req.method {
        "GET" => world.read(&id, TYPE, name),
        "PUT" => {
            req.check_preconditions(world.get(&id))?;
            let mut body = Value::Object(req.object()?);
            if str_at(&body, &["location"]).is_none() {
                return Err(ArmError::bad_request(
                    "LocationRequired",
                    "The location property is required for this definition.",
                ));
            }
            for field in [
                "severity",
                "enabled",
                "scopes",
                "evaluationFrequency",
                "windowSize",
                "criteria",
            ] {
                if body.pointer(&format!("/properties/{field}")).is_none() {
                    return Err(ArmError::bad_request(
                        "BadRequest",
                        format!("The property '{field}' of the metric alert is required."),
                    ));
                }
            }
            set_at(&mut body, &["id"], json!(id));
            set_at(&mut body, &["name"], json!(name));
            set_at(&mut body, &["type"], json!(TYPE));
            set_at(
                &mut body,
                &["properties", "lastUpdatedTime"],
                json!(req.now_str()),
            );
            set_at(&mut body, &["properties", "isMigrated"], json!(false));
            let r = world.put(&id, body, true);
            Ok(Reply::resource(r))
        }
        "DELETE" => Ok(world.delete_now(&id)),
        _ => Err(method_not_allowed()),
    }
}
