//! The application: builds shared state, binds its listener and serves until stopped.
//!
//! Tests start an [`App`] exactly as production does, on port 0, and read [`App::local_addr`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::state::AppState;
use crate::tls::{TlsConfig, TlsListener};

/// How long a shutdown waits for queued mails.
const MAIL_DRAIN: std::time::Duration = std::time::Duration::from_secs(10);

pub struct App {
    listener: TcpListener,
    /// `Some` when `[server.tls]` is set: the listener speaks https.
    tls: Option<TlsConfig>,
    router: Router,
    state: AppState,
}

impl App {
    /// Builds the app with the system clock and binds `config.server.listen`.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let listen = config.server.listen;
        let tls = config
            .server
            .tls
            .as_ref()
            .map(crate::tls::load)
            .transpose()?
            .map(TlsConfig::new);
        let state = AppState::new(config, clock).await?;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        Ok(Self {
            router: router(state.clone()),
            listener,
            tls,
            state,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The https settings when `[server.tls]` is set (the demo serves its app origin with them).
    pub fn tls(&self) -> Option<TlsConfig> {
        self.tls.clone()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGTERM or ctrl-c, then finishes the requests in flight.
    pub async fn run(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    pub async fn run_until(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        tracing::info!(address = %self.local_addr(), scheme, "gatehouse listening");
        log_topologies(self.state.config());
        let sweeper = tokio::spawn(sweep_forever(self.state.clone()));
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        match self.tls {
            None => {
                // Answers go out at once rather than waiting for the client's ACK of the last
                // segment (Nagle), as nginx's `tcp_nodelay` does.
                let listener = self.listener.tap_io(|tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                axum::serve(listener, service)
                    .with_graceful_shutdown(stop)
                    .await?
            }
            Some(tls) => {
                if let Some(files) = self.state.config().server.tls.clone() {
                    tokio::spawn(crate::tls::reload_on_hangup(tls.clone(), files));
                }
                // `tap_io` gives the TLS listener axum's `ConnectInfo<SocketAddr>`.
                let listener = TlsListener::new(self.listener, tls)?.tap_io(|_| {});
                axum::serve(listener, service)
                    .with_graceful_shutdown(stop)
                    .await?
            }
        }
        sweeper.abort();
        // Mails still queued (a reset link just asked for) get a few seconds to go out.
        let left = self.state.accounts().drain_mail(MAIL_DRAIN).await;
        if left > 0 {
            tracing::warn!(left, "mails still queued at shutdown were not sent");
        }
        tracing::info!("gatehouse stopped");
        Ok(())
    }
}

/// The whole HTTP stack. Outermost first: panics -> the edge (request id, log and metrics, CORS,
/// security headers) -> (API routes with sessions) the session gate (session, CSRF, cookies) ->
/// (private routes) login -> handlers; each group's stack is laid on in `routes::documented`.
/// See `http::pipeline`.
pub fn router(state: AppState) -> Router {
    let config = state.config();
    let (router, mut openapi) = crate::routes::documented(&config.server.api_prefix, Some(&state));
    if !state.accounts().mail_enabled()
        && let Some(description) = openapi.info.description.as_mut()
    {
        description.push_str(" Mail is off on this server (no `[mail]` section): the password-reset and e-mail verification calls answer 404 `mail_not_configured`.");
    }
    state.set_openapi(openapi.to_pretty_json().unwrap_or_default());
    crate::routes::with_fallbacks(router, &state).with_state(state)
}

/// One line per allowlisted origin: how browsers will treat the session cookie there
/// (`gatehouse doctor` prints the same analysis in full).
fn log_topologies(config: &Config) {
    use crate::config::topology::{Level, analyse};
    for origin in &config.cors.allowed_origins {
        let verdict = analyse(origin, &config.server.public_origin, &config.cookies);
        let findings: Vec<&str> = verdict.findings.iter().map(|f| f.what.as_str()).collect();
        if verdict.worst() >= Some(Level::Limited) {
            tracing::warn!(app = %origin, relation = %verdict.relation, findings = ?findings, "app origin: cookies work only in some browsers; run `gatehouse doctor`");
        } else {
            tracing::info!(app = %origin, relation = %verdict.relation, findings = ?findings, "app origin: cookies work");
        }
    }
}

/// Deletes expired sessions, mailed tokens and passkey challenges every `session.sweep_interval_secs`.
async fn sweep_forever(state: AppState) {
    let every = std::time::Duration::from_secs(
        state
            .config()
            .session
            .sweep_interval
            .whole_seconds()
            .unsigned_abs(),
    );
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match state.sessions().sweep().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "expired sessions swept"),
            Err(e) => tracing::warn!(error = %e, "session sweep failed"),
        }
        match state.accounts().sweep_tokens().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                deleted = n,
                "expired mailed tokens and passkey challenges swept"
            ),
            Err(e) => tracing::warn!(error = %e, "mailed-token sweep failed"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
