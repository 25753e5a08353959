//! No secret in any log, at any level: the real binary, `RUST_LOG=trace` (and an explicit
//! `azure_core=trace`), against the mock, through `plan` and folder mode. The token must appear
//! nowhere in stdout, stderr or the status files. azure_core 0.21 redacts every header except
//! Authorization and logs whole requests at debug, so this fails unless those targets are pinned.

use std::time::Duration;

use assert_cmd::Command;
use clap::Parser;
use engram_operator::mock_arm::{ClockMode, LroDurations, MockArm, MockConfig};

const TOKEN: &str = "tok-SECRET-5f1c9a7e0b";

async fn mock() -> MockArm {
    let config = MockConfig {
        token: TOKEN.into(),
        clock: ClockMode::RealTime,
        lro: LroDurations::uniform(Duration::from_millis(200)),
        retry_after_secs: 1,
        ..MockConfig::default()
    };
    let m = MockArm::start(config).await.expect("mock starts");
    m.new_key_version("kv-acme-prod", "engram-cmk");
    m
}

fn cmd(m: &MockArm, rust_log: &str) -> Command {
    let mut c = Command::cargo_bin("engram-operator").expect("binary");
    c.env("ENGRAM_ARM_ENDPOINT", m.base_url())
        .env("ENGRAM_KEYVAULT_ENDPOINT", m.keyvault_url())
        .env("ENGRAM_ARM_TOKEN", TOKEN)
        .env("RUST_LOG", rust_log);
    c
}

fn output(mut c: Command) -> (String, String) {
    let out = tokio::task::block_in_place(move || c.output().expect("runs"));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_in_no_output_at_trace_level() {
    let m = mock().await;
    let dir = tempfile::tempdir().expect("tmp");
    let specs = dir.path().join("specs");
    std::fs::create_dir(&specs).expect("mkdir");
    std::fs::copy("examples/prod.yaml", specs.join("prod.yaml")).expect("copy");
    std::fs::copy("examples/dev.yaml", specs.join("dev.yaml")).expect("copy");
    let status = dir.path().join("status");
    let mut saw_debug = false;

    for level in [
        "trace",
        "trace,azure_core=trace,azure_core::policies::transport=trace",
    ] {
        let mut c = cmd(&m, level);
        c.args(["plan", "-f"]).arg(specs.join("prod.yaml"));
        let (out, err) = output(c);
        saw_debug |= err.contains("TRACE") || err.contains("DEBUG");
        assert!(
            !out.contains(TOKEN) && !err.contains(TOKEN),
            "plan at {level} leaked the token"
        );

        let mut c = cmd(&m, level);
        c.args(["run", "--once", "--poll-seconds", "0.1", "--specs"])
            .arg(&specs)
            .arg("--status-dir")
            .arg(&status);
        let (out, err) = output(c);
        assert!(
            !out.contains(TOKEN) && !err.contains(TOKEN),
            "run at {level} leaked the token"
        );
    }
    assert!(saw_debug, "trace logging was on");
    let mut files = 0;
    for e in std::fs::read_dir(&status).expect("status dir").flatten() {
        let text = std::fs::read_to_string(e.path()).expect("status file");
        assert!(
            !text.contains(TOKEN),
            "{} holds the token",
            e.path().display()
        );
        files += 1;
    }
    assert_eq!(files, 2, "a status file per data plane");
    assert!(
        m.journal().iter().any(|e| e.path.starts_with("/keys/")),
        "the Key Vault path was exercised too"
    );
}

#[test]
fn debug_of_every_struct_holding_a_credential_is_redacted() {
    use engram_operator::cli::{Cli, Command as Sub};
    let cli = Cli::try_parse_from([
        "engram-operator",
        "plan",
        "-f",
        "x.yaml",
        "--arm-token",
        TOKEN,
    ])
    .expect("parses");
    let shown = format!("{cli:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
    let Sub::Plan { arm, .. } = &cli.command else {
        panic!("plan");
    };
    assert!(!format!("{:?}", arm.settings()).contains(TOKEN));
    let mock =
        Cli::try_parse_from(["engram-operator", "mock-arm", "--token", TOKEN]).expect("parses");
    assert!(!format!("{mock:?}").contains(TOKEN));
}
