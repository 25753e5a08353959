//! Table-driven tests of the storage planners (account, CMK, lifecycle, containers) through
//! `plan_all`, and property tests of the storage safety rules.

use std::collections::BTreeMap;

use proptest::prelude::*;
use time::macros::datetime;
use time::OffsetDateTime;

use super::*;
use crate::api::spec::DeletionPolicy;

const NOW: OffsetDateTime = datetime!(2026-03-04 12:00 UTC);

fn load(yaml: &str) -> EffectiveSpec {
    crate::api::load(yaml).unwrap().1
}
pub(super) fn prod() -> EffectiveSpec {
    load(include_str!("../../examples/prod.yaml"))
}
fn all_examples() -> Vec<EffectiveSpec> {
    [
        include_str!("../../examples/dev.yaml"),
        include_str!("../../examples/test.yaml"),
        include_str!("../../examples/uat.yaml"),
        include_str!("../../examples/prod.yaml"),
    ]
    .into_iter()
    .map(load)
    .collect()
}

/// What ARM would report for a storage side created exactly as declared.
pub(super) fn storage_in_sync(eff: &EffectiveSpec) -> ObservedStorage {
    let st = &eff.storage;
    let key = storage_account::desired_key(eff);
    let account = ObservedAccount {
        tags: Default::default(),
        id: format!("/storage/{}", st.account_name),
        provisioning_state: "Succeeded".into(),
        kind: "StorageV2".into(),
        sku_name: storage_account::replication_name(st.replication).into(),
        minimum_tls_version: Some(st.minimum_tls_version.clone()),
        allow_blob_public_access: Some(false),
        https_only: Some(true),
        public_network_access: Some(format!("{:?}", st.public_network_access)),
        system_assigned_identity: false,
        user_assigned_identities: key.iter().map(|k| k.identity_id.clone()).collect(),
        encryption: match key {
            Some(k) => ObservedAccountEncryption::KeyVault(ObservedAccountKey {
                key_vault_uri: format!("{}/", k.key_vault_uri),
                key_name: k.key_name,
                key_version: k.key_version,
                identity_id: Some(k.identity_id),
                current_versioned_key_id: None,
            }),
            None => ObservedAccountEncryption::MicrosoftManaged,
        },
        network_acls: super::network::desired_acls(eff),
        connections: super::network_tests::in_sync(eff, super::network::Service::Blob).1,
        primary_blob_endpoint: Some(format!(
            "https://{}.blob.core.windows.net/",
            st.account_name
        )),
    };
    let lifecycle = (!st.lifecycle.is_empty()).then(|| {
        st.lifecycle
            .iter()
            .rev()
            .map(|r| ObservedLifecycleRule {
                name: r.name.clone(),
                enabled: Some(true),
                rule_type: "Lifecycle".into(),
                blob_types: vec!["blockBlob".into()],
                prefix_match: vec![r.prefix.clone()],
                cool_after_days: r.cool_after_days,
                archive_after_days: r.archive_after_days,
                delete_after_days: r.delete_after_days,
                other: vec![],
                raw: serde_json::Value::Null,
            })
            .collect()
    });
    let containers = st
        .containers
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                ObservedContainer {
                    public_access: Some("None".into()),
                    immutability: c.immutability_days.map(|days| ObservedImmutability {
                        days,
                        locked: c.locked,
                        etag: "\"8d59f830cb130e5\"".into(),
                    }),
                    legal_hold_tags: c.legal_holds.iter().map(|t| t.to_uppercase()).collect(),
                },
            )
        })
        .collect();
    ObservedStorage {
        account: Some(account),
        lifecycle,
        containers,
        name_unavailable: None,
        private_endpoint: super::network_tests::in_sync(eff, super::network::Service::Blob).0,
    }
}

/// An observed data plane with this PostgreSQL side and an in-sync storage side.
pub(super) fn with_pg(eff: &EffectiveSpec, postgres: ObservedPostgres) -> Observed {
    Observed {
        alerts: super::alerts_tests::in_sync(eff, &postgres),
        postgres,
        storage: storage_in_sync(eff),
        ..Default::default()
    }
}

pub(super) fn storage_plan(eff: &EffectiveSpec, storage: ObservedStorage) -> Plan {
    storage_account::plan(eff, &storage, &super::ownership_tests::memory_of(eff))
}

