//! The journal of API requests on objects (discovery, OpenAPI and `/_mock/` are not in it): verb,
//! resource, namespace, name, subresource and the answer's status code.

use std::collections::{BTreeMap, VecDeque};

use axum::http::Method;
use serde::Serialize;

use super::server::{Request, Target};
use super::ssa;

/// One request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JournalEntry {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `apply` (a server-side apply patch)
    /// or `delete`.
    pub verb: String,
    /// `plural.group` (e.g. `engramdataplanes.engram.zimax.net`), or the plural for core kinds.
    pub resource: String,
    pub namespace: String,
    pub name: String,
    /// `status`, or empty.
    pub subresource: String,
    pub code: u16,
    /// The client's `User-Agent` (which replica, or kubectl), as in a real audit log.
    pub user_agent: String,
}

impl JournalEntry {
    /// The entry a request makes (its code set later).
    pub fn new(tg: &Target, req: &Request) -> Self {
        let collection = tg.name.is_none();
        let verb = match req.method {
            Method::GET
                if collection
                    && req
                        .query
                        .get("watch")
                        .is_some_and(|w| w == "true" || w == "1") =>
            {
                "watch"
            }
            Method::GET if collection => "list",
            Method::GET => "get",
            Method::POST => "create",
            Method::PUT => "update",
            Method::PATCH if req.content_type.starts_with(ssa::MEDIA_TYPE) => "apply",
            Method::PATCH => "patch",
            Method::DELETE => "delete",
            _ => "other",
        };
        Self {
            verb: verb.into(),
            resource: tg.t.qualified(),
            namespace: tg.namespace.clone().unwrap_or_default(),
            name: tg.name.clone().unwrap_or_default(),
            subresource: tg.sub.clone().unwrap_or_default(),
            code: 0,
            user_agent: req.user_agent.clone(),
        }
    }

    /// `verb resource[/subresource]`, the key of [`Journal::counts`].
    pub fn key(&self) -> String {
        if self.subresource.is_empty() {
            format!("{} {}", self.verb, self.resource)
        } else {
            format!("{} {}/{}", self.verb, self.resource, self.subresource)
        }
    }
}

/// The most recent entries, and counts of all of them.
#[derive(Debug)]
pub struct Journal {
    entries: VecDeque<JournalEntry>,
    capacity: usize,
    counts: BTreeMap<String, usize>,
}

impl Journal {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            capacity: capacity.max(1),
            counts: BTreeMap::new(),
        }
    }

    pub fn push(&mut self, e: JournalEntry) {
        *self.counts.entry(e.key()).or_default() += 1;
        self.entries.push_back(e);
        while self.entries.len() > self.capacity {
            self.entries.pop_front();
        }
    }

    pub fn entries(&self) -> Vec<JournalEntry> {
        self.entries.iter().cloned().collect()
    }

    /// Requests per `verb resource[/subresource]`, since the start or the last reset.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.counts.clone()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.counts.clear();
    }
}
