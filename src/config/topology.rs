//! Will a browser on an app origin keep and send Gatehouse's cookies? The one analysis behind
//! start-up validation, the start-up log and `gatehouse doctor` (DESIGN.md §3).
//!
//! Cookies follow sites (scheme + registrable domain, by the Public Suffix List); CORS follows
//! origins. Gatehouse's cookies are host-only (no `Domain`), `HttpOnly`, `Path=/`.

use std::fmt;

use super::{CookieConfig, SameSite};
use crate::origin::Origin;

/// How the app's origin relates to the API's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    SameOrigin,
    SameSite,
    CrossSite,
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::SameOrigin => "same origin",
            Self::SameSite => "same site, other origin",
            Self::CrossSite => "cross site",
        })
    }
}

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Worth knowing; works everywhere it is supported.
    Note,
    /// Works in some browsers only.
    Limited,
    /// No browser will keep or send the cookie.
    Broken,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Note => "note",
            Self::Limited => "works only in some browsers",
            Self::Broken => "cannot work",
        })
    }
}

/// One thing that decides whether the cookie is kept and sent, and what to do about it.
#[derive(Clone, Debug)]
pub struct Finding {
    pub level: Level,
    /// What happens, in which browsers, and why.
    pub what: String,
    /// The fix: config lines, or another topology.
    pub fix: String,
}

/// The whole answer for one app origin.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub app: Origin,
    pub api: Origin,
    pub relation: Relation,
    /// The cookie attributes this relation needs.
    pub needs: &'static str,
    pub findings: Vec<Finding>,
}

impl Verdict {
    /// The worst finding's level, `None` when there is nothing to say.
    pub fn worst(&self) -> Option<Level> {
        self.findings.iter().map(|f| f.level).max()
    }

    pub fn works(&self) -> bool {
        self.worst() != Some(Level::Broken)
    }

    /// The findings start-up refuses: whatever works in no browser, and an unpartitioned
    /// cross-site cookie unless `cookies.allow_unpartitioned_cross_site` says it is meant.
    pub fn refused<'a>(&'a self, cookies: &'a CookieConfig) -> impl Iterator<Item = &'a Finding> {
        self.findings.iter().filter(move |f| match f.level {
            Level::Broken => true,
            Level::Limited => {
                self.relation == Relation::CrossSite
                    && !cookies.partitioned
                    && !cookies.allow_unpartitioned_cross_site
            }
            Level::Note => false,
        })
    }
}

const GATEWAY_FIX: &str = "or serve the app from Gatehouse itself ([gateway] spa_dir, with your API behind [[gateway.routes]]): same origin, first-party cookies, works in every browser";

/// Same origin, same site (scheme and registrable domain) or cross site.
pub fn relation(app: &Origin, api: &Origin) -> Relation {
    if app == api {
        Relation::SameOrigin
    } else if app.site() == api.site() {
        Relation::SameSite
    } else {
        Relation::CrossSite
    }
}

