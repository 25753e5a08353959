//! Entra sign-in as a given application: our workload-identity credential (the federated token
//! file is read afresh at every token request, so a rotated projected token is used at once:
//! azure_identity 0.21 reads it once, at creation) and the client-secret credential
//! (azure_identity's own). Refusals keep Entra's `AADSTS` code, never a secret or an assertion.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use azure_core::auth::{AccessToken, Secret, TokenCredential};
use azure_core::{HttpClient, Method, Request, Url};
use time::OffsetDateTime;

/// A cached token is renewed once less than this is left of it.
const REFRESH_MARGIN: time::Duration = time::Duration::minutes(5);

/// The assertion type of a federated (workload identity) token request.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Workload identity: a Kubernetes service-account token, exchanged at Entra for an access token
/// of `client_id` in `tenant_id`.
pub struct WorkloadIdentity {
    http: Arc<dyn HttpClient>,
    authority: Url,
    tenant_id: String,
    client_id: String,
    token_file: PathBuf,
    cache: tokio::sync::Mutex<HashMap<String, AccessToken>>,
}

impl std::fmt::Debug for WorkloadIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkloadIdentity")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("token_file", &self.token_file)
            .finish()
    }
}

impl WorkloadIdentity {
    pub fn new(authority: Url, tenant_id: &str, client_id: &str, token_file: PathBuf) -> Self {
        Self {
            http: azure_core::new_http_client(),
            authority,
            tenant_id: tenant_id.to_owned(),
            client_id: client_id.to_owned(),
            token_file,
            cache: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    fn credential_error(message: String) -> azure_core::Error {
        azure_core::Error::message(azure_core::error::ErrorKind::Credential, message)
    }

    async fn request(&self, scopes: &[&str]) -> azure_core::Result<AccessToken> {
        let assertion = std::fs::read_to_string(&self.token_file).map_err(|e| {
            Self::credential_error(format!(
                "federated token file {}: {e}",
                self.token_file.display()
            ))
        })?;
        let assertion = assertion.trim();
        if assertion.is_empty() {
            return Err(Self::credential_error(format!(
                "federated token file {} is empty",
                self.token_file.display()
            )));
        }
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &self.client_id)
            .append_pair("scope", &scopes.join(" "))
            .append_pair("client_assertion_type", JWT_BEARER)
            .append_pair("client_assertion", assertion)
            .append_pair("grant_type", "client_credentials")
            .finish();
        let url = token_url(&self.authority, &self.tenant_id)?;
        let mut req = Request::new(url, Method::Post);
        req.insert_header(
            azure_core::headers::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        );
        req.set_body(form);
        let unreachable = |e: azure_core::Error| {
            Self::credential_error(format!(
                "token request for client {} in tenant {} to {}: {e}",
                self.client_id, self.tenant_id, self.authority
            ))
        };
        let rsp = self.http.execute_request(&req).await.map_err(unreachable)?;
        let status = u16::from(rsp.status());
        let body = rsp.into_body().collect().await.map_err(unreachable)?;
        if !(200..300).contains(&status) {
            return Err(Self::credential_error(refusal(
                &self.tenant_id,
                &self.client_id,
                status,
                &String::from_utf8_lossy(&body),
            )));
        }
        #[derive(serde::Deserialize)]
        struct Issued {
            access_token: String,
            expires_in: i64,
        }
        let issued: Issued = serde_json::from_slice(&body).map_err(|e| {
            Self::credential_error(format!("Entra's token response did not parse: {e}"))
        })?;
        Ok(AccessToken::new(
            Secret::new(issued.access_token),
            OffsetDateTime::now_utc() + time::Duration::seconds(issued.expires_in),
        ))
    }
}

#[async_trait::async_trait]
impl TokenCredential for WorkloadIdentity {
    async fn get_token(&self, scopes: &[&str]) -> azure_core::Result<AccessToken> {
        let key = scopes.join(" ");
        let mut cache = self.cache.lock().await;
        if let Some(t) = cache.get(&key) {
            if t.expires_on > OffsetDateTime::now_utc() + REFRESH_MARGIN {
                return Ok(t.clone());
            }
        }
        let token = self.request(scopes).await?;
        cache.insert(key, token.clone());
        Ok(token)
    }

    async fn clear_cache(&self) -> azure_core::Result<()> {
        self.cache.lock().await.clear();
        Ok(())
    }
}

/// `{authority}/{tenant}/oauth2/v2.0/token`.
pub fn token_url(authority: &Url, tenant_id: &str) -> azure_core::Result<Url> {
    let mut url = authority.clone();
    url.path_segments_mut()
        .map_err(|_| {
            WorkloadIdentity::credential_error(format!(
                "authority host {authority} cannot take a path"
            ))
        })?
        .pop_if_empty()
        .extend([tenant_id, "oauth2", "v2.0", "token"]);
    Ok(url)
}

/// What Entra's refusal means, by its `AADSTS` code (the codes a wrong credential produces).
fn meaning(code: &str) -> &'static str {
    match code {
        "AADSTS90002" => "the tenant does not exist",
        "AADSTS700016" => "the application is not registered in this tenant",
        "AADSTS7000215" | "AADSTS7000222" => "the client secret is wrong or expired",
        "AADSTS700024" => "the federated token is expired or not yet valid",
        "AADSTS70021" => {
            "no federated identity credential of the application matches the token's issuer and subject"
        }
        "AADSTS50027" => "the federated token is malformed",
        _ => "Entra refused the sign-in",
    }
}

