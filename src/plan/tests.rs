//! Table-driven tests of the PostgreSQL planners and property tests of the safety rules.

use std::collections::BTreeMap;

use proptest::prelude::*;
use time::macros::datetime;
use time::OffsetDateTime;

use super::storage_tests::with_pg;
use super::*;
use crate::api::spec::{RestartPolicy, ServerState};

const NOW: OffsetDateTime = datetime!(2026-03-04 12:00 UTC);

fn prod() -> EffectiveSpec {
    crate::api::load(include_str!("../../examples/prod.yaml"))
        .unwrap()
        .1
}

fn dev() -> EffectiveSpec {
    crate::api::load(include_str!("../../examples/dev.yaml"))
        .unwrap()
        .1
}

const KEY: &str =
    "https://kv-acme-prod.vault.azure.net/keys/engram-cmk/0123456789abcdef0123456789abcdef";
const GEO_KEY: &str =
    "https://kv-acme-prod-cus.vault.azure.net/keys/engram-cmk/fedcba9876543210fedcba9876543210";

/// What ARM would report for a server created exactly as declared.
pub(super) fn in_sync(eff: &EffectiveSpec) -> ObservedPostgres {
    let pg = &eff.postgres;
    let mut configs = BTreeMap::new();
    configs.insert(
        "azure.extensions".to_string(),
        ObservedConfig {
            value: "VECTOR".into(),
            is_dynamic: true,
            allowed_values: Some("PG_TRGM,VECTOR,PG_STAT_STATEMENTS".into()),
            ..Default::default()
        },
    );
    // Azure reports every server parameter; max_connections sizes the connection alerts.
    configs.insert(
        "max_connections".to_string(),
        ObservedConfig {
            value: "859".into(),
            ..Default::default()
        },
    );
    for (k, v) in &pg.parameters {
        configs.insert(
            k.clone(),
            ObservedConfig {
                value: v.clone(),
                ..Default::default()
            },
        );
    }
    let w = pg.maintenance_window.as_ref().map(|w| ObservedWindow {
        day_of_week: w.day_of_week,
        start_hour: w.start_hour,
        start_minute: w.start_minute,
    });
    ObservedPostgres {
        server: Some(ObservedServer {
            tags: Default::default(),
            id: "/x".into(),
            state: if pg.state == ServerState::Running {
                "Ready"
            } else {
                "Stopped"
            }
            .into(),
            version: Some(pg.version.clone()),
            sku_name: pg.sku.name.clone(),
            sku_tier: format!("{:?}", pg.sku.tier),
            storage_gib: pg.storage_gib,
            auto_grow: pg.auto_grow,
            ha_mode: format!("{:?}", pg.high_availability.mode),
            ha_state: None,
            availability_zone: pg.availability_zone.clone(),
            standby_zone: pg.high_availability.standby_zone.clone(),
            backup_retention_days: pg.backup_retention_days,
            geo_redundant_backup: pg.geo_redundant_backup,
            maintenance_window: w,
            encryption: match &eff.encryption {
                Some(e) => ObservedEncryption::AzureKeyVault {
                    key_uri: KEY.into(),
                    identity_id: Some(e.identity_id.clone()),
                    geo_key_uri: e.geo_backup.as_ref().map(|_| GEO_KEY.into()),
                },
                None => ObservedEncryption::SystemManaged,
            },
            fqdn: None,
            primary_key_status: None,
            geo_key_status: None,
            public_network_access: Some(format!("{:?}", pg.network.public_access)),
            delegated_subnet: pg.network.delegated_subnet_resource_id.clone(),
            connections: super::network_tests::in_sync(eff, super::network::Service::Postgres).1,
            auth: Some(crate::plan::AuthConfig {
                active_directory: true,
                password: false,
            }),
        }),
        firewall_rules: Some(
            pg.network
                .firewall_rules
                .iter()
                .map(|r| {
                    (
                        r.name.clone(),
                        crate::plan::ObservedFirewallRule {
                            start_ip_address: r.start_ip_address.clone(),
                            end_ip_address: r.end_ip_address.clone(),
                        },
                    )
                })
                .collect(),
        ),
        private_endpoint: super::network_tests::in_sync(eff, super::network::Service::Postgres).0,
        configs,
        latest_key_uri: eff.encryption.as_ref().map(|_| KEY.to_string()),
        latest_geo_key_uri: eff
            .encryption
            .as_ref()
            .and_then(|e| e.geo_backup.as_ref())
            .map(|_| GEO_KEY.to_string()),
        key_versions: Vec::new(),
        geo_key_versions: Vec::new(),
        name_unavailable: None,
        entra_admin: pg.entra_admin.as_ref().map(|a| {
            Some(crate::plan::ObservedAdmin {
                principal_name: a.principal_name.clone(),
                principal_type: a.principal_type.as_str().into(),
                tenant_id: a.tenant_id.clone(),
            })
        }),
    }
}

