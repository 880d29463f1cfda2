//! Observability: the Prometheus metrics every request and cache updates (`/metrics`) and
//! `/ready`. The request layer that feeds them is [`super::middleware`].

use super::{error_response, AppState};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// What the server counts.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    in_flight: IntGauge,
    pub(super) rejected: IntCounterVec,
    cache_hits: IntCounter,
    cache_misses: IntCounter,
    cache_bytes: IntGauge,
    cache_entries: IntGauge,
    /// Tiles dropped by `DELETE /api/cache`.
    pub cache_purged: IntCounter,
    pool: IntGaugeVec,
    /// Complaint imports by result, and complaints stored by them.
    pub imports: IntCounterVec,
    pub complaints_loaded: IntCounter,
    next_id: AtomicU64,
    prefix: String,
    /// Each route's metric handles, resolved once (label lookups were about 2% of a cached
    /// tile's profile).
    routes: std::sync::RwLock<HashMap<String, &'static RouteMetrics, foldhash::fast::RandomState>>,
    tile_mvt: prometheus::Histogram,
    tile_png: prometheus::Histogram,
}

/// The metric handles of one route. One is made per route pattern the router knows (and one
/// for "unmatched") and kept for the life of the process.
pub struct RouteMetrics {
    pub(super) name: String,
    latency: prometheus::Histogram,
    get_ok: IntCounter,
}

impl RouteMetrics {
    /// Counts an answer: by status and method, its time, and a tile's size.
    pub(super) fn count(
        &self,
        m: &Metrics,
        method: &axum::http::Method,
        resp: &Response,
        started: Instant,
    ) {
        let status = resp.status();
        if *method == axum::http::Method::GET && status == StatusCode::OK {
            self.get_ok.inc();
        } else {
            m.requests
                .with_label_values(&[self.name.as_str(), method.as_str(), status.as_str()])
                .inc();
        }
        self.latency.observe(started.elapsed().as_secs_f64());
        if status != StatusCode::OK {
            return;
        }
        let sizes = match resp.headers().get(axum::http::header::CONTENT_TYPE) {
            Some(t) if t == "application/vnd.mapbox-vector-tile" => &m.tile_mvt,
            Some(t)
                if t == "image/png"
                    && (self.name.starts_with("/tiles") || self.name.starts_with("/wmts")) =>
            {
                &m.tile_png
            }
            _ => return,
        };
        if let Some(len) = axum::body::HttpBody::size_hint(resp.body()).exact() {
            sizes.observe(len as f64);
        }
    }
}

fn reg<T: prometheus::core::Collector + Clone + 'static>(r: &Registry, c: T) -> T {
    // Names are fixed and unique: registering cannot fail.
    let _ = r.register(Box::new(c.clone()));
    c
}

/// The size of tiles served, by format.
fn tile_bytes_metric(r: &Registry) -> HistogramVec {
    reg(
        r,
        HistogramVec::new(
            HistogramOpts::new("atlas_tile_bytes", "Size of tiles served").buckets(vec![
                256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262_144.0, 524_288.0,
            ]),
            &["format"],
        )
        .expect("metric"),
    )
}

