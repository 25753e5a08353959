//! Planner for PostgreSQL server parameters: the `azure.extensions` allow-list (merged, uppercase)
//! and every other declared parameter, plus the restart ARM asks for after a static parameter.

use std::collections::BTreeSet;

use time::OffsetDateTime;

use super::observed::{ObservedPostgres, ObservedWindow};
use super::rules::{self, azure_extension_name, split_list};
use super::{Action, FieldChange, Op, PgTarget, Plan, Refusal, Verb};
use crate::api::spec::RestartPolicy;
use crate::api::EffectiveSpec;

/// The server parameter that allow-lists extensions.
pub const EXTENSIONS: &str = "azure.extensions";

/// The parameters read whether declared or not: the extension allow-list, `max_connections` (the
/// connection alerts' and scaling's denominator) and `ssl_min_protocol_version` (the evidence
/// report's TLS control).
pub const ALWAYS_OBSERVED: &[&str] = &[EXTENSIONS, "max_connections", "ssl_min_protocol_version"];

/// Whether an observed server parameter is kept: Azure lists about 350 per server and the plan
/// needs the declared ones, [`ALWAYS_OBSERVED`], and any ARM says waits for a restart. Keeping
/// only those holds a pass's memory to a few entries instead of every parameter's allowed values.
pub fn keeps(eff: &EffectiveSpec, name: &str, pending_restart: bool) -> bool {
    pending_restart || ALWAYS_OBSERVED.contains(&name) || eff.postgres.parameters.contains_key(name)
}

/// Plan parameter writes for an existing server (actions, refusals and notes only).
pub fn plan(
    eff: &EffectiveSpec,
    obs: &ObservedPostgres,
    resource: &str,
    tgt: &PgTarget,
    now: OffsetDateTime,
) -> Plan {
    let mut plan = Plan::default();
    let refuse = |plan: &mut Plan, field: String, reason: String| {
        plan.refused.push(Refusal {
            resource: resource.into(),
            field,
            reason,
        })
    };
    let configure = |name: &str, observed: &str, value: String| Action {
        resource: resource.into(),
        verb: Verb::Configure,
        changes: vec![FieldChange::new(
            format!("parameters.{name}"),
            observed,
            &value,
        )],
        op: Op::PgConfigure(tgt.clone(), name.into(), value),
    };

    // azure.extensions: add what is declared, keep what is already allowed (merge, never remove).
    let wanted: BTreeSet<String> = eff
        .postgres
        .extensions
        .iter()
        .map(|e| azure_extension_name(e))
        .collect();
    if !wanted.is_empty() {
        match obs.configs.get(EXTENSIONS) {
            None => refuse(
                &mut plan,
                format!("parameters.{EXTENSIONS}"),
                "the server reports no such parameter".into(),
            ),
            Some(cfg) => {
                let have: BTreeSet<String> = split_list(&cfg.value).into_iter().collect();
                let allowed: Option<BTreeSet<String>> = cfg
                    .allowed_values
                    .as_deref()
                    .map(|a| split_list(a).into_iter().collect());
                let unknown: Vec<&String> = wanted
                    .iter()
                    .filter(|w| allowed.as_ref().is_some_and(|a| !a.contains(*w)))
                    .collect();
                if !unknown.is_empty() {
                    let names: Vec<&str> = unknown.iter().map(|s| s.as_str()).collect();
                    refuse(
                        &mut plan,
                        "extensions".into(),
                        format!("not offered by Azure: {}", names.join(",")),
                    );
                } else if !wanted.is_subset(&have) {
                    let merged: Vec<String> = have.union(&wanted).cloned().collect();
                    plan.actions
                        .push(configure(EXTENSIONS, &cfg.value, merged.join(",")));
                }
            }
        }
    }

    for (name, value) in &eff.postgres.parameters {
        match obs.configs.get(name) {
            None => refuse(
                &mut plan,
                format!("parameters.{name}"),
                "the server reports no such parameter".into(),
            ),
            Some(cfg) if rules::same_value(&cfg.value, value) => {}
            Some(cfg) if cfg.is_read_only => refuse(
                &mut plan,
                format!("parameters.{name}"),
                "read-only server parameter".into(),
            ),
            Some(cfg) => plan
                .actions
                .push(configure(name, &cfg.value, value.clone())),
        }
    }

    // Restart only when ARM says a restart is pending, and only as the policy allows.
    let pending: Vec<&String> = obs
        .configs
        .iter()
        .filter(|(_, c)| c.pending_restart)
        .map(|(n, _)| n)
        .collect();
    if !pending.is_empty() && plan.actions.is_empty() {
        let names: Vec<&str> = pending.iter().map(|s| s.as_str()).collect();
        let window = eff
            .postgres
            .maintenance_window
            .as_ref()
            .map(|w| ObservedWindow {
                day_of_week: w.day_of_week,
                start_hour: w.start_hour,
                start_minute: w.start_minute,
            });
        let allowed = match eff.postgres.restart_policy {
            RestartPolicy::Immediate => true,
            RestartPolicy::MaintenanceWindow => {
                window.is_some_and(|w| rules::in_maintenance_window(&w, now))
            }
            RestartPolicy::Never => false,
        };
        if allowed {
            plan.actions.push(Action {
                resource: resource.into(),
                verb: Verb::Restart,
                changes: vec![FieldChange::new(
                    "pendingRestart",
                    names.join(","),
                    "applied",
                )],
                op: Op::PgRestart(tgt.clone()),
            });
        } else {
            plan.notes.push(format!(
                "{resource}: restart pending for {} (restartPolicy {:?}: not restarting now)",
                names.join(","),
                eff.postgres.restart_policy
            ));
        }
    }
    plan
}
