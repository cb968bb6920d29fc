//! Forward-auth through real nginx (`auth_request`) and real Caddy (`forward_auth`), configured
//! with the snippets shipped in `docs/proxies/`, in front of a real upstream.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gatehouse::account::Role;
use reqwest::Method;
use serde_json::json;

use super::verify_assertion;
use crate::support::upstream::Upstream;
use crate::support::{Browser, Req, TestApp};

/// A proxy process, stopped when dropped.
struct Proxy {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn binary(name: &str, candidates: &[&str], package: &str) -> String {
    candidates
        .iter()
        .find(|p| Path::new(p).exists())
        .map(|p| (*p).to_owned())
        .unwrap_or_else(|| {
            panic!("{name} is missing: install it with `sudo apt-get install {package}` (./scripts/test does)")
        })
}

/// A shipped snippet with its example ports replaced by the test's.
fn snippet(file: &str, port: u16, gatehouse: SocketAddr, upstream: SocketAddr) -> String {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs/proxies")
            .join(file),
    )
    .unwrap();
    text.replace("127.0.0.1:8080", &gatehouse.to_string())
        .replace("127.0.0.1:9000", &upstream.to_string())
        .replace("listen 8000;", &format!("listen 127.0.0.1:{port};"))
        .replace(":8000 {", &format!("http://127.0.0.1:{port} {{"))
}

async fn wait_for(addr: SocketAddr, child: &mut Child, what: &str, log: &Path) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited ({status}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{what} did not start: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// nginx with the shipped snippet; `http` goes in the `http` block before it.
async fn nginx(gatehouse: SocketAddr, upstream: SocketAddr, http: &str) -> Proxy {
    let bin = binary("nginx", &["/usr/sbin/nginx", "/usr/bin/nginx"], "nginx");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let d = dir.path().display();
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let conf = format!(
        "{user}worker_processes 1;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\nevents {{ worker_connections 64; }}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  {http}\n{}\n}}\n",
        snippet("nginx.conf", port, gatehouse, upstream),
        user = if root { "user root;\n" } else { "" },
    );
    std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
    let log = dir.path().join("error.log");
    let mut child = Command::new(bin)
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_for(addr, &mut child, "nginx", &log).await;
    Proxy {
        child,
        addr,
        _dir: dir,
    }
}

async fn caddy(gatehouse: SocketAddr, upstream: SocketAddr) -> Proxy {
    let bin = binary(
        "caddy",
        &["/usr/bin/caddy", "/usr/local/bin/caddy"],
        "caddy",
    );
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = format!(
        "{{\n\tadmin off\n\tauto_https off\n}}\n\n{}",
        snippet("Caddyfile", port, gatehouse, upstream)
    );
    std::fs::write(dir.path().join("Caddyfile"), conf).unwrap();
    let log = dir.path().join("caddy.log");
    let mut child = Command::new(bin)
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(dir.path().join("Caddyfile"))
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_for(addr, &mut child, "caddy", &log).await;
    Proxy {
        child,
        addr,
        _dir: dir,
    }
}

/// A browser that talks to `proxy` instead of to Gatehouse.
fn via(proxy: &Proxy, browser: Browser) -> Browser {
    Browser {
        base: format!("http://{}", proxy.addr),
        ..browser
    }
}

/// The same journey through either proxy: anonymous refused, a logged-in read carries a
/// verifiable identity (forged headers replaced), an unsafe request needs the CSRF token.
async fn journey(app: &TestApp, upstream: &Upstream, proxy: &Proxy) {
    let via_proxy = |b: Browser| via(proxy, b);
    let mut anonymous = via_proxy(app.browser());
    let refused = anonymous.get("/orders").await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(
        upstream.seen().is_empty(),
        "a refused request never reaches the upstream"
    );

    let password = app.add_user("ada", Role::User).await;
    let mut browser = via_proxy(app.browser());
    let login = browser.login("ada", &password).await;
    assert_eq!(login.status, 200, "login through the proxy: {}", login.body);
    let session = browser.get("/session").await.body;
    let read = browser
        .send(
            Req::new(Method::GET, "/orders/7")
                .header("gatehouse-user-id", "999")
                .header("gatehouse-role", "admin"),
        )
        .await;
    assert_eq!(read.status, 200, "{}", read.body);
    let seen = upstream.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].uri, "/orders/7");
    assert_eq!(
        seen[0].header("gatehouse-user-id"),
        Some(session["user"]["id"].to_string().as_str())
    );
    assert_eq!(
        seen[0].headers.get_all("gatehouse-user-id").iter().count(),
        1
    );
    assert_eq!(seen[0].header("gatehouse-role"), Some("user"));
    assert_eq!(
        seen[0].header("gatehouse-session-id"),
        session["id"].as_str()
    );
    let jwks = app.browser().get("/.well-known/jwks.json").await.body;
    let now = gatehouse::clock::Clock::now(&*app.clock).unix_timestamp();
    let claims =
        verify_assertion(&jwks, seen[0].header("gatehouse-assertion").unwrap(), now).unwrap();
    assert_eq!(claims["name"], "ada");

    let token = browser.csrf.take();
    let forged = browser.post("/orders", json!({"qty": 1})).await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert_eq!(
        upstream.seen().len(),
        1,
        "the refused write did not reach the upstream"
    );
    browser.csrf = token;
    let write = browser.post("/orders", json!({"qty": 1})).await;
    assert_eq!(write.status, 200, "{}", write.body);
    assert_eq!(upstream.seen().len(), 2);
    assert_eq!(upstream.seen()[1].body, br#"{"qty":1}"#);
}

