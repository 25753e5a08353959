//! The restore drill's ARM writes and read (PostgreSQL): the scratch server's point-in-time
//! restore PUT and its DELETE (both long-running), and a GET of one server by name. The pure
//! parts (name, point, body fields) are in `plan::drill`.

use azure_core::Method;
use serde_json::{json, Value};

use super::postgres::{encryption_json, identity_json, pgsdk_models, to_model, version_for};
use super::{Arm, ArmError, Submitted};
use crate::plan::drill::{is_scratch_of, PgRestore};
use crate::plan::PgTarget;

/// The restore PUT body: the source and the point, the owner tags, and for a source with a
/// customer-managed key its key and identity. SKU, version and storage come from the source.
pub fn restore_body(r: &PgRestore) -> Value {
    let mut body = json!({
        "location": r.location,
        "tags": r.tags,
        "properties": {
            "createMode": "PointInTimeRestore",
            "sourceServerResourceId": r.source_id,
            "pointInTimeUTC": r.point_in_time_utc,
        },
    });
    if let Some(keys) = &r.cmk {
        body["properties"]["dataEncryption"] = encryption_json(keys);
        body["identity"] = identity_json(keys);
    }
    body
}

impl Arm {
    pub(super) async fn submit_restore(
        &self,
        t: &PgTarget,
        r: &PgRestore,
    ) -> Result<Submitted, ArmError> {
        let body = restore_body(r);
        let _: pgsdk_models::Server = to_model(body.clone())?;
        let url = self.server_url(t, version_for(r.cmk.as_ref()));
        self.send_recorded("restore scratch server", Method::Put, &url, Some(body))
            .await
    }

    /// DELETE a scratch server; refused before any request unless its name is one the drill
    /// gives scratch servers of `source`.
    pub(super) async fn delete_scratch(
        &self,
        scratch: &PgTarget,
        source: &str,
    ) -> Result<Submitted, ArmError> {
        if !is_scratch_of(source, &scratch.server_name) {
            return Err(ArmError::Refused(format!(
                "{} is not a restore drill scratch server of {source}: not deleted",
                scratch.server_name
            )));
        }
        let url = self.server_url(scratch, super::postgres::PG_API_VERSION);
        self.send_recorded("delete scratch server", Method::Delete, &url, None)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{CmkKeys, KeyRef};

    #[test]
    fn a_cmk_restore_body_parses_as_the_sdk_model() {
        let mut r = PgRestore {
            location: "eastus2".into(),
            source_id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg".into(),
            point_in_time_utc: "2026-12-02T08:00:00Z".into(),
            cmk: None,
            tags: crate::plan::owner::owner_tags("folder/x"),
        };
        let b = restore_body(&r);
        assert_eq!(b["properties"]["createMode"], "PointInTimeRestore");
        assert!(b.get("identity").is_none());
        r.cmk = Some(CmkKeys {
            primary: KeyRef {
                uri: "https://kv/keys/k/1".into(),
                identity_id: "/id".into(),
            },
            geo: None,
        });
        let b = restore_body(&r);
        assert_eq!(
            b["properties"]["dataEncryption"]["primaryKeyURI"],
            "https://kv/keys/k/1"
        );
        assert!(b["identity"]["userAssignedIdentities"]["/id"].is_object());
        let _: pgsdk_models::Server = to_model(b).unwrap();
    }
}
