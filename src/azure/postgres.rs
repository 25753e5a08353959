//! PostgreSQL flexible server (2024-08-01) through the SDK: GET server and configurations into the
//! planner's observed structs; PUT/PATCH/POST writes sent with `send()` so the LRO is recorded,
//! not awaited. Request bodies are built as ARM JSON and parsed into the SDK models (which checks
//! their shape against the API version).

use serde_json::{json, Value};

use super::error::{from_core, ArmError, HttpFailure};
use super::{keyvault, submitted, Arm, Submitted};
use crate::api::EffectiveSpec;
use crate::plan::{
    newest, pg_keys as pgplan_keys, postgres as pgplan, AuthConfig, CmkKeys, KeyVersionInfo,
    ObservedEncryption, ObservedPostgres, ObservedServer, ObservedWindow, Op, PgServerCreate,
    PgServerPatch, PgTarget,
};
use azure_core::Method;
use pgsdk_models::{Configuration, Server, ServerForUpdate};

/// The PostgreSQL api-version the operator speaks (its SDK package).
pub const PG_API_VERSION: &str = "2024-08-01";
/// The api-version of a server write carrying a versionless key URI (`postgresKeyTracking: auto`):
/// the first that accepts one.
pub const PG_AUTO_KEY_API_VERSION: &str = "2025-08-01";

/// The api-version a write with these keys needs.
pub(super) fn version_for(keys: Option<&CmkKeys>) -> &'static str {
    let versionless = |u: &str| crate::plan::key_version_of(u).is_none();
    match keys {
        Some(k)
            if versionless(&k.primary.uri)
                || k.geo.as_ref().is_some_and(|g| versionless(&g.uri)) =>
        {
            PG_AUTO_KEY_API_VERSION
        }
        _ => PG_API_VERSION,
    }
}

pub(super) use azure_mgmt_postgresql::package_flexibleserver_2024_08_01::models as pgsdk_models;

pub(super) fn status_of(e: &azure_core::Error) -> Option<u16> {
    e.downcast_ref::<HttpFailure>().map(|f| f.status)
}

pub(super) fn to_model<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, ArmError> {
    serde_json::from_value(v).map_err(|e| ArmError::Decode(format!("request body: {e}")))
}

impl Arm {
    pub(super) async fn observe_postgres(
        &self,
        eff: &EffectiveSpec,
    ) -> Result<ObservedPostgres, ArmError> {
        let t = pgplan::target(eff);
        let server = self.read_server(&t).await?;
        let mut obs = ObservedPostgres {
            server,
            ..Default::default()
        };
        if obs.server.is_some() {
            obs.configs = self.list_configs(&t, eff).await?;
        }
        // The key's versions with their attributes (a disabled version answers 403 to a direct
        // GET, so the list is the one read that always works): the current version for `latest`,
        // and whether a target may be used at all.
        if let Some(enc) = &eff.encryption {
            obs.key_versions = self.key_versions(&enc.key_vault_uri, &enc.key_name).await?;
            if eff.pinned_key_version().is_none() {
                obs.latest_key_uri =
                    versioned(&enc.key_vault_uri, &enc.key_name, &obs.key_versions);
            }
            if let Some(g) = enc
                .geo_backup
                .as_ref()
                .filter(|_| eff.postgres.geo_redundant_backup)
            {
                obs.geo_key_versions = self.key_versions(&g.key_vault_uri, &g.key_name).await?;
                if pgplan_keys::follows_latest_geo(eff) {
                    obs.latest_geo_key_uri =
                        versioned(&g.key_vault_uri, &g.key_name, &obs.geo_key_versions);
                }
            }
        }
        if obs.server.is_none() {
            obs.name_unavailable = self
                .server_name_unavailable(&t, &eff.azure.location)
                .await?;
        }
        Ok(obs)
    }

    /// GET one server (None on 404), through the SDK and the counted pipeline like every read.
    pub(super) async fn read_server(
        &self,
        t: &PgTarget,
    ) -> Result<Option<ObservedServer>, ArmError> {
        self.retrying("get server", || async {
            match self
                .pg
                .servers_client()
                .get(&t.subscription_id, &t.resource_group, &t.server_name)
                .send()
                .await
            {
                Ok(rsp) => {
                    let body: Server = rsp.into_body().await.map_err(from_core)?;
                    Ok(Some(map_server(
                        &serde_json::to_value(&body).unwrap_or_default(),
                    )))
                }
                Err(e) if status_of(&e) == Some(404) => Ok(None),
                Err(e) => Err(from_core(e)),
            }
        })
        .await
    }

