//! Typed configuration: defaults, then a TOML file, then `GATEHOUSE__SECTION__KEY` environment
//! overrides, validated once at start-up.
//!
//! Combinations that cannot work in a browser (credentials with a wildcard origin, `SameSite=None`
//! without `Secure`, a cross-site app with `SameSite=Lax` cookies, ...) are refused here with a
//! message that says what to change, never discovered at the first request. Every key is
//! documented in `gatehouse.example.toml`.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::Deserialize;
use time::Duration;

use crate::origin::Origin;

mod passkeys;
mod raw;
pub mod topology;
mod validate;

use raw::Raw;
use validate::validate;

/// The configured secret key. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct SecretKey(Vec<u8>);

impl SecretKey {
    /// Shortest accepted key: 32 bytes (256 bits), OWASP ASVS 5.0 V11.2 key strength.
    pub const MIN_BYTES: usize = 32;

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SameSite {
    Strict,
    Lax,
    None,
}

impl SameSite {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "Strict",
            Self::Lax => "Lax",
            Self::None => "None",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    /// The key ring: the first key signs, the others (older keys) still verify.
    pub secret_keys: Vec<SecretKey>,
    pub throttle: ThrottleConfig,
    pub cookies: CookieConfig,
    pub cors: CorsConfig,
    pub session: SessionConfig,
    pub password: PasswordConfig,
    pub log: LogConfig,
    pub gateway: GatewayConfig,
    /// `None` without a `[mail]` section: password reset and e-mail verification are off.
    pub mail: Option<MailConfig>,
    pub account: AccountConfig,
    pub passkeys: PasskeyConfig,
}

/// Passkeys (WebAuthn): on for one relying party, or off and why.
#[derive(Clone, Debug, PartialEq)]
pub enum PasskeyConfig {
    On(RelyingParty),
    Off(String),
}

/// Who passkeys are made for: the RP ID (a domain the app's pages are on or under) and the
/// exact origins whose pages may run a ceremony.
#[derive(Clone, Debug, PartialEq)]
pub struct RelyingParty {
    pub id: String,
    pub name: String,
    pub origins: Vec<Origin>,
}

/// How mail leaves.
#[derive(Clone)]
pub enum MailTransport {
    /// `smtp://` (STARTTLS when the server offers it, unless `?tls=required`) or `smtps://`.
    Smtp { url: String },
    /// Each mail printed to standard output (development; `gatehouse demo`).
    Console,
}

impl fmt::Debug for MailTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Smtp { url } => write!(f, "Smtp({})", redact_url(url)),
            Self::Console => f.write_str("Console"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct MailConfig {
    pub transport: MailTransport,
    /// The `From` mailbox, e.g. `Gatehouse <no-reply@example.com>`.
    pub from: String,
    /// The app's URL; mailed links are `{link_base}#reset/TOKEN` and
    /// `{link_base}#verify-email/TOKEN`.
    pub link_base: String,
    /// Longest one SMTP delivery may take.
    pub timeout: std::time::Duration,
    /// Further attempts after a failed delivery, the wait doubling from `retry_delay`.
    pub retries: u32,
    pub retry_delay: std::time::Duration,
    /// Mails waiting to be sent; beyond it a new mail is dropped (logged and counted).
    pub queue_capacity: usize,
    /// A folder whose `password_reset.txt`, `password_reset.html`, `email_verification.txt`
    /// and `email_verification.html` replace the built-in templates.
    pub templates_dir: Option<std::path::PathBuf>,
    pub reset_token_ttl: Duration,
    pub verification_token_ttl: Duration,
    /// Whether confirming a reset also logs the browser in.
    pub reset_logs_in: bool,
}

#[derive(Clone, Debug, Default)]
pub struct AccountConfig {
    /// Refuse login (403 `email_unverified`) until the account's e-mail address is verified.
    pub require_verified_email: bool,
}

#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub public_origin: Origin,
    pub api_prefix: String,
    pub max_body_bytes: usize,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `[server.tls]`: serve https with this certificate chain and key (PEM files).
    pub tls: Option<TlsFiles>,
}

#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert_file: std::path::PathBuf,
    pub key_file: std::path::PathBuf,
}

#[derive(Clone)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://…`: users, audit, directory, and (without a
    /// `session_store`) sessions and throttle counters.
    pub url: String,
    pub max_connections: u32,
    /// `redis://…` to keep sessions and throttle counters in Redis; `None` keeps them in `url`.
    pub session_store: Option<String>,
    /// Prefix of every Redis key, so several deployments can share one Redis.
    pub redis_key_prefix: String,
    /// Longest any one store operation may take before it fails as unavailable.
    pub timeout: std::time::Duration,
}

impl DatabaseConfig {
    /// `url` without its credentials, for printing.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }
}

