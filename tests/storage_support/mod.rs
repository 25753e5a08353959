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
