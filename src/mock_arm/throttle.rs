//! ARM-style throttling: token buckets for reads and writes per principal and subscription (ARM's
//! limits apply to each caller in each subscription), refilled on the mock's clock.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::journal::OpClass;

/// Bucket sizes and refill rates. Defaults are ARM's figures per principal and subscription (reads
/// 250 refilling 25/s, writes 200 refilling 10/s).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ThrottleConfig {
    /// When false, nothing is throttled (the remaining-count headers are still sent).
    pub enabled: bool,
    pub read_capacity: f64,
    pub read_refill_per_sec: f64,
    pub write_capacity: f64,
    pub write_refill_per_sec: f64,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            read_capacity: 250.0,
            read_refill_per_sec: 25.0,
            write_capacity: 200.0,
            write_refill_per_sec: 10.0,
        }
    }
}

/// One token bucket.
#[derive(Debug, Clone)]
pub struct Bucket {
    capacity: f64,
    refill: f64,
    tokens: f64,
    last: Duration,
}

impl Bucket {
    pub fn new(capacity: f64, refill: f64, now: Duration) -> Self {
        Self {
            capacity,
            refill,
            tokens: capacity,
            last: now,
        }
    }

    fn refill_to(&mut self, now: Duration) {
        if now > self.last {
            let dt = (now - self.last).as_secs_f64();
            self.tokens = (self.tokens + dt * self.refill).min(self.capacity);
            self.last = now;
        }
    }

    /// Take one token: `Ok(remaining)` or `Err(retry_after_secs)` when empty.
    pub fn take(&mut self, now: Duration) -> Result<u64, u64> {
        self.refill_to(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(self.tokens.floor() as u64)
        } else if self.refill <= 0.0 {
            Err(60)
        } else {
            Err((((1.0 - self.tokens) / self.refill).ceil() as u64).max(1))
        }
    }
}

/// Buckets per principal, subscription and class.
#[derive(Debug, Default)]
pub struct Buckets {
    map: HashMap<(String, String, OpClass), Bucket>,
}

impl Buckets {
    /// Take a token for `principal` in `sub`; always returns the remaining count to report, and
    /// the Retry-After when the request must be refused.
    pub fn take(
        &mut self,
        cfg: &ThrottleConfig,
        principal: &str,
        sub: &str,
        class: OpClass,
        now: Duration,
    ) -> Result<u64, u64> {
        let (cap, refill) = match class {
            OpClass::Read => (cfg.read_capacity, cfg.read_refill_per_sec),
            OpClass::Write => (cfg.write_capacity, cfg.write_refill_per_sec),
        };
        let key = (
            principal.to_ascii_lowercase(),
            sub.to_ascii_lowercase(),
            class,
        );
        let bucket = self
            .map
            .entry(key)
            .or_insert_with(|| Bucket::new(cap, refill, now));
        match bucket.take(now) {
            Ok(left) => Ok(left),
            Err(_) if !cfg.enabled => Ok(0),
            Err(retry) => Err(retry),
        }
    }

    pub fn clear(&mut self) {
        self.map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_drains_then_refills_on_the_clock() {
        let mut b = Bucket::new(3.0, 1.0, Duration::ZERO);
        assert_eq!(b.take(Duration::ZERO), Ok(2));
        assert_eq!(b.take(Duration::ZERO), Ok(1));
        assert_eq!(b.take(Duration::ZERO), Ok(0));
        assert_eq!(b.take(Duration::ZERO), Err(1));
        assert_eq!(b.take(Duration::from_secs(1)), Ok(0));
        // Refill never exceeds capacity.
        assert_eq!(b.take(Duration::from_secs(100)), Ok(2));
    }

    #[test]
    fn retry_after_reflects_refill_rate() {
        let mut b = Bucket::new(1.0, 0.25, Duration::ZERO);
        assert_eq!(b.take(Duration::ZERO), Ok(0));
        assert_eq!(b.take(Duration::ZERO), Err(4));
    }

    #[test]
    fn buckets_are_per_principal_subscription_and_class() {
        let cfg = ThrottleConfig {
            read_capacity: 1.0,
            write_capacity: 1.0,
            ..ThrottleConfig::default()
        };
        let mut all = Buckets::default();
        let t = Duration::ZERO;
        assert!(all.take(&cfg, "p", "a", OpClass::Read, t).is_ok());
        assert!(all.take(&cfg, "p", "a", OpClass::Read, t).is_err());
        assert!(all.take(&cfg, "P", "A", OpClass::Write, t).is_ok());
        assert!(all.take(&cfg, "p", "b", OpClass::Read, t).is_ok());
        assert!(all.take(&cfg, "q", "a", OpClass::Read, t).is_ok());
        let off = ThrottleConfig {
            enabled: false,
            ..cfg
        };
        assert_eq!(all.take(&off, "p", "a", OpClass::Read, t), Ok(0));
    }
}
