//! Client-side throttle budget: every limit Azure applies, as token buckets (see
//! `mock_arm/throttle.rs` for the model and its sources), so that the operator never drives ARM
//! or the Storage resource provider into 429 by itself:
//! - ARM per principal and subscription: reads 250 (+25/s), writes 200 (+10/s), deletes 200
//!   (+10/s), fed by ARM's `x-ms-ratelimit-remaining-subscription-global-*` headers;
//! - ARM per subscription across principals: 15 × those;
//! - the Storage resource provider per subscription (its limits are per region; one bucket for all
//!   regions is the conservative reading): 800 reads and 100 lists per 5 minutes, writes 10 per
//!   second and 1,200 per hour;
//! - Azure Resource Graph per principal: 15 queries per 5-second window, whatever the
//!   subscriptions (`Class::Graph`, see [`GRAPH`]);
//! - after a 429, nothing goes to that principal and subscription (for ARG: that principal's
//!   queries) before its Retry-After.
//!
//! Every ARM request passes `admit` first, which takes a token from each bucket the request draws
//! on, or waits until all have one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// ARM's limits per principal and subscription (capacity, refill per second).
pub const READS: (f64, f64) = (250.0, 25.0);
/// See [`READS`].
pub const WRITES: (f64, f64) = (200.0, 10.0);
/// See [`READS`].
pub const DELETES: (f64, f64) = (200.0, 10.0);
/// The subscription-wide limits, across principals, are this many times the above.
pub const SUBSCRIPTION_FACTOR: f64 = 15.0;
/// The share of a limit the client allows itself where Azure sends no remaining count to correct
/// it (the subscription-wide and Storage RP limits): requests delayed in flight arrive bunched, and
/// two buckets of the same rate in lockstep would refuse the bunch.
pub const MARGIN: f64 = 0.9;
/// The Storage resource provider: reads per 5 minutes (800). The long windows keep their margin
/// as a cushion of capacity and refill at the full rate: started full, Azure's bucket then always
/// holds 80 more than ours (more than the requests a pass can have in flight), and a sustained
/// sweep is not slowed by a tenth for nothing.
pub const STORAGE_READS: (f64, f64) = (800.0 * MARGIN, 800.0 / 300.0);
/// The Storage resource provider: lists per 5 minutes (100).
pub const STORAGE_LISTS: (f64, f64) = (100.0 * MARGIN, 100.0 * MARGIN / 300.0);
/// The Storage resource provider: writes per second (10).
pub const STORAGE_WRITES_SECOND: (f64, f64) = (10.0 * MARGIN, 10.0 * MARGIN);
/// The Storage resource provider: writes per hour (1,200): a cushion of 120, the full refill
/// (see [`STORAGE_READS`]).
pub const STORAGE_WRITES_HOUR: (f64, f64) = (1200.0 * MARGIN, 1200.0 / 3600.0);

/// Azure Resource Graph: queries per principal in a fixed window ("Guidance for throttled requests
/// in Azure Resource Graph": 15 per 5 seconds, the count reset in full when the window ends).
pub const GRAPH_QUERIES: f64 = 15.0;
/// See [`GRAPH_QUERIES`].
pub const GRAPH_WINDOW_SECS: f64 = 5.0;
/// The burst the Resource Graph bucket allows.
pub const GRAPH_BURST: f64 = 3.0;
/// Resource Graph's bucket. A token bucket admits at most capacity + refill × t in any t seconds,
/// and ARG counts in fixed windows that may begin at any moment, so capacity + refill × 5 s must
/// stay within the window's allowance less the margin: 3 + 2.1 × 5 = 13.5 = 15 × 0.9. The burst
/// is kept small so that the sustained rate (2.1 per second) stays near ARG's 3.
pub const GRAPH: (f64, f64) = (
    GRAPH_BURST,
    (GRAPH_QUERIES * MARGIN - GRAPH_BURST) / GRAPH_WINDOW_SECS,
);
/// What Resource Graph requests name in place of a subscription (ARG's quota is the principal's
/// whatever the subscriptions queried): their Retry-After gate is the principal's ARG gate, apart
/// from its ARM gates.
pub const GRAPH_SCOPE: &str = "(resource graph)";

