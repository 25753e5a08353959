//! Network isolation end to end against the mock ARM (issue 13, "Done when"): private endpoints
//! created, approved and observed, then a pass that writes nothing; a firewall rule changed in the
//! portal corrected, someone else's rule kept; a uat spec without private endpoints refused before
//! any request; public access turned on in the portal corrected in uat; teardown removing the
//! plane's own endpoints before the server and the account.

use crate::storage_support;
use crate::support;

use azure_core::Method;
use engram_operator::api::spec::DeletionPolicy;
use engram_operator::api::{self, EffectiveSpec, EngramDataPlaneStatus};
use engram_operator::azure::ArmApi;
use engram_operator::mock_arm::MockArm;
use engram_operator::reconcile::{self, cleanup::cleanup};
use serde_json::json;
use storage_support::outside_write_at;
use support::*;

const NET: &str = "2024-05-01";

fn uat() -> EffectiveSpec {
    api::load(include_str!("../examples/uat.yaml"))
        .expect("uat example is valid")
        .1
}

fn test_env() -> EffectiveSpec {
    api::load(include_str!("../examples/test.yaml"))
        .expect("test example is valid")
        .1
}

fn rg_id(eff: &EffectiveSpec, rest: &str) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/{rest}",
        eff.azure.subscription_id, eff.azure.resource_group
    )
}

fn account_id(eff: &EffectiveSpec) -> String {
    rg_id(
        eff,
        &format!(
            "Microsoft.Storage/storageAccounts/{}",
            eff.storage.account_name
        ),
    )
}

fn pe_id(eff: &EffectiveSpec, name: &str) -> String {
    rg_id(eff, &format!("Microsoft.Network/privateEndpoints/{name}"))
}

/// A mock holding the vault key `eff` names, and a client.
async fn mock_for(eff: &EffectiveSpec) -> (MockArm, engram_operator::azure::Arm) {
    let m = mock().await;
    if let Some(enc) = &eff.encryption {
        let vault = enc
            .key_vault_uri
            .trim_start_matches("https://")
            .split('.')
            .next()
            .unwrap_or_default();
        kv_key_in(&m, vault, &enc.key_name, "create").await;
    }
    let a = arm(&m);
    (m, a)
}

fn stored(m: &MockArm, id: &str) -> Option<serde_json::Value> {
    m.dump()["resources"]
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(id))
        .map(|(_, v)| v["body"].clone())
}

#[tokio::test]
async fn private_endpoints_are_created_approved_and_observed_then_a_pass_writes_nothing() {
    let eff = prod();
    let (m, arm) = mock_for(&eff).await;
    let out = converge(&m, &arm, &eff, Default::default()).await;
    assert!(out.ready(), "{:#?}", out.status);
    for (name, target) in [
        ("acme-prod-pg-pe", server_id(&eff)),
        ("acmeengramprod-blob-pe", account_id(&eff)),
    ] {
        let pe = stored(&m, &pe_id(&eff, name)).unwrap_or_else(|| panic!("{name} exists"));
        assert_eq!(
            pe["tags"]["engram-owner"], "folder/test",
            "{name} carries the owner tag"
        );
        assert_eq!(
            pe["properties"]["privateLinkServiceConnections"][0]["properties"]
                ["privateLinkServiceId"],
            target
        );
        let group = stored(
            &m,
            &format!("{}/privateDnsZoneGroups/default", pe_id(&eff, name)),
        )
        .expect("zone group");
        assert!(
            group["properties"]["privateDnsZoneConfigs"][0]["properties"]["privateDnsZoneId"]
                .as_str()
                .is_some_and(|z| z.ends_with(if name.contains("blob") {
                    "privatelink.blob.core.windows.net"
                } else {
                    "privatelink.postgres.database.azure.com"
                }))
        );
        let t = stored(&m, &target).expect("target");
        assert_eq!(
            t["properties"]["privateEndpointConnections"][0]["properties"]
                ["privateLinkServiceConnectionState"]["status"],
            "Approved"
        );
    }
    // Status shows each service's network mode and the endpoint's state (evidence reads these).
    let pg = out
        .status
        .postgres
        .as_ref()
        .and_then(|p| p.network.clone())
        .expect("postgres network");
    let st = out
        .status
        .storage
        .as_ref()
        .and_then(|s| s.network.clone())
        .expect("storage network");
    for n in [&pg, &st] {
        assert_eq!(n.mode, "PrivateEndpoint");
        assert_eq!(n.public_network_access.as_deref(), Some("Disabled"));
        assert_eq!(n.connection.as_deref(), Some("Approved"));
        assert_eq!(n.dns_zone_group, Some(true));
        assert!(n
            .private_ip_address
            .as_deref()
            .is_some_and(|ip| ip.starts_with("10.")));
    }
    let endpoint = out
        .status
        .postgres
        .as_ref()
        .and_then(|p| p.endpoint.clone())
        .expect("endpoint");
    assert!(
        endpoint.starts_with("acme-prod-pg.postgres.database.azure.com:5432 (private endpoint acme-prod-pg-pe at 10."),
        "{endpoint}"
    );
    // Account firewall: deny by default, Azure services through.
    let acct = stored(&m, &account_id(&eff)).expect("account");
    assert_eq!(acct["properties"]["networkAcls"]["defaultAction"], "Deny");
    assert_eq!(acct["properties"]["networkAcls"]["bypass"], "AzureServices");

    let before = m.journal().len();
    let again = pass(&arm, &eff, &out.status).await;
    assert_eq!(again.writes, 0);
    assert_eq!(
        writes_since(&m, before),
        vec![],
        "an in-sync pass only reads"
    );
    assert!(again.ready());
    assert_eq!(again.status, out.status, "and changes nothing in status");
}

