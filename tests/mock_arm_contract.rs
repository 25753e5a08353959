//! The ARM contract on the mock: bearer auth, api-version, throttling, faults, journal, edits.

use crate::common;
use std::time::Duration;

use common::*;
use engram_operator::mock_arm::{
    FaultKind, FaultSpec, MockConfig, OpClass, StorageRpLimits, ThrottleConfig,
};
use serde_json::json;

#[tokio::test]
async fn auth_is_required_and_the_token_is_never_echoed() {
    let t = start_with(MockConfig {
        token: "s3cr3t-token".into(),
        ..MockConfig::default()
    })
    .await;
    let url = t.url(&format!("{}?api-version={PG}", server_id("pg1")));
    let none = t.http.get(&url).send().await.expect("sent");
    assert_eq!(none.status().as_u16(), 401);
    assert!(none.headers().contains_key("www-authenticate"));
    let body: serde_json::Value = none.json().await.expect("json");
    assert_eq!(body["error"]["code"], "AuthenticationFailed");
    let wrong = t
        .http
        .get(&url)
        .bearer_auth("s3cr3t-tokenX")
        .send()
        .await
        .expect("sent");
    assert_eq!(wrong.status().as_u16(), 401);
    let text = wrong.text().await.expect("text");
    assert!(text.contains("InvalidAuthenticationToken"));
    assert!(!text.contains("s3cr3t"), "token never echoed");
    assert_eq!(
        t.call("GET", &server_id("pg1"), Some(PG), None)
            .await
            .code(),
        "ResourceNotFound"
    );
}

