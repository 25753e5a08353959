//! The mock's Azure Resource Graph: queries by id over the store's top-level resources with ARG's
//! columns, paging by `$skipToken`, refusals of KQL outside the subset and of oversized queries in
//! ARG's error shape, ARG's quota per principal (15 per 5 s, with its headers), the lag, and the
//! subscriptions a principal's tenant may see.

use crate::common;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::*;
use engram_operator::mock_arm::{
    EntraConfig, EntraPrincipal, MockConfig, OpClass, ThrottleConfig, GRAPH_JOURNAL_ID,
};
use serde_json::{json, Value};

const ARG: &str = "2022-10-01";
const SUB2: &str = "00000000-0000-0000-0000-000000000002";

fn alert_id(name: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Insights/metricAlerts/{name}"
    )
}

fn disk_id(sub: &str, name: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/rg-disks/providers/Microsoft.Compute/disks/{name}")
}

async fn graph(t: &T, body: Value) -> Resp {
    t.call("POST", GRAPH_JOURNAL_ID, Some(ARG), Some(body))
        .await
}

fn by_ids(ids: &[String]) -> String {
    let quoted: Vec<String> = ids
        .iter()
        .map(|i| engram_operator::azure::resource_graph::kql_string(i))
        .collect();
    format!("resources | where id in~ ({})", quoted.join(", "))
}

fn no_throttle() -> MockConfig {
    MockConfig {
        throttle: ThrottleConfig {
            enabled: false,
            ..ThrottleConfig::default()
        },
        ..MockConfig::default()
    }
}

