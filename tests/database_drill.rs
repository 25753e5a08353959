//! postgres.restoreDrill end to end: the mock ARM restores the plane's server to a scratch server
//! that reports a second local PostgreSQL (`pg_restore_fqdn`), which the test fills as "the
//! restore"; the operator verifies it, measures RPO from the heartbeat it finds there and RTO from
//! request to verification, and deletes the scratch server. The source is a first local
//! PostgreSQL, where the operator keeps the heartbeat. Passes run on the mock's virtual clock.
//! Without PostgreSQL binaries the tests skip outside CI and fail in CI.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use engram_operator::api::database::{DrillTable, DrillVerify, RestoreDrill};
use engram_operator::api::spec::ServerState;
use engram_operator::api::{EffectiveSpec, EngramDataPlaneStatus};
use engram_operator::database::local::LocalPostgres;
use engram_operator::database::{Db, DbAuth};
use engram_operator::mock_arm::{LroDurations, MockArm, MockConfig};
use engram_operator::reconcile::{self, Context, Outcome};
use support::*;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

struct Rig {
    m: MockArm,
    arm: engram_operator::azure::Arm,
    source: LocalPostgres,
    restore: LocalPostgres,
    eff: EffectiveSpec,
    db: Arc<Db>,
    status: EngramDataPlaneStatus,
}

fn drill(min_rows: u64) -> RestoreDrill {
    RestoreDrill {
        schedule: "0 * * * *".into(),
        verify: vec![DrillVerify {
            database: "engram".into(),
            tables: vec![DrillTable {
                name: "facts".into(),
                min_rows: Some(min_rows),
            }],
            query: Some("SELECT id FROM facts WHERE id = 1".into()),
        }],
        keep_failed: false,
    }
}

async fn rig(server_name: &str, min_rows: u64) -> Option<Rig> {
    let source = local_pg().await?;
    let restore = local_pg().await?;
    // One password file signs in to both, as one Entra identity would.
    let password = std::fs::read_to_string(&source.password_file).expect("password");
    restore
        .superuser("postgres")
        .await
        .expect("superuser")
        .batch_execute(&format!("ALTER ROLE engram PASSWORD '{}'", password.trim()))
        .await
        .expect("same password");
    std::fs::write(&restore.password_file, &password).expect("password file");
    let m = MockArm::start(MockConfig {
        lro: LroDurations::uniform(LRO),
        pg_fqdn: Some(source.fqdn()),
        pg_restore_fqdn: Some(restore.fqdn()),
        ..MockConfig::default()
    })
    .await
    .expect("mock");
    kv_key(&m, "create").await;
    let arm = arm(&m);
    let mut eff = dev();
    eff.postgres.server_name = server_name.into();
    eff.postgres.state = ServerState::Running;
    eff.postgres.restore_drill = Some(drill(min_rows));
    let ready = converge(&m, &arm, &eff, Default::default()).await;
    assert!(ready.ready(), "{:#?}", ready.status);
    let db = Arc::new(Db::new(DbAuth::Password {
        user: source.user.clone(),
        file: source.password_file.clone(),
    }));
    Some(Rig {
        m,
        arm,
        source,
        restore,
        eff,
        db,
        status: ready.status,
    })
}

