//! Which resource a path names (ARM paths are case-insensitive), its api-versions and the id the
//! journal counts it against. `dispatch.rs` runs the handler of a routed request.

use super::router_ext::{route_cost, route_diagnostics, route_metrics};
use super::{administrators, network, postgres, resource_graph, storage_account};

const PG_VERSIONS: &[&str] = &["2024-08-01", "2025-08-01"];
const STORAGE_VERSIONS: &[&str] = &[
    "2023-05-01",
    "2025-01-01",
    "2025-06-01",
    "2025-08-01",
    "2026-04-01",
    "2026-06-01",
    "2026-09-01",
];
const INSIGHTS_VERSIONS: &[&str] = &["2018-03-01"];
const NETWORK_VERSIONS: &[&str] = &["2024-05-01"];
pub(super) const DIAGNOSTICS_VERSIONS: &[&str] = &["2021-05-01-preview"];
const KEYVAULT_VERSIONS: &[&str] = &[
    "7.0",
    "7.1",
    "7.2",
    "7.3",
    "7.4",
    "7.5",
    "7.6",
    "2025-07-01",
    "2026-04-01",
];

/// What a path names.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    PgList {
        sub: String,
        rg: String,
    },
    PgServer {
        sub: String,
        rg: String,
        name: String,
    },
    PgAction {
        sub: String,
        rg: String,
        name: String,
        action: String,
    },
    PgConfigs {
        sub: String,
        rg: String,
        name: String,
    },
    PgConfig {
        sub: String,
        rg: String,
        name: String,
        config: String,
    },
    PgFirewallRules {
        sub: String,
        rg: String,
        name: String,
    },
    PgFirewallRule {
        sub: String,
        rg: String,
        name: String,
        rule: String,
    },
    PgAdmins {
        sub: String,
        rg: String,
        name: String,
    },
    PgAdmin {
        sub: String,
        rg: String,
        name: String,
        object_id: String,
    },
    PrivateEndpoint {
        sub: String,
        rg: String,
        name: String,
    },
    DnsZoneGroup {
        sub: String,
        rg: String,
        endpoint: String,
        name: String,
    },
    /// Microsoft.Network's operation status (Azure-AsyncOperation) and result (Location).
    NetOpStatus {
        id: String,
    },
    NetOpResult {
        id: String,
    },
    PgOpStatus {
        id: String,
    },
    PgOpResult {
        id: String,
    },
    StorageOp {
        id: String,
    },
    Account {
        sub: String,
        rg: String,
        name: String,
    },
    ContainerList {
        sub: String,
        rg: String,
        account: String,
    },
    Policy {
        sub: String,
        rg: String,
        account: String,
        name: String,
    },
    Container {
        sub: String,
        rg: String,
        account: String,
        name: String,
        rest: Vec<String>,
    },
    AlertList {
        sub: String,
        rg: String,
    },
    Alert {
        sub: String,
        rg: String,
        name: String,
    },
    Key {
        vault: String,
        name: String,
        rest: Vec<String>,
    },
    /// The diagnostic settings on a resource (`scope` is the resource's id).
    DiagList {
        scope: String,
    },
    Diag {
        scope: String,
        name: String,
    },
    /// POST checkNameAvailability of the PostgreSQL provider (global or location-scoped).
    PgNameCheck,
    /// POST checkNameAvailability of the Storage provider.
    AccountNameCheck,
    /// A Cost Management query at a subscription's or resource group's scope.
    CostQuery {
        scope: String,
    },
    /// Azure Monitor platform metrics of a resource (`scope` is the resource's id).
    Metrics {
        scope: String,
    },
    /// POST of an Azure Resource Graph query (tenant-level: no subscription in the path).
    Graph,
    /// A Consumption budget (`budgets.rs`).
    Budget(super::budgets::BudgetRef),
}

/// A routed request.
#[derive(Debug, Clone)]
pub struct Route {
    pub target: Target,
    /// The subscription (None for Key Vault, which ARM does not throttle).
    pub sub: Option<String>,
    /// The id the journal counts the request against.
    pub journal_id: String,
    pub versions: &'static [&'static str],
    /// For error messages: the resource type.
    pub type_name: &'static str,
}

