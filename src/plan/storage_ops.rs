//! The typed storage writes a plan can ask for (payloads of the storage `Op` variants), free of SDK
//! types; `src/azure/storage.rs` turns them into ARM requests.

use crate::api::spec::LifecycleRule;

/// Where a storage account lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountTarget {
    pub subscription_id: String,
    pub resource_group: String,
    pub account_name: String,
}

/// One container of an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerRef {
    pub account: AccountTarget,
    pub container: String,
}

/// The customer-managed key of an account (`encryption.keyvaultproperties` + identity).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountKey {
    pub key_vault_uri: String,
    pub key_name: String,
    /// The pinned version, or empty so that Azure follows the latest version.
    pub key_version: String,
    /// The user-assigned identity that wraps/unwraps with the key.
    pub identity_id: String,
}

/// The identities an account should carry (PATCH of `identity` replaces the whole set).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountIdentity {
    pub system_assigned: bool,
    pub user_assigned: Vec<String>,
}

impl AccountIdentity {
    /// The ARM identity type for this set.
    pub fn type_name(&self) -> &'static str {
        match (self.system_assigned, self.user_assigned.is_empty()) {
            (true, true) => "SystemAssigned",
            (true, false) => "SystemAssigned,UserAssigned",
            (false, false) => "UserAssigned",
            (false, true) => "None",
        }
    }
}

/// The full desired account, for one create PUT. The hardening is fixed: kind StorageV2,
/// allowBlobPublicAccess false, HTTPS only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountCreate {
    pub location: String,
    pub sku_name: String,
    pub minimum_tls_version: String,
    pub public_network_access: String,
    /// `networkAcls`: default action Deny, bypass AzureServices, the declared rules.
    pub network_acls: super::observed_network::ObservedNetworkAcls,
    /// The user-assigned identity to attach (the key's identity).
    pub identity: Option<AccountIdentity>,
    /// None: platform-managed keys.
    pub cmk: Option<AccountKey>,
    /// The owner tags (set by the ownership gate, `owner::gate`).
    pub tags: std::collections::BTreeMap<String, String>,
}

/// Only the account fields that differ, for one PATCH.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountPatch {
    pub sku_name: Option<String>,
    pub kind: Option<String>,
    pub minimum_tls_version: Option<String>,
    pub allow_blob_public_access: Option<bool>,
    pub https_only: Option<bool>,
    pub public_network_access: Option<String>,
    /// The whole `networkAcls` block.
    pub network_acls: Option<super::observed_network::ObservedNetworkAcls>,
    pub identity: Option<AccountIdentity>,
    /// The whole `encryption` block (keySource Microsoft.Keyvault + keyvaultproperties + identity).
    pub cmk: Option<AccountKey>,
}

impl AccountPatch {
    /// True when nothing is to be patched.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The storage writes (the `Op::Storage` payload).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageOp {
    /// PUT the account (create).
    CreateAccount(AccountTarget, Box<AccountCreate>),
    /// PATCH only the differing account fields.
    PatchAccount(AccountTarget, Box<AccountPatch>),
    /// DELETE the account (data plane teardown under `deletion: delete` only).
    DeleteAccount(AccountTarget),
    /// PUT the `default` management policy with exactly these rules: the declared ones, then
    /// someone else's kept rules as ARM returned them (JSON, written back unchanged).
    PutLifecycle(AccountTarget, Vec<LifecycleRule>, Vec<serde_json::Value>),
    /// DELETE the `default` management policy (the spec declares no rules).
    DeleteLifecycle(AccountTarget),
    /// PUT a container with publicAccess None (create, or reset public access).
    PutContainer(ContainerRef),
    /// DELETE a container (never one with a legal hold or a locked policy).
    DeleteContainer(ContainerRef),
    /// PUT the immutability policy (create, or lengthen an unlocked one; etag for If-Match).
    PutImmutability {
        container: ContainerRef,
        days: u32,
        etag: Option<String>,
    },
    /// POST extend on a locked policy (days only ever grow).
    ExtendImmutability {
        container: ContainerRef,
        days: u32,
        etag: String,
    },
    /// POST lock (irreversible).
    LockImmutability {
        container: ContainerRef,
        etag: String,
    },
    /// POST setLegalHold with these tags.
    SetLegalHold(ContainerRef, Vec<String>),
    /// POST clearLegalHold with these tags.
    ClearLegalHold(ContainerRef, Vec<String>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_type_names() {
        let mut i = AccountIdentity {
            system_assigned: false,
            user_assigned: vec!["/id".into()],
        };
        assert_eq!(i.type_name(), "UserAssigned");
        i.system_assigned = true;
        assert_eq!(i.type_name(), "SystemAssigned,UserAssigned");
        i.user_assigned.clear();
        assert_eq!(i.type_name(), "SystemAssigned");
    }
}
