//! Global names: a server or storage account name is a DNS name shared by every Azure customer.
//! Before a create (only while the resource does not exist) the operator asks the provider's
//! `checkNameAvailability`, so a taken name is refused with the provider's reason before any write.

use serde_json::Value;

use super::error::{from_core, ArmError};
use super::postgres::s;
use super::Arm;
use crate::plan::{AccountTarget, PgTarget};

use azure_mgmt_postgresql::package_flexibleserver_2024_08_01::models as pgm;
use azure_mgmt_storage::package_2023_05::models as stm;

/// `{nameAvailable, reason, message}` → None when available, else "reason: message".
fn unavailable(v: &Value) -> Option<String> {
    if v.get("nameAvailable").and_then(Value::as_bool) != Some(false) {
        return None;
    }
    let reason = s(v, &["reason"]).unwrap_or_else(|| "unavailable".into());
    Some(match s(v, &["message"]).filter(|m| !m.is_empty()) {
        Some(m) => format!("{reason}: {m}"),
        None => reason,
    })
}

impl Arm {
    /// POST .../Microsoft.DBforPostgreSQL/locations/{location}/checkNameAvailability.
    pub(super) async fn server_name_unavailable(
        &self,
        t: &PgTarget,
        location: &str,
    ) -> Result<Option<String>, ArmError> {
        let request = pgm::CheckNameAvailabilityRequest {
            name: Some(t.server_name.clone()),
            type_: Some(crate::plan::postgres::SERVER_TYPE.into()),
        };
        self.retrying("check server name", || async {
            let rsp = self
                .pg
                .check_name_availability_with_location_client()
                .execute(&t.subscription_id, location, request.clone())
                .send()
                .await
                .map_err(from_core)?;
            let body: pgm::NameAvailability = rsp.into_body().await.map_err(from_core)?;
            Ok(unavailable(
                &serde_json::to_value(&body).unwrap_or_default(),
            ))
        })
        .await
    }

    /// POST .../Microsoft.Storage/checkNameAvailability.
    pub(super) async fn account_name_unavailable(
        &self,
        t: &AccountTarget,
    ) -> Result<Option<String>, ArmError> {
        let request = stm::StorageAccountCheckNameAvailabilityParameters::new(
            t.account_name.clone(),
            stm::storage_account_check_name_availability_parameters::Type::MicrosoftStorageStorageAccounts,
        );
        self.retrying("check account name", || async {
            let rsp = self
                .st
                .storage_accounts_client()
                .check_name_availability(request.clone(), &t.subscription_id)
                .send()
                .await
                .map_err(from_core)?;
            let body: stm::CheckNameAvailabilityResult =
                rsp.into_body().await.map_err(from_core)?;
            Ok(unavailable(
                &serde_json::to_value(&body).unwrap_or_default(),
            ))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reason_and_message_or_none() {
        assert_eq!(unavailable(&json!({"nameAvailable": true})), None);
        assert_eq!(
            unavailable(&json!({"nameAvailable": false, "reason": "AlreadyExists", "message": "Specified server name is already used."})).as_deref(),
            Some("AlreadyExists: Specified server name is already used.")
        );
        assert_eq!(
            unavailable(&json!({"nameAvailable": false})).as_deref(),
            Some("unavailable")
        );
    }
}
