//! The mock Entra authority's token endpoint, `POST /{tenant}/oauth2/v2.0/token` on a listener of
//! its own: the client credentials grant with a client secret or a client assertion (federated
//! workload identity), as azure_identity sends them (a form body; `client_id` and `client_secret`
//! in the body, not in Basic auth). Refusals use Entra's error shape and AADSTS codes; no refusal
//! and no journal entry holds a secret or an assertion.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

use super::clock::rfc3339;
use super::control::Inner;
use super::entra::{EntraPrincipal, EntraState, Issued, TokenRequest};
use super::entra_jwt::{access_token, object_id, read_assertion, TokenClaims};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The Entra listener's routes (anything else is a 404).
pub fn routes() -> Router<Arc<Inner>> {
    Router::new().route("/{tenant}/oauth2/v2.0/token", post(token))
}

/// A refused token request: HTTP status, OAuth error, AADSTS code, description (own words).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Refusal {
    status: u16,
    error: &'static str,
    code: u32,
    text: String,
}

impl Refusal {
    fn new(code: u32, error: &'static str, text: String) -> Self {
        // OAuth's invalid_client is Entra's 401; every other refusal is a 400.
        let status = if error == "invalid_client" { 401 } else { 400 };
        Self {
            status,
            error,
            code,
            text,
        }
    }

    fn missing(parameter: &str) -> Self {
        Self::new(
            900144,
            "invalid_request",
            format!("The request body lacks the required parameter '{parameter}'."),
        )
    }
}

/// The form body: the first value of each name.
struct Form(Vec<(String, String)>);

impl Form {
    fn parse(body: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(body).into_owned().collect())
    }

    /// A parameter, if present and not blank.
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.trim().is_empty())
    }
}

/// What a granted request gets a token for.
struct Grant {
    tenant: String,
    client: String,
    audience: String,
}

async fn token(
    State(inner): State<Arc<Inner>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let grant = match (form.get("client_secret"), form.get("client_assertion")) {
        (Some(_), None) => "client_secret",
        (None, Some(_)) => "client_assertion",
        _ => "",
    };
    let mut s = inner.lock();
    let now = s.clock.now();
    let mut note = TokenRequest {
        seq: 0,
        time: rfc3339(now),
        tenant: tenant.clone(),
        client_id: form.get("client_id").unwrap_or_default().to_owned(),
        grant: grant.to_owned(),
        scope: form.get("scope").unwrap_or_default().to_owned(),
        assertion_subject: None,
        assertion_jti: None,
        outcome: String::new(),
    };
    let decided = decide(&s.entra, &tenant, &form, now.unix_timestamp(), &mut note);
    let response = match decided {
        Ok(g) => {
            let lifetime = inner.config.entra.token_lifetime.as_secs();
            let issued_at = now.unix_timestamp();
            let expires = issued_at.saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX));
            let oid = object_id(&g.tenant, &g.client);
            let token = access_token(&TokenClaims {
                tenant: &g.tenant,
                client: &g.client,
                object_id: &oid,
                audience: &g.audience,
                issued_at,
                expires,
            });
            let issued = Issued {
                tenant: g.tenant,
                client: g.client,
                audience: g.audience,
                expires,
            };
            s.entra.remember(token.clone(), issued, issued_at);
            note.outcome = "issued".into();
            let body = json!({
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": token,
            });
            with_headers(StatusCode::OK, Json(body).into_response())
        }
        Err(r) => {
            note.outcome = format!("AADSTS{}", r.code);
            refusal_response(&r, &headers, now)
        }
    };
    s.entra.record(note, inner.config.journal_capacity);
    response
}

/// Entra's checks, in its order: tenant, grant, parameters, client, credential.
fn decide(
    entra: &EntraState,
    tenant: &str,
    form: &Form,
    now: i64,
    note: &mut TokenRequest,
) -> Result<Grant, Refusal> {
    if !entra.knows_tenant(tenant) {
        return Err(Refusal::new(
            90002,
            "invalid_request",
            format!("Tenant '{tenant}' is unknown to this authority: the id may be mistyped, or the directory no longer exists."),
        ));
    }
    let grant_type = form
        .get("grant_type")
        .ok_or_else(|| Refusal::missing("grant_type"))?;
    if grant_type != "client_credentials" {
        return Err(Refusal::new(
            70003,
            "unsupported_grant_type",
            format!("The grant type '{grant_type}' is not supported here; this authority issues application tokens through 'client_credentials' only."),
        ));
    }
    let client = form
        .get("client_id")
        .ok_or_else(|| Refusal::missing("client_id"))?;
    let scope = form.get("scope").ok_or_else(|| Refusal::missing("scope"))?;
    let audience = audience_of(scope)?;
    let principal = entra.principal(tenant, client).ok_or_else(|| {
        Refusal::new(
            700016,
            "unauthorized_client",
            format!("No application with client id '{client}' is registered in tenant '{tenant}'. Check the client id, and that the request went to the tenant the application lives in."),
        )
    })?;
    match (form.get("client_secret"), form.get("client_assertion")) {
        (Some(secret), None) => check_secret(principal, secret)?,
        (None, Some(assertion)) => check_assertion(principal, form, assertion, now, note)?,
        _ => {
            return Err(Refusal::new(
                7000218,
                "invalid_client",
                "The request must carry exactly one client credential, 'client_secret' or 'client_assertion'.".into(),
            ))
        }
    }
    Ok(Grant {
        tenant: principal.tenant_id.clone(),
        client: principal.client_id.clone(),
        audience,
    })
}

