//! Folder mode: files added, changed and removed are picked up; status files are written in the
//! CRD status shape and read back on restart.

use crate::support;

use std::sync::Arc;

use engram_operator::sources::folder::{read_status, Folder, FolderOptions};
use support::*;

#[tokio::test]
async fn added_changed_and_removed_files_are_followed() {
    let m = mock().await;
    let (_dir, specs, status, mut folder) = dev_folder(&m);

    folder.scan().unwrap();
    folder.pass().await.unwrap();
    assert_eq!(folder.planes(), vec![("acme-dev".to_string(), 1)]);
    let written = read_status(&status, "acme-dev").expect("status file");
    assert_eq!(
        written.pending_operations.len(),
        2,
        "the server and account creates are in flight"
    );

    // Added.
    std::fs::copy("examples/test.yaml", specs.join("test.yaml")).unwrap();
    folder.scan().unwrap();
    assert_eq!(folder.planes().len(), 2);
    // Changed: same name, new generation; unchanged files keep theirs.
    let text = std::fs::read_to_string(specs.join("dev.yaml"))
        .unwrap()
        .replace("extensions: [vector]", "extensions: [vector, pg_trgm]");
    std::fs::write(specs.join("dev.yaml"), text).unwrap();
    folder.scan().unwrap();
    let planes = folder.planes();
    assert!(planes.contains(&("acme-dev".to_string(), 2)), "{planes:?}");
    assert!(planes.contains(&("acme-test".to_string(), 1)), "{planes:?}");
    // Removed: no longer reconciled, nothing deleted in Azure.
    std::fs::remove_file(specs.join("test.yaml")).unwrap();
    folder.scan().unwrap();
    assert_eq!(folder.planes().len(), 1);
    let deletes = m.journal().iter().filter(|e| e.method == "DELETE").count();
    assert_eq!(deletes, 0);
}

#[tokio::test]
async fn a_restarted_folder_runner_resumes_from_its_status_files() {
    let m = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("specs");
    let status = dir.path().join("status");
    std::fs::create_dir(&specs).unwrap();
    std::fs::copy("examples/dev.yaml", specs.join("dev.yaml")).unwrap();
    let mut opts = FolderOptions::new(&specs);
    opts.status_dir = Some(status.clone());
    let mut first = Folder::new(Arc::new(arm(&m)), opts.clone());
    first.scan().unwrap();
    first.pass().await.unwrap();
    drop(first);
    let id = server_id(&dev());
    assert_eq!(m.writes_to(&id), 1);

    let mut second = Folder::new(Arc::new(arm(&m)), opts);
    second.scan().unwrap();
    second.pass().await.unwrap();
    assert_eq!(m.writes_to(&id), 1, "the create in flight was not re-sent");
    let resumed = read_status(&status, "acme-dev").unwrap();
    assert_eq!(resumed.pending_operations.len(), 2);
}

