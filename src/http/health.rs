//! `GET /health`: the store's kind and its counts per table; 503 when the store is unreachable.

use super::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

pub async fn health(State(state): State<AppState>) -> Response {
    match state.atlas.store.counts().await {
        Ok(counts) => Json(serde_json::json!({
            "status": "ok",
            "store": state.atlas.store.kind(),
            "counts": counts,
        }))
        .into_response(),
        Err(e) => {
            let mut resp = (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({
                    "status": "unavailable",
                    "store": state.atlas.store.kind(),
                    "error": { "code": "store_unavailable", "message": e.to_string() },
                })),
            )
                .into_response();
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
            resp
        }
    }
}

/// This surface's routes: the health check.
pub(super) fn routes() -> axum::Router<super::AppState> {
    use axum::routing::get;
    axum::Router::new().route("/health", get(health))
}
