//! Contract test: replays every official example in tests/fixtures/arm-contract/ (copies of
//! Azure/azure-rest-api-specs files; see the README there) that the mock covers, checks status codes
//! and response shapes, and deserializes the bodies into the SDK model types, or into the project's
//! own typed structs (`engram_operator::azure::wire`) where no SDK crate exists.

use crate::common;
mod ops;
mod shape;
use ops::{graph_setup, network_setup, NOT_COVERED, OPS};
use shape::{same_shape, sdk_parse, OPTIONAL};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use engram_operator::mock_arm::MockConfig;
use serde_json::{json, Value};

const SUBX: &str = "ffffffff-ffff-ffff-ffff-ffffffffffff";

/// The fixture root: inside the repository, so the test travels with the code.
fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let p = manifest.join("tests/fixtures/arm-contract");
    let (canon, repo) = (
        p.canonicalize().expect("fixture root exists"),
        manifest.canonicalize().expect("manifest dir"),
    );
    assert!(
        canon.starts_with(&repo),
        "fixture root {} lies outside the repository {}",
        canon.display(),
        repo.display()
    );
    assert!(p.join("specs").is_dir(), "no specs/ under {}", p.display());
    p
}

/// The exact number of examples the replay sends: a file added, renamed or newly excluded changes it.
const REPLAYED: usize = 100;

/// Every JSON file under `dir`: the examples, and the API descriptions kept beside them.
fn fixtures(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            fixtures(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

/// The examples under `dir` (the files the replay sends).
fn examples(dir: &Path, out: &mut Vec<PathBuf>) {
    fixtures(dir, out);
    out.retain(|p| p.to_string_lossy().contains("examples"));
}

fn p<'a>(params: &'a Value, k: &str) -> &'a str {
    params[k].as_str().unwrap_or("example1")
}

fn path_of(tpl: &str, params: &Value) -> String {
    let sub = SUBX;
    let rg = p(params, "resourceGroupName");
    let mut out = tpl.to_string();
    let pg = format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.DBforPostgreSQL/flexibleServers/{}", p(params, "serverName"));
    let st = format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{}",
        p(params, "accountName")
    );
    let ct = format!(
        "{st}/blobServices/default/containers/{}",
        p(params, "containerName")
    );
    // Key Vault paths are on the vault's own host (see `vault_of`).
    let kv = format!("/keys/{}", p(params, "key-name"));
    let pe = format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/privateEndpoints/{}",
        p(params, "privateEndpointName")
    );
    let alert = format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Insights/metricAlerts/{}",
        p(params, "ruleName")
    );
    // Diagnostic settings are extension resources on the example's `resourceUri`.
    let diag_list = format!(
        "/{}/providers/Microsoft.Insights/diagnosticSettings",
        p(params, "resourceUri")
    );
    let diag = format!("{diag_list}/{}", p(params, "name"));
    let budget = format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Consumption/budgets/{}",
        p(params, "budgetName")
    );
    let costq = format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.CostManagement/query"
    );
    for (k, v) in [("ARG", engram_operator::mock_arm::GRAPH_JOURNAL_ID.to_owned()), ("DIAGLIST", diag_list), ("DIAG", diag), ("PGLIST", format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.DBforPostgreSQL/flexibleServers")), ("PG", pg), ("ST", st), ("CT", ct), ("KV", kv), ("PE", pe), ("ALERT", alert), ("BUDGET", budget), ("COSTQ", costq)] {
        let longer = (k == "PG" && out.starts_with("PGLIST"))
            || (k == "DIAG" && out.starts_with("DIAGLIST"));
        if out.starts_with(k) && !longer {
            out = out.replacen(k, &v, 1);
            break;
        }
    }
    out.replace("{configurationName}", p(params, "configurationName"))
        .replace("{firewallRuleName}", p(params, "firewallRuleName"))
        .replace("{objectId}", p(params, "objectId"))
        .replace(
            "{privateDnsZoneGroupName}",
            p(params, "privateDnsZoneGroupName"),
        )
}

/// The vault an example addresses (`vaultBaseUrl` is `https://{vault}.vault.azure.net`).
fn vault_of(params: &Value) -> String {
    p(params, "vaultBaseUrl")
        .trim_start_matches("https://")
        .split('.')
        .next()
        .unwrap_or("v")
        .to_string()
}

