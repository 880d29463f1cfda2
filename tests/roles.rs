//! Roles: public (no token), planner (compound detail, exports, route planning), admin
//! (imports, grade overrides) — on a server with tokens, on the open demo (no token
//! configured) and with the planner tools closed explicitly.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the exact values it expects and takes the defaults its calls need

mod common;

use common::{call, Resp};
use compound_atlas::AppState;
use serde_json::json;

const PLANNER: (&str, &str) = ("authorization", "Bearer planner-secret");
const ADMIN: (&str, &str) = ("authorization", "Bearer admin-secret");

async fn app(tokens: bool, open_planner: Option<bool>) -> axum::Router {
    let mut s = common::settings_with_tokens();
    if !tokens {
        s.tokens.clear();
    }
    s.open_planner = open_planner;
    let atlas = common::embedded_atlas(&common::city(0.02, 61)).await;
    compound_atlas::app(AppState::new(atlas, &s))
}

/// The planner routes: (method, uri, body).
async fn planner_routes(app: &axum::Router) -> Vec<(&'static str, String, Vec<u8>)> {
    let r = call(app, "GET", "/api/compounds?limit=1", &[], vec![]).await;
    assert_eq!(r.status, 200, "searching is public");
    let id = r.json()["features"][0]["id"].as_i64().unwrap();
    let route = json!({"start": [120.38, 36.07], "select": {"limit": 5}}).to_string();
    vec![
        ("GET", format!("/api/compounds/{id}"), vec![]),
        ("POST", "/api/plan/route".into(), route.into_bytes()),
        ("GET", "/api/compounds?limit=5&f=csv".into(), vec![]),
        ("GET", "/api/compounds?limit=5&f=fgb".into(), vec![]),
        (
            "GET",
            "/api/compounds/nearby?lon=120.38&lat=36.07&f=csv".into(),
            vec![],
        ),
        (
            "GET",
            "/ogc/collections/compounds/items?f=csv".into(),
            vec![],
        ),
        (
            "GET",
            format!("/ogc/collections/compounds/items/{id}?f=fgb"),
            vec![],
        ),
    ]
}

async fn ask(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: &[u8],
    auth: &[(&str, &str)],
) -> Resp {
    let mut headers = vec![("content-type", "application/json")];
    headers.extend_from_slice(auth);
    call(app, method, uri, &headers, body.to_vec()).await
}

#[tokio::test]
async fn with_tokens_configured_the_planner_tools_need_a_planner_token() {
    let app = app(true, None).await;
    for (method, uri, body) in planner_routes(&app).await {
        let r = ask(&app, method, &uri, &body, &[]).await;
        assert_eq!(r.status, 401, "{method} {uri} without a token");
        let v = r.json();
        let msg = common::error_message(&v).unwrap().to_string();
        assert!(msg.contains("planner token"), "{uri}: {msg}");
        let r = ask(
            &app,
            method,
            &uri,
            &body,
            &[("authorization", "Bearer wrong")],
        )
        .await;
        assert_eq!(r.status, 401, "{method} {uri} with an unknown token");
        for who in [PLANNER, ADMIN] {
            let r = ask(&app, method, &uri, &body, &[who]).await;
            assert_eq!(r.status, 200, "{method} {uri} as {}", who.1);
        }
    }
    // Admin work stays admin's: a planner token gets 403.
    let r = call(
        &app,
        "POST",
        "/api/compounds/1/grade",
        &[PLANNER, ("content-type", "application/json")],
        br#"{"period":"2023Q2","grade":"red","reason":"x"}"#.to_vec(),
    )
    .await;
    assert_eq!(r.status, 403);
    // Public answers stay public.
    for uri in [
        "/api/districts",
        "/api/grades",
        "/api/stats/trend",
        "/api/compounds?limit=5",
        "/api/compounds/nearby?lon=120.38&lat=36.07",
        "/ogc/collections/compounds/items?limit=5",
        "/tiles/atlas.json",
        "/styles/grade.json",
    ] {
        assert_eq!(
            call(&app, "GET", uri, &[], vec![]).await.status,
            200,
            "{uri}"
        );
    }
    let meta = call(&app, "GET", "/api/meta", &[], vec![]).await.json();
    assert_eq!(meta["planner_token_required"], true);
}

#[tokio::test]
async fn without_tokens_the_planner_tools_are_open_but_privacy_stays_public() {
    let app = app(false, None).await;
    for (method, uri, body) in planner_routes(&app).await {
        let r = ask(&app, method, &uri, &body, &[]).await;
        assert_eq!(r.status, 200, "{method} {uri} on the open demo");
    }
    let meta = call(&app, "GET", "/api/meta", &[], vec![]).await.json();
    assert_eq!(meta["planner_token_required"], false);
    // Still public figures: no small building count is shown to a caller without a token.
    let mut checked = 0;
    let list = call(
        &app,
        "GET",
        "/api/compounds?limit=200&sort=complaints",
        &[],
        vec![],
    )
    .await
    .json();
    for f in list["features"].as_array().unwrap().iter().take(40) {
        let id = f["id"].as_i64().unwrap();
        let c = call(&app, "GET", &format!("/api/compounds/{id}"), &[], vec![])
            .await
            .json();
        for b in c["buildings"].as_array().unwrap() {
            if let Some(n) = b["complaints"].as_u64() {
                assert!(n == 0 || n >= 3, "compound {id}: a count of {n} shown");
            } else {
                assert_eq!(b["suppressed"], true);
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "no small count met: the check proved nothing");
    // The repeat hot spots likewise: a place's small counts are withheld.
    let spots = call(&app, "GET", "/api/repeats?limit=5000", &[], vec![])
        .await
        .json();
    let mut withheld = 0;
    for h in spots["hot_spots"].as_array().unwrap() {
        if let Some(n) = h["complaints"].as_u64() {
            assert!(n >= 3, "a place's count of {n} shown: {h}");
        } else {
            assert_eq!(h["suppressed"], true, "{h}");
            assert!(h["repeats"].is_null(), "{h}");
            withheld += 1;
        }
    }
    assert!(withheld > 0, "no small place met: the check proved nothing");
}

#[tokio::test]
async fn the_planner_tools_can_be_closed_without_tokens() {
    let app = app(false, Some(false)).await;
    for (method, uri, body) in planner_routes(&app).await {
        assert_eq!(
            ask(&app, method, &uri, &body, &[]).await.status,
            401,
            "{uri}"
        );
    }
}

#[tokio::test]
async fn openapi_marks_the_planner_operations() {
    let app = app(true, None).await;
    let doc = call(&app, "GET", "/openapi.json", &[], vec![]).await.json();
    for (path, op) in [("/api/compounds/{id}", "get"), ("/api/plan/route", "post")] {
        assert_eq!(
            doc["paths"][path][op]["security"],
            json!([{ "bearer": [] }, {}]),
            "{path}"
        );
    }
}