/// The first `AADSTS` code in `text`, e.g. `AADSTS7000215`.
pub fn aadsts_code(text: &str) -> Option<String> {
    let at = text.find("AADSTS")?;
    let digits: String = text[at + 6..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!digits.is_empty()).then(|| format!("AADSTS{digits}"))
}

/// A refusal as we report it: who was refused, Entra's code and what it means; nothing of the
/// request (the secret or the assertion) and not Entra's free text.
pub fn refusal(tenant_id: &str, client_id: &str, status: u16, body: &str) -> String {
    match aadsts_code(body) {
        Some(code) => refused_with(tenant_id, client_id, &code),
        None => format!("Entra refused client {client_id} in tenant {tenant_id} (HTTP {status})"),
    }
}

/// Entra's refusal with its code and what the code means.
fn refused_with(tenant_id: &str, client_id: &str, code: &str) -> String {
    format!(
        "Entra refused client {client_id} in tenant {tenant_id}: {code} ({})",
        meaning(code)
    )
}

/// azure_identity's client-secret credential.
pub fn client_secret(
    authority: Url,
    tenant_id: &str,
    client_id: &str,
    secret: &str,
) -> Arc<dyn TokenCredential> {
    Arc::new(azure_identity::ClientSecretCredential::new(
        azure_core::new_http_client(),
        authority,
        tenant_id.to_owned(),
        client_id.to_owned(),
        secret.to_owned(),
    ))
}

/// A credential whose errors say where it was defined, which application Entra refused and why
/// (see [`explain`]).
pub struct Explaining {
    inner: Arc<dyn TokenCredential>,
    tenant_id: String,
    client_id: String,
    /// `Secret NAMESPACE/NAME` or the file: where to fix it.
    source: String,
}

impl Explaining {
    pub fn new(
        inner: Arc<dyn TokenCredential>,
        tenant_id: &str,
        client_id: &str,
        source: &str,
    ) -> Self {
        Self {
            inner,
            tenant_id: tenant_id.to_owned(),
            client_id: client_id.to_owned(),
            source: source.to_owned(),
        }
    }
}

impl std::fmt::Debug for Explaining {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Explaining")
            .field("client_id", &self.client_id)
            .field("source", &self.source)
            .finish()
    }
}

#[async_trait::async_trait]
impl TokenCredential for Explaining {
    async fn get_token(&self, scopes: &[&str]) -> azure_core::Result<AccessToken> {
        self.inner.get_token(scopes).await.map_err(|e| {
            WorkloadIdentity::credential_error(format!(
                "{}: {}",
                self.source,
                explain(&self.tenant_id, &self.client_id, &e)
            ))
        })
    }

    async fn clear_cache(&self) -> azure_core::Result<()> {
        self.inner.clear_cache().await
    }
}

/// A token error as the operator reports it: for an Entra refusal, [`refusal`]'s form (the
/// client-secret credential keeps Entra's answer only in its error's debug form, from which we
/// take the code alone); otherwise the error's own text.
pub fn explain(tenant_id: &str, client_id: &str, e: &azure_core::Error) -> String {
    let text = e.to_string();
    if text.contains("Entra refused") {
        return text;
    }
    match aadsts_code(&format!("{e:?}")) {
        Some(code) => refused_with(tenant_id, client_id, &code),
        None => {
            // The causes' own texts (a connection error names the authority's URL, nothing more).
            let mut text =
                format!("token request for client {client_id} in tenant {tenant_id}: {text}");
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                text.push_str(&format!(": {c}"));
                cause = c.source();
            }
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_is_kept_and_the_rest_of_the_answer_is_not() {
        let body = r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Trace ID: x"}"#;
        let r = refusal("t", "c", 401, body);
        assert_eq!(
            r,
            "Entra refused client c in tenant t: AADSTS7000215 (the client secret is wrong or expired)"
        );
        assert!(!r.contains("Trace"));
        assert_eq!(
            refusal("t", "c", 500, "oops"),
            "Entra refused client c in tenant t (HTTP 500)"
        );
        assert_eq!(aadsts_code("AADSTS: none"), None);
    }

    #[test]
    fn token_url_appends_the_tenant_path() {
        let a = Url::parse("https://login.microsoftonline.com/").unwrap();
        assert_eq!(
            token_url(&a, "contoso").unwrap().as_str(),
            "https://login.microsoftonline.com/contoso/oauth2/v2.0/token"
        );
        let a = Url::parse("http://127.0.0.1:9/base").unwrap();
        assert_eq!(
            token_url(&a, "t").unwrap().as_str(),
            "http://127.0.0.1:9/base/t/oauth2/v2.0/token"
        );
    }
}
