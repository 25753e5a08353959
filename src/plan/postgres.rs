//! Planner for the PostgreSQL flexible server: create when missing, otherwise PATCH only the fields
//! that differ, start/stop to match the declared state, and hand server parameters to `pg_config`.

use time::OffsetDateTime;

use super::observed::{ObservedEncryption, ObservedPostgres, ObservedServer, ObservedWindow};
use super::rules::{self, StorageVerdict};
use super::CmkKeys;
use super::{
    entra_admin, firewall, network, pg_config, pg_keys, Action, FieldChange, Op, PgServerCreate,
    PgServerPatch, PgTarget, Plan, Refusal, Verb,
};
use crate::api::spec::{HaMode, ServerState, SkuTier};
use crate::api::EffectiveSpec;

/// The ARM resource type of a flexible server.
pub const SERVER_TYPE: &str = "Microsoft.DBforPostgreSQL/flexibleServers";

/// The resource label used in status, drift and plan output.
pub fn resource_label(eff: &EffectiveSpec) -> String {
    format!("postgres/{}", eff.postgres.server_name)
}

/// Where the server lives.
pub fn target(eff: &EffectiveSpec) -> PgTarget {
    PgTarget {
        subscription_id: eff.azure.subscription_id.clone(),
        resource_group: eff.azure.resource_group.clone(),
        server_name: eff.postgres.server_name.clone(),
    }
}

fn tier_name(t: SkuTier) -> &'static str {
    match t {
        SkuTier::Burstable => "Burstable",
        SkuTier::GeneralPurpose => "GeneralPurpose",
        SkuTier::MemoryOptimized => "MemoryOptimized",
    }
}

fn ha_name(m: HaMode) -> &'static str {
    match m {
        HaMode::Disabled => "Disabled",
        HaMode::ZoneRedundant => "ZoneRedundant",
        HaMode::SameZone => "SameZone",
    }
}

fn desired_window(eff: &EffectiveSpec) -> Option<ObservedWindow> {
    eff.postgres
        .maintenance_window
        .as_ref()
        .map(|w| ObservedWindow {
            day_of_week: w.day_of_week,
            start_hour: w.start_hour,
            start_minute: w.start_minute,
        })
}

fn window_text(w: Option<&ObservedWindow>) -> String {
    match w {
        Some(w) => format!(
            "day {} {:02}:{:02}",
            w.day_of_week, w.start_hour, w.start_minute
        ),
        None => "system-managed".into(),
    }
}

/// Plan the PostgreSQL server and its parameters.
pub fn plan(eff: &EffectiveSpec, obs: &ObservedPostgres, now: OffsetDateTime) -> Plan {
    let resource = resource_label(eff);
    let tgt = target(eff);
    let mut plan = Plan::default();
    let Some(server) = &obs.server else {
        if let Some(why) = &obs.name_unavailable {
            plan.refused.push(Refusal {
                resource,
                field: "serverName".into(),
                reason: format!(
                    "{} is not available: {why} (server names are global DNS names, {}.postgres.database.azure.com): choose another serverName",
                    tgt.server_name, tgt.server_name
                ),
            });
            return plan;
        }
        match pg_keys::desired(eff, obs) {
            Ok(cmk) => plan.actions.push(create_action(eff, cmk, &resource, tgt)),
            Err(u) => plan.refused.push(Refusal {
                resource,
                field: u.field.into(),
                reason: format!("server not created: {}", u.reason),
            }),
        }
        return plan;
    };
    if rules::is_busy(&server.state) {
        plan.waiting.push(format!(
            "{resource} is {}: no write until it settles",
            server.state
        ));
        return plan;
    }
    if rules::is_broken(&server.state) {
        plan.refused.push(Refusal {
            resource,
            field: "state".into(),
            reason: format!(
                "server is {}: check the customer-managed key and identity",
                server.state
            ),
        });
        return plan;
    }
    let (main, ha) = diff_server(eff, obs, server, &resource, &mut plan);
    let stopped = server.state.eq_ignore_ascii_case("Stopped");
    let want_running = eff.postgres.state == ServerState::Running;
    let mut actions = Vec::new();
    if stopped && want_running {
        actions.push(state_action(
            &resource,
            &tgt,
            Verb::Start,
            "Stopped",
            "Running",
        ));
    }
    for (patch, changes) in [main, ha] {
        if !changes.is_empty() {
            actions.push(Action {
                resource: resource.clone(),
                verb: Verb::Update,
                changes,
                op: Op::PgPatch(tgt.clone(), patch),
            });
        }
    }
    let cfg = pg_config::plan(eff, obs, &resource, &tgt, now);
    actions.extend(cfg.actions);
    plan.refused.extend(cfg.refused);
    plan.notes.extend(cfg.notes);
    let fw = firewall::plan(eff, obs.firewall_rules.as_ref(), &resource, &tgt);
    actions.extend(fw.actions);
    plan.notes.extend(fw.notes);
    actions.extend(entra_admin::plan(eff, obs, &resource, &tgt).actions);
    if !stopped && !want_running {
        actions.push(state_action(
            &resource,
            &tgt,
            Verb::Stop,
            &server.state,
            "Stopped",
        ));
    }
    for a in &actions {
        // A firewall rule being created is not drift.
        for c in a.changes.iter().filter(|c| c.observed.is_some()) {
            plan.drift.push((resource.clone(), c.clone()));
        }
    }
    if stopped && !want_running {
        // Nothing can be changed on a stopped server; the drift stays reported until it runs.
        if !actions.is_empty() {
            plan.notes.push(format!(
                "{resource} is stopped: {} change(s) deferred until it runs",
                actions.len()
            ));
        }
        actions.clear();
    }
    plan.actions = actions;
    plan
}

