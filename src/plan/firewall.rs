//! Planner for the server's firewall rules (pure): each declared rule created, or PUT again when
//! its range differs (a change made in the portal is corrected). A rule the spec does not declare
//! is someone else's: it is kept and reported, unless `firewallRulesExclusive` makes the declared
//! rules the whole list. Every write is long-running and keeps the server busy, so the rules share
//! the server's resource label: one write per pass.

use std::collections::BTreeMap;

use super::observed_network::ObservedFirewallRule;
use super::{Action, FieldChange, Op, PgTarget, Plan, Verb};
use crate::api::network::ipv4;
use crate::api::EffectiveSpec;

fn same_ip(a: &str, b: &str) -> bool {
    match (ipv4(a), ipv4(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Plan the rules of server `tgt` (labelled `resource`) against `observed` (None: not read).
pub fn plan(
    eff: &EffectiveSpec,
    observed: Option<&BTreeMap<String, ObservedFirewallRule>>,
    resource: &str,
    tgt: &PgTarget,
) -> Plan {
    let mut plan = Plan::default();
    let Some(observed) = observed else {
        return plan;
    };
    let n = &eff.postgres.network;
    let find = |name: &str| {
        observed
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, r)| r)
    };
    for rule in &n.firewall_rules {
        let field = format!("firewallRules.{}", rule.name);
        let range = format!("{}-{}", rule.start_ip_address, rule.end_ip_address);
        let (verb, change) = match find(&rule.name) {
            None => (
                Verb::Create,
                FieldChange {
                    field,
                    observed: None,
                    desired: range,
                },
            ),
            Some(o)
                if same_ip(&o.start_ip_address, &rule.start_ip_address)
                    && same_ip(&o.end_ip_address, &rule.end_ip_address) =>
            {
                continue
            }
            Some(o) => {
                let c = FieldChange::new(
                    field,
                    format!("{}-{}", o.start_ip_address, o.end_ip_address),
                    range,
                );
                (Verb::Configure, c)
            }
        };
        plan.actions.push(Action {
            resource: resource.into(),
            verb,
            changes: vec![change],
            op: Op::FirewallPut(tgt.clone(), rule.clone()),
        });
    }
    for (name, o) in observed {
        let declared = n
            .firewall_rules
            .iter()
            .any(|r| r.name.eq_ignore_ascii_case(name));
        if declared {
            continue;
        }
        let range = format!("{}-{}", o.start_ip_address, o.end_ip_address);
        if n.firewall_rules_exclusive {
            plan.actions.push(Action {
                resource: resource.into(),
                verb: Verb::Configure,
                changes: vec![FieldChange::new(
                    format!("firewallRules.{name}"),
                    range,
                    "absent",
                )],
                op: Op::FirewallDelete(tgt.clone(), name.clone()),
            });
        } else {
            plan.notes.push(format!(
                "{resource}: firewall rule {name} ({range}) is not declared: kept (someone else's; firewallRulesExclusive: true would remove it)"
            ));
        }
    }
    plan
}
