//! Planner for the blob lifecycle management policy (`managementPolicies/default`).
//!
//! The comparison is semantic: rules are matched by name (their order is irrelevant), an omitted
//! `enabled` means true, `type` and `blobTypes` compare without regard to case, and prefix lists
//! compare as sets. Anything set on a rule that the spec cannot express is drift. Any difference
//! is corrected by one PUT of the whole policy (the only write ARM offers for it).
//!
//! An account has one policy, so every writer replaces everyone else's rules (Terraform azurerm
//! #6935). A rule the spec does not name and this plane did not create (status memory) is someone
//! else's: it is kept, written back unchanged with ours, and reported; `storage.lifecycleExclusive`
//! makes the spec the whole policy instead.

use std::collections::BTreeSet;

use super::observed_storage::ObservedLifecycleRule;
use super::storage_ops::{AccountTarget, StorageOp};
use super::{Action, FieldChange, Op, Verb};
use crate::api::spec::LifecycleRule;

/// The blob type every declared rule applies to.
pub const BLOB_TYPE: &str = "blockBlob";
/// The rule type of every declared rule.
pub const RULE_TYPE: &str = "Lifecycle";

/// One-line description of a declared rule (plan output, drift values).
pub fn describe(r: &LifecycleRule) -> String {
    let day = |d: Option<u32>| d.map_or("-".to_string(), |d| d.to_string());
    format!(
        "prefix {} cool {} archive {} delete {}",
        r.prefix,
        day(r.cool_after_days),
        day(r.archive_after_days),
        day(r.delete_after_days)
    )
}

fn observed_days(d: Option<u32>) -> String {
    d.map_or_else(|| "unset".into(), |d| d.to_string())
}

fn set_of(items: &[String], fold_case: bool) -> BTreeSet<String> {
    items
        .iter()
        .map(|s| {
            if fold_case {
                s.to_ascii_lowercase()
            } else {
                s.clone()
            }
        })
        .collect()
}

fn list(items: &[String]) -> String {
    items.join(",")
}

/// Field-level differences of one declared rule against the observed rule of the same name.
pub fn diff_rule(want: &LifecycleRule, got: &ObservedLifecycleRule) -> Vec<FieldChange> {
    let f = |field: &str| format!("lifecycle.{}.{field}", want.name);
    let mut ch = Vec::new();
    if !got.enabled.unwrap_or(true) {
        ch.push(FieldChange::new(f("enabled"), false, true));
    }
    if !got.rule_type.is_empty() && !got.rule_type.eq_ignore_ascii_case(RULE_TYPE) {
        ch.push(FieldChange::new(f("type"), &got.rule_type, RULE_TYPE));
    }
    if set_of(&got.blob_types, true) != set_of(&[BLOB_TYPE.to_string()], true) {
        ch.push(FieldChange::new(
            f("blobTypes"),
            list(&got.blob_types),
            BLOB_TYPE,
        ));
    }
    if set_of(&got.prefix_match, false) != set_of(std::slice::from_ref(&want.prefix), false) {
        ch.push(FieldChange::new(
            f("prefix"),
            list(&got.prefix_match),
            &want.prefix,
        ));
    }
    for (field, desired, observed) in [
        ("coolAfterDays", want.cool_after_days, got.cool_after_days),
        (
            "archiveAfterDays",
            want.archive_after_days,
            got.archive_after_days,
        ),
        (
            "deleteAfterDays",
            want.delete_after_days,
            got.delete_after_days,
        ),
    ] {
        if desired != observed {
            ch.push(FieldChange::new(
                f(field),
                observed_days(observed),
                observed_days(desired),
            ));
        }
    }
    for other in &got.other {
        ch.push(FieldChange::new(f(other), "set", "unset"));
    }
    ch
}

/// Every difference between the declared rules and the observed policy (None = no policy).
/// Observed rules named in `kept` belong to someone else: they are not differences.
pub fn diff_policy(
    want: &[LifecycleRule],
    got: Option<&[ObservedLifecycleRule]>,
    kept: &[&ObservedLifecycleRule],
) -> Vec<FieldChange> {
    let Some(got) = got.filter(|g| !g.is_empty()) else {
        // No policy: the rules are created, not drifted.
        return want
            .iter()
            .map(|r| FieldChange {
                field: format!("lifecycle.{}", r.name),
                observed: None,
                desired: describe(r),
            })
            .collect();
    };
    let mut ch = Vec::new();
    for w in want {
        match got.iter().find(|g| g.name == w.name) {
            Some(g) => ch.extend(diff_rule(w, g)),
            None => ch.push(FieldChange::new(
                format!("lifecycle.{}", w.name),
                "absent",
                describe(w),
            )),
        }
    }
    for g in got {
        let undeclared = !want.iter().any(|w| w.name == g.name);
        if undeclared && !kept.iter().any(|k| k.name == g.name) {
            ch.push(FieldChange::new(
                format!("lifecycle.{}", g.name),
                "present",
                "absent",
            ));
        }
    }
    ch
}

