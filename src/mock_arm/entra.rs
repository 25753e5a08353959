//! The mock Microsoft Entra ID authority's state: the principals (app registrations) it knows,
//! the access tokens it issued, and the journal of token requests; plus their control API
//! (`/_mock/entra/...` on the ARM listener). The token endpoint is in `entra_token.rs`, the check
//! of a bearer token on ARM and Key Vault in `entra_auth.rs`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::control::Inner;
use super::entra_jwt::TOKEN_EXCHANGE_AUDIENCE;
use super::Error;

/// The mock authority's configuration (`MockConfig.entra`).
#[derive(Debug, Clone, PartialEq)]
pub struct EntraConfig {
    /// The app registrations (service principals) that may get tokens.
    pub principals: Vec<EntraPrincipal>,
    /// `expires_in` of every token issued (Entra's default for app tokens is about an hour).
    pub token_lifetime: Duration,
    /// Subscription id → the tenant it belongs to. A token of another tenant gets 401
    /// `InvalidAuthenticationTokenTenant` on that subscription; unnamed subscriptions take any.
    pub subscription_tenants: BTreeMap<String, String>,
}

impl Default for EntraConfig {
    fn default() -> Self {
        Self {
            principals: Vec::new(),
            token_lifetime: Duration::from_secs(3599),
            subscription_tenants: BTreeMap::new(),
        }
    }
}

/// An application (client) registered in a tenant, with the credentials it may present.
#[derive(Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntraPrincipal {
    pub tenant_id: String,
    pub client_id: String,
    #[serde(default)]
    pub display_name: String,
    /// Client secrets (values); any of them is accepted.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Federated identity credentials (workload identity).
    #[serde(default)]
    pub federated: Vec<FederatedCredential>,
}

impl EntraPrincipal {
    /// A principal with no credentials yet; its display name is its client id.
    pub fn new(tenant_id: &str, client_id: &str) -> Self {
        Self {
            tenant_id: tenant_id.to_owned(),
            client_id: client_id.to_owned(),
            display_name: client_id.to_owned(),
            ..Self::default()
        }
    }

    /// `{tenant}/{clientId}`: how the journal and the throttle name this principal.
    pub fn name(&self) -> String {
        format!("{}/{}", self.tenant_id, self.client_id)
    }

    fn key(&self) -> (String, String) {
        key(&self.tenant_id, &self.client_id)
    }

    fn validate(&self) -> Result<(), Error> {
        if self.tenant_id.trim().is_empty() || self.client_id.trim().is_empty() {
            return Err(Error::Invalid(
                "a principal needs a tenantId and a clientId".into(),
            ));
        }
        if self
            .federated
            .iter()
            .any(|f| f.issuer.is_empty() || f.subject.is_empty() || f.audience.is_empty())
        {
            return Err(Error::Invalid(format!(
                "principal {}: a federated credential needs an issuer, a subject and an audience",
                self.name()
            )));
        }
        Ok(())
    }

    /// What the dump shows: everything but the secrets' values.
    fn redacted(&self) -> Value {
        json!({
            "tenantId": self.tenant_id,
            "clientId": self.client_id,
            "displayName": self.display_name,
            "secrets": self.secrets.len(),
            "federated": self.federated,
        })
    }
}

/// Never prints a secret.
impl std::fmt::Debug for EntraPrincipal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntraPrincipal")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("display_name", &self.display_name)
            .field(
                "secrets",
                &format_args!("[{} redacted]", self.secrets.len()),
            )
            .field("federated", &self.federated)
            .finish()
    }
}

/// A federated identity credential: Entra accepts an assertion whose `iss` and `sub` equal these
/// and whose `aud` contains `audience`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FederatedCredential {
    pub issuer: String,
    pub subject: String,
    #[serde(default = "exchange_audience")]
    pub audience: String,
}

fn exchange_audience() -> String {
    TOKEN_EXCHANGE_AUDIENCE.to_owned()
}

impl FederatedCredential {
    /// A credential for `api://AzureADTokenExchange`, as workload identity uses.
    pub fn new(issuer: &str, subject: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            subject: subject.to_owned(),
            audience: exchange_audience(),
        }
    }
}

/// One request to the token endpoint, granted or refused. Never holds a secret or an assertion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRequest {
    /// 1, 2, 3... in arrival order.
    pub seq: u64,
    /// Mock-clock time of arrival (RFC 3339).
    pub time: String,
    /// The tenant of the request path, as sent.
    pub tenant: String,
    pub client_id: String,
    /// `client_secret`, `client_assertion`, or empty when the request carried neither.
    pub grant: String,
    pub scope: String,
    pub assertion_subject: Option<String>,
    pub assertion_jti: Option<String>,
    /// `issued`, or the AADSTS code of the refusal (e.g. `AADSTS7000215`).
    pub outcome: String,
}

/// An access token the mock issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The principal's tenant and client id, as configured.
    pub tenant: String,
    pub client: String,
    /// The scope without `/.default`, e.g. `https://management.azure.com`.
    pub audience: String,
    /// Unix seconds on the mock clock.
    pub expires: i64,
}

impl Issued {
    pub fn principal(&self) -> String {
        format!("{}/{}", self.tenant, self.client)
    }
}

/// Issued tokens this long past their expiry are forgotten (they would get the same 401 as an
/// unknown one, only with another code).
const FORGET_AFTER_SECS: i64 = 24 * 3600;

/// The authority's mutable state (behind the mock's lock).
#[derive(Debug, Default)]
pub struct EntraState {
    principals: BTreeMap<(String, String), EntraPrincipal>,
    issued: HashMap<String, Issued>,
    requests: VecDeque<TokenRequest>,
    seq: u64,
}

