//! Which Entra identity each data plane is managed with, looked up at every pass, so a rotated
//! secret or a newly created Secret applies on the next pass without a restart. Most specific
//! first: `spec.azure.credentialFrom` (a Secret of the plane's namespace, or in folder mode a file
//! beside the spec), then the namespace's Secret `engram-credential`, then the operator's own.
//!
//! Kubernetes Secrets are read with a GET each pass, not watched: a watch needs `list` and `watch`
//! on every Secret the operator could be pointed at, which lets it read every secret of those
//! namespaces; a GET needs only `get`, which `resourceNames` can narrow to the named Secrets.

use std::path::Path;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use crate::api::status_azure::{AzureStatus, Principal};
use crate::azure::credential::operator_token_file;
use crate::azure::{ArmApi, ArmClients, NoCredential, PlaneCredential};
use crate::database::Db;

/// The namespace's default credential Secret.
pub const DEFAULT_SECRET: &str = "engram-credential";

/// What the lookup found.
#[derive(Debug)]
pub enum Lookup {
    /// Nothing of the plane's own: the operator's credential.
    Operator,
    /// The plane's own credential.
    Plane(PlaneCredential),
    /// A credential was named but cannot be used: (source, why), never a value.
    Invalid(String, String),
}

/// The client a plane's pass uses, and the status that says as whom.
pub struct Resolved {
    pub arm: Arc<dyn ArmApi>,
    pub status: AzureStatus,
    /// The plane's own token credential (its database sign-in uses it too); None for the
    /// operator's.
    pub credential: Option<Arc<dyn azure_core::auth::TokenCredential>>,
}

impl Resolved {
    /// The operator's own client, without a per-plane status (per-plane credentials are off).
    pub fn operator(arm: Arc<dyn ArmApi>) -> Self {
        Self {
            arm,
            status: AzureStatus::default(),
            credential: None,
        }
    }

    /// The database access of this plane: the operator's, signed in as the plane's own identity
    /// when it has one.
    pub fn db(&self, operator: &Option<Arc<Db>>) -> Option<Arc<Db>> {
        match (operator, &self.credential) {
            (Some(db), Some(c)) => Some(Arc::new(db.signed_in_as(c.clone()))),
            (db, _) => db.clone(),
        }
    }
}

/// The operator's own principal, as far as its environment tells.
pub fn operator_principal() -> Principal {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    Principal {
        client_id: var("AZURE_CLIENT_ID"),
        tenant_id: var("AZURE_TENANT_ID"),
        kind: "operator".into(),
        source: "operator".into(),
        warning: None,
    }
}

fn principal_of(c: &PlaneCredential) -> Principal {
    Principal {
        client_id: Some(c.client_id.clone()),
        tenant_id: Some(c.tenant_id.clone()),
        kind: c.kind().into(),
        source: c.source.clone(),
        warning: (c.kind() == "clientSecret").then(|| {
            "a client secret is weaker than workload identity: it can leak, and it expires and must be rotated by hand".into()
        }),
    }
}

/// The client for what the lookup found.
pub fn resolve(clients: &ArmClients, found: Lookup) -> Resolved {
    let mut credential = None;
    let (arm, principal): (Arc<dyn ArmApi>, Principal) = match found {
        Lookup::Operator => (clients.global(), operator_principal()),
        Lookup::Plane(c) => {
            let arm: Arc<dyn ArmApi> = match clients.for_credential(&c) {
                Ok(arm) => {
                    credential = Some(arm.token_credential());
                    arm
                }
                Err(e) => Arc::new(NoCredential::new(format!("{}: {e}", c.source))),
            };
            (arm, principal_of(&c))
        }
        Lookup::Invalid(source, why) => {
            tracing::warn!(%source, "credential unusable: {why}");
            let principal = Principal {
                kind: "invalid".into(),
                source,
                ..Principal::default()
            };
            (Arc::new(NoCredential::new(why)), principal)
        }
    };
    Resolved {
        arm,
        status: AzureStatus {
            principal: Some(principal),
        },
        credential,
    }
}

/// Kubernetes: the plane's Secret, else the namespace's `engram-credential`, else the operator's.
pub async fn kube_lookup(
    client: &kube::Client,
    namespace: &str,
    credential_from: Option<&str>,
) -> Result<Lookup, kube::Error> {
    let name = credential_from.unwrap_or(DEFAULT_SECRET);
    let source = format!("Secret {namespace}/{name}");
    if !crate::api::validate::is_dns1123_subdomain(name) {
        return Ok(Lookup::Invalid(
            source.clone(),
            format!("{source}: spec.azure.credentialFrom must be a Secret name (lowercase letters, digits, '-', '.')"),
        ));
    }
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = match api.get_opt(name).await {
        Ok(s) => s,
        Err(kube::Error::Api(e)) if e.code == 403 => {
            if credential_from.is_none() {
                // No access to the default Secret: the operator's own credential, as without one.
                return Ok(Lookup::Operator);
            }
            return Ok(Lookup::Invalid(
                source.clone(),
                format!(
                    "{source}: the operator may not read it (RBAC: get secrets in {namespace})"
                ),
            ));
        }
        Err(e) => return Err(e),
    };
    let Some(secret) = secret else {
        return Ok(match credential_from {
            None => Lookup::Operator,
            Some(_) => Lookup::Invalid(
                source.clone(),
                format!("{source} (spec.azure.credentialFrom) does not exist"),
            ),
        });
    };
    let data = secret.data.unwrap_or_default();
    let strings = secret.string_data.unwrap_or_default();
    let field = |k: &str| {
        strings.get(k).cloned().or_else(|| {
            data.get(k)
                .and_then(|b| String::from_utf8(b.0.clone()).ok())
        })
    };
    Ok(
        match PlaneCredential::parse(&source, field, operator_token_file().as_deref()) {
            Ok(c) => Lookup::Plane(c),
            Err(why) => Lookup::Invalid(source, why),
        },
    )
}

/// Folder mode: `spec.azure.credentialFrom` is a file of `KEY=VALUE` lines, relative to the spec
/// file's folder; without it, the operator's credential.
pub fn folder_lookup(spec_file: &Path, credential_from: Option<&str>) -> Lookup {
    let Some(rel) = credential_from else {
        return Lookup::Operator;
    };
    let path = spec_file.parent().unwrap_or(Path::new(".")).join(rel);
    let source = path.display().to_string();
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            match PlaneCredential::parse_env_file(&source, &text, operator_token_file().as_deref())
            {
                Ok(c) => Lookup::Plane(c),
                Err(why) => Lookup::Invalid(source, why),
            }
        }
        Err(e) => Lookup::Invalid(
            source.clone(),
            format!("{source} (spec.azure.credentialFrom): {e}"),
        ),
    }
}