fn account(o: &mut ObservedStorage) -> &mut ObservedAccount {
    o.account.as_mut().unwrap()
}
fn key(o: &mut ObservedStorage) -> &mut ObservedAccountKey {
    match &mut account(o).encryption {
        ObservedAccountEncryption::KeyVault(k) => k,
        _ => panic!("no CMK"),
    }
}
pub(super) fn record(o: &mut ObservedStorage) -> &mut ObservedContainer {
    o.containers.get_mut("record-plane").unwrap()
}
fn rule(o: &mut ObservedStorage) -> &mut ObservedLifecycleRule {
    &mut o.lifecycle.as_mut().unwrap()[0]
}
pub(super) fn sop(a: &Action) -> &StorageOp {
    match &a.op {
        Op::Storage(s) => s,
        other => panic!("not a storage op: {other:?}"),
    }
}

#[test]
fn missing_account_is_one_create_with_the_hardening_and_key() {
    let eff = prod();
    let plan = storage_plan(&eff, ObservedStorage::default());
    assert_eq!(plan.actions.len(), 1, "{plan:#?}");
    let StorageOp::CreateAccount(t, c) = sop(&plan.actions[0]) else {
        panic!()
    };
    assert_eq!(t.account_name, "acmeengramprod");
    assert_eq!(
        (c.sku_name.as_str(), c.minimum_tls_version.as_str()),
        ("Standard_GZRS", "TLS1_2")
    );
    assert_eq!(c.public_network_access, "Disabled");
    let k = c.cmk.as_ref().unwrap();
    assert_eq!(k.key_version, "", "latest means Azure follows rotation");
    assert_eq!(
        c.identity.as_ref().unwrap().user_assigned,
        vec![k.identity_id.clone()]
    );
    assert!(plan.drift.is_empty());
}

#[test]
fn new_account_gets_policy_container_immutability_and_holds_without_drift() {
    let eff = prod();
    let mut obs = storage_in_sync(&eff);
    obs.lifecycle = None;
    obs.containers.clear();
    let plan = storage_plan(&eff, obs);
    let ops: Vec<_> = plan.actions.iter().map(sop).collect();
    assert!(matches!(ops[0], StorageOp::PutLifecycle(_, r, _) if r.len() == 1));
    assert!(matches!(ops[1], StorageOp::PutContainer(c) if c.container == "record-plane"));
    assert!(matches!(
        ops[2],
        StorageOp::PutImmutability {
            days: 2555,
            etag: None,
            ..
        }
    ));
    assert!(matches!(ops[3], StorageOp::SetLegalHold(_, t) if t == &["litigation2026"]));
    assert_eq!(ops.len(), 4);
    assert!(plan.drift.is_empty(), "{:?}", plan.drift);
}

#[test]
fn in_sync_storage_plans_nothing() {
    for eff in all_examples() {
        let plan = plan_all(
            &eff,
            &with_pg(&eff, ObservedPostgres::default()),
            &Memory::default(),
            NOW,
        );
        assert!(
            plan.actions.iter().all(|a| !matches!(a.op, Op::Storage(_))),
            "{plan:#?}"
        );
        let plan = storage_plan(&eff, storage_in_sync(&eff));
        assert!(plan.in_sync(), "{plan:#?}");
    }
}

