//! `GET /api/hotspots`: hot spots that change over time, on H3 cells, as GeoJSON (one feature
//! per cell of the study area) — the statistics are [`crate::analytics::hotspots`]'s.

use super::request::Params;
use super::AppState;
use crate::analytics::hotspots::{self, Ask, MIN_MONTHS};
use crate::analytics::Window;
use crate::error::Error;
use crate::model::Category;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};

/// A whole number parameter in a range, else a 400 saying what it is.
fn number(p: &Params, name: &str, default: u32, what: &str) -> Result<u32, Error> {
    p.get(name).map_or(Ok(default), |v| {
        v.parse::<u32>()
            .map_err(|_| Error::BadRequest(format!("`{name}` is {what}, got `{v}`")))
    })
}

/// A cell's outline as a GeoJSON polygon, closed, in WGS 84.
#[derive(Serialize)]
struct Outline {
    r#type: &'static str,
    coordinates: [Vec<[f64; 2]>; 1],
}

impl Outline {
    fn of(cell: h3o::CellIndex) -> Outline {
        let mut ring: Vec<[f64; 2]> = cell
            .boundary()
            .iter()
            .map(|ll| [ll.lng(), ll.lat()])
            .collect();
        if let Some(first) = ring.first().copied() {
            ring.push(first);
        }
        Outline {
            r#type: "Polygon",
            coordinates: [ring],
        }
    }
}

/// One cell as a GeoJSON feature.
#[derive(Serialize)]
struct Feature<'a> {
    r#type: &'static str,
    id: &'a str,
    geometry: Outline,
    properties: &'a hotspots::Cell,
}

/// The whole answer: the analysis's figures, then one feature per cell. Serialized straight
/// to text (an answer of a 4,000-cell city is ~3.6 MB; building it as a `serde_json::Value`
/// first took most of a new window's time).
#[derive(Serialize)]
struct Collection<'a> {
    r#type: &'static str,
    res: u8,
    k: u32,
    window: Value,
    months: i32,
    min_months: i32,
    category: Option<&'static str>,
    cells: usize,
    hot: usize,
    cold: usize,
    method: &'static str,
    features: Vec<Feature<'a>>,
}

/// `GET /api/hotspots?res=9&k=1&from=&to=&category=`: Gi* per cell over the window with its
/// FDR q-value, the monthly z-scores, their Mann–Kendall trend and the emerging pattern
/// (`res` and `k` by default `[hotspots]`').
pub async fn hotspots(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Error> {
    let p = Params::parse(raw, &["res", "k", "from", "to", "category"])?;
    let defaults = state.atlas.hotspot_defaults;
    let res = number(
        &p,
        "res",
        u32::from(defaults.res),
        "an H3 resolution from 5 to 11",
    )?;
    let k = number(&p, "k", defaults.k, "a number of rings from 1 to 3")?;
    let category = super::request::category(&p)?;
    // The version first: an answer is never kept as newer than the statistics it came from.
    let v = state.atlas.store.version();
    let stats = state.atlas.store.stats().await?;
    let window = Window::parse(p.get("from"), p.get("to"), stats.latest_month())
        .map_err(Error::BadRequest)?;
    let ask = Ask {
        res: u8::try_from(res).unwrap_or(u8::MAX),
        k,
        window,
        category,
    };
    let key = format!(
        "hotspots {res} {k} {} {} {}",
        window.from,
        window.to,
        category.map_or("", Category::code)
    );
    let body = if let Some(body) = state.atlas.remembered(&key) {
        body
    } else {
        let body = bytes::Bytes::from(answer(&state, &ask).await?);
        state.atlas.remember(v, key, body.clone());
        body
    };
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/geo+json")],
        body,
    )
        .into_response())
}

/// The hot-spot answer as GeoJSON text (the statistics are the service's, shared with the
/// tiles' `hotspots` layer).
async fn answer(state: &AppState, ask: &Ask) -> Result<String, Error> {
    let (window, category) = (ask.window, ask.category);
    let city = state.tiles.city(&state.atlas).await?;
    let h = state
        .atlas
        .hotspots(*ask, crate::tile::hotspots::places(&city))
        .await?;
    let count = |of: &str| h.cells.iter().filter(|c| c.hot == Some(of)).count();
    let body = Collection {
        r#type: "FeatureCollection",
        res: h.res,
        k: h.k,
        window: json!({ "from": window.from.to_string(), "to": window.to.to_string() }),
        months: h.months,
        min_months: MIN_MONTHS,
        category: category.map(Category::code),
        cells: h.cells.len(),
        hot: count("hot"),
        cold: count("cold"),
        method: hotspots::METHOD,
        features: h
            .cells
            .iter()
            .map(|c| Feature {
                r#type: "Feature",
                id: &c.cell,
                geometry: Outline::of(c.index),
                properties: c,
            })
            .collect(),
    };
    serde_json::to_string(&body)
        .map_err(|e| Error::Other(anyhow::anyhow!("hot spots as JSON: {e}")))
}

/// This surface's routes: hot spots.
pub(super) fn routes() -> axum::Router<super::AppState> {
    axum::Router::new().route("/api/hotspots", axum::routing::get(hotspots))
}