#[tokio::test]
async fn a_query_by_ids_returns_exactly_the_existing_ones_with_args_columns() {
    let t = start().await;
    t.create_server("pg1", gp_server()).await;
    t.create_account(
        "acct1",
        json!({"location": "westus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2", "tags": {"engram-owner": "ns/plane"}}),
    )
    .await;
    let alert = json!({"location": "global", "properties": {"severity": 3, "enabled": true, "scopes": [server_id("pg1")], "evaluationFrequency": "PT1M", "windowSize": "PT5M", "criteria": {"odata.type": "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria", "allOf": []}}});
    let r = t
        .call("PUT", &alert_id("pg1-cpu"), Some("2018-03-01"), Some(alert))
        .await;
    assert!(r.status < 300, "{:?}", r.body);
    let container = format!(
        "{}/blobServices/default/containers/logs",
        account_id("acct1")
    );
    let r = t.call("PUT", &container, Some(ST), Some(json!({}))).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let ids = vec![
        server_id("pg1").to_uppercase(),
        account_id("acct1"),
        alert_id("pg1-cpu"),
        server_id("missing"),
        container,
        format!("{}/configurations/work_mem", server_id("pg1")),
    ];
    let r = graph(&t, json!({"subscriptions": [SUB], "query": by_ids(&ids)})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (
            &r.body["totalRecords"],
            &r.body["count"],
            &r.body["resultTruncated"]
        ),
        (&json!(3), &json!(3), &json!("false"))
    );
    assert_eq!(r.body["facets"], json!([]));
    assert!(r.body.get("$skipToken").is_none());
    let rows: BTreeMap<String, Value> = r.body["data"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            (
                row["name"].as_str().unwrap_or_default().to_owned(),
                row.clone(),
            )
        })
        .collect();
    assert_eq!(rows.keys().collect::<Vec<_>>(), ["acct1", "pg1", "pg1-cpu"]);
    // ARG's columns; the type lower-cased as ARG returns it; the stored body's sku, tags, kind.
    let pg = &rows["pg1"];
    assert_eq!(pg["id"], server_id("pg1"));
    assert_eq!(pg["type"], "microsoft.dbforpostgresql/flexibleservers");
    assert_eq!(pg["sku"]["name"], "Standard_D2ds_v5");
    assert_eq!(pg["properties"]["version"], "16");
    assert_eq!(
        (pg["resourceGroup"].as_str(), pg["subscriptionId"].as_str()),
        (Some("rg"), Some(SUB))
    );
    assert!(
        pg["tenantId"].as_str().is_some_and(|t| t.len() == 36),
        "{pg}"
    );
    for col in [
        "kind",
        "location",
        "managedBy",
        "plan",
        "tags",
        "identity",
        "zones",
        "extendedLocation",
    ] {
        assert!(pg.get(col).is_some(), "column {col} missing: {pg}");
    }
    let acct = &rows["acct1"];
    assert_eq!(acct["type"], "microsoft.storage/storageaccounts");
    assert_eq!(
        (acct["kind"].as_str(), acct["tags"]["engram-owner"].as_str()),
        (Some("StorageV2"), Some("ns/plane"))
    );
    assert_eq!(rows["pg1-cpu"]["type"], "microsoft.insights/metricalerts");
    // ARG's quota headers on every answer; journaled as one read of the ARG path.
    assert_eq!(r.header("x-ms-user-quota-remaining").as_deref(), Some("14"));
    assert_eq!(
        r.header("x-ms-user-quota-resets-after").as_deref(),
        Some("00:00:05")
    );
    assert_eq!(t.mock.graph_queries(), 1);
    let e = t.mock.journal().into_iter().last().expect("journaled");
    assert_eq!(
        (e.method.as_str(), e.class, e.status, e.principal.as_str()),
        ("POST", OpClass::Read, 200, "static")
    );
    assert_eq!(e.resource_id, GRAPH_JOURNAL_ID);

    // The other filters of the subset.
    let q = |query: &str| json!({"query": query});
    let count = |r: Resp| r.body["totalRecords"].as_u64();
    assert_eq!(
        count(
            graph(
                &t,
                q("Resources | where type =~ 'Microsoft.Storage/storageAccounts'")
            )
            .await
        ),
        Some(1)
    );
    assert_eq!(
        count(
            graph(
                &t,
                q("resources | where type == 'Microsoft.Storage/storageAccounts'")
            )
            .await
        ),
        Some(0),
        "== is exact, and ARG's type is lower case"
    );
    assert_eq!(count(graph(&t, q("resources | where resourceGroup in~ ('RG', 'other') and subscriptionId =~ '00000000-0000-0000-0000-000000000001'")).await), Some(3));
    let r = graph(
        &t,
        q("resources | where name =~ 'PG1' | project name, type"),
    )
    .await;
    assert_eq!(
        r.body["data"],
        json!([{"name": "pg1", "type": "microsoft.dbforpostgresql/flexibleservers"}])
    );
    assert_eq!(
        count(graph(&t, json!({"subscriptions": [SUB2], "query": "resources"})).await),
        Some(0)
    );
}

