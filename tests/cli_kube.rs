//! `run` picks exactly one front door: `--specs DIR` (folder) or `--kube`.

use assert_cmd::Command;

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::cargo_bin("engram-operator")
        .unwrap()
        .arg("run")
        .args(args)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn run_needs_one_front_door() {
    let (ok, err) = run(&[]);
    assert!(!ok);
    assert!(err.contains("--specs"), "{err}");
    let (ok, err) = run(&["--kube", "--specs", "examples"]);
    assert!(!ok);
    assert!(err.contains("cannot be used with"), "{err}");
    let (ok, err) = run(&["--specs", "examples", "--namespace", "engram"]);
    assert!(!ok, "--namespace belongs to --kube");
    assert!(err.contains("--kube"), "{err}");
}

#[test]
fn the_deployment_args_parse() {
    // The same flags deploy/base/deployment.yaml passes; --help stops before any connection.
    let out = Command::cargo_bin("engram-operator")
        .unwrap()
        .args(["run", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in ["--kube", "--namespace", "--admin-listen", "--log-format"] {
        assert!(help.contains(flag), "{flag} missing from run --help");
    }
}

#[test]
fn lease_flags_belong_to_kube_and_the_grace_must_be_shorter_than_the_lease() {
    let (ok, err) = run(&["--specs", "examples", "--lease-seconds", "10"]);
    assert!(!ok, "--lease-seconds belongs to --kube");
    assert!(err.contains("--kube"), "{err}");
    for (lease, grace) in [("5", "5"), ("5", "0"), ("3", "9")] {
        let (ok, err) = run(&[
            "--kube",
            "--lease-seconds",
            lease,
            "--lease-grace-seconds",
            grace,
        ]);
        assert!(!ok);
        assert!(
            err.contains("--lease-grace-seconds") && err.contains("less than --lease-seconds"),
            "{err}"
        );
    }
}

#[test]
fn shards_belong_to_kube_and_must_be_from_1_to_64() {
    let (ok, err) = run(&["--specs", "examples", "--shards", "4"]);
    assert!(!ok, "--shards belongs to --kube");
    assert!(err.contains("--shards needs --kube"), "{err}");
    for n in ["0", "65"] {
        // Refused before any connection: no kubeconfig is needed to hear why.
        let (ok, err) = run(&["--kube", "--shards", n]);
        assert!(!ok);
        assert!(
            err.contains(&format!("--shards {n}")) && err.contains("from 1 to 64"),
            "{err}"
        );
    }
    let out = Command::cargo_bin("engram-operator")
        .unwrap()
        .args(["run", "--help"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("--shards"));
}
