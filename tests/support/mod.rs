//! Shared helpers: a mock ARM on 127.0.0.1:0 and the operator's ARM client pointed at it.
#![allow(dead_code)]

use std::time::Duration;

use engram_operator::api::{self, EffectiveSpec, EngramDataPlaneStatus};
use engram_operator::azure::{Arm, ArmSettings};
use engram_operator::mock_arm::{LroDurations, MockArm, MockConfig};
use engram_operator::reconcile::{self, Context, Outcome};

pub const LRO: Duration = Duration::from_secs(60);
pub const SUB: &str = "00000000-0000-0000-0000-000000000001";

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

/// examples/prod.yaml with a pinned key version (no Key Vault read needed).
pub fn prod() -> EffectiveSpec {
    let text = include_str!("../../examples/prod.yaml").replace(
        "keyVersion: latest",
        "keyVersion: 0123456789abcdef0123456789abcdef",
    );
    api::load(&text).expect("prod example is valid").1
}

pub fn dev() -> EffectiveSpec {
    api::load(include_str!("../../examples/dev.yaml"))
        .expect("dev example is valid")
        .1
}

pub fn server_id(eff: &EffectiveSpec) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.DBforPostgreSQL/flexibleServers/{}",
        eff.azure.subscription_id, eff.azure.resource_group, eff.postgres.server_name
    )
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

/// Writes (method, path) in the journal after entry `from`.
pub fn writes_since(m: &MockArm, from: usize) -> Vec<(String, String)> {
    m.journal()
        .into_iter()
        .skip(from)
        .filter(|e| !matches!(e.method.as_str(), "GET" | "HEAD"))
        .map(|e| (e.method, e.path))
        .collect()
}
