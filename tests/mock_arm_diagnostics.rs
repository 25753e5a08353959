//! The mock's diagnostic settings API (2021-05-01-preview) refuses what Azure Monitor refuses:
//! a category the resource type does not offer, a setting without a destination, a workspace id
//! that is not one, a setting on a resource that does not exist, a sixth setting, and an
//! api-version it does not serve. Its own errors are `{"code","message"}` at the top level.

use crate::common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const DIAG: &str = "2021-05-01-preview";
const WS: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/law";

fn setting(ws: &str, categories: &[&str]) -> Value {
    let logs: Vec<Value> = categories
        .iter()
        .map(|c| json!({"category": c, "enabled": true}))
        .collect();
    json!({"properties": {"workspaceId": ws, "logs": logs}})
}

fn path(scope: &str, name: &str) -> String {
    format!("{scope}/providers/Microsoft.Insights/diagnosticSettings/{name}")
}

async fn with_server() -> (T, String) {
    let t = start().await;
    let r = t.create_server("pg1", gp_server()).await;
    assert!(r.status < 300, "{:?}", r.body);
    t.mock.advance(Duration::from_secs(3600));
    (t, server_id("pg1"))
}

#[tokio::test]
async fn a_setting_is_put_read_listed_and_deleted_synchronously() {
    let (t, pg) = with_server().await;
    let p = path(&pg, "engram-audit");
    let r = t
        .call(
            "PUT",
            &p,
            Some(DIAG),
            Some(setting(WS, &["PostgreSQLLogs"])),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["type"], "Microsoft.Insights/diagnosticSettings");
    assert_eq!(r.body["name"], "engram-audit");
    assert!(r.header("azure-asyncoperation").is_none());
    let got = t.call("GET", &p, Some(DIAG), None).await;
    assert_eq!(got.body["properties"]["workspaceId"], WS);
    let list_path = format!("{pg}/providers/Microsoft.Insights/diagnosticSettings");
    let list = t.call("GET", &list_path, Some(DIAG), None).await;
    assert_eq!(list.body["value"].as_array().map(Vec::len), Some(1));
    assert_eq!(t.call("DELETE", &p, Some(DIAG), None).await.status, 200);
    assert_eq!(t.call("DELETE", &p, Some(DIAG), None).await.status, 204);
    let gone = t.call("GET", &p, Some(DIAG), None).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.body["code"], "ResourceNotFound");
}

#[tokio::test]
async fn refusals_name_the_rule_with_the_services_error_shape() {
    let (t, pg) = with_server().await;
    let p = path(&pg, "s");
    let cases = [
        (
            setting(WS, &["StorageRead"]),
            "Category 'StorageRead' is not supported.",
        ),
        (
            json!({"properties": {"logs": [{"category": "PostgreSQLLogs", "enabled": true}]}}),
            "At least one data sink",
        ),
        (
            setting(
                "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a",
                &["PostgreSQLLogs"],
            ),
            "is not a valid Log Analytics workspace",
        ),
        (
            json!({"properties": {"workspaceId": WS, "logs": [{"category": "PostgreSQLLogs", "categoryGroup": "allLogs", "enabled": true}]}}),
            "exactly one of 'category' and 'categoryGroup'",
        ),
        (
            json!({"properties": {"workspaceId": WS, "metrics": [{"category": "Transaction", "enabled": true}]}}),
            "Category 'Transaction' is not supported.",
        ),
    ];
    for (body, message) in cases {
        let r = t.call("PUT", &p, Some(DIAG), Some(body)).await;
        assert_eq!(r.status, 400, "{:?}", r.body);
        assert_eq!(r.body["code"], "BadRequest", "{:?}", r.body);
        let m = r.body["message"].as_str().unwrap_or_default();
        assert!(m.contains(message), "{m:?} should say {message:?}");
    }
    assert_eq!(
        t.call("GET", &p, Some(DIAG), None).await.status,
        404,
        "nothing stored"
    );
}

#[tokio::test]
async fn the_resource_must_exist_and_hold_at_most_five_settings() {
    let t = start().await;
    let missing = t
        .call(
            "PUT",
            &path(&server_id("nope"), "s"),
            Some(DIAG),
            Some(setting(WS, &["PostgreSQLLogs"])),
        )
        .await;
    assert_eq!(missing.status, 404, "{:?}", missing.body);
    assert_eq!(missing.body["code"], "ResourceNotFound");
    let blob = format!("{}/blobServices/default", account_id("acct1"));
    let r = t
        .call(
            "GET",
            &format!("{blob}/providers/Microsoft.Insights/diagnosticSettings"),
            Some(DIAG),
            None,
        )
        .await;
    assert_eq!(r.status, 404, "no account, no blob service");

    let (t, pg) = with_server().await;
    for i in 0..5 {
        let r = t
            .call(
                "PUT",
                &path(&pg, &format!("s{i}")),
                Some(DIAG),
                Some(setting(WS, &["PostgreSQLLogs"])),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let sixth = t
        .call(
            "PUT",
            &path(&pg, "s5"),
            Some(DIAG),
            Some(setting(WS, &["PostgreSQLLogs"])),
        )
        .await;
    assert_eq!(sixth.status, 400);
    // Replacing one of the five is no sixth.
    let again = t
        .call(
            "PUT",
            &path(&pg, "s0"),
            Some(DIAG),
            Some(setting(WS, &["PostgreSQLFlexSessions"])),
        )
        .await;
    assert_eq!(again.status, 200, "{:?}", again.body);
}

#[tokio::test]
async fn an_api_version_it_does_not_serve_is_refused_by_arm() {
    let (t, pg) = with_server().await;
    let p = path(&pg, "s");
    for v in [Some("2018-03-01"), Some("2017-05-01-preview"), None] {
        let r = t
            .call("PUT", &p, v, Some(setting(WS, &["PostgreSQLLogs"])))
            .await;
        assert_eq!(r.status, 400, "{v:?}: {:?}", r.body);
        let want = if v.is_some() {
            "NoRegisteredProviderFound"
        } else {
            "MissingApiVersionParameter"
        };
        assert_eq!(r.code(), want, "{:?}", r.body);
    }
}
