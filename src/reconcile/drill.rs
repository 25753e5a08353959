//! The restore drill of one pass: heartbeat on the source; when due, a point-in-time restore to a
//! scratch server; once it is Ready, the checks; then its deletion. Every step is one request and
//! the state lives in `status.restoreDrill`, so a drill never blocks a pass and survives a
//! restart. Nothing here writes to the source server through ARM; the only SQL on the source is
//! the heartbeat.

use time::OffsetDateTime;

use super::Context;
use crate::api::status::{DrillRun, RestoreDrillStatus};
use crate::api::EffectiveSpec;
use crate::azure::ArmApi;
use crate::database::{drill as sql, Db};
use crate::plan::drill::{next_due, restore_op, restore_point, scratch_name};
use crate::plan::observed::Observed;
use crate::plan::{Op, PgTarget};

use super::status::rfc3339;

/// A restore that has not produced a Ready server after this long has failed.
const RESTORE_TIMEOUT: time::Duration = time::Duration::hours(8);

/// How stale status.restoreDrill.lastHeartbeat may get before a pass records a newer one.
const HEARTBEAT_RECORD: time::Duration = time::Duration::minutes(15);

/// What the drill did this pass.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DrillStep {
    pub status: Option<RestoreDrillStatus>,
    /// A drill that finished (succeeded or failed) in this pass: Events and metrics.
    pub finished: Option<DrillRun>,
    /// A drill is in flight: look again within a minute.
    pub in_flight: bool,
    pub writes: u32,
}

fn parse(t: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
}

/// One pass of the drill (None status when the spec declares none).
pub async fn step(
    arm: &dyn ArmApi,
    eff: &EffectiveSpec,
    observed: &Observed,
    prev: Option<&RestoreDrillStatus>,
    ctx: &Context,
    enforce: bool,
) -> DrillStep {
    let Some(spec) = eff.postgres.restore_drill.as_ref() else {
        return DrillStep::default();
    };
    let mut st = prev.cloned().unwrap_or_default();
    let now = ctx.now;
    let cron = spec.cron();
    let mut out = DrillStep::default();
    if st.next_due.as_deref().and_then(parse).is_none() {
        st.next_due = next_due(cron, now).map(rfc3339);
    }
    let source = observed
        .postgres
        .server
        .as_ref()
        .filter(|s| s.state == "Ready");
    let role = eff
        .postgres
        .entra_admin
        .as_ref()
        .map(|a| a.principal_name.as_str());
    let db = ctx.db.as_deref();
    if let (Some(db), Some(fqdn), true) = (db, source.and_then(|s| s.fqdn.as_deref()), enforce) {
        match sql::heartbeat(db, fqdn, role).await {
            Ok(_) => {
                let recorded = st.last_heartbeat.as_deref().and_then(parse);
                if recorded.is_none_or(|t| now - t >= HEARTBEAT_RECORD) {
                    st.last_heartbeat = Some(rfc3339(now));
                }
                db.keep_heartbeat(fqdn, role);
            }
            Err(e) => tracing::warn!(error = %e, "restore drill heartbeat failed"),
        }
    }
    if !enforce {
        out.status = Some(st);
        return out;
    }
    match st.current.take() {
        None => {
            let due = st.next_due.as_deref().and_then(parse);
            if let (Some(source), Some(due)) = (source, due) {
                if now >= due {
                    let run = start(arm, eff, source, ctx, &mut out).await;
                    st.next_due = next_due(cron, now).map(rfc3339);
                    if run.result.is_some() {
                        st.last = Some(run.clone());
                        out.finished = Some(run);
                    } else {
                        st.current = Some(run);
                    }
                }
            }
        }
        Some(run) => {
            let run = advance(arm, db, role, eff, spec, run, now, &mut out).await;
            if run.phase == "Succeeded" || run.phase == "Failed" {
                st.last = Some(run.clone());
                out.finished = Some(run);
            } else {
                st.current = Some(run);
            }
        }
    }
    out.in_flight = st.current.is_some();
    out.status = Some(st);
    out
}

async fn start(
    arm: &dyn ArmApi,
    eff: &EffectiveSpec,
    source: &crate::plan::observed::ObservedServer,
    ctx: &Context,
    out: &mut DrillStep,
) -> DrillRun {
    let name = scratch_name(&eff.postgres.server_name, ctx.now);
    let point = restore_point(ctx.now);
    let mut run = DrillRun {
        server: name.clone(),
        phase: "Restoring".into(),
        requested_at: rfc3339(ctx.now),
        restore_point: rfc3339(point),
        ..Default::default()
    };
    let op = restore_op(eff, source, &name, point, &ctx.owner);
    tracing::info!(scratch = %name, point = %run.restore_point, "restore drill: requesting a point-in-time restore");
    match arm.submit(&op).await {
        Ok(_) => out.writes += 1,
        Err(e) => {
            run.phase = "Failed".into();
            run.result = Some("Failed".into());
            run.message = Some(format!("the restore was refused: {e}"));
        }
    }
    run
}

