//! Storage accounts, lifecycle policy, containers (legal hold, immutability), CMK auto-rotation,
//! Key Vault keys and metric alerts on the mock.

use crate::common;
use std::time::Duration;

use common::*;
use serde_json::json;

fn account() -> serde_json::Value {
    json!({"location": "westus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2", "properties": {"minimumTlsVersion": "TLS1_2"}})
}

#[tokio::test]
async fn account_create_is_202_location_then_patch_is_synchronous() {
    let t = start().await;
    let id = account_id("acct1");
    let r = t.call("PUT", &id, Some(ST), Some(account())).await;
    assert_eq!(r.status, 202);
    let loc = r.header("location").expect("Location");
    assert!(
        loc.starts_with(&t.mock.base_url())
            && loc.contains("/providers/Microsoft.Storage/locations/westus/asyncoperations/")
    );
    assert_eq!(t.get_abs(&loc).await.status, 202);
    assert_eq!(
        t.call("GET", &id, Some(ST), None).await.code(),
        "ResourceNotFound"
    );
    t.mock.advance(Duration::from_secs(30));
    let done = t.get_abs(&loc).await;
    assert_eq!(
        (
            done.status,
            done.body["properties"]["provisioningState"].as_str()
        ),
        (200, Some("Succeeded"))
    );
    let p = t.call("PATCH", &id, Some(ST), Some(json!({"properties": {"allowBlobPublicAccess": false, "minimumTlsVersion": "TLS1_2"}}))).await;
    assert_eq!(p.status, 200);
    t.mock
        .edit(
            &id,
            json!({"properties": {"minimumTlsVersion": "TLS1_0", "allowBlobPublicAccess": true}}),
        )
        .expect("edit");
    let g = t.call("GET", &id, Some(ST), None).await;
    assert_eq!(g.body["properties"]["minimumTlsVersion"], "TLS1_0");
    assert_eq!(t.call("DELETE", &id, Some(ST), None).await.status, 200);
    assert_eq!(t.call("DELETE", &id, Some(ST), None).await.status, 204);
    let bad = t
        .call("PUT", &account_id("Bad_Name"), Some(ST), Some(account()))
        .await;
    assert_eq!(bad.code(), "AccountNameInvalid");
}

