//! Typed configuration: defaults, then a TOML file, then `GATEHOUSE__SECTION__KEY` environment
//! overrides, validated once at start-up.
//!
//! Combinations that cannot work in a browser (credentials with a wildcard origin, `SameSite=None`
//! without `Secure`, a cross-site app with `SameSite=Lax` cookies, ...) are refused here with a
//! message that says what to change, never discovered at the first request. Every key is
//! documented in `gatehouse.example.toml`.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use time::Duration;

use crate::cors::Origin;

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

// ---- the raw, as-written shape -------------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Raw {
    server: RawServer,
    database: RawDatabase,
    security: RawSecurity,
    throttle: RawThrottle,
    cookies: RawCookies,
    cors: RawCors,
    session: RawSession,
    password: RawPassword,
    log: RawLog,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawServer {
    listen: String,
    public_origin: String,
    api_prefix: String,
    max_body_bytes: usize,
    trusted_proxies: Vec<String>,
}

impl Default for RawServer {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_origin: "http://localhost:8080".into(),
            api_prefix: String::new(),
            max_body_bytes: 16 * 1024,
            trusted_proxies: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawThrottle {
    window_secs: i64,
    max_failures_per_account_and_ip: u32,
    max_failures_per_ip: u32,
    max_failures_per_account: u32,
}

impl Default for RawThrottle {
    fn default() -> Self {
        Self {
            window_secs: 15 * 60,
            max_failures_per_account_and_ip: 10,
            max_failures_per_ip: 100,
            max_failures_per_account: 200,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawDatabase {
    url: String,
    max_connections: u32,
    session_store: String,
    redis_key_prefix: String,
    timeout_ms: u64,
}

impl Default for RawDatabase {
    fn default() -> Self {
        Self {
            url: "sqlite://data/gatehouse.db".into(),
            max_connections: 4,
            session_store: String::new(),
            redis_key_prefix: "gatehouse:".into(),
            timeout_ms: 500,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawSecurity {
    secret_key: Option<String>,
    secret_key_file: Option<PathBuf>,
    previous_secret_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawCookies {
    secure: bool,
    same_site: SameSite,
}

impl Default for RawCookies {
    fn default() -> Self {
        Self {
            secure: true,
            same_site: SameSite::Lax,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawCors {
    allowed_origins: Vec<String>,
    max_age_secs: u64,
    resources: Vec<RawCorsResource>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCorsResource {
    path: String,
    origins: String,
    #[serde(default)]
    credentials: Option<bool>,
    #[serde(default)]
    methods: Option<Vec<String>>,
}

impl Default for RawCors {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            max_age_secs: 600,
            // Seed 004's race results: readable by any origin, without credentials.
            resources: vec![RawCorsResource {
                path: "/race/*".into(),
                origins: "*".into(),
                credentials: Some(false),
                methods: Some(vec!["GET".into(), "HEAD".into(), "POST".into()]),
            }],
        }
    }
}

fn validate_resource(
    n: usize,
    raw: &RawCorsResource,
    problems: &mut Vec<String>,
) -> Option<CorsResource> {
    let at = format!("cors.resources[{n}] (path {:?})", raw.path);
    let before = problems.len();
    let pattern = raw.path.strip_suffix("/*").unwrap_or(&raw.path);
    if !raw.path.starts_with('/')
        || pattern.contains('*')
        || pattern.contains("/..")
        || pattern.contains("/./")
    {
        problems.push(format!(
            "{at}: write an exact path like \"/race/results\" or a prefix like \"/race/*\""
        ));
    }
    let public = match raw.origins.as_str() {
        "*" => true,
        "allowlist" => false,
        other => {
            problems.push(format!("{at}: origins = {other:?}; use \"*\" (any origin, no credentials) or \"allowlist\" (cors.allowed_origins)"));
            false
        }
    };
    let credentials = raw.credentials.unwrap_or(!public);
    // A wildcard origin can never carry credentials (Fetch standard, CORS check step 3).
    if public && credentials {
        problems.push(format!("{at}: origins = \"*\" cannot be combined with credentials = true (browsers refuse it); use origins = \"allowlist\""));
    }
    let methods = match &raw.methods {
        None => crate::cors::ALLOWED_METHODS.to_vec(),
        Some(list) => list
            .iter()
            .filter_map(|m| {
                let found = crate::cors::ALLOWED_METHODS
                    .iter()
                    .find(|a| a.as_str() == m.as_str());
                if found.is_none() {
                    problems.push(format!(
                        "{at}: method {m:?} is not one of GET, HEAD, POST, PUT, PATCH, DELETE"
                    ));
                }
                found.cloned()
            })
            .collect(),
    };
    (problems.len() == before).then(|| CorsResource {
        path: raw.path.clone(),
        public,
        credentials,
        methods,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawSession {
    idle_timeout_secs: i64,
    absolute_lifetime_secs: i64,
    remember_idle_timeout_secs: i64,
    remember_lifetime_secs: i64,
    touch_interval_secs: i64,
    sweep_interval_secs: i64,
    cache_ttl_ms: u64,
}

impl Default for RawSession {
    fn default() -> Self {
        Self {
            idle_timeout_secs: 30 * 60,
            absolute_lifetime_secs: 12 * 3600,
            remember_idle_timeout_secs: 14 * 86400,
            remember_lifetime_secs: 30 * 86400,
            touch_interval_secs: 60,
            sweep_interval_secs: 300,
            cache_ttl_ms: 1000,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawPassword {
    argon2_memory_kib: u32,
    argon2_iterations: u32,
    argon2_parallelism: u32,
    max_concurrent_hashes: usize,
}

impl Default for RawPassword {
    fn default() -> Self {
        Self {
            argon2_memory_kib: OWASP_ARGON2_MEMORY_KIB,
            argon2_iterations: OWASP_ARGON2_ITERATIONS,
            argon2_parallelism: 1,
            max_concurrent_hashes: 0,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLog {
    format: LogFormat,
    filter: String,
}

impl Default for RawLog {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "info".into(),
        }
    }
}

/// Argon2id floor: m=19 MiB, t=2, p=1 (OWASP Password Storage Cheat Sheet).
pub const OWASP_ARGON2_MEMORY_KIB: u32 = 19 * 1024;
pub const OWASP_ARGON2_ITERATIONS: u32 = 2;

/// Longest accepted session cache lifetime: a revocation must reach every node quickly.
pub const MAX_CACHE_TTL_MS: u64 = 10_000;

pub const ENV_PREFIX: &str = "GATEHOUSE__";

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

fn validate(raw: Raw) -> Result<Config, ConfigError> {
    let mut problems = Vec::new();

    let listen = raw.server.listen.parse::<SocketAddr>().unwrap_or_else(|_| {
        problems.push(format!(
            "server.listen = {:?} is not an address; write ip:port, e.g. \"127.0.0.1:8080\"",
            raw.server.listen
        ));
        SocketAddr::from(([127, 0, 0, 1], 8080))
    });
    let public_origin = Origin::parse(&raw.server.public_origin)
        .map_err(|e| problems.push(format!("server.public_origin: {e}")))
        .ok();
    let prefix = raw.server.api_prefix.clone();
    if !prefix.is_empty()
        && (!prefix.starts_with('/')
            || prefix.ends_with('/')
            || !prefix[1..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_/".contains(c)))
    {
        problems.push(format!(
            "server.api_prefix = {prefix:?}: use \"\" or a path like \"/api\" (leading slash, no trailing slash)"
        ));
    }
    if raw.server.max_body_bytes < 1024 {
        problems.push("server.max_body_bytes must be at least 1024".into());
    }

    let db = &raw.database;
    if !["sqlite:", "postgres://", "postgresql://"]
        .iter()
        .any(|scheme| db.url.starts_with(scheme))
    {
        problems.push(format!(
            "database.url = {:?}: write sqlite://PATH (e.g. \"sqlite://data/gatehouse.db\") or postgres://USER:PASSWORD@HOST:PORT/DATABASE",
            db.url
        ));
    }
    if db.session_store.starts_with("rediss://") {
        problems.push("database.session_store: this build has no TLS client for Redis (rediss://); reach Redis over a private network or a TLS tunnel with redis://".into());
    } else if !db.session_store.is_empty() && !db.session_store.starts_with("redis://") {
        problems.push(format!(
            "database.session_store = {:?}: write redis://[:PASSWORD@]HOST:PORT[/DB], or \"\" to keep sessions in database.url",
            db.session_store
        ));
    }
    if !(10..=30_000).contains(&db.timeout_ms) {
        problems.push(format!(
            "database.timeout_ms = {}: use a value between 10 and 30000 (default 500); requests wait this long for a store before answering 503 store_unavailable",
            db.timeout_ms
        ));
    }
    if raw.database.max_connections == 0 {
        problems.push("database.max_connections must be at least 1".into());
    }

    let key_texts: Vec<String> = match (&raw.security.secret_key, &raw.security.secret_key_file) {
        (Some(_), Some(_)) => {
            problems.push("set security.secret_key or security.secret_key_file, not both".into());
            Vec::new()
        }
        (Some(k), None) => std::iter::once(k.clone())
            .chain(raw.security.previous_secret_keys.iter().cloned())
            .collect(),
        // One key per line: the first signs, the others are older keys still accepted.
        (None, Some(file)) => match std::fs::read_to_string(file) {
            Ok(text) => text
                .lines()
                .map(|l| l.trim_end_matches('\r').to_owned())
                .filter(|l| !l.is_empty())
                .chain(raw.security.previous_secret_keys.iter().cloned())
                .collect(),
            Err(e) => {
                problems.push(format!(
                    "security.secret_key_file: cannot read {}: {e}",
                    file.display()
                ));
                Vec::new()
            }
        },
        (None, None) => {
            if !raw.security.previous_secret_keys.is_empty() {
                problems.push(
                    "security.previous_secret_keys needs a current security.secret_key".into(),
                );
            }
            Vec::new()
        }
    };
    if key_texts.is_empty()
        && raw.security.secret_key_file.is_none()
        && raw.security.secret_key.is_none()
    {
        problems.push(format!(
            "no secret key: set {ENV_PREFIX}SECURITY__SECRET_KEY or security.secret_key_file to at least {} random bytes, e.g. `openssl rand -base64 48`",
            SecretKey::MIN_BYTES
        ));
    } else if key_texts.is_empty() && raw.security.secret_key_file.is_some() {
        problems.push("security.secret_key_file holds no key".into());
    }
    if key_texts.iter().any(|k| k.len() < SecretKey::MIN_BYTES) {
        problems.push(format!(
            "security.secret_key is too short: use at least {} bytes, e.g. the output of `openssl rand -base64 48` (previous keys too)",
            SecretKey::MIN_BYTES
        ));
    }
    let secret_keys: Vec<SecretKey> = key_texts
        .into_iter()
        .map(|k| SecretKey(k.into_bytes()))
        .collect();

    let mut trusted_proxies = Vec::new();
    for text in &raw.server.trusted_proxies {
        let parsed = text
            .parse::<ipnet::IpNet>()
            .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
        match parsed {
            Ok(net) => trusted_proxies.push(net),
            Err(_) => problems.push(format!(
                "server.trusted_proxies: {text:?} is not an IP address or CIDR range (e.g. \"10.0.0.0/8\")"
            )),
        }
    }

    let t = &raw.throttle;
    if t.window_secs <= 0
        || t.max_failures_per_account_and_ip == 0
        || t.max_failures_per_ip == 0
        || t.max_failures_per_account == 0
    {
        problems.push("throttle.*: the window and every limit must be positive".into());
    }
    if t.max_failures_per_account <= t.max_failures_per_account_and_ip {
        problems.push("throttle.max_failures_per_account must be above max_failures_per_account_and_ip, or one network could lock an account for everyone".into());
    }
    let throttle = ThrottleConfig {
        window: Duration::seconds(t.window_secs.max(1)),
        per_account_and_ip: t.max_failures_per_account_and_ip,
        per_ip: t.max_failures_per_ip,
        per_account: t.max_failures_per_account,
    };

    let cookies = CookieConfig {
        secure: raw.cookies.secure,
        same_site: raw.cookies.same_site,
    };
    // SameSite=None cookies without Secure are rejected by browsers (RFC 6265bis §4.1.2.7).
    if cookies.same_site == SameSite::None && !cookies.secure {
        problems.push("cookies.same_site = \"none\" requires cookies.secure = true (browsers drop SameSite=None cookies without Secure)".into());
    }
    if let Some(origin) = &public_origin {
        if !cookies.secure && (!origin.is_loopback() || origin.is_https()) {
            problems.push(format!(
                "cookies.secure = false is a development setting for http://localhost only, but server.public_origin is {origin}; serve over https and set cookies.secure = true"
            ));
        }
        if cookies.secure && !origin.is_https() && !origin.is_loopback() {
            problems.push(format!(
                "server.public_origin {origin} is plain http: browsers will not store Secure cookies there; serve the API over https"
            ));
        }
    }

    let mut allowed_origins = Vec::new();
    for text in &raw.cors.allowed_origins {
        match Origin::parse(text) {
            Ok(origin) => allowed_origins.push(origin),
            Err(e) => problems.push(format!("cors.allowed_origins: {e}")),
        }
    }
    if let Some(api) = &public_origin {
        for origin in &allowed_origins {
            // Cross-site requests carry only SameSite=None cookies (RFC 6265bis §5.8.3).
            if origin.site() != api.site() && cookies.same_site != SameSite::None {
                problems.push(format!(
                    "cors.allowed_origins: {origin} is cross-site to the API ({api}), so browsers will not send {} cookies to it; host the app on the API's site, or set cookies.same_site = \"none\" with cookies.secure = true (works only where third-party cookies are allowed)",
                    cookies.same_site.as_str()
                ));
            }
            if api.is_https() && !origin.is_https() {
                problems.push(format!(
                    "cors.allowed_origins: {origin} is plain http while the API is https; a network attacker could act as that origin; allowlist its https form"
                ));
            }
        }
    }
    let resources: Vec<CorsResource> = raw
        .cors
        .resources
        .iter()
        .enumerate()
        .filter_map(|(n, r)| validate_resource(n, r, &mut problems))
        .collect();
    if raw.cors.max_age_secs > 86400 {
        problems
            .push("cors.max_age_secs must be at most 86400 (browsers cap it lower anyway)".into());
    }

    let s = &raw.session;
    let secs = |name: &str, v: i64, problems: &mut Vec<String>| {
        if v <= 0 {
            problems.push(format!(
                "session.{name} must be a positive number of seconds"
            ));
        }
        Duration::seconds(v.max(1))
    };
    let session = SessionConfig {
        idle_timeout: secs("idle_timeout_secs", s.idle_timeout_secs, &mut problems),
        absolute_lifetime: secs(
            "absolute_lifetime_secs",
            s.absolute_lifetime_secs,
            &mut problems,
        ),
        remember_idle_timeout: secs(
            "remember_idle_timeout_secs",
            s.remember_idle_timeout_secs,
            &mut problems,
        ),
        remember_lifetime: secs(
            "remember_lifetime_secs",
            s.remember_lifetime_secs,
            &mut problems,
        ),
        touch_interval: secs("touch_interval_secs", s.touch_interval_secs, &mut problems),
        sweep_interval: secs("sweep_interval_secs", s.sweep_interval_secs, &mut problems),
        cache_ttl: std::time::Duration::from_millis(s.cache_ttl_ms),
    };
    if s.cache_ttl_ms > MAX_CACHE_TTL_MS {
        problems.push(format!(
            "session.cache_ttl_ms is {}: other nodes would see a revoked session for that long; use at most {MAX_CACHE_TTL_MS} (default 1000, 0 turns the cache off)",
            s.cache_ttl_ms
        ));
    }
    if session.idle_timeout > session.absolute_lifetime {
        problems.push(
            "session.idle_timeout_secs must not exceed session.absolute_lifetime_secs".into(),
        );
    }
    if session.remember_idle_timeout > session.remember_lifetime {
        problems.push(
            "session.remember_idle_timeout_secs must not exceed session.remember_lifetime_secs"
                .into(),
        );
    }
    if session.touch_interval >= session.idle_timeout {
        problems.push(
            "session.touch_interval_secs must be shorter than session.idle_timeout_secs".into(),
        );
    }

    let p = &raw.password;
    if p.argon2_memory_kib < OWASP_ARGON2_MEMORY_KIB
        || p.argon2_iterations < OWASP_ARGON2_ITERATIONS
        || p.argon2_parallelism == 0
    {
        problems.push(format!(
            "password.argon2_*: the OWASP floor is memory {OWASP_ARGON2_MEMORY_KIB} KiB, 2 iterations, parallelism 1; raise, never lower"
        ));
    }
    let password = PasswordConfig {
        argon2_memory_kib: p.argon2_memory_kib,
        argon2_iterations: p.argon2_iterations,
        argon2_parallelism: p.argon2_parallelism.max(1),
        max_concurrent_hashes: if p.max_concurrent_hashes == 0 {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            p.max_concurrent_hashes
        },
    };

    match (problems.is_empty(), public_origin) {
        (true, Some(public_origin)) => Ok(Config {
            server: ServerConfig {
                listen,
                public_origin,
                api_prefix: prefix,
                max_body_bytes: raw.server.max_body_bytes,
                trusted_proxies,
            },
            database: DatabaseConfig {
                url: raw.database.url,
                max_connections: raw.database.max_connections,
                session_store: Some(raw.database.session_store).filter(|s| !s.is_empty()),
                redis_key_prefix: raw.database.redis_key_prefix,
                timeout: std::time::Duration::from_millis(raw.database.timeout_ms),
            },
            secret_keys,
            throttle,
            cookies,
            cors: CorsConfig {
                allowed_origins,
                max_age_secs: raw.cors.max_age_secs,
                resources,
            },
            session,
            password,
            log: LogConfig {
                format: raw.log.format,
                filter: raw.log.filter,
            },
        }),
        _ => Err(ConfigError(problems)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn problems(toml: &str, vars: &[(&str, &str)]) -> String {
        Config::from_sources(toml, env(vars))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn the_example_config_names_every_key_and_is_valid() {
        let text = include_str!("../gatehouse.example.toml");
        Config::from_sources(text, env(&[("GATEHOUSE__SECURITY__SECRET_KEY", KEY)])).unwrap();
        let table: toml::Table = toml::from_str(text).unwrap();
        let keys = |section: &str| table[section].as_table().unwrap().len();
        assert_eq!(keys("server"), 5);
        assert_eq!(keys("database"), 5);
        assert_eq!(keys("session"), 7);
        assert_eq!(keys("throttle"), 4);
        assert_eq!(keys("password"), 4);
        for key in ["secret_key", "secret_key_file", "previous_secret_keys"] {
            assert!(text.contains(&format!("# {key} = ")), "{key} is documented");
        }
    }

    #[test]
    fn a_session_cache_that_would_hide_revocations_for_long_is_refused() {
        let key = ("GATEHOUSE__SECURITY__SECRET_KEY", KEY);
        let too_long = problems("[session]\ncache_ttl_ms = 60000\n", &[key]);
        assert!(too_long.contains("session.cache_ttl_ms"), "{too_long}");
        let off = Config::from_sources("[session]\ncache_ttl_ms = 0\n", env(&[key])).unwrap();
        assert!(off.session.cache_ttl.is_zero());
    }

    #[test]
    fn a_missing_secret_key_is_refused_with_the_fix() {
        assert!(problems("", &[]).contains("openssl rand"));
    }

    #[test]
    fn a_short_secret_key_is_refused() {
        assert!(
            problems("", &[("GATEHOUSE__SECURITY__SECRET_KEY", "short")]).contains("too short")
        );
    }

    #[test]
    fn environment_overrides_the_file() {
        let config = Config::from_sources(
            "[server]\nmax_body_bytes = 2048\n",
            env(&[
                ("GATEHOUSE__SECURITY__SECRET_KEY", KEY),
                ("GATEHOUSE__SERVER__MAX_BODY_BYTES", "4096"),
                (
                    "GATEHOUSE__CORS__ALLOWED_ORIGINS",
                    "[\"http://localhost:8081\"]",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(config.server.max_body_bytes, 4096);
        assert_eq!(
            config.cors.allowed_origins[0].as_str(),
            "http://localhost:8081"
        );
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let config =
            Config::from_sources("", env(&[("GATEHOUSE__SECURITY__SECRET_KEY", KEY)])).unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains(KEY));
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn wildcard_and_null_origins_are_refused() {
        let text = problems(
            "[cors]\nallowed_origins = [\"*\", \"null\"]\n",
            &[("GATEHOUSE__SECURITY__SECRET_KEY", KEY)],
        );
        assert!(text.contains("wildcard"));
        assert!(text.contains("\"null\" cannot be allowlisted"));
    }

    #[test]
    fn a_public_resource_with_credentials_is_refused() {
        let toml = "[[cors.resources]]\npath = \"/race/*\"\norigins = \"*\"\ncredentials = true\n";
        assert!(
            problems(toml, &[("GATEHOUSE__SECURITY__SECRET_KEY", KEY)])
                .contains("cannot be combined with credentials")
        );
        let toml = "[[cors.resources]]\npath = \"/race/*/x\"\norigins = \"everyone\"\nmethods = [\"TRACE\"]\n";
        let text = problems(toml, &[("GATEHOUSE__SECURITY__SECRET_KEY", KEY)]);
        assert!(
            text.contains("exact path") && text.contains("\"allowlist\"") && text.contains("TRACE"),
            "{text}"
        );
    }

    #[test]
    fn same_site_none_without_secure_is_refused() {
        let text = problems(
            "[cookies]\nsecure = false\nsame_site = \"none\"\n",
            &[("GATEHOUSE__SECURITY__SECRET_KEY", KEY)],
        );
        assert!(text.contains("requires cookies.secure = true"));
    }

    #[test]
    fn a_cross_site_origin_with_lax_cookies_is_refused() {
        let toml = "[server]\npublic_origin = \"https://api.example.com\"\n[cors]\nallowed_origins = [\"https://app.other.net\"]\n";
        assert!(problems(toml, &[("GATEHOUSE__SECURITY__SECRET_KEY", KEY)]).contains("cross-site"));
        let same_site = "[server]\npublic_origin = \"https://api.example.com\"\n[cors]\nallowed_origins = [\"https://app.example.com\"]\n";
        assert!(
            Config::from_sources(same_site, env(&[("GATEHOUSE__SECURITY__SECRET_KEY", KEY)]))
                .is_ok()
        );
    }

    #[test]
    fn insecure_cookies_are_only_for_localhost() {
        let toml =
            "[server]\npublic_origin = \"http://api.example.com\"\n[cookies]\nsecure = false\n";
        assert!(
            problems(toml, &[("GATEHOUSE__SECURITY__SECRET_KEY", KEY)])
                .contains("development setting")
        );
    }

    #[test]
    fn unknown_keys_are_named() {
        assert!(
            problems(
                "[server]\nlisten_port = 1\n",
                &[("GATEHOUSE__SECURITY__SECRET_KEY", KEY)]
            )
            .contains("listen_port")
        );
    }

    #[test]
    fn store_passwords_never_appear_in_debug_output() {
        let config = Config::from_sources(
            "[database]\nurl = \"postgres://gh:pg-secret@db/gh\"\nsession_store = \"redis://:redis-secret@cache/0\"\n",
            env(&[("GATEHOUSE__SECURITY__SECRET_KEY", KEY)]),
        )
        .unwrap();
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("pg-secret") && !shown.contains("redis-secret"),
            "{shown}"
        );
        assert!(shown.contains("postgres://[redacted]@db/gh"), "{shown}");
    }

    #[test]
    fn unknown_store_schemes_are_refused_with_the_fix() {
        let text = problems(
            "[database]\nurl = \"mysql://db/x\"\nsession_store = \"memcached://m\"\ntimeout_ms = 0\n",
            &[("GATEHOUSE__SECURITY__SECRET_KEY", KEY)],
        );
        assert!(text.contains("postgres://USER"), "{text}");
        assert!(text.contains("redis://[:PASSWORD@]HOST:PORT"), "{text}");
        assert!(text.contains("between 10 and 30000"), "{text}");
        let config = Config::from_sources(
            "[database]\nurl = \"postgres://gh@db/gh\"\nsession_store = \"redis://cache:6379/0\"\n",
            env(&[("GATEHOUSE__SECURITY__SECRET_KEY", KEY)]),
        )
        .unwrap();
        assert_eq!(
            config.database.session_store.as_deref(),
            Some("redis://cache:6379/0")
        );
        let text = problems(
            "[database]\nsession_store = \"rediss://cache:6380/0\"\n",
            &[("GATEHOUSE__SECURITY__SECRET_KEY", KEY)],
        );
        assert!(text.contains("no TLS client for Redis"), "{text}");
    }

    #[test]
    fn argon2_parameters_below_the_owasp_floor_are_refused() {
        assert!(
            problems(
                "[password]\nargon2_memory_kib = 1024\n",
                &[("GATEHOUSE__SECURITY__SECRET_KEY", KEY)]
            )
            .contains("OWASP floor")
        );
    }
}
