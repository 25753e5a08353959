//! The binary's database path: `run --once --pg-password-file` creates the declared database and
//! extension on the PostgreSQL the mock reports (`--pg-fqdn`'s MockConfig twin), saying in its log
//! that TLS is relaxed for a loopback host; `plan -f` then shows the SQL a drift needs and runs
//! none of it. Real PostgreSQL with pgvector; skipped outside CI without the binaries.

use crate::support;

use std::time::Duration;

use assert_cmd::Command;
use engram_operator::database::local::LocalPostgres;
use engram_operator::mock_arm::{ClockMode, LroDurations, MockArm, MockConfig};

const SPEC: &str = "
    restartPolicy: Immediate
    vector:
      databases:
        - name: engram
          indexes:
            - {table: facts, column: embedding}
      efSearch: 40
";

fn cmd(m: &MockArm, pg: &LocalPostgres) -> Command {
    let mut c = Command::cargo_bin("engram-operator").expect("binary");
    c.env("ENGRAM_ARM_ENDPOINT", m.base_url())
        .env("ENGRAM_ARM_TOKEN", m.token())
        .env("ENGRAM_PG_PASSWORD_FILE", &pg.password_file)
        .env("ENGRAM_PG_USER", &pg.user)
        .env("RUST_LOG", "warn");
    c
}

fn run_async(mut c: Command) -> std::process::Output {
    tokio::task::block_in_place(move || c.output().expect("runs"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_creates_the_extension_and_plan_shows_sql_without_running_it() {
    let Some(pg) = support::local_pg().await else {
        return;
    };
    let m = MockArm::start(MockConfig {
        clock: ClockMode::RealTime,
        lro: LroDurations::uniform(Duration::from_millis(200)),
        retry_after_secs: 1,
        pg_fqdn: Some(pg.fqdn()),
        ..MockConfig::default()
    })
    .await
    .expect("mock");
    let dir = tempfile::tempdir().expect("tempdir");
    let specs = dir.path().join("specs");
    std::fs::create_dir(&specs).expect("mkdir");
    let dev = std::fs::read_to_string("examples/dev.yaml").expect("dev");
    let spec = dev
        .replace("    state: Stopped\n", "    state: Running\n")
        .replace(
            "    extensions: [vector]\n",
            &format!("    extensions: [vector]{SPEC}"),
        );
    let file = specs.join("dev.yaml");
    std::fs::write(&file, &spec).expect("spec");

    let mut c = cmd(&m, &pg);
    c.args(["run", "--once", "--poll-seconds", "0.1", "--specs"])
        .arg(&specs)
        .arg("--status-dir")
        .arg(dir.path().join("status"));
    let out = run_async(c);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.contains("TLS relaxed"), "the log says so: {stderr}");
    assert!(!stderr.contains(
        std::fs::read_to_string(&pg.password_file)
            .expect("pw")
            .trim()
    ));
    let status =
        std::fs::read_to_string(dir.path().join("status/acme-dev.status.yaml")).expect("status");
    assert!(status.contains("extensionVersion: \"0.6.2\""), "{status}");
    assert!(status.contains("state: TableMissing"), "{status}");

    // Someone lowers ef_search by hand: plan shows the correction and leaves it.
    let su = pg.superuser("postgres").await.expect("superuser");
    su.batch_execute("ALTER DATABASE engram SET hnsw.ef_search = 5")
        .await
        .expect("edit");
    let mut c = cmd(&m, &pg);
    c.args(["plan", "-f"]).arg(&file);
    let out = run_async(c);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("would run: [engram] ALTER DATABASE \"engram\" SET hnsw.ef_search = 40"),
        "{text}"
    );
    let row = su
        .query_one(
            "SELECT s.setconfig::text FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = 'engram' AND s.setrole = 0",
            &[],
        )
        .await
        .expect("settings");
    assert_eq!(
        row.get::<_, String>(0),
        "{hnsw.ef_search=5}",
        "plan ran nothing"
    );
}
