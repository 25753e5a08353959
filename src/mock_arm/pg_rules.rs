//! The service rules of a flexible server body (FACTS.md section 8) and the read-only properties
//! that follow from its writable ones.

use serde_json::{json, Value};

use super::errors::ArmError;
use super::postgres::fill_identity;
use super::store::{at, set_at, str_at};

// Error codes. `ServerBusy` and `ServerIsNotReady` are observed in real answers (FACTS 8.6 and
// public reports); `InvalidParameterValue` with "Invalid value given for parameter StorageSizeGB"
// is observed. The others are not established by the contract sources: they are this mock's
// descriptive names (docs/mock-arm.md lists them).
pub const HA_BURSTABLE: &str = "HighAvailabilityNotSupportedForBurstableTier";
pub const STORAGE_SHRINK: &str = "StorageSizeDecreaseNotSupported";
pub const INVALID_PARAMETER: &str = "InvalidParameterValue";
pub const GEO_BACKUP_IMMUTABLE: &str = "GeoRedundantBackupCannotBeChanged";
pub const CMK_IMMUTABLE: &str = "DataEncryptionTypeCannotBeChanged";
/// Observed (pulumi/pulumi-azure-native#4014): a geo-redundant CMK server created without the
/// geo-backup key and identity.
pub const CMK_INVALID: &str = "CMKInvalidEncryptionParameters";
/// The mock's own descriptive code (docs/mock-arm.md): VNet integration is chosen at create.
pub const VNET_IMMUTABLE: &str = "DelegatedSubnetCannotBeChanged";
/// The first api-version whose examples send a versionless key URI (automatic key version update).
const VERSIONLESS_FROM: &str = "2025-08-01";

/// Premium SSD sizes (GiB) with their default performance tier and IOPS (FACTS 8.3).
const SIZES: &[(i64, &str, i64)] = &[
    (32, "P4", 120),
    (64, "P6", 240),
    (128, "P10", 500),
    (256, "P15", 1100),
    (512, "P20", 2300),
    (1024, "P30", 5000),
    (2048, "P40", 7500),
    (4096, "P50", 7500),
    (8192, "P60", 16000),
    (16384, "P70", 18000),
    (32767, "P80", 20000),
];

/// The service rules for a server body after a create (`old` None) or update.
pub fn check_rules(new: &Value, old: Option<&Value>) -> Result<(), ArmError> {
    let tier = str_at(new, &["sku", "tier"]).unwrap_or("");
    let ha = str_at(new, &["properties", "highAvailability", "mode"]).unwrap_or("Disabled");
    if tier.eq_ignore_ascii_case("Burstable") && !ha.eq_ignore_ascii_case("Disabled") {
        return Err(ArmError::bad_request(
            HA_BURSTABLE,
            "High availability isn't supported for the Burstable tier.",
        ));
    }
    if let Some(size) = at(new, &["properties", "storage", "storageSizeGB"]).and_then(Value::as_i64)
    {
        let kind = str_at(new, &["properties", "storage", "type"]).unwrap_or("");
        let allowed = if kind.eq_ignore_ascii_case("PremiumV2_LRS")
            || kind.eq_ignore_ascii_case("UltraSSD_LRS")
        {
            (1..=65536).contains(&size)
        } else {
            SIZES.iter().any(|(s, _, _)| *s == size)
        };
        if !allowed {
            return Err(ArmError::bad_request(
                INVALID_PARAMETER,
                format!("Invalid value given for parameter StorageSizeGB ({size}). Specify a valid parameter value."),
            ));
        }
        let old_size = old
            .and_then(|o| at(o, &["properties", "storage", "storageSizeGB"]))
            .and_then(Value::as_i64);
        if old_size.is_some_and(|o| size < o) {
            return Err(ArmError::bad_request(
                STORAGE_SHRINK,
                format!(
                    "Decreasing the storage size is not supported (from {} GB to {size} GB).",
                    old_size.unwrap_or(0)
                ),
            ));
        }
    }
    if let Some(days) =
        at(new, &["properties", "backup", "backupRetentionDays"]).and_then(Value::as_i64)
    {
        if !(7..=35).contains(&days) {
            return Err(ArmError::bad_request(
                INVALID_PARAMETER,
                format!("Invalid value given for parameter BackupRetentionDays ({days}). Backups can be retained from 7 to 35 days."),
            ));
        }
    }
    if let Some(old) = old {
        let geo = |b: &Value| {
            str_at(b, &["properties", "backup", "geoRedundantBackup"])
                .unwrap_or("Disabled")
                .to_ascii_lowercase()
        };
        if geo(new) != geo(old) {
            return Err(ArmError::bad_request(
                GEO_BACKUP_IMMUTABLE,
                "Geo-redundant backup can only be chosen when the server is created.",
            ));
        }
        let enc = |b: &Value| {
            str_at(b, &["properties", "dataEncryption", "type"])
                .unwrap_or("SystemManaged")
                .to_ascii_lowercase()
        };
        if enc(new) != enc(old) {
            return Err(ArmError::bad_request(
                CMK_IMMUTABLE,
                "The data encryption mode is chosen at server creation and cannot be changed: a customer-managed key cannot be added to or removed from an existing server.",
            ));
        }
    }
    Ok(())
}

