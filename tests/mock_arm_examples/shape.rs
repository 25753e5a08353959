//! The replay's shape comparison, the keys the mock may omit (each with its reason) and the typed
//! models each final body must parse into.

use serde_json::Value;

/// Every key of the example body is in ours, and common keys have the same JSON kind.
pub fn same_shape(ex: &Value, ours: &Value, at: &str, errs: &mut Vec<String>) {
    match (ex, ours) {
        (Value::Object(e), Value::Object(o)) => {
            for (k, v) in e {
                match o.get(k) {
                    Some(ov) => same_shape(v, ov, &format!("{at}.{k}"), errs),
                    None if at.is_empty() || at == ".properties" => {
                        errs.push(format!("missing {at}.{k}"))
                    }
                    None => {}
                }
            }
        }
        (Value::Array(_), Value::Array(_))
        | (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Number(_), Value::Number(_)) => {}
        (_, Value::Null) | (Value::Null, _) => {}
        _ => errs.push(format!("{at}: kind differs")),
    }
}

/// Top-level and `properties` keys of an example's answer that the mock's answer may lack, each with
/// the reason. An entry that no longer excuses any difference fails the test, so the list only shrinks.
pub const OPTIONAL: &[(&str, &str)] = &[
    (
        ".tags",
        "echoed from the request; the replay's setup creates the resource without tags",
    ),
    (
        ".identity",
        "echoed from the request; the CMK GET example's account had a system-assigned identity the setup does not ask for",
    ),
    (
        ".properties.description",
        "metric alert: echoed from the PUT; the setup rule has none",
    ),
    (
        ".properties.actions",
        "metric alert: echoed from the PUT; the setup rule has no action group",
    ),
    (
        ".properties.autoMitigate",
        "metric alert: echoed from the PUT; the setup rule leaves it out",
    ),
    (
        ".properties.allowProtectedAppendWrites",
        "immutability policy: echoed from the PUT; the setup policy leaves it out",
    ),
    (
        ".properties.administratorLogin",
        "GeoRestore takes the login from the source server, which the mock does not model",
    ),
    (
        ".properties.replica",
        "read replicas are neither managed by the operator nor modelled by the mock",
    ),
    (
        ".nextLink",
        "the mock answers a server list in one page, and ARM leaves nextLink out of the last page",
    ),
    (
        ".properties.accessTier",
        "the example's account is kind Storage (v1); the mock reports accessTier for StorageV2 and BlobStorage only",
    ),
    (
        ".properties.keyCreationTime",
        "access-key creation times: the mock issues no account keys (the operator never reads keys)",
    ),
    (
        ".properties.secondaryLocation",
        "geo-redundant SKUs only; the setup account is Standard_LRS",
    ),
    (
        ".properties.statusOfSecondary",
        "geo-redundant SKUs only; the setup account is Standard_LRS",
    ),
    (
        ".properties.geoReplicationStats",
        "only with $expand=geoReplicationStats on a geo-redundant account",
    ),
    (
        ".properties.isHnsEnabled",
        "echoed from the request; hierarchical namespace is never used by the operator",
    ),
    (
        ".properties.routingPreference",
        "echoed from the request; the setup account sets none",
    ),
];

/// Parse a final body into its typed model: the SDK crate's where one exists, ours otherwise.
pub fn sdk_parse(name: &str, body: &Value) -> Result<(), String> {
    use azure_mgmt_postgresql::package_flexibleserver_2024_08_01::models as pgm;
    use azure_mgmt_storage::package_2023_05::models as stm;
    use engram_operator::azure::wire;
    let b = body.clone();
    use engram_operator::azure::network_wire as net;
    let r: Result<(), serde_json::Error> = if name.starts_with("ServerList") {
        serde_json::from_value::<pgm::ServerListResult>(b).map(|_| ())
    } else if name.starts_with("Server") {
        serde_json::from_value::<pgm::Server>(b).map(|_| ())
    } else if name.starts_with("AdministratorsList") {
        serde_json::from_value::<pgm::AdministratorListResult>(b).map(|_| ())
    } else if name.starts_with("Administrator") {
        serde_json::from_value::<pgm::ActiveDirectoryAdministrator>(b).map(|_| ())
    } else if name.starts_with("FirewallRuleList") {
        serde_json::from_value::<pgm::FirewallRuleListResult>(b).map(|_| ())
    } else if name.starts_with("FirewallRule") {
        serde_json::from_value::<pgm::FirewallRule>(b).map(|_| ())
    } else if name.starts_with("PrivateEndpointDnsZoneGroup") {
        serde_json::from_value::<net::PrivateDnsZoneGroup>(b).map(|_| ())
    } else if name.starts_with("PrivateEndpoint") {
        serde_json::from_value::<net::PrivateEndpoint>(b).map(|_| ())
    } else if name.starts_with("Configuration") {
        serde_json::from_value::<pgm::Configuration>(b).map(|_| ())
    } else if name.contains("ManagementPolicy") {
        serde_json::from_value::<stm::ManagementPolicy>(b).map(|_| ())
    } else if name.starts_with("StorageAccount") {
        serde_json::from_value::<stm::StorageAccount>(b).map(|_| ())
    } else if name.contains("LegalHold") {
        serde_json::from_value::<stm::LegalHold>(b).map(|_| ())
    } else if name.contains("ImmutabilityPolicy") {
        serde_json::from_value::<stm::ImmutabilityPolicy>(b).map(|_| ())
    } else if name.starts_with("BlobContainers") {
        serde_json::from_value::<stm::BlobContainer>(b).map(|_| ())
    } else if name.starts_with("GetKeyVersions") {
        serde_json::from_value::<wire::KeyItemList>(b).map(|_| ())
    } else if ["CreateKey", "GetKey", "RotateKey"]
        .iter()
        .any(|p| name.starts_with(p))
    {
        serde_json::from_value::<wire::KeyBundle>(b).map(|_| ())
    } else if name.starts_with("listDiagnosticSettings") {
        serde_json::from_value::<wire::DiagnosticSettingsList>(b).map(|_| ())
    } else if name.contains("DiagnosticSetting") {
        serde_json::from_value::<wire::DiagnosticSettingsResource>(b).map(|_| ())
    } else if name.ends_with("Budget.json") && !name.starts_with("Delete") {
        serde_json::from_value::<engram_operator::azure::budgets::Budget>(b).map(|_| ())
    } else if name.starts_with("ResourceGroupQuery") {
        serde_json::from_value::<engram_operator::azure::cost_query::QueryResult>(b).map(|_| ())
    } else if name.starts_with("Resources") {
        serde_json::from_value::<wire::GraphQueryResponse>(b).map(|_| ())
    } else if name.to_ascii_lowercase().contains("metricalert") {
        serde_json::from_value::<wire::MetricAlertResource>(b).map(|_| ())
    } else {
        Ok(())
    };
    r.map_err(|e| format!("{name}: SDK model: {e}"))
}