impl Route {
    /// A POST that only reads (checkNameAvailability): journaled as a read, budgeted by its method.
    pub fn reads_only(&self) -> bool {
        matches!(
            self.target,
            Target::PgNameCheck | Target::AccountNameCheck | Target::Graph
        )
    }
}

/// Route a path given as segments.
pub fn route(segs: &[&str]) -> Option<Route> {
    let l: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = l.iter().map(String::as_str).collect();
    let s = |i: usize| segs[i].to_string();
    let joined = || format!("/{}", segs.join("/"));
    if let Some(r) = route_diagnostics(segs, &l).or_else(|| super::budgets::route(segs, &l)) {
        return Some(r);
    }
    if let Some(r) = route_metrics(segs, &l).or_else(|| route_cost(segs, &l)) {
        return Some(r);
    }
    let (target, versions, type_name): (Target, &'static [&'static str], &'static str) = match l
        .as_slice()
    {
        ["keyvault", _, "keys", _, rest @ ..] => (
            Target::Key {
                vault: s(1),
                name: s(3),
                rest: rest.iter().map(|x| x.to_string()).collect(),
            },
            KEYVAULT_VERSIONS,
            "keys",
        ),
        ["providers", "microsoft.resourcegraph", "resources"] => (
            Target::Graph,
            resource_graph::VERSIONS,
            "Microsoft.ResourceGraph/resources",
        ),
        ["subscriptions", _, "providers", "microsoft.dbforpostgresql", "checknameavailability"]
        | ["subscriptions", _, "providers", "microsoft.dbforpostgresql", "locations", _, "checknameavailability"] => {
            (Target::PgNameCheck, PG_VERSIONS, postgres::TYPE)
        }
        ["subscriptions", _, "providers", "microsoft.storage", "checknameavailability"] => (
            Target::AccountNameCheck,
            STORAGE_VERSIONS,
            storage_account::TYPE,
        ),
        ["subscriptions", _, "providers", "microsoft.dbforpostgresql", "locations", _, kind, _] => {
            let id = s(7);
            let t = match *kind {
                "azureasyncoperation" => Target::PgOpStatus { id },
                "operationresults" => Target::PgOpResult { id },
                _ => return None,
            };
            (t, PG_VERSIONS, "locations/operations")
        }
        ["subscriptions", _, "providers", "microsoft.network", "locations", _, kind, _] => {
            let id = s(7);
            let t = match *kind {
                "operations" => Target::NetOpStatus { id },
                "operationresults" => Target::NetOpResult { id },
                _ => return None,
            };
            (t, NETWORK_VERSIONS, "locations/operations")
        }
        ["subscriptions", _, "providers", "microsoft.storage", "locations", _, "asyncoperations", _] => {
            (
                Target::StorageOp { id: s(7) },
                STORAGE_VERSIONS,
                "locations/asyncoperations",
            )
        }
        ["subscriptions", _, "resourcegroups", _, "providers", ns, rest @ ..] => {
            let (sub, rg) = (s(1), s(3));
            match (*ns, rest) {
                ("microsoft.dbforpostgresql", ["flexibleservers"]) => {
                    (Target::PgList { sub, rg }, PG_VERSIONS, postgres::TYPE)
                }
                ("microsoft.dbforpostgresql", ["flexibleservers", _]) => (
                    Target::PgServer {
                        sub,
                        rg,
                        name: s(7),
                    },
                    PG_VERSIONS,
                    postgres::TYPE,
                ),
                ("microsoft.dbforpostgresql", ["flexibleservers", _, "configurations"]) => (
                    Target::PgConfigs {
                        sub,
                        rg,
                        name: s(7),
                    },
                    PG_VERSIONS,
                    postgres::TYPE,
                ),
                ("microsoft.dbforpostgresql", ["flexibleservers", _, "configurations", _]) => (
                    Target::PgConfig {
                        sub,
                        rg,
                        name: s(7),
                        config: s(9),
                    },
                    PG_VERSIONS,
                    "Microsoft.DBforPostgreSQL/flexibleServers/configurations",
                ),
                ("microsoft.dbforpostgresql", ["flexibleservers", _, "firewallrules"]) => (
                    Target::PgFirewallRules {
                        sub,
                        rg,
                        name: s(7),
                    },
                    PG_VERSIONS,
                    postgres::TYPE,
                ),
                ("microsoft.dbforpostgresql", ["flexibleservers", _, "firewallrules", _]) => (
                    Target::PgFirewallRule {
                        sub,
                        rg,
                        name: s(7),
                        rule: s(9),
                    },
                    PG_VERSIONS,
                    "Microsoft.DBforPostgreSQL/flexibleServers/firewallRules",
                ),
                ("microsoft.dbforpostgresql", ["flexibleservers", _, "administrators"]) => (
                    Target::PgAdmins {
                        sub,
                        rg,
                        name: s(7),
                    },
                    PG_VERSIONS,
                    postgres::TYPE,
                ),
                ("microsoft.dbforpostgresql", ["flexibleservers", _, "administrators", _]) => (
                    Target::PgAdmin {
                        sub,
                        rg,
                        name: s(7),
                        object_id: s(9),
                    },
                    PG_VERSIONS,
                    administrators::TYPE,
                ),
                ("microsoft.network", ["privateendpoints", _]) => (
                    Target::PrivateEndpoint {
                        sub,
                        rg,
                        name: s(7),
                    },
                    NETWORK_VERSIONS,
                    network::PE_TYPE,
                ),
                ("microsoft.network", ["privateendpoints", _, "privatednszonegroups", _]) => (
                    Target::DnsZoneGroup {
                        sub,
                        rg,
                        endpoint: s(7),
                        name: s(9),
                    },
                    NETWORK_VERSIONS,
                    network::ZONE_GROUP_TYPE,
                ),
                ("microsoft.dbforpostgresql", ["flexibleservers", _, action]) => (
                    Target::PgAction {
                        sub,
                        rg,
                        name: s(7),
                        action: action.to_string(),
                    },
                    PG_VERSIONS,
                    postgres::TYPE,
                ),
                ("microsoft.storage", ["storageaccounts", _]) => (
                    Target::Account {
                        sub,
                        rg,
                        name: s(7),
                    },
                    STORAGE_VERSIONS,
                    storage_account::TYPE,
                ),
                ("microsoft.storage", ["storageaccounts", _, "managementpolicies", _]) => (
                    Target::Policy {
                        sub,
                        rg,
                        account: s(7),
                        name: s(9),
                    },
                    STORAGE_VERSIONS,
                    "Microsoft.Storage/storageAccounts/managementPolicies",
                ),
                (
                    "microsoft.storage",
                    ["storageaccounts", _, "blobservices", "default", "containers"],
                ) => (
                    Target::ContainerList {
                        sub,
                        rg,
                        account: s(7),
                    },
                    STORAGE_VERSIONS,
                    "Microsoft.Storage/storageAccounts/blobServices/containers",
                ),
                (
                    "microsoft.storage",
                    ["storageaccounts", _, "blobservices", "default", "containers", _, more @ ..],
                ) => (
                    Target::Container {
                        sub,
                        rg,
                        account: s(7),
                        name: s(11),
                        rest: segs[12..12 + more.len()]
                            .iter()
                            .map(|x| x.to_string())
                            .collect(),
                    },
                    STORAGE_VERSIONS,
                    "Microsoft.Storage/storageAccounts/blobServices/containers",
                ),
                ("microsoft.insights", ["metricalerts"]) => (
                    Target::AlertList { sub, rg },
                    INSIGHTS_VERSIONS,
                    "Microsoft.Insights/metricAlerts",
                ),
                ("microsoft.insights", ["metricalerts", _]) => (
                    Target::Alert {
                        sub,
                        rg,
                        name: s(7),
                    },
                    INSIGHTS_VERSIONS,
                    "Microsoft.Insights/metricAlerts",
                ),
                _ => return None,
            }
        }
        _ => return None,
    };
    let journal_id = journal_id(&target).unwrap_or_else(joined);
    let sub = match &target {
        Target::Key { .. } | Target::Graph => None,
        _ => Some(s(1)),
    };
    Some(Route {
        target,
        sub,
        journal_id,
        versions,
        type_name,
    })
}