fn state_action(resource: &str, tgt: &PgTarget, verb: Verb, from: &str, to: &str) -> Action {
    let op = match verb {
        Verb::Start => Op::PgStart(tgt.clone()),
        _ => Op::PgStop(tgt.clone()),
    };
    Action {
        resource: resource.into(),
        verb,
        changes: vec![FieldChange::new("state", from, to)],
        op,
    }
}

fn create_action(
    eff: &EffectiveSpec,
    cmk: Option<CmkKeys>,
    resource: &str,
    tgt: PgTarget,
) -> Action {
    let pg = &eff.postgres;
    let (public_network_access, delegated_subnet, private_dns_zone) = network::server_create(eff);
    let create = PgServerCreate {
        public_network_access,
        delegated_subnet,
        private_dns_zone,
        location: eff.azure.location.clone(),
        version: pg.version.clone(),
        sku_tier: tier_name(pg.sku.tier).into(),
        sku_name: pg.sku.name.clone(),
        availability_zone: pg.availability_zone.clone(),
        storage_gib: pg.storage_gib,
        auto_grow: pg.auto_grow,
        ha_mode: ha_name(pg.high_availability.mode).into(),
        standby_zone: pg.high_availability.standby_zone.clone(),
        backup_retention_days: pg.backup_retention_days,
        geo_redundant_backup: pg.geo_redundant_backup,
        maintenance_window: desired_window(eff),
        cmk,
        tags: Default::default(),
    };
    let mut changes = vec![
        created("sku", format!("{} {}", create.sku_tier, create.sku_name)),
        created("version", &create.version),
        created("storage.sizeGiB", create.storage_gib),
        created("highAvailability.mode", &create.ha_mode),
        created("backup.retentionDays", create.backup_retention_days),
        created("network.publicNetworkAccess", &create.public_network_access),
    ];
    if let Some(d) = &create.delegated_subnet {
        changes.push(created("network.delegatedSubnetResourceId", d));
    }
    if let Some(k) = &create.cmk {
        changes.push(created("dataEncryption.primaryKeyURI", &k.primary.uri));
        if let Some(g) = &k.geo {
            changes.push(created("dataEncryption.geoBackupKeyURI", &g.uri));
        }
    }
    Action {
        resource: resource.into(),
        verb: Verb::Create,
        changes,
        op: Op::PgCreate(tgt, Box::new(create)),
    }
}

fn created(field: &str, desired: impl std::fmt::Display) -> FieldChange {
    FieldChange {
        field: field.into(),
        observed: None,
        desired: desired.to_string(),
    }
}

type PatchWithChanges = (PgServerPatch, Vec<FieldChange>);