/// Each drifted field gives exactly one minimal write touching only that field.
#[test]
fn each_drift_is_one_minimal_write() {
    type Edit = fn(&mut ObservedStorage);
    type Check = fn(&StorageOp) -> bool;
    let patch_only = |op: &StorageOp, want: AccountPatch| matches!(op, StorageOp::PatchAccount(_, p) if **p == want);
    let cases: Vec<(&str, Edit, Check)> = vec![
        (
            "minimumTlsVersion",
            |o| account(o).minimum_tls_version = Some("TLS1_0".into()),
            |op| matches!(op, StorageOp::PatchAccount(_, p) if p.minimum_tls_version.as_deref() == Some("TLS1_2") && p.sku_name.is_none() && p.cmk.is_none()),
        ),
        (
            "publicNetworkAccess",
            |o| account(o).public_network_access = Some("Enabled".into()),
            |op| matches!(op, StorageOp::PatchAccount(_, p) if p.public_network_access.as_deref() == Some("Disabled") && p.minimum_tls_version.is_none()),
        ),
        (
            "allowBlobPublicAccess",
            |o| account(o).allow_blob_public_access = Some(true),
            |op| matches!(op, StorageOp::PatchAccount(_, p) if p.allow_blob_public_access == Some(false) && p.https_only.is_none()),
        ),
        (
            "supportsHttpsTrafficOnly",
            |o| account(o).https_only = Some(false),
            |op| matches!(op, StorageOp::PatchAccount(_, p) if p.https_only == Some(true) && p.allow_blob_public_access.is_none()),
        ),
        (
            "sku",
            |o| account(o).sku_name = "Standard_LRS".into(),
            |op| matches!(op, StorageOp::PatchAccount(_, p) if p.sku_name.as_deref() == Some("Standard_GZRS") && p.kind.is_none()),
        ),
        (
            "kind",
            |o| account(o).kind = "Storage".into(),
            |op| matches!(op, StorageOp::PatchAccount(_, p) if p.kind.as_deref() == Some("StorageV2") && p.sku_name.is_none()),
        ),
        (
            "encryption.keyVersion",
            |o| key(o).key_version = "0123456789abcdef0123456789abcdef".into(),
            |op| matches!(op, StorageOp::PatchAccount(_, p) if p.cmk.as_ref().is_some_and(|k| k.key_version.is_empty()) && p.identity.is_none()),
        ),
        (
            "encryption.keyName",
            |o| key(o).key_name = "other-key".into(),
            |op| matches!(op, StorageOp::PatchAccount(_, p) if p.cmk.as_ref().is_some_and(|k| k.key_name == "engram-cmk")),
        ),
        (
            "encryption.identity",
            |o| key(o).identity_id = None,
            |op| matches!(op, StorageOp::PatchAccount(_, p) if p.cmk.is_some() && p.identity.is_none()),
        ),
        (
            "encryption.keySource",
            |o| account(o).encryption = ObservedAccountEncryption::MicrosoftManaged,
            |op| matches!(op, StorageOp::PatchAccount(_, p) if p.cmk.is_some()),
        ),
        (
            "identity.userAssignedIdentities",
            |o| account(o).user_assigned_identities.clear(),
            |op| matches!(op, StorageOp::PatchAccount(_, p) if p.identity.as_ref().is_some_and(|i| i.user_assigned.len() == 1) && p.cmk.is_none()),
        ),
        (
            "lifecycle.RecordPlaneLifecycle.coolAfterDays",
            |o| rule(o).cool_after_days = Some(45),
            |op| matches!(op, StorageOp::PutLifecycle(_, r, _) if r[0].cool_after_days == Some(30)),
        ),
        (
            "lifecycle.RecordPlaneLifecycle.archiveAfterDays",
            |o| rule(o).archive_after_days = Some(180),
            |op| matches!(op, StorageOp::PutLifecycle(_, r, _) if r[0].archive_after_days == Some(90)),
        ),
        (
            "lifecycle.RecordPlaneLifecycle.deleteAfterDays",
            |o| rule(o).delete_after_days = None,
            |op| matches!(op, StorageOp::PutLifecycle(_, r, _) if r[0].delete_after_days == Some(2555)),
        ),
        (
            "lifecycle.RecordPlaneLifecycle.prefix",
            |o| rule(o).prefix_match = vec!["other/".into()],
            |op| matches!(op, StorageOp::PutLifecycle(_, r, _) if r[0].prefix == "record-plane/"),
        ),
        (
            "lifecycle.RecordPlaneLifecycle.enabled",
            |o| rule(o).enabled = Some(false),
            |op| matches!(op, StorageOp::PutLifecycle(..)),
        ),
        (
            "immutabilityDays",
            |o| record(o).immutability.as_mut().unwrap().days = 365,
            |op| matches!(op, StorageOp::PutImmutability { days: 2555, etag: Some(e), .. } if !e.is_empty()),
        ),
        (
            "legalHolds",
            |o| record(o).legal_hold_tags.clear(),
            |op| matches!(op, StorageOp::SetLegalHold(_, t) if t == &["litigation2026"]),
        ),
        (
            "publicAccess",
            |o| record(o).public_access = Some("Blob".into()),
            |op| matches!(op, StorageOp::PutContainer(c) if c.container == "record-plane"),
        ),
    ];
    let eff = prod();
    for (field, edit, check) in cases {
        let mut obs = storage_in_sync(&eff);
        edit(&mut obs);
        let plan = storage_plan(&eff, obs);
        assert_eq!(plan.actions.len(), 1, "{field}: {plan:#?}");
        assert!(
            check(sop(&plan.actions[0])),
            "{field}: {:?}",
            plan.actions[0]
        );
        assert_eq!(plan.drift.len(), 1, "{field}: {:?}", plan.drift);
        assert_eq!(plan.drift[0].1.field, field);
        assert!(plan.refused.is_empty(), "{field}: {:?}", plan.refused);
    }
    // A whole patch for one field carries nothing else.
    let mut obs = storage_in_sync(&eff);
    account(&mut obs).minimum_tls_version = None;
    let plan = storage_plan(&eff, obs);
    assert!(patch_only(
        sop(&plan.actions[0]),
        AccountPatch {
            minimum_tls_version: Some("TLS1_2".into()),
            ..Default::default()
        }
    ));
}

