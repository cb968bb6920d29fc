//! Properties of the security primitives, checked with proptest over generated inputs: the
//! origin parser against a deliberately plain reference parser, the CORS allowlist against
//! byte-for-byte equality, signed cookies and CSRF tokens against every single-byte change,
//! and path normalisation against dot-segment smuggling.

use axum::http::{HeaderMap, HeaderValue, header};
use gatehouse::Config;
use gatehouse::cors::Cors;
use gatehouse::crypto::{KeyRing, Keys};
use gatehouse::origin::Origin;
use gatehouse::origin::normalise_path;
use gatehouse::session::cookies;
use proptest::prelude::*;

use crate::support::{API_ORIGIN, APP_ORIGIN, SECRET_KEY};

const KEY: &[u8] = b"property-test-key-0123456789abcdef0123";
const OLD_KEY: &[u8] = b"property-test-old-key-0123456789abcdef";

/// The origin grammar written out the obvious way, independently of `Origin::parse`: a
/// scheme of http or https in any case, `://`, then a host (dot-separated labels of ASCII
/// letters, digits and `-`, 1 to 63 each, or a bracketed IPv6 address) and an optional port
/// of 1 to 5 digits between 1 and 65535; nothing else. The answer is the browser form:
/// lower case, default port left out.
fn reference_origin(input: &str) -> Option<String> {
    let colon = input.find("://")?;
    let scheme = input[..colon].to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let authority = &input[colon + 3..];
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let close = rest.find(']')?;
        let inner = &rest[..close];
        inner.parse::<std::net::Ipv6Addr>().ok()?;
        let after = &rest[close + 1..];
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        (format!("[{}]", inner.to_ascii_lowercase()), port)
    } else {
        let mut parts = authority.splitn(2, ':');
        let host = parts.next()?;
        let labels_ok = !host.is_empty()
            && host.split('.').all(|label| {
                (1..=63).contains(&label.len())
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !labels_ok {
            return None;
        }
        (host.to_ascii_lowercase(), parts.next())
    };
    let port = match port {
        None => None,
        Some(digits) => {
            if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            let n: u32 = digits.parse().ok()?;
            if n == 0 || n > 65535 {
                return None;
            }
            Some(n)
        }
    };
    Some(match port {
        Some(p) if p != default_port => format!("{scheme}://{host}:{p}"),
        _ => format!("{scheme}://{host}"),
    })
}

/// Strings shaped like origins, with the pieces attackers vary: scheme, separator, host,
/// port and trailing junk.
fn origin_like() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![
        Just("http"),
        Just("https"),
        Just("HTTP"),
        Just("HttPs"),
        Just("ftp"),
        Just("javascript"),
        Just(""),
    ];
    let separator = prop_oneof![Just("://"), Just(":/"), Just(":"), Just(":///"), Just("")];
    let host = prop_oneof![
        Just("localhost".to_owned()),
        Just("LocalHost".to_owned()),
        Just("app.example.com".to_owned()),
        Just("[::1]".to_owned()),
        Just("[::ffff:127.0.0.1]".to_owned()),
        Just("[::1".to_owned()),
        Just("127.0.0.1".to_owned()),
        Just("".to_owned()),
        "[a-zA-Z0-9.\\-_%@\\[\\]:]{0,24}",
        "[a-z]{1,8}(\\.[a-z0-9\\-]{0,8}){0,3}",
        "\\PC{0,12}",
    ];
    let port = prop_oneof![
        Just(String::new()),
        Just(":".to_owned()),
        Just(":0".to_owned()),
        Just(":80".to_owned()),
        Just(":443".to_owned()),
        Just(":8081".to_owned()),
        Just(":08081".to_owned()),
        Just(":65535".to_owned()),
        Just(":65536".to_owned()),
        Just(":999999".to_owned()),
        Just(":+80".to_owned()),
        ":[0-9]{1,6}",
    ];
    let tail = prop_oneof![
        Just(""),
        Just("/"),
        Just("/path"),
        Just("?q"),
        Just("#f"),
        Just("\\"),
        Just(" "),
        Just("."),
    ];
    (scheme, separator, host, port, tail).prop_map(|(s, sep, h, p, t)| format!("{s}{sep}{h}{p}{t}"))
}

