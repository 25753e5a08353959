//! Watches: chunked JSON lines, one event each. From resourceVersion unset or `0`, the current
//! objects come first as ADDED; from `N`, every later event. A resourceVersion older than the
//! kept history gets what the real server sends: HTTP 200 and one `ERROR` event holding a 410
//! `Expired` Status, then the end of the stream.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use serde_json::{json, Value};

use super::errors::KubeError;
use super::select::Selector;
use super::store::EventType;
use super::table::table;
use super::types::ResourceType;
use super::Inner;

/// What a watch asks for.
pub struct WatchRequest {
    pub t: ResourceType,
    pub namespace: Option<String>,
    pub selector: Selector,
    /// `None` (or `0`): start with the current objects.
    pub from: Option<u64>,
    pub timeout: Option<Duration>,
    /// Send each object as a one-row Table (`kubectl get -w`), with this `includeObject`.
    pub table: Option<Option<String>>,
    /// `sendInitialEvents=true` (a watch-list, as `kubectl delete --wait` sends it): the current
    /// objects first, whatever the resourceVersion, then a BOOKMARK annotated
    /// `k8s.io/initial-events-end: "true"` that marks the end of them.
    pub send_initial_events: bool,
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut s = json!({"type": kind, "object": object}).to_string();
    s.push('\n');
    Bytes::from(s)
}

struct State {
    inner: Arc<Inner>,
    req: WatchRequest,
    changes: tokio::sync::watch::Receiver<u64>,
    stop: tokio::sync::watch::Receiver<bool>,
    drops: tokio::sync::watch::Receiver<u64>,
    last: u64,
    pending: VecDeque<Bytes>,
    done: bool,
    /// A Table event went out already.
    tabled: bool,
    deadline: Option<tokio::time::Instant>,
}

impl State {
    /// Queue one event; as a Table when asked, with the column definitions in the first only
    /// (as the real server does).
    fn push(&mut self, kind: EventType, object: &Value) {
        let Some(include) = &self.req.table else {
            self.pending.push_back(line(kind.as_str(), object));
            return;
        };
        let rv = object["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|r| r.parse().ok())
            .unwrap_or(self.last);
        let mut tb = table(
            &self.req.t,
            std::slice::from_ref(object),
            rv,
            include.as_deref(),
        );
        if self.tabled {
            tb["columnDefinitions"] = json!([]);
        }
        self.tabled = true;
        self.pending.push_back(line(kind.as_str(), &tb));
    }

    fn wanted(&self, object: &Value) -> bool {
        let ns = object["metadata"]["namespace"].as_str().unwrap_or_default();
        self.req.namespace.as_deref().is_none_or(|n| n == ns) && self.req.selector.matches(object)
    }

    /// Queue the events after `last`; an expired start ends the stream with an ERROR event.
    fn catch_up(&mut self) {
        self.changes.borrow_and_update();
        let events = self.inner.lock().events_after(self.last);
        match events {
            Err(e) => {
                self.pending.push_back(line("ERROR", &e.status()));
                self.done = true;
            }
            Ok(events) => {
                let key = self.req.t.key();
                for e in events {
                    self.last = e.rv;
                    if e.key != key {
                        continue;
                    }
                    let o = super::meta::with_type(&e.object, &self.req.t);
                    if self.wanted(&o) {
                        self.push(e.kind, &o);
                    }
                }
            }
        }
    }
}

/// The response body of a watch.
pub fn body(inner: Arc<Inner>, req: WatchRequest) -> Body {
    let (last, initial) = {
        let store = inner.lock();
        match req.from {
            _ if req.send_initial_events => (
                store.rv(),
                Some(store.list(&req.t, req.namespace.as_deref())),
            ),
            None | Some(0) => (
                store.rv(),
                Some(store.list(&req.t, req.namespace.as_deref())),
            ),
            Some(n) => (n, None),
        }
    };
    let mut state = State {
        changes: inner.changes.subscribe(),
        stop: inner.stop.clone(),
        drops: inner.drops.subscribe(),
        inner,
        deadline: req.timeout.map(|d| tokio::time::Instant::now() + d),
        req,
        last,
        pending: VecDeque::new(),
        done: false,
        tabled: false,
    };
    for o in initial.into_iter().flatten() {
        if state.wanted(&o) {
            state.push(EventType::Added, &o);
        }
    }
    if state.req.send_initial_events {
        let bookmark = json!({
            "apiVersion": state.req.t.api_version(),
            "kind": state.req.t.kind,
            "metadata": {
                "resourceVersion": last.to_string(),
                "annotations": {"k8s.io/initial-events-end": "true"},
            },
        });
        state.pending.push_back(line("BOOKMARK", &bookmark));
    }
    let stream = futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(b) = st.pending.pop_front() {
                return Some((Ok::<_, Infallible>(b), st));
            }
            if st.done || *st.stop.borrow() {
                return None;
            }
            st.catch_up();
            if !st.pending.is_empty() || st.done {
                continue;
            }
            let deadline = st.deadline;
            let expired = async move {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = st.changes.changed() => if r.is_err() { return None },
                _ = st.stop.changed() => return None,
                _ = st.drops.changed() => return None,
                _ = expired => return None,
            }
        }
    });
    Body::from_stream(stream)
}

/// Parse the `resourceVersion` of a watch.
pub fn start(rv: Option<&str>) -> Result<Option<u64>, KubeError> {
    match rv {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| KubeError::BadRequest(format!("invalid resourceVersion {s:?}"))),
    }
}
