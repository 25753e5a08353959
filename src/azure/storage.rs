//! Storage (2023-05-01) through the SDK: GET the account, its management policy and containers into
//! the planner's `ObservedStorage`; send the storage writes with `send()` so an LRO (the account
//! create) is recorded, not awaited. JSON mapping lives in `storage_map`.

use futures::StreamExt;
use serde_json::json;

use super::error::{from_core, ArmError};
use super::postgres::{status_of, to_model};
use super::storage_map::{
    create_body, map_account, map_container, map_policy, patch_body, policy_body,
};
use super::{submitted, Arm, Submitted};
use crate::api::EffectiveSpec;
use crate::plan::{storage_account as stplan, ContainerRef, ObservedStorage, StorageOp};

use azure_mgmt_storage::package_2023_05::models as st;

/// The only management policy and immutability policy name ARM accepts.
const DEFAULT: &str = "default";
/// The Storage api-version the SDK crate sends (feature package-2023-05).
pub const API_VERSION: &str = "2023-05-01";

fn json_of<T: serde::Serialize>(t: &T) -> serde_json::Value {
    serde_json::to_value(t).unwrap_or_default()
}

impl Arm {
    /// The account, its policy and containers: the declared ones by GET each, and every container
    /// of the account (one list) only with `all_containers` or `storage.pruneUndeclaredContainers`.
    /// Lists are the Storage resource provider's scarcest allowance (100 per 5 minutes per
    /// subscription and region, against 800 reads).
    pub(super) async fn observe_storage(
        &self,
        eff: &EffectiveSpec,
        all_containers: bool,
    ) -> Result<ObservedStorage, ArmError> {
        let t = stplan::target(eff);
        let (sub, rg, acct) = (&t.subscription_id, &t.resource_group, &t.account_name);
        let account = self
            .retrying("get storage account", || async {
                match self
                    .st
                    .storage_accounts_client()
                    .get_properties(rg, acct, sub)
                    .send()
                    .await
                {
                    Ok(rsp) => {
                        let body: st::StorageAccount = rsp.into_body().await.map_err(from_core)?;
                        Ok(Some(map_account(&json_of(&body))))
                    }
                    Err(e) if status_of(&e) == Some(404) => Ok(None),
                    Err(e) => Err(from_core(e)),
                }
            })
            .await?;
        let mut obs = ObservedStorage {
            account,
            ..Default::default()
        };
        if obs.account.is_none() {
            obs.name_unavailable = self.account_name_unavailable(&t).await?;
            return Ok(obs);
        }
        obs.lifecycle = self
            .retrying("get management policy", || async {
                match self
                    .st
                    .management_policies_client()
                    .get(rg, acct, sub, DEFAULT)
                    .send()
                    .await
                {
                    Ok(rsp) => {
                        let body: st::ManagementPolicy =
                            rsp.into_body().await.map_err(from_core)?;
                        Ok(Some(map_policy(&json_of(&body))))
                    }
                    Err(e) if status_of(&e) == Some(404) => Ok(None),
                    Err(e) => Err(from_core(e)),
                }
            })
            .await?;
        if all_containers || eff.storage.prune_undeclared_containers {
            for name in self.list_containers(sub, rg, acct).await? {
                obs.containers.entry(name).or_default();
            }
        }
        // Declared containers are read one by one: the GET carries the policy's ETag.
        let mut names: Vec<String> = obs.containers.keys().cloned().collect();
        names.extend(eff.storage.containers.iter().map(|c| c.name.clone()));
        names.sort();
        names.dedup();
        for name in names {
            let got = self
                .retrying("get container", || async {
                    match self
                        .st
                        .blob_containers_client()
                        .get(rg, acct, &name, sub)
                        .send()
                        .await
                    {
                        Ok(rsp) => {
                            let body: st::BlobContainer =
                                rsp.into_body().await.map_err(from_core)?;
                            Ok(Some(map_container(&json_of(&body))))
                        }
                        Err(e) if status_of(&e) == Some(404) => Ok(None),
                        Err(e) => Err(from_core(e)),
                    }
                })
                .await?;
            match got {
                Some(c) => {
                    obs.containers.insert(name, c);
                }
                None => {
                    obs.containers.remove(&name);
                }
            }
        }
        Ok(obs)
    }

    /// Names of every container of the account. An endpoint that does not offer the list (404)
    /// yields none: undeclared containers are then simply not seen.
    async fn list_containers(
        &self,
        sub: &str,
        rg: &str,
        acct: &str,
    ) -> Result<Vec<String>, ArmError> {
        self.retrying("list containers", || async {
            let mut stream = self
                .st
                .blob_containers_client()
                .list(rg, acct, sub)
                .into_stream();
            let mut names = Vec::new();
            while let Some(page) = stream.next().await {
                match page {
                    Ok(page) => names.extend(
                        page.value
                            .into_iter()
                            .filter_map(|c| json_of(&c)["name"].as_str().map(ToOwned::to_owned)),
                    ),
                    Err(e) if status_of(&e) == Some(404) => {
                        tracing::debug!("container list not offered by this endpoint");
                        return Ok(Vec::new());
                    }
                    Err(e) => return Err(from_core(e)),
                }
            }
            Ok(names)
        })
        .await
    }

