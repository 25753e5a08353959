//! Where the data plane lives in Azure, and whose identity the operator uses there.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The Azure subscription, resource group and region of the data plane.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureTarget {
    /// Azure subscription id (a GUID).
    pub subscription_id: String,
    /// Resource group that holds the server, the account and the alerts (1-90 characters).
    pub resource_group: String,
    /// Azure region, e.g. eastus2.
    pub location: String,
    /// The Entra identity to manage this plane with (a customer's own tenant). In Kubernetes the
    /// name of a Secret in the plane's namespace; in folder mode a file of `KEY=VALUE` lines,
    /// relative to the spec. It holds AZURE_TENANT_ID, AZURE_CLIENT_ID and either
    /// AZURE_FEDERATED_TOKEN_FILE (workload identity) or AZURE_CLIENT_SECRET (weaker); with
    /// neither, the operator's own federated token is exchanged for this application. Without
    /// it: the namespace's Secret `engram-credential` when there is one, else the operator's
    /// own credential. See README "Customer subscriptions".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_from: Option<String>,
}
