//! Microsoft.Insights/diagnosticSettings (api-version 2021-05-01-preview), an extension resource
//! on any resource: `{resourceId}/providers/Microsoft.Insights/diagnosticSettings[/{name}]`.
//! PUT (create or replace, synchronous 200), GET, DELETE (200, or 204 when absent), list (no
//! nextLink). As the service does, it refuses a category the resource type does not offer, a
//! setting with no destination, a workspace id that is not one, a sixth setting on a resource, and
//! answers its own errors as `{"code","message"}` at the top level (the API's ErrorResponse),
//! while ARM's front door (api-version, routing) keeps `{"error":{...}}`.

use serde_json::{json, Value};

use super::errors::ArmError;
use super::postgres::method_not_allowed;
use super::store::{set_at, Reply, Req, World};

pub const TYPE: &str = "Microsoft.Insights/diagnosticSettings";
/// Azure allows at most five diagnostic settings per resource.
const MAX_PER_RESOURCE: usize = 5;

/// (resource type, log categories, category groups, metric categories).
type Offered = (&'static str, Names, Names, Names);
type Names = &'static [&'static str];

/// The categories a resource type offers: (type, log categories, category groups, metrics), from
/// Azure Monitor's "Supported logs" / "Supported metrics" tables. The Logic Apps row is what the
/// official examples use (`WorkflowMetrics` as they spell it). A type not listed is not checked.
const CATEGORIES: &[Offered] = &[
    (
        "microsoft.dbforpostgresql/flexibleservers",
        &[
            "PostgreSQLLogs",
            "PostgreSQLFlexSessions",
            "PostgreSQLFlexQueryStoreRuntime",
            "PostgreSQLFlexQueryStoreWaitStats",
            "PostgreSQLFlexTableStats",
            "PostgreSQLFlexDatabaseXacts",
        ],
        &["allLogs"],
        &["AllMetrics"],
    ),
    (
        "microsoft.storage/storageaccounts/blobservices",
        &["StorageRead", "StorageWrite", "StorageDelete"],
        &["allLogs", "audit"],
        &["Transaction", "Capacity"],
    ),
    (
        "microsoft.keyvault/vaults",
        &["AuditEvent", "AzurePolicyEvaluationDetails"],
        &["allLogs", "audit"],
        &["AllMetrics"],
    ),
    (
        "microsoft.logic/workflows",
        &["WorkflowRuntime"],
        &["allLogs"],
        &["AllMetrics", "WorkflowMetrics"],
    ),
];

/// The service's own error body (not wrapped in `error`).
pub(super) fn refuse(status: u16, code: &str, message: impl Into<String>) -> Reply {
    Reply::json(status, json!({"code": code, "message": message.into()}))
}

fn bad(message: impl Into<String>) -> Reply {
    refuse(400, "BadRequest", message)
}

/// `providers/{ns}/{type}/{name}[/{type}/{name}...]` → `{ns}/{type}[/{type}...]`, lower case.
pub(super) fn scope_type(scope: &str) -> Option<String> {
    let segs: Vec<&str> = scope.split('/').filter(|s| !s.is_empty()).collect();
    let p = segs
        .iter()
        .position(|s| s.eq_ignore_ascii_case("providers"))?;
    let rest = &segs[p + 1..];
    let ns = rest.first()?;
    let types: Vec<&str> = rest[1..].iter().step_by(2).copied().collect();
    (!types.is_empty()).then(|| format!("{ns}/{}", types.join("/")).to_ascii_lowercase())
}

/// Whether the resource a setting is on exists, for the types the mock hosts (a server, an
/// account's blob service, a vault its Key Vault knows); others are not hosted and not checked.
fn check_scope(world: &World, scope: &str) -> Result<(), Reply> {
    let kind = scope_type(scope).unwrap_or_default();
    let name = scope.rsplit('/').next().unwrap_or_default();
    let exists = match kind.as_str() {
        "microsoft.dbforpostgresql/flexibleservers" => world.get(scope).is_some(),
        "microsoft.storage/storageaccounts/blobservices" => {
            let account = scope.rsplitn(3, '/').nth(2).unwrap_or_default();
            name.eq_ignore_ascii_case("default") && world.get(account).is_some()
        }
        "microsoft.keyvault/vaults" => {
            let prefix = format!("{}/", name.to_ascii_lowercase());
            world.keys.keys().any(|k| k.starts_with(&prefix))
        }
        _ => true,
    };
    if exists {
        Ok(())
    } else {
        Err(refuse(
            404,
            "ResourceNotFound",
            format!("The Resource '{kind}/{name}' was not found."),
        ))
    }
}

fn settings_id(scope: &str) -> String {
    format!("{scope}/providers/{TYPE}")
}

