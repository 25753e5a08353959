//! Validation of what lives inside the database, one case each (field path and rule): the Entra
//! administrator, pgvector's databases and HNSW indexes, the restore drill; and the example that
//! declares all three loads as written.

use crate::validation;

use serde_json::json;
use validation::*;

fn vector(index: serde_json::Value) -> serde_json::Value {
    json!({"databases": [{"name": "engram", "indexes": [index]}]})
}

#[test]
fn entra_admin() {
    assert_rule(
        "dev",
        &[(
            "/spec/postgres/entraAdmin",
            json!({"objectId": "not-a-guid", "principalName": "op", "principalType": "ServicePrincipal"}),
        )],
        "spec.postgres.entraAdmin.objectId: \"not-a-guid\" must be a GUID",
    );
}

#[test]
fn vector_indexes() {
    assert_rule(
        "dev",
        &[(
            "/spec/postgres/vector",
            vector(json!({"table": "facts", "column": "embedding", "m": 32, "efConstruction": 40})),
        )],
        "spec.postgres.vector.databases[0].indexes[0].efConstruction: 40 must be at least 2 × m (64)",
    );
    assert_rule(
        "dev",
        &[(
            "/spec/postgres/vector",
            vector(json!({"table": "facts", "column": "embedding", "m": 1})),
        )],
        "spec.postgres.vector.databases[0].indexes[0].m: 1 is out of range",
    );
    assert_rule(
        "dev",
        &[(
            "/spec/postgres/vector",
            vector(json!({"table": "facts; drop", "column": "embedding"})),
        )],
        "spec.postgres.vector.databases[0].indexes[0].table: \"facts; drop\" must be a table name",
    );
    assert_rule(
        "dev",
        &[(
            "/spec/postgres/vector",
            json!({"databases": [{"name": "postgres"}]}),
        )],
        "spec.postgres.vector.databases[0].name: \"postgres\" is a system database",
    );
    assert_rule(
        "dev",
        &[
            ("/spec/postgres/extensions", json!(["pg_trgm"])),
            (
                "/spec/postgres/vector",
                json!({"databases": [{"name": "engram"}]}),
            ),
        ],
        "spec.postgres.vector: needs `vector` in spec.postgres.extensions",
    );
    assert_rule(
        "dev",
        &[(
            "/spec/postgres/vector",
            json!({"databases": [{"name": "engram"}], "maintenanceWorkMemMiB": 20}),
        )],
        "spec.postgres.vector.maintenanceWorkMemMiB: 20 is out of range",
    );
}

#[test]
fn restore_drill() {
    assert_rule(
        "dev",
        &[(
            "/spec/postgres/restoreDrill",
            json!({"schedule": "every sunday"}),
        )],
        "spec.postgres.restoreDrill.schedule: \"every sunday\" is not `weekly` or a five-field cron expression",
    );
    assert_rule(
        "dev",
        &[(
            "/spec/postgres/restoreDrill",
            json!({"schedule": "weekly", "verify": [{"database": "engram", "query": "DELETE FROM facts"}]}),
        )],
        "spec.postgres.restoreDrill.verify[0].query: must be one read-only SELECT",
    );
}

#[test]
fn the_database_example_loads_as_written() {
    let text = std::fs::read_to_string("examples/database/prod-database.yaml").expect("example");
    let (_, eff) = engram_operator::api::load(&text).expect("valid");
    let v = eff.postgres.vector.expect("vector");
    assert_eq!(v.maintenance_work_mem_mib, Some(512));
    assert_eq!(v.ef_search, Some(40));
    assert_eq!(
        v.databases[0].indexes[0].index_name(),
        "facts_embedding_hnsw"
    );
    assert_eq!(
        eff.postgres.restore_drill.expect("drill").cron(),
        "0 3 * * 0"
    );
    assert_eq!(
        eff.postgres.entra_admin.expect("admin").principal_name,
        "engram-operator"
    );
    let exports = eff.exports.expect("exports");
    assert_eq!(exports.config_map.as_deref(), Some("acme-prod-connection"));
    assert_eq!(exports.file.as_deref(), Some("acme-prod.env"));
}
