//! Planner for the storage account (hardening, replication, identity, customer-managed key) and the
//! entry point of the storage side: account first, then its management policy and containers.
//!
//! Create when missing (one PUT), PATCH only the differing fields otherwise, nothing when in sync.
//! Removing the customer-managed key is refused. The account is never deleted here (see
//! `teardown`); undeclared containers only with `storage.pruneUndeclaredContainers`.

use super::observed_storage::{ObservedAccount, ObservedAccountEncryption, ObservedStorage};
use super::storage_ops::{
    AccountCreate, AccountIdentity, AccountKey, AccountPatch, AccountTarget, StorageOp,
};
use super::{containers, lifecycle, Action, FieldChange, Memory, Op, Plan, Refusal, Verb};
use crate::api::spec::{DeletionPolicy, PublicNetworkAccess, Replication};
use crate::api::EffectiveSpec;

/// The kind every account is created as (and upgraded to).
pub const KIND: &str = "StorageV2";

/// The resource label used in status, drift and plan output.
pub fn resource_label(eff: &EffectiveSpec) -> String {
    format!("storage/{}", eff.storage.account_name)
}

/// The label of the account's management policy.
pub fn lifecycle_label(eff: &EffectiveSpec) -> String {
    format!("lifecycle/{}", eff.storage.account_name)
}

/// Where the account lives.
pub fn target(eff: &EffectiveSpec) -> AccountTarget {
    AccountTarget {
        subscription_id: eff.azure.subscription_id.clone(),
        resource_group: eff.azure.resource_group.clone(),
        account_name: eff.storage.account_name.clone(),
    }
}

/// ARM's name of a replication SKU.
pub fn replication_name(r: Replication) -> &'static str {
    match r {
        Replication::Standard_LRS => "Standard_LRS",
        Replication::Standard_ZRS => "Standard_ZRS",
        Replication::Standard_GRS => "Standard_GRS",
        Replication::Standard_RAGRS => "Standard_RAGRS",
        Replication::Standard_GZRS => "Standard_GZRS",
        Replication::Standard_RAGZRS => "Standard_RAGZRS",
    }
}

fn access_name(p: PublicNetworkAccess) -> &'static str {
    match p {
        PublicNetworkAccess::Enabled => "Enabled",
        PublicNetworkAccess::Disabled => "Disabled",
    }
}

/// The account's key from the spec's single encryption block: the pinned version, or an empty
/// version when the spec says `latest` so that Azure follows Key Vault rotation.
pub fn desired_key(eff: &EffectiveSpec) -> Option<AccountKey> {
    let enc = eff.encryption.as_ref()?;
    Some(AccountKey {
        key_vault_uri: enc.key_vault_uri.clone(),
        key_name: enc.key_name.clone(),
        key_version: eff.pinned_key_version().unwrap_or_default().to_owned(),
        identity_id: enc.identity_id.clone(),
    })
}

fn shown_version(v: &str) -> &str {
    if v.is_empty() {
        "latest"
    } else {
        v
    }
}

