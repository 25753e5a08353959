//! Throttling as Azure counts it, on the mock's clock. Every limit is a token bucket whose capacity
//! is its allowance and whose refill is allowance / window:
//! - **ARM, per principal and subscription**: reads 250 (+25/s), writes 200 (+10/s), deletes 200
//!   (+10/s) ("Understand how Azure Resource Manager throttles requests", token-bucket model);
//! - **ARM, per subscription across principals**: 15 × those;
//! - **the Storage resource provider, per subscription and region** ("Scalability targets for the
//!   Azure Storage resource provider"): 800 reads per 5 minutes, 100 lists per 5 minutes, and writes
//!   limited both to 10 per second and to 1,200 per hour. Our reading of that page: a GET or HEAD
//!   of any `Microsoft.Storage` management resource (account, policy, container, immutability
//!   policy, operation) is a read; listing accounts or containers is a list; PUT, PATCH, POST and
//!   DELETE are writes.
//!
//! A request is admitted only when every bucket it draws from has a token; a refused request takes
//! none.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Bucket sizes and refill rates. Defaults are Azure's figures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ThrottleConfig {
    /// When false, nothing is throttled (the remaining-count headers are still sent).
    pub enabled: bool,
    pub read_capacity: f64,
    pub read_refill_per_sec: f64,
    pub write_capacity: f64,
    pub write_refill_per_sec: f64,
    pub delete_capacity: f64,
    pub delete_refill_per_sec: f64,
    /// The subscription-wide limits, across principals, are this many times the above.
    pub subscription_factor: f64,
    /// The Storage resource provider's own limits.
    pub storage: StorageRpLimits,
    /// Azure Resource Graph's quota per principal.
    pub graph: GraphLimits,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            read_capacity: 250.0,
            read_refill_per_sec: 25.0,
            write_capacity: 200.0,
            write_refill_per_sec: 10.0,
            delete_capacity: 200.0,
            delete_refill_per_sec: 10.0,
            subscription_factor: 15.0,
            storage: StorageRpLimits::default(),
            graph: GraphLimits::default(),
        }
    }
}

/// The Storage resource provider's limits per subscription and region.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct StorageRpLimits {
    pub reads_per_window: f64,
    pub lists_per_window: f64,
    /// The window of reads and lists, in seconds (5 minutes).
    pub window_secs: f64,
    pub writes_per_second: f64,
    pub writes_per_hour: f64,
}

impl Default for StorageRpLimits {
    fn default() -> Self {
        Self {
            reads_per_window: 800.0,
            lists_per_window: 100.0,
            window_secs: 300.0,
            writes_per_second: 10.0,
            writes_per_hour: 1200.0,
        }
    }
}

/// Azure Resource Graph's quota: queries per principal in a fixed window ("Guidance for throttled
/// requests in Azure Resource Graph": 15 per 5 seconds, reset in full when the window ends).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct GraphLimits {
    pub queries_per_window: u32,
    pub window_secs: f64,
}

impl Default for GraphLimits {
    fn default() -> Self {
        Self {
            queries_per_window: 15,
            window_secs: 5.0,
        }
    }
}

/// How ARM counts a request: by its method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArmClass {
    Read,
    Write,
    Delete,
}

impl ArmClass {
    pub fn of(method: &str) -> Self {
        match method.to_ascii_uppercase().as_str() {
            "GET" | "HEAD" => Self::Read,
            "DELETE" => Self::Delete,
            _ => Self::Write,
        }
    }

    /// The remaining-count header real ARM sends for this class.
    pub fn header(self) -> &'static str {
        match self {
            Self::Read => "x-ms-ratelimit-remaining-subscription-global-reads",
            Self::Write => "x-ms-ratelimit-remaining-subscription-global-writes",
            Self::Delete => "x-ms-ratelimit-remaining-subscription-global-deletes",
        }
    }

    fn word(self) -> &'static str {
        match self {
            Self::Read => "Read",
            Self::Write => "Write",
            Self::Delete => "Delete",
        }
    }
}

/// How the Storage resource provider counts a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StorageClass {
    Read,
    List,
    Write,
}

/// What one request draws on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub arm: ArmClass,
    /// Storage RP requests: the region and class.
    pub storage: Option<(String, StorageClass)>,
}

/// Which bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Scope {
    Principal(String, String, ArmClass),
    Subscription(String, ArmClass),
    StorageReads(String, String),
    StorageLists(String, String),
    StorageWritesSecond(String, String),
    StorageWritesHour(String, String),
}

