//! Dispatch of a routed request to its resource handler, and the api-version check of a route
//! (split from `router.rs`, which says which resource a path names).

use super::errors::ArmError;
use super::router::{Route, Target};
use super::store::{Reply, Req, World};
use super::{
    administrators, alerts, containers, cost_query, diagnostics, firewall, keyvault, lro,
    management_policy, metrics, names, network, pg_config, postgres, resource_graph,
    storage_account,
};

/// Run the handler for a routed request.
pub fn dispatch(world: &mut World, req: &Req, route: &Route) -> Result<Reply, ArmError> {
    match &route.target {
        Target::PgList { sub, rg } => postgres::list(world, req, sub, rg),
        Target::PgServer { sub, rg, name } => postgres::server(world, req, sub, rg, name),
        Target::PgAction {
            sub,
            rg,
            name,
            action,
        } => postgres::action(world, req, sub, rg, name, action),
        Target::PgConfigs { sub, rg, name } => pg_config::list(world, req, sub, rg, name),
        Target::PgConfig {
            sub,
            rg,
            name,
            config,
        } => pg_config::one(world, req, sub, rg, name, config),
        Target::PgFirewallRules { sub, rg, name } => firewall::list(world, req, sub, rg, name),
        Target::PgFirewallRule {
            sub,
            rg,
            name,
            rule,
        } => firewall::one(world, req, sub, rg, name, rule),
        Target::PgAdmins { sub, rg, name } => administrators::list(world, req, sub, rg, name),
        Target::PgAdmin {
            sub,
            rg,
            name,
            object_id,
        } => administrators::one(world, req, sub, rg, name, object_id),
        Target::PrivateEndpoint { sub, rg, name } => network::endpoint(world, req, sub, rg, name),
        Target::DnsZoneGroup {
            sub,
            rg,
            endpoint,
            name,
        } => network::zone_group(world, req, sub, rg, endpoint, name),
        Target::PgOpStatus { id } | Target::NetOpStatus { id } => {
            get_only(req).and_then(|_| lro::status(world, req, id))
        }
        Target::PgOpResult { id } | Target::StorageOp { id } | Target::NetOpResult { id } => {
            get_only(req).and_then(|_| lro::result(world, req, id))
        }
        Target::Account { sub, rg, name } => storage_account::handle(world, req, sub, rg, name),
        Target::Policy {
            sub,
            rg,
            account,
            name,
        } => management_policy::handle(world, req, sub, rg, account, name),
        Target::Container {
            sub,
            rg,
            account,
            name,
            rest,
        } => {
            let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
            containers::handle(world, req, sub, rg, account, name, &rest)
        }
        Target::ContainerList { sub, rg, account } => {
            containers::list(world, req, sub, rg, account)
        }
        Target::AlertList { sub, rg } => alerts::list(world, req, sub, rg),
        Target::Alert { sub, rg, name } => alerts::handle(world, req, sub, rg, name),
        Target::Key { vault, name, rest } => {
            let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
            keyvault::handle(world, req, vault, name, &rest)
        }
        Target::DiagList { scope } => diagnostics::list(world, req, scope),
        Target::Diag { scope, name } => diagnostics::handle(world, req, scope, name),
        Target::PgNameCheck => names::check_server(world, req),
        Target::AccountNameCheck => names::check_account(world, req),
        Target::Graph => resource_graph::query(world, req),
        Target::Budget(b) => super::budgets::handle(world, req, b),
        Target::Metrics { scope } => Ok(metrics::query(world, req, scope)),
        Target::CostQuery { scope } => Ok(cost_query::query(world, req, scope)),
    }
}

fn get_only(req: &Req) -> Result<(), ArmError> {
    if req.method == "GET" {
        Ok(())
    } else {
        Err(postgres::method_not_allowed())
    }
}

/// Check the api-version against the route's list (FACTS 6).
pub fn check_api_version(
    route: &Route,
    api_version: Option<&str>,
    location: &str,
) -> Result<(), ArmError> {
    let is_kv = matches!(route.target, Target::Key { .. });
    match api_version {
        None | Some("") if is_kv => Err(ArmError::bad_request("BadParameter", "The api-version query parameter is required.")),
        None | Some("") => Err(ArmError::bad_request(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )),
        Some(v) if route.versions.contains(&v) => Ok(()),
        Some(v) if is_kv => Err(ArmError::bad_request("BadParameter", format!("The specified version ({v}) is not recognized."))),
        Some(v) => Err(ArmError::bad_request(
            "NoRegisteredProviderFound",
            format!(
                "No registered resource provider found for location '{location}' and API version '{v}' for type '{}'. The supported api-versions are '{}'.",
                route.type_name,
                route.versions.join(", ")
            ),
        )),
    }
}
