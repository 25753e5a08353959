//! The Kubernetes manifests: least-privilege RBAC, a locked-down pod, and a kustomize build that
//! renders (through kubectl's built-in kustomize, which CI has).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn docs(text: &str) -> Vec<Value> {
    text.split("\n---\n")
        .map(|d| serde_saphyr::from_str::<Value>(d).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

fn file_docs(rel: &str) -> Vec<Value> {
    docs(&std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap())
}

fn kustomize(dir: &str) -> Vec<Value> {
    let out = Command::new("kubectl")
        .args(["kustomize", dir])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("kubectl is required for this test (its built-in kustomize renders deploy/); `make test` installs it with .ci/tools.sh");
    assert!(
        out.status.success(),
        "kubectl kustomize {dir}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    docs(&String::from_utf8(out.stdout).unwrap())
}

fn kinds(docs: &[Value]) -> Vec<String> {
    let mut k: Vec<String> = docs
        .iter()
        .map(|d| d["kind"].as_str().unwrap().to_owned())
        .collect();
    k.sort();
    k
}

#[test]
fn deployment_pod_is_locked_down() {
    let d = &file_docs("deploy/base/deployment.yaml")[0];
    assert_eq!(d["spec"]["replicas"], 2);
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert_eq!(pod["serviceAccountName"], "engram-operator");
    let c = &pod["containers"][0];
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert!(sc["capabilities"].get("add").is_none());
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/livez");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    for kind in ["requests", "limits"] {
        for res in ["cpu", "memory"] {
            assert!(
                c["resources"][kind][res].is_string(),
                "resources.{kind}.{res} must be set"
            );
        }
    }
}

#[test]
fn rbac_is_least_privilege() {
    let rbac = file_docs("deploy/base/rbac.yaml");
    let mut grants = Vec::new();
    for role in rbac
        .iter()
        .filter(|d| d["kind"] == "ClusterRole" || d["kind"] == "Role")
    {
        for rule in role["rules"].as_array().unwrap() {
            for group in rule["apiGroups"].as_array().unwrap() {
                for res in rule["resources"].as_array().unwrap() {
                    for verb in rule["verbs"].as_array().unwrap() {
                        grants.push(format!(
                            "{}/{}:{}",
                            group.as_str().unwrap(),
                            res.as_str().unwrap(),
                            verb.as_str().unwrap()
                        ));
                    }
                }
            }
        }
    }
    for g in &grants {
        assert!(!g.contains('*'), "wildcard grant {g}");
        let allowed = g.starts_with("engram.zimax.net/engramdataplanes")
            || g.starts_with("events.k8s.io/events:")
            || g.starts_with("coordination.k8s.io/leases:")
            || [
                "/configmaps:get",
                "/configmaps:create",
                "/configmaps:patch",
                "/secrets:get",
            ]
            .contains(&g.as_str());
        assert!(
            allowed,
            "grant outside its own CRD, events, leases, the exports' ConfigMaps and credential Secrets (get only): {g}"
        );
        assert!(
            !g.contains(":delete") && !g.contains(":deletecollection"),
            "no deletes: {g}"
        );
    }
    for needed in [
        "engram.zimax.net/engramdataplanes:watch",
        "engram.zimax.net/engramdataplanes:patch",
        "engram.zimax.net/engramdataplanes/status:patch",
        "events.k8s.io/events:create",
        "coordination.k8s.io/leases:update",
        "/configmaps:get",
        "/configmaps:patch",
        "/secrets:get",
    ] {
        assert!(grants.iter().any(|g| g == needed), "missing {needed}");
    }
    // Leases are namespaced: a Role, not a ClusterRole.
    let lease_role = rbac
        .iter()
        .find(|d| d["metadata"]["name"] == "engram-operator-leases")
        .unwrap();
    assert_eq!(lease_role["kind"], "Role");
    // The shard Leases (`engram-operator-shard-{i}`, --shards) are covered too: no resourceNames,
    // and every verb kube-lease-manager sends (get, create, patch).
    for rule in lease_role["rules"].as_array().unwrap() {
        assert!(rule.get("resourceNames").is_none(), "{rule}");
        for verb in ["get", "create", "patch"] {
            assert!(
                rule["verbs"].as_array().unwrap().iter().any(|v| v == verb),
                "leases:{verb} missing"
            );
        }
    }
}

#[test]
fn service_account_is_set_up_for_workload_identity() {
    let sa = &file_docs("deploy/base/serviceaccount.yaml")[0];
    assert!(sa["metadata"]["annotations"]["azure.workload.identity/client-id"].is_string());
    let pod_labels =
        &file_docs("deploy/base/deployment.yaml")[0]["spec"]["template"]["metadata"]["labels"];
    assert_eq!(pod_labels["azure.workload.identity/use"], "true");
}

#[test]
fn kustomize_renders_base_and_monitoring() {
    let base = kustomize("deploy/");
    assert_eq!(
        kinds(&base),
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "CustomResourceDefinition",
            "Deployment",
            "Namespace",
            "PodDisruptionBudget",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount"
        ]
    );
    for d in base.iter().filter(|d| {
        d["kind"] != "Namespace"
            && !d["kind"].as_str().unwrap().starts_with("Cluster")
            && d["kind"] != "CustomResourceDefinition"
    }) {
        assert_eq!(d["metadata"]["namespace"], "engram-system", "{}", d["kind"]);
    }
    let crd = base
        .iter()
        .find(|d| d["kind"] == "CustomResourceDefinition")
        .unwrap();
    assert_eq!(crd["metadata"]["name"], "engramdataplanes.engram.zimax.net");

    let mon = kustomize("deploy/monitoring/");
    let k = kinds(&mon);
    for want in [
        "ConfigMap",
        "PrometheusRule",
        "ServiceMonitor",
        "Deployment",
    ] {
        assert!(
            k.iter().any(|x| x == want),
            "{want} missing from monitoring overlay"
        );
    }
    let rules = mon.iter().find(|d| d["kind"] == "PrometheusRule").unwrap();
    let alerts: Vec<&str> = rules["spec"]["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["alert"].as_str().unwrap())
        .collect();
    for want in [
        "EngramOperatorDown",
        "EngramReconcileErrors",
        "EngramDriftNotCorrected",
        "EngramArmThrottling",
    ] {
        assert!(alerts.contains(&want), "alert {want} missing");
    }
    let dash = mon.iter().find(|d| d["kind"] == "ConfigMap").unwrap();
    let json: Value =
        serde_json::from_str(dash["data"]["engram-operator.json"].as_str().unwrap()).unwrap();
    assert!(json["panels"].as_array().unwrap().len() >= 6);
}

#[test]
fn the_sharded_overlay_runs_three_replicas_over_eight_shards_and_never_mixes_shard_counts() {
    let sharded = kustomize("deploy/sharded/");
    assert_eq!(
        kinds(&sharded),
        kinds(&kustomize("deploy/")),
        "the base, changed"
    );
    let d = sharded.iter().find(|d| d["kind"] == "Deployment").unwrap();
    assert_eq!(d["spec"]["replicas"], 3);
    // A rollout stops the old pods before new ones start: two values of --shards never run
    // side by side (docs/sharding.md).
    assert_eq!(d["spec"]["strategy"]["type"], "Recreate");
    let args: Vec<&str> = d["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let at = args
        .iter()
        .position(|a| *a == "--shards")
        .expect("--shards");
    assert_eq!(args.get(at + 1), Some(&"8"));
    assert!(args.starts_with(&["run", "--kube"]), "{args:?}");
    // The base itself stays single-leader.
    let base = kustomize("deploy/");
    let d = base.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let base_args = d["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    assert!(!base_args.contains("--shards"), "{base_args}");
}
