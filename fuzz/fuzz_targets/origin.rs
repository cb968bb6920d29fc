//! `Origin::parse` and `normalise_path` on arbitrary text.
//!
//! Properties: nothing panics; an origin that parses is canonical (parsing its serialisation
//! gives the same origin, and the serialisation is lower-case ASCII with no path); a
//! normalised path starts with `/`, has no empty, `.` or `..` segments and no backslash.
#![no_main]

use gatehouse::origin::{Origin, normalise_path};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    if let Ok(origin) = Origin::parse(text) {
        let serialised = origin.as_str();
        let again = Origin::parse(serialised).expect("a canonical origin parses");
        assert_eq!(again, origin, "{text:?} -> {serialised:?}");
        assert_eq!(again.as_str(), serialised);
        assert!(serialised.is_ascii());
        assert_eq!(serialised, serialised.to_ascii_lowercase());
        assert!(serialised.starts_with("http://") || serialised.starts_with("https://"));
        let after_scheme = serialised.split_once("://").unwrap().1;
        assert!(!after_scheme.contains(['/', '?', '#', '@', '\\']));
        // Site computation must not panic either, and is stable.
        assert_eq!(origin.site(), again.site());
        let _ = origin.is_loopback();
    }

    if let Some(path) = normalise_path(text) {
        assert!(path.starts_with('/'), "{path:?}");
        assert!(!path.contains('\\'), "{path:?}");
        if path != "/" {
            for segment in path[1..].split('/') {
                assert!(
                    !matches!(segment, "" | "." | ".."),
                    "{text:?} -> {path:?} keeps segment {segment:?}"
                );
            }
        }
        // Without percent signs left to decode, normalising again changes nothing.
        if !path.contains('%') {
            assert_eq!(normalise_path(&path).as_deref(), Some(path.as_str()));
        }
    }
});
