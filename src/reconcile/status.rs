//! Building the status of a data plane from one pass (pure).

use std::collections::BTreeSet;
use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::conditions::{
    self, DEGRADED, DRIFTED, KEY_ROTATED, KEY_ROTATION_DUE, PROGRESSING, READY,
};
use super::{Context, Outcome};
use crate::api::status::{
    DriftEntry, NetworkObserved, PendingOperation, PostgresObserved, StorageObserved,
};
use crate::api::{EffectiveSpec, EngramDataPlaneStatus, FieldError};
use crate::azure::ArmError;
use crate::plan::network::{self, Service};
use crate::plan::{Memory, Observed, ObservedAccountEncryption, ObservedEncryption, Plan};

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// A fresh status for this pass, carrying over what the previous one knew of the resources.
/// Nothing in it records that a pass ran (no "last reconcile time"): a pass that found nothing
/// new yields the previous status exactly, so the front doors write nothing, and a status write can
/// never be what starts the next pass.
pub(super) fn base(prev: &EngramDataPlaneStatus, ctx: &Context) -> EngramDataPlaneStatus {
    EngramDataPlaneStatus {
        observed_generation: ctx.generation,
        conditions: prev.conditions.clone(),
        postgres: prev.postgres.clone(),
        storage: prev.storage.clone(),
        key_rotation: prev.key_rotation.clone(),
        diagnostics: prev.diagnostics.clone(),
        budget: prev.budget.clone(),
        reconcile_policy: prev.reconcile_policy.clone(),
        create_intents: prev.create_intents.clone(),
        // An applied scale outlives a pass that could not read Azure: dropping it would scale back.
        scaling: prev.scaling.clone(),
        ..Default::default()
    }
}

/// An invalid spec: every error with its field path; no ARM request was made.
pub fn invalid(prev: &EngramDataPlaneStatus, errors: &[FieldError], ctx: &Context) -> Outcome {
    let mut s = base(prev, ctx);
    s.pending_operations = prev.pending_operations.clone();
    s.errors = errors.iter().map(|e| e.to_string()).collect();
    let g = ctx.generation;
    let msg = format!(
        "{} validation error(s); nothing sent to Azure",
        errors.len()
    );
    conditions::set(
        &mut s.conditions,
        READY,
        false,
        "InvalidSpec",
        &msg,
        g,
        ctx.now,
    );
    conditions::set(
        &mut s.conditions,
        DEGRADED,
        true,
        "InvalidSpec",
        &msg,
        g,
        ctx.now,
    );
    conditions::set(
        &mut s.conditions,
        PROGRESSING,
        false,
        "InvalidSpec",
        "",
        g,
        ctx.now,
    );
    Outcome::settled_without_arm(s, true)
}

/// ARM could not be read: keep pending operations, report the error.
pub fn arm_unreadable(
    prev: &EngramDataPlaneStatus,
    pending: Vec<PendingOperation>,
    mut errors: Vec<String>,
    e: &ArmError,
    ctx: &Context,
) -> Outcome {
    let mut s = base(prev, ctx);
    s.pending_operations = pending;
    s.drift = prev.drift.clone();
    s.drift_count = s.drift.len() as u32;
    errors.push(format!("reading Azure: {e}"));
    s.errors = errors;
    let g = ctx.generation;
    let transient = e.is_transient();
    let access = e.is_access();
    let reason = e.reason();
    conditions::set(
        &mut s.conditions,
        READY,
        false,
        reason,
        e.to_string(),
        g,
        ctx.now,
    );
    conditions::set(
        &mut s.conditions,
        DEGRADED,
        true,
        reason,
        e.to_string(),
        g,
        ctx.now,
    );
    // Access failures and transient ones are retried from the moment they began, the wait
    // doubling (1, 1, 2, 4 ... minutes for access; poll interval up to 5 minutes otherwise).
    let requeue = if access || transient {
        let since = prev
            .retry
            .as_ref()
            .filter(|r| r.reason == reason)
            .and_then(|r| OffsetDateTime::parse(&r.since, &Rfc3339).ok())
            .unwrap_or(ctx.now);
        s.retry = Some(crate::api::status::RetryState {
            reason: reason.to_owned(),
            since: rfc3339(since),
        });
        let elapsed = ctx.now - since;
        Some(if access {
            access_backoff(elapsed)
        } else {
            backoff(
                elapsed,
                ctx.poll_interval.max(Duration::from_secs(1)),
                Duration::from_secs(300),
            )
        })
    } else {
        None
    };
    Outcome {
        status: s,
        requeue_after: requeue,
        plan: None,
        writes: 0,
        fatal: !transient && !access,
        settled: !transient,
        key_events: Vec::new(),
        drill_finished: None,
        exports: None,
    }
}

