//! A fault-injecting HTTP proxy in front of the S3 server (moto), on 127.0.0.1:0. A share of
//! UploadPart requests, and the first CompleteMultipartUpload requests, get a 500, a 503, or a
//! reset connection (before the request reaches the server, or after it was served, so the
//! client never learns it succeeded); a burst of consecutive UploadPart faults outlasts the SDK's
//! retries. Everything else passes through. One request per connection (`Connection: close`).
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone)]
pub struct Plan {
    /// Share of UploadPart requests that fail, in per mille.
    pub part_per_mille: u32,
    /// The first this many CompleteMultipartUpload requests fail.
    pub complete_faults: u64,
    /// From the `n`th UploadPart request (1-based), `len` in a row fail.
    pub part_burst: Option<(u64, u64)>,
}

#[derive(Debug, Default)]
pub struct Stats {
    pub upload_parts: AtomicU64,
    pub completes: AtomicU64,
    pub http_500: AtomicU64,
    pub http_503: AtomicU64,
    pub resets_before: AtomicU64,
    pub resets_after: AtomicU64,
}

impl Stats {
    pub fn injected(&self) -> u64 {
        [
            &self.http_500,
            &self.http_503,
            &self.resets_before,
            &self.resets_after,
        ]
        .iter()
        .map(|c| c.load(Ordering::SeqCst))
        .sum()
    }

    pub fn summary(&self) -> String {
        let g = |c: &AtomicU64| c.load(Ordering::SeqCst);
        format!(
            "{} UploadPart and {} CompleteMultipartUpload requests seen; injected: {} × 500, \
             {} × 503, {} resets before and {} after the server handled the request",
            g(&self.upload_parts),
            g(&self.completes),
            g(&self.http_500),
            g(&self.http_503),
            g(&self.resets_before),
            g(&self.resets_after)
        )
    }
}

#[derive(Clone, Copy)]
enum Fault {
    Status500,
    Status503,
    ResetBefore,
    ResetAfter,
}

pub struct S3Proxy {
    pub url: String,
    pub stats: Arc<Stats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for S3Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl S3Proxy {
    /// Proxies to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str, plan: Plan) -> Self {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stats = Arc::new(Stats::default());
        let (st, plan) = (stats.clone(), Arc::new(plan));
        let task = tokio::spawn(async move {
            // Faults rotate through the kinds, so every kind shows up.
            let kinds = Arc::new(AtomicU64::new(0));
            while let Ok((conn, _)) = listener.accept().await {
                let (st, plan, up, kinds) =
                    (st.clone(), plan.clone(), upstream.clone(), kinds.clone());
                tokio::spawn(async move {
                    let _ = serve(conn, &up, &plan, &st, &kinds).await;
                });
            }
        });
        Self { url, stats, task }
    }
}

async fn serve(
    mut client: TcpStream,
    upstream: &str,
    plan: &Plan,
    st: &Stats,
    kinds: &AtomicU64,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(8192);
    let head_len = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 8192];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_len]).into_owned();
    let mut words = head.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    let is_part = method == "PUT" && target.contains("partNumber=") && target.contains("uploadId=");
    let (fail, first_complete) = if is_part {
        let n = st.upload_parts.fetch_add(1, Ordering::SeqCst) + 1;
        let in_burst = plan
            .part_burst
            .is_some_and(|(from, len)| n >= from && n < from + len);
        (
            in_burst || fastrand::u32(0..1000) < plan.part_per_mille,
            false,
        )
    } else if method == "POST" && target.contains("uploadId=") {
        let n = st.completes.fetch_add(1, Ordering::SeqCst);
        (n < plan.complete_faults, n == 0)
    } else {
        (false, false)
    };
    // The first completion is served, then its answer lost: the object exists, the client
    // does not know.
    let fault = fail.then(|| match kinds.fetch_add(1, Ordering::SeqCst) % 4 {
        _ if first_complete => Fault::ResetAfter,
        0 => Fault::Status500,
        1 => Fault::ResetBefore,
        2 => Fault::Status503,
        _ => Fault::ResetAfter,
    });
    // The request, with `Connection: close` so each connection carries exactly one.
    let mut request = head[..head_len - 2].to_owned().into_bytes();
    request.extend_from_slice(b"Connection: close\r\n\r\n");
    let body_len: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf.split_off(head_len);
    let expect = header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    match fault {
        None => {
            let mut server = TcpStream::connect(upstream).await?;
            server.write_all(&request).await?;
            server.write_all(&body).await?;
            tokio::io::copy_bidirectional(&mut client, &mut server).await?;
        }
        Some(Fault::ResetBefore) => {
            st.resets_before.fetch_add(1, Ordering::SeqCst);
            reset(client);
        }
        Some(Fault::ResetAfter) => {
            read_body(&mut client, &mut body, body_len, expect).await?;
            let mut server = TcpStream::connect(upstream).await?;
            server.write_all(&request).await?;
            server.write_all(&body).await?;
            let mut answer = Vec::new();
            server.read_to_end(&mut answer).await?;
            st.resets_after.fetch_add(1, Ordering::SeqCst);
            reset(client);
        }
        Some(kind @ (Fault::Status500 | Fault::Status503)) => {
            read_body(&mut client, &mut body, body_len, expect).await?;
            let (status, code, counter) = match kind {
                Fault::Status500 => ("500 Internal Server Error", "InternalError", &st.http_500),
                _ => (
                    "503 Service Unavailable",
                    "ServiceUnavailable",
                    &st.http_503,
                ),
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let xml = format!("<Error><Code>{code}</Code><Message>injected</Message></Error>");
            let reply = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{xml}",
                xml.len()
            );
            client.write_all(reply.as_bytes()).await?;
            client.shutdown().await?;
        }
    }
    Ok(())
}

/// The rest of the request body (a fault is answered only once the request is complete, so the
/// client sees the fault and not a broken upload).
async fn read_body(
    client: &mut TcpStream,
    body: &mut Vec<u8>,
    len: usize,
    expect: bool,
) -> std::io::Result<()> {
    if expect {
        client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
    }
    let mut chunk = vec![0u8; 64 * 1024];
    while body.len() < len {
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}

/// Closes with RST instead of FIN.
fn reset(conn: TcpStream) {
    let _ = conn.set_zero_linger();
    drop(conn);
}
