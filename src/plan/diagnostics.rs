//! Planner for the Azure Monitor diagnostic settings that send audit logs to the customer's Log
//! Analytics workspace (`spec.diagnostics`): one setting named [`SETTING_NAME`] on the PostgreSQL
//! server, on the storage account's blob service and, with `keyVault: true`, on the key vault.
//!
//! - A diagnostic setting is an extension resource, `{resourceId}/providers/Microsoft.Insights/
//!   diagnosticSettings/{name}`. It carries no tags: the name is how the operator knows its own.
//!   A setting with any other name is someone else's and is never written or deleted; it only
//!   counts for the key vault's audit check.
//! - Create with one PUT once the resource exists; correct drift (a category switched off, the
//!   workspace changed, a category or destination added) with one PUT of the whole setting (the
//!   API has no PATCH); nothing when in sync.
//! - With `keyVault: false` the vault is only read: [`vault_audit`] says whether any setting there
//!   sends AuditEvent somewhere (pass), none does (fail), or the read was refused (unknown).

use super::{Action, FieldChange, Observed, Op, Plan, Refusal, Verb};
use crate::api::effective::EffectiveDiagnostics;
use crate::api::status::{AuditCheck, DiagnosticsObserved};
use crate::api::EffectiveSpec;

/// The name of the operator's setting on each resource.
pub const SETTING_NAME: &str = "engram-audit";
/// Note marker for uat and prod without `spec.diagnostics`.
pub const AUDIT_LOGS_OFF: &str = "AuditLogsOff";

/// PostgreSQL Flexible Server: the server log (where pgaudit writes, connection and error logs)
/// and the sessions data. The query store, table statistics and transaction categories are
/// performance telemetry, not audit, and cost to export.
pub const SERVER_CATEGORIES: &[&str] = &["PostgreSQLLogs", "PostgreSQLFlexSessions"];
/// Blob service: every read, write and delete request.
pub const BLOB_CATEGORIES: &[&str] = &["StorageRead", "StorageWrite", "StorageDelete"];
/// Key vault: every authenticated request, key operations among them.
pub const VAULT_CATEGORIES: &[&str] = &["AuditEvent"];

/// Which resource a setting is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DiagScope {
    Server,
    BlobService,
    KeyVault,
}

impl DiagScope {
    /// The audit categories the operator's setting enables here.
    pub fn categories(self) -> &'static [&'static str] {
        match self {
            Self::Server => SERVER_CATEGORIES,
            Self::BlobService => BLOB_CATEGORIES,
            Self::KeyVault => VAULT_CATEGORIES,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Self::Server => "postgres",
            Self::BlobService => "blob",
            Self::KeyVault => "keyvault",
        }
    }
}

/// One diagnostic setting: the resource it is on (`resource_id`) and its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiagTarget {
    pub scope: DiagScope,
    pub resource_id: String,
    pub name: String,
}

/// The desired content of the operator's setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiagSetting {
    pub workspace_id: String,
    pub categories: Vec<String>,
}

/// One `logs` entry of an observed setting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedLog {
    pub category: Option<String>,
    pub category_group: Option<String>,
    pub enabled: bool,
}

/// An observed diagnostic setting (only what the planner compares).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedDiagSetting {
    pub name: String,
    /// `workspaceId` (None when absent or empty).
    pub workspace_id: Option<String>,
    /// The other destinations set: storage account, event hub rule, marketplace partner.
    pub other_destinations: Vec<String>,
    pub logs: Vec<ObservedLog>,
    /// Metric categories enabled.
    pub metrics_enabled: Vec<String>,
}

/// What the vault's settings read gave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum VaultRead {
    /// Not read (no `diagnostics.keyVaultId`, or diagnostics not declared).
    #[default]
    NotRead,
    Listed(Vec<ObservedDiagSetting>),
    /// The read was refused (403) or failed for another lasting reason: the message.
    Refused(String),
}

/// The settings observed on each resource (None: not read, as the resource does not exist or
/// diagnostics are not declared).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedDiagnostics {
    pub server: Option<Vec<ObservedDiagSetting>>,
    pub blob_service: Option<Vec<ObservedDiagSetting>>,
    pub vault: VaultRead,
}

/// `{accountId}/blobServices/default`.
pub fn blob_service_id(eff: &EffectiveSpec) -> String {
    format!("{}/blobServices/default", super::owner::account_id(eff))
}

