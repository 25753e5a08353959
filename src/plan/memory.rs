//! What this data plane set in Azure, remembered in status (`status.storage.legalHoldsSet`,
//! `status.storage.lifecycleRulesCreated`). Where Azure cannot say who set something (legal-hold
//! tags, lifecycle rules carry no owner), this record is the only proof that the operator did, and
//! the operator only ever removes what it proves it set. Losing the record (a new cluster, a
//! deleted status file) therefore makes it keep more, never remove more. Pure, like every planner.

use std::collections::{BTreeMap, BTreeSet};

use super::observed_storage::ObservedStorage;
use super::storage_ops::StorageOp;
use super::Op;
use crate::api::status::StorageObserved;

/// The record of what this data plane set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    /// Legal-hold tags this plane set, lower case, by container.
    pub legal_holds_set: BTreeMap<String, BTreeSet<String>>,
    /// Lifecycle rules this plane created, by name.
    pub lifecycle_rules_created: BTreeSet<String>,
}

impl Memory {
    /// The record a previous status carries (empty when there is none).
    pub fn from_status(s: Option<&StorageObserved>) -> Self {
        let Some(s) = s else {
            return Self::default();
        };
        Self {
            legal_holds_set: s
                .legal_holds_set
                .iter()
                .map(|(c, tags)| {
                    (
                        c.clone(),
                        tags.iter().map(|t| t.to_ascii_lowercase()).collect(),
                    )
                })
                .collect(),
            lifecycle_rules_created: s.lifecycle_rules_created.iter().cloned().collect(),
        }
    }

    /// Write the record into a status summary (sorted, so an unchanged record never changes status).
    pub fn write_into(&self, s: &mut StorageObserved) {
        s.legal_holds_set = self
            .legal_holds_set
            .iter()
            .map(|(c, tags)| (c.clone(), tags.iter().cloned().collect()))
            .collect();
        s.lifecycle_rules_created = self.lifecycle_rules_created.iter().cloned().collect();
    }

    /// True when this plane set legal-hold `tag` on `container`.
    pub fn set_hold(&self, container: &str, tag: &str) -> bool {
        self.legal_holds_set
            .get(container)
            .is_some_and(|t| t.contains(&tag.to_ascii_lowercase()))
    }

