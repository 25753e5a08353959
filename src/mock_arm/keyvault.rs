//! Key Vault keys data plane, served on the Key Vault listener as `/keys/...` of the vault its
//! `Host` header names (routed internally as `/keyvault/{vault}/keys/...`): get (latest or a
//! version), list versions, create a new version, rotate.

use serde_json::{json, Value};

use super::errors::ArmError;
use super::store::{hex_id, Reply, Req, World};

/// One version of a key.
#[derive(Debug, Clone)]
pub struct KeyVersion {
    pub version: String,
    pub kty: String,
    pub key_ops: Value,
    pub created: i64,
    pub tags: Value,
}

/// The key id (`kid`) as Key Vault writes it.
pub fn kid(vault: &str, name: &str, version: &str) -> String {
    format!(
        "https://{}.vault.azure.net/keys/{name}/{version}",
        vault.to_ascii_lowercase()
    )
}

fn key_of(vault: &str, name: &str) -> String {
    format!(
        "{}/{}",
        vault.to_ascii_lowercase(),
        name.to_ascii_lowercase()
    )
}

/// The kid of the newest version of a key, if the key exists.
pub fn latest_kid(world: &World, vault: &str, name: &str) -> Option<String> {
    let versions = world.keys.get(&key_of(vault, name))?;
    versions.last().map(|v| kid(vault, name, &v.version))
}

/// Whether a version of a key exists.
pub fn has_version(world: &World, vault: &str, name: &str, version: &str) -> bool {
    world
        .keys
        .get(&key_of(vault, name))
        .is_some_and(|vs| vs.iter().any(|v| v.version.eq_ignore_ascii_case(version)))
}

fn not_found(name: &str) -> ArmError {
    ArmError::new(
        404,
        "KeyNotFound",
        format!("A key with (name/id) {name} was not found in this key vault."),
    )
}

fn bundle(vault: &str, name: &str, v: &KeyVersion) -> Value {
    // A fixed, well-formed public modulus stand-in (base64url); the mock never does cryptography.
    let n = "u1S0mOck".repeat(43);
    json!({
        "key": {"kid": kid(vault, name, &v.version), "kty": v.kty, "key_ops": v.key_ops, "n": n, "e": "AQAB"},
        "attributes": {"enabled": true, "created": v.created, "updated": v.created, "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90},
        "tags": v.tags,
    })
}

/// Dispatch `/keyvault/{vault}/keys/{name}/{rest...}`.
pub fn handle(
    world: &mut World,
    req: &Req,
    vault: &str,
    name: &str,
    rest: &[&str],
) -> Result<Reply, ArmError> {
    let key = key_of(vault, name);
    match (req.method, rest) {
        ("GET", []) => {
            let v = world
                .keys
                .get(&key)
                .and_then(|vs| vs.last())
                .ok_or_else(|| not_found(name))?;
            Ok(Reply::json(200, bundle(vault, name, v)))
        }
        ("GET", ["versions"]) => {
            let vs = world.keys.get(&key).ok_or_else(|| not_found(name))?;
            let value: Vec<Value> = vs
                .iter()
                .map(|v| {
                    json!({"kid": kid(vault, name, &v.version),
                           "attributes": {"enabled": true, "created": v.created, "updated": v.created, "recoveryLevel": "Recoverable+Purgeable"}})
                })
                .collect();
            Ok(Reply::json(200, json!({"value": value, "nextLink": null})))
        }
        ("GET", [version]) => {
            let v = world
                .keys
                .get(&key)
                .and_then(|vs| vs.iter().find(|v| v.version.eq_ignore_ascii_case(version)))
                .ok_or_else(|| not_found(&format!("{name}/{version}")))?;
            Ok(Reply::json(200, bundle(vault, name, v)))
        }
        ("POST", ["create"]) => {
            let kty = req.body.get("kty").and_then(Value::as_str).ok_or_else(|| {
                ArmError::bad_request("BadParameter", "The parameter kty is required.")
            })?;
            if !matches!(kty, "RSA" | "RSA-HSM" | "EC" | "EC-HSM" | "oct-HSM") {
                return Err(ArmError::bad_request(
                    "BadParameter",
                    format!("Invalid key type {kty}."),
                ));
            }
            let v = KeyVersion {
                version: String::new(),
                kty: kty.to_string(),
                key_ops: req
                    .body
                    .get("key_ops")
                    .cloned()
                    .unwrap_or_else(|| json!(["wrapKey", "unwrapKey"])),
                created: req.now.unix_timestamp(),
                tags: req.body.get("tags").cloned().unwrap_or_else(|| json!({})),
            };
            Ok(Reply::json(200, add_version(world, vault, name, v)))
        }
        ("POST", ["rotate"]) => {
            let last = world
                .keys
                .get(&key)
                .and_then(|vs| vs.last())
                .cloned()
                .ok_or_else(|| not_found(name))?;
            let v = KeyVersion {
                created: req.now.unix_timestamp(),
                ..last
            };
            Ok(Reply::json(200, add_version(world, vault, name, v)))
        }
        _ => Err(ArmError::new(
            405,
            "MethodNotAllowed",
            "The requested method is not supported for this path.",
        )),
    }
}

/// Out of band (the control API, the demo's seeding): a new version of a key, as `rotate` would
/// make it, or the first (RSA) version of a new key. Returns the version id.
pub fn new_version(world: &mut World, vault: &str, name: &str, created: i64) -> String {
    let v = match world
        .keys
        .get(&key_of(vault, name))
        .and_then(|vs| vs.last())
    {
        Some(last) => KeyVersion {
            created,
            ..last.clone()
        },
        None => KeyVersion {
            version: String::new(),
            kty: "RSA".into(),
            key_ops: json!(["wrapKey", "unwrapKey"]),
            created,
            tags: json!({}),
        },
    };
    add_version(world, vault, name, v);
    world
        .keys
        .get(&key_of(vault, name))
        .and_then(|vs| vs.last())
        .map(|v| v.version.clone())
        .unwrap_or_default()
}

fn add_version(world: &mut World, vault: &str, name: &str, mut v: KeyVersion) -> Value {
    let seq = world.next_seq();
    v.version = hex_id(seq, 0x6b65_7973);
    let body = bundle(vault, name, &v);
    world.keys.entry(key_of(vault, name)).or_default().push(v);
    body
}

/// The keys, for the dump.
pub fn dump(world: &World) -> Value {
    world
        .keys
        .iter()
        .map(|(k, vs)| {
            (
                k.clone(),
                json!(vs.iter().map(|v| v.version.clone()).collect::<Vec<_>>()),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}
