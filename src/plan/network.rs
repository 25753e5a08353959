//! Planner for network isolation (pure): the private endpoint of each service with its `default`
//! private DNS zone group, waiting until the target lists the connection Approved; the server's
//! public access and VNet integration (create-time only); the account's network rules.
//!
//! An endpoint is created once its target exists, with the owner tags; its subnet, target and
//! group are fixed (a change is refused: it requires re-creation). Nothing here deletes an
//! endpoint: only the teardown under `deletion: delete` does, and only the plane's own.

use super::observed_network::{ObservedConnection, ObservedNetworkAcls, ObservedPrivateEndpoint};
use super::{
    Action, FieldChange, Observed, ObservedServer, Op, PgServerPatch, Plan, Refusal, Verb,
};
use crate::api::network::{PrivateEndpointSpec, BLOB_GROUP_ID, PG_GROUP_ID};
use crate::api::spec::PublicNetworkAccess;
use crate::api::EffectiveSpec;

/// The API version of Microsoft.Network the operator speaks.
pub const NETWORK_API_VERSION: &str = "2024-05-01";
/// The name of the DNS zone group the operator puts on its endpoints.
pub const ZONE_GROUP: &str = "default";
/// The connection state that lets traffic through.
pub const APPROVED: &str = "Approved";

/// Where a private endpoint lives (the data plane's resource group).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointTarget {
    pub subscription_id: String,
    pub resource_group: String,
    pub name: String,
}

/// The full desired endpoint, for one create PUT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointCreate {
    pub location: String,
    pub subnet_id: String,
    /// The server or account it reaches, and the private-link group.
    pub target_id: String,
    pub group_id: String,
    /// The owner tags (set by the ownership gate, `owner::gate`).
    pub tags: std::collections::BTreeMap<String, String>,
}

/// The network writes (the `Op::Network` payload).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetworkOp {
    /// PUT the endpoint (create; long-running).
    PutEndpoint(EndpointTarget, Box<EndpointCreate>),
    /// PUT its `default` DNS zone group with this one zone (long-running).
    PutZoneGroup(EndpointTarget, String),
    /// DELETE the endpoint and its zone group (teardown only).
    DeleteEndpoint(EndpointTarget),
}

/// The two services an endpoint can serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Postgres,
    Blob,
}

impl Service {
    /// The endpoint's name: `{server}-pe`, `{account}-blob-pe`.
    pub fn endpoint_name(self, eff: &EffectiveSpec) -> String {
        match self {
            Self::Postgres => format!("{}-pe", eff.postgres.server_name),
            Self::Blob => format!("{}-blob-pe", eff.storage.account_name),
        }
    }

    pub fn group_id(self) -> &'static str {
        match self {
            Self::Postgres => PG_GROUP_ID,
            Self::Blob => BLOB_GROUP_ID,
        }
    }

    /// The declared endpoint of this service.
    pub fn declared(self, eff: &EffectiveSpec) -> Option<&PrivateEndpointSpec> {
        match self {
            Self::Postgres => eff.postgres.network.private_endpoint.as_ref(),
            Self::Blob => eff.storage.network.private_endpoint.as_ref(),
        }
    }

    /// The ARM id of the resource the endpoint reaches.
    pub fn target_id(self, eff: &EffectiveSpec) -> String {
        match self {
            Self::Postgres => super::owner::server_id(eff),
            Self::Blob => super::owner::account_id(eff),
        }
    }

    /// The observed endpoint of this service.
    pub fn observed(self, o: &Observed) -> Option<&ObservedPrivateEndpoint> {
        match self {
            Self::Postgres => o.postgres.private_endpoint.as_ref(),
            Self::Blob => o.storage.private_endpoint.as_ref(),
        }
    }
}

/// The resource label of an endpoint in status, drift and plan output.
pub fn resource_label(name: &str) -> String {
    format!("privateEndpoint/{name}")
}

/// Where a service's endpoint lives.
pub fn endpoint_target(eff: &EffectiveSpec, service: Service) -> EndpointTarget {
    EndpointTarget {
        subscription_id: eff.azure.subscription_id.clone(),
        resource_group: eff.azure.resource_group.clone(),
        name: service.endpoint_name(eff),
    }
}

/// The ARM id of a service's endpoint.
pub fn endpoint_id(eff: &EffectiveSpec, service: Service) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/privateEndpoints/{}",
        eff.azure.subscription_id,
        eff.azure.resource_group,
        service.endpoint_name(eff)
    )
}

fn same(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

/// Endpoints still being written or deleted take no write (the same provisioning states as an
/// account's).
pub use super::storage_account::is_busy;

/// The approval state the target lists for endpoint `pe_id` (None: not listed).
pub fn connection_status<'a>(
    connections: &'a [ObservedConnection],
    pe_id: &str,
) -> Option<&'a str> {
    connections
        .iter()
        .find(|c| same(&c.private_endpoint_id, pe_id))
        .map(|c| c.status.as_str())
}

