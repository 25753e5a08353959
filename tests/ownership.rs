//! Ownership before adoption and deletion, against the mock: what the operator creates carries
//! `engram-owner` and `managed-by`; an existing resource is written to only when it is this
//! plane's, adopted (`policy.adopt`), taken over (`policy.adoptFrom`) or recorded in status by an
//! earlier version; a resource this plane owned that vanished is recreated only under
//! `policy.recreateDeleted`, with a Warning, else refused so that it can be restored.

use crate::support;

use engram_operator::api::{EffectiveSpec, EngramDataPlaneStatus};
use engram_operator::mock_arm::MockArm;
use engram_operator::reconcile::conditions::{self, READY};
use serde_json::{json, Value};
use support::*;

const OWNER: &str = "folder/test";

fn account_id(eff: &EffectiveSpec) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Storage/storageAccounts/{}",
        eff.azure.subscription_id, eff.azure.resource_group, eff.storage.account_name
    )
}

async fn get(m: &MockArm, id: &str, version: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{}{id}?api-version={version}", m.base_url()))
        .bearer_auth(m.token())
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json")
}

/// Someone else's server, created before the plane (a PUT without the owner tag).
async fn foreign_server(m: &MockArm, eff: &EffectiveSpec, tags: Value) {
    let body = json!({"location": eff.azure.location, "tags": tags,
        "sku": {"name": "Standard_B1ms", "tier": "Burstable"},
        "properties": {"version": "16", "storage": {"storageSizeGB": 32}, "createMode": "Create",
            "authConfig": {"activeDirectoryAuth": "Enabled", "passwordAuth": "Disabled"}}});
    let r = reqwest::Client::new()
        .put(format!(
            "{}{}?api-version=2024-08-01",
            m.base_url(),
            server_id(eff)
        ))
        .bearer_auth(m.token())
        .json(&body)
        .send()
        .await
        .expect("put");
    assert!(
        r.status().is_success(),
        "{}",
        r.text().await.unwrap_or_default()
    );
    m.advance(LRO);
}

/// The server is tagged for this plane.
async fn assert_ours(m: &MockArm, eff: &EffectiveSpec) {
    let body = get(m, &server_id(eff), "2024-08-01").await;
    assert_eq!(body["tags"]["engram-owner"], OWNER, "{body}");
}