/// Analyses the app origin `app` calling the API at `api` with these cookie settings.
pub fn analyse(app: &Origin, api: &Origin, cookies: &CookieConfig) -> Verdict {
    let relation = relation(app, api);
    let mut findings = Vec::new();
    let mut add = |level, what: String, fix: String| findings.push(Finding { level, what, fix });
    let needs = match relation {
        Relation::SameOrigin | Relation::SameSite => "SameSite=Lax (or Strict)",
        Relation::CrossSite => {
            "SameSite=None; Secure, over https, and Partitioned where third-party cookies are blocked"
        }
    };

    if relation == Relation::CrossSite {
        if let Some(cause) = why_cross_site(app, api) {
            add(Level::Note, cause.0, cause.1);
        }
        // Cross-site requests carry only SameSite=None cookies (RFC 6265bis §5.8.3).
        if cookies.same_site != SameSite::None {
            add(
                Level::Broken,
                format!(
                    "browsers send SameSite={} cookies only with same-site requests, so the login is never sent back (RFC 6265bis §5.8.3)",
                    capitalised(cookies.same_site)
                ),
                format!(
                    "put the app on the API's site, or set [cookies] same_site = \"none\", secure = true, partitioned = true and serve the API over https; {GATEWAY_FIX}"
                ),
            );
        } else if !cookies.secure {
            // SameSite=None without Secure is rejected (RFC 6265bis §4.1.2.7).
            add(
                Level::Broken,
                "browsers drop SameSite=None cookies that are not Secure (RFC 6265bis §4.1.2.7)"
                    .into(),
                "set [cookies] secure = true and serve the API over https".into(),
            );
        } else if !api.is_https() {
            add(
                Level::Broken,
                format!("{api} is plain http: cross-site cookies need Secure, which needs https"),
                "serve the API over https ([server.tls] or a TLS proxy) and set server.public_origin to its https:// origin".into(),
            );
        } else if !cookies.partitioned {
            // Third-party cookie blocking; CHIPS lets a partitioned cookie through (CHIPS draft §3).
            add(
                Level::Limited,
                "an unpartitioned cross-site cookie is a third-party cookie: Safari refuses it, and so does Chromium wherever third-party cookies are blocked (incognito, the user's setting, headless); Firefox keeps it in a partition per top-level site".into(),
                format!("set [cookies] partitioned = true (CHIPS: Chromium 114+, Firefox 131+, Safari 18.4+); {GATEWAY_FIX}"),
            );
        } else {
            add(
                Level::Note,
                "the partitioned cookie (CHIPS) is kept even with third-party cookies blocked, in a jar for this app's site only: the same browser on another top-level site starts logged out".into(),
                "nothing to change; browsers without CHIPS support (Safari before 18.4) refuse it".into(),
            );
        }
    }

    if cookies.secure && !api.is_https() && api.is_loopback() {
        add(
            Level::Note,
            format!(
                "Secure cookies from plain-http {api}: Chromium and Firefox treat localhost as a secure context and keep them; a browser that does not drops them"
            ),
            "for development set [cookies] secure = false (allowed for http://localhost only), or serve https".into(),
        );
    }
    if api.is_https() && !app.is_https() && !app.is_loopback() {
        add(
            Level::Broken,
            format!(
                "{app} is plain http: a network attacker could act as it, and it is a different site from the https API"
            ),
            format!(
                "serve the app over https and allowlist https://{}",
                host_and_port(app)
            ),
        );
    }
    Verdict {
        app: app.clone(),
        api: api.clone(),
        relation,
        needs,
        findings,
    }
}

/// The usual reason two origins that look related are different sites, if it is one of them.
fn why_cross_site(app: &Origin, api: &Origin) -> Option<(String, String)> {
    let loopback_names = |o: &Origin| o.host() == "localhost" || o.host().ends_with(".localhost");
    let loopback_ips = |o: &Origin| o.is_loopback() && !loopback_names(o);
    if (loopback_names(app) && loopback_ips(api)) || (loopback_ips(app) && loopback_names(api)) {
        return Some((
            format!(
                "{} and {} are different sites to a browser, although both are this machine",
                app.host(),
                api.host()
            ),
            "use the same host name for both, e.g. http://localhost:8081 -> http://localhost:8080 (never mix localhost and 127.0.0.1)".into(),
        ));
    }
    if app.scheme() != api.scheme() && app.host_site() == api.host_site() {
        return Some((
            format!(
                "{} and {} differ only in scheme, and browsers compare sites with the scheme (schemeful same-site)",
                app, api
            ),
            "serve both over https".into(),
        ));
    }
    if let (Some(a), Some(b)) = (app.private_suffix(), api.private_suffix())
        && a == b
    {
        return Some((
            format!(
                "{} is on the Public Suffix List, so {} and {} are separate sites, like two different domains; no Domain attribute may name {a} either",
                a,
                app.host(),
                api.host()
            ),
            "host the app and the API under one registrable domain you own (app.example.com and api.example.com)".into(),
        ));
    }
    None
}

fn capitalised(same_site: SameSite) -> &'static str {
    match same_site {
        SameSite::Strict => "Strict",
        SameSite::Lax => "Lax",
        SameSite::None => "None",
    }
}

