//! Which request replays each example (by file-name prefix) and the setup it needs; the examples
//! the mock does not serve, with the reason; the setups of the network examples.

use std::time::Duration;

use serde_json::json;

use super::common::{Resp, T};

/// (file-name prefix, method, path template, setup)
pub const OPS: &[(&str, &str, &str, &str)] = &[
    ("ServerCreate", "PUT", "PG", ""),
    ("ServerCreatePointInTimeRestore", "PUT", "PG", "pitr"),
    ("ServersCreate", "PUT", "PG", ""),
    ("ServerGet", "GET", "PG", "pg"),
    ("ServersGet", "GET", "PG", "pg"),
    ("ServerListByResourceGroup", "GET", "PGLIST", "pg"),
    (
        "ServerUpdateWithDataEncryptionEnabled",
        "PATCH",
        "PG",
        "pgcmk",
    ),
    (
        "ServersUpdateWithDataEncryptionEnabled",
        "PATCH",
        "PG",
        "pgcmk",
    ),
    ("ServerUpdate", "PATCH", "PG", "pg"),
    ("ServersUpdate", "PATCH", "PG", "pg"),
    ("ServerDelete", "DELETE", "PG", "pg"),
    ("ServersDelete", "DELETE", "PG", "pg"),
    ("ServerStop", "POST", "PG/stop", "pg"),
    ("ServersStop", "POST", "PG/stop", "pg"),
    ("ServersStart", "POST", "PG/start", "pgstopped"),
    ("ServerRestartWithFailover", "POST", "PG/restart", "pg"),
    ("ServersRestartWithFailover", "POST", "PG/restart", "pg"),
    (
        "ConfigurationGet",
        "GET",
        "PG/configurations/{configurationName}",
        "pg",
    ),
    (
        "ConfigurationsGet",
        "GET",
        "PG/configurations/{configurationName}",
        "pg",
    ),
    (
        "ConfigurationUpdateUsingPut",
        "PUT",
        "PG/configurations/{configurationName}",
        "pg",
    ),
    (
        "ConfigurationsUpdateUsingPut",
        "PUT",
        "PG/configurations/{configurationName}",
        "pg",
    ),
    (
        "ConfigurationUpdate",
        "PATCH",
        "PG/configurations/{configurationName}",
        "pg",
    ),
    (
        "ConfigurationsUpdate",
        "PATCH",
        "PG/configurations/{configurationName}",
        "pg",
    ),
    ("StorageAccountCreate", "PUT", "ST", "key"),
    ("StorageAccountGetProperties", "GET", "ST", "acct"),
    ("StorageAccountUpdate", "PATCH", "ST", "acctkey"),
    ("StorageAccountDelete", "DELETE", "ST", "acct"),
    (
        "StorageAccountSetManagementPolicy",
        "PUT",
        "ST/managementPolicies/default",
        "acct",
    ),
    (
        "StorageAccountGetManagementPolicy",
        "GET",
        "ST/managementPolicies/default",
        "policy",
    ),
    (
        "StorageAccountDeleteManagementPolicy",
        "DELETE",
        "ST/managementPolicies/default",
        "policy",
    ),
    (
        "BlobContainersPutImmutabilityPolicy",
        "PUT",
        "CT/immutabilityPolicies/default",
        "container",
    ),
    (
        "BlobContainersGetImmutabilityPolicy",
        "GET",
        "CT/immutabilityPolicies/default",
        "unlocked",
    ),
    (
        "BlobContainersDeleteImmutabilityPolicy",
        "DELETE",
        "CT/immutabilityPolicies/default",
        "unlocked",
    ),
    (
        "BlobContainersLockImmutabilityPolicy",
        "POST",
        "CT/immutabilityPolicies/default/lock",
        "unlocked",
    ),
    (
        "BlobContainersExtendImmutabilityPolicy",
        "POST",
        "CT/immutabilityPolicies/default/extend",
        "locked",
    ),
    (
        "BlobContainersSetLegalHold",
        "POST",
        "CT/setLegalHold",
        "container",
    ),
    (
        "BlobContainersClearLegalHold",
        "POST",
        "CT/clearLegalHold",
        "hold",
    ),
    ("BlobContainersPut", "PUT", "CT", "acct"),
    ("BlobContainersGet", "GET", "CT", "locked"),
    ("BlobContainersDelete", "DELETE", "CT", "container"),
    ("CreateKey", "POST", "KV/create", ""),
    ("GetKeyVersions", "GET", "KV/versions", "kvkey"),
    ("GetKey", "GET", "KV", "kvkey"),
    ("RotateKey", "POST", "KV/rotate", "kvkey"),
    (
        "FirewallRuleCreate",
        "PUT",
        "PG/firewallRules/{firewallRuleName}",
        "pg",
    ),
    (
        "FirewallRuleGet",
        "GET",
        "PG/firewallRules/{firewallRuleName}",
        "pgfw",
    ),
    (
        "FirewallRuleDelete",
        "DELETE",
        "PG/firewallRules/{firewallRuleName}",
        "pgfw",
    ),
    (
        "FirewallRuleListByServer",
        "GET",
        "PG/firewallRules",
        "pgfw",
    ),
    ("ServerGetWithPrivateEndpoints", "GET", "PG", "pgpe"),
    (
        "AdministratorAdd",
        "PUT",
        "PG/administrators/{objectId}",
        "pgentra",
    ),
    (
        "AdministratorGet",
        "GET",
        "PG/administrators/{objectId}",
        "pgadmin",
    ),
    (
        "AdministratorDelete",
        "DELETE",
        "PG/administrators/{objectId}",
        "pgadmin",
    ),
    (
        "AdministratorsListByServer",
        "GET",
        "PG/administrators",
        "pgadmin",
    ),
    ("PrivateEndpointCreate", "PUT", "PE", ""),
    ("PrivateEndpointGet", "GET", "PE", "pe"),
    ("PrivateEndpointDelete", "DELETE", "PE", "pe"),
    (
        "PrivateEndpointDnsZoneGroupCreate",
        "PUT",
        "PE/privateDnsZoneGroups/{privateDnsZoneGroupName}",
        "pe",
    ),
    (
        "PrivateEndpointDnsZoneGroupGet",
        "GET",
        "PE/privateDnsZoneGroups/{privateDnsZoneGroupName}",
        "pezg",
    ),
    (
        "PrivateEndpointDnsZoneGroupDelete",
        "DELETE",
        "PE/privateDnsZoneGroups/{privateDnsZoneGroupName}",
        "pezg",
    ),
    ("createOrUpdateMetricAlert", "PUT", "ALERT", ""),
    ("getMetricAlert", "GET", "ALERT", "alert"),
    ("createOrUpdateDiagnosticSetting", "PUT", "DIAG", ""),
    ("getDiagnosticSetting", "GET", "DIAG", "diag"),
    ("listDiagnosticSettings", "GET", "DIAGLIST", "diag"),
    ("ResourcesBasicQuery", "POST", "ARG", "arg"),
    ("ResourcesFirstPageQuery", "POST", "ARG", "arg"),
    ("ResourcesRandomPageQuery", "POST", "ARG", "arg"),
    ("ResourcesNextPageQuery", "POST", "ARG", "argpage"),
    ("CreateOrUpdateBudget", "PUT", "BUDGET", ""),
    ("Budget", "GET", "BUDGET", "budget"),
    ("DeleteBudget", "DELETE", "BUDGET", "budget"),
    ("ResourceGroupQuery", "POST", "COSTQ", ""),
];
/// Examples of APIs the mock does not serve, each with the reason (asserted by name so that a new
/// file is noticed).
pub const NOT_COVERED: &[(&str, &str)] = &[
    (
        "GetKeyRotationPolicy-example.json",
        "the operator orchestrates rotation itself and never reads Key Vault's own rotation policy",
    ),
    (
        "BlobServicesPutLastAccessTimeBasedTracking.json",
        "blobServices/default is not written: lifecycle rules use modification and creation age only",
    ),
];

