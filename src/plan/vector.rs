//! pgvector, planned: from what the catalogs of the declared databases show to the SQL that makes
//! them as declared. Pure; `database::vector` reads the catalogs and runs the steps.
//!
//! Never planned: dropping a database, a table, or an index the spec does not name; anything that
//! blocks writes to a table (every build and drop is CONCURRENTLY; a rename takes only a brief
//! SHARE UPDATE EXCLUSIVE lock on the index).

use std::collections::BTreeMap;

use crate::api::database::{HnswIndex, VectorSpec};
use crate::api::status::{IndexStatus, VectorDatabaseStatus};
use crate::database::{quote_ident, quote_literal};

/// Suffix of the index a parameter change is built under before the swap.
pub const NEW_SUFFIX: &str = "_engram_new";
/// Suffix the replaced index carries between the swap and its drop.
pub const OLD_SUFFIX: &str = "_engram_old";

/// One index as the catalogs show it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CatalogIndex {
    pub name: String,
    pub schema: String,
    pub table: String,
    /// Indexed column names, in order.
    pub columns: Vec<String>,
    /// Access method (hnsw, ivfflat, btree…).
    pub am: String,
    /// Operator classes, in column order.
    pub opclasses: Vec<String>,
    /// reloptions, e.g. m → 16.
    pub options: BTreeMap<String, String>,
    pub valid: bool,
    pub size_bytes: u64,
    /// A CREATE INDEX is running on it now (pg_stat_progress_create_index).
    pub building: bool,
}

impl CatalogIndex {
    fn option(&self, key: &str, default: u32) -> u32 {
        self.options
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }
    /// m as built (pgvector's default when not given).
    pub fn m(&self) -> u32 {
        self.option("m", crate::api::database::DEFAULT_M)
    }
    /// ef_construction as built.
    pub fn ef_construction(&self) -> u32 {
        self.option(
            "ef_construction",
            crate::api::database::DEFAULT_EF_CONSTRUCTION,
        )
    }
    /// Whether it is the declared index: hnsw on that one column with that opclass, m and
    /// ef_construction.
    pub fn matches(&self, ix: &HnswIndex) -> bool {
        self.am == "hnsw"
            && self.columns == [ix.column.clone()]
            && self.opclasses == [ix.opclass.as_str().to_owned()]
            && self.m() == ix.m()
            && self.ef_construction() == ix.ef_construction()
    }
}

/// One database as observed (None in [`ObservedVector::databases`] when it does not exist).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedVectorDb {
    pub extension_version: Option<String>,
    /// hnsw.ef_search set on the database, as text.
    pub ef_search: Option<String>,
    /// Declared tables that exist, (schema, table) → their column names.
    pub tables: BTreeMap<(String, String), Vec<String>>,
    /// Every index on the declared tables, by (schema, index name).
    pub indexes: BTreeMap<(String, String), CatalogIndex>,
}

/// The declared databases as observed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedVector {
    pub databases: BTreeMap<String, Option<ObservedVectorDb>>,
}

/// What a step does (for logs, Events and tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    CreateDatabase,
    CreateExtension,
    SetEfSearch,
    /// CREATE INDEX CONCURRENTLY: long; run on its own connection.
    BuildIndex,
    /// DROP INDEX CONCURRENTLY of a failed build or a replaced index (ours by name).
    DropIndex,
    /// The rename pair that puts a rebuilt index in place, in one transaction.
    Swap,
}

/// One SQL step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlStep {
    /// The database it runs in (None: the maintenance database `postgres`).
    pub database: Option<String>,
    pub kind: StepKind,
    /// Statements, run in order (a Swap's run in one transaction).
    pub sql: Vec<String>,
}

impl SqlStep {
    /// `[db] sql; sql` for status and plans.
    pub fn display(&self) -> String {
        format!(
            "[{}] {}",
            self.database.as_deref().unwrap_or("postgres"),
            self.sql.join("; ")
        )
    }
}