fn server(o: &mut ObservedPostgres) -> &mut ObservedServer {
    o.server.as_mut().unwrap()
}

#[test]
fn missing_server_is_one_create_with_everything() {
    let eff = prod();
    // Key Vault reported the current key versions (`latest` is never sent versionless).
    let obs = ObservedPostgres {
        latest_key_uri: Some(KEY.into()),
        latest_geo_key_uri: Some(GEO_KEY.into()),
        ..Default::default()
    };
    let plan = plan_all(&eff, &with_pg(&eff, obs), &Memory::default(), NOW);
    assert_eq!(plan.actions.len(), 1);
    let Op::PgCreate(t, c) = &plan.actions[0].op else {
        panic!("{plan:?}")
    };
    assert_eq!(t.server_name, "acme-prod-pg");
    assert_eq!(
        (c.sku_name.as_str(), c.storage_gib, c.ha_mode.as_str()),
        ("Standard_D4s_v3", 128, "ZoneRedundant")
    );
    assert_eq!(c.backup_retention_days, 35);
    assert!(c.maintenance_window.is_some());
    assert_eq!(
        c.cmk.as_ref().map(|k| k.primary.identity_id.as_str()),
        eff.encryption.as_ref().map(|e| e.identity_id.as_str())
    );
    assert!(plan.drift.is_empty(), "a missing resource is not drift");
}

#[test]
fn a_create_needs_versioned_keys_and_a_free_name() {
    let eff = prod();
    // `latest` with no current version known: refused, never sent versionless.
    for unresolved in [
        |o: &mut ObservedPostgres| o.latest_key_uri = None,
        |o: &mut ObservedPostgres| o.latest_geo_key_uri = None,
    ] {
        let mut obs = in_sync(&eff);
        obs.server = None;
        obs.configs.clear();
        unresolved(&mut obs);
        let plan = plan_all(&eff, &with_pg(&eff, obs), &Memory::default(), NOW);
        assert!(
            !plan
                .actions
                .iter()
                .any(|a| matches!(a.op, Op::PgCreate(..))),
            "{plan:#?}"
        );
        assert!(plan.refused[0].reason.contains("versionless"), "{plan:#?}");
    }
    let mut obs = in_sync(&eff);
    obs.server = None;
    obs.name_unavailable = Some("AlreadyExists: Specified server name is already used.".into());
    let plan = plan_all(&eff, &with_pg(&eff, obs), &Memory::default(), NOW);
    assert!(!plan
        .actions
        .iter()
        .any(|a| matches!(a.op, Op::PgCreate(..))));
    assert_eq!(plan.refused[0].field, "serverName");
    // Resolved: the create carries both keys, each versioned.
    let mut obs = in_sync(&eff);
    obs.server = None;
    let plan = plan_all(&eff, &with_pg(&eff, obs), &Memory::default(), NOW);
    let Some(Op::PgCreate(_, c)) = plan.actions.first().map(|a| &a.op) else {
        panic!("{plan:#?}")
    };
    let keys = c.cmk.as_ref().expect("cmk");
    assert_eq!(keys.primary.uri, KEY);
    assert_eq!(keys.geo.as_ref().map(|g| g.uri.as_str()), Some(GEO_KEY));
}