/// A refused request: when to come back, and which limit said no.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub retry_after: u64,
    pub message: String,
    /// The principal's own ARM bucket said no (its remaining count is then 0).
    pub principal_bucket: bool,
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

    /// Seconds until a token is there (0: there is one now).
    fn wait(&mut self, now: Duration) -> u64 {
        self.refill_to(now);
        if self.tokens >= 1.0 {
            0
        } else if self.refill <= 0.0 {
            60
        } else {
            (((1.0 - self.tokens) / self.refill).ceil() as u64).max(1)
        }
    }

    fn take_one(&mut self) -> u64 {
        self.tokens = (self.tokens - 1.0).max(0.0);
        self.tokens.floor() as u64
    }

    /// Take one token: `Ok(remaining)` or `Err(retry_after_secs)` when empty.
    #[cfg(test)]
    pub fn take(&mut self, now: Duration) -> Result<u64, u64> {
        match self.wait(now) {
            0 => Ok(self.take_one()),
            w => Err(w),
        }
    }
}

/// Every bucket, created on first use.
#[derive(Debug, Default)]
pub struct Buckets {
    map: HashMap<Scope, Bucket>,
}

/// The scopes of a request, each with its (capacity, refill per second) and its name for a 429.
fn scopes(
    cfg: &ThrottleConfig,
    principal: &str,
    sub: &str,
    c: &Charge,
) -> Vec<(Scope, (f64, f64), String)> {
    let (p, s) = (principal.to_ascii_lowercase(), sub.to_ascii_lowercase());
    let (cap, refill) = match c.arm {
        ArmClass::Read => (cfg.read_capacity, cfg.read_refill_per_sec),
        ArmClass::Write => (cfg.write_capacity, cfg.write_refill_per_sec),
        ArmClass::Delete => (cfg.delete_capacity, cfg.delete_refill_per_sec),
    };
    let f = cfg.subscription_factor;
    let word = c.arm.word();
    let mut out = vec![
        (
            Scope::Principal(p, s.clone(), c.arm),
            (cap, refill),
            format!("The request is being throttled as the limit has been reached for operation type - '{word}'."),
        ),
        (
            Scope::Subscription(s.clone(), c.arm),
            (cap * f, refill * f),
            format!("The request is being throttled as the subscription-wide limit across principals has been reached for operation type - '{word}'."),
        ),
    ];
    if let Some((region, class)) = &c.storage {
        let r = region.to_ascii_lowercase();
        let st = &cfg.storage;
        let per_window = |n: f64| (n, n / st.window_secs);
        let rp = |what: &str| {
            format!("The request is being throttled by the Microsoft.Storage resource provider: {what} in this subscription and region.")
        };
        match class {
            StorageClass::Read => out.push((
                Scope::StorageReads(s, r),
                per_window(st.reads_per_window),
                rp(&format!(
                    "{} reads per {} seconds",
                    st.reads_per_window, st.window_secs
                )),
            )),
            StorageClass::List => out.push((
                Scope::StorageLists(s, r),
                per_window(st.lists_per_window),
                rp(&format!(
                    "{} list operations per {} seconds",
                    st.lists_per_window, st.window_secs
                )),
            )),
            StorageClass::Write => {
                out.push((
                    Scope::StorageWritesSecond(s.clone(), r.clone()),
                    (st.writes_per_second, st.writes_per_second),
                    rp(&format!("{} writes per second", st.writes_per_second)),
                ));
                out.push((
                    Scope::StorageWritesHour(s, r),
                    (st.writes_per_hour, st.writes_per_hour / 3600.0),
                    rp(&format!("{} writes per hour", st.writes_per_hour)),
                ));
            }
        }
    }
    out
}

impl Buckets {
    /// Admit a request of `principal` in `sub`: the principal's remaining count for its class (the
    /// header value), or the refusal of the first limit without a token.
    pub fn admit(
        &mut self,
        cfg: &ThrottleConfig,
        principal: &str,
        sub: &str,
        charge: &Charge,
        now: Duration,
    ) -> Result<u64, Refusal> {
        let scopes = scopes(cfg, principal, sub, charge);
        if cfg.enabled {
            let mut refused: Option<Refusal> = None;
            for (scope, (cap, refill), message) in &scopes {
                let b = self
                    .map
                    .entry(scope.clone())
                    .or_insert_with(|| Bucket::new(*cap, *refill, now));
                let wait = b.wait(now);
                if wait > 0 && refused.as_ref().is_none_or(|r| wait > r.retry_after) {
                    refused = Some(Refusal {
                        retry_after: wait,
                        message: message.clone(),
                        principal_bucket: matches!(scope, Scope::Principal(..)),
                    });
                }
            }
            if let Some(r) = refused {
                return Err(r);
            }
        }
        let mut remaining = 0;
        for (i, (scope, (cap, refill), _)) in scopes.into_iter().enumerate() {
            let b = self
                .map
                .entry(scope)
                .or_insert_with(|| Bucket::new(cap, refill, now));
            b.refill_to(now);
            let left = b.take_one();
            if i == 0 {
                remaining = left;
            }
        }
        Ok(remaining)
    }

