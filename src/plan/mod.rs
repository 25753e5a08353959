//! Pure planning: effective spec × observed state → ordered actions + field-level drift.
//! No I/O and no async here. One file per Azure resource kind; `plan_all` joins them.

pub mod alerts;
#[cfg(test)]
mod alerts_tests;
pub mod budget;
pub mod containers;
pub mod deletion;
pub mod diagnostics;
pub mod drill;
pub mod entra_admin;
pub mod exports;
pub mod firewall;
pub mod key_gate;
pub mod lifecycle;
pub mod memory;
pub mod network;
#[cfg(test)]
mod network_tests;
pub mod observed;
pub mod observed_network;
pub mod observed_storage;
pub mod owner;
#[cfg(test)]
mod ownership_tests;
pub mod pg_config;
pub mod pg_keys;
pub mod postgres;
pub mod render;
pub mod retention;
pub mod rotation;
pub mod rules;
pub mod scaling;
pub mod storage_account;
pub mod storage_ops;
#[cfg(test)]
mod storage_tests;
#[cfg(test)]
mod tests;
pub mod vector;

use std::fmt;

use time::OffsetDateTime;

use crate::api::EffectiveSpec;
pub use memory::Memory;
pub use observed::*;
pub use observed_network::*;
pub use observed_storage::*;
pub use storage_ops::*;

/// What kind of write an action is (also the `action` of a pending operation in status).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Create,
    Update,
    Start,
    Stop,
    Restart,
    Configure,
    Delete,
    Lock,
    Extend,
    SetLegalHold,
    ClearLegalHold,
    /// Put the owner tag on a resource this plane adopts or takes over.
    Tag,
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Restart => "restart",
            Self::Configure => "configure",
            Self::Delete => "delete",
            Self::Lock => "lock",
            Self::Extend => "extend",
            Self::SetLegalHold => "set-legal-hold",
            Self::ClearLegalHold => "clear-legal-hold",
            Self::Tag => "tag",
        })
    }
}

/// One field that differs: `observed` is None when the resource does not exist yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldChange {
    pub field: String,
    pub observed: Option<String>,
    pub desired: String,
}

impl FieldChange {
    pub fn new(
        field: impl Into<String>,
        observed: impl fmt::Display,
        desired: impl fmt::Display,
    ) -> Self {
        Self {
            field: field.into(),
            observed: Some(observed.to_string()),
            desired: desired.to_string(),
        }
    }
}

/// Where a PostgreSQL server lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgTarget {
    pub subscription_id: String,
    pub resource_group: String,
    pub server_name: String,
}

/// The full desired server, for one create PUT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgServerCreate {
    pub location: String,
    pub version: String,
    pub sku_tier: String,
    pub sku_name: String,
    pub availability_zone: Option<String>,
    pub storage_gib: u32,
    pub auto_grow: bool,
    pub ha_mode: String,
    pub standby_zone: Option<String>,
    pub backup_retention_days: u32,
    pub geo_redundant_backup: bool,
    pub maintenance_window: Option<ObservedWindow>,
    pub cmk: Option<CmkKeys>,
    /// `network.publicNetworkAccess`: Enabled or Disabled.
    pub public_network_access: String,
    /// VNet integration (create-time only): the delegated subnet and the private DNS zone.
    pub delegated_subnet: Option<String>,
    pub private_dns_zone: Option<String>,
    /// The owner tags (set by the ownership gate, `owner::gate`).
    pub tags: std::collections::BTreeMap<String, String>,
}

/// Only the fields of a server that differ, for one PATCH.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PgServerPatch {
    pub sku: Option<(String, String)>,
    pub storage_gib: Option<u32>,
    pub auto_grow: Option<bool>,
    pub ha: Option<(String, Option<String>)>,
    pub backup_retention_days: Option<u32>,
    pub maintenance_window: Option<ObservedWindow>,
    pub key: Option<CmkKeys>,
    /// `network.publicNetworkAccess`.
    pub public_network_access: Option<String>,
    /// `authConfig`: both fields are sent, as the service defaults an omitted `passwordAuth` to
    /// Enabled.
    pub auth_config: Option<AuthConfig>,
}

/// A versioned Key Vault key URI and the user-assigned identity that uses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRef {
    pub uri: String,
    pub identity_id: String,
}

/// The customer-managed keys of a server: the primary key and, with geo-redundant backup, the
/// geo-backup key in the paired region. Every URI carries its key version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CmkKeys {
    pub primary: KeyRef,
    pub geo: Option<KeyRef>,
}

