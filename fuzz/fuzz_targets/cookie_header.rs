//! The `Cookie` header parser and the signed-value check, on arbitrary header bytes.
//!
//! Properties: nothing panics; whatever `read` returns is a substring of the header without
//! surrounding whitespace; a value that `verify` accepts is byte for byte what `sign` makes for
//! that name and payload under one of the ring's keys (so the fuzzer, which never sees a key,
//! can only succeed by producing a real signature); and `sign` output round-trips.
#![no_main]

use axum::http::{HeaderMap, HeaderValue, header};
use gatehouse::crypto::{KeyRing, Keys};
use gatehouse::session::cookies;
use libfuzzer_sys::fuzz_target;

const CURRENT: &[u8] = b"fuzz-current-key-0123456789abcdef0123";
const PREVIOUS: &[u8] = b"fuzz-previous-key-0123456789abcdef012";

const NAMES: &[&str] = &[
    "gatehouse_session",
    "gatehouse_pre",
    "gatehouse_device",
    "__Host-gatehouse_session",
    "__Host-gatehouse_pre",
];

fuzz_target!(|data: &[u8]| {
    let ring = KeyRing::new([CURRENT, PREVIOUS]);
    let current = Keys::derive(CURRENT);
    let previous = Keys::derive(PREVIOUS);

    // A zero byte splits the input into several Cookie header lines, as HTTP/1 allows.
    let mut headers = HeaderMap::new();
    for line in data.split(|b| *b == 0) {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(header::COOKIE, value);
        }
    }

    // Besides the real names, try a name taken from the input itself.
    let own_name = std::str::from_utf8(data)
        .ok()
        .and_then(|t| t.split(['=', ';', '\0']).next())
        .map(str::trim)
        .filter(|n| !n.is_empty());

    for name in NAMES.iter().copied().chain(own_name) {
        let Some(value) = cookies::read(&headers, name) else {
            continue;
        };
        assert_eq!(value, value.trim(), "read returns trimmed values");
        assert!(!value.contains(';'), "a value never spans a pair separator");
        if let Some(verified) = cookies::verify(&ring, name, value) {
            let with_current = cookies::sign(&current, name, verified.payload);
            let with_previous = cookies::sign(&previous, name, verified.payload);
            assert!(
                value == with_current || value == with_previous,
                "{value:?} verified for {name:?} but is not a signature the ring made"
            );
            assert_eq!(verified.stale, value != with_current);
        }
    }

    // Round trip: whatever payload text the input holds, a fresh signature verifies for its
    // own name only, and a mismatched name never does.
    if let Ok(text) = std::str::from_utf8(data) {
        let signed = cookies::sign(ring.current(), "gatehouse_session", text);
        let back = cookies::verify(&ring, "gatehouse_session", &signed).expect("own signature");
        assert_eq!(back.payload, text);
        assert!(!back.stale);
        assert!(cookies::verify(&ring, "gatehouse_pre", &signed).is_none());
    }
});
