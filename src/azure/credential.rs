//! Credentials: a static bearer token (the mock), a token file re-read on every request, or the
//! azure_identity chain (workload identity, managed identity, Azure CLI, environment). Tokens are
//! never logged or formatted: every type holding one redacts it in `Debug`.

use std::sync::Arc;

use azure_core::auth::{AccessToken, Secret, TokenCredential};
use time::OffsetDateTime;

use super::error::ArmError;

/// Where tokens come from.
#[derive(Clone)]
pub enum Credentials {
    /// A fixed bearer token (the mock ARM).
    Static(String),
    /// A bearer token read from this file at every request (so a rotated file is picked up).
    TokenFile(std::path::PathBuf),
    /// azure_identity's chain, chosen by AZURE_CREDENTIAL_KIND or the default order: environment
    /// (service principal, or workload identity when AZURE_FEDERATED_TOKEN_FILE is set, as on AKS),
    /// managed identity (App Service, then VM/IMDS), then the Azure CLI.
    Chain,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Static(_) => f.write_str("Static(<redacted>)"),
            Self::TokenFile(p) => write!(f, "TokenFile({})", p.display()),
            Self::Chain => f.write_str("Chain"),
        }
    }
}

/// A credential that always returns the same token.
struct StaticToken(Secret);

impl std::fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaticToken(<redacted>)")
    }
}

#[async_trait::async_trait]
impl TokenCredential for StaticToken {
    async fn get_token(&self, _scopes: &[&str]) -> azure_core::Result<AccessToken> {
        Ok(AccessToken::new(
            self.0.clone(),
            OffsetDateTime::now_utc() + time::Duration::hours(1),
        ))
    }
    async fn clear_cache(&self) -> azure_core::Result<()> {
        Ok(())
    }
}

/// A credential that reads its token from a file each time one is asked for.
#[derive(Debug)]
struct FileToken(std::path::PathBuf);

#[async_trait::async_trait]
impl TokenCredential for FileToken {
    async fn get_token(&self, _scopes: &[&str]) -> azure_core::Result<AccessToken> {
        let text = std::fs::read_to_string(&self.0).map_err(|e| {
            azure_core::Error::new(
                azure_core::error::ErrorKind::Credential,
                format!("--arm-token-file {}: {e}", self.0.display()),
            )
        })?;
        let token = text.trim();
        if token.is_empty() {
            return Err(azure_core::Error::message(
                azure_core::error::ErrorKind::Credential,
                format!("--arm-token-file {} is empty", self.0.display()),
            ));
        }
        Ok(AccessToken::new(
            Secret::new(token.to_owned()),
            OffsetDateTime::now_utc() + time::Duration::minutes(5),
        ))
    }
    async fn clear_cache(&self) -> azure_core::Result<()> {
        Ok(())
    }
}

impl Credentials {
    /// Build the azure_core credential.
    pub fn build(&self) -> Result<Arc<dyn TokenCredential>, ArmError> {
        match self {
            Self::Static(t) => Ok(Arc::new(StaticToken(Secret::new(t.clone())))),
            Self::TokenFile(p) => Ok(Arc::new(FileToken(p.clone()))),
            Self::Chain => azure_identity::create_credential()
                .map_err(|e| ArmError::CredentialInvalid(e.to_string())),
        }
    }
}
