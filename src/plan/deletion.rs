//! Planning the removal of a data plane from Azure when its declaration is deleted (the
//! Kubernetes finalizer's cleanup). Pure, like every planner.
//!
//! - `deletion: retain` (the default) plans nothing: Azure is left untouched.
//! - `mode: observe` plans nothing either: observe mode never writes.
//! - `deletion: delete` deletes the plane's own diagnostic settings (`engram-audit`), metric alert
//!   rules and own (owner-tagged) private endpoints, waits until the endpoints are gone, then
//!   deletes the PostgreSQL server (one
//!   DELETE, a long-running operation, never while an operation is running on it), then the
//!   Storage account, which its own teardown planner refuses while a container is under legal
//!   hold or a locked immutability policy (deleting the account would delete those containers).
//! - Only what is this plane's: a server or account not tagged `engram-owner: {owner}` is refused
//!   (NotOwned), and so, all or nothing, is the whole teardown.
//! - All or nothing: every refusal is known before the first DELETE. If any part is refused,
//!   nothing at all is deleted, and the plan says why.

use std::collections::BTreeMap;

use super::network::{self, Service};
use super::owner::{NOT_OWNED, OWNER_TAG};
use super::{
    alerts, diagnostics, postgres, rules, storage_account, Action, FieldChange, Observed, Op, Plan,
    Refusal, Verb,
};
use crate::api::spec::{DeletionPolicy, Mode};
use crate::api::EffectiveSpec;

/// A refusal when `tags` do not name `owner`.
fn not_ours(resource: String, tags: &BTreeMap<String, String>, owner: &str) -> Option<Refusal> {
    let tagged = tags.get(OWNER_TAG).map(String::as_str);
    (tagged != Some(owner)).then(|| Refusal {
        resource,
        field: "ownership".into(),
        reason: format!(
            "{NOT_OWNED}: deletion: delete removes only resources tagged {OWNER_TAG}={owner}; this one is tagged {}",
            tagged.unwrap_or("by no one")
        ),
    })
}

/// What must happen in Azure before the declaration may go. `owner`: this plane as an owner.
pub fn plan(eff: &EffectiveSpec, observed: &Observed, owner: &str) -> Plan {
    let mut plan = Plan::default();
    if eff.deletion == DeletionPolicy::Retain {
        plan.notes
            .push("deletion: retain: Azure resources are left in place".into());
        return plan;
    }
    if eff.mode == Mode::Observe {
        plan.notes
            .push("mode: observe: nothing is deleted in Azure".into());
        return plan;
    }
    // The operator's diagnostic settings go first (Azure keeps a setting whose resource was
    // deleted, and would apply it to a new resource of the same name); others' stay.
    plan.actions.extend(diagnostics::teardown(eff, observed));
    // The rules go first: deleted after the server, they could no longer be seen (they are read
    // only while the server exists) and would be left behind watching nothing.
    for name in observed.alerts.keys() {
        plan.actions.push(Action {
            resource: alerts::resource_label(name),
            verb: Verb::Delete,
            changes: vec![FieldChange::new("rule", "present", "absent")],
            op: Op::AlertDelete(alerts::AlertTarget {
                subscription_id: eff.azure.subscription_id.clone(),
                resource_group: eff.azure.resource_group.clone(),
                rule_name: name.clone(),
            }),
        });
    }
    // The plane's own private endpoints go before the server and the account they reach.
    let endpoints_left = endpoints(&mut plan, eff, observed, owner);
    let resource = postgres::resource_label(eff);
    if let Some(server) = &observed.postgres.server {
        if endpoints_left {
            plan.waiting.push(format!(
                "{resource}: deleted once the plane's private endpoints are gone"
            ));
        } else if rules::is_busy(&server.state) {
            plan.waiting
                .push(format!("{resource} is {}: deleting after it", server.state));
        } else {
            plan.actions.push(Action {
                resource,
                verb: Verb::Delete,
                changes: vec![FieldChange::new("server", "present", "absent")],
                op: Op::PgDelete(postgres::target(eff)),
            });
        }
    }
    // The account goes only when no container is protected; otherwise it is refused, with why.
    let mut account = storage_account::teardown(eff, &observed.storage);
    if endpoints_left {
        for a in account.actions.drain(..) {
            plan.waiting.push(format!(
                "{}: deleted once the plane's private endpoints are gone",
                a.resource
            ));
        }
    }
    plan.absorb(account);
    let owned = [
        observed
            .postgres
            .server
            .as_ref()
            .and_then(|s| not_ours(postgres::resource_label(eff), &s.tags, owner)),
        observed
            .storage
            .account
            .as_ref()
            .and_then(|a| not_ours(storage_account::resource_label(eff), &a.tags, owner)),
    ];
    plan.refused.extend(owned.into_iter().flatten());
    if !plan.refused.is_empty() {
        let held: Vec<String> = plan.actions.drain(..).map(|a| a.resource).collect();
        plan.notes.push(format!(
            "nothing is deleted while {} part(s) are refused (teardown is all or nothing){}: lift \
             the protection in Azure, or set policy.deletion: retain",
            plan.refused.len(),
            if held.is_empty() {
                String::new()
            } else {
                format!("; kept: {}", held.join(", "))
            }
        ));
    }
    plan
}