/// A typed write, free of SDK types; `src/azure/` turns it into the ARM request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    PgCreate(PgTarget, Box<PgServerCreate>),
    PgPatch(PgTarget, PgServerPatch),
    PgStart(PgTarget),
    PgStop(PgTarget),
    PgRestart(PgTarget),
    PgConfigure(PgTarget, String, String),
    /// DELETE the server (data plane cleanup under `deletion: delete` only).
    PgDelete(PgTarget),
    /// Storage account, management policy, containers, immutability, legal holds.
    Storage(StorageOp),
    /// PUT one metric alert rule (create or full replace; synchronous, no LRO).
    AlertPut(alerts::AlertTarget, Box<alerts::AlertRule>),
    /// DELETE one metric alert rule of the plane (teardown under `deletion: delete` only).
    AlertDelete(alerts::AlertTarget),
    /// PUT one server firewall rule (create or replace; long-running, the server busy meanwhile).
    FirewallPut(PgTarget, crate::api::network::FirewallRule),
    /// DELETE one server firewall rule (only under `firewallRulesExclusive`, or teardown).
    FirewallDelete(PgTarget, String),
    /// PUT the server's Microsoft Entra administrator `administrators/{objectId}` (create or
    /// replace; long-running). Never deleted: an administrator the spec does not declare is left.
    EntraAdminPut(PgTarget, crate::api::database::EntraAdmin),
    /// PUT a restore drill's scratch server: `createMode: PointInTimeRestore` of the plane's
    /// server (long-running). Built by [`drill::restore_op`].
    DrillRestore(PgTarget, Box<drill::PgRestore>),
    /// DELETE a restore drill's scratch server (long-running). Refused by the client unless
    /// `scratch` is a scratch name of `source` ([`drill::is_scratch_of`]): never the source.
    DrillDelete {
        scratch: PgTarget,
        source: String,
    },
    /// Private endpoints and their private DNS zone groups.
    Network(network::NetworkOp),
    /// PUT the operator's diagnostic setting on a resource (create or full replace; synchronous).
    DiagPut(diagnostics::DiagTarget, Box<diagnostics::DiagSetting>),
    /// POST Key Vault's rotate endpoint: a new version of the key (`rotation.rotate: true`, when
    /// a rotation is due).
    KeyRotate {
        vault_uri: String,
        key_name: String,
    },
    /// PUT the plane's cost budget (create or full replace; synchronous). Never deleted.
    BudgetPut(budget::BudgetTarget, Box<budget::DesiredBudget>),
    /// DELETE the operator's diagnostic setting (teardown under `deletion: delete` only).
    DiagDelete(diagnostics::DiagTarget),
    /// PATCH the tags of a server or storage account (by ARM id): the full tag set, the
    /// resource's own tags and the owner tags, as ARM replaces tags as a whole.
    SetTags(String, std::collections::BTreeMap<String, String>),
}

/// One write the plan wants, with the field changes it corrects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    /// Resource kind and name, e.g. postgres/acme-prod-pg. At most one action per resource is
    /// applied per reconcile (one operation in flight per server).
    pub resource: String,
    pub verb: Verb,
    pub changes: Vec<FieldChange>,
    pub op: Op,
}

/// A change the operator will not make, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub resource: String,
    pub field: String,
    pub reason: String,
}

/// The result of planning one data plane.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Writes in the order they must be applied.
    pub actions: Vec<Action>,
    /// Field-level drift: every change of every action on an existing resource, plus drift that is
    /// deferred (e.g. while stopped).
    pub drift: Vec<(String, FieldChange)>,
    /// Changes refused by a safety rule (error conditions).
    pub refused: Vec<Refusal>,
    /// Informational notes (auto-grown storage, HA zone swap, deferred restart ...).
    pub notes: Vec<String>,
    /// Set when a resource is busy (Updating/Starting/...) and nothing may be written now.
    pub waiting: Vec<String>,
}

impl Plan {
    /// True when nothing differs and nothing is refused or waited for.
    pub fn in_sync(&self) -> bool {
        self.actions.is_empty()
            && self.drift.is_empty()
            && self.refused.is_empty()
            && self.waiting.is_empty()
    }

    fn absorb(&mut self, other: Plan) {
        self.actions.extend(other.actions);
        self.drift.extend(other.drift);
        self.refused.extend(other.refused);
        self.notes.extend(other.notes);
        self.waiting.extend(other.waiting);
    }
}

/// Plan every resource kind of a data plane: PostgreSQL, then Storage, then metric alerts, then
/// the audit-log diagnostic settings.
/// `memory` is what this plane recorded in status as set by itself (empty when status was lost:
/// then nothing it cannot prove its own is removed).
pub fn plan_all(
    eff: &EffectiveSpec,
    observed: &Observed,
    memory: &Memory,
    now: OffsetDateTime,
) -> Plan {
    let mut plan = Plan::default();
    plan.absorb(postgres::plan(eff, &observed.postgres, now));
    plan.absorb(storage_account::plan(eff, &observed.storage, memory));
    plan.absorb(network::plan(eff, observed));
    plan.absorb(alerts::plan(eff, &observed.postgres, &observed.alerts));
    plan.absorb(diagnostics::plan(eff, observed));
    plan.absorb(budget::plan(eff, observed, now));
    plan.absorb(rotation::plan(eff, observed, now));
    key_gate::gate(plan, observed, now.unix_timestamp())
}