    /// The record after a pass: what was observed before the writes, less what has vanished from
    /// Azure, plus what the accepted writes set, less what they removed.
    pub fn after(&self, observed: &ObservedStorage, accepted: &[&Op]) -> Self {
        if observed.account.is_none() {
            // No account: nothing of it can have been set (containers follow its creation).
            return Self::default();
        }
        let mut holds: BTreeMap<String, BTreeSet<String>> = self
            .legal_holds_set
            .iter()
            .filter_map(|(c, tags)| {
                let there: BTreeSet<String> = observed
                    .containers
                    .get(c)?
                    .legal_hold_tags
                    .iter()
                    .map(|t| t.to_ascii_lowercase())
                    .collect();
                Some((c.clone(), tags.intersection(&there).cloned().collect()))
            })
            .collect();
        let observed_rules: Vec<&str> = observed
            .lifecycle
            .iter()
            .flatten()
            .map(|r| r.name.as_str())
            .collect();
        let mut rules: BTreeSet<String> = self
            .lifecycle_rules_created
            .iter()
            .filter(|n| observed_rules.contains(&n.as_str()))
            .cloned()
            .collect();
        for op in accepted {
            let Op::Storage(op) = op else { continue };
            match op {
                StorageOp::SetLegalHold(c, tags) => holds
                    .entry(c.container.clone())
                    .or_default()
                    .extend(tags.iter().map(|t| t.to_ascii_lowercase())),
                StorageOp::ClearLegalHold(c, tags) => {
                    if let Some(set) = holds.get_mut(&c.container) {
                        for t in tags {
                            set.remove(&t.to_ascii_lowercase());
                        }
                    }
                }
                StorageOp::PutLifecycle(_, declared, _) => {
                    // Ours: what we had and still wrote, plus what we wrote where no rule was.
                    rules.retain(|n| declared.iter().any(|d| &d.name == n));
                    rules.extend(
                        declared
                            .iter()
                            .filter(|d| !observed_rules.contains(&d.name.as_str()))
                            .map(|d| d.name.clone()),
                    );
                }
                StorageOp::DeleteLifecycle(_) => rules.clear(),
                _ => {}
            }
        }
        holds.retain(|_, tags| !tags.is_empty());
        Self {
            legal_holds_set: holds,
            lifecycle_rules_created: rules,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::spec::LifecycleRule;
    use crate::plan::{
        AccountTarget, ContainerRef, ObservedAccount, ObservedContainer, ObservedLifecycleRule,
    };

    fn acct() -> AccountTarget {
        AccountTarget {
            subscription_id: "s".into(),
            resource_group: "g".into(),
            account_name: "a".into(),
        }
    }

    fn c(name: &str) -> ContainerRef {
        ContainerRef {
            account: acct(),
            container: name.into(),
        }
    }

    fn observed(holds: &[(&str, &[&str])], rules: &[&str]) -> ObservedStorage {
        ObservedStorage {
            name_unavailable: None,
            private_endpoint: None,
            account: Some(ObservedAccount::default()),
            lifecycle: Some(
                rules
                    .iter()
                    .map(|n| ObservedLifecycleRule {
                        name: (*n).into(),
                        ..Default::default()
                    })
                    .collect(),
            ),
            containers: holds
                .iter()
                .map(|(c, tags)| {
                    (
                        (*c).to_string(),
                        ObservedContainer {
                            legal_hold_tags: tags.iter().map(|t| (*t).to_string()).collect(),
                            ..Default::default()
                        },
                    )
                })
                .collect(),
        }
    }

    fn rule(name: &str) -> LifecycleRule {
        LifecycleRule {
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn accepted_writes_are_remembered_and_vanished_things_forgotten() {
        let m = Memory::default();
        let set = Op::Storage(StorageOp::SetLegalHold(c("rec"), vec!["Case1".into()]));
        let put = Op::Storage(StorageOp::PutLifecycle(
            acct(),
            vec![rule("Mine"), rule("Theirs")],
            vec![],
        ));
        // "Theirs" existed before our write: declaring it does not make it ours.
        let m = m.after(
            &observed(&[("rec", &["other"])], &["Theirs"]),
            &[&set, &put],
        );
        assert!(m.set_hold("rec", "case1") && !m.set_hold("rec", "other"));
        assert_eq!(
            m.lifecycle_rules_created.iter().collect::<Vec<_>>(),
            ["Mine"]
        );

        // Someone else cleared our hold and deleted our rule: forgotten, nothing to remove.
        let later = m.after(&observed(&[("rec", &["other"])], &["Theirs"]), &[]);
        assert_eq!(later, Memory::default());

        // A clear we sent is forgotten; a dropped rule we wrote away is too.
        let clear = Op::Storage(StorageOp::ClearLegalHold(c("rec"), vec!["case1".into()]));
        let put = Op::Storage(StorageOp::PutLifecycle(
            acct(),
            vec![rule("Theirs")],
            vec![],
        ));
        let m = m.after(
            &observed(&[("rec", &["case1", "other"])], &["Mine", "Theirs"]),
            &[&clear, &put],
        );
        assert_eq!(m, Memory::default());
    }

    #[test]
    fn the_record_round_trips_through_status_in_order() {
        let mut m = Memory::default();
        m.legal_holds_set
            .entry("rec".into())
            .or_default()
            .extend(["b".to_string(), "a".to_string()]);
        m.lifecycle_rules_created.insert("Z".into());
        m.lifecycle_rules_created.insert("A".into());
        let mut s = StorageObserved::default();
        m.write_into(&mut s);
        assert_eq!(s.legal_holds_set["rec"], ["a", "b"]);
        assert_eq!(s.lifecycle_rules_created, ["A", "Z"]);
        assert_eq!(Memory::from_status(Some(&s)), m);
        assert_eq!(Memory::from_status(None), Memory::default());
    }

    #[test]
    fn no_account_means_nothing_remembered() {
        let mut m = Memory::default();
        m.lifecycle_rules_created.insert("A".into());
        assert_eq!(m.after(&ObservedStorage::default(), &[]), Memory::default());
    }
}
