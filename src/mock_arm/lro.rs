//! Long-running operations: 202 + Azure-AsyncOperation / Location / Retry-After, the status and
//! result endpoints, and completion when the clock passes an operation's end.

use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::clock::rfc3339;
use super::errors::ArmError;
use super::store::{set_at, str_at, Reply, Req, World};
use super::MockConfig;

/// What kind of operation runs (its duration comes from [`super::LroDurations`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    PgCreate,
    PgUpdate,
    PgStart,
    PgStop,
    PgRestart,
    PgDelete,
    PgConfiguration,
    /// PUT or DELETE of a server firewall rule.
    PgFirewall,
    /// PUT or DELETE of a server's Microsoft Entra administrator.
    PgAdministrator,
    StorageCreate,
    /// PUT of a private endpoint or a private DNS zone group (Microsoft.Network).
    NetworkPut,
    /// DELETE of a private endpoint or a private DNS zone group.
    NetworkDelete,
}

impl OpKind {
    fn duration(self, cfg: &MockConfig) -> Duration {
        let d = &cfg.lro;
        match self {
            Self::PgCreate => d.pg_create,
            Self::PgUpdate => d.pg_update,
            Self::PgStart => d.pg_start,
            Self::PgStop => d.pg_stop,
            Self::PgRestart => d.pg_restart,
            Self::PgDelete => d.pg_delete,
            Self::PgConfiguration => d.pg_configuration,
            Self::PgFirewall => d.pg_firewall,
            Self::PgAdministrator => d.pg_administrator,
            Self::StorageCreate => d.storage_create,
            Self::NetworkPut | Self::NetworkDelete => d.network,
        }
    }

    fn is_storage(self) -> bool {
        self == Self::StorageCreate
    }

    fn is_network(self) -> bool {
        matches!(self, Self::NetworkPut | Self::NetworkDelete)
    }

    /// The resource provider whose `locations/{l}/...` URLs carry the operation.
    fn namespace(self) -> &'static str {
        if self.is_storage() {
            "Microsoft.Storage"
        } else if self.is_network() {
            "Microsoft.Network"
        } else {
            "Microsoft.DBforPostgreSQL"
        }
    }
}

/// What happens to the world when an operation succeeds.
#[derive(Debug, Clone)]
pub enum Effect {
    /// The target's body becomes this (and the target becomes visible).
    Commit(Value),
    /// The target's `properties.state` becomes this; `stopped` records the stop time;
    /// `restart` clears `isConfigPendingRestart` on the target's configurations.
    State {
        state: &'static str,
        stopped: bool,
        restart: bool,
    },
    /// The target and everything under it disappear.
    Delete,
}

/// Status of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum OpStatus {
    InProgress,
    Succeeded,
    Failed,
}

/// One long-running operation.
#[derive(Debug, Clone)]
pub struct Operation {
    pub id: String,
    pub kind: OpKind,
    /// The resource the operation's result is about (a server, a configuration, an account).
    pub target: String,
    /// The resource that is busy while it runs (the server for a configuration change).
    pub lock: String,
    pub sub: String,
    pub location: String,
    pub api_version: String,
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
    pub end_elapsed: Duration,
    pub status: OpStatus,
    pub effect: Effect,
    /// `properties.state` of the lock resource before the operation, restored on failure.
    pub prior_state: Option<String>,
    /// Set by a `fail_operation` fault.
    pub failure: Option<ArmError>,
    pub error: Option<ArmError>,
}

/// What a handler asks [`begin`] for.
pub struct Begin<'a> {
    pub kind: OpKind,
    pub target: &'a str,
    pub lock: &'a str,
    pub sub: &'a str,
    pub location: &'a str,
    pub effect: Effect,
    /// `properties.state` shown while the operation runs.
    pub transitional: Option<&'static str>,
    /// The operation is accepted but will end `Failed` with this error (as Azure does with a
    /// configuration write sent while the server is busy).
    pub failure: Option<ArmError>,
}

