//! Network isolation over the raw pipeline: Microsoft.Network private endpoints and their DNS zone
//! groups (2024-05-01, no SDK crate here), the server's firewall rules (PostgreSQL 2024-08-01),
//! and the mapping of the network parts of server and account bodies. Every write is recorded as
//! a long-running operation, never awaited.

use std::collections::BTreeMap;

use azure_core::Method;
use serde_json::{json, Value};

use super::error::ArmError;
use super::network_wire::{PrivateDnsZoneGroup, PrivateEndpoint};
use super::postgres::PG_API_VERSION;
use super::{submitted, Arm, Submitted};
use crate::api::network::FirewallRule;
use crate::api::EffectiveSpec;
use crate::plan::network::{
    endpoint_target, EndpointCreate, EndpointTarget, NetworkOp, Service, NETWORK_API_VERSION,
    ZONE_GROUP,
};
use crate::plan::{
    ObservedConnection, ObservedFirewallRule, ObservedNetworkAcls, ObservedPrivateEndpoint,
    PgTarget,
};

/// `properties.privateEndpointConnections` of a server or account body.
pub fn map_connections(v: &Value) -> Vec<ObservedConnection> {
    v.pointer("/properties/privateEndpointConnections")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| ObservedConnection {
            private_endpoint_id: c
                .pointer("/properties/privateEndpoint/id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            status: c
                .pointer("/properties/privateLinkServiceConnectionState/status")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        })
        .collect()
}

/// `properties.networkAcls` of an account body.
pub fn map_acls(v: &Value) -> ObservedNetworkAcls {
    let a = v
        .pointer("/properties/networkAcls")
        .cloned()
        .unwrap_or_default();
    let list = |k: &str, field: &str| -> Vec<String> {
        a[k].as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r[field].as_str().map(ToOwned::to_owned))
            .collect()
    };
    ObservedNetworkAcls {
        default_action: a["defaultAction"].as_str().map(ToOwned::to_owned),
        bypass: a["bypass"].as_str().map(ToOwned::to_owned),
        ip_rules: list("ipRules", "value"),
        virtual_network_rules: list("virtualNetworkRules", "id"),
    }
}

/// The `networkAcls` body of desired rules.
pub fn acls_json(a: &ObservedNetworkAcls) -> Value {
    json!({
        "defaultAction": a.default_action.as_deref().unwrap_or("Deny"),
        "bypass": a.bypass.as_deref().unwrap_or("AzureServices"),
        "ipRules": a.ip_rules.iter().map(|r| json!({"value": r, "action": "Allow"})).collect::<Vec<_>>(),
        "virtualNetworkRules": a.virtual_network_rules.iter().map(|id| json!({"id": id, "action": "Allow"})).collect::<Vec<_>>(),
    })
}

/// An endpoint (and its zone group) as the planner sees it.
pub fn map_endpoint(
    pe: &PrivateEndpoint,
    zone: Option<&PrivateDnsZoneGroup>,
) -> ObservedPrivateEndpoint {
    let p = &pe.properties;
    let link = p
        .private_link_service_connections
        .iter()
        .chain(&p.manual_private_link_service_connections)
        .next();
    ObservedPrivateEndpoint {
        id: pe.id.clone(),
        tags: pe.tags.clone(),
        provisioning_state: p.provisioning_state.clone(),
        subnet_id: p.subnet.as_ref().map(|s| s.id.clone()).unwrap_or_default(),
        target_id: link
            .map(|l| l.properties.private_link_service_id.clone())
            .unwrap_or_default(),
        group_ids: link
            .map(|l| l.properties.group_ids.clone())
            .unwrap_or_default(),
        private_ip: p
            .custom_dns_configs
            .iter()
            .flat_map(|c| c.ip_addresses.iter())
            .next()
            .cloned(),
        dns_zones: zone.map(|z| {
            z.properties
                .private_dns_zone_configs
                .iter()
                .map(|c| c.properties.private_dns_zone_id.clone())
                .collect()
        }),
    }
}

