//! Per-plane credentials (customer tenants), folder mode, against the mock Entra authority:
//! which principal each plane's requests carry, what an unusable or refused credential does to its
//! plane and only to it, and that a rotated secret or token file is used without a restart.

use crate::support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use engram_operator::api::EngramDataPlaneStatus;
use engram_operator::azure::{Arm, ArmApi, ArmClients, ArmSettings, Shared};
use engram_operator::mock_arm::{assertion, MockArm};
use engram_operator::sources::folder::{Folder, FolderOptions};
use support::tenants::*;

/// The operator's own subscription (no tenant mapped in the mock).
const SUB_OWN: &str = "00000000-0000-0000-0000-000000000001";

/// A folder runner over `dir` whose planes may carry their own credentials.
fn runner(settings: ArmSettings, dir: &Path) -> Folder {
    let shared = Shared::default();
    let global: Arc<dyn ArmApi> = Arc::new(Arm::sharing(settings.clone(), shared.clone()).unwrap());
    let mut opts = FolderOptions::new(dir);
    opts.clients = Some(Arc::new(ArmClients::new(settings, shared, global.clone())));
    Folder::new(global, opts)
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The mock with tokens living two minutes, and a folder holding a projected service-account
/// token (valid ten minutes) with id `jti`.
async fn with_token_file(jti: &str) -> (MockArm, tempfile::TempDir, std::path::PathBuf) {
    let m = mock(120).await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("azure-identity-token");
    let now = m.now_unix();
    std::fs::write(&token, assertion(ISSUER, SUBJECT, now - 60, now + 600, jti)).unwrap();
    (m, dir, token)
}

fn files(dir: &Path, list: &[(&str, String)]) {
    for (rel, text) in list {
        write(dir, rel, text);
    }
}

fn secret_file(tenant: &str, client: &str, secret: &str) -> String {
    format!("AZURE_TENANT_ID={tenant}\nAZURE_CLIENT_ID={client}\nAZURE_CLIENT_SECRET={secret}\n")
}

async fn passes(folder: &mut Folder, m: &MockArm, n: usize) {
    for _ in 0..n {
        folder.scan().unwrap();
        folder.force_due();
        folder.pass().await.unwrap();
        m.advance(Duration::from_secs(60));
    }
}

fn status_of(folder: &Folder, name: &str) -> EngramDataPlaneStatus {
    folder
        .statuses()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("no plane {name}"))
}

/// The message of a True `Degraded` condition whose reason is `reason`.
fn degraded(s: &EngramDataPlaneStatus, reason: &str) -> Option<String> {
    s.conditions
        .iter()
        .find(|c| c.type_ == "Degraded" && c.status == "True" && c.reason == reason)
        .map(|c| c.message.clone())
}

fn principal(s: &EngramDataPlaneStatus) -> engram_operator::api::status_azure::Principal {
    s.azure
        .clone()
        .and_then(|a| a.principal)
        .expect("status.azure.principal")
}