fn same_uri(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

/// Provisioning states during which nothing may be written to the account or its children.
pub fn is_busy(provisioning_state: &str) -> bool {
    !["", "Succeeded", "Failed", "Canceled"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(provisioning_state))
}

/// Plan the whole storage side of a data plane. `memory` is what this plane set (status): only
/// that is ever removed when the spec stops declaring it.
pub fn plan(eff: &EffectiveSpec, obs: &ObservedStorage, memory: &Memory) -> Plan {
    let resource = resource_label(eff);
    let tgt = target(eff);
    let mut plan = Plan::default();
    let Some(account) = &obs.account else {
        if let Some(why) = &obs.name_unavailable {
            plan.refused.push(Refusal {
                resource,
                field: "accountName".into(),
                reason: format!(
                    "{} is not available: {why} (account names are global DNS names, {}.blob.core.windows.net): choose another accountName",
                    tgt.account_name, tgt.account_name
                ),
            });
            return plan;
        }
        plan.actions.push(create_action(eff, &resource, tgt));
        plan.notes.push(format!(
            "{resource}: the lifecycle policy and containers are created once the account exists"
        ));
        return plan;
    };
    if is_busy(&account.provisioning_state) {
        plan.waiting.push(format!(
            "{resource} is {}: no write until it settles",
            account.provisioning_state
        ));
        return plan;
    }
    let (patch, changes) = diff_account(eff, account, &resource, &mut plan);
    if !changes.is_empty() {
        for c in &changes {
            plan.drift.push((resource.clone(), c.clone()));
        }
        plan.actions.push(Action {
            resource: resource.clone(),
            verb: Verb::Update,
            changes,
            op: Op::Storage(StorageOp::PatchAccount(tgt.clone(), Box::new(patch))),
        });
    }
    let lc_label = lifecycle_label(eff);
    let own = lifecycle::Ownership {
        created: &memory.lifecycle_rules_created,
        exclusive: eff.storage.lifecycle_exclusive,
    };
    let (action, notes) = lifecycle::plan(
        &eff.storage.lifecycle,
        obs.lifecycle.as_deref(),
        &tgt,
        &lc_label,
        own,
    );
    plan.notes.extend(notes);
    if let Some(a) = action {
        for c in a.changes.iter().filter(|c| c.observed.is_some()) {
            plan.drift.push((lc_label.clone(), c.clone()));
        }
        plan.actions.push(a);
    }
    plan.absorb(containers::plan(
        &eff.storage.containers,
        &obs.containers,
        &tgt,
        eff.storage.prune_undeclared_containers,
        memory,
    ));
    plan
}

fn create_action(eff: &EffectiveSpec, resource: &str, tgt: AccountTarget) -> Action {
    let st = &eff.storage;
    let cmk = desired_key(eff);
    let create = AccountCreate {
        tags: Default::default(),
        location: eff.azure.location.clone(),
        sku_name: replication_name(st.replication).into(),
        minimum_tls_version: st.minimum_tls_version.clone(),
        public_network_access: access_name(st.public_network_access).into(),
        network_acls: super::network::desired_acls(eff),
        identity: cmk.as_ref().map(|k| AccountIdentity {
            system_assigned: false,
            user_assigned: vec![k.identity_id.clone()],
        }),
        cmk,
    };
    let created = |field: &str, desired: &str| FieldChange {
        field: field.into(),
        observed: None,
        desired: desired.into(),
    };
    let mut changes = vec![
        created("kind", KIND),
        created("sku", &create.sku_name),
        created("minimumTlsVersion", &create.minimum_tls_version),
        created("allowBlobPublicAccess", "false"),
        created("supportsHttpsTrafficOnly", "true"),
        created("publicNetworkAccess", &create.public_network_access),
        created(
            "networkAcls",
            &super::network::acls_text(&create.network_acls),
        ),
    ];
    if let Some(k) = &create.cmk {
        changes.push(created("encryption.keyName", &k.key_name));
        changes.push(created(
            "encryption.keyVersion",
            shown_version(&k.key_version),
        ));
    }
    Action {
        resource: resource.into(),
        verb: Verb::Create,
        changes,
        op: Op::Storage(StorageOp::CreateAccount(tgt, Box::new(create))),
    }
}

/// Compare the account's own properties; returns the PATCH and the changes it corrects.
fn diff_account(
    eff: &EffectiveSpec,
    a: &ObservedAccount,
    resource: &str,
    plan: &mut Plan,
) -> (AccountPatch, Vec<FieldChange>) {
    let st = &eff.storage;
    let mut p = AccountPatch::default();
    let mut ch = Vec::new();

    let sku = replication_name(st.replication);
    if !a.sku_name.eq_ignore_ascii_case(sku) {
        p.sku_name = Some(sku.into());
        ch.push(FieldChange::new("sku", &a.sku_name, sku));
    }
    if !a.kind.eq_ignore_ascii_case(KIND) {
        p.kind = Some(KIND.into());
        ch.push(FieldChange::new("kind", &a.kind, KIND));
    }
    let tls = a.minimum_tls_version.as_deref().unwrap_or("TLS1_0");
    if !tls.eq_ignore_ascii_case(&st.minimum_tls_version) {
        p.minimum_tls_version = Some(st.minimum_tls_version.clone());
        ch.push(FieldChange::new(
            "minimumTlsVersion",
            tls,
            &st.minimum_tls_version,
        ));
    }
    if a.allow_blob_public_access.unwrap_or(false) {
        p.allow_blob_public_access = Some(false);
        ch.push(FieldChange::new("allowBlobPublicAccess", true, false));
    }
    if !a.https_only.unwrap_or(true) {
        p.https_only = Some(true);
        ch.push(FieldChange::new("supportsHttpsTrafficOnly", false, true));
    }
    let access = a.public_network_access.as_deref().unwrap_or("Enabled");
    let want_access = access_name(st.public_network_access);
    if !access.eq_ignore_ascii_case(want_access) {
        p.public_network_access = Some(want_access.into());
        ch.push(FieldChange::new("publicNetworkAccess", access, want_access));
    }
    let acls = super::network::desired_acls(eff);
    if !super::network::acls_match(&a.network_acls, &acls) {
        ch.push(FieldChange::new(
            "networkAcls",
            super::network::acls_text(&a.network_acls),
            super::network::acls_text(&acls),
        ));
        p.network_acls = Some(acls);
    }

    let want = desired_key(eff);
    if let Some(k) = &want {
        let attached = a
            .user_assigned_identities
            .iter()
            .any(|i| i.eq_ignore_ascii_case(&k.identity_id));
        if !attached {
            let mut ids = a.user_assigned_identities.clone();
            ids.push(k.identity_id.clone());
            ch.push(FieldChange::new(
                "identity.userAssignedIdentities",
                a.user_assigned_identities.join(","),
                ids.join(","),
            ));
            p.identity = Some(AccountIdentity {
                system_assigned: a.system_assigned_identity,
                user_assigned: ids,
            });
        }
    }
    match (want, &a.encryption) {
        (None, ObservedAccountEncryption::MicrosoftManaged) => {}
        (None, ObservedAccountEncryption::KeyVault(_)) => plan.refused.push(Refusal {
            resource: resource.into(),
            field: "encryption".into(),
            reason: "the spec removes the customer-managed key: the account stays on it \
                     (declare spec.encryption)"
                .into(),
        }),
        (Some(k), ObservedAccountEncryption::MicrosoftManaged) => {
            ch.push(FieldChange::new(
                "encryption.keySource",
                "Microsoft.Storage",
                "Microsoft.Keyvault",
            ));
            p.cmk = Some(k);
        }
        (Some(k), ObservedAccountEncryption::KeyVault(o)) => {
            let before = ch.len();
            if !same_uri(&o.key_vault_uri, &k.key_vault_uri) {
                ch.push(FieldChange::new(
                    "encryption.keyVaultUri",
                    &o.key_vault_uri,
                    &k.key_vault_uri,
                ));
            }
            if !o.key_name.eq_ignore_ascii_case(&k.key_name) {
                ch.push(FieldChange::new(
                    "encryption.keyName",
                    &o.key_name,
                    &k.key_name,
                ));
            }
            if o.key_version != k.key_version {
                ch.push(FieldChange::new(
                    "encryption.keyVersion",
                    shown_version(&o.key_version),
                    shown_version(&k.key_version),
                ));
            }
            let id_ok = o
                .identity_id
                .as_deref()
                .is_some_and(|i| i.eq_ignore_ascii_case(&k.identity_id));
            if !id_ok {
                ch.push(FieldChange::new(
                    "encryption.identity",
                    o.identity_id.as_deref().unwrap_or("-"),
                    &k.identity_id,
                ));
            }
            if ch.len() > before {
                p.cmk = Some(k);
            }
        }
    }
    (p, ch)
}

/// Plan the removal of the storage side when the data plane itself is deleted. Under `retain`
/// nothing is deleted; under `delete` the account goes only when no container is protected by a
/// legal hold or a locked immutability policy.
pub fn teardown(eff: &EffectiveSpec, obs: &ObservedStorage) -> Plan {
    let resource = resource_label(eff);
    let mut plan = Plan::default();
    if obs.account.is_none() {
        return plan;
    }
    if eff.deletion == DeletionPolicy::Retain {
        plan.notes
            .push(format!("{resource} retained in Azure (deletion: retain)"));
        return plan;
    }
    for (name, c) in &obs.containers {
        if let super::retention::DeleteVerdict::Protected(reason) =
            super::retention::container_deletion(eff.deletion, name, c)
        {
            plan.refused.push(Refusal {
                resource: containers::resource_label(&eff.storage.account_name, name),
                field: "container".into(),
                reason,
            });
        }
    }
    if plan.refused.is_empty() {
        plan.actions.push(Action {
            resource: resource.clone(),
            verb: Verb::Delete,
            changes: vec![FieldChange::new("account", "present", "absent")],
            op: Op::Storage(StorageOp::DeleteAccount(target(eff))),
        });
    } else {
        plan.notes.push(format!(
            "{resource} is not deleted: it holds protected containers"
        ));
    }
    plan
}
