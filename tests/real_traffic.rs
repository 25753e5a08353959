//! The ARM client against requests and answers recorded from real Azure
//! (tests/fixtures/real-traffic/, see the README there).

use std::path::Path;

use azure_core::headers::{HeaderName, Headers};
use engram_operator::azure::cloud::{audience, Audience, Cloud};
use engram_operator::azure::error::operation_failure_is_transient;
use engram_operator::azure::policy::remaining;
use engram_operator::azure::{op_state, OpState};
use serde_json::Value;

fn recordings() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real-traffic");
    let mut out = Vec::new();
    for name in [
        "Test_DBForPostgreSQL_FlexibleServer_20240801_CRUD.json",
        "Test_Storage_StorageAccount_20250601_CRUD.json",
    ] {
        let text = std::fs::read_to_string(dir.join(name)).expect("recording");
        let v: Value = serde_json::from_str(&text).expect("json");
        for e in v.as_array().expect("interactions") {
            out.push((format!("{name}#{}", e["id"]), e.clone()));
        }
    }
    out
}

fn headers(e: &Value) -> Headers {
    let mut h = Headers::new();
    for (k, v) in e["response_headers"].as_object().into_iter().flatten() {
        if let Some(v) = v.as_str() {
            h.insert(HeaderName::from(k.to_ascii_lowercase()), v.to_owned());
        }
    }
    h
}

#[test]
fn every_throttling_header_azure_sends_is_read_by_the_budget() {
    let mut seen = 0;
    for (id, e) in recordings() {
        let names: Vec<&String> = e["response_headers"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
            .filter(|k| {
                k.to_ascii_lowercase()
                    .starts_with("x-ms-ratelimit-remaining")
            })
            .collect();
        if names.is_empty() {
            continue;
        }
        seen += names.len();
        assert_eq!(
            remaining(&headers(&e)).len(),
            names.len(),
            "{id}: {names:?} not all read"
        );
    }
    assert!(
        seen > 50,
        "only {seen} throttling headers in the recordings"
    );
}

#[test]
fn operation_answers_map_to_the_states_the_engine_expects() {
    let (mut running, mut done, mut failed) = (0, 0, 0);
    for (id, e) in recordings() {
        let url = e["url"].as_str().unwrap_or_default().to_ascii_lowercase();
        let is_status = e["method"] == "GET"
            && (url.contains("/azureasyncoperation/") || url.contains("/asyncoperations/"));
        if !is_status {
            continue;
        }
        let status = e["response_code"].as_u64().unwrap_or(0) as u16;
        let body = serde_json::to_vec(&e["response_body"]).unwrap_or_default();
        let state = op_state(status, &headers(&e), &body);
        match e["response_body"]["status"].as_str() {
            Some("InProgress") => {
                assert!(
                    matches!(state, OpState::Running(Some(_))),
                    "{id}: {state:?}"
                );
                running += 1;
            }
            Some("Failed" | "Canceled") => {
                let OpState::Failed { code, .. } = &state else {
                    panic!("{id}: {state:?}");
                };
                assert!(
                    operation_failure_is_transient(code),
                    "{id}: {code} is transient in real traffic"
                );
                failed += 1;
            }
            _ if status == 202 => assert!(matches!(state, OpState::Running(_)), "{id}"),
            _ => {
                assert_eq!(state, OpState::Succeeded, "{id}");
                done += 1;
            }
        }
    }
    assert!(running > 5 && done > 5, "{running} running, {done} done");
    assert_eq!(
        failed, 4,
        "ServerIsBusy, InternalServerError x2, OperationCancelled"
    );
}

#[test]
fn operation_urls_with_a_display_name_location_stay_on_the_arm_host() {
    let row = Cloud::AzurePublicCloud.row();
    let arm = azure_core::Url::parse(row.arm_endpoint).expect("arm");
    let mut encoded = 0;
    for (id, e) in recordings() {
        for (k, v) in e["response_headers"].as_object().into_iter().flatten() {
            let k = k.to_ascii_lowercase();
            if k != "azure-asyncoperation" && k != "location" {
                continue;
            }
            let Some(v) = v.as_str() else { continue };
            // The recordings cut long signature query strings with an ellipsis.
            let v = v.trim_end_matches('\u{2026}').trim_end_matches('&');
            let url = azure_core::Url::parse(v).unwrap_or_else(|e| panic!("{id}: {v}: {e}"));
            encoded += usize::from(url.path().contains("%20"));
            assert_eq!(audience(&url, &arm, row), Some(Audience::Arm), "{id}: {v}");
        }
    }
    assert!(
        encoded >= 1,
        "the UK%20South operation URL is in the recordings"
    );
}