#[tokio::test]
async fn api_version_missing_or_unsupported() {
    let t = start().await;
    let r = t.call("GET", &server_id("pg1"), None, None).await;
    assert_eq!((r.status, r.code()), (400, "MissingApiVersionParameter"));
    let r = t
        .call("GET", &server_id("pg1"), Some("2017-12-01"), None)
        .await;
    assert_eq!((r.status, r.code()), (400, "NoRegisteredProviderFound"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("2024-08-01"));
    // The newer stable version is accepted too.
    assert_eq!(
        t.call("GET", &server_id("pg1"), Some("2025-08-01"), None)
            .await
            .code(),
        "ResourceNotFound"
    );
    let r = t.call("GET", &account_id("acct1"), Some(PG), None).await;
    assert_eq!(r.code(), "NoRegisteredProviderFound");
}

#[tokio::test]
async fn throttling_buckets_headers_and_429() {
    let cfg = MockConfig {
        throttle: ThrottleConfig {
            read_capacity: 3.0,
            read_refill_per_sec: 0.5,
            write_capacity: 2.0,
            write_refill_per_sec: 1.0,
            ..ThrottleConfig::default()
        },
        ..MockConfig::default()
    };
    let t = start_with(cfg).await;
    let id = server_id("pg1");
    let left: Vec<Option<String>> = futures_seq(&t, &id, 3).await;
    assert_eq!(
        left,
        vec![Some("2".into()), Some("1".into()), Some("0".into())]
    );
    let r = t.call("GET", &id, Some(PG), None).await;
    assert_eq!((r.status, r.code()), (429, "TooManyRequests"));
    assert_eq!(r.header("retry-after").as_deref(), Some("2"));
    // Writes have their own bucket.
    let w = t.call("PUT", &id, Some(PG), Some(gp_server())).await;
    assert_eq!(w.status, 202);
    assert_eq!(
        w.header("x-ms-ratelimit-remaining-subscription-global-writes")
            .as_deref(),
        Some("1")
    );
    // Refill runs on the virtual clock.
    t.mock.advance(Duration::from_secs(2));
    assert_eq!(t.call("GET", &id, Some(PG), None).await.status, 404);
    // Another subscription has its own buckets.
    let other = id.replace(SUB, "00000000-0000-0000-0000-000000000002");
    assert_eq!(
        t.call("GET", &other, Some(PG), None)
            .await
            .header("x-ms-ratelimit-remaining-subscription-global-reads")
            .as_deref(),
        Some("2")
    );
}

/// Every limit answers 429 with a Retry-After and a message naming it: ARM's deletes (a bucket of
/// their own), and the Storage resource provider's reads, lists, writes per second and writes per
/// hour, each per subscription and region.
#[tokio::test]
async fn each_limit_answers_429_with_its_own_retry_after() {
    let limits = StorageRpLimits {
        reads_per_window: 3.0,
        lists_per_window: 1.0,
        window_secs: 300.0,
        writes_per_second: 1.0,
        writes_per_hour: 4.0,
    };
    let cfg = MockConfig {
        throttle: ThrottleConfig {
            delete_capacity: 1.0,
            delete_refill_per_sec: 0.1,
            storage: limits,
            ..ThrottleConfig::default()
        },
        ..MockConfig::default()
    };
    let t = start_with(cfg).await;
    let body = json!({"location": "westus", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}});
    t.create_account("limits1", body.clone()).await; // write 1
    let acct = account_id("limits1");
    let refused = |r: &Resp, what: &str, retry: u64| {
        assert_eq!((r.status, r.code()), (429, "TooManyRequests"), "{what}");
        assert!(r.body.to_string().contains(what), "{what}: {}", r.body);
        let after: u64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!(after >= retry, "{what}: Retry-After {after} < {retry}");
        after
    };

    // Lists: one per 5 minutes here.
    let list = format!("{acct}/blobServices/default/containers");
    assert_eq!(t.call("GET", &list, Some(ST), None).await.status, 200);
    refused(
        &t.call("GET", &list, Some(ST), None).await,
        "list operations",
        300,
    );
    // Reads: three per 5 minutes; the list did not count as one.
    for _ in 0..3 {
        assert_eq!(t.call("GET", &acct, Some(ST), None).await.status, 200);
    }
    refused(
        &t.call("GET", &acct, Some(ST), None).await,
        "reads per",
        100,
    );
    // Writes: one per second, and four per hour (the create was the first).
    let c = |n: &str| format!("{acct}/blobServices/default/containers/box-{n}");
    let r = t.call("PUT", &c("a"), Some(ST), Some(json!({}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    refused(
        &t.call("PUT", &c("b"), Some(ST), Some(json!({}))).await,
        "writes per second",
        1,
    );
    t.mock.advance(Duration::from_secs(1));
    assert_eq!(
        t.call("PUT", &c("b"), Some(ST), Some(json!({})))
            .await
            .status,
        201
    );
    t.mock.advance(Duration::from_secs(1));
    assert_eq!(
        t.call("PUT", &c("c"), Some(ST), Some(json!({})))
            .await
            .status,
        201
    );
    t.mock.advance(Duration::from_secs(1));
    // The hour gives one write back per 900 s.
    refused(
        &t.call("PUT", &c("d"), Some(ST), Some(json!({}))).await,
        "writes per hour",
        800,
    );
    // Another region has its own Storage RP buckets.
    t.mock.advance(Duration::from_secs(3600));
    let east = json!({"location": "eastus", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}});
    t.create_account("limits2", east).await;
    assert_eq!(
        t.call("GET", &account_id("limits2"), Some(ST), None)
            .await
            .status,
        200
    );

    // Deletes: ARM's own bucket, beside writes.
    assert_eq!(t.call("DELETE", &c("a"), Some(ST), None).await.status, 200);
    let r = t.call("DELETE", &c("b"), Some(ST), None).await;
    refused(&r, "'Delete'", 10);
    assert_eq!(
        r.header("x-ms-ratelimit-remaining-subscription-global-deletes")
            .as_deref(),
        Some("0")
    );
}

async fn futures_seq(t: &T, id: &str, n: usize) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            t.call("GET", id, Some(PG), None)
                .await
                .header("x-ms-ratelimit-remaining-subscription-global-reads"),
        );
    }
    out
}

