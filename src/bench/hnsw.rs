//! `engram-operator bench hnsw`: how long pgvector takes to build an HNSW index on this machine.
//! Starts a throwaway local PostgreSQL (`database::local`), fills a table with random vectors
//! generated server-side, and times `CREATE INDEX … USING hnsw` for each m/ef_construction, dropping
//! the index between builds. docs/sizing.md ("pgvector HNSW") records the figures.

use std::time::Instant;

use futures::StreamExt;
use serde::Serialize;
use tokio_postgres::{AsyncMessage, Client, NoTls};

use crate::database::local::{LocalError, LocalPostgres};
use crate::database::DbError;
use crate::sizing::format::decimals;
use crate::sizing::thousands;
use crate::sizing::vector::{graph_bytes, MAX_DIMS};

/// Rows inserted per statement while loading.
const BATCH: u64 = 10_000;
/// The database the benchmark creates.
const DATABASE: &str = "hnsw_bench";

/// `bench hnsw` flags.
#[derive(clap::Args, Debug, Clone)]
pub struct HnswArgs {
    /// Vectors to load.
    #[arg(long, default_value_t = 100_000)]
    pub vectors: u64,
    /// Dimensions of each vector (1-2000).
    #[arg(long, default_value_t = 384)]
    pub dims: u32,
    /// The m/ef_construction pairs to build, comma-separated.
    #[arg(long, default_value = "16/64,32/128")]
    pub settings: String,
    /// maintenance_work_mem for the builds, MiB. Default: twice the largest graph estimate
    /// (docs/sizing.md), rounded up to 64 MiB, at least 64.
    #[arg(long = "maintenance-work-mem-mib")]
    pub maintenance_work_mem_mib: Option<u32>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum HnswBenchError {
    /// A flag broke its rule.
    #[error("{flag}: {rule} (got {value:?})")]
    Flag {
        flag: &'static str,
        value: String,
        rule: String,
    },
    /// The local PostgreSQL did not start.
    #[error("local PostgreSQL: {0}")]
    Local(#[from] LocalError),
    /// A statement failed.
    #[error(transparent)]
    Sql(#[from] DbError),
    /// The report could not be written as JSON.
    #[error("JSON: {0}")]
    Json(String),
}

/// One m/ef_construction pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Setting {
    pub m: u32,
    pub ef_construction: u32,
}

/// Parse `16/64,32/128`: each pair within pgvector's ranges (m 2-100, ef_construction 4-1000,
/// ef_construction ≥ 2 × m).
pub fn parse_settings(raw: &str) -> Result<Vec<Setting>, HnswBenchError> {
    let bad = |rule: &str| HnswBenchError::Flag {
        flag: "--settings",
        value: raw.to_owned(),
        rule: rule.to_owned(),
    };
    let mut out = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (m, ef) = part
            .split_once('/')
            .ok_or_else(|| bad("each setting is m/ef_construction, e.g. 16/64"))?;
        let (Ok(m), Ok(ef)) = (m.trim().parse::<u32>(), ef.trim().parse::<u32>()) else {
            return Err(bad("m and ef_construction are whole numbers"));
        };
        if !(2..=100).contains(&m) || !(4..=1000).contains(&ef) {
            return Err(bad("m must be 2-100 and ef_construction 4-1000"));
        }
        if ef < 2 * m {
            return Err(bad("ef_construction must be at least 2 × m"));
        }
        out.push(Setting {
            m,
            ef_construction: ef,
        });
    }
    if out.is_empty() {
        return Err(bad("name at least one m/ef_construction pair"));
    }
    Ok(out)
}

/// The default build memory: twice the largest graph estimate, rounded up to 64 MiB.
pub fn default_work_mem_mib(vectors: u64, dims: u32, settings: &[Setting]) -> u32 {
    let largest = settings
        .iter()
        .map(|s| graph_bytes(vectors, dims, s.m))
        .max()
        .unwrap_or(0);
    let mib = (2.0 * largest as f64 / (1024.0 * 1024.0) / 64.0).ceil() * 64.0;
    mib.clamp(64.0, f64::from(i32::MAX / 1024)) as u32
}

/// The statement that inserts rows `from..=to` into `table(column)`, each a vector of `dims`
/// random components in [-0.5, 0.5). The inner query refers to the outer row so it runs once per
/// row. (The demo fills its facts table with it too.)
pub fn insert_sql(table: &str, column: &str, dims: u32, from: u64, to: u64) -> String {
    format!(
        "INSERT INTO {table} ({column}) \
         SELECT (SELECT array_agg(random() - 0.5) FROM generate_series(1, {dims}) WHERE g.i > 0)::vector({dims}) \
         FROM generate_series({from}, {to}) AS g(i)"
    )
}

/// The index build that is timed.
pub fn create_index_sql(s: Setting) -> String {
    format!(
        "CREATE INDEX items_embedding_hnsw ON items USING hnsw (embedding vector_cosine_ops) \
         WITH (m = {}, ef_construction = {})",
        s.m, s.ef_construction
    )
}

/// One timed build.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Build {
    pub m: u32,
    pub ef_construction: u32,
    pub seconds: f64,
    /// pg_relation_size of the index.
    pub index_bytes: i64,
    /// docs/sizing.md's graph estimate for the same vectors.
    pub estimate_bytes: u64,
    /// pgvector's notices during the build (e.g. the graph no longer fitting in memory).
    pub notices: Vec<String>,
}

