//! The report's sections besides the controls, as the seed names them: a TDE manifest per service,
//! the encryption metadata, the key rotation log and the encryption flow. Pure.

use serde::Serialize;
use serde_json::{json, Value};

use crate::api::{EffectiveSpec, KeyRotation};
use crate::plan::{
    key_version_of, newest, unix_rfc3339, KeyVersionInfo, Observed, ObservedAccountEncryption,
    ObservedEncryption,
};

/// The observed encryption settings of each service, as JSON.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct TdeManifest {
    pub postgres: Value,
    pub storage: Value,
}

/// The TDE manifests from what was read.
pub fn tde_manifest(eff: &EffectiveSpec, o: &Observed) -> TdeManifest {
    let postgres = match &o.postgres.server {
        None => json!({"server": eff.postgres.server_name, "exists": false}),
        Some(s) => {
            let data = match &s.encryption {
                ObservedEncryption::SystemManaged => json!({"type": "SystemManaged"}),
                ObservedEncryption::AzureKeyVault {
                    key_uri,
                    identity_id,
                    geo_key_uri,
                } => json!({
                    "type": "AzureKeyVault",
                    "primaryKeyURI": key_uri,
                    "primaryUserAssignedIdentityId": identity_id,
                    "primaryEncryptionKeyStatus": s.primary_key_status,
                    "geoBackupKeyURI": geo_key_uri,
                    "geoBackupEncryptionKeyStatus": s.geo_key_status,
                }),
            };
            json!({"id": s.id, "dataEncryption": data})
        }
    };
    let storage = match &o.storage.account {
        None => json!({"account": eff.storage.account_name, "exists": false}),
        Some(a) => {
            let enc = match &a.encryption {
                ObservedAccountEncryption::MicrosoftManaged => {
                    json!({"keySource": "Microsoft.Storage"})
                }
                ObservedAccountEncryption::KeyVault(k) => json!({
                    "keySource": "Microsoft.Keyvault",
                    "keyvaultproperties": {
                        "keyvaulturi": k.key_vault_uri,
                        "keyname": k.key_name,
                        "keyversion": k.key_version,
                        "currentVersionedKeyIdentifier": k.current_versioned_key_id,
                    },
                    "identity": {"userAssignedIdentity": k.identity_id},
                }),
            };
            json!({"id": a.id, "encryption": enc, "minimumTlsVersion": a.minimum_tls_version})
        }
    };
    TdeManifest { postgres, storage }
}

/// One key version's attributes.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VersionRow {
    pub version: String,
    pub enabled: bool,
    pub created: String,
    pub not_before: Option<String>,
    pub expires: Option<String>,
}

/// Which version a consumer uses.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct ConsumerVersion {
    pub consumer: String,
    pub version: Option<String>,
}

/// The key and its versions.
#[derive(Serialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct KeyMetadata {
    pub key_vault_uri: Option<String>,
    pub key_name: Option<String>,
    pub key_version_declared: Option<String>,
    /// Key Vault's current version (the newest).
    pub current_version: Option<String>,
    pub versions: Vec<VersionRow>,
    pub consumers: Vec<ConsumerVersion>,
}

fn rows(versions: &[KeyVersionInfo]) -> Vec<VersionRow> {
    versions
        .iter()
        .map(|v| VersionRow {
            version: v.version.clone(),
            enabled: v.enabled,
            created: unix_rfc3339(v.created),
            not_before: v.nbf.map(unix_rfc3339),
            expires: v.exp.map(unix_rfc3339),
        })
        .collect()
}

/// The version each consumer of the key reports.
pub fn consumers(o: &Observed) -> Vec<ConsumerVersion> {
    let (pg, geo) = match o.postgres.server.as_ref().map(|s| &s.encryption) {
        Some(ObservedEncryption::AzureKeyVault {
            key_uri,
            geo_key_uri,
            ..
        }) => (
            key_version_of(key_uri),
            geo_key_uri.as_deref().and_then(key_version_of),
        ),
        _ => (None, None),
    };
    let st = match o.storage.account.as_ref().map(|a| &a.encryption) {
        Some(ObservedAccountEncryption::KeyVault(k)) => k.version_in_use(),
        _ => None,
    };
    let mut v = vec![ConsumerVersion {
        consumer: "postgres".into(),
        version: pg,
    }];
    if geo.is_some() {
        v.push(ConsumerVersion {
            consumer: "postgres-geo-backup".into(),
            version: geo,
        });
    }
    v.push(ConsumerVersion {
        consumer: "storage".into(),
        version: st,
    });
    v
}