#[test]
fn an_unresolvable_key_on_an_existing_server_is_refused_not_patched() {
    let eff = prod();
    let mut obs = in_sync(&eff);
    obs.latest_key_uri = None;
    server(&mut obs).backup_retention_days = 7;
    let plan = plan_all(&eff, &with_pg(&eff, obs), &Memory::default(), NOW);
    assert!(plan
        .refused
        .iter()
        .any(|r| r.field == "dataEncryption.primaryKeyURI"));
    // Other fields are still corrected; the key is not touched.
    assert!(plan
        .actions
        .iter()
        .all(|a| !matches!(&a.op, Op::PgPatch(_, p) if p.key.is_some())));
    assert!(plan
        .actions
        .iter()
        .any(|a| matches!(&a.op, Op::PgPatch(_, p) if p.backup_retention_days == Some(35))));
}

#[test]
fn in_sync_plans_nothing() {
    for eff in [prod(), dev()] {
        let plan = plan_all(&eff, &with_pg(&eff, in_sync(&eff)), &Memory::default(), NOW);
        assert!(plan.in_sync(), "{plan:#?}");
    }
}

/// Each drifted field gives exactly one minimal action touching only that field.
#[test]
fn each_drift_is_one_minimal_write() {
    type Edit = fn(&mut ObservedPostgres);
    type Check = fn(&Op) -> bool;
    let cases: Vec<(&str, Edit, Check)> = vec![
        (
            "sku",
            |o| server(o).sku_name = "Standard_D2s_v3".into(),
            |op| matches!(op, Op::PgPatch(_, p) if p.sku.is_some() && *p == PgServerPatch { sku: p.sku.clone(), ..Default::default() }),
        ),
        (
            "storage.sizeGiB",
            |o| {
                let s = server(o);
                s.storage_gib = 64;
            },
            |op| matches!(op, Op::PgPatch(_, p) if *p == PgServerPatch { storage_gib: Some(128), ..Default::default() }),
        ),
        (
            "storage.autoGrow",
            |o| server(o).auto_grow = false,
            |op| matches!(op, Op::PgPatch(_, p) if *p == PgServerPatch { auto_grow: Some(true), ..Default::default() }),
        ),
        (
            "highAvailability.mode",
            |o| server(o).ha_mode = "Disabled".into(),
            |op| matches!(op, Op::PgPatch(_, p) if p.ha.as_ref().map(|h| h.0.as_str()) == Some("ZoneRedundant") && p.sku.is_none()),
        ),
        (
            "highAvailability.standbyZone",
            |o| server(o).standby_zone = Some("3".into()),
            |op| matches!(op, Op::PgPatch(_, p) if p.ha.is_some()),
        ),
        (
            "backup.retentionDays",
            |o| server(o).backup_retention_days = 7,
            |op| matches!(op, Op::PgPatch(_, p) if *p == PgServerPatch { backup_retention_days: Some(35), ..Default::default() }),
        ),
        (
            "maintenanceWindow",
            |o| server(o).maintenance_window = None,
            |op| matches!(op, Op::PgPatch(_, p) if p.maintenance_window.is_some() && p.sku.is_none()),
        ),
        (
            "dataEncryption.primaryKeyURI",
            |o| {
                o.latest_key_uri = Some(format!(
                    "{}/keys/engram-cmk/ffff",
                    "https://kv-acme-prod.vault.azure.net"
                ))
            },
            |op| matches!(op, Op::PgPatch(_, p) if p.key.as_ref().is_some_and(|k| k.primary.uri.ends_with("/ffff") && k.geo.is_some())),
        ),
        (
            "parameters.ssl_min_protocol_version",
            |o| o.configs.get_mut("ssl_min_protocol_version").unwrap().value = "TLSv1.2".into(),
            |op| matches!(op, Op::PgConfigure(_, n, v) if n == "ssl_min_protocol_version" && v == "TLSv1.3"),
        ),
        (
            "parameters.azure.extensions",
            |o| o.configs.get_mut("azure.extensions").unwrap().value = "PG_TRGM".into(),
            |op| matches!(op, Op::PgConfigure(_, n, v) if n == "azure.extensions" && v == "PG_TRGM,VECTOR"),
        ),
        (
            "state",
            |o| server(o).state = "Stopped".into(),
            |op| matches!(op, Op::PgStart(_)),
        ),
    ];
    let eff = prod();
    for (field, edit, check) in cases {
        let mut obs = in_sync(&eff);
        edit(&mut obs);
        let plan = plan_all(&eff, &with_pg(&eff, obs), &Memory::default(), NOW);
        assert_eq!(plan.actions.len(), 1, "{field}: {plan:#?}");
        assert!(
            check(&plan.actions[0].op),
            "{field}: {:?}",
            plan.actions[0].op
        );
        assert_eq!(plan.drift.len(), 1, "{field}");
        assert_eq!(plan.drift[0].1.field, field);
        assert!(plan.refused.is_empty(), "{field}: {:?}", plan.refused);
    }
}

