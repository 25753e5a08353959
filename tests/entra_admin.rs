//! The server's Microsoft Entra administrator against the mock ARM (issue 15): created with one
//! PUT and then in sync with no write; a principal name changed in the portal corrected; Entra
//! sign-in turned on first on a server that has it off (passwords kept as they were); the mock
//! refusing an administrator on a server without Entra sign-in.

use crate::support;

use engram_operator::api::database::{EntraAdmin, PrincipalType};
use engram_operator::api::EffectiveSpec;
use serde_json::json;
use support::*;

const OID: &str = "3b7c1d2e-4f5a-4b6c-9d8e-0f1a2b3c4d5e";

fn with_admin() -> EffectiveSpec {
    let mut eff = prod();
    eff.postgres.entra_admin = Some(EntraAdmin {
        object_id: OID.into(),
        principal_name: "engram-operator".into(),
        principal_type: PrincipalType::ServicePrincipal,
        tenant_id: None,
    });
    eff
}

fn admin_id(eff: &EffectiveSpec) -> String {
    format!("{}/administrators/{OID}", server_id(eff))
}

fn admin_writes(m: &engram_operator::mock_arm::MockArm, from: usize) -> Vec<(String, String)> {
    writes_since(m, from)
        .into_iter()
        .filter(|(_, p)| p.contains("/administrators/"))
        .collect()
}

fn stored(m: &engram_operator::mock_arm::MockArm, id: &str) -> serde_json::Value {
    m.dump()["resources"]
        .as_object()
        .and_then(|r| {
            r.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(id))
                .map(|(_, v)| v["body"].clone())
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_admin_is_created_with_one_put_then_costs_no_write() {
    let m = mock().await;
    let arm = arm(&m);
    let eff = with_admin();
    let out = converge(&m, &arm, &eff, Default::default()).await;
    assert!(out.ready(), "{:#?}", out.status.conditions);
    let puts = admin_writes(&m, 0);
    assert_eq!(puts.len(), 1, "{puts:?}");
    assert_eq!(puts[0].0, "PUT");
    let body = stored(&m, &admin_id(&eff));
    assert_eq!(body["properties"]["principalName"], "engram-operator");
    assert_eq!(body["properties"]["principalType"], "ServicePrincipal");
    // The server the operator created has Entra sign-in on.
    let server = stored(&m, &server_id(&eff));
    assert_eq!(
        server["properties"]["authConfig"]["activeDirectoryAuth"],
        "Enabled"
    );
    let before = m.journal().len();
    let again = pass(&arm, &eff, &out.status).await;
    assert!(again.settled);
    assert_eq!(writes_since(&m, before), vec![], "in sync: no write");
}

#[tokio::test]
async fn a_renamed_admin_is_put_back() {
    let m = mock().await;
    let arm = arm(&m);
    let eff = with_admin();
    let out = converge(&m, &arm, &eff, Default::default()).await;
    m.edit(
        &admin_id(&eff),
        json!({"properties": {"principalName": "portal-edit"}}),
    )
    .expect("portal edit");
    let before = m.journal().len();
    let fixed = pass(&arm, &eff, &out.status).await;
    let w = writes_since(&m, before);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].0, "PUT");
    assert!(w[0].1.eq_ignore_ascii_case(&admin_id(&eff)), "{}", w[0].1);
    assert!(fixed
        .status
        .drift
        .iter()
        .any(|d| d.field == format!("entraAdmin.{OID}") && d.observed.contains("portal-edit")));
    let out = converge(&m, &arm, &eff, fixed.status).await;
    assert!(out.ready());
    assert_eq!(
        stored(&m, &admin_id(&eff))["properties"]["principalName"],
        "engram-operator"
    );
}

#[tokio::test]
async fn entra_sign_in_is_turned_on_before_the_admin_is_added() {
    let m = mock().await;
    let arm = arm(&m);
    // A server made before entraAdmin was declared, its Entra sign-in since turned off.
    let out = converge(&m, &arm, &prod(), Default::default()).await;
    let sid = server_id(&prod());
    m.edit(
        &sid,
        json!({"properties": {"authConfig": {"activeDirectoryAuth": "Disabled", "passwordAuth": "Enabled"}}}),
    )
    .expect("portal edit");
    let eff = with_admin();
    let before = m.journal().len();
    let first = pass(&arm, &eff, &out.status).await;
    let w = writes_since(&m, before);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].0, "PATCH");
    assert!(w[0].1.eq_ignore_ascii_case(&sid));
    let out = converge(&m, &arm, &eff, first.status).await;
    assert!(out.ready(), "{:#?}", out.status.conditions);
    assert_eq!(admin_writes(&m, before).len(), 1);
    let auth = &stored(&m, &sid)["properties"]["authConfig"];
    assert_eq!(auth["activeDirectoryAuth"], "Enabled");
    assert_eq!(auth["passwordAuth"], "Enabled", "kept as it was");
}

#[tokio::test]
async fn the_mock_refuses_an_admin_without_entra_sign_in() {
    let m = bare_mock().await;
    let id = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pw-only";
    let http = reqwest::Client::new();
    let send = |method: reqwest::Method, path: String, body: serde_json::Value| {
        http.request(
            method,
            format!("{}{path}?api-version=2024-08-01", m.base_url()),
        )
        .bearer_auth(m.token())
        .json(&body)
        .send()
    };
    let server = json!({"location": "westus", "sku": {"name": "Standard_B1ms", "tier": "Burstable"},
        "properties": {"version": "16", "administratorLogin": "a", "storage": {"storageSizeGB": 32}}});
    let r = send(reqwest::Method::PUT, id.into(), server).await.unwrap();
    assert!(r.status().is_success());
    m.advance(LRO);
    let admin = json!({"properties": {"principalType": "User", "principalName": "u@contoso.com"}});
    let r = send(
        reqwest::Method::PUT,
        format!("{id}/administrators/{OID}"),
        admin.clone(),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "ActiveDirectoryAuthNotEnabled");
    let r = send(
        reqwest::Method::PUT,
        format!("{id}/administrators/not-a-guid"),
        admin,
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let missing = send(
        reqwest::Method::GET,
        format!("{id}/administrators/{OID}"),
        json!(null),
    )
    .await
    .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
}