/// The observed rules that are someone else's: not named by the spec and not created by this
/// plane (`created`, from status). With `exclusive` the spec is the whole policy: none are kept.
pub fn foreign<'a>(
    want: &[LifecycleRule],
    got: Option<&'a [ObservedLifecycleRule]>,
    created: &BTreeSet<String>,
    exclusive: bool,
) -> Vec<&'a ObservedLifecycleRule> {
    if exclusive {
        return Vec::new();
    }
    got.into_iter()
        .flatten()
        .filter(|g| !want.iter().any(|w| w.name == g.name) && !created.contains(&g.name))
        .collect()
}

/// What the policy planner is told besides the declared and observed rules.
#[derive(Clone, Copy, Debug)]
pub struct Ownership<'a> {
    /// Rule names this plane created (status memory).
    pub created: &'a BTreeSet<String>,
    /// `storage.lifecycleExclusive`: the spec is the whole policy.
    pub exclusive: bool,
}

/// Plan the management policy of an existing account: at most one write, plus a note for each
/// rule kept because it is someone else's. ARM has one policy per account and a PUT replaces it
/// whole, so a write carries the kept rules back exactly as they were read.
pub fn plan(
    want: &[LifecycleRule],
    got: Option<&[ObservedLifecycleRule]>,
    account: &AccountTarget,
    resource: &str,
    own: Ownership<'_>,
) -> (Option<Action>, Vec<String>) {
    let kept = foreign(want, got, own.created, own.exclusive);
    let notes = kept
        .iter()
        .map(|k| {
            format!(
                "{resource}: rule {} is not declared and was not created by this operator: kept \
                 (storage.lifecycleExclusive: true would remove it)",
                k.name
            )
        })
        .collect();
    let changes = diff_policy(want, got, &kept);
    if changes.is_empty() {
        return (None, notes);
    }
    let exists = got.is_some_and(|g| !g.is_empty());
    let (verb, op) = if want.is_empty() && kept.is_empty() {
        // ARM requires at least one rule in a policy: no rules declared means no policy.
        (Verb::Delete, StorageOp::DeleteLifecycle(account.clone()))
    } else {
        let mut rules = want.to_vec();
        rules.sort_by(|a, b| a.name.cmp(&b.name));
        let raw = kept.iter().map(|k| k.raw.clone()).collect();
        (
            if exists { Verb::Update } else { Verb::Create },
            StorageOp::PutLifecycle(account.clone(), rules, raw),
        )
    };
    let action = Action {
        resource: resource.into(),
        verb,
        changes,
        op: Op::Storage(op),
    };
    (Some(action), notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> LifecycleRule {
        LifecycleRule {
            name: "RecordPlaneLifecycle".into(),
            prefix: "record-plane/".into(),
            cool_after_days: Some(30),
            archive_after_days: Some(90),
            delete_after_days: Some(2555),
        }
    }

    /// What ARM returns for the seed rule after a PUT.
    fn seed_observed() -> ObservedLifecycleRule {
        ObservedLifecycleRule {
            name: "RecordPlaneLifecycle".into(),
            enabled: Some(true),
            rule_type: "Lifecycle".into(),
            blob_types: vec!["blockBlob".into()],
            prefix_match: vec!["record-plane/".into()],
            cool_after_days: Some(30),
            archive_after_days: Some(90),
            delete_after_days: Some(2555),
            other: vec![],
            raw: serde_json::Value::Null,
        }
    }

    fn acct() -> AccountTarget {
        AccountTarget {
            subscription_id: "s".into(),
            resource_group: "g".into(),
            account_name: "a".into(),
        }
    }

    /// The plan of a policy the spec owns whole (`lifecycleExclusive`).
    fn only(want: &[LifecycleRule], got: Option<&[ObservedLifecycleRule]>) -> Option<Action> {
        let created = BTreeSet::new();
        let own = Ownership {
            created: &created,
            exclusive: true,
        };
        plan(want, got, &acct(), "lifecycle/a", own).0
    }

    fn portal_rule() -> ObservedLifecycleRule {
        let mut r = seed_observed();
        r.name = "PortalRule".into();
        r.raw = serde_json::json!({"name": "PortalRule", "type": "Lifecycle"});
        r
    }

    #[test]
    fn someone_elses_rule_is_kept_and_written_back_unchanged() {
        let created = BTreeSet::new();
        let own = |created| Ownership {
            created,
            exclusive: false,
        };
        // In sync apart from the foreign rule: no write, one note.
        let got = [seed_observed(), portal_rule()];
        let (a, notes) = plan(&[seed()], Some(&got), &acct(), "l", own(&created));
        assert!(a.is_none(), "{a:?}");
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("PortalRule"), "{notes:?}");

        // A declared change: one PUT carrying the foreign rule's raw JSON.
        let mut want = seed();
        want.cool_after_days = Some(45);
        let (a, _) = plan(&[want.clone()], Some(&got), &acct(), "l", own(&created));
        let a = a.expect("a write");
        assert!(a.changes.iter().all(|c| !c.field.contains("PortalRule")));
        assert_eq!(
            a.op,
            Op::Storage(StorageOp::PutLifecycle(
                acct(),
                vec![want],
                vec![portal_rule().raw]
            ))
        );

        // Nothing declared: our rule goes, theirs stays (a PUT, not a DELETE of the policy).
        let created: BTreeSet<String> = ["RecordPlaneLifecycle".to_string()].into();
        let (a, _) = plan(&[], Some(&got), &acct(), "l", own(&created));
        let a = a.expect("a write");
        assert_eq!(
            a.op,
            Op::Storage(StorageOp::PutLifecycle(
                acct(),
                vec![],
                vec![portal_rule().raw]
            ))
        );
        // Without the memory, our own undeclared rule is kept too: nothing to do.
        let none = BTreeSet::new();
        assert!(plan(&[], Some(&got), &acct(), "l", own(&none)).0.is_none());
        // A rule we created and the spec dropped is removed.
        let (a, _) = plan(&[], Some(&[seed_observed()]), &acct(), "l", own(&created));
        assert_eq!(a.map(|a| a.verb), Some(Verb::Delete));
    }

    #[test]
    fn normalised_forms_are_not_drift() {
        let mut o = seed_observed();
        o.enabled = None;
        o.rule_type = "lifecycle".into();
        o.blob_types = vec!["BlockBlob".into()];
        assert!(diff_rule(&seed(), &o).is_empty());
        // Rule order does not matter.
        let mut other = seed();
        other.name = "Second".into();
        other.prefix = "other/".into();
        let mut other_obs = seed_observed();
        other_obs.name = "Second".into();
        other_obs.prefix_match = vec!["other/".into()];
        let got = vec![other_obs, seed_observed()];
        assert!(diff_policy(&[seed(), other], Some(&got), &[]).is_empty());
    }

    #[test]
    fn each_rule_field_is_drift() {
        type Edit = fn(&mut ObservedLifecycleRule);
        let cases: Vec<(&str, Edit)> = vec![
            ("enabled", |o| o.enabled = Some(false)),
            ("type", |o| o.rule_type = "Other".into()),
            ("blobTypes", |o| o.blob_types.push("appendBlob".into())),
            ("prefix", |o| o.prefix_match = vec!["record-plane".into()]),
            ("coolAfterDays", |o| o.cool_after_days = Some(60)),
            ("archiveAfterDays", |o| o.archive_after_days = None),
            ("deleteAfterDays", |o| o.delete_after_days = Some(365)),
            ("actions.snapshot.delete", |o| {
                o.other = vec!["actions.snapshot.delete".into()]
            }),
        ];
        for (field, edit) in cases {
            let mut o = seed_observed();
            edit(&mut o);
            let ch = diff_rule(&seed(), &o);
            assert_eq!(ch.len(), 1, "{field}: {ch:?}");
            assert_eq!(
                ch[0].field,
                format!("lifecycle.RecordPlaneLifecycle.{field}")
            );
            let a = only(&[seed()], Some(&[o])).unwrap();
            assert_eq!(a.verb, Verb::Update);
            assert_eq!(
                a.op,
                Op::Storage(StorageOp::PutLifecycle(acct(), vec![seed()], vec![]))
            );
        }
    }

    #[test]
    fn missing_and_extra_rules() {
        let mut extra = seed_observed();
        extra.name = "PortalRule".into();
        let ch = diff_policy(&[seed()], Some(&[extra]), &[]);
        let fields: Vec<_> = ch.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            ["lifecycle.RecordPlaneLifecycle", "lifecycle.PortalRule"]
        );
        assert!(ch.iter().all(|c| c.observed.is_some()));
    }

    #[test]
    fn no_policy_is_a_create_not_drift() {
        let a = only(&[seed()], None).unwrap();
        assert_eq!(a.verb, Verb::Create);
        assert!(a.changes.iter().all(|c| c.observed.is_none()));
        assert!(only(&[seed()], Some(&[seed_observed()])).is_none());
        assert!(only(&[], None).is_none());
        assert!(only(&[], Some(&[])).is_none());
    }

    #[test]
    fn no_rules_declared_deletes_the_policy() {
        let a = only(&[], Some(&[seed_observed()])).unwrap();
        assert_eq!(a.verb, Verb::Delete);
        assert_eq!(a.op, Op::Storage(StorageOp::DeleteLifecycle(acct())));
    }
}
