//! Per-plane credentials in Kubernetes, through the controller's reconcile against mock-kube and
//! the mock ARM with its Entra authority: two planes in two namespaces with two tenants'
//! credentials (the namespace default `engram-credential`, and `spec.azure.credentialFrom`), every
//! ARM request carrying its plane's principal; a Secret changed in place used on the next pass.

use crate::support;

use std::sync::Arc;

use engram_operator::api::EngramDataPlane;
use engram_operator::azure::{Arm, ArmApi, ArmClients, Shared};
use engram_operator::sources::kube::{reconcile, Ctx};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use support::tenants::*;

/// Create or replace Secret `ns/name` holding `data` (as `kubectl create secret --from-literal`).
async fn secret(client: &kube::Client, ns: &str, name: &str, data: &[(&str, &str)]) {
    let data: serde_json::Map<String, serde_json::Value> = data
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let s: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "stringData": data,
    }))
    .unwrap();
    Api::<Secret>::namespaced(client.clone(), ns)
        .patch(name, &PatchParams::apply("test").force(), &Patch::Apply(&s))
        .await
        .expect("secret");
}

/// Customer B's Secret `tenant-b-sp` with this client secret.
async fn b_secret(client: &kube::Client, value: &str) {
    let data = [
        ("AZURE_TENANT_ID", TENANT_B),
        ("AZURE_CLIENT_ID", CLIENT_B),
        ("AZURE_CLIENT_SECRET", value),
    ];
    secret(client, "customer-b", "tenant-b-sp", &data).await;
}

async fn plane(client: &kube::Client, ns: &str, yaml: &str) {
    let mut p: EngramDataPlane = serde_saphyr::from_str(yaml).expect("parses");
    p.metadata.namespace = Some(ns.into());
    Api::<EngramDataPlane>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &p)
        .await
        .expect("plane");
}

async fn pass(ctx: &Arc<Ctx>, client: &kube::Client, ns: &str, name: &str) -> EngramDataPlane {
    let api: Api<EngramDataPlane> = Api::namespaced(client.clone(), ns);
    let obj = api.get(name).await.expect("plane");
    reconcile(Arc::new(obj), ctx.clone())
        .await
        .expect("reconcile");
    api.get(name).await.expect("plane")
}

fn degraded(p: &EngramDataPlane) -> Option<(String, String)> {
    p.status.as_ref()?.conditions.iter().find_map(|c| {
        (c.type_ == "Degraded" && c.status == "True").then(|| (c.reason.clone(), c.message.clone()))
    })
}

#[tokio::test]
async fn two_tenants_two_namespaces_each_request_carries_its_planes_principal() {
    let (_kube, client) = support::kube_cluster(&["customer-a", "customer-b"]).await;
    let m = mock(3599).await;
    let s = settings(&m);
    let shared = Shared::default();
    let global: Arc<dyn ArmApi> = Arc::new(Arm::sharing(s.clone(), shared.clone()).unwrap());
    let mut c = support::kube_ctx(&client, global.clone());
    c.clients = Some(Arc::new(ArmClients::new(s, shared, global)));
    let ctx = Arc::new(c);

    // Customer A: the namespace default. Customer B: a Secret the plane names.
    secret(
        &client,
        "customer-a",
        "engram-credential",
        &[
            ("AZURE_TENANT_ID", TENANT_A),
            ("AZURE_CLIENT_ID", CLIENT_A),
            ("AZURE_CLIENT_SECRET", "secret-a-1"),
        ],
    )
    .await;
    b_secret(&client, "secret-b-1").await;
    plane(&client, "customer-a", &plane_yaml("alpha", SUB_A, None)).await;
    plane(
        &client,
        "customer-b",
        &plane_yaml("beta", SUB_B, Some("tenant-b-sp")),
    )
    .await;

    for _ in 0..4 {
        pass(&ctx, &client, "customer-a", "alpha").await;
        pass(&ctx, &client, "customer-b", "beta").await;
        m.advance(support::LRO);
    }
    let a = format!("{TENANT_A}/{CLIENT_A}");
    let b = format!("{TENANT_B}/{CLIENT_B}");
    assert_eq!(principals_of(&m, SUB_A), [a].into());
    assert_eq!(principals_of(&m, SUB_B), [b.clone()].into());
    assert!(m.journal().iter().all(|e| e.status != 401));
    let alpha = pass(&ctx, &client, "customer-a", "alpha").await;
    let p = alpha.status.unwrap().azure.unwrap().principal.unwrap();
    assert_eq!(
        (
            p.tenant_id.as_deref(),
            p.client_id.as_deref(),
            p.source.as_str()
        ),
        (
            Some(TENANT_A),
            Some(CLIENT_A),
            "Secret customer-a/engram-credential"
        )
    );

    // B's Secret gets a wrong value: B is Degraded, naming the Secret and Entra's code, and A
    // goes on.
    b_secret(&client, "not-the-secret").await;
    let beta = pass(&ctx, &client, "customer-b", "beta").await;
    let (reason, message) = degraded(&beta).expect("beta is Degraded");
    assert_eq!(reason, "CredentialInvalid");
    assert!(
        message.contains("Secret customer-b/tenant-b-sp") && message.contains("AADSTS7000215"),
        "{message}"
    );
    assert!(!message.contains("not-the-secret"));
    let before_a = requests_to(&m, SUB_A);
    let alpha = pass(&ctx, &client, "customer-a", "alpha").await;
    assert!(degraded(&alpha).is_none(), "{:?}", degraded(&alpha));
    assert!(requests_to(&m, SUB_A) > before_a);

    // B's administrator rotates the secret in Entra and in the Secret: the next pass uses it,
    // no restart.
    m.add_principal(principal_b("secret-b-2")).unwrap();
    b_secret(&client, "secret-b-2").await;
    let before_b = requests_to(&m, SUB_B);
    let beta = pass(&ctx, &client, "customer-b", "beta").await;
    assert!(degraded(&beta).is_none(), "{:?}", degraded(&beta));
    assert!(requests_to(&m, SUB_B) > before_b);
    assert_eq!(principals_of(&m, SUB_B), [b].into());

    // The plane names a Secret that does not exist: CredentialInvalid too.
    let mut obj = Api::<EngramDataPlane>::namespaced(client.clone(), "customer-b")
        .get("beta")
        .await
        .unwrap();
    obj.spec.azure.credential_from = Some("no-such-secret".into());
    obj.metadata.managed_fields = None;
    Api::<EngramDataPlane>::namespaced(client.clone(), "customer-b")
        .replace("beta", &PostParams::default(), &obj)
        .await
        .unwrap();
    let beta = pass(&ctx, &client, "customer-b", "beta").await;
    let (reason, message) = degraded(&beta).expect("still Degraded");
    assert_eq!(reason, "CredentialInvalid");
    assert!(
        message.contains("customer-b/no-such-secret") && message.contains("does not exist"),
        "{message}"
    );
}
