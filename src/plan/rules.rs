//! The safety rules of DESIGN.md §5 that more than one planner needs, as small pure functions.

use time::OffsetDateTime;

use super::observed::ObservedWindow;

/// Server states during which nothing may be written (an operation is running).
pub const BUSY_STATES: [&str; 6] = [
    "Updating",
    "Starting",
    "Stopping",
    "Restarting",
    "Provisioning",
    "Dropping",
];

/// True when a server in this state must not receive a write.
pub fn is_busy(state: &str) -> bool {
    BUSY_STATES.iter().any(|s| s.eq_ignore_ascii_case(state))
}

/// True when the server cannot be managed at all (key unusable, disabled).
pub fn is_broken(state: &str) -> bool {
    ["Inaccessible", "Disabled"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(state))
}

/// What to do about storage when declared and observed sizes differ.
#[derive(Debug, PartialEq, Eq)]
pub enum StorageVerdict {
    InSync,
    /// Grow to the declared size.
    Grow,
    /// Observed is larger because auto-grow grew it: not drift.
    AutoGrown,
    /// Declared is smaller and auto-grow is off: storage never shrinks.
    ShrinkRefused,
}

/// Storage never shrinks; growth by auto-grow is not drift.
pub fn storage_verdict(
    desired_gib: u32,
    observed_gib: u32,
    observed_auto_grow: bool,
) -> StorageVerdict {
    use std::cmp::Ordering::*;
    match desired_gib.cmp(&observed_gib) {
        Equal => StorageVerdict::InSync,
        Greater => StorageVerdict::Grow,
        Less if observed_auto_grow => StorageVerdict::AutoGrown,
        Less => StorageVerdict::ShrinkRefused,
    }
}

/// After an HA failover the primary and standby zones swap; that is not drift.
/// Returns true when the observed standby zone matches the declaration either directly or swapped.
pub fn standby_zone_ok(
    desired_primary: Option<&str>,
    desired_standby: Option<&str>,
    observed_primary: Option<&str>,
    observed_standby: Option<&str>,
) -> bool {
    let Some(want) = desired_standby else {
        return true;
    };
    if observed_standby == Some(want) {
        return true;
    }
    // Swapped: the declared standby zone now hosts the primary, and the standby sits in the
    // declared primary zone (or the primary zone was not declared).
    observed_primary == Some(want)
        && (desired_primary.is_none() || desired_primary == observed_standby)
}

/// The Azure name of an extension in the `azure.extensions` allow-list: uppercase, with the
/// project name of pgvector mapped to the extension name.
pub fn azure_extension_name(name: &str) -> String {
    let upper = name.trim().to_ascii_uppercase();
    match upper.as_str() {
        "PGVECTOR" => "VECTOR".into(),
        _ => upper,
    }
}

/// Split a comma-separated allow-list into normalised names.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(azure_extension_name)
        .filter(|s| !s.is_empty())
        .collect()
}

/// True when `now` falls inside the one-hour window starting at the maintenance window
/// (dayOfWeek 0 = Sunday, as the Azure CLI's "Sun:23:30" form suggests).
pub fn in_maintenance_window(window: &ObservedWindow, now: OffsetDateTime) -> bool {
    let day = now.weekday().number_days_from_sunday() as i64;
    let minute_of_week = day * 1440 + now.hour() as i64 * 60 + now.minute() as i64;
    let start = window.day_of_week as i64 * 1440
        + window.start_hour as i64 * 60
        + window.start_minute as i64;
    let delta = (minute_of_week - start).rem_euclid(7 * 1440);
    delta < 60
}

/// Server parameter values compare case-insensitively and ignoring surrounding blanks
/// (ARM echoes `on`/`ON`, `TLSv1.3`/`tlsv1.3`).
pub fn same_value(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    #[test]
    fn busy_states_block_writes() {
        for s in ["Updating", "starting", "Stopping", "Restarting"] {
            assert!(is_busy(s), "{s}");
        }
        for s in ["Ready", "Stopped"] {
            assert!(!is_busy(s), "{s}");
        }
    }

    #[test]
    fn extension_names_follow_azure() {
        assert_eq!(azure_extension_name("vector"), "VECTOR");
        assert_eq!(azure_extension_name("pgvector"), "VECTOR");
        assert_eq!(
            azure_extension_name(" pg_stat_statements "),
            "PG_STAT_STATEMENTS"
        );
        assert_eq!(split_list("vector, PG_TRGM,,"), vec!["VECTOR", "PG_TRGM"]);
    }

    #[test]
    fn zone_swap_is_not_drift() {
        assert!(standby_zone_ok(Some("1"), Some("2"), Some("1"), Some("2")));
        assert!(standby_zone_ok(Some("1"), Some("2"), Some("2"), Some("1")));
        assert!(!standby_zone_ok(Some("1"), Some("2"), Some("1"), Some("3")));
        assert!(standby_zone_ok(None, None, Some("1"), Some("3")));
    }

    #[test]
    fn maintenance_window_hour() {
        let w = ObservedWindow {
            day_of_week: 0,
            start_hour: 2,
            start_minute: 0,
        };
        // 2026-03-01 is a Sunday.
        assert!(in_maintenance_window(&w, datetime!(2026-03-01 02:30 UTC)));
        assert!(!in_maintenance_window(&w, datetime!(2026-03-01 03:00 UTC)));
        assert!(!in_maintenance_window(&w, datetime!(2026-03-02 02:30 UTC)));
    }

    proptest! {
        /// Whatever the sizes, the verdict never asks to shrink and auto-grown storage is never drift.
        #[test]
        fn storage_never_shrinks(desired in 1u32..70000, observed in 1u32..70000, grow: bool) {
            let v = storage_verdict(desired, observed, grow);
            if v == StorageVerdict::Grow {
                prop_assert!(desired > observed);
            }
            if desired < observed {
                prop_assert!(v == StorageVerdict::AutoGrown || v == StorageVerdict::ShrinkRefused);
            }
        }

        /// Swapping the observed zones of a matching HA pair never creates drift.
        #[test]
        fn swapped_zones_are_in_sync(p in "[1-3]", s in "[1-3]") {
            prop_assume!(p != s);
            prop_assert!(standby_zone_ok(Some(&p), Some(&s), Some(&p), Some(&s)));
            prop_assert!(standby_zone_ok(Some(&p), Some(&s), Some(&s), Some(&p)));
        }
    }
}