/// The create PUT of an endpoint: one auto-approved connection to the target's group.
pub fn endpoint_body(name: &str, c: &EndpointCreate) -> Value {
    json!({
        "location": c.location,
        "tags": c.tags,
        "properties": {
            "subnet": {"id": c.subnet_id},
            "privateLinkServiceConnections": [{
                "name": name,
                "properties": {"privateLinkServiceId": c.target_id, "groupIds": [c.group_id]},
            }],
        },
    })
}

/// The PUT of the `default` zone group: one zone, its config named after the zone.
pub fn zone_group_body(zone_id: &str) -> Value {
    let zone = zone_id.rsplit('/').next().unwrap_or_default();
    json!({"properties": {"privateDnsZoneConfigs": [{
        "name": zone.replace('.', "-"),
        "properties": {"privateDnsZoneId": zone_id},
    }]}})
}

impl Arm {
    fn base(&self) -> &str {
        self.endpoint.as_str().trim_end_matches('/')
    }

    fn endpoint_url(&self, t: &EndpointTarget, child: &str) -> String {
        format!(
            "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/privateEndpoints/{}{child}?api-version={NETWORK_API_VERSION}",
            self.base(),
            t.subscription_id,
            t.resource_group,
            t.name
        )
    }

    fn firewall_url(&self, t: &PgTarget, rule: Option<&str>) -> String {
        format!(
            "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.DBforPostgreSQL/flexibleServers/{}/firewallRules{}?api-version={PG_API_VERSION}",
            self.base(),
            t.subscription_id,
            t.resource_group,
            t.server_name,
            rule.map(|r| format!("/{r}")).unwrap_or_default()
        )
    }