impl Rig {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::parse(&self.m.now(), &Rfc3339).expect("mock time")
    }

    async fn pass(&mut self) -> Outcome {
        let c = Context {
            now: self.now(),
            db: Some(self.db.clone()),
            ..ctx()
        };
        let out = reconcile::reconcile(&self.arm, Ok(&self.eff), &self.status, &c).await;
        self.status = out.status.clone();
        out
    }

    /// Moves the mock's clock to the drill's next due time and runs the pass that starts it.
    async fn start_drill(&mut self) -> Outcome {
        self.pass().await;
        let due = self
            .status
            .restore_drill
            .as_ref()
            .and_then(|d| d.next_due.clone())
            .expect("next due");
        let due = OffsetDateTime::parse(&due, &Rfc3339).expect("rfc3339");
        let wait = (due - self.now()).whole_seconds().max(0) as u64;
        self.m.advance(Duration::from_secs(wait + 1));
        self.pass().await
    }

    /// "The restore": the application's rows and the heartbeat as of `heartbeat_at`.
    async fn fill_restore(&self, rows: i64, heartbeat_at: OffsetDateTime) {
        let su = self.restore.superuser("postgres").await.expect("superuser");
        for db in ["engram", "engram_ops"] {
            su.batch_execute(&format!("CREATE DATABASE {db} OWNER engram"))
                .await
                .expect("database");
        }
        let app = self.restore.as_role("engram").await.expect("connect");
        app.batch_execute("CREATE TABLE facts (id bigserial PRIMARY KEY, body text)")
            .await
            .expect("table");
        app.execute(
            "INSERT INTO facts (body) SELECT 'fact ' || i FROM generate_series(1, $1::int8) i",
            &[&rows],
        )
        .await
        .expect("rows");
        let ops = self.restore.as_role("engram_ops").await.expect("connect");
        ops.batch_execute(&format!(
            "CREATE TABLE heartbeat (id int PRIMARY KEY, at timestamptz NOT NULL);
             INSERT INTO heartbeat VALUES (1, '{}')",
            heartbeat_at.format(&Rfc3339).expect("format")
        ))
        .await
        .expect("heartbeat");
    }

    fn source_writes_since(&self, from: usize) -> Vec<(String, String)> {
        let id = server_id(&self.eff);
        writes_since(&self.m, from)
            .into_iter()
            .filter(|(_, p)| p.trim_end_matches('/') == id || p.starts_with(&format!("{id}/")))
            .collect()
    }
}

fn condition<'a>(s: &'a EngramDataPlaneStatus, t: &str) -> Option<(&'a str, &'a str)> {
    s.conditions
        .iter()
        .find(|c| c.type_ == t)
        .map(|c| (c.status.as_str(), c.reason.as_str()))
}

#[tokio::test]
async fn a_drill_restores_verifies_measures_and_deletes_its_scratch_server() {
    let Some(mut r) = rig("acme-dev-pg", 3).await else {
        return;
    };
    let from = r.m.journal().len();
    let started = r.start_drill().await;
    // The heartbeat is kept on the source, in the operator's own database.
    let hb = r
        .source
        .superuser("engram_ops")
        .await
        .expect("engram_ops exists on the source");
    let rows = hb
        .query("SELECT at FROM heartbeat", &[])
        .await
        .expect("heartbeat");
    assert_eq!(rows.len(), 1);
    let run = started
        .status
        .restore_drill
        .clone()
        .and_then(|d| d.current)
        .expect("a drill in flight");
    assert_eq!(run.phase, "Restoring");
    assert!(run.server.starts_with("acme-dev-pg-drill-"), "{run:#?}");
    assert!(started.requeue_after.expect("requeue") <= Duration::from_secs(60));
    let point = OffsetDateTime::parse(&run.restore_point, &Rfc3339).expect("point");
    assert_eq!(r.now() - point, time::Duration::minutes(5), "now − 5 min");
    r.fill_restore(5, point - time::Duration::seconds(90)).await;

    r.m.advance(LRO * 2);
    let verified = r.pass().await;
    let cur = verified
        .status
        .restore_drill
        .clone()
        .and_then(|d| d.current)
        .expect("deleting");
    assert_eq!(cur.phase, "Deleting", "{cur:#?}");
    assert_eq!(cur.result.as_deref(), Some("Succeeded"));
    assert_eq!(
        cur.rpo_seconds,
        Some(90),
        "restore point − the heartbeat in the restore"
    );
    assert!(
        cur.rto_seconds.is_some_and(|s| s >= LRO.as_secs() as i64),
        "{cur:#?}"
    );

    r.m.advance(LRO * 2);
    let done = r.pass().await;
    let d = done.status.restore_drill.clone().expect("status");
    assert!(d.current.is_none());
    let last = d.last.expect("last run");
    assert_eq!(
        (last.phase.as_str(), last.result.as_deref()),
        ("Succeeded", Some("Succeeded"))
    );
    assert_eq!(
        done.drill_finished.as_ref().map(|f| f.server.clone()),
        Some(last.server.clone())
    );
    assert!(d.next_due.is_some());
    let writes = writes_since(&r.m, from);
    assert!(
        writes
            .iter()
            .any(|(m, p)| m == "PUT" && p.ends_with(&last.server)),
        "{writes:#?}"
    );
    assert!(
        writes
            .iter()
            .any(|(m, p)| m == "DELETE" && p.ends_with(&last.server)),
        "{writes:#?}"
    );
    assert!(
        r.source_writes_since(from).is_empty(),
        "the source server is never written"
    );
    assert_ne!(
        condition(&done.status, "Degraded").map(|c| c.1),
        Some("RestoreDrillFailed")
    );
}