#[test]
fn locking_follows_the_spec() {
    let mut eff = prod();
    eff.storage.containers[0].locked = true;
    let plan = storage_plan(&eff, {
        let mut o = storage_in_sync(&prod());
        record(&mut o).legal_hold_tags = vec!["litigation2026".into()];
        o
    });
    assert_eq!(plan.actions.len(), 1, "{plan:#?}");
    assert!(
        matches!(sop(&plan.actions[0]), StorageOp::LockImmutability { etag, .. } if etag == "\"8d59f830cb130e5\"")
    );
    // Locked and shorter than declared: extend, never re-PUT.
    let mut obs = storage_in_sync(&eff);
    record(&mut obs).immutability.as_mut().unwrap().days = 1000;
    let plan = storage_plan(&eff, obs);
    assert!(matches!(
        sop(&plan.actions[0]),
        StorageOp::ExtendImmutability { days: 2555, .. }
    ));
}

#[test]
fn forbidden_transitions_are_refused_without_a_write() {
    type Edit = fn(&mut EffectiveSpec, &mut ObservedStorage);
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "shorten a locked policy",
            |e, o| {
                e.storage.containers[0].locked = true;
                e.storage.containers[0].immutability_days = Some(365);
                let i = record(o).immutability.as_mut().unwrap();
                i.locked = true;
            },
            "never be shortened",
        ),
        (
            "unlock",
            |_, o| record(o).immutability.as_mut().unwrap().locked = true,
            "never be unlocked",
        ),
        (
            "remove CMK",
            |e, _| e.encryption = None,
            "removes the customer-managed key",
        ),
        (
            "prune a held container",
            |e, _| {
                e.storage.prune_undeclared_containers = true;
                e.storage.containers.clear();
            },
            "legal hold",
        ),
    ];
    for (what, edit, needle) in cases {
        let mut eff = prod();
        let mut obs = storage_in_sync(&eff);
        edit(&mut eff, &mut obs);
        let plan = storage_plan(&eff, obs);
        assert_eq!(plan.refused.len(), 1, "{what}: {plan:#?}");
        assert!(
            plan.refused[0].reason.contains(needle),
            "{what}: {:?}",
            plan.refused
        );
        assert!(
            plan.actions.iter().all(|a| !matches!(
                sop(a),
                StorageOp::DeleteContainer(_)
                    | StorageOp::PutImmutability { .. }
                    | StorageOp::PatchAccount(..)
            )),
            "{what}: {:?}",
            plan.actions
        );
    }
}

#[test]
fn busy_account_gets_no_write() {
    let eff = prod();
    let mut obs = storage_in_sync(&eff);
    account(&mut obs).provisioning_state = "ResolvingDNS".into();
    account(&mut obs).minimum_tls_version = Some("TLS1_0".into());
    let plan = storage_plan(&eff, obs);
    assert!(plan.actions.is_empty());
    assert_eq!(plan.waiting.len(), 1);
}

#[test]
fn one_key_version_change_moves_both_services() {
    let pinned = |v: &str| {
        let mut eff = prod();
        eff.encryption.as_mut().unwrap().key_version = v.into();
        eff
    };
    let old = pinned("11111111111111111111111111111111");
    let new = pinned("22222222222222222222222222222222");
    let mut pg = ObservedPostgres {
        latest_geo_key_uri: Some(
            "https://kv-acme-prod-cus.vault.azure.net/keys/engram-cmk/33333333333333333333333333333333"
                .into(),
        ),
        ..Default::default()
    };
    let keys = pg_keys::desired(&old, &pg).unwrap().unwrap();
    pg.server = Some(ObservedServer {
        state: "Ready".into(),
        encryption: ObservedEncryption::AzureKeyVault {
            key_uri: keys.primary.uri,
            identity_id: None,
            geo_key_uri: keys.geo.map(|g| g.uri),
        },
        ..Default::default()
    });
    let observed = Observed {
        postgres: pg,
        storage: storage_in_sync(&old),
        ..Default::default()
    };
    let plan = plan_all(&new, &observed, &Memory::default(), NOW);
    let pg_key = plan.actions.iter().find_map(|a| match &a.op {
        Op::PgPatch(_, p) => p.key.clone(),
        _ => None,
    });
    assert!(pg_key.is_some_and(|k| k.primary.uri.ends_with("/22222222222222222222222222222222")));
    let st_key = plan.actions.iter().find_map(|a| match &a.op {
        Op::Storage(StorageOp::PatchAccount(_, p)) => p.cmk.clone(),
        _ => None,
    });
    assert_eq!(
        st_key.map(|k| k.key_version).as_deref(),
        Some("22222222222222222222222222222222")
    );
}