/// The encryption metadata from what was read.
pub fn key_metadata(eff: &EffectiveSpec, o: &Observed) -> KeyMetadata {
    let e = eff.encryption.as_ref();
    KeyMetadata {
        key_vault_uri: e.map(|e| e.key_vault_uri.clone()),
        key_name: e.map(|e| e.key_name.clone()),
        key_version_declared: e.map(|e| e.key_version.clone()),
        current_version: newest(&o.postgres.key_versions).map(|v| v.version.clone()),
        versions: rows(&o.postgres.key_versions),
        consumers: consumers(o),
    }
}

/// The key rotation log: status.keyRotation and the plane's audit-log lines.
#[derive(Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct RotationLog {
    /// Whether the plane's status was given at all.
    pub status_given: bool,
    pub key_rotation: Option<KeyRotation>,
    /// The audit log file read, when given.
    pub audit_log: Option<String>,
    /// Its lines for this plane, as written.
    pub audit_lines: Vec<Value>,
}

/// The lines of a JSON-lines audit log that concern `plane` (its `plane` field is the name, or
/// ends with `/name`); lines that are not JSON objects are skipped.
pub fn audit_lines_for(text: &str, plane: &str) -> Vec<Value> {
    let short = plane.rsplit('/').next().unwrap_or(plane);
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
        .filter(|v| {
            v["plane"]
                .as_str()
                .is_some_and(|p| p == plane || p == short || p.rsplit('/').next() == Some(short))
        })
        .collect()
}

/// One box of the encryption flow.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct FlowNode {
    pub name: String,
    /// The key version it uses (the vault: its current version).
    pub version: Option<String>,
}

/// PostgreSQL → Key Vault ← Blob Storage with the live versions.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Flow {
    pub postgres: FlowNode,
    pub key_vault: FlowNode,
    pub storage: FlowNode,
    /// The key, `vault/keys/name`.
    pub key: String,
}

/// The flow from what was read.
pub fn flow(eff: &EffectiveSpec, o: &Observed) -> Flow {
    let versions = consumers(o);
    let of = |c: &str| {
        versions
            .iter()
            .find(|v| v.consumer == c)
            .and_then(|v| v.version.clone())
    };
    let (vault, key) = eff.encryption.as_ref().map_or_else(
        || ("(no customer-managed key)".to_owned(), String::new()),
        |e| {
            let host = e
                .key_vault_uri
                .trim_start_matches("https://")
                .trim_end_matches('/')
                .to_owned();
            let key = format!("{host}/keys/{}", e.key_name);
            (host, key)
        },
    );
    Flow {
        postgres: FlowNode {
            name: eff.postgres.server_name.clone(),
            version: of("postgres"),
        },
        key_vault: FlowNode {
            name: vault,
            version: newest(&o.postgres.key_versions).map(|v| v.version.clone()),
        },
        storage: FlowNode {
            name: eff.storage.account_name.clone(),
            version: of("storage"),
        },
        key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_lines_are_kept_for_the_plane_only() {
        let text = "{\"plane\":\"engram/acme-prod\",\"event\":\"detected\"}\nnot json\n{\"plane\":\"acme-uat\",\"event\":\"detected\"}\n{\"plane\":\"acme-prod\",\"event\":\"complete\"}\n";
        let lines = audit_lines_for(text, "acme-prod");
        let events: Vec<&str> = lines.iter().filter_map(|v| v["event"].as_str()).collect();
        assert_eq!(events, ["detected", "complete"]);
        assert!(audit_lines_for(text, "acme").is_empty());
    }
}
