//! Storage helpers on top of `support`: a Ready prod data plane, a pinned prod spec, and the ARM ids
//! the mock journals storage requests under.
#![allow(dead_code)]

use engram_operator::api::EffectiveSpec;
use engram_operator::azure::Arm;
use engram_operator::mock_arm::MockArm;
use engram_operator::reconcile::Outcome;

use super::support::*;

/// prod pinned to one key version.
pub fn pinned(version: &str) -> EffectiveSpec {
    let mut eff = prod();
    if let Some(e) = eff.encryption.as_mut() {
        e.key_version = version.into();
    }
    eff
}

pub fn account_id(eff: &EffectiveSpec) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Storage/storageAccounts/{}",
        eff.azure.subscription_id, eff.azure.resource_group, eff.storage.account_name
    )
}
pub fn policy_id(eff: &EffectiveSpec) -> String {
    format!("{}/managementPolicies/default", account_id(eff))
}
pub fn container_id(eff: &EffectiveSpec, name: &str) -> String {
    format!("{}/blobServices/default/containers/{name}", account_id(eff))
}
pub fn immutability_id(eff: &EffectiveSpec, name: &str) -> String {
    format!("{}/immutabilityPolicies/default", container_id(eff, name))
}

/// A prod data plane created from nothing and Ready; returns the mock, client and status.
pub async fn ready_prod(eff: &EffectiveSpec) -> (MockArm, Arm, String, Outcome) {
    let m = mock().await;
    let arm = arm(&m);
    let v1 = kv_key(&m, "rotate").await;
    let out = converge(&m, &arm, eff, Default::default()).await;
    assert!(out.ready(), "{:#?}", out.status);
    (m, arm, v1, out)
}

/// A write made by someone else (another tool, the portal, a compliance team): not through the
/// operator. Panics unless ARM accepts it.
pub async fn outside_write(m: &MockArm, method: azure_core::Method, path: &str, body: &str) {
    outside_write_at(m, method, path, "2023-05-01", body).await;
}

/// [`outside_write`] at another api-version (other resource providers).
pub async fn outside_write_at(
    m: &MockArm,
    method: azure_core::Method,
    path: &str,
    version: &str,
    body: &str,
) {
    let url = format!("{}{path}?api-version={version}", m.base_url());
    let mut req = azure_core::Request::new(azure_core::Url::parse(&url).expect("url"), method);
    req.insert_header("authorization", format!("Bearer {}", m.token()));
    req.insert_header("content-type", "application/json");
    req.set_body(body.as_bytes().to_vec());
    let rsp = azure_core::new_http_client()
        .execute_request(&req)
        .await
        .expect("request");
    assert!(rsp.status().is_success(), "{path}: {}", rsp.status());
}

/// The names of the rules in the account's management policy, as stored in the mock.
pub fn policy_rule_names(m: &MockArm, eff: &EffectiveSpec) -> Vec<String> {
    let dump = m.dump();
    let id = policy_id(eff).to_lowercase();
    let body = dump["resources"]
        .as_object()
        .and_then(|r| r.iter().find(|(k, _)| k.to_lowercase() == id))
        .map(|(_, v)| v["body"].clone())
        .unwrap_or_default();
    let mut names: Vec<String> = body
        .pointer("/properties/policy/rules")
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten()
        .filter_map(|r| r["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}
