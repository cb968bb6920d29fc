//! JSON answers: `axum::Json` with its buffers sized up front.
//!
//! `axum::Json` starts its body at 128 bytes and grows it (twice for a logged-in session
//! reply), and its header map at one header, which the edge then grows for its own. Here the
//! body starts at [`BODY_BYTES`] and the map has room for [`EDGE_HEADERS`] more.

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ApiError;

/// Enough for most answers (a logged-in session reply is about 360 bytes, an employee 420).
const BODY_BYTES: usize = 512;

/// Room for the headers the edge adds to any answer (CORS, security headers, request id).
pub const EDGE_HEADERS: usize = 16;

/// A JSON answer with status 200 (pair it with a status for another).
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(BODY_BYTES);
        if let Err(e) = serde_json::to_writer(&mut body, &self.0) {
            return ApiError::internal(anyhow::anyhow!("answer not serialisable: {e}"))
                .into_response();
        }
        let mut response = Response::new(Body::from(body));
        let headers = response.headers_mut();
        headers.reserve(EDGE_HEADERS + 1);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}
