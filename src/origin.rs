//! Web origins (`scheme://host[:port]`) and the sites they belong to.
//!
//! CORS compares origins exactly; cookies follow sites (scheme + registrable domain, RFC 6265bis
//! "same-site"). Both are computed here and nowhere else, as is the one path normalisation that
//! CORS policies and gateway routes are chosen by.

use std::borrow::Cow;
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    scheme: &'static str,
    host: String,
    serialized: String,
}

impl Origin {
    /// Parses a configured origin into its canonical form (lower-case, default port elided),
    /// the form browsers send in the `Origin` header (RFC 6454 §6.1).
    /// The origin of an absolute http(s) URL (`https://app.example.com/path` ->
    /// `https://app.example.com`).
    pub fn parse_url_origin(url: &str) -> Result<Self, String> {
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err("not an absolute URL".into());
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        Self::parse(&format!("{scheme}://{}", &rest[..end]))
    }

    pub fn parse(input: &str) -> Result<Self, String> {
        let fail = |why: &str| {
            Err(format!(
                "{input:?} is not an origin: {why}; write scheme://host[:port], e.g. https://app.example.com"
            ))
        };
        match input {
            "*" => return Err("\"*\" cannot be allowlisted: browsers refuse credentials with a wildcard origin (Fetch standard, CORS protocol); list each origin".into()),
            "null" => return Err("\"null\" cannot be allowlisted: sandboxed iframes, file: pages and redirects all send it, so it identifies nobody".into()),
            _ => {}
        }
        let Some((scheme, rest)) = input.split_once("://") else {
            return fail("no scheme");
        };
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => "http",
            "https" => "https",
            _ => return fail("the scheme must be http or https"),
        };
        if rest.ends_with('/') {
            return fail("remove the trailing slash");
        }
        if rest.contains(['/', '?', '#', '@', '\\']) || rest.is_empty() {
            return fail("an origin has no path, query, fragment or user name");
        }
        let Some((host, port)) = split_host_port(rest) else {
            return fail("bad host or port");
        };
        let host = host.to_ascii_lowercase();
        let host_ok = if host.starts_with('[') {
            host.ends_with(']')
                && host[1..host.len() - 1]
                    .parse::<std::net::Ipv6Addr>()
                    .is_ok()
        } else {
            !host.is_empty()
                && host.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
        };
        if !host_ok {
            return fail("bad host name");
        }
        let default_port = if scheme == "http" { 80 } else { 443 };
        let serialized = match port {
            Some(p) if p != default_port => format!("{scheme}://{host}:{p}"),
            _ => format!("{scheme}://{host}"),
        };
        Ok(Self {
            scheme,
            host,
            serialized,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.serialized
    }

    pub fn is_https(&self) -> bool {
        self.scheme == "https"
    }

    /// Hosts browsers treat as potentially trustworthy over plain http (Secure Contexts §3.1).
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self.host.ends_with(".localhost")
            || self.host == "[::1]"
            || self.host.starts_with("127.")
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn scheme(&self) -> &'static str {
        self.scheme
    }

    /// The host's public suffix when it has more than one label (`github.io`, `co.uk`): the
    /// kind under which two hosts look related but are separate sites.
    pub fn private_suffix(&self) -> Option<&str> {
        let suffix = psl::suffix_str(&self.host)?;
        (suffix.contains('.') && suffix != self.host).then_some(suffix)
    }

    /// The schemeful site: scheme plus registrable domain (RFC 6265bis §5.2, "same-site").
    pub fn site(&self) -> String {
        format!("{}://{}", self.scheme, self.host_site())
    }

    /// The registrable domain (or the host, for IP addresses and single-label names).
    pub fn host_site(&self) -> &str {
        let is_ip = self.host.starts_with('[') || self.host.parse::<std::net::Ipv4Addr>().is_ok();
        if is_ip || !self.host.contains('.') {
            &self.host
        } else {
            psl::domain_str(&self.host).unwrap_or(&self.host)
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.serialized)
    }
}

fn split_host_port(rest: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if rest.starts_with('[') {
        let end = rest.find(']')?;
        let (host, after) = rest.split_at(end + 1);
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    let port = match port {
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse::<u16>().ok().filter(|p| *p > 0)?)
        }
        Some(_) => return None,
        None => None,
    };
    Some((host, port))
}

