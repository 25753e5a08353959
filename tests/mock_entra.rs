//! The mock's Microsoft Entra authority against azure_identity's own credential code (client
//! secret and federated workload identity), and ARM / Key Vault attributing each request to the
//! principal of its token: audience, expiry, subscription tenant, throttle buckets per principal.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use azure_core::auth::TokenCredential;
use azure_core::{HttpClient, Url};
use azure_identity::{federated_credentials_flow, ClientSecretCredential};
use engram_operator::mock_arm::{
    assertion, token_claims, EntraConfig, EntraPrincipal, FederatedCredential, MockArm, MockConfig,
    ThrottleConfig,
};
use serde_json::{json, Value};

const TENANT: &str = "11111111-1111-1111-1111-111111111111";
const OTHER_TENANT: &str = "22222222-2222-2222-2222-222222222222";
const APP: &str = "aaaaaaaa-0000-0000-0000-000000000001";
const APP2: &str = "aaaaaaaa-0000-0000-0000-000000000002";
const SECRET: &str = "app-secret-Value~1";
const ISSUER: &str = "https://oidc.mock.example/cluster-1";
const SA: &str = "system:serviceaccount:engram:operator";
const ARM_SCOPE: &str = "https://management.azure.com/.default";
const VAULT_SCOPE: &str = "https://vault.azure.net/.default";
const SUB: &str = "00000000-0000-0000-0000-000000000001";
const SUB2: &str = "00000000-0000-0000-0000-000000000002";

fn principal(tenant: &str, client: &str) -> EntraPrincipal {
    let mut p = EntraPrincipal::new(tenant, client);
    p.secrets.push(SECRET.into());
    p.federated.push(FederatedCredential::new(ISSUER, SA));
    p
}

fn config() -> MockConfig {
    MockConfig {
        entra: EntraConfig {
            principals: vec![principal(TENANT, APP), principal(TENANT, APP2)],
            ..EntraConfig::default()
        },
        ..MockConfig::default()
    }
}

async fn mock_with(config: MockConfig) -> MockArm {
    MockArm::start(config).await.expect("mock starts")
}

fn http() -> Arc<dyn HttpClient> {
    azure_core::new_http_client()
}

fn authority(m: &MockArm) -> Url {
    Url::parse(&m.entra_url()).expect("authority url")
}

fn secret_credential(
    m: &MockArm,
    tenant: &str,
    client: &str,
    secret: &str,
) -> ClientSecretCredential {
    ClientSecretCredential::new(
        http(),
        authority(m),
        tenant.into(),
        client.into(),
        secret.into(),
    )
}

/// A token from azure_identity's client secret credential.
async fn secret_token(
    m: &MockArm,
    tenant: &str,
    client: &str,
    scope: &str,
) -> azure_core::Result<String> {
    let cred = secret_credential(m, tenant, client, SECRET);
    let t = cred.get_token(&[scope]).await?;
    Ok(t.token.secret().to_owned())
}

/// A token from azure_identity's federated credentials flow, for an assertion.
async fn federated_token(m: &MockArm, client: &str, assertion: &str) -> azure_core::Result<String> {
    let r = federated_credentials_flow::perform(
        http(),
        client,
        assertion,
        &[ARM_SCOPE],
        TENANT,
        &authority(m),
    )
    .await?;
    Ok(r.access_token().secret().to_owned())
}

fn pg_list(sub: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers?api-version=2024-08-01")
}