/// Plan both services' private endpoints.
pub fn plan(eff: &EffectiveSpec, observed: &Observed) -> Plan {
    let mut plan = Plan::default();
    let pg = observed
        .postgres
        .server
        .as_ref()
        .map(|s| (s.state.as_str(), &s.connections));
    let st = observed
        .storage
        .account
        .as_ref()
        .map(|a| (a.provisioning_state.as_str(), &a.connections));
    for (service, target) in [(Service::Postgres, pg), (Service::Blob, st)] {
        if let Some(want) = service.declared(eff) {
            endpoint(
                &mut plan,
                eff,
                service,
                want,
                target,
                service.observed(observed),
            );
        }
    }
    plan
}

fn endpoint(
    plan: &mut Plan,
    eff: &EffectiveSpec,
    service: Service,
    want: &PrivateEndpointSpec,
    target: Option<(&str, &Vec<ObservedConnection>)>,
    pe: Option<&ObservedPrivateEndpoint>,
) {
    let t = endpoint_target(eff, service);
    let label = resource_label(&t.name);
    let target_id = service.target_id(eff);
    let target_name = target_id.rsplit('/').next().unwrap_or_default().to_owned();
    let Some((state, connections)) = target else {
        plan.notes
            .push(format!("{label}: created once {target_name} exists"));
        return;
    };
    let settled = match service {
        Service::Postgres => state.eq_ignore_ascii_case("Ready"),
        Service::Blob => !super::storage_account::is_busy(state),
    };
    if pe.is_none() && !settled {
        plan.notes.push(format!(
            "{label}: created once {target_name} is ready (now {state})"
        ));
        return;
    }
    let created = |field: &str, desired: &str| FieldChange {
        field: field.into(),
        observed: None,
        desired: desired.into(),
    };
    let Some(pe) = pe else {
        plan.actions.push(Action {
            resource: label,
            verb: Verb::Create,
            changes: vec![
                created("subnet", &want.subnet_id),
                created("privateLinkServiceId", &target_id),
                created("groupIds", service.group_id()),
            ],
            op: Op::Network(NetworkOp::PutEndpoint(
                t,
                Box::new(EndpointCreate {
                    location: eff.azure.location.clone(),
                    subnet_id: want.subnet_id.clone(),
                    target_id,
                    group_id: service.group_id().into(),
                    tags: Default::default(),
                }),
            )),
        });
        return;
    };
    if is_busy(&pe.provisioning_state) {
        plan.waiting.push(format!(
            "{label} is {}: no write until it settles",
            pe.provisioning_state
        ));
        return;
    }
    let mut refuse = |field: &str, observed: &str, desired: &str| {
        plan.refused.push(Refusal {
            resource: label.clone(),
            field: field.into(),
            reason: format!("{observed} → {desired}: a private endpoint's {field} is fixed; changing it requires re-creation (delete the endpoint; the operator creates it again)"),
        })
    };
    let group_ok = pe
        .group_ids
        .iter()
        .any(|g| g.eq_ignore_ascii_case(service.group_id()));
    let mut fixed = true;
    for (field, seen, desired, ok) in [
        (
            "subnet",
            pe.subnet_id.as_str(),
            want.subnet_id.as_str(),
            same(&pe.subnet_id, &want.subnet_id),
        ),
        (
            "privateLinkServiceId",
            pe.target_id.as_str(),
            target_id.as_str(),
            same(&pe.target_id, &target_id),
        ),
        (
            "groupIds",
            &pe.group_ids.join(","),
            service.group_id(),
            group_ok,
        ),
    ] {
        if !ok {
            refuse(field, seen, desired);
            fixed = false;
        }
    }
    if !fixed {
        return;
    }
    let zone_ok = pe
        .dns_zones
        .as_ref()
        .is_some_and(|z| z.len() == 1 && same(&z[0], &want.private_dns_zone_id));
    if !zone_ok || pe.provisioning_state.eq_ignore_ascii_case("Failed") {
        let field = format!("privateDnsZoneGroups/{ZONE_GROUP}");
        let change = match &pe.dns_zones {
            None => created(&field, &want.private_dns_zone_id),
            Some(z) => {
                let c = FieldChange::new(field, z.join(","), &want.private_dns_zone_id);
                plan.drift.push((label.clone(), c.clone()));
                c
            }
        };
        plan.actions.push(Action {
            resource: label.clone(),
            verb: if pe.dns_zones.is_none() {
                Verb::Create
            } else {
                Verb::Update
            },
            changes: vec![change],
            op: Op::Network(NetworkOp::PutZoneGroup(t, want.private_dns_zone_id.clone())),
        });
    }
    match connection_status(connections, &pe.id) {
        Some(s) if s.eq_ignore_ascii_case(APPROVED) => {}
        Some(s) if s.eq_ignore_ascii_case("Rejected") || s.eq_ignore_ascii_case("Disconnected") => {
            plan.refused.push(Refusal {
                resource: label,
                field: "connection".into(),
                reason: format!("{s} on {target_id}: the resource's owner must approve it again (or delete the endpoint so that it is created again)"),
            })
        }
        s => plan.waiting.push(format!(
            "{label}: waiting until {} lists the connection Approved (now {})",
            target_id.rsplit('/').next().unwrap_or_default(),
            s.unwrap_or("not listed")
        )),
    }
}

