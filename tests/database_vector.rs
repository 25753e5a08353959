//! postgres.vector against a real PostgreSQL 16 with pgvector 0.6.2 (PyPI's pgserver, installed
//! by .ci/tools.sh): the mock ARM reports the local server as the data plane's FQDN, and the
//! operator signs in as a role with azure_pg_admin's privileges, not a superuser. What the
//! operator did is read back from the catalogs on a separate superuser connection.
//! Without the binaries the tests skip outside CI and fail in CI.

use crate::support;

use engram_operator::api::database::{HnswIndex, Opclass, VectorDatabase, VectorSpec};
use engram_operator::api::spec::{Mode, RestartPolicy, ServerState};
use engram_operator::api::{EffectiveSpec, EngramDataPlaneStatus};
use engram_operator::database::local::LocalPostgres;
use engram_operator::database::{Db, DbAuth};
use engram_operator::mock_arm::MockArm;
use engram_operator::reconcile::{self, Context, Outcome};
use std::sync::Arc;
use support::*;

struct Rig {
    m: MockArm,
    arm: engram_operator::azure::Arm,
    pg: LocalPostgres,
    eff: EffectiveSpec,
    ctx: Context,
    status: EngramDataPlaneStatus,
}

fn vector_spec(m: u32, ef_construction: u32) -> VectorSpec {
    VectorSpec {
        databases: vec![VectorDatabase {
            name: "engram".into(),
            indexes: vec![HnswIndex {
                table: "facts".into(),
                column: "embedding".into(),
                opclass: Opclass::vector_cosine_ops,
                m: Some(m),
                ef_construction: Some(ef_construction),
                name: None,
            }],
        }],
        ef_search: Some(40),
        maintenance_work_mem_mib: Some(64),
    }
}

/// A running dev server (converged without database access), reported at the local PostgreSQL.
async fn rig() -> Option<Rig> {
    let pg = local_pg().await?;
    let m = mock().await;
    let arm = arm(&m);
    let mut eff = dev();
    eff.postgres.state = ServerState::Running;
    eff.postgres.restart_policy = RestartPolicy::Immediate;
    eff.postgres.vector = Some(vector_spec(16, 64));
    let ready = converge(&m, &arm, &eff, Default::default()).await;
    m.edit(
        &server_id(&eff),
        serde_json::json!({"properties": {"fullyQualifiedDomainName": pg.fqdn()}}),
    )
    .expect("point the server at the local PostgreSQL");
    let db = Db::new(DbAuth::Password {
        user: pg.user.clone(),
        file: pg.password_file.clone(),
    });
    let ctx = Context {
        db: Some(Arc::new(db)),
        ..ctx()
    };
    Some(Rig {
        m,
        arm,
        pg,
        eff,
        ctx,
        status: ready.status,
    })
}

impl Rig {
    async fn pass(&mut self) -> Outcome {
        let out = reconcile::reconcile(&self.arm, Ok(&self.eff), &self.status, &self.ctx).await;
        self.status = out.status.clone();
        out
    }

    /// The application creates its table (as the operator's role: it owns what it indexes).
    async fn create_table(&self, rows: i64) {
        let c = self.pg.as_role("engram").await.expect("connect");
        c.batch_execute("CREATE TABLE facts (id bigserial PRIMARY KEY, embedding vector(3))")
            .await
            .expect("create table");
        c.execute(
            "INSERT INTO facts (embedding) SELECT ('[' || i || ',' || (i % 7) || ',1]')::vector FROM generate_series(1, $1::int8) i",
            &[&rows],
        )
        .await
        .expect("rows");
    }

    /// (am, valid, reloptions, opclass) of an index, from pg_class/pg_index/pg_am/pg_opclass.
    async fn index(&self, name: &str) -> Option<(String, bool, Vec<String>, String)> {
        let su = self.pg.superuser("engram").await.expect("superuser");
        su.query_opt(
            "SELECT am.amname, x.indisvalid, coalesce(i.reloptions, '{}'), oc.opcname
               FROM pg_class i JOIN pg_index x ON x.indexrelid = i.oid
               JOIN pg_am am ON am.oid = i.relam
               JOIN pg_opclass oc ON oc.oid = x.indclass[0]
              WHERE i.relname = $1",
            &[&name],
        )
        .await
        .expect("catalog")
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    }

    async fn ef_search(&self) -> Option<String> {
        let su = self.pg.superuser("postgres").await.expect("superuser");
        su.query_opt(
            "SELECT s.setconfig::text FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = 'engram' AND s.setrole = 0",
            &[],
        )
        .await
        .expect("settings")
        .map(|r| r.get(0))
    }
}

