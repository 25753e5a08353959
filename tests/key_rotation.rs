//! Key rotation as a tracked workflow, end to end on the mock (virtual clock): each consumer of a
//! key version (PostgreSQL primary, its geo-backup key, Storage) is moved or followed, confirmed
//! from its own report, and the rotation is complete only when all are; a version a consumer may
//! not use is refused with no write.

use crate::support;

use std::time::Duration;

use engram_operator::api::{EffectiveSpec, EngramDataPlaneStatus, KeyRotation};
use engram_operator::mock_arm::{FaultKind, FaultSpec, LroDurations, MockArm, MockConfig};
use engram_operator::reconcile::{self, Outcome};
use support::*;

const VAULT: &str = "kv-acme-prod";
const KEY: &str = "engram-cmk";

/// The prod mock with the keys, Storage following a new version only once it is an hour old.
async fn slow_storage_mock() -> MockArm {
    let m = MockArm::start(MockConfig {
        lro: LroDurations::uniform(LRO),
        storage_key_follow_delay: Duration::from_secs(3600),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    kv_key(&m, "create").await;
    kv_key_in(&m, GEO_VAULT, KEY, "create").await;
    m
}

fn rotation(o: &Outcome) -> &KeyRotation {
    o.status
        .key_rotation
        .as_ref()
        .expect("a rotation is tracked")
}

fn state(o: &Outcome, consumer: &str) -> String {
    rotation(o)
        .consumers
        .iter()
        .find(|c| c.consumer == consumer)
        .map(|c| c.state.clone())
        .unwrap_or_else(|| panic!("{consumer} is not a consumer: {:?}", rotation(o)))
}

fn condition<'a>(s: &'a EngramDataPlaneStatus, t: &str) -> Option<&'a str> {
    s.conditions
        .iter()
        .find(|c| c.type_ == t)
        .map(|c| c.status.as_str())
}

fn events(o: &Outcome) -> Vec<(String, String)> {
    o.key_events
        .iter()
        .map(|e| (e.event.to_string(), e.consumer.clone()))
        .collect()
}

fn pair(e: &str, c: &str) -> (String, String) {
    (e.into(), c.into())
}

fn pinned(version: &str) -> EffectiveSpec {
    let mut eff = prod();
    eff.encryption.as_mut().unwrap().key_version = version.into();
    eff
}

#[tokio::test]
async fn a_rotation_by_the_vault_moves_postgres_and_completes_when_storage_follows() {
    let m = slow_storage_mock().await;
    let arm = arm(&m);
    let eff = prod();
    let ready = converge(&m, &arm, &eff, Default::default()).await;
    assert!(ready.ready());
    assert!(
        ready.status.key_rotation.is_none(),
        "creating is not rotating"
    );

    let v2 = kv_key(&m, "rotate").await;
    let first = pass(&arm, &eff, &ready.status).await;
    let r = rotation(&first);
    assert_eq!(
        (r.phase.as_str(), r.to_version.as_str()),
        ("InProgress", v2.as_str())
    );
    assert_eq!(state(&first, "postgres"), "Moving");
    assert_eq!(state(&first, "storage"), "Following");
    assert_eq!(
        events(&first),
        [pair("detected", "all"), pair("move-sent", "postgres")]
    );
    assert_eq!(condition(&first.status, "KeyRotated"), Some("False"));

    // PostgreSQL's own report confirms it; Storage has not looked at the vault yet.
    let pg_done = converge(&m, &arm, &eff, first.status).await;
    assert_eq!(state(&pg_done, "postgres"), "Confirmed");
    assert_eq!(state(&pg_done, "storage"), "Following");
    assert_eq!(rotation(&pg_done).phase, "InProgress");

    // An hour on, Storage reports the new version: complete, and safe only a day later.
    m.advance(Duration::from_secs(3600));
    let c = ctx();
    let done = reconcile::reconcile(&arm, Ok(&eff), &pg_done.status, &c).await;
    let r = rotation(&done);
    assert_eq!(r.phase, "Complete");
    assert_eq!(state(&done, "storage"), "Confirmed");
    assert_eq!(
        events(&done),
        [
            pair("consumer-confirmed", "storage"),
            pair("rotation-complete", "all")
        ]
    );
    assert_eq!(condition(&done.status, "KeyRotated"), Some("True"));
    assert!(done.ready());
    let later = reconcile::reconcile(&arm, Ok(&eff), &done.status, &at(&c, 23 * 3600)).await;
    assert_eq!(rotation(&later).phase, "Complete");
    assert!(later.key_events.is_empty());
    let safe = reconcile::reconcile(&arm, Ok(&eff), &later.status, &at(&c, 24 * 3600)).await;
    assert_eq!(rotation(&safe).phase, "SafeToDisablePrevious");
    assert_eq!(events(&safe), [pair("safe-to-disable", "all")]);
}

