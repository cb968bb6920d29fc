//! HTTPS serving (`[server.tls]`): the certificate chain and key are read at start-up and again on
//! `SIGHUP` (a renewal without a restart), and handshakes run beside the accept loop so one slow
//! client cannot hold up the others.
//!
//! `SameSite=None; Secure` and `Partitioned` cookies need https outside `localhost`
//! (RFC 6265bis §4.1.2.5, CHIPS); a proxy in front that terminates TLS works as well.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;

use crate::config::TlsFiles;

/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshaken connections waiting for the server to take them.
const READY_QUEUE: usize = 128;

/// Reads and checks the PEM files of `[server.tls]`; every error names the file and the fix.
pub fn load(files: &TlsFiles) -> anyhow::Result<Arc<ServerConfig>> {
    let cert_path = files.cert_file.display();
    let chain = CertificateDer::pem_file_iter(&files.cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| {
            format!("server.tls.cert_file {cert_path}: cannot read a PEM certificate chain")
        })?;
    anyhow::ensure!(
        !chain.is_empty(),
        "server.tls.cert_file {cert_path}: no CERTIFICATE block; give the PEM certificate chain, leaf first"
    );
    let key_path = files.key_file.display();
    let key = PrivateKeyDer::from_pem_file(&files.key_file).with_context(|| {
        format!(
            "server.tls.key_file {key_path}: cannot read a PEM private key (PKCS#8, PKCS#1 or SEC1)"
        )
    })?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .context("the TLS provider offers no safe protocol version")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .with_context(|| {
            format!("server.tls: the key in {key_path} does not fit the certificate in {cert_path}")
        })?;
    // The server speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The certificate in use, replaceable while serving (`SIGHUP` reloads the files).
#[derive(Clone)]
pub struct TlsConfig(Arc<std::sync::RwLock<Arc<ServerConfig>>>);

impl TlsConfig {
    pub fn new(config: Arc<ServerConfig>) -> Self {
        Self(Arc::new(std::sync::RwLock::new(config)))
    }

    fn current(&self) -> Arc<ServerConfig> {
        match self.0.read() {
            Ok(config) => config.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reads `files` again; on success new handshakes use them, on failure the certificate in
    /// use stays (the error says why).
    pub fn reload(&self, files: &TlsFiles) -> anyhow::Result<()> {
        let fresh = load(files)?;
        match self.0.write() {
            Ok(mut config) => *config = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(())
    }
}

/// Reloads the certificate on every `SIGHUP`, for renewals without a restart.
pub async fn reload_on_hangup(config: TlsConfig, files: TlsFiles) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!(
                "cannot listen for SIGHUP: the certificate is reloaded only by a restart"
            );
            return;
        };
        while hangups.recv().await.is_some() {
            match config.reload(&files) {
                Ok(()) => {
                    tracing::info!(cert = %files.cert_file.display(), "TLS certificate reloaded")
                }
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "TLS certificate not reloaded; the old one stays in use")
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (config, files);
    }
}

/// A listener whose connections arrive with their TLS handshake done.
pub struct TlsListener {
    local_addr: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    accepting: JoinHandle<()>,
}

impl TlsListener {
    pub fn new(listener: TcpListener, config: TlsConfig) -> io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let (send, ready) = mpsc::channel(READY_QUEUE);
        let accepting = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: wait rather than spin.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                // As for plain http (`App::run_until`): no Nagle delay on answers.
                let _ = tcp.set_nodelay(true);
                // The certificate of the moment (a reload affects the next handshakes).
                let acceptor = TlsAcceptor::from(config.current());
                let send = send.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            let _ = send.send((stream, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self {
            local_addr,
            ready,
            accepting,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accepting task holds the sender until it is aborted with this listener.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}
