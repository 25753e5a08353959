//! Planner for blob containers, their time-based immutability policies and their legal holds.
//!
//! A missing container is created (publicAccess None) together with its policy and holds; an
//! existing one gets only the writes that differ. Safety rules live in `retention`.

use std::collections::{BTreeMap, BTreeSet};

use super::observed_storage::ObservedContainer;
use super::retention::{self, DeleteVerdict, ImmutabilityStep};
use super::storage_ops::{AccountTarget, ContainerRef, StorageOp};
use super::{Action, FieldChange, Op, Plan, Refusal, Verb};
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

/// Plan every container of an existing account.
pub fn plan(
    want: &[ContainerSpec],
    got: &BTreeMap<String, ObservedContainer>,
    account: &AccountTarget,
    deletion: DeletionPolicy,
) -> Plan {
    let mut plan = Plan::default();
    for spec in want {
        let r = ContainerRef {
            account: account.clone(),
            container: spec.name.clone(),
        };
        match got.get(&spec.name) {
            None => create(spec, r, &mut plan),
            Some(obs) => update(spec, obs, r, &mut plan),
        }
    }
    for (name, obs) in got {
        // `$logs`, `$web` ... belong to Azure, not to the spec.
        if name.starts_with('$') || want.iter().any(|w| &w.name == name) {
            continue;
        }
        let resource = resource_label(&account.account_name, name);
        match retention::container_deletion(deletion, name, obs) {
            DeleteVerdict::Retain => plan.notes.push(format!(
                "{resource} is not declared: retained (deletion: retain)"
            )),
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

fn update(spec: &ContainerSpec, obs: &ObservedContainer, r: ContainerRef, plan: &mut Plan) {
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
    let to_clear: Vec<String> = obs
        .legal_hold_tags
        .iter()
        .filter(|t| !want.contains(&t.to_ascii_lowercase()))
        .cloned()
        .collect();
    if !to_set.is_empty() {
        actions.push(action(
            &resource,
            Verb::SetLegalHold,
            vec![FieldChange::new(
                "legalHolds",
                &shown,
                spec.legal_holds.join(","),
            )],
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
            vec![FieldChange::new(
                "legalHolds",
                &shown,
                spec.legal_holds.join(","),
            )],
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
