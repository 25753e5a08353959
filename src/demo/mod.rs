//! `engram-operator demo`: the embedded mock ARM in real time with short operations, every spec of
//! examples/ converged, then a "portal edit" made out of band, the drift detected and corrected,
//! a key rotation, pgvector inside a local PostgreSQL (`vector`, skipped without one), and a
//! summary. Finishes in well under a minute.

mod customer;
mod vector;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::azure::{Arm, ArmApi, ArmSettings};
use crate::mock_arm::{ClockMode, LroDurations, MockArm, MockConfig};
use crate::reconcile::{self, Context};
use crate::sources::folder::{Folder, FolderOptions};
use crate::{api, Error, Result};

/// Start the mock ARM in-process, real-time clock, with operations lasting `lro`; its Key Vault
/// holds every customer-managed key the specs in `specs` name (the storage account checks it).
pub async fn start_embedded(lro: Duration, specs: &Path) -> Result<(MockArm, ArmSettings)> {
    let config = MockConfig {
        clock: ClockMode::RealTime,
        lro: LroDurations::uniform(lro),
        retry_after_secs: 1,
        ..MockConfig::default()
    };
    let mock = MockArm::start(config)
        .await
        .map_err(|e| Error::Usage(format!("embedded mock ARM: {e}")))?;
    let mut settings = mock.arm_settings();
    settings.min_backoff = Duration::from_millis(100);
    tracing::info!(endpoint = %mock.base_url(), keyvault = %mock.keyvault_url(), "embedded mock ARM started");
    seed_keys(&mock, specs)?;
    Ok((mock, settings))
}

/// Create, in the embedded mock's Key Vault, the keys (primary and geo-backup) each valid spec
/// under `specs` names, as an administrator would before the first run. A pinned version cannot
/// be chosen in the mock: such a spec stays not Ready with KeyVaultKeyNotFound.
fn seed_keys(mock: &MockArm, specs: &Path) -> Result<()> {
    for file in crate::cli::spec_files(specs)? {
        let Ok((_, eff)) = api::load(&crate::cli::read(&file)?) else {
            continue;
        };
        let Some(enc) = eff.encryption else { continue };
        let geo = enc.geo_backup.map(|g| (g.key_vault_uri, g.key_name));
        for (vault_uri, key) in std::iter::once((enc.key_vault_uri, enc.key_name)).chain(geo) {
            let vault = vault_uri
                .trim_start_matches("https://")
                .split('.')
                .next()
                .unwrap_or_default()
                .to_owned();
            let version = mock.new_key_version(&vault, &key);
            tracing::info!(%vault, %key, %version, "embedded Key Vault key created");
        }
    }
    Ok(())
}

fn say(line: &str) {
    println!("{line}");
}

