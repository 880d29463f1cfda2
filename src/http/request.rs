//! What a request says, read the same way by every surface: its query parameters or JSON
//! members ([`Params`]), the window, quarter and datum it asks for ([`Scope`]), ids, points and
//! boxes, and the address the client reached us at ([`base_url`]).

use super::AppState;
use crate::analytics::grade::parse_period;
use crate::analytics::Window;
use crate::error::Error;
use axum::http::{header, HeaderMap};
use geo_types::Point;
use serde_json::Value;
use std::collections::HashMap;

/// Query parameters, parsed leniently so that a malformed query gets our JSON error.
pub struct Params(HashMap<String, String>);

impl Params {
    pub fn parse(raw: Option<String>, allowed: &[&str]) -> Result<Params, Error> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
            .map_err(|e| Error::BadRequest(format!("malformed query string: {e}")))?;
        let mut map = HashMap::new();
        for (k, v) in pairs {
            if !allowed.contains(&k.as_str()) {
                return Err(Error::BadRequest(format!(
                    "unknown parameter `{k}`; this path takes {}",
                    allowed.join(", ")
                )));
            }
            map.insert(k, v);
        }
        Ok(Params(map))
    }
    /// The members of a JSON object body as parameters: strings as they are, numbers as
    /// written, arrays of plain values joined by commas (`bbox`, `grade`), objects (GeoJSON)
    /// as their JSON text.
    pub fn from_json(body: &[u8], allowed: &[&str]) -> Result<Params, Error> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| Error::BadRequest(format!("the body is not JSON: {e}")))?;
        let Value::Object(obj) = v else {
            return Err(Error::BadRequest("the body must be a JSON object".into()));
        };
        let mut map = HashMap::new();
        for (k, v) in obj {
            if !allowed.contains(&k.as_str()) {
                return Err(Error::BadRequest(format!(
                    "unknown member `{k}`; this path takes {}",
                    allowed.join(", ")
                )));
            }
            let text = match v {
                Value::Null => continue,
                Value::String(s) => s,
                Value::Array(items) if items.iter().all(|x| !x.is_object() && !x.is_array()) => {
                    items
                        .iter()
                        .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                        .collect::<Vec<_>>()
                        .join(",")
                }
                other => other.to_string(),
            };
            map.insert(k, text);
        }
        Ok(Params(map))
    }
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }
}

/// Puts the three rates and the hours into a JSON object (counts as integers).
pub fn insert_rates(m: &mut serde_json::Map<String, Value>, r: &crate::model::handling::Rates) {
    for (k, v) in r.fields() {
        let v = match (k, v) {
            ("closed" | "rated" | "satisfied", Some(x)) => serde_json::json!(x as u64),
            (_, v) => serde_json::json!(v),
        };
        m.insert(k.into(), v);
    }
}

/// The three rates and the hours of an area whose figures are `a`, over its compounds `ids`
/// in `window` (what `/api/districts` and `/api/streets` answer, and the monthly report shows).
pub fn area_rates(
    stats: &crate::analytics::Stats,
    a: &crate::analytics::AreaFigures,
    ids: &[i64],
    window: Window,
) -> crate::model::handling::Rates {
    crate::model::handling::Rates::new(
        a.complaints,
        [a.closed, a.rated, a.satisfied],
        stats
            .times
            .spreads(ids.iter().copied(), stats.range(window)),
    )
}

/// The complaint window, grade period and datum a request asks for (defaults: the last 12
/// months of data, the latest graded quarter, WGS 84), with the statistics and grades read.
pub struct Scope {
    pub window: Window,
    pub period: Option<crate::model::Quarter>,
    pub datum: crate::tile::Datum,
    pub stats: std::sync::Arc<crate::analytics::Stats>,
}