#[tokio::test]
async fn a_pinned_rotation_moves_both_consumers_in_one_pass() {
    let m = mock().await;
    let arm = arm(&m);
    let v1 = kv_key(&m, "rotate").await;
    let ready = converge(&m, &arm, &pinned(&v1), Default::default()).await;
    assert!(ready.ready());
    let v2 = kv_key(&m, "rotate").await;
    let from = m.journal().len();
    let first = pass(&arm, &pinned(&v2), &ready.status).await;
    let writes = writes_since(&m, from);
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert_eq!(state(&first, "postgres"), "Moving");
    assert_eq!(state(&first, "storage"), "Moving");
    let r = rotation(&first);
    assert_eq!(
        (r.from_version.as_str(), r.to_version.as_str()),
        (v1.as_str(), v2.as_str())
    );
    let done = converge(&m, &arm, &pinned(&v2), first.status).await;
    assert_eq!(rotation(&done).phase, "Complete");
    assert!(done.ready());
}

#[tokio::test]
async fn a_postgres_move_that_fails_is_visible_half_done_and_retried() {
    let m = mock().await;
    let arm = arm(&m);
    let eff = prod();
    let ready = converge(&m, &arm, &eff, Default::default()).await;
    let v2 = kv_key(&m, "rotate").await;
    m.inject_fault(
        FaultSpec::new(
            "PATCH",
            &server_id(&eff),
            FaultKind::FailOperation {
                code: "KeyVaultAccessDenied".into(),
                message: "the identity cannot unwrap with the key".into(),
            },
        )
        .times(1),
    )
    .unwrap();
    let first = pass(&arm, &eff, &ready.status).await;
    m.advance(LRO);
    let failed = pass(&arm, &eff, &first.status).await;
    // Storage followed the vault; PostgreSQL is still on the old version, and says why.
    assert_eq!(state(&failed, "storage"), "Confirmed");
    assert_eq!(state(&failed, "postgres"), "Failed");
    let pg = rotation(&failed)
        .consumers
        .iter()
        .find(|c| c.consumer == "postgres")
        .unwrap();
    assert_ne!(pg.observed_version.as_deref(), Some(v2.as_str()));
    let st = rotation(&failed)
        .consumers
        .iter()
        .find(|c| c.consumer == "storage")
        .unwrap();
    assert_eq!(
        (st.from_version.as_str(), st.to_version.as_str()),
        (pg.from_version.as_str(), v2.as_str()),
        "Storage followed first: it came from the version PostgreSQL is still on"
    );
    assert!(pg
        .message
        .as_deref()
        .unwrap()
        .contains("KeyVaultAccessDenied"));
    assert!(events(&failed).contains(&pair("failed", "postgres")));
    assert_eq!(condition(&failed.status, "KeyRotated"), Some("False"));
    // Nothing rolled back; the next passes move PostgreSQL again and complete.
    let done = converge(&m, &arm, &eff, failed.status).await;
    assert_eq!(
        rotation(&done).phase,
        "Complete",
        "{:?}",
        done.status.errors
    );
}

#[tokio::test]
async fn a_disabled_or_not_yet_active_target_is_refused_with_no_write() {
    let m = mock().await;
    let arm = arm(&m);
    let v1 = kv_key(&m, "rotate").await;
    let ready = converge(&m, &arm, &pinned(&v1), Default::default()).await;
    let v2 = kv_key(&m, "rotate").await;
    m.set_key_attributes(VAULT, KEY, &v2, serde_json::json!({"enabled": false}))
        .unwrap();
    let from = m.journal().len();
    let out = pass(&arm, &pinned(&v2), &ready.status).await;
    assert!(writes_since(&m, from).is_empty(), "no write");
    let errors = out.status.errors.join("\n");
    assert!(
        errors.contains(&format!(
            "key version {v2} is disabled: no consumer is moved to it"
        )),
        "{errors}"
    );
    assert_eq!(state(&out, "postgres"), "Refused");
    assert_eq!(state(&out, "storage"), "Refused");

    let v3 = kv_key(&m, "rotate").await;
    let tomorrow = time::OffsetDateTime::now_utc().unix_timestamp() + 86_400;
    m.set_key_attributes(VAULT, KEY, &v3, serde_json::json!({"nbf": tomorrow}))
        .unwrap();
    let from = m.journal().len();
    let out = pass(&arm, &pinned(&v3), &out.status).await;
    assert!(
        writes_since(&m, from).is_empty(),
        "no write: {:?} {:?}",
        writes_since(&m, from),
        out.status.errors
    );
    assert!(out.status.errors.join("\n").contains("is not active until"));
}