/// Run the demo over the specs in `dir`; returns the exit code.
pub async fn run(dir: &Path) -> Result<i32> {
    let started = Instant::now();
    let (mock, settings) = start_embedded(Duration::from_secs(2), dir).await?;
    let arm = Arc::new(Arm::new(settings.clone()).map_err(|e| Error::Usage(e.to_string()))?);

    say(&format!(
        "== 1. converge every data plane in {} against the mock ARM",
        dir.display()
    ));
    let mut opts = FolderOptions::new(dir);
    opts.once = true;
    opts.poll_interval = Duration::from_millis(500);
    opts.once_timeout = Duration::from_secs(40);
    let mut folder = Folder::new(arm.clone(), opts);
    let code = folder.run().await?;
    if code != 0 {
        say("demo: not every data plane became Ready");
        return Ok(code);
    }
    let planes = folder.statuses();
    let (r1, w1, _, _) = arm.stats().snapshot();
    say(&format!(
        "   {} data planes Ready after {r1} ARM reads and {w1} writes",
        planes.len()
    ));
    for (name, status) in &planes {
        say(&format!("   {name}: {}", network_line(status)));
    }

    for (name, st) in &planes {
        if let Some(d) = &st.diagnostics {
            let vault = d
                .key_vault_audit
                .as_ref()
                .map_or("-".to_owned(), |c| format!("{} ({})", c.result, c.detail));
            say(&format!(
                "   audit logs {name}: engram-audit in place on {}; key vault AuditEvent: {vault}",
                d.in_place.join(", ")
            ));
        }
    }

    say("== 2. an in-sync pass costs reads only");
    let prod_file = dir.join("prod.yaml");
    let (_, eff) = api::load(&crate::cli::read(&prod_file)?).map_err(Error::Invalid)?;
    let mut status = planes
        .iter()
        .find(|(n, _)| n == "acme-prod")
        .map(|(_, s)| s.clone())
        .unwrap_or_default();
    let ctx = || Context {
        now: time::OffsetDateTime::now_utc(),
        generation: Some(1),
        poll_interval: Duration::from_millis(500),
        dry_run: false,
        max_operation_age: reconcile::DEFAULT_MAX_OPERATION_AGE,
        // The owner folder mode gave it in step 1.
        owner: "folder/acme-prod".into(),
        db: None,
        intents: Default::default(),
    };
    let out = reconcile::reconcile(arm.as_ref(), Ok(&eff), &status, &ctx()).await;
    say(&format!(
        "   acme-prod: ready={} writes={}",
        out.ready(),
        out.writes
    ));
    status = out.status;

    say("== 3. portal edit: someone scales acme-prod-pg down to Standard_D2s_v3 and sets backups to 7 days,");
    say("      lowers acmeengramprod to TLS1_0, moves the record-plane archive tier to 180 days");
    say("      and switches the blob service's StorageDelete audit log off");
    let id = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.DBforPostgreSQL/flexibleServers/{}",
        eff.azure.subscription_id, eff.azure.resource_group, eff.postgres.server_name
    );
    mock.edit(
        &id,
        serde_json::json!({"sku": {"name": "Standard_D2s_v3"}, "properties": {"backup": {"backupRetentionDays": 7}}}),
    )
    .map_err(|e| Error::Usage(e.to_string()))?;
    portal_edit_storage(&mock, &eff)?;
    let audit = format!(
        "{}{}/providers/Microsoft.Insights/diagnosticSettings/{}",
        crate::plan::owner::account_id(&eff),
        "/blobServices/default",
        crate::plan::diagnostics::SETTING_NAME
    );
    let logs: Vec<serde_json::Value> = crate::plan::diagnostics::BLOB_CATEGORIES
        .iter()
        .map(|c| serde_json::json!({"category": c, "enabled": *c != "StorageDelete"}))
        .collect();
    mock.edit(&audit, serde_json::json!({"properties": {"logs": logs}}))
        .map_err(|e| Error::Usage(e.to_string()))?;

    let mut corrected = 0;
    for _ in 0..60 {
        let out = reconcile::reconcile(arm.as_ref(), Ok(&eff), &status, &ctx()).await;
        for d in out.status.drift.iter().filter(|d| d.corrected) {
            corrected += 1;
            say(&format!(
                "   drift {} {}: {} → {} (corrected)",
                d.resource, d.field, d.observed, d.desired
            ));
        }
        status = out.status.clone();
        if out.settled {
            say(&format!("   acme-prod: ready={}", out.ready()));
            break;
        }
        tokio::time::sleep(out.requeue_after.unwrap_or(Duration::from_millis(500))).await;
    }

    say("== 4. key rotation: a new version of engram-cmk in kv-acme-prod; PostgreSQL is moved, Storage");
    say("      follows the vault, each confirmed from its own report (the audit trail)");
    let rotated = rotate_key(&mock, arm.as_ref(), &eff, status, ctx).await?;
    status = rotated.0;

    let vector = vector::step(&mock, arm.as_ref(), &eff, status.clone(), ctx).await?;
    let customer = customer::step(&mock, &settings, dir).await?;

    let (reads, writes, throttled, _) = arm.stats().snapshot();
    say("== summary");
    say(&format!("   data planes:      {}", planes.len()));
    say(&format!(
        "   ARM reads/writes: {reads}/{writes} (429s: {throttled})"
    ));
    say(&format!("   drift corrected:  {corrected}"));
    say(&format!("   key rotated:      {}", rotated.1));
    say(&format!("   vector step:      {}", vector.label()));
    say(&format!("   customer tenant:  {}", customer.label()));
    say(&format!(
        "   elapsed:          {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    mock.shutdown().await;
    let ready = reconcile::conditions::is_ready(&status.conditions);
    let vector_ok = vector != vector::VectorOutcome::Failed;
    let customer_ok = customer != customer::CustomerOutcome::Failed;
    Ok(
        if ready && corrected > 0 && rotated.1 && vector_ok && customer_ok {
            0
        } else {
            1
        },
    )
}

/// Step 4: rotate the prod key in the vault and reconcile until every consumer is confirmed,
/// printing each audit line. Returns the status and whether the rotation completed.
async fn rotate_key(
    mock: &MockArm,
    arm: &dyn crate::azure::ArmApi,
    eff: &api::EffectiveSpec,
    mut status: api::EngramDataPlaneStatus,
    ctx: impl Fn() -> Context,
) -> Result<(api::EngramDataPlaneStatus, bool)> {
    let Some(enc) = &eff.encryption else {
        return Ok((status, false));
    };
    let vault = enc
        .key_vault_uri
        .trim_start_matches("https://")
        .split('.')
        .next()
        .unwrap_or_default();
    mock.new_key_version(vault, &enc.key_name);
    for _ in 0..60 {
        let c = ctx();
        let out = reconcile::reconcile(arm, Ok(eff), &status, &c).await;
        for e in &out.key_events {
            say(&format!(
                "   audit {}",
                reconcile::audit::line("acme-prod", c.now, e)
            ));
        }
        status = out.status;
        if status
            .key_rotation
            .as_ref()
            .is_some_and(|r| r.phase == "Complete")
        {
            return Ok((status, true));
        }
        tokio::time::sleep(out.requeue_after.unwrap_or(Duration::from_millis(500))).await;
    }
    Ok((status, false))
}

/// How each service of a plane is reached, as its status says (the private endpoints in uat/prod).
fn network_line(s: &api::EngramDataPlaneStatus) -> String {
    let one = |n: Option<&api::status::NetworkObserved>| match n {
        None => "-".to_owned(),
        Some(n) => match &n.private_endpoint {
            Some(pe) => format!(
                "{} {pe} {} (public access {})",
                n.mode,
                n.connection.as_deref().unwrap_or("-"),
                n.public_network_access.as_deref().unwrap_or("-")
            ),
            None => format!(
                "{} (public access {})",
                n.mode,
                n.public_network_access.as_deref().unwrap_or("-")
            ),
        },
    };
    format!(
        "postgres {}; storage {}",
        one(s.postgres.as_ref().and_then(|p| p.network.as_ref())),
        one(s.storage.as_ref().and_then(|p| p.network.as_ref()))
    )
}

/// The storage half of the portal edit: TLS lowered, one lifecycle day count changed.
fn portal_edit_storage(mock: &MockArm, eff: &api::EffectiveSpec) -> Result<()> {
    let account = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Storage/storageAccounts/{}",
        eff.azure.subscription_id, eff.azure.resource_group, eff.storage.account_name
    );
    let edit = |id: &str, patch: serde_json::Value| {
        mock.edit(id, patch)
            .map(|_| ())
            .map_err(|e| Error::Usage(e.to_string()))
    };
    edit(
        &account,
        serde_json::json!({"properties": {"minimumTlsVersion": "TLS1_0"}}),
    )?;
    let mut rules = crate::azure::lifecycle_rules_json(&eff.storage.lifecycle);
    if let Some(r) = rules.first_mut() {
        r["definition"]["actions"]["baseBlob"]["tierToArchive"] =
            serde_json::json!({"daysAfterModificationGreaterThan": 180});
    }
    edit(
        &format!("{account}/managementPolicies/default"),
        serde_json::json!({"properties": {"policy": {"rules": rules}}}),
    )
}
