//! The API test binary: every test starts the real app on port 0 with its own SQLite file and
//! talks HTTP to it; the store, node and outage tests also use throwaway PostgreSQL and Redis
//! servers (`support::services`). Tests are laid out by capability: each area holds its
//! behaviour and attack tests together. `docs/security.md` maps the OWASP ASVS requirements
//! to these tests.

mod accounts;
mod cors;
mod csrf;
mod directory;
mod docs;
mod gateway;
mod http;
mod properties;
mod session;
mod stores;
mod support;
