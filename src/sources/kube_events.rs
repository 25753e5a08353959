//! Which Kubernetes Events a reconcile deserves: pure functions of the status before and after a
//! pass and of the writes ARM accepted, so an Event marks a transition and a quiet resync publishes
//! nothing.

use kube::runtime::events::{Event, EventType};

use crate::api::EngramDataPlaneStatus;
use crate::plan::containers::FOREIGN_HOLD;
use crate::plan::{Action, Op, Plan, Verb};
use crate::reconcile::conditions::{self, DEGRADED, READY};

/// Longest note we send (the API server rejects notes over 1 kB).
const NOTE_MAX: usize = 1000;

fn event(type_: EventType, reason: &str, action: &str, note: String) -> Event {
    let mut note = note;
    if note.len() > NOTE_MAX {
        let mut cut = NOTE_MAX;
        while !note.is_char_boundary(cut) {
            cut -= 1;
        }
        note.truncate(cut);
    }
    Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: action.into(),
        secondary: None,
    }
}

/// One Event per key rotation step (Warning when a consumer failed or was refused).
pub fn key_events(events: &[crate::plan::rotation::KeyEvent]) -> Vec<Event> {
    events
        .iter()
        .map(|e| {
            let (type_, reason) = match e.event {
                "detected" => (EventType::Normal, "KeyRotationDetected"),
                "move-sent" => (EventType::Normal, "KeyMoveSent"),
                "consumer-confirmed" => (EventType::Normal, "KeyConsumerConfirmed"),
                "rotation-complete" => (EventType::Normal, "KeyRotated"),
                "safe-to-disable" => (EventType::Normal, "PreviousKeyVersionReleasable"),
                _ => (EventType::Warning, "KeyRotationFailed"),
            };
            let mut note = format!(
                "{}: key version {} → {}",
                e.consumer, e.from_version, e.to_version
            );
            if let Some(id) = &e.request_id {
                note.push_str(&format!(" (ARM request {id})"));
            }
            if let Some(m) = &e.message {
                note.push_str(&format!(": {m}"));
            }
            event(type_, reason, "RotateKey", note)
        })
        .collect()
}

/// A finished restore drill: Normal RestoreDrillSucceeded or Warning RestoreDrillFailed, with the
/// An Event when the scaling recommendation changes (a new trigger, next SKU or limit) and when a
/// scale-up is applied; a recommendation that stays the same publishes nothing.
pub fn scaling(prev: &EngramDataPlaneStatus, next: &EngramDataPlaneStatus) -> Vec<Event> {
    let (p, n) = (prev.scaling.as_ref(), next.scaling.as_ref());
    let key = |s: Option<&crate::api::scaling::ScalingStatus>| {
        s.and_then(|s| s.recommendation.as_ref())
            .map(|r| (r.trigger.clone(), r.next_sku.clone(), r.limit.clone()))
    };
    let mut out = Vec::new();
    if let (Some(r), true) = (n.and_then(|s| s.recommendation.as_ref()), key(p) != key(n)) {
        out.push(event(
            EventType::Normal,
            "ScaleUpRecommended",
            "Scale",
            r.reason.clone(),
        ));
    }
    let applied =
        |s: Option<&crate::api::scaling::ScalingStatus>| s.and_then(|s| s.scaled_at.clone());
    if let (Some(s), true) = (n, applied(n).is_some() && applied(p) != applied(n)) {
        let note = format!(
            "{} -> {}: {}",
            s.scaled_from.as_deref().unwrap_or("?"),
            s.scaled_sku.as_deref().unwrap_or("?"),
            s.scaled_reason.as_deref().unwrap_or_default()
        );
        out.push(event(EventType::Normal, "ScaleUpApplied", "Scale", note));
    }
    out
}

/// scratch server, RPO and RTO.
pub fn drill_event(run: &crate::api::status::DrillRun) -> Event {
    let ok = run.result.as_deref() == Some("Succeeded");
    let secs = |v: Option<i64>| v.map_or("not measured".to_owned(), |s| format!("{s} s"));
    let mut note = format!(
        "restore to {} of {}: RPO {}, RTO {}",
        run.restore_point,
        run.server,
        secs(run.rpo_seconds),
        secs(run.rto_seconds)
    );
    if let Some(m) = &run.message {
        note.push_str(&format!(": {m}"));
    }
    if run.kept {
        note.push_str(" (scratch server kept: keepFailed)");
    }
    let (type_, reason) = if ok {
        (EventType::Normal, "RestoreDrillSucceeded")
    } else {
        (EventType::Warning, "RestoreDrillFailed")
    };
    event(type_, reason, "RestoreDrill", note)
}