#[tokio::test]
async fn more_than_1000_rows_come_in_pages_linked_by_skip_tokens() {
    let t = start().await;
    let all: BTreeSet<String> = (0..2345)
        .map(|i| disk_id(SUB, &format!("disk{i:04}")))
        .collect();
    for id in &all {
        t.mock
            .seed(
                id,
                json!({"location": "eastus", "sku": {"name": "Premium_LRS"}}),
            )
            .expect("seeded");
    }
    let query = "resources | where type =~ 'microsoft.compute/disks'";
    let (mut seen, mut token, mut pages) = (Vec::new(), None::<String>, Vec::new());
    loop {
        let mut body = json!({"subscriptions": [SUB], "query": query});
        if let Some(tk) = &token {
            body["options"] = json!({"$skipToken": tk});
        }
        let r = graph(&t, body).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["totalRecords"], 2345);
        pages.push(r.body["count"].as_u64().unwrap_or_default());
        for row in r.body["data"].as_array().into_iter().flatten() {
            seen.push(row["id"].as_str().unwrap_or_default().to_owned());
        }
        token = r.body["$skipToken"].as_str().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, vec![1000, 1000, 345], "1,000 rows a page by default");
    assert_eq!(
        seen.iter().cloned().collect::<BTreeSet<_>>(),
        all,
        "every row once"
    );
    assert_eq!(seen.len(), all.len());

    // $top and $skip choose a page; a token follows with the same size.
    let r = graph(
        &t,
        json!({"query": query, "options": {"$top": 500, "$skip": 2000}}),
    )
    .await;
    assert_eq!(
        (r.body["count"].as_u64(), r.body["data"][0]["name"].as_str()),
        (Some(345), Some("disk2000"))
    );
    assert!(r.body.get("$skipToken").is_none());
    let r = graph(&t, json!({"query": query, "options": {"$top": 2}})).await;
    let tk = r.body["$skipToken"].as_str().expect("a token").to_owned();
    let r = graph(&t, json!({"query": query, "options": {"$skipToken": tk}})).await;
    assert_eq!(
        (r.body["count"].as_u64(), r.body["data"][0]["name"].as_str()),
        (Some(2), Some("disk0002"))
    );
    // A token sent with another query is refused.
    let r = graph(
        &t,
        json!({"query": "resources", "options": {"$skipToken": tk}}),
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"]["details"][1]["code"].as_str()),
        (400, Some("InvalidSkipToken"))
    );
    // Rows without their id, or a query with its own limit, cannot be paged: ARG says truncated.
    let r = graph(&t, json!({"query": "resources | project name"})).await;
    assert_eq!(
        (r.body["count"].as_u64(), r.body["resultTruncated"].as_str()),
        (Some(1000), Some("true"))
    );
    assert!(r.body.get("$skipToken").is_none());
    let r = graph(&t, json!({"query": "resources | take 1500"})).await;
    assert_eq!(
        (
            r.body["totalRecords"].as_u64(),
            r.body["resultTruncated"].as_str()
        ),
        (Some(1500), Some("true"))
    );
}

#[tokio::test]
async fn kql_outside_the_subset_and_bad_options_are_refused_in_args_error_shape() {
    let t = start().await;
    let refused = |r: &Resp, detail: &str, token: Option<&str>| {
        assert_eq!((r.status, r.code()), (400, "BadRequest"), "{:?}", r.body);
        let details = &r.body["error"]["details"];
        assert_eq!(details[0]["code"], "InvalidQuery", "{details}");
        assert_eq!(details[1]["code"], detail, "{details}");
        assert_eq!(details[1]["token"].as_str(), token, "{details}");
        assert!(details[1]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    };
    let q = |query: &str| json!({"query": query});
    for (query, detail, token) in [
        (
            "Resources | summarize count() by type",
            "InvalidQueryLanguage",
            "count",
        ),
        (
            "resourcecontainers | project id",
            "InvalidQueryLanguage",
            "resourcecontainers",
        ),
        (
            "resources | where properties.state =~ 'Ready'",
            "InvalidQueryLanguage",
            "properties",
        ),
        (
            "resources | where name =~ 'a' or name =~ 'b'",
            "InvalidQueryLanguage",
            "or",
        ),
        ("resources | where id in~ ('a', 'b'", "ParserFailure", ""),
    ] {
        refused(&graph(&t, q(query)).await, detail, Some(token));
    }
    for options in [
        json!({"$top": 0}),
        json!({"$top": 1001}),
        json!({"$skip": -1}),
        json!({"resultFormat": "table"}),
    ] {
        let r = graph(&t, json!({"query": "resources", "options": options})).await;
        refused(&r, "InvalidQueryOptions", None);
    }
    let r = graph(&t, json!({"subscriptions": [SUB]})).await;
    refused(&r, "InvalidRequestContent", None);
    // Refusals are journaled too, and count against the quota as queries.
    assert_eq!(t.mock.graph_queries(), 10);
    let r = t.call("GET", GRAPH_JOURNAL_ID, Some(ARG), None).await;
    assert_eq!(r.status, 405);
    let r = t
        .call(
            "POST",
            GRAPH_JOURNAL_ID,
            Some("2021-03-01"),
            Some(q("resources")),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "NoRegisteredProviderFound"));
}