/// An ARM GET with a bearer token: status and body.
async fn arm_get(m: &MockArm, path: &str, token: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{}{path}", m.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("sent");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Create a Key Vault key with a bearer token: the status.
async fn vault_create(m: &MockArm, token: &str) -> u16 {
    reqwest::Client::new()
        .post(format!(
            "{}/keys/k1/create?api-version=7.4",
            m.keyvault_url()
        ))
        .header("host", "kv-one.vault.azure.net")
        .bearer_auth(token)
        .json(&json!({"kty": "RSA"}))
        .send()
        .await
        .expect("sent")
        .status()
        .as_u16()
}

fn last_outcome(m: &MockArm) -> String {
    m.token_requests()
        .last()
        .map(|r| r.outcome.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_client_secret_credential_gets_a_token_and_arm_names_its_principal() {
    let m = mock_with(config()).await;
    let token = secret_token(&m, TENANT, APP, ARM_SCOPE)
        .await
        .expect("token issued");
    let claims = token_claims(&token).expect("JWT-shaped");
    assert_eq!(claims["aud"], "https://management.azure.com");
    assert_eq!(claims["iss"], format!("https://sts.windows.net/{TENANT}/"));
    assert_eq!(
        (claims["tid"].as_str(), claims["appid"].as_str()),
        (Some(TENANT), Some(APP))
    );
    assert_eq!(claims["exp"].as_i64(), Some(m.now_unix() + 3599));

    let (status, body) = arm_get(&m, &pg_list(SUB), &token).await;
    assert_eq!(status, 200, "{body}");
    let entry = m.journal().pop().expect("journaled");
    assert_eq!(entry.principal, format!("{TENANT}/{APP}"));
    // The static token still works, under its own name.
    let (status, _) = arm_get(&m, &pg_list(SUB), m.token()).await;
    assert_eq!(status, 200);
    assert_eq!(m.journal().pop().expect("journaled").principal, "static");

    let requests = m.token_requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(
        (
            r.tenant.as_str(),
            r.client_id.as_str(),
            r.grant.as_str(),
            r.scope.as_str()
        ),
        (TENANT, APP, "client_secret", ARM_SCOPE)
    );
    assert_eq!(r.outcome, "issued");
}

#[tokio::test]
async fn a_forged_token_is_refused_even_with_valid_looking_claims() {
    let m = mock_with(config()).await;
    let token = secret_token(&m, TENANT, APP, ARM_SCOPE)
        .await
        .expect("token issued");
    let (head, _) = token.rsplit_once('.').expect("three parts");
    let forged = format!("{head}.AAAA");
    let (status, body) = arm_get(&m, &pg_list(SUB), &forged).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("InvalidAuthenticationToken"))
    );
    assert_eq!(m.journal().pop().expect("journaled").principal, "");
}

#[tokio::test]
async fn a_wrong_secret_is_refused_with_aadsts7000215_and_never_echoed() {
    let m = mock_with(config()).await;
    let wrong = "not-the-Secret-42";
    let cred = secret_credential(&m, TENANT, APP, wrong);
    let err = cred.get_token(&[ARM_SCOPE]).await.expect_err("refused");
    let text = format!("{err} {err:?}");
    assert!(text.contains("AADSTS7000215"), "{text}");
    assert!(!text.contains(wrong), "{text}");
    assert_eq!(last_outcome(&m), "AADSTS7000215");

    // The body is Entra's error shape, and does not quote the secret either.
    let r = reqwest::Client::new()
        .post(format!("{}/{TENANT}/oauth2/v2.0/token", m.entra_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", APP),
            ("scope", ARM_SCOPE),
            ("client_secret", wrong),
        ])
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status().as_u16(), 401);
    let raw = r.text().await.expect("text");
    assert!(!raw.contains(wrong), "{raw}");
    let body: Value = serde_json::from_str(&raw).expect("json");
    assert_eq!(body["error"], "invalid_client");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.starts_with("AADSTS7000215: ")),
        "{body}"
    );
    assert_eq!(body["error_codes"], json!([7000215]));
    for field in ["timestamp", "trace_id", "correlation_id"] {
        assert!(
            body[field].as_str().is_some_and(|v| !v.is_empty()),
            "{field}: {body}"
        );
    }
    assert!(m.token_requests().iter().all(|r| r.outcome != "issued"));
}

#[tokio::test]
async fn an_unknown_client_or_tenant_is_refused() {
    let m = mock_with(config()).await;
    let stranger = "bbbbbbbb-0000-0000-0000-000000000009";
    let err = secret_token(&m, TENANT, stranger, ARM_SCOPE)
        .await
        .expect_err("refused");
    assert!(format!("{err:?}").contains("AADSTS700016"), "{err:?}");
    assert_eq!(last_outcome(&m), "AADSTS700016");
    let err = secret_token(&m, OTHER_TENANT, APP, ARM_SCOPE)
        .await
        .expect_err("refused");
    assert!(format!("{err:?}").contains("AADSTS90002"), "{err:?}");
}

