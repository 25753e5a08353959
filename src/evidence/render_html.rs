//! The report as one self-contained HTML page: inline CSS and SVG, no script, nothing fetched.
//! Every interpolated value goes through [`esc`].

use std::fmt::Write;

use super::{esc, svg, Control, Outcome, PlaneReport, Report};

const STYLE: &str = "body{font-family:sans-serif;margin:24px;color:#1b1b1b;max-width:1400px}\
h1{font-size:24px}h2{border-bottom:2px solid #1f3a5f;padding-bottom:4px}\
table{border-collapse:collapse;width:100%;font-size:13px;margin-bottom:16px}\
th,td{border:1px solid #c8c8c8;padding:4px 6px;vertical-align:top;text-align:left}\
th{background:#eef2f7}td.o{font-weight:bold;white-space:nowrap}\
.pass{background:#e3f4e1}.fail{background:#fbe0e0}.unknown{background:#fff4d6}\
.service-maximum{background:#e8eefc}.not-applicable{background:#f2f2f2;color:#666}\
pre{background:#f6f8fa;padding:8px;overflow:auto;font-size:12px}\
code,.src{font-family:monospace;font-size:11px;word-break:break-all}";

fn class(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "pass",
        Outcome::Fail => "fail",
        Outcome::NotApplicable => "not-applicable",
        Outcome::Unknown => "unknown",
        Outcome::ServiceMaximum => "service-maximum",
    }
}

fn pre_json(out: &mut String, v: &impl serde::Serialize) {
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    let _ = write!(out, "<pre>{}</pre>", esc(&text));
}

fn control_row(out: &mut String, c: &Control) {
    let observed: String = c
        .observed
        .iter()
        .map(|(k, v)| format!("<div><code>{}</code> {}</div>", esc(k), esc(v)))
        .collect();
    let sources: String = c
        .sources
        .iter()
        .map(|s| {
            format!(
                "<div class=\"src\">GET {} → {} <b>{}</b></div>",
                esc(&s.url),
                s.status.map_or_else(|| "-".into(), |x| x.to_string()),
                esc(s.request_id.as_deref().unwrap_or("no request id"))
            )
        })
        .collect();
    let _ = write!(
        out,
        "<tr class=\"{cls}\" data-control=\"{id}\" data-outcome=\"{cls}\"><td>{id}</td><td>{title}</td><td class=\"o\">{label}</td><td>{detail}</td><td>{observed}</td><td>{at}</td><td>{sources}</td></tr>",
        cls = class(c.outcome),
        id = esc(&c.id),
        title = esc(&c.title),
        label = esc(c.outcome.label()),
        detail = esc(&c.detail),
        at = esc(c.observed_at.as_deref().unwrap_or("-")),
    );
}

fn plane(out: &mut String, p: &PlaneReport) {
    let _ = write!(
        out,
        "<section class=\"plane\"><h2>{} <small>({})</small></h2><h3>Encryption flow</h3>{}<h3>Controls</h3>\
<table class=\"controls\" id=\"controls-{}\"><thead><tr><th>id</th><th>control</th><th>outcome</th>\
<th>detail</th><th>observed</th><th>read at</th><th>request (URL, status, x-ms-request-id)</th></tr></thead><tbody>",
        esc(&p.plane),
        esc(&p.environment),
        svg::flow(&p.flow),
        esc(&p.plane)
    );
    for c in &p.controls {
        control_row(out, c);
    }
    out.push_str("</tbody></table><h3>TDE manifest: PostgreSQL</h3>");
    pre_json(out, &p.tde_manifest.postgres);
    out.push_str("<h3>TDE manifest: Blob Storage</h3>");
    pre_json(out, &p.tde_manifest.storage);
    out.push_str("<h3>Encryption metadata</h3>");
    pre_json(out, &p.encryption_metadata);
    out.push_str("<h3>Key rotation log</h3>");
    let r = &p.rotation_log;
    match (&r.key_rotation, r.status_given) {
        (_, false) => out.push_str("<p>The plane's status was not given.</p>"),
        (None, true) => out.push_str("<p>No key rotation is recorded in status.</p>"),
        (Some(k), true) => pre_json(out, k),
    }
    match &r.audit_log {
        None => out.push_str("<p>No audit log was given (<code>--audit-log</code>).</p>"),
        Some(path) => {
            let _ = write!(
                out,
                "<p>Audit log <code>{}</code>: {} line(s) for this plane.</p>",
                esc(path),
                r.audit_lines.len()
            );
            let lines: Vec<String> = r.audit_lines.iter().map(|l| l.to_string()).collect();
            let _ = write!(out, "<pre>{}</pre>", esc(&lines.join("\n")));
        }
    }
    let _ = write!(
        out,
        "<h3>Requests ({})</h3><table class=\"requests\"><thead><tr><th>at</th><th>URL</th><th>status</th><th>x-ms-request-id</th></tr></thead><tbody>",
        p.requests.len()
    );
    for s in &p.requests {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"src\">GET {}</td><td>{}</td><td class=\"src\">{}</td></tr>",
            esc(&s.at),
            esc(&s.url),
            s.status.map_or_else(|| "-".into(), |x| x.to_string()),
            esc(s.request_id.as_deref().unwrap_or("-"))
        );
    }
    out.push_str("</tbody></table></section>");
}

/// The whole page.
pub fn render(r: &Report) -> String {
    let mut out = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{c} evidence</title><style>{STYLE}</style></head><body>\
<h1>{c} (Data Encryption) evidence</h1><p>Generated {at}. Catalogue and pass criteria: docs/evidence.md.</p>",
        c = esc(&r.control),
        at = esc(&r.generated_at)
    );
    let _ = write!(out, "<p id=\"summary\">Summary: {}.</p>", esc(&r.summary()));
    for e in &r.errors {
        let _ = write!(out, "<p class=\"fail\">ERROR {}</p>", esc(e));
    }
    for p in &r.planes {
        plane(&mut out, p);
    }
    out.push_str("</body></html>\n");
    out
}