#[test]
fn sku_goes_before_ha_in_separate_operations() {
    let eff = prod();
    let mut obs = in_sync(&eff);
    server(&mut obs).sku_name = "Standard_D2s_v3".into();
    server(&mut obs).ha_mode = "Disabled".into();
    let plan = plan_all(&eff, &with_pg(&eff, obs), &Memory::default(), NOW);
    assert_eq!(plan.actions.len(), 2);
    let (Op::PgPatch(_, a), Op::PgPatch(_, b)) = (&plan.actions[0].op, &plan.actions[1].op) else {
        panic!()
    };
    assert!(a.sku.is_some() && a.ha.is_none());
    assert!(b.ha.is_some() && b.sku.is_none());
}

#[test]
fn busy_server_gets_no_write() {
    let eff = prod();
    for state in ["Updating", "Starting", "Stopping"] {
        let mut obs = in_sync(&eff);
        server(&mut obs).state = state.into();
        server(&mut obs).sku_name = "Standard_D2s_v3".into();
        let plan = plan_all(&eff, &with_pg(&eff, obs), &Memory::default(), NOW);
        assert!(plan.actions.is_empty(), "{state}");
        assert_eq!(plan.waiting.len(), 1);
    }
}

#[test]
fn auto_grown_storage_and_zone_swap_are_not_drift() {
    let eff = prod();
    let mut obs = in_sync(&eff);
    server(&mut obs).storage_gib = 256;
    server(&mut obs).availability_zone = Some("2".into());
    server(&mut obs).standby_zone = Some("1".into());
    let plan = plan_all(&eff, &with_pg(&eff, obs), &Memory::default(), NOW);
    assert!(plan.in_sync(), "{plan:#?}");
    assert_eq!(plan.notes.len(), 2, "{:?}", plan.notes);
}

#[test]
fn shrink_and_cmk_changes_are_refused_never_written() {
    let eff = prod();
    let mut obs = in_sync(&eff);
    server(&mut obs).storage_gib = 256;
    server(&mut obs).auto_grow = false;
    let plan = plan_all(&eff, &with_pg(&eff, obs), &Memory::default(), NOW);
    assert!(plan.refused.iter().any(|r| r.field == "storage.sizeGiB"));
    assert!(plan
        .actions
        .iter()
        .all(|a| !matches!(&a.op, Op::PgPatch(_, p) if p.storage_gib.is_some())));

    let mut obs = in_sync(&eff);
    server(&mut obs).encryption = ObservedEncryption::SystemManaged;
    let plan = plan_all(&eff, &with_pg(&eff, obs), &Memory::default(), NOW);
    assert_eq!(plan.refused.len(), 1);
    assert!(plan.refused[0].reason.contains("requires re-creation"));
    assert!(plan.actions.is_empty());

    let mut eff2 = prod();
    eff2.encryption = None;
    let plan = plan_all(
        &eff2,
        &with_pg(&eff2, in_sync(&eff)),
        &Memory::default(),
        NOW,
    );
    assert!(plan.refused.iter().any(|r| r.field == "encryption"));
    assert!(plan.actions.is_empty());
}

