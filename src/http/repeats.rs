//! `GET /api/repeats`: repeat hot spots — the units, and buildings where the unit is not
//! known, whose complaints came back of the same category within `[repeats] days`
//! ([`crate::analytics::repeats`]), for planners. Counts only: no complaint, caller or time.

use super::export::{self, Format};
use super::request::Params;
use super::{AppState, Caller};
use crate::analytics::repeats::{HotSpots, Spot};
use crate::config::Role;
use crate::error::Error;
use crate::model::handling::rate;
use crate::model::repeat::Place;
use crate::model::{Audience, Category};
use crate::tile::atlas::CityIndex;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde_json::{json, Map, Value};

/// Places listed when `limit` is not given, and the most a request may ask.
const LIMIT: (usize, usize) = (100, 5_000);

/// One hot spot as a row: where it is (compound, building, unit), its counts and categories.
fn row(city: &CityIndex, s: &Spot, audience: Audience) -> Map<String, Value> {
    let (building, unit) = match s.place {
        Place::Unit(u) => {
            let unit = city.unit(u);
            (unit.and_then(|x| city.building(x.building_id)), unit)
        }
        Place::Building(b) => (city.building(b), None),
    };
    let compound = city.compound(s.compound);
    let mut m = Map::new();
    m.insert("compound_id".into(), json!(s.compound));
    m.insert("compound".into(), json!(compound.map(|(_, c)| &c.name)));
    let (district, street) = compound.map_or(("", ""), |(_, c)| {
        (
            city.district_name(&c.district_code),
            city.street_name(&c.street_code),
        )
    });
    m.insert("district".into(), json!(district));
    m.insert("street".into(), json!(street));
    let kind = match s.place {
        Place::Unit(_) => "unit",
        Place::Building(_) => "building",
    };
    m.insert("kind".into(), json!(kind));
    m.insert("building_id".into(), json!(building.map(|b| b.id)));
    m.insert("building".into(), json!(building.map(|b| &b.name)));
    m.insert("unit_id".into(), json!(unit.map(|u| u.id)));
    m.insert("unit".into(), json!(unit.map(|u| &u.name)));
    // The privacy rule: a place's small counts are withheld from public callers (its
    // repeats are at most its complaints).
    let shown = !audience.withholds(s.complaints);
    m.insert("complaints".into(), json!(shown.then_some(s.complaints)));
    m.insert("repeats".into(), json!(shown.then_some(s.repeats)));
    m.insert(
        "repeat_rate".into(),
        json!(shown.then(|| rate(s.repeats, s.complaints)).flatten()),
    );
    let cats: Vec<String> = Category::ALL
        .iter()
        .zip(s.by_category)
        .filter(|(_, n)| shown && *n > 0)
        .map(|(c, n)| format!("{}:{n}", c.code()))
        .collect();
    m.insert("categories".into(), json!(cats));
    m.insert("suppressed".into(), json!(!shown));
    let at = unit
        .map(|u| u.geom)
        .or_else(|| building.map(|b| geo::Centroid::centroid(&b.geom).unwrap_or_default()));
    m.insert("lon".into(), json!(at.map(|p| (p.x() * 1e6).round() / 1e6)));
    m.insert("lat".into(), json!(at.map(|p| (p.y() * 1e6).round() / 1e6)));
    m
}

/// The `limit` a request asks (default 100, at most 5,000), else a 400 naming it.
fn limit(p: &Params) -> Result<usize, Error> {
    p.get("limit").map_or(Ok(LIMIT.0), |v| {
        v.parse::<usize>()
            .ok()
            .filter(|n| (1..=LIMIT.1).contains(n))
            .ok_or_else(|| {
                Error::BadRequest(format!("`limit` must be 1 to {}, got `{v}`", LIMIT.1))
            })
    })
}

/// The answer's JSON: the selection, the window, the definition, totals and the rows.
fn body(
    filter: &crate::analytics::service::TrendFilter,
    h: &HotSpots,
    days: u16,
    rows: Vec<Map<String, Value>>,
) -> Value {
    json!({
        "filter": super::api::filter_json(filter),
        "window": { "from": h.window.from.to_string(), "to": h.window.to.to_string() },
        "data": { "from": h.data.from.to_string(), "to": h.data.to.to_string() },
        "days": days,
        "definition": format!("a repeat is a complaint whose unit (or building, where the unit is not known) had a complaint of the same category at most {days} days before"),
        "compounds": h.compounds,
        "complaints": h.complaints,
        "repeats": h.repeats,
        "repeat_rate": rate(h.repeats, h.complaints),
        "places": h.places,
        "numberReturned": rows.len(),
        "note": h.note,
        "hot_spots": rows,
    })
}

/// `GET /api/repeats?from=&to=&district=&street=&compound=&company=&category=&limit=&f=`:
/// the selection's repeat hot spots over the window (default the last 12 months of data),
/// most repeats first, with the selection's complaints, repeats and repeat rate; `f=csv` for
/// a spreadsheet. Planner role.
pub async fn repeat_hot_spots(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, Error> {
    caller.require(Role::Planner)?;
    let p = Params::parse(
        raw,
        &[
            "from", "to", "district", "street", "compound", "company", "category", "limit", "f",
        ],
    )?;
    let format = Format::parse(p.get("f"))?;
    if format == Format::FlatGeobuf {
        return Err(Error::BadRequest(
            "repeat hot spots are a table: use f=json or f=csv".into(),
        ));
    }
    let filter = super::api::trend_filter(&p)?;
    let limit = limit(&p)?;
    let audience = state.audience(&caller);
    let key = format!(
        "repeats {:?} {:?} {} {limit} {}",
        p.get("from"),
        p.get("to"),
        filter.key(),
        audience.sees_small_counts
    );
    if let Some(kept) = export::kept(&state.atlas, &key, format) {
        return Ok(kept);
    }
    let v = state.atlas.store.version();
    let h = state
        .atlas
        .repeats(&filter, p.get("from"), p.get("to"), limit)
        .await?;
    let city = state.tiles.city(&state.atlas).await?;
    let rows: Vec<Map<String, Value>> = h.spots.iter().map(|s| row(&city, s, audience)).collect();
    if format == Format::Csv {
        return export::table_csv("repeats", &rows);
    }
    let body = body(&filter, &h, state.atlas.rule.repeats.days, rows);
    let body = bytes::Bytes::from(body.to_string());
    state.atlas.remember(v, key, body.clone());
    Ok(export::json_bytes(body))
}

/// This surface's routes: repeat hot spots.
pub(super) fn routes() -> axum::Router<super::AppState> {
    axum::Router::new().route("/api/repeats", axum::routing::get(repeat_hot_spots))
}