fn host_and_port(origin: &Origin) -> &str {
    origin
        .as_str()
        .split_once("://")
        .map_or(origin.as_str(), |(_, rest)| rest)
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = match self.worst() {
            Some(Level::Broken) => "CANNOT WORK",
            Some(Level::Limited) => "works only in some browsers",
            _ => "works",
        };
        writeln!(
            f,
            "{} -> {}: {} — {status}",
            self.app, self.api, self.relation
        )?;
        writeln!(f, "  needs: {}", self.needs)?;
        for finding in &self.findings {
            writeln!(f, "  - [{}] {}", finding.level, finding.what)?;
            writeln!(f, "    fix: {}", finding.fix)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies(same_site: SameSite, secure: bool, partitioned: bool) -> CookieConfig {
        CookieConfig {
            secure,
            same_site,
            partitioned,
            allow_unpartitioned_cross_site: false,
        }
    }

    fn verdict(app: &str, api: &str, cookies: &CookieConfig) -> Verdict {
        analyse(
            &Origin::parse(app).unwrap(),
            &Origin::parse(api).unwrap(),
            cookies,
        )
    }

    fn says(verdict: &Verdict, words: &str) -> bool {
        verdict
            .findings
            .iter()
            .any(|f| f.what.contains(words) || f.fix.contains(words))
    }

    #[test]
    fn the_same_origin_and_the_same_site_on_another_port_work_with_lax() {
        let dev = cookies(SameSite::Lax, false, false);
        let same = verdict("http://localhost:8080", "http://localhost:8080", &dev);
        assert_eq!((same.relation, same.worst()), (Relation::SameOrigin, None));
        let ports = verdict("http://localhost:8081", "http://localhost:8080", &dev);
        assert_eq!((ports.relation, ports.worst()), (Relation::SameSite, None));
        let prod = cookies(SameSite::Lax, true, false);
        let subdomains = verdict("https://app.example.com", "https://api.example.com", &prod);
        assert_eq!(
            (subdomains.relation, subdomains.worst()),
            (Relation::SameSite, None)
        );
    }

    #[test]
    fn localhost_against_127_0_0_1_is_cross_site_and_the_fix_says_not_to_mix_them() {
        let v = verdict(
            "http://localhost:8081",
            "http://127.0.0.1:8080",
            &cookies(SameSite::Lax, false, false),
        );
        assert_eq!(v.relation, Relation::CrossSite);
        assert!(!v.works());
        assert!(says(&v, "never mix localhost and 127.0.0.1"), "{v}");
    }

    #[test]
    fn a_cross_site_app_works_partitioned_and_only_in_some_browsers_without() {
        let partitioned = cookies(SameSite::None, true, true);
        let v = verdict(
            "https://app.other.net",
            "https://api.example.com",
            &partitioned,
        );
        assert_eq!(
            (v.relation, v.worst()),
            (Relation::CrossSite, Some(Level::Note))
        );
        assert_eq!(v.refused(&partitioned).count(), 0);

        let mut plain = cookies(SameSite::None, true, false);
        let v = verdict("https://app.other.net", "https://api.example.com", &plain);
        assert_eq!(v.worst(), Some(Level::Limited));
        assert!(says(&v, "partitioned = true") && says(&v, "Safari"), "{v}");
        assert_eq!(v.refused(&plain).count(), 1);
        plain.allow_unpartitioned_cross_site = true;
        assert_eq!(v.refused(&plain).count(), 0);

        let lax = cookies(SameSite::Lax, true, false);
        let v = verdict("https://app.other.net", "https://api.example.com", &lax);
        assert!(!v.works());
        assert!(
            says(&v, "same_site = \"none\"") && says(&v, "spa_dir"),
            "{v}"
        );
    }

    #[test]
    fn an_http_app_and_http_apis_with_secure_cookies_are_explained() {
        let secure = cookies(SameSite::Lax, true, false);
        let v = verdict("http://app.example.com", "https://api.example.com", &secure);
        assert_eq!(v.relation, Relation::CrossSite);
        assert!(!v.works());
        assert!(
            says(&v, "schemeful same-site") && says(&v, "plain http"),
            "{v}"
        );

        let v = verdict("http://localhost:8081", "http://localhost:8080", &secure);
        assert_eq!(v.worst(), Some(Level::Note));
        assert!(says(&v, "secure = false"), "{v}");

        let none = cookies(SameSite::None, true, true);
        let v = verdict("https://app.other.net", "http://api.example.com", &none);
        assert!(!v.works());
        assert!(says(&v, "serve the API over https"), "{v}");
    }

    #[test]
    fn two_hosts_under_a_public_suffix_are_separate_sites_and_no_domain_attribute_helps() {
        let v = verdict(
            "https://alice.github.io",
            "https://api-alice.github.io",
            &cookies(SameSite::Lax, true, false),
        );
        assert_eq!(v.relation, Relation::CrossSite);
        assert!(!v.works());
        assert!(says(&v, "github.io is on the Public Suffix List"), "{v}");
        assert!(says(&v, "no Domain attribute"), "{v}");
    }
}
