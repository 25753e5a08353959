//! Per-plane credentials (customer tenants), folder mode: which principal each plane's requests
//! carry, what an unusable credential does to its plane and only to it.

mod support;

use std::path::Path;
use std::sync::Arc;

use engram_operator::api::EngramDataPlaneStatus;
use engram_operator::azure::{Arm, ArmApi, ArmClients, Shared};
use engram_operator::mock_arm::MockArm;
use engram_operator::sources::folder::{Folder, FolderOptions};
use support::*;

const SUB_A: &str = "00000000-0000-0000-0000-00000000000a";
const SUB_B: &str = "00000000-0000-0000-0000-00000000000b";

/// examples/dev.yaml as plane `name` in `sub`, with its own resource names, running (not stopped)
/// and reading its credential from `credential` when given.
fn plane(dir: &Path, name: &str, sub: &str, credential: Option<&str>) {
    let text = std::fs::read_to_string("examples/dev.yaml").unwrap();
    let mut text = text
        .replace("acme-dev", name)
        .replace("acmeengramdev", &name.replace('-', ""))
        .replace("00000000-0000-0000-0000-000000000001", sub)
        .replace("state: Stopped", "state: Running");
    if let Some(c) = credential {
        text = text.replace(
            "    location: eastus2\n",
            &format!("    location: eastus2\n    credentialFrom: {c}\n"),
        );
    }
    std::fs::write(dir.join(format!("{name}.yaml")), text).unwrap();
}

/// A folder runner over `dir` whose planes may carry their own credentials.
fn runner(m: &MockArm, dir: &Path) -> Folder {
    let settings = m.arm_settings();
    let shared = Shared::default();
    let global: Arc<dyn ArmApi> = Arc::new(Arm::sharing(settings.clone(), shared.clone()).unwrap());
    let mut opts = FolderOptions::new(dir);
    opts.clients = Some(Arc::new(ArmClients::new(settings, shared, global.clone())));
    Folder::new(global, opts)
}

async fn passes(folder: &mut Folder, m: &MockArm, n: usize) {
    for _ in 0..n {
        folder.scan().unwrap();
        folder.force_due();
        folder.pass().await.unwrap();
        m.advance(std::time::Duration::from_secs(60));
    }
}

fn status_of(folder: &Folder, name: &str) -> EngramDataPlaneStatus {
    folder
        .statuses()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("no plane {name}"))
}

fn condition<'a>(
    s: &'a EngramDataPlaneStatus,
    kind: &str,
) -> Option<&'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    s.conditions
        .iter()
        .find(|c| c.type_ == kind && c.status == "True")
}

fn requests_to(m: &MockArm, sub: &str) -> usize {
    m.journal()
        .iter()
        .filter(|e| e.path.contains(sub))
        .count()
}

#[tokio::test]
async fn an_unusable_credential_degrades_its_plane_and_no_other() {
    let m = mock().await;
    let dir = tempfile::tempdir().unwrap();
    plane(dir.path(), "alpha", SUB_A, None);
    plane(dir.path(), "beta", SUB_B, Some("creds/beta.env"));
    let mut folder = runner(&m, dir.path());
    passes(&mut folder, &m, 3).await;

    let beta = status_of(&folder, "beta");
    let degraded = condition(&beta, "Degraded").expect("beta is Degraded");
    assert_eq!(degraded.reason, "CredentialInvalid");
    assert!(degraded.message.contains("beta.env"), "{}", degraded.message);
    assert!(beta.retry.is_some(), "an access failure backs off");
    assert_eq!(beta.azure.as_ref().unwrap().principal.as_ref().unwrap().kind, "invalid");
    assert_eq!(requests_to(&m, SUB_B), 0, "nothing of beta reached ARM");

    let alpha = status_of(&folder, "alpha");
    assert!(condition(&alpha, "Degraded").is_none(), "{:?}", alpha.conditions);
    assert!(requests_to(&m, SUB_A) > 0);
    assert_eq!(alpha.azure.as_ref().unwrap().principal.as_ref().unwrap().kind, "operator");

    // A malformed file: the message names the file and the field, never a value.
    std::fs::create_dir_all(dir.path().join("creds")).unwrap();
    std::fs::write(
        dir.path().join("creds/beta.env"),
        "AZURE_TENANT_ID=contoso.onmicrosoft.com\nAZURE_CLIENT_ID=s3cr3t-looking-value\n",
    )
    .unwrap();
    passes(&mut folder, &m, 1).await;
    let beta = status_of(&folder, "beta");
    let msg = &condition(&beta, "Degraded").unwrap().message;
    assert!(msg.contains("AZURE_CLIENT_ID must be a GUID"), "{msg}");
    assert!(!msg.contains("s3cr3t"), "{msg}");
    assert_eq!(requests_to(&m, SUB_B), 0);
}
