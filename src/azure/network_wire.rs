//! Typed wire bodies of Microsoft.Network private endpoints and private DNS zone groups
//! (`2024-05-01`), which no SDK crate here covers. As in `wire.rs`: what the service always sends
//! is required, the rest optional, unknown fields ignored. The contract test parses every official
//! example's answer from the mock into these, and `network.rs` reads the operator's GETs with them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A reference to another resource by id.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SubResource {
    pub id: String,
}

/// The approval state of a private-link connection.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `privateLinkServiceConnections[].properties`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkProperties {
    pub private_link_service_id: String,
    #[serde(default)]
    pub group_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_link_service_connection_state: Option<ConnectionState>,
}

/// One connection of an endpoint to the resource it reaches.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Link {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub properties: LinkProperties,
}

/// `customDnsConfigs[]`: the names the endpoint answers for, with its addresses.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DnsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<String>,
    #[serde(default)]
    pub ip_addresses: Vec<String>,
}

/// `properties` of a private endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrivateEndpointProperties {
    pub provisioning_state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<SubResource>,
    #[serde(default)]
    pub private_link_service_connections: Vec<Link>,
    #[serde(default)]
    pub manual_private_link_service_connections: Vec<Link>,
    #[serde(default)]
    pub custom_dns_configs: Vec<DnsConfig>,
}

/// `GET/PUT …/privateEndpoints/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PrivateEndpoint {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub properties: PrivateEndpointProperties,
}

/// One A record a zone group keeps.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordSet {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<String>,
    #[serde(default)]
    pub ip_addresses: Vec<String>,
}

/// `privateDnsZoneConfigs[].properties`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZoneConfigProperties {
    pub private_dns_zone_id: String,
    #[serde(default)]
    pub record_sets: Vec<RecordSet>,
}

/// One private DNS zone of a zone group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ZoneConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub properties: ZoneConfigProperties,
}

/// `properties` of a private DNS zone group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZoneGroupProperties {
    pub provisioning_state: String,
    #[serde(default)]
    pub private_dns_zone_configs: Vec<ZoneConfig>,
}

/// `GET/PUT …/privateEndpoints/{pe}/privateDnsZoneGroups/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PrivateDnsZoneGroup {
    pub id: String,
    pub name: String,
    pub properties: ZoneGroupProperties,
}
