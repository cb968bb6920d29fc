//! Configuration loading and validation: every refusal says what to change.

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
    let text = include_str!("../../gatehouse.example.toml");
    Config::from_sources(text, env(&[("GATEHOUSE__SECURITY__SECRET_KEY", KEY)])).unwrap();
    let table: Dict = Figment::from(Toml::string(text)).extract().unwrap();
    let keys = |section: &str| table[section].as_dict().unwrap().len();
    assert_eq!(keys("server"), 5);
    assert_eq!(keys("database"), 5);
    assert_eq!(keys("session"), 8);
    assert_eq!(keys("throttle"), 4);
    assert_eq!(keys("password"), 5);
    assert_eq!(keys("gateway"), 5);
    assert_eq!(keys("account"), 1);
    assert_eq!(keys("passkeys"), 4);
    for key in [
        "secret_key",
        "secret_key_file",
        "previous_secret_keys",
        "cert_file",
        "key_file",
        "transport",
        "smtp_url",
        "from",
        "link_base",
        "timeout_ms",
        "retries",
        "retry_delay_ms",
        "queue_capacity",
        "templates_dir",
        "reset_token_ttl_secs",
        "verification_token_ttl_secs",
        "reset_logs_in",
    ] {
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
    assert!(problems("", &[("GATEHOUSE__SECURITY__SECRET_KEY", "short")]).contains("too short"));
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
    let toml =
        "[[cors.resources]]\npath = \"/race/*/x\"\norigins = \"everyone\"\nmethods = [\"TRACE\"]\n";
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
    let text = problems(toml, &[("GATEHOUSE__SECURITY__SECRET_KEY", KEY)]);
    assert!(
        text.contains("is cross site") && text.contains("SameSite=Lax"),
        "{text}"
    );
    let same_site = "[server]\npublic_origin = \"https://api.example.com\"\n[cors]\nallowed_origins = [\"https://app.example.com\"]\n";
    assert!(
        Config::from_sources(same_site, env(&[("GATEHOUSE__SECURITY__SECRET_KEY", KEY)])).is_ok()
    );
}

