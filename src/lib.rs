//! Gatehouse: session authentication for single-page apps whose API lives on another origin.
//!
//! The crate is organised by capability: [`session`], [`csrf`], [`cors`], [`password`] and
//! [`roles`] hold the security rules; [`store`] the persistence traits and backends; [`routes`]
//! the HTTP resources; [`app`] ties them into one server that tests start exactly as
//! production does.

pub mod account;
pub mod app;
pub mod audit;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod cors;
pub mod crypto;
pub mod csrf;
pub mod directory;
pub mod error;
pub mod extract;
pub mod http;
pub mod metrics;
pub mod password;
pub mod race;
pub mod roles;
pub mod routes;
pub mod session;
pub mod store;
pub mod throttle;

pub use app::{App, AppState};
pub use config::Config;