    pub(super) async fn submit_storage(&self, op: &StorageOp) -> Result<Submitted, ArmError> {
        if let StorageOp::ClearLegalHold(c, tags) = op {
            tracing::warn!(account = %c.account.account_name, container = %c.container, tags = %tags.join(","), "clearing legal hold (no longer declared)");
        }
        let headers = self
            .retrying("storage write", || async {
                let res = self.send_storage(op).await?;
                Ok(res)
            })
            .await?;
        Ok(submitted(&headers))
    }

    async fn send_storage(&self, op: &StorageOp) -> Result<azure_core::headers::Headers, ArmError> {
        let sa = self.st.storage_accounts_client();
        let bc = self.st.blob_containers_client();
        let mp = self.st.management_policies_client();
        let c3 = |c: &ContainerRef| {
            (
                c.account.resource_group.clone(),
                c.account.account_name.clone(),
                c.container.clone(),
                c.account.subscription_id.clone(),
            )
        };
        macro_rules! headers {
            ($call:expr) => {
                $call
                    .send()
                    .await
                    .map(|r| r.as_raw_response().headers().clone())
                    .map_err(from_core)
            };
        }
        match op {
            StorageOp::CreateAccount(t, c) => {
                let body: st::StorageAccountCreateParameters = to_model(create_body(c))?;
                headers!(sa.create(&t.resource_group, &t.account_name, body, &t.subscription_id))
            }
            StorageOp::PatchAccount(t, p) => {
                let body: st::StorageAccountUpdateParameters = to_model(patch_body(p))?;
                headers!(sa.update(&t.resource_group, &t.account_name, body, &t.subscription_id))
            }
            StorageOp::DeleteAccount(t) => {
                headers!(sa.delete(&t.resource_group, &t.account_name, &t.subscription_id))
            }
            StorageOp::PutLifecycle(t, rules, kept) => {
                let body: st::ManagementPolicy = to_model(policy_body(rules, kept))?;
                headers!(mp.create_or_update(
                    &t.resource_group,
                    &t.account_name,
                    &t.subscription_id,
                    DEFAULT,
                    body
                ))
            }
            StorageOp::DeleteLifecycle(t) => headers!(mp.delete(
                &t.resource_group,
                &t.account_name,
                &t.subscription_id,
                DEFAULT
            )),
            StorageOp::PutContainer(c) => {
                let (rg, a, n, sub) = c3(c);
                let body: st::BlobContainer =
                    to_model(json!({"properties": {"publicAccess": "None"}}))?;
                headers!(bc.create(rg, a, n, body, sub))
            }
            StorageOp::DeleteContainer(c) => {
                let (rg, a, n, sub) = c3(c);
                headers!(bc.delete(rg, a, n, sub))
            }
            StorageOp::PutImmutability {
                container,
                days,
                etag,
            } => {
                let (rg, a, n, sub) = c3(container);
                let body: st::ImmutabilityPolicy = to_model(
                    json!({"properties": {"immutabilityPeriodSinceCreationInDays": days}}),
                )?;
                let mut call = bc
                    .create_or_update_immutability_policy(rg, a, n, DEFAULT, sub)
                    .parameters(body);
                if let Some(e) = etag {
                    call = call.if_match(e);
                }
                headers!(call)
            }
            StorageOp::ExtendImmutability {
                container,
                days,
                etag,
            } => {
                let (rg, a, n, sub) = c3(container);
                let body: st::ImmutabilityPolicy = to_model(
                    json!({"properties": {"immutabilityPeriodSinceCreationInDays": days}}),
                )?;
                headers!(bc
                    .extend_immutability_policy(rg, a, n, sub, etag)
                    .parameters(body))
            }
            StorageOp::LockImmutability { container, etag } => {
                let (rg, a, n, sub) = c3(container);
                headers!(bc.lock_immutability_policy(rg, a, n, sub, etag))
            }
            StorageOp::SetLegalHold(c, tags) | StorageOp::ClearLegalHold(c, tags) => {
                let (rg, a, n, sub) = c3(c);
                let body: st::LegalHold = to_model(json!({"tags": tags}))?;
                if matches!(op, StorageOp::SetLegalHold(..)) {
                    headers!(bc.set_legal_hold(rg, a, n, sub, body))
                } else {
                    headers!(bc.clear_legal_hold(rg, a, n, sub, body))
                }
            }
        }
    }
}