/// The planned steps and what the databases look like now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VectorPlan {
    pub steps: Vec<SqlStep>,
    pub databases: Vec<VectorDatabaseStatus>,
    /// Drift held back (rebuild outside the window, restartPolicy Never), failed builds found.
    pub notes: Vec<String>,
    /// An index build is running: look again soon.
    pub building: bool,
}

/// Plans the SQL. `rebuild_allowed`: whether a parameter change may be rebuilt now (restart policy
/// and maintenance window). `maintenance_work_mem_mib` is set before each build.
pub fn plan(spec: &VectorSpec, observed: &ObservedVector, rebuild_allowed: bool) -> VectorPlan {
    let mut p = VectorPlan::default();
    for db in &spec.databases {
        let found = observed.databases.get(&db.name).cloned().flatten();
        let mut status = VectorDatabaseStatus {
            name: db.name.clone(),
            exists: found.is_some(),
            ..Default::default()
        };
        let Some(o) = found else {
            p.steps.push(step(
                None,
                StepKind::CreateDatabase,
                vec![format!("CREATE DATABASE {}", quote_ident(&db.name))],
            ));
            p.steps.push(create_extension(&db.name));
            if let Some(ef) = spec.ef_search {
                p.steps.push(set_ef_search(&db.name, ef));
            }
            status.indexes = db.indexes.iter().map(missing).collect();
            p.databases.push(status);
            continue;
        };
        status.extension_version = o.extension_version.clone();
        status.ef_search = o.ef_search.as_deref().and_then(|v| v.parse().ok());
        if o.extension_version.is_none() {
            p.steps.push(create_extension(&db.name));
        }
        if let Some(ef) = spec.ef_search {
            if o.ef_search.as_deref() != Some(ef.to_string().as_str()) {
                p.steps.push(set_ef_search(&db.name, ef));
            }
        }
        for ix in &db.indexes {
            status
                .indexes
                .push(index(&mut p, spec, &db.name, &o, ix, rebuild_allowed));
        }
        p.databases.push(status);
    }
    p
}

fn step(database: Option<&str>, kind: StepKind, sql: Vec<String>) -> SqlStep {
    SqlStep {
        database: database.map(str::to_owned),
        kind,
        sql,
    }
}

fn create_extension(db: &str) -> SqlStep {
    step(
        Some(db),
        StepKind::CreateExtension,
        vec!["CREATE EXTENSION IF NOT EXISTS vector".into()],
    )
}

fn set_ef_search(db: &str, ef: u32) -> SqlStep {
    step(
        Some(db),
        StepKind::SetEfSearch,
        vec![format!(
            "ALTER DATABASE {} SET hnsw.ef_search = {ef}",
            quote_ident(db)
        )],
    )
}

fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

fn build(spec: &VectorSpec, db: &str, ix: &HnswIndex, name: &str) -> SqlStep {
    let (schema, table) = ix.schema_table();
    let mut sql = Vec::new();
    if let Some(mib) = spec.maintenance_work_mem_mib {
        sql.push(format!(
            "SET maintenance_work_mem = {}",
            quote_literal(&format!("{mib}MB"))
        ));
    }
    sql.push(format!(
        "CREATE INDEX CONCURRENTLY {} ON {} USING hnsw ({} {}) WITH (m = {}, ef_construction = {})",
        quote_ident(name),
        qualified(schema, table),
        quote_ident(&ix.column),
        ix.opclass.as_str(),
        ix.m(),
        ix.ef_construction()
    ));
    step(Some(db), StepKind::BuildIndex, sql)
}

fn drop_index(db: &str, schema: &str, name: &str) -> SqlStep {
    step(
        Some(db),
        StepKind::DropIndex,
        vec![format!(
            "DROP INDEX CONCURRENTLY IF EXISTS {}",
            qualified(schema, name)
        )],
    )
}

fn missing(ix: &HnswIndex) -> IndexStatus {
    IndexStatus {
        name: ix.index_name(),
        table: ix.table.clone(),
        column: ix.column.clone(),
        state: "Missing".into(),
        ..Default::default()
    }
}

