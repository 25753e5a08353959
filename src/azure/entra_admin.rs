//! The server's Microsoft Entra administrator (PostgreSQL 2024-08-01,
//! `flexibleServers/{s}/administrators/{objectId}`): one GET of the declared object id, and its
//! PUT (long-running). The body is checked against the SDK model, then sent as built.

use azure_core::Method;
use serde_json::{json, Value};

use super::postgres::{pgsdk_models, to_model, PG_API_VERSION};
use super::{Arm, ArmError, Submitted};
use crate::api::database::EntraAdmin;
use crate::plan::{ObservedAdmin, PgTarget};

impl Arm {
    fn admin_url(&self, t: &PgTarget, object_id: &str) -> String {
        format!(
            "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.DBforPostgreSQL/flexibleServers/{}/administrators/{object_id}?api-version={PG_API_VERSION}",
            self.endpoint.as_str().trim_end_matches('/'),
            t.subscription_id,
            t.resource_group,
            t.server_name,
        )
    }

    /// The administrator with this object id (None: the server has none).
    pub(super) async fn observe_entra_admin(
        &self,
        t: &PgTarget,
        object_id: &str,
    ) -> Result<Option<ObservedAdmin>, ArmError> {
        let body: Option<Value> = self
            .get_json("get Entra administrator", &self.admin_url(t, object_id))
            .await?;
        Ok(body.as_ref().map(map_admin))
    }

    pub(super) async fn submit_entra_admin(
        &self,
        t: &PgTarget,
        a: &EntraAdmin,
    ) -> Result<Submitted, ArmError> {
        let body = admin_body(a);
        let _: pgsdk_models::ActiveDirectoryAdministratorAdd = to_model(body.clone())?;
        self.send_recorded(
            "put Entra administrator",
            Method::Put,
            &self.admin_url(t, &a.object_id),
            Some(body),
        )
        .await
    }
}

/// The PUT body. Without a declared tenant none is sent: the API does not require one, and the
/// service then takes the server's tenant.
pub fn admin_body(a: &EntraAdmin) -> Value {
    let mut props =
        json!({"principalType": a.principal_type.as_str(), "principalName": a.principal_name});
    if let Some(t) = &a.tenant_id {
        props["tenantId"] = json!(t);
    }
    json!({ "properties": props })
}

/// ARM administrator JSON → observed administrator.
pub fn map_admin(v: &Value) -> ObservedAdmin {
    let p = |k: &str| v["properties"][k].as_str().map(ToOwned::to_owned);
    ObservedAdmin {
        principal_name: p("principalName").unwrap_or_default(),
        principal_type: p("principalType").unwrap_or_default(),
        tenant_id: p("tenantId"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::database::PrincipalType;

    #[test]
    fn the_body_parses_as_the_sdk_model_and_omits_an_undeclared_tenant() {
        let mut a = EntraAdmin {
            object_id: "11111111-2222-3333-4444-555555555555".into(),
            principal_name: "ops@contoso.com".into(),
            principal_type: PrincipalType::Group,
            tenant_id: None,
        };
        let b = admin_body(&a);
        assert_eq!(
            b,
            json!({"properties": {"principalType": "Group", "principalName": "ops@contoso.com"}})
        );
        let _: pgsdk_models::ActiveDirectoryAdministratorAdd = to_model(b).unwrap();
        a.tenant_id = Some("t".into());
        let mut v = admin_body(&a);
        assert_eq!(v["properties"]["tenantId"], "t");
        v["properties"]["objectId"] = json!(a.object_id);
        let o = map_admin(&v);
        assert_eq!(
            (o.principal_name.as_str(), o.principal_type.as_str()),
            ("ops@contoso.com", "Group")
        );
    }
}