#[tokio::test]
async fn a_firewall_rule_changed_in_the_portal_is_corrected_and_someone_elses_is_kept() {
    let eff = test_env();
    let (m, arm) = mock_for(&eff).await;
    let out = converge(&m, &arm, &eff, Default::default()).await;
    assert!(out.ready(), "{:#?}", out.status);
    let rule = format!("{}/firewallRules/ci-runners", server_id(&eff));
    assert_eq!(
        stored(&m, &rule).expect("rule")["properties"]["endIpAddress"],
        "203.0.113.31"
    );
    assert_eq!(
        out.status
            .postgres
            .as_ref()
            .and_then(|p| p.network.as_ref())
            .map(|n| n.mode.as_str()),
        Some("Public")
    );
    // The network team adds a rule of its own; someone widens ours in the portal.
    let theirs = format!("{}/firewallRules/network-team", server_id(&eff));
    outside_write_at(
        &m,
        Method::Put,
        &theirs,
        "2024-08-01",
        r#"{"properties":{"startIpAddress":"198.51.100.7","endIpAddress":"198.51.100.7"}}"#,
    )
    .await;
    m.advance(LRO);
    m.edit(
        &rule,
        json!({"properties": {"endIpAddress": "203.0.113.255"}}),
    )
    .expect("edit");

    let before = m.journal().len();
    let drifted = pass(&arm, &eff, &out.status).await;
    let d = drifted
        .status
        .drift
        .iter()
        .find(|d| d.field == "firewallRules.ci-runners")
        .expect("drift reported");
    assert_eq!(
        (d.observed.as_str(), d.desired.as_str()),
        ("203.0.113.0-203.0.113.255", "203.0.113.0-203.0.113.31")
    );
    assert!(d.corrected);
    let fixed = converge(&m, &arm, &eff, drifted.status).await;
    assert!(fixed.ready(), "{:#?}", fixed.status);
    assert_eq!(
        stored(&m, &rule).expect("rule")["properties"]["endIpAddress"],
        "203.0.113.31"
    );
    let w = writes_since(&m, before);
    assert_eq!(w.len(), 1, "one PUT of the changed rule: {w:?}");
    assert!(w[0].0 == "PUT" && w[0].1.ends_with("/firewallRules/ci-runners"));
    // Someone else's rule stays, reported.
    assert!(stored(&m, &theirs).is_some(), "never removed");
    assert!(
        fixed
            .status
            .notes
            .iter()
            .any(|n| n.contains("network-team") && n.contains("kept")),
        "{:?}",
        fixed.status.notes
    );
}

#[tokio::test]
async fn a_uat_spec_without_private_endpoints_is_refused_before_any_request() {
    let text = include_str!("../examples/uat.yaml");
    // The same spec with both network blocks removed.
    let cut = |t: &str, from: &str, to: &str| {
        let i = t.find(from).expect("block");
        let j = t[i..].find(to).map_or(t.len(), |j| i + j);
        format!("{}{}", &t[..i], &t[j..])
    };
    let bare = cut(text, "    network:", "  storage:");
    let bare = cut(&bare, "    network:", "\n\n");
    assert!(!bare.contains("privateEndpoint"), "{bare}");
    let errors = api::load(&bare).expect_err("refused");
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "spec.postgres.network.privateEndpoint",
            "spec.storage.network.privateEndpoint"
        ]
    );
    assert!(errors[0].rule.contains("overrides.allowPublicNetwork"));

    let (m, arm) = mock_for(&uat()).await;
    let before = m.journal().len();
    let out = reconcile::reconcile(
        &arm,
        Err(&errors),
        &EngramDataPlaneStatus::default(),
        &ctx(),
    )
    .await;
    assert_eq!(out.writes, 0);
    assert!(out.fatal && !out.ready());
    assert_eq!(m.journal().len(), before, "not one ARM request");
    assert!(out
        .status
        .errors
        .iter()
        .any(|e| e.starts_with("spec.postgres.network.privateEndpoint")));
}

