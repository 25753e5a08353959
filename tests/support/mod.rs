//! Shared helpers: a mock ARM on 127.0.0.1:0 and the operator's ARM client pointed at it.
#![allow(dead_code)]

use std::time::Duration;

use azure_core::{Method, Request, Url};

use engram_operator::api::{self, EffectiveSpec, EngramDataPlaneStatus};
use engram_operator::azure::Arm;
use engram_operator::mock_arm::{LroDurations, MockArm, MockConfig};
use engram_operator::reconcile::{self, Context, Outcome};

pub const LRO: Duration = Duration::from_secs(60);
pub const SUB: &str = "00000000-0000-0000-0000-000000000001";

/// The vault of examples/prod.yaml's geo-backup key (the paired region's).
pub const GEO_VAULT: &str = "kv-acme-prod-cus";

/// A mock ARM whose Key Vault already holds the prod key (the storage account checks it) and the
/// prod geo-backup key.
pub async fn mock() -> MockArm {
    let m = bare_mock().await;
    kv_key(&m, "create").await;
    kv_key_in(&m, GEO_VAULT, "engram-cmk", "create").await;
    m
}

/// A mock on the real clock (the key versions it creates are as old as the test, as `evidence`
/// judges key age against the real time), holding the prod keys.
pub async fn realtime_mock() -> MockArm {
    let config = MockConfig {
        clock: engram_operator::mock_arm::ClockMode::RealTime,
        lro: LroDurations::uniform(LRO),
        ..MockConfig::default()
    };
    let m = MockArm::start(config).await.expect("mock starts");
    kv_key(&m, "create").await;
    kv_key_in(&m, GEO_VAULT, "engram-cmk", "create").await;
    m
}

/// A mock ARM with an empty Key Vault.
pub async fn bare_mock() -> MockArm {
    let config = MockConfig {
        lro: LroDurations::uniform(LRO),
        ..MockConfig::default()
    };
    MockArm::start(config).await.expect("mock starts")
}

/// POST a Key Vault key action (`create`, `rotate`) on the prod key, on the mock's Key Vault
/// listener as the vault's host; returns the new version.
pub async fn kv_key(m: &MockArm, action: &str) -> String {
    kv_key_in(m, "kv-acme-prod", "engram-cmk", action).await
}

/// POST a Key Vault key action on any key of the mock's vaults; returns the new version.
pub async fn kv_key_in(m: &MockArm, vault: &str, key: &str, action: &str) -> String {
    let url = format!("{}/keys/{key}/{action}?api-version=7.4", m.keyvault_url());
    let mut req = Request::new(Url::parse(&url).expect("url"), Method::Post);
    req.insert_header("host", format!("{vault}.vault.azure.net"));
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

/// An ARM request to the mock as someone else would send it (the portal, another tool):
/// (status, JSON body or null).
pub async fn direct(
    m: &MockArm,
    method: &str,
    path: &str,
    api_version: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let url = format!("{}{path}?api-version={api_version}", m.base_url());
    let mut rb = reqwest::Client::new()
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
            url,
        )
        .bearer_auth(m.token());
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.expect("sent");
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or_default())
}

pub fn arm(m: &MockArm) -> Arm {
    let mut s = m.arm_settings();
    s.min_backoff = Duration::from_millis(5);
    Arm::new(s).expect("client")
}

