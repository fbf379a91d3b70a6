//! A loopback OTLP/HTTP traces endpoint for benchmarks: takes `POST /v1/traces` with
//! the right bearer token (401 otherwise) and counts requests and bytes without decoding
//! them, so what is measured is the exporter, not a backend's ingestion.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::AsyncWriteExt;

/// The running endpoint; it lives until the process ends.
pub struct MockCollector {
    /// `http://127.0.0.1:PORT/v1/traces`.
    pub url: String,
    pub token: String,
    requests: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
}

impl MockCollector {
    pub fn start() -> MockCollector {
        let token = crate::mirror::random_token();
        let requests = Arc::new(AtomicU64::new(0));
        let bytes = Arc::new(AtomicU64::new(0));
        let (t, r, b) = (token.clone(), requests.clone(), bytes.clone());
        let addr = crate::serve(0, move |mut sock| {
            let (t, r, b) = (t.clone(), r.clone(), b.clone());
            async move {
                let Some((path, headers, body)) = crate::read_request(&mut sock).await else {
                    return;
                };
                let authorized = headers
                    .iter()
                    .any(|(k, v)| k == "authorization" && *v == format!("Bearer {t}"));
                let status = match (path.as_str(), authorized) {
                    ("/v1/traces", true) => {
                        r.fetch_add(1, Ordering::Relaxed);
                        b.fetch_add(body.len() as u64, Ordering::Relaxed);
                        200
                    }
                    ("/v1/traces", false) => 401,
                    _ => 404,
                };
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = sock.write_all(head.as_bytes()).await;
            }
        });
        MockCollector {
            url: format!("http://{addr}/v1/traces"),
            token,
            requests,
            bytes,
        }
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}
