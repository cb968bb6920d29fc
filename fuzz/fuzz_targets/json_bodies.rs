//! Arbitrary bytes as a JSON request body, every string in it fed to the public parsers that
//! handlers run on request fields.
//!
//! Properties: nothing panics; each parser is deterministic; and an accepted value honours the
//! documented limits (a username of 3-64 allowed characters, a password of 8-1024 characters,
//! an e-mail of at most 254 bytes, a name of at most 100 characters without control characters).
#![no_main]

use gatehouse::account::{DisplayName, Email, Username};
use gatehouse::directory::parse_timestamp;
use gatehouse::password::Password;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => {
            for (key, v) in map {
                out.push(key);
                strings(v, out);
            }
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let mut found = Vec::new();
    strings(&body, &mut found);
    for text in found {
        if let Ok(name) = Username::parse(text) {
            let n = name.as_str().chars().count();
            assert!((Username::MIN_CHARS..=Username::MAX_CHARS).contains(&n));
            assert!(name.as_str().chars().all(|c| c.is_ascii_alphanumeric() || "._-@+".contains(c)));
            assert_eq!(name.key(), name.as_str().to_ascii_lowercase());
        }
        assert_eq!(Username::parse(text).is_ok(), Username::parse(text).is_ok());
        if let Ok(Some(email)) = Email::parse(text) {
            assert!(email.as_str().len() <= 254 && email.as_str().contains('@'));
        }
        if let Ok(Some(name)) = DisplayName::parse(text) {
            assert!(name.as_str().chars().count() <= 100);
            assert!(!name.as_str().chars().any(char::is_control));
            assert!(!name.as_str().is_empty());
        }
        if let Ok(password) = Password::parse_new(text) {
            assert_eq!(password.expose(), text, "never trimmed, truncated or case-folded");
            let n = text.chars().count();
            assert!((Password::MIN_CHARS..=Password::MAX_CHARS).contains(&n));
        }
        let _ = parse_timestamp(text);
    }
});