/// The wait before retrying an access failure that began `elapsed` ago: as long as it has lasted,
/// at least 1 minute and at most 30, so tries double without a counter and survive a restart.
pub fn access_backoff(elapsed: time::Duration) -> Duration {
    backoff(
        elapsed,
        Duration::from_secs(60),
        Duration::from_secs(30 * 60),
    )
}

/// As long as the failure has lasted, within `[min, max]`: the tries double.
fn backoff(elapsed: time::Duration, min: Duration, max: Duration) -> Duration {
    Duration::try_from(elapsed)
        .unwrap_or_default()
        .clamp(min, max)
}

pub struct Inputs<'a> {
    pub prev: &'a EngramDataPlaneStatus,
    pub eff: &'a EffectiveSpec,
    pub observed: &'a Observed,
    /// What this plane set, after this pass's writes (kept in `status.storage`).
    pub memory: Memory,
    pub plan: &'a Plan,
    pub pending: Vec<PendingOperation>,
    pub errors: Vec<String>,
    /// Notes of this pass (operations dropped or retried).
    pub notes: Vec<String>,
    pub corrected: &'a BTreeSet<(String, String)>,
    pub enforce: bool,
    pub fatal: bool,
    pub ctx: &'a Context,
    /// The key rotation step of this pass.
    pub rotation: &'a super::rotation::Step,
}

/// The version segment of `https://{vault}/keys/{name}/{version}`; "latest" for a versionless URI.
fn key_version(uri: &str) -> Option<String> {
    let rest = uri.split("/keys/").nth(1)?;
    Some(
        rest.split('/')
            .nth(1)
            .filter(|v| !v.is_empty())
            .unwrap_or("latest")
            .to_owned(),
    )
}

