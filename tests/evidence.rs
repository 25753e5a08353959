//! `engram-operator evidence` against the mock ARM (issue 14, Done when "Evidence" and "The HTML"):
//! a converged prod plane passes every applicable control (exit 0) with the request ids of the
//! reads each control rests on, and without a single write; public network access turned on in
//! the portal fails AI-SEC-01.8 (exit 3); the HTML renders in headless chromium with its control
//! table and SVG, and a screenshot is kept under target/evidence/.

use crate::support;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use engram_operator::mock_arm::MockArm;
use engram_operator::sources::folder::write_status;
use serde_json::Value;
use support::*;

/// The prod plane converged, its status written where `run --status-dir` would write it.
pub(crate) async fn converged_prod(m: &MockArm, dir: &Path) -> PathBuf {
    let out = converge(m, &arm(m), &prod(), Default::default()).await;
    let status = dir.join("status");
    write_status(&status, "acme-prod", &out.status).expect("status written");
    status
}

pub(crate) fn cmd(m: &MockArm) -> Command {
    let mut c = Command::cargo_bin("engram-operator").expect("binary");
    c.env("ENGRAM_ARM_ENDPOINT", m.base_url())
        .env("ENGRAM_KEYVAULT_ENDPOINT", m.keyvault_url())
        .env("ENGRAM_ARM_TOKEN", m.token())
        .env("RUST_LOG", "warn");
    c
}

pub(crate) fn run(mut c: Command) -> (Option<i32>, String, String) {
    // The mock serves on this test's runtime; run the binary on a blocking thread.
    let out = tokio::task::block_in_place(move || c.output().expect("runs"));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn evidence(m: &MockArm, status: &Path, format: &str) -> Command {
    let mut c = cmd(m);
    c.args(["evidence", "-f", "examples/prod.yaml", "--format", format])
        .arg("--status-dir")
        .arg(status);
    c
}

fn outcomes(report: &Value) -> Vec<(String, String)> {
    report["planes"][0]["controls"]
        .as_array()
        .expect("controls")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or_default().to_owned(),
                c["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_converged_prod_plane_passes_with_cited_reads_and_no_write() {
    let m = realtime_mock().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let status = converged_prod(&m, dir.path()).await;
    let from = m.journal().len();

    let (code, stdout, stderr) = run(evidence(&m, &status, "json"));
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        writes_since(&m, from).is_empty(),
        "evidence never writes: {:?}",
        writes_since(&m, from)
    );
    let report: Value = serde_json::from_str(&stdout).expect("json report");
    assert_eq!(report["control"], "AI-SEC-01");
    let got = outcomes(&report);
    let expected: Vec<(String, String)> = (1..=21)
        .map(|n| {
            let outcome = match n {
                5 => "not-applicable",  // no rotation recorded yet
                21 => "not-applicable", // examples/prod.yaml declares no restore drill
                7 => "service-maximum", // Storage: TLS1_2 is its highest minimum
                _ => "pass",
            };
            (format!("AI-SEC-01.{n}"), outcome.to_owned())
        })
        .collect();
    assert_eq!(got, expected, "{stdout}");

    // Each cited read is a GET the mock journaled, with the request id it answered.
    let journal = m.journal();
    let controls = report["planes"][0]["controls"]
        .as_array()
        .expect("controls");
    let pg_cmk = &controls[0];
    assert_eq!(pg_cmk["observed"]["primaryEncryptionKeyStatus"], "Valid");
    for c in controls.iter().take(19) {
        for s in c["sources"].as_array().expect("sources") {
            let id = s["requestId"].as_str().expect("request id");
            let e = journal
                .iter()
                .find(|e| e.request_id == id)
                .unwrap_or_else(|| panic!("{} cites {id}, not in the journal", c["id"]));
            assert_eq!(e.method, "GET");
            let url = s["url"].as_str().expect("url");
            assert!(
                url.to_ascii_lowercase()
                    .contains(&e.path.to_ascii_lowercase()),
                "{url} vs {}",
                e.path
            );
        }
    }
    let cites = |i: usize| controls[i]["sources"].as_array().map_or(0, Vec::len);
    assert!(cites(0) == 1 && cites(9) == 3, "{controls:#?}");
    let key_age = &controls[3]["sources"][0]["url"];
    assert!(
        key_age.as_str().is_some_and(
            |u| u.starts_with("https://kv-acme-prod.vault.azure.net/keys/engram-cmk/versions")
        ),
        "Key Vault reads are cited at the vault's own host: {key_age}"
    );
    // The sections the seed names.
    let plane = &report["planes"][0];
    assert_eq!(
        plane["tdeManifest"]["postgres"]["dataEncryption"]["type"],
        "AzureKeyVault"
    );
    assert_eq!(
        plane["tdeManifest"]["storage"]["encryption"]["keySource"],
        "Microsoft.Keyvault"
    );
    let current = plane["encryptionMetadata"]["currentVersion"].clone();
    assert!(current.is_string());
    assert_eq!(plane["flow"]["postgres"]["version"], current);
    assert_eq!(plane["flow"]["storage"]["version"], current);
    assert!(!stdout.contains(m.token()), "no secret in the report");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_access_turned_on_in_the_portal_fails_its_control_with_exit_3() {
    let m = realtime_mock().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let status = converged_prod(&m, dir.path()).await;
    m.edit(
        &server_id(&prod()),
        serde_json::json!({"properties": {"network": {"publicNetworkAccess": "Enabled"}}}),
    )
    .expect("portal edit");
    let from = m.journal().len();

    let (code, stdout, stderr) = run(evidence(&m, &status, "md"));
    assert_eq!(code, Some(3), "{stdout}\n{stderr}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with("| AI-SEC-01.8 "))
        .unwrap_or_else(|| panic!("no AI-SEC-01.8 row:\n{stdout}"));
    assert!(
        row.contains("**fail**") && row.contains("publicNetworkAccess is Enabled"),
        "{row}"
    );
    let drift = stdout
        .lines()
        .find(|l| l.starts_with("| AI-SEC-01.20 "))
        .expect("drift row");
    assert!(drift.contains("**fail**"), "{drift}");
    assert!(
        stderr.contains("AI-SEC-01.8"),
        "the failure is logged: {stderr}"
    );
    assert!(writes_since(&m, from).is_empty(), "still no write");

    // Without the status, the rotation row is unknown, not a pass.
    let mut c = cmd(&m);
    c.args(["evidence", "-f", "examples/prod.yaml", "--format", "json"]);
    let (code, stdout, _) = run(c);
    assert_eq!(code, Some(3));
    let report: Value = serde_json::from_str(&stdout).expect("json");
    let got = outcomes(&report);
    assert_eq!(got[4], ("AI-SEC-01.5".into(), "unknown".into()));
    assert_eq!(got[7], ("AI-SEC-01.8".into(), "fail".into()));
}

/// chromium, or None: absent outside CI is a skip, absent in CI a failure.
pub(crate) fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "chromium is required in CI (.ci/tools.sh installs Debian's chromium)"
        );
        eprintln!("SKIPPED: chromium is not installed (apt-get install chromium, or run .ci/tools.sh); the HTML was not rendered");
    }
    found
}