#[derive(Debug)]
struct Bucket {
    capacity: f64,
    refill: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new((capacity, refill): (f64, f64), now: Instant) -> Self {
        Self {
            capacity,
            refill,
            tokens: capacity,
            at: now,
        }
    }
    fn refill(&mut self, now: Instant) {
        let secs = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + secs * self.refill).min(self.capacity);
        self.at = now;
    }
    /// How long until a token is there (zero: now).
    fn wait(&mut self, now: Instant) -> Duration {
        self.refill(now);
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / self.refill)
        }
    }
}

/// Read, write or delete, as ARM counts them (by method); or a Resource Graph query, which ARG
/// counts against its own quota, not ARM's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    Read,
    Write,
    Delete,
    Graph,
}

/// Read, list or write, as the Storage resource provider counts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StorageClass {
    Read,
    List,
    Write,
}

/// What one request draws on.
#[derive(Clone, Copy, Debug)]
pub struct Draw<'a> {
    /// Who signs it (`{tenant}/{client}`, or the operator's own label).
    pub principal: &'a str,
    pub sub: &'a str,
    pub class: Class,
    /// Set for `Microsoft.Storage` management requests.
    pub storage: Option<StorageClass>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Scope {
    Principal(String, String, Class),
    Subscription(String, Class),
    Storage(String, StorageClass),
    StorageWritesHour(String),
    Graph(String),
}

fn arm_limit(class: Class) -> (f64, f64) {
    match class {
        Class::Read => READS,
        Class::Write => WRITES,
        Class::Delete => DELETES,
        Class::Graph => GRAPH,
    }
}

fn scopes(d: &Draw) -> Vec<(Scope, (f64, f64))> {
    if d.class == Class::Graph {
        return vec![(Scope::Graph(d.principal.to_owned()), GRAPH)];
    }
    let (cap, refill) = arm_limit(d.class);
    let mut out = vec![
        (
            Scope::Principal(d.principal.to_owned(), d.sub.to_owned(), d.class),
            (cap, refill),
        ),
        (
            Scope::Subscription(d.sub.to_owned(), d.class),
            (
                cap * SUBSCRIPTION_FACTOR * MARGIN,
                refill * SUBSCRIPTION_FACTOR * MARGIN,
            ),
        ),
    ];
    match d.storage {
        Some(StorageClass::Read) => out.push((
            Scope::Storage(d.sub.to_owned(), StorageClass::Read),
            STORAGE_READS,
        )),
        Some(StorageClass::List) => out.push((
            Scope::Storage(d.sub.to_owned(), StorageClass::List),
            STORAGE_LISTS,
        )),
        Some(StorageClass::Write) => {
            out.push((
                Scope::Storage(d.sub.to_owned(), StorageClass::Write),
                STORAGE_WRITES_SECOND,
            ));
            out.push((
                Scope::StorageWritesHour(d.sub.to_owned()),
                STORAGE_WRITES_HOUR,
            ));
        }
        None => {}
    }
    out
}

#[derive(Debug, Default)]
struct State {
    buckets: HashMap<Scope, Bucket>,
    /// Retry-After gates, per (principal, subscription).
    blocked: HashMap<(String, String), Instant>,
}

/// The budget shared by every ARM request of the process.
#[derive(Debug, Default)]
pub struct Budget {
    state: Mutex<State>,
}

