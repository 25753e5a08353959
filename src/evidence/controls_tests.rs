//! The controls' verdicts on hand-made observations (the mock-backed path is tests/evidence.rs).

use time::OffsetDateTime;

use super::controls::{evaluate, Inputs};
use super::{Control, Outcome};
use crate::api::status::{KeyConsumer, KeyRotation};
use crate::api::{EffectiveSpec, EngramDataPlaneStatus};
use crate::plan::diagnostics::VaultRead;
use crate::plan::{
    KeyVersionInfo, Observed, ObservedAccount, ObservedAccountEncryption, ObservedAccountKey,
    ObservedEncryption, ObservedServer,
};

const KV: &str = "https://kv-acme-prod.vault.azure.net";
const NOW: i64 = 1_800_000_000;

fn prod() -> EffectiveSpec {
    crate::api::load(include_str!("../../examples/prod.yaml"))
        .expect("prod")
        .1
}

fn dev() -> EffectiveSpec {
    crate::api::load(include_str!("../../examples/dev.yaml"))
        .expect("dev")
        .1
}

/// PostgreSQL on `pg`, Storage on `st`, version `pg` created `age_days` ago.
fn observed(pg: &str, st: &str, age_days: i64) -> Observed {
    let mut o = Observed::default();
    o.postgres.server = Some(ObservedServer {
        encryption: ObservedEncryption::AzureKeyVault {
            key_uri: format!("{KV}/keys/engram-cmk/{pg}"),
            identity_id: None,
            geo_key_uri: None,
        },
        primary_key_status: Some("Valid".into()),
        ..Default::default()
    });
    o.postgres.key_versions = vec![KeyVersionInfo {
        version: pg.into(),
        enabled: true,
        created: NOW - age_days * 86_400,
        ..Default::default()
    }];
    o.storage.account = Some(ObservedAccount {
        minimum_tls_version: Some("TLS1_2".into()),
        encryption: ObservedAccountEncryption::KeyVault(ObservedAccountKey {
            key_vault_uri: KV.into(),
            key_name: "engram-cmk".into(),
            current_versioned_key_id: Some(format!("{KV}/keys/engram-cmk/{st}")),
            ..Default::default()
        }),
        ..Default::default()
    });
    o
}

fn judge(
    eff: &EffectiveSpec,
    o: &Observed,
    status: Option<&EngramDataPlaneStatus>,
) -> Vec<Control> {
    evaluate(&Inputs {
        eff,
        observed: o,
        status,
        reads: &[],
        now: OffsetDateTime::from_unix_timestamp(NOW).expect("time"),
    })
}

fn get<'a>(controls: &'a [Control], id: &str) -> &'a Control {
    controls.iter().find(|c| c.id == id).expect("control")
}

#[test]
fn key_age_passes_at_90_days_and_fails_after_in_prod_and_is_not_applicable_in_dev() {
    let eff = prod();
    let c = judge(&eff, &observed("v1", "v1", 90), None);
    assert_eq!(get(&c, "AI-SEC-01.4").outcome, Outcome::Pass);
    let c = judge(&eff, &observed("v1", "v1", 91), None);
    let age = get(&c, "AI-SEC-01.4");
    assert_eq!(age.outcome, Outcome::Fail, "{age:?}");
    assert_eq!(age.observed["ageDays"], "91");
    let c = judge(&dev(), &observed("v1", "v1", 400), None);
    assert_eq!(get(&c, "AI-SEC-01.4").outcome, Outcome::NotApplicable);
}

#[test]
fn storage_tls_is_a_service_maximum_at_1_2_a_pass_at_1_3_and_a_fail_below_or_over_http() {
    let eff = prod();
    let mut o = observed("v1", "v1", 1);
    let tls = |o: &Observed| get(&judge(&eff, o, None), "AI-SEC-01.7").outcome;
    assert_eq!(tls(&o), Outcome::ServiceMaximum);
    let acct = o.storage.account.as_mut().expect("account");
    acct.minimum_tls_version = Some("TLS1_3".into());
    assert_eq!(tls(&o), Outcome::Pass);
    let acct = o.storage.account.as_mut().expect("account");
    acct.https_only = Some(false);
    assert_eq!(tls(&o), Outcome::Fail);
    let acct = o.storage.account.as_mut().expect("account");
    acct.https_only = None;
    acct.minimum_tls_version = None;
    assert_eq!(tls(&o), Outcome::Fail, "absent means TLS1_0");
}

