//! Gatehouse: session authentication for single-page apps whose API lives on another origin.
//!
//! The crate is organised by capability, and dependencies run one way, down this list (see
//! `docs/architecture.md`; `scripts/check-layers` enforces it): [`cli`]; [`app`] and [`state`];
//! [`routes`] (HTTP shapes only); [`http`] (the edge); [`cors`] and [`csrf`]; [`session`];
//! the domain services [`account`] and [`directory`]; [`password`], [`throttle`], [`audit`],
//! [`mail`] and [`tls`];
//! [`store`]; and the leaves ([`config`], [`error`], [`clock`], [`crypto`], [`origin`],
//! [`metrics`], [`peer`], and the record types in `account::records` and `directory::records`).

pub mod account;
pub mod app;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod config;
pub mod cors;
pub mod crypto;
pub mod csrf;
pub mod directory;
pub mod error;
pub mod gateway;
pub mod http;
pub mod identity;
pub mod mail;
pub mod metrics;
pub mod origin;
pub mod password;
pub mod peer;
pub mod race;
pub mod routes;
pub mod session;
pub mod state;
pub mod store;
pub mod throttle;
pub mod tls;

pub use app::App;
pub use config::Config;
pub use state::AppState;
