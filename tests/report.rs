//! `engram-operator report` against the mock ARM (issue 18, Done when "Report"): a converged prod
//! plane with a light load, the seed's tier mix and a cheap account meets every measured metric
//! (exit 0) without a single write; a skewed tier mix misses `blob.tierDistribution` (exit 3,
//! named on stderr); the HTML renders in headless chromium with a row and a chart per metric.

use crate::evidence::{chromium, chromium_run, cmd, converged_prod, run, screenshot};
use crate::support;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use engram_operator::mock_arm::MockArm;
use engram_operator::plan::owner::{account_id, server_id};
use serde_json::{json, Value};
use support::*;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const WEEK_MINUTES: u64 = 7 * 24 * 60;

async fn control(m: &MockArm, path: &str, body: Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/_mock/{path}", m.base_url()))
        .json(&body)
        .send()
        .await
        .expect("control API");
    assert!(r.status().is_success(), "{path}: {}", r.status());
}

/// A week of blob capacity per tier (GiB) and a week of cost for the account, one row a day.
async fn seed_storage(m: &MockArm, tiers: [(&str, f64); 3], usd_per_day: f64) {
    let account = account_id(&prod());
    for (tier, gib) in tiers {
        control(
            m,
            "metrics",
            json!({
                "id": format!("{account}/blobServices/default"),
                "metric": "BlobCapacity",
                "value": gib * GIB,
                "minutes": WEEK_MINUTES,
                "dimensions": {"Tier": tier},
            }),
        )
        .await;
    }
    let today = time::OffsetDateTime::now_utc().date();
    let rows: Vec<Value> = (0..7)
        .map(|d| {
            json!({
                "resourceId": account,
                "date": (today - time::Duration::days(d)).to_string(),
                "amount": usd_per_day,
                "currency": "USD",
            })
        })
        .collect();
    control(m, "costs", Value::Array(rows)).await;
}

fn report(m: &MockArm, status: &Path, format: &str) -> Command {
    let mut c = cmd(m);
    c.args(["report", "-f", "examples/prod.yaml", "--format", format])
        .arg("--status-dir")
        .arg(status);
    c
}

fn outcome<'a>(report: &'a Value, id: &str) -> &'a str {
    report["planes"][0]["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|x| x["id"] == id)
        .and_then(|x| x["outcome"].as_str())
        .unwrap_or("absent")
}

/// The seed's mix (30/50/20 of 100 GiB) at $0.03 a day: $0.9 a month over 100 GB.
const SEED_MIX: [(&str, f64); 3] = [("Hot", 30.0), ("Cool", 50.0), ("Archive", 20.0)];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_plane_meets_every_measured_metric_without_a_write() {
    let m = realtime_mock().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let status = converged_prod(&m, dir.path()).await;
    seed_storage(&m, SEED_MIX, 0.03).await;
    let from = m.journal().len();

    let (code, stdout, stderr) = run(report(&m, &status, "json"));
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    // The Cost Management query is a POST that reads; nothing else but GETs.
    let writes: Vec<_> = writes_since(&m, from)
        .into_iter()
        .filter(|(_, p)| !p.ends_with("/providers/Microsoft.CostManagement/query"))
        .collect();
    assert!(writes.is_empty(), "report never writes: {writes:?}");
    let r: Value = serde_json::from_str(&stdout).expect("json report");
    for id in [
        "postgres.cpu",
        "postgres.memory",
        "postgres.connections",
        "blob.tierDistribution",
        "blob.costPerGb",
    ] {
        assert_eq!(outcome(&r, id), "met", "{id}: {stdout}");
    }
    // No rotation and no restore drill yet: said, not failed.
    for id in ["keys.rotationSuccess", "backup.success", "backup.rpo"] {
        assert_eq!(outcome(&r, id), "not-measured", "{id}: {stdout}");
    }
    let cpu = r["planes"][0]["metrics"][0]["series"]
        .as_array()
        .expect("series");
    assert!(
        cpu.len() > 100,
        "a week of 15-minute averages: {}",
        cpu.len()
    );
    // Each metric was read from its resource: the server's three, the blob service's one.
    let reads: Vec<String> = m.journal()[from..]
        .iter()
        .map(|e| e.path.clone())
        .filter(|p| p.contains("Microsoft.Insights/metrics"))
        .collect();
    let server = server_id(&prod()).to_lowercase();
    assert!(
        reads.iter().any(|p| p.to_lowercase().starts_with(&server)),
        "{reads:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skewed_tier_mix_misses_the_tier_distribution_and_exits_3() {
    let m = realtime_mock().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let status = converged_prod(&m, dir.path()).await;
    seed_storage(&m, [("Hot", 80.0), ("Cool", 15.0), ("Archive", 5.0)], 0.03).await;

    let (code, stdout, stderr) = run(report(&m, &status, "json"));
    assert_eq!(code, Some(3), "{stdout}\n{stderr}");
    let r: Value = serde_json::from_str(&stdout).expect("json report");
    assert_eq!(outcome(&r, "blob.tierDistribution"), "missed", "{stdout}");
    assert_eq!(outcome(&r, "postgres.cpu"), "met", "{stdout}");
    assert!(stderr.contains("blob.tierDistribution"), "named: {stderr}");

    let (code, md, _) = run(report(&m, &status, "md"));
    assert_eq!(code, Some(3));
    assert!(
        md.contains("| Tier distribution | 30 % Hot / 50 % Cool / 20 % Archive (± 10 points) | 80 % Hot / 15 % Cool / 5 % Archive | **missed** |"),
        "{md}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_renders_in_headless_chromium_with_a_chart_per_metric() {
    let Some(browser) = chromium() else {
        return;
    };
    let m = realtime_mock().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let status = converged_prod(&m, dir.path()).await;
    seed_storage(&m, SEED_MIX, 0.03).await;
    let kept = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report");
    std::fs::create_dir_all(&kept).expect("mkdir");
    let page = kept.join("acme-prod.html");
    let mut c = report(&m, &status, "html");
    c.arg("--out").arg(&page);
    let (code, stdout, stderr) = run(c);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let html = std::fs::read_to_string(&page).expect("page");
    for external in ["<script", "<link", "src=\"http", "@import", "url(http"] {
        assert!(!html.contains(external), "self-contained: {external}");
    }

    let out = chromium_run(&browser, &["--dump-dom"], &page);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        dom.matches("<tr class=").count(),
        8,
        "one row per seed metric"
    );
    assert!(dom.contains("data-metric=\"blob.tierDistribution\""));
    // A chart per measured series: CPU, memory and connections against their lines, the tiers'
    // bars against their ticks (the cost is one number).
    assert_eq!(
        dom.matches("<svg").count(),
        4,
        "a chart per measured series"
    );

    screenshot(&browser, &page, "1400,1400");
}