/// Compare the server's own properties. Returns the main PATCH and, separately, the HA PATCH
/// (SKU and HA never share an operation; SKU goes first).
fn diff_server(
    eff: &EffectiveSpec,
    obs: &ObservedPostgres,
    s: &ObservedServer,
    resource: &str,
    plan: &mut Plan,
) -> (PatchWithChanges, PatchWithChanges) {
    let pg = &eff.postgres;
    let mut p = PgServerPatch::default();
    let mut ch = Vec::new();
    let mut refuse = |field: &str, reason: String| {
        plan.refused.push(Refusal {
            resource: resource.into(),
            field: field.into(),
            reason,
        })
    };

    let tier = tier_name(pg.sku.tier);
    if !pg.sku.name.eq_ignore_ascii_case(&s.sku_name) || !tier.eq_ignore_ascii_case(&s.sku_tier) {
        p.sku = Some((tier.into(), pg.sku.name.clone()));
        ch.push(FieldChange::new(
            "sku",
            format!("{} {}", s.sku_tier, s.sku_name),
            format!("{tier} {}", pg.sku.name),
        ));
    }
    match rules::storage_verdict(pg.storage_gib, s.storage_gib, s.auto_grow) {
        StorageVerdict::InSync => {}
        StorageVerdict::Grow => {
            p.storage_gib = Some(pg.storage_gib);
            ch.push(FieldChange::new(
                "storage.sizeGiB",
                s.storage_gib,
                pg.storage_gib,
            ));
        }
        StorageVerdict::AutoGrown => plan.notes.push(format!(
            "{resource}: storage auto-grown to {} GiB (declared {} GiB): not drift",
            s.storage_gib, pg.storage_gib
        )),
        StorageVerdict::ShrinkRefused => refuse(
            "storage.sizeGiB",
            format!(
                "storage cannot shrink ({} GiB observed, {} GiB declared)",
                s.storage_gib, pg.storage_gib
            ),
        ),
    }
    if pg.auto_grow != s.auto_grow {
        p.auto_grow = Some(pg.auto_grow);
        ch.push(FieldChange::new(
            "storage.autoGrow",
            s.auto_grow,
            pg.auto_grow,
        ));
    }
    if pg.backup_retention_days != s.backup_retention_days {
        p.backup_retention_days = Some(pg.backup_retention_days);
        ch.push(FieldChange::new(
            "backup.retentionDays",
            s.backup_retention_days,
            pg.backup_retention_days,
        ));
    }
    if pg.geo_redundant_backup != s.geo_redundant_backup {
        refuse(
            "backup.geoRedundant",
            format!(
                "geo-redundant backup is chosen at creation only (observed {}, declared {})",
                s.geo_redundant_backup, pg.geo_redundant_backup
            ),
        );
    }
    if let Some(w) = desired_window(eff) {
        if s.maintenance_window != Some(w) {
            p.maintenance_window = Some(w);
            ch.push(FieldChange::new(
                "maintenanceWindow",
                window_text(s.maintenance_window.as_ref()),
                window_text(Some(&w)),
            ));
        }
    }
    if let Some((field, reason)) = network::server_diff(eff, s, &mut p, &mut ch) {
        refuse(&field, reason);
    }
    if let Some(v) = &s.version {
        if v != &pg.version {
            refuse(
                "version",
                format!(
                    "major version change {v} → {} is not done in place",
                    pg.version
                ),
            );
        }
    }
    let desired = match pg_keys::desired(eff, obs) {
        Ok(d) => d,
        Err(u) => {
            refuse(u.field, format!("key not updated: {}", u.reason));
            return ((p, ch), ha_patch(eff, s, resource, plan));
        }
    };
    match (desired, &s.encryption) {
        (None, ObservedEncryption::SystemManaged) => {}
        (
            Some(keys),
            ObservedEncryption::AzureKeyVault {
                key_uri,
                geo_key_uri,
                ..
            },
        ) => {
            let mut differs = false;
            if !key_uri.eq_ignore_ascii_case(&keys.primary.uri) {
                ch.push(FieldChange::new(
                    "dataEncryption.primaryKeyURI",
                    key_uri,
                    &keys.primary.uri,
                ));
                differs = true;
            }
            if let Some(g) = &keys.geo {
                if !geo_key_uri
                    .as_deref()
                    .is_some_and(|o| o.eq_ignore_ascii_case(&g.uri))
                {
                    ch.push(FieldChange::new(
                        "dataEncryption.geoBackupKeyURI",
                        geo_key_uri.as_deref().unwrap_or("-"),
                        &g.uri,
                    ));
                    differs = true;
                }
            }
            if differs {
                p.key = Some(keys);
            }
        }
        (Some(_), ObservedEncryption::SystemManaged) => refuse(
            "encryption",
            "adding a customer-managed key to an existing server requires re-creation".into(),
        ),
        (None, ObservedEncryption::AzureKeyVault { .. }) => refuse(
            "encryption",
            "removing the customer-managed key from an existing server requires re-creation".into(),
        ),
    }
    ((p, ch), ha_patch(eff, s, resource, plan))
}

/// The HA PATCH, on its own (SKU and HA never share an operation).
fn ha_patch(
    eff: &EffectiveSpec,
    s: &ObservedServer,
    resource: &str,
    plan: &mut Plan,
) -> PatchWithChanges {
    let pg = &eff.postgres;
    let mut hp = PgServerPatch::default();
    let mut hch = Vec::new();
    let ha = &pg.high_availability;
    let want_mode = ha_name(ha.mode);
    let mode_differs = !want_mode.eq_ignore_ascii_case(&s.ha_mode);
    let zone_ok = ha.mode == HaMode::Disabled
        || rules::standby_zone_ok(
            pg.availability_zone.as_deref(),
            ha.standby_zone.as_deref(),
            s.availability_zone.as_deref(),
            s.standby_zone.as_deref(),
        );
    if mode_differs {
        hch.push(FieldChange::new(
            "highAvailability.mode",
            &s.ha_mode,
            want_mode,
        ));
    } else if !zone_ok {
        hch.push(FieldChange::new(
            "highAvailability.standbyZone",
            s.standby_zone.as_deref().unwrap_or("-"),
            ha.standby_zone.as_deref().unwrap_or("-"),
        ));
    } else if ha.mode != HaMode::Disabled
        && s.standby_zone.as_deref() != ha.standby_zone.as_deref()
        && ha.standby_zone.is_some()
    {
        plan.notes.push(format!(
            "{resource}: primary and standby zones swapped after a failover: not drift"
        ));
    }
    if !hch.is_empty() {
        hp.ha = Some((want_mode.into(), ha.standby_zone.clone()));
    }
    (hp, hch)
}
