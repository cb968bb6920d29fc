//! `[passkeys]`: the WebAuthn relying party, derived from where the app runs unless set.
//!
//! A ceremony runs in the app's page, so what matters is the app's origin, not the API's: the
//! RP ID must be that page's host or a domain it is under (WebAuthn L3 §5.1.3, "RP ID"), and the
//! page must be a secure context (https, or http on localhost). By default the RP ID is the
//! registrable domain of the first allowlisted origin (or of `server.public_origin`, where a
//! gateway serves the app), and the origins are every allowlisted origin, plus the public
//! origin, that is a secure context under it. Where nothing qualifies, passkeys are off and the
//! start-up log says why; a value set by hand that cannot work stops start-up instead.

use super::raw::RawPasskeys;
use super::validate::Problems;
use super::{CorsConfig, PasskeyConfig, RelyingParty, ServerConfig};
use crate::origin::Origin;

pub(super) fn validate(
    raw: &RawPasskeys,
    server: &ServerConfig,
    cors: &CorsConfig,
    problems: &mut Problems,
) -> PasskeyConfig {
    if !raw.enabled {
        return PasskeyConfig::Off("passkeys.enabled = false".into());
    }
    let before = problems.len();
    let explicit_origins = !raw.origins.is_empty();
    let candidates: Vec<Origin> = if explicit_origins {
        raw.origins
            .iter()
            .enumerate()
            .filter_map(|(n, text)| match Origin::parse(text) {
                Ok(origin) => Some(origin),
                Err(why) => {
                    problems.push(format!("passkeys.origins[{n}] = {text:?}: {why}"));
                    None
                }
            })
            .collect()
    } else {
        let mut all = cors.allowed_origins.clone();
        if !all.contains(&server.public_origin) {
            all.push(server.public_origin.clone());
        }
        all
    };
    let rp_id = if raw.rp_id.is_empty() {
        candidates
            .iter()
            .find(|o| usable(o).is_ok())
            .map(|o| o.host_site().to_owned())
    } else {
        match check_rp_id(&raw.rp_id) {
            Ok(()) => Some(raw.rp_id.clone()),
            Err(why) => {
                problems.push(format!("passkeys.rp_id = {:?}: {why}", raw.rp_id));
                return PasskeyConfig::Off(why);
            }
        }
    };
    let Some(rp_id) = rp_id else {
        if explicit_origins {
            problems.push("passkeys.origins: none is https or http on localhost with a host name (WebAuthn needs a secure context and a domain); list your app's https origins, or set passkeys.enabled = false".into());
        }
        return PasskeyConfig::Off("no allowlisted origin is https or http://localhost with a host name (WebAuthn needs a secure context and a domain, not an IP address); serve the app over https or set passkeys.rp_id and passkeys.origins".into());
    };
    let mut origins = Vec::new();
    for origin in candidates {
        let fits = usable(&origin).and_then(|()| under(&origin, &rp_id));
        match fits {
            Ok(()) => origins.push(origin),
            Err(why) if explicit_origins => {
                problems.push(format!(
                    "passkeys.origins: {origin} {why}; remove it, or pick an rp_id it is under"
                ));
            }
            // A derived list simply leaves out the origins passkeys cannot work on.
            Err(_) => {}
        }
    }
    if origins.is_empty() {
        problems.push(format!("passkeys.rp_id = {rp_id:?}: no app origin is on it or under it, so no page could use a passkey; set passkeys.origins to your app's origins, or set passkeys.enabled = false"));
    }
    if problems.len() > before {
        return PasskeyConfig::Off("the [passkeys] settings are refused".into());
    }
    PasskeyConfig::On(RelyingParty {
        id: rp_id,
        name: raw.rp_name.clone(),
        origins,
    })
}

/// WebAuthn runs only in secure contexts, and an RP ID is a domain, never an IP address.
fn usable(origin: &Origin) -> Result<(), String> {
    if is_ip(origin.host()) {
        return Err(
            "has an IP address for a host (an RP ID must be a domain; use localhost or a name)"
                .into(),
        );
    }
    if !origin.is_https() && !origin.is_loopback() {
        return Err(
            "is plain http on a real host (not a secure context; serve it over https)".into(),
        );
    }
    Ok(())
}

