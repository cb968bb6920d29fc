//! From the configuration as written to the typed [`Config`], one function per section, each
//! adding a fix-it message for every value or combination that cannot work.

use std::net::SocketAddr;

use time::Duration;

use super::raw::*;
use super::topology::{self, Level};
use super::*;
use crate::origin::Origin;

pub(super) type Problems = Vec<String>;

pub(super) fn validate(raw: Raw) -> Result<Config, ConfigError> {
    let mut problems = Problems::new();
    let server = server(&raw.server, &mut problems);
    let database = database(raw.database, &mut problems);
    let secret_keys = secret_keys(&raw.security, &mut problems);
    let throttle = throttle(&raw.throttle, &mut problems);
    let cookies = CookieConfig {
        secure: raw.cookies.secure,
        same_site: raw.cookies.same_site,
        partitioned: raw.cookies.partitioned,
        allow_unpartitioned_cross_site: raw.cookies.allow_unpartitioned_cross_site,
    };
    let cors = cors(&raw.cors, &mut problems);
    if let Some(server) = &server {
        cookies_for(&cookies, &server.public_origin, &mut problems);
        origins_for(&cors, &cookies, &server.public_origin, &mut problems);
    }
    let session = session(&raw.session, &mut problems);
    let password = password(&raw.password, &mut problems);
    let gateway = server
        .as_ref()
        .map(|server| gateway(&raw.gateway, server, &mut problems));
    let mail = match (&raw.mail, &server) {
        (Some(m), Some(server)) => mail(m, server, &cors, &mut problems),
        _ => None,
    };
    // Without mail no address can be verified, so nobody could ever log in.
    if raw.account.require_verified_email && raw.mail.is_none() {
        problems.push("account.require_verified_email = true needs a [mail] section (verification links are mailed); add one, or set it to false".into());
    }
    let passkeys = server
        .as_ref()
        .map(|server| super::passkeys::validate(&raw.passkeys, server, &cors, &mut problems));
    match (problems.is_empty(), server, gateway, passkeys) {
        (true, Some(server), Some(gateway), Some(passkeys)) => Ok(Config {
            server,
            database,
            secret_keys,
            throttle,
            cookies,
            cors,
            session,
            password,
            log: LogConfig {
                format: raw.log.format,
                filter: raw.log.filter,
            },
            gateway,
            mail,
            account: AccountConfig {
                require_verified_email: raw.account.require_verified_email,
            },
            passkeys,
        }),
        _ => Err(ConfigError(problems)),
    }
}

