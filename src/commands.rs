//! The async commands behind `run` and `plan`.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::azure::{Arm, ArmApi};
use crate::cli::{read, writeln_out, ArmArgs, RunArgs};
use crate::sources::folder::{Folder, FolderOptions};
use crate::{api, plan, Error, Result};

fn arm_error(e: crate::azure::ArmError) -> Error {
    Error::Usage(format!("ARM: {e}"))
}

/// `engram-operator run`.
pub async fn run(args: RunArgs) -> Result<i32> {
    let mut settings = args.arm.settings();
    let _embedded = if args.arm_mode.as_deref() == Some("embedded") {
        let (mock, s) =
            crate::demo::start_embedded(Duration::from_secs(args.mock_lro_seconds)).await?;
        settings = s;
        Some(mock)
    } else {
        None
    };
    let arm: Arc<dyn ArmApi> = Arc::new(Arm::new(settings).map_err(arm_error)?);
    let mut opts = FolderOptions::new(&args.specs);
    opts.status_dir = args.status_dir.clone();
    opts.once = args.once;
    opts.concurrency = args.concurrency;
    opts.poll_interval = Duration::from_secs_f64(args.poll_seconds.max(0.05));
    let code = Folder::new(arm.clone(), opts).run().await?;
    let (reads, writes, throttled, non_2xx) = arm.stats().snapshot();
    tracing::info!(reads, writes, throttled, non_2xx, "ARM requests");
    Ok(code)
}

/// `engram-operator plan -f FILE`.
pub async fn plan(file: &Path, arm: &ArmArgs, out: &mut impl Write) -> Result<i32> {
    let (_, eff) = match api::load(&read(file)?) {
        Ok(x) => x,
        Err(errors) => {
            for e in errors {
                writeln_out(out, &format!("{}: {e}", file.display()))?;
            }
            return Ok(1);
        }
    };
    let client = Arm::new(arm.settings()).map_err(arm_error)?;
    let observed = match client.observe(&eff).await {
        Ok(o) => o,
        Err(e) => {
            writeln_out(out, &format!("error reading Azure: {e}"))?;
            return Ok(1);
        }
    };
    let p = plan::plan_all(&eff, &observed, time::OffsetDateTime::now_utc());
    let (text, sum) = plan::render::terraform(&p);
    crate::cli::write_out(out, &text)?;
    Ok(if sum.refused > 0 {
        1
    } else if sum.create + sum.change > 0 || !p.drift.is_empty() {
        2
    } else {
        0
    })
}