/// `scheme://user:password@host/...` -> `scheme://[redacted]@host/...`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://[redacted]@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// Database and Redis URLs may carry passwords; `Debug` never shows them.
impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field(
                "session_store",
                &self.session_store.as_deref().map(redact_url),
            )
            .field("redis_key_prefix", &self.redis_key_prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[derive(Clone, Debug)]
pub struct CookieConfig {
    pub secure: bool,
    pub same_site: SameSite,
    /// `Partitioned` (CHIPS) on every cookie, for a cross-site app where third-party cookies
    /// are blocked.
    pub partitioned: bool,
    /// A cross-site allowlisted origin without `partitioned`, accepted on purpose.
    pub allow_unpartitioned_cross_site: bool,
}

#[derive(Clone, Debug)]
pub struct CorsConfig {
    pub allowed_origins: Vec<Origin>,
    pub max_age_secs: u64,
    /// Per-path policies, first match wins; unmatched paths are private.
    pub resources: Vec<CorsResource>,
}

/// A path pattern with its own CORS policy (like Rack::Cors `resource` blocks).
#[derive(Clone, Debug, PartialEq)]
pub struct CorsResource {
    /// An exact path, or a prefix ending in `/*` (matching the prefix itself too), relative to
    /// `server.api_prefix`.
    pub path: String,
    /// `true`: any origin, never credentials. `false`: the allowlist.
    pub public: bool,
    pub credentials: bool,
    pub methods: Vec<axum::http::Method>,
}

#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub idle_timeout: Duration,
    pub absolute_lifetime: Duration,
    pub remember_idle_timeout: Duration,
    pub remember_lifetime: Duration,
    pub touch_interval: Duration,
    pub sweep_interval: Duration,
    /// How long a node may answer from its session cache; the bound on how late it sees a
    /// revocation made on another node.
    pub cache_ttl: std::time::Duration,
    /// How recent a login lets setting up a second factor or new recovery codes go without the
    /// password again; zero always asks.
    pub fresh_auth: Duration,
}

/// Failed-login limits, each counted over `window`.
#[derive(Clone, Debug)]
pub struct ThrottleConfig {
    pub window: Duration,
    pub per_account_and_ip: u32,
    pub per_ip: u32,
    pub per_account: u32,
}

#[derive(Clone, Debug)]
pub struct PasswordConfig {
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    pub max_concurrent_hashes: usize,
    /// How long a hashing thread keeps its Argon2 memory without work.
    pub hash_memory_idle_release: std::time::Duration,
}

/// Gatehouse in front of other APIs: proxied routes and their time limits, the identity
/// assertion handed to upstreams.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// Longest prefix first.
    pub routes: Vec<GatewayRoute>,
    /// How long connecting to an upstream may take.
    pub connect_timeout: std::time::Duration,
    /// How long an upstream may take to start its answer.
    pub upstream_timeout: std::time::Duration,
    /// Lifetime of a `Gatehouse-Assertion` (at most 60 s).
    pub assertion_lifetime: Duration,
    /// `iss` of the assertions: `server.public_origin` unless set.
    pub issuer: String,
    /// A folder holding a single-page app (with `index.html`) to serve on this origin.
    pub spa_dir: Option<std::path::PathBuf>,
    /// The `Content-Security-Policy` of the app's pages and files.
    pub spa_csp: String,
}

/// Who may call a gateway route (or a forward-auth check).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Anyone; no session is read and no identity is sent.
    Public,
    /// Any logged-in user.
    User,
    /// Admins only.
    Admin,
}

