//! Fault injection: match a request on method + path pattern and answer with a fault.

use serde::{Deserialize, Serialize};

/// What an injected fault does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer with this status and an ARM error body.
    Status {
        status: u16,
        #[serde(default = "default_code")]
        code: String,
        #[serde(default = "default_message")]
        message: String,
    },
    /// Answer 429 TooManyRequests with this Retry-After (seconds).
    Throttle { retry_after: u64 },
    /// Close the connection without answering.
    Drop,
    /// Wait this many wall-clock milliseconds, then handle the request normally.
    Delay { ms: u64 },
    /// Accept the request normally, but make the long-running operation it starts end `Failed`
    /// with this error (the resource goes back to its previous state).
    FailOperation {
        #[serde(default = "default_code")]
        code: String,
        #[serde(default = "default_message")]
        message: String,
    },
}

fn default_code() -> String {
    "InternalServerError".into()
}

fn default_message() -> String {
    "An injected fault.".into()
}

/// A fault to inject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultSpec {
    /// HTTP method to match; `None` or `"*"` matches any.
    #[serde(default)]
    pub method: Option<String>,
    /// Path pattern (no query), case-insensitive; `*` matches any run of characters (also `/`).
    pub path: String,
    pub kind: FaultKind,
    /// Fire at most this many times (then the fault is removed). `None` = unlimited.
    #[serde(default)]
    pub count: Option<u32>,
    /// Fire with this probability (0..=1), drawn from a generator seeded with `seed`.
    #[serde(default)]
    pub probability: Option<f64>,
    #[serde(default)]
    pub seed: Option<u64>,
}

impl FaultSpec {
    /// A fault that fires on every matching request.
    pub fn new(method: &str, path: &str, kind: FaultKind) -> Self {
        Self {
            method: Some(method.into()),
            path: path.into(),
            kind,
            count: None,
            probability: None,
            seed: None,
        }
    }

    pub fn times(mut self, n: u32) -> Self {
        self.count = Some(n);
        self
    }

    pub fn with_probability(mut self, p: f64, seed: u64) -> Self {
        self.probability = Some(p);
        self.seed = Some(seed);
        self
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.path.is_empty() {
            return Err("path pattern is empty".into());
        }
        if let Some(p) = self.probability {
            if !(0.0..=1.0).contains(&p) {
                return Err("probability must be within 0..=1".into());
            }
        }
        if let FaultKind::Status { status, .. } = &self.kind {
            if !(100..=599).contains(status) {
                return Err("status must be a valid HTTP status".into());
            }
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Active {
    id: u64,
    spec: FaultSpec,
    remaining: Option<u32>,
    rng: fastrand::Rng,
}

/// The injected faults, in insertion order; the first match wins.
#[derive(Debug, Default)]
pub struct Faults {
    next: u64,
    active: Vec<Active>,
}

impl Faults {
    pub fn add(&mut self, spec: FaultSpec) -> u64 {
        self.next += 1;
        let rng = fastrand::Rng::with_seed(spec.seed.unwrap_or(self.next));
        self.active.push(Active {
            id: self.next,
            remaining: spec.count,
            spec,
            rng,
        });
        self.next
    }

    pub fn clear(&mut self) {
        self.active.clear();
    }

    pub fn list(&self) -> Vec<serde_json::Value> {
        self.active
            .iter()
            .map(|a| serde_json::json!({"id": a.id, "spec": a.spec, "remaining": a.remaining}))
            .collect()
    }

    /// The fault that fires for this request, if any (consuming one of its count).
    pub fn fire(&mut self, method: &str, path: &str) -> Option<(u64, FaultKind)> {
        if self.active.is_empty() {
            return None;
        }
        let mut fired = None;
        for (i, a) in self.active.iter_mut().enumerate() {
            let m = a.spec.method.as_deref().unwrap_or("*");
            if !(m == "*" || m.eq_ignore_ascii_case(method)) || !glob(&a.spec.path, path) {
                continue;
            }
            if let Some(p) = a.spec.probability {
                if a.rng.f64() >= p {
                    continue;
                }
            }
            if let Some(r) = a.remaining.as_mut() {
                *r = r.saturating_sub(1);
            }
            fired = Some((i, a.id, a.spec.kind.clone()));
            break;
        }
        let (i, id, kind) = fired?;
        if self.active[i].remaining == Some(0) {
            self.active.remove(i);
        }
        Some((id, kind))
    }
}

/// Case-insensitive match where `*` matches any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p = pattern.to_ascii_lowercase();
    let t = text.to_ascii_lowercase();
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return p == t;
    }
    let mut rest = t.as_str();
    let first = parts[0];
    if !rest.starts_with(first) {
        return false;
    }
    rest = &rest[first.len()..];
    let last = parts[parts.len() - 1];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(at) => rest = &rest[at + mid.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_stars_and_case() {
        assert!(glob(
            "/subscriptions/*/flexibleServers/pg1",
            "/subscriptions/s/rg/X/FLEXIBLESERVERS/pg1"
        ));
        assert!(!glob(
            "/subscriptions/*/flexibleServers/pg1",
            "/subscriptions/s/flexibleServers/pg10"
        ));
        assert!(glob("*", "/anything"));
        assert!(glob("/a/*/c*", "/a/b/cde"));
        assert!(!glob("/a/*b*b", "/a/b"));
    }

    #[test]
    fn count_limits_firing_and_seeded_probability_is_reproducible() {
        let mut f = Faults::default();
        f.add(FaultSpec::new("GET", "/x", FaultKind::Drop).times(2));
        assert!(f.fire("GET", "/x").is_some());
        assert!(f.fire("PUT", "/x").is_none());
        assert!(f.fire("GET", "/x").is_some());
        assert!(f.fire("GET", "/x").is_none());

        let run = || {
            let mut f = Faults::default();
            f.add(FaultSpec::new("*", "/y", FaultKind::Drop).with_probability(0.5, 42));
            (0..64)
                .map(|_| f.fire("GET", "/y").is_some())
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        assert!(a.iter().any(|x| *x) && a.iter().any(|x| !*x));
    }
}
