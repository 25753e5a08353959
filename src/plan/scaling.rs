//! Scale-up from metrics (pure): whether a trigger of `postgres.scaling` holds over its sustained
//! window, the next SKU from the sizing catalogue, and whether `apply` may take it. A trigger
//! holds when every average of the window is above its threshold and the window is covered, so a
//! short spike gives nothing. The step is the next size of the same series, or the Memory
//! Optimized (E) size of the same vCores when memory is the trigger on a General Purpose server.
//! It never scales down.

use crate::api::scaling::{ScalingMode, ScalingRecommendation, ScalingSpec};
use crate::api::spec::SkuTier;
use crate::sizing::catalog::{compute_skus, ComputeSku, Generation};

/// The window's averages (oldest first), connections as a percentage of max_connections.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Load {
    pub cpu: Vec<f64>,
    pub memory: Vec<f64>,
    pub connections: Vec<f64>,
}

/// What the metrics call for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decision {
    pub recommendation: Option<ScalingRecommendation>,
    /// The SKU `apply` scales to now.
    pub apply: Option<String>,
}

/// Every SKU of the catalogue (all generations), for lookups by name.
fn catalogue() -> Vec<ComputeSku> {
    let mut all: Vec<ComputeSku> = Vec::new();
    for g in [Generation::V3, Generation::V4, Generation::V5] {
        for s in compute_skus(g) {
            if !all.iter().any(|x| x.name == s.name) {
                all.push(s);
            }
        }
    }
    all
}

/// A SKU of the catalogue by name (case-insensitive).
pub fn find(name: &str) -> Option<ComputeSku> {
    catalogue()
        .into_iter()
        .find(|s| s.name.eq_ignore_ascii_case(name))
}

/// The next SKU up from `current`: for `memory`, the E size of the same vCores on a D server;
/// otherwise the next size of the same series (same tier and generation).
pub fn next_up(current: &ComputeSku, memory: bool) -> Option<ComputeSku> {
    let series: Vec<ComputeSku> = catalogue()
        .into_iter()
        .filter(|s| s.generation == current.generation)
        .collect();
    if memory && current.tier == SkuTier::GeneralPurpose {
        return series
            .into_iter()
            .find(|s| s.tier == SkuTier::MemoryOptimized && s.vcores == current.vcores);
    }
    series
        .into_iter()
        .filter(|s| s.tier == current.tier)
        .filter(|s| (s.vcores, s.memory_gib) > (current.vcores, current.memory_gib))
        .min_by_key(|s| (s.vcores, s.memory_gib))
}

/// The trigger that holds, if any, with the lowest of its averages: memory first (it changes the
/// series), then CPU, then connections. `needed` is the number of averages the window must have.
fn holding(spec: &ScalingSpec, load: &Load, needed: usize) -> Option<(&'static str, f64, f64)> {
    let holds = |xs: &[f64], limit: f64| {
        (xs.len() >= needed.max(1) && xs.iter().all(|v| *v > limit))
            .then(|| xs.iter().copied().fold(f64::INFINITY, f64::min))
    };
    [
        ("memoryPercent", &load.memory, spec.memory()),
        ("cpuPercent", &load.cpu, spec.cpu()),
        ("connectionsPercent", &load.connections, spec.connections()),
    ]
    .into_iter()
    .find_map(|(name, xs, limit)| holds(xs, limit).map(|low| (name, low, limit)))
}

