//! Key rotation as a tracked workflow (pure): from what each consumer of a key version reports,
//! what the spec asks and what this pass sent, the next `status.keyRotation` and the audit events
//! of the step. A consumer is confirmed only by its own report (PostgreSQL: the key URI with key
//! status Valid; Storage: `currentVersionedKeyIdentifier`); the rotation is complete when all are,
//! and the previous version is called safe to disable only `release_after` later.

use time::{Duration, OffsetDateTime};

use super::{key_version_of, Action, FieldChange, Observed, Op, Plan, Verb};
use crate::api::{EffectiveSpec, KeyConsumer, KeyRotation};

/// What one consumer shows and is asked, this pass.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsumerView {
    /// postgres, postgres-geo-backup or storage.
    pub consumer: String,
    /// The versionless key URI.
    pub key: String,
    /// The version it should be on (None: unknown, e.g. the key has no readable version).
    pub target: Option<String>,
    /// The version it reports (None: it has no key yet).
    pub observed: Option<String>,
    /// Its own report says the key works (PostgreSQL key status Valid).
    pub healthy: bool,
    /// A write moving it was accepted this pass.
    pub move_sent: bool,
    /// A write of ours on it is in flight.
    pub in_flight: bool,
    /// Azure moves it by itself (Storage under `latest`).
    pub follows: bool,
    /// The move was refused (a key version it may not use), with the reason.
    pub refused: Option<String>,
    /// A write on it failed this pass, with the reason.
    pub failed: Option<String>,
    /// ARM's request id of the write that moved it this pass.
    pub request_id: Option<String>,
}

/// One line of the key audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEvent {
    /// detected, move-sent, consumer-confirmed, rotation-complete, safe-to-disable, failed.
    pub event: &'static str,
    /// The consumer, or `all`.
    pub consumer: String,
    pub from_version: String,
    pub to_version: String,
    /// ARM's request id of the write behind the event (move-sent), if any.
    pub request_id: Option<String>,
    pub message: Option<String>,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn parse(t: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
}

/// Whether the views ask for a rotation other than `prev`'s: some consumer that has a key is to
/// move to a version it is not on, and `prev` does not already target exactly that.
fn new_rotation_needed(prev: Option<&KeyRotation>, views: &[ConsumerView]) -> bool {
    let moving: Vec<&ConsumerView> = views
        .iter()
        .filter(|v| v.observed.is_some() && v.target.is_some() && v.target != v.observed)
        .collect();
    if moving.is_empty() {
        return false;
    }
    match prev {
        None => true,
        Some(r) => moving.iter().any(|v| {
            !r.consumers
                .iter()
                .any(|c| c.consumer == v.consumer && Some(&c.to_version) == v.target.as_ref())
        }),
    }
}

fn start(views: &[ConsumerView], now: OffsetDateTime) -> KeyRotation {
    // The consumers of every key that moves: those to move, and those already on the new
    // version of the same key (Storage may have followed first).
    let moving: Vec<&str> = views
        .iter()
        .filter(|v| v.observed.is_some() && v.target.is_some() && v.target != v.observed)
        .map(|v| v.key.as_str())
        .collect();
    let consumers: Vec<KeyConsumer> = views
        .iter()
        .filter(|v| v.observed.is_some() && moving.contains(&v.key.as_str()))
        .map(|v| KeyConsumer {
            consumer: v.consumer.clone(),
            key: v.key.clone(),
            // One already on the new version (Storage may follow first) came from the version
            // the others of its key are moving from.
            from_version: if v.observed == v.target {
                views
                    .iter()
                    .find(|o| o.key == v.key && o.observed.is_some() && o.observed != o.target)
                    .and_then(|o| o.observed.clone())
                    .unwrap_or_default()
            } else {
                v.observed.clone().unwrap_or_default()
            },
            to_version: v
                .target
                .clone()
                .or_else(|| v.observed.clone())
                .unwrap_or_default(),
            state: "Pending".into(),
            ..Default::default()
        })
        .collect();
    let primary = consumers
        .iter()
        .find(|c| c.consumer == "postgres")
        .or_else(|| consumers.first());
    KeyRotation {
        phase: "InProgress".into(),
        from_version: primary.map(|c| c.from_version.clone()).unwrap_or_default(),
        to_version: primary.map(|c| c.to_version.clone()).unwrap_or_default(),
        started_at: rfc3339(now),
        consumers,
        ..Default::default()
    }
}