/// What `bench hnsw` reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HnswReport {
    pub vectors: u64,
    pub dims: u32,
    pub postgres: String,
    pub pgvector: String,
    pub cores: usize,
    pub max_parallel_maintenance_workers: String,
    pub maintenance_work_mem_mib: u32,
    pub load_seconds: f64,
    /// Distinct vectors loaded (each row gets its own random vector).
    pub distinct_vectors: i64,
    pub builds: Vec<Build>,
    /// /proc/loadavg (1, 5, 15 minutes) before loading and after the last build.
    pub load_average_before: String,
    pub load_average_after: String,
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "-".into())
}

fn mib(bytes: f64) -> String {
    decimals(bytes / (1024.0 * 1024.0), 1)
}

impl HnswReport {
    /// The report for people.
    pub fn text(&self) -> String {
        let mut out = format!(
            "hnsw bench: {} vectors × {} dims (random, centred), vector_cosine_ops, PostgreSQL {}, pgvector {}\n\
             machine   {} cores, max_parallel_maintenance_workers {}, maintenance_work_mem {} MiB\n\
             load      {:.1} s (server-side, {} rows a statement), {} distinct vectors\n",
            thousands(self.vectors),
            self.dims,
            self.postgres,
            self.pgvector,
            self.cores,
            self.max_parallel_maintenance_workers,
            self.maintenance_work_mem_mib,
            self.load_seconds,
            thousands(BATCH),
            thousands(u64::try_from(self.distinct_vectors).unwrap_or(0)),
        );
        for b in &self.builds {
            out.push_str(&format!(
                "build     m {} ef_construction {}: {:.1} s, index {} MiB (estimate {} MiB)\n",
                b.m,
                b.ef_construction,
                b.seconds,
                mib(b.index_bytes as f64),
                mib(b.estimate_bytes as f64),
            ));
            for n in &b.notices {
                out.push_str(&format!("          notice: {n}\n"));
            }
        }
        out.push_str(&format!(
            "loadavg   {} before, {} after (other work on the machine slows the builds)\n",
            self.load_average_before, self.load_average_after
        ));
        out
    }
}

/// A superuser connection whose notices are collected (pgvector reports a graph that no longer
/// fits in maintenance_work_mem as a notice).
async fn connect(
    pg: &LocalPostgres,
    database: &str,
) -> Result<(Client, tokio::sync::mpsc::UnboundedReceiver<String>), HnswBenchError> {
    let (client, mut conn) = tokio_postgres::Config::new()
        .host(&pg.host)
        .port(pg.port)
        .user("postgres")
        .dbname(database)
        .connect(NoTls)
        .await
        .map_err(|e| DbError::sql(format!("connect to {database}"), &e))?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(Ok(m)) = messages.next().await {
            if let AsyncMessage::Notice(n) = m {
                let _ = tx.send(n.message().to_owned());
            }
        }
    });
    Ok((client, rx))
}

async fn exec(c: &Client, what: &str, sql: &str) -> Result<(), HnswBenchError> {
    c.batch_execute(sql)
        .await
        .map_err(|e| HnswBenchError::Sql(DbError::sql(what, &e)))
}

async fn show(c: &Client, setting: &str) -> Result<String, HnswBenchError> {
    let row = c
        .query_one(&format!("SHOW {setting}"), &[])
        .await
        .map_err(|e| DbError::sql(format!("SHOW {setting}"), &e))?;
    Ok(row.get(0))
}

fn check(args: &HnswArgs) -> Result<Vec<Setting>, HnswBenchError> {
    let flag = |flag, value: String, rule: &str| HnswBenchError::Flag {
        flag,
        value,
        rule: rule.into(),
    };
    if args.vectors == 0 || args.vectors > 100_000_000 {
        return Err(flag(
            "--vectors",
            args.vectors.to_string(),
            "must be 1 to 100,000,000",
        ));
    }
    if args.dims == 0 || args.dims > MAX_DIMS {
        return Err(flag(
            "--dims",
            args.dims.to_string(),
            "must be 1 to 2,000 (pgvector's HNSW limit)",
        ));
    }
    if let Some(m) = args.maintenance_work_mem_mib {
        if !(64..=2_097_151).contains(&m) {
            return Err(flag(
                "--maintenance-work-mem-mib",
                m.to_string(),
                "must be 64 to 2,097,151",
            ));
        }
    }
    parse_settings(&args.settings)
}