#[tokio::test]
async fn the_federated_flow_trades_a_valid_assertion_for_a_token() {
    let m = mock_with(config()).await;
    let now = m.now_unix();
    let a = assertion(ISSUER, SA, now - 10, now + 3600, "jti-1");
    let token = federated_token(&m, APP, &a).await.expect("token issued");
    let (status, _) = arm_get(&m, &pg_list(SUB), &token).await;
    assert_eq!(status, 200);
    assert_eq!(
        m.journal().pop().expect("journaled").principal,
        format!("{TENANT}/{APP}")
    );
    let r = m.token_requests().pop().expect("journaled");
    assert_eq!(r.grant, "client_assertion");
    assert_eq!(r.assertion_subject.as_deref(), Some(SA));
    assert_eq!(r.assertion_jti.as_deref(), Some("jti-1"));
    assert_eq!(r.outcome, "issued");
    assert!(
        !format!("{:?}", m.token_requests()).contains(&a),
        "assertion not journaled"
    );
}

#[tokio::test]
async fn an_expired_assertion_is_refused_with_aadsts700024() {
    let m = mock_with(config()).await;
    let now = m.now_unix();
    let a = assertion(ISSUER, SA, now, now + 600, "jti-2");
    assert!(federated_token(&m, APP, &a).await.is_ok());
    m.advance(Duration::from_secs(601));
    let err = federated_token(&m, APP, &a).await.expect_err("refused");
    assert!(err.to_string().contains("401"), "{err}");
    assert_eq!(last_outcome(&m), "AADSTS700024");
    // Not yet valid is refused the same way.
    let now = m.now_unix();
    let early = assertion(ISSUER, SA, now + 60, now + 600, "jti-3");
    assert!(federated_token(&m, APP, &early).await.is_err());
    assert_eq!(last_outcome(&m), "AADSTS700024");
}

#[tokio::test]
async fn an_assertion_for_another_subject_matches_no_federated_credential() {
    let m = mock_with(config()).await;
    let now = m.now_unix();
    let a = assertion(
        ISSUER,
        "system:serviceaccount:engram:intruder",
        now,
        now + 600,
        "j",
    );
    let err = federated_token(&m, APP, &a).await.expect_err("refused");
    assert!(err.to_string().contains("400"), "{err}");
    assert_eq!(last_outcome(&m), "AADSTS70021");
    assert!(federated_token(&m, APP, "garbage").await.is_err());
    assert_eq!(last_outcome(&m), "AADSTS50027");
}

#[tokio::test]
async fn a_token_works_only_on_the_listener_of_its_audience() {
    let m = mock_with(config()).await;
    let vault = secret_token(&m, TENANT, APP, VAULT_SCOPE)
        .await
        .expect("token");
    let arm = secret_token(&m, TENANT, APP, ARM_SCOPE)
        .await
        .expect("token");
    let (status, body) = arm_get(&m, &pg_list(SUB), &vault).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("InvalidAuthenticationToken"))
    );
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|t| t.contains("wrong audience or resource")));
    assert_eq!(vault_create(&m, &arm).await, 401);
    assert_eq!(vault_create(&m, &vault).await, 200);
    let kv = m.journal().pop().expect("journaled");
    assert_eq!(
        (kv.status, kv.principal.as_str()),
        (200, format!("{TENANT}/{APP}").as_str())
    );
}

#[tokio::test]
async fn an_issued_token_expires_on_the_mock_clock() {
    let m = mock_with(config()).await;
    let token = secret_token(&m, TENANT, APP, ARM_SCOPE)
        .await
        .expect("token");
    m.advance(Duration::from_secs(3598));
    assert_eq!(arm_get(&m, &pg_list(SUB), &token).await.0, 200);
    m.advance(Duration::from_secs(1));
    let (status, body) = arm_get(&m, &pg_list(SUB), &token).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("ExpiredAuthenticationToken"))
    );
}

#[tokio::test]
async fn a_token_of_another_tenant_is_refused_on_a_mapped_subscription() {
    let mut config = config();
    config.entra.principals.push(principal(OTHER_TENANT, APP));
    config.entra.subscription_tenants = BTreeMap::from([(SUB.to_owned(), TENANT.to_owned())]);
    let m = mock_with(config).await;
    let foreign = secret_token(&m, OTHER_TENANT, APP, ARM_SCOPE)
        .await
        .expect("token");
    let home = secret_token(&m, TENANT, APP, ARM_SCOPE)
        .await
        .expect("token");
    let (status, body) = arm_get(&m, &pg_list(SUB), &foreign).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("InvalidAuthenticationTokenTenant"))
    );
    assert_eq!(arm_get(&m, &pg_list(SUB), &home).await.0, 200);
    // A subscription the map does not name takes either tenant.
    assert_eq!(arm_get(&m, &pg_list(SUB2), &foreign).await.0, 200);
}

