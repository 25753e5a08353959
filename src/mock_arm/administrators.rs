//! flexibleServers/{server}/administrators: list, get, PUT and DELETE of the server's Microsoft
//! Entra administrators (both writes long-running; the server is busy while one runs). Refused
//! like the service: an object id or tenant that is not GUID-shaped, an unknown principal type,
//! no principal name, a server without Microsoft Entra authentication.

use serde_json::json;

use super::errors::ArmError;
use super::lro::{begin, Begin, Effect, OpKind};
use super::pg_rules::INVALID_PARAMETER;
use super::postgres::{child_write, server_id};
use super::store::{guid, str_at, Reply, Req, World};

pub const TYPE: &str = "Microsoft.DBforPostgreSQL/flexibleServers/administrators";
/// The mock's own code (no example or fact names the service's) for an administrator PUT on a
/// server whose `authConfig.activeDirectoryAuth` is not Enabled.
pub const ENTRA_AUTH_DISABLED: &str = "ActiveDirectoryAuthNotEnabled";
/// The principal types the service takes.
const PRINCIPAL_TYPES: [&str; 3] = ["User", "Group", "ServicePrincipal"];

/// GET .../administrators.
pub fn list(
    world: &World,
    req: &Req,
    sub: &str,
    rg: &str,
    server: &str,
) -> Result<Reply, ArmError> {
    super::postgres::list_children(world, req, sub, rg, server, "administrators")
}

/// 8-4-4-4-12 letters or digits. The official examples write placeholders such as
/// `oooooooo-oooo-...`, so the groups' shape is checked, not that they are hexadecimal.
fn guid_shaped(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn invalid(message: String) -> ArmError {
    ArmError::bad_request(INVALID_PARAMETER, message)
}

/// GET / PUT / DELETE .../administrators/{objectId}.
pub fn one(
    world: &mut World,
    req: &Req,
    sub: &str,
    rg: &str,
    server: &str,
    object_id: &str,
) -> Result<Reply, ArmError> {
    let w = match child_write(
        world,
        req,
        (sub, rg, server),
        ("administrators", TYPE, object_id),
        "Administrators",
        || {
            if guid_shaped(object_id) {
                Ok(())
            } else {
                Err(invalid(format!(
                    "Invalid value given for parameter objectId '{object_id}': a GUID is expected."
                )))
            }
        },
    )? {
        Ok(w) => w,
        Err(reply) => return Ok(reply),
    };
    let (id, location) = (w.id, w.location);
    let sid = server_id(sub, rg, server);
    let effect = if req.method == "DELETE" {
        if world.get(&id).is_none() {
            return Ok(Reply::empty(204));
        }
        Effect::Delete
    } else {
        let entra = str_at(
            &w.server,
            &["properties", "authConfig", "activeDirectoryAuth"],
        )
        .is_some_and(|a| a.eq_ignore_ascii_case("Enabled"));
        if !entra {
            return Err(ArmError::bad_request(
                ENTRA_AUTH_DISABLED,
                format!("Microsoft Entra authentication is not enabled on server '{server}': set properties.authConfig.activeDirectoryAuth to Enabled before adding an administrator."),
            ));
        }
        let prop = |k: &str| str_at(&req.body, &["properties", k]).unwrap_or_default();
        let kind = prop("principalType");
        let Some(kind) = PRINCIPAL_TYPES
            .iter()
            .find(|t| t.eq_ignore_ascii_case(kind))
        else {
            return Err(invalid(format!(
                "Invalid value given for parameter principalType '{kind}': one of {} is expected.",
                PRINCIPAL_TYPES.join(", ")
            )));
        };
        let name = prop("principalName");
        if name.is_empty() {
            return Err(invalid(
                "The parameter principalName is required.".to_owned(),
            ));
        }
        let tenant = match prop("tenantId") {
            "" => str_at(&w.server, &["properties", "authConfig", "tenantId"])
                .filter(|t| !t.is_empty())
                .map_or_else(|| guid(0, 2), str::to_owned),
            t if guid_shaped(t) => t.to_owned(),
            t => {
                return Err(invalid(format!(
                    "Invalid value given for parameter tenantId '{t}': a GUID is expected."
                )))
            }
        };
        Effect::Commit(json!({
            "id": id, "name": name, "type": TYPE,
            "properties": {"principalType": kind, "principalName": name, "objectId": object_id, "tenantId": tenant},
        }))
    };
    Ok(begin(
        world,
        req,
        Begin {
            kind: OpKind::PgAdministrator,
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

#[cfg(test)]
mod tests {
    use super::guid_shaped;

    #[test]
    fn guid_shape() {
        assert!(guid_shaped("11111111-2222-3333-4444-555555555555"));
        assert!(guid_shaped("oooooooo-oooo-oooo-oooo-oooooooooooo"));
        assert!(!guid_shaped("engram-operator"));
        assert!(!guid_shaped("11111111-2222-3333-4444-55555555555"));
    }
}
