//! flexibleServers/{server}/firewallRules: list, get, PUT and DELETE (both long-running; the server
//! is busy while one runs). Refused like the service: a range that ends below its start, an
//! address that is not IPv4, a server without public access.

use serde_json::json;

use super::errors::ArmError;
use super::lro::{begin, Begin, Effect, OpKind};
use super::postgres::{child_write, server_id};
use super::store::{str_at, Reply, Req, World};

const TYPE: &str = "Microsoft.DBforPostgreSQL/flexibleServers/firewallRules";
/// The mock's own code for a firewall rule on a server without public access (the service's
/// message is the Azure CLI's, azure-cli#30780; the code is not established).
pub const NO_PUBLIC_ACCESS: &str = "FirewallRuleNotAllowedWithoutPublicAccess";

/// GET .../firewallRules.
pub fn list(
    world: &World,
    req: &Req,
    sub: &str,
    rg: &str,
    server: &str,
) -> Result<Reply, ArmError> {
    super::postgres::list_children(world, req, sub, rg, server, "firewallRules")
}

fn ipv4(s: &str) -> Option<u32> {
    s.parse::<std::net::Ipv4Addr>().ok().map(u32::from)
}

/// GET / PUT / DELETE .../firewallRules/{name}.
pub fn one(
    world: &mut World,
    req: &Req,
    sub: &str,
    rg: &str,
    server: &str,
    name: &str,
) -> Result<Reply, ArmError> {
    let w = match child_write(
        world,
        req,
        (sub, rg, server),
        ("firewallRules", TYPE, name),
        "Firewall rules",
        || Ok(()),
    )? {
        Ok(w) => w,
        Err(reply) => return Ok(reply),
    };
    let (id, location) = (w.id, w.location);
    let sid = server_id(sub, rg, server);
    let public = str_at(&w.server, &["properties", "network", "publicNetworkAccess"])
        .unwrap_or("Enabled")
        .eq_ignore_ascii_case("Enabled");
    let effect = if req.method == "DELETE" {
        if world.get(&id).is_none() {
            return Ok(Reply::empty(204));
        }
        Effect::Delete
    } else {
        if !public {
            return Err(ArmError::bad_request(
                NO_PUBLIC_ACCESS,
                "Firewall rule operations cannot be requested for a server that doesn't have public access enabled.",
            ));
        }
        let addr = |k: &str| {
            let v = str_at(&req.body, &["properties", k]).unwrap_or_default();
            ipv4(v).map(|n| (v.to_string(), n)).ok_or_else(|| {
                ArmError::bad_request(
                    "InvalidParameterValue",
                    format!(
                        "Invalid value given for parameter {k} '{v}': an IPv4 address is expected."
                    ),
                )
            })
        };
        let ((start, s), (end, e)) = (addr("startIpAddress")?, addr("endIpAddress")?);
        if e < s {
            return Err(ArmError::bad_request(
                "InvalidParameterValue",
                format!(
                    "The end IP address is smaller than the start IP address ({end} < {start})."
                ),
            ));
        }
        Effect::Commit(json!({
            "id": id, "name": name, "type": TYPE,
            "properties": {"startIpAddress": start, "endIpAddress": end},
        }))
    };
    Ok(begin(
        world,
        req,
        Begin {
            kind: OpKind::PgFirewall,
            target: &id,
            lock: &sid,
            sub,
            location: &location,
            effect,
            transitional: None,
            failure: None,
        },
    ))
}
