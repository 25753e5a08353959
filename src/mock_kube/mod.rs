//! A Kubernetes API server for tests and the demo: plain HTTP on loopback, in memory, one
//! resourceVersion counter, driven by the real kubectl. It shares nothing with the controller
//! code. See `docs/mock-kube.md` for what it serves and where it differs from a real API server.

mod discovery;
mod errors;
mod events;
mod faults;
mod journal;
mod jsonpatch;
mod jsonpath;
mod meta;
mod objects;
mod openapi;
mod patch;
mod protobuf;
mod schema;
#[cfg(test)]
mod schema_tests;
mod secrets;
mod select;
mod server;
mod ssa;
#[cfg(test)]
mod ssa_tests;
mod store;
#[cfg(test)]
mod store_tests;
mod table;
mod types;
mod watch;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

pub use errors::KubeError;
pub use faults::{FaultKind, FaultSpec};
pub use journal::JournalEntry;

use faults::Faults;
use journal::Journal;
use store::Store;

/// Errors of the mock server's handle.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listen address could not be bound or read.
    #[error("mock-kube cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// Only loopback addresses: the server has no authentication and no TLS.
    #[error("mock-kube listens on loopback only (it has no authentication and no TLS), not {0}")]
    NotLoopback(SocketAddr),
    /// The kubeconfig could not be written.
    #[error("{path}: {source}")]
    Kubeconfig {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Configuration of a mock-kube server.
#[derive(Debug, Clone)]
pub struct MockKubeConfig {
    /// How many events watches can replay; a watch from an older resourceVersion gets 410.
    pub history: usize,
    /// The journal keeps this many most recent requests (counts are kept for all).
    pub journal_capacity: usize,
}

impl Default for MockKubeConfig {
    fn default() -> Self {
        Self {
            history: 10_000,
            journal_capacity: 100_000,
        }
    }
}

/// The server's state.
pub struct Inner {
    store: Mutex<Store>,
    journal: Mutex<Journal>,
    faults: Mutex<Faults>,
    /// Bumped to end every open watch (a dropped connection, as the client sees it).
    drops: tokio::sync::watch::Sender<u64>,
    /// The resourceVersion after the last write; watches wait on it.
    changes: tokio::sync::watch::Sender<u64>,
    /// Turns true when the server stops (ends the watches).
    stop: tokio::sync::watch::Receiver<bool>,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn journal(&self) -> MutexGuard<'_, Journal> {
        self.journal.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// End every open watch.
    fn drop_watches(&self) {
        self.drops.send_modify(|n| *n += 1);
    }

    /// Run a write under the lock, then wake the watches if the resourceVersion moved.
    fn write<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        let (r, rv) = {
            let mut s = self.lock();
            let r = f(&mut s);
            (r, s.rv())
        };
        self.changes.send_if_modified(|cur| {
            let moved = *cur != rv;
            *cur = rv;
            moved
        });
        r
    }
}

/// A running mock-kube. Dropping the handle stops the server.
pub struct MockKube {
    inner: Arc<Inner>,
    addr: SocketAddr,
    serving: crate::serving::Serving,
}

impl MockKube {
    /// Start on 127.0.0.1 with an ephemeral port.
    pub async fn start(config: MockKubeConfig) -> Result<MockKube, Error> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Start on the given loopback address.
    pub async fn start_on(addr: SocketAddr, config: MockKubeConfig) -> Result<MockKube, Error> {
        if !addr.ip().is_loopback() {
            return Err(Error::NotLoopback(addr));
        }
        let bind_err = |source| Error::Bind {
            addr: addr.to_string(),
            source,
        };
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(bind_err)?;
        let addr = listener.local_addr().map_err(bind_err)?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let store = Store::new(config.history);
        let (changes, _) = tokio::sync::watch::channel(store.rv());
        let inner = Arc::new(Inner {
            store: Mutex::new(store),
            journal: Mutex::new(Journal::new(config.journal_capacity)),
            faults: Mutex::new(Faults::default()),
            drops: tokio::sync::watch::channel(0).0,
            changes,
            stop: stopped.clone(),
        });
        let task = tokio::spawn(server::serve(listener, inner.clone(), stopped));
        Ok(MockKube {
            inner,
            addr,
            serving: crate::serving::Serving::new(stop, task),
        })
    }

    /// e.g. `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A kubeconfig whose current context points at this server, without credentials.
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: mock-kube\n  cluster:\n    server: {}\nusers:\n- name: mock-kube\n  user: {{}}\ncontexts:\n- name: mock-kube\n  context:\n    cluster: mock-kube\n    user: mock-kube\n    namespace: default\ncurrent-context: mock-kube\n",
            self.base_url()
        )
    }

    /// Write [`MockKube::kubeconfig`] to a file.
    pub fn write_kubeconfig(&self, path: &Path) -> Result<(), Error> {
        std::fs::write(path, self.kubeconfig()).map_err(|source| Error::Kubeconfig {
            path: path.display().to_string(),
            source,
        })
    }

    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.inner.lock().rv()
    }

    /// Forget the event history: a watch from an older resourceVersion now gets 410 `Expired`.
    pub fn compact(&self) {
        self.inner.write(|s| s.compact());
    }

    /// The most recent requests on objects, oldest first.
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.inner.journal().entries()
    }

    /// How many requests had this verb (`get`, `list`, `watch`, `create`, `update`, `patch`,
    /// `apply`, `delete`) on this resource (`engramdataplanes.engram.zimax.net`, or with
    /// `/status` for the subresource), since the start or the last [`MockKube::reset_journal`].
    pub fn count(&self, verb: &str, resource: &str) -> usize {
        self.inner
            .journal()
            .counts()
            .get(&format!("{verb} {resource}"))
            .copied()
            .unwrap_or(0)
    }

    /// Forget the journal and its counts.
    pub fn reset_journal(&self) {
        self.inner.journal().clear();
    }

    /// Add a fault; returns its id.
    pub fn inject_fault(&self, fault: FaultSpec) -> u64 {
        self.inner.faults().add(fault)
    }

    /// Remove every fault.
    pub fn clear_faults(&self) {
        self.inner.faults().clear();
    }

    /// End every open watch stream now, as a dropped connection would; clients watch again.
    pub fn drop_watches(&self) {
        self.inner.drop_watches();
    }

    /// Everything the server holds, as JSON.
    pub fn dump(&self) -> serde_json::Value {
        self.inner.lock().dump()
    }

    /// Stop serving (ending every watch) and wait for the server task to end.
    pub async fn shutdown(self) {
        self.serving.shutdown().await;
    }
}
