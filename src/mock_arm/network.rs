//! Microsoft.Network/privateEndpoints and their privateDnsZoneGroups (api-version 2024-05-01):
//! PUT (201/200 with the body and an Azure-AsyncOperation to poll), GET, DELETE (202). A private
//! endpoint on a flexible server or a storage account adds an `Approved` connection to the
//! target's `privateEndpointConnections` when its operation completes (auto-approval: the caller
//! owns both), and deleting the endpoint removes it.

use serde_json::{json, Value};

use super::errors::ArmError;
use super::lro::{begin, Begin, Effect, OpKind};
use super::postgres::method_not_allowed;
use super::store::{arm_id, at, guid, set_at, str_at, Reply, Req, World};

pub const PE_TYPE: &str = "Microsoft.Network/privateEndpoints";
pub const ZONE_GROUP_TYPE: &str = "Microsoft.Network/privateEndpoints/privateDnsZoneGroups";
/// ARM's code for a resource id that is not a fully qualified id of the expected type.
pub const INVALID_ID: &str = "LinkedInvalidPropertyId";
/// Network's code for a write while another operation runs on the resource.
pub const IN_PROGRESS: &str = "AnotherOperationInProgress";
/// The mock's own descriptive codes (docs/mock-arm.md): not established by the contract sources.
pub const SUBNET_IMMUTABLE: &str = "PrivateEndpointSubnetCannotBeChanged";
pub const GROUP_INVALID: &str = "PrivateLinkGroupIdNotSupported";
pub const TARGET_MISSING: &str = "PrivateLinkResourceNotFound";
pub const VNET_SERVER: &str = "PrivateEndpointNotSupportedForVnetIntegratedServer";

pub fn pe_id(sub: &str, rg: &str, name: &str) -> String {
    arm_id(sub, rg, &format!("{PE_TYPE}/{name}"))
}

/// `/subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{type}/{name}[/{child}/{name}]`, the
/// provider and types compared case-insensitively.
pub fn is_id_of(id: &str, ns: &str, types: &[&str]) -> bool {
    let p: Vec<&str> = id.split('/').collect();
    p.len() == 7 + 2 * types.len()
        && p[0].is_empty()
        && p[1].eq_ignore_ascii_case("subscriptions")
        && !p[2].is_empty()
        && p[3].eq_ignore_ascii_case("resourceGroups")
        && !p[4].is_empty()
        && p[5].eq_ignore_ascii_case("providers")
        && p[6].eq_ignore_ascii_case(ns)
        && types
            .iter()
            .enumerate()
            .all(|(i, t)| p[7 + 2 * i].eq_ignore_ascii_case(t) && !p[8 + 2 * i].is_empty())
}

fn invalid_id(id: &str, path: &str) -> ArmError {
    ArmError::bad_request(
        INVALID_ID,
        format!("Property id '{id}' at path '{path}' is invalid. Expect fully qualified resource Id that start with '/subscriptions/{{subscriptionId}}' or '/providers/{{resourceProviderNamespace}}/'."),
    )
}

fn in_progress(name: &str) -> ArmError {
    ArmError::conflict(
        IN_PROGRESS,
        format!("Operation on '{name}' cannot be performed because another operation on this or a dependent resource is in progress. Retry after the operation completes."),
    )
}

/// What kind of target a private-link connection names, with its allowed group ids, the service
/// FQDN the endpoint resolves, and the connection type on the target.
fn target_kind(id: &str) -> Option<(&'static [&'static str], &'static str, &'static str)> {
    if is_id_of(id, "Microsoft.DBforPostgreSQL", &["flexibleServers"]) {
        Some((
            &["postgresqlServer"],
            "postgres.database.azure.com",
            "Microsoft.DBforPostgreSQL/flexibleServers/privateEndpointConnections",
        ))
    } else if is_id_of(id, "Microsoft.Storage", &["storageAccounts"]) {
        Some((
            &[
                "blob",
                "blob_secondary",
                "file",
                "queue",
                "table",
                "web",
                "dfs",
            ],
            "blob.core.windows.net",
            "Microsoft.Storage/storageAccounts/privateEndpointConnections",
        ))
    } else {
        None
    }
}

fn last(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or_default()
}

fn location_of(body: &Value) -> String {
    str_at(body, &["location"])
        .unwrap_or("westus")
        .replace(' ', "")
        .to_ascii_lowercase()
}

