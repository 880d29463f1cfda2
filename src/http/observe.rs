//! Observability and self-defence of every request: a request id (taken from `X-Request-Id`
//! or made) on the answer and on every log line of the request (and a `debug` span carrying
//! it), Prometheus metrics (`/metrics`), a bound on
//! concurrent requests (503 with Retry-After when full) and a time limit per request (503);
//! and `/ready`.

use super::{error_response, AppState};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

/// What the server counts.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    in_flight: IntGauge,
    rejected: IntCounterVec,
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
    name: String,
    latency: prometheus::Histogram,
    get_ok: IntCounter,
}

impl RouteMetrics {
    /// Counts an answer: by status and method, its time, and a tile's size.
    fn count(&self, m: &Metrics, method: &axum::http::Method, resp: &Response, started: Instant) {
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

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        let buckets = vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let tile_bytes = reg(
            &r,
            HistogramVec::new(
                HistogramOpts::new("atlas_tile_bytes", "Size of tiles served").buckets(vec![
                    256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262_144.0, 524_288.0,
                ]),
                &["format"],
            )
            .expect("metric"),
        );
        Metrics {
            requests: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "atlas_http_requests_total",
                        "HTTP requests by route, method and status",
                    ),
                    &["route", "method", "status"],
                )
                .expect("metric"),
            ),
            latency: reg(
                &r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "atlas_http_request_duration_seconds",
                        "Time to answer, by route",
                    )
                    .buckets(buckets),
                    &["route"],
                )
                .expect("metric"),
            ),
            in_flight: reg(
                &r,
                IntGauge::new("atlas_http_requests_in_flight", "Requests being answered")
                    .expect("metric"),
            ),
            rejected: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "atlas_http_rejected_total",
                        "Requests refused to protect the server",
                    ),
                    &["reason"],
                )
                .expect("metric"),
            ),
            tile_mvt: tile_bytes.with_label_values(&["mvt"]),
            tile_png: tile_bytes.with_label_values(&["png"]),
            cache_hits: reg(
                &r,
                IntCounter::new("atlas_tile_cache_hits_total", "Tile cache hits").expect("metric"),
            ),
            cache_misses: reg(
                &r,
                IntCounter::new("atlas_tile_cache_misses_total", "Tile cache misses")
                    .expect("metric"),
            ),
            cache_bytes: reg(
                &r,
                IntGauge::new("atlas_tile_cache_bytes", "Bytes held by the tile cache")
                    .expect("metric"),
            ),
            cache_entries: reg(
                &r,
                IntGauge::new("atlas_tile_cache_entries", "Tiles held by the tile cache")
                    .expect("metric"),
            ),
            cache_purged: reg(
                &r,
                IntCounter::new(
                    "atlas_tile_cache_purged_total",
                    "Cached tiles dropped by DELETE /api/cache",
                )
                .expect("metric"),
            ),
            pool: reg(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "atlas_db_pool_connections",
                        "PostGIS pool connections by state",
                    ),
                    &["state"],
                )
                .expect("metric"),
            ),
            imports: reg(
                &r,
                IntCounterVec::new(
                    Opts::new("atlas_imports_total", "Complaint imports by result"),
                    &["result"],
                )
                .expect("metric"),
            ),
            complaints_loaded: reg(
                &r,
                IntCounter::new(
                    "atlas_complaints_imported_total",
                    "Complaints stored by imports",
                )
                .expect("metric"),
            ),
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
    fn route(&self, route: &str) -> &'static RouteMetrics {
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
    fn request_id(&self) -> HeaderValue {
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

/// A limit of requests per second per client address (GCRA, from the governor crate).
pub struct RateLimit {
    limiter: governor::DefaultKeyedRateLimiter<std::net::IpAddr>,
    clock: governor::clock::DefaultClock,
    trust_forwarded_for: bool,
    per_second: u32,
}

impl RateLimit {
    /// `None` when `per_second` is 0 (no limit).
    pub fn new(per_second: u32, trust_forwarded_for: bool) -> Option<RateLimit> {
        let rate = std::num::NonZeroU32::new(per_second)?;
        let burst = std::num::NonZeroU32::new(per_second.saturating_mul(2)).unwrap_or(rate);
        Some(RateLimit {
            limiter: governor::RateLimiter::keyed(
                governor::Quota::per_second(rate).allow_burst(burst),
            ),
            clock: governor::clock::DefaultClock::default(),
            trust_forwarded_for,
            per_second,
        })
    }

    /// The client's address: the peer, or the first `X-Forwarded-For` address when trusted.
    fn client(&self, req: &Request) -> Option<std::net::IpAddr> {
        if self.trust_forwarded_for {
            if let Some(ip) = req
                .headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse().ok())
            {
                return Some(ip);
            }
        }
        req.extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip())
    }

    /// Seconds to wait when the client is over its limit.
    fn check(&self, req: &Request) -> Option<u64> {
        use governor::clock::Clock;
        let ip = self.client(req)?;
        match self.limiter.check_key(&ip) {
            Ok(()) => {
                // Forget clients quiet long enough to be full again (bounded memory).
                if self.limiter.len() > 100_000 {
                    self.limiter.retain_recent();
                }
                None
            }
            Err(not_until) => Some(not_until.wait_time_from(self.clock.now()).as_secs().max(1)),
        }
    }
}

