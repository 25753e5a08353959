//! Issue 11, item 6: a new server carries every server parameter Microsoft publishes for its
//! version (data/postgres-parameters), with the type, allowed values and dynamic/static/read-only
//! facts of the table, so real traffic such as `pgaudit.log` works against the mock.

use crate::common;

use std::time::Duration;

use common::*;
use serde_json::json;

fn config(name: &str) -> String {
    format!("{}/configurations/{name}", server_id("pg-1"))
}

#[tokio::test]
async fn every_published_parameter_is_seeded_with_its_facts() {
    let t = start().await;
    t.create_server("pg-1", gp_server()).await;
    let list = t
        .call(
            "GET",
            &format!("{}/configurations", server_id("pg-1")),
            Some(PG),
            None,
        )
        .await;
    let n = list.body["value"].as_array().map(Vec::len).unwrap_or(0);
    assert!(
        n >= 500,
        "a real server has several hundred parameters, got {n}"
    );

    let g = t.call("GET", &config("pgaudit.log"), Some(PG), None).await;
    assert_eq!(g.status, 200, "{:?}", g.body);
    let p = &g.body["properties"];
    assert_eq!(p["value"], "none");
    assert_eq!(p["defaultValue"], "none");
    assert_eq!(p["dataType"], "Set");
    assert_eq!(
        p["allowedValues"],
        "none,read,write,function,role,ddl,misc,all"
    );
    assert_eq!(p["isDynamicConfig"], true);
    assert_eq!(p["isReadOnly"], false);

    // Dynamic: no restart pending. A value outside the set is refused.
    let put = |v: &str| json!({"properties": {"value": v, "source": "user-override"}});
    let r = t
        .call(
            "PUT",
            &config("pgaudit.log"),
            Some(PG),
            Some(put("ddl,role")),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    t.mock.advance(Duration::from_secs(60));
    let g = t.call("GET", &config("pgaudit.log"), Some(PG), None).await;
    assert_eq!(g.body["properties"]["value"], "ddl,role");
    assert_eq!(g.body["properties"]["isConfigPendingRestart"], false);
    let r = t
        .call("PUT", &config("pgaudit.log"), Some(PG), Some(put("reads")))
        .await;
    assert_eq!((r.status, r.code()), (400, "InvalidParameterValue"));

    // Read-only and static facts come from the table too.
    let g = t.call("GET", &config("port"), Some(PG), None).await;
    assert_eq!(g.body["properties"]["isReadOnly"], true);
    let r = t
        .call("PUT", &config("port"), Some(PG), Some(put("5433")))
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let g = t
        .call("GET", &config("shared_buffers"), Some(PG), None)
        .await;
    assert_eq!(g.body["properties"]["isDynamicConfig"], false);
    assert_eq!(g.body["properties"]["dataType"], "Integer");

    // The parameters the mock knew before keep their behaviour.
    let g = t
        .call("GET", &config("max_connections"), Some(PG), None)
        .await;
    assert_eq!(g.body["properties"]["value"], "859");
    assert_eq!(g.body["properties"]["isDynamicConfig"], false);
    // Unknown names are still 404 ConfigurationNotExists.
    let r = t
        .call("GET", &config("no_such_parameter"), Some(PG), None)
        .await;
    assert_eq!((r.status, r.code()), (404, "ConfigurationNotExists"));
}

#[tokio::test]
async fn the_table_follows_the_server_version() {
    let t = start().await;
    let mut body = gp_server();
    body["properties"]["version"] = json!("17");
    t.create_server("pg-1", body).await;
    let g = t
        .call("GET", &config("transaction_timeout"), Some(PG), None)
        .await;
    assert_eq!(
        g.status, 200,
        "PostgreSQL 17 has transaction_timeout: {:?}",
        g.body
    );
    t.create_server("pg16", gp_server()).await;
    let r = t
        .call(
            "GET",
            &format!("{}/configurations/transaction_timeout", server_id("pg16")),
            Some(PG),
            None,
        )
        .await;
    assert_eq!(r.code(), "ConfigurationNotExists");
}