/// The resource label of a setting in status, drift and plan output.
pub fn resource_label(scope: DiagScope, resource_id: &str) -> String {
    let name = match scope {
        // `.../storageAccounts/{name}/blobServices/default`: the account's name.
        DiagScope::BlobService => resource_id.rsplit('/').nth(2),
        _ => resource_id.rsplit('/').next(),
    };
    format!("diagnostics/{}/{}", scope.word(), name.unwrap_or_default())
}

fn ours(settings: &[ObservedDiagSetting]) -> Option<&ObservedDiagSetting> {
    settings
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(SETTING_NAME))
}

/// The resources the spec puts a setting on: (scope, resource id, what was read there).
fn targets<'a>(
    eff: &EffectiveSpec,
    observed: &'a Observed,
) -> Vec<(DiagScope, String, Option<&'a [ObservedDiagSetting]>)> {
    let d = &observed.diagnostics;
    let mut t = vec![
        (
            DiagScope::Server,
            super::owner::server_id(eff),
            d.server.as_deref(),
        ),
        (
            DiagScope::BlobService,
            blob_service_id(eff),
            d.blob_service.as_deref(),
        ),
    ];
    let vault_id = eff
        .diagnostics
        .as_ref()
        .and_then(|x| x.key_vault.then_some(x.key_vault_id.as_ref()).flatten());
    if let Some(id) = vault_id {
        let listed = match &d.vault {
            VaultRead::Listed(s) => Some(s.as_slice()),
            _ => None,
        };
        t.push((DiagScope::KeyVault, id.clone(), listed));
    }
    t
}

/// Plan the operator's settings.
pub fn plan(eff: &EffectiveSpec, observed: &Observed) -> Plan {
    let mut plan = Plan::default();
    let Some(d) = &eff.diagnostics else {
        if eff.environment.profile().audit_logs_expected {
            plan.notes.push(format!(
                "{AUDIT_LOGS_OFF}: {} declares no diagnostics.workspaceId: Azure keeps no audit logs of the server, the blob service or the key vault (seed AI-SEC-01 asks for them)",
                eff.environment
            ));
        }
        return plan;
    };
    // The vault is the customer's: its setting is written only once a consumer of the key (the
    // server or the account) exists, never for a plane that could not be created.
    let consumer = observed.postgres.server.is_some() || observed.storage.account.is_some();
    for (scope, resource_id, listed) in targets(eff, observed) {
        let resource = resource_label(scope, &resource_id);
        if scope == DiagScope::KeyVault && !consumer {
            plan.notes.push(format!(
                "{resource}: written once the server or the account exists"
            ));
            continue;
        }
        let Some(listed) = listed else {
            match (&observed.diagnostics.vault, scope) {
                (VaultRead::Refused(why), DiagScope::KeyVault) => plan.refused.push(Refusal {
                    resource,
                    field: "diagnosticSettings".into(),
                    reason: format!("cannot read the key vault's diagnostic settings: {why}"),
                }),
                (_, DiagScope::Server) if observed.postgres.server.is_none() => plan
                    .notes
                    .push(format!("{resource}: created once the server exists")),
                (_, DiagScope::BlobService) if observed.storage.account.is_none() => plan
                    .notes
                    .push(format!("{resource}: created once the account exists")),
                _ => {}
            }
            continue;
        };
        let setting = desired(d, scope);
        let (verb, changes) = match ours(listed) {
            None => (Verb::Create, created(&setting)),
            Some(o) => {
                let changes = diff(&setting, o);
                if changes.is_empty() {
                    continue;
                }
                for c in &changes {
                    plan.drift.push((resource.clone(), c.clone()));
                }
                (Verb::Update, changes)
            }
        };
        let target = DiagTarget {
            scope,
            resource_id,
            name: SETTING_NAME.into(),
        };
        plan.actions.push(Action {
            resource,
            verb,
            changes,
            op: Op::DiagPut(target, Box::new(setting)),
        });
    }
    plan
}

/// The operator's setting on a resource of `scope`.
fn desired(d: &EffectiveDiagnostics, scope: DiagScope) -> DiagSetting {
    DiagSetting {
        workspace_id: d.workspace_id.clone(),
        categories: scope.categories().iter().map(|c| (*c).into()).collect(),
    }
}

fn created(s: &DiagSetting) -> Vec<FieldChange> {
    let c = |field: String, desired: String| FieldChange {
        field,
        observed: None,
        desired,
    };
    let mut v = vec![c("workspaceId".into(), s.workspace_id.clone())];
    v.extend(
        s.categories
            .iter()
            .map(|k| c(format!("logs.{k}"), "enabled".into())),
    );
    v
}

