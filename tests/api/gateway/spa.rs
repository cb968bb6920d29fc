//! The single-page app served on Gatehouse's own origin (`[gateway] spa_dir`).

use reqwest::Method;
use serde_json::json;

use crate::support::{Req, TestApp, raw_http};

async fn app_with_spa() -> (TestApp, tempfile::TempDir) {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(
        site.path().join("index.html"),
        "<!doctype html><html><head><title>App</title></head><body>app</body></html>",
    )
    .unwrap();
    std::fs::write(site.path().join("app-3f9a1c2b.js"), "console.log(1)").unwrap();
    std::fs::write(site.path().join("style.css"), "body{}").unwrap();
    let dir = site.path().display().to_string();
    let app = TestApp::spawn_with(&[("GATEHOUSE__GATEWAY__SPA_DIR", &dir)]).await;
    (app, site)
}

#[tokio::test]
async fn the_apps_files_are_served_with_their_types_and_hashed_ones_are_cached_for_good() {
    let (app, _site) = app_with_spa().await;
    let mut browser = app.browser();
    let js = browser.get("/app-3f9a1c2b.js").await;
    assert_eq!(js.status, 200);
    assert!(js.header("content-type").unwrap().contains("javascript"));
    assert_eq!(
        js.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let css = browser.get("/style.css").await;
    assert_eq!(css.header("content-type"), Some("text/css"));
    assert_eq!(css.header("cache-control"), Some("no-cache"));
    assert!(
        css.header("content-security-policy")
            .unwrap()
            .starts_with("default-src 'self'")
    );
}

#[tokio::test]
async fn a_page_navigation_gets_index_html_with_a_working_csrf_token_and_data_requests_get_404() {
    let (app, _site) = app_with_spa().await;
    let mut browser = app.browser();
    let page = browser
        .send(Req::new(Method::GET, "/dashboard/7").header("accept", "text/html,*/*"))
        .await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let text = page.body.as_str().map(str::to_owned);
    assert!(text.is_none(), "an HTML page is not JSON");
    let html = browser
        .client
        .get(format!("{}/dashboard/7", browser.base))
        .header("accept", "text/html")
        .header("cookie", browser.cookie_header())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = html
        .split("<meta name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page carries the token")
        .to_owned();
    assert!(html.starts_with("<!doctype html><html><head><meta name=\"csrf-token\""));
    assert_eq!(browser.get("/session").await.body["_csrf"], token.as_str());
    let password = app.add_user("ada", gatehouse::account::Role::User).await;
    browser.csrf = Some(token);
    let login = browser
        .post("/session", json!({"username": "ada", "password": password}))
        .await;
    assert_eq!(login.status, 200, "the meta token logs in: {}", login.body);

    let data = browser.get("/dashboard/7").await;
    assert_eq!((data.status, data.code()), (404, "not_found"));
    let outside = raw_http(
        app.addr,
        b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(!outside.contains("root:"), "{outside}");
}