    /// GET a body, None on 404.
    pub(super) async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        url: &str,
    ) -> Result<Option<T>, ArmError> {
        match self
            .retrying(what, || async { self.raw_get(url).await })
            .await
        {
            Ok((_, _, body)) => serde_json::from_slice(&body)
                .map(Some)
                .map_err(|e| ArmError::Decode(format!("{what}: {e}"))),
            Err(ArmError::Fatal { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The declared endpoint of a service and its `default` zone group (None: no endpoint).
    pub(super) async fn observe_endpoint(
        &self,
        eff: &EffectiveSpec,
        service: Service,
    ) -> Result<Option<ObservedPrivateEndpoint>, ArmError> {
        let t = endpoint_target(eff, service);
        let Some(pe) = self
            .get_json::<PrivateEndpoint>("get private endpoint", &self.endpoint_url(&t, ""))
            .await?
        else {
            return Ok(None);
        };
        let zone = self
            .get_json::<PrivateDnsZoneGroup>(
                "get private DNS zone group",
                &self.endpoint_url(&t, &format!("/privateDnsZoneGroups/{ZONE_GROUP}")),
            )
            .await?;
        Ok(Some(map_endpoint(&pe, zone.as_ref())))
    }

    /// Every firewall rule of the server, by name (following nextLink).
    pub(super) async fn observe_firewall_rules(
        &self,
        t: &PgTarget,
    ) -> Result<BTreeMap<String, ObservedFirewallRule>, ArmError> {
        let mut out = BTreeMap::new();
        let mut next = Some(self.firewall_url(t, None));
        while let Some(url) = next.take() {
            let page: Value = self
                .get_json("list firewall rules", &url)
                .await?
                .unwrap_or_default();
            for r in page["value"].as_array().into_iter().flatten() {
                let s = |k: &str| r["properties"][k].as_str().unwrap_or_default().to_owned();
                if let Some(name) = r["name"].as_str() {
                    out.insert(
                        name.to_owned(),
                        ObservedFirewallRule {
                            start_ip_address: s("startIpAddress"),
                            end_ip_address: s("endIpAddress"),
                        },
                    );
                }
            }
            next = page["nextLink"].as_str().map(ToOwned::to_owned);
        }
        Ok(out)
    }

    /// Send a write and record its operation (Azure-AsyncOperation, else Location).
    pub(super) async fn send_recorded(
        &self,
        what: &str,
        method: Method,
        url: &str,
        body: Option<Value>,
    ) -> Result<Submitted, ArmError> {
        let (_, headers, _) = self
            .retrying(what, || async {
                self.raw_send(method, url, body.as_ref()).await
            })
            .await?;
        Ok(submitted(&headers))
    }

    pub(super) async fn submit_network(&self, op: &NetworkOp) -> Result<Submitted, ArmError> {
        match op {
            NetworkOp::PutEndpoint(t, c) => {
                let body = endpoint_body(&t.name, c);
                self.send_recorded(
                    "put private endpoint",
                    Method::Put,
                    &self.endpoint_url(t, ""),
                    Some(body),
                )
                .await
            }
            NetworkOp::PutZoneGroup(t, zone) => {
                let url = self.endpoint_url(t, &format!("/privateDnsZoneGroups/{ZONE_GROUP}"));
                self.send_recorded(
                    "put private DNS zone group",
                    Method::Put,
                    &url,
                    Some(zone_group_body(zone)),
                )
                .await
            }
            NetworkOp::DeleteEndpoint(t) => {
                self.send_recorded(
                    "delete private endpoint",
                    Method::Delete,
                    &self.endpoint_url(t, ""),
                    None,
                )
                .await
            }
        }
    }

    pub(super) async fn submit_firewall(
        &self,
        t: &PgTarget,
        rule: Result<&FirewallRule, &str>,
    ) -> Result<Submitted, ArmError> {
        match rule {
            Ok(r) => {
                let body = json!({"properties": {"startIpAddress": r.start_ip_address, "endIpAddress": r.end_ip_address}});
                let _: super::postgres::pgsdk_models::FirewallRule =
                    super::postgres::to_model(body.clone())?;
                self.send_recorded(
                    "put firewall rule",
                    Method::Put,
                    &self.firewall_url(t, Some(&r.name)),
                    Some(body),
                )
                .await
            }
            Err(name) => {
                self.send_recorded(
                    "delete firewall rule",
                    Method::Delete,
                    &self.firewall_url(t, Some(name)),
                    None,
                )
                .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_body_round_trips_into_the_planner_view() {
        let c = EndpointCreate {
            location: "eastus2".into(),
            subnet_id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/pe".into(),
            target_id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg".into(),
            group_id: "postgresqlServer".into(),
            tags: BTreeMap::from([("engram-owner".to_owned(), "folder/x".to_owned())]),
        };
        let mut v = endpoint_body("pg-pe", &c);
        v["id"] = json!(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pg-pe"
        );
        v["name"] = json!("pg-pe");
        v["properties"]["provisioningState"] = json!("Succeeded");
        let pe: PrivateEndpoint = serde_json::from_value(v).expect("wire model");
        let mut z = zone_group_body("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/privateDnsZones/privatelink.postgres.database.azure.com");
        z["id"] = json!("x");
        z["name"] = json!("default");
        z["properties"]["provisioningState"] = json!("Succeeded");
        let zone: PrivateDnsZoneGroup = serde_json::from_value(z).expect("wire model");
        let o = map_endpoint(&pe, Some(&zone));
        assert_eq!(
            (o.subnet_id.as_str(), o.target_id.as_str()),
            (c.subnet_id.as_str(), c.target_id.as_str())
        );
        assert_eq!(o.group_ids, ["postgresqlServer"]);
        assert_eq!(o.tags, c.tags);
        assert_eq!(o.dns_zones.as_deref().map(<[String]>::len), Some(1));
    }

    #[test]
    fn acls_round_trip() {
        let a = ObservedNetworkAcls {
            default_action: Some("Deny".into()),
            bypass: Some("AzureServices".into()),
            ip_rules: vec!["203.0.113.0/27".into()],
            virtual_network_rules: vec!["/subscriptions/s/x".into()],
        };
        assert_eq!(
            map_acls(&json!({"properties": {"networkAcls": acls_json(&a)}})),
            a
        );
    }
}