async fn setup(t: &T, what: &str, params: &Value) -> Option<String> {
    let rg = p(params, "resourceGroupName");
    let pg = format!("/subscriptions/{SUBX}/resourceGroups/{rg}/providers/Microsoft.DBforPostgreSQL/flexibleServers/{}", p(params, "serverName"));
    let st = format!(
        "/subscriptions/{SUBX}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{}",
        p(params, "accountName")
    );
    let ct = format!(
        "{st}/blobServices/default/containers/{}",
        p(params, "containerName")
    );
    let ok = |r: Resp| assert!(r.status < 300, "setup {what}: {} {:?}", r.status, r.body);
    match what {
        "pgfw" | "pgpe" | "pe" | "pezg" => network_setup(t, what, |tpl| path_of(tpl, params)).await,
        "arg" | "argpage" => return graph_setup(t, what, params).await,
        "pg" | "pgstopped" | "pgcmk" | "pgentra" | "pgadmin" => {
            let mut b = gp_server();
            if what == "pgcmk" {
                b["properties"]["dataEncryption"] = json!({"type": "AzureKeyVault", "primaryKeyURI": "https://v.vault.azure.net/keys/k/1"});
            }
            if what == "pgentra" || what == "pgadmin" {
                b["properties"]["authConfig"] = json!({"activeDirectoryAuth": "Enabled"});
            }
            ok(t.call("PUT", &pg, Some(PG), Some(b)).await);
            t.mock.advance(Duration::from_secs(60));
            if what == "pgadmin" {
                let admin = json!({"properties": {"principalType": "User", "principalName": "exampleuser@contoso.com"}});
                // The list example names no object id: the one its first entry has.
                let oid = params["objectId"]
                    .as_str()
                    .unwrap_or("oooooooo-oooo-oooo-oooo-oooooooooooo");
                let path = format!("{pg}/administrators/{oid}");
                ok(t.call("PUT", &path, Some(PG), Some(admin)).await);
                t.mock.advance(Duration::from_secs(60));
            }
            if what == "pgstopped" {
                ok(t.call("POST", &format!("{pg}/stop"), Some(PG), None).await);
                t.mock.advance(Duration::from_secs(60));
            }
        }
        "key" | "kvkey" => {
            let (vault, name) = if what == "key" {
                ("myvault8569".to_string(), "wrappingKey")
            } else {
                (vault_of(params), p(params, "key-name"))
            };
            ok(t.kv(
                "POST",
                &vault,
                &format!("/keys/{name}/create"),
                Some(json!({"kty": "RSA"})),
            )
            .await);
        }
        "alert" => {
            let body = json!({"location": "global", "properties": {"severity": 3, "enabled": true, "scopes": [], "evaluationFrequency": "PT1M", "windowSize": "PT15M", "criteria": {"odata.type": "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria", "allOf": []}}});
            ok(t.call(
                "PUT",
                &path_of("ALERT", params),
                Some("2018-03-01"),
                Some(body),
            )
            .await);
        }
        "diag" => {
            // A setting of the example's shape: every destination, a metric and a log category.
            let body = json!({"properties": {
                "storageAccountId": "/subscriptions/df602c9c-7aa0-407d-a6fb-eb20c8bd1192/resourceGroups/apptest/providers/Microsoft.Storage/storageAccounts/appteststorage1",
                "workspaceId": "",
                "eventHubAuthorizationRuleId": "/subscriptions/1a66ce04-b633-4a0b-b2bc-a912ec8986a6/resourceGroups/montest/providers/microsoft.eventhub/namespaces/mynamespace/authorizationrules/myrule",
                "marketplacePartnerId": "/subscriptions/abcdeabc-1234-1234-ab12-123a1234567a/resourceGroups/test-rg/providers/Microsoft.Datadog/monitors/dd1",
                "metrics": [{"category": "WorkflowMetrics", "enabled": true, "retentionPolicy": {"enabled": false, "days": 0}}],
                "logs": [{"category": "WorkflowRuntime", "enabled": true, "retentionPolicy": {"enabled": false, "days": 0}}]}});
            ok(t.call(
                "PUT",
                &path_of("DIAG", params),
                Some("2021-05-01-preview"),
                Some(body),
            )
            .await);
        }
        "budget" => {
            // A budget of the example's shape (a filter, a notification), from this month on.
            let body = json!({"properties": {"category": "Cost", "amount": 100.65, "timeGrain": "Monthly",
                "timePeriod": {"startDate": "2017-10-01T00:00:00Z", "endDate": "2018-10-31T00:00:00Z"},
                "filter": {"dimensions": {"name": "ResourceId", "operator": "In", "values": [pg]}},
                "notifications": {"Actual_GreaterThan_80_Percent": {"enabled": true, "operator": "GreaterThan",
                    "threshold": 80, "contactEmails": ["johndoe@contoso.com"], "thresholdType": "Actual"}}}});
            ok(t.call(
                "PUT",
                &path_of("BUDGET", params),
                Some("2024-08-01"),
                Some(body),
            )
            .await);
        }
        "pitr" => {
            // The source the example restores, created a week before its point in time.
            let source = params["parameters"]["properties"]["sourceServerResourceId"]
                .as_str()
                .unwrap_or_default();
            ok(t.call("PUT", source, Some(PG), Some(gp_server())).await);
            t.mock.advance(Duration::from_secs(7 * 86_400 + 600));
        }
        "" => {}
        _ => {
            if what == "acctkey" {
                ok(t.kv(
                    "POST",
                    "myvault8569",
                    "/keys/wrappingKey/create",
                    Some(json!({"kty": "RSA"})),
                )
                .await);
            }
            ok(t.call("PUT", &st, Some(ST), Some(json!({"location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}))).await);
            t.mock.advance(Duration::from_secs(60));
            match what {
                "policy" => ok(t.call("PUT", &format!("{st}/managementPolicies/default"), Some(ST), Some(json!({"properties": {"policy": {"rules": [{"name": "r", "type": "Lifecycle", "definition": {"filters": {"blobTypes": ["blockBlob"]}, "actions": {"baseBlob": {"delete": {"daysAfterModificationGreaterThan": 10}}}}}]}}}))).await),
                "container" | "unlocked" | "locked" | "hold" => {
                    ok(t.call("PUT", &ct, Some(ST), Some(json!({}))).await);
                    if what == "hold" {
                        ok(t.call("POST", &format!("{ct}/setLegalHold"), Some(ST), Some(json!({"tags": ["tag1", "tag2", "tag3"]}))).await);
                    }
                    if what == "unlocked" || what == "locked" {
                        let r = t.call("PUT", &format!("{ct}/immutabilityPolicies/default"), Some(ST), Some(json!({"properties": {"immutabilityPeriodSinceCreationInDays": 3}}))).await;
                        let etag = r.header("etag");
                        ok(r);
                        if what == "locked" {
                            let e = etag.clone().unwrap_or_default();
                            let r = t.call_h("POST", &format!("{ct}/immutabilityPolicies/default/lock"), Some(ST), None, &[("if-match", e.as_str())]).await;
                            let etag = r.header("etag");
                            ok(r);
                            return etag;
                        }
                        return etag;
                    }
                }
                _ => {}
            }
        }
    }
    None
}

#[tokio::test]
async fn every_covered_example_replays_against_the_mock() {
    let mut files = Vec::new();
    examples(&root().join("specs"), &mut files);
    files.sort();
    let mut failures = Vec::new();
    let mut replayed = 0;
    let mut used = std::collections::BTreeSet::new();
    for file in &files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        if NOT_COVERED.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let Some((_, method, tpl, pre)) = OPS
            .iter()
            .filter(|(pfx, ..)| name.starts_with(pfx))
            .max_by_key(|(pfx, ..)| pfx.len())
        else {
            failures.push(format!(
                "{name}: no replay rule (add one to OPS or NOT_COVERED)"
            ));
            continue;
        };
        let ex: Value =
            serde_json::from_str(&std::fs::read_to_string(file).expect("read")).expect("json");
        let params = &ex["parameters"];
        let t = if *tpl == "BUDGET" {
            // The examples' budgets start on 2017-10-01: Azure takes no start before this month.
            start_with(MockConfig {
                virtual_start: Some(time::macros::datetime!(2017-10-05 00:00 UTC)),
                ..MockConfig::default()
            })
            .await
        } else if *pre == "pitr" {
            // The example's point in time (2021-06-27) must lie inside the source's retention.
            start_with(MockConfig {
                virtual_start: Some(time::macros::datetime!(2021-06-20 00:00 UTC)),
                ..MockConfig::default()
            })
            .await
        } else {
            start().await
        };
        let etag = setup(&t, pre, params).await;
        // The request body: the `parameters` object when there is one (a private endpoint's
        // example also carries `extendedLocation`), else the one object among the parameters.
        let body = params.get("parameters").cloned().or_else(|| {
            params
                .as_object()
                .and_then(|m| m.values().find(|v| v.is_object()).cloned())
        });
        let version = params["api-version"].as_str().unwrap_or("");
        let path = path_of(tpl, params);
        let mut headers = Vec::new();
        if params.get("If-Match").is_some() {
            headers.push(("if-match", etag.clone().unwrap_or_default()));
        }
        // A next page is asked for with the token of the mock's own first page (the example's is
        // another service's, opaque).
        let body = match (body, &etag) {
            (Some(mut b), Some(token)) if b["options"].get("$skipToken").is_some() => {
                b["options"]["$skipToken"] = json!(token);
                Some(b)
            }
            (b, _) => b,
        };
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = if tpl.starts_with("KV") {
            t.kv_v(method, &vault_of(params), &path, version, body)
                .await
        } else {
            t.call_h(method, &path, Some(version), body, &h).await
        };
        replayed += 1;
        let codes: Vec<u16> = ex["responses"]
            .as_object()
            .map(|m| m.keys().filter_map(|k| k.parse().ok()).collect())
            .unwrap_or_default();
        if !codes.contains(&r.status) {
            failures.push(format!(
                "{name}: {method} {path} answered {} {:?}, example allows {codes:?}",
                r.status, r.body
            ));
            continue;
        }
        // The final body: for 202, what the operation's Location gives once done (or the GET).
        let mut ours = r.body.clone();
        if r.status == 202 {
            t.mock.advance(Duration::from_secs(120));
            if let Some(op) = r.header("azure-asyncoperation") {
                let s = t.get_abs(&op).await;
                if s.body["status"] != "Succeeded" {
                    failures.push(format!("{name}: operation ended {:?}", s.body));
                }
            }
            if let Some(loc) = r.header("location") {
                ours = t.get_abs(&loc).await.body;
            }
        }
        let ex_body = [200u16, 201]
            .iter()
            .find_map(|c| ex["responses"][c.to_string()].get("body"))
            .cloned();
        if let (Some(exb), false) = (ex_body, ours.is_null()) {
            let mut errs = Vec::new();
            same_shape(&exb, &ours, "", &mut errs);
            errs.retain(|e| match OPTIONAL.iter().find(|(o, _)| e.ends_with(o)) {
                Some((o, _)) => {
                    used.insert(*o);
                    false
                }
                None => true,
            });
            if !errs.is_empty() {
                failures.push(format!("{name}: shape: {errs:?}"));
            }
            if let Err(e) = sdk_parse(&name, &ours) {
                failures.push(e);
            }
            // The typed model must also accept the official example itself.
            if let Err(e) = sdk_parse(&name, &exb) {
                failures.push(format!("{e} (the example's own body)"));
            }
        }
    }
    for (o, _) in OPTIONAL {
        if !used.contains(o) {
            failures.push(format!(
                "OPTIONAL entry {o} excuses nothing any more: remove it"
            ));
        }
    }
    assert_eq!(
        replayed, REPLAYED,
        "replayed {replayed} examples, expected exactly {REPLAYED}"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every fixture is indexed in the fixture README with its upstream commit, and every row names a
/// file that is there: the provenance travels with the data.
#[test]
fn every_fixture_has_its_upstream_commit_in_the_readme() {
    let root = root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("fixture README");
    let rows: Vec<(String, String)> = readme
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(|c| c.trim().trim_matches('`')).collect();
            (cells.len() == 4 && cells[1].starts_with("specs/"))
                .then(|| (cells[1].to_string(), cells[2].to_string()))
        })
        .collect();
    let mut files = Vec::new();
    fixtures(&root.join("specs"), &mut files);
    assert_eq!(files.len(), rows.len(), "README rows vs fixture files");
    for f in &files {
        let rel = f
            .strip_prefix(&root)
            .expect("under root")
            .to_string_lossy()
            .replace('\\', "/");
        let row = rows.iter().find(|(p, _)| *p == rel);
        let Some((_, commit)) = row else {
            panic!("{rel} has no row in tests/fixtures/arm-contract/README.md");
        };
        assert!(
            commit.len() == 40 && commit.chars().all(|c| c.is_ascii_hexdigit()),
            "{rel}: commit {commit:?} is not a 40-hex git commit"
        );
    }
}
