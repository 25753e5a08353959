//! pgvector, applied: once the server is Ready and `vector` is allow-listed, read the declared
//! databases' catalogs, plan (`plan::vector`), and in enforce mode run the steps. Observe mode and
//! `plan` show the SQL and run none.
//!
//! An index build runs on its own connection and the pass waits for it at most `build_wait`; a
//! longer build goes on in the background and the next pass finds it in
//! pg_stat_progress_create_index (state Building). A process that exits mid-build (run --once)
//! cancels it; PostgreSQL leaves an invalid index, which the next pass drops and rebuilds.

use std::collections::BTreeMap;
use std::time::Duration;

use time::OffsetDateTime;
use tokio_postgres::Client;

use super::{catalog, Db, DbError};
use crate::api::spec::RestartPolicy;
use crate::api::status::VectorStatus;
use crate::api::EffectiveSpec;
use crate::plan::observed::{Observed, ObservedWindow};
use crate::plan::vector::{self, ObservedVector, SqlStep, StepKind};

/// What the vector step of one pass found and did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VectorPass {
    pub status: VectorStatus,
    /// A build is still running: look again soon.
    pub building: bool,
    /// Something failed (reported in status.message): retry on the next pass.
    pub failed: bool,
    /// Steps run (enforce), for logs and Events.
    pub ran: Vec<SqlStep>,
}

/// Whether the server can be worked in: Ready and `vector` allow-listed. Err: why not yet.
pub fn ready(observed: &Observed) -> Result<&str, String> {
    let Some(server) = observed.postgres.server.as_ref() else {
        return Err("waiting for the server to exist".into());
    };
    if server.state != "Ready" {
        return Err(format!(
            "waiting for the server to be Ready (it is {})",
            server.state
        ));
    }
    let allowed = observed
        .postgres
        .configs
        .get("azure.extensions")
        .is_some_and(|c| {
            c.value
                .split(',')
                .any(|x| x.trim().eq_ignore_ascii_case("vector"))
        });
    if !allowed {
        return Err("waiting for VECTOR in azure.extensions".into());
    }
    server
        .fqdn
        .as_deref()
        .ok_or_else(|| "the server reports no fullyQualifiedDomainName".to_owned())
}

/// Whether a parameter change may rebuild an index now.
pub fn rebuild_allowed(eff: &EffectiveSpec, now: OffsetDateTime) -> bool {
    match eff.postgres.restart_policy {
        RestartPolicy::Immediate => true,
        RestartPolicy::Never => false,
        RestartPolicy::MaintenanceWindow => {
            eff.postgres.maintenance_window.as_ref().is_some_and(|w| {
                crate::plan::rules::in_maintenance_window(
                    &ObservedWindow {
                        day_of_week: w.day_of_week,
                        start_hour: w.start_hour,
                        start_minute: w.start_minute,
                    },
                    now,
                )
            })
        }
    }
}

/// The vector step of a pass (None when the spec declares no postgres.vector).
pub async fn step(
    db: Option<&Db>,
    eff: &EffectiveSpec,
    observed: &Observed,
    enforce: bool,
    now: OffsetDateTime,
) -> Option<VectorPass> {
    let spec = eff.postgres.vector.as_ref()?;
    let mut pass = VectorPass::default();
    let fqdn = match ready(observed) {
        Ok(f) => f,
        Err(why) => {
            pass.status.message = Some(why);
            return Some(pass);
        }
    };
    let Some(db) = db else {
        pass.status.message = Some(
            "skipped: no database access configured (Entra against Azure; --pg-password-file against the mock)".into(),
        );
        return Some(pass);
    };
    let role = eff
        .postgres
        .entra_admin
        .as_ref()
        .map(|a| a.principal_name.as_str());
    let mut conns = Conns {
        db,
        fqdn,
        role,
        open: BTreeMap::new(),
    };
    let allowed = rebuild_allowed(eff, now);
    let result = async {
        let observed = observe(&mut conns, spec).await?;
        let plan = vector::plan(spec, &observed, allowed);
        if !enforce || plan.steps.is_empty() {
            return Ok::<_, DbError>((plan, Vec::new(), None));
        }
        let (ran, building, err) = run(&mut conns, &plan.steps, db.build_wait).await;
        // Read again so that status shows what is there now, not what was planned.
        let after = observe(&mut conns, spec).await?;
        let mut now_plan = vector::plan(spec, &after, allowed);
        now_plan.building |= building;
        // What was found before the steps ran (a failed build, a rebuild) stays reported.
        let mut notes = plan.notes;
        for n in std::mem::take(&mut now_plan.notes) {
            if !notes.contains(&n) {
                notes.push(n);
            }
        }
        now_plan.notes = notes;
        Ok((now_plan, ran, err))
    }
    .await;
    match result {
        Ok((plan, ran, err)) => {
            pass.building = plan.building;
            pass.status.databases = plan.databases.clone();
            pass.status.sql = if enforce {
                ran.iter().map(SqlStep::display).collect()
            } else {
                plan.steps.iter().map(SqlStep::display).collect()
            };
            let mut msgs = plan.notes.clone();
            if let Some(e) = err {
                pass.failed = true;
                msgs.insert(0, e.to_string());
            }
            pass.status.message = (!msgs.is_empty()).then(|| msgs.join("; "));
            pass.ran = ran;
        }
        Err(e) => {
            pass.failed = true;
            pass.status.message = Some(e.to_string());
        }
    }
    Some(pass)
}