#[tokio::test]
async fn an_unusable_credential_degrades_its_plane_and_no_other() {
    let m = mock(3599).await;
    let dir = tempfile::tempdir().unwrap();
    files(
        dir.path(),
        &[
            ("alpha.yaml", plane_yaml("alpha", SUB_OWN, None)),
            (
                "beta.yaml",
                plane_yaml("beta", SUB_B, Some("creds/beta.env")),
            ),
        ],
    );
    let mut folder = runner(settings(&m), dir.path());
    passes(&mut folder, &m, 3).await;

    let beta = status_of(&folder, "beta");
    let msg = degraded(&beta, "CredentialInvalid").expect("beta is Degraded");
    assert!(msg.contains("beta.env"), "{msg}");
    assert!(beta.retry.is_some(), "an access failure backs off");
    assert_eq!(principal(&beta).kind, "invalid");
    assert_eq!(requests_to(&m, SUB_B), 0, "nothing of beta reached ARM");

    let alpha = status_of(&folder, "alpha");
    assert!(
        degraded(&alpha, "CredentialInvalid").is_none(),
        "{:?}",
        alpha.conditions
    );
    assert!(requests_to(&m, SUB_OWN) > 0);
    assert_eq!(principal(&alpha).kind, "operator");

    // A malformed file: the message names the file and the field, never a value.
    write(
        dir.path(),
        "creds/beta.env",
        "AZURE_TENANT_ID=contoso.onmicrosoft.com\nAZURE_CLIENT_ID=s3cr3t-looking-value\n",
    );
    passes(&mut folder, &m, 1).await;
    let msg = degraded(&status_of(&folder, "beta"), "CredentialInvalid").unwrap();
    assert!(msg.contains("AZURE_CLIENT_ID must be a GUID"), "{msg}");
    assert!(!msg.contains("s3cr3t"), "{msg}");
    assert_eq!(requests_to(&m, SUB_B), 0);
}

#[tokio::test]
async fn a_refused_secret_stays_with_its_plane_and_its_rotation_needs_no_restart() {
    let m = mock(3599).await;
    let dir = tempfile::tempdir().unwrap();
    files(
        dir.path(),
        &[
            (
                "alpha.yaml",
                plane_yaml("alpha", SUB_A, Some("creds/a.env")),
            ),
            ("beta.yaml", plane_yaml("beta", SUB_B, Some("creds/b.env"))),
            ("creds/a.env", secret_file(TENANT_A, CLIENT_A, "secret-a-1")),
            (
                "creds/b.env",
                secret_file(TENANT_B, CLIENT_B, "wrong-secret-value"),
            ),
        ],
    );
    let mut folder = runner(settings(&m), dir.path());
    passes(&mut folder, &m, 4).await;

    // Every request of alpha carries tenant A's principal; beta's wrong secret reached only Entra.
    let a = format!("{TENANT_A}/{CLIENT_A}");
    assert_eq!(principals_of(&m, SUB_A), [a.clone()].into());
    assert_eq!(requests_to(&m, SUB_B), 0);
    let alpha = status_of(&folder, "alpha");
    assert!(alpha
        .conditions
        .iter()
        .all(|c| c.type_ != "Degraded" || c.status != "True"));
    let p = principal(&alpha);
    assert_eq!(
        (p.client_id.as_deref(), p.kind.as_str()),
        (Some(CLIENT_A), "clientSecret")
    );
    assert!(p.warning.is_some(), "a client secret is flagged as weaker");

    let beta = status_of(&folder, "beta");
    let msg = degraded(&beta, "CredentialInvalid").expect("beta is Degraded");
    assert!(
        msg.contains("AADSTS7000215") && msg.contains(CLIENT_B),
        "{msg}"
    );
    assert!(!msg.contains("wrong-secret-value"), "{msg}");

    // B's administrator rotates the secret in Entra and in the file: the next pass uses it.
    m.add_principal(principal_b("secret-b-2")).unwrap();
    write(
        dir.path(),
        "creds/b.env",
        &secret_file(TENANT_B, CLIENT_B, "secret-b-2"),
    );
    passes(&mut folder, &m, 3).await;
    assert_eq!(
        principals_of(&m, SUB_B),
        [format!("{TENANT_B}/{CLIENT_B}")].into()
    );
    assert!(
        m.journal().iter().all(|e| e.status != 401),
        "no 401 reached ARM"
    );
    assert!(degraded(&status_of(&folder, "beta"), "CredentialInvalid").is_none());

    // A's secret rotated while the old one still works: the next pass signs in with the new one.
    let before = m.token_requests().len();
    m.add_principal(principal_a("secret-a-2")).unwrap();
    write(
        dir.path(),
        "creds/a.env",
        &secret_file(TENANT_A, CLIENT_A, "secret-a-2"),
    );
    passes(&mut folder, &m, 1).await;
    let after: Vec<_> = m.token_requests().into_iter().skip(before).collect();
    assert!(
        after
            .iter()
            .any(|r| r.client_id == CLIENT_A && r.outcome == "issued"),
        "{after:?}"
    );
    assert!(degraded(&status_of(&folder, "alpha"), "CredentialInvalid").is_none());
}

