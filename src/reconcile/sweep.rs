//! Tiered sweeps. The drift that matters most and changes most often is on the top-level
//! resources (SKU, HA, backup, TLS, public access, CMK), so:
//! - the **fast tier** reads only those (servers, accounts, metric alerts) every `--fast-sweep`,
//!   through Azure Resource Graph (`--sweep arg`: a query covers up to 1,000 resource groups) or by GET
//!   (`--sweep get`, the alerts by one list per resource group), and makes a plane due at once
//!   when one of its resources changed since the previous fast sweep;
//! - the **child tier** is the plane's full pass (every child resource read, then the plan and
//!   the writes). Its period is computed from the budgets for the planes held: the reads a pass
//!   costs (measured, [`crate::azure::meter`]) times the planes of a subscription, over what the
//!   tightest budget refills, never shorter than the plane's `resyncSeconds`.
//!
//! A write is always preceded by the pass's own GET of the resource: Resource Graph lags, so it
//! only ever decides *when* a plane is read, never *what* is written.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::api::EffectiveSpec;
use crate::azure::meter::Cost;
use crate::azure::throttle::{READS, STORAGE_LISTS, STORAGE_READS};
use crate::azure::{ArmApi, ArmError};

/// `--fast-sweep` default.
pub const DEFAULT_FAST_SWEEP: Duration = Duration::from_secs(60);

/// Where the fast tier reads the top-level resources.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SweepSource {
    /// GET each server and account, one list of metric alerts per resource group.
    #[default]
    Get,
    /// Azure Resource Graph: one query summarizing a fingerprint per resource, one row per
    /// resource group, for up to 1,000 resource groups.
    Arg,
}

impl std::fmt::Display for SweepSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Get => "get",
            Self::Arg => "arg",
        })
    }
}

/// The top-level resources of a plane: its server, its account and its metric alert rules.
pub fn top_level_ids(eff: &EffectiveSpec) -> Vec<String> {
    let server = crate::plan::owner::server_id(eff);
    let group = server
        .split("/providers/")
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut ids = vec![server, crate::plan::owner::account_id(eff)];
    ids.extend(
        crate::plan::alerts::rule_names(eff)
            .into_iter()
            .map(|n| format!("{group}/providers/Microsoft.Insights/metricAlerts/{n}")),
    );
    ids
}

/// [`top_level_ids`] of each plane, keyed by its position: the fast tier's input for planes held
/// in a list.
pub fn top_levels<'a>(
    planes: impl Iterator<Item = &'a EffectiveSpec>,
) -> Vec<(usize, Vec<String>)> {
    planes.map(top_level_ids).enumerate().collect()
}