/// `None` when the public origin is unusable (everything that depends on it is skipped).
fn server(raw: &RawServer, problems: &mut Problems) -> Option<ServerConfig> {
    let listen = raw.listen.parse::<SocketAddr>().unwrap_or_else(|_| {
        problems.push(format!(
            "server.listen = {:?} is not an address; write ip:port, e.g. \"127.0.0.1:8080\"",
            raw.listen
        ));
        SocketAddr::from(([127, 0, 0, 1], 8080))
    });
    let public_origin = Origin::parse(&raw.public_origin)
        .map_err(|e| problems.push(format!("server.public_origin: {e}")))
        .ok();
    let prefix = raw.api_prefix.clone();
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
    if raw.max_body_bytes < 1024 {
        problems.push("server.max_body_bytes must be at least 1024".into());
    }
    let mut trusted_proxies = Vec::new();
    for text in &raw.trusted_proxies {
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
    let tls = match raw.tls.as_ref().map(|t| (&t.cert_file, &t.key_file)) {
        None => None,
        Some((Some(cert_file), Some(key_file))) => Some(TlsFiles {
            cert_file: cert_file.clone(),
            key_file: key_file.clone(),
        }),
        Some(_) => {
            problems.push("[server.tls] needs both cert_file (the PEM certificate chain, leaf first) and key_file (its PEM private key); remove the section to serve plain http".into());
            None
        }
    };
    if let (Some(_), Some(origin)) = (&tls, &public_origin)
        && !origin.is_https()
    {
        problems.push(format!(
            "[server.tls] makes Gatehouse serve https, but server.public_origin is {origin}; write it as https://…"
        ));
    }
    Some(ServerConfig {
        listen,
        tls,
        public_origin: public_origin?,
        api_prefix: prefix,
        max_body_bytes: raw.max_body_bytes,
        trusted_proxies,
    })
}

fn database(raw: RawDatabase, problems: &mut Problems) -> DatabaseConfig {
    if !["sqlite:", "postgres://", "postgresql://"]
        .iter()
        .any(|scheme| raw.url.starts_with(scheme))
    {
        problems.push(format!(
            "database.url = {:?}: write sqlite://PATH (e.g. \"sqlite://data/gatehouse.db\") or postgres://USER:PASSWORD@HOST:PORT/DATABASE",
            raw.url
        ));
    }
    if raw.session_store.starts_with("rediss://") {
        problems.push("database.session_store: this build has no TLS client for Redis (rediss://); reach Redis over a private network or a TLS tunnel with redis://".into());
    } else if !raw.session_store.is_empty() && !raw.session_store.starts_with("redis://") {
        problems.push(format!(
            "database.session_store = {:?}: write redis://[:PASSWORD@]HOST:PORT[/DB], or \"\" to keep sessions in database.url",
            raw.session_store
        ));
    }
    if !(10..=30_000).contains(&raw.timeout_ms) {
        problems.push(format!(
            "database.timeout_ms = {}: use a value between 10 and 30000 (default 500); requests wait this long for a store before answering 503 store_unavailable",
            raw.timeout_ms
        ));
    }
    if raw.max_connections == 0 {
        problems.push("database.max_connections must be at least 1".into());
    }
    DatabaseConfig {
        url: raw.url,
        max_connections: raw.max_connections,
        session_store: Some(raw.session_store).filter(|s| !s.is_empty()),
        redis_key_prefix: raw.redis_key_prefix,
        timeout: std::time::Duration::from_millis(raw.timeout_ms),
    }
}

/// The key ring: the current key first, then the older ones that still verify.
fn secret_keys(raw: &RawSecurity, problems: &mut Problems) -> Vec<SecretKey> {
    let key_texts: Vec<String> = match (&raw.secret_key, &raw.secret_key_file) {
        (Some(_), Some(_)) => {
            problems.push("set security.secret_key or security.secret_key_file, not both".into());
            Vec::new()
        }
        (Some(k), None) => std::iter::once(k.clone())
            .chain(raw.previous_secret_keys.iter().cloned())
            .collect(),
        // One key per line: the first signs, the others are older keys still accepted.
        (None, Some(file)) => match std::fs::read_to_string(file) {
            Ok(text) => text
                .lines()
                .map(|l| l.trim_end_matches('\r').to_owned())
                .filter(|l| !l.is_empty())
                .chain(raw.previous_secret_keys.iter().cloned())
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
            if !raw.previous_secret_keys.is_empty() {
                problems.push(
                    "security.previous_secret_keys needs a current security.secret_key".into(),
                );
            }
            Vec::new()
        }
    };
    if key_texts.is_empty() && raw.secret_key_file.is_none() && raw.secret_key.is_none() {
        problems.push(format!(
            "no secret key: set {ENV_PREFIX}SECURITY__SECRET_KEY or security.secret_key_file to at least {} random bytes, e.g. `openssl rand -base64 48`",
            SecretKey::MIN_BYTES
        ));
    } else if key_texts.is_empty() && raw.secret_key_file.is_some() {
        problems.push("security.secret_key_file holds no key".into());
    }
    if key_texts.iter().any(|k| k.len() < SecretKey::MIN_BYTES) {
        problems.push(format!(
            "security.secret_key is too short: use at least {} bytes, e.g. the output of `openssl rand -base64 48` (previous keys too)",
            SecretKey::MIN_BYTES
        ));
    }
    key_texts
        .into_iter()
        .map(|k| SecretKey(k.into_bytes()))
        .collect()
}

fn throttle(t: &RawThrottle, problems: &mut Problems) -> ThrottleConfig {
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
    ThrottleConfig {
        window: Duration::seconds(t.window_secs.max(1)),
        per_account_and_ip: t.max_failures_per_account_and_ip,
        per_ip: t.max_failures_per_ip,
        per_account: t.max_failures_per_account,
    }
}

/// Cookie attributes against the API's own origin.
fn cookies_for(cookies: &CookieConfig, api: &Origin, problems: &mut Problems) {
    // SameSite=None cookies without Secure are rejected by browsers (RFC 6265bis §4.1.2.7).
    if cookies.same_site == SameSite::None && !cookies.secure {
        problems.push("cookies.same_site = \"none\" requires cookies.secure = true (browsers drop SameSite=None cookies without Secure)".into());
    }
    if !cookies.secure && (!api.is_loopback() || api.is_https()) {
        problems.push(format!(
            "cookies.secure = false is a development setting for http://localhost only, but server.public_origin is {api}; serve over https and set cookies.secure = true"
        ));
    }
    // Partitioned cookies must be Secure (CHIPS draft §2.1).
    if cookies.partitioned && !cookies.secure {
        problems.push("cookies.partitioned = true requires cookies.secure = true (browsers refuse a Partitioned cookie without Secure); partitioning is for a cross-site app over https".into());
    }
    if cookies.secure && !api.is_https() && !api.is_loopback() {
        problems.push(format!(
            "server.public_origin {api} is plain http: browsers will not store Secure cookies there; serve the API over https"
        ));
    }
}

fn cors(raw: &RawCors, problems: &mut Problems) -> CorsConfig {
    let mut allowed_origins = Vec::new();
    for text in &raw.allowed_origins {
        match Origin::parse(text) {
            Ok(origin) => allowed_origins.push(origin),
            Err(e) => problems.push(format!("cors.allowed_origins: {e}")),
        }
    }
    let resources: Vec<CorsResource> = raw
        .resources
        .iter()
        .enumerate()
        .filter_map(|(n, r)| cors_resource(n, r, problems))
        .collect();
    if raw.max_age_secs > 86400 {
        problems
            .push("cors.max_age_secs must be at most 86400 (browsers cap it lower anyway)".into());
    }
    CorsConfig {
        allowed_origins,
        max_age_secs: raw.max_age_secs,
        resources,
    }
}

/// Each allowlisted origin against the API's origin and the cookie attributes
/// ([`topology::Verdict::refused`]).
fn origins_for(cors: &CorsConfig, cookies: &CookieConfig, api: &Origin, problems: &mut Problems) {
    for origin in &cors.allowed_origins {
        let verdict = topology::analyse(origin, api, cookies);
        for finding in verdict.refused(cookies) {
            let opt_out = if finding.level == Level::Limited {
                " (or, knowing that, set cookies.allow_unpartitioned_cross_site = true)"
            } else {
                ""
            };
            problems.push(format!(
                "cors.allowed_origins: {origin} is {} to the API ({api}): {}; fix: {}{opt_out}",
                verdict.relation, finding.what, finding.fix
            ));
        }
    }
}

fn cors_resource(n: usize, raw: &RawCorsResource, problems: &mut Problems) -> Option<CorsResource> {
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

fn session(s: &RawSession, problems: &mut Problems) -> SessionConfig {
    let secs = |name: &str, v: i64, problems: &mut Vec<String>| {
        if v <= 0 {
            problems.push(format!(
                "session.{name} must be a positive number of seconds"
            ));
        }
        Duration::seconds(v.max(1))
    };
    let session = SessionConfig {
        idle_timeout: secs("idle_timeout_secs", s.idle_timeout_secs, problems),
        absolute_lifetime: secs("absolute_lifetime_secs", s.absolute_lifetime_secs, problems),
        remember_idle_timeout: secs(
            "remember_idle_timeout_secs",
            s.remember_idle_timeout_secs,
            problems,
        ),
        remember_lifetime: secs("remember_lifetime_secs", s.remember_lifetime_secs, problems),
        touch_interval: secs("touch_interval_secs", s.touch_interval_secs, problems),
        sweep_interval: secs("sweep_interval_secs", s.sweep_interval_secs, problems),
        cache_ttl: std::time::Duration::from_millis(s.cache_ttl_ms),
        fresh_auth: Duration::seconds(s.fresh_auth_secs.clamp(0, 3600)),
    };
    if !(0..=3600).contains(&s.fresh_auth_secs) {
        problems.push(format!(
            "session.fresh_auth_secs is {}: use 0 (always ask for the password again) to 3600; default 300",
            s.fresh_auth_secs
        ));
    }
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
    session
}

fn password(p: &RawPassword, problems: &mut Problems) -> PasswordConfig {
    if p.argon2_memory_kib < OWASP_ARGON2_MEMORY_KIB
        || p.argon2_iterations < OWASP_ARGON2_ITERATIONS
        || p.argon2_parallelism == 0
    {
        problems.push(format!(
            "password.argon2_*: the OWASP floor is memory {OWASP_ARGON2_MEMORY_KIB} KiB, 2 iterations, parallelism 1; raise, never lower"
        ));
    }
    if p.hash_memory_idle_release_ms == 0 {
        problems.push(
            "password.hash_memory_idle_release_ms must be at least 1: it is how long a hashing thread keeps its Argon2 memory between logins (default 2000)".into(),
        );
    }
    PasswordConfig {
        hash_memory_idle_release: std::time::Duration::from_millis(p.hash_memory_idle_release_ms),
        argon2_memory_kib: p.argon2_memory_kib,
        argon2_iterations: p.argon2_iterations,
        argon2_parallelism: p.argon2_parallelism.max(1),
        max_concurrent_hashes: if p.max_concurrent_hashes == 0 {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            p.max_concurrent_hashes
        },
    }
}

/// Paths Gatehouse answers itself under `server.api_prefix`; a gateway route may not take them
/// over.
const OWN_PATHS: &[&str] = &[
    "/session",
    "/password-reset",
    "/sessions",
    "/users",
    "/employees",
    "/race",
    "/auth/verify",
];

/// Paths Gatehouse answers itself at the root, whatever the API prefix.
const OWN_ROOT_PATHS: &[&str] = &[
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/.well-known",
];

fn gateway(raw: &RawGateway, server: &ServerConfig, problems: &mut Problems) -> GatewayConfig {
    let mut routes = Vec::new();
    for (n, route) in raw.routes.iter().enumerate() {
        let at = format!("gateway.routes[{n}] (prefix {:?})", route.prefix);
        let prefix = &route.prefix;
        let normal = crate::origin::normalise_path(prefix);
        let trailing = prefix.ends_with('/') && prefix.len() > 1;
        if !prefix.starts_with('/')
            || prefix == "/"
            || normal.as_deref().map(|p| {
                if trailing {
                    format!("{p}/")
                } else {
                    p.to_owned()
                }
            }) != Some(prefix.clone())
        {
            problems.push(format!(
                "{at}: write a normalised path below the root, like \"/api/\" (the prefix and everything below it) or \"/api/status\" (exactly that path)"
            ));
            continue;
        }
        let base = prefix.trim_end_matches('/');
        let overlaps = |own: &str| {
            base == own
                || base.starts_with(&format!("{own}/"))
                || own.starts_with(&format!("{base}/"))
        };
        let taken = OWN_PATHS
            .iter()
            .map(|p| format!("{}{p}", server.api_prefix))
            .chain(OWN_ROOT_PATHS.iter().map(|p| (*p).to_owned()))
            .find(|own| overlaps(own));
        if let Some(taken) = taken {
            problems.push(format!(
                "{at}: overlaps Gatehouse's own {taken}; put the upstream under another prefix (e.g. \"/api/\"), or set server.api_prefix"
            ));
            continue;
        }
        let upstream = match route.upstream.parse::<axum::http::Uri>() {
            Ok(uri)
                if uri.scheme_str() == Some("http")
                    && uri.authority().is_some()
                    && uri.query().is_none() =>
            {
                uri
            }
            _ => {
                problems.push(format!(
                    "{at}: upstream = {:?}; write http://HOST:PORT[/BASE-PATH] (plain http to an upstream on a private network; no query)",
                    route.upstream
                ));
                continue;
            }
        };
        let Some(access) = Access::parse(&route.access) else {
            problems.push(format!(
                "{at}: access = {:?}; use \"public\" (anyone, no identity), \"user\" (any logged-in user) or \"admin\"",
                route.access
            ));
            continue;
        };
        if routes.iter().any(|r: &GatewayRoute| r.prefix == *prefix) {
            problems.push(format!("{at}: the same prefix is listed twice"));
            continue;
        }
        let audience = if route.audience.is_empty() {
            format!(
                "http://{}",
                upstream.authority().map(|a| a.as_str()).unwrap_or_default()
            )
        } else {
            route.audience.clone()
        };
        routes.push(GatewayRoute {
            host: crate::config::upstream_host(&upstream),
            prefix: prefix.clone(),
            upstream,
            access,
            strip_prefix: route.strip_prefix,
            audience,
        });
    }
    // The longest prefix wins.
    routes.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
    if !(1..=60).contains(&raw.assertion_lifetime_secs) {
        problems.push(format!(
            "gateway.assertion_lifetime_secs = {}: use 1 to 60 (an identity assertion is short-lived; upstreams check `exp`)",
            raw.assertion_lifetime_secs
        ));
    }
    for (name, ms) in [
        ("connect_timeout_ms", raw.connect_timeout_ms),
        ("upstream_timeout_ms", raw.upstream_timeout_ms),
    ] {
        if !(10..=600_000).contains(&ms) {
            problems.push(format!(
                "gateway.{name} = {ms}: use 10 to 600000 milliseconds"
            ));
        }
    }
    let spa_dir = (!raw.spa_dir.is_empty()).then(|| std::path::PathBuf::from(&raw.spa_dir));
    if let Some(dir) = &spa_dir
        && !dir.join("index.html").is_file()
    {
        problems.push(format!(
            "gateway.spa_dir = {:?}: no index.html there; point it at the folder of your built app (the one holding index.html), or \"\" to serve no app",
            raw.spa_dir
        ));
    }
    if axum::http::HeaderValue::try_from(raw.spa_csp.as_str()).is_err() || raw.spa_csp.is_empty() {
        problems.push(
            "gateway.spa_csp must be a non-empty header value (one line of printable ASCII)".into(),
        );
    }
    GatewayConfig {
        spa_dir,
        spa_csp: raw.spa_csp.clone(),
        routes,
        connect_timeout: std::time::Duration::from_millis(raw.connect_timeout_ms),
        upstream_timeout: std::time::Duration::from_millis(raw.upstream_timeout_ms),
        assertion_lifetime: Duration::seconds(raw.assertion_lifetime_secs.clamp(1, 60)),
        issuer: if raw.issuer.is_empty() {
            server.public_origin.as_str().to_owned()
        } else {
            raw.issuer.clone()
        },
    }
}

fn mail(
    raw: &RawMail,
    server: &ServerConfig,
    cors: &CorsConfig,
    problems: &mut Problems,
) -> Option<MailConfig> {
    let before = problems.len();
    let transport = match raw.transport.as_str() {
        "console" => MailTransport::Console,
        "smtp" => {
            let url = raw.smtp_url.trim();
            let scheme_ok = url.starts_with("smtp://") || url.starts_with("smtps://");
            let host = url.split_once("://").map(|(_, rest)| {
                let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
                rest.split([':', '/', '?']).next().unwrap_or_default()
            });
            if !scheme_ok || host.is_none_or(str::is_empty) {
                problems.push(format!(
                    "mail.smtp_url = {:?}: write smtp://[USER:PASSWORD@]HOST[:PORT] (STARTTLS when the server offers it; add ?tls=required to insist) or smtps://… (TLS from the first byte)",
                    crate::config::redact_url(url)
                ));
            }
            MailTransport::Smtp {
                url: url.to_owned(),
            }
        }
        other => {
            problems.push(format!(
                "mail.transport = {other:?}: use \"smtp\" (with smtp_url) or \"console\" (print mails; development)"
            ));
            MailTransport::Console
        }
    };
    if raw.from.parse::<lettre::message::Mailbox>().is_err() {
        problems.push(format!(
            "mail.from = {:?} is not a mailbox; write \"no-reply@example.com\" or \"Gatehouse <no-reply@example.com>\"",
            raw.from
        ));
    }
    match Origin::parse_url_origin(&raw.link_base) {
        Err(why) => problems.push(format!(
            "mail.link_base = {:?}: {why}; write the URL of your app's page, e.g. \"https://app.example.com/\" (links add #reset/TOKEN)",
            raw.link_base
        )),
        Ok(origin) if origin != server.public_origin && !cors.allowed_origins.contains(&origin) => {
            problems.push(format!(
                "mail.link_base {:?} is on {origin}, which is neither server.public_origin nor in cors.allowed_origins, so the page it opens could not call Gatehouse; link to your app",
                raw.link_base
            ));
        }
        Ok(_) => {}
    }
    if raw.link_base.contains('#') {
        problems.push("mail.link_base must not contain '#': Gatehouse adds #reset/TOKEN and #verify-email/TOKEN (in the fragment, tokens never reach a server log)".into());
    }
    if raw.timeout_ms == 0 || raw.queue_capacity == 0 || raw.retry_delay_ms == 0 {
        problems.push(
            "mail.timeout_ms, mail.retry_delay_ms and mail.queue_capacity must be at least 1"
                .into(),
        );
    }
    if !(60..=24 * 3600).contains(&raw.reset_token_ttl_secs) {
        problems.push("mail.reset_token_ttl_secs must be between 60 and 86400 (a reset link is a password; keep it short: default 1800)".into());
    }
    if !(60..=30 * 24 * 3600).contains(&raw.verification_token_ttl_secs) {
        problems.push("mail.verification_token_ttl_secs must be between 60 and 2592000 (default 172800, two days)".into());
    }
    let templates_dir =
        (!raw.templates_dir.is_empty()).then(|| std::path::PathBuf::from(&raw.templates_dir));
    if let Some(dir) = &templates_dir
        && !dir.is_dir()
    {
        problems.push(format!(
            "mail.templates_dir {} is not a folder; create it or leave the key empty for the built-in templates",
            dir.display()
        ));
    }
    (problems.len() == before).then(|| MailConfig {
        transport,
        from: raw.from.clone(),
        link_base: raw.link_base.clone(),
        timeout: std::time::Duration::from_millis(raw.timeout_ms),
        retries: raw.retries,
        retry_delay: std::time::Duration::from_millis(raw.retry_delay_ms),
        queue_capacity: raw.queue_capacity,
        templates_dir,
        reset_token_ttl: Duration::seconds(raw.reset_token_ttl_secs),
        verification_token_ttl: Duration::seconds(raw.verification_token_ttl_secs),
        reset_logs_in: raw.reset_logs_in,
    })
}