const TRUSTED: (&str, &str) = ("GATEHOUSE__SERVER__TRUSTED_PROXIES", "[\"127.0.0.1\"]");

#[tokio::test]
async fn nginx_auth_request_with_the_shipped_snippet_guards_an_api() {
    let upstream = Upstream::start().await;
    let app = TestApp::spawn_with(&[TRUSTED]).await;
    let proxy = nginx(app.addr, upstream.addr, "").await;
    journey(&app, &upstream, &proxy).await;
}

#[tokio::test]
async fn caddy_forward_auth_with_the_shipped_snippet_guards_an_api() {
    let upstream = Upstream::start().await;
    let app = TestApp::spawn_with(&[TRUSTED]).await;
    let proxy = caddy(app.addr, upstream.addr).await;
    journey(&app, &upstream, &proxy).await;
}

/// The far ports of the IPv4 TCP connections to or from `port`, in any state but listening
/// (`TIME_WAIT` included, so a connection closed a moment ago still counts): one per connection.
fn connections_with(port: u16) -> HashSet<u16> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp (Linux)");
    let port_of = |address: &str| u16::from_str_radix(address.rsplit(':').next()?, 16).ok();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, remote) = (port_of(fields.get(1)?)?, port_of(fields.get(2)?)?);
            let listening = fields.get(3) == Some(&"0A");
            if listening {
                None
            } else if local == port {
                Some(remote)
            } else if remote == port {
                Some(local)
            } else {
                None
            }
        })
        .collect()
}

/// Twenty logged-in reads and twenty refused ones through `proxy` open no new connection to
/// Gatehouse or to the API:
/// the proxy keeps them open (without that, each request and each auth subrequest leaves a
/// connection in `TIME_WAIT`, and a busy proxy runs out of ports).
async fn proxy_keeps_connections_open(app: &TestApp, upstream: &Upstream, proxy: &Proxy) {
    let password = app.add_user("ada", Role::User).await;
    let mut browser = via(proxy, app.browser());
    assert_eq!(browser.login("ada", &password).await.status, 200);
    assert_eq!(browser.get("/orders/0").await.status, 200);
    let (gatehouse, api) = (app.addr.port(), upstream.addr.port());
    let (before_gatehouse, before_api) = (connections_with(gatehouse), connections_with(api));
    let mut anonymous = via(proxy, app.browser());
    for n in 1..=20 {
        let read = browser.get(&format!("/orders/{n}")).await;
        assert_eq!(read.status, 200, "{}", read.body);
        // A refusal as well: answers with a body the proxy does not read would close it.
        assert_eq!(anonymous.get(&format!("/orders/{n}")).await.status, 401);
    }
    let opened = |port, before: &HashSet<u16>| connections_with(port).difference(before).count();
    assert_eq!(upstream.seen().len(), 21);
    assert!(
        opened(gatehouse, &before_gatehouse) <= 1,
        "40 requests opened {} connections to Gatehouse",
        opened(gatehouse, &before_gatehouse)
    );
    assert!(
        opened(api, &before_api) <= 1,
        "40 requests opened {} connections to the API",
        opened(api, &before_api)
    );
}

#[tokio::test]
async fn nginx_with_the_shipped_snippet_keeps_its_connections_to_gatehouse_and_the_api_open() {
    let upstream = Upstream::start().await;
    let app = TestApp::spawn_with(&[TRUSTED]).await;
    let proxy = nginx(app.addr, upstream.addr, "").await;
    proxy_keeps_connections_open(&app, &upstream, &proxy).await;
}

#[tokio::test]
async fn caddy_with_the_shipped_snippet_keeps_its_connections_to_gatehouse_and_the_api_open() {
    let upstream = Upstream::start().await;
    let app = TestApp::spawn_with(&[TRUSTED]).await;
    let proxy = caddy(app.addr, upstream.addr).await;
    proxy_keeps_connections_open(&app, &upstream, &proxy).await;
}

#[tokio::test]
async fn nginx_with_the_shipped_snippet_gives_gatehouse_the_clients_address_and_not_one_it_forged()
{
    let upstream = Upstream::start().await;
    // nginx connects from 127.0.0.2, the one trusted proxy, so the test (127.0.0.1) is a client.
    let app =
        TestApp::spawn_with(&[("GATEHOUSE__SERVER__TRUSTED_PROXIES", "[\"127.0.0.2\"]")]).await;
    let proxy = nginx(app.addr, upstream.addr, "proxy_bind 127.0.0.2;").await;
    let password = app.add_user("ada", Role::User).await;
    let mut browser = via(&proxy, app.browser());
    browser.get("/session").await;
    let login = browser
        .send(
            Req::new(Method::POST, "/session")
                .json(json!({"username": "ada", "password": password}))
                .header("x-forwarded-for", "203.0.113.9"),
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.body);
    let sessions = browser.get("/sessions").await;
    assert_eq!(sessions.status, 200, "{}", sessions.body);
    assert_eq!(
        sessions.body["items"][0]["ip"], "127.0.0.1",
        "the session's address is the client's as nginx saw it: {}",
        sessions.body
    );
}
