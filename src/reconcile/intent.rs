//! Write-ahead intent for creates. A PostgreSQL server or a storage account is invisible in ARM
//! (GET 404) until its create operation ends, so an operator stopped between ARM's 202 and its
//! status write would, on restart, see nothing and create again. Before such a create is sent the
//! engine records the intent in status through the front door's [`StatusSink`]; once ARM accepts
//! it the intent becomes a pending operation (persisted again at once). A restarted pass that
//! finds an intent and no resource holds the create back until the kind's window has passed since
//! the intent; an intent whose resource now exists is cleared. See docs/crash-safety.md.

use std::sync::Arc;
use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::status::rfc3339;
use crate::api::status::{CreateIntent, PendingOperation};
use crate::api::{EffectiveSpec, EngramDataPlaneStatus};
use crate::azure::ArmError;
use crate::plan::{self, Action, Observed, Op, StorageOp, Verb};

/// How long a PostgreSQL flexible server create may run before a restarted operator concludes
/// that it never reached ARM: creates take minutes to tens of minutes in Azure (longer with
/// zone-redundant HA, a customer-managed key or VNet integration).
pub const POSTGRES_CREATE_WINDOW: Duration = Duration::from_secs(30 * 60);
/// The same for a storage account, whose create usually ends within a minute.
pub const STORAGE_CREATE_WINDOW: Duration = Duration::from_secs(5 * 60);

/// The kinds whose create is invisible until it ends, and so needs an intent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateKind {
    PostgresServer,
    StorageAccount,
}

impl CreateKind {
    pub const ALL: [Self; 2] = [Self::PostgresServer, Self::StorageAccount];

    /// The ARM resource type (the intent's `kind`).
    pub fn arm_type(self) -> &'static str {
        match self {
            Self::PostgresServer => "Microsoft.DBforPostgreSQL/flexibleServers",
            Self::StorageAccount => "Microsoft.Storage/storageAccounts",
        }
    }

    /// The kind a write creates, if it is a create that needs an intent.
    pub fn of(op: &Op) -> Option<Self> {
        match op {
            Op::PgCreate(..) => Some(Self::PostgresServer),
            Op::Storage(StorageOp::CreateAccount(..)) => Some(Self::StorageAccount),
            _ => None,
        }
    }

    fn from_type(kind: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.arm_type().eq_ignore_ascii_case(kind))
    }

    /// The resource label of this kind in `eff` (status and actions use it).
    pub fn label(self, eff: &EffectiveSpec) -> String {
        match self {
            Self::PostgresServer => plan::postgres::resource_label(eff),
            Self::StorageAccount => plan::storage_account::resource_label(eff),
        }
    }

    fn id(self, eff: &EffectiveSpec) -> String {
        match self {
            Self::PostgresServer => plan::owner::server_id(eff),
            Self::StorageAccount => plan::owner::account_id(eff),
        }
    }

    fn exists(self, o: &Observed) -> bool {
        match self {
            Self::PostgresServer => o.postgres.server.is_some(),
            Self::StorageAccount => o.storage.account.is_some(),
        }
    }
}

/// The window per kind: how long after an intent a create is held back while ARM shows nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windows {
    pub postgres: Duration,
    pub storage: Duration,
}

impl Default for Windows {
    fn default() -> Self {
        Self {
            postgres: POSTGRES_CREATE_WINDOW,
            storage: STORAGE_CREATE_WINDOW,
        }
    }
}

impl Windows {
    /// The same window for every kind (`--create-window`: tests and short-lived mocks).
    pub fn uniform(d: Duration) -> Self {
        Self {
            postgres: d,
            storage: d,
        }
    }

    pub fn of(&self, kind: CreateKind) -> Duration {
        match kind {
            CreateKind::PostgresServer => self.postgres,
            CreateKind::StorageAccount => self.storage,
        }
    }
}

/// The status could not be persisted mid-pass.
#[derive(Debug, thiserror::Error)]
#[error("cannot persist the status before a create: {0}")]
pub struct CheckpointError(pub String);

/// Where a front door persists a status in the middle of a pass (folder mode: the status file;
/// Kubernetes: the status subresource). Called before a create is sent and again once ARM
/// accepted it.
#[async_trait::async_trait]
pub trait StatusSink: Send + Sync {
    async fn checkpoint(&self, status: &EngramDataPlaneStatus) -> Result<(), CheckpointError>;
}

