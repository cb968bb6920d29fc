//! `gatehouse demo --gateway`: the demo app, the session resource and a sample API on one
//! origin. Gatehouse serves the app from a folder made of the repository's `demo/`, `client/`
//! and `node_modules/`, and proxies `/api/` to a small sample API that knows nothing about
//! sessions: it reads the caller from the `Gatehouse-*` headers and says what it saw.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::Router;
use axum::extract::Request;
use axum::response::Json;

/// Starts the sample API on a free loopback port; each request it sees is printed as one
/// `upstream saw: …` line (the end-to-end test reads them).
pub async fn sample_upstream() -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = Router::new().fallback(|request: Request| async move {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let cookies: Vec<String> = header("cookie")
            .unwrap_or_default()
            .split(';')
            .filter_map(|pair| pair.split_once('=').map(|(name, _)| name.trim().to_owned()))
            .filter(|name| !name.is_empty())
            .collect();
        let username = header("gatehouse-username");
        let assertion = header("gatehouse-assertion").is_some();
        println!(
            "upstream saw: {} {} user={} role={} assertion={assertion} cookies=[{}]",
            request.method(),
            request.uri().path(),
            username.as_deref().unwrap_or("-"),
            header("gatehouse-role").as_deref().unwrap_or("-"),
            cookies.join(",")
        );
        Json(serde_json::json!({
            "path": request.uri().path(),
            "user_id": header("gatehouse-user-id"),
            "username": username,
            "role": header("gatehouse-role"),
            "session_id": header("gatehouse-session-id"),
            "assertion": assertion,
            "cookies": cookies,
        }))
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

/// `DATA/gateway-site`: links to the demo's files, `client/` and `node_modules/`, and the
/// `demo-config.json` that tells the app where the API and the sample API are.
pub fn site(app_dir: &Path, data_dir: &Path, origin: &str) -> anyhow::Result<PathBuf> {
    let site = data_dir.join("gateway-site");
    if site.exists() {
        std::fs::remove_dir_all(&site)?;
    }
    std::fs::create_dir_all(&site)?;
    let app_dir = std::fs::canonicalize(app_dir)?;
    let mut links = vec![
        (app_dir.join("client"), site.join("client")),
        (app_dir.join("node_modules"), site.join("node_modules")),
    ];
    for entry in std::fs::read_dir(app_dir.join("demo"))? {
        let entry = entry?;
        links.push((entry.path(), site.join(entry.file_name())));
    }
    for (target, link) in links {
        std::os::unix::fs::symlink(&target, &link)
            .map_err(|e| anyhow::anyhow!("linking {}: {e}", link.display()))?;
    }
    let config = serde_json::json!({ "apiOrigin": origin, "upstream": "/api/" });
    std::fs::write(site.join("demo-config.json"), config.to_string())?;
    Ok(site)
}