/// Field-level differences between the desired setting and the operator's observed one.
pub fn diff(s: &DiagSetting, o: &ObservedDiagSetting) -> Vec<FieldChange> {
    let mut ch = Vec::new();
    let same_ws = o
        .workspace_id
        .as_deref()
        .is_some_and(|w| w.eq_ignore_ascii_case(&s.workspace_id));
    if !same_ws {
        let seen = o.workspace_id.as_deref().unwrap_or("-");
        ch.push(FieldChange::new("workspaceId", seen, &s.workspace_id));
    }
    let wanted = |name: &str| s.categories.iter().any(|c| c.eq_ignore_ascii_case(name));
    for c in &s.categories {
        let entry = o.logs.iter().find(|l| {
            l.category
                .as_deref()
                .is_some_and(|x| x.eq_ignore_ascii_case(c))
        });
        match entry {
            Some(l) if l.enabled => {}
            Some(_) => ch.push(FieldChange::new(format!("logs.{c}"), "disabled", "enabled")),
            None => ch.push(FieldChange::new(format!("logs.{c}"), "absent", "enabled")),
        }
    }
    for l in o.logs.iter().filter(|l| l.enabled) {
        let extra = match (&l.category, &l.category_group) {
            (Some(c), _) if !wanted(c) => Some(c.clone()),
            (None, Some(g)) => Some(format!("group {g}")),
            _ => None,
        };
        if let Some(x) = extra {
            ch.push(FieldChange::new(format!("logs.{x}"), "enabled", "absent"));
        }
    }
    for m in &o.metrics_enabled {
        ch.push(FieldChange::new(
            format!("metrics.{m}"),
            "enabled",
            "absent",
        ));
    }
    if !o.other_destinations.is_empty() {
        ch.push(FieldChange::new(
            "destinations",
            o.other_destinations.join(","),
            "workspace only",
        ));
    }
    ch
}

/// DELETE the operator's own settings (teardown under `deletion: delete`); others' stay.
pub fn teardown(eff: &EffectiveSpec, observed: &Observed) -> Vec<Action> {
    targets(eff, observed)
        .into_iter()
        .filter(|(_, _, listed)| listed.is_some_and(|l| ours(l).is_some()))
        .map(|(scope, resource_id, _)| Action {
            resource: resource_label(scope, &resource_id),
            verb: Verb::Delete,
            changes: vec![FieldChange::new("setting", "present", "absent")],
            op: Op::DiagDelete(DiagTarget {
                scope,
                resource_id,
                name: SETTING_NAME.into(),
            }),
        })
        .collect()
}

/// Whether a setting sends every one of `categories` to a destination, each enabled by name or
/// through one of `groups` (category groups such as `audit` or `allLogs`).
pub fn sends(s: &ObservedDiagSetting, categories: &[&str], groups: &[&str]) -> bool {
    let has_destination = s.workspace_id.is_some() || !s.other_destinations.is_empty();
    let by_group = s.logs.iter().any(|l| {
        l.enabled
            && l.category_group
                .as_deref()
                .is_some_and(|g| groups.iter().any(|x| g.eq_ignore_ascii_case(x)))
    });
    let each = categories.iter().all(|c| {
        s.logs.iter().any(|l| {
            l.enabled
                && l.category
                    .as_deref()
                    .is_some_and(|x| x.eq_ignore_ascii_case(c))
        })
    });
    has_destination && (by_group || each)
}

/// Whether a setting sends the vault's AuditEvent category somewhere.
fn sends_audit(s: &ObservedDiagSetting) -> bool {
    sends(s, VAULT_CATEGORIES, &["audit", "allLogs"])
}

/// The key vault audit check for status (and the evidence report): None without diagnostics.
pub fn vault_audit(eff: &EffectiveSpec, observed: &Observed) -> Option<AuditCheck> {
    let d = eff.diagnostics.as_ref()?;
    let check = |result: &str, detail: String| AuditCheck {
        result: result.into(),
        detail,
    };
    Some(match (&observed.diagnostics.vault, &d.key_vault_id) {
        (_, None) => check(
            "unknown",
            "diagnostics.keyVaultId is not declared: the vault's settings are not read".into(),
        ),
        (VaultRead::Refused(why), _) => check("unknown", format!("read refused: {why}")),
        (VaultRead::NotRead, _) => check("unknown", "not read".into()),
        (VaultRead::Listed(settings), _) => match settings.iter().find(|s| sends_audit(s)) {
            Some(s) => check("pass", format!("setting {:?} sends AuditEvent", s.name)),
            None => check(
                "fail",
                format!(
                    "no diagnostic setting on the vault sends AuditEvent ({} setting(s) read)",
                    settings.len()
                ),
            ),
        },
    })
}