const NET: &str = "2024-05-01";

fn ok(what: &str, r: Resp) {
    assert!(r.status < 300, "setup {what}: {} {:?}", r.status, r.body);
}

/// The setups of the firewall-rule and private-endpoint examples: `pgfw` a server with the
/// example's rule, `pgpe` a server with a private endpoint to it, `pe` a private endpoint,
/// `pezg` a private endpoint with the example's DNS zone group. `path` maps a template of OPS.
pub async fn network_setup(t: &T, what: &str, path: impl Fn(&str) -> String) {
    let subnet = "/subscriptions/ffffffff-ffff-ffff-ffff-ffffffffffff/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet/subnets/endpoints";
    if what.starts_with("pg") {
        ok(
            what,
            t.call(
                "PUT",
                &path("PG"),
                Some(super::common::PG),
                Some(super::common::gp_server()),
            )
            .await,
        );
        t.mock.advance(Duration::from_secs(60));
    }
    let pe_body = |target: String, group: &str| {
        json!({"location": "eastus", "properties": {"subnet": {"id": subnet}, "customNetworkInterfaceName": "pe-nic",
            "privateLinkServiceConnections": [{"name": "c", "properties": {"privateLinkServiceId": target, "groupIds": [group]}}]}})
    };
    match what {
        "pgfw" => ok(what, t.call("PUT", &path("PG/firewallRules/{firewallRuleName}"), Some(super::common::PG), Some(json!({"properties": {"startIpAddress": "0.0.0.0", "endIpAddress": "255.255.255.255"}}))).await),
        "pgpe" => {
            let pe = path("PG").replace("Microsoft.DBforPostgreSQL/flexibleServers", "Microsoft.Network/privateEndpoints");
            ok(what, t.call("PUT", &pe, Some(NET), Some(pe_body(path("PG"), "postgresqlServer"))).await);
        }
        _ => {
            let pls = "/subscriptions/ffffffff-ffff-ffff-ffff-ffffffffffff/resourceGroups/rg1/providers/Microsoft.Network/privateLinkServices/testPls";
            ok(what, t.call("PUT", &path("PE"), Some(NET), Some(pe_body(pls.into(), "groupIdFromResource"))).await);
            if what == "pezg" {
                t.mock.advance(Duration::from_secs(60));
                let zone = "/subscriptions/ffffffff-ffff-ffff-ffff-ffffffffffff/resourceGroups/rg1/providers/Microsoft.Network/privateDnsZones/zone1.com";
                ok(what, t.call("PUT", &path("PE/privateDnsZoneGroups/{privateDnsZoneGroupName}"), Some(NET), Some(json!({"properties": {"privateDnsZoneConfigs": [{"properties": {"privateDnsZoneId": zone}}]}}))).await);
            }
        }
    }
    t.mock.advance(Duration::from_secs(60));
}

