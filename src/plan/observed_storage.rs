//! What the operator observed of the Storage side of a data plane, as plain structs.
//! `src/azure/storage.rs` maps ARM responses into these; the storage planners read only these.

use std::collections::BTreeMap;

/// Observed encryption of a storage account.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ObservedAccountEncryption {
    /// `keySource: Microsoft.Storage` (platform-managed keys).
    #[default]
    MicrosoftManaged,
    /// `keySource: Microsoft.Keyvault` with its `keyvaultproperties`.
    KeyVault(ObservedAccountKey),
}

/// The customer-managed key an account is configured with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedAccountKey {
    pub key_vault_uri: String,
    pub key_name: String,
    /// `keyversion`; empty means Azure follows the latest version in Key Vault.
    pub key_version: String,
    /// `encryption.identity.userAssignedIdentity`.
    pub identity_id: Option<String>,
    /// `currentVersionedKeyIdentifier` (read-only): the key version actually in use.
    pub current_versioned_key_id: Option<String>,
}

impl ObservedAccountKey {
    /// The key version in use: the last segment of the current versioned key identifier, else the
    /// configured version; None when neither is known.
    pub fn version_in_use(&self) -> Option<String> {
        self.current_versioned_key_id
            .as_deref()
            .and_then(key_version_of)
            .or_else(|| (!self.key_version.is_empty()).then(|| self.key_version.clone()))
    }
}

/// The version segment of a versioned Key Vault key URI (`…/keys/{name}/{version}`).
pub fn key_version_of(uri: &str) -> Option<String> {
    let rest = uri.trim_end_matches('/');
    let idx = rest.find("/keys/")?;
    let mut parts = rest[idx + "/keys/".len()..].split('/');
    let _name = parts.next()?;
    parts
        .next()
        .filter(|v| !v.is_empty())
        .map(ToOwned::to_owned)
}

/// The observed storage account.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedAccount {
    pub id: String,
    /// `provisioningState`: Creating, ResolvingDNS, Succeeded.
    pub provisioning_state: String,
    /// StorageV2, Storage, BlobStorage, ...
    pub kind: String,
    /// Replication SKU name, e.g. Standard_ZRS.
    pub sku_name: String,
    /// None when ARM omits it (interpreted as TLS1_0).
    pub minimum_tls_version: Option<String>,
    /// None when ARM omits it (interpreted as false since 2023-01-01).
    pub allow_blob_public_access: Option<bool>,
    /// None when ARM omits it (true by default since 2019-04-01).
    pub https_only: Option<bool>,
    /// Enabled, Disabled or SecuredByPerimeter; None is interpreted as Enabled.
    pub public_network_access: Option<String>,
    /// Whether a system-assigned identity is present.
    pub system_assigned_identity: bool,
    /// User-assigned identity resource ids attached to the account.
    pub user_assigned_identities: Vec<String>,
    pub encryption: ObservedAccountEncryption,
    /// ARM tags (the owner tag among them).
    pub tags: std::collections::BTreeMap<String, String>,
    pub network_acls: super::observed_network::ObservedNetworkAcls,
    /// `privateEndpointConnections`.
    pub connections: Vec<super::observed_network::ObservedConnection>,
    /// `primaryEndpoints.blob`, e.g. `https://{account}.blob.core.windows.net/` (None: not
    /// reported yet, as while the account is being created).
    pub primary_blob_endpoint: Option<String>,
}

