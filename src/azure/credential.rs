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

/// The process's workload identity from its environment (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`,
/// `AZURE_FEDERATED_TOKEN_FILE`, as AKS injects them), when it has one and no client secret.
fn environment_workload_identity() -> Option<(String, String, std::path::PathBuf)> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    if var(super::plane_credential::SECRET).is_some() {
        return None;
    }
    Some((
        var(super::plane_credential::TENANT)?,
        var(super::plane_credential::CLIENT)?,
        var(super::plane_credential::TOKEN_FILE)?.into(),
    ))
}

/// The operator's own federated token file (`AZURE_FEDERATED_TOKEN_FILE`), which a data plane's
/// credential without a secret or token file of its own uses.
pub fn operator_token_file() -> Option<std::path::PathBuf> {
    std::env::var_os(super::plane_credential::TOKEN_FILE)
        .filter(|v| !v.is_empty())
        .map(Into::into)
}

impl Credentials {
    /// Build the azure_core credential; `authority` is the Entra authority host. Workload
    /// identity from the environment uses our credential, which re-reads the federated token
    /// file at every token request; the rest of the chain is azure_identity's.
    pub fn build(&self, authority: &azure_core::Url) -> Result<Arc<dyn TokenCredential>, ArmError> {
        match self {
            Self::Static(t) => Ok(Arc::new(StaticToken(Secret::new(t.clone())))),
            Self::TokenFile(p) => Ok(Arc::new(FileToken(p.clone()))),
            Self::Chain => match environment_workload_identity() {
                Some((tenant, client, file)) => {
                    Ok(Arc::new(super::identity::WorkloadIdentity::new(
                        authority.clone(),
                        &tenant,
                        &client,
                        file,
                    )))
                }
                None => azure_identity::create_credential()
                    .map_err(|e| ArmError::CredentialInvalid(e.to_string())),
            },
        }
    }

    /// Who the credential signs in as, as the throttle budget counts it: `{tenant}/{client}` when
    /// the environment names them, else `static`, `token-file` or `default`.
    pub fn principal(&self) -> String {
        match self {
            Self::Static(_) => "static".into(),
            Self::TokenFile(_) => "token-file".into(),
            Self::Chain => match (
                std::env::var(super::plane_credential::TENANT),
                std::env::var(super::plane_credential::CLIENT),
            ) {
                (Ok(t), Ok(c)) if !t.is_empty() && !c.is_empty() => format!("{t}/{c}"),
                _ => "default".into(),
            },
        }
    }
}
