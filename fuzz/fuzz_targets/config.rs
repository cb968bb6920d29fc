//! `Config::from_sources` on arbitrary TOML text, with a valid secret key in the environment.
//!
//! Property: any text gives `Ok` or a list of problems, never a panic. (With the key given in
//! the environment, a `secret_key_file` in the text is refused as "not both" and never read.)
#![no_main]

use gatehouse::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = [(
        "GATEHOUSE__SECURITY__SECRET_KEY".to_owned(),
        "fuzz-secret-key-that-is-long-enough-0123456789".to_owned(),
    )];
    match Config::from_sources(text, env) {
        Ok(config) => {
            // A config that validated has the invariants the server relies on.
            assert!(!config.secret_keys.is_empty());
            assert!(config.server.max_body_bytes >= 1024);
        }
        Err(problems) => {
            assert!(!problems.to_string().is_empty(), "a refusal says why");
        }
    }
});