/// Connections of one pass, one per database, opened on first use.
struct Conns<'a> {
    db: &'a Db,
    fqdn: &'a str,
    role: Option<&'a str>,
    open: BTreeMap<String, Client>,
}

impl Conns<'_> {
    async fn get(&mut self, database: &str) -> Result<&Client, DbError> {
        use std::collections::btree_map::Entry;
        match self.open.entry(database.to_owned()) {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(v) => {
                let c = self.db.connect(self.fqdn, database, self.role).await?;
                Ok(v.insert(c))
            }
        }
    }
}

async fn observe(
    conns: &mut Conns<'_>,
    spec: &crate::api::database::VectorSpec,
) -> Result<ObservedVector, DbError> {
    let existing = catalog::databases(conns.get("postgres").await?).await?;
    let mut o = ObservedVector::default();
    for d in &spec.databases {
        let found = if existing.contains(&d.name) {
            Some(catalog::database(conns.get(&d.name).await?, spec, &d.name).await?)
        } else {
            None
        };
        o.databases.insert(d.name.clone(), found);
    }
    Ok(o)
}

/// Runs the steps in order; stops at the first failure. Returns the steps run, whether a build
/// is still going, and the failure.
async fn run(
    conns: &mut Conns<'_>,
    steps: &[SqlStep],
    build_wait: Duration,
) -> (Vec<SqlStep>, bool, Option<DbError>) {
    let mut ran = Vec::new();
    for s in steps {
        let database = s.database.as_deref().unwrap_or("postgres");
        tracing::info!(database, kind = ?s.kind, sql = %s.sql.join("; "), "running SQL");
        let r = match s.kind {
            StepKind::BuildIndex => build(conns, database, s, build_wait).await,
            StepKind::Swap => swap(conns, database, s).await,
            _ => each(conns, database, s).await,
        };
        match r {
            Ok(still_building) => {
                ran.push(s.clone());
                if still_building {
                    return (ran, true, None);
                }
            }
            Err(e) => return (ran, false, Some(e)),
        }
    }
    (ran, false, None)
}

async fn each(conns: &mut Conns<'_>, database: &str, s: &SqlStep) -> Result<bool, DbError> {
    let c = conns.get(database).await?;
    for sql in &s.sql {
        c.batch_execute(sql)
            .await
            .map_err(|e| DbError::sql(sql.clone(), &e))?;
    }
    Ok(false)
}

async fn swap(conns: &mut Conns<'_>, database: &str, s: &SqlStep) -> Result<bool, DbError> {
    let c = conns.get(database).await?;
    let body = format!("BEGIN; {}; COMMIT", s.sql.join("; "));
    if let Err(e) = c.batch_execute(&body).await {
        let _ = c.batch_execute("ROLLBACK").await;
        return Err(DbError::sql(s.sql.join("; "), &e));
    }
    Ok(false)
}

/// A build on its own connection, so that a long one outlives the pass.
async fn build(
    conns: &mut Conns<'_>,
    database: &str,
    s: &SqlStep,
    wait: Duration,
) -> Result<bool, DbError> {
    let c = conns.db.connect(conns.fqdn, database, conns.role).await?;
    let sql = s.sql.clone();
    let task = tokio::spawn(async move {
        for stmt in &sql {
            c.batch_execute(stmt)
                .await
                .map_err(|e| DbError::sql(stmt.clone(), &e))?;
        }
        Ok::<_, DbError>(())
    });
    match tokio::time::timeout(wait, task).await {
        Ok(Ok(r)) => r.map(|()| false),
        Ok(Err(join)) => Err(DbError::Sql {
            what: "index build".into(),
            reason: join.to_string(),
        }),
        Err(_) => {
            tracing::info!(
                database,
                "index build still running; it continues in the background"
            );
            Ok(true)
        }
    }
}