    pub fn clear(&mut self) {
        self.map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charge(arm: ArmClass, storage: Option<StorageClass>) -> Charge {
        Charge {
            arm,
            storage: storage.map(|c| ("eastus2".to_owned(), c)),
        }
    }

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
            delete_capacity: 1.0,
            ..ThrottleConfig::default()
        };
        let mut all = Buckets::default();
        let t = Duration::ZERO;
        let read = charge(ArmClass::Read, None);
        assert!(all.admit(&cfg, "p", "a", &read, t).is_ok());
        assert!(all.admit(&cfg, "p", "a", &read, t).is_err());
        assert!(all
            .admit(&cfg, "P", "A", &charge(ArmClass::Write, None), t)
            .is_ok());
        assert!(all
            .admit(&cfg, "P", "A", &charge(ArmClass::Delete, None), t)
            .is_ok());
        assert!(all.admit(&cfg, "p", "b", &read, t).is_ok());
        assert!(all.admit(&cfg, "q", "a", &read, t).is_ok());
        let off = ThrottleConfig {
            enabled: false,
            ..cfg
        };
        assert_eq!(all.admit(&off, "p", "a", &read, t), Ok(0));
    }

    #[test]
    fn the_subscription_limit_holds_across_principals() {
        let cfg = ThrottleConfig {
            read_capacity: 1.0,
            read_refill_per_sec: 0.1,
            subscription_factor: 2.0,
            ..ThrottleConfig::default()
        };
        let mut all = Buckets::default();
        let read = charge(ArmClass::Read, None);
        let t = Duration::ZERO;
        assert!(all.admit(&cfg, "p", "s", &read, t).is_ok());
        assert!(all.admit(&cfg, "q", "s", &read, t).is_ok());
        let r = all.admit(&cfg, "r", "s", &read, t).unwrap_err();
        assert!(r.message.contains("subscription-wide"), "{r:?}");
        assert_eq!(r.retry_after, 5);
    }

    #[test]
    fn storage_limits_count_reads_lists_and_writes_apart_and_refuse_without_taking() {
        let cfg = ThrottleConfig {
            storage: StorageRpLimits {
                reads_per_window: 2.0,
                lists_per_window: 1.0,
                window_secs: 300.0,
                writes_per_second: 2.0,
                writes_per_hour: 3.0,
            },
            ..ThrottleConfig::default()
        };
        let mut all = Buckets::default();
        let t = Duration::ZERO;
        let list = charge(ArmClass::Read, Some(StorageClass::List));
        assert!(all.admit(&cfg, "p", "s", &list, t).is_ok());
        let r = all.admit(&cfg, "p", "s", &list, t).unwrap_err();
        assert!(r.message.contains("list operations"), "{r:?}");
        assert_eq!(r.retry_after, 300);
        // Reads have their own allowance; another region its own buckets.
        let read = charge(ArmClass::Read, Some(StorageClass::Read));
        assert!(all.admit(&cfg, "p", "s", &read, t).is_ok());
        let mut west = list.clone();
        west.storage = Some(("westus".into(), StorageClass::List));
        assert!(all.admit(&cfg, "p", "s", &west, t).is_ok());
        // Writes: 2 per second, then the second's limit; after a second, the hour's.
        let write = charge(ArmClass::Write, Some(StorageClass::Write));
        assert!(all.admit(&cfg, "p", "s", &write, t).is_ok());
        assert!(all.admit(&cfg, "p", "s", &write, t).is_ok());
        let r = all.admit(&cfg, "p", "s", &write, t).unwrap_err();
        assert!(r.message.contains("per second"), "{r:?}");
        let later = Duration::from_secs(1);
        assert!(all.admit(&cfg, "p", "s", &write, later).is_ok());
        let r = all.admit(&cfg, "p", "s", &write, later).unwrap_err();
        assert!(r.message.contains("per hour"), "{r:?}");
        assert_eq!(
            r.retry_after, 1199,
            "an hour's allowance refills one write per 1,200 s"
        );
        // The refused requests took nothing from ARM's read bucket: 3 reads were admitted.
        let arm_read = charge(ArmClass::Read, None);
        assert_eq!(all.admit(&cfg, "p", "s", &arm_read, t), Ok(246));
    }
}