#[tokio::test]
async fn a_fatal_error_is_not_retried_until_the_spec_changes() {
    use engram_operator::mock_arm::{FaultKind, FaultSpec};
    let m = mock().await;
    let fault = FaultKind::Status {
        status: 400,
        code: "InvalidParameter".into(),
        message: "bad".into(),
    };
    m.inject_fault(FaultSpec::new(
        "PUT",
        "*/flexibleServers/acme-dev-pg",
        fault,
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("examples/dev.yaml", dir.path().join("dev.yaml")).unwrap();
    let mut folder = Folder::new(Arc::new(arm(&m)), FolderOptions::new(dir.path()));
    folder.scan().unwrap();
    folder.pass().await.unwrap();
    let after_fatal = m.journal().len();
    assert!(after_fatal > 0);
    let status = &folder.statuses()[0].1;
    assert!(
        status
            .errors
            .iter()
            .any(|e| e.contains("InvalidParameter: bad")),
        "{:?}",
        status.errors
    );
    // Same spec: nothing is sent, however often the runner passes.
    for _ in 0..3 {
        folder.scan().unwrap();
        folder.pass().await.unwrap();
    }
    assert_eq!(m.journal().len(), after_fatal);
    // The spec changes: the plane is reconciled again.
    let text = std::fs::read_to_string(dir.path().join("dev.yaml"))
        .unwrap()
        .replace("extensions: [vector]", "extensions: [vector, pg_trgm]");
    std::fs::write(dir.path().join("dev.yaml"), text).unwrap();
    folder.scan().unwrap();
    folder.pass().await.unwrap();
    assert!(m.journal().len() > after_fatal);
}

/// Passes (every plane due, the mock's clock moved past each operation) until `done` holds for
/// acme-prod's status.
async fn run_until(
    folder: &mut Folder,
    m: &engram_operator::mock_arm::MockArm,
    done: impl Fn(&engram_operator::api::EngramDataPlaneStatus) -> bool,
) {
    for _ in 0..40 {
        folder.scan().unwrap();
        folder.force_due();
        folder.pass().await.unwrap();
        let statuses = folder.statuses();
        if statuses.iter().any(|(n, s)| n == "acme-prod" && done(s)) {
            return;
        }
        m.advance(LRO);
    }
    panic!("not reached: {:?}", folder.statuses());
}

#[tokio::test]
async fn audit_log_gets_one_json_line_per_key_rotation_step() {
    let m = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let (specs, audit) = (dir.path().join("specs"), dir.path().join("audit.jsonl"));
    std::fs::create_dir(&specs).unwrap();
    let v1 = kv_key(&m, "rotate").await;
    let pin = |v: &str| {
        let text = std::fs::read_to_string("examples/prod.yaml")
            .unwrap()
            .replacen(
                "\n    keyVersion: latest\n",
                &format!("\n    keyVersion: {v}\n"),
                1,
            );
        std::fs::write(specs.join("prod.yaml"), text).unwrap();
    };
    pin(&v1);
    let mut opts = FolderOptions::new(&specs);
    opts.audit_log = Some(audit.clone());
    let mut folder = Folder::new(Arc::new(arm(&m)), opts);
    run_until(&mut folder, &m, |s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    })
    .await;
    assert!(!audit.exists(), "creating is not rotating: no audit line");
    let v2 = kv_key(&m, "rotate").await;
    pin(&v2);
    run_until(&mut folder, &m, |s| {
        s.key_rotation
            .as_ref()
            .is_some_and(|r| r.phase == "Complete")
    })
    .await;
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let steps: Vec<(String, String)> = lines
        .iter()
        .map(|l| {
            (
                l["event"].as_str().unwrap().into(),
                l["consumer"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = [
        ("detected", "all"),
        ("move-sent", "postgres"),
        ("move-sent", "storage"),
        ("consumer-confirmed", "postgres"),
        ("consumer-confirmed", "storage"),
        ("rotation-complete", "all"),
    ]
    .map(|(e, c)| (e.to_string(), c.to_string()));
    assert_eq!(steps, want);
    assert!(lines.iter().all(|l| l["plane"] == "acme-prod"
        && l["fromVersion"] == v1.as_str()
        && l["toVersion"] == v2.as_str()
        && l["time"].is_string()));
    assert!(lines[1]["requestId"]
        .as_str()
        .is_some_and(|id| id.len() == 36));
}

#[tokio::test]
async fn the_export_file_follows_the_plane_and_is_written_only_on_change() {
    let m = mock().await;
    let (_dir, specs, _status, mut folder) = dev_folder(&m);
    let text = std::fs::read_to_string("examples/dev.yaml").unwrap();
    std::fs::write(
        specs.join("dev.yaml"),
        format!("{text}  exports:\n    file: out/acme-dev.env\n"),
    )
    .unwrap();
    let file = specs.join("out/acme-dev.env");
    let ready = |s: &engram_operator::api::EngramDataPlaneStatus| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    };
    let mut converged = false;
    for _ in 0..30 {
        folder.scan().unwrap();
        folder.force_due();
        folder.pass().await.unwrap();
        if folder.statuses().iter().any(|(_, s)| ready(s)) {
            converged = true;
            break;
        }
        assert!(!file.exists(), "exported before Ready");
        m.advance(LRO);
    }
    assert!(converged, "{:?}", folder.statuses());
    let env = |host: &str| {
        format!(
            "BLOB_CONTAINERS=record-plane\nBLOB_ENDPOINT=https://acmeengramdev.blob.core.windows.net/\n\
             PGHOST={host}\nPGPORT=5432\nPGSSLMODE=require\n"
        )
    };
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        env("acme-dev-pg.postgres.database.azure.com")
    );

    // In sync: not rewritten (a write is a new file renamed in place: a new inode).
    use std::os::unix::fs::MetadataExt;
    let ino = std::fs::metadata(&file).unwrap().ino();
    for _ in 0..2 {
        folder.force_due();
        folder.pass().await.unwrap();
    }
    assert_eq!(std::fs::metadata(&file).unwrap().ino(), ino, "rewritten");

    // The server's address changes in Azure: the file follows (a new file renamed in place).
    let server = server_id(&dev());
    m.edit(
        &server,
        serde_json::json!({"properties": {"fullyQualifiedDomainName": "acme-dev-pg.example.internal"}}),
    )
    .expect("edit");
    folder.force_due();
    folder.pass().await.unwrap();
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        env("acme-dev-pg.example.internal")
    );
    assert_ne!(std::fs::metadata(&file).unwrap().ino(), ino);
    let names: Vec<_> = std::fs::read_dir(specs.join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("acme-dev.env")]);
}
