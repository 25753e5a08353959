//! Key Vault is another host than ARM. The mock serves it on a listener of its own (the vault named
//! by the `Host` header) and the ARM listener knows no Key Vault path, so a client that reaches a
//! vault "under" ARM fails here as it would against Azure. The client sends a token only to the
//! ARM host and to the cloud's vaults, with the audience of each.

use crate::common;
use crate::support;

use common::*;
use engram_operator::azure::{Arm, ArmApi, ArmError, Cloud};
use serde_json::json;

#[tokio::test]
async fn the_arm_listener_has_no_key_vault_paths() {
    let t = start().await;
    let under_arm = t
        .call(
            "POST",
            "/keyvault/kv1/keys/cmk/create",
            Some("7.4"),
            Some(json!({"kty": "RSA"})),
        )
        .await;
    assert_eq!(under_arm.status, 404, "{:?}", under_arm.body);
    let on_vault = t
        .kv(
            "POST",
            "kv1",
            "/keys/cmk/create",
            Some(json!({"kty": "RSA"})),
        )
        .await;
    assert_eq!(on_vault.status, 200, "{:?}", on_vault.body);
    assert!(on_vault.body["key"]["kid"]
        .as_str()
        .is_some_and(|k| k.starts_with("https://kv1.vault.azure.net/keys/cmk/")));
}

#[tokio::test]
async fn the_key_vault_listener_needs_a_vault_host() {
    let t = start().await;
    let url = format!("{}/keys/cmk?api-version=7.4", t.mock.keyvault_url());
    let r = t
        .http
        .get(url)
        .bearer_auth(t.mock.token())
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status().as_u16(), 404);
}

#[tokio::test]
async fn latest_is_read_from_the_vault_host_through_the_test_override() {
    let m = support::mock().await;
    let arm = support::arm(&m);
    let obs = arm.observe(&support::prod()).await.expect("observe");
    let latest = obs.postgres.latest_key_uri.expect("latest key resolved");
    assert!(
        latest.starts_with("https://kv-acme-prod.vault.azure.net/keys/engram-cmk/"),
        "{latest}"
    );
    // One GET of each key (the primary, and the geo-backup key in the paired region's vault),
    // each on the vault listener under its own vault name.
    let mut vaults: Vec<String> = m
        .journal()
        .iter()
        .filter(|e| e.method == "GET" && e.path.starts_with("/keys/engram-cmk"))
        .map(|e| e.resource_id.clone())
        .collect();
    vaults.sort();
    assert_eq!(
        vaults,
        [
            "/keyvault/kv-acme-prod-cus/keys/engram-cmk",
            "/keyvault/kv-acme-prod/keys/engram-cmk"
        ]
    );
}

#[tokio::test]
async fn no_token_goes_to_a_vault_of_another_cloud() {
    let m = support::mock().await;
    let mut s = m.arm_settings();
    s.cloud = Cloud::AzureChinaCloud;
    let arm = Arm::new(s).expect("client");
    // prod.yaml's vault is https://kv-acme-prod.vault.azure.net: a public-cloud vault.
    let err = arm
        .observe(&support::prod())
        .await
        .expect_err("refused before any request to the vault");
    assert!(
        matches!(&err, ArmError::TokenHostRefused { host, cloud: "AzureChinaCloud" } if host == "kv-acme-prod.vault.azure.net"),
        "{err:?}"
    );
    assert!(
        m.journal()
            .iter()
            .all(|e| e.method != "GET" || !e.path.starts_with("/keys/")),
        "nothing reached the vault"
    );
}
