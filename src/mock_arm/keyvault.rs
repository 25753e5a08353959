//! Key Vault keys data plane, served on the Key Vault listener as `/keys/...` of the vault its
//! `Host` header names (routed internally as `/keyvault/{vault}/keys/...`): get (latest or a
//! version), list versions, create a new version, rotate, and update a version's attributes
//! (enabled, nbf, exp). A disabled version answers 403 to a direct GET, as Key Vault does; the
//! versions list still shows it, with its attributes.

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
    /// Key Vault's `attributes.enabled`; a disabled version cannot be read or used.
    pub enabled: bool,
    /// Not usable before (`nbf`, Unix seconds).
    pub nbf: Option<i64>,
    /// Not usable after (`exp`, Unix seconds).
    pub exp: Option<i64>,
}

impl KeyVersion {
    /// Whether a service may wrap and unwrap with this version at `now`.
    pub fn usable(&self, now: i64) -> bool {
        self.enabled && self.nbf.is_none_or(|t| t <= now) && self.exp.is_none_or(|t| now < t)
    }
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
    version_of(world, vault, name, version).is_some()
}

/// One version of a key (`latest`: the newest).
pub fn version_of<'a>(
    world: &'a World,
    vault: &str,
    name: &str,
    version: &str,
) -> Option<&'a KeyVersion> {
    let vs = world.keys.get(&key_of(vault, name))?;
    if version.is_empty() || version == "latest" {
        return vs.last();
    }
    vs.iter().find(|v| v.version.eq_ignore_ascii_case(version))
}

/// Whether the key a URI names (`https://{vault}.vault.azure.net/keys/{name}[/{version}]`) can be
/// used at `now`: it exists, and the version (the newest for a versionless URI) is enabled and
/// inside its nbf/exp window.
pub fn uri_usable(world: &World, uri: &str, now: i64) -> bool {
    let rest = uri.trim_start_matches("https://");
    let vault = rest.split(['.', '/']).next().unwrap_or_default();
    let Some(i) = rest.find("/keys/") else {
        return false;
    };
    let mut parts = rest[i + "/keys/".len()..].split('/');
    let name = parts.next().unwrap_or_default();
    let version = parts.next().unwrap_or_default();
    version_of(world, vault, name, version).is_some_and(|v| v.usable(now))
}

fn disabled(name: &str) -> ArmError {
    ArmError::new(
        403,
        "Forbidden",
        format!("Operation get is not allowed on a disabled key: {name}."),
    )
}

fn attributes(v: &KeyVersion) -> Value {
    let mut a = json!({"enabled": v.enabled, "created": v.created, "updated": v.created, "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90});
    if let Some(t) = v.nbf {
        a["nbf"] = json!(t);
    }
    if let Some(t) = v.exp {
        a["exp"] = json!(t);
    }
    a
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
        "attributes": attributes(v),
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
            if !v.enabled {
                return Err(disabled(name));
            }
            Ok(Reply::json(200, bundle(vault, name, v)))
        }
        ("GET", ["versions"]) => {
            let vs = world.keys.get(&key).ok_or_else(|| not_found(name))?;
            let value: Vec<Value> = vs
                .iter()
                .map(|v| json!({"kid": kid(vault, name, &v.version), "attributes": attributes(v)}))
                .collect();
            Ok(Reply::json(200, json!({"value": value, "nextLink": null})))
        }
        ("GET", [version]) => {
            let v = world
                .keys
                .get(&key)
                .and_then(|vs| vs.iter().find(|v| v.version.eq_ignore_ascii_case(version)))
                .ok_or_else(|| not_found(&format!("{name}/{version}")))?;
            if !v.enabled {
                return Err(disabled(&format!("{name}/{version}")));
            }
            Ok(Reply::json(200, bundle(vault, name, v)))
        }
        ("PATCH", [version]) => {
            let v = world
                .keys
                .get_mut(&key)
                .and_then(|vs| {
                    vs.iter_mut()
                        .find(|v| v.version.eq_ignore_ascii_case(version))
                })
                .ok_or_else(|| not_found(&format!("{name}/{version}")))?;
            update_attributes(v, &req.body["attributes"])?;
            let v = v.clone();
            Ok(Reply::json(200, bundle(vault, name, &v)))
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
                enabled: true,
                nbf: None,
                exp: None,
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
                enabled: true,
                nbf: None,
                exp: None,
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
            enabled: true,
            nbf: None,
            exp: None,
            ..last.clone()
        },
        None => KeyVersion {
            version: String::new(),
            kty: "RSA".into(),
            key_ops: json!(["wrapKey", "unwrapKey"]),
            created,
            tags: json!({}),
            enabled: true,
            nbf: None,
            exp: None,
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

/// `PATCH /keys/{name}/{version}`: `attributes.enabled`, `nbf` and `exp` (null clears a time).
fn update_attributes(v: &mut KeyVersion, a: &Value) -> Result<(), ArmError> {
    let bad = |what: &str| ArmError::bad_request("BadParameter", format!("Invalid {what}."));
    if let Some(e) = a.get("enabled") {
        v.enabled = e.as_bool().ok_or_else(|| bad("enabled"))?;
    }
    for (field, slot) in [("nbf", &mut v.nbf), ("exp", &mut v.exp)] {
        match a.get(field) {
            None => {}
            Some(Value::Null) => *slot = None,
            Some(t) => *slot = Some(t.as_i64().ok_or_else(|| bad(field))?),
        }
    }
    Ok(())
}

/// Out of band (the control API, tests): set a version's attributes as an administrator would.
pub fn set_attributes(
    world: &mut World,
    vault: &str,
    name: &str,
    version: &str,
    attributes: &Value,
) -> Result<(), ArmError> {
    let v = world
        .keys
        .get_mut(&key_of(vault, name))
        .and_then(|vs| {
            vs.iter_mut()
                .find(|v| v.version.eq_ignore_ascii_case(version))
        })
        .ok_or_else(|| not_found(&format!("{name}/{version}")))?;
    update_attributes(v, attributes)
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
