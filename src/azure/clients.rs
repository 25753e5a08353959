//! The ARM clients of the process: the operator's own, and one per distinct data-plane credential
//! (customer tenants), built on first use, shared by the planes that name the same credential,
//! and dropped once unused for a while or replaced when their credential's content changes (a
//! rotated secret). Every client shares one throttle budget, keyed by principal and subscription.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::{Arm, ArmApi, ArmError, ArmSettings, PlaneCredential, Shared, Stats};
use crate::api::EffectiveSpec;
use crate::plan::{Observed, ObservedServer, Op};

/// A client unused for this long is dropped (its token cache with it).
pub const IDLE: Duration = Duration::from_secs(3600);

struct Entry {
    arm: Arc<Arm>,
    used: Instant,
}

/// The process's ARM clients.
pub struct ArmClients {
    settings: ArmSettings,
    shared: Shared,
    global: Arc<dyn ArmApi>,
    /// By credential fingerprint.
    planes: Mutex<HashMap<u64, Entry>>,
    /// The fingerprint last built for each credential source, to drop a replaced one at once.
    sources: Mutex<HashMap<String, u64>>,
}

impl std::fmt::Debug for ArmClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArmClients")
            .field("held", &self.held())
            .finish()
    }
}

impl ArmClients {
    /// `global` is the operator's own client; `shared` is what it shares with the others.
    pub fn new(settings: ArmSettings, shared: Shared, global: Arc<dyn ArmApi>) -> Self {
        Self {
            settings,
            shared,
            global,
            planes: Mutex::new(HashMap::new()),
            sources: Mutex::new(HashMap::new()),
        }
    }

    /// The operator's own client.
    pub fn global(&self) -> Arc<dyn ArmApi> {
        self.global.clone()
    }

    /// The client signed in as `credential`: the cached one, or a new one.
    pub fn for_credential(&self, credential: &PlaneCredential) -> Result<Arc<Arm>, ArmError> {
        let now = Instant::now();
        let print = credential.fingerprint();
        let replaced = {
            let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
            sources
                .insert(credential.source.clone(), print)
                .filter(|old| *old != print)
        };
        let mut planes = self.planes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = replaced {
            if planes.remove(&old).is_some() {
                tracing::info!(source = %credential.source, "credential changed: its ARM client is replaced");
            }
        }
        planes.retain(|_, e| now.saturating_duration_since(e.used) < IDLE);
        if let Some(e) = planes.get_mut(&print) {
            e.used = now;
            return Ok(e.arm.clone());
        }
        let arm = Arc::new(Arm::for_plane(
            self.settings.clone(),
            self.shared.clone(),
            credential,
        )?);
        planes.insert(
            print,
            Entry {
                arm: arm.clone(),
                used: now,
            },
        );
        Ok(arm)
    }

    /// How many data-plane clients are held.
    pub fn held(&self) -> usize {
        self.planes.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The counters every client adds to.
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }
}

/// The stand-in client of a data plane whose credential cannot be used (missing, malformed): every
/// call fails with `CredentialInvalid` and nothing reaches ARM, so the plane is Degraded and backs
/// off like any access failure while the other planes go on.
pub struct NoCredential {
    message: String,
    stats: Stats,
}

impl NoCredential {
    pub fn new(message: String) -> Self {
        Self {
            message,
            stats: Stats::default(),
        }
    }

    fn error(&self) -> ArmError {
        ArmError::CredentialInvalid(self.message.clone())
    }
}

#[async_trait::async_trait]
impl ArmApi for NoCredential {
    async fn observe(&self, _: &EffectiveSpec) -> Result<Observed, ArmError> {
        Err(self.error())
    }
    async fn get_server(
        &self,
        _: &EffectiveSpec,
        _: &str,
    ) -> Result<Option<ObservedServer>, ArmError> {
        Err(self.error())
    }
    async fn submit(&self, _: &Op) -> Result<super::Submitted, ArmError> {
        Err(self.error())
    }
    async fn poll(&self, _: &str) -> Result<super::OpState, ArmError> {
        Err(self.error())
    }
    async fn graph_resources(&self, _: &[String]) -> Result<Vec<serde_json::Value>, ArmError> {
        Err(self.error())
    }
    async fn graph_fingerprints(&self, _: &[String]) -> Result<Vec<(String, u64)>, ArmError> {
        Err(self.error())
    }
    async fn metrics(
        &self,
        _: &super::metrics::MetricsQuery,
    ) -> Result<Vec<super::metrics::MetricSeries>, ArmError> {
        Err(self.error())
    }
    async fn get_resources(&self, _: &[String]) -> Result<Vec<serde_json::Value>, ArmError> {
        Err(self.error())
    }
    fn stats(&self) -> &Stats {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credential(source: &str, client: &str, secret: &str) -> PlaneCredential {
        let text = format!(
            "AZURE_TENANT_ID=contoso.onmicrosoft.com\nAZURE_CLIENT_ID={client}\nAZURE_CLIENT_SECRET={secret}"
        );
        PlaneCredential::parse_env_file(source, &text, None).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn one_client_per_credential_replaced_on_change_and_dropped_when_idle() {
        let settings = ArmSettings::with_token("http://127.0.0.1:9", "t");
        let global: Arc<dyn ArmApi> = Arc::new(Arm::new(settings.clone()).unwrap());
        let clients = ArmClients::new(settings, Shared::default(), global);
        let c1 = "11111111-1111-1111-1111-111111111111";
        let c2 = "22222222-2222-2222-2222-222222222222";
        let a = clients.for_credential(&credential("a", c1, "s1")).unwrap();
        let again = clients.for_credential(&credential("a", c1, "s1")).unwrap();
        assert!(
            Arc::ptr_eq(&a, &again),
            "the same credential shares its client"
        );
        // The same application named by a second source shares it too.
        let other = clients.for_credential(&credential("b", c1, "s1")).unwrap();
        assert!(Arc::ptr_eq(&a, &other));
        assert_eq!(clients.held(), 1);

        // A rotated secret replaces the client at once.
        let rotated = clients.for_credential(&credential("a", c1, "s2")).unwrap();
        assert!(!Arc::ptr_eq(&a, &rotated));
        assert_eq!(clients.held(), 1);

        clients.for_credential(&credential("c", c2, "x")).unwrap();
        assert_eq!(clients.held(), 2);
        tokio::time::advance(IDLE / 2).await;
        clients.for_credential(&credential("c", c2, "x")).unwrap();
        tokio::time::advance(IDLE / 2 + Duration::from_secs(1)).await;
        clients.for_credential(&credential("c", c2, "x")).unwrap();
        assert_eq!(clients.held(), 1, "the client unused for an hour is gone");
    }
}