fn key(tenant: &str, client: &str) -> (String, String) {
    (tenant.to_ascii_lowercase(), client.to_ascii_lowercase())
}

impl EntraState {
    /// The configured principals; fails on one without a tenant or client id.
    pub fn new(config: &EntraConfig) -> Result<Self, Error> {
        let mut state = Self::default();
        for p in &config.principals {
            state.upsert(p.clone())?;
        }
        Ok(state)
    }

    /// Add or replace (same tenant and client id) a principal.
    pub fn upsert(&mut self, p: EntraPrincipal) -> Result<(), Error> {
        p.validate()?;
        self.principals.insert(p.key(), p);
        Ok(())
    }

    pub fn knows_tenant(&self, tenant: &str) -> bool {
        let t = tenant.to_ascii_lowercase();
        self.principals.keys().any(|(pt, _)| *pt == t)
    }

    pub fn principal(&self, tenant: &str, client: &str) -> Option<&EntraPrincipal> {
        self.principals.get(&key(tenant, client))
    }

    /// Remember a token (and forget long-expired ones).
    pub fn remember(&mut self, token: String, issued: Issued, now: i64) {
        self.issued
            .retain(|_, t| t.expires + FORGET_AFTER_SECS > now);
        self.issued.insert(token, issued);
    }

    /// The token, if the mock issued exactly this string.
    pub fn issued(&self, token: &str) -> Option<&Issued> {
        self.issued.get(token)
    }

    pub fn record(&mut self, mut request: TokenRequest, capacity: usize) {
        self.seq += 1;
        request.seq = self.seq;
        if self.requests.len() >= capacity.max(1) {
            self.requests.pop_front();
        }
        self.requests.push_back(request);
    }

    pub fn requests(&self) -> Vec<TokenRequest> {
        self.requests.iter().cloned().collect()
    }

    /// `reset()`: forget the request journal; principals and issued tokens stay (see
    /// docs/mock-arm.md).
    pub fn clear_requests(&mut self) {
        self.requests.clear();
    }

    /// For the dump: principals without secret values, and how many tokens are live.
    pub fn dump(&self, now: i64) -> Value {
        let principals: Vec<Value> = self.principals.values().map(|p| p.redacted()).collect();
        let live = self.issued.values().filter(|t| t.expires > now).count();
        json!({"principals": principals, "liveTokens": live, "requests": self.requests.len()})
    }
}

impl Inner {
    pub fn add_principal(&self, p: EntraPrincipal) -> Result<(), Error> {
        self.lock().entra.upsert(p)
    }

    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.lock().entra.requests()
    }
}

type St = State<Arc<Inner>>;

/// `/_mock/entra/...` (merged into the ARM listener's control routes).
pub fn control_routes() -> Router<Arc<Inner>> {
    Router::new()
        .route("/_mock/entra/principals", post(add_principal))
        .route("/_mock/entra/requests", get(requests))
}

async fn add_principal(State(inner): St, Json(p): Json<EntraPrincipal>) -> Response {
    let name = p.name();
    match inner.add_principal(p) {
        Ok(()) => (StatusCode::OK, Json(json!({"principal": name}))).into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

async fn requests(State(inner): St) -> Json<Value> {
    Json(json!({"requests": inner.token_requests()}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsert_replaces_by_tenant_and_client_case_insensitively() {
        let mut s = EntraState::default();
        let mut p = EntraPrincipal::new("T1", "C1");
        p.secrets.push("old".into());
        s.upsert(p).expect("valid");
        let mut q = EntraPrincipal::new("t1", "c1");
        q.secrets.push("new".into());
        s.upsert(q).expect("valid");
        let got = s.principal("T1", "c1").expect("known");
        assert_eq!(got.secrets, vec!["new".to_owned()]);
        assert!(s.knows_tenant("t1"));
        assert!(!s.knows_tenant("t2"));
        assert!(s.upsert(EntraPrincipal::new("", "c")).is_err());
    }

    #[test]
    fn debug_and_dump_hide_secret_values() {
        let mut p = EntraPrincipal::new("t", "c");
        p.secrets.push("s3cr3t-value".into());
        assert!(!format!("{p:?}").contains("s3cr3t-value"));
        let mut s = EntraState::default();
        s.upsert(p).expect("valid");
        assert!(!s.dump(0).to_string().contains("s3cr3t-value"));
    }

    #[test]
    fn principals_load_from_camel_case_json_with_the_exchange_audience_by_default() {
        let p: EntraPrincipal = serde_json::from_value(json!({
            "tenantId": "t", "clientId": "c",
            "federated": [{"issuer": "https://oidc", "subject": "system:serviceaccount:a:b"}]
        }))
        .expect("parses");
        assert_eq!(p.federated[0].audience, TOKEN_EXCHANGE_AUDIENCE);
        assert!(p.secrets.is_empty());
    }

    #[test]
    fn long_expired_tokens_are_forgotten_when_a_new_one_is_issued() {
        let mut s = EntraState::default();
        let t = |expires| Issued {
            tenant: "t".into(),
            client: "c".into(),
            audience: "a".into(),
            expires,
        };
        s.remember("old".into(), t(10), 0);
        s.remember(
            "new".into(),
            t(10 + FORGET_AFTER_SECS + 5),
            10 + FORGET_AFTER_SECS,
        );
        assert!(s.issued("old").is_none());
        assert!(s.issued("new").is_some());
    }
}
