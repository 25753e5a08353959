//! Helpers shared by the mock ARM integration tests.
#![allow(dead_code)]

use std::time::Duration;

use engram_operator::mock_arm::{MockArm, MockConfig};
use serde_json::{json, Value};

pub const SUB: &str = "00000000-0000-0000-0000-000000000001";
pub const PG: &str = "2024-08-01";
pub const ST: &str = "2023-05-01";

pub struct T {
    pub mock: MockArm,
    pub http: reqwest::Client,
}

pub async fn start() -> T {
    start_with(MockConfig::default()).await
}

pub async fn start_with(cfg: MockConfig) -> T {
    let mock = MockArm::start(cfg).await.expect("mock starts");
    T {
        mock,
        http: reqwest::Client::new(),
    }
}

pub fn server_id(name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/{name}")
}

pub fn account_id(name: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/{name}"
    )
}

pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    /// Status, headers and the JSON body (Null when empty) of a response.
    async fn read(r: reqwest::Response) -> Self {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, k: &str) -> Option<String> {
        self.headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl T {
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.mock.base_url(), path_and_query)
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        version: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        self.call_h(method, path, version, body, &[]).await
    }

    pub async fn call_h(
        &self,
        method: &str,
        path: &str,
        version: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let url = match version {
            Some(v) => self.url(&format!("{path}?api-version={v}")),
            None => self.url(path),
        };
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.http.request(m, url).bearer_auth(self.mock.token());
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        Resp::read(rb.send().await.expect("request sent")).await
    }

    /// A Key Vault request: `path` (`/keys/...`) on the mock's Key Vault listener, addressed to
    /// `https://{vault}.vault.azure.net` through the `Host` header, as the operator's
    /// `--keyvault-endpoint` sends it.
    pub async fn kv(&self, method: &str, vault: &str, path: &str, body: Option<Value>) -> Resp {
        self.kv_v(method, vault, path, "7.4", body).await
    }

    /// [`T::kv`] at a given api-version.
    pub async fn kv_v(
        &self,
        method: &str,
        vault: &str,
        path: &str,
        version: &str,
        body: Option<Value>,
    ) -> Resp {
        let url = format!("{}{path}?api-version={version}", self.mock.keyvault_url());
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self
            .http
            .request(m, url)
            .header("host", format!("{vault}.vault.azure.net"))
            .bearer_auth(self.mock.token());
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        Resp::read(rb.send().await.expect("request sent")).await
    }

    /// A call of the control API (`/_mock/...`, no token): its JSON answer.
    pub async fn control(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.http.request(m, self.url(path));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        json_of(rb).await
    }

    pub async fn get_abs(&self, url: &str) -> Resp {
        let r = self
            .http
            .get(url)
            .bearer_auth(self.mock.token())
            .send()
            .await
            .expect("sent");
        Resp::read(r).await
    }

    /// Create a server and let its create finish.
    pub async fn create_server(&self, name: &str, body: Value) -> Resp {
        let r = self
            .call("PUT", &server_id(name), Some(PG), Some(body))
            .await;
        assert_eq!(r.status, 202, "create {name}: {:?}", r.body);
        self.mock.advance(Duration::from_secs(60));
        r
    }

    /// PATCH a server as the operator would.
    pub async fn patch_server(&self, name: &str, body: Value) -> Resp {
        self.call("PATCH", &server_id(name), Some(PG), Some(body))
            .await
    }

    pub async fn server(&self, name: &str) -> Value {
        let r = self.call("GET", &server_id(name), Some(PG), None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body
    }

    pub async fn create_account(&self, name: &str, body: Value) {
        let r = self
            .call("PUT", &account_id(name), Some(ST), Some(body))
            .await;
        assert_eq!(r.status, 202, "{:?}", r.body);
        self.mock.advance(Duration::from_secs(60));
    }
}

/// Send a request and read its JSON answer.
pub async fn json_of(rb: reqwest::RequestBuilder) -> Value {
    Resp::read(rb.send().await.expect("sent")).await.body
}

pub fn gp_server() -> Value {
    json!({
        "location": "westus",
        "sku": {"name": "Standard_D2ds_v5", "tier": "GeneralPurpose"},
        "properties": {"administratorLogin": "admin", "administratorLoginPassword": "secret-pw", "version": "16",
                        "storage": {"storageSizeGB": 128}, "backup": {"backupRetentionDays": 7, "geoRedundantBackup": "Disabled"}}
    })
}

pub fn burstable_server() -> Value {
    json!({
        "location": "westus",
        "sku": {"name": "Standard_B1ms", "tier": "Burstable"},
        "properties": {"administratorLogin": "admin", "version": "16", "storage": {"storageSizeGB": 32}}
    })
}
