//! The single-page app on Gatehouse's own origin (`[gateway] spa_dir`): its static files, with
//! long caching for hashed assets, and `index.html` for every other page the browser asks for,
//! with the current CSRF token in `<meta name="csrf-token">` (seed 001's way).

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::error::ApiError;
use crate::origin::normalise_path;

pub struct Spa {
    dir: PathBuf,
    csp: HeaderValue,
}

/// A file name whose stem ends in a content hash (`app-3f9a1c2b.js`, `index-BT4xk3_a.css`):
/// 8 to 64 letters, digits or `_` after the last `-` or `.`, at least one of them a digit.
fn is_hashed(name: &str) -> bool {
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    let Some((_, hash)) = stem.rsplit_once(['-', '.']) else {
        return false;
    };
    (8..=64).contains(&hash.len())
        && hash.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && hash.bytes().any(|b| b.is_ascii_digit())
}

/// Whether the browser asks for a page (navigation), not data.
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

impl Spa {
    pub fn new(dir: PathBuf, csp: &str) -> Option<Self> {
        Some(Self {
            dir,
            csp: HeaderValue::try_from(csp).ok()?,
        })
    }

    /// The file a path names inside the folder (never `index.html`, which is rendered).
    pub fn file_for(&self, raw_path: &str) -> Option<PathBuf> {
        let path = normalise_path(raw_path)?;
        let relative = path.trim_start_matches('/');
        if relative.is_empty() || relative == "index.html" {
            return None;
        }
        let file = self.dir.join(relative);
        file.is_file().then_some(file)
    }

    /// A static file, with its type, ranges and conditional requests handled by tower-http.
    pub async fn serve_file(&self, file: PathBuf, request: Request) -> Response {
        let hashed = file
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(is_hashed);
        let served = match ServeFile::new(&file).oneshot(request).await {
            Ok(response) => response.map(Body::new),
            Err(e) => return ApiError::internal(e).into_response(),
        };
        let mut response = served.into_response();
        let headers = response.headers_mut();
        // A hashed name never changes its content; anything else is checked on every use.
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(if hashed {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            }),
        );
        headers.insert(header::CONTENT_SECURITY_POLICY, self.csp.clone());
        response
    }

    /// `index.html` with `<meta name="csrf-token" content="…">` in its head, never cached.
    pub async fn index(&self, csrf_token: &str) -> Response {
        let text = match tokio::fs::read_to_string(self.dir.join("index.html")).await {
            Ok(text) => text,
            Err(e) => return ApiError::internal(e).into_response(),
        };
        let html = with_token(&text, csrf_token);
        let mut response = html.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        // The page carries a token bound to this browser: it must not be stored anywhere.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::CONTENT_SECURITY_POLICY, self.csp.clone());
        response
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The page with the token's meta tag right after `<head …>` (or first, if there is no head).
fn with_token(page: &str, token: &str) -> String {
    let escaped: String = token
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect();
    let meta = format!("<meta name=\"csrf-token\" content=\"{escaped}\">");
    let lower = page.to_ascii_lowercase();
    let at = lower
        .find("<head")
        .and_then(|start| lower[start..].find('>').map(|end| start + end + 1));
    match at {
        Some(at) => format!("{}{meta}{}", &page[..at], &page[at..]),
        None => format!("{meta}{page}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_asset_names_are_told_from_plain_ones() {
        assert!(is_hashed("app-3f9a1c2b.js"));
        assert!(is_hashed("index-BT4xk3_a.css"));
        assert!(is_hashed("chunk.0123abcd.js"));
        assert!(!is_hashed("app.js"));
        assert!(!is_hashed("backbone-gatehouse.js"));
        assert!(!is_hashed("favicon.ico"));
    }

    #[test]
    fn the_token_goes_into_the_head_and_cannot_break_out_of_the_attribute() {
        let page = "<!doctype html><HTML><Head lang=x><title>t</title></head></html>";
        let out = with_token(page, "abc\"><script>");
        assert_eq!(
            out,
            "<!doctype html><HTML><Head lang=x><meta name=\"csrf-token\" content=\"abcscript\"><title>t</title></head></html>"
        );
        assert!(with_token("<p>no head</p>", "t").starts_with("<meta name=\"csrf-token\""));
    }
}
