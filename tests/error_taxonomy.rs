//! One error taxonomy. ARM refusing a valid token (401/403) is AuthorizationFailed, a token that
//! cannot be had is CredentialInvalid: long-running modes retry both with a backoff that doubles
//! from 1 to 30 minutes, never in a tight loop, and status carries ARM's message (which names the
//! missing action). `plan` and `run --once` exit 1 at once with the reason.

use crate::support;

use std::time::Duration;

use assert_cmd::Command;
use engram_operator::azure::Arm;
use engram_operator::reconcile;
use engram_operator::reconcile::conditions::{self, READY};
use support::*;

const DENIED: &str = "The client 'engram' with object id '0000' does not have authorization to perform action 'Microsoft.DBforPostgreSQL/flexibleServers/read' over scope '/subscriptions/x' or the scope is invalid.";

#[tokio::test]
async fn authorization_failed_is_retried_with_a_doubling_backoff_and_names_the_action() {
    let m = mock().await;
    let arm = arm(&m);
    let eff = prod();
    fail_server_reads(&m, 403, "AuthorizationFailed", DENIED);
    let outs = passes_at(&arm, &eff, &[0, 60, 120, 240, 3 * 3600]).await;
    let mut waits = Vec::new();
    for out in &outs {
        assert!(!out.fatal, "an access failure is retried, not fatal");
        assert_eq!(out.writes, 0);
        let ready = conditions::get(&out.status.conditions, READY).expect("Ready");
        assert_eq!(ready.reason, "AuthorizationFailed");
        assert!(
            ready.message.contains("flexibleServers/read"),
            "{}",
            ready.message
        );
        waits.push(out.requeue_after.expect("requeued").as_secs());
    }
    assert_eq!(waits, vec![60, 60, 120, 240, 1800]);

    // Access restored: the next pass works and the retry state is gone.
    m.clear_faults();
    let status = &outs.last().expect("passes").status;
    let out = reconcile::reconcile(&arm, Ok(&eff), status, &at(&ctx(), 4 * 3600)).await;
    assert!(out.writes > 0, "{:?}", out.status.errors);
    assert!(out.status.retry.is_none());
}

#[tokio::test]
async fn credential_invalid_sends_nothing_and_backs_off() {
    let m = mock().await;
    let mut s = m.arm_settings();
    s.credentials =
        engram_operator::azure::Credentials::TokenFile("/nonexistent/engram-token".into());
    let arm = Arm::new(s).expect("client");
    let before = m.journal().len();
    let out = reconcile::reconcile(&arm, Ok(&prod()), &Default::default(), &ctx()).await;
    let ready = conditions::get(&out.status.conditions, READY).expect("Ready");
    assert_eq!(ready.reason, "CredentialInvalid");
    assert!(!out.fatal);
    assert_eq!(out.requeue_after, Some(Duration::from_secs(60)));
    assert_eq!(m.journal().len(), before, "no request without a token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_and_run_once_exit_1_at_once_with_the_reason() {
    let m = mock().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("examples/dev.yaml", dir.path().join("dev.yaml")).unwrap();
    for args in [
        vec!["plan", "-f", "dev.yaml"],
        vec!["run", "--once", "--specs", "."],
    ] {
        let mut c = Command::cargo_bin("engram-operator").unwrap();
        c.current_dir(dir.path())
            .env("ENGRAM_ARM_ENDPOINT", m.base_url())
            .env("ENGRAM_KEYVAULT_ENDPOINT", m.keyvault_url())
            .env("ENGRAM_ARM_TOKEN_FILE", "/nonexistent/engram-token")
            .env("RUST_LOG", "warn")
            .args(&args)
            .timeout(Duration::from_secs(60));
        let out = tokio::task::block_in_place(move || c.output().expect("runs"));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(1), "{args:?}: {text}");
        assert!(
            text.contains("CredentialInvalid") || text.contains("no credential"),
            "{args:?}: {text}"
        );
        assert!(text.contains("engram-token"), "names the file: {text}");
    }
}
