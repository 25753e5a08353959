//! Issue 11, item 6: the mock accepts only the creates Azure would accept — the requested standby
//! zone is honoured, geo-redundant backup with a customer-managed key needs the geo key and
//! identity, a versionless key URI is refused at 2024-08-01, and server and account names are
//! global (taken in any subscription), with both providers' checkNameAvailability.

use crate::common;

use common::*;
use serde_json::{json, Value};

const SUB2: &str = "00000000-0000-0000-0000-000000000002";
const PRIMARY_ID: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/cmk";
const GEO_ID: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/cmk-geo";
const KEY: &str = "https://kv-main.vault.azure.net/keys/cmk/0123456789abcdef0123456789abcdef";
const GEO_KEY: &str = "https://kv-paired.vault.azure.net/keys/cmk/fedcba9876543210fedcba9876543210";

fn ha_server(zone: &str, standby: Option<&str>) -> Value {
    let mut b = gp_server();
    b["properties"]["availabilityZone"] = json!(zone);
    b["properties"]["highAvailability"] = json!({"mode": "ZoneRedundant"});
    if let Some(s) = standby {
        b["properties"]["highAvailability"]["standbyAvailabilityZone"] = json!(s);
    }
    b
}

#[tokio::test]
async fn the_requested_standby_zone_is_honoured() {
    let t = start().await;
    t.create_server("pg-a", ha_server("1", Some("3"))).await;
    let s = t.server("pg-a").await;
    assert_eq!(
        s["properties"]["highAvailability"]["standbyAvailabilityZone"],
        "3"
    );
    // Without a request Azure picks a zone other than the primary's.
    t.create_server("pg-b", ha_server("2", None)).await;
    let s = t.server("pg-b").await;
    let standby = s["properties"]["highAvailability"]["standbyAvailabilityZone"]
        .as_str()
        .expect("standby zone");
    assert_ne!(standby, "2");
    // A PATCH asking for another standby zone gets it.
    let r = t
        .patch_server(
            "pg-a",
            json!({"properties": {"highAvailability": {"mode": "ZoneRedundant", "standbyAvailabilityZone": "2"}}}),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    t.mock.advance(std::time::Duration::from_secs(60));
    let s = t.server("pg-a").await;
    assert_eq!(
        s["properties"]["highAvailability"]["standbyAvailabilityZone"],
        "2"
    );
}

fn cmk_geo_server(geo: bool) -> Value {
    let mut b = gp_server();
    b["properties"]["backup"]["geoRedundantBackup"] = json!("Enabled");
    let mut ids = json!({ PRIMARY_ID: {} });
    let mut enc = json!({"type": "AzureKeyVault", "primaryKeyURI": KEY, "primaryUserAssignedIdentityId": PRIMARY_ID});
    if geo {
        ids[GEO_ID] = json!({});
        enc["geoBackupKeyURI"] = json!(GEO_KEY);
        enc["geoBackupUserAssignedIdentityId"] = json!(GEO_ID);
    }
    b["identity"] = json!({"type": "UserAssigned", "userAssignedIdentities": ids});
    b["properties"]["dataEncryption"] = enc;
    b
}

#[tokio::test]
async fn geo_redundant_backup_with_cmk_needs_the_geo_key_and_identity() {
    let t = start().await;
    let r = t
        .call(
            "PUT",
            &server_id("pg-geo"),
            Some(PG),
            Some(cmk_geo_server(false)),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.code(), "CMKInvalidEncryptionParameters");
    assert!(r.body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("Geo-Backup")));

    // The geo identity must be attached to the server too.
    let mut detached = cmk_geo_server(true);
    detached["identity"]["userAssignedIdentities"] = json!({ PRIMARY_ID: {} });
    let r = t
        .call("PUT", &server_id("pg-geo"), Some(PG), Some(detached))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "CMKInvalidEncryptionParameters")
    );

    t.create_server("pg-geo", cmk_geo_server(true)).await;
    let s = t.server("pg-geo").await;
    assert_eq!(
        s["properties"]["dataEncryption"]["geoBackupKeyURI"],
        GEO_KEY
    );
    assert_eq!(
        s["properties"]["dataEncryption"]["geoBackupUserAssignedIdentityId"],
        GEO_ID
    );
}

#[tokio::test]
async fn a_versionless_key_uri_is_refused_at_2024_08_01() {
    let t = start().await;
    let mut b = cmk_geo_server(true);
    b["properties"]["dataEncryption"]["primaryKeyURI"] =
        json!("https://kv-main.vault.azure.net/keys/cmk");
    let r = t
        .call("PUT", &server_id("pg-vl"), Some(PG), Some(b.clone()))
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.code(), "InvalidParameterValue");
    // 2025-08-01 knows automatic key version update (its own examples send a versionless URI).
    let r = t
        .call("PUT", &server_id("pg-vl"), Some("2025-08-01"), Some(b))
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
}

fn sub_server_id(sub: &str, rg: &str, name: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.DBforPostgreSQL/flexibleServers/{name}")
}

fn sub_account_id(sub: &str, rg: &str, name: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{name}")
}

fn account_body() -> Value {
    json!({"location": "westus", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}})
}

