//! Network isolation of a data plane (declared and effective): PostgreSQL public access with
//! firewall rules, private endpoints for both services, VNet integration of the server, and the
//! storage account's network rules. Profiles decide the defaults (`profiles.rs`); validation is in
//! `validate/network.rs`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::profiles::Profile;
use super::spec::PublicNetworkAccess;
use super::validate::is_guid;

/// The private DNS zone of PostgreSQL flexible server private endpoints (public cloud).
pub const PG_DNS_ZONE: &str = "privatelink.postgres.database.azure.com";
/// The private DNS zone of blob private endpoints (public cloud).
pub const BLOB_DNS_ZONE: &str = "privatelink.blob.core.windows.net";
/// The private-link group id of a flexible server.
pub const PG_GROUP_ID: &str = "postgresqlServer";
/// The private-link group id of a storage account's blob service.
pub const BLOB_GROUP_ID: &str = "blob";

/// How the PostgreSQL server is reached.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PgNetwork {
    /// Enabled: reachable from the addresses in firewallRules. Disabled: only through the private
    /// endpoint (or VNet integration). Default Enabled in dev and test, Disabled in uat and prod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access: Option<PublicNetworkAccess>,
    /// Firewall rules (public access only), reconciled as flexibleServers/{s}/firewallRules/{name}.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firewall_rules: Option<Vec<FirewallRule>>,
    /// false (default): a firewall rule on the server that is not declared here (someone else's)
    /// is kept and reported. true: the declared rules are the whole list and every other rule is
    /// deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firewall_rules_exclusive: Option<bool>,
    /// A private endpoint (group postgresqlServer) in this subnet, with its DNS zone group.
    /// Required in uat and prod (unless VNet integration or overrides.allowPublicNetwork).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_endpoint: Option<PrivateEndpointSpec>,
    /// VNet integration: the subnet delegated to Microsoft.DBforPostgreSQL/flexibleServers. Chosen
    /// when the server is created only; a change requires re-creation. Excludes privateEndpoint and
    /// firewallRules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegated_subnet_resource_id: Option<String>,
    /// VNet integration: the private DNS zone (….postgres.database.azure.com) the server registers
    /// in. Only with delegatedSubnetResourceId; chosen at create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_dns_zone_arm_resource_id: Option<String>,
}

/// One server firewall rule: an inclusive IPv4 range.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FirewallRule {
    /// Rule name: 1-128 letters, digits, '-', '_' and '.'.
    pub name: String,
    /// First IPv4 address of the range.
    pub start_ip_address: String,
    /// Last IPv4 address of the range (not below startIpAddress).
    pub end_ip_address: String,
}

/// Where a private endpoint goes and which private DNS zone resolves it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrivateEndpointSpec {
    /// Resource id of the subnet:
    /// /subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>
    pub subnet_id: String,
    /// Resource id of the private DNS zone linked to the VNet:
    /// privatelink.postgres.database.azure.com for PostgreSQL, privatelink.blob.core.windows.net
    /// for Blob Storage.
    pub private_dns_zone_id: String,
}

/// How the storage account is reached (its public switch is storage.publicNetworkAccess).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageNetwork {
    /// A private endpoint for the blob service in this subnet, with its DNS zone group. Required in
    /// uat and prod (unless overrides.allowPublicNetwork).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_endpoint: Option<PrivateEndpointSpec>,
    /// Public IPv4 addresses or CIDR ranges allowed through the account firewall (networkAcls
    /// defaultAction is always Deny, bypass AzureServices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_rules: Option<Vec<String>>,
    /// Subnet resource ids allowed through the account firewall (service endpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_network_rules: Option<Vec<String>>,
}

/// Resolved PostgreSQL network settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EffectivePgNetwork {
    pub public_access: PublicNetworkAccess,
    pub firewall_rules: Vec<FirewallRule>,
    pub firewall_rules_exclusive: bool,
    pub private_endpoint: Option<PrivateEndpointSpec>,
    pub delegated_subnet_resource_id: Option<String>,
    pub private_dns_zone_arm_resource_id: Option<String>,
}

/// Resolved storage network rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EffectiveStorageNetwork {
    pub private_endpoint: Option<PrivateEndpointSpec>,
    pub ip_rules: Vec<String>,
    pub virtual_network_rules: Vec<String>,
}

impl EffectivePgNetwork {
    /// The declared network with the profile's defaults: public access from the profile, Disabled
    /// under VNet integration.
    pub fn resolve(declared: Option<&PgNetwork>, profile: &Profile) -> Self {
        let n = declared.cloned().unwrap_or_default();
        let default_access = if n.delegated_subnet_resource_id.is_some() {
            PublicNetworkAccess::Disabled
        } else {
            profile.public_network_access
        };
        Self {
            public_access: n.public_access.unwrap_or(default_access),
            firewall_rules: n.firewall_rules.unwrap_or_default(),
            firewall_rules_exclusive: n.firewall_rules_exclusive.unwrap_or(false),
            private_endpoint: n.private_endpoint,
            delegated_subnet_resource_id: n.delegated_subnet_resource_id,
            private_dns_zone_arm_resource_id: n.private_dns_zone_arm_resource_id,
        }
    }

