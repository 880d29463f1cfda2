//! The HTTP surface: one file per surface, one error mapping for all.

mod health;

use crate::error::Error;
use crate::store::{Store, StoreError};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{routing::get, Json, Router};
use std::sync::Arc;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
}

/// The router, built apart from `main` so tests drive it without a port.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health::health))
        .fallback(not_found)
        .with_state(state)
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

async fn not_found(uri: axum::http::Uri) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "not_found",
        &format!("no such path: {}", uri.path()),
    )
}

/// The JSON error body every 4xx/5xx carries: `{"error":{"code":…,"message":…}}`.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    let mut resp = (status, Json(body)).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        resp.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("5"),
        );
    }
    resp
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match &self {
            Error::BadRequest(m) => error_response(StatusCode::BAD_REQUEST, "bad_request", m),
            Error::NotFound(m) => error_response(StatusCode::NOT_FOUND, "not_found", m),
            Error::Format(e) => error_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_data",
                &e.to_string(),
            ),
            Error::Store(StoreError::Unavailable(m)) => {
                error_response(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", m)
            }
            Error::Store(StoreError::Rejected(m)) => {
                error_response(StatusCode::UNPROCESSABLE_ENTITY, "rejected", m)
            }
            other => {
                tracing::error!(error = %other, "internal error");
                error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; see the server log",
                )
            }
        }
    }
}
