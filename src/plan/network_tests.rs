//! Table tests of the network planners: endpoints, approval, fixed fields, VNet integration,
//! firewall rules and the teardown order.

use super::network::{self, NetworkOp, Service};
use super::observed_network::*;
use super::*;
use crate::api::EffectiveSpec;

fn prod() -> EffectiveSpec {
    crate::api::load(include_str!("../../examples/prod.yaml"))
        .expect("prod")
        .1
}

/// What ARM shows for a service whose declared endpoint exists, approved, with its zone group
/// (nothing when none is declared).
pub(super) fn in_sync(
    eff: &EffectiveSpec,
    service: Service,
) -> (Option<ObservedPrivateEndpoint>, Vec<ObservedConnection>) {
    let Some(want) = service.declared(eff) else {
        return (None, Vec::new());
    };
    let id = network::endpoint_id(eff, service);
    let pe = ObservedPrivateEndpoint {
        id: id.clone(),
        tags: owner::owner_tags(OWNER),
        provisioning_state: "Succeeded".into(),
        subnet_id: want.subnet_id.clone(),
        target_id: service.target_id(eff),
        group_ids: vec![service.group_id().into()],
        private_ip: Some("10.0.0.4".into()),
        dns_zones: Some(vec![want.private_dns_zone_id.clone()]),
    };
    let conn = ObservedConnection {
        private_endpoint_id: id,
        status: network::APPROVED.into(),
    };
    (Some(pe), vec![conn])
}

const OWNER: &str = "folder/acme-prod";

fn observed(eff: &EffectiveSpec) -> Observed {
    super::storage_tests::with_pg(eff, super::tests::in_sync(eff))
}

fn net_ops(p: &Plan) -> Vec<&NetworkOp> {
    p.actions
        .iter()
        .filter_map(|a| match &a.op {
            Op::Network(n) => Some(n),
            _ => None,
        })
        .collect()
}

#[test]
fn an_in_sync_plane_plans_nothing_for_its_endpoints() {
    let e = prod();
    let p = network::plan(&e, &observed(&e));
    assert!(p.in_sync(), "{p:#?}");
}

