//! Network checks: firewall rules, private endpoints, VNet integration and the storage account's
//! network rules (declared values), then what the environment requires of them (effective).

use std::collections::HashSet;

use super::super::effective::EffectiveSpec;
use super::super::network::{
    dns_zone_name, ipv4, is_ip_rule, is_subnet_id, PgNetwork, PrivateEndpointSpec, StorageNetwork,
};
use super::super::spec::PublicNetworkAccess;
use super::Errors;

const SUBNET_FORM: &str = "/subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>";

fn subnet(e: &mut Errors, path: String, id: &str) {
    e.check(
        is_subnet_id(id),
        path,
        format!("{id:?} is not a subnet resource id: expected {SUBNET_FORM}"),
    );
}

/// A private endpoint: its subnet, and a private DNS zone whose name is the service's
/// (`privatelink.postgres.…` or `privatelink.blob.…`).
fn private_endpoint(e: &mut Errors, p: &str, pe: &PrivateEndpointSpec, zone_prefix: &str) {
    subnet(e, format!("{p}.subnetId"), &pe.subnet_id);
    let zone = dns_zone_name(&pe.private_dns_zone_id);
    e.check(
        zone.is_some_and(|z| z.to_ascii_lowercase().starts_with(zone_prefix)),
        format!("{p}.privateDnsZoneId"),
        format!(
            "{:?} must be the resource id of the private DNS zone {zone_prefix}… (/subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.Network/privateDnsZones/<zone>)",
            pe.private_dns_zone_id
        ),
    );
}

/// Declared PostgreSQL network values.
pub(super) fn postgres(e: &mut Errors, n: &PgNetwork) {
    let p = "spec.postgres.network";
    let mut names = HashSet::new();
    for (i, r) in n.firewall_rules.iter().flatten().enumerate() {
        let rp = format!("{p}.firewallRules[{i}]");
        e.check(
            (1..=128).contains(&r.name.len())
                && r.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            format!("{rp}.name"),
            format!(
                "{:?} is not a firewall rule name: 1-128 letters, digits, '-', '_' and '.'",
                r.name
            ),
        );
        e.check(
            names.insert(r.name.to_ascii_lowercase()),
            format!("{rp}.name"),
            format!("firewall rule {:?} is declared twice", r.name),
        );
        let (start, end) = (ipv4(&r.start_ip_address), ipv4(&r.end_ip_address));
        e.check(
            start.is_some(),
            format!("{rp}.startIpAddress"),
            format!("{:?} is not an IPv4 address", r.start_ip_address),
        );
        e.check(
            end.is_some(),
            format!("{rp}.endIpAddress"),
            format!("{:?} is not an IPv4 address", r.end_ip_address),
        );
        if let (Some(s), Some(t)) = (start, end) {
            e.check(
                t >= s,
                format!("{rp}.endIpAddress"),
                format!(
                    "{} is below startIpAddress {}: a range ends at or after its start",
                    r.end_ip_address, r.start_ip_address
                ),
            );
        }
    }
    if let Some(pe) = &n.private_endpoint {
        private_endpoint(
            e,
            &format!("{p}.privateEndpoint"),
            pe,
            "privatelink.postgres.",
        );
    }
    if let Some(id) = &n.delegated_subnet_resource_id {
        subnet(e, format!("{p}.delegatedSubnetResourceId"), id);
        e.check(
            n.private_endpoint.is_none(),
            format!("{p}.privateEndpoint"),
            "a VNet-integrated server (delegatedSubnetResourceId) cannot have private endpoints: choose one",
        );
        e.check(
            n.firewall_rules.as_ref().is_none_or(Vec::is_empty),
            format!("{p}.firewallRules"),
            "a VNet-integrated server (delegatedSubnetResourceId) has no public access, so no firewall rules",
        );
        e.check(
            n.public_access != Some(PublicNetworkAccess::Enabled),
            format!("{p}.publicAccess"),
            "Enabled is impossible with VNet integration (delegatedSubnetResourceId)",
        );
    }
    match &n.private_dns_zone_arm_resource_id {
        Some(id) => {
            e.check(
                dns_zone_name(id).is_some_and(|z| z.to_ascii_lowercase().contains(".postgres.database.")),
                format!("{p}.privateDnsZoneArmResourceId"),
                format!("{id:?} must be the resource id of a private DNS zone named <name>.postgres.database.azure.com"),
            );
            e.check(
                n.delegated_subnet_resource_id.is_some(),
                format!("{p}.privateDnsZoneArmResourceId"),
                "applies only with delegatedSubnetResourceId (VNet integration)",
            );
        }
        None => e.check(
            n.delegated_subnet_resource_id.is_none(),
            format!("{p}.privateDnsZoneArmResourceId"),
            "required with delegatedSubnetResourceId: a VNet-integrated server registers its name in this private DNS zone",
        ),
    }
}