/// A mock whose principals may read twice per subscription (`factor` × that across principals),
/// tokens of two principals of one tenant, and the first principal's two reads spent.
async fn one_drained(factor: f64) -> (MockArm, String, String) {
    let mut config = config();
    config.throttle = ThrottleConfig {
        read_capacity: 2.0,
        read_refill_per_sec: 0.01,
        subscription_factor: factor,
        ..ThrottleConfig::default()
    };
    let m = mock_with(config).await;
    let one = secret_token(&m, TENANT, APP, ARM_SCOPE)
        .await
        .expect("token");
    let two = secret_token(&m, TENANT, APP2, ARM_SCOPE)
        .await
        .expect("token");
    for _ in 0..2 {
        assert_eq!(arm_get(&m, &pg_list(SUB), &one).await.0, 200);
    }
    (m, one, two)
}

#[tokio::test]
async fn two_principals_on_one_subscription_have_separate_throttle_buckets() {
    let (m, one, two) = one_drained(ThrottleConfig::default().subscription_factor).await;
    let (status, body) = arm_get(&m, &pg_list(SUB), &one).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("TooManyRequests"))
    );
    assert_eq!(arm_get(&m, &pg_list(SUB), &two).await.0, 200);
    assert_eq!(arm_get(&m, &pg_list(SUB), m.token()).await.0, 200);
}

#[tokio::test]
async fn the_subscription_wide_limit_holds_across_principals() {
    // Each principal may read 2, the subscription 2 × 1.5 = 3 across principals.
    let (m, _, two) = one_drained(1.5).await;
    assert_eq!(arm_get(&m, &pg_list(SUB), &two).await.0, 200);
    let (status, body) = arm_get(&m, &pg_list(SUB), &two).await;
    assert_eq!(status, 429);
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("subscription-wide"), "{message}");
    // Another subscription is untouched.
    assert_eq!(arm_get(&m, &pg_list(SUB2), &two).await.0, 200);
}

#[tokio::test]
async fn principals_are_upserted_by_handle_and_control_api_and_survive_reset() {
    let m = mock_with(MockConfig::default()).await;
    assert!(secret_token(&m, TENANT, APP, ARM_SCOPE).await.is_err());
    assert_eq!(last_outcome(&m), "AADSTS90002");
    let http = reqwest::Client::new();
    let posted = http
        .post(format!("{}/_mock/entra/principals", m.base_url()))
        .json(&json!({"tenantId": TENANT, "clientId": APP, "displayName": "operator", "secrets": [SECRET]}))
        .send()
        .await
        .expect("sent");
    assert_eq!(posted.status().as_u16(), 200);
    let token = secret_token(&m, TENANT, APP, ARM_SCOPE)
        .await
        .expect("token");

    // Rotating the secret: the old one is refused, the token already issued stays valid.
    let mut rotated = EntraPrincipal::new(TENANT, APP);
    rotated.secrets.push("second-secret".into());
    m.add_principal(rotated).expect("valid");
    assert!(secret_token(&m, TENANT, APP, ARM_SCOPE).await.is_err());
    assert_eq!(last_outcome(&m), "AADSTS7000215");
    let listed: Value = http
        .get(format!("{}/_mock/entra/requests", m.base_url()))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let outcomes: Vec<&str> = listed["requests"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["outcome"].as_str())
        .collect();
    assert_eq!(outcomes, ["AADSTS90002", "issued", "AADSTS7000215"]);
    assert!(!listed.to_string().contains(SECRET));

    m.reset();
    assert!(m.token_requests().is_empty());
    assert_eq!(arm_get(&m, &pg_list(SUB), &token).await.0, 200);
    let cred = secret_credential(&m, TENANT, APP, "second-secret");
    assert!(cred.get_token(&[ARM_SCOPE]).await.is_ok());
    assert!(!m.dump().to_string().contains("second-secret"));
    let bad = http
        .post(format!("{}/_mock/entra/principals", m.base_url()))
        .json(&json!({"tenantId": "", "clientId": APP}))
        .send()
        .await
        .expect("sent");
    assert_eq!(bad.status().as_u16(), 400);
}
