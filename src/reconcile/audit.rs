//! The audit trail of the operator's own key actions: one JSON object per line, append-only, per
//! event of a key rotation (detected, move-sent, consumer-confirmed, rotation-complete,
//! safe-to-disable, failed). Each line carries the plane, the consumer, the from and to versions,
//! ARM's request id of the write behind it (when there is one) and the time. Versions and request
//! ids are not secrets; no token, key material or credential is ever part of an event.

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use time::OffsetDateTime;

use crate::plan::rotation::KeyEvent;

/// One line, in this field order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Line<'a> {
    time: String,
    plane: &'a str,
    event: &'a str,
    consumer: &'a str,
    from_version: &'a str,
    to_version: &'a str,
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

/// The audit line of one key event of `plane` at `now` (to the second).
pub fn line(plane: &str, now: OffsetDateTime, e: &KeyEvent) -> String {
    let l = Line {
        time: now
            .replace_nanosecond(0)
            .unwrap_or(now)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        plane,
        event: e.event,
        consumer: &e.consumer,
        from_version: &e.from_version,
        to_version: &e.to_version,
        request_id: e.request_id.as_deref(),
        message: e.message.as_deref(),
    };
    serde_json::to_string(&l).unwrap_or_default()
}

/// A line as Kubernetes mode prints it on stdout: the same object, marked `"audit":true`.
pub fn tagged(line: &str) -> String {
    match line.strip_prefix('{') {
        Some(rest) => format!("{{\"audit\":true,{rest}"),
        None => line.to_owned(),
    }
}

/// Append lines to the audit log (created when absent), each flushed as one write.
pub fn append(path: &Path, lines: &[String]) -> std::io::Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let mut text = lines.join("\n");
    text.push('\n');
    f.write_all(text.as_bytes())?;
    f.sync_data()
}
