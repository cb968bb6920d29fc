//! `AppState` and its substates: the only file that knows every part.
//!
//! Each layer and handler takes only what it uses through axum's `FromRef`: the session layer an
//! `Arc<SessionManager>`, CORS the origin policy, CSRF its [`CsrfGuard`], the request log its
//! [`RequestLog`], the client address the [`TrustedProxies`], handlers the service they call.
//! Nothing below `routes`, `app` and `cli` names `AppState`.

use std::sync::{Arc, OnceLock};

use axum::extract::FromRef;

use crate::account::{Accounts, FactorSettings, MailFlows, relying_party};
use crate::audit::Audit;
use crate::clock::Clock;
use crate::config::{Config, PasskeyConfig};
use crate::cors::Cors;
use crate::crypto::KeyRing;
use crate::csrf::CsrfGuard;
use crate::directory::Directory;
use crate::gateway::Gateway;
use crate::http::log::RequestLog;
use crate::identity::Identity;
use crate::mail::Mailer;
use crate::metrics::Metrics;
use crate::password::PasswordHasher;
use crate::peer::TrustedProxies;
use crate::session::SessionManager;
use crate::store::Stores;
use crate::throttle::Throttle;

/// Everything the server shares. axum clones the state for every request, so a clone is one
/// reference count, and a substate costs one more.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    config: Arc<Config>,
    stores: Stores,
    accounts: Arc<Accounts>,
    sessions: Arc<SessionManager>,
    directory: Arc<Directory>,
    gateway: Arc<Gateway>,
    cors: Arc<Cors>,
    audit: Audit,
    metrics: Arc<Metrics>,
    proxies: TrustedProxies,
    request_log: Arc<RequestLog>,
    csrf: Arc<CsrfGuard>,
    clock: Arc<dyn Clock>,
    openapi: Arc<OnceLock<OpenApiDocument>>,
}

/// The rendered OpenAPI document, served at `/openapi.json`.
#[derive(Clone, Debug, Default)]
pub struct OpenApiDocument(pub Arc<str>);

impl AppState {
    /// Opens the stores and builds every service on them.
    pub async fn new(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let stores = Stores::open(&config.database, &config.session)
            .await?
            .with_cache(config.session.cache_ttl, clock.clone());
        let metrics = Arc::new(Metrics::default());
        let audit = Audit::new(stores.audit.clone(), clock.clone());
        let keys = KeyRing::new(config.secret_keys.iter().map(|k| k.expose()));
        let sessions = Arc::new(SessionManager::new(
            stores.sessions.clone(),
            stores.users.clone(),
            keys.clone(),
            config.session.clone(),
            config.cookies.clone(),
            clock.clone(),
            audit.clone(),
        ));
        let throttle = Throttle::new(
            stores.throttle.clone(),
            config.throttle.clone(),
            clock.clone(),
        );
        let mut accounts = Accounts::new(
            &stores,
            PasswordHasher::new(&config.password, metrics.clone())?,
            throttle,
            audit.clone(),
            metrics.clone(),
            clock.clone(),
            FactorSettings {
                keys: keys.clone(),
                issuer: format!("Gatehouse ({})", config.server.public_origin.host()),
                fresh_auth: config.session.fresh_auth,
            },
        );
        if let Some(mail) = &config.mail {
            let mailer = Arc::new(Mailer::start(mail, metrics.clone())?);
            accounts = accounts.with_mail(MailFlows::new(
                mailer,
                mail.clone(),
                config.account.require_verified_email,
                &stores,
                audit.clone(),
                clock.clone(),
            ));
        }
        match &config.passkeys {
            PasskeyConfig::On(rp) => {
                accounts = accounts.with_passkeys(relying_party(rp)?);
            }
            PasskeyConfig::Off(why) => tracing::info!(reason = %why, "passkeys are off"),
        }
        let accounts = Arc::new(accounts);
        let directory = Arc::new(Directory::new(stores.employees.clone(), clock.clone()));
        let cors = Arc::new(Cors::new(
            &config.cors,
            &config.server.api_prefix,
            metrics.clone(),
        ));
        let proxies = TrustedProxies::new(&config.server.trusted_proxies);
        let identity = Arc::new(Identity::new(
            config.secret_keys.iter().map(|k| k.expose()),
            config.gateway.issuer.clone(),
            config.gateway.assertion_lifetime,
            clock.clone(),
        ));
        let gateway = Arc::new(Gateway::new(
            &config.gateway,
            config.server.public_origin.clone(),
            identity,
            sessions.cookie_names().clone(),
            proxies.clone(),
        ));
        let csrf = Arc::new(CsrfGuard {
            public_origin: config.server.public_origin.clone(),
            cors: cors.clone(),
            sessions: sessions.clone(),
            audit: audit.clone(),
            metrics: metrics.clone(),
            proxies: proxies.clone(),
        });
        Ok(Self(Arc::new(Inner {
            gateway,
            csrf,
            request_log: Arc::new(RequestLog::new(metrics.clone(), proxies.clone())),
            config: Arc::new(config),
            stores,
            accounts,
            sessions,
            directory,
            cors,
            audit,
            metrics,
            proxies,
            clock,
            openapi: Arc::new(OnceLock::new()),
        })))
    }

    pub fn config(&self) -> &Config {
        &self.0.config
    }

    pub fn accounts(&self) -> &Accounts {
        &self.0.accounts
    }

    pub fn sessions(&self) -> &SessionManager {
        &self.0.sessions
    }

    pub fn directory(&self) -> &Directory {
        &self.0.directory
    }

    pub fn audit(&self) -> &Audit {
        &self.0.audit
    }

    /// The stores, for reads (listings, readiness, tests); changes go through the services.
    pub fn stores(&self) -> &Stores {
        &self.0.stores
    }

    /// Keeps the rendered OpenAPI document for `/openapi.json` (once).
    pub fn set_openapi(&self, json: String) {
        let _ = self.0.openapi.set(OpenApiDocument(json.into()));
    }
}

/// `FromRef<AppState>` for a substate held in a field, by cloning it.
macro_rules! substate {
    ($($field:ident: $type:ty),* $(,)?) => {
        $(impl FromRef<AppState> for $type {
            fn from_ref(state: &AppState) -> Self {
                state.0.$field.clone()
            }
        })*
    };
}

substate! {
    stores: Stores,
    accounts: Arc<Accounts>,
    sessions: Arc<SessionManager>,
    directory: Arc<Directory>,
    gateway: Arc<Gateway>,
    cors: Arc<Cors>,
    audit: Audit,
    metrics: Arc<Metrics>,
    proxies: TrustedProxies,
    request_log: Arc<RequestLog>,
    csrf: Arc<CsrfGuard>,
    clock: Arc<dyn Clock>,
}

impl FromRef<AppState> for OpenApiDocument {
    fn from_ref(state: &AppState) -> Self {
        state.0.openapi.get().cloned().unwrap_or_default()
    }
}
