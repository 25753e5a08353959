//! What the tests of the real binary share: a mock ARM in real time, operator processes (each with
//! its own identity, so both journals can tell the replicas apart by `User-Agent`), and counts
//! read from the two journals.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use engram_operator::mock_arm::{ClockMode, LroDurations, MockArm, MockConfig};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::cluster::Cluster;

/// The status subresource of our kind, as the mock-kube journal names it.
pub const STATUS: &str = "engramdataplanes.engram.zimax.net";

/// A mock ARM for a test of the binary: real-time clock, operations of half a second.
pub async fn arm() -> MockArm {
    MockArm::start(MockConfig {
        clock: ClockMode::RealTime,
        lro: LroDurations::uniform(Duration::from_millis(500)),
        retry_after_secs: 1,
        ..MockConfig::default()
    })
    .await
    .expect("mock ARM")
}

/// The `User-Agent` a replica sends (to ARM it is the start of the header).
pub fn agent(identity: &str) -> String {
    engram_operator::telemetry::user_agent(Some(identity))
}

/// An operator process (`run --kube`), killed (SIGKILL) when dropped.
pub struct Operator {
    child: Child,
    pub identity: String,
    log: PathBuf,
}

impl Operator {
    /// Start `run --kube` as `identity` against this cluster and mock ARM, with more arguments.
    pub fn spawn(c: &Cluster, arm: &MockArm, identity: &str, extra: &[&str]) -> Operator {
        let kubeconfig = c.dir.path().join(format!("{identity}.kubeconfig"));
        c.mock.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        let log = c.dir.path().join(format!("{identity}.log"));
        let out = c.dir.path().join(format!("{identity}.out"));
        let child = Command::new(env!("CARGO_BIN_EXE_engram-operator"))
            .args(["run", "--kube", "--poll-seconds", "0.2"])
            .args(extra)
            .env("KUBECONFIG", &kubeconfig)
            .env("ENGRAM_ARM_ENDPOINT", arm.base_url())
            .env("ENGRAM_KEYVAULT_ENDPOINT", arm.keyvault_url())
            .env("ENGRAM_ARM_TOKEN", arm.token())
            .env("POD_NAMESPACE", "engram")
            .env("POD_NAME", identity)
            .env("RUST_LOG", "warn,engram_operator::sources::leader=info")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("stdout"))
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("operator starts");
        Operator {
            child,
            identity: identity.into(),
            log,
        }
    }

    /// What the process logged so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// What the process printed on stdout so far (the audit lines).
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.log.with_extension("out")).unwrap_or_default()
    }

    /// `kill -9`: no chance to release the Lease.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// ARM requests other than GET and HEAD, from `identity` (any client when `None`).
pub fn arm_writes(m: &MockArm, identity: Option<&str>) -> usize {
    let from = identity.map(agent);
    m.journal()
        .iter()
        .filter(|e| !matches!(e.method.as_str(), "GET" | "HEAD"))
        .filter(|e| from.as_ref().is_none_or(|a| e.user_agent.starts_with(a)))
        .count()
}

/// ARM GET and HEAD requests, from any client.
pub fn arm_reads(m: &MockArm) -> usize {
    m.journal()
        .iter()
        .filter(|e| matches!(e.method.as_str(), "GET" | "HEAD"))
        .count()
}

/// Status applies on our kind, from `identity` (any client when `None`), for one object or all.
pub fn status_applies(c: &Cluster, identity: Option<&str>, name: Option<&str>) -> usize {
    let from = identity.map(agent);
    c.mock
        .journal()
        .iter()
        .filter(|e| e.verb == "apply" && e.resource == STATUS && e.subresource == "status")
        .filter(|e| from.as_ref().is_none_or(|a| &e.user_agent == a))
        .filter(|e| name.is_none_or(|n| e.name == n))
        .count()
}

/// True when the object's Ready condition is True.
pub fn is_ready(obj: &Value) -> bool {
    condition(obj, "Ready").is_some_and(|c| c["status"] == "True")
}

/// One of the object's status conditions.
pub fn condition<'a>(obj: &'a Value, kind: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

/// Poll `kubectl get edp -n engram` until `done` holds for the list of objects; fails after
/// `limit` with the last list and the operators' logs.
pub async fn wait_for(
    c: &Cluster,
    what: &str,
    limit: Duration,
    ops: &[&Operator],
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let list = c.get_json(&["edp", "-n", "engram"]).await;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        if done(&items) {
            return items;
        }
        if started.elapsed() > limit {
            let logs: Vec<String> = ops
                .iter()
                .map(|o| format!("--- {} ---\n{}", o.identity, o.log()))
                .collect();
            panic!(
                "{what}: not within {limit:?}; status: {}\n{}",
                items
                    .iter()
                    .map(|o| format!("{}: {}", o["metadata"]["name"], o["status"]))
                    .collect::<Vec<_>>()
                    .join("\n"),
                logs.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// `kubectl patch edp NAME -n engram --type merge -p PATCH`.
pub async fn merge_patch(c: &Cluster, name: &str, patch: &str) {
    c.ok(&[
        "patch", "edp", name, "-n", "engram", "--type", "merge", "-p", patch,
    ])
    .await;
}

/// Wait until every object is Ready at `generation`.
pub async fn ready_at(c: &Cluster, generation: i64, ops: &[&Operator]) {
    wait_for(
        c,
        &format!("Ready at generation {generation}"),
        Duration::from_secs(60),
        ops,
        |items| {
            items
                .iter()
                .all(|o| is_ready(o) && o["status"]["observedGeneration"] == generation)
        },
    )
    .await;
}

/// Wait until `n` objects exist and every one is Ready.
pub async fn all_ready(c: &Cluster, n: usize, ops: &[&Operator]) -> Vec<Value> {
    wait_for(
        c,
        "every plane Ready",
        Duration::from_secs(240),
        ops,
        |items| items.len() == n && items.iter().all(is_ready),
    )
    .await
}

/// The dev example renamed: its own plane name, server and storage account, and a resync period.
pub fn dev_plane(name: &str, resync: u64, extra_policy: &str) -> String {
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/dev.yaml"),
    )
    .expect("examples/dev.yaml");
    let renamed = example
        .replace("name: acme-dev\n", &format!("name: {name}\n"))
        .replace("serverName: acme-dev-pg", &format!("serverName: {name}-pg"))
        .replace(
            "accountName: acmeengramdev",
            &format!("accountName: engram{}", name.replace('-', "")),
        );
    assert_ne!(renamed, example, "examples/dev.yaml changed shape");
    format!("{renamed}  policy:\n    resyncSeconds: {resync}\n{extra_policy}")
}

/// A Lease in the `engram` namespace.
pub async fn lease(c: &Cluster, name: &str) -> Value {
    c.get_json(&["lease", name, "-n", "engram"]).await
}

/// A Lease's holder ("" when none).
pub fn holder(lease: &Value) -> String {
    lease["spec"]["holderIdentity"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Wait (60 s at most) until `to` holds Lease `name`; how many seconds after `killed_at` it
/// acquired it (the Lease's `acquireTime`).
pub async fn taken_over(
    c: &Cluster,
    name: &str,
    to: &str,
    killed_at: OffsetDateTime,
    op: &Operator,
) -> f64 {
    let started = Instant::now();
    let taken = loop {
        let l = lease(c, name).await;
        if holder(&l) == to {
            break l;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no takeover of {name}: {l}\n{}",
            op.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let acquired = OffsetDateTime::parse(taken["spec"]["acquireTime"].as_str().unwrap(), &Rfc3339)
        .expect("acquireTime");
    (acquired - killed_at).as_seconds_f64()
}
