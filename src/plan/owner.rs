//! Ownership before adoption and deletion (pure). What the operator creates carries
//! `engram-owner: {namespace}/{name}` and `managed-by: engram-operator` (Azure forbids `/` in tag
//! names, not in values). A server or account that exists without this plane's tag is written to
//! only when the spec says so (`policy.adopt` for an untagged one, `policy.adoptFrom` for one
//! tagged by another owner), and then the tag goes on first. One this plane's status already
//! records (made by an earlier version) is tagged without `adopt`. A resource this plane owned
//! that vanished is created again only under `policy.recreateDeleted`, with a Warning.
//!
//! Configurations, lifecycle policies, containers, immutability policies and diagnostic settings
//! cannot carry tags:
//! they belong to whoever owns their parent, so a refused parent holds every write under it.

use std::collections::{BTreeMap, BTreeSet};

use super::diagnostics::DiagScope;
use super::network::{self, NetworkOp, Service};
use super::storage_ops::StorageOp;
use super::{Action, FieldChange, Observed, Op, Plan, Refusal, Verb};
use crate::api::EffectiveSpec;

/// The tag naming the owning data plane.
pub const OWNER_TAG: &str = "engram-owner";
/// The tag naming the tool.
pub const MANAGED_BY_TAG: &str = "managed-by";
/// Its value.
pub const MANAGED_BY: &str = "engram-operator";
/// Refusal reason: the resource exists and is not this plane's.
pub const NOT_OWNED: &str = "NotOwned";
/// Refusal reason: the resource this plane owned was deleted outside the operator.
pub const RESOURCE_DELETED: &str = "ResourceDeleted";
/// Note marker: a deleted resource is being created again (a Warning Event of its own).
pub const RECREATED: &str = "RecreatedAfterDeletion";

/// The tags of everything this plane creates.
pub fn owner_tags(owner: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (OWNER_TAG.to_owned(), owner.to_owned()),
        (MANAGED_BY_TAG.to_owned(), MANAGED_BY.to_owned()),
    ])
}

/// What this plane may do with an existing resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Tagged for this plane.
    Ours,
    /// Not tagged for this plane, but it may take it: write the tag first (why: the reason).
    Claim(String),
    /// Not this plane's: nothing is written to it or under it.
    Refuse(String),
}

/// The verdict for an existing resource with `tags`. `recorded`: this plane's status already
/// names the resource as its own (it was created before tags existed).
pub fn verdict(
    owner: &str,
    tags: &BTreeMap<String, String>,
    eff: &EffectiveSpec,
    recorded: bool,
) -> Verdict {
    let tagged = tags
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(OWNER_TAG))
        .map(|(_, v)| v.as_str());
    match tagged {
        Some(o) if o == owner => Verdict::Ours,
        Some(other) if eff.adopt_from.as_deref() == Some(other) => {
            Verdict::Claim(format!("ownership transferred from {other}"))
        }
        Some(other) => Verdict::Refuse(format!(
            "{NOT_OWNED}: it is tagged {OWNER_TAG}={other}; set policy.adoptFrom: {other} to take it over"
        )),
        None if recorded => Verdict::Claim("owned before owner tags existed".into()),
        None if eff.adopt => Verdict::Claim("adopted (policy.adopt)".into()),
        None => Verdict::Refuse(format!(
            "{NOT_OWNED}: it exists without an {OWNER_TAG} tag (made outside this data plane); set policy.adopt: true to adopt it"
        )),
    }
}

/// Which ids this plane's previous status records as its own (lower case).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recorded(pub BTreeSet<String>);

impl Recorded {
    pub fn new<'a>(ids: impl IntoIterator<Item = Option<&'a String>>) -> Self {
        Self(
            ids.into_iter()
                .flatten()
                .map(|i| i.to_ascii_lowercase())
                .collect(),
        )
    }
    fn has(&self, id: &str) -> bool {
        self.0.contains(&id.to_ascii_lowercase())
    }
}