/// The diagnostics summary of status: where the operator's setting is in place, and the vault
/// check.
pub fn summary(eff: &EffectiveSpec, observed: &Observed) -> Option<DiagnosticsObserved> {
    let d = eff.diagnostics.as_ref()?;
    let in_place = targets(eff, observed)
        .into_iter()
        .filter_map(|(scope, id, listed)| {
            let o = ours(listed?)?;
            diff(&desired(d, scope), o)
                .is_empty()
                .then(|| resource_label(scope, &id))
        })
        .collect();
    Some(DiagnosticsObserved {
        workspace_id: Some(d.workspace_id.clone()),
        in_place,
        key_vault_audit: vault_audit(eff, observed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{ObservedAccount, ObservedServer};

    fn prod() -> EffectiveSpec {
        crate::api::load(include_str!("../../examples/prod.yaml"))
            .expect("prod")
            .1
    }

    fn existing(settings: Vec<ObservedDiagSetting>) -> Observed {
        let mut o = Observed::default();
        o.postgres.server = Some(ObservedServer::default());
        o.storage.account = Some(ObservedAccount::default());
        o.diagnostics = ObservedDiagnostics {
            server: Some(settings.clone()),
            blob_service: Some(settings.clone()),
            vault: VaultRead::Listed(settings),
        };
        o
    }

    fn theirs() -> ObservedDiagSetting {
        ObservedDiagSetting {
            name: "soc".into(),
            workspace_id: Some("/x".into()),
            logs: vec![ObservedLog {
                category_group: Some("audit".into()),
                enabled: true,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn nothing_is_planned_on_a_resource_that_does_not_exist() {
        let p = plan(&prod(), &Observed::default());
        assert!(
            p.actions
                .iter()
                .all(|a| a.resource.starts_with("diagnostics/keyvault")),
            "{:?}",
            p.actions
        );
        assert!(p
            .notes
            .iter()
            .any(|n| n.contains("created once the server exists")));
    }

    #[test]
    fn others_settings_are_never_planned_and_ours_are_created_beside_them() {
        let eff = prod();
        let p = plan(&eff, &existing(vec![theirs()]));
        assert_eq!(p.actions.len(), 3, "{:?}", p.actions);
        for a in &p.actions {
            assert_eq!(a.verb, Verb::Create);
            assert!(matches!(&a.op, Op::DiagPut(t, _) if t.name == SETTING_NAME));
        }
        assert!(teardown(&eff, &existing(vec![theirs()])).is_empty());
        // The vault check counts anyone's setting.
        let check = vault_audit(&eff, &existing(vec![theirs()])).expect("check");
        assert_eq!(check.result, "pass");
    }

    #[test]
    fn a_refused_vault_read_is_an_error_only_when_asked_to_write_there() {
        let mut eff = prod();
        let mut o = existing(vec![]);
        o.diagnostics.vault = VaultRead::Refused("AuthorizationFailed".into());
        let p = plan(&eff, &o);
        assert_eq!(p.refused.len(), 1, "{:?}", p.refused);
        assert_eq!(p.refused[0].resource, "diagnostics/keyvault/kv-acme-prod");
        if let Some(d) = eff.diagnostics.as_mut() {
            d.key_vault = false;
        }
        let p = plan(&eff, &o);
        assert!(p.refused.is_empty());
        assert_eq!(
            vault_audit(&eff, &o).map(|c| c.result).as_deref(),
            Some("unknown")
        );
    }

    #[test]
    fn a_server_this_plane_does_not_own_gets_no_setting() {
        let eff = prod();
        let mut o = existing(vec![]);
        if let Some(s) = o.postgres.server.as_mut() {
            s.tags
                .insert(crate::plan::owner::OWNER_TAG.into(), "engram/other".into());
        }
        let gated = crate::plan::owner::gate(
            plan(&eff, &o),
            &eff,
            &o,
            "folder/acme-prod",
            &Default::default(),
        );
        assert!(
            !gated
                .actions
                .iter()
                .any(|a| a.resource == "diagnostics/postgres/acme-prod-pg"),
            "{:?}",
            gated.actions
        );
    }
}