#[tokio::test]
async fn cmk_with_empty_keyversion_follows_the_latest_key_version() {
    let t = start().await;
    let kv = "/keys/cmk";
    let created = t
        .kv(
            "POST",
            "vault1",
            &format!("{kv}/create"),
            Some(json!({"kty": "RSA", "key_size": 2048})),
        )
        .await;
    assert_eq!(created.status, 200);
    let kid1 = created.body["key"]["kid"]
        .as_str()
        .expect("kid")
        .to_string();
    let mut body = account();
    body["properties"]["encryption"] = json!({"keySource": "Microsoft.Keyvault", "keyvaultproperties": {"keyvaulturi": "https://vault1.vault.azure.net", "keyname": "cmk", "keyversion": ""}});
    t.create_account("acct1", body.clone()).await;
    let g = t.call("GET", &account_id("acct1"), Some(ST), None).await;
    assert_eq!(
        g.body["properties"]["encryption"]["keyvaultproperties"]["currentVersionedKeyIdentifier"],
        kid1.as_str()
    );
    let rotated = t.kv("POST", "vault1", &format!("{kv}/rotate"), None).await;
    let kid2 = rotated.body["key"]["kid"]
        .as_str()
        .expect("kid")
        .to_string();
    assert_ne!(kid1, kid2);
    t.mock.advance(Duration::from_secs(60));
    let g2 = t.call("GET", &account_id("acct1"), Some(ST), None).await;
    let kvp = &g2.body["properties"]["encryption"]["keyvaultproperties"];
    assert_eq!(kvp["currentVersionedKeyIdentifier"], kid2.as_str());
    assert_eq!(kvp["lastKeyRotationTimestamp"], "2025-01-01T00:02:00Z");
    let versions = t.kv("GET", "vault1", &format!("{kv}/versions"), None).await;
    assert_eq!(versions.body["value"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        t.kv("GET", "vault1", kv, None).await.body["key"]["kid"],
        kid2.as_str()
    );
    let v1 = kid1.rsplit('/').next().expect("version");
    assert_eq!(
        t.kv("GET", "vault1", &format!("{kv}/{v1}"), None)
            .await
            .body["key"]["kid"],
        kid1.as_str()
    );
    assert_eq!(
        t.kv("GET", "vault1", "/keys/none", None).await.code(),
        "KeyNotFound"
    );
    // A key that is not in the vault is refused.
    body["properties"]["encryption"]["keyvaultproperties"]["keyname"] = json!("missing");
    assert_eq!(
        t.call("PUT", &account_id("acct2"), Some(ST), Some(body))
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn lifecycle_rule_constraints() {
    let t = start().await;
    t.create_account("acct1", account()).await;
    let path = format!("{}/managementPolicies/default", account_id("acct1"));
    let rule = |name: &str| json!({"enabled": true, "name": name, "type": "Lifecycle", "definition": {"filters": {"blobTypes": ["blockBlob"], "prefixMatch": ["c1"]}, "actions": {"baseBlob": {"tierToCool": {"daysAfterModificationGreaterThan": 30}}}}});
    let put = |rules: serde_json::Value| json!({"properties": {"policy": {"rules": rules}}});
    let ok = t
        .call("PUT", &path, Some(ST), Some(put(json!([rule("r1")]))))
        .await;
    assert_eq!(
        (ok.status, ok.body["name"].as_str()),
        (200, Some("DefaultManagementPolicy"))
    );
    let mut both = rule("r2");
    both["definition"]["actions"]["baseBlob"]["tierToCool"]["daysAfterLastAccessTimeGreaterThan"] =
        json!(10);
    let mut prefixes = rule("r3");
    prefixes["definition"]["filters"]["prefixMatch"] =
        json!((0..11).map(|i| format!("c{i}")).collect::<Vec<_>>());
    for rules in [
        json!([]),
        json!([rule("a"), rule("a")]),
        json!([both]),
        json!([prefixes]),
        json!((0..101).map(|i| rule(&format!("r{i}"))).collect::<Vec<_>>()),
    ] {
        let r = t.call("PUT", &path, Some(ST), Some(put(rules))).await;
        assert_eq!((r.status, r.code()), (400, "InvalidManagementPolicyRules"));
    }
    t.mock
        .edit(&path, json!({"properties": {"policy": {"rules": []}}}))
        .expect("edit");
    assert_eq!(
        t.call("GET", &path, Some(ST), None).await.body["properties"]["policy"]["rules"],
        json!([])
    );
    assert_eq!(t.call("DELETE", &path, Some(ST), None).await.status, 200);
    assert_eq!(t.call("GET", &path, Some(ST), None).await.status, 404);
    let orphan = t
        .call(
            "GET",
            &format!("{}/managementPolicies/default", account_id("nope")),
            Some(ST),
            None,
        )
        .await;
    assert_eq!(orphan.code(), "ParentResourceNotFound");
}

#[tokio::test]
async fn immutability_and_legal_hold_protect_containers() {
    // Over a dozen container writes at one virtual instant: more than the Storage resource
    // provider's 10 per second (tests/mock_arm_contract.rs tests that limit); it is off here.
    let t = start_with(engram_operator::mock_arm::MockConfig {
        throttle: engram_operator::mock_arm::ThrottleConfig {
            enabled: false,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    t.create_account("acct1", account()).await;
    let c = format!(
        "{}/blobServices/default/containers/data",
        account_id("acct1")
    );
    assert_eq!(
        t.call("PUT", &c, Some(ST), Some(json!({}))).await.status,
        201
    );
    assert_eq!(
        t.call("PUT", &c, Some(ST), Some(json!({}))).await.status,
        200
    );
    let hold = t
        .call(
            "POST",
            &format!("{c}/setLegalHold"),
            Some(ST),
            Some(json!({"tags": ["audit"]})),
        )
        .await;
    assert_eq!(hold.body, json!({"hasLegalHold": true, "tags": ["audit"]}));
    assert_eq!(
        t.call("DELETE", &c, Some(ST), None).await.code(),
        "ContainerProtectedFromDeletion"
    );
    let clear = t
        .call(
            "POST",
            &format!("{c}/clearLegalHold"),
            Some(ST),
            Some(json!({"tags": ["audit"]})),
        )
        .await;
    assert_eq!(clear.body["hasLegalHold"], false);

    let (pol, p) = put_policy(&t, &c, 30).await;
    assert_eq!(
        (p.status, p.body["properties"]["state"].as_str()),
        (200, Some("Unlocked"))
    );
    let etag = p.header("etag").expect("etag");
    let stale = t
        .call_h(
            "POST",
            &format!("{pol}/lock"),
            Some(ST),
            None,
            &[("if-match", "\"stale\"")],
        )
        .await;
    assert_eq!(stale.status, 412);
    let early = t
        .call_h(
            "POST",
            &format!("{pol}/extend"),
            Some(ST),
            Some(json!({"properties": {"immutabilityPeriodSinceCreationInDays": 40}})),
            &[("if-match", etag.as_str())],
        )
        .await;
    assert_eq!(early.code(), "ImmutabilityPolicyNotLocked");
    let locked = lock(&t, &pol, &etag).await;
    assert_eq!(locked.body["properties"]["state"], "Locked");
    let etag = locked.header("etag").expect("etag");
    let shorter = t
        .call_h(
            "POST",
            &format!("{pol}/extend"),
            Some(ST),
            Some(json!({"properties": {"immutabilityPeriodSinceCreationInDays": 10}})),
            &[("if-match", etag.as_str())],
        )
        .await;
    assert_eq!(
        (shorter.status, shorter.code()),
        (400, "ImmutabilityPeriodCannotBeShortened")
    );
    let longer = t
        .call_h(
            "POST",
            &format!("{pol}/extend"),
            Some(ST),
            Some(json!({"properties": {"immutabilityPeriodSinceCreationInDays": 100}})),
            &[("if-match", etag.as_str())],
        )
        .await;
    assert_eq!(
        longer.body["properties"]["immutabilityPeriodSinceCreationInDays"],
        100
    );
    assert_eq!(
        t.call(
            "PUT",
            &pol,
            Some(ST),
            Some(json!({"properties": {"immutabilityPeriodSinceCreationInDays": 5}}))
        )
        .await
        .code(),
        "ImmutabilityPolicyLocked"
    );
    let del = t.call("DELETE", &c, Some(ST), None).await;
    assert_eq!(
        (del.status, del.code()),
        (409, "ContainerProtectedFromDeletion")
    );
    let g = t.call("GET", &c, Some(ST), None).await;
    assert_eq!(
        g.body["properties"]["immutabilityPolicy"]["properties"]["state"],
        "Locked"
    );
    assert_eq!(g.body["properties"]["hasImmutabilityPolicy"], true);
}

#[tokio::test]
async fn metric_alerts_put_get_delete() {
    let t = start().await;
    let id = format!(
        "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Insights/metricAlerts/cpu"
    );
    let body = json!({"location": "global", "properties": {"severity": 3, "enabled": true, "scopes": [server_id("pg1")], "evaluationFrequency": "PT1M", "windowSize": "PT15M", "criteria": {"odata.type": "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria", "allOf": []}}});
    assert_eq!(
        t.call("PUT", &id, Some("2018-03-01"), Some(body))
            .await
            .status,
        200
    );
    let g = t.call("GET", &id, Some("2018-03-01"), None).await;
    assert_eq!(
        (
            g.body["type"].as_str(),
            g.body["properties"]["severity"].as_i64()
        ),
        (Some("Microsoft.Insights/metricAlerts"), Some(3))
    );
    assert_eq!(
        t.call(
            "PUT",
            &id,
            Some("2018-03-01"),
            Some(json!({"location": "global", "properties": {}}))
        )
        .await
        .status,
        400
    );
    assert_eq!(
        t.call("DELETE", &id, Some("2018-03-01"), None).await.status,
        200
    );
    assert_eq!(
        t.call("GET", &id, Some("2018-03-01"), None).await.status,
        404
    );
}

#[tokio::test]
async fn containers_are_listed_with_their_protection() {
    let t = start().await;
    t.create_account("acct2", account()).await;
    let base = format!("{}/blobServices/default/containers", account_id("acct2"));
    for name in ["alpha", "beta"] {
        let c = format!("{base}/{name}");
        assert_eq!(
            t.call("PUT", &c, Some(ST), Some(json!({}))).await.status,
            201
        );
    }
    let pol = format!("{base}/beta/immutabilityPolicies/default");
    let body = json!({"properties": {"immutabilityPeriodSinceCreationInDays": 7}});
    assert_eq!(t.call("PUT", &pol, Some(ST), Some(body)).await.status, 200);
    let list = t.call("GET", &base, Some(ST), None).await;
    assert_eq!(list.status, 200);
    let items = list.body["value"].as_array().unwrap();
    let names: Vec<&str> = items.iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["alpha", "beta"],
        "containers only, not their policies"
    );
    assert_eq!(items[1]["properties"]["hasImmutabilityPolicy"], true);
    let parsed: azure_mgmt_storage::package_2023_05::models::ListContainerItems =
        serde_json::from_value(list.body.clone()).unwrap();
    assert_eq!(parsed.value.len(), 2);
    // The list of an account that does not exist is ARM's ParentResourceNotFound.
    let missing = format!("{}/blobServices/default/containers", account_id("nope"));
    assert_eq!(
        t.call("GET", &missing, Some(ST), None).await.code(),
        "ParentResourceNotFound"
    );
}

/// Like Azure, an account holding a container under legal hold or a locked time-based policy
/// cannot be deleted (409 AccountProtectedFromDeletion); once the protection is gone it can.
#[tokio::test]
async fn an_account_with_a_protected_container_cannot_be_deleted() {
    let t = start().await;
    t.create_account("acct2", account()).await;
    let id = account_id("acct2");
    let held = format!("{id}/blobServices/default/containers/held");
    assert_eq!(
        t.call("PUT", &held, Some(ST), Some(json!({}))).await.status,
        201
    );
    let hold = format!("{held}/setLegalHold");
    let tags = json!({"tags": ["audit"]});
    t.call("POST", &hold, Some(ST), Some(tags.clone())).await;
    let del = t.call("DELETE", &id, Some(ST), None).await;
    assert_eq!(
        (del.status, del.code()),
        (409, "AccountProtectedFromDeletion"),
        "{:?}",
        del.body
    );
    let msg = del.body["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("held") && msg.contains("legal hold"), "{msg}");
    t.call(
        "POST",
        &format!("{held}/clearLegalHold"),
        Some(ST),
        Some(tags),
    )
    .await;

    let locked = format!("{id}/blobServices/default/containers/locked");
    t.call("PUT", &locked, Some(ST), Some(json!({}))).await;
    let (pol, p) = put_policy(&t, &locked, 1).await;
    let etag = p.header("etag").expect("etag");
    // An unlocked policy does not protect the account.
    assert_eq!(t.call("GET", &id, Some(ST), None).await.status, 200);
    lock(&t, &pol, &etag).await;
    let del = t.call("DELETE", &id, Some(ST), None).await;
    assert_eq!(
        (del.status, del.code()),
        (409, "AccountProtectedFromDeletion")
    );
    let msg = del.body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("locked") && msg.contains("locked immutability"),
        "{msg}"
    );
    assert_eq!(
        t.call("GET", &id, Some(ST), None).await.status,
        200,
        "still there"
    );
}

/// PUT a container's time-based immutability policy; returns its path and the answer.
async fn put_policy(t: &T, container: &str, days: u32) -> (String, Resp) {
    let pol = format!("{container}/immutabilityPolicies/default");
    let body = json!({"properties": {"immutabilityPeriodSinceCreationInDays": days}});
    let r = t.call("PUT", &pol, Some(ST), Some(body)).await;
    (pol, r)
}

/// Lock an immutability policy (If-Match its etag).
async fn lock(t: &T, policy: &str, etag: &str) -> Resp {
    let lock = format!("{policy}/lock");
    t.call_h("POST", &lock, Some(ST), None, &[("if-match", etag)])
        .await
}
