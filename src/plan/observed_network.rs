//! What the operator observed of a data plane's network: private endpoints (with their DNS zone
//! group), the connections a server or account lists, firewall rules and the account's network
//! rules. `src/azure/network.rs` maps ARM responses into these.

use std::collections::BTreeMap;

/// A private endpoint and its `default` private DNS zone group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedPrivateEndpoint {
    pub id: String,
    pub tags: BTreeMap<String, String>,
    /// `provisioningState`: Succeeded, Updating, Deleting, Failed.
    pub provisioning_state: String,
    pub subnet_id: String,
    /// The resource its (first) private-link connection reaches, and that connection's group ids.
    pub target_id: String,
    pub group_ids: Vec<String>,
    /// The endpoint's private address (its first custom DNS config).
    pub private_ip: Option<String>,
    /// The zone ids of the `default` DNS zone group; None when there is no zone group.
    pub dns_zones: Option<Vec<String>>,
}

/// One entry of a server's or account's `privateEndpointConnections`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedConnection {
    pub private_endpoint_id: String,
    /// Approved, Pending, Rejected, Disconnected.
    pub status: String,
}

/// One server firewall rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedFirewallRule {
    pub start_ip_address: String,
    pub end_ip_address: String,
}

/// A storage account's `networkAcls`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedNetworkAcls {
    /// Allow or Deny (None: ARM omitted it, which means Allow).
    pub default_action: Option<String>,
    /// e.g. `AzureServices` or `Logging, Metrics`.
    pub bypass: Option<String>,
    pub ip_rules: Vec<String>,
    pub virtual_network_rules: Vec<String>,
}
