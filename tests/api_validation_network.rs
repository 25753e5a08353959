//! Network validation rules, one case each (field path and rule, nothing else): firewall rules,
//! private endpoints, VNet integration, account network rules, and the uat/prod requirement with
//! its explicit exception.

use crate::validation;

use serde_json::json;
use validation::*;

#[test]
fn firewall_rules() {
    let rule =
        |s: &str, e: &str| json!([{"name": "office", "startIpAddress": s, "endIpAddress": e}]);
    assert_rule(
        "dev",
        &[("/spec/postgres/network/firewallRules", rule("10.0.0.9", "10.0.0.1"))],
        "spec.postgres.network.firewallRules[0].endIpAddress: 10.0.0.1 is below startIpAddress 10.0.0.9",
    );
    assert_rule(
        "dev",
        &[("/spec/postgres/network/firewallRules", rule("10.0.0.256", "10.0.0.1"))],
        "spec.postgres.network.firewallRules[0].startIpAddress: \"10.0.0.256\" is not an IPv4 address",
    );
    assert_rule(
        "dev",
        &[(
            "/spec/postgres/network/firewallRules",
            json!([{"name": "a b", "startIpAddress": "10.0.0.1", "endIpAddress": "10.0.0.1"}]),
        )],
        "spec.postgres.network.firewallRules[0].name: \"a b\" is not a firewall rule name",
    );
    assert_rule(
        "dev",
        &[
            (
                "/spec/postgres/network/firewallRules",
                rule("10.0.0.1", "10.0.0.2"),
            ),
            ("/spec/postgres/network/publicAccess", json!("Disabled")),
        ],
        "spec.postgres.network.firewallRules: firewall rules apply only with publicAccess: Enabled",
    );
    assert_rule(
        "dev",
        &[("/spec/postgres/network/firewallRulesExclusive", json!(true))],
        "spec.postgres.network.firewallRulesExclusive: true needs spec.postgres.network.firewallRules declared",
    );
}

#[test]
fn private_endpoints_and_vnet_integration() {
    let mut pe = private_endpoint("privatelink.postgres.database.azure.com");
    pe["subnetId"] = json!("vnet/subnets/endpoints");
    assert_rule(
        "dev",
        &[("/spec/postgres/network/privateEndpoint", pe)],
        "spec.postgres.network.privateEndpoint.subnetId: \"vnet/subnets/endpoints\" is not a subnet resource id",
    );
    assert_rule(
        "dev",
        &[(
            "/spec/postgres/network/privateEndpoint",
            private_endpoint("privatelink.blob.core.windows.net"),
        )],
        "spec.postgres.network.privateEndpoint.privateDnsZoneId:",
    );
    let subnet = format!("{NET}/virtualNetworks/vnet/subnets/pg-delegated");
    assert_rule(
        "dev",
        &[("/spec/postgres/network/delegatedSubnetResourceId", json!(subnet))],
        "spec.postgres.network.privateDnsZoneArmResourceId: required with delegatedSubnetResourceId",
    );
    assert_rule(
        "dev",
        &[
            ("/spec/postgres/network/delegatedSubnetResourceId", json!(subnet)),
            ("/spec/postgres/network/privateDnsZoneArmResourceId", json!(format!("{NET}/privateDnsZones/acme.private.postgres.database.azure.com"))),
            ("/spec/postgres/network/privateEndpoint", private_endpoint("privatelink.postgres.database.azure.com")),
        ],
        "spec.postgres.network.privateEndpoint: a VNet-integrated server (delegatedSubnetResourceId) cannot have private endpoints",
    );
    assert_rule(
        "dev",
        &[("/spec/storage/network/ipRules", json!(["203.0.113.0/31"]))],
        "spec.storage.network.ipRules[0]: \"203.0.113.0/31\" is not a public IPv4 address or CIDR range",
    );
    assert_rule(
        "dev",
        &[(
            "/spec/storage/network/virtualNetworkRules",
            json!(["vnet-a"]),
        )],
        "spec.storage.network.virtualNetworkRules[0]: \"vnet-a\" is not a subnet resource id",
    );
}

#[test]
fn uat_and_prod_are_private_unless_overridden() {
    for env in ["uat", "prod"] {
        assert_rule(
            env,
            &[("/spec/postgres/network/publicAccess", json!("Enabled"))],
            "spec.postgres.network.publicAccess: must be Disabled",
        );
        assert_rule(
            env,
            &[("/spec/storage/publicNetworkAccess", json!("Enabled"))],
            "spec.storage.publicNetworkAccess: must be Disabled",
        );
        assert_rule(
            env,
            &[("/spec/storage/network", json!({}))],
            "spec.storage.network.privateEndpoint: is required",
        );
        assert_rule(
            env,
            &[("/spec/postgres/network", json!({}))],
            "spec.postgres.network.privateEndpoint: is required (or VNet integration)",
        );
        let mut doc = base(env);
        set(
            &mut doc,
            "/spec/postgres/network",
            json!({"publicAccess": "Enabled"}),
        );
        set(&mut doc, "/spec/storage/network", json!({}));
        set(&mut doc, "/spec/overrides/allowPublicNetwork", json!(true));
        assert_eq!(
            errors(&doc),
            Vec::<String>::new(),
            "{env}: the explicit exception"
        );
    }
}