fn rotation(phase: &str, storage_state: &str) -> EngramDataPlaneStatus {
    let consumer = |c: &str, state: &str| KeyConsumer {
        consumer: c.into(),
        key: format!("{KV}/keys/engram-cmk"),
        from_version: "v1".into(),
        to_version: "v2".into(),
        state: state.into(),
        ..Default::default()
    };
    EngramDataPlaneStatus {
        key_rotation: Some(KeyRotation {
            phase: phase.into(),
            from_version: "v1".into(),
            to_version: "v2".into(),
            started_at: "2027-01-01T00:00:00Z".into(),
            consumers: vec![
                consumer("postgres", "Confirmed"),
                consumer("storage", storage_state),
            ],
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn a_rotation_passes_only_when_every_consumer_is_confirmed_and_uses_the_new_version() {
    let eff = prod();
    let both_on_v2 = observed("v2", "v2", 1);
    let verdict = |o: &Observed, s: Option<&EngramDataPlaneStatus>| {
        get(&judge(&eff, o, s), "AI-SEC-01.5").clone()
    };
    assert_eq!(verdict(&both_on_v2, None).outcome, Outcome::Unknown);
    let none = EngramDataPlaneStatus::default();
    assert_eq!(
        verdict(&both_on_v2, Some(&none)).outcome,
        Outcome::NotApplicable
    );
    let done = rotation("Complete", "Confirmed");
    assert_eq!(verdict(&both_on_v2, Some(&done)).outcome, Outcome::Pass);
    let half = rotation("InProgress", "Following");
    let c = verdict(&observed("v2", "v1", 1), Some(&half));
    assert_eq!(c.outcome, Outcome::Fail);
    assert!(c.detail.contains("storage Following"), "{}", c.detail);
    // Status says confirmed, but Storage is back on v1 now.
    let c = verdict(&observed("v2", "v1", 1), Some(&done));
    assert_eq!(c.outcome, Outcome::Fail);
    assert!(
        c.detail
            .contains("storage is confirmed on v2 in status but uses v1 now"),
        "{}",
        c.detail
    );
}

#[test]
fn different_keys_fail_the_unified_key_control_and_a_refused_vault_read_is_unknown() {
    let eff = prod();
    let mut o = observed("v1", "v1", 1);
    if let Some(ObservedAccountEncryption::KeyVault(k)) =
        o.storage.account.as_mut().map(|a| &mut a.encryption)
    {
        k.key_name = "other-key".into();
    }
    o.diagnostics.vault = VaultRead::Refused("403 AuthorizationFailed".into());
    let c = judge(&eff, &o, None);
    assert_eq!(get(&c, "AI-SEC-01.2").outcome, Outcome::Fail);
    assert_eq!(get(&c, "AI-SEC-01.3").outcome, Outcome::Fail);
    let vault = get(&c, "AI-SEC-01.14");
    assert_eq!(vault.outcome, Outcome::Unknown);
    assert!(vault.detail.contains("403"), "{}", vault.detail);
}

#[test]
fn a_restore_drill_passes_on_success_fails_on_failure_and_is_unknown_before_the_first() {
    let mut eff = dev();
    let o = observed("v1", "v1", 1);
    let drill = |c: &[Control]| get(c, "AI-SEC-01.21").outcome;
    assert_eq!(drill(&judge(&eff, &o, None)), Outcome::NotApplicable);
    eff.postgres.restore_drill = Some(crate::api::database::RestoreDrill {
        schedule: "weekly".into(),
        ..Default::default()
    });
    assert_eq!(drill(&judge(&eff, &o, None)), Outcome::Unknown);
    let run = |result: &str| crate::api::status::DrillRun {
        server: "acme-dev-pg-drill-202612060300".into(),
        result: Some(result.into()),
        rpo_seconds: Some(42),
        rto_seconds: Some(1900),
        ..Default::default()
    };
    let mut status = EngramDataPlaneStatus::default();
    status.restore_drill = Some(crate::api::status::RestoreDrillStatus {
        last: Some(run("Succeeded")),
        ..Default::default()
    });
    let c = judge(&eff, &o, Some(&status));
    let row = get(&c, "AI-SEC-01.21");
    assert_eq!(row.outcome, Outcome::Pass);
    assert_eq!(row.observed["rpoSeconds"], "42 s");
    assert!(row.detail.contains("RTO 1900 s"), "{row:?}");
    status.restore_drill = Some(crate::api::status::RestoreDrillStatus {
        last: Some(run("Failed")),
        ..Default::default()
    });
    assert_eq!(drill(&judge(&eff, &o, Some(&status))), Outcome::Fail);
}
