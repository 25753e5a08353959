//! Kubernetes-style conditions: Ready, Progressing, Drifted, Degraded (and Paused). `lastTransitionTime` moves
//! only when a condition's status changes.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use time::OffsetDateTime;

pub const READY: &str = "Ready";
pub const PROGRESSING: &str = "Progressing";
pub const DRIFTED: &str = "Drifted";
pub const DEGRADED: &str = "Degraded";
/// Set once a key rotation has been seen: True when every consumer is on the new version.
pub const KEY_ROTATED: &str = "KeyRotated";
/// With `encryption.rotation.maxKeyAgeDays`: True when the key version in use is older.
pub const KEY_ROTATION_DUE: &str = "KeyRotationDue";
/// True while the annotation `engram.zimax.net/reconcile-policy: skip` pauses the data plane.
pub const PAUSED: &str = "Paused";

fn ts(now: OffsetDateTime) -> Time {
    Time(Timestamp::from_second(now.unix_timestamp()).unwrap_or(Timestamp::UNIX_EPOCH))
}

/// Set one condition in place, keeping `lastTransitionTime` unless the status flips.
pub fn set(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
    now: OffsetDateTime,
) {
    let status = if status { "True" } else { "False" }.to_owned();
    let new = |last| Condition {
        type_: type_.to_owned(),
        status: status.clone(),
        reason: reason.to_owned(),
        message: message.into(),
        observed_generation: generation,
        last_transition_time: last,
    };
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            let last = if c.status == status {
                c.last_transition_time.clone()
            } else {
                ts(now)
            };
            *c = new(last);
        }
        None => conditions.push(new(ts(now))),
    }
}

/// The status of a condition ("True"/"False"), if present.
pub fn get<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// True when the Ready condition is True.
pub fn is_ready(conditions: &[Condition]) -> bool {
    get(conditions, READY).is_some_and(|c| c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn transition_time_moves_only_on_status_change() {
        let mut c = Vec::new();
        let t0 = datetime!(2026-01-01 00:00 UTC);
        let t1 = datetime!(2026-01-01 01:00 UTC);
        set(&mut c, READY, false, "Creating", "a", None, t0);
        set(&mut c, READY, false, "Updating", "b", None, t1);
        assert_eq!(c[0].last_transition_time, ts(t0));
        assert_eq!(c[0].reason, "Updating");
        set(&mut c, READY, true, "InSync", "c", None, t1);
        assert_eq!(c[0].last_transition_time, ts(t1));
        assert!(is_ready(&c));
    }
}