/// The request id to use: the client's `X-Request-Id` when it is short and plain, else ours.
fn incoming_id(req: &Request) -> Option<HeaderValue> {
    req.headers()
        .get("x-request-id")
        .filter(|v| {
            let b = v.as_bytes();
            !b.is_empty()
                && b.len() <= 64
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(c))
        })
        .cloned()
}

/// What a handler's error leaves on its response for the request log (the client sees only
/// "internal error").
#[derive(Clone)]
pub struct Failure(pub String);

/// The layer every routed request goes through (a `route_layer`): CORS (preflights answered
/// here), request id, rate limit, concurrency bound, time limit, metrics and logs.
///
/// A hand-written tower service rather than `from_fn`: it calls the route without cloning it
/// and boxes one future per request; a cached tile's whole answer costs a few microseconds.
#[derive(Clone)]
pub struct Track {
    state: AppState,
}

impl Track {
    pub fn new(state: AppState) -> Track {
        Track { state }
    }
}

impl<S> tower_layer::Layer<S> for Track {
    type Service = Tracked<S>;
    fn layer(&self, inner: S) -> Tracked<S> {
        Tracked {
            state: self.state.clone(),
            inner,
        }
    }
}

/// A route wrapped by [`Track`].
#[derive(Clone)]
pub struct Tracked<S> {
    state: AppState,
    inner: S,
}

type Answer = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Response, std::convert::Infallible>> + Send>,
>;

impl<S> tower_service::Service<Request> for Tracked<S>
where
    S: tower_service::Service<Request, Response = Response, Error = std::convert::Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = Answer;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), std::convert::Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Answer {
        let state = &self.state;
        if let Some(r) = state.cors.preflight(req.method(), req.headers()) {
            return Box::pin(std::future::ready(Ok(r)));
        }
        let m = &state.metrics;
        let id = incoming_id(&req).unwrap_or_else(|| m.request_id());
        let origin = req.headers().get(axum::http::header::ORIGIN).cloned();
        let route = m.route(
            req.extensions()
                .get::<MatchedPath>()
                .map_or("unmatched", MatchedPath::as_str),
        );
        let method = req.method().clone();
        let uri = req.uri().clone();
        let started = Instant::now();
        if let Some(wait) = state.rate.as_ref().and_then(|r| r.check(&req)) {
            // Refused before any permit is taken or the route is called.
            m.rejected.with_label_values(&["rate_limited"]).inc();
            let per = state.rate.as_ref().map_or(0, |r| r.per_second);
            let mut r = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                &format!("more than {per} requests a second from this address: slow down"),
            );
            if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
                r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
            }
            r.headers_mut().insert("x-request-id", id);
            state.cors.decorate(origin.as_ref(), &mut r);
            return Box::pin(std::future::ready(Ok(r)));
        }
        // A span only when someone reads debug logs: at info it was 8% of a cached tile.
        // Events below carry the id, method and route themselves.
        let span = tracing::debug_span!("request", id = ?id, method = %method, route = route.name);
        let permit = Arc::clone(&state.gate).try_acquire_owned().ok();
        let answer = self.inner.call(req);
        let state = state.clone();
        Box::pin(async move {
            let (mut resp, failure) = run(&state, permit, answer, started, span).await;
            route.count(&state.metrics, &method, &resp, started);
            log(
                &resp,
                failure.as_deref(),
                &id,
                &method,
                &uri,
                route,
                started,
            );
            resp.headers_mut().insert("x-request-id", id);
            state.cors.decorate(origin.as_ref(), &mut resp);
            Ok(resp)
        })
    }
}