fn hash_of(v: impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

/// What of a top-level resource counts as a change: its SKU, properties and tags (not its etag,
/// system data or provisioning bookkeeping). The map keys of a `serde_json::Value` are sorted, so
/// the text is canonical.
fn fingerprint(row: &Value) -> u64 {
    let part = |k: &str| row.get(k).map(Value::to_string).unwrap_or_default();
    hash_of((part("sku"), part("properties"), part("tags")))
}

/// The fast tier's memory: one fingerprint per resource, by the hash of its lower-cased id.
#[derive(Debug, Default)]
pub struct FastTier {
    source: SweepSource,
    seen: HashMap<u64, u64>,
    /// Reads the last sweep cost.
    pub last_cost: Cost,
}

/// A resource the fast tier has never seen, or that is absent.
const ABSENT: u64 = 0;

impl FastTier {
    pub fn new(source: SweepSource) -> Self {
        Self {
            source,
            ..Self::default()
        }
    }

    pub fn source(&self) -> SweepSource {
        self.source
    }

    /// One fast sweep over `planes` (a key and its top-level ids each): the keys of the planes one
    /// of whose resources changed (or appeared, or disappeared) since the previous sweep. The
    /// first sweep of a resource only records it.
    pub async fn sweep<K: Clone>(
        &mut self,
        arm: &dyn ArmApi,
        planes: &[(K, Vec<String>)],
    ) -> Result<Vec<K>, ArmError> {
        let ids: Vec<String> = planes.iter().flat_map(|(_, ids)| ids.clone()).collect();
        let (found, cost) = crate::azure::meter::metered(async {
            Ok::<_, ArmError>(match self.source {
                SweepSource::Get => arm
                    .get_resources(&ids)
                    .await?
                    .iter()
                    .filter_map(|r| {
                        let id = r.get("id")?.as_str()?.to_ascii_lowercase();
                        Some((hash_of(id), fingerprint(r)))
                    })
                    .collect::<HashMap<u64, u64>>(),
                // Resource Graph hashes the same parts itself; 0 stays "absent".
                SweepSource::Arg => arm
                    .graph_fingerprints(&ids)
                    .await?
                    .into_iter()
                    .map(|(id, fp)| (hash_of(id), fp.max(1)))
                    .collect(),
            })
        })
        .await;
        self.last_cost = cost;
        let found = found?;
        let mut changed = Vec::new();
        for (key, ids) in planes {
            let mut moved = false;
            for id in ids {
                let h = hash_of(id.to_ascii_lowercase());
                let now = found.get(&h).copied().unwrap_or(ABSENT);
                moved |= self.seen.insert(h, now).is_some_and(|before| before != now);
            }
            if moved {
                changed.push(key.clone());
            }
        }
        Ok(changed)
    }

    /// A whole fast sweep over the planes held, each read through its own client (its
    /// credential's): resources of planes no longer held are forgotten, and a client that fails
    /// is logged and skipped (the child tier still reads its planes).
    pub async fn sweep_all<K: Clone>(
        &mut self,
        planes: impl Iterator<Item = (K, Arc<dyn ArmApi>, Vec<String>)>,
    ) -> Vec<K> {
        type Group<K> = (Arc<dyn ArmApi>, Vec<(K, Vec<String>)>);
        let mut groups: BTreeMap<usize, Group<K>> = BTreeMap::new();
        let mut all = Vec::new();
        for (key, arm, ids) in planes {
            all.push((key.clone(), ids.clone()));
            // One group per client: the clients are shared per credential.
            let client = Arc::as_ptr(&arm) as *const () as usize;
            groups
                .entry(client)
                .or_insert_with(|| (arm, Vec::new()))
                .1
                .push((key, ids));
        }
        self.keep_only(&all);
        let mut changed = Vec::new();
        let mut cost = Cost::default();
        for (arm, planes) in groups.into_values() {
            match self.sweep(arm.as_ref(), &planes).await {
                Ok(c) => changed.extend(c),
                Err(e) => {
                    tracing::warn!(error = %e, "fast sweep failed; the child tier still runs")
                }
            }
            cost += self.last_cost;
        }
        self.last_cost = cost;
        changed
    }

    /// Forget every resource but those of `planes` (planes no longer held).
    pub fn keep_only<K>(&mut self, planes: &[(K, Vec<String>)]) {
        let held: std::collections::HashSet<u64> = planes
            .iter()
            .flat_map(|(_, ids)| ids.iter().map(|id| hash_of(id.to_ascii_lowercase())))
            .collect();
        self.seen.retain(|h, _| held.contains(h));
    }
}

/// Seconds of refill a cost needs from each budget of one subscription, the tightest first.
fn seconds_of(cost: &Cost) -> [(f64, &'static str); 3] {
    [
        (f64::from(cost.reads) / READS.1, "arm_reads"),
        (
            f64::from(cost.storage_reads) / STORAGE_READS.1,
            "storage_reads",
        ),
        (
            f64::from(cost.storage_lists) / STORAGE_LISTS.1,
            "storage_lists",
        ),
    ]
}

/// The child tier's period: for each subscription, what its planes' passes cost (plus what the
/// fast tier spends over the same period) over the tightest budget's refill; the longest of them,
/// never less than `floor` (the shortest `resyncSeconds`). Also names the binding budget.
pub fn child_period<'a>(
    passes: impl Iterator<Item = (&'a str, Cost)>,
    fast: Option<(Cost, Duration)>,
    floor: Duration,
) -> (Duration, &'static str) {
    let mut by_sub: BTreeMap<&str, Cost> = BTreeMap::new();
    for (sub, cost) in passes {
        *by_sub.entry(sub).or_default() += cost;
    }
    let subs = by_sub.len().max(1) as u32;
    let mut worst = (floor.as_secs_f64(), "resync");
    for cost in by_sub.values() {
        for (i, (need, name)) in seconds_of(cost).into_iter().enumerate() {
            // The fast tier's share of this budget, per second, spread over the subscriptions.
            let fast_rate = fast
                .filter(|(_, every)| !every.is_zero())
                .map(|(c, every)| {
                    let c = Cost {
                        reads: c.reads / subs,
                        storage_reads: c.storage_reads / subs,
                        storage_lists: c.storage_lists / subs,
                        ..Cost::default()
                    };
                    seconds_of(&c)[i].0 / every.as_secs_f64()
                })
                .unwrap_or(0.0);
            // What is left for the child tier (a tenth at least: the fast tier is paced too).
            let left = (1.0 - fast_rate).max(0.1);
            let secs = need / left;
            if secs > worst.0 {
                worst = (secs, name);
            }
        }
    }
    (Duration::from_secs_f64(worst.0), worst.1)
}

/// Which due plane goes first: a changed spec, then an operation in flight, then open drift (or a
/// fast-tier change), then the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    SpecChanged,
    Pending,
    Drift,
    Routine,
}

impl Priority {
    pub fn of(
        spec_changed: bool,
        status: &crate::api::EngramDataPlaneStatus,
        nudged: bool,
    ) -> Self {
        if spec_changed {
            Self::SpecChanged
        } else if !status.pending_operations.is_empty() || !status.create_intents.is_empty() {
            Self::Pending
        } else if nudged || status.drift.iter().any(|d| !d.corrected) {
            Self::Drift
        } else {
            Self::Routine
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(reads: u32, storage_reads: u32, storage_lists: u32) -> Cost {
        Cost {
            reads,
            storage_reads,
            storage_lists,
            ..Cost::default()
        }
    }

    #[test]
    fn period_follows_the_tightest_budget_of_the_busiest_subscription() {
        let floor = Duration::from_secs(300);
        // 10 planes of 8 reads: 80 reads take 3.2 s of ARM refill: the resync floor wins.
        let few = (0..10).map(|_| ("a", cost(8, 4, 0)));
        assert_eq!(child_period(few, None, floor), (floor, "resync"));
        // 1,000 planes in one subscription, 4 Storage RP reads each: 4,000 reads at 2.67/s.
        let many = (0..1000).map(|_| ("a", cost(8, 4, 0)));
        let (p, why) = child_period(many, None, floor);
        assert_eq!(why, "storage_reads");
        assert!(
            (p.as_secs_f64() - 4000.0 / STORAGE_READS.1).abs() < 1.0,
            "{p:?}"
        );
        // The same planes over 10 subscriptions: each has a tenth of the work (150 s, so the
        // 300 s resync floor).
        let spread: Vec<String> = (0..10).map(|i| format!("s{i}")).collect();
        let planes = (0..1000).map(|i| (spread[i % 10].as_str(), cost(8, 4, 0)));
        let (p10, _) = child_period(planes, None, floor);
        assert_eq!((p10, p), (floor, Duration::from_secs(1500)));
    }

    #[test]
    fn the_fast_tier_takes_its_share_first() {
        let floor = Duration::from_secs(1);
        let planes = || (0..100).map(|_| ("a", cost(25, 0, 0)));
        let (alone, _) = child_period(planes(), None, floor);
        // A fast sweep of 750 reads a minute uses half of the 25/s refill.
        let fast = Some((cost(750, 0, 0), Duration::from_secs(60)));
        let (shared, _) = child_period(planes(), fast, floor);
        assert!((shared.as_secs_f64() / alone.as_secs_f64() - 2.0).abs() < 0.01);
    }

    #[test]
    fn priority_orders_spec_changes_then_operations_then_drift() {
        let mut s = crate::api::EngramDataPlaneStatus::default();
        assert_eq!(Priority::of(false, &s, false), Priority::Routine);
        assert_eq!(Priority::of(false, &s, true), Priority::Drift);
        s.pending_operations
            .push(crate::api::status::PendingOperation {
                resource: "postgres/pg".into(),
                action: "create".into(),
                operation_url: "https://op".into(),
                started_at: "2025-01-01T00:00:00Z".into(),
            });
        assert_eq!(Priority::of(false, &s, false), Priority::Pending);
        assert_eq!(Priority::of(true, &s, false), Priority::SpecChanged);
        assert!(Priority::SpecChanged < Priority::Routine);
    }
}