/// GET `{scope}/providers/Microsoft.Insights/diagnosticSettings`.
pub fn list(world: &World, req: &Req, scope: &str) -> Result<Reply, ArmError> {
    if req.method != "GET" {
        return Err(method_not_allowed());
    }
    if let Err(r) = check_scope(world, scope) {
        return Ok(r);
    }
    let value: Vec<Value> = world
        .children(&settings_id(scope))
        .into_iter()
        .map(|(_, r)| r.body.clone())
        .collect();
    Ok(Reply::json(200, json!({ "value": value })))
}

pub fn handle(world: &mut World, req: &Req, scope: &str, name: &str) -> Result<Reply, ArmError> {
    let id = format!("{}/{name}", settings_id(scope));
    if let Err(r) = check_scope(world, scope) {
        return Ok(r);
    }
    match req.method {
        "GET" => Ok(world.get(&id).map(Reply::resource).unwrap_or_else(|| {
            refuse(
                404,
                "ResourceNotFound",
                format!("The diagnostic setting '{name}' doesn't exist."),
            )
        })),
        "PUT" => {
            let mut body = Value::Object(req.object()?);
            if let Err(r) = validate(&body, scope) {
                return Ok(r);
            }
            let others = world.children(&settings_id(scope)).len();
            if world.get(&id).is_none() && others >= MAX_PER_RESOURCE {
                return Ok(bad(format!(
                    "Diagnostic settings does not support more than {MAX_PER_RESOURCE} diagnostic settings per resource."
                )));
            }
            set_at(&mut body, &["id"], json!(id));
            set_at(&mut body, &["name"], json!(name));
            set_at(&mut body, &["type"], json!(TYPE));
            let r = world.put(&id, body, true);
            Ok(Reply::json(200, r.body.clone()))
        }
        "DELETE" => Ok(world.delete_now(&id)),
        _ => Err(method_not_allowed()),
    }
}

fn nonempty<'a>(p: &'a Value, k: &str) -> Option<&'a str> {
    p[k].as_str().filter(|s| !s.is_empty())
}

fn is_workspace_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('/').collect();
    parts.len() == 9
        && parts[1].eq_ignore_ascii_case("subscriptions")
        && parts[3].eq_ignore_ascii_case("resourceGroups")
        && parts[6].eq_ignore_ascii_case("Microsoft.OperationalInsights")
        && parts[7].eq_ignore_ascii_case("workspaces")
        && !parts[8].is_empty()
}

fn known(list: &[&str], name: &str) -> bool {
    list.iter().any(|c| c.eq_ignore_ascii_case(name))
}

/// The service's checks of a PUT body.
fn validate(body: &Value, scope: &str) -> Result<(), Reply> {
    let p = &body["properties"];
    if !p.is_object() {
        return Err(bad(
            "The 'properties' of the diagnostic setting are required.",
        ));
    }
    let destinations = [
        "workspaceId",
        "storageAccountId",
        "eventHubAuthorizationRuleId",
        "marketplacePartnerId",
    ];
    if destinations.iter().all(|k| nonempty(p, k).is_none()) {
        return Err(bad("At least one data sink needs to be specified: a storage account, an event hub, a Log Analytics workspace or a partner solution."));
    }
    if let Some(ws) = nonempty(p, "workspaceId").filter(|w| !is_workspace_id(w)) {
        return Err(bad(format!(
            "Resource id '{ws}' is not a valid Log Analytics workspace resource id."
        )));
    }
    let table = scope_type(scope)
        .and_then(|t| CATEGORIES.iter().find(|(k, ..)| *k == t))
        .map(|(_, logs, groups, metrics)| (*logs, *groups, *metrics));
    for l in p["logs"].as_array().into_iter().flatten() {
        match (nonempty(l, "category"), nonempty(l, "categoryGroup")) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(bad(
                    "Each log setting needs exactly one of 'category' and 'categoryGroup'.",
                ))
            }
            (Some(c), None) if table.is_some_and(|(logs, ..)| !known(logs, c)) => {
                return Err(bad(format!("Category '{c}' is not supported.")))
            }
            (None, Some(g)) if table.is_some_and(|(_, groups, _)| !known(groups, g)) => {
                return Err(bad(format!("Category group '{g}' is not supported.")))
            }
            _ => {}
        }
    }
    for m in p["metrics"].as_array().into_iter().flatten() {
        let c = nonempty(m, "category").unwrap_or_default();
        if table.is_some_and(|(.., metrics)| !known(metrics, c)) {
            return Err(bad(format!("Category '{c}' is not supported.")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_types_name_nested_resources() {
        assert_eq!(
            scope_type("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a/blobServices/default").as_deref(),
            Some("microsoft.storage/storageaccounts/blobservices")
        );
        assert_eq!(
            scope_type("/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv")
                .as_deref(),
            Some("microsoft.keyvault/vaults")
        );
    }
}
