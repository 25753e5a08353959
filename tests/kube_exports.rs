//! `spec.exports.configMap` through the controller's reconcile against mock-kube (real API
//! semantics: server-side apply, ownerReferences, a journal of every request) and the mock ARM:
//! the ConfigMap's contents once Ready, no write while nothing changes, one write after the
//! server's FQDN changes.

use crate::support;

use std::sync::Arc;

use engram_operator::api::EngramDataPlane;
use engram_operator::azure::ArmApi;
use engram_operator::mock_arm::MockArm;
use engram_operator::sources::kube::{reconcile, Ctx};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use serde_json::json;
use support::LRO;

const SERVER: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-engram-prod/providers/Microsoft.DBforPostgreSQL/flexibleServers/acme-prod-pg";
const CM: &str = "acme-prod-connection";

fn ctx(client: &kube::Client, arm: &Arc<dyn ArmApi>) -> Arc<Ctx> {
    Arc::new(support::kube_ctx(client, arm.clone()))
}

/// One pass of the controller on the object as the API server has it now.
async fn pass(api: &Api<EngramDataPlane>, client: &kube::Client, arm: &Arc<dyn ArmApi>) -> bool {
    let obj = api.get("acme-prod").await.expect("plane");
    reconcile(Arc::new(obj), ctx(client, arm))
        .await
        .expect("reconcile");
    api.get("acme-prod")
        .await
        .expect("plane")
        .status
        .is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
}

fn data(cm: &ConfigMap) -> Vec<(String, String)> {
    cm.data.clone().unwrap_or_default().into_iter().collect()
}

#[tokio::test]
async fn the_config_map_follows_the_plane_and_is_written_only_on_change() {
    let (kube, client) = support::kube_cluster(&["engram"]).await;
    let m: MockArm = support::mock().await;
    let arm: Arc<dyn ArmApi> = Arc::new(support::arm(&m));
    let text = std::fs::read_to_string("examples/database/prod-database.yaml").expect("example");
    let plane: EngramDataPlane = serde_saphyr::from_str(&text).expect("parses");
    let declared = plane
        .spec
        .exports
        .as_ref()
        .and_then(|x| x.config_map.as_deref());
    assert_eq!(declared, Some(CM), "the example declares the ConfigMap");
    let api: Api<EngramDataPlane> = Api::namespaced(client.clone(), "engram");
    api.create(&PostParams::default(), &plane)
        .await
        .expect("plane created");
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "engram");

    // Converging: nothing is exported before Ready.
    let mut ready = false;
    for _ in 0..30 {
        ready = pass(&api, &client, &arm).await;
        if ready {
            break;
        }
        assert!(
            cms.get_opt(CM).await.unwrap().is_none(),
            "exported before Ready"
        );
        m.advance(LRO);
    }
    assert!(
        ready,
        "not Ready: {:#?}",
        api.get("acme-prod").await.unwrap().status
    );

    let cm = cms.get(CM).await.expect("the ConfigMap");
    let versions = api.get("acme-prod").await.unwrap().status.unwrap();
    let key = |v: Option<&String>| v.cloned().expect("a key version");
    let kv_pg = key(versions
        .postgres
        .as_ref()
        .and_then(|p| p.key_version.as_ref()));
    let kv_st = key(versions
        .storage
        .as_ref()
        .and_then(|s| s.key_version.as_ref()));
    let expected = |host: &str| -> Vec<(String, String)> {
        [
            ("BLOB_CONTAINERS", "record-plane"),
            (
                "BLOB_ENDPOINT",
                "https://acmeengramprod.blob.core.windows.net/",
            ),
            ("KEY_VERSION_POSTGRES", kv_pg.as_str()),
            ("KEY_VERSION_STORAGE", kv_st.as_str()),
            ("PGDATABASE", "engram"),
            ("PGDATABASES", "engram"),
            ("PGHOST", host),
            ("PGPORT", "5432"),
            ("PGSSLMODE", "require"),
            ("PG_ENTRA_ADMIN", "engram-operator"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    };
    assert_eq!(
        data(&cm),
        expected("acme-prod-pg.postgres.database.azure.com")
    );
    let owners = cm.metadata.owner_references.clone().unwrap_or_default();
    let uid = api.get("acme-prod").await.unwrap().metadata.uid;
    assert_eq!(owners.len(), 1, "{owners:?}");
    assert_eq!(
        (
            owners[0].kind.as_str(),
            owners[0].name.as_str(),
            Some(owners[0].uid.clone()),
            owners[0].controller
        ),
        ("EngramDataPlane", "acme-prod", uid, Some(true))
    );
    assert_eq!(kube.count("apply", "configmaps"), 1);

    // In sync: passes read the ConfigMap and write nothing.
    for _ in 0..3 {
        assert!(pass(&api, &client, &arm).await);
    }
    assert_eq!(
        kube.count("apply", "configmaps"),
        1,
        "{:#?}",
        kube.journal()
    );
    assert!(kube.count("get", "configmaps") >= 3);

    // The server's address changes in Azure: the next pass writes the new one, once.
    m.edit(
        SERVER,
        json!({"properties": {"fullyQualifiedDomainName": "acme-prod-pg.privatelink.postgres.database.azure.com"}}),
    )
    .expect("edit");
    assert!(pass(&api, &client, &arm).await);
    assert!(pass(&api, &client, &arm).await);
    assert_eq!(
        kube.count("apply", "configmaps"),
        2,
        "{:#?}",
        kube.journal()
    );
    let cm = cms.get(CM).await.expect("the ConfigMap");
    assert_eq!(
        data(&cm),
        expected("acme-prod-pg.privatelink.postgres.database.azure.com")
    );
}