/// Run the benchmark.
pub async fn run(args: &HnswArgs) -> Result<HnswReport, HnswBenchError> {
    let settings = check(args)?;
    let work_mem = args
        .maintenance_work_mem_mib
        .unwrap_or_else(|| default_work_mem_mib(args.vectors, args.dims, &settings));
    let load_average_before = load_average();
    let pg = LocalPostgres::start("engram").await?;
    let (admin, _) = connect(&pg, "postgres").await?;
    exec(
        &admin,
        "create the database",
        &format!("CREATE DATABASE {DATABASE}"),
    )
    .await?;
    let (c, mut notices) = connect(&pg, DATABASE).await?;
    exec(
        &c,
        "create the table",
        &format!(
            "CREATE EXTENSION vector; SELECT setseed(0.42); \
             CREATE TABLE items (id bigserial PRIMARY KEY, embedding vector({}))",
            args.dims
        ),
    )
    .await?;
    let started = Instant::now();
    let mut from = 1;
    while from <= args.vectors {
        let to = (from + BATCH - 1).min(args.vectors);
        exec(
            &c,
            "load vectors",
            &insert_sql("items", "embedding", args.dims, from, to),
        )
        .await?;
        from = to + 1;
    }
    exec(&c, "analyze", "VACUUM ANALYZE items").await?;
    let load_seconds = started.elapsed().as_secs_f64();
    let distinct_vectors: i64 = c
        .query_one("SELECT count(DISTINCT embedding) FROM items", &[])
        .await
        .map_err(|e| DbError::sql("count distinct vectors", &e))?
        .get(0);
    exec(
        &c,
        "set maintenance_work_mem",
        &format!("SET maintenance_work_mem = '{work_mem}MB'"),
    )
    .await?;
    let mut builds = Vec::new();
    for s in settings {
        exec(&c, "checkpoint", "CHECKPOINT").await?;
        while notices.try_recv().is_ok() {}
        let t = Instant::now();
        exec(&c, "build the index", &create_index_sql(s)).await?;
        let seconds = t.elapsed().as_secs_f64();
        let size = c
            .query_one("SELECT pg_relation_size('items_embedding_hnsw')", &[])
            .await
            .map_err(|e| DbError::sql("index size", &e))?;
        exec(&c, "drop the index", "DROP INDEX items_embedding_hnsw").await?;
        let mut seen = Vec::new();
        while let Ok(n) = notices.try_recv() {
            seen.push(n);
        }
        builds.push(Build {
            m: s.m,
            ef_construction: s.ef_construction,
            seconds,
            index_bytes: size.get(0),
            estimate_bytes: graph_bytes(args.vectors, args.dims, s.m),
            notices: seen,
        });
    }
    let pgvector: String = c
        .query_one(
            "SELECT extversion FROM pg_extension WHERE extname = 'vector'",
            &[],
        )
        .await
        .map_err(|e| DbError::sql("pgvector version", &e))?
        .get(0);
    Ok(HnswReport {
        vectors: args.vectors,
        dims: args.dims,
        postgres: show(&c, "server_version").await?,
        pgvector,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        max_parallel_maintenance_workers: show(&c, "max_parallel_maintenance_workers").await?,
        maintenance_work_mem_mib: work_mem,
        load_seconds,
        distinct_vectors,
        builds,
        load_average_before,
        load_average_after: load_average(),
    })
}

/// `bench hnsw`: the report as text, or as JSON with `--json`.
pub async fn output(args: &HnswArgs) -> Result<String, HnswBenchError> {
    let report = run(args).await?;
    if args.json {
        serde_json::to_string_pretty(&report).map_err(|e| HnswBenchError::Json(e.to_string()))
    } else {
        Ok(report.text().trim_end().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_and_keep_pgvectors_rules() {
        assert_eq!(
            parse_settings("16/64, 32/128").expect("valid"),
            vec![
                Setting {
                    m: 16,
                    ef_construction: 64
                },
                Setting {
                    m: 32,
                    ef_construction: 128
                }
            ]
        );
        for bad in [
            "", "16", "16/31", "1/64", "101/1000", "16/1001", "a/b", "16/64,x",
        ] {
            let e = parse_settings(bad).expect_err(bad).to_string();
            assert!(e.starts_with("--settings: "), "{e}");
        }
        assert!(parse_settings("16/32").is_ok());
    }

    #[test]
    fn default_work_mem_is_twice_the_largest_graph() {
        let s = parse_settings("16/64,32/128").expect("valid");
        // 100,000 × (1536 + 512) B = 195.3 MiB; × 2 = 390.6 → 448.
        assert_eq!(default_work_mem_mib(100_000, 384, &s), 448);
        assert_eq!(default_work_mem_mib(200, 8, &s), 64);
    }

    #[test]
    fn rows_get_their_own_random_vector() {
        let sql = insert_sql("items", "embedding", 384, 1, 10_000);
        assert!(
            sql.contains("generate_series(1, 384) WHERE g.i > 0"),
            "{sql}"
        );
        assert!(
            sql.starts_with("INSERT INTO items (embedding) SELECT"),
            "{sql}"
        );
        assert!(sql.contains("::vector(384)"), "{sql}");
        assert!(sql.contains("generate_series(1, 10000) AS g(i)"), "{sql}");
        assert!(create_index_sql(Setting {
            m: 32,
            ef_construction: 128
        })
        .ends_with("WITH (m = 32, ef_construction = 128)"));
    }
}