#[test]
fn endpoints_are_created_with_the_owner_tag_then_zone_groups_then_awaited() {
    let e = prod();
    let mut o = observed(&e);
    o.postgres.private_endpoint = None;
    o.storage.private_endpoint = None;
    let p = owner::gate(network::plan(&e, &o), &e, &o, OWNER, &Default::default());
    let ops = net_ops(&p);
    assert_eq!(ops.len(), 2, "{ops:?}");
    match ops[0] {
        NetworkOp::PutEndpoint(t, c) => {
            assert_eq!(t.name, "acme-prod-pg-pe");
            assert_eq!(c.group_id, "postgresqlServer");
            assert_eq!(
                c.tags.get(owner::OWNER_TAG).map(String::as_str),
                Some(OWNER)
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(ops[1], NetworkOp::PutEndpoint(t, c) if t.name == "acmeengramprod-blob-pe" && c.group_id == "blob")
    );
    assert!(p.drift.is_empty(), "creating is not drift");

    // Created, not approved yet, no zone group: the zone group goes on, and the plane waits.
    let mut o = observed(&e);
    if let Some(pe) = o.postgres.private_endpoint.as_mut() {
        pe.dns_zones = None;
    }
    if let Some(s) = o.postgres.server.as_mut() {
        s.connections[0].status = "Pending".into();
    }
    let p = network::plan(&e, &o);
    assert!(
        matches!(net_ops(&p)[..], [NetworkOp::PutZoneGroup(_, z)] if z.ends_with("privatelink.postgres.database.azure.com"))
    );
    assert_eq!(p.waiting.len(), 1, "{:?}", p.waiting);
    assert!(p.waiting[0].contains("Approved") && p.waiting[0].contains("Pending"));
    // Nothing is created before the server exists.
    let mut o = observed(&e);
    o.postgres.server = None;
    o.postgres.private_endpoint = None;
    let p = network::plan(&e, &o);
    assert_eq!(net_ops(&p).len(), 0);
    assert!(p
        .notes
        .iter()
        .any(|n| n.contains("created once acme-prod-pg exists")));
}

#[test]
fn fixed_fields_are_refused_and_a_foreign_endpoint_is_not_written() {
    let e = prod();
    let mut o = observed(&e);
    if let Some(pe) = o.storage.private_endpoint.as_mut() {
        pe.subnet_id = pe.subnet_id.replace("private-endpoints", "elsewhere");
        pe.dns_zones = None;
    }
    let p = network::plan(&e, &o);
    assert!(net_ops(&p).is_empty(), "{:?}", p.actions);
    assert_eq!(p.refused.len(), 1);
    assert_eq!(p.refused[0].field, "subnet");
    assert!(p.refused[0].reason.contains("requires re-creation"));
    // An endpoint of the same name tagged for another plane: refused, nothing written to it.
    let mut o = observed(&e);
    if let Some(pe) = o.postgres.private_endpoint.as_mut() {
        pe.tags = owner::owner_tags("engram/other");
        pe.dns_zones = None;
    }
    let p = owner::gate(network::plan(&e, &o), &e, &o, OWNER, &Default::default());
    assert!(net_ops(&p).is_empty(), "{:?}", p.actions);
    assert!(p
        .refused
        .iter()
        .any(|r| r.reason.starts_with(owner::NOT_OWNED)));
    // Untagged, even with policy.adopt: endpoints are never adopted.
    let mut e2 = e.clone();
    e2.adopt = true;
    if let Some(pe) = o.postgres.private_endpoint.as_mut() {
        pe.tags.clear();
    }
    let p = owner::gate(network::plan(&e2, &o), &e2, &o, OWNER, &Default::default());
    assert!(net_ops(&p).is_empty() && !p.refused.is_empty());
}

#[test]
fn public_access_is_patched_and_vnet_integration_is_create_time_only() {
    let e = prod();
    let mut pg = super::tests::in_sync(&e);
    if let Some(s) = pg.server.as_mut() {
        s.public_network_access = Some("Enabled".into());
    }
    let p = postgres::plan(&e, &pg, time::OffsetDateTime::now_utc());
    let patch = p.actions.iter().find_map(|a| match &a.op {
        Op::PgPatch(_, p) => Some(p),
        _ => None,
    });
    assert_eq!(
        patch.and_then(|p| p.public_network_access.as_deref()),
        Some("Disabled")
    );
    assert!(p
        .drift
        .iter()
        .any(|(_, c)| c.field == "network.publicNetworkAccess"));
    if let Some(s) = pg.server.as_mut() {
        s.delegated_subnet = Some("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/pg".into());
    }
    let p = postgres::plan(&e, &pg, time::OffsetDateTime::now_utc());
    let r = p
        .refused
        .iter()
        .find(|r| r.field == "network.delegatedSubnetResourceId")
        .expect("refused");
    assert!(r.reason.contains("requires re-creation"), "{}", r.reason);
}

#[test]
fn firewall_rules_are_corrected_and_someone_elses_kept_unless_exclusive() {
    let mut e = crate::api::load(include_str!("../../examples/test.yaml"))
        .expect("test")
        .1;
    let tgt = postgres::target(&e);
    let rule = |s: &str, t: &str| ObservedFirewallRule {
        start_ip_address: s.into(),
        end_ip_address: t.into(),
    };
    let observed = std::collections::BTreeMap::from([
        (
            "ci-runners".to_owned(),
            rule("203.0.113.0", "203.0.113.255"),
        ),
        (
            "portal-added".to_owned(),
            rule("198.51.100.1", "198.51.100.1"),
        ),
    ]);
    let p = firewall::plan(&e, Some(&observed), "postgres/x", &tgt);
    assert_eq!(p.actions.len(), 1);
    assert!(
        matches!(&p.actions[0].op, Op::FirewallPut(_, r) if r.end_ip_address == "203.0.113.31")
    );
    assert_eq!(
        p.actions[0].changes[0].observed.as_deref(),
        Some("203.0.113.0-203.0.113.255")
    );
    assert!(p
        .notes
        .iter()
        .any(|n| n.contains("portal-added") && n.contains("kept")));
    e.postgres.network.firewall_rules_exclusive = true;
    let p = firewall::plan(&e, Some(&observed), "postgres/x", &tgt);
    assert!(p
        .actions
        .iter()
        .any(|a| matches!(&a.op, Op::FirewallDelete(_, n) if n == "portal-added")));
    assert!(firewall::plan(&e, None, "postgres/x", &tgt)
        .actions
        .is_empty());
}

#[test]
fn teardown_deletes_the_planes_endpoints_before_the_server_and_account() {
    let mut e = prod();
    e.deletion = crate::api::spec::DeletionPolicy::Delete;
    let mut o = observed(&e);
    for t in [
        o.postgres.server.as_mut().map(|s| &mut s.tags),
        o.storage.account.as_mut().map(|a| &mut a.tags),
    ]
    .into_iter()
    .flatten()
    {
        *t = owner::owner_tags(OWNER);
    }
    // The prod example's record-plane container holds a legal hold: clear it for this test.
    o.storage.containers.clear();
    o.alerts.clear();
    let p = deletion::plan(&e, &o, OWNER);
    let deletes: Vec<&str> = p.actions.iter().map(|a| a.resource.as_str()).collect();
    assert_eq!(
        deletes,
        [
            "privateEndpoint/acme-prod-pg-pe",
            "privateEndpoint/acmeengramprod-blob-pe"
        ],
        "only the endpoints in this pass"
    );
    assert!(p
        .waiting
        .iter()
        .any(|w| w.starts_with("postgres/acme-prod-pg")));
    assert!(p
        .waiting
        .iter()
        .any(|w| w.starts_with("storage/acmeengramprod")));
    // An endpoint that is not the plane's stays; the server and account go.
    if let Some(pe) = o.postgres.private_endpoint.as_mut() {
        pe.tags.clear();
    }
    o.storage.private_endpoint = None;
    let p = deletion::plan(&e, &o, OWNER);
    let deletes: Vec<&str> = p.actions.iter().map(|a| a.resource.as_str()).collect();
    assert_eq!(deletes, ["postgres/acme-prod-pg", "storage/acmeengramprod"]);
    assert!(p
        .notes
        .iter()
        .any(|n| n.contains("acme-prod-pg-pe is not this plane's")));
}