/// One observed lifecycle rule, reduced to what the spec can express; everything else that is set on
/// the rule is listed in `other` (as field paths) so that it counts as drift.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedLifecycleRule {
    pub name: String,
    /// `enabled`; None when ARM omits it.
    pub enabled: Option<bool>,
    /// `type`, "Lifecycle".
    pub rule_type: String,
    pub blob_types: Vec<String>,
    pub prefix_match: Vec<String>,
    /// `baseBlob.tierToCool.daysAfterModificationGreaterThan`.
    pub cool_after_days: Option<u32>,
    /// `baseBlob.tierToArchive.daysAfterModificationGreaterThan`.
    pub archive_after_days: Option<u32>,
    /// `baseBlob.delete.daysAfterModificationGreaterThan`.
    pub delete_after_days: Option<u32>,
    /// Settings the spec cannot express (snapshot/version actions, last-access conditions, blob
    /// index filters, fractional days ...), e.g. `actions.snapshot.delete`.
    pub other: Vec<String>,
    /// The rule as ARM returned it: written back unchanged when the rule is someone else's and
    /// the operator replaces the policy.
    pub raw: serde_json::Value,
}

/// The observed time-based retention policy of a container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedImmutability {
    /// `immutabilityPeriodSinceCreationInDays`.
    pub days: u32,
    /// `state` is Locked.
    pub locked: bool,
    /// The policy's ETag, required (If-Match) by update, extend and lock.
    pub etag: String,
}

/// One observed blob container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedContainer {
    /// `publicAccess`: None, Blob or Container (ARM may omit it for None).
    pub public_access: Option<String>,
    /// None when the container has no time-based retention policy (or it was deleted).
    pub immutability: Option<ObservedImmutability>,
    /// Legal-hold tags as ARM reports them.
    pub legal_hold_tags: Vec<String>,
}

impl ObservedContainer {
    /// True when the container may never be deleted by the operator: a legal hold or a locked
    /// immutability policy protects it.
    pub fn is_protected(&self) -> bool {
        !self.legal_hold_tags.is_empty() || self.immutability.as_ref().is_some_and(|i| i.locked)
    }
}

/// Everything observed about the Storage side of a data plane.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedStorage {
    /// None when the account does not exist (then everything below is empty).
    pub account: Option<ObservedAccount>,
    /// The rules of the `default` management policy; None when there is no policy.
    pub lifecycle: Option<Vec<ObservedLifecycleRule>>,
    /// Every container of the account, by name.
    pub containers: BTreeMap<String, ObservedContainer>,
    /// Why the account name cannot be created, when the account does not exist and the provider's
    /// checkNameAvailability said the name is taken or invalid.
    pub name_unavailable: Option<String>,
    /// The declared blob private endpoint, when it exists.
    pub private_endpoint: Option<super::observed_network::ObservedPrivateEndpoint>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_version_segment() {
        assert_eq!(
            key_version_of("https://kv.vault.azure.net/keys/k/abc123"),
            Some("abc123".into())
        );
        assert_eq!(key_version_of("https://kv.vault.azure.net/keys/k"), None);
        assert_eq!(key_version_of("https://kv.vault.azure.net/keys/k/"), None);
        assert_eq!(key_version_of("not a key"), None);
    }

    #[test]
    fn version_in_use_prefers_the_current_identifier() {
        let mut k = ObservedAccountKey {
            key_version: String::new(),
            current_versioned_key_id: Some("https://kv.vault.azure.net/keys/k/v2".into()),
            ..Default::default()
        };
        assert_eq!(k.version_in_use().as_deref(), Some("v2"));
        k.current_versioned_key_id = None;
        assert_eq!(k.version_in_use(), None);
        k.key_version = "v1".into();
        assert_eq!(k.version_in_use().as_deref(), Some("v1"));
    }

    #[test]
    fn holds_and_locks_protect_a_container() {
        let mut c = ObservedContainer::default();
        assert!(!c.is_protected());
        c.immutability = Some(ObservedImmutability {
            days: 1,
            locked: false,
            etag: "e".into(),
        });
        assert!(!c.is_protected());
        if let Some(i) = c.immutability.as_mut() {
            i.locked = true;
        }
        assert!(c.is_protected());
        c.immutability = None;
        c.legal_hold_tags = vec!["x".into()];
        assert!(c.is_protected());
    }
}
