//! Issue 11, item 6, through the engine: the operator creates only what Azure would accept. The
//! geo-backup key goes out with a CMK + geo-redundant create, a key it cannot resolve is refused
//! instead of sent versionless, and a globally taken name is refused before any write (checked
//! only while the resource does not exist).

use crate::support;

use azure_core::{Method, Request, Url};
use engram_operator::mock_arm::MockArm;
use serde_json::{json, Value};
use support::*;

const SUB2: &str = "00000000-0000-0000-0000-000000000002";

/// Journal entries (method, path) after `from` whose path contains `needle`.
fn calls(m: &MockArm, from: usize, needle: &str) -> Vec<(String, String)> {
    m.journal()
        .into_iter()
        .skip(from)
        .filter(|e| {
            e.path
                .to_ascii_lowercase()
                .contains(&needle.to_ascii_lowercase())
        })
        .map(|e| (e.method, e.path))
        .collect()
}

/// PUT a resource straight to the mock (someone else's subscription) and let its create finish.
async fn put(m: &MockArm, path: &str, version: &str, body: Value) {
    let url = format!("{}{path}?api-version={version}", m.base_url());
    let mut req = Request::new(Url::parse(&url).expect("url"), Method::Put);
    req.insert_header("authorization", format!("Bearer {}", m.token()));
    req.insert_header("content-type", "application/json");
    req.set_body(body.to_string().into_bytes());
    let rsp = azure_core::new_http_client()
        .execute_request(&req)
        .await
        .expect("sent");
    assert!(rsp.status().is_success(), "{path}: {}", rsp.status());
    m.advance(LRO);
}

fn refusals(out: &engram_operator::reconcile::Outcome) -> String {
    format!("{:?} {:?}", out.status.errors, out.status.conditions)
}

#[tokio::test]
async fn prod_creates_its_server_with_the_geo_backup_key_and_both_identities() {
    let m = mock().await;
    let arm = arm(&m);
    let eff = prod();
    let out = converge(&m, &arm, &eff, Default::default()).await;
    assert!(out.ready(), "{:#?}", out.status);
    let dump = m.dump();
    let server = dump["resources"]
        .as_object()
        .and_then(|r| {
            r.iter()
                .find(|(id, _)| id.eq_ignore_ascii_case(&server_id(&eff)))
        })
        .map(|(_, v)| v["body"].clone())
        .expect("server stored");
    let enc = &server["properties"]["dataEncryption"];
    let geo_uri = enc["geoBackupKeyURI"].as_str().expect("geo key sent");
    assert!(
        geo_uri.starts_with("https://kv-acme-prod-cus.vault.azure.net/keys/engram-cmk/")
            && geo_uri.rsplit('/').next().is_some_and(|v| v.len() == 32),
        "a versioned geo key: {geo_uri}"
    );
    let geo_id = enc["geoBackupUserAssignedIdentityId"]
        .as_str()
        .expect("geo id");
    assert!(geo_id.ends_with("/engram-cmk-cus"));
    let ids = server["identity"]["userAssignedIdentities"]
        .as_object()
        .expect("identities");
    assert_eq!(ids.len(), 2, "{ids:?}");
    // In sync afterwards: a pass reads, writes nothing and asks no name availability.
    let before = m.journal().len();
    let again = pass(&arm, &eff, &out.status).await;
    assert!(again.ready());
    assert_eq!(writes_since(&m, before), Vec::<(String, String)>::new());
    assert!(calls(&m, before, "checkNameAvailability").is_empty());
}

#[tokio::test]
async fn an_unresolvable_key_is_refused_not_sent_versionless() {
    // The vault holds the geo key but not the primary key: `latest` cannot be resolved.
    let m = bare_mock().await;
    kv_key_in(&m, GEO_VAULT, "engram-cmk", "create").await;
    let arm = arm(&m);
    let eff = prod();
    let before = m.journal().len();
    let out = pass(&arm, &eff, &Default::default()).await;
    let to_server: Vec<_> = writes_since(&m, before)
        .into_iter()
        .filter(|(_, p)| p.to_ascii_lowercase().contains("flexibleservers"))
        .collect();
    assert_eq!(to_server, Vec::<(String, String)>::new(), "no server write");
    assert!(!out.ready());
    let why = refusals(&out);
    assert!(
        why.contains("dataEncryption.primaryKeyURI") && why.contains("versionless"),
        "{why}"
    );
}

#[tokio::test]
async fn a_name_taken_in_another_subscription_is_refused_before_any_write() {
    let m = mock().await;
    let arm = arm(&m);
    let eff = prod();
    let server = format!("/subscriptions/{SUB2}/resourceGroups/theirs/providers/Microsoft.DBforPostgreSQL/flexibleServers/{}", eff.postgres.server_name);
    put(
        &m,
        &server,
        "2024-08-01",
        json!({"location": "westus", "sku": {"name": "Standard_D2ds_v5", "tier": "GeneralPurpose"}, "properties": {"version": "16", "storage": {"storageSizeGB": 32}}}),
    )
    .await;
    let account = format!("/subscriptions/{SUB2}/resourceGroups/theirs/providers/Microsoft.Storage/storageAccounts/{}", eff.storage.account_name);
    put(
        &m,
        &account,
        "2023-05-01",
        json!({"location": "westus", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}}),
    )
    .await;

    let before = m.journal().len();
    let out = pass(&arm, &eff, &Default::default()).await;
    let checks = calls(&m, before, "checkNameAvailability");
    assert_eq!(checks.len(), 2, "one check per provider: {checks:?}");
    let writes: Vec<_> = writes_since(&m, before)
        .into_iter()
        .filter(|(_, p)| !p.to_ascii_lowercase().contains("checknameavailability"))
        .collect();
    assert_eq!(writes, Vec::<(String, String)>::new(), "no write at all");
    assert_eq!(out.writes, 0);
    let why = refusals(&out);
    assert!(
        why.contains(&format!("{} is not available", eff.postgres.server_name))
            && why.contains("Specified server name is already used"),
        "{why}"
    );
    assert!(
        why.contains(&format!("{} is not available", eff.storage.account_name))
            && why.contains("is already taken"),
        "{why}"
    );
}