fn is_server_op(op: &Op) -> bool {
    matches!(
        op,
        Op::PgCreate(..)
            | Op::PgPatch(..)
            | Op::PgStart(..)
            | Op::PgStop(..)
            | Op::PgRestart(..)
            | Op::PgConfigure(..)
            | Op::FirewallPut(..)
            | Op::FirewallDelete(..)
            | Op::EntraAdminPut(..)
            | Op::AlertPut(..)
    ) || matches!(op, Op::DiagPut(t, _) if t.scope == DiagScope::Server)
}

fn is_storage_op(op: &Op) -> bool {
    matches!(op, Op::Storage(_))
        || matches!(op, Op::DiagPut(t, _) if t.scope == DiagScope::BlobService)
}

/// The id of the server or account a plane declares.
pub fn server_id(eff: &EffectiveSpec) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.DBforPostgreSQL/flexibleServers/{}",
        eff.azure.subscription_id, eff.azure.resource_group, eff.postgres.server_name
    )
}

/// See [`server_id`].
pub fn account_id(eff: &EffectiveSpec) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Storage/storageAccounts/{}",
        eff.azure.subscription_id, eff.azure.resource_group, eff.storage.account_name
    )
}

/// One parent resource (server or account) as the gate sees it.
struct Parent<'a> {
    label: String,
    id: String,
    tags: Option<&'a BTreeMap<String, String>>,
    /// Why a write cannot go now (a stopped or busy server): the tag waits too.
    not_now: Option<String>,
    /// The actions that write to it or under it (given the parent's label).
    owns: fn(&Action, &str) -> bool,
    /// Whether it may be adopted (tagged); a private endpoint never is.
    claimable: bool,
    deleted_hint: &'static str,
}

