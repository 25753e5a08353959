//! The command line: exit codes and messages of validate, render and crd.

use assert_cmd::Command;

fn bin() -> Command {
    let mut cmd = Command::cargo_bin("engram-operator").unwrap();
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

fn stdout(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn validate_examples_folder_exits_zero() {
    let (code, out, _) = stdout(bin().args(["validate", "-f", "examples/"]));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("4 valid, 0 invalid"), "{out}");
}

#[test]
fn validate_invalid_file_exits_one_naming_file_and_field() {
    let (code, out, _) =
        stdout(bin().args(["validate", "-f", "examples/invalid/ha-on-burstable.yaml"]));
    assert_eq!(code, 1);
    assert!(
        out.contains("examples/invalid/ha-on-burstable.yaml: spec.postgres.highAvailability.mode: ZoneRedundant is not available on the Burstable tier"),
        "{out}"
    );
}

#[test]
fn validate_folder_with_one_bad_file_exits_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("examples/dev.yaml", dir.path().join("a.yaml")).unwrap();
    std::fs::copy("examples/invalid/weak-tls.yaml", dir.path().join("b.yml")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    let (code, out, _) = stdout(bin().args(["validate", "-f"]).arg(dir.path()));
    assert_eq!(code, 1);
    assert!(out.contains("1 valid, 1 invalid"), "{out}");
    assert!(
        out.contains("b.yml: spec.storage.minimumTlsVersion"),
        "{out}"
    );
}

#[test]
fn validate_missing_path_is_a_clear_error() {
    let (code, _, err) = stdout(bin().args(["validate", "-f", "no/such/file.yaml"]));
    assert_eq!(code, 1);
    assert!(err.contains("no/such/file.yaml"), "{err}");
}

#[test]
fn render_prints_the_effective_spec() {
    let (code, out, _) = stdout(bin().args(["render", "-f", "examples/dev.yaml"]));
    assert_eq!(code, 0);
    for line in [
        "name: Standard_B1ms",
        "sizeGiB: 32",
        "retentionDays: 7",
        "state: Stopped",
        "coolAfterDays: 30",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    // The rendered document is itself a valid spec.
    engram_operator::api::load(&out).unwrap();
}

#[test]
fn render_of_invalid_spec_exits_one_with_errors_on_stderr() {
    let (code, out, err) =
        stdout(bin().args(["render", "-f", "examples/invalid/storage-size.yaml"]));
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(
        err.contains("spec.postgres.storage.sizeGiB: 100 is not a Flexible Server storage size"),
        "{err}"
    );
}

#[test]
fn crd_prints_the_committed_crd() {
    let (code, out, _) = stdout(bin().arg("crd"));
    assert_eq!(code, 0);
    assert_eq!(
        out,
        std::fs::read_to_string("crds/engramdataplane.yaml").unwrap()
    );
}
