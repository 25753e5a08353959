//! Planner for blob containers, their time-based immutability policies and their legal holds.
//!
//! A missing container is created (publicAccess None) together with its policy and holds; an
//! existing one gets only the writes that differ. Safety rules live in `retention`. Never removed
//! here: a legal hold this plane did not set (status memory), or an undeclared container unless
//! `storage.pruneUndeclaredContainers` (and then never a protected one).

use std::collections::{BTreeMap, BTreeSet};

use super::observed_storage::ObservedContainer;
use super::retention::{self, DeleteVerdict, ImmutabilityStep};
use super::storage_ops::{AccountTarget, ContainerRef, StorageOp};
use super::{Action, FieldChange, Memory, Op, Plan, Refusal, Verb};
use crate::api::spec::{ContainerSpec, DeletionPolicy};

/// The resource label of a container (status, drift, plan output).
pub fn resource_label(account: &str, container: &str) -> String {
    format!("container/{account}/{container}")
}

fn action(resource: &str, verb: Verb, changes: Vec<FieldChange>, op: StorageOp) -> Action {
    Action {
        resource: resource.into(),
        verb,
        changes,
        op: Op::Storage(op),
    }
}

fn created(field: &str, desired: impl std::fmt::Display) -> FieldChange {
    FieldChange {
        field: field.into(),
        observed: None,
        desired: desired.to_string(),
    }
}

/// Legal-hold tags compare without regard to case (ARM may echo them in another case).
fn tag_set(tags: &[String]) -> BTreeSet<String> {
    tags.iter().map(|t| t.to_ascii_lowercase()).collect()
}

/// The words that mark a note about a legal hold someone else set (the Kubernetes front door
/// publishes one Warning Event when such a note first appears).
pub const FOREIGN_HOLD: &str = "not set by this operator: kept";

/// Plan every container of an existing account. An undeclared container is kept unless `prune`
/// (`storage.pruneUndeclaredContainers`), and even then never one that is protected. `memory`
/// says which legal holds this plane set: only those are cleared when no longer declared.
pub fn plan(
    want: &[ContainerSpec],
    got: &BTreeMap<String, ObservedContainer>,
    account: &AccountTarget,
    prune: bool,
    memory: &Memory,
) -> Plan {
    let mut plan = Plan::default();
    for spec in want {
        let r = ContainerRef {
            account: account.clone(),
            container: spec.name.clone(),
        };
        match got.get(&spec.name) {
            None => create(spec, r, &mut plan),
            Some(obs) => update(spec, obs, r, memory, &mut plan),
        }
    }
    for (name, obs) in got {
        // `$logs`, `$web` ... belong to Azure, not to the spec.
        if name.starts_with('$') || want.iter().any(|w| &w.name == name) {
            continue;
        }
        let resource = resource_label(&account.account_name, name);
        if !prune {
            plan.notes.push(format!(
                "{resource} is not declared: kept (storage.pruneUndeclaredContainers is off)"
            ));
            continue;
        }
        match retention::container_deletion(DeletionPolicy::Delete, name, obs) {
            DeleteVerdict::Retain => {}
            DeleteVerdict::Protected(reason) => plan.refused.push(Refusal {
                resource,
                field: "container".into(),
                reason,
            }),
            DeleteVerdict::Delete => plan.actions.push(action(
                &resource,
                Verb::Delete,
                vec![FieldChange::new("container", "present", "absent")],
                StorageOp::DeleteContainer(ContainerRef {
                    account: account.clone(),
                    container: name.clone(),
                }),
            )),
        }
    }
    plan
}

/// A missing container: create it, then its policy and holds (all synchronous writes). A lock
/// needs the new policy's ETag, so it follows on the next reconcile.
fn create(spec: &ContainerSpec, r: ContainerRef, plan: &mut Plan) {
    let resource = resource_label(&r.account.account_name, &spec.name);
    plan.actions.push(action(
        &resource,
        Verb::Create,
        vec![created("publicAccess", "None")],
        StorageOp::PutContainer(r.clone()),
    ));
    if let Some(days) = spec.immutability_days {
        plan.actions.push(action(
            &resource,
            Verb::Create,
            vec![created("immutabilityDays", days)],
            StorageOp::PutImmutability {
                container: r.clone(),
                days,
                etag: None,
            },
        ));
        if spec.locked {
            plan.notes.push(format!(
                "{resource}: the immutability policy is locked once it exists (next reconcile)"
            ));
        }
    }
    if !spec.legal_holds.is_empty() {
        plan.actions.push(action(
            &resource,
            Verb::SetLegalHold,
            vec![created("legalHolds", spec.legal_holds.join(","))],
            StorageOp::SetLegalHold(r, spec.legal_holds.clone()),
        ));
    }
}