/// Start an operation and answer 202 with its headers.
pub fn begin(world: &mut World, req: &Req, b: Begin) -> Reply {
    let seq = world.next_seq();
    let id = super::store::guid(seq, 0x0a5e_c0de);
    let dur = b.kind.duration(req.cfg);
    let mut prior_state = None;
    if let Some(lock) = world.get_any_mut(b.lock) {
        lock.busy = Some(id.to_ascii_lowercase());
        if let Some(t) = b.transitional {
            prior_state = str_at(&lock.body, &["properties", "state"]).map(str::to_string);
            set_at(&mut lock.body, &["properties", "state"], json!(t));
        }
    }
    world.touch(b.lock);
    let op = Operation {
        id: id.clone(),
        kind: b.kind,
        target: b.target.to_string(),
        lock: b.lock.to_string(),
        sub: b.sub.to_string(),
        location: b.location.to_string(),
        api_version: req.api_version.to_string(),
        start: req.now,
        end: req.now + dur,
        end_elapsed: req.elapsed + dur,
        status: OpStatus::InProgress,
        effect: b.effect,
        prior_state,
        failure: b.failure.or_else(|| req.fail_op.clone()),
        error: None,
    };
    let reply = accepted(req, &op);
    world.pending.push(id.to_ascii_lowercase());
    world.ops.insert(id.to_ascii_lowercase(), op);
    reply
}

fn accepted(req: &Req, op: &Operation) -> Reply {
    let mut r = Reply::empty(202);
    if op.kind.is_network() {
        // Microsoft.Network: the status at locations/{l}/operations/{id}, the result at
        // locations/{l}/operationResults/{id} (the official PrivateEndpointDelete example).
        r.headers
            .push(("azure-asyncoperation", url(req.base, op, "operations")));
        r.headers
            .push(("location", url(req.base, op, "operationResults")));
    } else if !op.kind.is_storage() {
        r.headers.push((
            "azure-asyncoperation",
            url(req.base, op, "azureAsyncOperation"),
        ));
        r.headers
            .push(("location", url(req.base, op, "operationResults")));
    } else {
        r.headers
            .push(("location", url(req.base, op, "asyncoperations")));
    }
    r.headers
        .push(("retry-after", req.cfg.retry_after_secs.to_string()));
    r
}

fn url(base: &str, op: &Operation, leaf: &str) -> String {
    let ns = op.kind.namespace();
    // A location may be a display name ("UK South"), sent URL-encoded as Azure does.
    format!(
        "{base}/subscriptions/{}/providers/{ns}/locations/{}/{leaf}/{}?api-version={}",
        op.sub,
        op.location.replace(' ', "%20"),
        op.id,
        op.api_version
    )
}

/// Complete every operation whose end has passed, and auto-start servers stopped for too long.
pub fn tick(world: &mut World, elapsed: Duration, cfg: &MockConfig) {
    if !world.pending.is_empty() {
        let mut due: Vec<(Duration, String)> = world
            .pending
            .iter()
            .filter_map(|id| world.ops.get(id).map(|o| (o.end_elapsed, id.clone())))
            .filter(|(end, _)| *end <= elapsed)
            .collect();
        due.sort();
        for (_, id) in due {
            world.pending.retain(|p| p != &id);
            complete(world, &id);
        }
    }
    // The walk over the store is looked for at most once per second of the clock: in real time
    // every request has an instant of its own, and a walk per request over 1,000 servers'
    // configurations was most of a large run's time. A server starts at most a second late.
    if world
        .auto_start_checked
        .is_some_and(|at| elapsed >= at && elapsed - at < Duration::from_secs(1))
    {
        return;
    }
    world.auto_start_checked = Some(elapsed);
    let stale: Vec<String> = world
        .resources
        .iter()
        .filter(|(_, r)| {
            r.busy.is_none()
                && r.stopped_at
                    .is_some_and(|at| elapsed.saturating_sub(at) >= cfg.auto_start_after)
        })
        .map(|(k, _)| k.clone())
        .collect();
    for id in stale {
        if let Some(r) = world.get_any_mut(&id) {
            r.stopped_at = None;
            if str_at(&r.body, &["properties", "state"]) == Some("Stopped") {
                set_at(&mut r.body, &["properties", "state"], json!("Ready"));
            }
        }
        world.touch(&id);
    }
}

fn complete(world: &mut World, id: &str) {
    let Some(op) = world.ops.get(id).cloned() else {
        return;
    };
    if let Some(lock) = world.get_any_mut(&op.lock) {
        lock.busy = None;
    }
    let mut status = OpStatus::Succeeded;
    let mut error = None;
    if let Some(f) = op.failure.clone() {
        status = OpStatus::Failed;
        error = Some(f);
        match op.kind {
            OpKind::PgCreate | OpKind::StorageCreate => world.remove_tree(&op.target),
            OpKind::NetworkPut => {
                // A failed network create leaves the resource in provisioningState Failed.
                if let Some(r) = world.get_any_mut(&op.target) {
                    set_at(
                        &mut r.body,
                        &["properties", "provisioningState"],
                        json!("Failed"),
                    );
                }
            }
            _ => {
                if let (Some(lock), Some(prior)) = (world.get_any_mut(&op.lock), &op.prior_state) {
                    set_at(&mut lock.body, &["properties", "state"], json!(prior));
                }
            }
        }
        world.touch(&op.lock);
    } else {
        apply(world, &op);
    }
    if let Some(o) = world.ops.get_mut(id) {
        o.status = status;
        o.error = error;
    }
}

