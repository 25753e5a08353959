//! Status of the identity the operator manages a data plane with.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where and as whom the operator reaches Azure for this plane.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureStatus {
    /// The Entra principal in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
}

/// An Entra principal: never a secret, only who it is and where it was defined.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Principal {
    /// The application (client) id, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The Entra tenant, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// workloadIdentity, clientSecret, or operator (the operator's own credential).
    pub kind: String,
    /// `Secret NAMESPACE/NAME`, the credential file, or `operator`.
    pub source: String,
    /// Set when the credential is weaker than it could be (a client secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}