/// A screenshot of `page` beside it (`.png`), for a person to look at: a real PNG of some size.
pub(crate) fn screenshot(browser: &Path, page: &Path, window: &str) {
    let shot = page.with_extension("png");
    let _ = std::fs::remove_file(&shot);
    let arg = format!("--screenshot={}", shot.display());
    let size = format!("--window-size={window}");
    let out = chromium_run(browser, &[&arg, &size], page);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).expect("screenshot kept");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
    eprintln!("screenshot for a person to look at: {}", shot.display());
}

pub(crate) fn chromium_run(bin: &Path, args: &[&str], page: &Path) -> std::process::Output {
    let mut c = std::process::Command::new(bin);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
    ])
    .args(args)
    .arg(format!("file://{}", page.display()));
    tokio::task::block_in_place(move || c.output().expect("chromium runs"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_renders_in_headless_chromium_with_the_control_table_and_the_svg() {
    let Some(browser) = chromium() else {
        return;
    };
    let m = realtime_mock().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let status = converged_prod(&m, dir.path()).await;
    let kept = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("evidence");
    std::fs::create_dir_all(&kept).expect("mkdir");
    let page = kept.join("acme-prod.html");
    let audit = dir.path().join("audit.jsonl");
    std::fs::write(
        &audit,
        "{\"plane\":\"acme-prod\",\"event\":\"detected\",\"consumer\":\"postgres\"}\n{\"plane\":\"acme-uat\",\"event\":\"detected\"}\n",
    )
    .expect("audit log");
    let mut c = evidence(&m, &status, "html");
    c.arg("--out").arg(&page).arg("--audit-log").arg(&audit);
    let (code, stdout, stderr) = run(c);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("18 pass, 0 fail"), "{stdout}");
    let html = std::fs::read_to_string(&page).expect("page");
    for external in ["<script", "<link", "src=\"http", "@import", "url(http"] {
        assert!(!html.contains(external), "self-contained: {external}");
    }

    let out = chromium_run(&browser, &["--dump-dom"], &page);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dom.contains("<table class=\"controls\" id=\"controls-acme-prod\">"),
        "control table in the DOM"
    );
    assert_eq!(dom.matches("<tr class=").count(), 21, "one row per control");
    assert!(dom.contains("data-control=\"AI-SEC-01.8\" data-outcome=\"pass\""));
    assert!(dom.contains("<svg") && dom.contains("id=\"encryption-flow\""));
    assert!(dom.contains("Azure Key Vault") && dom.contains("kv-acme-prod.vault.azure.net"));
    assert!(dom.contains("1 line(s) for this plane"), "audit log lines");

    screenshot(&browser, &page, "1400,1800");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_confirmed_on_every_consumer_passes_its_control() {
    let m = realtime_mock().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let arm = arm(&m);
    let ready = converge(&m, &arm, &prod(), Default::default()).await;
    let v2 = kv_key(&m, "rotate").await;
    let rotated = converge(&m, &arm, &prod(), ready.status).await;
    let r = rotated.status.key_rotation.clone().expect("tracked");
    assert_eq!(
        (r.phase.as_str(), r.to_version.as_str()),
        ("Complete", v2.as_str())
    );
    let status = dir.path().join("status");
    write_status(&status, "acme-prod", &rotated.status).expect("status written");

    let (code, stdout, stderr) = run(evidence(&m, &status, "json"));
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("json report");
    assert_eq!(
        outcomes(&report)[4],
        ("AI-SEC-01.5".into(), "pass".into()),
        "{stdout}"
    );
}