/// Fill read-only properties that follow from the writable ones.
pub fn derive(body: &mut Value, patch: Option<&Value>, seq: u64) {
    let size = at(body, &["properties", "storage", "storageSizeGB"])
        .and_then(Value::as_i64)
        .unwrap_or(128);
    let tier_given = match patch {
        None => at(body, &["properties", "storage", "tier"]).is_some(),
        Some(p) => at(p, &["properties", "storage", "tier"]).is_some(),
    };
    if let Some((_, tier, iops)) = SIZES.iter().find(|(s, _, _)| *s == size) {
        if !tier_given {
            set_at(body, &["properties", "storage", "tier"], json!(tier));
        }
        set_at(body, &["properties", "storage", "iops"], json!(iops));
    }
    let mode = str_at(body, &["properties", "highAvailability", "mode"])
        .unwrap_or("Disabled")
        .to_string();
    if mode.eq_ignore_ascii_case("Disabled") {
        set_at(
            body,
            &["properties", "highAvailability"],
            json!({"mode": mode, "state": "NotEnabled"}),
        );
    } else {
        set_at(
            body,
            &["properties", "highAvailability", "state"],
            json!("Healthy"),
        );
        // The requested standby zone is honoured; Azure picks one other than the primary's
        // when none is asked for, and SameZone puts the standby beside the primary.
        let primary = str_at(body, &["properties", "availabilityZone"])
            .unwrap_or("1")
            .to_string();
        let requested = str_at(
            body,
            &["properties", "highAvailability", "standbyAvailabilityZone"],
        )
        .filter(|z| !z.is_empty())
        .map(str::to_string);
        let zone = if mode.eq_ignore_ascii_case("SameZone") {
            primary
        } else {
            requested.unwrap_or_else(|| {
                ["1", "2", "3"]
                    .into_iter()
                    .find(|z| *z != primary)
                    .unwrap_or("2")
                    .to_string()
            })
        };
        set_at(
            body,
            &["properties", "highAvailability", "standbyAvailabilityZone"],
            json!(zone),
        );
    }
    fill_identity(body, seq);
}

