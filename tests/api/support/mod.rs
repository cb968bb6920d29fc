//! Test support: the app under test (`app`), the client that talks to it (`browser`), and the
//! throwaway PostgreSQL and Redis servers (`services`), and an upstream API for the gateway
//! (`upstream`).

pub mod app;
pub mod authenticator;
pub mod browser;
pub mod passkey;
pub mod services;
pub mod smtp;
pub mod upstream;

pub use app::{TestApp, snapshot};
pub use browser::{Browser, Reply, Req, raw_http, statuses};

pub const APP_ORIGIN: &str = "http://localhost:8081";
pub const API_ORIGIN: &str = "http://localhost:8080";
/// Settings of a deployment behind a proxy that terminates TLS: an https public origin on a real
/// host name, Secure cookies, an https app origin.
pub const BEHIND_TLS: [(&str, &str); 3] = [
    (
        "GATEHOUSE__SERVER__PUBLIC_ORIGIN",
        "https://api.example.com",
    ),
    ("GATEHOUSE__COOKIES__SECURE", "true"),
    (
        "GATEHOUSE__CORS__ALLOWED_ORIGINS",
        "[\"https://app.example.com\"]",
    ),
];
pub const SECRET_KEY: &str = "test-secret-key-that-is-long-enough-0123456789";
