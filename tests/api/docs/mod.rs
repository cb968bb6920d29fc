//! The OpenAPI document and the metrics endpoint.

use std::collections::BTreeSet;

use gatehouse::account::Role;
use reqwest::Method;
use serde_json::Value;

use crate::support::{Req, TestApp};

/// `(METHOD, /path)` for every operation of the document.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_lists_every_route() {
    let app = TestApp::spawn().await;
    let doc = app.browser().get("/openapi.json").await.body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let expected: BTreeSet<(String, String)> = [
        ("GET", "/session"),
        ("POST", "/session"),
        ("DELETE", "/session"),
        ("DELETE", "/session/{id}"),
        ("POST", "/users"),
        ("PATCH", "/users/me"),
        ("DELETE", "/users/me"),
        ("PUT", "/users/me/password"),
        ("GET", "/sessions"),
        ("DELETE", "/sessions"),
        ("DELETE", "/sessions/{id}"),
        ("GET", "/users"),
        ("GET", "/users/me"),
        ("PATCH", "/users/{id}"),
        ("POST", "/password-reset"),
        ("POST", "/password-reset/confirm"),
        ("POST", "/users/me/email/verify"),
        ("POST", "/users/me/email/verification"),
        ("GET", "/users/me/totp"),
        ("POST", "/users/me/totp"),
        ("DELETE", "/users/me/totp"),
        ("POST", "/users/me/totp/confirm"),
        ("POST", "/users/me/recovery-codes"),
        ("POST", "/session/mfa"),
        ("POST", "/session/mfa/options"),
        ("POST", "/session/passkey/options"),
        ("POST", "/session/passkey"),
        ("POST", "/users/me/passkeys/options"),
        ("POST", "/users/me/passkeys"),
        ("GET", "/users/me/passkeys"),
        ("PATCH", "/users/me/passkeys/{id}"),
        ("DELETE", "/users/me/passkeys/{id}"),
        ("GET", "/employees"),
        ("POST", "/employees"),
        ("GET", "/employees/search/{query}"),
        ("GET", "/employees/modifiedsince/{timestamp}"),
        ("GET", "/employees/{id}"),
        ("PUT", "/employees/{id}"),
        ("DELETE", "/employees/{id}"),
        ("GET", "/employees/{id}/reports"),
        ("GET", "/race/results"),
        ("POST", "/race/results"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("GET", "/auth/verify"),
        ("GET", "/.well-known/jwks.json"),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    assert_eq!(operations(&doc), expected);
    // Operation ids are the handlers' names; OpenAPI wants each once.
    let mut ids = std::collections::BTreeSet::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let id = op["operationId"].as_str().unwrap();
            assert!(ids.insert(id.to_owned()), "operationId {id} twice");
        }
    }
    let codes = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap();
    assert_eq!(codes.len(), gatehouse::error::ERROR_CODES.len());
}

#[tokio::test]
async fn every_documented_operation_is_served() {
    let app = TestApp::spawn().await;
    let doc = app.browser().get("/openapi.json").await.body;
    let mut admin = app.logged_in("root", Role::Admin).await;
    for (method, path) in operations(&doc) {
        let concrete = path
            .replace("{id}", "1")
            .replace("{query}", "x")
            .replace("{timestamp}", "0");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = Req::new(method.clone(), &concrete);
        if method != Method::GET && method != Method::DELETE {
            req = req.json(serde_json::json!({}));
        }
        let reply = admin.send(req).await;
        assert!(
            reply.status != 405
                && !(reply.status == 404 && reply.code() == "not_found" && !concrete.contains('1')),
            "{method} {concrete}: {} {}",
            reply.status,
            reply.body
        );
        assert!(reply.status < 500, "{method} {concrete}: {}", reply.status);
        if reply.status == 200 && method == Method::DELETE && concrete.starts_with("/session") {
            // Logging out ends the admin's session; log back in for the rest.
            admin = app
                .logged_in(&format!("root{}", concrete.len()), Role::Admin)
                .await;
        }
    }
}

#[tokio::test]
async fn routes_are_only_registered_through_the_documented_router() {
    // The document is generated from `routes!` registrations; a plain `.route(` would serve an
    // undocumented endpoint, so none may exist in the route modules.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for forbidden in [".route(", ".route_service(", ".nest_service("] {
            assert!(
                !text.contains(forbidden),
                "{} uses {forbidden}",
                path.display()
            );
        }
    }
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_count_what_happened() {
    let app = TestApp::spawn().await;
    let mut alice = app.logged_in("alice", Role::User).await;
    alice.get("/users/me").await;
    app.browser().login("alice", "wrong-password").await;
    let mut mallory = app.browser();
    mallory.get("/session").await;
    mallory.csrf = None;
    mallory.post("/users", serde_json::json!({})).await;
    let reply = app.browser().get("/metrics").await;
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = reqwest::get(format!("http://{}/metrics", app.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut samples = std::collections::HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') {
            assert!(
                line.starts_with("# HELP ")
                    || line.starts_with("# TYPE ")
                    || line.starts_with("# UNIT ")
                    || line == "# EOF",
                "{line}"
            );
            continue;
        }
        let (name, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad sample line {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let metric = name.split('{').next().unwrap();
        assert!(
            metric
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        samples.insert(name.to_owned(), value);
    }
    assert_eq!(samples["gatehouse_logins_total{outcome=\"success\"}"], 1.0);
    assert_eq!(samples["gatehouse_logins_total{outcome=\"failure\"}"], 1.0);
    assert_eq!(
        samples["gatehouse_security_refusals_total{reason=\"csrf_token_missing\"}"],
        1.0
    );
    assert_eq!(samples["gatehouse_active_sessions"], 1.0);
    assert!(samples.keys().any(|k| k.starts_with("gatehouse_http_request_duration_seconds_count{method=\"GET\",route=\"/users/me\",status=\"200\"}")));
}