#[tokio::test]
async fn a_consumer_on_a_version_disabled_under_it_is_degraded() {
    let m = mock().await;
    let arm = arm(&m);
    let v1 = kv_key(&m, "rotate").await;
    let ready = converge(&m, &arm, &pinned(&v1), Default::default()).await;
    m.set_key_attributes(VAULT, KEY, &v1, serde_json::json!({"enabled": false}))
        .unwrap();
    let out = pass(&arm, &pinned(&v1), &ready.status).await;
    assert!(!out.ready());
    let degraded = out
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == "Degraded")
        .unwrap();
    assert_eq!(degraded.reason, "KeyVersionDisabled");
    assert!(degraded
        .message
        .contains(&format!("postgres: key version {v1} is disabled")));
}

#[tokio::test]
async fn a_geo_backup_key_rotation_is_tracked_on_its_own_consumer() {
    let m = mock().await;
    let arm = arm(&m);
    let eff = prod();
    let ready = converge(&m, &arm, &eff, Default::default()).await;
    let g2 = kv_key_in(&m, GEO_VAULT, KEY, "rotate").await;
    let first = pass(&arm, &eff, &ready.status).await;
    let r = rotation(&first);
    assert_eq!(r.consumers.len(), 1, "only the geo-backup key moves: {r:?}");
    assert_eq!(r.consumers[0].consumer, "postgres-geo-backup");
    assert_eq!(r.consumers[0].to_version, g2);
    let done = converge(&m, &arm, &eff, first.status).await;
    assert_eq!(rotation(&done).phase, "Complete");
    assert_eq!(state(&done, "postgres-geo-backup"), "Confirmed");
}

#[tokio::test]
async fn an_old_key_is_reported_due_and_with_rotate_the_operator_makes_the_new_version() {
    let m = mock().await;
    let arm = arm(&m);
    let eff = prod();
    assert_eq!(
        eff.rotation().max_key_age_days,
        Some(90),
        "prod's quarterly default"
    );
    let ready = converge(&m, &arm, &eff, Default::default()).await;
    // On the mock's timeline (the key versions carry its clock's creation times).
    let c = engram_operator::reconcile::Context {
        now: time::OffsetDateTime::parse(&m.now(), &time::format_description::well_known::Rfc3339)
            .unwrap(),
        ..ctx()
    };
    let young = reconcile::reconcile(&arm, Ok(&eff), &ready.status, &at(&c, 89 * 86_400)).await;
    assert_eq!(condition(&young.status, "KeyRotationDue"), Some("False"));

    // 91 days on: due, reported, and nothing written without `rotate`.
    let from = m.journal().len();
    let old = reconcile::reconcile(&arm, Ok(&eff), &ready.status, &at(&c, 91 * 86_400)).await;
    assert_eq!(condition(&old.status, "KeyRotationDue"), Some("True"));
    assert!(writes_since(&m, from).is_empty());
    assert!(old.ready(), "due is a report, not a failure");

    // With rotate: one POST to the vault's rotate endpoint, then the rotation runs its course.
    let mut eff = prod();
    eff.encryption
        .as_mut()
        .unwrap()
        .rotation
        .as_mut()
        .unwrap()
        .rotate = Some(true);
    let later = at(&c, 91 * 86_400);
    let rotated = reconcile::reconcile(&arm, Ok(&eff), &ready.status, &later).await;
    let w = writes_since(&m, from);
    assert_eq!(
        w,
        [("POST".into(), "/keys/engram-cmk/rotate".into())],
        "{w:?}"
    );
    let next = reconcile::reconcile(&arm, Ok(&eff), &rotated.status, &later).await;
    assert_eq!(rotation(&next).phase, "InProgress");
    assert_eq!(
        condition(&next.status, "KeyRotationDue"),
        Some("True"),
        "until PostgreSQL moves"
    );
}

