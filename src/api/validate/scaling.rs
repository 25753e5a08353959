//! Checks on `postgres.scaling`: triggers are percentages, the window and the cooldown in range,
//! minSku and maxSku in the sizing catalogue, in one family, and in the declared SKU's tier unless
//! `allowTierChange`.

use super::super::scaling::ScalingSpec;
use super::super::spec::SkuSetting;
use super::Errors;

pub(super) fn scaling(e: &mut Errors, s: &ScalingSpec, declared: Option<&SkuSetting>) {
    let p = "spec.postgres.scaling";
    for (field, v) in [
        ("cpuPercent", s.cpu_percent),
        ("memoryPercent", s.memory_percent),
        ("connectionsPercent", s.connections_percent),
    ] {
        if let Some(v) = v {
            e.check(
                v > 0.0 && v < 100.0,
                format!("{p}.{field}"),
                format!("{v} is out of range: a trigger is a percentage above 0 and below 100"),
            );
        }
    }
    if let Some(m) = s.sustained_minutes {
        e.check(
            (5..=1440).contains(&m),
            format!("{p}.sustainedMinutes"),
            format!("{m} is out of range: 5-1440 minutes (metrics are averaged per 5 minutes)"),
        );
    }
    if let Some(h) = s.cooldown_hours {
        e.check(
            (1..=720).contains(&h),
            format!("{p}.cooldownHours"),
            format!("{h} is out of range: 1-720 hours"),
        );
    }
    let tier = match declared {
        Some(SkuSetting::Explicit(sku)) => Some(sku.tier),
        _ => None,
    };
    let mut found = Vec::new();
    for (field, name) in [("minSku", &s.min_sku), ("maxSku", &s.max_sku)] {
        let Some(name) = name else { continue };
        match crate::plan::scaling::find(name) {
            None => e.check(
                false,
                format!("{p}.{field}"),
                format!("{name} is not a Flexible Server compute SKU of the sizing catalogue"),
            ),
            Some(sku) => {
                let other_tier = tier.is_some_and(|t| t != sku.tier);
                e.check(
                    !other_tier || s.allow_tier_change(),
                    format!("{p}.{field}"),
                    format!(
                        "{name} is {:?}, not the declared SKU's tier: set allowTierChange to scale across tiers",
                        sku.tier
                    ),
                );
                found.push((field, sku));
            }
        }
    }
    if let [(_, min), (_, max)] = found.as_slice() {
        e.check(
            min.generation == max.generation
                && (min.vcores, min.memory_gib) <= (max.vcores, max.memory_gib),
            format!("{p}.maxSku"),
            format!(
                "{} must be of the same family as minSku {} and not smaller",
                max.name, min.name
            ),
        );
    }
}
