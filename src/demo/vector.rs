//! The demo's vector step: acme-prod's server, as the mock reports it, points at a throwaway local
//! PostgreSQL with pgvector (`database::local`); the spec gains the sizing calculator's starting
//! `postgres.vector` block, and passes with database access create the database and extension,
//! build the HNSW index once the application's table exists, and then run nothing.
//! Without PostgreSQL binaries the step says so and is skipped.

use std::sync::Arc;

use super::say;
use crate::api::status::VectorStatus;
use crate::api::{EffectiveSpec, EngramDataPlaneStatus};
use crate::azure::ArmApi;
use crate::database::local::{LocalError, LocalPostgres};
use crate::database::{Db, DbAuth};
use crate::mock_arm::MockArm;
use crate::reconcile::{self, Context};
use crate::{Error, Result};

/// Facts the demo's application table holds (random 384-dimension embeddings).
const FACTS: u64 = 1_000;

/// How the step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorOutcome {
    /// No local PostgreSQL: nothing was tried.
    Skipped,
    /// The index was built as declared and the last pass ran no SQL.
    InSync,
    /// Something did not converge (printed).
    Failed,
}

impl VectorOutcome {
    /// For the summary.
    pub fn label(self) -> &'static str {
        match self {
            Self::Skipped => "skipped (no local PostgreSQL)",
            Self::InSync => "index built as declared, then in sync",
            Self::Failed => "FAILED",
        }
    }
}

/// Step 5. `ctx` makes the pass context of acme-prod (without database access).
pub async fn step(
    mock: &MockArm,
    arm: &dyn ArmApi,
    eff: &EffectiveSpec,
    status: EngramDataPlaneStatus,
    ctx: impl Fn() -> Context,
) -> Result<VectorOutcome> {
    say("== 5. pgvector inside the database: the server's databases, extension and HNSW index");
    let pg = match LocalPostgres::start("engram").await {
        Ok(pg) => pg,
        Err(LocalError::NoBinaries) => {
            say("   vector step skipped: no local PostgreSQL (run .ci/tools.sh)");
            return Ok(VectorOutcome::Skipped);
        }
        Err(e) => {
            say(&format!(
                "   vector step skipped: the local PostgreSQL did not start ({e})"
            ));
            return Ok(VectorOutcome::Skipped);
        }
    };
    mock.edit(
        &crate::plan::owner::server_id(eff),
        serde_json::json!({"properties": {"fullyQualifiedDomainName": pg.fqdn()}}),
    )
    .map_err(|e| Error::Usage(e.to_string()))?;
    say(&format!(
        "   the mock now reports {} at {} (a local PostgreSQL with pgvector; TLS relaxed for loopback only)",
        eff.postgres.server_name,
        pg.fqdn()
    ));
    let suggestion = crate::sizing::vector::suggest(
        FACTS,
        crate::sizing::vector::DEFAULT_DIMS,
        1.0,
        16.0,
        crate::sizing::vector::DEFAULT_DATABASE,
    );
    let b = suggestion.band;
    say(&format!(
        "   declared (size postgres --vector for {FACTS} facts): database engram, index on facts(embedding), m {} efConstruction {} efSearch {} maintenanceWorkMemMiB {}",
        b.m, b.ef_construction, b.ef_search, suggestion.maintenance_work_mem_mib
    ));
    let mut eff = eff.clone();
    eff.postgres.vector = Some(suggestion.spec);
    let db = Db::new(DbAuth::Password {
        user: pg.user.clone(),
        file: pg.password_file.clone(),
    });
    let mut rig = Rig {
        arm,
        eff,
        status,
        ctx: Context {
            db: Some(Arc::new(db)),
            ..ctx()
        },
    };

    let first = rig.pass("pass 1").await;
    create_table(&pg).await?;
    say(&format!(
        "   the application creates facts (id, embedding vector({})) with {FACTS} rows",
        crate::sizing::vector::DEFAULT_DIMS
    ));
    let second = rig.pass("pass 2").await;
    let third = rig.pass("pass 3").await;
    let built = second
        .databases
        .first()
        .and_then(|d| d.indexes.first())
        .is_some_and(|ix| {
            ix.state == "Ready"
                && ix.m == Some(b.m)
                && ix.ef_construction == Some(b.ef_construction)
        });
    let created = first
        .sql
        .iter()
        .any(|s| s.contains("CREATE EXTENSION IF NOT EXISTS vector"));
    Ok(if created && built && third.sql.is_empty() {
        VectorOutcome::InSync
    } else {
        VectorOutcome::Failed
    })
}

struct Rig<'a> {
    arm: &'a dyn ArmApi,
    eff: EffectiveSpec,
    status: EngramDataPlaneStatus,
    ctx: Context,
}

impl Rig<'_> {
    /// One pass with database access; prints the SQL it ran and what status says of the database.
    async fn pass(&mut self, label: &str) -> VectorStatus {
        self.ctx.now = time::OffsetDateTime::now_utc();
        let out = reconcile::reconcile(self.arm, Ok(&self.eff), &self.status, &self.ctx).await;
        self.status = out.status;
        let v = self.status.vector.clone().unwrap_or_default();
        if v.sql.is_empty() {
            say(&format!("   {label}: no SQL (in sync)"));
        } else {
            say(&format!("   {label}: ran"));
            for s in &v.sql {
                say(&format!("     {s}"));
            }
        }
        if let Some(m) = &v.message {
            say(&format!("     note: {m}"));
        }
        for d in &v.databases {
            say(&format!(
                "     database {}: exists={} vector {} hnsw.ef_search {}",
                d.name,
                d.exists,
                d.extension_version.as_deref().unwrap_or("-"),
                d.ef_search.map_or("-".into(), |e| e.to_string())
            ));
            for ix in &d.indexes {
                say(&format!(
                    "     index {} on {}({}): {}{}",
                    ix.name,
                    ix.table,
                    ix.column,
                    ix.state,
                    match (ix.m, ix.ef_construction, ix.size_bytes) {
                        (Some(m), Some(ef), Some(size)) =>
                            format!(", m {m} ef_construction {ef}, {size} bytes"),
                        _ => String::new(),
                    }
                ));
            }
        }
        v
    }
}

/// What the application does: its table of facts with random embeddings (the operator never
/// creates or alters a table).
async fn create_table(pg: &LocalPostgres) -> Result<()> {
    let dims = crate::sizing::vector::DEFAULT_DIMS;
    let sql = format!(
        "CREATE TABLE facts (id bigserial PRIMARY KEY, embedding vector({dims})); {}",
        crate::bench::hnsw::insert_sql("facts", "embedding", dims, 1, FACTS)
    );
    let c = pg
        .as_role("engram")
        .await
        .map_err(|e| Error::Usage(format!("demo table: {e}")))?;
    c.batch_execute(&sql)
        .await
        .map_err(|e| Error::Usage(format!("demo table: {e}")))
}