    /// A new version of a key through Key Vault's rotate endpoint (synchronous).
    pub(super) async fn rotate_key(&self, vault: &str, name: &str) -> Result<Submitted, ArmError> {
        let url = keyvault::rotate_url(vault, name);
        let (_, headers, _) = self
            .retrying("rotate key", || async {
                self.raw_send(Method::Post, &url, None).await
            })
            .await?;
        Ok(Submitted {
            operation_url: None,
            ..submitted(&headers)
        })
    }

    /// Every version of a key, oldest first (`GET /keys/{name}/versions`, following nextLink on
    /// the same vault). No such key: none.
    async fn key_versions(&self, vault: &str, name: &str) -> Result<Vec<KeyVersionInfo>, ArmError> {
        let mut url = Some(keyvault::versions_url(vault, name));
        let mut out = Vec::new();
        while let Some(u) = url.take() {
            let page = match self
                .retrying("list key versions", || async { self.raw_get(&u).await })
                .await
            {
                Ok((_, _, body)) => keyvault::versions_page(&body)?,
                // No such key (yet): the planner refuses to send a key URI without a version.
                Err(ArmError::Fatal { status: 404, .. }) => return Ok(Vec::new()),
                Err(e) => return Err(e),
            };
            out.extend(page.0);
            url = page.1.filter(|next| keyvault::same_vault(next, vault));
        }
        out.sort_by_key(|v| v.created);
        Ok(out)
    }

    pub(super) async fn submit_postgres(&self, op: &Op) -> Result<Submitted, ArmError> {
        if let Op::PgCreate(t, c) = op {
            return self.create_server(t, c).await;
        }
        // A versionless key is not expressible at the SDK's api-version: the raw pipeline, at the
        // version that accepts it.
        if let Op::PgPatch(t, p) = op {
            if version_for(p.key.as_ref()) != PG_API_VERSION {
                let url = self.server_url(t, PG_AUTO_KEY_API_VERSION);
                let body = patch_body(p);
                let (_, headers, _) = self
                    .retrying("write", || async {
                        self.raw_send(Method::Patch, &url, Some(&body)).await
                    })
                    .await?;
                return Ok(submitted(&headers));
            }
        }
        // Writes are retried only for throttling / server errors / network drops; a busy 409 is
        // left to the next reconcile, which reads the server state first.
        let headers = self
            .retrying("write", || async {
                let sc = self.pg.servers_client();
                let res = match op {
                    Op::PgPatch(t, p) => {
                        let body: ServerForUpdate = to_model(patch_body(p))?;
                        sc.update(&t.subscription_id, &t.resource_group, &t.server_name, body)
                            .send()
                            .await
                            .map(|r| r.as_raw_response().headers().clone())
                    }
                    Op::PgStart(t) => sc
                        .start(&t.subscription_id, &t.resource_group, &t.server_name)
                        .send()
                        .await
                        .map(|r| r.as_raw_response().headers().clone()),
                    Op::PgStop(t) => sc
                        .stop(&t.subscription_id, &t.resource_group, &t.server_name)
                        .send()
                        .await
                        .map(|r| r.as_raw_response().headers().clone()),
                    Op::PgRestart(t) => sc
                        .restart(&t.subscription_id, &t.resource_group, &t.server_name)
                        .send()
                        .await
                        .map(|r| r.as_raw_response().headers().clone()),
                    Op::PgDelete(t) => sc
                        .delete(&t.subscription_id, &t.resource_group, &t.server_name)
                        .send()
                        .await
                        .map(|r| r.as_raw_response().headers().clone()),
                    Op::PgConfigure(t, name, value) => {
                        let body: Configuration = to_model(
                            json!({"properties": {"value": value, "source": "user-override"}}),
                        )?;
                        self.pg
                            .configurations_client()
                            .put(
                                &t.subscription_id,
                                &t.resource_group,
                                &t.server_name,
                                name,
                                body,
                            )
                            .send()
                            .await
                            .map(|r| r.as_raw_response().headers().clone())
                    }
                    Op::PgCreate(..)
                    | Op::FirewallPut(..)
                    | Op::FirewallDelete(..)
                    | Op::EntraAdminPut(..)
                    | Op::DrillRestore(..)
                    | Op::DrillDelete { .. }
                    | Op::Network(_)
                    | Op::Storage(_)
                    | Op::AlertPut(..)
                    | Op::AlertDelete(_)
                    | Op::DiagPut(..)
                    | Op::BudgetPut(..)
                    | Op::DiagDelete(_)
                    | Op::KeyRotate { .. }
                    | Op::SetTags(..) => {
                        return Err(ArmError::Decode("not a PostgreSQL write".into()))
                    }
                };
                res.map_err(from_core)
            })
            .await?;
        Ok(submitted(&headers))
    }
}