#[test]
fn insecure_cookies_are_only_for_localhost() {
    let toml = "[server]\npublic_origin = \"http://api.example.com\"\n[cookies]\nsecure = false\n";
    assert!(
        problems(toml, &[("GATEHOUSE__SECURITY__SECRET_KEY", KEY)]).contains("development setting")
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

#[test]
fn an_all_digit_secret_key_from_the_environment_is_a_string() {
    let digits = "12345678901234567890123456789012345678901234567890";
    let config =
        Config::from_sources("", env(&[("GATEHOUSE__SECURITY__SECRET_KEY", digits)])).unwrap();
    assert_eq!(config.secret_keys[0].expose(), digits.as_bytes());
    let leading_zeros = "000000000000000000000000000000000000000042";
    let config = Config::from_sources(
        "",
        env(&[("GATEHOUSE__SECURITY__SECRET_KEY", leading_zeros)]),
    )
    .unwrap();
    assert_eq!(config.secret_keys[0].expose(), leading_zeros.as_bytes());
}

#[test]
fn environment_values_take_the_type_of_their_key() {
    let config = Config::from_sources(
        "",
        env(&[
            ("GATEHOUSE__SECURITY__SECRET_KEY", KEY),
            ("GATEHOUSE__SERVER__MAX_BODY_BYTES", "4096"),
            ("GATEHOUSE__COOKIES__SECURE", "false"),
            ("GATEHOUSE__DATABASE__REDIS_KEY_PREFIX", "1234"),
            (
                "GATEHOUSE__CORS__ALLOWED_ORIGINS",
                "[\"http://localhost:8081\"]",
            ),
        ]),
    )
    .unwrap();
    assert_eq!(config.server.max_body_bytes, 4096);
    assert!(!config.cookies.secure);
    assert_eq!(config.database.redis_key_prefix, "1234");
    assert_eq!(config.cors.allowed_origins.len(), 1);
    let wrong = problems("", &[("GATEHOUSE__SERVER__MAX_BODY_BYTES", "lots")]);
    assert!(wrong.contains("max_body_bytes"), "{wrong}");
    let list = problems("", &[("GATEHOUSE__CORS__ALLOWED_ORIGINS", "[oops")]);
    assert!(list.contains("not a valid list"), "{list}");
}

fn gateway(routes: &str, extra: &str) -> Result<Config, ConfigError> {
    Config::from_sources(
        &format!("{extra}\n[gateway]\nroutes = {routes}\n"),
        env(&[("GATEHOUSE__SECURITY__SECRET_KEY", KEY)]),
    )
}

#[test]
fn gateway_routes_are_sorted_longest_prefix_first_with_their_defaults() {
    let config = gateway(
        r#"[{prefix = "/api/", upstream = "http://127.0.0.1:9000"}, {prefix = "/api/admin/", upstream = "http://10.0.0.5:81/v1", access = "admin"}]"#,
        "",
    )
    .unwrap();
    let routes = &config.gateway.routes;
    assert_eq!(routes[0].prefix, "/api/admin/");
    assert_eq!(routes[0].access, Access::Admin);
    assert_eq!(routes[1].access, Access::User);
    assert_eq!(routes[1].audience, "http://127.0.0.1:9000");
    assert!(
        routes[1].matches("/api") && routes[1].matches("/api/x") && !routes[1].matches("/apix")
    );
    assert_eq!(config.gateway.issuer, "http://localhost:8080");
}

#[test]
fn gateway_routes_that_cannot_work_are_refused_with_the_fix() {
    let cases = [
        (
            r#"[{prefix = "api/", upstream = "http://a:1"}]"#,
            "normalised path",
        ),
        (
            r#"[{prefix = "/api/../x/", upstream = "http://a:1"}]"#,
            "normalised path",
        ),
        (
            r#"[{prefix = "/session/", upstream = "http://a:1"}]"#,
            "overlaps Gatehouse's own",
        ),
        (
            r#"[{prefix = "/api/", upstream = "https://a:1"}]"#,
            "write http://HOST:PORT",
        ),
        (
            r#"[{prefix = "/api/", upstream = "http://a:1", access = "root"}]"#,
            "\"public\"",
        ),
        (
            r#"[{prefix = "/api/", upstream = "http://a:1"}, {prefix = "/api/", upstream = "http://b:1"}]"#,
            "twice",
        ),
    ];
    for (routes, expected) in cases {
        let problems = gateway(routes, "").unwrap_err().to_string();
        assert!(problems.contains(expected), "{routes}: {problems}");
    }
    let long = Config::from_sources(
        "[gateway]\nassertion_lifetime_secs = 600\n",
        env(&[("GATEHOUSE__SECURITY__SECRET_KEY", KEY)]),
    )
    .unwrap_err()
    .to_string();
    assert!(long.contains("1 to 60"), "{long}");
    // With an API prefix, Gatehouse's own paths move under it and `/session/` is free.
    assert!(
        gateway(
            r#"[{prefix = "/session/", upstream = "http://a:1"}]"#,
            "[server]\napi_prefix = \"/auth\""
        )
        .is_ok()
    );
}

#[test]
fn partitioned_cookies_need_secure_and_a_cross_site_origin_needs_them_or_a_stated_opt_out() {
    let key = [("GATEHOUSE__SECURITY__SECRET_KEY", KEY)];
    let text = problems("[cookies]\nsecure = false\npartitioned = true\n", &key);
    assert!(
        text.contains("cookies.partitioned = true requires cookies.secure = true"),
        "{text}"
    );
    let cross = "[server]\npublic_origin = \"https://api.example.com\"\n[cors]\nallowed_origins = [\"https://app.other.net\"]\n[cookies]\nsame_site = \"none\"\n";
    let text = problems(cross, &key);
    assert!(text.contains("allow_unpartitioned_cross_site"), "{text}");
    assert!(Config::from_sources(&format!("{cross}partitioned = true\n"), env(&key)).is_ok());
    let opt_out = format!("{cross}allow_unpartitioned_cross_site = true\n");
    assert!(Config::from_sources(&opt_out, env(&key)).is_ok());
}

#[test]
fn tls_needs_both_files_and_an_https_public_origin() {
    let key = [("GATEHOUSE__SECURITY__SECRET_KEY", KEY)];
    let half = problems(
        "[server]\npublic_origin = \"https://api.example.com\"\n[server.tls]\ncert_file = \"c.pem\"\n[cookies]\nsecure = true\n",
        &key,
    );
    assert!(half.contains("[server.tls] needs both cert_file"), "{half}");
    let http = problems(
        "[server]\npublic_origin = \"http://localhost:8080\"\n[server.tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n[cookies]\nsecure = false\n",
        &key,
    );
    assert!(http.contains("write it as https://"), "{http}");
    let config = Config::from_sources(
        "[server]\npublic_origin = \"https://api.example.com\"\n[server.tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n",
        env(&key),
    )
    .unwrap();
    let files = config.server.tls.expect("tls is on");
    assert_eq!(files.cert_file, std::path::Path::new("c.pem"));
    assert_eq!(files.key_file, std::path::Path::new("k.pem"));
}

#[test]
fn mail_settings_that_cannot_work_are_refused_with_the_fix() {
    let key = [("GATEHOUSE__SECURITY__SECRET_KEY", KEY)];
    let cors = "[cors]\nallowed_origins = [\"http://localhost:8081\"]\n[cookies]\nsecure = false\n";
    let text = problems(
        &format!(
            "{cors}[mail]\nsmtp_url = \"mail.example.com\"\nfrom = \"nobody\"\nlink_base = \"https://elsewhere.example/\"\n"
        ),
        &key,
    );
    assert!(text.contains("mail.smtp_url"), "{text}");
    assert!(text.contains("mail.from"), "{text}");
    assert!(
        text.contains("neither server.public_origin nor in cors.allowed_origins"),
        "{text}"
    );
    let fragment = problems(
        &format!(
            "{cors}[mail]\ntransport = \"console\"\nfrom = \"a@example.com\"\nlink_base = \"http://localhost:8081/#x\"\n"
        ),
        &key,
    );
    assert!(fragment.contains("must not contain '#'"), "{fragment}");
    let no_mail = problems("[account]\nrequire_verified_email = true\n", &key);
    assert!(no_mail.contains("needs a [mail] section"), "{no_mail}");
    let ok = Config::from_sources(
        &format!("{cors}[mail]\nsmtp_url = \"smtp://u:secret@mail.example.com\"\nfrom = \"Gatehouse <a@example.com>\"\nlink_base = \"http://localhost:8081/app\"\n"),
        env(&key),
    )
    .unwrap();
    let debug = format!("{:?}", ok.mail.unwrap());
    assert!(
        !debug.contains("secret"),
        "the SMTP password never shows: {debug}"
    );
}

#[test]
fn a_fresh_auth_window_beyond_an_hour_is_refused() {
    let key = [("GATEHOUSE__SECURITY__SECRET_KEY", KEY)];
    for bad in ["-1", "3601"] {
        let text = problems(&format!("[session]\nfresh_auth_secs = {bad}\n"), &key);
        assert!(text.contains("session.fresh_auth_secs"), "{text}");
    }
    let zero = Config::from_sources("[session]\nfresh_auth_secs = 0\n", env(&key)).unwrap();
    assert_eq!(zero.session.fresh_auth, time::Duration::ZERO);
}
