//! Resource Graph's lag: ARG learns of a change some time after ARM made it. With a lag L, a query
//! at (virtual) time t sees each top-level resource as it was at t − L. The history keeps, per
//! resource, only the versions a later query can still ask for: every version newer than now − L,
//! and the one in force at now − L.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde_json::Value;

use super::store::{Resource, World};

/// When a version took effect: `None` is "before the history began" (the state when the lag was
/// set), which every query sees.
type Stamp = Option<Duration>;

/// One resource's versions, oldest first; `None` body: absent (deleted, or not yet created).
type Versions = VecDeque<(Stamp, Option<Value>)>;

/// ARG's view of the store over time.
#[derive(Debug, Default)]
pub struct History {
    lag: Duration,
    /// Keyed by lower-cased resource id.
    versions: BTreeMap<String, Versions>,
}

/// True for `/subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{type}/{name}`: a resource of
/// ARG's `resources` table (child resources such as configurations, containers or policies, and
/// extension resources, are not in it).
pub fn top_level(lower_id: &str) -> bool {
    // Most of the store is children (a server's configurations): count before splitting.
    if lower_id
        .trim_end_matches('/')
        .bytes()
        .filter(|b| *b == b'/')
        .count()
        != 8
    {
        return false;
    }
    let segs: Vec<&str> = lower_id.trim_start_matches('/').split('/').collect();
    segs.len() == 8
        && segs[0] == "subscriptions"
        && segs[2] == "resourcegroups"
        && segs[4] == "providers"
        && segs.iter().all(|s| !s.is_empty())
}

/// The top-level resource (lower-cased id) a path lies under, if any.
pub fn top_level_of(path: &str) -> Option<String> {
    let lower = path.to_ascii_lowercase();
    let end = lower
        .match_indices('/')
        .nth(8)
        .map_or(lower.len(), |(i, _)| i);
    let id = lower[..end].to_owned();
    top_level(&id).then_some(id)
}

/// The top-level resources ARM shows now (lower-cased id, body).
fn current(resources: &BTreeMap<String, Resource>) -> impl Iterator<Item = (&String, &Value)> {
    resources
        .iter()
        .filter(|(k, r)| r.visible && top_level(k))
        .map(|(k, r)| (k, &r.body))
}

impl History {
    pub fn lag(&self) -> Duration {
        self.lag
    }

    /// Set the lag. The store as it is now becomes the history's beginning: what exists now is
    /// seen at once, later changes after the lag. (Raising the lag does not bring back versions
    /// already forgotten.)
    pub fn set_lag(&mut self, lag: Duration, world_now: Vec<(String, Value)>) {
        self.lag = lag;
        self.versions.clear();
        if !lag.is_zero() {
            for (id, body) in world_now {
                self.versions
                    .insert(id, VecDeque::from([(None, Some(body))]));
            }
        }
    }

    /// The last instant a query at `now` sees: None before the lag has elapsed once.
    fn cutoff(&self, now: Duration) -> Stamp {
        now.checked_sub(self.lag)
    }

    /// Record what changed in `resources` (id → body) at `now`, and forget what no query can ask
    /// for any more. Nothing is kept without a lag.
    fn record<'a>(
        &mut self,
        now: Duration,
        resources: impl Iterator<Item = (&'a String, &'a Value)>,
    ) {
        if self.lag.is_zero() {
            return;
        }
        let mut seen = std::collections::BTreeSet::new();
        for (id, body) in resources {
            seen.insert(id.clone());
            let versions = self.versions.entry(id.clone()).or_default();
            if versions.back().and_then(|(_, b)| b.as_ref()) != Some(body) {
                versions.push_back((Some(now), Some(body.clone())));
            }
        }
        for (id, versions) in self.versions.iter_mut() {
            if !seen.contains(id) && versions.back().is_some_and(|(_, b)| b.is_some()) {
                versions.push_back((Some(now), None));
            }
        }
        let cutoff = self.cutoff(now);
        self.versions.retain(|_, v| {
            while v.len() >= 2 && v[1].0 <= cutoff {
                v.pop_front();
            }
            !(v.len() == 1 && v[0].1.is_none() && v[0].0 <= cutoff)
        });
    }

    /// Record, at `now`, the state of the top-level resources `ids` only (what a request could
    /// have changed), and forget what no query can ask for any more.
    fn record_ids(
        &mut self,
        now: Duration,
        resources: &BTreeMap<String, Resource>,
        ids: &[String],
    ) {
        if self.lag.is_zero() {
            return;
        }
        for id in ids {
            let body = resources.get(id).filter(|r| r.visible).map(|r| &r.body);
            let versions = self.versions.entry(id.clone()).or_default();
            let last = versions.back().and_then(|(_, b)| b.as_ref());
            if last != body && !(last.is_none() && body.is_none()) {
                versions.push_back((Some(now), body.cloned()));
            }
        }
        let cutoff = self.cutoff(now);
        for id in ids {
            if let Some(v) = self.versions.get_mut(id) {
                while v.len() >= 2 && v[1].0 <= cutoff {
                    v.pop_front();
                }
                if v.is_empty() || (v.len() == 1 && v[0].1.is_none() && v[0].0 <= cutoff) {
                    self.versions.remove(id);
                }
            }
        }
    }

    /// The top-level resources a query at `now` sees (lower-cased id, body), in id order.
    fn view(&self, now: Duration) -> Vec<(&str, &Value)> {
        let cutoff = self.cutoff(now);
        self.versions
            .iter()
            .filter_map(|(id, v)| {
                let body = v.iter().rev().find(|(at, _)| *at <= cutoff)?.1.as_ref()?;
                Some((id.as_str(), body))
            })
            .collect()
    }

    /// How many versions are kept (for tests of the bound).
    #[cfg(test)]
    pub fn kept(&self) -> usize {
        self.versions.values().map(VecDeque::len).sum()
    }
}