/// GET / PUT / DELETE of a private endpoint.
pub fn endpoint(
    world: &mut World,
    req: &Req,
    sub: &str,
    rg: &str,
    name: &str,
) -> Result<Reply, ArmError> {
    let id = pe_id(sub, rg, name);
    match req.method {
        "GET" => world.read(&id, PE_TYPE, name),
        "PUT" => put_endpoint(world, req, sub, &id, name),
        "DELETE" => delete(world, req, sub, &id, name),
        _ => Err(method_not_allowed()),
    }
}

fn put_endpoint(
    world: &mut World,
    req: &Req,
    sub: &str,
    id: &str,
    name: &str,
) -> Result<Reply, ArmError> {
    let old = world.get(id).cloned();
    if old.as_ref().is_some_and(|r| r.busy.is_some()) {
        return Err(in_progress(name));
    }
    req.check_preconditions(old.as_ref())?;
    let input = Value::Object(req.object()?);
    if str_at(&input, &["location"]).is_none() {
        return Err(ArmError::bad_request(
            "LocationRequired",
            "The location property is required for this definition.",
        ));
    }
    let subnet = str_at(&input, &["properties", "subnet", "id"]).unwrap_or_default();
    if !is_id_of(subnet, "Microsoft.Network", &["virtualNetworks", "subnets"]) {
        return Err(invalid_id(subnet, "properties.subnet.id"));
    }
    if let Some(o) = &old {
        let before = str_at(&o.body, &["properties", "subnet", "id"]).unwrap_or_default();
        if !before.eq_ignore_ascii_case(subnet) {
            return Err(ArmError::bad_request(
                SUBNET_IMMUTABLE,
                format!("The subnet of private endpoint '{name}' cannot be changed (from '{before}' to '{subnet}'): delete and create it again."),
            ));
        }
    }
    let seq = world.next_seq();
    let ip = format!("10.0.{}.{}", (seq / 250) % 250, 4 + seq % 250);
    let mut links = Vec::new();
    let mut dns = Vec::new();
    let empty = Vec::new();
    let conns = at(&input, &["properties", "privateLinkServiceConnections"])
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    for (i, c) in conns.iter().enumerate() {
        let target = str_at(c, &["properties", "privateLinkServiceId"]).unwrap_or_default();
        let path = format!(
            "properties.privateLinkServiceConnections[{i}].properties.privateLinkServiceId"
        );
        if !target.starts_with("/subscriptions/") && !target.starts_with("/providers/") {
            return Err(invalid_id(target, &path));
        }
        let groups: Vec<String> = at(c, &["properties", "groupIds"])
            .and_then(Value::as_array)
            .map(|g| {
                g.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let mut fqdn = format!("{name}.privatelink.example");
        if let Some((allowed, suffix, _)) = target_kind(target) {
            let Some(t) = world.get(target) else {
                return Err(ArmError::bad_request(
                    TARGET_MISSING,
                    format!("The private link resource '{target}' was not found."),
                ));
            };
            if str_at(
                &t.body,
                &["properties", "network", "delegatedSubnetResourceId"],
            )
            .is_some_and(|d| !d.is_empty())
            {
                return Err(ArmError::bad_request(
                    VNET_SERVER,
                    format!("Server '{}' is integrated into a virtual network (private access): private endpoints are supported on servers with public access mode only.", last(target)),
                ));
            }
            if groups.len() != 1 || !allowed.iter().any(|g| g.eq_ignore_ascii_case(&groups[0])) {
                return Err(ArmError::bad_request(
                    GROUP_INVALID,
                    format!("Group ids {groups:?} are not supported by '{target}': expected one of {allowed:?}."),
                ));
            }
            fqdn = format!("{}.{suffix}", last(target).to_ascii_lowercase());
        }
        let conn_name = str_at(c, &["name"]).unwrap_or(name).to_string();
        let mut props = c.get("properties").cloned().unwrap_or_else(|| json!({}));
        set_at(
            &mut props,
            &["privateLinkServiceConnectionState"],
            json!({"status": "Approved", "description": "Auto-Approved", "actionsRequired": "None"}),
        );
        set_at(&mut props, &["provisioningState"], json!("Succeeded"));
        links.push(json!({"id": format!("{id}/privateLinkServiceConnections/{conn_name}"), "name": conn_name, "type": "Microsoft.Network/privateEndpoints/privateLinkServiceConnections", "properties": props}));
        dns.push(json!({"fqdn": fqdn, "ipAddresses": [ip]}));
    }
    let mut body = json!({
        "id": id, "name": name, "type": PE_TYPE,
        "location": input["location"],
        "etag": format!("W/\"{}\"", guid(seq, 7)),
        "properties": {
            "provisioningState": "Succeeded",
            "privateLinkServiceConnections": links,
            "manualPrivateLinkServiceConnections": [],
            "subnet": {"id": subnet},
            "networkInterfaces": [{"id": arm_id(sub, "rg-nic", &format!("Microsoft.Network/networkInterfaces/{name}.nic.{}", &guid(seq, 9)[..8]))}],
            "customDnsConfigs": dns,
            "applicationSecurityGroups": [],
            "ipConfigurations": at(&input, &["properties", "ipConfigurations"]).cloned().unwrap_or_else(|| json!([])),
        },
    });
    for (k, path) in [
        ("tags", &["tags"][..]),
        ("extendedLocation", &["extendedLocation"][..]),
    ] {
        if let Some(v) = at(&input, path) {
            set_at(&mut body, &[k], v.clone());
        }
    }
    if let Some(n) = str_at(&input, &["properties", "customNetworkInterfaceName"]) {
        set_at(
            &mut body,
            &["properties", "customNetworkInterfaceName"],
            json!(n),
        );
    }
    let status = if old.is_some() { 200 } else { 201 };
    let mut pending = body.clone();
    set_at(
        &mut pending,
        &["properties", "provisioningState"],
        json!("Updating"),
    );
    world.put(id, pending.clone(), true);
    write(
        world,
        req,
        sub,
        id,
        &location_of(&body),
        body,
        pending,
        status,
    )
}

/// Start the PUT's operation and answer `status` with the body in its transitional state.
#[allow(clippy::too_many_arguments)]
fn write(
    world: &mut World,
    req: &Req,
    sub: &str,
    id: &str,
    location: &str,
    done: Value,
    pending: Value,
    status: u16,
) -> Result<Reply, ArmError> {
    let mut reply = begin(
        world,
        req,
        Begin {
            kind: OpKind::NetworkPut,
            target: id,
            lock: id,
            sub,
            location,
            effect: Effect::Commit(done),
            transitional: None,
            failure: None,
        },
    );
    reply.status = status;
    reply.body = Some(pending);
    Ok(reply)
}

fn delete(
    world: &mut World,
    req: &Req,
    sub: &str,
    id: &str,
    name: &str,
) -> Result<Reply, ArmError> {
    let Some(r) = world.get(id) else {
        return Ok(Reply::empty(204));
    };
    if r.busy.is_some() {
        return Err(in_progress(name));
    }
    let location = location_of(&r.body);
    if let Some(r) = world.get_mut(id) {
        set_at(
            &mut r.body,
            &["properties", "provisioningState"],
            json!("Deleting"),
        );
    }
    Ok(begin(
        world,
        req,
        Begin {
            kind: OpKind::NetworkDelete,
            target: id,
            lock: id,
            sub,
            location: &location,
            effect: Effect::Delete,
            transitional: None,
            failure: None,
        },
    ))
}

/// GET / PUT / DELETE of a private DNS zone group of an endpoint.
pub fn zone_group(
    world: &mut World,
    req: &Req,
    sub: &str,
    rg: &str,
    pe: &str,
    name: &str,
) -> Result<Reply, ArmError> {
    let parent = pe_id(sub, rg, pe);
    let id = format!("{parent}/privateDnsZoneGroups/{name}");
    let Some(p) = world.get(&parent) else {
        return match req.method {
            "GET" | "PUT" => Err(ArmError::parent_not_found(PE_TYPE, pe)),
            _ => Ok(Reply::empty(204)),
        };
    };
    let parent_body = p.body.clone();
    match req.method {
        "GET" => world.read(&id, ZONE_GROUP_TYPE, name),
        "PUT" => {
            if world.get(&id).is_some_and(|r| r.busy.is_some()) {
                return Err(in_progress(name));
            }
            let input = Value::Object(req.object()?);
            let ips: Vec<Value> = at(&parent_body, &["properties", "customDnsConfigs"])
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .flat_map(|c| c["ipAddresses"].as_array().cloned().unwrap_or_default())
                .collect();
            let host = parent_body
                .pointer("/properties/customDnsConfigs/0/fqdn")
                .and_then(Value::as_str)
                .and_then(|f| f.split('.').next())
                .unwrap_or(pe)
                .to_string();
            let empty = Vec::new();
            let configs = at(&input, &["properties", "privateDnsZoneConfigs"])
                .and_then(Value::as_array)
                .unwrap_or(&empty);
            let mut out = Vec::new();
            for (i, c) in configs.iter().enumerate() {
                let zone = str_at(c, &["properties", "privateDnsZoneId"]).unwrap_or_default();
                if !is_id_of(zone, "Microsoft.Network", &["privateDnsZones"]) {
                    return Err(invalid_id(
                        zone,
                        &format!(
                            "properties.privateDnsZoneConfigs[{i}].properties.privateDnsZoneId"
                        ),
                    ));
                }
                let zone_name = last(zone);
                let cfg_name =
                    str_at(c, &["name"]).map_or_else(|| zone_name.replace('.', "-"), str::to_owned);
                out.push(json!({"name": cfg_name, "properties": {"privateDnsZoneId": zone, "recordSets": [{
                    "recordType": "A", "recordSetName": host, "fqdn": format!("{host}.{zone_name}"),
                    "ttl": 10, "ipAddresses": ips, "provisioningState": "Succeeded"}]}}));
            }
            let seq = world.next_seq();
            let body = json!({"id": id, "name": name, "etag": format!("W/\"{}\"", guid(seq, 8)),
                "properties": {"provisioningState": "Succeeded", "privateDnsZoneConfigs": out}});
            let status = if world.get(&id).is_some() { 200 } else { 201 };
            let mut pending = body.clone();
            set_at(
                &mut pending,
                &["properties", "provisioningState"],
                json!("Updating"),
            );
            world.put(&id, pending.clone(), true);
            write(
                world,
                req,
                sub,
                &id,
                &location_of(&parent_body),
                body,
                pending,
                status,
            )
        }
        "DELETE" => delete(world, req, sub, &id, name),
        _ => Err(method_not_allowed()),
    }
}

/// The private-link targets a committed endpoint body names (modelled kinds only).
fn targets(body: &Value) -> Vec<(String, String)> {
    at(body, &["properties", "privateLinkServiceConnections"])
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let t = str_at(c, &["properties", "privateLinkServiceId"])?;
            let g = c
                .pointer("/properties/groupIds/0")
                .and_then(Value::as_str)
                .unwrap_or_default();
            target_kind(t).map(|_| (t.to_string(), g.to_string()))
        })
        .collect()
}