impl Access {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "public" => Some(Self::Public),
            "user" => Some(Self::User),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// One `[[gateway.routes]]` entry.
#[derive(Clone, Debug)]
pub struct GatewayRoute {
    /// A path prefix ending in `/` (matches the prefix and everything below it) or an exact path.
    pub prefix: String,
    /// `http://host:port[/base]`: where matching requests go.
    pub upstream: axum::http::Uri,
    pub access: Access,
    /// Remove `prefix` from the path before appending it to the upstream's base path.
    pub strip_prefix: bool,
    /// `aud` of the assertion: the upstream's origin unless set.
    pub audience: String,
    /// The `Host` the upstream is sent: its host, and its port unless 80 (as hyper's client
    /// writes it, made once here rather than formatted per request).
    pub host: axum::http::HeaderValue,
}

/// [`GatewayRoute::host`] for an upstream URI with an authority.
pub fn upstream_host(upstream: &axum::http::Uri) -> axum::http::HeaderValue {
    let host = upstream.host().unwrap_or_default();
    let text = match upstream.port_u16() {
        Some(port) if port != 80 => format!("{host}:{port}"),
        _ => host.to_owned(),
    };
    // A URI's host and port are visible ASCII, so this is always a header value.
    axum::http::HeaderValue::try_from(text).unwrap_or(axum::http::HeaderValue::from_static(""))
}

impl GatewayRoute {
    /// Whether a normalised path belongs to this route.
    pub fn matches(&self, path: &str) -> bool {
        match self.prefix.strip_suffix('/') {
            Some(base) => path == base || path.starts_with(&self.prefix),
            None => path == self.prefix,
        }
    }
}

#[derive(Clone, Debug)]
pub struct LogConfig {
    pub format: LogFormat,
    pub filter: String,
}

/// Every problem found, each with what to change.
#[derive(Debug)]
pub struct ConfigError(pub Vec<String>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the configuration is not usable:")?;
        for problem in &self.0 {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Argon2id floor: m=19 MiB, t=2, p=1 (OWASP Password Storage Cheat Sheet).
pub const OWASP_ARGON2_MEMORY_KIB: u32 = 19 * 1024;
pub const OWASP_ARGON2_ITERATIONS: u32 = 2;

/// Longest accepted session cache lifetime: a revocation must reach every node quickly.
pub const MAX_CACHE_TTL_MS: u64 = 10_000;

pub const ENV_PREFIX: &str = "GATEHOUSE__";

/// Methods the API uses: the default for private CORS resources and what a resource may list.
pub const API_METHODS: &[axum::http::Method] = &[
    axum::http::Method::GET,
    axum::http::Method::HEAD,
    axum::http::Method::POST,
    axum::http::Method::PUT,
    axum::http::Method::PATCH,
    axum::http::Method::DELETE,
];

impl Config {
    /// Reads `path` (if given) and the process environment.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let text = match path {
            Some(p) => std::fs::read_to_string(p).map_err(|e| {
                ConfigError(vec![format!(
                    "cannot read the config file {}: {e}",
                    p.display()
                )])
            })?,
            None => String::new(),
        };
        Self::from_sources(&text, std::env::vars())
    }

    /// Builds a config in layers, later wins: the defaults (each section's `Default`), the TOML
    /// text, then the `GATEHOUSE__SECTION__KEY` variables. Types come from the config's shape
    /// (serde), never from how a value looks: an all-digit secret key stays a string.
    pub fn from_sources(
        toml_text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let env = EnvVars::collect(env)?;
        let raw: Raw = Figment::new()
            .merge(Toml::string(toml_text))
            .merge(env)
            .extract_lossy()
            .map_err(|e| ConfigError(e.into_iter().map(describe).collect()))?;
        validate(raw)
    }
}

/// One loading error as a line: the key, what is wrong, and where the value came from.
fn describe(e: figment::Error) -> String {
    let source = match e.metadata.as_ref().map(|m| m.name.as_ref()) {
        Some(name) if name.starts_with("TOML") => "the config file".to_owned(),
        Some(name) => name.to_owned(),
        None => "the configuration".to_owned(),
    };
    let key = e.path.join(".");
    let at = if key.is_empty() {
        String::new()
    } else {
        format!("{key}: ")
    };
    format!(
        "{at}{} (in {source}; see gatehouse.example.toml for every key)",
        e.kind
    )
}

/// The `GATEHOUSE__*` variables as a figment provider. `SECTION__KEY=value` sets `[section]
/// key`; every value is a string that serde turns into the key's type (figment's lossy
/// reading: `"8080"` for a number, `"true"` for a flag), except a value that starts with `[`,
/// which is read as a TOML array (`["https://app.example.com"]`).
struct EnvVars(Dict);

impl EnvVars {
    fn collect(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let mut dict = Dict::new();
        let mut problems = Vec::new();
        for (name, text) in vars {
            let Some(path) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let keys: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
            let value = if text.trim_start().starts_with('[') {
                match Figment::from(Toml::string(&format!("v = {text}"))).extract_inner("v") {
                    Ok(value) => value,
                    Err(_) => {
                        problems.push(format!(
                            "{name} is not a valid list: {text:?}; write e.g. [\"https://app.example.com\"]"
                        ));
                        continue;
                    }
                }
            } else {
                Value::from(text)
            };
            if let Err(section) = insert(&mut dict, &keys, value) {
                problems.push(format!("{name}: `{section}` is not a section"));
            }
        }
        if problems.is_empty() {
            Ok(Self(dict))
        } else {
            Err(ConfigError(problems))
        }
    }
}

/// Puts `value` at the path `keys` in `dict`, making sections on the way; `Err(key)` when a
/// key on the way already holds a value that is not a section.
fn insert(dict: &mut Dict, keys: &[String], value: Value) -> Result<(), String> {
    let Some((first, rest)) = keys.split_first() else {
        return Ok(());
    };
    if rest.is_empty() {
        dict.insert(first.clone(), value);
        return Ok(());
    }
    let entry = dict
        .entry(first.clone())
        .or_insert_with(|| Value::from(Dict::new()));
    match entry {
        Value::Dict(_, inner) => insert(inner, rest, value),
        _ => Err(first.clone()),
    }
}

impl Provider for EnvVars {
    fn metadata(&self) -> Metadata {
        Metadata::named("GATEHOUSE__* environment variables")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.0.clone()))
    }
}

#[cfg(test)]
mod tests;
