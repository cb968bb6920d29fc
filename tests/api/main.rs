//! The API test binary: every test starts the real app on port 0 with its own SQLite file and
//! talks HTTP to it; the store, node and outage tests also use throwaway PostgreSQL and Redis
//! servers (`services`).

mod attacks;
mod cors;
mod crash;
mod csrf;
mod directory;
mod docs;
mod http;
mod lifecycle;
mod nodes;
mod outage;
mod properties;
mod public;
mod services;
mod session;
mod store;
mod support;
mod throttle;
mod users;