/// The origin's host is the RP ID or a subdomain of it (WebAuthn L3 §5.1.3).
fn under(origin: &Origin, rp_id: &str) -> Result<(), String> {
    let host = origin.host();
    if host == rp_id || host.ends_with(&format!(".{rp_id}")) {
        Ok(())
    } else {
        Err(format!("is not on {rp_id} or under it"))
    }
}

fn check_rp_id(rp_id: &str) -> Result<(), String> {
    if rp_id.contains([':', '/']) || rp_id != rp_id.to_ascii_lowercase() {
        return Err(
            "write a bare lower-case domain such as \"example.com\" (no scheme, port or path)"
                .into(),
        );
    }
    if is_ip(rp_id) {
        return Err("an RP ID must be a domain, not an IP address".into());
    }
    // A public suffix would let every site under it claim the passkeys.
    if rp_id != "localhost" && psl::suffix_str(rp_id) == Some(rp_id) {
        return Err("this is a public suffix; use your own domain under it".into());
    }
    Ok(())
}

fn is_ip(host: &str) -> bool {
    host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok()
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, PasskeyConfig};

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn load(toml: &str) -> Result<Config, String> {
        let vars = vec![("GATEHOUSE__SECURITY__SECRET_KEY".into(), KEY.into())];
        Config::from_sources(toml, vars).map_err(|e| e.to_string())
    }

    fn party(toml: &str) -> (String, Vec<String>) {
        match load(toml).unwrap().passkeys {
            PasskeyConfig::On(rp) => (
                rp.id,
                rp.origins.iter().map(|o| o.as_str().to_owned()).collect(),
            ),
            PasskeyConfig::Off(why) => panic!("off: {why}"),
        }
    }

    #[test]
    fn the_relying_party_is_derived_from_the_app_origins() {
        let (id, origins) = party(
            "[server]\npublic_origin = \"https://api.example.com\"\n[cookies]\nsecure = true\nsame_site = \"none\"\npartitioned = true\n[cors]\nallowed_origins = [\"https://app.example.com\", \"https://other.test\"]\n",
        );
        assert_eq!(id, "example.com");
        assert_eq!(
            origins,
            ["https://app.example.com", "https://api.example.com"]
        );
        let (id, origins) = party(
            "[server]\npublic_origin = \"http://localhost:8080\"\n[cors]\nallowed_origins = [\"http://localhost:8081\"]\n",
        );
        assert_eq!(id, "localhost");
        assert_eq!(origins, ["http://localhost:8081", "http://localhost:8080"]);
    }

    #[test]
    fn passkeys_are_off_with_a_reason_where_no_origin_can_use_them() {
        let config = load(
            "[server]\npublic_origin = \"http://127.0.0.1:8080\"\n[cors]\nallowed_origins = [\"http://127.0.0.1:8081\"]\n",
        )
        .unwrap();
        let PasskeyConfig::Off(why) = config.passkeys else {
            panic!("on for IP origins")
        };
        assert!(why.contains("not an IP address"), "{why}");
        let off = load("[passkeys]\nenabled = false\n").unwrap();
        assert!(matches!(off.passkeys, PasskeyConfig::Off(_)));
    }

    #[test]
    fn relying_party_settings_that_cannot_work_are_refused_with_the_fix() {
        let api = "[server]\npublic_origin = \"https://api.example.com\"\n";
        let refused = |extra: &str| load(&format!("{api}{extra}")).unwrap_err();
        assert!(
            refused("[passkeys]\nrp_id = \"https://example.com\"\n")
                .contains("bare lower-case domain")
        );
        assert!(refused("[passkeys]\nrp_id = \"co.uk\"\n").contains("public suffix"));
        assert!(refused("[passkeys]\nrp_id = \"10.0.0.1\"\n").contains("not an IP address"));
        let elsewhere = refused("[passkeys]\nrp_id = \"example.org\"\n");
        assert!(
            elsewhere.contains("no app origin is on it or under it"),
            "{elsewhere}"
        );
        let plain = refused(
            "[passkeys]\nrp_id = \"example.com\"\norigins = [\"https://app.example.com\", \"http://www.example.com\"]\n",
        );
        assert!(
            plain.contains("http://www.example.com is plain http"),
            "{plain}"
        );
        let (id, origins) = party(&format!(
            "{api}[passkeys]\nrp_id = \"app.example.com\"\norigins = [\"https://app.example.com\"]\n"
        ));
        assert_eq!((id.as_str(), origins.len()), ("app.example.com", 1));
    }
}
