//! What an operator relies on: request ids, Prometheus metrics that count what happened,
//! /ready, CORS, and the server's own limits (a request that takes too long, or one too many
//! at once, gets a JSON 503 with Retry-After instead of a hang).

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the exact values it expects and takes the defaults its calls need

mod common;

use common::call;
use compound_atlas::http::Limits;
use compound_atlas::AppState;
use std::time::Duration;

async fn app_with(limits: Limits) -> axum::Router {
    let atlas = common::embedded_atlas(&common::city(0.05, 111)).await;
    let mut s = common::settings_with_tokens();
    s.limits = limits;
    compound_atlas::app(AppState::new(atlas, &s))
}

#[tokio::test]
async fn requests_carry_ids_and_are_counted() {
    let app = app_with(Limits::default()).await;
    let r = call(&app, "GET", "/health", &[], vec![]).await;
    let id = r.headers["x-request-id"].to_str().unwrap().to_string();
    assert!(!id.is_empty());
    let r2 = call(&app, "GET", "/health", &[], vec![]).await;
    assert_ne!(
        r2.headers["x-request-id"].to_str().unwrap(),
        id,
        "ids differ"
    );
    let mine = call(
        &app,
        "GET",
        "/health",
        &[("x-request-id", "abc-123")],
        vec![],
    )
    .await;
    assert_eq!(
        mine.headers["x-request-id"], "abc-123",
        "a client's id is kept"
    );
    let evil = call(
        &app,
        "GET",
        "/health",
        &[("x-request-id", "a b\"<script>")],
        vec![],
    )
    .await;
    assert_ne!(evil.headers["x-request-id"], "a b\"<script>");
    for _ in 0..3 {
        call(&app, "GET", "/tiles/atlas/12/3418/1606.mvt", &[], vec![]).await;
    }
    call(&app, "GET", "/tiles/atlas/99/0/0.mvt", &[], vec![]).await;
    let m = call(&app, "GET", "/metrics", &[], vec![]).await;
    assert_eq!(m.status, 200);
    let text = String::from_utf8(m.body).unwrap();
    assert!(
        text.contains(r#"atlas_http_requests_total{method="GET",route="/health",status="200"} 4"#),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/tiles/{tileset}/{z}/{x}/{y}",status="400"} 1"#),
        "{text}"
    );
    assert!(text.contains("atlas_http_request_duration_seconds_bucket"));
    assert!(
        text.contains("atlas_tile_cache_hits_total 2"),
        "two of three tile requests hit the cache: {text}"
    );
    assert!(
        text.contains("atlas_tile_bytes_count{format=\"mvt\"} 3"),
        "{text}"
    );
    let ready = call(&app, "GET", "/ready", &[], vec![]).await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["status"], "ready");
}

