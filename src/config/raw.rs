//! The configuration as written (TOML sections with their defaults) and its validation into
//! the typed [`Config`], with a fix-it message for every combination that cannot work.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;
use time::Duration;

use super::*;
use crate::origin::Origin;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct Raw {
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
        None => API_METHODS.to_vec(),
        Some(list) => list
            .iter()
            .filter_map(|m| {
                let found = API_METHODS.iter().find(|a| a.as_str() == m.as_str());
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
pub(super) fn validate(raw: Raw) -> Result<Config, ConfigError> {
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
