//! Storage checks of a declared spec: account name, TLS, containers (names, immutability, legal
//! holds) and lifecycle rules.

use std::collections::HashSet;

use super::super::spec::*;
use super::{Errors, MAX_IMMUTABILITY_DAYS, MAX_LIFECYCLE_DAYS};

pub(super) fn storage(e: &mut Errors, st: &StorageSpec) {
    let n = &st.account_name;
    e.check(
        (3..=24).contains(&n.len())
            && n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
        "spec.storage.accountName",
        format!("{n:?} breaks the storage account naming rule: 3-24 lowercase letters and digits"),
    );
    if let Some(tls) = &st.minimum_tls_version {
        e.check(
            tls == "TLS1_2",
            "spec.storage.minimumTlsVersion",
            format!("{tls:?} is refused: the account must require TLS1_2 (TLS1_0 and TLS1_1 are insecure)"),
        );
    }
    let containers = st.containers.as_deref().unwrap_or_default();
    let mut names = HashSet::new();
    for (i, c) in containers.iter().enumerate() {
        let p = format!("spec.storage.containers[{i}]");
        e.check(
            is_container_name(&c.name),
            format!("{p}.name"),
            format!("{:?} breaks the container naming rule: 3-63 lowercase letters, digits and single hyphens, starting with a letter or digit", c.name),
        );
        e.check(
            names.insert(c.name.as_str()),
            format!("{p}.name"),
            format!("container {:?} is declared twice", c.name),
        );
        if let Some(d) = c.immutability_days {
            e.check(
                (1..=MAX_IMMUTABILITY_DAYS).contains(&d),
                format!("{p}.immutabilityDays"),
                format!("{d} is out of range: immutability must be 1-{MAX_IMMUTABILITY_DAYS} days"),
            );
        }
        e.check(
            !c.locked || c.immutability_days.is_some(),
            format!("{p}.locked"),
            "locked needs immutabilityDays: only a time-based retention policy can be locked",
        );
        let mut tags = HashSet::new();
        for (j, t) in c.legal_holds.iter().enumerate() {
            e.check(
                (3..=23).contains(&t.len()) && t.chars().all(|c| c.is_ascii_alphanumeric()),
                format!("{p}.legalHolds[{j}]"),
                format!("{t:?} is not a legal-hold tag: 3-23 letters and digits"),
            );
            e.check(
                tags.insert(t.to_ascii_lowercase()),
                format!("{p}.legalHolds[{j}]"),
                format!("tag {t:?} is listed twice"),
            );
        }
    }
    let rules = st.lifecycle.as_deref().unwrap_or_default();
    e.check(
        rules.len() <= 100,
        "spec.storage.lifecycle",
        "at most 100 lifecycle rules per policy",
    );
    let mut rule_names = HashSet::new();
    for (i, r) in rules.iter().enumerate() {
        lifecycle_rule(e, &format!("spec.storage.lifecycle[{i}]"), r);
        e.check(
            rule_names.insert(r.name.as_str()),
            format!("spec.storage.lifecycle[{i}].name"),
            format!("rule {:?} is declared twice", r.name),
        );
    }
}

fn lifecycle_rule(e: &mut Errors, p: &str, r: &LifecycleRule) {
    e.check(
        (1..=256).contains(&r.name.len()) && r.name.chars().all(|c| c.is_ascii_alphanumeric()),
        format!("{p}.name"),
        format!("{:?} is not a rule name: 1-256 letters and digits", r.name),
    );
    let container = r.prefix.split('/').next().unwrap_or_default();
    e.check(
        is_container_name(container),
        format!("{p}.prefix"),
        format!(
            "{:?} must start with a container name, e.g. record-plane/",
            r.prefix
        ),
    );
    let days = [
        ("coolAfterDays", r.cool_after_days),
        ("archiveAfterDays", r.archive_after_days),
        ("deleteAfterDays", r.delete_after_days),
    ];
    e.check(
        days.iter().any(|(_, d)| d.is_some()),
        p.to_owned(),
        "a lifecycle rule needs at least one of coolAfterDays, archiveAfterDays, deleteAfterDays",
    );
    for (name, d) in days {
        if let Some(d) = d {
            e.check(
                d <= MAX_LIFECYCLE_DAYS,
                format!("{p}.{name}"),
                format!("{d} is out of range: 0-{MAX_LIFECYCLE_DAYS} days"),
            );
        }
    }
    let set: Vec<_> = days.iter().filter_map(|(n, d)| d.map(|d| (n, d))).collect();
    for w in set.windows(2) {
        let ((a, da), (b, db)) = (w[0], w[1]);
        e.check(
            da < db,
            format!("{p}.{b}"),
            format!(
                "{b} ({db}) must be greater than {a} ({da}): tiering goes cool < archive < delete"
            ),
        );
    }
}

fn is_container_name(n: &str) -> bool {
    (3..=63).contains(&n.len())
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && n.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && !n.ends_with('-')
        && !n.contains("--")
}