#[tokio::test]
async fn faults_status_throttle_drop_delay_and_failed_operation() {
    let t = start().await;
    let id = server_id("pg1");
    t.mock
        .inject_fault(
            FaultSpec::new(
                "GET",
                "*/flexibleServers/pg1",
                FaultKind::Status {
                    status: 503,
                    code: "ServiceUnavailable".into(),
                    message: "down".into(),
                },
            )
            .times(1),
        )
        .expect("fault");
    let r = t.call("GET", &id, Some(PG), None).await;
    assert_eq!((r.status, r.code()), (503, "ServiceUnavailable"));
    assert_eq!(
        t.call("GET", &id, Some(PG), None).await.status,
        404,
        "count 1 fires once"
    );

    t.mock
        .inject_fault(FaultSpec::new("*", "*/pg1", FaultKind::Throttle { retry_after: 7 }).times(1))
        .expect("fault");
    let r = t.call("GET", &id, Some(PG), None).await;
    assert_eq!(
        (r.status, r.header("retry-after").as_deref()),
        (429, Some("7"))
    );

    t.mock
        .inject_fault(FaultSpec::new("GET", "*/pg1", FaultKind::Drop).times(1))
        .expect("fault");
    let dropped = t
        .http
        .get(t.url(&format!("{id}?api-version={PG}")))
        .bearer_auth(t.mock.token())
        .send()
        .await;
    assert!(dropped.is_err(), "connection dropped without an answer");
    assert_eq!(
        t.call("GET", &id, Some(PG), None).await.status,
        404,
        "next request is served"
    );

    t.mock
        .inject_fault(FaultSpec::new("GET", "*/pg1", FaultKind::Delay { ms: 1 }).times(1))
        .expect("fault");
    assert_eq!(
        t.call("GET", &id, Some(PG), None).await.status,
        404,
        "delayed, then served"
    );

    t.mock
        .inject_fault(
            FaultSpec::new(
                "PUT",
                "*/pg1",
                FaultKind::FailOperation {
                    code: "InternalServerError".into(),
                    message: "boom".into(),
                },
            )
            .times(1),
        )
        .expect("fault");
    let r = t.call("PUT", &id, Some(PG), Some(gp_server())).await;
    assert_eq!(r.status, 202);
    t.mock.advance(Duration::from_secs(30));
    let s = t
        .get_abs(&r.header("azure-asyncoperation").expect("op"))
        .await;
    assert_eq!(s.body["status"], "Failed");
    assert_eq!(s.body["error"]["code"], "InternalServerError");
    assert_eq!(
        t.call("GET", &id, Some(PG), None).await.status,
        404,
        "failed create leaves nothing"
    );

    // Seeded probability: reproducible.
    let pattern = |seed| {
        let t = &t;
        async move {
            t.mock.clear_faults();
            t.mock
                .inject_fault(
                    FaultSpec::new(
                        "GET",
                        "*/pgx",
                        FaultKind::Status {
                            status: 500,
                            code: "X".into(),
                            message: "x".into(),
                        },
                    )
                    .with_probability(0.5, seed),
                )
                .expect("fault");
            let mut v = Vec::new();
            for _ in 0..16 {
                v.push(
                    t.call("GET", &server_id("pgx"), Some(PG), None)
                        .await
                        .status,
                );
            }
            v
        }
    };
    let a = pattern(9).await;
    assert_eq!(a, pattern(9).await);
    assert!(a.contains(&500) && a.contains(&404));
    // Journal records faulted and dropped requests.
    let j = t.mock.journal();
    assert!(j.iter().any(|e| e.status == 0 && e.fault.is_some()));
}

#[tokio::test]
async fn journal_counts_reads_and_writes_per_resource_but_not_control_or_polls() {
    let t = start().await;
    let id = server_id("pg1");
    let r = t.call("PUT", &id, Some(PG), Some(gp_server())).await;
    t.get_abs(&r.header("azure-asyncoperation").expect("op"))
        .await;
    t.mock.advance(Duration::from_secs(30));
    t.call("GET", &id, Some(PG), None).await;
    t.call(
        "GET",
        &format!("{id}/configurations/max_connections"),
        Some(PG),
        None,
    )
    .await;
    t.call("POST", &format!("{id}/restart"), Some(PG), None)
        .await;
    t.http
        .get(t.url("/_mock/dump"))
        .send()
        .await
        .expect("control");
    assert_eq!(t.mock.writes_to(&id), 2, "PUT + restart");
    assert_eq!(
        t.mock.reads_to(&id),
        2,
        "server GET + configuration GET (prefix)"
    );
    assert_eq!(
        t.mock
            .reads_to(&format!("{id}/configurations/max_connections")),
        1
    );
    assert_eq!(
        t.mock.reads_to(&server_id("pg")),
        0,
        "prefix matches whole segments"
    );
    let j = t.mock.journal();
    assert_eq!(j.len(), 5);
    assert!(j.iter().all(|e| !e.path.starts_with("/_mock")));
    assert_eq!(j[0].method, "PUT");
    assert_eq!(j[0].api_version.as_deref(), Some(PG));
    assert_eq!(j[0].class, OpClass::Write);
    assert_eq!(j[0].time, "2025-01-01T00:00:00Z");
    assert!(j[1].resource_id.contains("azureAsyncOperation"));
    // The HTTP control API shares the counts.
    let c: serde_json::Value = t
        .http
        .get(t.url(&format!("/_mock/journal/count?id={id}")))
        .send()
        .await
        .expect("c")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (c["reads"].as_u64(), c["writes"].as_u64()),
        (Some(2), Some(2))
    );
}