/// An endpoint's operation completed: its targets list an Approved connection to it.
pub fn committed(world: &mut World, id: &str) {
    let Some(body) = world.get_any(id).map(|r| r.body.clone()) else {
        return;
    };
    if !str_at(&body, &["type"]).is_some_and(|t| t.eq_ignore_ascii_case(PE_TYPE)) {
        return;
    }
    let pe = str_at(&body, &["id"]).unwrap_or(id).to_string();
    for (target, group) in targets(&body) {
        let seq = world.next_seq();
        let Some(t) = world.get_mut(&target) else {
            continue;
        };
        let Some((_, _, kind)) = target_kind(&target) else {
            continue;
        };
        let mut conns = remove_link(&t.body, &pe);
        let name = format!("{}.{}", last(&pe), guid(seq, 5));
        let storage = kind.starts_with("Microsoft.Storage");
        let mut state = json!({"status": "Approved", "description": "Auto-Approved"});
        state[if storage {
            "actionRequired"
        } else {
            "actionsRequired"
        }] = json!("None");
        let mut props = json!({"privateEndpoint": {"id": pe}, "privateLinkServiceConnectionState": state, "provisioningState": "Succeeded"});
        if !storage {
            props["groupIds"] = json!([group]);
        }
        conns.push(json!({"id": format!("{target}/privateEndpointConnections/{name}"), "name": name, "type": kind, "properties": props}));
        set_at(
            &mut t.body,
            &["properties", "privateEndpointConnections"],
            Value::Array(conns),
        );
        world.touch(&target);
    }
}

