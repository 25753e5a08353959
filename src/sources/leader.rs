//! Leader election on a coordination.k8s.io Lease: every replica watches, only the leader writes to
//! ARM or to status. The engine asks the gate before every write, so a lost lease stops writes at
//! once (not at the end of a reconcile). `Elections` drives one Lease or several (the shards of
//! `shards.rs`): which are held is one bit mask, which the gates follow.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube_lease_manager::{LeaseManagerBuilder, LeaseParams};
use tokio::sync::watch;

use crate::api::EffectiveSpec;
use crate::azure::{ArmApi, ArmError, OpState, Stats, Submitted};
use crate::plan::{Observed, Op};
use crate::telemetry::metrics::Metrics;

/// Name of the Lease the replicas compete for.
pub const LEASE_NAME: &str = "engram-operator-leader";

/// Whether this replica may write (a data plane: whether it holds the plane's Lease). Cheap to
/// clone and to ask.
#[derive(Clone, Debug)]
pub struct LeaderGate {
    rx: Held,
}

/// What a gate follows: one flag, or one bit of the set of Leases held (bit i: Lease i).
#[derive(Clone, Debug)]
enum Held {
    Flag(watch::Receiver<bool>),
    Bit(watch::Receiver<u64>, u32),
}

impl LeaderGate {
    /// A gate that is always open: a single replica (folder mode, tests).
    pub fn always() -> Self {
        let (_tx, rx) = watch::channel(true);
        Self::from_receiver(rx)
    }

    /// A gate driven by a channel (leader election, or tests that flip it).
    pub fn from_receiver(rx: watch::Receiver<bool>) -> Self {
        Self { rx: Held::Flag(rx) }
    }

    /// The gate of Lease `index` in a set of Leases held (`bit index` of the mask).
    pub fn from_mask(rx: watch::Receiver<u64>, index: u32) -> Self {
        Self {
            rx: Held::Bit(rx, index),
        }
    }

    /// True while this replica holds the lease.
    pub fn is_leader(&self) -> bool {
        match &self.rx {
            Held::Flag(rx) => *rx.borrow(),
            Held::Bit(rx, i) => holds(*rx.borrow(), *i),
        }
    }

    /// Wait until this replica becomes leader (returns at once if it is).
    pub async fn wait_until_leader(&mut self) {
        // False means the election task ended; the gate then stays as it was.
        let _ = self.wait_for(true).await;
    }

    /// Wait until leadership is `leader`; false when the election ended first.
    pub async fn wait_for(&mut self, leader: bool) -> bool {
        // Returns at once when the value already matches, even after the election ended.
        match &mut self.rx {
            Held::Flag(rx) => rx.wait_for(|l| *l == leader).await.is_ok(),
            Held::Bit(rx, i) => {
                let i = *i;
                rx.wait_for(|m| holds(*m, i) == leader).await.is_ok()
            }
        }
    }
}

/// Whether bit `index` of `mask` is set.
fn holds(mask: u64, index: u32) -> bool {
    mask.checked_shr(index).is_some_and(|m| m & 1 == 1)
}

/// A stream that yields each time `gate` opens (at once when it is open); it ends if the
/// election ends. The controller reconciles every object on each.
pub fn leader_trigger(gate: LeaderGate) -> impl futures::Stream<Item = ()> + Send + 'static {
    futures::stream::unfold((gate, true), |(mut gate, first)| async move {
        if !first && !gate.wait_for(false).await {
            return None;
        }
        if !gate.wait_for(true).await {
            return None;
        }
        Some(((), (gate, false)))
    })
}

/// An [`ArmApi`] that asks the gate before every write: a lease lost in the middle of a reconcile
/// stops the next write at once. Reads and polls pass through. It also remembers which writes ARM
/// accepted in this pass (the Kubernetes front door turns them into Events).
pub struct GatedArm {
    inner: Arc<dyn ArmApi>,
    gate: LeaderGate,
    accepted: Mutex<Vec<Op>>,
}

impl GatedArm {
    pub fn new(inner: Arc<dyn ArmApi>, gate: LeaderGate) -> Self {
        Self {
            inner,
            gate,
            accepted: Mutex::new(Vec::new()),
        }
    }

