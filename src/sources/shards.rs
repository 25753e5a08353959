//! More than one replica doing work (`run --kube --shards N`, docs/sharding.md). Every replica
//! joins N elections, for the Leases `engram-operator-shard-{i}`; a data plane belongs to the
//! shard of its subscription (`assign`), and its writes are gated by that shard's Lease. One
//! replica may hold several shards; a dead replica's shards go to the survivors when their Leases
//! run out, as the single leader's does.
//!
//! Spreading: a replica joins its N elections one at a time, a second apart, starting from a shard
//! of its own (`fnv1a64(identity) mod N`) and going round. Replicas that start together thus reach
//! for different shards first and share them; a replica that starts alone takes them all within N
//! seconds. Shards are never handed back on purpose: a replica started while every shard is held
//! waits for one to come free (a holder stopping or dying).

use std::time::Duration;

use futures::stream::BoxStream;
use futures::StreamExt;
use tokio::sync::watch;

use super::assign;
use super::leader::{leader_trigger, Elections, LeaderError, LeaderGate};
use crate::api::EngramDataPlane;
use crate::telemetry::metrics::Metrics;

/// Between two elections a replica joins.
pub const JOIN_STEP: Duration = Duration::from_secs(1);

/// The gates of the Leases this replica competes for: one (the leader's, every plane) or one per
/// shard (a plane's is its subscription's shard's).
#[derive(Clone, Debug)]
pub struct Gates {
    gates: Vec<LeaderGate>,
}

impl From<LeaderGate> for Gates {
    fn from(gate: LeaderGate) -> Self {
        Self { gates: vec![gate] }
    }
}

impl Gates {
    /// One gate per shard, shard i's at index i (none: a closed single gate).
    pub fn sharded(gates: Vec<LeaderGate>) -> Self {
        Self { gates }
    }

    /// The gates of `shards` shards following one mask of Leases held (bit i: shard i).
    pub fn from_mask(held: &watch::Receiver<u64>, shards: u32) -> Self {
        Self::sharded(
            (0..shards)
                .map(|i| LeaderGate::from_mask(held.clone(), i))
                .collect(),
        )
    }

    /// How many shards (1 without sharding).
    pub fn shards(&self) -> u32 {
        u32::try_from(self.gates.len()).unwrap_or(u32::MAX)
    }

    /// The gate of `plane`'s writes: its shard's.
    pub fn for_plane(&self, plane: &EngramDataPlane) -> LeaderGate {
        let shard = assign::plane_shard(&plane.spec, self.shards());
        self.gates
            .get(shard as usize)
            .cloned()
            .unwrap_or_else(closed)
    }

    /// True while this replica holds the shard of `subscription_id` (the leader's Lease when
    /// not sharded).
    pub fn holds(&self, subscription_id: &str) -> bool {
        let shard = assign::shard_of(subscription_id, self.shards());
        self.gates
            .get(shard as usize)
            .is_some_and(LeaderGate::is_leader)
    }

    /// How many of the gates are open now.
    pub fn held(&self) -> usize {
        self.gates.iter().filter(|g| g.is_leader()).count()
    }

    /// A stream that yields each time any gate opens (so every object is reconciled: the planes
    /// of a shard just gained are among them).
    pub fn gained(&self) -> BoxStream<'static, ()> {
        futures::stream::select_all(
            self.gates
                .iter()
                .cloned()
                .map(|g| leader_trigger(g).boxed()),
        )
        .boxed()
    }
}

/// A gate that never opens.
fn closed() -> LeaderGate {
    let (_tx, rx) = tokio::sync::watch::channel(false);
    LeaderGate::from_receiver(rx)
}

/// The order in which `identity` joins the elections of `shards` shards: from its own shard round.
pub fn join_order(identity: &str, shards: u32) -> Vec<u32> {
    let start = assign::shard_of(identity, shards);
    (0..shards).map(|k| (start + k) % shards.max(1)).collect()
}

/// Join the elections of `shards` shard Leases in `namespace` as `identity`, with the Leases'
/// duration and renewal grace in seconds. Returns the gates; the elections run in the background
/// and keep `engram_shards_held` (and `engram_leader`: any shard held) current.
pub async fn elect(
    client: kube::Client,
    namespace: &str,
    identity: &str,
    shards: u32,
    times: (u64, u64),
    metrics: std::sync::Arc<Metrics>,
) -> Result<Gates, LeaderError> {
    let mut elections = Elections::new(metrics);
    let order = join_order(identity, shards);
    for shard in 0..shards {
        // Shard i is the i-th joined: bit i of the mask.
        let turn = order.iter().position(|s| *s == shard).unwrap_or(0);
        let after = JOIN_STEP * u32::try_from(turn).unwrap_or(0);
        let lease = assign::lease_name(shard);
        elections
            .join(client.clone(), namespace, &lease, identity, times, after)
            .await?;
    }
    tracing::info!(shards, first = ?order.first(), "joined the shard elections");
    Ok(Gates::from_mask(&elections.held(), shards))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(subscription: &str) -> EngramDataPlane {
        let mut o = crate::api::parse(include_str!("../../examples/dev.yaml")).expect("dev");
        o.spec.azure.subscription_id = subscription.into();
        o
    }

    #[tokio::test]
    async fn a_plane_is_gated_by_its_shard_only() {
        let (tx, rx) = watch::channel(0u64);
        let gates = Gates::from_mask(&rx, 4);
        let p = plane("8f14e45f-ceea-467f-a9e1-5a6b1c2d3e4f");
        let shard = assign::plane_shard(&p.spec, 4);
        let gate = gates.for_plane(&p);
        assert!(!gate.is_leader());
        // Every other shard held: still closed.
        tx.send(0b1111 & !(1 << shard)).unwrap();
        assert!(!gate.is_leader());
        assert_eq!(gates.held(), 3);
        tx.send(1 << shard).unwrap();
        assert!(gate.is_leader(), "its shard's Lease opens it");
        tx.send(0).unwrap();
        assert!(!gate.is_leader(), "losing the shard closes it at once");
    }

    #[tokio::test]
    async fn gaining_any_shard_triggers_a_reconcile_of_all() {
        let (tx, rx) = watch::channel(0u64);
        let gates = Gates::from_mask(&rx, 3);
        let mut gained = gates.gained();
        tx.send(0b010).unwrap();
        assert_eq!(gained.next().await, Some(()));
        tx.send(0b110).unwrap();
        assert_eq!(gained.next().await, Some(()));
        // Nothing more is gained: no trigger is ready.
        assert!(futures::FutureExt::now_or_never(gained.next()).is_none());
    }

    #[test]
    fn replicas_start_from_their_own_shard_and_go_round() {
        let order = join_order("engram-operator-7d9f-abcde", 8);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..8).collect::<Vec<_>>(), "every shard once");
        assert_eq!(order[0], assign::shard_of("engram-operator-7d9f-abcde", 8));
        assert!(order.windows(2).all(|w| w[1] == (w[0] + 1) % 8));
        assert_eq!(join_order("x", 1), [0]);
    }

    #[test]
    fn without_sharding_every_plane_has_the_one_gate() {
        let gates = Gates::from(LeaderGate::always());
        assert_eq!(gates.shards(), 1);
        assert!(gates.for_plane(&plane("a")).is_leader());
        assert!(gates.for_plane(&plane("b")).is_leader());
    }
}