#[tokio::test]
async fn a_query_over_the_size_limit_is_refused() {
    let t = start().await;
    // 64 KiB of query text is taken; one byte more is not.
    let pad = |len: usize| {
        let head = "resources | where name =~ '";
        format!("{head}{}'", "x".repeat(len - head.len() - 1))
    };
    let r = graph(&t, json!({"query": pad(64 * 1024)})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = graph(&t, json!({"query": pad(64 * 1024 + 1)})).await;
    assert_eq!((r.status, r.code()), (400, "BadRequest"));
    assert_eq!(r.body["error"]["details"][1]["code"], "QueryTooLarge");
}

#[tokio::test]
async fn the_16th_query_in_a_5_second_window_gets_429_with_retry_after_and_quota_headers() {
    let t = start().await;
    let q = json!({"query": "resources"});
    for left in (0..15).rev() {
        let r = graph(&t, q.clone()).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("x-ms-user-quota-remaining"),
            Some(left.to_string())
        );
    }
    t.mock.advance(Duration::from_millis(1500));
    let r = graph(&t, q.clone()).await;
    assert_eq!((r.status, r.code()), (429, "RateLimiting"), "{:?}", r.body);
    assert_eq!(r.body["error"]["details"][0]["code"], "RateLimiting");
    assert_eq!(r.header("retry-after").as_deref(), Some("4"));
    assert_eq!(r.header("x-ms-user-quota-remaining").as_deref(), Some("0"));
    assert_eq!(
        r.header("x-ms-user-quota-resets-after").as_deref(),
        Some("00:00:04")
    );
    // The window ends 5 s after it began, and the count starts again in full.
    t.mock.advance(Duration::from_millis(3500));
    let r = graph(&t, q.clone()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ms-user-quota-remaining").as_deref(), Some("14"));
    // ARG's quota is its own: ARM reads are not throttled by it.
    assert_eq!(
        t.call("GET", &server_id("pg1"), Some(PG), None)
            .await
            .status,
        404
    );
    let statuses: Vec<u16> = t
        .mock
        .journal()
        .iter()
        .filter(|e| e.resource_id == GRAPH_JOURNAL_ID)
        .map(|e| e.status)
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 1);

    // Throttling off: the count is still reported, nothing is refused.
    let t = start_with(no_throttle()).await;
    for _ in 0..20 {
        assert_eq!(graph(&t, q.clone()).await.status, 200);
    }
}

