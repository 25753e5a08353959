//! Audit-log diagnostic settings against the mock ARM (issue 14, "Audit logging in Azure"):
//! `engram-audit` created on the server, the blob service and (keyVault: true) the vault; zero
//! writes once in sync; a category switched off in the portal switched back on with one PUT;
//! someone else's setting never written or deleted; keyVault: false only reads the vault and
//! reports pass / fail / unknown; teardown removes only the operator's settings.

use crate::support;

use engram_operator::api::spec::DeletionPolicy;
use engram_operator::api::EffectiveSpec;
use engram_operator::mock_arm::{FaultKind, FaultSpec, MockArm};
use engram_operator::reconcile::cleanup::cleanup;
use serde_json::{json, Value};
use support::*;

const SETTINGS: &str = "/providers/Microsoft.Insights/diagnosticSettings";
const DIAG: &str = "2021-05-01-preview";

fn scopes(eff: &EffectiveSpec) -> [String; 3] {
    let d = eff.diagnostics.as_ref().expect("diagnostics declared");
    let account = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Storage/storageAccounts/{}",
        eff.azure.subscription_id, eff.azure.resource_group, eff.storage.account_name
    );
    [
        server_id(eff),
        format!("{account}/blobServices/default"),
        d.key_vault_id.clone().expect("vault id"),
    ]
}

fn ours(scope: &str) -> String {
    format!("{scope}{SETTINGS}/engram-audit")
}

/// An ARM request to the mock as someone else would send it (the portal, another tool).
async fn call(m: &MockArm, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    direct(m, method, path, DIAG, body).await
}

fn diag_writes(w: &[(String, String)]) -> Vec<(String, String)> {
    w.iter()
        .filter(|(_, p)| p.contains(SETTINGS))
        .cloned()
        .collect()
}

