//! The restore drill inside the databases: the heartbeat the RPO is measured by, and the checks a
//! restored server must pass.
//!
//! While a drill is declared the operator keeps one row in `engram_ops.heartbeat` on the source
//! server, updated each pass and every minute in between. A restore to point P holds the last
//! heartbeat written before P; RPO = P − that heartbeat: how much a real restore would lose.

use time::OffsetDateTime;
use tokio_postgres::Client;

use super::{quote_ident, Db, DbError};
use crate::api::database::{DrillVerify, OPS_DATABASE};

/// Creates `engram_ops` and its heartbeat table when missing and stamps the heartbeat with the
/// server's clock. Returns the stamp.
pub async fn heartbeat(db: &Db, fqdn: &str, role: Option<&str>) -> Result<OffsetDateTime, DbError> {
    let admin = db.connect(fqdn, "postgres", role).await?;
    let exists = admin
        .query_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1",
            &[&OPS_DATABASE],
        )
        .await
        .map_err(|e| DbError::sql("look for engram_ops", &e))?
        .is_some();
    if !exists {
        let sql = format!("CREATE DATABASE {}", quote_ident(OPS_DATABASE));
        admin
            .batch_execute(&sql)
            .await
            .map_err(|e| DbError::sql(sql.clone(), &e))?;
    }
    let ops = db.connect(fqdn, OPS_DATABASE, role).await?;
    ops.batch_execute(
        "CREATE TABLE IF NOT EXISTS heartbeat (id int PRIMARY KEY CHECK (id = 1), at timestamptz NOT NULL)",
    )
    .await
    .map_err(|e| DbError::sql("create engram_ops.heartbeat", &e))?;
    let row = ops
        .query_one(
            "INSERT INTO heartbeat (id, at) VALUES (1, now())
             ON CONFLICT (id) DO UPDATE SET at = excluded.at
             RETURNING extract(epoch FROM at)::float8",
            &[],
        )
        .await
        .map_err(|e| DbError::sql("stamp engram_ops.heartbeat", &e))?;
    unix(row.get(0))
}

fn unix(secs: f64) -> Result<OffsetDateTime, DbError> {
    OffsetDateTime::from_unix_timestamp(secs.floor() as i64).map_err(|e| DbError::Sql {
        what: "heartbeat time".into(),
        reason: e.to_string(),
    })
}

/// What the checks of a restored server found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verified {
    /// One line per check that passed.
    pub passed: Vec<String>,
    /// One line per check that failed.
    pub failed: Vec<String>,
    /// The newest heartbeat in the restore (None: no engram_ops or no row).
    pub latest_heartbeat: Option<OffsetDateTime>,
}

impl Verified {
    pub fn ok(&self) -> bool {
        self.failed.is_empty()
    }
}

/// Runs the declared checks on the restored server at `fqdn`, each in a read-only transaction.
/// A database that cannot be reached is a failed check, not an error: the restore is what is
/// under test.
pub async fn verify(db: &Db, fqdn: &str, role: Option<&str>, checks: &[DrillVerify]) -> Verified {
    let mut v = Verified::default();
    for check in checks {
        match db.connect(fqdn, &check.database, role).await {
            Ok(c) => database(&c, check, &mut v).await,
            Err(e) => v.failed.push(format!("{}: {e}", check.database)),
        }
    }
    if let Ok(c) = db.connect(fqdn, OPS_DATABASE, role).await {
        if let Ok(Some(row)) = c
            .query_opt(
                "SELECT extract(epoch FROM max(at))::float8 FROM heartbeat HAVING max(at) IS NOT NULL",
                &[],
            )
            .await
        {
            v.latest_heartbeat = unix(row.get(0)).ok();
        }
    }
    v
}

async fn database(c: &Client, check: &DrillVerify, v: &mut Verified) {
    let db = &check.database;
    if let Err(e) = c
        .batch_execute("SET default_transaction_read_only = on")
        .await
    {
        v.failed
            .push(format!("{db}: {}", DbError::sql("read-only session", &e)));
        return;
    }
    for t in &check.tables {
        let (schema, table) = t.name.split_once('.').unwrap_or(("public", &t.name));
        let min = t.min_rows.unwrap_or(1);
        let exists = c
            .query_opt(
                "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')",
                &[&schema, &table],
            )
            .await;
        match exists {
            Ok(Some(_)) => {}
            Ok(None) => {
                v.failed.push(format!("{db}: table {} is missing", t.name));
                continue;
            }
            Err(e) => {
                v.failed
                    .push(format!("{db}: {}", DbError::sql(&t.name, &e)));
                continue;
            }
        }
        let sql = format!(
            "SELECT count(*) FROM {}.{}",
            quote_ident(schema),
            quote_ident(table)
        );
        match c.query_one(&sql, &[]).await {
            Ok(row) => {
                let n = u64::try_from(row.get::<_, i64>(0)).unwrap_or(0);
                let line = format!("{db}: {} has {n} rows (at least {min} required)", t.name);
                if n >= min {
                    v.passed.push(line);
                } else {
                    v.failed.push(line);
                }
            }
            Err(e) => v.failed.push(format!("{db}: {}", DbError::sql(&sql, &e))),
        }
    }
    if let Some(q) = &check.query {
        match c.query(q.as_str(), &[]).await {
            Ok(rows) if !rows.is_empty() => v.passed.push(format!(
                "{db}: the verify query returned {} rows",
                rows.len()
            )),
            Ok(_) => v
                .failed
                .push(format!("{db}: the verify query returned no rows")),
            Err(e) => v
                .failed
                .push(format!("{db}: {}", DbError::sql("the verify query", &e))),
        }
    }
}