/// Decide. `cooling_until` is when the last applied scale's cooldown ends (unix seconds), `now`
/// the pass's time.
pub fn decide(
    spec: &ScalingSpec,
    current_sku: &str,
    load: &Load,
    needed: usize,
    cooling_until: Option<i64>,
    now: i64,
) -> Decision {
    if spec.mode() == ScalingMode::Off {
        return Decision::default();
    }
    let Some((trigger, measured, threshold)) = holding(spec, load, needed) else {
        return Decision::default();
    };
    let current = find(current_sku);
    let next = current
        .as_ref()
        .and_then(|c| next_up(c, trigger == "memoryPercent"));
    let max = spec.max_sku.as_deref().and_then(find);
    let limit = match (&current, &next) {
        (None, _) => Some(format!("{current_sku} is not in the sizing catalogue")),
        (Some(_), None) => Some(format!("{current_sku} is the largest of its series")),
        (Some(c), Some(n)) => {
            if max
                .as_ref()
                .is_some_and(|m| n.vcores > m.vcores || c.name == m.name)
            {
                Some(format!(
                    "maxSku {} reached",
                    spec.max_sku.as_deref().unwrap_or_default()
                ))
            } else if n.tier != c.tier
                && !spec.allow_tier_change()
                && spec.mode() == ScalingMode::Apply
            {
                Some(format!(
                    "{} is another tier ({:?}); apply needs allowTierChange",
                    n.name, n.tier
                ))
            } else {
                cooling_until
                    .filter(|t| *t > now)
                    .map(|t| format!("cooldown until {}", crate::plan::unix_rfc3339(t)))
            }
        }
    };
    let next_name = next.as_ref().map(|n| n.name.clone());
    let reason = format!(
        "{trigger} above {threshold} % for the whole window (lowest {measured:.1} %): {}",
        match (&next_name, &limit) {
            (Some(n), None) => format!("{current_sku} -> {n}"),
            (Some(n), Some(l)) => format!("{current_sku} -> {n} held back: {l}"),
            (None, Some(l)) => l.clone(),
            (None, None) => String::new(),
        }
    );
    let apply = (spec.mode() == ScalingMode::Apply && limit.is_none())
        .then(|| next_name.clone())
        .flatten();
    Decision {
        recommendation: Some(ScalingRecommendation {
            trigger: trigger.into(),
            measured: (measured * 10.0).round() / 10.0,
            threshold,
            current_sku: current_sku.into(),
            next_sku: next_name,
            limit,
            reason,
        }),
        apply,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(mode: ScalingMode) -> ScalingSpec {
        ScalingSpec {
            mode: Some(mode),
            ..ScalingSpec::default()
        }
    }

    fn load(cpu: f64, memory: f64, n: usize) -> Load {
        Load {
            cpu: vec![cpu; n],
            memory: vec![memory; n],
            connections: vec![5.0; n],
        }
    }

    #[test]
    fn sustained_cpu_steps_to_the_next_size_of_the_series() {
        let d = decide(
            &spec(ScalingMode::Apply),
            "Standard_D4s_v3",
            &load(85.0, 40.0, 6),
            6,
            None,
            0,
        );
        let r = d.recommendation.unwrap();
        assert_eq!(
            (r.trigger.as_str(), r.next_sku.as_deref()),
            ("cpuPercent", Some("Standard_D8s_v3"))
        );
        assert_eq!(d.apply.as_deref(), Some("Standard_D8s_v3"));
        let b = decide(
            &spec(ScalingMode::Recommend),
            "Standard_B1ms",
            &load(85.0, 40.0, 6),
            6,
            None,
            0,
        );
        assert_eq!(
            b.recommendation.unwrap().next_sku.as_deref(),
            Some("Standard_B2s")
        );
        assert_eq!(b.apply, None, "recommend writes nothing");
    }

    #[test]
    fn a_spike_or_an_uncovered_window_gives_nothing() {
        let mut l = load(40.0, 40.0, 6);
        l.cpu[3] = 99.0;
        assert_eq!(
            decide(&spec(ScalingMode::Apply), "Standard_D4s_v3", &l, 6, None, 0),
            Decision::default()
        );
        let short = load(95.0, 40.0, 3);
        assert_eq!(
            decide(
                &spec(ScalingMode::Apply),
                "Standard_D4s_v3",
                &short,
                6,
                None,
                0
            ),
            Decision::default()
        );
    }

    #[test]
    fn memory_on_d_recommends_e_and_apply_needs_allow_tier_change() {
        let d = decide(
            &spec(ScalingMode::Apply),
            "Standard_D4ds_v5",
            &load(20.0, 90.0, 6),
            6,
            None,
            0,
        );
        let r = d.recommendation.unwrap();
        assert_eq!(r.next_sku.as_deref(), Some("Standard_E4ds_v5"));
        assert!(r.limit.unwrap().contains("allowTierChange"));
        assert_eq!(d.apply, None);
        let mut s = spec(ScalingMode::Apply);
        s.allow_tier_change = Some(true);
        let d = decide(&s, "Standard_D4ds_v5", &load(20.0, 90.0, 6), 6, None, 0);
        assert_eq!(d.apply.as_deref(), Some("Standard_E4ds_v5"));
    }

    #[test]
    fn max_sku_and_cooldown_hold_the_step_back_and_say_so() {
        let mut s = spec(ScalingMode::Apply);
        s.max_sku = Some("Standard_D4s_v3".into());
        let d = decide(&s, "Standard_D4s_v3", &load(90.0, 40.0, 6), 6, None, 0);
        assert_eq!(d.apply, None);
        assert_eq!(
            d.recommendation.unwrap().limit.as_deref(),
            Some("maxSku Standard_D4s_v3 reached")
        );
        let d = decide(
            &spec(ScalingMode::Apply),
            "Standard_D4s_v3",
            &load(90.0, 40.0, 6),
            6,
            Some(100),
            50,
        );
        assert_eq!(d.apply, None);
        assert!(d
            .recommendation
            .unwrap()
            .limit
            .unwrap()
            .starts_with("cooldown until"));
        let d = decide(
            &spec(ScalingMode::Apply),
            "Standard_D4s_v3",
            &load(90.0, 40.0, 6),
            6,
            Some(100),
            100,
        );
        assert!(d.apply.is_some(), "the cooldown is over");
    }
}
