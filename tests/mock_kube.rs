//! mock-kube driven by the real kubectl: the CRD and an example applied, printer columns, a no-op
//! re-apply, generation, finalizers and deletion, watches, and the `mock-kube` subcommand. The
//! schema, server-side apply, the other kinds and faults are in `mock_kube/kinds.rs`.

pub mod cluster;
pub mod kinds;

use std::io::BufRead;
use std::process::{Command, Stdio};

use cluster::Cluster;
use serde_json::Value;

const EDP: &str = "/apis/engram.zimax.net/v1alpha1/namespaces/engram/engramdataplanes";

fn example_spec() -> Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/dev.yaml")).unwrap();
    let doc: Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(doc["metadata"]["namespace"], "engram");
    doc["spec"].clone()
}

fn rv(o: &Value) -> String {
    o["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_applies_the_crd_and_an_example_and_reads_it_back() {
    let c = Cluster::start().await;
    c.install().await;
    let out = c.ok(&["apply", "-f", "examples/dev.yaml"]).await;
    assert!(
        out.contains("engramdataplane.engram.zimax.net/acme-dev created"),
        "{out}"
    );

    let obj = c.get_json(&["edp", "acme-dev", "-n", "engram"]).await;
    assert_eq!(obj["spec"], example_spec());
    assert_eq!(obj["metadata"]["generation"], 1);

    let crds = c.ok(&["get", "crd"]).await;
    assert!(crds.contains("engramdataplanes.engram.zimax.net"), "{crds}");
    let resources = c
        .ok(&["api-resources", "--api-group=engram.zimax.net"])
        .await;
    assert!(
        resources.contains("edp") && resources.contains("EngramDataPlane"),
        "{resources}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_prints_the_crd_printer_columns() {
    let c = Cluster::start().await;
    c.install().await;
    c.ok(&["apply", "-f", "examples/dev.yaml"]).await;
    let status = r#"{"status":{"driftCount":3,"postgres":{"sku":"Standard_B1ms"},"conditions":[{"type":"Ready","status":"True","reason":"InSync","message":"","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}"#;
    let out = c
        .ok(&[
            "patch",
            "edp",
            "acme-dev",
            "-n",
            "engram",
            "--subresource=status",
            "--type=merge",
            "-p",
            status,
        ])
        .await;
    assert!(out.contains("patched"), "{out}");

    let table = c.ok(&["get", "edp", "-A"]).await;
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        [
            "NAMESPACE",
            "NAME",
            "ENVIRONMENT",
            "READY",
            "PROGRESSING",
            "POSTGRESQL",
            "SKU",
            "HA",
            "DRIFT",
            "AGE"
        ],
        "{table}"
    );
    assert_eq!(
        &lines[1][..5],
        ["engram", "acme-dev", "dev", "True", "Standard_B1ms"],
        "{table}"
    );
    assert_eq!(lines[1][5], "3", "{table}");
    // priority-1 columns only with -o wide
    let wide = c.ok(&["get", "edp", "-n", "engram", "-o", "wide"]).await;
    assert!(wide.contains("REASON") && wide.contains("InSync"), "{wide}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_op_reapply_changes_no_resource_version() {
    let c = Cluster::start().await;
    c.install().await;
    c.ok(&["apply", "-f", "examples/dev.yaml"]).await;
    let before = c.get_json(&["edp", "acme-dev", "-n", "engram"]).await;
    let server_rv = c.mock.resource_version();
    c.mock.reset_journal();
    let out = c.ok(&["apply", "-f", "examples/dev.yaml"]).await;
    assert!(out.contains("unchanged"), "{out}");
    // A patch that is sent but changes nothing: the server keeps everything as it was.
    let out = c
        .ok(&[
            "patch",
            "edp",
            "acme-dev",
            "-n",
            "engram",
            "--type=merge",
            "-p",
            r#"{"spec":{"environment":"dev"}}"#,
        ])
        .await;
    assert!(out.contains("(no change)"), "{out}");
    let after = c.get_json(&["edp", "acme-dev", "-n", "engram"]).await;
    assert_eq!(rv(&after), rv(&before));
    assert_eq!(c.mock.resource_version(), server_rv);
    // The unchanged apply sent no write at all; the patch was sent and answered 200.
    let edp = "engramdataplanes.engram.zimax.net";
    let writes: Vec<(String, u16)> = c
        .mock
        .journal()
        .into_iter()
        .filter(|e| e.resource == edp && !matches!(e.verb.as_str(), "get" | "list" | "watch"))
        .map(|e| (e.verb, e.code))
        .collect();
    assert_eq!(writes, [("patch".to_owned(), 200)]);
    let counts: Value = reqwest::get(format!("{}/_mock/counts", c.mock.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counts[format!("patch {edp}")], 1, "{counts}");
    assert_eq!(c.mock.count("get", edp), 3, "{counts}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generation_moves_with_the_spec_only() {
    let c = Cluster::start().await;
    c.install().await;
    c.ok(&["apply", "-f", "examples/dev.yaml"]).await;
    let gen = |o: &Value| o["metadata"]["generation"].as_i64().unwrap();
    let ns = ["-n", "engram"];
    c.ok(&["label", "edp", "acme-dev", "team=data", ns[0], ns[1]])
        .await;
    c.ok(&["annotate", "edp", "acme-dev", "note=x", ns[0], ns[1]])
        .await;
    let status = r#"{"status":{"driftCount":1}}"#;
    let o = c
        .patch_dev(&["--subresource=status", "--type=merge", "-p", status])
        .await;
    assert_eq!(
        gen(&o),
        1,
        "labels, annotations and status leave the generation"
    );
    assert_eq!(o["status"]["driftCount"], 1);

    // Status sent on the main resource is ignored (status is a subresource).
    let spec = r#"{"spec":{"postgres":{"state":"Running"}},"status":{"driftCount":9}}"#;
    let o = c.patch_dev(&["--type=merge", "-p", spec]).await;
    assert_eq!(gen(&o), 2);
    assert_eq!(o["spec"]["postgres"]["state"], "Running");
    assert_eq!(o["status"]["driftCount"], 1);

    // A JSON patch too.
    let jp = r#"[{"op":"test","path":"/spec/alerts","value":null},{"op":"replace","path":"/spec/environment","value":"test"}]"#;
    let o = c.patch_dev(&["--type=json", "-p", jp]).await;
    assert_eq!(
        (gen(&o), o["spec"]["environment"].as_str()),
        (3, Some("test"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_delete_waits_for_the_last_finalizer() {
    let c = Cluster::start().await;
    c.install().await;
    c.ok(&["apply", "-f", "examples/dev.yaml"]).await;
    let ns = ["-n", "engram"];
    let fin = r#"{"metadata":{"finalizers":["engram.zimax.net/cleanup"]}}"#;
    c.ok(&[
        "patch",
        "edp",
        "acme-dev",
        ns[0],
        ns[1],
        "--type=merge",
        "-p",
        fin,
    ])
    .await;

    let out = c
        .ok(&["delete", "edp", "acme-dev", ns[0], ns[1], "--wait=false"])
        .await;
    assert!(out.contains("deleted"), "{out}");
    let o = c.get_json(&["edp", "acme-dev", ns[0], ns[1]]).await;
    assert!(o["metadata"]["deletionTimestamp"].is_string(), "{o}");

    // A waiting delete (GET, list and watch with fieldSelector=metadata.name) ends once the
    // finalizer is gone. Its -v=6 log says when its watch is open; only then is it released.
    let mut waiting = c.command(&[
        "delete",
        "edp",
        "acme-dev",
        ns[0],
        ns[1],
        "--timeout=50s",
        "-v=6",
    ]);
    waiting.stderr(Stdio::piped()).stdout(Stdio::null());
    let mut child = waiting.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (watching, watch_open) = tokio::sync::oneshot::channel();
    let log = tokio::task::spawn_blocking(move || {
        let mut lines = std::io::BufReader::new(stderr).lines();
        let mut seen = Vec::new();
        let mut watching = Some(watching);
        for line in lines.by_ref().map_while(Result::ok) {
            if line.contains("watch=true") && line.contains("200 OK") {
                if let Some(w) = watching.take() {
                    let _ = w.send(());
                }
            }
            seen.push(line);
        }
        seen
    });
    tokio::time::timeout(std::time::Duration::from_secs(50), watch_open)
        .await
        .expect("kubectl delete opens its watch")
        .expect("kubectl delete logs its watch");
    let release = r#"[{"op":"remove","path":"/metadata/finalizers"}]"#;
    c.ok(&[
        "patch",
        "edp",
        "acme-dev",
        ns[0],
        ns[1],
        "--type=json",
        "-p",
        release,
    ])
    .await;
    let seen = tokio::time::timeout(std::time::Duration::from_secs(50), log)
        .await
        .expect("kubectl delete ends")
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{}", seen.join("\n"));
    assert!(
        seen.iter()
            .any(|l| l.contains("fieldSelector=metadata.name%3Dacme-dev")),
        "{}",
        seen.join("\n")
    );

    let gone = c.kubectl(&["get", "edp", "acme-dev", ns[0], ns[1]]).await;
    assert!(
        !gone.ok && gone.stderr.contains("NotFound"),
        "{}",
        gone.stderr
    );
    let none = c.ok(&["get", "edp", "-A"]).await;
    assert!(none.is_empty(), "{none}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_sees_each_change_and_nothing_for_a_no_op_write() {
    let c = Cluster::start().await;
    c.install().await;
    let from = c.mock.resource_version();
    let mut w = c
        .watch(&format!("{EDP}?watch=true&resourceVersion={from}"))
        .await;
    let ns = ["-n", "engram"];
    c.ok(&["apply", "-f", "examples/dev.yaml"]).await;
    c.ok(&["apply", "-f", "examples/dev.yaml"]).await;
    c.ok(&[
        "patch",
        "edp",
        "acme-dev",
        ns[0],
        ns[1],
        "--type=merge",
        "-p",
        r#"{"spec":{"environment":"dev"}}"#,
    ])
    .await;
    c.ok(&["label", "edp", "acme-dev", "team=data", ns[0], ns[1]])
        .await;
    c.ok(&["delete", "edp", "acme-dev", ns[0], ns[1]]).await;
    let seen = [
        w.next_pair().await,
        w.next_pair().await,
        w.next_pair().await,
    ];
    let want = ["ADDED", "MODIFIED", "DELETED"].map(|t| (t.to_owned(), "acme-dev".to_owned()));
    assert_eq!(seen, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_starts_with_the_current_objects_and_a_too_old_one_expires() {
    let c = Cluster::start().await;
    c.install().await;
    c.ok(&["apply", "-f", "examples/dev.yaml"]).await;
    let other = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/dev.yaml"))
        .unwrap()
        .replace("name: acme-dev", "name: other");
    c.apply_text("other.yaml", &other).await;

    // No resourceVersion: the current objects first, filtered by the field selector.
    let mut w = c
        .watch("/apis/engram.zimax.net/v1alpha1/engramdataplanes?watch=true&fieldSelector=metadata.name%3Dother")
        .await;
    assert_eq!(w.next_pair().await, ("ADDED".into(), "other".into()));
    c.ok(&["label", "edp", "acme-dev", "a=b", "-n", "engram"])
        .await;
    c.ok(&["label", "edp", "other", "a=b", "-n", "engram"])
        .await;
    assert_eq!(w.next_pair().await, ("MODIFIED".into(), "other".into()));

    // After compaction, a watch from before it gets one ERROR event with a 410, then the end.
    c.mock.compact();
    let mut old = c
        .watch(&format!("{EDP}?watch=true&resourceVersion=1"))
        .await;
    let e = old.next().await.expect("an ERROR event");
    assert_eq!(e["type"], "ERROR");
    assert_eq!(
        (e["object"]["code"].as_i64(), e["object"]["reason"].as_str()),
        (Some(410), Some("Expired"))
    );
    assert!(old.next().await.is_none());
}

#[test]
fn the_mock_kube_subcommand_writes_a_kubeconfig_kubectl_uses() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let mut child = Command::new(env!("CARGO_BIN_EXE_engram-operator"))
        .args(["mock-kube", "--listen", "127.0.0.1:0", "--kubeconfig"])
        .arg(&kubeconfig)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The banner comes after the kubeconfig is written.
    let mut banner = String::new();
    std::io::BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut banner)
        .unwrap();
    assert!(
        banner.contains("mock-kube listening on http://127.0.0.1:"),
        "{banner}"
    );
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .args(["get", "namespaces", "-o", "name", "--request-timeout=20s"])
        .output()
        .expect("kubectl is required for this test; `make test` installs it with .ci/tools.sh");
    let _ = child.kill();
    let _ = child.wait();
    let names = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        names.contains("namespace/default") && names.contains("namespace/kube-system"),
        "{names}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_open_watches() {
    let c = Cluster::start().await;
    let mut w = c.watch("/api/v1/namespaces?watch=true").await;
    assert_eq!(w.next_pair().await, ("ADDED".into(), "default".into()));
    let cluster::Cluster { mock, dir, .. } = c;
    tokio::time::timeout(std::time::Duration::from_secs(10), mock.shutdown())
        .await
        .expect("shutdown does not wait for the watch");
    while let Some(e) = w.next().await {
        assert_eq!(e["type"], "ADDED", "only the initial namespaces: {e}");
    }
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_watch_sends_one_row_per_event_as_kubectl_get_w_asks() {
    let c = Cluster::start().await;
    c.install().await;
    c.ok(&["apply", "-f", "examples/dev.yaml"]).await;
    let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    let mut w = c.watch_as(&format!("{EDP}?watch=true"), accept).await;
    let first = w.next().await.unwrap();
    assert_eq!(
        (first["type"].as_str(), first["object"]["kind"].as_str()),
        (Some("ADDED"), Some("Table"))
    );
    assert_eq!(first["object"]["columnDefinitions"][2]["name"], "Ready");
    assert_eq!(first["object"]["rows"][0]["cells"][0], "acme-dev");
    let drift = r#"{"status":{"driftCount":4}}"#;
    c.ok(&[
        "patch",
        "edp",
        "acme-dev",
        "-n",
        "engram",
        "--subresource=status",
        "--type=merge",
        "-p",
        drift,
    ])
    .await;
    let next = w.next().await.unwrap();
    assert_eq!(next["type"], "MODIFIED");
    assert_eq!(next["object"]["columnDefinitions"], serde_json::json!([]));
    assert_eq!(next["object"]["rows"][0]["cells"][7], 4, "{next}");
}

#[test]
fn the_mock_kube_subcommand_refuses_a_non_loopback_address() {
    let out = Command::new(env!("CARGO_BIN_EXE_engram-operator"))
        .args(["mock-kube", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mock-kube listens on loopback only"), "{err}");
}

/// A watch-list (`sendInitialEvents=true`, what `kubectl delete --wait` sends) gets the current
/// objects and then a BOOKMARK annotated `k8s.io/initial-events-end`; without it kubectl waits
/// for the bookmark until its timeout even after the object is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_list_ends_its_initial_events_with_a_bookmark() {
    let c = Cluster::start().await;
    c.install().await;
    c.ok(&["apply", "-f", "examples/dev.yaml"]).await;
    let q = "?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&fieldSelector=metadata.name%3Dacme-dev";
    let mut w = c.watch(&format!("{EDP}{q}")).await;
    assert_eq!(w.next_pair().await, ("ADDED".into(), "acme-dev".into()));
    let b = w.next().await.expect("a bookmark");
    assert_eq!(b["type"], "BOOKMARK");
    assert_eq!(
        b["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert!(b["object"]["metadata"]["resourceVersion"].is_string());
}
