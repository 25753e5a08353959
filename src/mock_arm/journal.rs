//! The request journal: every ARM / Key Vault request, and read / write counts per resource id.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

/// Read (GET/HEAD) or write (PUT/PATCH/POST/DELETE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpClass {
    Read,
    Write,
}

impl OpClass {
    pub fn of(method: &str) -> Self {
        if method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD") {
            Self::Read
        } else {
            Self::Write
        }
    }
}

/// One journaled request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// 1, 2, 3... in arrival order.
    pub seq: u64,
    pub method: String,
    /// Path without the query.
    pub path: String,
    pub api_version: Option<String>,
    /// HTTP status sent; 0 when the connection was dropped by a fault.
    pub status: u16,
    /// Virtual time of arrival (RFC 3339).
    pub time: String,
    pub class: OpClass,
    /// The resource the request was counted against (an LRO poll counts against the operation).
    pub resource_id: String,
    /// The id of the injected fault that answered, if any.
    pub fault: Option<u64>,
    /// The client's `User-Agent` (empty when it sent none): which replica or tool sent it, as
    /// ARM's request logs show.
    pub user_agent: String,
    /// Who sent it: `{tenant}/{clientId}` for a token of the mock's Entra authority, `static` for
    /// `MockConfig.token`, empty when the request was not authenticated (refused, or answered by
    /// a fault first).
    #[serde(default)]
    pub principal: String,
    /// The `x-ms-request-id` the answer carried (unique per request, from `seq`).
    pub request_id: String,
}

/// The request id of journal entry `seq`, shaped like ARM's (a UUID).
pub fn request_id(seq: u64) -> String {
    format!("00000000-0000-4000-8000-{seq:012x}")
}

/// Journal with bounded entries and unbounded counts.
#[derive(Debug)]
pub struct Journal {
    capacity: usize,
    seq: u64,
    entries: VecDeque<JournalEntry>,
    counts: HashMap<String, [usize; 2]>,
}

impl Journal {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            seq: 0,
            entries: VecDeque::new(),
            counts: HashMap::new(),
        }
    }

    /// Record one request; returns its request id.
    pub fn record(&mut self, mut entry: JournalEntry) -> String {
        self.seq += 1;
        entry.seq = self.seq;
        entry.request_id = request_id(self.seq);
        let slot = match entry.class {
            OpClass::Read => 0,
            OpClass::Write => 1,
        };
        self.counts
            .entry(entry.resource_id.to_ascii_lowercase())
            .or_default()[slot] += 1;
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        let id = entry.request_id.clone();
        self.entries.push_back(entry);
        id
    }

    pub fn entries(&self) -> Vec<JournalEntry> {
        self.entries.iter().cloned().collect()
    }

    /// Requests of `class` to `id` or to any id under it (`id` + `/...`), case-insensitive.
    pub fn count(&self, id: &str, class: OpClass) -> usize {
        let id = id.trim_end_matches('/').to_ascii_lowercase();
        let slot = match class {
            OpClass::Read => 0,
            OpClass::Write => 1,
        };
        self.counts
            .iter()
            .filter(|(k, _)| {
                k.as_str() == id
                    || (k.starts_with(&id) && k.as_bytes().get(id.len()) == Some(&b'/'))
            })
            .map(|(_, c)| c[slot])
            .sum()
    }

    /// Counts per resource id, for the dump and the control API.
    pub fn counts(&self) -> serde_json::Value {
        let mut keys: Vec<_> = self.counts.keys().collect();
        keys.sort();
        let map: serde_json::Map<String, serde_json::Value> = keys
            .into_iter()
            .map(|k| {
                let c = self.counts[k];
                (
                    k.clone(),
                    serde_json::json!({"reads": c[0], "writes": c[1]}),
                )
            })
            .collect();
        serde_json::Value::Object(map)
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.counts.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(method: &str, id: &str) -> JournalEntry {
        JournalEntry {
            seq: 0,
            method: method.into(),
            path: id.into(),
            api_version: None,
            status: 200,
            time: String::new(),
            class: OpClass::of(method),
            resource_id: id.into(),
            fault: None,
            user_agent: String::new(),
            principal: String::new(),
            request_id: String::new(),
        }
    }

    #[test]
    fn counts_by_id_and_prefix_at_segment_boundary() {
        let mut j = Journal::new(2);
        j.record(entry("GET", "/a/servers/pg1"));
        j.record(entry("PUT", "/a/servers/pg1/configurations/x"));
        j.record(entry("PATCH", "/a/servers/pg10"));
        assert_eq!(j.count("/A/servers/pg1", OpClass::Read), 1);
        assert_eq!(j.count("/a/servers/pg1", OpClass::Write), 1);
        assert_eq!(j.count("/a/servers/pg10", OpClass::Write), 1);
        assert_eq!(j.count("/a", OpClass::Write), 2);
        // Entries are bounded, counts are not; seq keeps going.
        let e = j.entries();
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].seq, 3);
    }
}
