//! The demo's customer step: examples/customer/ holds a plane in a customer's own subscription and
//! tenant, whose credential names only the customer's tenant and application (no secret). The mock
//! Entra authority registers that application with a federated credential trusting the operator's
//! service account; the operator exchanges its (minted) projected token there, and the mock ARM
//! attributes each request to the customer's principal. Then the credential is broken: the plane
//! is Degraded with Entra's reason, and nothing of it reaches ARM.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::say;
use crate::azure::{Arm, ArmApi, ArmClients, ArmSettings, PlaneCredential, Shared};
use crate::mock_arm::{assertion, EntraPrincipal, FederatedCredential, MockArm};
use crate::sources::folder::{Folder, FolderOptions};
use crate::{Error, Result};

/// The operator's service account, as the cluster's OIDC issuer names it.
const ISSUER: &str = "https://oidc.demo.engram.invalid/cluster";
const SUBJECT: &str = "system:serviceaccount:engram-system:engram-operator";
/// A client id the customer's tenant no longer knows.
const DELETED_APP: &str = "00000000-dead-4000-8000-000000000000";

/// How the step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CustomerOutcome {
    /// No examples/customer/ beside the specs.
    Skipped,
    /// Converged as the customer's principal, and the broken credential was contained.
    Contained,
    Failed,
}

impl CustomerOutcome {
    pub fn label(self) -> &'static str {
        match self {
            Self::Skipped => "skipped (no customer/ folder)",
            Self::Contained => "converged as the customer's principal; a bad credential contained",
            Self::Failed => "FAILED",
        }
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A scratch copy of `src`: its specs, and each credential file with the operator's projected
/// token (a minted one) added, as the pod's environment would provide it.
fn scratch(src: &Path, token: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("engram-demo-customer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let token_file = dir.join("azure-identity-token");
    std::fs::write(&token_file, token).map_err(io(&token_file))?;
    for entry in std::fs::read_dir(src).map_err(io(src))?.flatten() {
        let path = entry.path();
        let to = dir.join(entry.file_name());
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml") => {
                std::fs::copy(&path, &to).map_err(io(&path))?;
            }
            Some("env") => {
                let text = std::fs::read_to_string(&path).map_err(io(&path))?;
                let text = format!(
                    "{text}AZURE_FEDERATED_TOKEN_FILE={}\n",
                    token_file.display()
                );
                std::fs::write(&to, text).map_err(io(&to))?;
            }
            _ => {}
        }
    }
    Ok(dir)
}

/// Step 6.
pub async fn step(mock: &MockArm, settings: &ArmSettings, specs: &Path) -> Result<CustomerOutcome> {
    let src = specs.join("customer");
    let Ok(env) = std::fs::read_to_string(src.join("contoso.env")) else {
        return Ok(CustomerOutcome::Skipped);
    };
    say("== 6. a customer's data plane in the customer's own tenant (spec.azure.credentialFrom): the");
    say("      operator's projected token exchanged at the customer's Entra for the customer's application");
    // Only its tenant and client id are read here (the token file is the scratch copy's).
    let customer = PlaneCredential::parse_env_file("contoso.env", &env, Some(Path::new("-")))
        .map_err(Error::Usage)?;
    let mut app = EntraPrincipal::new(&customer.tenant_id, &customer.client_id);
    app.federated = vec![FederatedCredential::new(ISSUER, SUBJECT)];
    mock.add_principal(app)
        .map_err(|e| Error::Usage(e.to_string()))?;
    let now = mock.now_unix();
    let dir = scratch(
        &src,
        &assertion(ISSUER, SUBJECT, now - 60, now + 3600, "demo"),
    )?;
    let spec = src.join("contoso-dev.yaml");
    let (_, eff) = crate::api::load(&crate::cli::read(&spec)?).map_err(Error::Invalid)?;
    let outcome = run(mock, settings, &dir, &customer, &eff.azure.subscription_id).await;
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

async fn run(
    mock: &MockArm,
    settings: &ArmSettings,
    dir: &Path,
    customer: &PlaneCredential,
    subscription: &str,
) -> Result<CustomerOutcome> {
    let mut settings = settings.clone();
    settings.authority_host = Some(mock.entra_url());
    let shared = Shared::default();
    let global: Arc<dyn ArmApi> = Arc::new(
        Arm::sharing(settings.clone(), shared.clone()).map_err(|e| Error::Usage(e.to_string()))?,
    );
    let mut opts = FolderOptions::new(dir);
    opts.once = true;
    opts.poll_interval = Duration::from_millis(500);
    opts.once_timeout = Duration::from_secs(40);
    opts.clients = Some(Arc::new(ArmClients::new(settings, shared, global.clone())));
    let mut folder = Folder::new(global, opts);
    let code = folder.run().await?;
    let principal = customer.principal();
    let journal = mock.journal();
    let ours: Vec<_> = journal
        .iter()
        .filter(|e| e.path.contains(subscription))
        .collect();
    let signed = ours.iter().filter(|e| e.principal == principal).count();
    let tokens = mock.token_requests().len();
    for (name, status) in folder.statuses() {
        let who = status
            .azure
            .as_ref()
            .and_then(|a| a.principal.as_ref())
            .map_or("-".into(), |p| format!("{} ({})", p.source, p.kind));
        say(&format!(
            "   {name}: ready={} as {who}; {signed} of {} ARM requests signed as {principal}; {tokens} token request(s)",
            crate::reconcile::conditions::is_ready(&status.conditions),
            ours.len()
        ));
    }
    let converged = code == 0 && !ours.is_empty() && signed == ours.len();

    // The customer deletes the application: the next pass is refused by Entra, only for this plane.
    let env = dir.join("contoso.env");
    let text = std::fs::read_to_string(&env).map_err(io(&env))?;
    let text = text.replace(&customer.client_id, DELETED_APP);
    std::fs::write(&env, text).map_err(io(&env))?;
    let before = mock.journal().len();
    folder.scan()?;
    folder.force_due();
    folder.pass().await?;
    let sent = mock.journal().len() - before;
    let mut contained = false;
    for (name, status) in folder.statuses() {
        if let Some(c) = status
            .conditions
            .iter()
            .find(|c| c.type_ == "Degraded" && c.status == "True")
        {
            say(&format!(
                "   {name} after its application was deleted: Degraded/{}: {}",
                c.reason, c.message
            ));
            contained = c.reason == "CredentialInvalid" && sent == 0;
        }
    }
    say(&format!("   ARM requests sent for it since: {sent}"));
    Ok(if converged && contained {
        CustomerOutcome::Contained
    } else {
        CustomerOutcome::Failed
    })
}
