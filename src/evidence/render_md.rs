//! The report as Markdown.

use std::fmt::Write;

use super::{svg, Control, PlaneReport, Report};

/// A table cell: pipes escaped, line breaks flattened.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn observed(c: &Control) -> String {
    c.observed
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn sources(c: &Control) -> String {
    c.sources
        .iter()
        .map(|s| {
            format!(
                "GET {} ({} {})",
                s.url,
                s.status.map_or_else(|| "-".into(), |x| x.to_string()),
                s.request_id.as_deref().unwrap_or("no request id")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn json_block(out: &mut String, v: &impl serde::Serialize) {
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    let _ = writeln!(out, "```json\n{text}\n```\n");
}

fn plane(out: &mut String, p: &PlaneReport) {
    let _ = writeln!(out, "## {} ({})\n", p.plane, p.environment);
    let _ = writeln!(out, "### Controls\n");
    let _ = writeln!(
        out,
        "| id | control | outcome | detail | observed | at | source |\n|---|---|---|---|---|---|---|"
    );
    for c in &p.controls {
        let _ = writeln!(
            out,
            "| {} | {} | **{}** | {} | {} | {} | {} |",
            c.id,
            cell(&c.title),
            c.outcome.label(),
            cell(&c.detail),
            cell(&observed(c)),
            c.observed_at.as_deref().unwrap_or("-"),
            cell(&sources(c))
        );
    }
    let _ = writeln!(out, "\n### TDE manifest: PostgreSQL\n");
    json_block(out, &p.tde_manifest.postgres);
    let _ = writeln!(out, "### TDE manifest: Blob Storage\n");
    json_block(out, &p.tde_manifest.storage);
    let _ = writeln!(out, "### Encryption metadata\n");
    json_block(out, &p.encryption_metadata);
    let _ = writeln!(out, "### Key rotation log\n");
    let r = &p.rotation_log;
    match (&r.key_rotation, r.status_given) {
        (_, false) => {
            let _ = writeln!(out, "The plane's status was not given.\n");
        }
        (None, true) => {
            let _ = writeln!(out, "No key rotation is recorded in status.\n");
        }
        (Some(k), true) => json_block(out, k),
    }
    match &r.audit_log {
        None => {
            let _ = writeln!(out, "No audit log was given (`--audit-log`).\n");
        }
        Some(path) => {
            let _ = writeln!(
                out,
                "Audit log `{}`: {} line(s) for this plane.\n",
                path,
                r.audit_lines.len()
            );
            let lines: Vec<String> = r.audit_lines.iter().map(|l| l.to_string()).collect();
            let _ = writeln!(out, "```\n{}\n```\n", lines.join("\n"));
        }
    }
    let _ = writeln!(
        out,
        "### Encryption flow\n\n```\n{}\n```\n",
        svg::flow_text(&p.flow)
    );
    let _ = writeln!(out, "### Requests ({})\n", p.requests.len());
    for s in &p.requests {
        let _ = writeln!(
            out,
            "- {} GET {} → {} `{}`",
            s.at,
            s.url,
            s.status.map_or_else(|| "-".into(), |x| x.to_string()),
            s.request_id.as_deref().unwrap_or("-")
        );
    }
    out.push('\n');
}

/// The whole report.
pub fn render(r: &Report) -> String {
    let mut out = format!(
        "# {} (Data Encryption) evidence\n\nGenerated {}. Catalogue: docs/evidence.md.\n\n",
        r.control, r.generated_at
    );
    let _ = writeln!(out, "Summary: {}.\n", r.summary());
    for e in &r.errors {
        let _ = writeln!(out, "- ERROR {e}");
    }
    for p in &r.planes {
        plane(&mut out, p);
    }
    out
}
