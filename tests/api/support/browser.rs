//! A small cookie-keeping "browser" that talks HTTP to a Gatehouse the way the JS client does,
//! and a raw TCP client for what no well-behaved client would send.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub set_cookies: Vec<String>,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn header_all(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }
}

/// Keeps cookies and the CSRF token the way the JS client does.
#[derive(Clone)]
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
    pub cookies: BTreeMap<String, String>,
    pub origin: Option<String>,
    pub csrf: Option<String>,
}

pub struct Req {
    pub method: Method,
    pub path: String,
    pub body: Option<String>,
    pub content_type: Option<String>,
    pub headers: Vec<(String, String)>,
}

impl Req {
    pub fn new(method: Method, path: &str) -> Self {
        Self {
            method,
            path: path.into(),
            body: None,
            content_type: None,
            headers: Vec::new(),
        }
    }

    pub fn json(mut self, value: Value) -> Self {
        self.body = Some(value.to_string());
        self.content_type = Some("application/json".into());
        self
    }

    pub fn raw(mut self, content_type: &str, body: &str) -> Self {
        self.body = Some(body.into());
        self.content_type = Some(content_type.into());
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

impl Browser {
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The request with this browser's cookies, origin and token.
    fn request(&self, req: Req) -> reqwest::RequestBuilder {
        let mut builder = self
            .client
            .request(req.method, format!("{}{}", self.base, req.path));
        if !self.cookies.is_empty() {
            builder = builder.header("cookie", self.cookie_header());
        }
        if let Some(origin) = &self.origin {
            builder = builder.header("origin", origin);
        }
        if let Some(token) = &self.csrf {
            builder = builder.header("x-csrf-token", token);
        }
        if let Some(ct) = &req.content_type {
            builder = builder.header("content-type", ct);
        }
        for (name, value) in &req.headers {
            builder = builder.header(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        if let Some(body) = req.body {
            builder = builder.body(body);
        }
        builder
    }

    /// Sends a request with this browser's cookies, origin and token; keeps what comes back.
    pub async fn send(&mut self, req: Req) -> Reply {
        let response = self.request(req).send().await.expect("request sent");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        let set_cookies: Vec<String> = headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        self.keep(&set_cookies, &body);
        Reply {
            status,
            headers,
            body,
            set_cookies,
        }
    }

    /// Like [`Browser::send`], but `None` when the server is gone (connection refused or reset).
    pub async fn try_send(&mut self, req: Req) -> Option<u16> {
        let response = self.request(req).send().await.ok()?;
        let status = response.status().as_u16();
        let cookies: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let body: Value = serde_json::from_str(&response.text().await.ok()?).unwrap_or(Value::Null);
        self.keep(&cookies, &body);
        Some(status)
    }

    pub async fn try_get(&mut self, path: &str) -> Option<u16> {
        self.try_send(Req::new(Method::GET, path)).await
    }

    pub async fn try_post(&mut self, path: &str, body: Value) -> Option<u16> {
        self.try_send(Req::new(Method::POST, path).json(body)).await
    }

    /// Keeps the cookies and CSRF token of a reply, as the JS client does.
    fn keep(&mut self, set_cookies: &[String], body: &Value) {
        for cookie in set_cookies {
            let pair = cookie.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if cookie.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.into(), value.into());
            }
        }
        if let Some(token) = body.get("_csrf").and_then(Value::as_str) {
            self.csrf = Some(token.to_owned());
        }
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        self.send(Req::new(Method::GET, path)).await
    }

    pub async fn post(&mut self, path: &str, body: Value) -> Reply {
        self.send(Req::new(Method::POST, path).json(body)).await
    }

    pub async fn delete(&mut self, path: &str) -> Reply {
        self.send(Req::new(Method::DELETE, path)).await
    }

    /// `GET /session` then `POST /session`, as the Backbone SessionModel does.
    pub async fn login(&mut self, username: &str, password: &str) -> Reply {
        self.get("/session").await;
        self.post(
            "/session",
            serde_json::json!({"username": username, "password": password}),
        )
        .await
    }
}

/// Sends raw bytes on a fresh TCP connection and returns everything the server answers until
/// it closes the connection or stays quiet for a second.
pub async fn raw_http(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before it has read everything; that is fine.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// The status codes of every response in a raw answer, in order.
pub fn statuses(answer: &str) -> Vec<u16> {
    answer
        .split("HTTP/1.1 ")
        .skip(1)
        .filter_map(|rest| rest.get(..3)?.parse().ok())
        .collect()
}
