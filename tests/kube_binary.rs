//! The real binary (`run --kube`) against mock-kube, which has real watch semantics (a status write
//! is a watch event; a write that changes nothing is none), and a mock ARM, both in this process.
//! Real time by nature (several processes): bounded, and the assertions are counts from the two
//! journals, not durations.
//!
//! Before status was written only when it changed, the same setup showed 143 status applies in
//! about 25 s for one plane: every status write started the next pass (the reconcile storm).

#[path = "mock_kube/cluster.rs"]
#[allow(dead_code)]
mod cluster;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cluster::Cluster;
use engram_operator::mock_arm::{ClockMode, LroDurations, MockArm, MockConfig};

const STATUS: &str = "engramdataplanes.engram.zimax.net/status";

/// The operator process, killed when dropped.
struct Operator(Child);

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn arm_writes(m: &MockArm) -> usize {
    m.journal()
        .iter()
        .filter(|e| !matches!(e.method.as_str(), "GET" | "HEAD"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_ready_the_controller_writes_nothing_to_kubernetes_or_to_arm() {
    let c = Cluster::start().await;
    c.install().await;
    c.ok(&["apply", "-f", "examples/dev.yaml"]).await;
    let arm = MockArm::start(MockConfig {
        clock: ClockMode::RealTime,
        lro: LroDurations::uniform(Duration::from_millis(500)),
        retry_after_secs: 1,
        ..MockConfig::default()
    })
    .await
    .expect("mock ARM");
    let kubeconfig = c.dir.path().join("operator-kubeconfig");
    c.mock.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let _op = Operator(
        Command::new(env!("CARGO_BIN_EXE_engram-operator"))
            .args(["run", "--kube", "--poll-seconds", "0.2"])
            .env("KUBECONFIG", &kubeconfig)
            .env("ENGRAM_ARM_ENDPOINT", arm.base_url())
            .env("ENGRAM_KEYVAULT_ENDPOINT", arm.keyvault_url())
            .env("ENGRAM_ARM_TOKEN", arm.token())
            .env("POD_NAMESPACE", "engram")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(c.dir.path().join("operator.log")).expect("log"))
            .spawn()
            .expect("operator starts"),
    );

    // Ready within a bound (the operations last half a second each).
    let started = Instant::now();
    loop {
        let obj = c.get_json(&["edp", "acme-dev", "-n", "engram"]).await;
        let ready = obj["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True");
        if ready {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "not Ready: {}\n{}",
            obj["status"],
            std::fs::read_to_string(c.dir.path().join("operator.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (applies, writes) = (c.mock.count("apply", STATUS), arm_writes(&arm));
    assert!(applies >= 1, "status was written on the way to Ready");

    // A window of quiet: the plane is in sync, its resync (300 s) is far away.
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(
        c.mock.count("apply", STATUS),
        applies,
        "an unchanged status was applied again (the reconcile storm)"
    );
    assert_eq!(arm_writes(&arm), writes, "zero ARM writes once Ready");
}
