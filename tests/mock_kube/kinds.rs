//! mock-kube with the real kubectl, continued: the CRD schema, server-side apply, Leases, Events,
//! ConfigMaps and Secrets, and injected faults.

use super::cluster::Cluster;
use super::{rv, EDP};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_applies_the_crd_schema_to_what_kubectl_sends() {
    let c = Cluster::start().await;
    c.install().await;
    // kubectl leaves validation to the server (fieldValidation=Strict): a misspelt field is refused.
    let typo = c.apply_in_engram("examples/invalid/typo-field.yaml").await;
    assert!(!typo.ok);
    assert!(
        typo.stderr
            .contains("strict decoding error: unknown field \"spec.postgres.highAvaliability\""),
        "{}",
        typo.stderr
    );
    // Type, enum and required: 422, one line per field.
    let bad = "apiVersion: engram.zimax.net/v1alpha1\nkind: EngramDataPlane\nmetadata: {name: bad, namespace: engram}\nspec: {environment: dev, azure: {subscriptionId: x, resourceGroup: rg}, postgres: {serverName: p, state: Paused, highAvailability: {mode: 5}}, storage: {accountName: a}}\n";
    std::fs::write(c.dir.path().join("bad.yaml"), bad).unwrap();
    let path = c.dir.path().join("bad.yaml");
    let out = c.kubectl(&["apply", "-f", path.to_str().unwrap()]).await;
    assert!(!out.ok);
    for line in [
        "The EngramDataPlane \"bad\" is invalid:",
        "* spec.azure.location: Required value",
        "* spec.postgres.highAvailability.mode: Invalid value: \"integer\": spec.postgres.highAvailability.mode in body must be of type string: \"integer\"",
        "* spec.postgres.state: Unsupported value: \"Paused\": supported values: \"Running\", \"Stopped\"",
    ] {
        assert!(out.stderr.contains(line), "missing {line:?} in {}", out.stderr);
    }
    // The planner's rules are not in the schema: HA on Burstable is stored (the operator refuses it).
    let ha = c
        .apply_in_engram("examples/invalid/ha-on-burstable.yaml")
        .await;
    assert!(ha.ok, "{}", ha.stderr);
    let names = c.ok(&["get", "edp", "-n", "engram", "-o", "name"]).await;
    assert_eq!(
        names.trim(),
        "engramdataplane.engram.zimax.net/ha-on-burstable"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_server_side_apply_owns_fields_and_conflicts_between_managers() {
    let c = Cluster::start().await;
    c.install().await;
    let out = c
        .ok(&["apply", "--server-side", "-f", "examples/dev.yaml"])
        .await;
    assert!(out.contains("acme-dev serverside-applied"), "{out}");
    let first = c
        .get_json(&["edp", "acme-dev", "-n", "engram", "--show-managed-fields"])
        .await;
    assert_eq!(first["metadata"]["managedFields"][0]["manager"], "kubectl");
    c.ok(&["apply", "--server-side", "-f", "examples/dev.yaml"])
        .await;
    let again = c.get_json(&["edp", "acme-dev", "-n", "engram"]).await;
    assert_eq!(rv(&again), rv(&first), "a repeated apply is a no-op");

    let changed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/dev.yaml"))
            .unwrap()
            .replace("environment: dev", "environment: test");
    let path = c.dir.path().join("test.yaml");
    std::fs::write(&path, changed).unwrap();
    let path = path.to_str().unwrap();
    let refused = c
        .kubectl(&["apply", "--server-side", "--field-manager=ci", "-f", path])
        .await;
    assert!(!refused.ok);
    assert!(
        refused
            .stderr
            .contains("Apply failed with 1 conflict: conflict with \"kubectl\": .spec.environment"),
        "{}",
        refused.stderr
    );
    c.ok(&[
        "apply",
        "--server-side",
        "--field-manager=ci",
        "--force-conflicts",
        "-f",
        path,
    ])
    .await;
    let o = c.get_json(&["edp", "acme-dev", "-n", "engram"]).await;
    assert_eq!(
        (
            o["spec"]["environment"].as_str(),
            o["metadata"]["generation"].as_i64()
        ),
        (Some("test"), Some(2))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_is_held_by_one_field_manager_at_a_time() {
    let c = Cluster::start().await;
    let lease = |who: &str| {
        format!("apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {{name: engram-operator, namespace: default}}\nspec: {{holderIdentity: {who}, leaseDurationSeconds: 15}}\n")
    };
    let dir = c.dir.path();
    for who in ["pod-a", "pod-b"] {
        std::fs::write(dir.join(format!("{who}.yaml")), lease(who)).unwrap();
    }
    let file = |who: &str| dir.join(format!("{who}.yaml")).to_str().unwrap().to_owned();
    let (a, b) = (file("pod-a"), file("pod-b"));
    c.ok(&["apply", "--server-side", "--field-manager=pod-a", "-f", &a])
        .await;
    let taken = c
        .kubectl(&["apply", "--server-side", "--field-manager=pod-b", "-f", &b])
        .await;
    assert!(!taken.ok);
    assert!(
        taken
            .stderr
            .contains("conflict with \"pod-a\": .spec.holderIdentity"),
        "{}",
        taken.stderr
    );
    let table = c.ok(&["get", "leases", "-n", "default"]).await;
    assert!(
        table.contains("HOLDER") && table.contains("pod-a"),
        "{table}"
    );
    assert_eq!(c.mock.count("apply", "leases.coordination.k8s.io"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_events_k8s_io_event_shows_in_kubectl_describe() {
    let c = Cluster::start().await;
    c.install().await;
    c.ok(&["apply", "-f", "examples/dev.yaml"]).await;
    let edp = c.get_json(&["edp", "acme-dev", "-n", "engram"]).await;
    // What kube-runtime's Recorder sends.
    let event = serde_json::json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "acme-dev.1", "namespace": "engram"},
        "regarding": {"apiVersion": "engram.zimax.net/v1alpha1", "kind": "EngramDataPlane",
                      "name": "acme-dev", "namespace": "engram", "uid": edp["metadata"]["uid"]},
        "reason": "Converged", "note": "All resources match the spec", "type": "Normal",
        "action": "Reconcile", "reportingController": "engram-operator",
        "reportingInstance": "pod-a", "eventTime": "2026-01-01T00:00:00.000000Z",
    });
    let url = format!(
        "{}/apis/events.k8s.io/v1/namespaces/engram/events",
        c.mock.base_url()
    );
    let resp = reqwest::Client::new()
        .post(url)
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);

    // kubectl describe lists core v1 events with involvedObject.* field selectors.
    let described = c.ok(&["describe", "edp", "acme-dev", "-n", "engram"]).await;
    let line = described
        .lines()
        .find(|l| l.contains("Converged"))
        .unwrap_or_else(|| panic!("no event in\n{described}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words[..2], ["Normal", "Converged"], "{line}");
    assert!(
        line.ends_with("engram-operator  All resources match the spec"),
        "{line}"
    );
    let core = c
        .get_json(&[
            "events",
            "-n",
            "engram",
            "--field-selector",
            "involvedObject.name=acme-dev",
        ])
        .await;
    assert_eq!(core["items"][0]["message"], "All resources match the spec");
    assert_eq!(
        core["items"][0]["involvedObject"]["kind"],
        "EngramDataPlane"
    );
    let other = c
        .get_json(&[
            "events",
            "-n",
            "engram",
            "--field-selector",
            "involvedObject.name=other",
        ])
        .await;
    assert_eq!(other["items"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_answer_instead_of_the_server() {
    use engram_operator::mock_kube::{FaultKind, FaultSpec};
    let c = Cluster::start().await;
    c.install().await;
    c.ok(&["apply", "-f", "examples/dev.yaml"]).await;
    let edp = "engramdataplanes.engram.zimax.net";
    let get = ["get", "edp", "acme-dev", "-n", "engram"];

    let internal = FaultKind::Status {
        code: 500,
        reason: "InternalError".into(),
    };
    c.mock
        .inject_fault(FaultSpec::new("get", edp, internal).times(1));
    let failed = c.kubectl(&get).await;
    assert!(
        !failed.ok && failed.stderr.contains("InternalError"),
        "{}",
        failed.stderr
    );
    c.ok(&get).await;

    // client-go waits out a 429's Retry-After and tries again.
    c.mock.reset_journal();
    c.mock
        .inject_fault(FaultSpec::new("get", edp, FaultKind::Throttle { retry_after: 1 }).times(1));
    c.ok(&get).await;
    let codes: Vec<u16> = c.mock.journal().iter().map(|e| e.code).collect();
    assert_eq!(codes, [429, 200]);

    // Through the control API: a 409 on status writes.
    let fault = r#"{"verb": "patch", "resource": "engramdataplanes.engram.zimax.net/status",
                    "kind": {"type": "status", "code": 409, "reason": "Conflict"}}"#;
    let http = reqwest::Client::new();
    let url = format!("{}/_mock/faults", c.mock.base_url());
    let made = http.post(&url).body(fault).send().await.unwrap();
    assert_eq!(made.status(), 201);
    let status = [
        "patch",
        "edp",
        "acme-dev",
        "-n",
        "engram",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"driftCount":1}}"#,
    ];
    let refused = c.kubectl(&status).await;
    assert!(
        !refused.ok && refused.stderr.contains("Conflict"),
        "{}",
        refused.stderr
    );
    assert_eq!(http.delete(&url).send().await.unwrap().status(), 204);
    c.ok(&status).await;

    // A dropped watch ends its stream.
    let mut w = c
        .watch(&format!(
            "{EDP}?watch=true&resourceVersion={}",
            c.mock.resource_version()
        ))
        .await;
    c.mock.drop_watches();
    assert!(w.next().await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configmaps_and_secrets_from_kubectl_create_and_apply() {
    let c = Cluster::start().await;
    c.install().await;
    let ns = ["-n", "engram"];
    // Typed commands: protobuf bodies.
    c.ok(&[
        "create",
        "configmap",
        "subs",
        ns[0],
        ns[1],
        "--from-literal=acme=00000000-0000-0000-0000-000000000001",
    ])
    .await;
    c.ok(&[
        "create",
        "secret",
        "generic",
        "token",
        ns[0],
        ns[1],
        "--from-literal=token=s3cret",
    ])
    .await;
    let cm = c.get_json(&["configmap", "subs", ns[0], ns[1]]).await;
    assert_eq!(cm["data"]["acme"], "00000000-0000-0000-0000-000000000001");
    let secret = c.get_json(&["secret", "token", ns[0], ns[1]]).await;
    assert_eq!(
        (secret["data"]["token"].as_str(), secret["type"].as_str()),
        (Some("czNjcmV0"), Some("Opaque"))
    );
    // stringData is written into data.
    let manifest = "apiVersion: v1\nkind: Secret\nmetadata: {name: applied, namespace: engram}\nstringData: {key: hunter2}\n";
    c.apply_text("secret.yaml", manifest).await;
    let applied = c.get_json(&["secret", "applied", ns[0], ns[1]]).await;
    assert_eq!(applied["data"]["key"], "aHVudGVyMg==");
    assert!(applied.get("stringData").is_none());
}
