//! The map page (`/`) and its files, embedded in the binary so that the page, MapLibre GL JS,
//! its styles, fonts and glyphs all come from this server; and `/api/meta`, what the page
//! needs to set itself up.

use super::AppState;
use crate::error::Error;
use crate::model::Category;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use geo::BoundingRect;
use serde_json::{json, Value};

/// The page's files: name, content type, bytes.
const FILES: [(&str, &str, &[u8]); 5] = [
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/app.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/style.css"),
    ),
    (
        "maplibre-gl.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/vendor/maplibre-gl.js"),
    ),
    (
        "maplibre-gl.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/vendor/maplibre-gl.css"),
    ),
    (
        "maplibre-gl.LICENSE.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../../web/vendor/maplibre-gl.LICENSE.txt"),
    ),
];

const INDEX: &str = include_str!("../../web/index.html");

fn typed(body: &'static [u8], ctype: &'static str, cache: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

/// `GET /`: the map page.
pub async fn index() -> Response {
    typed(INDEX.as_bytes(), "text/html; charset=utf-8", "no-cache")
}

/// `GET /web/{file}`
pub async fn file(Path(name): Path<String>) -> Result<Response, Error> {
    let (_, ctype, body) = FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| Error::NotFound(format!("no page file `{name}`")))?;
    Ok(typed(body, ctype, "public, max-age=300"))
}

/// `GET /favicon.ico`: none (answered, so browsers log no error).
pub async fn favicon() -> StatusCode {
    StatusCode::NO_CONTENT
}

fn bbox(g: &geo_types::MultiPolygon<f64>) -> Value {
    g.bounding_rect().map_or(Value::Null, |r| {
        json!([r.min().x, r.min().y, r.max().x, r.max().y])
    })
}

/// `GET /api/meta`: the data's months and graded quarters, the default window, the campaign
/// start, districts and streets with their boxes, categories, and which basemaps are set up.
pub async fn meta(State(state): State<AppState>) -> Result<Json<Value>, Error> {
    let stats = state.atlas.store.stats().await?;
    let book = state.atlas.grades().await?;
    let city = state.tiles.city(&state.atlas).await?;
    let last = stats.latest_month();
    let w = crate::analytics::Window::parse(None, None, last).map_err(Error::BadRequest)?;
    let d = &city.data;
    let mut companies: Vec<&str> = d.companies.iter().map(|c| c.name.as_str()).collect();
    companies.sort_unstable();
    companies.dedup();
    Ok(Json(json!({
        "store": state.atlas.store.kind(),
        "months": { "first": stats.first.map(|m| m.to_string()), "last": stats.last.map(|m| m.to_string()) },
        "window": { "from": w.from.to_string(), "to": w.to.to_string() },
        "periods": book.periods.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "period": book.latest().map(|q| q.to_string()),
        "campaign_start": crate::analytics::CAMPAIGN_START,
        "bounds": city.bounds(),
        "center": state.center(&city),
        "city": state.city.name,
        "districts": d.districts.iter().map(|x| json!({ "code": x.code, "name": x.name, "bbox": bbox(&x.geom) })).collect::<Vec<_>>(),
        "streets": d.streets.iter().map(|x| json!({ "code": x.code, "name": x.name, "district_code": x.district_code, "bbox": bbox(&x.geom) })).collect::<Vec<_>>(),
        // Property companies by name, for the map page's company filter.
        "companies": companies,
        "categories": Category::ALL.iter().map(|c| json!({ "code": c.code(), "label": c.label() })).collect::<Vec<_>>(),
        "basemaps": {
            "tianditu": state.basemap.tianditu_key,
            "amap": state.basemap.amap_key,
        },
        // Whether compound detail, exports and rounds need a planner token here.
        "planner_token_required": !state.open_planner,
    })))
}

/// This surface's routes: the map page, its files and what it needs.
pub(super) fn routes() -> axum::Router<super::AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/", get(index))
        .route("/web/{file}", get(file))
        .route("/favicon.ico", get(favicon))
        .route("/api/meta", get(meta))
}