fn journal_id(t: &Target) -> Option<String> {
    Some(match t {
        Target::PgServer { sub, rg, name } | Target::PgAction { sub, rg, name, .. } => {
            postgres::server_id(sub, rg, name)
        }
        Target::PgConfigs { sub, rg, name } => {
            format!("{}/configurations", postgres::server_id(sub, rg, name))
        }
        Target::PgConfig {
            sub,
            rg,
            name,
            config,
        } => format!(
            "{}/configurations/{config}",
            postgres::server_id(sub, rg, name)
        ),
        Target::PgFirewallRules { sub, rg, name } => {
            format!("{}/firewallRules", postgres::server_id(sub, rg, name))
        }
        Target::PgFirewallRule {
            sub,
            rg,
            name,
            rule,
        } => format!(
            "{}/firewallRules/{rule}",
            postgres::server_id(sub, rg, name)
        ),
        Target::PgAdmins { sub, rg, name } => {
            format!("{}/administrators", postgres::server_id(sub, rg, name))
        }
        Target::PgAdmin {
            sub,
            rg,
            name,
            object_id,
        } => format!(
            "{}/administrators/{object_id}",
            postgres::server_id(sub, rg, name)
        ),
        Target::PrivateEndpoint { sub, rg, name } => network::pe_id(sub, rg, name),
        Target::DnsZoneGroup {
            sub,
            rg,
            endpoint,
            name,
        } => format!(
            "{}/privateDnsZoneGroups/{name}",
            network::pe_id(sub, rg, endpoint)
        ),
        Target::Account { sub, rg, name } => storage_account::account_id(sub, rg, name),
        Target::Policy {
            sub,
            rg,
            account,
            name,
        } => format!(
            "{}/managementPolicies/{name}",
            storage_account::account_id(sub, rg, account)
        ),
        Target::Container {
            sub,
            rg,
            account,
            name,
            rest,
        } => {
            let base = format!(
                "{}/blobServices/default/containers/{name}",
                storage_account::account_id(sub, rg, account)
            );
            if rest
                .first()
                .is_some_and(|r| r.eq_ignore_ascii_case("immutabilityPolicies"))
            {
                format!("{base}/immutabilityPolicies/default")
            } else {
                base
            }
        }
        Target::ContainerList { sub, rg, account } => format!(
            "{}/blobServices/default/containers",
            storage_account::account_id(sub, rg, account)
        ),
        Target::AlertList { sub, rg } => {
            super::store::arm_id(sub, rg, "Microsoft.Insights/metricAlerts")
        }
        Target::Alert { sub, rg, name } => {
            super::store::arm_id(sub, rg, &format!("Microsoft.Insights/metricAlerts/{name}"))
        }
        Target::Key { vault, name, .. } => format!("/keyvault/{vault}/keys/{name}"),
        Target::Graph => resource_graph::JOURNAL_ID.to_owned(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_case_insensitive_and_count_actions_against_the_server() {
        let p = "subscriptions/S/resourcegroups/RG/providers/microsoft.dbforpostgresql/FLEXIBLESERVERS/pg1/Start";
        let segs: Vec<&str> = p.split('/').collect();
        let r = route(&segs).expect("routed");
        assert_eq!(r.journal_id, "/subscriptions/S/resourceGroups/RG/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg1");
        assert_eq!(r.sub.as_deref(), Some("S"));
        assert!(route(&[
            "subscriptions",
            "s",
            "resourceGroups",
            "rg",
            "providers",
            "Microsoft.Compute",
            "vms",
            "x"
        ])
        .is_none());
    }
}