impl Arm {
    /// The create PUT, sent as ARM JSON: the SDK's `UserAssignedIdentityMap` (2024-08-01) is an
    /// empty struct and would drop every user-assigned identity, so the body is only checked
    /// against the SDK model, then sent as built.
    /// A server's URL at an api-version.
    pub(super) fn server_url(&self, t: &PgTarget, api_version: &str) -> String {
        format!(
            "{}/subscriptions/{}/resourceGroups/{}/providers/{}/{}?api-version={api_version}",
            self.endpoint.as_str().trim_end_matches('/'),
            t.subscription_id,
            t.resource_group,
            pgplan::SERVER_TYPE,
            t.server_name
        )
    }

    async fn create_server(&self, t: &PgTarget, c: &PgServerCreate) -> Result<Submitted, ArmError> {
        let body = create_body(c);
        let _: Server = to_model(body.clone())?;
        let url = self.server_url(t, version_for(c.cmk.as_ref()));
        let (_, headers, _) = self
            .retrying("create server", || async {
                self.raw_send(Method::Put, &url, Some(&body)).await
            })
            .await?;
        Ok(submitted(&headers))
    }
}

pub(super) fn s(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    match cur {
        Value::String(x) => Some(x.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn n(v: &Value, path: &[&str]) -> u32 {
    s(v, path).and_then(|x| x.parse().ok()).unwrap_or_default()
}

/// ARM server JSON → observed server.
pub fn map_server(v: &Value) -> ObservedServer {
    let p = |path: &[&str]| {
        let mut full = vec!["properties"];
        full.extend_from_slice(path);
        s(v, &full)
    };
    let window = match p(&["maintenanceWindow", "customWindow"]).as_deref() {
        Some(w) if w.eq_ignore_ascii_case("Enabled") => Some(ObservedWindow {
            day_of_week: n(v, &["properties", "maintenanceWindow", "dayOfWeek"]) as u8,
            start_hour: n(v, &["properties", "maintenanceWindow", "startHour"]) as u8,
            start_minute: n(v, &["properties", "maintenanceWindow", "startMinute"]) as u8,
        }),
        _ => None,
    };
    let encryption = match p(&["dataEncryption", "type"]).as_deref() {
        Some("AzureKeyVault") => ObservedEncryption::AzureKeyVault {
            key_uri: p(&["dataEncryption", "primaryKeyURI"]).unwrap_or_default(),
            identity_id: p(&["dataEncryption", "primaryUserAssignedIdentityId"]),
            geo_key_uri: p(&["dataEncryption", "geoBackupKeyURI"]).filter(|u| !u.is_empty()),
        },
        _ => ObservedEncryption::SystemManaged,
    };
    ObservedServer {
        primary_key_status: p(&["dataEncryption", "primaryEncryptionKeyStatus"]),
        geo_key_status: p(&["dataEncryption", "geoBackupEncryptionKeyStatus"]),
        tags: super::tags_of(v),
        id: s(v, &["id"]).unwrap_or_default(),
        state: p(&["state"]).unwrap_or_else(|| "Ready".into()),
        version: p(&["version"]),
        sku_name: s(v, &["sku", "name"]).unwrap_or_default(),
        sku_tier: s(v, &["sku", "tier"]).unwrap_or_default(),
        storage_gib: n(v, &["properties", "storage", "storageSizeGB"]),
        auto_grow: p(&["storage", "autoGrow"]).is_some_and(|a| a.eq_ignore_ascii_case("Enabled")),
        ha_mode: p(&["highAvailability", "mode"]).unwrap_or_else(|| "Disabled".into()),
        ha_state: p(&["highAvailability", "state"]),
        availability_zone: p(&["availabilityZone"]),
        standby_zone: p(&["highAvailability", "standbyAvailabilityZone"]),
        backup_retention_days: n(v, &["properties", "backup", "backupRetentionDays"]),
        geo_redundant_backup: p(&["backup", "geoRedundantBackup"])
            .is_some_and(|g| g.eq_ignore_ascii_case("Enabled")),
        maintenance_window: window,
        encryption,
        fqdn: p(&["fullyQualifiedDomainName"]),
        public_network_access: p(&["network", "publicNetworkAccess"]),
        delegated_subnet: p(&["network", "delegatedSubnetResourceId"]).filter(|d| !d.is_empty()),
        connections: super::network::map_connections(v),
        auth: p(&["authConfig", "activeDirectoryAuth"]).map(|ad| AuthConfig {
            active_directory: ad.eq_ignore_ascii_case("Enabled"),
            // The service's default when it is not reported.
            password: p(&["authConfig", "passwordAuth"])
                .is_none_or(|pw| pw.eq_ignore_ascii_case("Enabled")),
        }),
    }
}

pub(super) fn enabled(b: bool) -> &'static str {
    if b {
        "Enabled"
    } else {
        "Disabled"
    }
}

fn window_json(w: &ObservedWindow) -> Value {
    json!({"customWindow": "Enabled", "dayOfWeek": w.day_of_week, "startHour": w.start_hour, "startMinute": w.start_minute})
}

/// The server's user-assigned identities: the primary key's and, with it, the geo-backup key's.
pub(super) fn identity_json(keys: &CmkKeys) -> Value {
    let mut ids = serde_json::Map::new();
    for k in std::iter::once(&keys.primary).chain(keys.geo.as_ref()) {
        ids.insert(k.identity_id.clone(), json!({}));
    }
    json!({"type": "UserAssigned", "userAssignedIdentities": ids})
}

/// `dataEncryption`: the versioned primary key and, with geo-redundant backup, the geo-backup key.
pub(super) fn encryption_json(keys: &CmkKeys) -> Value {
    let mut enc = json!({"type": "AzureKeyVault", "primaryKeyURI": keys.primary.uri, "primaryUserAssignedIdentityId": keys.primary.identity_id});
    if let Some(g) = &keys.geo {
        enc["geoBackupKeyURI"] = json!(g.uri);
        enc["geoBackupUserAssignedIdentityId"] = json!(g.identity_id);
    }
    enc
}

/// The create PUT body. Authentication is Microsoft Entra only, so no password is ever sent.
pub fn create_body(c: &PgServerCreate) -> Value {
    let mut props = json!({
        "version": c.version,
        "storage": {"storageSizeGB": c.storage_gib, "autoGrow": enabled(c.auto_grow)},
        "backup": {"backupRetentionDays": c.backup_retention_days, "geoRedundantBackup": enabled(c.geo_redundant_backup)},
        "highAvailability": {"mode": c.ha_mode},
        "authConfig": {"activeDirectoryAuth": "Enabled", "passwordAuth": "Disabled"},
        "createMode": "Create",
        "network": {"publicNetworkAccess": c.public_network_access},
    });
    if let Some(d) = &c.delegated_subnet {
        props["network"]["delegatedSubnetResourceId"] = json!(d);
    }
    if let Some(z) = &c.private_dns_zone {
        props["network"]["privateDnsZoneArmResourceId"] = json!(z);
    }
    if let Some(z) = &c.availability_zone {
        props["availabilityZone"] = json!(z);
    }
    if let Some(z) = &c.standby_zone {
        props["highAvailability"]["standbyAvailabilityZone"] = json!(z);
    }
    if let Some(w) = &c.maintenance_window {
        props["maintenanceWindow"] = window_json(w);
    }
    let mut body = json!({"location": c.location, "tags": c.tags, "sku": {"name": c.sku_name, "tier": c.sku_tier}, "properties": props});
    if let Some(keys) = &c.cmk {
        body["properties"]["dataEncryption"] = encryption_json(keys);
        body["identity"] = identity_json(keys);
    }
    body
}

/// The PATCH body: only the fields that differ.
pub fn patch_body(p: &PgServerPatch) -> Value {
    let mut body = json!({});
    let mut props = serde_json::Map::new();
    if let Some((tier, name)) = &p.sku {
        body["sku"] = json!({"name": name, "tier": tier});
    }
    let mut storage = serde_json::Map::new();
    if let Some(g) = p.storage_gib {
        storage.insert("storageSizeGB".into(), json!(g));
    }
    if let Some(a) = p.auto_grow {
        storage.insert("autoGrow".into(), json!(enabled(a)));
    }
    if !storage.is_empty() {
        props.insert("storage".into(), Value::Object(storage));
    }
    if let Some((mode, zone)) = &p.ha {
        let mut ha = json!({"mode": mode});
        if let Some(z) = zone {
            ha["standbyAvailabilityZone"] = json!(z);
        }
        props.insert("highAvailability".into(), ha);
    }
    if let Some(d) = p.backup_retention_days {
        props.insert("backup".into(), json!({"backupRetentionDays": d}));
    }
    if let Some(w) = &p.maintenance_window {
        props.insert("maintenanceWindow".into(), window_json(w));
    }
    if let Some(keys) = &p.key {
        props.insert("dataEncryption".into(), encryption_json(keys));
    }
    if let Some(a) = &p.public_network_access {
        props.insert("network".into(), json!({"publicNetworkAccess": a}));
    }
    if let Some(a) = &p.auth_config {
        props.insert(
            "authConfig".into(),
            json!({"activeDirectoryAuth": enabled(a.active_directory), "passwordAuth": enabled(a.password)}),
        );
    }
    if !props.is_empty() {
        body["properties"] = Value::Object(props);
    }
    body
}

/// The versioned URI of a key's current (newest) version.
fn versioned(vault: &str, name: &str, versions: &[KeyVersionInfo]) -> Option<String> {
    newest(versions).map(|v| format!("{}/keys/{name}/{}", vault.trim_end_matches('/'), v.version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::KeyRef;

    #[test]
    fn patch_carries_only_the_differing_fields_and_parses_as_the_sdk_model() {
        let p = PgServerPatch {
            backup_retention_days: Some(35),
            ..Default::default()
        };
        let b = patch_body(&p);
        assert_eq!(
            b,
            json!({"properties": {"backup": {"backupRetentionDays": 35}}})
        );
        let _: ServerForUpdate = to_model(b).unwrap();
        let p = PgServerPatch {
            sku: Some(("GeneralPurpose".into(), "Standard_D4s_v3".into())),
            ..Default::default()
        };
        assert_eq!(
            patch_body(&p),
            json!({"sku": {"name": "Standard_D4s_v3", "tier": "GeneralPurpose"}})
        );
    }

    #[test]
    fn server_round_trips_through_the_sdk_model() {
        let c = PgServerCreate {
            tags: Default::default(),
            location: "eastus2".into(),
            version: "16".into(),
            sku_tier: "GeneralPurpose".into(),
            sku_name: "Standard_D4s_v3".into(),
            availability_zone: Some("1".into()),
            storage_gib: 128,
            auto_grow: true,
            ha_mode: "ZoneRedundant".into(),
            standby_zone: Some("2".into()),
            backup_retention_days: 35,
            geo_redundant_backup: true,
            maintenance_window: Some(ObservedWindow {
                day_of_week: 0,
                start_hour: 2,
                start_minute: 0,
            }),
            public_network_access: "Disabled".into(),
            delegated_subnet: None,
            private_dns_zone: None,
            cmk: Some(CmkKeys {
                primary: KeyRef {
                    uri: "https://kv/keys/k/1".into(),
                    identity_id: "/id".into(),
                },
                geo: Some(KeyRef {
                    uri: "https://kv-geo/keys/k/2".into(),
                    identity_id: "/id-geo".into(),
                }),
            }),
        };
        let body = create_body(&c);
        let ids = body["identity"]["userAssignedIdentities"]
            .as_object()
            .unwrap();
        assert_eq!(ids.len(), 2, "primary and geo-backup identities");
        assert_eq!(
            body["properties"]["dataEncryption"]["geoBackupUserAssignedIdentityId"],
            "/id-geo"
        );
        let model: Server = to_model(body).unwrap();
        let mut v = serde_json::to_value(&model).unwrap();
        v["properties"]["state"] = json!("Ready");
        let o = map_server(&v);
        assert_eq!(
            (
                o.sku_name.as_str(),
                o.storage_gib,
                o.auto_grow,
                o.ha_mode.as_str()
            ),
            ("Standard_D4s_v3", 128, true, "ZoneRedundant")
        );
        assert_eq!(o.standby_zone.as_deref(), Some("2"));
        assert_eq!(o.backup_retention_days, 35);
        assert!(o.geo_redundant_backup);
        assert_eq!(o.maintenance_window, c.maintenance_window);
        assert_eq!(
            o.encryption,
            ObservedEncryption::AzureKeyVault {
                key_uri: "https://kv/keys/k/1".into(),
                identity_id: Some("/id".into()),
                geo_key_uri: Some("https://kv-geo/keys/k/2".into()),
            }
        );
    }
}
