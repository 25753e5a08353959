//! `sku: auto` end to end: the calculator's SKU is what the operator creates in (mock) Azure, and the
//! status says the server was sized automatically.

use crate::support;

use engram_operator::api;
use support::*;

fn auto_spec(env: &str, sessions: u64, facts: u64, connections: u64) -> api::EffectiveSpec {
    // keyVersion stays `latest`: support::mock() holds the key the storage account checks.
    let mut text = include_str!("fixtures/auto-prod.yaml")
        .replace("environment: prod", &format!("environment: {env}"))
        .replace("sessions: 10000", &format!("sessions: {sessions}"))
        .replace("facts: 1000000", &format!("facts: {facts}"))
        .replace("connections: 200", &format!("connections: {connections}"));
    if env == "dev" || env == "test" {
        // No standby declared: Burstable is allowed where HA is not required.
        text = text.replace(
            "mode: ZoneRedundant\n      standbyZone: \"2\"",
            "mode: Disabled",
        );
    }
    api::load(&text).expect("auto spec is valid").1
}

#[tokio::test]
async fn auto_sized_server_is_created_with_the_calculated_sku_and_says_so() {
    let m = mock().await;
    let arm = arm(&m);
    let eff = auto_spec("prod", 10_000, 1_000_000, 200);
    assert_eq!(
        eff.postgres.sku.name, "Standard_D4s_v3",
        "the seed's production example"
    );
    let out = converge(&m, &arm, &eff, Default::default()).await;
    assert!(out.ready(), "{:#?}", out.status);
    let server = &m.dump()["resources"];
    let body = server
        .as_object()
        .and_then(|r| {
            r.iter()
                .find(|(id, _)| id.to_lowercase() == server_id(&eff).to_lowercase())
        })
        .map(|(_, v)| v["body"].clone())
        .unwrap_or_else(|| panic!("server missing from {:#}", m.dump()));
    assert_eq!(body["sku"]["name"], "Standard_D4s_v3");
    assert_eq!(body["sku"]["tier"], "GeneralPurpose");
    let note = out
        .status
        .notes
        .iter()
        .find(|n| n.starts_with("sku auto-sized:"));
    assert!(
        note.is_some_and(|n| n.contains("Standard_D4s_v3")),
        "{:?}",
        out.status.notes
    );
    // In sync afterwards: the auto-sized SKU is not drift.
    let again = pass(&arm, &eff, &out.status).await;
    assert_eq!(again.writes, 0, "{:?}", again.plan);
}

#[test]
fn auto_sizing_follows_the_load_and_the_environment() {
    assert_eq!(
        auto_spec("dev", 100, 1_000, 10).postgres.sku.name,
        "Standard_B1ms"
    );
    assert_eq!(
        auto_spec("test", 500, 10_000, 20).postgres.sku.name,
        "Standard_B2s"
    );
    let uat = auto_spec("uat", 2_000, 100_000, 50);
    assert_eq!(
        uat.postgres.sku.name, "Standard_D2s_v3",
        "no Burstable where HA is required"
    );
    assert!(uat.postgres.auto_sized.is_some());
}