impl World {
    /// Note the store's state at `now` for Resource Graph's lag (a no-op without one).
    pub fn record_graph(&mut self, now: Duration) {
        let World {
            resources, graph, ..
        } = self;
        graph.history.record(now, current(resources));
    }

    /// [`World::record_graph`] for the top-level resources under `paths` (a request's path, an
    /// operation's target): what one request can change, without walking the store.
    pub fn record_graph_paths<'a>(&mut self, now: Duration, paths: impl Iterator<Item = &'a str>) {
        let ids: Vec<String> = paths.filter_map(top_level_of).collect();
        let World {
            resources, graph, ..
        } = self;
        graph.history.record_ids(now, resources, &ids);
    }

    /// Set Resource Graph's lag, starting its history from the store as it is.
    pub fn set_graph_lag(&mut self, lag: Duration) {
        let now: Vec<(String, Value)> = current(&self.resources)
            .map(|(k, b)| (k.clone(), b.clone()))
            .collect();
        self.graph.history.set_lag(lag, now);
    }

    /// The top-level resources as Resource Graph sees them at `now` (lower-cased id, body), in id
    /// order.
    pub fn graph_view(&self, now: Duration) -> Vec<(&str, &Value)> {
        if self.graph.history.lag().is_zero() {
            current(&self.resources)
                .map(|(k, b)| (k.as_str(), b))
                .collect()
        } else {
            self.graph.history.view(now)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const A: &str =
        "/subscriptions/s/resourcegroups/rg/providers/microsoft.storage/storageaccounts/a";

    fn at(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn only_top_level_resources_are_in_the_table() {
        assert!(top_level(A));
        assert!(!top_level(&format!(
            "{A}/blobservices/default/containers/c"
        )));
        assert!(!top_level("/subscriptions/s/resourcegroups/rg"));
    }

    #[test]
    fn a_query_sees_the_store_as_it_was_one_lag_ago_and_the_history_stays_bounded() {
        let mut h = History::default();
        h.set_lag(at(60), Vec::new());
        let id = A.to_owned();
        let (v1, v2) = (
            json!({"sku": {"name": "Standard_LRS"}}),
            json!({"sku": {"name": "Standard_GRS"}}),
        );
        h.record(at(10), [(&id, &v1)].into_iter());
        assert!(h.view(at(60)).is_empty(), "created 50 s ago: not yet seen");
        assert_eq!(h.view(at(70)), vec![(A, &v1)]);
        h.record(at(100), [(&id, &v2)].into_iter());
        assert_eq!(h.view(at(159)), vec![(A, &v1)], "the edit is not seen yet");
        assert_eq!(h.view(at(160)), vec![(A, &v2)]);
        h.record(at(200), std::iter::empty());
        assert_eq!(
            h.view(at(259)),
            vec![(A, &v2)],
            "a deleted one stays a lag long"
        );
        assert!(h.view(at(260)).is_empty());
        h.record(at(260), std::iter::empty());
        assert_eq!(h.kept(), 0, "nothing is kept that no query can ask for");
    }

    #[test]
    fn what_exists_when_the_lag_is_set_is_seen_at_once() {
        let mut h = History::default();
        h.set_lag(at(30), vec![(A.to_owned(), json!({}))]);
        assert_eq!(h.view(at(0)).len(), 1);
    }
}
