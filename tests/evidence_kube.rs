//! `engram-operator evidence --kube`: the planes and their status come from the cluster (mock-kube,
//! driven by kubectl), the live state from ARM. A rotation recorded only in the object's status
//! passes AI-SEC-01.5, so the report did read the status from Kubernetes.

use crate::support;

use crate::mock_kube::cluster;

use assert_cmd::Command;
use serde_json::Value;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_reads_the_planes_and_their_status_from_the_cluster() {
    let m = realtime_mock().await;
    let arm = arm(&m);
    let ready = converge(&m, &arm, &prod(), Default::default()).await;
    kv_key(&m, "rotate").await;
    let rotated = converge(&m, &arm, &prod(), ready.status).await;
    assert!(rotated.status.key_rotation.is_some());

    let c = cluster::Cluster::start().await;
    c.install().await;
    c.ok(&["apply", "-f", "examples/prod.yaml"]).await;
    let status = serde_json::json!({ "status": rotated.status }).to_string();
    c.ok(&[
        "patch",
        "edp",
        "acme-prod",
        "-n",
        "engram",
        "--subresource=status",
        "--type=merge",
        "-p",
        &status,
    ])
    .await;
    let kubeconfig = c.dir.path().join("evidence-kubeconfig");
    c.mock.write_kubeconfig(&kubeconfig).expect("kubeconfig");

    let mut cmd = Command::cargo_bin("engram-operator").expect("binary");
    cmd.args([
        "evidence",
        "--kube",
        "--namespace",
        "engram",
        "--format",
        "json",
    ])
    .env("KUBECONFIG", &kubeconfig)
    .env("ENGRAM_ARM_ENDPOINT", m.base_url())
    .env("ENGRAM_KEYVAULT_ENDPOINT", m.keyvault_url())
    .env("ENGRAM_ARM_TOKEN", m.token())
    .env("RUST_LOG", "warn");
    let out = tokio::task::block_in_place(move || cmd.output().expect("runs"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&stdout).expect("json report");
    let plane = &report["planes"][0];
    assert_eq!(plane["plane"], "engram/acme-prod", "{stdout}");
    let rotation = plane["controls"]
        .as_array()
        .expect("controls")
        .iter()
        .find(|c| c["id"] == "AI-SEC-01.5")
        .expect("the rotation control");
    assert_eq!(rotation["outcome"], "pass", "{rotation}");
}