fn categories(v: &Value) -> Vec<(String, bool)> {
    v["properties"]["logs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            (
                l["category"].as_str().unwrap_or_default().to_owned(),
                l["enabled"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

#[tokio::test]
async fn prod_puts_the_audit_setting_on_server_blob_service_and_vault_then_writes_nothing() {
    let eff = prod();
    let m = mock().await;
    let arm = arm(&m);
    let out = converge(&m, &arm, &eff, Default::default()).await;
    assert!(out.ready(), "{:#?}", out.status);
    let [server, blob, vault] = scopes(&eff);
    let mut puts: Vec<String> = diag_writes(&writes_since(&m, 0))
        .into_iter()
        .map(|(method, p)| format!("{method} {p}"))
        .collect();
    puts.sort();
    let mut want = vec![
        format!("PUT {}", ours(&server)),
        format!("PUT {}", ours(&blob)),
        format!("PUT {}", ours(&vault)),
    ];
    want.sort();
    assert_eq!(puts, want, "one PUT per resource");

    let ws = eff.diagnostics.as_ref().map(|d| d.workspace_id.clone());
    for (scope, cats) in [
        (&server, vec!["PostgreSQLLogs", "PostgreSQLFlexSessions"]),
        (&blob, vec!["StorageRead", "StorageWrite", "StorageDelete"]),
        (&vault, vec!["AuditEvent"]),
    ] {
        let (status, body) = call(&m, "GET", &ours(scope), None).await;
        assert_eq!(status, 200, "{body:?}");
        assert_eq!(body["properties"]["workspaceId"].as_str(), ws.as_deref());
        let want: Vec<(String, bool)> = cats.iter().map(|c| ((*c).to_owned(), true)).collect();
        assert_eq!(categories(&body), want, "{scope}");
    }
    let d = out.status.diagnostics.clone().expect("status.diagnostics");
    assert_eq!(d.in_place.len(), 3, "{d:?}");
    let audit = d.key_vault_audit.expect("vault check");
    assert_eq!(audit.result, "pass", "{audit:?}");

    let before = m.journal().len();
    let again = pass(&arm, &eff, &out.status).await;
    assert_eq!(writes_since(&m, before), vec![], "in sync: zero writes");
    assert!(again.ready());
    assert_eq!(again.status, out.status, "a quiet pass changes no status");
}

#[tokio::test]
async fn a_category_switched_off_in_the_portal_is_switched_back_on_with_one_put() {
    let eff = prod();
    let m = mock().await;
    let arm = arm(&m);
    let out = converge(&m, &arm, &eff, Default::default()).await;
    let [_, blob, _] = scopes(&eff);
    let id = ours(&blob);
    m.edit(
        &id,
        json!({"properties": {"logs": [
            {"category": "StorageRead", "enabled": true},
            {"category": "StorageWrite", "enabled": false},
            {"category": "StorageDelete", "enabled": true}]}}),
    )
    .expect("portal edit");
    let before = m.journal().len();
    let fixed = pass(&arm, &eff, &out.status).await;
    assert_eq!(
        writes_since(&m, before),
        vec![("PUT".to_owned(), id.clone())],
        "exactly one PUT, of the drifted setting"
    );
    let drift: Vec<_> = fixed
        .status
        .drift
        .iter()
        .filter(|d| d.resource.starts_with("diagnostics/"))
        .collect();
    assert_eq!(drift.len(), 1, "{:?}", fixed.status.drift);
    assert_eq!(drift[0].resource, "diagnostics/blob/acmeengramprod");
    assert_eq!(drift[0].field, "logs.StorageWrite");
    assert_eq!(drift[0].observed, "disabled");
    assert!(drift[0].corrected);
    let (_, body) = call(&m, "GET", &id, None).await;
    assert!(categories(&body).iter().all(|(_, on)| *on), "{body:?}");

    let before = m.journal().len();
    let calm = pass(&arm, &eff, &fixed.status).await;
    assert_eq!(writes_since(&m, before), vec![]);
    assert!(calm.ready(), "{:#?}", calm.status);
}

#[tokio::test]
async fn someone_elses_setting_is_never_written_and_teardown_removes_only_ours() {
    let mut eff = prod();
    // No legal hold, so that the teardown may go ahead.
    for c in &mut eff.storage.containers {
        c.legal_holds.clear();
    }
    let m = mock().await;
    let arm = arm(&m);
    let out = converge(&m, &arm, &eff, Default::default()).await;
    let [server, blob, vault] = scopes(&eff);
    // The security team's own export of the same logs to their own workspace.
    let soc = json!({"properties": {
        "workspaceId": "/subscriptions/00000000-0000-0000-0000-000000000009/resourceGroups/soc/providers/Microsoft.OperationalInsights/workspaces/soc",
        "logs": [{"category": "PostgreSQLLogs", "enabled": false}]}});
    // On the server: its DELETE is a long-running operation, so it is still there to be read
    // after the cleanup pass (the account's DELETE takes its blob service at once).
    let theirs = format!("{server}{SETTINGS}/soc-export");
    assert_eq!(call(&m, "PUT", &theirs, Some(soc.clone())).await.0, 200);
    let before = m.journal().len();
    let again = pass(&arm, &eff, &out.status).await;
    assert_eq!(
        writes_since(&m, before),
        vec![],
        "theirs is not ours to correct"
    );
    assert!(again.ready(), "{:#?}", again.status);

    eff.deletion = DeletionPolicy::Delete;
    let before = m.journal().len();
    let c = cleanup(&arm, &eff, &again.status, &ctx()).await;
    assert!(c.refused.is_empty(), "{:?}", c.refused);
    let deletes = diag_writes(&writes_since(&m, before));
    let mut want = vec![
        ("DELETE".to_owned(), ours(&server)),
        ("DELETE".to_owned(), ours(&blob)),
        ("DELETE".to_owned(), ours(&vault)),
    ];
    want.sort();
    let mut got = deletes.clone();
    got.sort();
    assert_eq!(got, want, "only engram-audit settings are deleted");
    let (status, body) = call(&m, "GET", &theirs, None).await;
    assert_eq!(status, 200, "theirs survives the teardown: {body:?}");
    assert_eq!(body["properties"], soc["properties"], "and is unchanged");
}

#[tokio::test]
async fn teardown_is_all_or_nothing_for_the_settings_too() {
    let mut eff = prod();
    let m = mock().await;
    let arm = arm(&m);
    let out = converge(&m, &arm, &eff, Default::default()).await;
    // prod's record-plane container is under a legal hold: the account is refused, so nothing
    // at all is deleted, the operator's settings included.
    eff.deletion = DeletionPolicy::Delete;
    let before = m.journal().len();
    let c = cleanup(&arm, &eff, &out.status, &ctx()).await;
    assert!(!c.refused.is_empty());
    assert_eq!(writes_since(&m, before), vec![]);
}

#[tokio::test]
async fn key_vault_false_only_reads_the_vault_and_reports_fail_pass_or_unknown() {
    let mut eff = prod();
    if let Some(d) = eff.diagnostics.as_mut() {
        d.key_vault = false;
    }
    let m = mock().await;
    let arm = arm(&m);
    let out = converge(&m, &arm, &eff, Default::default()).await;
    assert!(out.ready(), "{:#?}", out.status);
    let [_, _, vault] = scopes(&eff);
    assert_eq!(
        m.writes_to(&format!("{vault}{SETTINGS}")),
        0,
        "no write to the vault"
    );
    assert!(
        m.reads_to(&format!("{vault}{SETTINGS}")) > 0,
        "the vault is read"
    );
    let check = |o: &engram_operator::reconcile::Outcome| {
        o.status
            .diagnostics
            .as_ref()
            .and_then(|d| d.key_vault_audit.clone())
            .expect("vault check")
    };
    assert_eq!(check(&out).result, "fail", "{:?}", check(&out));
    let d = out.status.diagnostics.clone().expect("diagnostics");
    assert_eq!(d.in_place.len(), 2, "server and blob only: {d:?}");

    // The customer's own setting sends the audit group to their SIEM: pass.
    let theirs = format!("{vault}{SETTINGS}/siem");
    let body = json!({"properties": {
        "eventHubAuthorizationRuleId": "/subscriptions/00000000-0000-0000-0000-000000000009/resourceGroups/soc/providers/Microsoft.EventHub/namespaces/soc/authorizationrules/send",
        "logs": [{"categoryGroup": "audit", "enabled": true}]}});
    assert_eq!(call(&m, "PUT", &theirs, Some(body)).await.0, 200);
    let before = m.journal().len();
    let seen = pass(&arm, &eff, &out.status).await;
    assert_eq!(check(&seen).result, "pass", "{:?}", check(&seen));
    assert!(check(&seen).detail.contains("siem"));
    assert_eq!(writes_since(&m, before), vec![]);

    // The operator may not read the vault's settings: unknown, and the plane stays Ready.
    m.inject_fault(FaultSpec::new(
        "GET",
        "/subscriptions/*/vaults/kv-acme-prod/providers/Microsoft.Insights/diagnosticSettings",
        FaultKind::Status {
            status: 403,
            code: "AuthorizationFailed".into(),
            message: "The client does not have authorization to perform action 'Microsoft.Insights/diagnosticSettings/read'.".into(),
        },
    ))
    .expect("fault");
    let blind = pass(&arm, &eff, &seen.status).await;
    let c = check(&blind);
    assert_eq!(c.result, "unknown", "{c:?}");
    assert!(c.detail.contains("AuthorizationFailed"), "{c:?}");
    assert!(blind.ready(), "{:#?}", blind.status);
}

#[tokio::test]
async fn uat_without_diagnostics_is_reported_and_nothing_is_read() {
    let mut eff = prod();
    eff.diagnostics = None;
    let m = mock().await;
    let arm = arm(&m);
    let out = converge(&m, &arm, &eff, Default::default()).await;
    assert!(out.ready(), "{:#?}", out.status);
    assert!(
        out.status
            .notes
            .iter()
            .any(|n| n.starts_with("AuditLogsOff")),
        "{:?}",
        out.status.notes
    );
    assert!(out.status.diagnostics.is_none());
    let touched = m
        .journal()
        .iter()
        .filter(|e| e.path.contains(SETTINGS))
        .count();
    assert_eq!(touched, 0);
}