/// Plan the deletion of the plane's own private endpoints (one tagged for another owner, or for
/// none, is left in place and noted); true while any of the plane's is left.
fn endpoints(plan: &mut Plan, eff: &EffectiveSpec, observed: &Observed, owner: &str) -> bool {
    let mut left = false;
    for service in [Service::Postgres, Service::Blob] {
        let Some(pe) = service.observed(observed) else {
            continue;
        };
        let label = network::resource_label(&service.endpoint_name(eff));
        let tagged = pe.tags.get(OWNER_TAG).map(String::as_str);
        if tagged != Some(owner) {
            plan.notes.push(format!(
                "{label} is not this plane's (tagged {}): left in place",
                tagged.unwrap_or("by no one")
            ));
            continue;
        }
        left = true;
        if network::is_busy(&pe.provisioning_state) {
            plan.waiting.push(format!(
                "{label} is {}: deleting after it",
                pe.provisioning_state
            ));
        } else {
            plan.actions.push(Action {
                resource: label,
                verb: Verb::Delete,
                changes: vec![FieldChange::new("privateEndpoint", "present", "absent")],
                op: Op::Network(network::NetworkOp::DeleteEndpoint(
                    network::endpoint_target(eff, service),
                )),
            });
        }
    }
    left
}

/// True when nothing of the data plane is left to delete, wait for, or refused.
pub fn finished(plan: &Plan) -> bool {
    plan.actions.is_empty() && plan.waiting.is_empty() && plan.refused.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{ObservedPostgres, ObservedServer};

    fn eff(deletion: &str, mode: &str) -> EffectiveSpec {
        let text = include_str!("../../examples/dev.yaml");
        let mut res = crate::api::parse(text).expect("dev example parses");
        let policy = res.spec.policy.get_or_insert_with(Default::default);
        policy.deletion = Some(if deletion == "delete" {
            DeletionPolicy::Delete
        } else {
            DeletionPolicy::Retain
        });
        policy.mode = Some(if mode == "observe" {
            Mode::Observe
        } else {
            Mode::Enforce
        });
        crate::api::resolve(&res.spec).expect("valid")
    }

    const OWNER: &str = "folder/test";

    fn with_server(state: &str) -> Observed {
        Observed {
            postgres: ObservedPostgres {
                server: Some(ObservedServer {
                    state: state.into(),
                    tags: crate::plan::owner::owner_tags(OWNER),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn only_what_carries_this_planes_owner_tag_is_deleted_and_then_nothing_at_all() {
        let e = eff("delete", "enforce");
        let mut o = with_server("Ready");
        o.storage.account = Some(crate::plan::ObservedAccount {
            tags: crate::plan::owner::owner_tags("k8s/other"),
            ..Default::default()
        });
        let p = plan(&e, &o, OWNER);
        assert!(p.actions.is_empty(), "all or nothing: {:?}", p.actions);
        assert_eq!(p.refused.len(), 1);
        assert!(
            p.refused[0].reason.starts_with("NotOwned"),
            "{:?}",
            p.refused
        );
        assert!(p.refused[0].reason.contains("k8s/other"));
        // An untagged server (made outside any plane) is not deleted either.
        let mut o = with_server("Ready");
        if let Some(s) = o.postgres.server.as_mut() {
            s.tags.clear();
        }
        assert!(plan(&e, &o, OWNER).actions.is_empty());
    }

    #[test]
    fn retain_and_observe_plan_nothing() {
        for (d, m) in [
            ("retain", "enforce"),
            ("retain", "observe"),
            ("delete", "observe"),
        ] {
            let p = plan(&eff(d, m), &with_server("Ready"), OWNER);
            assert!(p.actions.is_empty(), "{d}/{m}");
            assert!(finished(&p));
            assert_eq!(p.notes.len(), 1);
        }
    }

    #[test]
    fn delete_sends_one_delete_and_waits_for_a_busy_server() {
        let e = eff("delete", "enforce");
        let p = plan(&e, &with_server("Ready"), OWNER);
        assert_eq!(p.actions.len(), 1);
        assert_eq!(p.actions[0].verb, Verb::Delete);
        assert!(
            matches!(&p.actions[0].op, Op::PgDelete(t) if t.server_name == e.postgres.server_name)
        );
        assert!(!finished(&p));

        let p = plan(&e, &with_server("Dropping"), OWNER);
        assert!(p.actions.is_empty(), "never a second DELETE while one runs");
        assert_eq!(p.waiting.len(), 1);
        assert!(!finished(&p));

        assert!(
            finished(&plan(&e, &Observed::default(), OWNER)),
            "nothing left"
        );
    }

    #[test]
    fn one_refusal_holds_every_delete_and_rules_go_first() {
        use crate::plan::{ObservedAccount, ObservedAlert, ObservedContainer};
        let e = eff("delete", "enforce");
        let mut o = with_server("Ready");
        o.alerts
            .insert("pg-cpu-warning".into(), ObservedAlert::default());
        o.storage.account = Some(ObservedAccount {
            tags: crate::plan::owner::owner_tags(OWNER),
            ..Default::default()
        });
        let p = plan(&e, &o, OWNER);
        let verbs: Vec<&str> = p.actions.iter().map(|a| a.resource.as_str()).collect();
        assert_eq!(verbs.len(), 3, "{verbs:?}");
        assert!(matches!(p.actions[0].op, Op::AlertDelete(_)), "{verbs:?}");
        assert!(matches!(p.actions[1].op, Op::PgDelete(_)), "{verbs:?}");

        o.storage.containers.insert(
            "held".into(),
            ObservedContainer {
                legal_hold_tags: vec!["case1".into()],
                ..Default::default()
            },
        );
        let p = plan(&e, &o, OWNER);
        assert!(p.actions.is_empty(), "{:?}", p.actions);
        assert_eq!(p.refused.len(), 1);
        assert!(
            p.notes.iter().any(|n| n.contains("nothing is deleted")),
            "{:?}",
            p.notes
        );
        assert!(!finished(&p));
    }
}
