//! Seed 004's public race results: any origin may read them, without credentials. Mounted
//! outside the session and CSRF layers, so cookies are never even looked at here.

use std::sync::Arc;

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::clock::Clock;
use crate::http::Json;
use crate::race::{self, RaceResults};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(race_results, refresh_race_results))
}

/// The current standings.
#[utoipa::path(get, path = "/race/results", tag = "public", responses(
    (status = 200, description = "Standings; any origin, never credentials", body = RaceResults),
))]
async fn race_results(State(clock): State<Arc<dyn Clock>>) -> Json<RaceResults> {
    Json(race::results(clock.now()))
}

/// The tutorial's "refresh" button: the same standings, by POST.
#[utoipa::path(post, path = "/race/results", tag = "public", responses(
    (status = 200, description = "Standings; any origin, never credentials", body = RaceResults),
))]
async fn refresh_race_results(State(clock): State<Arc<dyn Clock>>) -> Json<RaceResults> {
    Json(race::results(clock.now()))
}