#[test]
fn teardown_respects_retain_and_protection() {
    let mut eff = prod();
    let obs = storage_in_sync(&eff);
    let plan = storage_account::teardown(&eff, &obs);
    assert!(plan.actions.is_empty() && plan.refused.is_empty());
    eff.deletion = DeletionPolicy::Delete;
    let plan = storage_account::teardown(&eff, &obs);
    assert!(plan.actions.is_empty());
    assert!(plan.refused[0].reason.contains("legal hold"));
    let mut free = obs.clone();
    record(&mut free).legal_hold_tags.clear();
    let plan = storage_account::teardown(&eff, &free);
    assert!(matches!(sop(&plan.actions[0]), StorageOp::DeleteAccount(_)));
}

proptest! {
    /// Whatever is observed, the storage plan never deletes under retain, never deletes a protected
    /// container, never patches the key away, never shortens or unlocks a policy.
    #[test]
    fn storage_safety_rules_hold(
        delete: bool,
        cmk_declared: bool,
        obs_days in 1u32..5000,
        obs_locked: bool,
        want_days in prop::option::of(1u32..5000),
        want_locked: bool,
        holds in prop::collection::vec("[a-z]{3,6}", 0..3),
        extra in prop::option::of((prop::collection::vec("[a-z]{3,6}", 0..2), any::<bool>())),
        tls in prop::sample::select(vec!["TLS1_0", "TLS1_1", "TLS1_2"]),
    ) {
        let mut eff = prod();
        eff.deletion = if delete { DeletionPolicy::Delete } else { DeletionPolicy::Retain };
        let mut obs = storage_in_sync(&eff);
        if !cmk_declared { eff.encryption = None; }
        eff.storage.containers[0].immutability_days = want_days;
        eff.storage.containers[0].locked = want_locked && want_days.is_some();
        account(&mut obs).minimum_tls_version = Some(tls.into());
        let rec = record(&mut obs);
        rec.immutability = Some(ObservedImmutability { days: obs_days, locked: obs_locked, etag: "e".into() });
        rec.legal_hold_tags = holds;
        let mut protected = BTreeMap::new();
        if let Some((tags, locked)) = extra {
            let c = ObservedContainer {
                public_access: None,
                immutability: Some(ObservedImmutability { days: 9, locked, etag: "e".into() }),
                legal_hold_tags: tags,
            };
            protected.insert("undeclared".to_string(), c.is_protected());
            obs.containers.insert("undeclared".into(), c);
        }
        let plan = storage_plan(&eff, obs);
        for a in &plan.actions {
            match sop(a) {
                StorageOp::DeleteContainer(c) => {
                    prop_assert!(delete);
                    prop_assert_eq!(protected.get(&c.container), Some(&false));
                }
                StorageOp::DeleteAccount(_) => prop_assert!(false, "never in a reconcile"),
                StorageOp::PatchAccount(_, p) => prop_assert!(cmk_declared || p.cmk.is_none()),
                StorageOp::PutImmutability { days, .. } => prop_assert!(*days > obs_days && !obs_locked),
                StorageOp::ExtendImmutability { days, .. } => prop_assert!(*days > obs_days && obs_locked),
                StorageOp::LockImmutability { .. } => prop_assert!(want_locked && want_days == Some(obs_days)),
                _ => {}
            }
        }
        if !cmk_declared {
            prop_assert!(plan.refused.iter().any(|r| r.field == "encryption"));
        }
    }
}

#[test]
fn rendered_plan_shows_storage_creates_deletes_and_refusals() {
    let mut eff = prod();
    let (text, _) = render::terraform(&storage_plan(&eff, ObservedStorage::default()));
    assert!(text.contains("+ storage/acmeengramprod (create)"), "{text}");
    eff.deletion = DeletionPolicy::Delete;
    let mut free = storage_in_sync(&eff);
    record(&mut free).legal_hold_tags.clear();
    let (text, _) = render::terraform(&storage_account::teardown(&eff, &free));
    assert!(text.contains("- storage/acmeengramprod (delete)"), "{text}");
    let (text, sum) = render::terraform(&storage_account::teardown(&eff, &storage_in_sync(&eff)));
    assert_eq!(sum.refused, 1, "{text}");
}