/// The client credentials grant takes one resource's `/.default` scope; the token's audience is
/// that resource.
fn audience_of(scope: &str) -> Result<String, Refusal> {
    let mut scopes = scope.split_whitespace();
    let audience = match (scopes.next(), scopes.next()) {
        (Some(one), None) => one.strip_suffix("/.default").filter(|r| !r.is_empty()),
        _ => None,
    };
    audience.map(str::to_owned).ok_or_else(|| {
        Refusal::new(
            1002012,
            "invalid_scope",
            format!("The scope '{scope}' does not suit the client credentials flow, which takes a single resource followed by '/.default'."),
        )
    })
}

fn check_secret(principal: &EntraPrincipal, secret: &str) -> Result<(), Refusal> {
    if principal.secrets.iter().any(|s| s == secret) {
        return Ok(());
    }
    Err(Refusal::new(
        7000215,
        "invalid_client",
        format!("The client secret presented for application '{}' is not valid. Send the secret's value rather than its id; the secret may also have expired or been removed.", principal.client_id),
    ))
}

fn check_assertion(
    principal: &EntraPrincipal,
    form: &Form,
    assertion: &str,
    now: i64,
    note: &mut TokenRequest,
) -> Result<(), Refusal> {
    if form.get("client_assertion_type") != Some(JWT_BEARER) {
        return Err(Refusal::missing("client_assertion_type"));
    }
    let claims = read_assertion(assertion).map_err(|why| {
        Refusal::new(
            50027,
            "invalid_request",
            format!("The client assertion is not a well-formed JWT: {why}."),
        )
    })?;
    note.assertion_subject = Some(claims.subject.clone());
    note.assertion_jti.clone_from(&claims.jti);
    let not_before = claims.not_before.unwrap_or(i64::MIN);
    if now < not_before || now >= claims.expires {
        let at = |t: i64| {
            time::OffsetDateTime::from_unix_timestamp(t)
                .map(rfc3339)
                .unwrap_or_else(|_| t.to_string())
        };
        let from = claims.not_before.map_or_else(|| "any time".to_owned(), at);
        return Err(Refusal::new(
            700024,
            "invalid_client",
            format!(
                "The client assertion is outside its validity window: the time is now {}, the assertion is valid from {from} until {}.",
                at(now),
                at(claims.expires)
            ),
        ));
    }
    let matches = principal.federated.iter().any(|f| {
        f.issuer == claims.issuer
            && f.subject == claims.subject
            && claims.audiences.contains(&f.audience)
    });
    if matches {
        return Ok(());
    }
    Err(Refusal::new(
        70021,
        "invalid_request",
        format!(
            "No federated identity credential of application '{}' matches the assertion (issuer '{}', subject '{}', audience '{}').",
            principal.client_id,
            claims.issuer,
            claims.subject,
            claims.audiences.join(",")
        ),
    ))
}

/// Entra's error body: the description leads with the AADSTS code and ends with the ids and time.
fn refusal_response(r: &Refusal, headers: &HeaderMap, now: time::OffsetDateTime) -> Response {
    let trace_id = uuid_like();
    let correlation_id = headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 64)
        .map_or_else(uuid_like, str::to_owned);
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
    let timestamp = now.format(&format).unwrap_or_default();
    let body = json!({
        "error": r.error,
        "error_description": format!(
            "AADSTS{}: {} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}",
            r.code, r.text
        ),
        "error_codes": [r.code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
    });
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
    with_headers(status, Json(body).into_response())
}

fn with_headers(status: StatusCode, mut response: Response) -> Response {
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert(
        "cache-control",
        HeaderValue::from_static("no-store, no-cache"),
    );
    h.insert("pragma", HeaderValue::from_static("no-cache"));
    response
}