/// The status after a pass that read Azure.
pub fn build(i: Inputs<'_>) -> EngramDataPlaneStatus {
    let (ctx, plan, g) = (i.ctx, i.plan, i.ctx.generation);
    let mut s = base(i.prev, ctx);
    s.drift = plan
        .drift
        .iter()
        .map(|(resource, c)| DriftEntry {
            resource: resource.clone(),
            field: c.field.clone(),
            desired: c.desired.clone(),
            observed: c.observed.clone().unwrap_or_else(|| "-".into()),
            detected_at: i
                .prev
                .drift
                .iter()
                .find(|d| &d.resource == resource && d.field == c.field)
                .and_then(|d| d.detected_at.clone())
                .or_else(|| Some(rfc3339(ctx.now))),
            corrected: i.corrected.contains(&(resource.clone(), c.field.clone())),
        })
        .collect();
    s.drift_count = s.drift.len() as u32;
    s.pending_operations = i.pending;
    s.errors = plan
        .refused
        .iter()
        .map(|r| format!("{} {}: refused: {}", r.resource, r.field, r.reason))
        .chain(i.errors)
        .collect();
    s.errors.extend(
        i.rotation
            .unusable_in_use
            .iter()
            .map(|u| format!("KeyVersionDisabled: {u}")),
    );
    s.key_rotation = i.rotation.rotation.clone();
    s.notes = i
        .notes
        .into_iter()
        .chain(plan.notes.iter().chain(plan.waiting.iter()).cloned())
        .collect();
    if let Some(why) = &i.eff.postgres.auto_sized {
        s.notes.push(format!("sku auto-sized: {why}"));
    }
    if !i.enforce && !plan.actions.is_empty() {
        s.notes.push(format!(
            "observe mode: {} change(s) not applied",
            plan.actions.len()
        ));
    }
    s.postgres = i
        .observed
        .postgres
        .server
        .as_ref()
        .map(|o| PostgresObserved {
            id: Some(o.id.clone()),
            state: Some(o.state.clone()),
            sku: Some(o.sku_name.clone()),
            storage_gib: Some(o.storage_gib),
            ha_state: o.ha_state.clone().or_else(|| Some(o.ha_mode.clone())),
            key_version: match &o.encryption {
                ObservedEncryption::AzureKeyVault { key_uri, .. } => key_version(key_uri),
                ObservedEncryption::SystemManaged => None,
            },
            fqdn: o.fqdn.clone(),
            endpoint: o.fqdn.as_ref().map(|f| pg_endpoint(i.eff, i.observed, f)),
            network: Some(network_status(
                i.eff,
                Service::Postgres,
                i.observed,
                o.public_network_access.as_deref().unwrap_or("Enabled"),
                &o.connections,
            )),
        });

    s.diagnostics = crate::plan::diagnostics::summary(i.eff, i.observed);
    s.budget = crate::plan::budget::summary(i.eff, i.observed);
    s.storage = storage_summary(i.observed).map(|mut st| {
        i.memory.write_into(&mut st);
        if let Some(a) = &i.observed.storage.account {
            st.network = Some(network_status(
                i.eff,
                Service::Blob,
                i.observed,
                a.public_network_access.as_deref().unwrap_or("Enabled"),
                &a.connections,
            ));
        }
        st
    });
    // A resource refused as deleted behind the operator's back stays recorded as this plane's,
    // so that the next pass refuses again instead of creating it silently.
    let deleted = |label: String| {
        plan.refused.iter().any(|r| {
            r.resource == label && r.reason.starts_with(crate::plan::owner::RESOURCE_DELETED)
        })
    };
    if s.postgres.is_none() && deleted(crate::plan::postgres::resource_label(i.eff)) {
        s.postgres = i.prev.postgres.clone();
    }
    if s.storage.is_none() && deleted(crate::plan::storage_account::resource_label(i.eff)) {
        s.storage = i.prev.storage.clone();
    }

    let exists = i.observed.postgres.server.is_some() && i.observed.storage.account.is_some();
    let in_flight = !s.pending_operations.is_empty() || !plan.waiting.is_empty();
    let degraded = i.fatal || !s.errors.is_empty();
    let drifted = !s.drift.is_empty();
    // Ownership refusals name themselves: NotOwned, ResourceDeleted.
    let owned_reason = plan.refused.iter().find_map(|r| {
        [
            crate::plan::owner::NOT_OWNED,
            crate::plan::owner::RESOURCE_DELETED,
        ]
        .into_iter()
        .find(|code| r.reason.starts_with(code))
    });
    let (ready, reason, msg) = if degraded {
        (
            false,
            owned_reason.unwrap_or("Degraded"),
            s.errors.first().cloned().unwrap_or_default(),
        )
    } else if in_flight {
        let mut msg = format!("{} operation(s) in flight", s.pending_operations.len());
        if let Some(w) = plan.waiting.first() {
            msg = format!("{msg}; waiting: {w}");
        }
        (false, "Progressing", msg)
    } else if !exists || !plan.actions.is_empty() {
        (
            false,
            "Pending",
            format!("{} change(s) to apply", plan.actions.len()),
        )
    } else if drifted {
        (
            false,
            "Drifted",
            format!("{} field(s) differ", s.drift.len()),
        )
    } else {
        (true, "InSync", "every declared field matches Azure".into())
    };
    conditions::set(&mut s.conditions, READY, ready, reason, msg, g, ctx.now);
    let progressing = in_flight || (i.enforce && !plan.actions.is_empty());
    conditions::set(
        &mut s.conditions,
        PROGRESSING,
        progressing,
        if progressing { "Applying" } else { "Idle" },
        s.pending_operations
            .iter()
            .map(|p| format!("{} {}", p.resource, p.action))
            .chain(plan.waiting.iter().cloned())
            .collect::<Vec<_>>()
            .join(", "),
        g,
        ctx.now,
    );
    let drift_msg = if drifted && !i.enforce {
        format!(
            "{} field(s) differ (observe mode: not corrected)",
            s.drift.len()
        )
    } else {
        format!("{} field(s) differ", s.drift.len())
    };
    conditions::set(
        &mut s.conditions,
        DRIFTED,
        drifted,
        if drifted { "DriftDetected" } else { "NoDrift" },
        drift_msg,
        g,
        ctx.now,
    );
    if let Some(r) = &s.key_rotation {
        let done = r.phase != "InProgress";
        let msg = r
            .consumers
            .iter()
            .map(|c| format!("{} {}", c.consumer, c.state))
            .collect::<Vec<_>>()
            .join(", ");
        let reason = if done {
            "AllConsumersOnNewVersion"
        } else {
            "RotationInProgress"
        };
        conditions::set(
            &mut s.conditions,
            KEY_ROTATED,
            done,
            reason,
            msg,
            g,
            ctx.now,
        );
    }
    if let Some(due) = &i.rotation.due {
        let (reason, msg) = match due {
            Some(why) => ("MaxKeyAgeExceeded", why.clone()),
            None => ("WithinMaxKeyAge", String::new()),
        };
        conditions::set(
            &mut s.conditions,
            KEY_ROTATION_DUE,
            due.is_some(),
            reason,
            msg,
            g,
            ctx.now,
        );
    }
    let degraded_reason = if !i.rotation.unusable_in_use.is_empty() {
        "KeyVersionDisabled"
    } else {
        "Error"
    };
    conditions::set(
        &mut s.conditions,
        DEGRADED,
        degraded,
        if degraded { degraded_reason } else { "Healthy" },
        s.errors.join("; "),
        g,
        ctx.now,
    );
    s
}