fn event(kind: &'static str, c: &KeyConsumer, message: Option<String>) -> KeyEvent {
    KeyEvent {
        event: kind,
        consumer: c.consumer.clone(),
        from_version: c.from_version.clone(),
        to_version: c.to_version.clone(),
        request_id: None,
        message,
    }
}

/// An event about the whole rotation.
fn overall(kind: &'static str, r: &KeyRotation) -> KeyEvent {
    KeyEvent {
        event: kind,
        consumer: "all".into(),
        from_version: r.from_version.clone(),
        to_version: r.to_version.clone(),
        request_id: None,
        message: None,
    }
}

/// One step of the workflow. `release_after`: how long after confirmation the previous version
/// becomes safe to disable.
pub fn track(
    prev: Option<&KeyRotation>,
    views: &[ConsumerView],
    now: OffsetDateTime,
    release_after: Duration,
) -> (Option<KeyRotation>, Vec<KeyEvent>) {
    let mut events = Vec::new();
    let mut r = if new_rotation_needed(prev, views) {
        let r = start(views, now);
        events.push(overall("detected", &r));
        r
    } else {
        match prev {
            Some(r) => r.clone(),
            None => return (None, events),
        }
    };
    if r.phase == "InProgress" {
        for c in &mut r.consumers {
            let Some(v) = views.iter().find(|v| v.consumer == c.consumer) else {
                continue;
            };
            c.observed_version = v.observed.clone();
            let before = c.state.clone();
            let on_target = v.observed.as_deref() == Some(c.to_version.as_str()) && v.healthy;
            let (state, message) = if on_target {
                ("Confirmed", None)
            } else if let Some(why) = &v.refused {
                ("Refused", Some(why.clone()))
            } else if let Some(why) = &v.failed {
                ("Failed", Some(why.clone()))
            } else if v.follows {
                ("Following", None)
            } else if v.move_sent || (v.in_flight && before == "Moving") {
                ("Moving", None)
            } else {
                ("Pending", None)
            };
            c.state = state.into();
            c.message = message.clone();
            if before == state {
                continue;
            }
            match state {
                "Confirmed" => {
                    c.confirmed_at = Some(rfc3339(now));
                    events.push(event("consumer-confirmed", c, None));
                }
                "Moving" => events.push(KeyEvent {
                    request_id: v.request_id.clone(),
                    ..event("move-sent", c, None)
                }),
                "Refused" | "Failed" => events.push(event("failed", c, message)),
                _ => {}
            }
        }
        if r.consumers.iter().all(|c| c.state == "Confirmed") {
            r.phase = "Complete".into();
            r.confirmed_at = Some(rfc3339(now));
            r.safe_to_disable_previous_after = Some(rfc3339(now + release_after));
            events.push(overall("rotation-complete", &r));
        }
    }
    let safe = r
        .safe_to_disable_previous_after
        .as_deref()
        .and_then(parse)
        .is_some_and(|t| now >= t);
    if r.phase == "Complete" && safe {
        r.phase = "SafeToDisablePrevious".into();
        events.push(overall("safe-to-disable", &r));
    }
    (Some(r), events)
}

/// Why a rotation is due (the primary key's version in use is older than `maxKeyAgeDays`), if it
/// is. Only with a customer-managed key and a maximum age.
pub fn due(eff: &EffectiveSpec, obs: &Observed, now: OffsetDateTime) -> Option<String> {
    let max_days = eff.rotation().max_key_age_days?;
    let enc = eff.encryption.as_ref()?;
    let in_use = obs.postgres.key_uris().0.and_then(key_version_of)?;
    let v = obs
        .postgres
        .key_versions
        .iter()
        .find(|v| v.version.eq_ignore_ascii_case(&in_use))?;
    let age_days = (now.unix_timestamp() - v.created) / 86_400;
    (age_days > i64::from(max_days)).then(|| {
        format!(
            "key {} version {in_use} is {age_days} days old (maxKeyAgeDays {max_days})",
            enc.key_name
        )
    })
}