impl Budget {
    fn with<R>(&self, f: impl FnOnce(&mut State, Instant) -> R) -> R {
        let now = Instant::now();
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut s, now)
    }

    /// How long the caller must wait before sending (None: send now, a token was taken from every
    /// bucket the request draws on).
    pub fn try_admit(&self, d: &Draw) -> Option<Duration> {
        self.with(|s, now| {
            let gate = (d.principal.to_owned(), d.sub.to_owned());
            if let Some(until) = s.blocked.get(&gate).copied() {
                if until > now {
                    return Some(until - now);
                }
                s.blocked.remove(&gate);
            }
            let scopes = scopes(d);
            let mut wait = Duration::ZERO;
            for (scope, limit) in &scopes {
                let b = s
                    .buckets
                    .entry(scope.clone())
                    .or_insert_with(|| Bucket::new(*limit, now));
                wait = wait.max(b.wait(now));
            }
            if !wait.is_zero() {
                return Some(wait);
            }
            for (scope, _) in &scopes {
                if let Some(b) = s.buckets.get_mut(scope) {
                    b.tokens -= 1.0;
                }
            }
            None
        })
    }

    /// Wait until a request may be sent, then take its tokens.
    pub async fn admit(&self, d: &Draw<'_>) -> Duration {
        let mut waited = Duration::ZERO;
        while let Some(wait) = self.try_admit(d) {
            waited += wait;
            tracing::debug!(
                subscription = d.sub,
                wait_ms = wait.as_millis() as u64,
                "throttle budget: waiting"
            );
            tokio::time::sleep(wait).await;
        }
        waited
    }

    /// ARM said how many requests of `class` the principal has left in the subscription: never
    /// believe there are more.
    pub fn observe_remaining(&self, principal: &str, sub: &str, class: Class, remaining: f64) {
        self.with(|s, now| {
            let scope = Scope::Principal(principal.to_owned(), sub.to_owned(), class);
            let b = s
                .buckets
                .entry(scope)
                .or_insert_with(|| Bucket::new(arm_limit(class), now));
            b.refill(now);
            b.tokens = b.tokens.min(remaining);
        });
    }

    /// Resource Graph said how many queries the principal has left in its window and when the
    /// window ends: never believe there are more, and send none before the end when none are left.
    pub fn observe_graph_quota(&self, principal: &str, remaining: f64, resets_after: Duration) {
        self.with(|s, now| {
            let b = s
                .buckets
                .entry(Scope::Graph(principal.to_owned()))
                .or_insert_with(|| Bucket::new(GRAPH, now));
            b.refill(now);
            b.tokens = b.tokens.min(remaining);
        });
        if remaining < 1.0 {
            self.block_for(principal, GRAPH_SCOPE, resets_after);
        }
    }

    /// A 429 said Retry-After: nothing of this principal goes to this subscription before then.
    pub fn block_for(&self, principal: &str, sub: &str, wait: Duration) {
        self.with(|s, now| {
            let until = now + wait;
            let gate = (principal.to_owned(), sub.to_owned());
            let at = s.blocked.entry(gate).or_insert(until);
            *at = (*at).max(until);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draw(class: Class) -> Draw<'static> {
        Draw {
            principal: "p",
            sub: "s",
            class,
            storage: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn headers_shrink_the_bucket_and_refill_restores_it() {
        let b = Budget::default();
        assert_eq!(b.try_admit(&draw(Class::Write)), None);
        b.observe_remaining("p", "s", Class::Write, 0.0);
        let wait = b.try_admit(&draw(Class::Write)).unwrap();
        assert_eq!(wait, Duration::from_millis(100)); // 10 writes per second
                                                      // Reads and deletes have their own buckets.
        assert_eq!(b.try_admit(&draw(Class::Read)), None);
        assert_eq!(b.try_admit(&draw(Class::Delete)), None);
        tokio::time::advance(wait).await;
        assert_eq!(b.try_admit(&draw(Class::Write)), None);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_blocks_that_principal_and_subscription_only() {
        let b = Budget::default();
        b.block_for("p", "s", Duration::from_secs(3));
        assert_eq!(
            b.try_admit(&draw(Class::Read)),
            Some(Duration::from_secs(3))
        );
        let other_sub = Draw {
            sub: "t",
            ..draw(Class::Read)
        };
        let other_principal = Draw {
            principal: "q",
            ..draw(Class::Read)
        };
        assert_eq!(b.try_admit(&other_sub), None);
        assert_eq!(b.try_admit(&other_principal), None);
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(b.try_admit(&draw(Class::Read)), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_bucket_runs_dry_at_capacity() {
        let b = Budget::default();
        for _ in 0..200 {
            assert_eq!(b.try_admit(&draw(Class::Write)), None);
        }
        assert!(b.try_admit(&draw(Class::Write)).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn storage_lists_pace_to_the_providers_window_whatever_the_principal() {
        let b = Budget::default();
        let list = |principal| Draw {
            principal,
            storage: Some(StorageClass::List),
            ..draw(Class::Read)
        };
        // 90 of the 100 (the margin), from whichever principal.
        for i in 0..90 {
            let p = if i % 2 == 0 { "p" } else { "q" };
            assert_eq!(b.try_admit(&list(p)), None);
        }
        // The next list waits for the 5-minute window to give one back (300 s / 90), and took
        // nothing from ARM's read bucket meanwhile.
        let wait = b.try_admit(&list("p")).unwrap();
        assert_eq!(wait.as_millis(), 3333);
        for _ in 0..200 {
            assert_eq!(b.try_admit(&draw(Class::Read)), None);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn resource_graph_queries_never_exceed_a_window_wherever_it_begins() {
        let b = Budget::default();
        let graph = Draw {
            sub: GRAPH_SCOPE,
            ..draw(Class::Graph)
        };
        // Admit as fast as the bucket allows for a minute, noting when each query went.
        let start = Instant::now();
        let mut sent = Vec::new();
        while Instant::now() - start < Duration::from_secs(60) {
            match b.try_admit(&graph) {
                None => sent.push(Instant::now() - start),
                Some(w) => tokio::time::advance(w).await,
            }
        }
        // No 5-second window, wherever it starts, holds more than 15 × MARGIN.
        for (i, t) in sent.iter().enumerate() {
            let within = sent[i..]
                .iter()
                .take_while(|u| **u < *t + Duration::from_secs(5))
                .count();
            assert!(within <= 13, "{within} queries in the 5 s from {t:?}");
        }
        assert!(sent.len() >= 120, "about 2.1 a second: {}", sent.len());
        // ARM's buckets are untouched; a quota of 0 closes the principal's ARG gate only.
        assert_eq!(b.try_admit(&draw(Class::Read)), None);
        b.observe_graph_quota("p", 0.0, Duration::from_secs(4));
        assert_eq!(b.try_admit(&graph), Some(Duration::from_secs(4)));
        assert_eq!(b.try_admit(&draw(Class::Read)), None);
    }

    #[tokio::test(start_paused = true)]
    async fn storage_writes_meet_both_the_second_and_the_hour() {
        let b = Budget::default();
        let write = Draw {
            storage: Some(StorageClass::Write),
            ..draw(Class::Write)
        };
        // Writes go at 9 per second (10, less the margin) until the hour's 1,080 (1,200 less the
        // margin, plus what it gave back meanwhile) are spent; then the hour is the limit.
        let (mut sent, mut elapsed) = (0u32, Duration::ZERO);
        let hour_wait = loop {
            match b.try_admit(&write) {
                None => sent += 1,
                Some(w) if w <= Duration::from_millis(112) => {
                    elapsed += w;
                    tokio::time::advance(w).await;
                }
                Some(w) => break w,
            }
        };
        let refilled = (elapsed.as_secs_f64() / 3.0).floor() as u32;
        assert!(
            sent >= 1080 && sent <= 1081 + refilled,
            "{sent} in {elapsed:?}"
        );
        assert!(elapsed >= Duration::from_secs(119), "{elapsed:?}");
        // Then one write every 3 s: the hour's full refill.
        assert!(hour_wait <= Duration::from_millis(3001), "{hour_wait:?}");
    }
}