#[tokio::test]
async fn browsers_may_call_from_other_origins() {
    let app = app_with(Limits::default()).await;
    let r = call(
        &app,
        "OPTIONS",
        "/api/compounds/nearby?lon=120.38&lat=36.07",
        &[
            ("origin", "https://example.org"),
            ("access-control-request-method", "GET"),
        ],
        vec![],
    )
    .await;
    assert!(r.status < 300, "preflight: {}", r.status);
    assert_eq!(r.headers["access-control-allow-origin"], "*");
    assert!(r.headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("authorization"));
    // Actual answers — a tile, a 404, a 401 — carry the headers a browser needs to read them.
    let (z, x, y) = common::tile_at(120.38, 36.07, 14);
    for uri in [
        format!("/tiles/atlas/{z}/{x}/{y}.mvt"),
        "/no/such/path".to_string(),
        "/api/plan/route".to_string(),
    ] {
        let method = if uri.contains("plan") { "POST" } else { "GET" };
        let r = call(
            &app,
            method,
            &uri,
            &[("origin", "https://example.org")],
            vec![],
        )
        .await;
        assert_eq!(r.headers["access-control-allow-origin"], "*", "{uri}");
        assert!(r.headers["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("etag"));
    }
}

#[tokio::test]
async fn cors_can_name_its_origins_or_be_off() {
    let city = common::city(0.02, 81);
    let atlas = common::embedded_atlas(&city).await;
    let mut s = common::settings_with_tokens();
    s.cors_origins = vec!["https://map.example".into()];
    let app = compound_atlas::app(AppState::new(std::sync::Arc::clone(&atlas), &s));
    let ask = |origin: &'static str| {
        let app = app.clone();
        async move { call(&app, "GET", "/api/districts", &[("origin", origin)], vec![]).await }
    };
    let ok = ask("https://map.example").await;
    assert_eq!(
        ok.headers["access-control-allow-origin"],
        "https://map.example"
    );
    assert!(ok.headers.get_all("vary").iter().any(|v| v == "origin"));
    let other = ask("https://evil.example").await;
    assert!(other.headers.get("access-control-allow-origin").is_none());
    s.cors_origins = vec![];
    let off = compound_atlas::app(AppState::new(atlas, &s));
    let r = call(
        &off,
        "GET",
        "/api/districts",
        &[("origin", "https://map.example")],
        vec![],
    )
    .await;
    assert!(r.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn a_request_that_takes_too_long_gets_503() {
    let app = app_with(Limits {
        request_timeout: Duration::from_millis(1),
        ..Limits::default()
    })
    .await;
    // A large picture takes far more than a millisecond to draw.
    let r = call(
        &app,
        "GET",
        "/api/map.png?bbox=120.0,35.8,120.6,36.4&width=2048&height=2048&style=density",
        &[],
        vec![],
    )
    .await;
    assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["error"]["code"], "timeout");
    assert_eq!(r.headers["retry-after"], "5");
}

#[tokio::test]
async fn one_request_too_many_gets_503_not_a_hang() {
    let app = app_with(Limits {
        max_concurrency: 1,
        queue_wait: Duration::from_millis(5),
        ..Limits::default()
    })
    .await;
    let slow = "/api/map.png?bbox=120.0,35.8,120.6,36.4&width=2048&height=2048&style=density";
    let (a, b) = tokio::join!(call(&app, "GET", slow, &[], vec![]), async {
        tokio::time::sleep(Duration::from_millis(2)).await;
        call(&app, "GET", slow, &[], vec![]).await
    });
    let statuses = [a.status, b.status];
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(statuses.contains(&503), "{statuses:?}");
    let refused = if a.status == 503 { a } else { b };
    assert_eq!(refused.json()["error"]["code"], "overloaded");
}

#[tokio::test]
async fn a_client_over_its_rate_gets_429_and_others_do_not() {
    let atlas = common::embedded_atlas(&common::city(0.05, 111)).await;
    let mut s = common::settings_with_tokens();
    s.rate_limit = 5;
    s.trust_forwarded_for = true;
    let app = compound_atlas::app(AppState::new(atlas, &s));
    let mut statuses = Vec::new();
    for _ in 0..30 {
        let r = call(
            &app,
            "GET",
            "/health",
            &[("x-forwarded-for", "10.0.0.1")],
            vec![],
        )
        .await;
        if r.status == 429 {
            assert!(r.headers.contains_key("retry-after"));
            assert_eq!(r.json()["error"]["code"], "rate_limited");
        }
        statuses.push(r.status);
    }
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert!(limited >= 15, "a burst of 10 then refusals: {statuses:?}");
    assert!(
        statuses.iter().take(10).all(|s| *s == 200),
        "the burst passes: {statuses:?}"
    );
    let other = call(
        &app,
        "GET",
        "/health",
        &[("x-forwarded-for", "10.0.0.2")],
        vec![],
    )
    .await;
    assert_eq!(other.status, 200, "another client is not limited");
    let m = String::from_utf8(
        call(
            &app,
            "GET",
            "/metrics",
            &[("x-forwarded-for", "10.0.0.3")],
            vec![],
        )
        .await
        .body,
    )
    .unwrap();
    assert!(
        m.contains(&format!(
            "atlas_http_rejected_total{{reason=\"rate_limited\"}} {limited}"
        )),
        "{m}"
    );
}
