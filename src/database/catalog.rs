//! Reads what pgvector planning needs from the catalogs: which databases exist, the extension's
//! version, hnsw.ef_search on each database, the declared tables' columns and every index on them
//! (access method, columns, operator classes, reloptions, validity, size, a build in progress).
//! Read-only: these queries run in observe mode too.

use std::collections::BTreeMap;

use tokio_postgres::Client;

use super::DbError;
use crate::api::database::VectorSpec;
use crate::plan::vector::{CatalogIndex, ObservedVectorDb};

/// Names of the databases that exist (read on the maintenance database).
pub async fn databases(c: &Client) -> Result<Vec<String>, DbError> {
    let rows = c
        .query(
            "SELECT datname FROM pg_database WHERE NOT datistemplate",
            &[],
        )
        .await
        .map_err(|e| DbError::sql("list databases", &e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

const INDEXES: &str = "
SELECT i.relname, n.nspname, t.relname, am.amname, x.indisvalid,
       pg_relation_size(i.oid),
       coalesce(array_to_string(i.reloptions, ','), ''),
       coalesce((SELECT string_agg(a.attname, ',' ORDER BY k.ord)
                   FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum), ''),
       coalesce((SELECT string_agg(oc.opcname, ',' ORDER BY k.ord)
                   FROM unnest(x.indclass::oid[]) WITH ORDINALITY AS k(opc, ord)
                   JOIN pg_opclass oc ON oc.oid = k.opc), ''),
       EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = i.oid)
  FROM pg_index x
  JOIN pg_class i ON i.oid = x.indexrelid
  JOIN pg_class t ON t.oid = x.indrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
  JOIN pg_am am ON am.oid = i.relam
 WHERE n.nspname = $1 AND t.relname = $2";

const COLUMNS: &str = "
SELECT a.attname FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')
   AND a.attnum > 0 AND NOT a.attisdropped";

/// One declared database, read on a connection to it.
pub async fn database(
    c: &Client,
    spec: &VectorSpec,
    db: &str,
) -> Result<ObservedVectorDb, DbError> {
    let mut o = ObservedVectorDb {
        extension_version: c
            .query_opt(
                "SELECT extversion FROM pg_extension WHERE extname = 'vector'",
                &[],
            )
            .await
            .map_err(|e| DbError::sql("read the vector extension", &e))?
            .map(|r| r.get(0)),
        ..Default::default()
    };
    let settings = c
        .query(
            "SELECT unnest(s.setconfig) FROM pg_db_role_setting s
               JOIN pg_database d ON d.oid = s.setdatabase
              WHERE d.datname = current_database() AND s.setrole = 0",
            &[],
        )
        .await
        .map_err(|e| DbError::sql("read database settings", &e))?;
    o.ef_search = settings.iter().find_map(|r| {
        let s: String = r.get(0);
        s.strip_prefix("hnsw.ef_search=").map(str::to_owned)
    });
    let declared = spec.databases.iter().filter(|d| d.name == db);
    for ix in declared.flat_map(|d| &d.indexes) {
        let (schema, table) = ix.schema_table();
        let key = (schema.to_owned(), table.to_owned());
        if o.tables.contains_key(&key) {
            continue;
        }
        let cols = c
            .query(COLUMNS, &[&schema, &table])
            .await
            .map_err(|e| DbError::sql(format!("read the columns of {schema}.{table}"), &e))?;
        if cols.is_empty() {
            continue;
        }
        o.tables
            .insert(key, cols.iter().map(|r| r.get::<_, String>(0)).collect());
        let rows = c
            .query(INDEXES, &[&schema, &table])
            .await
            .map_err(|e| DbError::sql(format!("read the indexes of {schema}.{table}"), &e))?;
        for r in rows {
            let split = |i: usize| -> Vec<String> {
                let s: String = r.get(i);
                s.split(',')
                    .filter(|x| !x.is_empty())
                    .map(str::to_owned)
                    .collect()
            };
            let options: BTreeMap<String, String> = split(6)
                .into_iter()
                .filter_map(|kv| {
                    kv.split_once('=')
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                })
                .collect();
            let ci = CatalogIndex {
                name: r.get(0),
                schema: r.get(1),
                table: r.get(2),
                am: r.get(3),
                valid: r.get(4),
                size_bytes: u64::try_from(r.get::<_, i64>(5)).unwrap_or(0),
                options,
                columns: split(7),
                opclasses: split(8),
                building: r.get(9),
            };
            o.indexes.insert((ci.schema.clone(), ci.name.clone()), ci);
        }
    }
    Ok(o)
}