/// The path with percent-escapes decoded, empty and `.` segments dropped and `..` resolved
/// (RFC 3986 §5.2.4); `None` if it does not decode to UTF-8 or climbs above the root. A path
/// that is already normal (every request an ordinary client sends) is returned as it is.
pub fn normalise_path(raw: &str) -> Option<Cow<'_, str>> {
    let normal = raw == "/"
        || (raw.starts_with('/')
            && !raw.contains(['%', '\\'])
            && raw[1..]
                .split('/')
                .all(|s| !s.is_empty() && s != "." && s != ".."));
    if normal {
        return Some(Cow::Borrowed(raw));
    }
    resolve(raw).map(Cow::Owned)
}

/// [`normalise_path`] the long way, for every input.
fn resolve(raw: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut input = raw.bytes();
    while let Some(b) = input.next() {
        if b == b'%' {
            let hex = [input.next()?, input.next()?];
            bytes.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            bytes.push(b);
        }
    }
    let decoded = String::from_utf8(bytes).ok()?;
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split(['/', '\\']) {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop()?;
            }
            s => segments.push(s),
        }
    }
    Some(format!("/{}", segments.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_returned_as_they_are_are_the_ones_the_long_way_leaves_unchanged() {
        let paths = [
            "/",
            "/session",
            "/employees/1",
            "/a/b/c",
            "",
            "a",
            "//",
            "/a//b",
            "/a/",
            "/.",
            "/./a",
            "/a/..",
            "/a/../b",
            "/..",
            "/%2e%2e",
            "/a%2Fb",
            "/a\\b",
            "/a/.b",
            "/a/..b",
            "/%zz",
            "/caf%C3%A9",
            "/é",
        ];
        for path in paths {
            assert_eq!(
                normalise_path(path).map(Cow::into_owned),
                resolve(path),
                "{path:?}"
            );
        }
    }

    #[test]
    fn origins_are_canonicalised_like_browsers_send_them() {
        assert_eq!(
            Origin::parse("HTTPS://App.Example.COM:443")
                .unwrap()
                .as_str(),
            "https://app.example.com"
        );
        assert_eq!(
            Origin::parse("http://localhost:8081").unwrap().as_str(),
            "http://localhost:8081"
        );
        assert_eq!(
            Origin::parse("http://[::1]:80").unwrap().as_str(),
            "http://[::1]"
        );
    }

    #[test]
    fn things_that_are_not_origins_are_refused() {
        for bad in [
            "*",
            "null",
            "localhost:8081",
            "ftp://a.com",
            "https://a.com/",
            "https://a.com/x",
            "https://u@a.com",
            "https://a.com:0",
            "https://a.com:99999",
            "https://a..com",
            "https://",
            "https://a.com:",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn sites_use_the_public_suffix_list() {
        let site = |s: &str| Origin::parse(s).unwrap().site();
        assert_eq!(
            site("https://api.example.com"),
            site("https://app.example.com")
        );
        assert_ne!(
            site("https://a.example.co.uk"),
            site("https://b.other.co.uk")
        );
        assert_ne!(
            site("http://app.example.com"),
            site("https://api.example.com")
        );
        assert_eq!(site("http://localhost:8080"), site("http://localhost:8081"));
        assert_ne!(site("http://localhost:8080"), site("http://127.0.0.1:8081"));
    }
}

#[cfg(test)]
mod path_tests {
    use super::normalise_path;

    #[test]
    fn paths_are_normalised_before_choosing_a_policy() {
        assert_eq!(
            normalise_path("/race/results").as_deref(),
            Some("/race/results")
        );
        assert_eq!(
            normalise_path("/race/../employees").as_deref(),
            Some("/employees")
        );
        assert_eq!(
            normalise_path("/race/%2e%2e/employees").as_deref(),
            Some("/employees")
        );
        assert_eq!(
            normalise_path("/race%2F..%2Femployees").as_deref(),
            Some("/employees")
        );
        assert_eq!(
            normalise_path("//race/./results/").as_deref(),
            Some("/race/results")
        );
        assert_eq!(
            normalise_path("/race\\..\\employees").as_deref(),
            Some("/employees")
        );
        assert_eq!(normalise_path("/../x"), None);
        assert_eq!(normalise_path("/%ff"), None);
        assert_eq!(normalise_path("/%zz"), None);
    }
}
