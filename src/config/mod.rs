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

use serde::Deserialize;
use time::Duration;

use crate::origin::Origin;

mod raw;

use raw::{Raw, validate};

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
}

#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub public_origin: Origin,
    pub api_prefix: String,
    pub max_body_bytes: usize,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
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
fn redact_url(url: &str) -> String {
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

    /// Builds a config from TOML text and `GATEHOUSE__*` variables (later wins).
    pub fn from_sources(
        toml_text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table: toml::Table = toml::from_str(toml_text)
            .map_err(|e| ConfigError(vec![format!("the config file is not valid TOML: {e}")]))?;
        for (name, value) in env {
            if let Some(path) = name.strip_prefix(ENV_PREFIX) {
                apply_env(&mut table, path, &value)?;
            }
        }
        let raw: Raw = toml::Value::Table(table).try_into().map_err(|e| {
            ConfigError(vec![format!(
                "{e} (see gatehouse.example.toml for every key)"
            )])
        })?;
        validate(raw)
    }
}

/// `SECTION__KEY=value` -> `[section] key = value`. Values that read as TOML booleans, numbers
/// or arrays are taken as such; anything else is a string.
fn apply_env(table: &mut toml::Table, path: &str, value: &str) -> Result<(), ConfigError> {
    let keys: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
    let Some((last, sections)) = keys.split_last() else {
        return Ok(());
    };
    let looks_typed = value == "true"
        || value == "false"
        || value.starts_with('[')
        || (!value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()));
    let parsed = if looks_typed {
        toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .ok_or_else(|| {
                ConfigError(vec![format!(
                    "{ENV_PREFIX}{path} is not a valid value: {value:?}"
                )])
            })?
    } else {
        toml::Value::String(value.to_owned())
    };
    let mut here = table;
    for section in sections {
        let entry = here
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        here = entry.as_table_mut().ok_or_else(|| {
            ConfigError(vec![format!(
                "{ENV_PREFIX}{path}: `{section}` is not a section"
            )])
        })?;
    }
    here.insert(last.clone(), parsed);
    Ok(())
}

#[cfg(test)]
mod tests;
