//! `engram-operator plan` and `run --once` as a pipeline would call them, against a real-time mock.

use std::time::Duration;

use assert_cmd::Command;
use engram_operator::mock_arm::{ClockMode, LroDurations, MockArm, MockConfig, OpClass};

async fn realtime_mock() -> MockArm {
    let config = MockConfig {
        clock: ClockMode::RealTime,
        lro: LroDurations::uniform(Duration::from_millis(200)),
        retry_after_secs: 1,
        ..MockConfig::default()
    };
    MockArm::start(config).await.expect("mock starts")
}

fn cmd(m: &MockArm) -> Command {
    let mut c = Command::cargo_bin("engram-operator").unwrap();
    c.env("ENGRAM_ARM_ENDPOINT", m.base_url())
        .env("ENGRAM_KEYVAULT_ENDPOINT", m.keyvault_url())
        .env("ENGRAM_ARM_TOKEN", m.token())
        .env("RUST_LOG", "warn");
    c
}

fn run_async(mut c: Command) -> std::process::Output {
    // The mock serves on this test's runtime; run the binary on a blocking thread.
    tokio::task::block_in_place(move || c.output().expect("runs"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_shows_the_create_then_run_once_converges_then_plan_is_clean() {
    let m = realtime_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("specs");
    std::fs::create_dir(&spec).unwrap();
    std::fs::copy("examples/dev.yaml", spec.join("dev.yaml")).unwrap();
    let file = spec.join("dev.yaml");

    let mut c = cmd(&m);
    c.args(["plan", "-f"]).arg(&file);
    let out = run_async(c);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("+ postgres/acme-dev-pg (create)"), "{text}");
    assert!(text.contains("+ storage/acmeengramdev (create)"), "{text}");
    assert!(text.contains("allowBlobPublicAccess: false"), "{text}");
    // Only reads: GETs, and the providers' checkNameAvailability (a POST that changes nothing).
    assert!(
        m.journal().iter().all(|e| e.class == OpClass::Read),
        "plan never writes"
    );

    let status = dir.path().join("status");
    let mut c = cmd(&m);
    c.args(["run", "--once", "--poll-seconds", "0.1", "--specs"])
        .arg(&spec)
        .arg("--status-dir")
        .arg(&status);
    let out = run_async(c);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("ready    acme-dev"), "{text}");
    let written = std::fs::read_to_string(status.join("acme-dev.status.yaml")).unwrap();
    assert!(written.contains("type: Ready"), "{written}");

    let mut c = cmd(&m);
    c.args(["plan", "-f"]).arg(&file);
    let out = run_async(c);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("No changes"), "{text}");

    // A refused change (storage shrink with auto-grow off) is an error: exit 1 with the reason.
    let sid = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-engram-dev/providers/Microsoft.DBforPostgreSQL/flexibleServers/acme-dev-pg";
    m.edit(sid, serde_json::json!({"properties": {"storage": {"storageSizeGB": 64, "autoGrow": "Disabled"}}})).unwrap();
    let mut c = cmd(&m);
    c.args(["plan", "-f"]).arg(&file);
    let out = run_async(c);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("! postgres/acme-dev-pg storage.sizeGiB: storage cannot shrink"),
        "{text}"
    );
    assert!(
        text.contains("~ postgres/acme-dev-pg (deferred)")
            && text.contains("storage.autoGrow: false → true"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_once_exits_1_with_reasons_for_an_invalid_spec() {
    let m = realtime_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string("examples/dev.yaml")
        .unwrap()
        .replace("state: Stopped", "state: Paused");
    std::fs::write(dir.path().join("bad.yaml"), text).unwrap();
    let mut c = cmd(&m);
    c.args(["run", "--once", "--specs"]).arg(dir.path());
    let out = run_async(c);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("NOT READY") && text.contains("spec.postgres.state"),
        "{text}"
    );
    assert!(
        m.journal().is_empty(),
        "an invalid spec makes zero ARM requests"
    );
}
