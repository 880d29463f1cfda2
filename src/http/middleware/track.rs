//! The request layer, hand-written (an A/B measurement showed tower's stack of layers cost
//! 8% of cached-tile throughput): a request id (taken from `X-Request-Id` or made) on the
//! answer and on every log line of the request (and a `debug` span carrying it), a rate limit
//! per client, a bound on concurrent requests (503 with Retry-After when full), a time limit
//! per request (503), CORS, and the figures for [`super::super::observe::Metrics`]. Its
//! settings are the server's [`crate::config::Limits`], `[http] rate_limit` and
//! `[http] cors_origins`.

use super::super::observe::RouteMetrics;
use super::super::{error_response, AppState};
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

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
        None => {
            if let Ok(Ok(p)) = tokio::time::timeout(
                state.limits.queue_wait,
                Arc::clone(&state.gate).acquire_owned(),
            )
            .await
            {
                p
            } else {
                m.rejected.with_label_values(&["overloaded"]).inc();
                let r = error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "overloaded",
                    "the server is answering as many requests as it can: try again shortly",
                );
                return (r, None);
            }
        }
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
