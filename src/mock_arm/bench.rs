//! `engram-operator bench mock-arm`: plain GETs of one server over loopback keep-alive connections,
//! with a minimal HTTP/1.1 client so the client costs little of the machine's CPU.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Error, MockArm, MockConfig, ThrottleConfig};

const PATH: &str = "/subscriptions/bench/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pgbench";

/// Run the benchmark; returns a one-line report.
pub async fn run(requests: usize, connections: usize) -> Result<String, Error> {
    let config = MockConfig {
        throttle: ThrottleConfig {
            enabled: false,
            ..ThrottleConfig::default()
        },
        journal_capacity: 1024,
        ..MockConfig::default()
    };
    let mock = MockArm::start(config).await?;
    let addr = mock.addr();
    let io = |e: std::io::Error| Error::Invalid(format!("bench I/O: {e}"));
    let body = r#"{"location":"westus","sku":{"name":"Standard_D2ds_v5","tier":"GeneralPurpose"},"properties":{"administratorLogin":"a","version":"16"}}"#;
    let put = format!(
        "PUT {PATH}?api-version=2024-08-01 HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        mock.token(),
        body.len()
    );
    let mut c = TcpStream::connect(addr).await.map_err(io)?;
    let status = roundtrip(&mut c, put.as_bytes(), &mut Vec::new())
        .await
        .map_err(io)?;
    if status != 202 {
        return Err(Error::Invalid(format!("bench create answered {status}")));
    }
    mock.advance(Duration::from_secs(3600));
    let get = format!(
        "GET {PATH}?api-version=2024-08-01 HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {}\r\n\r\n",
        mock.token()
    );
    let connections = connections.max(1);
    let per = requests.div_ceil(connections);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let get = get.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = TcpStream::connect(addr).await?;
            c.set_nodelay(true)?;
            let mut buf = Vec::with_capacity(8192);
            let mut ok = 0usize;
            for _ in 0..per {
                if roundtrip(&mut c, get.as_bytes(), &mut buf).await? == 200 {
                    ok += 1;
                }
            }
            Ok::<usize, std::io::Error>(ok)
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t
            .await
            .map_err(|e| Error::Invalid(format!("bench task: {e}")))?
            .map_err(io)?;
    }
    let secs = started.elapsed().as_secs_f64();
    let total = per * connections;
    mock.shutdown().await;
    Ok(format!(
        "mock-arm GET: {total} requests ({ok} x 200) over {connections} connections in {secs:.2} s = {:.0} requests/s",
        total as f64 / secs
    ))
}

/// Send one request and read one response (Content-Length framed); returns the status.
async fn roundtrip(c: &mut TcpStream, request: &[u8], buf: &mut Vec<u8>) -> std::io::Result<u16> {
    c.write_all(request).await?;
    buf.clear();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = find(buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = c.read(&mut chunk).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok(status);
        }
        let n = c.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