fn update(
    spec: &ContainerSpec,
    obs: &ObservedContainer,
    r: ContainerRef,
    memory: &Memory,
    plan: &mut Plan,
) {
    let resource = resource_label(&r.account.account_name, &spec.name);
    let mut actions = Vec::new();
    let access = obs.public_access.as_deref().unwrap_or("None");
    if !access.eq_ignore_ascii_case("None") {
        actions.push(action(
            &resource,
            Verb::Update,
            vec![FieldChange::new("publicAccess", access, "None")],
            StorageOp::PutContainer(r.clone()),
        ));
    }
    let observed_days = obs
        .immutability
        .as_ref()
        .map_or_else(|| "none".to_string(), |i| i.days.to_string());
    let etag = obs
        .immutability
        .as_ref()
        .map(|i| i.etag.clone())
        .unwrap_or_default();
    match retention::immutability_step(
        spec.immutability_days,
        spec.locked,
        obs.immutability.as_ref(),
    ) {
        ImmutabilityStep::InSync => {}
        ImmutabilityStep::Create(days) => actions.push(action(
            &resource,
            Verb::Create,
            vec![FieldChange::new("immutabilityDays", &observed_days, days)],
            StorageOp::PutImmutability {
                container: r.clone(),
                days,
                etag: None,
            },
        )),
        ImmutabilityStep::Lengthen(days) => actions.push(action(
            &resource,
            Verb::Update,
            vec![FieldChange::new("immutabilityDays", &observed_days, days)],
            StorageOp::PutImmutability {
                container: r.clone(),
                days,
                etag: Some(etag),
            },
        )),
        ImmutabilityStep::Extend(days) => actions.push(action(
            &resource,
            Verb::Extend,
            vec![FieldChange::new("immutabilityDays", &observed_days, days)],
            StorageOp::ExtendImmutability {
                container: r.clone(),
                days,
                etag,
            },
        )),
        ImmutabilityStep::Lock => actions.push(action(
            &resource,
            Verb::Lock,
            vec![FieldChange::new("immutabilityLocked", false, true)],
            StorageOp::LockImmutability {
                container: r.clone(),
                etag,
            },
        )),
        ImmutabilityStep::Refuse(reason) => plan.refused.push(Refusal {
            resource: resource.clone(),
            field: "immutabilityDays".into(),
            reason,
        }),
    }
    let want = tag_set(&spec.legal_holds);
    let have = tag_set(&obs.legal_hold_tags);
    let shown = obs.legal_hold_tags.join(",");
    let to_set: Vec<String> = spec
        .legal_holds
        .iter()
        .filter(|t| !have.contains(&t.to_ascii_lowercase()))
        .cloned()
        .collect();
    // An undeclared hold is cleared only when this plane set it; anyone else's stays.
    let (to_clear, kept): (Vec<String>, Vec<String>) = obs
        .legal_hold_tags
        .iter()
        .filter(|t| !want.contains(&t.to_ascii_lowercase()))
        .cloned()
        .partition(|t| memory.set_hold(&spec.name, t));
    if !kept.is_empty() {
        plan.notes.push(format!(
            "{resource}: legal hold(s) {} {FOREIGN_HOLD} (declare them under legalHolds to manage \
             them)",
            kept.join(",")
        ));
    }
    let desired = spec
        .legal_holds
        .iter()
        .chain(&kept)
        .cloned()
        .collect::<Vec<_>>()
        .join(",");
    if !to_set.is_empty() {
        actions.push(action(
            &resource,
            Verb::SetLegalHold,
            vec![FieldChange::new("legalHolds", &shown, &desired)],
            StorageOp::SetLegalHold(r.clone(), to_set),
        ));
    }
    if !to_clear.is_empty() {
        plan.notes.push(format!(
            "{resource}: clearing legal hold(s) {} (no longer declared)",
            to_clear.join(",")
        ));
        actions.push(action(
            &resource,
            Verb::ClearLegalHold,
            vec![FieldChange::new("legalHolds", &shown, &desired)],
            StorageOp::ClearLegalHold(r, to_clear),
        ));
    }
    for c in actions.iter().flat_map(|a| &a.changes) {
        // Setting and clearing holds are two writes but one drifted field.
        if !plan
            .drift
            .iter()
            .any(|(r, d)| *r == resource && d.field == c.field)
        {
            plan.drift.push((resource.clone(), c.clone()));
        }
    }
    plan.actions.extend(actions);
}