#[tokio::test]
async fn out_of_band_edits_change_what_get_returns_and_are_not_journaled() {
    let t = start().await;
    t.create_server("pg1", gp_server()).await;
    let id = server_id("pg1");
    let before = t.mock.journal().len();
    t.mock.edit(&id, json!({"sku": {"name": "Standard_D4ds_v5"}, "properties": {"storage": {"storageSizeGB": 512}, "highAvailability": {"mode": "ZoneRedundant"}}})).expect("edit");
    let s = t.server("pg1").await;
    assert_eq!(s["sku"]["name"], "Standard_D4ds_v5");
    assert_eq!(s["properties"]["storage"]["storageSizeGB"], 512);
    assert_eq!(s["properties"]["highAvailability"]["mode"], "ZoneRedundant");
    assert_eq!(t.mock.journal().len(), before + 1, "only the GET");
    assert_eq!(t.mock.writes_to(&id), 1);

    // Over HTTP, with a config value, and a portal stop that auto-starts after 7 days.
    let r = t.http.post(t.url("/_mock/edit")).json(&json!({"id": format!("{id}/configurations/max_connections"), "patch": {"properties": {"value": "77"}}})).send().await.expect("edit");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        t.call(
            "GET",
            &format!("{id}/configurations/max_connections"),
            Some(PG),
            None
        )
        .await
        .body["properties"]["value"],
        "77"
    );
    t.mock
        .edit(&id, json!({"properties": {"state": "Stopped"}}))
        .expect("edit");
    t.http
        .post(t.url("/_mock/advance"))
        .json(&json!({"seconds": 7.0 * 86400.0}))
        .send()
        .await
        .expect("advance");
    assert_eq!(t.server("pg1").await["properties"]["state"], "Ready");
    let missing = t
        .http
        .post(t.url("/_mock/edit"))
        .json(&json!({"id": "/nope", "patch": {}}))
        .send()
        .await
        .expect("edit");
    assert_eq!(missing.status().as_u16(), 404);

    // Reset forgets everything; dump shows the state.
    assert!(t.mock.dump()["resources"]
        .as_object()
        .is_some_and(|m| !m.is_empty()));
    t.mock.reset();
    assert_eq!(t.call("GET", &id, Some(PG), None).await.status, 404);
    assert!(t.mock.dump()["resources"]
        .as_object()
        .is_some_and(|m| m.is_empty()));
}

#[tokio::test]
async fn etag_and_if_match() {
    let t = start().await;
    t.create_server("pg1", gp_server()).await;
    let g = t.call("GET", &server_id("pg1"), Some(PG), None).await;
    let etag = g.header("etag").expect("etag");
    let r = t
        .call_h(
            "PATCH",
            &server_id("pg1"),
            Some(PG),
            Some(json!({"tags": {"a": "1"}})),
            &[("if-match", "\"other\"")],
        )
        .await;
    assert_eq!((r.status, r.code()), (412, "PreconditionFailed"));
    let r = t
        .call_h(
            "PATCH",
            &server_id("pg1"),
            Some(PG),
            Some(json!({"tags": {"a": "1"}})),
            &[("if-match", etag.as_str())],
        )
        .await;
    assert_eq!(r.status, 202);
}