/// The engine's settings for creates: the windows, and the sink (None: nothing persisted
/// mid-pass, the intent lives only in the status the pass returns).
#[derive(Clone, Default)]
pub struct Intents {
    pub windows: Windows,
    pub sink: Option<Arc<dyn StatusSink>>,
}

impl std::fmt::Debug for Intents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intents")
            .field("windows", &self.windows)
            .field("sink", &self.sink.is_some())
            .finish()
    }
}

/// The intents recorded in status, judged against what this pass observed.
#[derive(Debug, Default)]
pub(super) struct Holds {
    /// Intents still in force (carried into the status).
    pub kept: Vec<CreateIntent>,
    /// Resource labels whose create is held back in this pass.
    pub held: Vec<String>,
    /// Why each is held (plan.waiting, shown in status).
    pub waiting: Vec<String>,
    /// Intents dropped because their window passed with nothing in Azure.
    pub notes: Vec<String>,
}

impl Holds {
    pub fn holds(&self, label: &str) -> bool {
        self.held.iter().any(|h| h == label)
    }
}

/// Judge each recorded intent: its resource exists (cleared), a pending create tracks it
/// (cleared), its window has passed with nothing in Azure (dropped, with a note: the create is
/// planned again), or it holds the create back (kept).
pub(super) fn resolve(
    recorded: &[CreateIntent],
    pending: &[PendingOperation],
    eff: &EffectiveSpec,
    observed: &Observed,
    windows: &Windows,
    now: OffsetDateTime,
) -> Holds {
    let mut h = Holds::default();
    for i in recorded {
        let Some(kind) = CreateKind::from_type(&i.kind).filter(|k| k.label(eff) == i.resource)
        else {
            // No longer declared (renamed): nothing of this spec to hold.
            continue;
        };
        let tracked = pending
            .iter()
            .any(|p| p.resource == i.resource && p.action == Verb::Create.to_string());
        if kind.exists(observed) || tracked {
            continue;
        }
        let window = windows.of(kind);
        let mins = window.as_secs().div_ceil(60);
        // An unreadable time cannot hold anything back.
        let until = OffsetDateTime::parse(&i.recorded_at, &Rfc3339)
            .ok()
            .map(|since| since + window);
        let Some(until) = until.filter(|u| now < *u) else {
            tracing::warn!(resource = %i.resource, recorded_at = %i.recorded_at, "create intent expired with nothing in Azure; creating again");
            h.notes.push(format!(
                "{}: the create recorded at {} left no resource within its {mins} min window; sent again",
                i.resource, i.recorded_at
            ));
            continue;
        };
        tracing::info!(resource = %i.resource, recorded_at = %i.recorded_at, "a create may be running: holding it back");
        h.waiting.push(format!(
            "{}: a create recorded at {} is not visible in Azure yet (it may be running); no second create before {} ({mins} min window)",
            i.resource,
            i.recorded_at,
            rfc3339(until)
        ));
        h.held.push(i.resource.clone());
        h.kept.push(i.clone());
    }
    h
}

/// The intent to record before sending `action`, if it is a create that needs one.
pub(super) fn for_action(
    eff: &EffectiveSpec,
    action: &Action,
    now: OffsetDateTime,
) -> Option<CreateIntent> {
    let kind = CreateKind::of(&action.op).filter(|_| action.verb == Verb::Create)?;
    Some(CreateIntent {
        resource: action.resource.clone(),
        kind: kind.arm_type().into(),
        id: kind.id(eff),
        recorded_at: rfc3339(now),
    })
}

/// True when ARM's answer proves the create was not accepted (the intent can go); a lost or
/// ambiguous answer (network failure, 5xx, a busy 409 on an absent resource, an unreadable
/// response) keeps it: the create may be running.
pub(super) fn refused(e: &ArmError) -> bool {
    matches!(
        e,
        ArmError::Fatal { .. }
            | ArmError::AuthorizationFailed { .. }
            | ArmError::CredentialInvalid(_)
            | ArmError::TokenHostRefused { .. }
            | ArmError::Refused(_)
    )
}

/// Persist `prev` with this pass's pending operations and intents through the sink (a no-op
/// without one).
pub(super) async fn checkpoint(
    intents: &Intents,
    prev: &EngramDataPlaneStatus,
    pending: &[PendingOperation],
    recorded: &[CreateIntent],
) -> Result<(), CheckpointError> {
    let Some(sink) = &intents.sink else {
        return Ok(());
    };
    let mut s = prev.clone();
    s.pending_operations = pending.to_vec();
    s.create_intents = recorded.to_vec();
    sink.checkpoint(&s).await
}
