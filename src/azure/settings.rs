//! How to reach ARM: the endpoint, the cloud, the credentials and the retry settings of a client.

use std::sync::Arc;
use std::time::Duration;

use azure_core::Url;

use super::{ArmError, Cloud, Credentials};

/// Azure public cloud Resource Manager.
pub const PUBLIC_CLOUD: &str = "https://management.azure.com";

/// How to reach ARM.
#[derive(Clone, Debug)]
pub struct ArmSettings {
    /// Resource Manager endpoint (default: the cloud's).
    pub endpoint: String,
    /// The cloud: token audiences, Key Vault DNS suffix, authority.
    pub cloud: Cloud,
    /// Test override: send Key Vault requests to this base URL instead of the vault's host (the
    /// request keeps the vault's name in its `Host` header, as a `--connect-to` would). Never set
    /// against Azure.
    pub keyvault_endpoint: Option<String>,
    pub credentials: Credentials,
    /// `--authority-host`: the Entra authority instead of the cloud's (a sovereign or test
    /// authority such as the mock's).
    pub authority_host: Option<String>,
    /// Retries per call for retryable errors (exponential backoff with jitter).
    pub max_retries: usize,
    /// First backoff delay.
    pub min_backoff: Duration,
    /// Who is calling, sent first in every request's `User-Agent` (ARM's request logs show it):
    /// see [`crate::telemetry::user_agent`].
    pub application_id: String,
    /// The HTTP client (None: reqwest). The benchmark reaches the mock by function call.
    pub transport: Option<Arc<dyn azure_core::HttpClient>>,
}

impl ArmSettings {
    /// The Entra authority: `--authority-host`, else the cloud's.
    pub fn authority(&self) -> Result<Url, ArmError> {
        let a = self
            .authority_host
            .as_deref()
            .unwrap_or(self.cloud.row().authority_host);
        Url::parse(a).map_err(|e| ArmError::Decode(format!("--authority-host {a}: {e}")))
    }

    /// Settings for an endpoint with a static token (the mock).
    pub fn with_token(endpoint: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            cloud: Cloud::default(),
            keyvault_endpoint: None,
            credentials: Credentials::Static(token.into()),
            authority_host: None,
            max_retries: 6,
            min_backoff: Duration::from_millis(200),
            application_id: crate::telemetry::user_agent(None),
            transport: None,
        }
    }
}
