//! The configuration as written: TOML sections with their defaults (the first layer).

use std::path::PathBuf;

use serde::Deserialize;

use super::*;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct Raw {
    pub(super) server: RawServer,
    pub(super) database: RawDatabase,
    pub(super) security: RawSecurity,
    pub(super) throttle: RawThrottle,
    pub(super) cookies: RawCookies,
    pub(super) cors: RawCors,
    pub(super) session: RawSession,
    pub(super) password: RawPassword,
    pub(super) log: RawLog,
    pub(super) gateway: RawGateway,
    pub(super) mail: Option<RawMail>,
    pub(super) account: RawAccount,
    pub(super) passkeys: RawPasskeys,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawMail {
    pub(super) transport: String,
    pub(super) smtp_url: String,
    pub(super) from: String,
    pub(super) link_base: String,
    pub(super) timeout_ms: u64,
    pub(super) retries: u32,
    pub(super) retry_delay_ms: u64,
    pub(super) queue_capacity: usize,
    pub(super) templates_dir: String,
    pub(super) reset_token_ttl_secs: i64,
    pub(super) verification_token_ttl_secs: i64,
    pub(super) reset_logs_in: bool,
}

impl Default for RawMail {
    fn default() -> Self {
        Self {
            transport: "smtp".into(),
            smtp_url: String::new(),
            from: String::new(),
            link_base: String::new(),
            timeout_ms: 10_000,
            retries: 5,
            retry_delay_ms: 2_000,
            queue_capacity: 1_000,
            templates_dir: String::new(),
            reset_token_ttl_secs: 30 * 60,
            verification_token_ttl_secs: 2 * 24 * 3600,
            reset_logs_in: true,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawPasskeys {
    pub(super) enabled: bool,
    pub(super) rp_id: String,
    pub(super) rp_name: String,
    pub(super) origins: Vec<String>,
}

impl Default for RawPasskeys {
    fn default() -> Self {
        Self {
            enabled: true,
            rp_id: String::new(),
            rp_name: "Gatehouse".into(),
            origins: Vec::new(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawAccount {
    pub(super) require_verified_email: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawServer {
    pub(super) listen: String,
    pub(super) public_origin: String,
    pub(super) api_prefix: String,
    pub(super) max_body_bytes: usize,
    pub(super) trusted_proxies: Vec<String>,
    pub(super) tls: Option<RawTls>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawTls {
    pub(super) cert_file: Option<PathBuf>,
    pub(super) key_file: Option<PathBuf>,
}

impl Default for RawServer {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_origin: "http://localhost:8080".into(),
            api_prefix: String::new(),
            max_body_bytes: 16 * 1024,
            trusted_proxies: Vec::new(),
            tls: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawThrottle {
    pub(super) window_secs: i64,
    pub(super) max_failures_per_account_and_ip: u32,
    pub(super) max_failures_per_ip: u32,
    pub(super) max_failures_per_account: u32,
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
pub(super) struct RawDatabase {
    pub(super) url: String,
    pub(super) max_connections: u32,
    pub(super) session_store: String,
    pub(super) redis_key_prefix: String,
    pub(super) timeout_ms: u64,
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
pub(super) struct RawSecurity {
    pub(super) secret_key: Option<String>,
    pub(super) secret_key_file: Option<PathBuf>,
    pub(super) previous_secret_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawCookies {
    pub(super) secure: bool,
    pub(super) same_site: SameSite,
    pub(super) partitioned: bool,
    pub(super) allow_unpartitioned_cross_site: bool,
}

impl Default for RawCookies {
    fn default() -> Self {
        Self {
            secure: true,
            same_site: SameSite::Lax,
            partitioned: false,
            allow_unpartitioned_cross_site: false,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawCors {
    pub(super) allowed_origins: Vec<String>,
    pub(super) max_age_secs: u64,
    pub(super) resources: Vec<RawCorsResource>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCorsResource {
    pub(super) path: String,
    pub(super) origins: String,
    #[serde(default)]
    pub(super) credentials: Option<bool>,
    #[serde(default)]
    pub(super) methods: Option<Vec<String>>,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawSession {
    pub(super) idle_timeout_secs: i64,
    pub(super) absolute_lifetime_secs: i64,
    pub(super) remember_idle_timeout_secs: i64,
    pub(super) remember_lifetime_secs: i64,
    pub(super) touch_interval_secs: i64,
    pub(super) sweep_interval_secs: i64,
    pub(super) cache_ttl_ms: u64,
    pub(super) fresh_auth_secs: i64,
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
            fresh_auth_secs: 5 * 60,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawPassword {
    pub(super) argon2_memory_kib: u32,
    pub(super) argon2_iterations: u32,
    pub(super) argon2_parallelism: u32,
    pub(super) max_concurrent_hashes: usize,
    pub(super) hash_memory_idle_release_ms: u64,
}

impl Default for RawPassword {
    fn default() -> Self {
        Self {
            argon2_memory_kib: OWASP_ARGON2_MEMORY_KIB,
            argon2_iterations: OWASP_ARGON2_ITERATIONS,
            argon2_parallelism: 1,
            max_concurrent_hashes: 0,
            hash_memory_idle_release_ms: 2000,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawLog {
    pub(super) format: LogFormat,
    pub(super) filter: String,
}

impl Default for RawLog {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "info".into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawGateway {
    pub(super) connect_timeout_ms: u64,
    pub(super) upstream_timeout_ms: u64,
    pub(super) assertion_lifetime_secs: i64,
    pub(super) issuer: String,
    pub(super) spa_dir: String,
    pub(super) spa_csp: String,
    pub(super) routes: Vec<RawGatewayRoute>,
}

impl Default for RawGateway {
    fn default() -> Self {
        Self {
            connect_timeout_ms: 2_000,
            upstream_timeout_ms: 30_000,
            assertion_lifetime_secs: 30,
            issuer: String::new(),
            spa_dir: String::new(),
            spa_csp: DEFAULT_SPA_CSP.into(),
            routes: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGatewayRoute {
    pub(super) prefix: String,
    pub(super) upstream: String,
    #[serde(default = "default_access")]
    pub(super) access: String,
    #[serde(default)]
    pub(super) strip_prefix: bool,
    #[serde(default)]
    pub(super) audience: String,
}

/// Scripts, styles and connections from the app's own origin only; no framing, no plugins.
pub(super) const DEFAULT_SPA_CSP: &str = "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; form-action 'self'";

fn default_access() -> String {
    "user".into()
}