    /// The writes ARM accepted through this wrapper, in order.
    pub fn accepted(&self) -> Vec<Op> {
        self.accepted.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl ArmApi for GatedArm {
    async fn observe(&self, eff: &EffectiveSpec) -> Result<Observed, ArmError> {
        self.inner.observe(eff).await
    }

    async fn observe_all(&self, eff: &EffectiveSpec) -> Result<Observed, ArmError> {
        self.inner.observe_all(eff).await
    }

    async fn get_server(
        &self,
        eff: &EffectiveSpec,
        name: &str,
    ) -> Result<Option<crate::plan::ObservedServer>, ArmError> {
        self.inner.get_server(eff, name).await
    }

    async fn get_resources(&self, ids: &[String]) -> Result<Vec<serde_json::Value>, ArmError> {
        self.inner.get_resources(ids).await
    }

    async fn submit(&self, op: &Op) -> Result<Submitted, ArmError> {
        if !self.gate.is_leader() {
            // Transient for the engine: nothing is reported as an error, nothing is sent.
            return Err(ArmError::Busy(
                "leader lease not held: write withheld".into(),
            ));
        }
        let sub = self.inner.submit(op).await?;
        if let Ok(mut v) = self.accepted.lock() {
            v.push(op.clone());
        }
        Ok(sub)
    }

    async fn poll(&self, operation_url: &str) -> Result<OpState, ArmError> {
        self.inner.poll(operation_url).await
    }

    async fn graph_resources(&self, ids: &[String]) -> Result<Vec<serde_json::Value>, ArmError> {
        self.inner.graph_resources(ids).await
    }

    async fn graph_fingerprints(&self, ids: &[String]) -> Result<Vec<(String, u64)>, ArmError> {
        self.inner.graph_fingerprints(ids).await
    }

    async fn metrics(
        &self,
        q: &crate::azure::metrics::MetricsQuery,
    ) -> Result<Vec<crate::azure::metrics::MetricSeries>, ArmError> {
        self.inner.metrics(q).await
    }

    fn stats(&self) -> &Stats {
        self.inner.stats()
    }
}

/// Errors of the election.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// The Lease could not be created or read.
    #[error("leader election: {0}")]
    Lease(#[from] kube_lease_manager::LeaseManagerError),
    /// More Leases than the mask has bits.
    #[error("leader election: at most 64 Leases")]
    TooMany,
}

/// Join the election for `namespace`'s Lease as `identity` (the pod name), with the Lease's
/// duration and renewal grace in seconds (`--lease-seconds`, `--lease-grace-seconds`: a dead leader
/// is replaced within their sum). Returns the gate; the election runs in the background and keeps
/// the `engram_leader` gauge current.
pub async fn elect(
    client: kube::Client,
    namespace: &str,
    identity: &str,
    times: (u64, u64),
    metrics: Arc<Metrics>,
) -> Result<LeaderGate, LeaderError> {
    let mut elections = Elections::new(metrics);
    elections
        .join(
            client,
            namespace,
            LEASE_NAME,
            identity,
            times,
            Duration::ZERO,
        )
        .await?;
    Ok(LeaderGate::from_mask(elections.held(), 0))
}

/// A set of elections this replica takes part in, one Lease each (at most 64): which it holds is
/// one mask (bit i: the i-th Lease joined), which the gates follow and the gauges report.
pub struct Elections {
    mask: Arc<watch::Sender<u64>>,
    joined: u32,
}

impl Elections {
    /// No election joined yet; `engram_leader` (any Lease held) and `engram_shards_held` (how
    /// many) follow the mask from now on.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        let (tx, mut rx) = watch::channel(0u64);
        tokio::spawn(async move {
            loop {
                let mask = *rx.borrow_and_update();
                metrics.set_leader(mask != 0);
                metrics.set_shards_held(mask.count_ones() as usize);
                tracing::info!(held = %format!("{mask:#b}"), "leases held changed");
                if rx.changed().await.is_err() {
                    metrics.set_leader(false);
                    metrics.set_shards_held(0);
                    break;
                }
            }
        });
        Self {
            mask: Arc::new(tx),
            joined: 0,
        }
    }

    /// The mask of Leases held (bit i: the i-th joined).
    pub fn held(&self) -> watch::Receiver<u64> {
        self.mask.subscribe()
    }

    /// Join the election for Lease `lease` (created now when absent, so a Kubernetes error shows
    /// at start-up), competing for it from `after` on. Its bit is the number of Leases joined
    /// before it.
    pub async fn join(
        &mut self,
        client: kube::Client,
        namespace: &str,
        lease: &str,
        identity: &str,
        (lease_seconds, grace_seconds): (u64, u64),
        after: Duration,
    ) -> Result<(), LeaderError> {
        let bit = 1u64.checked_shl(self.joined).ok_or(LeaderError::TooMany)?;
        let manager = LeaseManagerBuilder::new(client, lease)
            .with_namespace(namespace)
            .with_parameters(LeaseParams::new(identity, lease_seconds, grace_seconds))
            .build()
            .await?;
        self.joined += 1;
        let mask = self.mask.clone();
        let lease = lease.to_owned();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let (mut rx, _task) = manager.watch().await;
            loop {
                let held = *rx.borrow_and_update();
                tracing::info!(lease = %lease, held, "lease changed");
                mask.send_modify(|m| if held { *m |= bit } else { *m &= !bit });
                if rx.changed().await.is_err() {
                    mask.send_modify(|m| *m &= !bit);
                    break;
                }
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn gate_follows_the_lease() {
        let (tx, rx) = watch::channel(false);
        let mut gate = LeaderGate::from_receiver(rx);
        assert!(!gate.is_leader());
        tx.send(true).unwrap();
        gate.wait_until_leader().await;
        assert!(gate.is_leader());
        tx.send(false).unwrap();
        assert!(!gate.is_leader(), "a lost lease closes the gate at once");
        assert!(LeaderGate::always().is_leader());
    }
}