/// Customer-managed key rules of a create or update body: a key URI carries its version at
/// api-versions before automatic key version update; a geo-redundant CMK server needs the
/// geo-backup key and identity (attached to the server) when it is created.
pub fn check_encryption(body: &Value, api_version: &str, creating: bool) -> Result<(), ArmError> {
    let enc = |k: &str| {
        str_at(body, &["properties", "dataEncryption", k])
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    if !enc("type").is_some_and(|t| t.eq_ignore_ascii_case("AzureKeyVault")) {
        return Ok(());
    }
    if api_version < VERSIONLESS_FROM {
        for field in ["primaryKeyURI", "geoBackupKeyURI"] {
            if let Some(uri) = enc(field).filter(|u| !is_versioned(u)) {
                return Err(ArmError::bad_request(
                    INVALID_PARAMETER,
                    format!("Invalid value given for parameter {field} '{uri}': the key URI must name a key version (https://{{vault}}.vault.azure.net/keys/{{key}}/{{version}}) at api-version {api_version}."),
                ));
            }
        }
    }
    let geo = str_at(body, &["properties", "backup", "geoRedundantBackup"])
        .is_some_and(|g| g.eq_ignore_ascii_case("Enabled"));
    if !creating || !geo {
        return Ok(());
    }
    let attached = |id: &str| {
        at(body, &["identity", "userAssignedIdentities"])
            .and_then(Value::as_object)
            .is_some_and(|m| m.keys().any(|k| k.eq_ignore_ascii_case(id)))
    };
    let geo_ok = enc("geoBackupKeyURI").is_some()
        && enc("geoBackupUserAssignedIdentityId").is_some_and(|id| attached(&id));
    if !geo_ok {
        return Err(ArmError::bad_request(
            CMK_INVALID,
            "The input server encryption parameters are invalid. Geo-Backup Encryption user assigned identity and key is required to encrypt Geo-Redundant CMK enabled server. Please retry operation with valid input parameters.",
        ));
    }
    Ok(())
}

/// `https://{vault}/keys/{name}/{version}` (a version segment present).
fn is_versioned(uri: &str) -> bool {
    let rest = uri.trim_end_matches('/');
    rest.find("/keys/").is_some_and(|i| {
        let mut parts = rest[i + "/keys/".len()..].split('/');
        parts.next().is_some_and(|n| !n.is_empty()) && parts.next().is_some_and(|v| !v.is_empty())
    })
}

/// Network rules of a server body after a create (`old` None) or update: the delegated subnet
/// (VNet integration) is a well-formed subnet id, chosen at create only, and makes the server
/// private (public access Disabled, which a VNet-integrated server cannot change).
pub fn check_network(new: &mut Value, old: Option<&Value>) -> Result<(), ArmError> {
    let subnet = |b: &Value| {
        str_at(b, &["properties", "network", "delegatedSubnetResourceId"])
            .filter(|s| !s.is_empty())
            .map(str::to_ascii_lowercase)
    };
    let (now, before) = (subnet(new), old.and_then(subnet));
    if let Some(id) = &now {
        if !super::network::is_id_of(id, "Microsoft.Network", &["virtualNetworks", "subnets"]) {
            return Err(ArmError::bad_request(
                super::network::INVALID_ID,
                format!("Property id '{id}' at path 'properties.network.delegatedSubnetResourceId' is invalid. Expect fully qualified resource Id that start with '/subscriptions/{{subscriptionId}}' or '/providers/{{resourceProviderNamespace}}/'."),
            ));
        }
    }
    if old.is_some() {
        if now != before {
            return Err(ArmError::bad_request(
                VNET_IMMUTABLE,
                format!(
                    "The delegated subnet of a server is chosen when it is created (from {} to {}): virtual network integration cannot be added, removed or moved to another subnet.",
                    before.as_deref().unwrap_or("none"),
                    now.as_deref().unwrap_or("none")
                ),
            ));
        }
        let access = str_at(new, &["properties", "network", "publicNetworkAccess"]).unwrap_or("");
        if before.is_some() && access.eq_ignore_ascii_case("Enabled") {
            return Err(ArmError::bad_request(
                INVALID_PARAMETER,
                "Public network access cannot be enabled on a server integrated into a virtual network.",
            ));
        }
    } else if now.is_some() {
        set_at(
            new,
            &["properties", "network", "publicNetworkAccess"],
            json!("Disabled"),
        );
    }
    Ok(())
}
