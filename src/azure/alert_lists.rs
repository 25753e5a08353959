//! One list of a resource group's metric alerts, shared by the planes in that group: N planes in
//! one group would otherwise each list every rule of all N (O(N²) bytes a sweep). A list serves
//! each plane once, and only while it is younger than [`FRESH`]: a plane's next pass lists again,
//! so a pass never reuses what it already saw. Our own write to a rule of the group drops the list.
//! A list that holds only the reading plane's own rules is not kept (nobody else would read it).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::plan::ObservedAlert;

/// How long a list may serve the group's other planes (the fast sweep's default period).
pub const FRESH: Duration = Duration::from_secs(60);

/// Every rule of one group, by lower-cased name.
pub type Rules = Arc<BTreeMap<String, ObservedAlert>>;

#[derive(Debug)]
struct Entry {
    at: Instant,
    rules: Rules,
    /// The planes (their server names) already served this list.
    served: HashSet<String>,
}

/// The lists, by resource group scope (`{subscription}/{group}`, lower case).
#[derive(Debug, Default)]
pub struct AlertLists(Mutex<HashMap<String, Entry>>);

fn key(subscription: &str, group: &str) -> String {
    format!("{subscription}/{group}").to_ascii_lowercase()
}

impl AlertLists {
    /// The group's list for plane `plane`, if a fresh one has not served it yet.
    pub fn take(&self, subscription: &str, group: &str, plane: &str) -> Option<Rules> {
        let mut lists = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        lists.retain(|_, e| now.duration_since(e.at) < FRESH);
        let e = lists.get_mut(&key(subscription, group))?;
        e.served
            .insert(plane.to_ascii_lowercase())
            .then(|| e.rules.clone())
    }

    /// A list just read for plane `plane`, for the group's other planes.
    pub fn put(&self, subscription: &str, group: &str, plane: &str, rules: Rules) {
        let mut lists = self.0.lock().unwrap_or_else(|e| e.into_inner());
        lists.insert(
            key(subscription, group),
            Entry {
                at: Instant::now(),
                rules,
                served: HashSet::from([plane.to_ascii_lowercase()]),
            },
        );
    }

    /// A rule of the group was written: its list is stale.
    pub fn forget(&self, subscription: &str, group: &str) {
        let mut lists = self.0.lock().unwrap_or_else(|e| e.into_inner());
        lists.remove(&key(subscription, group));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_list_serves_each_plane_once_while_fresh() {
        let lists = AlertLists::default();
        assert!(lists.take("s", "rg", "a").is_none());
        lists.put("s", "rg", "a", Rules::default());
        assert!(lists.take("S", "RG", "b").is_some(), "b shares a's list");
        assert!(
            lists.take("s", "rg", "b").is_none(),
            "b's next pass lists again"
        );
        assert!(lists.take("s", "rg", "a").is_none(), "so does a's");
        assert!(lists.take("s", "other", "c").is_none(), "per group");
        lists.put("s", "rg", "a", Rules::default());
        tokio::time::advance(FRESH).await;
        assert!(lists.take("s", "rg", "c").is_none(), "too old");
        lists.put("s", "rg", "a", Rules::default());
        lists.forget("s", "rg");
        assert!(
            lists.take("s", "rg", "c").is_none(),
            "our own write drops it"
        );
    }
}