#[test]
fn stopped_server_defers_config_and_stop_comes_last() {
    let eff = dev();
    // Declared Stopped, observed Stopped with drift: nothing written, drift still reported.
    let mut obs = in_sync(&eff);
    obs.configs.get_mut("azure.extensions").unwrap().value = String::new();
    let plan = plan_all(&eff, &with_pg(&eff, obs.clone()), &Memory::default(), NOW);
    assert!(plan.actions.is_empty());
    assert_eq!(plan.drift.len(), 1);
    // Auto-started after 7 days (Ready): configure first, then stop.
    server(&mut obs).state = "Ready".into();
    let plan = plan_all(&eff, &with_pg(&eff, obs), &Memory::default(), NOW);
    let verbs: Vec<Verb> = plan.actions.iter().map(|a| a.verb).collect();
    assert_eq!(verbs, vec![Verb::Configure, Verb::Stop]);
}

#[test]
fn restart_only_when_pending_and_policy_allows() {
    let mut eff = prod();
    let mut obs = in_sync(&eff);
    obs.configs
        .get_mut("ssl_min_protocol_version")
        .unwrap()
        .pending_restart = true;
    // MaintenanceWindow policy, outside the window (Sunday 02:00): a note, no restart.
    let plan = plan_all(&eff, &with_pg(&eff, obs.clone()), &Memory::default(), NOW);
    assert!(plan.actions.is_empty());
    assert_eq!(plan.notes.len(), 1);
    let plan = plan_all(
        &eff,
        &with_pg(&eff, obs.clone()),
        &Memory::default(),
        datetime!(2026-03-01 02:10 UTC),
    );
    assert_eq!(
        plan.actions.iter().map(|a| a.verb).collect::<Vec<_>>(),
        vec![Verb::Restart]
    );
    eff.postgres.restart_policy = RestartPolicy::Never;
    assert!(plan_all(
        &eff,
        &with_pg(&eff, obs.clone()),
        &Memory::default(),
        datetime!(2026-03-01 02:10 UTC)
    )
    .actions
    .is_empty());
    eff.postgres.restart_policy = RestartPolicy::Immediate;
    assert_eq!(
        plan_all(&eff, &with_pg(&eff, obs), &Memory::default(), NOW)
            .actions
            .len(),
        1
    );
    // No pending restart reported: never restart.
    assert!(
        plan_all(&eff, &with_pg(&eff, in_sync(&eff)), &Memory::default(), NOW)
            .actions
            .is_empty()
    );
}

#[test]
fn unknown_extension_is_refused() {
    let mut eff = prod();
    eff.postgres.extensions.push("not_an_extension".into());
    let plan = plan_all(&eff, &with_pg(&eff, in_sync(&eff)), &Memory::default(), NOW);
    assert!(plan.actions.is_empty());
    assert!(plan.refused[0].reason.contains("NOT_AN_EXTENSION"));
}

proptest! {
    /// Whatever is observed, the plan never writes to a busy server, never shrinks storage and
    /// never adds or removes CMK on an existing server.
    #[test]
    fn safety_rules_hold(
        state in prop::sample::select(vec!["Ready", "Stopped", "Updating", "Starting", "Stopping"]),
        storage in prop::sample::select(vec![32u32, 64, 128, 256, 512]),
        grow: bool,
        cmk: bool,
        sku in prop::sample::select(vec!["Standard_D2s_v3", "Standard_D4s_v3"]),
        ha in prop::sample::select(vec!["Disabled", "ZoneRedundant"]),
    ) {
        let eff = prod();
        let mut obs = in_sync(&eff);
        let s = server(&mut obs);
        s.state = state.into();
        s.storage_gib = storage;
        s.auto_grow = grow;
        s.sku_name = sku.into();
        s.ha_mode = ha.into();
        if !cmk { s.encryption = ObservedEncryption::SystemManaged; }
        let plan = plan_all(&eff, &with_pg(&eff, obs), &Memory::default(), NOW);
        if rules::is_busy(state) { prop_assert!(plan.actions.is_empty()); }
        for a in &plan.actions {
            if let Op::PgPatch(_, p) = &a.op {
                prop_assert!(p.storage_gib.is_none_or(|g| g > storage));
                prop_assert!(!(p.sku.is_some() && p.ha.is_some()));
            }
            prop_assert!(!matches!(a.op, Op::PgCreate(..)));
        }
        if !cmk {
            prop_assert!(plan.actions.iter().all(|a| !matches!(&a.op, Op::PgPatch(_, p) if p.key.is_some())));
        }
    }
}
