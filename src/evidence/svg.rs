//! The encryption flow as inline SVG: PostgreSQL → Key Vault ← Blob Storage, each box with the key
//! version it uses. Every text is escaped.

use super::esc;
use super::sections::{Flow, FlowNode};

const W: u32 = 760;
const H: u32 = 220;
const BOX_W: u32 = 220;
const BOX_H: u32 = 110;

fn short(v: Option<&str>) -> String {
    match v {
        Some(v) if v.chars().count() > 12 => format!("{}…", v.chars().take(12).collect::<String>()),
        Some(v) => v.to_owned(),
        None => "-".to_owned(),
    }
}

fn node(x: u32, title: &str, n: &FlowNode, what: &str, fill: &str) -> String {
    let y = 50;
    let cx = x + BOX_W / 2;
    format!(
        concat!(
            r##"<g class="node"><rect x="{x}" y="{y}" width="{w}" height="{h}" rx="10" fill="{fill}" stroke="#1f3a5f" stroke-width="2"/>"##,
            r#"<text x="{cx}" y="{t1}" text-anchor="middle" font-weight="bold">{title}</text>"#,
            r#"<text x="{cx}" y="{t2}" text-anchor="middle">{name}</text>"#,
            r#"<text x="{cx}" y="{t3}" text-anchor="middle" font-family="monospace"><title>{full}</title>{what}: {ver}</text></g>"#
        ),
        x = x,
        y = y,
        w = BOX_W,
        h = BOX_H,
        fill = fill,
        cx = cx,
        t1 = y + 30,
        t2 = y + 58,
        t3 = y + 86,
        title = esc(title),
        name = esc(&n.name),
        full = esc(n.version.as_deref().unwrap_or("-")),
        what = esc(what),
        ver = esc(&short(n.version.as_deref())),
    )
}

/// The diagram.
pub fn flow(f: &Flow) -> String {
    let left = 20;
    let mid = (W - BOX_W) / 2;
    let right = W - BOX_W - 20;
    let ay = 50 + BOX_H / 2;
    format!(
        concat!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" id="encryption-flow" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="sans-serif" font-size="14">"#,
            r#"<title>Encryption flow: PostgreSQL TDE → Key Vault ← Blob Storage TDE ({key})</title>"#,
            r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#1f3a5f"/></marker></defs>"##,
            "{pg}{kv}{st}",
            r##"<line x1="{a1}" y1="{ay}" x2="{a2}" y2="{ay}" stroke="#1f3a5f" stroke-width="2" marker-end="url(#arrow)"/>"##,
            r##"<line x1="{b1}" y1="{ay}" x2="{b2}" y2="{ay}" stroke="#1f3a5f" stroke-width="2" marker-end="url(#arrow)"/>"##,
            r#"<text x="{mx}" y="200" text-anchor="middle" font-size="12">wrap/unwrap with {key}</text></svg>"#
        ),
        w = W,
        h = H,
        key = esc(&f.key),
        pg = node(left, "PostgreSQL TDE", &f.postgres, "uses", "#e8f1fb"),
        kv = node(mid, "Azure Key Vault", &f.key_vault, "current", "#fff4d6"),
        st = node(right, "Blob Storage TDE", &f.storage, "uses", "#e8f1fb"),
        a1 = left + BOX_W,
        a2 = mid,
        b1 = right,
        b2 = mid + BOX_W,
        ay = ay,
        mx = W / 2,
    )
}

/// The same flow as text (Markdown).
pub fn flow_text(f: &Flow) -> String {
    let v = |n: &FlowNode| n.version.clone().unwrap_or_else(|| "-".into());
    format!(
        "PostgreSQL TDE ({} @ {}) ──► Azure Key Vault ({} current {}) ◄── Blob Storage TDE ({} @ {})\nkey: {}",
        f.postgres.name,
        v(&f.postgres),
        f.key_vault.name,
        v(&f.key_vault),
        f.storage.name,
        v(&f.storage),
        f.key
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_diagram_escapes_names_and_shows_versions() {
        let n = |name: &str, v: Option<&str>| FlowNode {
            name: name.into(),
            version: v.map(Into::into),
        };
        let f = Flow {
            postgres: n("pg<x>", Some("0123456789abcdef")),
            key_vault: n("kv", Some("v2")),
            storage: n("st&", None),
            key: "kv/keys/k".into(),
        };
        let s = flow(&f);
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
        assert!(s.contains("pg&lt;x&gt;") && s.contains("st&amp;"));
        assert!(!s.contains("pg<x>"));
        assert!(s.contains("0123456789ab…") && s.contains("current: v2"));
        assert_eq!(s.matches("marker-end").count(), 2);
    }
}
