//! Admin HTTP over a real socket, and the monitoring manifests refer only to metrics that exist.

use std::sync::Arc;
use std::time::Duration;

use engram_operator::telemetry::admin::{serve, Health};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.unwrap();
    let status = buf[9..12].parse().unwrap();
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn livez_readyz_and_metrics() {
    let health = Arc::new(Health::default());
    let addr = serve("127.0.0.1:0".parse().unwrap(), health.clone())
        .await
        .unwrap();
    assert_eq!(get(addr, "/livez").await.0, 200);
    assert_eq!(
        get(addr, "/readyz").await.0,
        503,
        "not ready before the source syncs"
    );
    health.set_ready(true);
    assert_eq!(get(addr, "/readyz").await.0, 200);
    health.metrics.reconciled("ok", Duration::from_millis(5));
    let (status, body) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("engram_reconciles_total{result=\"ok\"} 1"),
        "{body}"
    );
    assert_eq!(get(addr, "/nope").await.0, 404);
}

/// Every `engram_*` series named in the PrometheusRule and the dashboard is exported.
#[test]
fn monitoring_manifests_use_exported_metric_names() {
    let m = engram_operator::telemetry::metrics::Metrics::default();
    m.reconciled("ok", Duration::ZERO);
    m.arm_request("GET", "postgres", Some(200));
    m.drift("postgres", 1, 1);
    m.throttled(Duration::ZERO);
    let exported = m.encode();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/monitoring");
    let mut checked = 0;
    for file in ["prometheusrule.yaml", "dashboard.json"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        for (i, _) in text.match_indices("engram_") {
            let name: String = text[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name == "engram_operator" || name.starts_with("engram_operator_") {
                continue;
            }
            assert!(
                exported
                    .lines()
                    .any(|l| l.starts_with(&format!("{name}{{"))
                        || l.starts_with(&format!("{name} "))),
                "{file} uses {name}, which the operator does not export"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 8,
        "expected the manifests to use the metrics, checked {checked}"
    );
}