/// One declared index: its status, and the steps that bring it to the declared state.
fn index(
    p: &mut VectorPlan,
    spec: &VectorSpec,
    db: &str,
    o: &ObservedVectorDb,
    ix: &HnswIndex,
    rebuild_allowed: bool,
) -> IndexStatus {
    let (schema, table) = ix.schema_table();
    let name = ix.index_name();
    let new_name = format!("{name}{NEW_SUFFIX}");
    let old_name = format!("{name}{OLD_SUFFIX}");
    let mut st = missing(ix);
    let columns = o.tables.get(&(schema.to_owned(), table.to_owned()));
    if !columns.is_some_and(|c| c.contains(&ix.column)) {
        st.state = "TableMissing".into();
        p.notes.push(format!(
            "{db}: index {name} waits for {}.{} with column {} (the application creates tables; the operator never does)",
            schema, table, ix.column
        ));
        return st;
    }
    let get = |n: &str| o.indexes.get(&(schema.to_owned(), n.to_owned()));
    // A replaced index left by an interrupted swap is ours by name: finish the job.
    if get(&old_name).is_some_and(|i| !i.building) {
        p.steps.push(drop_index(db, schema, &old_name));
    }
    let Some(cur) = get(&name) else {
        match get(&new_name) {
            Some(n) if n.valid && n.matches(ix) => p.steps.push(step(
                Some(db),
                StepKind::Swap,
                vec![format!(
                    "ALTER INDEX {} RENAME TO {}",
                    qualified(schema, &new_name),
                    quote_ident(&name)
                )],
            )),
            _ => p.steps.push(build(spec, db, ix, &name)),
        }
        return st;
    };
    st.valid = cur.valid;
    st.size_bytes = Some(cur.size_bytes);
    st.opclass = cur.opclasses.first().cloned();
    st.m = (cur.am == "hnsw").then(|| cur.m());
    st.ef_construction = (cur.am == "hnsw").then(|| cur.ef_construction());
    if !cur.valid {
        if cur.building {
            st.state = "Building".into();
            p.building = true;
        } else {
            st.state = "Invalid".into();
            p.notes.push(format!(
                "{db}: index {name} is invalid (a failed concurrent build); rebuilding it"
            ));
            p.steps.push(drop_index(db, schema, &name));
            p.steps.push(build(spec, db, ix, &name));
        }
        return st;
    }
    if cur.matches(ix) {
        st.state = "Ready".into();
        return st;
    }
    st.state = "Drifted".into();
    let what = format!(
        "{db}: index {name} is {} ({}) m={} ef_construction={}, declared hnsw ({}) m={} ef_construction={}",
        cur.am,
        cur.opclasses.join(","),
        cur.m(),
        cur.ef_construction(),
        ix.opclass.as_str(),
        ix.m(),
        ix.ef_construction()
    );
    if !rebuild_allowed {
        p.notes.push(format!(
            "{what}; rebuild held for the maintenance window (restartPolicy)"
        ));
        return st;
    }
    match get(&new_name) {
        Some(n) if n.building => p.building = true,
        Some(n) if n.valid && n.matches(ix) => p.steps.push(step(
            Some(db),
            StepKind::Swap,
            vec![
                format!(
                    "ALTER INDEX {} RENAME TO {}",
                    qualified(schema, &name),
                    quote_ident(&old_name)
                ),
                format!(
                    "ALTER INDEX {} RENAME TO {}",
                    qualified(schema, &new_name),
                    quote_ident(&name)
                ),
            ],
        )),
        Some(_) => {
            p.steps.push(drop_index(db, schema, &new_name));
            p.steps.push(build(spec, db, ix, &new_name));
        }
        None => {
            p.notes
                .push(format!("{what}; rebuilding concurrently as {new_name}"));
            p.steps.push(build(spec, db, ix, &new_name));
        }
    }
    st
}