fn apply(world: &mut World, op: &Operation) {
    match &op.effect {
        Effect::Commit(body) => {
            let body = body.clone();
            world.put(&op.target, body, true);
            if op.kind == OpKind::NetworkPut {
                super::network::committed(world, &op.target);
            }
            if op.lock != op.target {
                if let (Some(lock), Some(prior)) = (world.get_any_mut(&op.lock), &op.prior_state) {
                    set_at(&mut lock.body, &["properties", "state"], json!(prior));
                }
                world.touch(&op.lock);
            }
        }
        Effect::State {
            state,
            stopped,
            restart,
        } => {
            if let Some(r) = world.get_any_mut(&op.target) {
                set_at(&mut r.body, &["properties", "state"], json!(state));
                r.stopped_at = stopped.then_some(op.end_elapsed);
            }
            world.touch(&op.target);
            if *restart {
                let ids: Vec<String> = world
                    .children(&op.target)
                    .into_iter()
                    .map(|(k, _)| k.clone())
                    .collect();
                for c in ids {
                    if let Some(r) = world.get_any_mut(&c) {
                        if r.body.pointer("/properties/isConfigPendingRestart")
                            == Some(&json!(true))
                        {
                            set_at(
                                &mut r.body,
                                &["properties", "isConfigPendingRestart"],
                                json!(false),
                            );
                        }
                    }
                    world.touch(&c);
                }
            }
        }
        Effect::Delete => {
            if op.kind == OpKind::NetworkDelete {
                super::network::deleting(world, &op.target);
            }
            world.remove_tree(&op.target)
        }
    }
}

/// GET of an Azure-AsyncOperation URL: always 200 with the status body.
pub fn status(world: &World, req: &Req, id: &str) -> Result<Reply, ArmError> {
    let op = find(world, id)?;
    let mut body = json!({
        "id": format!("/subscriptions/{}/providers/{}/locations/{}/operationsStatus/{}", op.sub, op.kind.namespace(), op.location, op.id),
        "name": op.id,
        "status": op.status,
        "startTime": rfc3339(op.start),
    });
    let mut r = Reply::default();
    match op.status {
        OpStatus::InProgress => r
            .headers
            .push(("retry-after", req.cfg.retry_after_secs.to_string())),
        _ => set_at(&mut body, &["endTime"], json!(rfc3339(op.end))),
    }
    if let Some(e) = &op.error {
        set_at(
            &mut body,
            &["error"],
            json!({"code": e.code, "message": e.message}),
        );
    }
    r.status = 200;
    r.body = Some(body);
    Ok(r)
}

/// GET of a Location URL: 202 while running, then what the synchronous call would have returned.
pub fn result(world: &World, req: &Req, id: &str) -> Result<Reply, ArmError> {
    let op = find(world, id)?;
    match op.status {
        OpStatus::InProgress => Ok(accepted(req, op)),
        OpStatus::Failed => Err(op
            .error
            .clone()
            .unwrap_or_else(|| ArmError::new(500, "InternalServerError", "The operation failed."))),
        OpStatus::Succeeded => match op.kind {
            OpKind::PgDelete | OpKind::NetworkDelete => Ok(Reply::empty(204)),
            OpKind::PgStart | OpKind::PgStop | OpKind::PgRestart => Ok(Reply::empty(200)),
            _ => match world.get(&op.target) {
                Some(r) => Ok(Reply::json(200, r.body.clone())),
                None => Ok(Reply::empty(204)),
            },
        },
    }
}

fn find<'w>(world: &'w World, id: &str) -> Result<&'w Operation, ArmError> {
    world
        .ops
        .get(&id.to_ascii_lowercase())
        .ok_or_else(|| ArmError::not_found("operations", id))
}

/// The operations, for the dump.
pub fn dump(world: &World) -> Value {
    let mut ops: Vec<&Operation> = world.ops.values().collect();
    ops.sort_by_key(|o| o.start);
    Value::Array(
        ops.into_iter()
            .map(|o| {
                json!({
                    "id": o.id, "kind": o.kind, "target": o.target, "lock": o.lock, "status": o.status,
                    "startTime": rfc3339(o.start), "endTime": rfc3339(o.end),
                    "error": o.error.as_ref().map(|e| e.body()),
                })
            })
            .collect(),
    )
}