/// The request metrics: requests, their time, those in flight, and those refused.
fn http_metrics(r: &Registry) -> (IntCounterVec, HistogramVec, IntGauge, IntCounterVec) {
    let buckets = vec![
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];
    let requests = reg(
        r,
        IntCounterVec::new(
            Opts::new(
                "atlas_http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )
        .expect("metric"),
    );
    let latency = reg(
        r,
        HistogramVec::new(
            HistogramOpts::new(
                "atlas_http_request_duration_seconds",
                "Time to answer, by route",
            )
            .buckets(buckets),
            &["route"],
        )
        .expect("metric"),
    );
    let in_flight = reg(
        r,
        IntGauge::new("atlas_http_requests_in_flight", "Requests being answered").expect("metric"),
    );
    let rejected = reg(
        r,
        IntCounterVec::new(
            Opts::new(
                "atlas_http_rejected_total",
                "Requests refused to protect the server",
            ),
            &["reason"],
        )
        .expect("metric"),
    );
    (requests, latency, in_flight, rejected)
}

/// The tile cache's metrics (named, as several share a type).
struct CacheMetrics {
    hits: IntCounter,
    misses: IntCounter,
    bytes: IntGauge,
    entries: IntGauge,
    purged: IntCounter,
}

impl CacheMetrics {
    /// Registers the tile cache's hits, misses, size, entries and purges.
    fn new(r: &Registry) -> CacheMetrics {
        CacheMetrics {
            hits: reg(
                r,
                IntCounter::new("atlas_tile_cache_hits_total", "Tile cache hits").expect("metric"),
            ),
            misses: reg(
                r,
                IntCounter::new("atlas_tile_cache_misses_total", "Tile cache misses")
                    .expect("metric"),
            ),
            bytes: reg(
                r,
                IntGauge::new("atlas_tile_cache_bytes", "Bytes held by the tile cache")
                    .expect("metric"),
            ),
            entries: reg(
                r,
                IntGauge::new("atlas_tile_cache_entries", "Tiles held by the tile cache")
                    .expect("metric"),
            ),
            purged: reg(
                r,
                IntCounter::new(
                    "atlas_tile_cache_purged_total",
                    "Cached tiles dropped by DELETE /api/cache",
                )
                .expect("metric"),
            ),
        }
    }
}

/// The store's metrics: pool connections, complaint imports, and complaints stored by them.
fn store_metrics(r: &Registry) -> (IntGaugeVec, IntCounterVec, IntCounter) {
    let pool = reg(
        r,
        IntGaugeVec::new(
            Opts::new(
                "atlas_db_pool_connections",
                "PostGIS pool connections by state",
            ),
            &["state"],
        )
        .expect("metric"),
    );
    let imports = reg(
        r,
        IntCounterVec::new(
            Opts::new("atlas_imports_total", "Complaint imports by result"),
            &["result"],
        )
        .expect("metric"),
    );
    let complaints_loaded = reg(
        r,
        IntCounter::new(
            "atlas_complaints_imported_total",
            "Complaints stored by imports",
        )
        .expect("metric"),
    );
    (pool, imports, complaints_loaded)
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        let tile_bytes = tile_bytes_metric(&r);
        let (requests, latency, in_flight, rejected) = http_metrics(&r);
        let cache = CacheMetrics::new(&r);
        let (pool, imports, complaints_loaded) = store_metrics(&r);
        Metrics {
            requests,
            latency,
            in_flight,
            rejected,
            tile_mvt: tile_bytes.with_label_values(&["mvt"]),
            tile_png: tile_bytes.with_label_values(&["png"]),
            cache_hits: cache.hits,
            cache_misses: cache.misses,
            cache_bytes: cache.bytes,
            cache_entries: cache.entries,
            cache_purged: cache.purged,
            pool,
            imports,
            complaints_loaded,
            registry: r,
            routes: std::sync::RwLock::default(),
            next_id: AtomicU64::new(1),
            prefix: format!(
                "{:08x}",
                std::process::id() ^ (Instant::now().elapsed().subsec_nanos())
            ),
        }
    }

    /// The handles of a route pattern. Patterns are the router's (a fixed set), so each
    /// route's handles are made once and never freed.
    pub(super) fn route(&self, route: &str) -> &'static RouteMetrics {
        if let Some(r) = self
            .routes
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(route)
        {
            return r;
        }
        self.routes
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(route.to_string())
            .or_insert_with(|| {
                Box::leak(Box::new(RouteMetrics {
                    name: route.to_string(),
                    latency: self.latency.with_label_values(&[route]),
                    get_ok: self.requests.with_label_values(&[route, "GET", "200"]),
                }))
            })
    }

    /// A new request id: this process's prefix and a counter in hex.
    pub(super) fn request_id(&self) -> HeaderValue {
        use std::io::Write;
        let mut buf = [0u8; 32];
        let mut w = &mut buf[..];
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        // 8 + 1 + at most 16 characters: it fits.
        let _ = write!(w, "{}-{n:x}", self.prefix);
        let left = w.len();
        let len = buf.len() - left;
        HeaderValue::from_bytes(&buf[..len]).unwrap_or(HeaderValue::from_static("-"))
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// `GET /metrics`: Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let m = &state.metrics;
    let free = state.gate.available_permits();
    m.in_flight
        .set(i64::try_from(state.limits.max_concurrency.saturating_sub(free)).unwrap_or(i64::MAX));
    let (entries, bytes, hits, misses) = state.tiles.cache.stats();
    m.cache_hits.inc_by(hits.saturating_sub(m.cache_hits.get()));
    m.cache_misses
        .inc_by(misses.saturating_sub(m.cache_misses.get()));
    m.cache_bytes.set(i64::try_from(bytes).unwrap_or(i64::MAX));
    m.cache_entries
        .set(i64::try_from(entries).unwrap_or(i64::MAX));
    if let Some((size, idle)) = state.atlas.store.pool_stats() {
        m.pool.with_label_values(&["open"]).set(i64::from(size));
        m.pool
            .with_label_values(&["idle"])
            .set(i64::try_from(idle).unwrap_or(0));
        m.pool
            .with_label_values(&["in_use"])
            .set(i64::from(size) - i64::try_from(idle).unwrap_or(0));
    }
    let mut buf = Vec::new();
    if TextEncoder::new()
        .encode(&m.registry.gather(), &mut buf)
        .is_err()
    {
        return error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "metrics could not be written",
        );
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        buf,
    )
        .into_response()
}

/// `GET /ready`: 200 once the store answers and the default window's figures and grades are
/// computed (a load balancer may send traffic), else 503 with Retry-After.
pub async fn ready(State(state): State<AppState>) -> Response {
    let check = async {
        state.atlas.store.counts().await?;
        let stats = state.atlas.store.stats().await?;
        let book = state.atlas.grades().await?;
        let last = stats.latest_month();
        let w = crate::analytics::Window::parse(None, None, last)
            .map_err(crate::store::StoreError::Rejected)?;
        state.tiles.figures(&state.atlas, w, book.latest()).await?;
        Ok::<_, crate::store::StoreError>(())
    };
    match check.await {
        Ok(()) => {
            axum::Json(serde_json::json!({ "status": "ready", "store": state.atlas.store.kind() }))
                .into_response()
        }
        Err(e) => error_response(StatusCode::SERVICE_UNAVAILABLE, "not_ready", &e.to_string()),
    }
}

/// This surface's routes: metrics and readiness.
pub(super) fn routes() -> axum::Router<super::AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/metrics", get(metrics))
        .route("/ready", get(ready))
}