fn ready_reason(s: &EngramDataPlaneStatus) -> String {
    conditions::get(&s.conditions, READY)
        .map(|c| c.reason.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn what_the_operator_creates_carries_the_owner_tags() {
    let m = mock().await;
    let eff = dev();
    let out = converge(&m, &arm(&m), &eff, Default::default()).await;
    assert!(out.ready(), "{:?}", out.status.errors);
    for (id, v) in [
        (server_id(&eff), "2024-08-01"),
        (account_id(&eff), "2023-05-01"),
        (
            format!(
                "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Insights/metricAlerts/{}-cpu-warning",
                eff.azure.subscription_id, eff.azure.resource_group, eff.postgres.server_name
            ),
            "2018-03-01",
        ),
    ] {
        let body = get(&m, &id, v).await;
        assert_eq!(body["tags"]["engram-owner"], OWNER, "{id}: {body}");
        assert_eq!(body["tags"]["managed-by"], "engram-operator", "{id}");
    }
}

#[tokio::test]
async fn a_server_made_by_someone_else_is_refused_until_adopted() {
    let m = mock().await;
    let arm = arm(&m);
    let mut eff = dev();
    foreign_server(&m, &eff, json!({"team": "data"})).await;
    let sid = server_id(&eff);
    let before = m.writes_to(&sid);
    let out = pass(&arm, &eff, &Default::default()).await;
    assert_eq!(
        m.writes_to(&sid),
        before,
        "nothing written to someone else's server"
    );
    assert_eq!(ready_reason(&out.status), "NotOwned");
    assert!(
        out.status.errors.iter().any(|e| e.contains("policy.adopt")),
        "{:?}",
        out.status.errors
    );

    // Adopted: the owner tag goes on first (their tags kept), then the plane converges.
    eff.adopt = true;
    let out = converge(&m, &arm, &eff, out.status).await;
    assert!(out.ready(), "{:?}", out.status.errors);
    let body = get(&m, &sid, "2024-08-01").await;
    assert_eq!(body["tags"]["engram-owner"], OWNER);
    assert_eq!(body["tags"]["team"], "data", "their tags are kept");
    let first = m
        .journal()
        .into_iter()
        .find(|e| e.method == "PATCH" && e.path.eq_ignore_ascii_case(&sid))
        .expect("a PATCH");
    assert_eq!(first.status, 202);
}

#[tokio::test]
async fn a_server_of_another_owner_moves_only_with_adopt_from() {
    let m = mock().await;
    let arm = arm(&m);
    let mut eff = dev();
    foreign_server(&m, &eff, json!({"engram-owner": "engram/acme-dev"})).await;
    eff.adopt = true; // adopt is for untagged resources only
    let out = pass(&arm, &eff, &Default::default()).await;
    assert_eq!(ready_reason(&out.status), "NotOwned");
    assert!(out
        .status
        .errors
        .iter()
        .any(|e| e.contains("adoptFrom: engram/acme-dev")));

    eff.adopt_from = Some("engram/acme-dev".into());
    let out = converge(&m, &arm, &eff, out.status).await;
    assert!(out.ready(), "{:?}", out.status.errors);
    assert_ours(&m, &eff).await;
}

#[tokio::test]
async fn a_server_this_plane_recorded_is_tagged_without_adopt() {
    let m = mock().await;
    let arm = arm(&m);
    let eff = prod();
    let out = converge(&m, &arm, &eff, Default::default()).await;
    // As an earlier version left it: the plane's own server, recorded in status, no tags.
    m.edit(&server_id(&eff), json!({"tags": null}))
        .expect("edit");
    let out = converge(&m, &arm, &eff, out.status).await;
    assert!(out.ready(), "{:?}", out.status.errors);
    assert_ours(&m, &eff).await;
}

#[tokio::test]
async fn a_server_deleted_behind_the_operators_back_is_refused_in_prod() {
    let m = mock().await;
    let arm = arm(&m);
    let eff = prod();
    assert!(!eff.recreate_deleted, "uat and prod refuse by default");
    let out = converge(&m, &arm, &eff, Default::default()).await;
    assert!(out.ready());
    let sid = server_id(&eff);
    let r = reqwest::Client::new()
        .delete(format!("{}{sid}?api-version=2024-08-01", m.base_url()))
        .bearer_auth(m.token())
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status().as_u16(), 202);
    m.advance(LRO);
    let mut status = out.status;
    for _ in 0..2 {
        let out = pass(&arm, &eff, &status).await;
        assert_eq!(ready_reason(&out.status), "ResourceDeleted");
        assert!(
            out.status.errors.iter().any(|e| e.contains("restored")),
            "{:?}",
            out.status.errors
        );
        status = out.status;
    }
    let puts = m
        .journal()
        .iter()
        .filter(|e| e.method == "PUT" && e.path.eq_ignore_ascii_case(&sid))
        .count();
    assert_eq!(puts, 1, "only the first create");
}

#[tokio::test]
async fn with_recreate_deleted_it_comes_back_with_a_warning_note() {
    let m = mock().await;
    let arm = arm(&m);
    let eff = dev();
    assert!(eff.recreate_deleted, "dev recreates by default");
    let out = converge(&m, &arm, &eff, Default::default()).await;
    let sid = server_id(&eff);
    reqwest::Client::new()
        .delete(format!("{}{sid}?api-version=2024-08-01", m.base_url()))
        .bearer_auth(m.token())
        .send()
        .await
        .expect("delete");
    m.advance(LRO);
    let again = pass(&arm, &eff, &out.status).await;
    assert!(
        again
            .status
            .notes
            .iter()
            .any(|n| n.starts_with("RecreatedAfterDeletion")),
        "{:?}",
        again.status.notes
    );
    assert!(again.writes > 0);
}

#[tokio::test]
async fn the_mock_refuses_a_slash_in_a_tag_name_as_azure_does() {
    let m = mock().await;
    let eff = dev();
    let r = reqwest::Client::new()
        .patch(format!(
            "{}{}?api-version=2023-05-01",
            m.base_url(),
            account_id(&eff)
        ))
        .bearer_auth(m.token())
        .json(&json!({"tags": {"engram/owner": "folder/test"}}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "InvalidTagNameCharacters");
}
