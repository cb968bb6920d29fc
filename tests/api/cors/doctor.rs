//! `gatehouse doctor` as an operator runs it: the real binary, a config from the environment,
//! a verdict per app origin and an exit status a deploy script can test.

use std::process::Command;

use crate::support::SECRET_KEY;

/// Runs `gatehouse doctor` with these settings and origins: (exit code, stdout + stderr).
fn doctor(settings: &[(&str, &str)], origins: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gatehouse.toml");
    std::fs::write(&config, "# settings come from the environment\n").unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command
        .arg("--config")
        .arg(&config)
        .arg("doctor")
        .env(
            "GATEHOUSE__DATABASE__URL",
            format!("sqlite://{}", dir.path().join("g.db").display()),
        )
        .env("GATEHOUSE__SECURITY__SECRET_KEY", SECRET_KEY);
    for (key, value) in settings {
        command.env(key, value);
    }
    for origin in origins {
        command.args(["--app-origin", origin]);
    }
    let output = command.output().expect("the gatehouse binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

const API: [(&str, &str); 3] = [
    (
        "GATEHOUSE__SERVER__PUBLIC_ORIGIN",
        "https://api.example.com",
    ),
    (
        "GATEHOUSE__CORS__ALLOWED_ORIGINS",
        "[\"https://app.example.com\"]",
    ),
    ("GATEHOUSE__COOKIES__SECURE", "true"),
];

#[test]
fn doctor_passes_a_same_site_app_and_fails_a_cross_site_one_with_the_fix() {
    let (code, out) = doctor(&API, &["https://app.example.com"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("same site, other origin — works"), "{out}");

    let (code, out) = doctor(&API, &["https://app.other.net"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("CANNOT WORK"), "{out}");
    assert!(out.contains("same_site = \"none\""), "{out}");
    assert!(out.contains("not in cors.allowed_origins"), "{out}");
}

#[test]
fn doctor_passes_a_partitioned_cross_site_app_and_flags_the_unpartitioned_one() {
    let mut settings = vec![
        (
            "GATEHOUSE__SERVER__PUBLIC_ORIGIN",
            "https://api.example.com",
        ),
        (
            "GATEHOUSE__CORS__ALLOWED_ORIGINS",
            "[\"https://app.other.net\"]",
        ),
        ("GATEHOUSE__COOKIES__SECURE", "true"),
        ("GATEHOUSE__COOKIES__SAME_SITE", "none"),
        ("GATEHOUSE__COOKIES__PARTITIONED", "true"),
    ];
    let (code, out) = doctor(&settings, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("cross site — works"), "{out}");

    // Without Partitioned start-up refuses the origin, so doctor explains the config error.
    settings.pop();
    let (code, out) = doctor(&settings, &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("partitioned = true"), "{out}");
    assert!(out.contains("allow_unpartitioned_cross_site"), "{out}");

    settings.push(("GATEHOUSE__COOKIES__ALLOW_UNPARTITIONED_CROSS_SITE", "true"));
    let (code, out) = doctor(&settings, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("works only in some browsers"), "{out}");
    assert!(out.contains("Safari"), "{out}");
}

#[test]
fn doctor_explains_localhost_against_127_0_0_1() {
    let settings = [
        ("GATEHOUSE__SERVER__PUBLIC_ORIGIN", "http://127.0.0.1:8080"),
        (
            "GATEHOUSE__CORS__ALLOWED_ORIGINS",
            "[\"http://127.0.0.1:8081\"]",
        ),
        ("GATEHOUSE__COOKIES__SECURE", "false"),
    ];
    let (code, out) = doctor(&settings, &["http://localhost:8081"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("never mix localhost and 127.0.0.1"), "{out}");
}

#[test]
fn doctor_says_where_passkeys_work_and_why_not() {
    let (_, out) = doctor(&API, &["https://app.example.com", "https://app.other.net"]);
    assert!(
        out.contains("passkeys work here (RP ID example.com)"),
        "{out}"
    );
    assert!(
        out.contains("passkeys do not work here: not among the relying party's origins"),
        "{out}"
    );
    let mut off = API.to_vec();
    off.push(("GATEHOUSE__PASSKEYS__ENABLED", "false"));
    let (_, out) = doctor(&off, &["https://app.example.com"]);
    assert!(
        out.contains("passkeys are off: passkeys.enabled = false"),
        "{out}"
    );
}
