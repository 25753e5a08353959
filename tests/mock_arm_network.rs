//! The mock's network rules, as the service applies them: a private endpoint on a server or an
//! account adds an Approved connection to the target (and its deletion removes it); a malformed
//! subnet id, a changed delegated subnet, a firewall range ending below its start, a firewall rule
//! on a server without public access and an invalid account IP rule are refused.

use crate::common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const NET: &str = "2024-05-01";
const SUBNET: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet/subnets/endpoints";

fn pe_path(name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/{name}")
}

fn pe_body(target: &str, group: &str, subnet: &str) -> Value {
    json!({"location": "westus", "properties": {"subnet": {"id": subnet},
        "privateLinkServiceConnections": [{"name": "c", "properties": {"privateLinkServiceId": target, "groupIds": [group]}}]}})
}

/// PUT a private endpoint `name` to `target` (group `group`) in `subnet`.
async fn put_pe(t: &T, name: &str, target: &str, group: &str, subnet: &str) -> Resp {
    t.call(
        "PUT",
        &pe_path(name),
        Some(NET),
        Some(pe_body(target, group, subnet)),
    )
    .await
}

fn connections(body: &Value) -> Vec<(String, String)> {
    body["properties"]["privateEndpointConnections"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["properties"]["privateEndpoint"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                c["properties"]["privateLinkServiceConnectionState"]["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_private_endpoint_is_approved_on_its_server_and_leaves_with_it() {
    let t = start().await;
    t.create_server("pg1", gp_server()).await;
    assert!(connections(&t.server("pg1").await).is_empty());
    let r = put_pe(&t, "pg1-pe", &server_id("pg1"), "postgresqlServer", SUBNET).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["properties"]["provisioningState"], "Updating");
    let op = r.header("azure-asyncoperation").expect("operation to poll");
    assert!(
        op.contains("/providers/Microsoft.Network/locations/westus/operations/"),
        "{op}"
    );
    // Not approved before the operation ends.
    assert!(connections(&t.server("pg1").await).is_empty());
    // A second write meanwhile is refused like Network does.
    let again = put_pe(&t, "pg1-pe", &server_id("pg1"), "postgresqlServer", SUBNET).await;
    assert_eq!(
        (again.status, again.code()),
        (409, "AnotherOperationInProgress")
    );
    t.mock.advance(Duration::from_secs(60));
    assert_eq!(t.get_abs(&op).await.body["status"], "Succeeded");
    let pe_id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        connections(&t.server("pg1").await),
        [(pe_id.clone(), "Approved".to_owned())]
    );
    let pe = t.call("GET", &pe_path("pg1-pe"), Some(NET), None).await;
    assert_eq!(pe.body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(
        pe.body["properties"]["customDnsConfigs"][0]["fqdn"],
        "pg1.postgres.database.azure.com"
    );
    // Its DNS zone group records the endpoint's address under the server's name.
    let zone = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.postgres.database.azure.com";
    let g = t
        .call("PUT", &format!("{}/privateDnsZoneGroups/default", pe_path("pg1-pe")), Some(NET),
            Some(json!({"properties": {"privateDnsZoneConfigs": [{"name": "pg", "properties": {"privateDnsZoneId": zone}}]}})))
        .await;
    assert_eq!(g.status, 201, "{:?}", g.body);
    t.mock.advance(Duration::from_secs(60));
    let g = t
        .call(
            "GET",
            &format!("{}/privateDnsZoneGroups/default", pe_path("pg1-pe")),
            Some(NET),
            None,
        )
        .await;
    let record = &g.body["properties"]["privateDnsZoneConfigs"][0]["properties"]["recordSets"][0];
    assert_eq!(
        record["fqdn"],
        "pg1.privatelink.postgres.database.azure.com"
    );
    assert_eq!(
        record["ipAddresses"],
        pe.body["properties"]["customDnsConfigs"][0]["ipAddresses"]
    );
    // Deleting the endpoint (and its zone group) removes the connection.
    let d = t.call("DELETE", &pe_path("pg1-pe"), Some(NET), None).await;
    assert_eq!(d.status, 202);
    t.mock.advance(Duration::from_secs(60));
    assert!(connections(&t.server("pg1").await).is_empty());
    let gone = t
        .call(
            "GET",
            &format!("{}/privateDnsZoneGroups/default", pe_path("pg1-pe")),
            Some(NET),
            None,
        )
        .await;
    assert_eq!(gone.status, 404);
}

#[tokio::test]
async fn an_account_endpoint_is_approved_for_blob_only() {
    let t = start().await;
    t.create_account(
        "acct",
        json!({"location": "westus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}),
    )
    .await;
    let wrong = put_pe(&t, "a-pe", &account_id("acct"), "postgresqlServer", SUBNET).await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (400, "PrivateLinkGroupIdNotSupported")
    );
    let r = put_pe(&t, "a-pe", &account_id("acct"), "blob", SUBNET).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    t.mock.advance(Duration::from_secs(60));
    let a = t.call("GET", &account_id("acct"), Some(ST), None).await;
    assert_eq!(connections(&a.body)[0].1, "Approved");
    // A target that does not exist is refused.
    let missing = put_pe(&t, "b-pe", &account_id("nope"), "blob", SUBNET).await;
    assert_eq!(
        (missing.status, missing.code()),
        (400, "PrivateLinkResourceNotFound")
    );
}

#[tokio::test]
async fn refused_like_the_service() {
    let t = start().await;
    t.create_server("pg1", gp_server()).await;
    // A malformed subnet id.
    for bad in [
        "vnet/subnets/endpoints",
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet",
    ] {
        let r = put_pe(&t, "pe", &server_id("pg1"), "postgresqlServer", bad).await;
        assert_eq!(
            (r.status, r.code()),
            (400, "LinkedInvalidPropertyId"),
            "{bad}"
        );
        assert!(r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("properties.subnet.id"));
    }
    // A firewall range that ends below its start; an address that is not IPv4.
    let rule = format!("{}/firewallRules/office", server_id("pg1"));
    for (start, end) in [("10.0.0.9", "10.0.0.1"), ("10.0.0.1", "10.0.0")] {
        let r = t
            .call(
                "PUT",
                &rule,
                Some(PG),
                Some(json!({"properties": {"startIpAddress": start, "endIpAddress": end}})),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (400, "InvalidParameterValue"),
            "{start}-{end}"
        );
    }
    let r = t
        .call(
            "PUT",
            &rule,
            Some(PG),
            Some(json!({"properties": {"startIpAddress": "10.0.0.1", "endIpAddress": "10.0.0.9"}})),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    // The server is busy while the rule is written.
    let busy = t
        .patch_server(
            "pg1",
            json!({"properties": {"backup": {"backupRetentionDays": 8}}}),
        )
        .await;
    assert_eq!((busy.status, busy.code()), (409, "ServerBusy"));
    t.mock.advance(Duration::from_secs(60));
    let got = t.call("GET", &rule, Some(PG), None).await;
    assert_eq!(got.body["properties"]["endIpAddress"], "10.0.0.9");
    // Public access off: no firewall rule writes.
    let r = t
        .patch_server(
            "pg1",
            json!({"properties": {"network": {"publicNetworkAccess": "Disabled"}}}),
        )
        .await;
    assert_eq!(r.status, 202);
    t.mock.advance(Duration::from_secs(60));
    let r = t
        .call(
            "PUT",
            &rule,
            Some(PG),
            Some(json!({"properties": {"startIpAddress": "10.0.0.1", "endIpAddress": "10.0.0.2"}})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "FirewallRuleNotAllowedWithoutPublicAccess")
    );
    // VNet integration: chosen at create, never changed; no private endpoints on such a server.
    let mut vnet = gp_server();
    vnet["properties"]["network"] =
        json!({"delegatedSubnetResourceId": SUBNET.replace("endpoints", "pg")});
    t.create_server("pg-vnet", vnet).await;
    assert_eq!(
        t.server("pg-vnet").await["properties"]["network"]["publicNetworkAccess"],
        "Disabled"
    );
    let moved = t
        .patch_server("pg-vnet", json!({"properties": {"network": {"delegatedSubnetResourceId": SUBNET.replace("endpoints", "other")}}}))
        .await;
    assert_eq!(
        (moved.status, moved.code()),
        (400, "DelegatedSubnetCannotBeChanged")
    );
    let added = t
        .patch_server(
            "pg1",
            json!({"properties": {"network": {"delegatedSubnetResourceId": SUBNET}}}),
        )
        .await;
    assert_eq!(
        (added.status, added.code()),
        (400, "DelegatedSubnetCannotBeChanged")
    );
    let pe = put_pe(
        &t,
        "v-pe",
        &server_id("pg-vnet"),
        "postgresqlServer",
        SUBNET,
    )
    .await;
    assert_eq!(
        (pe.status, pe.code()),
        (400, "PrivateEndpointNotSupportedForVnetIntegratedServer")
    );
    // An account IP rule that is not an address or range.
    t.create_account(
        "acct",
        json!({"location": "westus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}),
    )
    .await;
    let r = t
        .call("PATCH", &account_id("acct"), Some(ST),
            Some(json!({"properties": {"networkAcls": {"defaultAction": "Deny", "ipRules": [{"value": "300.1.2.3", "action": "Allow"}]}}})))
        .await;
    assert_eq!((r.status, r.code()), (400, "NetworkAclsValidationFailure"));
}