/// Declared storage network values.
pub(super) fn storage(e: &mut Errors, n: &StorageNetwork) {
    let p = "spec.storage.network";
    if let Some(pe) = &n.private_endpoint {
        private_endpoint(e, &format!("{p}.privateEndpoint"), pe, "privatelink.blob.");
    }
    let mut seen = HashSet::new();
    for (i, r) in n.ip_rules.iter().flatten().enumerate() {
        e.check(
            is_ip_rule(r),
            format!("{p}.ipRules[{i}]"),
            format!("{r:?} is not a public IPv4 address or CIDR range (prefix /0 to /30)"),
        );
        e.check(
            seen.insert(r.as_str()),
            format!("{p}.ipRules[{i}]"),
            format!("{r:?} is listed twice"),
        );
    }
    for (i, id) in n.virtual_network_rules.iter().flatten().enumerate() {
        subnet(e, format!("{p}.virtualNetworkRules[{i}]"), id);
    }
}

/// What the environment requires: uat and prod are private (public access Disabled on both,
/// private endpoints on both) unless `overrides.allowPublicNetwork`.
pub(super) fn effective(e: &mut Errors, eff: &EffectiveSpec) {
    let (pg, st) = (&eff.postgres.network, &eff.storage.network);
    e.check(
        pg.firewall_rules.is_empty() || pg.public_access == PublicNetworkAccess::Enabled,
        "spec.postgres.network.firewallRules",
        "firewall rules apply only with publicAccess: Enabled (with Disabled the server is reached through its private endpoint only)",
    );
    e.check(
        !pg.firewall_rules_exclusive || !pg.firewall_rules.is_empty(),
        "spec.postgres.network.firewallRulesExclusive",
        "true needs spec.postgres.network.firewallRules declared: the declared rules become the whole list and every other rule is deleted",
    );
    let public_storage = eff.storage.public_network_access == PublicNetworkAccess::Enabled;
    e.check(
        public_storage || (st.ip_rules.is_empty() && st.virtual_network_rules.is_empty()),
        "spec.storage.network.ipRules",
        "IP and virtual network rules apply only with spec.storage.publicNetworkAccess: Enabled",
    );
    let env = eff.environment;
    if !env.profile().private_network_required || eff.overrides.allow_public_network {
        return;
    }
    let why = format!("{env} requires private network access to both services (AI-SEC-01: Private Endpoints, network isolation); set spec.overrides.allowPublicNetwork: true to run without it");
    e.check(
        pg.public_access == PublicNetworkAccess::Disabled,
        "spec.postgres.network.publicAccess",
        format!("must be Disabled: {why}"),
    );
    e.check(
        pg.private_endpoint.is_some() || pg.delegated_subnet_resource_id.is_some(),
        "spec.postgres.network.privateEndpoint",
        format!("is required (or VNet integration): {why}"),
    );
    e.check(
        !public_storage,
        "spec.storage.publicNetworkAccess",
        format!("must be Disabled: {why}"),
    );
    e.check(
        st.private_endpoint.is_some(),
        "spec.storage.network.privateEndpoint",
        format!("is required: {why}"),
    );
}