#[tokio::test]
async fn a_rewritten_federated_token_file_is_used_on_the_next_token_request() {
    // Tokens live two minutes: shorter than the client's renewal margin, so every ARM request
    // asks Entra again, reading the file again.
    let (m, dir, token) = with_token_file("first").await;
    write(
        dir.path(),
        "gamma.yaml",
        &plane_yaml("gamma", SUB_A, Some("creds/w.env")),
    );
    write(
        dir.path(),
        "creds/w.env",
        &format!(
            "AZURE_TENANT_ID={TENANT_A}\nAZURE_CLIENT_ID={CLIENT_W}\nAZURE_FEDERATED_TOKEN_FILE={}\n",
            token.display()
        ),
    );
    let mut folder = runner(settings(&m), dir.path());
    passes(&mut folder, &m, 2).await;
    let first = m.token_requests();
    assert!(!first.is_empty());
    assert!(first
        .iter()
        .all(|r| r.assertion_jti.as_deref() == Some("first") && r.outcome == "issued"));
    assert_eq!(
        principal(&status_of(&folder, "gamma")).kind,
        "workloadIdentity"
    );

    // The kubelet rotates the projected token; the first one then expires.
    let now = m.now_unix();
    std::fs::write(
        &token,
        assertion(ISSUER, SUBJECT, now, now + 7200, "second"),
    )
    .unwrap();
    m.advance(Duration::from_secs(1800));
    passes(&mut folder, &m, 2).await;
    let later: Vec<_> = m.token_requests().into_iter().skip(first.len()).collect();
    assert!(!later.is_empty());
    assert!(
        later
            .iter()
            .all(|r| r.assertion_jti.as_deref() == Some("second") && r.outcome == "issued"),
        "{later:?}"
    );
    assert_eq!(
        principals_of(&m, SUB_A),
        [format!("{TENANT_A}/{CLIENT_W}")].into()
    );
    assert!(degraded(&status_of(&folder, "gamma"), "CredentialInvalid").is_none());
}

#[tokio::test]
async fn the_budget_counts_per_principal() {
    use engram_operator::mock_arm::ThrottleConfig;
    // One subscription, two principals; ARM's read bucket is tiny and barely refills.
    let m = mock_with_throttle(ThrottleConfig {
        read_capacity: 1.0,
        read_refill_per_sec: 0.01,
        ..ThrottleConfig::default()
    })
    .await;
    let clients = ArmClients::new(
        settings(&m),
        Shared::default(),
        Arc::new(Arm::new(settings(&m)).unwrap()),
    );
    let cred = |client: &str, secret: &str| {
        engram_operator::azure::PlaneCredential::parse_env_file(
            client,
            &secret_file(TENANT_A, client, secret),
            None,
        )
        .unwrap()
    };
    let a = clients
        .for_credential(&cred(CLIENT_A, "secret-a-1"))
        .unwrap();
    let eff = engram_operator::api::load(&plane_yaml("alpha", SUB_A, None))
        .unwrap()
        .1;
    // A exhausts its bucket: ARM answers 429 with a Retry-After of minutes, and A's client
    // holds back every request of A to this subscription until then.
    let blocked = tokio::spawn(async move { a.observe(&eff).await });
    let a_name = format!("{TENANT_A}/{CLIENT_A}");
    for _ in 0..500 {
        if m.journal()
            .iter()
            .any(|e| e.status == 429 && e.principal == a_name)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        m.journal().iter().any(|e| e.status == 429),
        "A was throttled"
    );

    // W, another principal on the same subscription, is not held back by A's budget.
    let mut w = engram_operator::mock_arm::EntraPrincipal::new(TENANT_A, CLIENT_W);
    w.secrets = vec!["secret-w".into()];
    m.add_principal(w).unwrap();
    let w = clients.for_credential(&cred(CLIENT_W, "secret-w")).unwrap();
    let eff = engram_operator::api::load(&plane_yaml("omega", SUB_A, None))
        .unwrap()
        .1;
    let w_name = format!("{TENANT_A}/{CLIENT_W}");
    let _ = tokio::time::timeout(Duration::from_secs(5), w.observe(&eff)).await;
    assert!(
        m.journal()
            .iter()
            .any(|e| e.principal == w_name && e.status == 200),
        "W's reads were sent at once, not after A's Retry-After"
    );
    blocked.abort();
}