/// examples/prod.yaml (keyVersion: latest; `mock()` holds the key).
pub fn prod() -> EffectiveSpec {
    api::load(include_str!("../../examples/prod.yaml"))
        .expect("prod example is valid")
        .1
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
        max_operation_age: reconcile::DEFAULT_MAX_OPERATION_AGE,
        owner: "folder/test".into(),
        db: None,
        intents: Default::default(),
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

/// `c` moved `secs` seconds on (a later pass on the same virtual timeline).
pub fn at(c: &Context, secs: i64) -> Context {
    Context {
        now: c.now + time::Duration::seconds(secs),
        ..c.clone()
    }
}

/// A folder runner over a temporary folder holding `examples/dev.yaml`, writing status files:
/// (the temporary folder, kept alive by the caller; the specs folder; the status folder; the runner).
pub fn dev_folder(
    m: &MockArm,
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    std::path::PathBuf,
    engram_operator::sources::folder::Folder,
) {
    use engram_operator::sources::folder::{Folder, FolderOptions};
    let dir = tempfile::tempdir().expect("tempdir");
    let specs = dir.path().join("specs");
    let status = dir.path().join("status");
    std::fs::create_dir(&specs).expect("mkdir");
    std::fs::copy("examples/dev.yaml", specs.join("dev.yaml")).expect("copy");
    let mut opts = FolderOptions::new(&specs);
    opts.status_dir = Some(status.clone());
    let folder = Folder::new(std::sync::Arc::new(arm(m)), opts);
    (dir, specs, status, folder)
}

/// Every GET of the prod server answers `status code: message` from now on.
pub fn fail_server_reads(m: &MockArm, status: u16, code: &str, message: &str) {
    use engram_operator::mock_arm::{FaultKind, FaultSpec};
    m.inject_fault(FaultSpec::new(
        "GET",
        "/subscriptions/*/flexibleServers/acme-prod-pg",
        FaultKind::Status {
            status,
            code: code.into(),
            message: message.into(),
        },
    ))
    .expect("fault");
}

/// One pass at each of `secs` after now, each from the status the previous one left.
pub async fn passes_at(arm: &Arm, eff: &EffectiveSpec, secs: &[i64]) -> Vec<Outcome> {
    let c0 = ctx();
    let mut status = EngramDataPlaneStatus::default();
    let mut outs = Vec::new();
    for s in secs {
        let out = reconcile::reconcile(arm, Ok(eff), &status, &at(&c0, *s)).await;
        status = out.status.clone();
        outs.push(out);
    }
    outs
}

/// A throwaway local PostgreSQL with pgvector (the operator's role `engram`), or None when the
/// binaries are absent outside CI (.ci/tools.sh installs them; in CI their absence fails).
pub async fn local_pg() -> Option<engram_operator::database::local::LocalPostgres> {
    use engram_operator::database::local::{LocalError, LocalPostgres};
    match LocalPostgres::start("engram").await {
        Ok(pg) => Some(pg),
        Err(LocalError::NoBinaries) if std::env::var("CI").map_or(true, |v| v != "true") => {
            eprintln!("skipped: no PostgreSQL binaries (run .ci/tools.sh)");
            None
        }
        Err(e) => panic!("local PostgreSQL: {e}"),
    }
}

/// Customer tenants for the per-plane credential tests: tenant A (client A by secret, client W by
/// workload identity) owns subscription SUB_A; tenant B (client B by secret) owns SUB_B.
pub mod tenants {
    use engram_operator::mock_arm::{
        EntraConfig, EntraPrincipal, FederatedCredential, LroDurations, MockArm, MockConfig,
    };

    pub const TENANT_A: &str = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    pub const CLIENT_A: &str = "a1a1a1a1-0000-4000-8000-00000000000a";
    pub const CLIENT_W: &str = "a2a2a2a2-0000-4000-8000-00000000000c";
    pub const TENANT_B: &str = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb";
    pub const CLIENT_B: &str = "b1b1b1b1-0000-4000-8000-00000000000b";
    pub const SUB_A: &str = "00000000-0000-0000-0000-00000000000a";
    pub const SUB_B: &str = "00000000-0000-0000-0000-00000000000b";
    pub const ISSUER: &str = "https://oidc.provider.example/cluster";
    pub const SUBJECT: &str = "system:serviceaccount:engram-system:engram-operator";

    pub fn principal_a(secret: &str) -> EntraPrincipal {
        let mut p = EntraPrincipal::new(TENANT_A, CLIENT_A);
        p.secrets = vec![secret.into()];
        p
    }

    pub fn principal_b(secret: &str) -> EntraPrincipal {
        let mut p = EntraPrincipal::new(TENANT_B, CLIENT_B);
        p.secrets = vec![secret.into()];
        p
    }

    /// The configuration with both tenants; tokens live `token_secs` (mock clock).
    pub fn config(token_secs: u64) -> MockConfig {
        let mut w = EntraPrincipal::new(TENANT_A, CLIENT_W);
        w.federated = vec![FederatedCredential::new(ISSUER, SUBJECT)];
        let entra = EntraConfig {
            principals: vec![principal_a("secret-a-1"), principal_b("secret-b-1"), w],
            token_lifetime: std::time::Duration::from_secs(token_secs),
            subscription_tenants: [(SUB_A, TENANT_A), (SUB_B, TENANT_B)]
                .into_iter()
                .map(|(s, t)| (s.to_owned(), t.to_owned()))
                .collect(),
        };
        MockConfig {
            lro: LroDurations::uniform(super::LRO),
            entra,
            ..MockConfig::default()
        }
    }

    /// The mock with both tenants; tokens live `token_secs` (mock clock).
    pub async fn mock(token_secs: u64) -> MockArm {
        MockArm::start(config(token_secs))
            .await
            .expect("mock starts")
    }

    /// The mock with both tenants and these ARM limits.
    pub async fn mock_with_throttle(
        throttle: engram_operator::mock_arm::ThrottleConfig,
    ) -> MockArm {
        let config = MockConfig {
            throttle,
            ..config(3599)
        };
        MockArm::start(config).await.expect("mock starts")
    }

    /// The operator's settings against `m`, its Entra authority included.
    pub fn settings(m: &MockArm) -> engram_operator::azure::ArmSettings {
        let mut s = m.arm_settings();
        s.authority_host = Some(m.entra_url());
        s.min_backoff = std::time::Duration::from_millis(5);
        s
    }

    /// examples/dev.yaml as plane `name` in `sub`, with its own resource names, running, its
    /// credential from `credential` when given.
    pub fn plane_yaml(name: &str, sub: &str, credential: Option<&str>) -> String {
        let text = include_str!("../../examples/dev.yaml");
        let mut text = text
            .replace("acme-dev", name)
            .replace("acmeengramdev", &name.replace('-', ""))
            .replace("00000000-0000-0000-0000-000000000001", sub)
            .replace("state: Stopped", "state: Running");
        if let Some(c) = credential {
            text = text.replace(
                "    location: eastus2\n",
                &format!("    location: eastus2\n    credentialFrom: {c}\n"),
            );
        }
        text
    }

    /// How many requests the journal holds for `sub`.
    pub fn requests_to(m: &MockArm, sub: &str) -> usize {
        m.journal().iter().filter(|e| e.path.contains(sub)).count()
    }

    /// The principals of the journal's requests to `sub` (ARM and Key Vault).
    pub fn principals_of(m: &MockArm, sub: &str) -> std::collections::BTreeSet<String> {
        m.journal()
            .into_iter()
            .filter(|e| e.path.contains(sub))
            .map(|e| e.principal)
            .collect()
    }
}

/// A mock-kube with the EngramDataPlane CRD and these namespaces, and a client of it.
pub async fn kube_cluster(
    namespaces: &[&str],
) -> (engram_operator::mock_kube::MockKube, kube::Client) {
    use engram_operator::mock_kube::{MockKube, MockKubeConfig};
    use k8s_openapi::api::core::v1::Namespace;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{Api, PostParams};
    use kube::CustomResourceExt;
    let mock = MockKube::start(MockKubeConfig::default())
        .await
        .expect("mock-kube");
    let kc = kube::config::Kubeconfig::from_yaml(&mock.kubeconfig()).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("config");
    let client = kube::Client::try_from(config).expect("client");
    Api::<CustomResourceDefinition>::all(client.clone())
        .create(&PostParams::default(), &api::EngramDataPlane::crd())
        .await
        .expect("CRD");
    for ns in namespaces {
        let n: Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": ns}})).expect("ns");
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &n)
            .await
            .expect("namespace");
    }
    (mock, client)
}

/// The Kubernetes controller's context for a test: this replica leads, polls every 10 ms.
pub fn kube_ctx(
    client: &kube::Client,
    arm: std::sync::Arc<dyn engram_operator::azure::ArmApi>,
) -> engram_operator::sources::kube::Ctx {
    use engram_operator::sources::leader::LeaderGate;
    let (_tx, rx) = tokio::sync::watch::channel(true);
    let mut c = engram_operator::sources::kube::Ctx::new(
        client.clone(),
        arm,
        LeaderGate::from_receiver(rx),
        std::sync::Arc::new(engram_operator::telemetry::admin::Health::default()),
        "engram-operator-0",
    );
    c.poll_interval = Duration::from_millis(10);
    c
}