/// The label of a Key Vault key as a resource of the plan.
pub fn key_label(eff: &EffectiveSpec) -> String {
    format!(
        "key/{}",
        eff.encryption
            .as_ref()
            .map(|e| e.key_name.as_str())
            .unwrap_or_default()
    )
}

/// With `rotation.rotate: true` and a rotation due, one write: a new version through Key Vault's
/// rotate endpoint, only while the newest version is the one in use (no rotation pending).
pub fn plan(eff: &EffectiveSpec, obs: &Observed, now: OffsetDateTime) -> Plan {
    let mut plan = Plan::default();
    let Some(why) = due(eff, obs, now) else {
        return plan;
    };
    let (Some(enc), true) = (&eff.encryption, eff.rotation().rotate == Some(true)) else {
        plan.notes.push(format!("KeyRotationDue: {why}"));
        return plan;
    };
    let newest = super::newest(&obs.postgres.key_versions).map(|v| v.version.clone());
    let in_use = obs.postgres.key_uris().0.and_then(key_version_of);
    if newest.is_none() || newest != in_use {
        return plan;
    }
    plan.actions.push(Action {
        resource: key_label(eff),
        verb: Verb::Update,
        changes: vec![FieldChange::new(
            "keyVersion",
            in_use.unwrap_or_default(),
            "new",
        )],
        op: Op::KeyRotate {
            vault_uri: enc.key_vault_uri.clone(),
            key_name: enc.key_name.clone(),
        },
    });
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(consumer: &str, observed: &str, target: &str) -> ConsumerView {
        ConsumerView {
            consumer: consumer.into(),
            key: "https://kv/keys/k".into(),
            target: Some(target.into()),
            observed: Some(observed.into()),
            healthy: true,
            ..Default::default()
        }
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    #[test]
    fn nothing_to_move_is_no_rotation() {
        let (r, ev) = track(
            None,
            &[view("postgres", "a", "a")],
            now(),
            Duration::hours(24),
        );
        assert!(r.is_none() && ev.is_empty());
    }

    #[test]
    fn a_new_target_during_a_rotation_starts_another() {
        let (r, _) = track(
            None,
            &[view("postgres", "a", "b"), view("storage", "a", "b")],
            now(),
            Duration::hours(24),
        );
        let r = r.unwrap();
        assert_eq!((r.from_version.as_str(), r.to_version.as_str()), ("a", "b"));
        // Before it completes, the vault moves on to c.
        let (next, ev) = track(
            Some(&r),
            &[view("postgres", "a", "c"), view("storage", "b", "c")],
            now(),
            Duration::hours(24),
        );
        let next = next.unwrap();
        assert_eq!(next.to_version, "c");
        assert_eq!(ev[0].event, "detected");
        // The same target again is the same rotation: no second detection.
        let (same, ev) = track(
            Some(&next),
            &[view("postgres", "a", "c"), view("storage", "b", "c")],
            now(),
            Duration::hours(24),
        );
        assert_eq!(same.unwrap().started_at, next.started_at);
        assert!(ev.iter().all(|e| e.event != "detected"));
    }

    #[test]
    fn an_unhealthy_consumer_on_the_new_version_is_not_confirmed() {
        let mut pg = view("postgres", "a", "b");
        let (r, _) = track(None, &[pg.clone()], now(), Duration::hours(24));
        pg.observed = Some("b".into());
        pg.healthy = false;
        let (r, ev) = track(r.as_ref(), &[pg], now(), Duration::hours(24));
        let r = r.unwrap();
        assert_eq!(r.consumers[0].state, "Pending");
        assert_eq!(r.phase, "InProgress");
        assert!(ev.is_empty());
    }
}