/// Waits for a permit when none was free, then runs the route under the time limit.
async fn run<F>(
    state: &AppState,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    answer: F,
    started: Instant,
    span: tracing::Span,
) -> (Response, Option<String>)
where
    F: std::future::Future<Output = Result<Response, std::convert::Infallible>>,
{
    let m = &state.metrics;
    let _permit = match permit {
        Some(p) => p,
        None => match tokio::time::timeout(
            state.limits.queue_wait,
            Arc::clone(&state.gate).acquire_owned(),
        )
        .await
        {
            Ok(Ok(p)) => p,
            _ => {
                m.rejected.with_label_values(&["overloaded"]).inc();
                let r = error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "overloaded",
                    "the server is answering as many requests as it can: try again shortly",
                );
                return (r, None);
            }
        },
    };
    let mut answer = std::pin::pin!(answer.instrument(span));
    // Most answers (a cached tile) are ready at the first poll: the timer is only set for
    // those that are not.
    let first = std::future::poll_fn(|cx| {
        std::task::Poll::Ready(std::future::Future::poll(answer.as_mut(), cx))
    })
    .await;
    let answered = match first {
        std::task::Poll::Ready(r) => Ok(r),
        std::task::Poll::Pending => {
            tokio::time::timeout_at(
                (started + state.limits.request_timeout).into(),
                answer.as_mut(),
            )
            .await
        }
    };
    match answered {
        Ok(Ok(mut r)) => {
            let failure = r.extensions_mut().remove::<Failure>().map(|f| f.0);
            (r, failure)
        }
        Ok(Err(never)) => match never {},
        Err(_) => {
            m.rejected.with_label_values(&["timeout"]).inc();
            let r = error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "the request took too long and was stopped: try again, or ask for less",
            );
            let secs = state.limits.request_timeout.as_secs_f64();
            (r, Some(format!("timed out after {secs} s")))
        }
    }
}

/// Server errors and slow answers are logged at `warn` (or `error` with what failed), the
/// rest at `debug`; each line names the request id, method, route and path.
fn log(
    resp: &Response,
    failure: Option<&str>,
    id: &HeaderValue,
    method: &axum::http::Method,
    uri: &axum::http::Uri,
    route: &RouteMetrics,
    started: Instant,
) {
    let ms = started.elapsed().as_secs_f64() * 1e3;
    let status = resp.status().as_u16();
    let (id, route) = (id.to_str().unwrap_or("?"), route.name.as_str());
    let path = uri.path();
    if let Some(f) = failure {
        tracing::error!(id, %method, route, path, status, ms, failure = f, "answered with a server error");
    } else if resp.status().is_server_error() {
        tracing::warn!(id, %method, route, path, status, ms, "answered with a server error");
    } else if ms > 1000.0 {
        tracing::warn!(id, %method, route, path, status, ms, "slow request");
    } else {
        tracing::debug!(id, %method, route, path, status, ms, "answered");
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