/// An endpoint is being deleted: its connections leave its targets.
pub fn deleting(world: &mut World, id: &str) {
    let Some(body) = world.get_any(id).map(|r| r.body.clone()) else {
        return;
    };
    let pe = str_at(&body, &["id"]).unwrap_or(id).to_string();
    for (target, _) in targets(&body) {
        if let Some(t) = world.get_mut(&target) {
            let conns = remove_link(&t.body, &pe);
            set_at(
                &mut t.body,
                &["properties", "privateEndpointConnections"],
                Value::Array(conns),
            );
            world.touch(&target);
        }
    }
}

/// The target's connections less the one to `pe`.
fn remove_link(target: &Value, pe: &str) -> Vec<Value> {
    at(target, &["properties", "privateEndpointConnections"])
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| {
            !str_at(c, &["properties", "privateEndpoint", "id"])
                .is_some_and(|i| i.eq_ignore_ascii_case(pe))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_a_type() {
        let s = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/x";
        assert!(is_id_of(
            s,
            "microsoft.network",
            &["virtualNetworks", "subnets"]
        ));
        assert!(!is_id_of(
            "vnet/subnets/x",
            "Microsoft.Network",
            &["virtualNetworks", "subnets"]
        ));
        assert!(!is_id_of(s, "Microsoft.Network", &["virtualNetworks"]));
    }
}