    /// Written back as a fully explicit declaration (render).
    pub fn to_spec(&self) -> PgNetwork {
        PgNetwork {
            public_access: Some(self.public_access),
            firewall_rules: Some(self.firewall_rules.clone()),
            firewall_rules_exclusive: Some(self.firewall_rules_exclusive),
            private_endpoint: self.private_endpoint.clone(),
            delegated_subnet_resource_id: self.delegated_subnet_resource_id.clone(),
            private_dns_zone_arm_resource_id: self.private_dns_zone_arm_resource_id.clone(),
        }
    }

    /// The network mode, as status and evidence report it.
    pub fn mode(&self) -> &'static str {
        if self.delegated_subnet_resource_id.is_some() {
            "VnetIntegration"
        } else if self.private_endpoint.is_some() {
            "PrivateEndpoint"
        } else {
            "Public"
        }
    }
}

impl EffectiveStorageNetwork {
    pub fn resolve(declared: Option<&StorageNetwork>) -> Self {
        let n = declared.cloned().unwrap_or_default();
        Self {
            private_endpoint: n.private_endpoint,
            ip_rules: n.ip_rules.unwrap_or_default(),
            virtual_network_rules: n.virtual_network_rules.unwrap_or_default(),
        }
    }

    pub fn to_spec(&self) -> StorageNetwork {
        StorageNetwork {
            private_endpoint: self.private_endpoint.clone(),
            ip_rules: Some(self.ip_rules.clone()),
            virtual_network_rules: Some(self.virtual_network_rules.clone()),
        }
    }

    /// The network mode, as status and evidence report it.
    pub fn mode(&self) -> &'static str {
        if self.private_endpoint.is_some() {
            "PrivateEndpoint"
        } else {
            "Public"
        }
    }
}

/// An IPv4 address as a number (None when `s` is not dotted-quad IPv4).
pub fn ipv4(s: &str) -> Option<u32> {
    s.parse::<std::net::Ipv4Addr>().ok().map(u32::from)
}

/// A storage IP rule: an IPv4 address or an IPv4 CIDR range (prefix 0-30, as Azure accepts).
pub fn is_ip_rule(s: &str) -> bool {
    match s.split_once('/') {
        None => ipv4(s).is_some(),
        Some((ip, bits)) => ipv4(ip).is_some() && bits.parse::<u8>().is_ok_and(|b| b <= 30),
    }
}

/// `/subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>`.
pub fn is_subnet_id(id: &str) -> bool {
    let p: Vec<&str> = id.split('/').collect();
    p.len() == 11
        && p[0].is_empty()
        && p[1].eq_ignore_ascii_case("subscriptions")
        && is_guid(p[2])
        && p[3].eq_ignore_ascii_case("resourceGroups")
        && !p[4].is_empty()
        && p[5].eq_ignore_ascii_case("providers")
        && p[6].eq_ignore_ascii_case("Microsoft.Network")
        && p[7].eq_ignore_ascii_case("virtualNetworks")
        && !p[8].is_empty()
        && p[9].eq_ignore_ascii_case("subnets")
        && !p[10].is_empty()
}

/// The zone name of a private DNS zone id, when `id` is one.
pub fn dns_zone_name(id: &str) -> Option<&str> {
    let p: Vec<&str> = id.split('/').collect();
    (p.len() == 9
        && p[0].is_empty()
        && p[1].eq_ignore_ascii_case("subscriptions")
        && is_guid(p[2])
        && p[3].eq_ignore_ascii_case("resourceGroups")
        && !p[4].is_empty()
        && p[5].eq_ignore_ascii_case("providers")
        && p[6].eq_ignore_ascii_case("Microsoft.Network")
        && p[7].eq_ignore_ascii_case("privateDnsZones")
        && !p[8].is_empty())
    .then_some(p[8])
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBNET: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet/subnets/endpoints";

    #[test]
    fn ids_and_addresses() {
        assert!(is_subnet_id(SUBNET));
        assert!(!is_subnet_id("/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/s"));
        assert!(!is_subnet_id(&SUBNET.replace("/subnets/endpoints", "")));
        let zone = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.postgres.database.azure.com";
        assert_eq!(dns_zone_name(zone), Some(PG_DNS_ZONE));
        assert_eq!(dns_zone_name(SUBNET), None);
        assert!(ipv4("10.0.0.1").is_some_and(|a| a > ipv4("9.255.255.255").unwrap_or(u32::MAX)));
        assert!(ipv4("10.0.0").is_none());
        assert!(is_ip_rule("203.0.113.0/24") && is_ip_rule("203.0.113.7"));
        assert!(!is_ip_rule("203.0.113.0/31") && !is_ip_rule("::1"));
    }
}