/// A service's network as observed: the declared mode, public access, and the private endpoint's
/// connection, DNS zone group and address (status, and the evidence report's private endpoint rows).
pub fn network_status(
    eff: &EffectiveSpec,
    service: Service,
    observed: &Observed,
    public: &str,
    connections: &[crate::plan::ObservedConnection],
) -> NetworkObserved {
    let (mode, declared) = match service {
        Service::Postgres => (eff.postgres.network.mode(), service.declared(eff)),
        Service::Blob => (eff.storage.network.mode(), service.declared(eff)),
    };
    let pe = service.observed(observed);
    NetworkObserved {
        mode: mode.into(),
        public_network_access: Some(public.into()),
        private_endpoint: pe.map(|_| service.endpoint_name(eff)),
        connection: pe.map(|p| {
            network::connection_status(connections, &p.id)
                .unwrap_or("NotListed")
                .to_owned()
        }),
        dns_zone_group: pe.map(|p| {
            p.dns_zones.as_ref().is_some_and(|z| {
                declared.is_some_and(|d| {
                    z.iter()
                        .any(|id| id.eq_ignore_ascii_case(&d.private_dns_zone_id))
                })
            })
        }),
        private_ip_address: pe.and_then(|p| p.private_ip.clone()),
    }
}

/// `{fqdn}:5432` and how the operator's connection gets there.
fn pg_endpoint(eff: &EffectiveSpec, observed: &Observed, fqdn: &str) -> String {
    let n = &eff.postgres.network;
    let how = if n.delegated_subnet_resource_id.is_some() {
        "VNet integration: a private address in the delegated subnet, resolved by the server's private DNS zone".to_owned()
    } else if let Some(pe) = &observed.postgres.private_endpoint {
        format!(
            "private endpoint {}{}, resolved by the linked private DNS zone",
            Service::Postgres.endpoint_name(eff),
            pe.private_ip
                .as_deref()
                .map(|ip| format!(" at {ip}"))
                .unwrap_or_default()
        )
    } else if n.private_endpoint.is_some() {
        "private endpoint not created yet".to_owned()
    } else {
        "public access, from the addresses its firewall rules allow".to_owned()
    };
    format!("{fqdn}:5432 ({how})")
}

/// The status summary of the storage account: id, the key version each service actually uses, and
/// the lifecycle rules in force.
fn storage_summary(observed: &Observed) -> Option<StorageObserved> {
    let a = observed.storage.account.as_ref()?;
    let mut rules: Vec<String> = observed
        .storage
        .lifecycle
        .iter()
        .flatten()
        .map(|r| r.name.clone())
        .collect();
    rules.sort();
    Some(StorageObserved {
        id: Some(a.id.clone()),
        key_version: match &a.encryption {
            ObservedAccountEncryption::KeyVault(k) => k.version_in_use(),
            ObservedAccountEncryption::MicrosoftManaged => None,
        },
        lifecycle_rules: rules,
        ..Default::default()
    })
}

/// A failed restore drill is Degraded (RestoreDrillFailed) until one succeeds, unless something
/// else already degrades the plane. The source server is never touched because of it.
pub fn drill_condition(s: &mut EngramDataPlaneStatus, ctx: &Context) {
    let failed = s
        .restore_drill
        .as_ref()
        .and_then(|d| d.last.as_ref())
        .filter(|r| r.result.as_deref() == Some("Failed"));
    let already = conditions::get(&s.conditions, DEGRADED).is_some_and(|c| c.status == "True");
    if let (Some(run), false) = (failed, already) {
        let msg = format!(
            "restore drill {} failed: {}",
            run.server,
            run.message.as_deref().unwrap_or("no reason recorded")
        );
        conditions::set(
            &mut s.conditions,
            DEGRADED,
            true,
            "RestoreDrillFailed",
            msg,
            ctx.generation,
            ctx.now,
        );
    }
}