#[tokio::test]
async fn server_and_account_names_are_global() {
    let t = start().await;
    t.create_server("shared-name", gp_server()).await;
    t.create_account("sharedname", account_body()).await;

    for (sub, rg) in [(SUB2, "rg"), (SUB, "other-rg")] {
        let r = t
            .call(
                "PUT",
                &sub_server_id(sub, rg, "shared-name"),
                Some(PG),
                Some(gp_server()),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (409, "ServerNameAlreadyExists"),
            "{sub}/{rg}: {:?}",
            r.body
        );
        let r = t
            .call(
                "PUT",
                &sub_account_id(sub, rg, "sharedname"),
                Some(ST),
                Some(account_body()),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (409, "StorageAccountAlreadyTaken"),
            "{sub}/{rg}: {:?}",
            r.body
        );
    }
    // The owner still updates its own server and account.
    let r = t
        .call(
            "PUT",
            &server_id("shared-name"),
            Some(PG),
            Some(gp_server()),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
}

async fn check(t: &T, path: &str, version: &str, name: &str, kind: &str) -> Resp {
    let r = t
        .call(
            "POST",
            path,
            Some(version),
            Some(json!({"name": name, "type": kind})),
        )
        .await;
    assert_eq!(r.status, 200, "{path}: {:?}", r.body);
    r
}

#[tokio::test]
async fn check_name_availability_on_both_providers() {
    let t = start().await;
    t.create_server("taken-pg", gp_server()).await;
    t.create_account("takenacct", account_body()).await;
    let pg_global =
        format!("/subscriptions/{SUB2}/providers/Microsoft.DBforPostgreSQL/checkNameAvailability");
    let pg_local = format!("/subscriptions/{SUB2}/providers/Microsoft.DBforPostgreSQL/locations/eastus2/checkNameAvailability");
    let st = format!("/subscriptions/{SUB2}/providers/Microsoft.Storage/checkNameAvailability");
    const PGT: &str = "Microsoft.DBforPostgreSQL/flexibleServers";
    const STT: &str = "Microsoft.Storage/storageAccounts";

    for path in [&pg_global, &pg_local] {
        let r = check(&t, path, PG, "taken-pg", PGT).await;
        assert_eq!(r.body["nameAvailable"], false);
        assert_eq!(r.body["reason"], "AlreadyExists");
        assert_eq!(r.body["message"], "Specified server name is already used.");
        let r = check(&t, path, PG, "free-pg", PGT).await;
        assert_eq!(r.body["nameAvailable"], true, "{:?}", r.body);
        let r = check(&t, path, PG, "Bad_Name", PGT).await;
        assert_eq!(
            (r.body["nameAvailable"].as_bool(), r.body["reason"].as_str()),
            (Some(false), Some("Invalid"))
        );
    }
    let r = check(&t, &st, ST, "takenacct", STT).await;
    assert_eq!(r.body["nameAvailable"], false);
    assert_eq!(r.body["reason"], "AlreadyExists");
    assert!(r.body["message"]
        .as_str()
        .is_some_and(|m| m.contains("is already taken")));
    let r = check(&t, &st, ST, "freeacct", STT).await;
    assert_eq!(r.body["nameAvailable"], true);
    let r = check(&t, &st, ST, "No-Good", STT).await;
    assert_eq!(r.body["reason"], "AccountNameInvalid");
    // The SDK models parse the answers.
    let _: azure_mgmt_storage::package_2023_05::models::CheckNameAvailabilityResult =
        serde_json::from_value(r.body).expect("storage model");
    let r = check(&t, &pg_global, PG, "taken-pg", PGT).await;
    let _: azure_mgmt_postgresql::package_flexibleserver_2024_08_01::models::NameAvailability =
        serde_json::from_value(r.body).expect("postgres model");
}

/// A name is taken from the moment its create is accepted (the default), or only once the create
/// has ended (`names_reserved_while_creating: false`, the chaos run's setting).
#[tokio::test]
async fn a_name_being_created_is_taken_unless_configured_otherwise() {
    for reserved in [true, false] {
        let t = start_with(engram_operator::mock_arm::MockConfig {
            names_reserved_while_creating: reserved,
            ..Default::default()
        })
        .await;
        let put = t
            .call("PUT", &server_id("busy-pg"), Some(PG), Some(gp_server()))
            .await;
        assert_eq!(put.status, 202);
        let pg = format!(
            "/subscriptions/{SUB2}/providers/Microsoft.DBforPostgreSQL/checkNameAvailability"
        );
        let r = check(
            &t,
            &pg,
            PG,
            "busy-pg",
            "Microsoft.DBforPostgreSQL/flexibleServers",
        )
        .await;
        assert_eq!(r.body["nameAvailable"], !reserved, "reserved: {reserved}");
        let put = t
            .call(
                "PUT",
                &account_id("busyacct"),
                Some(ST),
                Some(account_body()),
            )
            .await;
        assert_eq!(put.status, 202);
        let st = format!("/subscriptions/{SUB2}/providers/Microsoft.Storage/checkNameAvailability");
        let r = check(&t, &st, ST, "busyacct", "Microsoft.Storage/storageAccounts").await;
        assert_eq!(r.body["nameAvailable"], !reserved, "reserved: {reserved}");
        // The create itself still claims the name: another subscription cannot take it meanwhile.
        let other = format!("/subscriptions/{SUB2}/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/busy-pg");
        let r = t.call("PUT", &other, Some(PG), Some(gp_server())).await;
        assert_eq!(r.status, 409, "{:?}", r.body);
    }
}