/// The setups of the Resource Graph examples: `arg` seeds the example's subscription with fifteen
/// resources whose names contain `test` and three others (enough for every example's page to have
/// a next one); `argpage` also asks for the first page of the example's query and returns its
/// `$skipToken`, which the replay sends in place of the example's.
pub async fn graph_setup(t: &T, what: &str, params: &serde_json::Value) -> Option<String> {
    let sub = params["query"]["subscriptions"][0].as_str().unwrap_or("s");
    for i in 0..18 {
        let name = if i < 15 {
            format!("test-disk-{i:02}")
        } else {
            format!("disk-{i:02}")
        };
        let id = format!(
            "/subscriptions/{sub}/resourceGroups/RG1/providers/Microsoft.Compute/disks/{name}"
        );
        t.mock
            .seed(&id, json!({"location": "eastus", "tags": {"tag1": "Value1"}, "properties": {"diskSizeGB": 32}}))
            .expect("seeded");
    }
    if what != "argpage" {
        return None;
    }
    let mut first = params["query"].clone();
    first["options"] = json!({"$top": 3});
    let r = t
        .call(
            "POST",
            engram_operator::mock_arm::GRAPH_JOURNAL_ID,
            Some("2022-10-01"),
            Some(first),
        )
        .await;
    let token = r.body["$skipToken"].as_str().map(str::to_owned);
    ok(what, r);
    token
}