#[tokio::test]
async fn a_low_row_count_fails_the_drill_degrades_and_still_deletes_the_scratch_server() {
    // A source name long enough that the scratch name must be shortened and hashed.
    let long = format!("acme-{}-pg", "x".repeat(52));
    let Some(mut r) = rig(&long, 1000).await else {
        return;
    };
    let from = r.m.journal().len();
    let started = r.start_drill().await;
    let run = started
        .status
        .restore_drill
        .clone()
        .and_then(|d| d.current)
        .expect("in flight");
    assert!(
        run.server.len() <= 63 && run.server.contains("-drill-"),
        "{}",
        run.server
    );
    let point = OffsetDateTime::parse(&run.restore_point, &Rfc3339).expect("point");
    r.fill_restore(5, point - time::Duration::seconds(30)).await;
    r.m.advance(LRO * 2);
    let failed = r.pass().await;
    let cur = failed
        .status
        .restore_drill
        .clone()
        .and_then(|d| d.current)
        .expect("deleting");
    assert_eq!(
        (cur.phase.as_str(), cur.result.as_deref()),
        ("Deleting", Some("Failed"))
    );
    assert!(
        cur.message
            .clone()
            .unwrap_or_default()
            .contains("5 rows (at least 1000 required)"),
        "{cur:#?}"
    );
    r.m.advance(LRO * 2);
    let done = r.pass().await;
    assert_eq!(
        condition(&done.status, "Degraded"),
        Some(("True", "RestoreDrillFailed"))
    );
    let writes = writes_since(&r.m, from);
    assert!(
        writes
            .iter()
            .any(|(m, p)| m == "DELETE" && p.ends_with(&run.server)),
        "{writes:#?}"
    );
    assert!(
        r.source_writes_since(from).is_empty(),
        "a failed drill never touches the source"
    );
}

#[tokio::test]
async fn a_point_outside_retention_is_refused_with_the_reason() {
    let Some(mut r) = rig("acme-dev-pg", 1).await else {
        return;
    };
    // The server is younger than the drill's look-back: its point (now − 5 min) lies before the
    // server existed, outside what its backups cover.
    r.pass().await;
    let due = r
        .status
        .restore_drill
        .as_ref()
        .and_then(|d| d.next_due.clone())
        .expect("due");
    let due = OffsetDateTime::parse(&due, &Rfc3339).expect("rfc3339");
    r.m.edit(
        &server_id(&r.eff),
        serde_json::json!({"systemData": {"createdAt": (due - time::Duration::minutes(1)).format(&Rfc3339).expect("format")}}),
    )
    .expect("edit");
    let out = r.start_drill().await;
    let d = out.status.restore_drill.clone().expect("status");
    assert!(d.current.is_none());
    let last = d.last.expect("the refused drill is recorded");
    assert_eq!(last.result.as_deref(), Some("Failed"));
    let msg = last.message.unwrap_or_default();
    assert!(msg.contains("refused"), "{msg}");
    assert!(
        msg.to_lowercase().contains("retention") || msg.contains("before"),
        "the reason: {msg}"
    );
    assert_eq!(
        condition(&out.status, "Degraded"),
        Some(("True", "RestoreDrillFailed"))
    );
}