#[tokio::test]
async fn creates_database_extension_and_index_as_declared_then_runs_nothing() {
    let Some(mut r) = rig().await else { return };
    let writes_before = r.m.journal().len();
    let first = r.pass().await;
    let v = first.status.vector.clone().expect("vector status");
    assert!(
        v.sql
            .iter()
            .any(|s| s.contains("CREATE DATABASE \"engram\"")),
        "{v:#?}"
    );
    assert!(v
        .sql
        .iter()
        .any(|s| s.contains("CREATE EXTENSION IF NOT EXISTS vector")));
    let db = &v.databases[0];
    assert_eq!(db.extension_version.as_deref(), Some("0.6.2"), "{v:#?}");
    assert_eq!(db.ef_search, Some(40));
    assert_eq!(db.indexes[0].state, "TableMissing", "no table yet: {v:#?}");
    assert_eq!(r.ef_search().await.as_deref(), Some("{hnsw.ef_search=40}"));

    r.create_table(200).await;
    let second = r.pass().await;
    let v = second.status.vector.clone().expect("vector status");
    assert!(
        v.sql.iter().any(|s| s.contains("CREATE INDEX CONCURRENTLY \"facts_embedding_hnsw\"")
            && s.contains("USING hnsw (\"embedding\" vector_cosine_ops) WITH (m = 16, ef_construction = 64)")
            && s.contains("SET maintenance_work_mem = '64MB'")),
        "{v:#?}"
    );
    let (am, valid, opts, opclass) = r.index("facts_embedding_hnsw").await.expect("index built");
    assert_eq!(
        (am.as_str(), valid, opclass.as_str()),
        ("hnsw", true, "vector_cosine_ops")
    );
    assert_eq!(
        opts,
        vec!["m=16".to_string(), "ef_construction=64".to_string()]
    );
    let ix = &v.databases[0].indexes[0];
    assert_eq!(ix.state, "Ready");
    assert!(ix.valid && ix.size_bytes.unwrap_or(0) > 0, "{ix:#?}");
    assert_eq!((ix.m, ix.ef_construction), (Some(16), Some(64)));

    let third = r.pass().await;
    assert!(
        third.status.vector.expect("status").sql.is_empty(),
        "in sync: no SQL"
    );
    // None of this is an ARM write.
    assert!(writes_since(&r.m, writes_before).is_empty());
}

#[tokio::test]
async fn ef_search_drift_is_corrected_and_undeclared_indexes_are_left_alone() {
    let Some(mut r) = rig().await else { return };
    r.pass().await;
    r.create_table(50).await;
    r.pass().await;
    let su = r.pg.superuser("engram").await.expect("superuser");
    su.batch_execute(
        "ALTER DATABASE engram SET hnsw.ef_search = 10;
         CREATE INDEX facts_l2_by_hand ON facts USING hnsw (embedding vector_l2_ops) WITH (m = 4, ef_construction = 8);
         CREATE INDEX facts_id_btree ON facts (id);",
    )
    .await
    .expect("portal-style edits");
    let out = r.pass().await;
    let v = out.status.vector.expect("status");
    assert_eq!(
        v.sql,
        vec!["[engram] ALTER DATABASE \"engram\" SET hnsw.ef_search = 40".to_string()]
    );
    assert_eq!(r.ef_search().await.as_deref(), Some("{hnsw.ef_search=40}"));
    assert!(
        r.index("facts_l2_by_hand").await.is_some(),
        "undeclared hnsw index kept"
    );
    assert!(
        r.index("facts_id_btree").await.is_some(),
        "undeclared btree kept"
    );
}

#[tokio::test]
async fn observe_mode_shows_the_sql_and_runs_none() {
    let Some(mut r) = rig().await else { return };
    r.eff.mode = Mode::Observe;
    let out = r.pass().await;
    let v = out.status.vector.expect("status");
    assert!(
        v.sql.iter().any(|s| s.contains("CREATE DATABASE")),
        "{v:#?}"
    );
    assert!(v.sql.iter().any(|s| s.contains("CREATE EXTENSION")));
    let su = r.pg.superuser("postgres").await.expect("superuser");
    let dbs = su
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = 'engram'",
            &[],
        )
        .await
        .expect("count");
    assert_eq!(dbs.get::<_, i64>(0), 0, "observe mode created a database");
}

#[tokio::test]
async fn changed_parameters_rebuild_under_a_new_name_and_swap() {
    let Some(mut r) = rig().await else { return };
    r.pass().await;
    r.create_table(100).await;
    r.pass().await;
    // Outside the window under MaintenanceWindow: held, reported.
    r.eff.postgres.vector = Some(vector_spec(24, 80));
    r.eff.postgres.restart_policy = RestartPolicy::Never;
    let held = r.pass().await.status.vector.expect("status");
    assert_eq!(held.databases[0].indexes[0].state, "Drifted");
    assert!(held.sql.is_empty(), "{held:#?}");
    assert!(held.message.unwrap_or_default().contains("held"));
    // Immediate: rebuilt concurrently as …_engram_new, swapped, the old one dropped.
    r.eff.postgres.restart_policy = RestartPolicy::Immediate;
    for _ in 0..3 {
        r.pass().await;
    }
    let (_, valid, opts, _) = r.index("facts_embedding_hnsw").await.expect("index");
    assert!(valid);
    assert_eq!(
        opts,
        vec!["m=24".to_string(), "ef_construction=80".to_string()]
    );
    assert!(r.index("facts_embedding_hnsw_engram_new").await.is_none());
    assert!(r.index("facts_embedding_hnsw_engram_old").await.is_none());
    let v = r.status.vector.clone().expect("status");
    assert_eq!(v.databases[0].indexes[0].state, "Ready", "{v:#?}");
}

#[tokio::test]
async fn an_invalid_index_from_a_failed_build_is_reported_and_rebuilt() {
    let Some(mut r) = rig().await else { return };
    r.pass().await;
    r.create_table(20).await;
    // A concurrent build that fails (duplicates under UNIQUE) leaves an invalid index behind,
    // under the declared name.
    let c = r.pg.as_role("engram").await.expect("connect");
    let failed = c
        .batch_execute("CREATE UNIQUE INDEX CONCURRENTLY facts_embedding_hnsw ON facts ((id % 2))")
        .await;
    assert!(failed.is_err());
    assert_eq!(
        r.index("facts_embedding_hnsw").await.map(|i| i.1),
        Some(false)
    );
    let out = r.pass().await;
    let v = out.status.vector.expect("status");
    assert!(
        v.message.unwrap_or_default().contains("invalid"),
        "reported"
    );
    assert!(v.sql.iter().any(|s| s.contains("DROP INDEX CONCURRENTLY")));
    let (am, valid, _, _) = r.index("facts_embedding_hnsw").await.expect("rebuilt");
    assert_eq!((am.as_str(), valid), ("hnsw", true));
}