/// The validation errors of examples/prod.yaml with its key pinned and `extra` under encryption.
fn pinned_prod_errors(extra: &str) -> String {
    let yaml = include_str!("../examples/prod.yaml").replace(
        "\n    keyVersion: latest\n",
        &format!("\n    keyVersion: 0123456789abcdef0123456789abcdef\n{extra}"),
    );
    let errors = engram_operator::api::load(&yaml).unwrap_err();
    errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn rotate_needs_latest_and_the_bounds_are_checked() {
    let text =
        pinned_prod_errors("    rotation:\n      rotate: true\n      releaseAfterHours: 0\n");
    assert!(
        text.contains("spec.encryption.rotation.rotate: needs keyVersion: latest"),
        "{text}"
    );
    assert!(
        text.contains("spec.encryption.rotation.releaseAfterHours: must be 1-8760 hours"),
        "{text}"
    );
}

#[tokio::test]
async fn the_audit_trail_of_one_pinned_rotation_is_exactly_these_lines() {
    let m = mock().await;
    let arm = arm(&m);
    let v1 = kv_key(&m, "rotate").await;
    let ready = converge(&m, &arm, &pinned(&v1), Default::default()).await;
    let v2 = kv_key(&m, "rotate").await;
    let c = ctx();
    let t = c
        .now
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let from = m.journal().len();
    let mut status = ready.status;
    let mut lines = Vec::new();
    for _ in 0..20 {
        let out = reconcile::reconcile(&arm, Ok(&pinned(&v2)), &status, &c).await;
        lines.extend(
            out.key_events
                .iter()
                .map(|e| reconcile::audit::line("acme-prod", c.now, e)),
        );
        status = out.status;
        if status
            .key_rotation
            .as_ref()
            .is_some_and(|r| r.phase == "Complete")
        {
            break;
        }
        m.advance(LRO);
    }
    // The request ids of the two moves, as ARM answered them.
    let id_of = |needle: &str| {
        m.journal()
            .into_iter()
            .skip(from)
            .find(|e| e.method == "PATCH" && e.path.ends_with(needle))
            .map(|e| e.request_id)
            .unwrap()
    };
    let (pg_id, st_id) = (
        id_of("/flexibleServers/acme-prod-pg"),
        id_of("/storageAccounts/acmeengramprod"),
    );
    let line = |event: &str, consumer: &str, id: Option<&str>| {
        let id = id.map_or("null".to_string(), |i| format!("\"{i}\""));
        format!(
            r#"{{"time":"{t}","plane":"acme-prod","event":"{event}","consumer":"{consumer}","fromVersion":"{v1}","toVersion":"{v2}","requestId":{id}}}"#
        )
    };
    assert_eq!(
        lines,
        [
            line("detected", "all", None),
            line("move-sent", "postgres", Some(&pg_id)),
            line("move-sent", "storage", Some(&st_id)),
            line("consumer-confirmed", "postgres", None),
            line("consumer-confirmed", "storage", None),
            line("rotation-complete", "all", None),
        ]
    );
    assert!(
        lines.iter().all(|l| !l.contains(m.token())),
        "no secret in the trail"
    );
}

#[tokio::test]
async fn with_auto_tracking_postgres_gets_a_versionless_key_and_follows_the_vault_with_no_write() {
    let m = slow_storage_mock().await;
    let arm = arm(&m);
    let mut eff = prod();
    eff.encryption.as_mut().unwrap().postgres_key_tracking =
        Some(engram_operator::api::spec::KeyTracking::Auto);
    let ready = converge(&m, &arm, &eff, Default::default()).await;
    assert!(ready.ready(), "{:?}", ready.status.errors);
    // Created with versionless key URIs, at the api-version that accepts them.
    let create = m
        .journal()
        .into_iter()
        .find(|e| e.method == "PUT" && e.path.ends_with("/flexibleServers/acme-prod-pg"))
        .unwrap();
    assert_eq!(create.api_version.as_deref(), Some("2025-08-01"));
    let dump = m.dump();
    let server = dump["resources"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(id, _)| id.eq_ignore_ascii_case(&server_id(&eff)))
        .map(|(_, r)| &r["body"])
        .unwrap();
    assert_eq!(
        server["properties"]["dataEncryption"]["primaryKeyURI"],
        "https://kv-acme-prod.vault.azure.net/keys/engram-cmk"
    );
    let from = m.journal().len();
    let again = pass(&arm, &eff, &ready.status).await;
    assert_eq!(again.writes, 0, "a versionless key is no drift");

    // The vault rotates: nothing is sent to PostgreSQL; Storage (an hour later) confirms it all.
    let v2 = kv_key(&m, "rotate").await;
    let first = pass(&arm, &eff, &again.status).await;
    assert!(writes_since(&m, from)
        .iter()
        .all(|(_, p)| !p.contains("flexibleServers")));
    assert_eq!(state(&first, "postgres"), "Confirmed");
    assert_eq!(state(&first, "storage"), "Following");
    assert_eq!(rotation(&first).to_version, v2);
    m.advance(Duration::from_secs(3600));
    let done = pass(&arm, &eff, &first.status).await;
    assert_eq!(rotation(&done).phase, "Complete");
}

#[test]
fn auto_tracking_needs_latest() {
    let text = pinned_prod_errors("    postgresKeyTracking: auto\n");
    assert!(
        text.contains("spec.encryption.postgresKeyTracking: auto needs keyVersion: latest"),
        "{text}"
    );
}