#[allow(clippy::too_many_arguments)]
async fn advance(
    arm: &dyn ArmApi,
    db: Option<&Db>,
    role: Option<&str>,
    eff: &EffectiveSpec,
    spec: &crate::api::database::RestoreDrill,
    mut run: DrillRun,
    now: OffsetDateTime,
    out: &mut DrillStep,
) -> DrillRun {
    let scratch = match arm.get_server(eff, &run.server).await {
        Ok(s) => s,
        Err(e) => {
            // Read again next pass; the drill waits.
            run.message = Some(format!("cannot read the scratch server: {e}"));
            return run;
        }
    };
    match run.phase.as_str() {
        "Restoring" => {
            let requested = parse(&run.requested_at).unwrap_or(now);
            match scratch {
                Some(s) if s.state == "Ready" => {
                    let Some(fqdn) = s.fqdn.as_deref() else {
                        return fail(
                            arm,
                            eff,
                            spec,
                            run,
                            "the restored server reports no address".into(),
                            out,
                        )
                        .await;
                    };
                    let Some(db) = db else {
                        return fail(arm, eff, spec, run, "no database access to verify the restore (Entra, or --pg-password-file against the mock)".into(), out).await;
                    };
                    let v = sql::verify(db, fqdn, role, &spec.verify).await;
                    run.verified_at = Some(rfc3339(now));
                    run.rto_seconds = Some((now - requested).whole_seconds());
                    let point = parse(&run.restore_point);
                    run.rpo_seconds = match (point, v.latest_heartbeat) {
                        (Some(p), Some(h)) => Some((p - h).whole_seconds().max(0)),
                        _ => None,
                    };
                    let mut lines = v.passed.clone();
                    if run.rpo_seconds.is_none() {
                        lines.push(
                            "RPO not measured: no heartbeat in the restore (engram_ops.heartbeat)"
                                .into(),
                        );
                    }
                    if v.ok() {
                        run.result = Some("Succeeded".into());
                        run.message = Some(lines.join("; "));
                        delete(arm, eff, run, out).await
                    } else {
                        fail(arm, eff, spec, run, v.failed.join("; "), out).await
                    }
                }
                Some(s) if matches!(s.state.as_str(), "Failed" | "Dropping" | "Disabled") => {
                    let why = format!("the scratch server is {}", s.state);
                    fail(arm, eff, spec, run, why, out).await
                }
                _ if now - requested > RESTORE_TIMEOUT => {
                    let why = format!(
                        "the restore was not Ready after {} h",
                        RESTORE_TIMEOUT.whole_hours()
                    );
                    fail(arm, eff, spec, run, why, out).await
                }
                _ => run,
            }
        }
        // Verified: its delete has yet to be accepted.
        "Verified" => match scratch {
            Some(_) => delete(arm, eff, run, out).await,
            None => finish(run),
        },
        _ => match scratch {
            Some(_) => run,
            None => finish(run),
        },
    }
}

/// The drill failed: record why, and delete the scratch server unless keepFailed.
async fn fail(
    arm: &dyn ArmApi,
    eff: &EffectiveSpec,
    spec: &crate::api::database::RestoreDrill,
    mut run: DrillRun,
    why: String,
    out: &mut DrillStep,
) -> DrillRun {
    tracing::warn!(scratch = %run.server, reason = %why, "restore drill failed");
    run.result = Some("Failed".into());
    run.message = Some(why);
    if spec.keep_failed {
        run.kept = true;
        run.phase = "Failed".into();
        return run;
    }
    delete(arm, eff, run, out).await
}

async fn delete(
    arm: &dyn ArmApi,
    eff: &EffectiveSpec,
    mut run: DrillRun,
    out: &mut DrillStep,
) -> DrillRun {
    let op = Op::DrillDelete {
        scratch: PgTarget {
            subscription_id: eff.azure.subscription_id.clone(),
            resource_group: eff.azure.resource_group.clone(),
            server_name: run.server.clone(),
        },
        source: eff.postgres.server_name.clone(),
    };
    match arm.submit(&op).await {
        Ok(_) => {
            out.writes += 1;
            run.phase = "Deleting".into();
        }
        Err(e) => {
            tracing::warn!(scratch = %run.server, error = %e, "restore drill: delete refused; retrying next pass");
            run.phase = "Verified".into();
        }
    }
    run
}

/// The scratch server is gone: the drill ends with its result.
fn finish(mut run: DrillRun) -> DrillRun {
    run.phase = run.result.clone().unwrap_or_else(|| "Failed".into());
    run
}
