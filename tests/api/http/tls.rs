//! `[server.tls]`: https with the configured certificate, Secure cookies over it, handshakes that
//! do not hold each other up, a reload on SIGHUP, and start-up errors that name the file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gatehouse::{App, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::support::{SECRET_KEY, TestApp, raw_http};

/// A self-signed certificate for `localhost` written as PEM files into `dir`.
struct TestCert {
    der: CertificateDer<'static>,
    cert_file: PathBuf,
    key_file: PathBuf,
}

fn certificate(dir: &Path, name: &str) -> TestCert {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_file = dir.join(format!("{name}.crt"));
    let key_file = dir.join(format!("{name}.key"));
    std::fs::write(&cert_file, made.cert.pem()).unwrap();
    std::fs::write(&key_file, made.signing_key.serialize_pem()).unwrap();
    TestCert {
        der: made.cert.der().clone(),
        cert_file,
        key_file,
    }
}

fn tls_settings(cert: &TestCert) -> Vec<(String, String)> {
    [
        ("GATEHOUSE__SERVER__PUBLIC_ORIGIN", "https://localhost:8443"),
        ("GATEHOUSE__COOKIES__SECURE", "true"),
        (
            "GATEHOUSE__CORS__ALLOWED_ORIGINS",
            "[\"https://localhost:8444\"]",
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .chain([
        (
            "GATEHOUSE__SERVER__TLS__CERT_FILE".to_owned(),
            cert.cert_file.display().to_string(),
        ),
        (
            "GATEHOUSE__SERVER__TLS__KEY_FILE".to_owned(),
            cert.key_file.display().to_string(),
        ),
    ])
    .collect()
}

/// A TLS handshake with `localhost` at `addr`, trusting only `cert`.
async fn connect_trusting(
    addr: SocketAddr,
    cert: &TestCert,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let mut roots = RootCertStore::empty();
    roots.add(cert.der.clone()).unwrap();
    let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await.unwrap();
    TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

/// One request over a fresh TLS connection that trusts only `cert`; the whole raw answer.
async fn https(addr: SocketAddr, cert: &TestCert, request: &str) -> String {
    let mut tls = connect_trusting(addr, cert)
        .await
        .expect("the handshake succeeds with the configured certificate");
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

const GET_SESSION: &str = "GET /session HTTP/1.1\r\nHost: localhost\r\nOrigin: https://localhost:8444\r\nConnection: close\r\n\r\n";

async fn spawn_tls(cert: &TestCert) -> TestApp {
    let settings = tls_settings(cert);
    let pairs: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    TestApp::spawn_with(&pairs).await
}

#[tokio::test]
async fn the_api_answers_over_https_with_the_configured_certificate_and_secure_cookies() {
    let dir = tempfile::tempdir().unwrap();
    let cert = certificate(dir.path(), "server");
    let app = spawn_tls(&cert).await;

    let answer = https(app.addr, &cert, GET_SESSION).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"auth\":false"), "{answer}");
    let set_cookie = answer
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("the pre-session cookie is set");
    assert!(set_cookie.contains("; Secure"), "{set_cookie}");
    assert!(
        answer.contains("access-control-allow-origin: https://localhost:8444"),
        "{answer}"
    );

    // Plain http on the https port gets no HTTP answer at all.
    let plain = raw_http(app.addr, GET_SESSION.as_bytes()).await;
    assert!(!plain.contains("HTTP/1.1 200"), "{plain}");
}

#[tokio::test]
async fn a_client_that_never_finishes_its_handshake_does_not_hold_up_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let cert = certificate(dir.path(), "server");
    let app = spawn_tls(&cert).await;

    // Connected, silent: the server is waiting for its ClientHello.
    let _stalled = TcpStream::connect(app.addr).await.unwrap();
    let mut half = TcpStream::connect(app.addr).await.unwrap();
    half.write_all(&[0x16, 0x03, 0x01]).await.unwrap();

    let answer = tokio::time::timeout(
        Duration::from_secs(3),
        https(
            app.addr,
            &cert,
            "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        ),
    )
    .await
    .expect("served while two handshakes are pending");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// Whether a TLS handshake that trusts only `cert` succeeds.
async fn handshake_trusting(addr: SocketAddr, cert: &TestCert) -> bool {
    connect_trusting(addr, cert).await.is_ok()
}

#[tokio::test]
async fn a_hangup_reloads_the_certificate_and_a_broken_file_keeps_the_one_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let first = certificate(dir.path(), "first");
    let live = TestCert {
        der: first.der.clone(),
        cert_file: dir.path().join("live.crt"),
        key_file: dir.path().join("live.key"),
    };
    std::fs::copy(&first.cert_file, &live.cert_file).unwrap();
    std::fs::copy(&first.key_file, &live.key_file).unwrap();
    let settings = [
        ("SERVER__PUBLIC_ORIGIN", "https://localhost:8443".to_owned()),
        ("COOKIES__SECURE", "true".to_owned()),
        (
            "CORS__ALLOWED_ORIGINS",
            "[\"https://localhost:8444\"]".to_owned(),
        ),
        (
            "SERVER__TLS__CERT_FILE",
            live.cert_file.display().to_string(),
        ),
        ("SERVER__TLS__KEY_FILE", live.key_file.display().to_string()),
        (
            "DATABASE__URL",
            format!("sqlite://{}", dir.path().join("g.db").display()),
        ),
    ];
    let node = crate::stores::nodes::Node::start(&settings);
    let addr: SocketAddr = node.addr.parse().unwrap();
    assert!(handshake_trusting(addr, &first).await);

    // A renewal: new files in place, then SIGHUP.
    let second = certificate(dir.path(), "second");
    std::fs::copy(&second.cert_file, &live.cert_file).unwrap();
    std::fs::copy(&second.key_file, &live.key_file).unwrap();
    assert!(
        handshake_trusting(addr, &first).await,
        "nothing changes before the signal"
    );
    node.signal("HUP");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !handshake_trusting(addr, &second).await {
        assert!(
            std::time::Instant::now() < deadline,
            "the new certificate was not loaded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !handshake_trusting(addr, &first).await,
        "the old one is gone"
    );

    // A broken file and another SIGHUP: the certificate in use stays.
    std::fs::write(&live.cert_file, "not a certificate").unwrap();
    node.signal("HUP");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        handshake_trusting(addr, &second).await,
        "still serving the last good one"
    );
}

#[tokio::test]
async fn tls_files_that_cannot_be_used_stop_the_start_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let cert = certificate(dir.path(), "server");
    let other = certificate(dir.path(), "other");
    let build = |cert_file: &Path, key_file: &Path| {
        let mut env = tls_settings(&cert);
        env.retain(|(k, _)| !k.starts_with("GATEHOUSE__SERVER__TLS__"));
        env.extend([
            ("GATEHOUSE__SERVER__LISTEN".into(), "127.0.0.1:0".into()),
            ("GATEHOUSE__SECURITY__SECRET_KEY".into(), SECRET_KEY.into()),
            (
                "GATEHOUSE__DATABASE__URL".into(),
                format!("sqlite://{}", dir.path().join("g.db").display()),
            ),
            (
                "GATEHOUSE__SERVER__TLS__CERT_FILE".into(),
                cert_file.display().to_string(),
            ),
            (
                "GATEHOUSE__SERVER__TLS__KEY_FILE".into(),
                key_file.display().to_string(),
            ),
        ]);
        let config = Config::from_sources("", env).unwrap();
        async move {
            match App::build(config).await {
                Ok(_) => panic!("the app started"),
                Err(e) => format!("{e:#}"),
            }
        }
    };

    let mismatched = build(&cert.cert_file, &other.key_file).await;
    assert!(
        mismatched.contains("does not fit the certificate"),
        "{mismatched}"
    );
    let missing = build(&dir.path().join("absent.crt"), &cert.key_file).await;
    assert!(
        missing.contains("server.tls.cert_file") && missing.contains("absent.crt"),
        "{missing}"
    );
    // A key where the certificate should be.
    let swapped = build(&cert.key_file, &cert.key_file).await;
    assert!(swapped.contains("no CERTIFICATE block"), "{swapped}");
    let no_key = build(&cert.cert_file, &cert.cert_file).await;
    assert!(
        no_key.contains("server.tls.key_file") && no_key.contains("cannot read a PEM private key"),
        "{no_key}"
    );
}