impl Scope {
    pub async fn of(state: &AppState, p: &Params) -> Result<Scope, Error> {
        let stats = state.atlas.store.stats().await?;
        let last = stats.latest_month();
        let window = Window::parse(p.get("from"), p.get("to"), last).map_err(Error::BadRequest)?;
        let book = state.atlas.grades().await?;
        let period = match p.get("period") {
            Some(_) => Some(parse_period(p.get("period"), &book).map_err(Error::BadRequest)?),
            None => book.latest(),
        };
        let datum = match p.get("datum") {
            None => crate::tile::Datum::Wgs84,
            Some(d) => crate::tile::Datum::parse(d).ok_or_else(|| {
                Error::BadRequest(format!("unknown datum `{d}`; use wgs84, gcj02 or bd09"))
            })?,
        };
        Ok(Scope {
            window,
            period,
            datum,
            stats,
        })
    }
}

/// An id in a path or a parameter: a positive integer, else a 400 naming what it is for.
pub(super) fn positive_id(raw: &str, what: &str) -> Result<i64, Error> {
    raw.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| Error::BadRequest(format!("a {what} id is a positive integer, got `{raw}`")))
}

/// An override's body, `{"period":"YYYYQn","<field>":"…","reason":"…"}`: the quarter, the
/// value of `field` and the reason (trimmed), each checked present.
pub(super) fn override_body(
    body: &[u8],
    field: &str,
) -> Result<(crate::model::Quarter, String, String), Error> {
    let p = Params::from_json(body, &["period", field, "reason"])?;
    let needed = |k: &str| {
        p.get(k)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::BadRequest(format!("`{k}` is required")))
    };
    let period = needed("period")?;
    let q = crate::model::Quarter::parse(period)
        .ok_or_else(|| Error::BadRequest(format!("`period` must be YYYYQn, got `{period}`")))?;
    let reason = needed("reason").map_err(|_| Error::BadRequest("`reason` must say why".into()))?;
    // Kept in the audit trail as written: text, not control characters (PostgreSQL refuses
    // a NUL in text; both stores refuse them all alike).
    if reason.chars().any(char::is_control) {
        return Err(Error::BadRequest(
            "`reason` must be text without control characters".into(),
        ));
    }
    Ok((q, needed(field)?.to_string(), reason.to_string()))
}

/// A longitude/latitude pair given as two parameters, checked and brought back to WGS 84.
pub(super) fn lon_lat(
    lon: f64,
    lat: f64,
    datum: crate::tile::Datum,
    what: &str,
) -> Result<Point<f64>, Error> {
    if !(-180.0..=180.0).contains(&lon) {
        return Err(Error::BadRequest(format!(
            "{what}longitude {lon} is outside −180..180"
        )));
    }
    if !(-90.0..=90.0).contains(&lat) {
        return Err(Error::BadRequest(format!(
            "{what}latitude {lat} is outside −90..90"
        )));
    }
    let (x, y) = datum.to_wgs84(lon, lat);
    Ok(Point::new(x, y))
}

/// `west,south,east,north` in degrees (of the request's datum).
pub fn parse_bbox(b: &str, datum: crate::tile::Datum) -> Result<[f64; 4], Error> {
    let v: Vec<f64> = b
        .split(',')
        .map(|x| x.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            Error::BadRequest(format!(
                "`bbox` must be four numbers west,south,east,north; got `{b}`"
            ))
        })?;
    if v.len() != 4 {
        return Err(Error::BadRequest(format!(
            "`bbox` must be four numbers west,south,east,north; got {} numbers",
            v.len()
        )));
    }
    let sw = lon_lat(v[0], v[1], datum, "bbox: ")?;
    let ne = lon_lat(v[2], v[3], datum, "bbox: ")?;
    if sw.x() > ne.x() || sw.y() > ne.y() {
        return Err(Error::BadRequest(format!(
            "`bbox` west must not exceed east, nor south north: got `{b}`"
        )));
    }
    Ok([sw.x(), sw.y(), ne.x(), ne.y()])
}

/// This server's base URL as the client sees it (`X-Forwarded-Proto` and `Host`), for links.
pub fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1:8080");
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("http");
    format!("{proto}://{host}")
}

/// `category=`: a complaint category by code or name, else a 400 naming it.
pub(super) fn category(p: &Params) -> Result<Option<crate::model::Category>, Error> {
    p.get("category")
        .map(|c| {
            crate::model::Category::parse(c)
                .ok_or_else(|| Error::BadRequest(format!("unknown category `{c}`")))
        })
        .transpose()
}
