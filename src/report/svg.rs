//! Small inline SVG charts: a metric's series against its target line, and the tier shares
//! against their targets. Every text is escaped; nothing is fetched.

use std::fmt::Write;

use super::{Metric, Share};
use crate::evidence::esc;

const W: f64 = 360.0;
const H: f64 = 120.0;
const PAD: f64 = 24.0;

/// The series as a polyline, the threshold as a dashed red line; the y axis runs from 0 to the
/// larger of 100 and the highest value (percent metrics).
pub fn series(m: &Metric) -> String {
    if m.series.is_empty() {
        return String::new();
    }
    let t0 = m.series.iter().map(|p| p.at).min().unwrap_or(0);
    let t1 = m.series.iter().map(|p| p.at).max().unwrap_or(0).max(t0 + 1);
    let top = m
        .series
        .iter()
        .map(|p| p.value)
        .chain(m.threshold)
        .fold(100.0_f64, f64::max);
    let x = |t: i64| PAD + (W - 2.0 * PAD) * (t - t0) as f64 / (t1 - t0) as f64;
    let y = |v: f64| H - PAD - (H - 2.0 * PAD) * v.clamp(0.0, top) / top;
    let points: String = m
        .series
        .iter()
        .map(|p| format!("{:.1},{:.1} ", x(p.at), y(p.value)))
        .collect();
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-metric="{id}" role="img" viewBox="0 0 {W} {H}" width="{W}" height="{H}" font-family="sans-serif" font-size="10"><title>{name}: {n} points against {target}</title>"#,
        id = esc(m.id),
        name = esc(m.name),
        n = m.series.len(),
        target = esc(&m.target),
    );
    let _ = write!(
        out,
        r##"<rect x="{PAD}" y="{PAD}" width="{w}" height="{h}" fill="#f6f8fa" stroke="#c8c8c8"/><polyline class="series" fill="none" stroke="#1f3a5f" stroke-width="1.5" points="{points}"/>"##,
        w = W - 2.0 * PAD,
        h = H - 2.0 * PAD,
    );
    if let Some(t) = m.threshold {
        let _ = write!(
            out,
            r##"<line class="target" x1="{PAD}" x2="{x2}" y1="{yt:.1}" y2="{yt:.1}" stroke="#c0392b" stroke-dasharray="4 3"/><text x="{x2}" y="{ty:.1}" text-anchor="end" fill="#c0392b">target {t}</text>"##,
            x2 = W - PAD,
            yt = y(t),
            ty = y(t) - 3.0,
        );
    }
    let _ = write!(
        out,
        r#"<text x="{PAD}" y="{yb}">0</text><text x="{PAD}" y="{yt}">{top:.0}</text></svg>"#,
        yb = H - 8.0,
        yt = PAD - 4.0,
    );
    out
}

/// One bar per tier: the measured share, and a tick at the target.
pub fn shares(id: &str, shares: &[Share]) -> String {
    if shares.is_empty() {
        return String::new();
    }
    let row = 22.0;
    let h = PAD + row * shares.len() as f64;
    let scale = |p: f64| (W - 2.0 * PAD - 40.0) * p.clamp(0.0, 100.0) / 100.0;
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-metric="{id}" role="img" viewBox="0 0 {W} {h}" width="{W}" height="{h}" font-family="sans-serif" font-size="10"><title>Tier shares against their targets</title>"#,
        id = esc(id),
    );
    for (i, s) in shares.iter().enumerate() {
        let y = 8.0 + row * i as f64;
        let x0 = PAD + 40.0;
        let _ = write!(
            out,
            r##"<text x="{PAD}" y="{ty}">{tier}</text><rect class="share" x="{x0}" y="{y}" width="{w:.1}" height="14" fill="#1f3a5f"/><line class="target" x1="{xt:.1}" x2="{xt:.1}" y1="{y0}" y2="{y1}" stroke="#c0392b" stroke-width="2"/><text x="{xl:.1}" y="{ty}">{m:.0} % (target {t:.0} %)</text>"##,
            ty = y + 11.0,
            tier = esc(&s.tier),
            w = scale(s.measured),
            xt = x0 + scale(s.target),
            y0 = y - 2.0,
            y1 = y + 16.0,
            xl = x0 + scale(s.measured) + 4.0,
            m = s.measured,
            t = s.target,
        );
    }
    out.push_str("</svg>");
    out
}