/// Apply ownership to a plan: refuse what is not this plane's, claim what it may take (the tag
/// write goes first), put the owner tags on every create, and decide about a resource this plane
/// owned that has vanished.
pub fn gate(
    mut plan: Plan,
    eff: &EffectiveSpec,
    observed: &Observed,
    owner: &str,
    recorded: &Recorded,
) -> Plan {
    let mut parents = vec![
        Parent {
            label: super::postgres::resource_label(eff),
            id: server_id(eff),
            tags: observed.postgres.server.as_ref().map(|s| &s.tags),
            not_now: observed.postgres.server.as_ref().and_then(|s| {
                let stopped = s.state.eq_ignore_ascii_case("Stopped");
                (stopped || super::rules::is_busy(&s.state)).then(|| s.state.clone())
            }),
            owns: |a, _| is_server_op(&a.op),
            claimable: true,
            deleted_hint: "a deleted flexible server can be restored from its backups within the retention period",
        },
        Parent {
            label: super::storage_account::resource_label(eff),
            id: account_id(eff),
            tags: observed.storage.account.as_ref().map(|a| &a.tags),
            not_now: None,
            owns: |a, _| is_storage_op(&a.op),
            claimable: true,
            deleted_hint: "a deleted storage account can be recovered within 14 days unless its name is taken",
        },
    ];
    for service in [Service::Postgres, Service::Blob] {
        if let Some(pe) = service.observed(observed) {
            parents.push(Parent {
                label: network::resource_label(&service.endpoint_name(eff)),
                id: pe.id.clone(),
                tags: Some(&pe.tags),
                not_now: None,
                owns: |a, label| a.resource == label,
                claimable: false,
                deleted_hint: "",
            });
        }
    }
    let mut claims = Vec::new();
    for p in parents {
        let hold = |plan: &mut Plan, reason: String| {
            plan.actions.retain(|a| !(p.owns)(a, &p.label));
            plan.refused.push(Refusal {
                resource: p.label.clone(),
                field: "ownership".into(),
                reason,
            });
        };
        match p.tags {
            None if recorded.has(&p.id) => {
                if eff.recreate_deleted {
                    plan.notes.push(format!(
                        "{RECREATED}: {} was deleted outside the operator and is created again, empty ({})",
                        p.label, p.deleted_hint
                    ));
                } else {
                    hold(
                        &mut plan,
                        format!(
                            "{RESOURCE_DELETED}: it was deleted outside the operator; {}; set policy.recreateDeleted: true to create it again, empty",
                            p.deleted_hint
                        ),
                    );
                }
            }
            None => {}
            Some(tags) => match verdict(owner, tags, eff, recorded.has(&p.id)) {
                Verdict::Ours => {}
                Verdict::Refuse(why) => hold(&mut plan, why),
                Verdict::Claim(_) if !p.claimable => hold(
                    &mut plan,
                    format!("{NOT_OWNED}: it exists without this plane's {OWNER_TAG} tag, and a private endpoint is never adopted: delete it (the operator then creates its own) or point the spec elsewhere"),
                ),
                Verdict::Claim(why) if p.not_now.is_some() => plan.notes.push(format!(
                    "{}: {why}; the owner tag is added once it is no longer {}",
                    p.label,
                    p.not_now.as_deref().unwrap_or_default()
                )),
                Verdict::Claim(why) => {
                    let mut merged = tags.clone();
                    merged.extend(owner_tags(owner));
                    claims.push(Action {
                        resource: p.label.clone(),
                        verb: Verb::Tag,
                        changes: vec![FieldChange::new(
                            format!("tags.{OWNER_TAG}"),
                            tags.get(OWNER_TAG).map_or("-", String::as_str),
                            owner,
                        )],
                        op: Op::SetTags(p.id.clone(), merged),
                    });
                    plan.notes
                        .push(format!("{}: {why}; owner tag added", p.label));
                }
            },
        }
    }
    // The tag goes on before any other write to the same resource (one write per resource per
    // pass: the others follow in the next pass, to a resource that is then ours).
    for c in claims.into_iter().rev() {
        plan.actions.insert(0, c);
    }
    let tags = owner_tags(owner);
    for a in &mut plan.actions {
        match &mut a.op {
            Op::PgCreate(_, c) => c.tags = tags.clone(),
            Op::Storage(StorageOp::CreateAccount(_, c)) => c.tags = tags.clone(),
            Op::AlertPut(_, r) => r.tags = tags.clone(),
            Op::Network(NetworkOp::PutEndpoint(_, c)) => c.tags = tags.clone(),
            _ => {}
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eff() -> EffectiveSpec {
        crate::api::load(include_str!("../../examples/dev.yaml"))
            .expect("dev")
            .1
    }

    fn tags(owner: Option<&str>) -> BTreeMap<String, String> {
        let mut t = BTreeMap::from([("team".to_owned(), "data".to_owned())]);
        if let Some(o) = owner {
            t.insert(OWNER_TAG.into(), o.into());
        }
        t
    }

    #[test]
    fn verdicts() {
        let mut e = eff();
        let me = "folder/acme-dev";
        assert_eq!(verdict(me, &tags(Some(me)), &e, false), Verdict::Ours);
        assert!(
            matches!(verdict(me, &tags(None), &e, false), Verdict::Refuse(r) if r.starts_with(NOT_OWNED))
        );
        assert!(matches!(
            verdict(me, &tags(None), &e, true),
            Verdict::Claim(_)
        ));
        assert!(
            matches!(verdict(me, &tags(Some("engram/x")), &e, true), Verdict::Refuse(r) if r.contains("adoptFrom: engram/x"))
        );
        e.adopt = true;
        assert!(matches!(
            verdict(me, &tags(None), &e, false),
            Verdict::Claim(_)
        ));
        assert!(matches!(
            verdict(me, &tags(Some("engram/x")), &e, false),
            Verdict::Refuse(_)
        ));
        e.adopt_from = Some("engram/x".into());
        assert!(
            matches!(verdict(me, &tags(Some("engram/x")), &e, false), Verdict::Claim(w) if w.contains("engram/x"))
        );
    }

    #[test]
    fn owner_tag_names_have_no_slash_and_values_name_the_plane() {
        let t = owner_tags("engram/acme-prod");
        assert!(t.keys().all(|k| !k.contains('/')));
        assert_eq!(t[OWNER_TAG], "engram/acme-prod");
        assert_eq!(t[MANAGED_BY_TAG], MANAGED_BY);
    }
}
