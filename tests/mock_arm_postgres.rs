//! PostgreSQL flexible servers on the mock: LRO lifecycle on the virtual clock, 409 while busy,
//! service rules, configurations, auto-start.

use crate::common;
use std::time::Duration;

use common::*;
use serde_json::json;

#[tokio::test]
async fn create_is_an_lro_invisible_until_done_then_ready() {
    let t = start().await;
    let id = server_id("pg1");
    let r = t.call("PUT", &id, Some(PG), Some(gp_server())).await;
    assert_eq!(r.status, 202);
    let base = t.mock.base_url();
    let op = r
        .header("azure-asyncoperation")
        .expect("Azure-AsyncOperation");
    let loc = r.header("location").expect("Location");
    assert!(op.starts_with(&format!("{base}/subscriptions/{SUB}/providers/Microsoft.DBforPostgreSQL/locations/westus/azureAsyncOperation/")));
    assert!(op.ends_with("?api-version=2024-08-01"));
    assert!(loc.contains("/operationResults/"));
    assert_eq!(r.header("retry-after").as_deref(), Some("10"));

    // Not visible while the create runs (FACTS 1.7).
    assert_eq!(
        t.call("GET", &id, Some(PG), None).await.code(),
        "ResourceNotFound"
    );
    let s = t.get_abs(&op).await;
    assert_eq!(
        (s.status, s.body["status"].as_str()),
        (200, Some("InProgress"))
    );
    assert_eq!(t.get_abs(&loc).await.status, 202);

    t.mock.advance(Duration::from_secs(29));
    assert_eq!(t.get_abs(&op).await.body["status"], "InProgress");
    t.mock.advance(Duration::from_secs(1));
    let s = t.get_abs(&op).await;
    assert_eq!(s.body["status"], "Succeeded");
    assert!(s.body["endTime"].is_string());
    let done = t.get_abs(&loc).await;
    assert_eq!(done.status, 200);
    assert_eq!(done.body["properties"]["state"], "Ready");

    let g = t.call("GET", &id, Some(PG), None).await;
    assert_eq!(g.status, 200);
    assert!(g.header("etag").is_some());
    assert_eq!(g.body["id"], id.as_str());
    assert_eq!(g.body["type"], "Microsoft.DBforPostgreSQL/flexibleServers");
    assert!(
        g.body["properties"]
            .get("administratorLoginPassword")
            .is_none(),
        "password never returned"
    );
    assert_eq!(g.body["properties"]["storage"]["tier"], "P10");
    assert!(g.body["systemData"]["createdAt"].is_string());
    let list = t.call("GET", &format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers"), Some(PG), None).await;
    assert_eq!(list.body["value"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn update_shows_updating_and_second_write_gets_409() {
    let t = start().await;
    t.create_server("pg1", gp_server()).await;
    let id = server_id("pg1");
    let r = t
        .call(
            "PATCH",
            &id,
            Some(PG),
            Some(json!({"properties": {"storage": {"storageSizeGB": 256}}})),
        )
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(t.server("pg1").await["properties"]["state"], "Updating");
    assert_eq!(
        t.server("pg1").await["properties"]["storage"]["storageSizeGB"],
        128
    );
    let busy = t
        .call("PATCH", &id, Some(PG), Some(json!({"tags": {"a": "b"}})))
        .await;
    assert_eq!((busy.status, busy.code()), (409, "ServerBusy"));
    let busy = t
        .call("POST", &format!("{id}/restart"), Some(PG), None)
        .await;
    assert_eq!(busy.status, 409);
    t.mock.advance(Duration::from_secs(30));
    let s = t.server("pg1").await;
    assert_eq!(s["properties"]["state"], "Ready");
    assert_eq!(s["properties"]["storage"]["storageSizeGB"], 256);
    assert_eq!(s["properties"]["storage"]["tier"], "P15");
}

#[tokio::test]
async fn stop_start_restart_and_auto_start_after_seven_days() {
    let t = start().await;
    t.create_server("pg1", gp_server()).await;
    let id = server_id("pg1");
    assert_eq!(
        t.call("POST", &format!("{id}/stop"), Some(PG), None)
            .await
            .status,
        202
    );
    assert_eq!(t.server("pg1").await["properties"]["state"], "Stopping");
    t.mock.advance(Duration::from_secs(30));
    assert_eq!(t.server("pg1").await["properties"]["state"], "Stopped");
    let again = t.call("POST", &format!("{id}/stop"), Some(PG), None).await;
    assert_eq!((again.status, again.code()), (409, "ServerIsNotReady"));
    assert!(again.body["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("Current Server State = Stopped"));

    t.mock.advance(Duration::from_secs(7 * 24 * 3600 - 60));
    assert_eq!(t.server("pg1").await["properties"]["state"], "Stopped");
    t.mock.advance(Duration::from_secs(60));
    assert_eq!(
        t.server("pg1").await["properties"]["state"],
        "Ready",
        "auto-started after 7 days"
    );

    assert_eq!(
        t.call("POST", &format!("{id}/stop"), Some(PG), None)
            .await
            .status,
        202
    );
    t.mock.advance(Duration::from_secs(30));
    assert_eq!(
        t.call("POST", &format!("{id}/start"), Some(PG), None)
            .await
            .status,
        202
    );
    assert_eq!(t.server("pg1").await["properties"]["state"], "Starting");
    t.mock.advance(Duration::from_secs(30));
    assert_eq!(t.server("pg1").await["properties"]["state"], "Ready");
    assert_eq!(
        t.call("POST", &format!("{id}/restart"), Some(PG), None)
            .await
            .status,
        202
    );
    assert_eq!(t.server("pg1").await["properties"]["state"], "Restarting");
}

#[tokio::test]
async fn delete_is_an_lro_and_removes_the_server() {
    let t = start().await;
    t.create_server("pg1", gp_server()).await;
    let id = server_id("pg1");
    let r = t.call("DELETE", &id, Some(PG), None).await;
    assert_eq!(r.status, 202);
    let loc = r.header("location").expect("location");
    assert_eq!(t.server("pg1").await["properties"]["state"], "Dropping");
    t.mock.advance(Duration::from_secs(30));
    assert_eq!(t.get_abs(&loc).await.status, 204);
    assert_eq!(t.call("GET", &id, Some(PG), None).await.status, 404);
    assert_eq!(t.call("DELETE", &id, Some(PG), None).await.status, 204);
    let cfg = t
        .call(
            "GET",
            &format!("{id}/configurations/max_connections"),
            Some(PG),
            None,
        )
        .await;
    assert_eq!((cfg.status, cfg.code()), (404, "ParentResourceNotFound"));
}

#[tokio::test]
async fn service_rules_reject_with_their_codes() {
    let t = start().await;
    let mut ha_b = burstable_server();
    ha_b["properties"]["highAvailability"] = json!({"mode": "ZoneRedundant"});
    let r = t.call("PUT", &server_id("pgb"), Some(PG), Some(ha_b)).await;
    assert_eq!(
        (r.status, r.code()),
        (400, "HighAvailabilityNotSupportedForBurstableTier")
    );

    // Out-of-range values at create: ARM's InvalidParameterValue naming the property.
    for (name, pointer, value, property) in [
        (
            "pgodd",
            "/properties/storage/storageSizeGB",
            json!(100),
            "StorageSizeGB",
        ),
        (
            "pgret",
            "/properties/backup/backupRetentionDays",
            json!(36),
            "BackupRetentionDays",
        ),
    ] {
        let mut body = gp_server();
        *body.pointer_mut(pointer).expect("field in the base body") = value;
        let r = t.call("PUT", &server_id(name), Some(PG), Some(body)).await;
        assert_eq!(
            (r.status, r.code()),
            (400, "InvalidParameterValue"),
            "{property}"
        );
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains(property),
            "{property}: {}",
            r.body
        );
    }

    t.create_server("pg1", gp_server()).await;
    let id = server_id("pg1");
    let cases = [
        (
            json!({"properties": {"storage": {"storageSizeGB": 64}}}),
            "StorageSizeDecreaseNotSupported",
        ),
        (
            json!({"properties": {"backup": {"backupRetentionDays": 6}}}),
            "InvalidParameterValue",
        ),
        (
            json!({"properties": {"backup": {"geoRedundantBackup": "Enabled"}}}),
            "GeoRedundantBackupCannotBeChanged",
        ),
        (
            json!({"properties": {"dataEncryption": {"type": "AzureKeyVault", "primaryKeyURI": "https://v.vault.azure.net/keys/k/1"}}}),
            "DataEncryptionTypeCannotBeChanged",
        ),
        (
            json!({"sku": {"name": "Standard_B1ms", "tier": "Burstable"}, "properties": {"highAvailability": {"mode": "SameZone"}}}),
            "HighAvailabilityNotSupportedForBurstableTier",
        ),
    ];
    for (patch, code) in cases {
        let r = t.call("PATCH", &id, Some(PG), Some(patch.clone())).await;
        assert_eq!((r.status, r.code()), (400, code), "{patch}");
    }
    // HA on a Burstable server that exists, by update.
    t.create_server("pgb2", burstable_server()).await;
    let r = t
        .patch_server(
            "pgb2",
            json!({"properties": {"highAvailability": {"mode": "ZoneRedundant"}}}),
        )
        .await;
    assert_eq!(r.code(), "HighAvailabilityNotSupportedForBurstableTier");

    // CMK cannot be removed from a CMK server either.
    let mut cmk = gp_server();
    cmk["properties"]["dataEncryption"] =
        json!({"type": "AzureKeyVault", "primaryKeyURI": "https://v.vault.azure.net/keys/k/1"});
    t.create_server("pgcmk", cmk).await;
    let r = t
        .patch_server(
            "pgcmk",
            json!({"properties": {"dataEncryption": {"type": "SystemManaged"}}}),
        )
        .await;
    assert_eq!(r.code(), "DataEncryptionTypeCannotBeChanged");
    // Geo-redundant backup is accepted at create.
    let mut geo = gp_server();
    geo["properties"]["backup"]["geoRedundantBackup"] = json!("Enabled");
    t.create_server("pggeo", geo).await;
    assert_eq!(
        t.server("pggeo").await["properties"]["backup"]["geoRedundantBackup"],
        "Enabled"
    );
}

#[tokio::test]
async fn configurations_static_change_pends_until_restart_and_stopped_server_refuses() {
    let t = start().await;
    t.create_server("pg1", gp_server()).await;
    let id = server_id("pg1");
    let list = t
        .call("GET", &format!("{id}/configurations"), Some(PG), None)
        .await;
    let names: Vec<&str> = list.body["value"]
        .as_array()
        .expect("value")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    for n in [
        "azure.extensions",
        "shared_preload_libraries",
        "ssl_min_protocol_version",
        "max_connections",
    ] {
        assert!(names.contains(&n), "{n} seeded");
    }
    let ext = config(&t, &id, "azure.extensions").await;
    assert_eq!(ext.body["properties"]["value"], "");
    assert_eq!(ext.body["properties"]["isDynamicConfig"], true);
    assert!(ext.body["properties"]["allowedValues"]
        .as_str()
        .unwrap_or("")
        .contains("VECTOR"));

    let bad = t
        .call(
            "PUT",
            &format!("{id}/configurations/azure.extensions"),
            Some(PG),
            Some(json!({"properties": {"value": "NOPE", "source": "user-override"}})),
        )
        .await;
    assert_eq!((bad.status, bad.code()), (400, "InvalidParameterValue"));
    let missing = t
        .call(
            "GET",
            &format!("{id}/configurations/no_such"),
            Some(PG),
            None,
        )
        .await;
    assert_eq!(
        (missing.status, missing.code()),
        (404, "ConfigurationNotExists")
    );

    let r = t
        .call(
            "PUT",
            &format!("{id}/configurations/max_connections"),
            Some(PG),
            Some(json!({"properties": {"value": "500", "source": "user-override"}})),
        )
        .await;
    assert_eq!(r.status, 202);
    assert!(r.header("azure-asyncoperation").is_some());
    assert_eq!(t.server("pg1").await["properties"]["state"], "Updating");
    let busy = t
        .call(
            "PATCH",
            &format!("{id}/configurations/azure.extensions"),
            Some(PG),
            Some(json!({"properties": {"value": "VECTOR", "source": "user-override"}})),
        )
        .await;
    // As Azure does (real traffic): accepted, then the operation fails with ServerIsBusy.
    assert_eq!(busy.status, 202, "{:?}", busy.body);
    let op = busy.header("azure-asyncoperation").expect("operation");
    t.mock.advance(Duration::from_secs(30));
    assert_eq!(t.server("pg1").await["properties"]["state"], "Ready");
    let s = t.get_abs(&op).await;
    assert_eq!(
        (s.body["status"].as_str(), s.body["error"]["code"].as_str()),
        (Some("Failed"), Some("ServerIsBusy"))
    );
    let ext = config(&t, &id, "azure.extensions").await;
    assert_ne!(ext.body["properties"]["value"], "VECTOR", "not applied");
    let mc = t
        .call(
            "GET",
            &format!("{id}/configurations/max_connections"),
            Some(PG),
            None,
        )
        .await;
    assert_eq!(mc.body["properties"]["value"], "500");
    assert_eq!(mc.body["properties"]["isConfigPendingRestart"], true);

    // Dynamic: no restart pending.
    let r = t
        .call(
            "PATCH",
            &format!("{id}/configurations/azure.extensions"),
            Some(PG),
            Some(json!({"properties": {"value": "VECTOR,PG_TRGM", "source": "user-override"}})),
        )
        .await;
    assert_eq!(r.status, 202);
    t.mock.advance(Duration::from_secs(30));
    let e = t
        .call(
            "GET",
            &format!("{id}/configurations/azure.extensions"),
            Some(PG),
            None,
        )
        .await;
    assert_eq!(
        (
            e.body["properties"]["value"].as_str(),
            e.body["properties"]["isConfigPendingRestart"].as_bool()
        ),
        (Some("VECTOR,PG_TRGM"), Some(false))
    );

    t.call("POST", &format!("{id}/restart"), Some(PG), None)
        .await;
    t.mock.advance(Duration::from_secs(30));
    let mc = t
        .call(
            "GET",
            &format!("{id}/configurations/max_connections"),
            Some(PG),
            None,
        )
        .await;
    assert_eq!(mc.body["properties"]["isConfigPendingRestart"], false);

    t.call("POST", &format!("{id}/stop"), Some(PG), None).await;
    t.mock.advance(Duration::from_secs(30));
    let r = t
        .call(
            "PUT",
            &format!("{id}/configurations/max_connections"),
            Some(PG),
            Some(json!({"properties": {"value": "400", "source": "user-override"}})),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "ServerIsNotReady"));
}

/// GET one configuration of a server.
async fn config(t: &T, server: &str, name: &str) -> Resp {
    t.call(
        "GET",
        &format!("{server}/configurations/{name}"),
        Some(PG),
        None,
    )
    .await
}