fn plan_output(mut c: assert_cmd::Command) -> (i32, String) {
    let out = tokio::task::block_in_place(move || c.output().expect("runs"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// The binary pointed at the mock, with no static token: it signs in through Entra.
fn binary(m: &MockArm) -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("engram-operator").expect("binary");
    c.env("ENGRAM_ARM_ENDPOINT", m.base_url())
        .env("ENGRAM_KEYVAULT_ENDPOINT", m.keyvault_url())
        .env("ENGRAM_AUTHORITY_HOST", m.entra_url())
        .env_remove("ENGRAM_ARM_TOKEN")
        .env_remove("AZURE_CLIENT_SECRET")
        .env("RUST_LOG", "warn");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operators_own_workload_identity_comes_from_its_environment_and_authority_host() {
    let (m, dir, token) = with_token_file("one").await;
    write(dir.path(), "alpha.yaml", &plane_yaml("alpha", SUB_A, None));
    let plan = |m: &MockArm| {
        let mut c = binary(m);
        c.env("AZURE_TENANT_ID", TENANT_A)
            .env("AZURE_CLIENT_ID", CLIENT_W)
            .env("AZURE_FEDERATED_TOKEN_FILE", &token)
            .args(["plan", "-f"])
            .arg(dir.path().join("alpha.yaml"));
        plan_output(c)
    };
    let (code, text) = plan(&m);
    assert_eq!(code, 2, "changes to make: {text}");
    let w = format!("{TENANT_A}/{CLIENT_W}");
    assert_eq!(principals_of(&m, SUB_A), [w.clone()].into());

    assert!(m
        .token_requests()
        .iter()
        .all(|r| r.grant == "client_assertion" && r.assertion_jti.as_deref() == Some("one")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_signs_in_as_the_planes_own_credential_and_names_a_refusal() {
    let m = mock(3599).await;
    let dir = tempfile::tempdir().unwrap();
    files(
        dir.path(),
        &[
            ("beta.yaml", plane_yaml("beta", SUB_B, Some("creds/b.env"))),
            ("creds/b.env", secret_file(TENANT_B, CLIENT_B, "secret-b-1")),
        ],
    );
    let plan = |m: &MockArm| {
        let mut c = binary(m);
        // The operator's own credential would be tenant A's workload identity: not used here.
        c.env("ENGRAM_ARM_TOKEN", m.token())
            .args(["plan", "-f"])
            .arg(dir.path().join("beta.yaml"));
        plan_output(c)
    };
    let (code, text) = plan(&m);
    assert_eq!(code, 2, "changes to make: {text}");
    assert_eq!(
        principals_of(&m, SUB_B),
        [format!("{TENANT_B}/{CLIENT_B}")].into()
    );

    write(
        dir.path(),
        "creds/b.env",
        &secret_file(TENANT_B, CLIENT_B, "stale-secret-value"),
    );
    let (code, text) = plan(&m);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("AADSTS7000215") && text.contains("b.env"),
        "{text}"
    );
    assert!(!text.contains("stale-secret-value"), "{text}");
}
