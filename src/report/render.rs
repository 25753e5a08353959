//! The report as Markdown, JSON, or one self-contained HTML page (inline CSS and SVG, no script,
//! nothing fetched; every value escaped).

use std::fmt::Write;

use super::{svg, Metric, Outcome, Report};
use crate::evidence::{esc, Format};

fn md(report: &Report) -> String {
    let mut out = format!(
        "# Success metrics\n\nGenerated {} over the last {} days: {}.\n",
        report.generated_at,
        report.window_days,
        report.summary()
    );
    for p in &report.planes {
        let _ = write!(
            out,
            "\n## {} ({})\n\n| metric | target | measured | outcome | how |\n|---|---|---|---|---|\n",
            p.plane, p.environment
        );
        for m in &p.metrics {
            let _ = writeln!(
                out,
                "| {} | {} | {} | **{}** | {} |",
                m.name,
                m.target,
                m.measured.as_deref().unwrap_or("-"),
                m.outcome.label(),
                m.detail.replace('|', "\\|")
            );
        }
    }
    if !report.errors.is_empty() {
        out.push_str("\n## Errors\n\n");
        for e in &report.errors {
            let _ = writeln!(out, "- {e}");
        }
    }
    out
}

const STYLE: &str = "body{font-family:sans-serif;margin:24px;color:#1b1b1b;max-width:1200px}\
h2{border-bottom:2px solid #1f3a5f;padding-bottom:4px}\
table{border-collapse:collapse;width:100%;font-size:13px;margin-bottom:16px}\
th,td{border:1px solid #c8c8c8;padding:4px 6px;vertical-align:top;text-align:left}\
th{background:#eef2f7}td.o{font-weight:bold;white-space:nowrap}\
.met{background:#e3f4e1}.missed{background:#fbe0e0}.not-measured{background:#f2f2f2;color:#666}";

fn class(o: Outcome) -> &'static str {
    match o {
        Outcome::Met => "met",
        Outcome::Missed => "missed",
        Outcome::NotMeasured => "not-measured",
    }
}

fn row(out: &mut String, m: &Metric) {
    let chart = if m.shares.is_empty() {
        svg::series(m)
    } else {
        svg::shares(m.id, &m.shares)
    };
    let _ = write!(
        out,
        "<tr class=\"{c}\" data-metric=\"{id}\"><td>{name}</td><td>{target}</td><td>{measured}</td><td class=\"o\">{label}</td><td>{detail}</td><td>{chart}</td></tr>",
        c = class(m.outcome),
        id = esc(m.id),
        name = esc(m.name),
        target = esc(&m.target),
        measured = esc(m.measured.as_deref().unwrap_or("-")),
        label = m.outcome.label(),
        detail = esc(&m.detail),
    );
}

fn html(report: &Report) -> String {
    let mut out = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Success metrics</title><style>{STYLE}</style></head><body><h1>Success metrics</h1><p id=\"summary\">Generated {} over the last {} days: {}.</p>",
        esc(&report.generated_at),
        report.window_days,
        esc(&report.summary())
    );
    for p in &report.planes {
        let _ = write!(
            out,
            "<section class=\"plane\" data-plane=\"{n}\"><h2>{n} <small>({e})</small></h2><table><tr><th>metric</th><th>target</th><th>measured</th><th>outcome</th><th>how</th><th>chart</th></tr>",
            n = esc(&p.plane),
            e = esc(&p.environment)
        );
        for m in &p.metrics {
            row(&mut out, m);
        }
        out.push_str("</table></section>");
    }
    if !report.errors.is_empty() {
        out.push_str("<h2>Errors</h2><ul id=\"errors\">");
        for e in &report.errors {
            let _ = write!(out, "<li>{}</li>", esc(e));
        }
        out.push_str("</ul>");
    }
    out.push_str("</body></html>\n");
    out
}

/// The report in `format`.
pub fn render(report: &Report, format: Format) -> crate::Result<String> {
    Ok(match format {
        Format::Md => md(report),
        Format::Json => serde_json::to_string_pretty(report)? + "\n",
        Format::Html => html(report),
    })
}