fn is_true(s: &EngramDataPlaneStatus, type_: &str) -> bool {
    conditions::get(&s.conditions, type_).is_some_and(|c| c.status == "True")
}

fn is_refusal(line: &str) -> bool {
    line.contains(": refused: ")
}

/// The plan actions whose ops ARM accepted in this pass.
pub fn accepted_actions<'a>(plan: Option<&'a Plan>, accepted: &[Op]) -> Vec<&'a Action> {
    plan.map(|p| {
        p.actions
            .iter()
            .filter(|a| accepted.contains(&a.op))
            .collect()
    })
    .unwrap_or_default()
}

/// Events after a reconcile. `spec_changed`: the generation differs from the one the previous
/// status described (a write then applies the spec, rather than correcting drift).
pub fn after_reconcile(
    prev: &EngramDataPlaneStatus,
    next: &EngramDataPlaneStatus,
    accepted: &[&Action],
    spec_changed: bool,
) -> Vec<Event> {
    let mut out = Vec::new();
    // A write while the spec is new or the plane has not been Ready yet applies the spec; once it
    // was Ready with this spec, a write undoes drift.
    let applying = spec_changed || !is_true(prev, READY);
    // One Event per reason per pass (the Recorder folds same-reason Events into one series, so
    // separate ones would lose their notes): the accepted writes grouped by what they did.
    let mut grouped: Vec<(EventType, &str, Vec<String>)> = Vec::new();
    for a in accepted {
        let fields = a
            .changes
            .iter()
            .map(|c| c.field.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let (type_, reason, note) = match a.verb {
            Verb::Create => (
                EventType::Normal,
                "Created",
                format!("{}: create accepted by Azure", a.resource),
            ),
            // Lifting a legal hold makes data deletable again: always a Warning of its own.
            Verb::ClearLegalHold => (
                EventType::Warning,
                "LegalHoldCleared",
                format!(
                    "{}: legal hold cleared as the spec says ({fields})",
                    a.resource
                ),
            ),
            _ if applying => (
                EventType::Normal,
                "Updated",
                format!("{}: {} accepted by Azure ({fields})", a.resource, a.verb),
            ),
            _ => (
                EventType::Normal,
                "DriftCorrected",
                format!("{}: {} sent to undo drift ({fields})", a.resource, a.verb),
            ),
        };
        match grouped.iter_mut().find(|(_, r, _)| *r == reason) {
            Some((_, _, notes)) => notes.push(note),
            None => grouped.push((type_, reason, vec![note])),
        }
    }
    for (type_, reason, notes) in grouped {
        out.push(event(type_, reason, "Reconcile", notes.join("; ")));
    }
    // A legal hold someone else set is kept: one Warning when it is first seen, not every pass.
    for note in next.notes.iter().filter(|n| n.contains(FOREIGN_HOLD)) {
        if !prev.notes.contains(note) {
            out.push(event(
                EventType::Warning,
                "LegalHoldKept",
                "Reconcile",
                note.clone(),
            ));
        }
    }
    // A resource deleted behind the operator's back is created again, empty: one Warning.
    for note in next
        .notes
        .iter()
        .filter(|n| n.starts_with(crate::plan::owner::RECREATED))
    {
        if !prev.notes.contains(note) {
            out.push(event(
                EventType::Warning,
                crate::plan::owner::RECREATED,
                "Reconcile",
                note.clone(),
            ));
        }
    }
    for line in next.errors.iter().filter(|l| is_refusal(l)) {
        if !prev.errors.contains(line) {
            out.push(event(
                EventType::Warning,
                "Refused",
                "Reconcile",
                line.clone(),
            ));
        }
    }
    // A new failure other than a refusal (refusals have their own Event above).
    let failure = next.errors.iter().find(|l| !is_refusal(l));
    if let (Some(line), Some(c)) = (failure, conditions::get(&next.conditions, DEGRADED)) {
        let was = conditions::get(&prev.conditions, DEGRADED);
        let new = !is_true(prev, DEGRADED) || was.is_some_and(|w| w.reason != c.reason);
        if c.status == "True" && new && !prev.errors.contains(line) {
            out.push(event(
                EventType::Warning,
                &c.reason,
                "Reconcile",
                line.clone(),
            ));
        }
    }
    if is_true(next, READY) && !is_true(prev, READY) {
        out.push(event(
            EventType::Normal,
            "Ready",
            "Reconcile",
            "every declared field matches Azure".into(),
        ));
    }
    out
}

/// `ReconcilePolicyChanged` when the annotation `engram.zimax.net/reconcile-policy` was set,
/// changed or cleared since the last pass.
pub fn policy_changed(prev: &EngramDataPlaneStatus, next: &EngramDataPlaneStatus) -> Vec<Event> {
    crate::reconcile::policy::change(prev, next)
        .map(|c| {
            event(
                EventType::Normal,
                "ReconcilePolicyChanged",
                &c.action(),
                c.note(),
            )
        })
        .into_iter()
        .collect()
}

/// The declaration was deleted under `skip` or `detach-on-delete`: Azure left untouched.
pub fn detached(policy: crate::reconcile::policy::ReconcilePolicy) -> Event {
    event(
        EventType::Normal,
        "Retained",
        "Delete",
        format!(
            "Azure resources left untouched (annotation {}={}); finalizer released",
            crate::reconcile::policy::ANNOTATION,
            policy.as_str()
        ),
    )
}

/// Events after a cleanup pass (the declaration is being deleted).
pub fn after_cleanup(
    prev: &EngramDataPlaneStatus,
    next: &EngramDataPlaneStatus,
    accepted: &[&Action],
    done: bool,
    retained: bool,
) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::new();
    if !accepted.is_empty() {
        let what: Vec<&str> = accepted.iter().map(|a| a.resource.as_str()).collect();
        out.push(event(
            EventType::Normal,
            "Deleting",
            "Delete",
            format!("{}: delete accepted by Azure", what.join(", ")),
        ));
    }
    for line in &next.errors {
        if !prev.errors.contains(line) {
            let reason = if is_refusal(line) {
                "Refused"
            } else {
                "DeletionFailed"
            };
            out.push(event(EventType::Warning, reason, "Delete", line.clone()));
        }
    }
    if done {
        let note = if retained {
            "Azure resources retained (deletion: retain or observe mode); finalizer released"
        } else {
            "Azure resources deleted; finalizer released"
        };
        out.push(event(
            EventType::Normal,
            if retained { "Retained" } else { "Deleted" },
            "Delete",
            note.into(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_scaling_event_marks_a_new_recommendation_and_an_applied_scale_once() {
        use crate::api::scaling::{ScalingRecommendation, ScalingStatus};
        let rec = ScalingStatus {
            recommendation: Some(ScalingRecommendation {
                trigger: "cpuPercent".into(),
                next_sku: Some("Standard_D8s_v3".into()),
                reason: "cpuPercent above 70 %".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let with = |s: &ScalingStatus| EngramDataPlaneStatus {
            scaling: Some(s.clone()),
            ..Default::default()
        };
        let none = EngramDataPlaneStatus::default();
        let e = scaling(&none, &with(&rec));
        assert_eq!(
            e.iter().map(|e| e.reason.as_str()).collect::<Vec<_>>(),
            ["ScaleUpRecommended"]
        );
        assert!(
            scaling(&with(&rec), &with(&rec)).is_empty(),
            "no event while it stays"
        );
        let mut applied = rec.clone();
        applied.scaled_at = Some("2025-01-01T00:00:00Z".into());
        applied.scaled_sku = Some("Standard_D8s_v3".into());
        let e = scaling(&with(&rec), &with(&applied));
        assert_eq!(
            e.iter().map(|e| e.reason.as_str()).collect::<Vec<_>>(),
            ["ScaleUpApplied"]
        );
    }

    use super::*;
    use crate::plan::{FieldChange, PgTarget};
    use crate::reconcile::conditions::set;
    use time::macros::datetime;

    fn status(ready: bool, degraded: Option<&str>, errors: &[&str]) -> EngramDataPlaneStatus {
        let now = datetime!(2026-01-01 00:00 UTC);
        let mut s = EngramDataPlaneStatus::default();
        set(&mut s.conditions, READY, ready, "R", "", None, now);
        set(
            &mut s.conditions,
            DEGRADED,
            degraded.is_some(),
            degraded.unwrap_or("Healthy"),
            "",
            None,
            now,
        );
        s.errors = errors.iter().map(|e| e.to_string()).collect();
        s
    }

    fn action(verb: Verb) -> Action {
        let t = PgTarget {
            subscription_id: "s".into(),
            resource_group: "rg".into(),
            server_name: "pg".into(),
        };
        Action {
            resource: "postgres/pg".into(),
            verb,
            changes: vec![FieldChange::new("sku.name", "a", "b")],
            op: Op::PgStart(t),
        }
    }

    fn reasons(evs: &[Event]) -> Vec<&str> {
        evs.iter().map(|e| e.reason.as_str()).collect()
    }

    #[test]
    fn a_quiet_resync_publishes_nothing() {
        let s = status(true, None, &[]);
        assert!(after_reconcile(&s, &s, &[], false).is_empty());
        let refused = status(
            false,
            Some("Error"),
            &["postgres/pg cmk: refused: requires re-creation"],
        );
        assert!(after_reconcile(&refused, &refused, &[], false).is_empty());
    }

    #[test]
    fn writes_are_created_updated_or_drift_corrected() {
        let s = status(false, None, &[]);
        let was_ready = status(true, None, &[]);
        let (c, u) = (action(Verb::Create), action(Verb::Update));
        assert_eq!(reasons(&after_reconcile(&s, &s, &[&c], true)), ["Created"]);
        let both = after_reconcile(&s, &s, &[&c, &c, &u], true);
        assert_eq!(
            reasons(&both),
            ["Created", "Updated"],
            "one Event per reason"
        );
        assert_eq!(
            both[0].note.as_deref(),
            Some("postgres/pg: create accepted by Azure; postgres/pg: create accepted by Azure")
        );
        assert_eq!(reasons(&after_reconcile(&s, &s, &[&u], true)), ["Updated"]);
        assert_eq!(
            reasons(&after_reconcile(&s, &s, &[&u], false)),
            ["Updated"],
            "still converging"
        );
        let evs = after_reconcile(&was_ready, &was_ready, &[&u], false);
        assert_eq!(reasons(&evs), ["DriftCorrected"]);
        assert!(evs[0]
            .note
            .as_deref()
            .unwrap_or_default()
            .contains("sku.name"));
    }

    #[test]
    fn refusal_failure_and_ready_fire_once_on_their_transition() {
        let ok = status(true, None, &[]);
        let line = "postgres/pg cmk: refused: requires re-creation";
        let refused = status(false, Some("Error"), &[line]);
        let evs = after_reconcile(&ok, &refused, &[], false);
        assert_eq!(
            reasons(&evs),
            ["Refused"],
            "no second Event for the same refusal"
        );
        assert_eq!(evs[0].type_, EventType::Warning);

        let fatal = status(
            false,
            Some("Error"),
            &["postgres/pg create: InvalidParameter: no"],
        );
        assert_eq!(
            reasons(&after_reconcile(&ok, &fatal, &[], false)),
            ["Error"]
        );
        assert!(after_reconcile(&fatal, &fatal, &[], false).is_empty());

        assert_eq!(
            reasons(&after_reconcile(&fatal, &ok, &[], false)),
            ["Ready"]
        );
    }

    #[test]
    fn a_hold_someone_else_set_is_one_warning_when_first_seen() {
        let quiet = status(true, None, &[]);
        let mut kept = quiet.clone();
        kept.notes = vec![format!(
            "container/a/record-plane: legal hold(s) case7 {FOREIGN_HOLD} (declare them ...)"
        )];
        let evs = after_reconcile(&quiet, &kept, &[], false);
        assert_eq!(reasons(&evs), ["LegalHoldKept"]);
        assert!(matches!(evs[0].type_, EventType::Warning));
        assert!(after_reconcile(&kept, &kept, &[], false).is_empty(), "once");
    }

    #[test]
    fn clearing_a_legal_hold_is_a_warning_of_its_own() {
        let ready = status(true, None, &[]);
        let clear = action(Verb::ClearLegalHold);
        let update = action(Verb::Update);
        let evs = after_reconcile(&ready, &ready, &[&clear, &update], true);
        assert_eq!(reasons(&evs), ["LegalHoldCleared", "Updated"]);
        assert_eq!(evs[0].type_, EventType::Warning);
        assert_eq!(evs[1].type_, EventType::Normal);
    }

    #[test]
    fn cleanup_events() {
        let s = status(false, None, &[]);
        let d = action(Verb::Delete);
        assert_eq!(
            reasons(&after_cleanup(&s, &s, &[&d], false, false)),
            ["Deleting"]
        );
        assert_eq!(
            reasons(&after_cleanup(&s, &s, &[], true, true)),
            ["Retained"]
        );
        assert_eq!(
            reasons(&after_cleanup(&s, &s, &[], true, false)),
            ["Deleted"]
        );
        let blocked = status(
            false,
            Some("DeletionBlocked"),
            &["storage/a container: refused: legal hold"],
        );
        assert_eq!(
            reasons(&after_cleanup(&s, &blocked, &[], false, false)),
            ["Refused"]
        );
        assert!(after_cleanup(&blocked, &blocked, &[], false, false).is_empty());
    }
}