#[tokio::test]
async fn with_a_lag_arg_sees_each_resource_as_it_was_one_lag_ago() {
    let t = start_with(MockConfig {
        graph_lag: Duration::from_secs(60),
        ..no_throttle()
    })
    .await;
    let sku = |r: &Resp| r.body["data"][0]["sku"]["name"].as_str().map(str::to_owned);
    let ask = || json!({"query": by_ids(&[server_id("pg1"), account_id("acct1")])});
    // Created (its create done) at 60 s: absent until 120 s.
    t.create_server("pg1", gp_server()).await;
    assert_eq!(graph(&t, ask()).await.body["count"], 0);
    t.mock.advance(Duration::from_secs(59));
    assert_eq!(
        graph(&t, ask()).await.body["count"],
        0,
        "59 s after its creation"
    );
    t.mock.advance(Duration::from_secs(1));
    let r = graph(&t, ask()).await;
    assert_eq!(
        (r.body["count"].as_u64(), sku(&r).as_deref()),
        (Some(1), Some("Standard_D2ds_v5"))
    );
    // An edited SKU is seen old for one lag.
    t.mock
        .edit(
            &server_id("pg1"),
            json!({"sku": {"name": "Standard_D4ds_v5"}}),
        )
        .expect("edited");
    t.mock.advance(Duration::from_secs(59));
    assert_eq!(
        sku(&graph(&t, ask()).await).as_deref(),
        Some("Standard_D2ds_v5")
    );
    t.mock.advance(Duration::from_secs(1));
    assert_eq!(
        sku(&graph(&t, ask()).await).as_deref(),
        Some("Standard_D4ds_v5")
    );
    // A deleted resource stays for one lag. The lag can be changed through the control API.
    let r = t.call("DELETE", &server_id("pg1"), Some(PG), None).await;
    assert_eq!(r.status, 202);
    t.mock.advance(Duration::from_secs(30));
    assert_eq!(
        t.call("GET", &server_id("pg1"), Some(PG), None)
            .await
            .status,
        404
    );
    assert_eq!(
        graph(&t, ask()).await.body["count"],
        1,
        "ARM has deleted it, ARG not yet"
    );
    t.mock.advance(Duration::from_secs(60));
    assert_eq!(graph(&t, ask()).await.body["count"], 0);
    let r = t
        .control("POST", "/_mock/graph", Some(json!({"lagSeconds": 0})))
        .await;
    assert_eq!(
        (r["lagSeconds"].as_f64(), r["queries"].as_u64()),
        (Some(0.0), Some(7))
    );
    t.create_account(
        "acct1",
        json!({"location": "westus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}),
    )
    .await;
    assert_eq!(
        graph(&t, ask()).await.body["count"],
        1,
        "no lag: seen at once"
    );
}

#[tokio::test]
async fn a_principal_sees_the_subscriptions_of_its_tenant_and_unmapped_ones() {
    const TENANT: &str = "11111111-1111-1111-1111-111111111111";
    const OTHER: &str = "22222222-2222-2222-2222-222222222222";
    const SUB3: &str = "00000000-0000-0000-0000-000000000003";
    let mut p = EntraPrincipal::new(TENANT, "app");
    p.secrets.push("s3cret".into());
    let t = start_with(MockConfig {
        entra: EntraConfig {
            principals: vec![p],
            subscription_tenants: [
                (SUB.to_owned(), TENANT.to_owned()),
                (SUB2.to_owned(), OTHER.to_owned()),
            ]
            .into(),
            ..EntraConfig::default()
        },
        ..MockConfig::default()
    })
    .await;
    for sub in [SUB, SUB2, SUB3] {
        t.mock
            .seed(&disk_id(sub, "d"), json!({"location": "eastus"}))
            .expect("seeded");
    }
    let token = json_of(
        t.http
            .post(format!("{}/{TENANT}/oauth2/v2.0/token", t.mock.entra_url()))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "app"),
                ("scope", "https://management.azure.com/.default"),
                ("client_secret", "s3cret"),
            ]),
    )
    .await;
    let token = token["access_token"].as_str().expect("issued");
    // The subscriptions of the rows a query as the principal finds.
    let subs_of = |body: Value| {
        let rb = t
            .http
            .post(t.url(&format!("{GRAPH_JOURNAL_ID}?api-version={ARG}")))
            .bearer_auth(token)
            .json(&body);
        async move {
            let v = json_of(rb).await;
            let rows = v["data"].as_array().cloned().unwrap_or_default();
            assert!(rows.iter().all(|r| r["tenantId"] == TENANT), "{v}");
            rows.iter()
                .filter_map(|r| r["subscriptionId"].as_str().map(str::to_owned))
                .collect::<BTreeSet<String>>()
        }
    };
    assert_eq!(
        subs_of(json!({"query": "resources"})).await,
        [SUB.to_owned(), SUB3.to_owned()].into(),
        "its tenant's subscription and the unmapped one"
    );
    assert_eq!(
        subs_of(json!({"subscriptions": [SUB2, SUB3], "query": "resources"})).await,
        [SUB3.to_owned()].into(),
        "another tenant's subscription stays hidden"
    );
    let e = t.mock.journal().into_iter().last().expect("journaled");
    assert_eq!(e.principal, format!("{TENANT}/app"));
}