#[tokio::test]
async fn public_access_turned_on_in_the_portal_is_corrected_in_uat() {
    let eff = uat();
    let (m, arm) = mock_for(&eff).await;
    let out = converge(&m, &arm, &eff, Default::default()).await;
    assert!(out.ready(), "{:#?}", out.status);
    m.edit(
        &server_id(&eff),
        json!({"properties": {"network": {"publicNetworkAccess": "Enabled"}}}),
    )
    .expect("edit server");
    m.edit(&account_id(&eff), json!({"properties": {"publicNetworkAccess": "Enabled", "networkAcls": {"defaultAction": "Allow"}}}))
        .expect("edit account");
    let drifted = pass(&arm, &eff, &out.status).await;
    let fields: Vec<(&str, &str)> = drifted
        .status
        .drift
        .iter()
        .map(|d| (d.resource.as_str(), d.field.as_str()))
        .collect();
    for want in [
        ("postgres/acme-uat-pg", "network.publicNetworkAccess"),
        ("storage/acmeengramuat", "publicNetworkAccess"),
        ("storage/acmeengramuat", "networkAcls"),
    ] {
        assert!(fields.contains(&want), "{want:?} in {fields:?}");
    }
    let fixed = converge(&m, &arm, &eff, drifted.status).await;
    assert!(fixed.ready(), "{:#?}", fixed.status);
    let server = stored(&m, &server_id(&eff)).expect("server");
    assert_eq!(
        server["properties"]["network"]["publicNetworkAccess"],
        "Disabled"
    );
    let acct = stored(&m, &account_id(&eff)).expect("account");
    assert_eq!(acct["properties"]["publicNetworkAccess"], "Disabled");
    assert_eq!(acct["properties"]["networkAcls"]["defaultAction"], "Deny");
    let before = m.journal().len();
    assert_eq!(pass(&arm, &eff, &fixed.status).await.writes, 0);
    assert_eq!(writes_since(&m, before), vec![]);
}

#[tokio::test]
async fn teardown_removes_the_planes_own_endpoints_first_and_leaves_others() {
    let mut eff = uat();
    let (m, arm) = mock_for(&eff).await;
    let out = converge(&m, &arm, &eff, Default::default()).await;
    assert!(out.ready(), "{:#?}", out.status);
    // The network team's own endpoint to the same server: not the plane's.
    let theirs = pe_id(&eff, "network-team-pe");
    let body = json!({"location": "eastus2", "properties": {
        "subnet": {"id": eff.postgres.network.private_endpoint.as_ref().expect("declared").subnet_id},
        "privateLinkServiceConnections": [{"name": "c", "properties": {"privateLinkServiceId": server_id(&eff), "groupIds": ["postgresqlServer"]}}]}});
    outside_write_at(&m, Method::Put, &theirs, NET, &body.to_string()).await;
    m.advance(LRO);

    eff.deletion = DeletionPolicy::Delete;
    let before = m.journal().len();
    let mut status = out.status;
    let mut done = false;
    for _ in 0..10 {
        let c = cleanup(&arm, &eff, &status, &ctx()).await;
        assert!(c.refused.is_empty(), "{:?}", c.refused);
        status = c.status;
        if c.done {
            done = true;
            break;
        }
        m.advance(LRO);
    }
    assert!(done, "{status:#?}");
    let deletes: Vec<String> = writes_since(&m, before)
        .into_iter()
        .filter(|(v, _)| v == "DELETE")
        .map(|(_, p)| p)
        .collect();
    let at = |needle: &str| {
        deletes
            .iter()
            .position(|p| p.contains(needle))
            .unwrap_or_else(|| panic!("{needle} in {deletes:?}"))
    };
    // The resources themselves (the plane's diagnostic settings on them go earlier).
    let whole = |end: &str| {
        deletes
            .iter()
            .position(|p| p.ends_with(end))
            .unwrap_or_else(|| panic!("{end} in {deletes:?}"))
    };
    let server = whole("/flexibleServers/acme-uat-pg");
    let account = whole("/storageAccounts/acmeengramuat");
    for pe in [
        "/privateEndpoints/acme-uat-pg-pe",
        "/privateEndpoints/acmeengramuat-blob-pe",
    ] {
        assert!(
            at(pe) < server.min(account),
            "{pe} before the server and the account: {deletes:?}"
        );
    }
    assert!(
        !deletes.iter().any(|p| p.contains("network-team-pe")),
        "never deletes what it does not own"
    );
    assert!(stored(&m, &theirs).is_some());
    let gone = arm.observe(&eff).await.expect("observe");
    assert!(gone.postgres.server.is_none() && gone.storage.account.is_none());
}
