//! A server's parameters, read by the list API (`GET {server}/configurations`) page by page and
//! decoded into just the fields the plan reads. The SDK's model decodes every field of all ~350
//! parameters (descriptions, documentation links, units, allowed values), which made the list the
//! largest transient allocation of a pass; only the parameters [`pg_config::keeps`] names are kept.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::error::ArmError;
use super::postgres::PG_API_VERSION;
use super::Arm;
use crate::api::EffectiveSpec;
use crate::plan::{pg_config, ObservedConfig, PgTarget};

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    value: Vec<Config>,
    #[serde(rename = "nextLink", default)]
    next_link: Option<String>,
}

#[derive(Deserialize)]
struct Config {
    name: String,
    #[serde(default)]
    properties: Props,
}

/// The service sends the booleans as JSON booleans; older answers spelled them as strings.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Props {
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    is_read_only: Option<Flag>,
    #[serde(default)]
    is_dynamic_config: Option<Flag>,
    #[serde(default)]
    is_config_pending_restart: Option<Flag>,
    #[serde(default)]
    allowed_values: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Text(String),
}

fn on(f: &Option<Flag>) -> bool {
    match f {
        Some(Flag::Bool(b)) => *b,
        Some(Flag::Text(t)) => t.eq_ignore_ascii_case("true"),
        None => false,
    }
}

impl Arm {
    /// The server's parameters the plan reads, by name.
    pub(super) async fn list_configs(
        &self,
        t: &PgTarget,
        eff: &EffectiveSpec,
    ) -> Result<BTreeMap<String, ObservedConfig>, ArmError> {
        let server = self.server_url(t, PG_API_VERSION);
        let (base, query) = server.split_once('?').unwrap_or((&server, ""));
        let mut url = Some(format!("{base}/configurations?{query}"));
        let mut configs = BTreeMap::new();
        // A bound on pages, so that a service that keeps answering a nextLink cannot loop us.
        for _ in 0..100 {
            let Some(u) = url.take() else {
                return Ok(configs);
            };
            let page: Page = self
                .retrying("list configurations", || async {
                    let (_, _, bytes) = self.raw_get(&u).await?;
                    serde_json::from_slice(&bytes)
                        .map_err(|e| ArmError::Decode(format!("configurations: {e}")))
                })
                .await?;
            for c in page.value {
                let p = c.properties;
                let pending = on(&p.is_config_pending_restart);
                if pg_config::keeps(eff, &c.name, pending) {
                    let cfg = ObservedConfig {
                        value: p.value.unwrap_or_default(),
                        is_read_only: on(&p.is_read_only),
                        is_dynamic: on(&p.is_dynamic_config),
                        pending_restart: pending,
                        allowed_values: p.allowed_values,
                    };
                    configs.insert(c.name, cfg);
                }
            }
            url = page.next_link.filter(|l| !l.is_empty());
        }
        Err(ArmError::Decode(
            "configurations: more than 100 pages".into(),
        ))
    }
}

impl Arm {
    /// One parameter's current value by `GET {server}/configurations/{name}` (None: no such
    /// server or parameter). The success-metrics report reads `max_connections` this way.
    pub async fn server_parameter(
        &self,
        eff: &EffectiveSpec,
        name: &str,
    ) -> Result<Option<String>, ArmError> {
        let server = self.server_url(&crate::plan::postgres::target(eff), PG_API_VERSION);
        let (base, query) = server.split_once('?').unwrap_or((&server, ""));
        let url = format!("{base}/configurations/{name}?{query}");
        let one: Option<Config> = self.get_json("get configuration", &url).await?;
        Ok(one.and_then(|c| c.properties.value))
    }
}
