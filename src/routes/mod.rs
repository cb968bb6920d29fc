//! The HTTP surface, one module per resource, each exposing its own `router()`.

mod health;
mod session;
mod users;

use axum::Router;

use crate::app::AppState;

pub use session::SessionBody;

/// Routes that need the session layer (everything under the API prefix).
pub fn api() -> Router<AppState> {
    Router::new()
        .merge(session::router())
        .merge(users::router())
}

/// Liveness and readiness, outside the session and CSRF layers.
pub fn ops() -> Router<AppState> {
    health::router()
}