fn access_name(p: PublicNetworkAccess) -> &'static str {
    match p {
        PublicNetworkAccess::Enabled => "Enabled",
        PublicNetworkAccess::Disabled => "Disabled",
    }
}

/// The server's network settings on its create PUT: public access, and VNet integration.
pub fn server_create(eff: &EffectiveSpec) -> (String, Option<String>, Option<String>) {
    let n = &eff.postgres.network;
    (
        access_name(n.public_access).into(),
        n.delegated_subnet_resource_id.clone(),
        n.private_dns_zone_arm_resource_id.clone(),
    )
}

/// Compare an existing server's network: public access goes into the PATCH; VNet integration is
/// chosen at create, so a spec that adds, removes or moves it is refused.
pub fn server_diff(
    eff: &EffectiveSpec,
    s: &ObservedServer,
    p: &mut PgServerPatch,
    ch: &mut Vec<FieldChange>,
) -> Option<(String, String)> {
    let n = &eff.postgres.network;
    let want = n.delegated_subnet_resource_id.as_deref();
    let seen = s.delegated_subnet.as_deref().filter(|d| !d.is_empty());
    let moved = match (seen, want) {
        (None, None) => None,
        (Some(a), Some(b)) if same(a, b) => None,
        (None, Some(_)) => {
            Some("adding VNet integration (delegatedSubnetResourceId) to an existing server")
        }
        (Some(_), None) => {
            Some("removing VNet integration (delegatedSubnetResourceId) from an existing server")
        }
        (Some(_), Some(_)) => Some("moving an existing server to another delegated subnet"),
    };
    if let Some(what) = moved {
        return Some((
            "network.delegatedSubnetResourceId".into(),
            format!("{what} requires re-creation (VNet integration is chosen when the server is created)"),
        ));
    }
    let access = s.public_network_access.as_deref().unwrap_or("Enabled");
    let desired = access_name(n.public_access);
    if !access.eq_ignore_ascii_case(desired) {
        p.public_network_access = Some(desired.into());
        ch.push(FieldChange::new(
            "network.publicNetworkAccess",
            access,
            desired,
        ));
    }
    None
}

/// The account's desired network rules: default action Deny, bypass AzureServices, the declared
/// IP and virtual network rules.
pub fn desired_acls(eff: &EffectiveSpec) -> ObservedNetworkAcls {
    let n = &eff.storage.network;
    ObservedNetworkAcls {
        default_action: Some("Deny".into()),
        bypass: Some("AzureServices".into()),
        ip_rules: n.ip_rules.clone(),
        virtual_network_rules: n.virtual_network_rules.clone(),
    }
}

fn normalized(a: &ObservedNetworkAcls) -> (String, String, Vec<String>, Vec<String>) {
    let mut bypass: Vec<String> = a
        .bypass
        .as_deref()
        .unwrap_or("AzureServices")
        .split(',')
        .map(|b| b.trim().to_ascii_lowercase())
        .filter(|b| !b.is_empty())
        .collect();
    bypass.sort();
    let mut ips: Vec<String> = a
        .ip_rules
        .iter()
        .map(|r| r.trim_end_matches("/32").to_owned())
        .collect();
    ips.sort();
    let mut vnets: Vec<String> = a
        .virtual_network_rules
        .iter()
        .map(|r| r.to_ascii_lowercase())
        .collect();
    vnets.sort();
    (
        a.default_action
            .as_deref()
            .unwrap_or("Allow")
            .to_ascii_lowercase(),
        bypass.join(","),
        ips,
        vnets,
    )
}

/// True when the account's rules match the desired ones (case, `/32`, order and bypass
/// spelling are not drift).
pub fn acls_match(observed: &ObservedNetworkAcls, desired: &ObservedNetworkAcls) -> bool {
    normalized(observed) == normalized(desired)
}

/// A one-line summary of network rules, for drift.
pub fn acls_text(a: &ObservedNetworkAcls) -> String {
    format!(
        "defaultAction {}, bypass {}, ipRules [{}], virtualNetworkRules {}",
        a.default_action.as_deref().unwrap_or("Allow"),
        a.bypass.as_deref().unwrap_or("AzureServices"),
        a.ip_rules.join(", "),
        a.virtual_network_rules.len()
    )
}
