//! Helpers of the storage integration tests: a mock ARM on 127.0.0.1:0 with the prod key in its
//! Key Vault, the operator's ARM client pointed at it, reconcile passes on the virtual clock, and
//! the ARM ids the mock journals storage requests under.
#![allow(dead_code)]

use std::time::Duration;

use azure_core::{Method, Request, Url};
use engram_operator::api::{self, EffectiveSpec, EngramDataPlaneStatus};
use engram_operator::azure::{Arm, ArmSettings};
use engram_operator::mock_arm::{LroDurations, MockArm, MockConfig};
use engram_operator::reconcile::{self, Context, Outcome};

pub const LRO: Duration = Duration::from_secs(60);

pub async fn mock() -> MockArm {
    let config = MockConfig {
        lro: LroDurations::uniform(LRO),
        ..MockConfig::default()
    };
    MockArm::start(config).await.expect("mock starts")
}

pub fn arm(m: &MockArm) -> Arm {
    let mut s = ArmSettings::with_token(m.base_url(), m.token());
    s.min_backoff = Duration::from_millis(5);
    Arm::new(s).expect("client")
}

/// POST a Key Vault key action (`create`, `rotate`) on the prod key; returns the new version.
pub async fn key(m: &MockArm, action: &str) -> String {
    let url = format!(
        "{}/keyvault/kv-acme-prod/keys/engram-cmk/{action}?api-version=7.4",
        m.base_url()
    );
    let mut req = Request::new(Url::parse(&url).expect("url"), Method::Post);
    req.insert_header("authorization", format!("Bearer {}", m.token()));
    req.insert_header("content-type", "application/json");
    req.set_body(r#"{"kty":"RSA"}"#.as_bytes().to_vec());
    let rsp = azure_core::new_http_client()
        .execute_request(&req)
        .await
        .expect("key request");
    assert!(rsp.status().is_success(), "{}", rsp.status());
    let body = rsp.into_body().collect_string().await.expect("body");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    let kid = v["key"]["kid"].as_str().expect("kid");
    kid.rsplit('/').next().expect("version").to_owned()
}

/// examples/prod.yaml (keyVersion: latest).
pub fn prod() -> EffectiveSpec {
    api::load(include_str!("../../examples/prod.yaml"))
        .expect("prod example is valid")
        .1
}

/// prod pinned to one key version.
pub fn pinned(version: &str) -> EffectiveSpec {
    let mut eff = prod();
    if let Some(e) = eff.encryption.as_mut() {
        e.key_version = version.into();
    }
    eff
}

pub fn account_id(eff: &EffectiveSpec) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Storage/storageAccounts/{}",
        eff.azure.subscription_id, eff.azure.resource_group, eff.storage.account_name
    )
}
pub fn policy_id(eff: &EffectiveSpec) -> String {
    format!("{}/managementPolicies/default", account_id(eff))
}
pub fn container_id(eff: &EffectiveSpec, name: &str) -> String {
    format!("{}/blobServices/default/containers/{name}", account_id(eff))
}
pub fn immutability_id(eff: &EffectiveSpec, name: &str) -> String {
    format!("{}/immutabilityPolicies/default", container_id(eff, name))
}

pub fn ctx() -> Context {
    Context {
        now: time::OffsetDateTime::now_utc(),
        generation: Some(1),
        poll_interval: Duration::from_millis(10),
        dry_run: false,
    }
}

pub async fn pass(arm: &Arm, eff: &EffectiveSpec, status: &EngramDataPlaneStatus) -> Outcome {
    reconcile::reconcile(arm, Ok(eff), status, &ctx()).await
}

/// Reconcile, moving the virtual clock past each operation, until the plane settles.
pub async fn converge(
    m: &MockArm,
    arm: &Arm,
    eff: &EffectiveSpec,
    mut status: EngramDataPlaneStatus,
) -> Outcome {
    for _ in 0..40 {
        let out = pass(arm, eff, &status).await;
        if out.settled {
            return out;
        }
        status = out.status;
        m.advance(LRO);
    }
    panic!("did not converge: {status:#?}");
}

/// A prod data plane created from nothing and Ready; returns the mock, client and status.
pub async fn ready_prod(eff: &EffectiveSpec) -> (MockArm, Arm, String, Outcome) {
    let m = mock().await;
    let arm = arm(&m);
    let v1 = key(&m, "create").await;
    let out = converge(&m, &arm, eff, Default::default()).await;
    assert!(out.ready(), "{:#?}", out.status);
    (m, arm, v1, out)
}

/// Writes (method, path) in the journal after entry `from`.
pub fn writes_since(m: &MockArm, from: usize) -> Vec<(String, String)> {
    m.journal()
        .into_iter()
        .skip(from)
        .filter(|e| !matches!(e.method.as_str(), "GET" | "HEAD"))
        .map(|e| (e.method, e.path))
        .collect()
}
