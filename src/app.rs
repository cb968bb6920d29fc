//! The application: builds shared state, binds its listener and serves until stopped.
//!
//! Tests start an [`App`] exactly as production does, on port 0, and read [`App::local_addr`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn_with_state, map_response};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa_axum::router::OpenApiRouter;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::cors::Cors;
use crate::crypto::KeyRing;
use crate::metrics::Metrics;
use crate::password::PasswordHasher;
use crate::session::SessionManager;
use crate::store::Stores;
use crate::throttle::Throttle;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub stores: Stores,
    pub sessions: SessionManager,
    pub passwords: PasswordHasher,
    pub cors: Cors,
    pub throttle: Throttle,
    pub clock: Arc<dyn Clock>,
    pub metrics: Metrics,
    /// The OpenAPI document, rendered once when the router is built.
    pub openapi: OnceLock<String>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Opens the stores and prepares everything the handlers share.
    pub async fn new(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let stores = Stores::open(&config.database, &config.session)
            .await?
            .with_cache(config.session.cache_ttl);
        let keys = KeyRing::new(config.secret_keys.iter().map(|k| k.expose()));
        let sessions = SessionManager::new(
            stores.clone(),
            keys,
            config.session.clone(),
            config.cookies.clone(),
            clock.clone(),
        );
        let passwords = PasswordHasher::new(&config.password)?;
        let cors = Cors::new(&config.cors, &config.server.api_prefix);
        let throttle = Throttle::new(
            stores.throttle.clone(),
            config.throttle.clone(),
            clock.clone(),
        );
        Ok(Self(Arc::new(Inner {
            config,
            stores,
            sessions,
            passwords,
            cors,
            throttle,
            clock,
            metrics: Metrics::default(),
            openapi: OnceLock::new(),
        })))
    }
}

pub struct App {
    listener: TcpListener,
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
        let state = AppState::new(config, clock).await?;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        Ok(Self {
            router: router(state.clone()),
            listener,
            state,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
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
        tracing::info!(address = %self.local_addr(), "gatehouse listening");
        let sweeper = tokio::spawn(sweep_forever(self.state.clone()));
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, service)
            .with_graceful_shutdown(stop)
            .await?;
        sweeper.abort();
        tracing::info!("gatehouse stopped");
        Ok(())
    }
}

/// The whole HTTP stack. Outermost first: panics -> log and metrics -> security headers ->
/// CORS -> (private API only) session -> CSRF -> handlers.
pub fn router(state: AppState) -> Router {
    let (router, openapi) =
        documented_routes(&state.config.server.api_prefix, Some(&state)).split_for_parts();
    let _ = state.openapi.set(render_openapi(openapi));
    router
        .fallback(crate::http::not_found)
        .method_not_allowed_fallback(crate::http::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.server.max_body_bytes))
        .layer(from_fn_with_state(state.clone(), crate::cors::layer))
        .layer(map_response(crate::http::security_headers))
        .layer(from_fn_with_state(state.clone(), crate::http::log_request))
        .layer(CatchPanicLayer::custom(crate::http::panic_response))
        .with_state(state)
}

#[derive(utoipa::OpenApi)]
#[openapi(info(
    title = "Gatehouse",
    description = "Session authentication for single-page apps whose API lives on another origin. \
        Unsafe requests need `X-CSRF-Token` (the `_csrf` of the latest session reply) and, with a body, \
        `Content-Type: application/json`. Errors are `{\"error\": {\"code\", \"message\", \"fields\"?}}`."
))]
struct ApiDoc;

/// Every route, registered together with its OpenAPI operation. With a state, the private
/// routes get their session and CSRF layers; without one, the result is only good for its
/// document.
pub fn documented_routes(prefix: &str, state: Option<&AppState>) -> OpenApiRouter<AppState> {
    let mut private = crate::routes::private();
    if let Some(state) = state {
        private = private
            .layer(from_fn_with_state(state.clone(), crate::csrf::layer))
            .layer(from_fn_with_state(state.clone(), crate::session::layer));
    }
    let api = private.merge(crate::routes::public());
    let api = if prefix.is_empty() {
        api
    } else {
        OpenApiRouter::new().nest(prefix, api)
    };
    OpenApiRouter::with_openapi(<ApiDoc as utoipa::OpenApi>::openapi())
        .merge(crate::routes::operations())
        .merge(api)
}

/// Deletes expired sessions every `session.sweep_interval_secs`.
async fn sweep_forever(state: AppState) {
    let every = std::time::Duration::from_secs(
        state
            .config
            .session
            .sweep_interval
            .whole_seconds()
            .unsigned_abs(),
    );
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match state.sessions.sweep().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "expired sessions swept"),
            Err(e) => tracing::warn!(error = %e, "session sweep failed"),
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

/// The OpenAPI document for an API mounted at `prefix`.
pub fn openapi_json(prefix: &str) -> String {
    render_openapi(documented_routes(prefix, None).into_openapi())
}

fn render_openapi(mut doc: utoipa::openapi::OpenApi) -> String {
    crate::routes::document_common_errors(&mut doc);
    doc.to_pretty_json().unwrap_or_default()
}
