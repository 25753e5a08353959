//! The tiered sweeps in Kubernetes mode (see [`crate::reconcile::sweep`]): each pass records what
//! it cost and which client read it; the child tier's period is sized from those costs; the fast
//! tier reads the top-level resources of the planes this replica holds every `--fast-sweep` and
//! triggers a reconcile of a plane one of whose resources changed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::stream::BoxStream;
use kube::runtime::reflector::ObjectRef;

use crate::api::{EffectiveSpec, EngramDataPlane};
use crate::azure::meter::Cost;
use crate::azure::ArmApi;
use crate::reconcile::sweep::{self, FastTier, SweepSource};
use crate::telemetry::metrics::Metrics;

/// What the sweeps know of one plane, from its last pass.
struct Entry {
    object: ObjectRef<EngramDataPlane>,
    subscription: String,
    resync: Duration,
    ids: Vec<String>,
    cost: Cost,
    arm: Arc<dyn ArmApi>,
}

/// The sweeps of one replica.
pub struct Sweeps {
    planes: Mutex<BTreeMap<String, Entry>>,
    fast: tokio::sync::Mutex<FastTier>,
    every: Duration,
    period: Mutex<Duration>,
    metrics: Option<Arc<Metrics>>,
}

impl Default for Sweeps {
    fn default() -> Self {
        Self::new(SweepSource::Get, Duration::ZERO, None)
    }
}

impl Sweeps {
    /// `every`: the fast tier's period (zero: off).
    pub fn new(source: SweepSource, every: Duration, metrics: Option<Arc<Metrics>>) -> Self {
        Self {
            planes: Mutex::new(BTreeMap::new()),
            fast: tokio::sync::Mutex::new(FastTier::new(source)),
            every,
            period: Mutex::new(Duration::ZERO),
            metrics,
        }
    }

    /// A pass of `key` ended: what it cost, and the client that read it. Returns the child
    /// tier's period, resized.
    pub fn passed(
        &self,
        key: &str,
        object: ObjectRef<EngramDataPlane>,
        eff: &EffectiveSpec,
        cost: Cost,
        arm: Arc<dyn ArmApi>,
    ) -> Duration {
        let mut planes = self.planes.lock().unwrap_or_else(|e| e.into_inner());
        planes.insert(
            key.to_owned(),
            Entry {
                object,
                subscription: eff.azure.subscription_id.clone(),
                resync: Duration::from_secs(eff.resync_seconds),
                ids: sweep::top_level_ids(eff),
                cost,
                arm,
            },
        );
        let resync = planes.values().map(|e| e.resync).min().unwrap_or_default();
        let fast_cost = self
            .fast
            .try_lock()
            .map(|f| f.last_cost)
            .unwrap_or_default();
        let fast = (!self.every.is_zero()).then_some((fast_cost, self.every));
        let (period, binding) = sweep::child_period(
            planes.values().map(|e| (e.subscription.as_str(), e.cost)),
            fast,
            resync,
        );
        let mut last = self.period.lock().unwrap_or_else(|e| e.into_inner());
        if period > resync && period.as_secs() != last.as_secs() {
            tracing::warn!(
                period_s = period.as_secs(),
                resync_s = resync.as_secs(),
                binding,
                planes = planes.len(),
                "the child sweep takes longer than resyncSeconds: the budgets allow no faster"
            );
        }
        *last = period;
        if let Some(m) = &self.metrics {
            m.set_child_period(period);
        }
        period
    }

    /// A plane gone (deleted, or no longer this replica's).
    pub fn forget(&self, key: &str) {
        let mut planes = self.planes.lock().unwrap_or_else(|e| e.into_inner());
        planes.remove(key);
    }

    /// One fast sweep: the planes (held, per `held`) with a changed top-level resource.
    async fn sweep_once(
        &self,
        held: &(dyn Fn(&str) -> bool + Send + Sync),
    ) -> Vec<ObjectRef<EngramDataPlane>> {
        let planes: Vec<_> = {
            let planes = self.planes.lock().unwrap_or_else(|e| e.into_inner());
            planes
                .values()
                .filter(|e| held(&e.subscription))
                .map(|e| (e.object.clone(), e.arm.clone(), e.ids.clone()))
                .collect()
        };
        self.fast.lock().await.sweep_all(planes.into_iter()).await
    }

    /// The fast tier as a stream of planes to reconcile now (`Controller::reconcile_on`); empty
    /// when it is off.
    pub fn triggers(
        self: Arc<Self>,
        held: Arc<dyn Fn(&str) -> bool + Send + Sync>,
    ) -> BoxStream<'static, ObjectRef<EngramDataPlane>> {
        use futures::StreamExt;
        if self.every.is_zero() {
            return futures::stream::empty().boxed();
        }
        futures::stream::unfold(self, move |me| {
            let held = held.clone();
            async move {
                tokio::time::sleep(me.every).await;
                let changed = me.sweep_once(held.as_ref()).await;
                for o in &changed {
                    tracing::info!(plane = %o, "a top-level resource changed: reconciling now");
                }
                Some((futures::stream::iter(changed), me))
            }
        })
        .flatten()
        .boxed()
    }
}