/// The configured app's CORS rules: allowlist `APP_ORIGIN`, API at `API_ORIGIN`.
fn test_cors() -> Cors {
    let env = [
        ("GATEHOUSE__SECURITY__SECRET_KEY", SECRET_KEY),
        ("GATEHOUSE__SERVER__PUBLIC_ORIGIN", API_ORIGIN),
        ("GATEHOUSE__COOKIES__SECURE", "false"),
        ("GATEHOUSE__DATABASE__URL", "sqlite://unused.db"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .chain([(
        "GATEHOUSE__CORS__ALLOWED_ORIGINS".to_owned(),
        format!("[\"{APP_ORIGIN}\"]"),
    )]);
    let config = Config::from_sources("", env).expect("test config is valid");
    Cors::new(&config.cors, "", Default::default())
}

/// `APP_ORIGIN` with one edit: a character replaced, inserted or removed, or its case flipped.
fn near_miss_origin() -> impl Strategy<Value = String> {
    let len = APP_ORIGIN.len();
    (0..4u8, 0..=len, any::<char>()).prop_map(move |(kind, at, c)| {
        let mut s: Vec<char> = APP_ORIGIN.chars().collect();
        let i = at.min(len - 1);
        match kind {
            0 => s[i] = c,
            1 => s.insert(at, c),
            2 => {
                s.remove(i);
            }
            _ => s[i] = s[i].to_ascii_uppercase(),
        }
        s.into_iter().collect()
    })
}

/// A byte-for-byte different ASCII printable replacement for `b`.
fn other_printable(b: u8, pick: u8) -> u8 {
    let candidate = 0x21 + pick % 0x5e;
    if candidate == b {
        if b == b'~' { b'!' } else { b + 1 }
    } else {
        candidate
    }
}

fn cookie_names() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("gatehouse_session"),
        Just("gatehouse_pre"),
        Just("gatehouse_device"),
        Just("__Host-gatehouse_session"),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn origin_parsing_agrees_with_a_plain_reference_parser(input in origin_like()) {
        let ours = Origin::parse(&input).ok().map(|o| o.as_str().to_owned());
        prop_assert_eq!(ours, reference_origin(&input), "input {:?}", input);
    }

    #[test]
    fn origin_parsing_agrees_with_the_reference_on_arbitrary_text(input in "\\PC{0,40}") {
        let ours = Origin::parse(&input).ok().map(|o| o.as_str().to_owned());
        prop_assert_eq!(ours, reference_origin(&input), "input {:?}", input);
    }

    #[test]
    fn a_parsed_origin_is_canonical_and_parses_to_itself(input in origin_like()) {
        if let Ok(origin) = Origin::parse(&input) {
            let again = Origin::parse(origin.as_str()).expect("canonical form parses");
            prop_assert_eq!(again.as_str(), origin.as_str());
            prop_assert_eq!(origin.as_str(), origin.as_str().to_ascii_lowercase());
        }
    }

    #[test]
    fn the_cors_allowlist_grants_only_the_exact_configured_origin(
        value in prop_oneof![near_miss_origin(), origin_like()]
    ) {
        let cors = test_cors();
        let Ok(header_value) = HeaderValue::from_str(&value) else {
            return Ok(());
        };
        let mut headers = HeaderMap::new();
        headers.insert(header::ORIGIN, header_value);
        let granted = cors.allowed_origin(&headers).is_some();
        prop_assert_eq!(granted, value == APP_ORIGIN, "origin {:?}", value);
    }

    #[test]
    fn a_signed_cookie_with_any_single_byte_changed_never_verifies(
        name in cookie_names(),
        payload in "[A-Za-z0-9_\\-\\.]{0,64}",
        at in any::<prop::sample::Index>(),
        pick in any::<u8>(),
    ) {
        let ring = KeyRing::new([KEY]);
        let signed = cookies::sign(ring.current(), name, &payload);
        prop_assert!(cookies::verify(&ring, name, &signed).is_some());
        let mut bytes = signed.clone().into_bytes();
        let i = at.index(bytes.len());
        bytes[i] = other_printable(bytes[i], pick);
        let tampered = String::from_utf8(bytes).unwrap();
        prop_assert!(
            cookies::verify(&ring, name, &tampered).is_none(),
            "{:?} changed at {} to {:?} still verifies", signed, i, tampered
        );
    }

    #[test]
    fn a_signed_cookie_cut_short_extended_or_renamed_never_verifies(
        name in cookie_names(),
        other in cookie_names(),
        payload in "[A-Za-z0-9_\\-]{1,48}",
        cut in any::<prop::sample::Index>(),
        extra in "[A-Za-z0-9_\\-\\.=]{1,8}",
    ) {
        let ring = KeyRing::new([KEY, OLD_KEY]);
        let signed = cookies::sign(&Keys::derive(OLD_KEY), name, &payload);
        prop_assert!(cookies::verify(&ring, name, &signed).is_some_and(|v| v.stale));
        let short = &signed[..cut.index(signed.len())];
        prop_assert!(cookies::verify(&ring, name, short).is_none(), "prefix {:?}", short);
        let long = format!("{signed}{extra}");
        prop_assert!(cookies::verify(&ring, name, &long).is_none(), "extended {:?}", long);
        if other != name {
            prop_assert!(cookies::verify(&ring, other, &signed).is_none());
        }
    }

    #[test]
    fn a_csrf_token_with_any_modification_is_never_accepted(
        binding in prop::collection::vec(any::<u8>(), 1..48),
        at in any::<prop::sample::Index>(),
        pick in any::<u8>(),
        cut in any::<prop::sample::Index>(),
        extra in prop::collection::vec(any::<u8>(), 1..4),
    ) {
        let ring = KeyRing::new([KEY, OLD_KEY]);
        for keys in [Keys::derive(KEY), Keys::derive(OLD_KEY)] {
            let token = keys.csrf_token("session", &binding).into_bytes();
            prop_assert!(ring.csrf_matches("session", &binding, &token));
            let mut changed = token.clone();
            let i = at.index(changed.len());
            changed[i] = other_printable(changed[i], pick);
            prop_assert!(!ring.csrf_matches("session", &binding, &changed));
            prop_assert!(!ring.csrf_matches("session", &binding, &token[..cut.index(token.len())]));
            let mut longer = token.clone();
            longer.extend_from_slice(&extra);
            prop_assert!(!ring.csrf_matches("session", &binding, &longer));
            prop_assert!(!ring.csrf_matches("session", &binding, token.to_ascii_uppercase().as_slice())
                || token == token.to_ascii_uppercase());
            // Bound to its purpose and to its session.
            prop_assert!(!ring.csrf_matches("pre", &binding, &token));
            let mut other_binding = binding.clone();
            other_binding[0] ^= 1;
            prop_assert!(!ring.csrf_matches("session", &other_binding, &token));
        }
        // A key that is not on the ring signs nothing the ring accepts.
        let stranger = Keys::derive(b"some-other-deployment-key-0123456789ab");
        let forged = stranger.csrf_token("session", &binding).into_bytes();
        prop_assert!(!ring.csrf_matches("session", &binding, &forged));
    }

    #[test]
    fn normalised_paths_have_no_dot_segments_and_normalising_again_changes_nothing(
        raw in prop_oneof![
            "(/|\\\\|%2[fF]|%5[cC]|\\.|%2[eE]|\\.\\.|[a-z]{1,3}|%25|%){0,16}",
            "\\PC{0,24}",
        ]
    ) {
        if let Some(path) = normalise_path(&raw) {
            prop_assert!(path.starts_with('/'), "{:?} -> {:?}", raw, path);
            prop_assert!(!path.contains('\\'), "{:?} -> {:?}", raw, path);
            prop_assert!(
                path == "/" || path[1..].split('/').all(|s| !matches!(s, "" | "." | "..")),
                "{:?} -> {:?}", raw, path
            );
            // A literal `%` in the output came from `%25` and would decode again; everywhere
            // else the normal form is a fixed point.
            if !path.contains('%') {
                prop_assert_eq!(normalise_path(&path), Some(path.clone()));
            }
        }
    }

    #[test]
    fn a_path_already_in_normal_form_cannot_climb_out_of_its_prefix(
        segments in prop::collection::vec("[a-z0-9._%-]{1,6}", 1..6)
    ) {
        // The public CORS policy is only used when the raw path equals its normal form; such a
        // path under `/race/` therefore really is under `/race/`.
        let raw = format!("/race/{}", segments.join("/"));
        if normalise_path(&raw).as_deref() == Some(raw.as_str()) {
            prop_assert!(!raw.contains('%'), "{:?}", raw);
            prop_assert!(
                raw[1..].split('/').all(|s| !matches!(s, "" | "." | "..")),
                "{:?}", raw
            );
        }
    }
}
