//! Request extractors that answer bad input with [`ApiError`]s instead of axum's plain-text
//! rejections: JSON bodies and path parameters.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::{StatusCode, header, request::Parts};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldErrors};

/// A JSON body: 415 without `application/json`, 413 over the size limit, 400 when it is not
/// JSON, 422 when it is JSON of the wrong shape. Unknown fields are ignored (Backbone posts
/// the whole model).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(crate::csrf::is_json);
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::MalformedJson("the body could not be read".into())
            }
        })?;
        serde_json::from_slice(&bytes).map(ApiJson).map_err(|e| {
            use serde_json::error::Category;
            match e.classify() {
                Category::Data => ApiError::Validation {
                    // serde's own text may quote the input; say where, not what.
                    message: format!(
                        "the JSON has the wrong shape (a field has the wrong type) at line {} column {}",
                        e.line(),
                        e.column()
                    ),
                    fields: FieldErrors::new(),
                },
                _ => ApiError::MalformedJson(format!("line {} column {}", e.line(), e.column())),
            }
        })
    }
}

/// A path parameter; one that does not parse names no resource, so it is a 404.
pub struct PathParam<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParam<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| Self(v))
            .map_err(|_| ApiError::NotFound)
    }
}

/// A query string; one that does not parse is a 422 `validation_failed`.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| Self(v))
            .map_err(|_| ApiError::Validation {
                message: "the query string could not be read".into(),
                fields: FieldErrors::new(),
            })
    }
}
