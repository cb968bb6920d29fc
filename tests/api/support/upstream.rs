//! A real upstream API for the gateway and forward-auth tests: an HTTP server on port 0 that
//! records every request it sees and answers in a few ways (`/slow/…` waits, `/stream/…`
//! streams its answer in two chunks with a pause the test ends, `/upload/…` reports the first
//! chunk of a streamed body before reading the rest).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use tokio::sync::{Notify, mpsc};

/// One request as the upstream saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The gateway's end of the connection the request came on.
    pub peer: SocketAddr,
    pub method: String,
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Clone)]
struct Shared {
    seen: Arc<Mutex<Vec<Seen>>>,
    release: Arc<Notify>,
    first_chunk: mpsc::UnboundedSender<usize>,
}

pub struct Upstream {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Lets `/stream/…` send its second chunk and `/upload/…` read on.
    pub release: Arc<Notify>,
    /// The size of the first body chunk `/upload/…` received, as soon as it arrives.
    pub first_chunk: tokio::sync::Mutex<mpsc::UnboundedReceiver<usize>>,
}

impl Upstream {
    pub async fn start() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Shared {
            seen: Arc::default(),
            release: Arc::new(Notify::new()),
            first_chunk: tx,
        };
        let app = Router::new().fallback(answer).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            addr,
            seen: shared.seen,
            release: shared.release,
            first_chunk: tokio::sync::Mutex::new(rx),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far, oldest first.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn answer(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let mut seen = Seen {
        peer,
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers: parts.headers,
        body: Vec::new(),
    };
    if path.contains("/upload/") {
        let mut body = body;
        let mut total = 0;
        let mut first = true;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { break };
            if let Ok(data) = frame.into_data() {
                total += data.len();
                if first {
                    first = false;
                    let _ = shared.first_chunk.send(data.len());
                    shared.release.notified().await;
                }
            }
        }
        shared.seen.lock().unwrap().push(seen);
        return format!("{{\"received\": {total}}}").into_response();
    }
    seen.body = body
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    shared.seen.lock().unwrap().push(seen);
    if path.contains("/slow/") {
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    if path.contains("/stream/") {
        let release = shared.release.clone();
        let chunks = async_stream(release);
        return Response::new(Body::from_stream(chunks));
    }
    (
        [("content-type", "application/json"), ("x-upstream", "yes")],
        format!("{{\"path\": {path:?}}}"),
    )
        .into_response()
}

/// "first" at once, "second" once the test releases it.
fn async_stream(
    release: Arc<Notify>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::unfold(0u8, move |step| {
        let release = release.clone();
        async move {
            match step {
                0 => Some((Ok(Bytes::from_static(b"first;")), 1)),
                1 => {
                    release.notified().await;
                    Some((Ok(Bytes::from_static(b"second")), 2))
                }
                _ => None,
            }
        }
    })
}
