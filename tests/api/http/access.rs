//! Deny by default, checked from the outside: every operation in the OpenAPI document that is
//! not on the one public list answers 401 `unauthenticated` to an anonymous browser, even with
//! a valid anonymous CSRF token and a JSON body.

use gatehouse::routes::PUBLIC_OPERATIONS;
use reqwest::Method;
use serde_json::json;

use crate::support::{Req, TestApp};

/// A concrete path for a templated one (`/employees/{id}` -> `/employees/1`).
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment {
            "{id}" => "1",
            "{query}" => "ada",
            "{timestamp}" => "0",
            other => other,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_operation_not_on_the_public_list_answers_401_to_an_anonymous_caller() {
    let app = TestApp::spawn().await;
    app.seed_directory().await;
    let mut browser = app.browser();
    assert_eq!(browser.get("/session").await.body["auth"], false);
    let doc = browser.get("/openapi.json").await.body;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        assert!(!path.contains('{') || concrete(path) != *path, "{path}");
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_none() || PUBLIC_OPERATIONS.contains(&(method, path.as_str())) {
                continue;
            }
            let mut req = Req::new(
                Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                &concrete(path),
            );
            if method != "get" {
                req = req.json(json!({}));
            }
            let reply = browser.send(req).await;
            assert_eq!(
                (reply.status, reply.code()),
                (401, "unauthenticated"),
                "{method} {path}: {}",
                reply.body
            );
            checked += 1;
        }
    }
    assert!(checked >= 14, "only {checked} private operations found");
}

#[tokio::test]
async fn every_operation_on_the_public_list_is_in_the_document() {
    let app = TestApp::spawn().await;
    let doc = app.browser().get("/openapi.json").await.body;
    for (method, path) in PUBLIC_OPERATIONS {
        assert!(
            doc["paths"][*path].get(*method).is_some(),
            "{method} {path} is listed public but not served"
        );
    }
}
