//! Client-side throttle budget: one token bucket per subscription for reads and one for writes,
//! fed by ARM's `x-ms-ratelimit-remaining-subscription-*` headers, plus the Retry-After gate after a
//! 429. Every ARM request passes `admit` first, so the operator never drives ARM into 429 by itself.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// ARM's subscription limits (token bucket): reads 250 refill 25/s; writes 200 refill 10/s.
pub const READS: (f64, f64) = (250.0, 25.0);
/// See [`READS`].
pub const WRITES: (f64, f64) = (200.0, 10.0);

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
    /// Take a token, or say how long until one is there.
    fn take(&mut self, now: Instant) -> Option<Duration> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            None
        } else {
            Some(Duration::from_secs_f64((1.0 - self.tokens) / self.refill))
        }
    }
}

#[derive(Debug)]
struct Sub {
    reads: Bucket,
    writes: Bucket,
    blocked_until: Option<Instant>,
}

/// Read or write, as ARM counts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Read,
    Write,
}

/// The per-subscription budget shared by every ARM request of the process.
#[derive(Debug, Default)]
pub struct Budget {
    subs: Mutex<HashMap<String, Sub>>,
}

impl Budget {
    fn with<R>(&self, sub: &str, f: impl FnOnce(&mut Sub, Instant) -> R) -> R {
        let now = Instant::now();
        let mut subs = self.subs.lock().unwrap_or_else(|p| p.into_inner());
        let entry = subs.entry(sub.to_owned()).or_insert_with(|| Sub {
            reads: Bucket::new(READS, now),
            writes: Bucket::new(WRITES, now),
            blocked_until: None,
        });
        f(entry, now)
    }

    /// How long the caller must wait before sending (None: send now, a token was taken).
    pub fn try_admit(&self, sub: &str, class: Class) -> Option<Duration> {
        self.with(sub, |s, now| {
            if let Some(until) = s.blocked_until {
                if until > now {
                    return Some(until - now);
                }
                s.blocked_until = None;
            }
            match class {
                Class::Read => s.reads.take(now),
                Class::Write => s.writes.take(now),
            }
        })
    }

    /// Wait until a request may be sent, then take a token.
    pub async fn admit(&self, sub: &str, class: Class) {
        while let Some(wait) = self.try_admit(sub, class) {
            tracing::debug!(
                subscription = sub,
                wait_ms = wait.as_millis() as u64,
                "throttle budget: waiting"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// ARM said how many requests remain: never believe we have more than that.
    pub fn observe_remaining(&self, sub: &str, class: Class, remaining: f64) {
        self.with(sub, |s, now| {
            let b = match class {
                Class::Read => &mut s.reads,
                Class::Write => &mut s.writes,
            };
            b.refill(now);
            b.tokens = b.tokens.min(remaining);
        });
    }

    /// A 429 said Retry-After: nothing goes to this subscription before then.
    pub fn block_for(&self, sub: &str, wait: Duration) {
        self.with(sub, |s, now| {
            let until = now + wait;
            s.blocked_until = Some(s.blocked_until.map_or(until, |u| u.max(until)));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn headers_shrink_the_bucket_and_refill_restores_it() {
        let b = Budget::default();
        assert_eq!(b.try_admit("s", Class::Write), None);
        b.observe_remaining("s", Class::Write, 0.0);
        let wait = b.try_admit("s", Class::Write).unwrap();
        assert_eq!(wait, Duration::from_millis(100)); // 10 writes per second
                                                      // Reads have their own bucket.
        assert_eq!(b.try_admit("s", Class::Read), None);
        tokio::time::advance(wait).await;
        assert_eq!(b.try_admit("s", Class::Write), None);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_blocks_the_subscription_only() {
        let b = Budget::default();
        b.block_for("s", Duration::from_secs(3));
        assert_eq!(b.try_admit("s", Class::Read), Some(Duration::from_secs(3)));
        assert_eq!(b.try_admit("other", Class::Read), None);
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(b.try_admit("s", Class::Read), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_bucket_runs_dry_at_capacity() {
        let b = Budget::default();
        for _ in 0..200 {
            assert_eq!(b.try_admit("s", Class::Write), None);
        }
        assert!(b.try_admit("s", Class::Write).is_some());
    }
}