fn uuid_like() -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        fastrand::u32(..),
        fastrand::u16(..),
        fastrand::u16(..0x1000),
        fastrand::u16(..0x1000),
        fastrand::u64(..0x1_0000_0000_0000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock_arm::entra::FederatedCredential;
    use crate::mock_arm::entra_jwt::assertion;

    fn state() -> EntraState {
        let mut p = EntraPrincipal::new("tenant-a", "app-1");
        p.secrets.push("right".into());
        p.federated.push(FederatedCredential::new(
            "https://oidc",
            "system:serviceaccount:ns:sa",
        ));
        let mut s = EntraState::default();
        s.upsert(p).expect("valid");
        s
    }

    fn note() -> TokenRequest {
        TokenRequest {
            seq: 0,
            time: String::new(),
            tenant: String::new(),
            client_id: String::new(),
            grant: String::new(),
            scope: String::new(),
            assertion_subject: None,
            assertion_jti: None,
            outcome: String::new(),
        }
    }

    fn code(tenant: &str, body: &str, now: i64) -> Result<String, u32> {
        let form = Form::parse(body.as_bytes());
        decide(&state(), tenant, &form, now, &mut note())
            .map(|g| g.audience)
            .map_err(|r| r.code)
    }

    const BASE: &str = "grant_type=client_credentials&client_id=app-1&scope=https%3A%2F%2Fmanagement.azure.com%2F.default";

    #[test]
    fn secrets_grant_or_refuse_with_entra_codes() {
        let ok = format!("{BASE}&client_secret=right");
        assert_eq!(
            code("tenant-a", &ok, 0),
            Ok("https://management.azure.com".into())
        );
        assert_eq!(code("TENANT-A", &ok, 0).map(|_| ()), Ok(()));
        assert_eq!(code("tenant-b", &ok, 0), Err(90002));
        assert_eq!(
            code("tenant-a", &format!("{BASE}&client_secret=wrong"), 0),
            Err(7000215)
        );
        assert_eq!(code("tenant-a", BASE, 0), Err(7000218));
        let other = ok.replace("app-1", "app-2");
        assert_eq!(code("tenant-a", &other, 0), Err(700016));
        let grant = ok.replace("client_credentials", "password");
        assert_eq!(code("tenant-a", &grant, 0), Err(70003));
        assert_eq!(code("tenant-a", "client_id=app-1", 0), Err(900144));
        let no_scope = "grant_type=client_credentials&client_id=app-1&client_secret=right";
        assert_eq!(code("tenant-a", no_scope, 0), Err(900144));
        let bad_scope = ok.replace("%2F.default", "");
        assert_eq!(code("tenant-a", &bad_scope, 0), Err(1002012));
    }

    #[test]
    fn assertions_are_checked_for_shape_time_and_federation() {
        let with = |a: &str| {
            format!(
                "{BASE}&client_assertion_type={}&client_assertion={a}",
                JWT_BEARER
            )
        };
        let good = assertion("https://oidc", "system:serviceaccount:ns:sa", 100, 200, "j");
        assert!(code("tenant-a", &with(&good), 150).is_ok());
        assert_eq!(code("tenant-a", &with(&good), 200), Err(700024));
        assert_eq!(code("tenant-a", &with(&good), 99), Err(700024));
        let stranger = assertion(
            "https://oidc",
            "system:serviceaccount:ns:other",
            100,
            200,
            "j",
        );
        assert_eq!(code("tenant-a", &with(&stranger), 150), Err(70021));
        let elsewhere = assertion(
            "https://other",
            "system:serviceaccount:ns:sa",
            100,
            200,
            "j",
        );
        assert_eq!(code("tenant-a", &with(&elsewhere), 150), Err(70021));
        assert_eq!(code("tenant-a", &with("not-a-jwt"), 150), Err(50027));
        let untyped = format!("{BASE}&client_assertion={good}");
        assert_eq!(code("tenant-a", &untyped, 150), Err(900144));
        let both = format!("{}&client_secret=right", with(&good));
        assert_eq!(code("tenant-a", &both, 150), Err(7000218));
    }

    #[test]
    fn refusals_never_quote_the_credential() {
        let mut n = note();
        let secret = format!("{BASE}&client_secret=hunter2-wrong");
        let r = decide(
            &state(),
            "tenant-a",
            &Form::parse(secret.as_bytes()),
            0,
            &mut n,
        )
        .err()
        .expect("refused");
        assert!(!r.text.contains("hunter2-wrong"));
        let a = assertion("https://oidc", "system:serviceaccount:ns:x", 0, 10, "j");
        let body = format!("{BASE}&client_assertion_type={JWT_BEARER}&client_assertion={a}");
        let r = decide(
            &state(),
            "tenant-a",
            &Form::parse(body.as_bytes()),
            5,
            &mut n,
        )
        .err()
        .expect("refused");
        assert!(!r.text.contains(&a));
        assert_eq!(
            n.assertion_subject.as_deref(),
            Some("system:serviceaccount:ns:x")
        );
        assert_eq!(n.assertion_jti.as_deref(), Some("j"));
    }
}
