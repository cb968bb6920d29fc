//! The floor of Gatehouse's benchmark: a bare hyper server that answers `GET /session` with a
//! fixed reply (the headers and body Gatehouse sent for a logged-in check, captured by
//! `bench/run`) and does no work at all, so its figure is the most one machine can serve.
//!
//! Usage: `gatehouse-bench-floor ADDR REPLY_FILE`, where REPLY_FILE holds header lines
//! (`name: value`), an empty line, then the body. Any other request gets an empty 404.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

struct Reply {
    headers: HeaderMap,
    body: Bytes,
}

fn read_reply(path: &str) -> Result<Reply, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let (head, body) = text
        .split_once("\n\n")
        .ok_or_else(|| format!("{path}: no empty line between headers and body"))?;
    let mut headers = HeaderMap::new();
    for line in head.lines() {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("{path}: not a header line: {line:?}"))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|e| e.to_string())?;
        // hyper writes these itself.
        if name == hyper::header::CONTENT_LENGTH || name == hyper::header::DATE {
            continue;
        }
        let value = HeaderValue::from_str(value.trim()).map_err(|e| e.to_string())?;
        headers.append(name, value);
    }
    Ok(Reply {
        headers,
        body: Bytes::from(body.to_owned()),
    })
}

async fn answer(
    reply: Arc<Reply>,
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.method() == Method::GET && request.uri().path() == "/session" {
        let mut response = Response::new(Full::new(reply.body.clone()));
        *response.headers_mut() = reply.headers.clone();
        Ok(response)
    } else {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::NOT_FOUND;
        Ok(response)
    }
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (Some(addr), Some(path)) = (args.next(), args.next()) else {
        return Err("usage: gatehouse-bench-floor ADDR REPLY_FILE".into());
    };
    let addr: SocketAddr = addr
        .parse()
        .map_err(|e| format!("bad address {addr}: {e}"))?;
    let reply = Arc::new(read_reply(&path)?);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    eprintln!("floor listening on {addr}");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let reply = reply.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(reply.clone(), request));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
