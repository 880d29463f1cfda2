//! Planner queries over HTTP: `/api/compounds/nearby`, `/api/compounds` (GET, and POST for
//! large shapes), `/api/districts`, `/api/streets` and `/api/plan/route`.

use super::export::{self, Feature, Format};
use super::request::base_url;
use super::request::{lon_lat, parse_bbox, Params, Scope};
use super::{AppState, Caller};
use crate::analytics::{density, Grade};
use crate::config::Role;
use crate::error::Error;
use crate::planner::{route, shape, sort_rows, Filter, Row, Sort};
use crate::store::{Area, Hit};
use crate::tile::atlas::{CityIndex, Figures};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use geo_types::{Geometry, LineString, Point};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// The farthest a point search reaches.
pub const MAX_RADIUS_M: f64 = 50_000.0;
/// The most compounds a nearby search answers.
pub const MAX_NEARBY: usize = 500;
/// The most compounds a page of `/api/compounds` holds (GeoJSON; exports take more).
pub const MAX_PAGE: usize = 1_000;
/// The most compounds an export (f=csv, f=fgb) holds.
pub const MAX_EXPORT: usize = 10_000;
/// The most stops a route request may plan.
pub const MAX_STOPS: usize = 500;

const FILTERS: [&str; 7] = [
    "q",
    "grade",
    "district",
    "street",
    "company",
    "category",
    "min_density",
];
const SCOPE: [&str; 4] = ["from", "to", "period", "datum"];

fn allowed(own: &[&'static str]) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = own.to_vec();
    v.extend(FILTERS);
    v.extend(SCOPE);
    v
}

/// A number parameter.
fn float(p: &Params, k: &str) -> Result<Option<f64>, Error> {
    p.get(k)
        .map(|v| {
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| Error::BadRequest(format!("`{k}` must be a number, got `{v}`")))
        })
        .transpose()
}

/// A count parameter within 1..=max (0 allowed for offsets).
fn count(p: &Params, k: &str, default: usize, min: usize, max: usize) -> Result<usize, Error> {
    match p.get(k) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                Error::BadRequest(format!(
                    "`{k}` must be a whole number from {min} to {max}, got `{v}`"
                ))
            }),
    }
}

pub fn parse_filter(p: &Params) -> Result<Filter, Error> {
    let grades = match p.get("grade") {
        None => Vec::new(),
        Some(v) => v
            .split(',')
            .map(|g| {
                Grade::parse(g).ok_or_else(|| {
                    Error::BadRequest(format!(
                        "`grade` takes red, yellow and blue (comma-separated), got `{g}`"
                    ))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let category = super::request::category(p)?;
    let min_density = float(p, "min_density")?;
    if min_density.is_some_and(|m| m < 0.0) {
        return Err(Error::BadRequest("`min_density` cannot be negative".into()));
    }
    Ok(Filter {
        grades,
        district: p.get("district").map(str::to_string),
        street: p.get("street").map(str::to_string),
        company: p.get("company").map(str::to_string),
        category,
        min_density,
        name: p
            .get("q")
            .map(|q| q.trim().to_string())
            .filter(|q| !q.is_empty()),
    })
}

/// What a compound query reads: the city, the window's figures, the scope.
struct Ctx {
    scope: Scope,
    city: Arc<CityIndex>,
    fig: Arc<Figures>,
}

impl Ctx {
    async fn of(state: &AppState, p: &Params) -> Result<Ctx, Error> {
        let scope = Scope::of(state, p).await?;
        let city = state.tiles.city(&state.atlas).await?;
        let fig = state
            .tiles
            .figures(&state.atlas, scope.window, scope.period)
            .await?;
        Ok(Ctx { scope, city, fig })
    }

    /// The compounds a filter keeps (`None`: all).
    fn only(&self, f: &Filter) -> Result<Option<Vec<i64>>, Error> {
        f.ids(&self.city, &self.fig, &self.scope.stats)
    }

    fn rows(&self, hits: &[Hit]) -> Vec<Row> {
        hits.iter()
            .filter_map(|h| Row::new(&self.city, &self.fig, h.id, h.distance_m))
            .collect()
    }

    fn feature(&self, r: &Row) -> Feature {
        let c = &self.city.data.compounds[r.k];
        Feature {
            id: json!(c.id),
            geometry: export::shift(&Geometry::MultiPolygon(c.geom.clone()), self.scope.datum),
            properties: r.properties(&self.city),
        }
    }

    /// The compounds' ids grouped by an area's code.
    fn compounds_by<'a>(
        &'a self,
        code: impl Fn(&'a crate::model::Compound) -> &'a String,
    ) -> HashMap<&'a str, Vec<i64>> {
        let mut by: HashMap<&str, Vec<i64>> = HashMap::new();
        for c in &self.city.data.compounds {
            by.entry(code(c).as_str()).or_default().push(c.id);
        }
        by
    }

    fn about(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert(
            "window".into(),
            json!({ "from": self.scope.window.from.to_string(), "to": self.scope.window.to.to_string() }),
        );
        m.insert(
            "period".into(),
            json!(self.scope.period.map(|q| q.to_string())),
        );
        m.insert("datum".into(), json!(self.scope.datum.code()));
        m
    }
}

/// `GET /api/compounds/nearby?lon=&lat=&radius_m=&limit=` and the filters: nearest first by
/// true distance to the compound's boundary (0 inside), each with `distance_m`.
pub async fn nearby(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, Error> {
    let p = Params::parse(raw, &allowed(&["lon", "lat", "radius_m", "limit", "f"]))?;
    let format = Format::parse_for(p.get("f"), &caller)?;
    let filter = parse_filter(&p)?;
    let (Some(lon), Some(lat)) = (float(&p, "lon")?, float(&p, "lat")?) else {
        return Err(Error::BadRequest(
            "`lon` and `lat` are required (WGS 84 degrees, or the datum given)".into(),
        ));
    };
    let radius_m = float(&p, "radius_m")?.unwrap_or(1_000.0);
    if !(radius_m > 0.0 && radius_m <= MAX_RADIUS_M) {
        return Err(Error::BadRequest(format!(
            "`radius_m` must be above 0 and at most {MAX_RADIUS_M} metres, got {radius_m}"
        )));
    }
    let limit = count(&p, "limit", 20, 1, MAX_NEARBY)?;
    let ctx = Ctx::of(&state, &p).await?;
    let point = lon_lat(lon, lat, ctx.scope.datum, "")?;
    let only = ctx.only(&filter)?;
    let hits = if only.as_ref().is_some_and(Vec::is_empty) {
        Vec::new()
    } else {
        let area = Area::Near { point, radius_m };
        state
            .atlas
            .store
            .find_compounds(&area, only.as_deref(), limit)
            .await?
    };
    let rows = ctx.rows(&hits);
    let features: Vec<Feature> = rows.iter().map(|r| ctx.feature(r)).collect();
    let mut extra = ctx.about();
    extra.insert(
        "query".into(),
        json!({ "lon": lon, "lat": lat, "radius_m": radius_m, "limit": limit }),
    );
    extra.insert("numberReturned".into(), json!(features.len()));
    extra.insert(
        "distance".into(),
        json!("metres on the WGS 84 ellipsoid to the compound's boundary; 0 inside"),
    );
    export::respond(format, "nearby", &features, extra)
}

const SEARCH: [&str; 13] = [
    "bbox", "polygon", "line", "within_m", "lon", "lat", "radius_m", "sort", "limit", "offset",
    "f", "bbox-crs", "crs",
];

/// What a compound search may say: its own parameters, the filters and scope, a CQL2 filter.
fn search_params() -> Vec<&'static str> {
    let mut v = allowed(&SEARCH);
    v.extend(crate::filter::PARAMS);
    v
}

/// The area a search names: one of a box, a polygon, a line (with `within_m`) or a point
/// (with `radius_m`); none means the whole city.
fn search_area(p: &Params, scope: &Scope) -> Result<Area, Error> {
    let given: Vec<&str> = ["bbox", "polygon", "line", "lon"]
        .into_iter()
        .filter(|k| p.get(k).is_some())
        .collect();
    if given.len() > 1 {
        return Err(Error::BadRequest(format!(
            "give one area, not {}",
            given.join(" and ")
        )));
    }
    if p.get("within_m").is_some() && p.get("line").is_none() {
        return Err(Error::BadRequest("`within_m` goes with `line`".into()));
    }
    if p.get("radius_m").is_some() && p.get("lon").is_none() {
        return Err(Error::BadRequest(
            "`radius_m` goes with `lon` and `lat`".into(),
        ));
    }
    if let Some(b) = p.get("bbox") {
        return Ok(Area::Bbox(parse_bbox(b, scope.datum)?));
    }
    if let Some(poly) = p.get("polygon") {
        let mp = shape::polygon(poly, scope.datum)
            .map_err(|e| Error::BadRequest(format!("`polygon`: {e}")))?;
        return Ok(Area::Polygon(mp));
    }
    if let Some(l) = p.get("line") {
        let line =
            shape::line(l, scope.datum).map_err(|e| Error::BadRequest(format!("`line`: {e}")))?;
        let distance_m = float(p, "within_m")?.unwrap_or(500.0);
        if !(distance_m > 0.0 && distance_m <= MAX_RADIUS_M) {
            return Err(Error::BadRequest(format!(
                "`within_m` must be above 0 and at most {MAX_RADIUS_M} metres, got {distance_m}"
            )));
        }
        return Ok(Area::Corridor { line, distance_m });
    }
    if p.get("lon").is_some() || p.get("lat").is_some() {
        let (Some(lon), Some(lat)) = (float(p, "lon")?, float(p, "lat")?) else {
            return Err(Error::BadRequest("give both `lon` and `lat`".into()));
        };
        let radius_m = float(p, "radius_m")?.unwrap_or(1_000.0);
        if !(radius_m > 0.0 && radius_m <= MAX_RADIUS_M) {
            return Err(Error::BadRequest(format!(
                "`radius_m` must be above 0 and at most {MAX_RADIUS_M} metres, got {radius_m}"
            )));
        }
        return Ok(Area::Near {
            point: lon_lat(lon, lat, scope.datum, "")?,
            radius_m,
        });
    }
    Ok(Area::Bbox([-180.0, -90.0, 180.0, 90.0]))
}

/// `GET /api/compounds`: compounds in an area, filtered, sorted and paged.
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Error> {
    let p = Params::parse(raw.clone(), &search_params())?;
    let page = |offset: usize| {
        let mut pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
        pairs.retain(|(k, _)| k != "offset");
        pairs.push(("offset".into(), offset.to_string()));
        format!(
            "{}/api/compounds?{}",
            base_url(&headers),
            serde_urlencoded::to_string(&pairs).unwrap_or_default()
        )
    };
    run_search(&state, &caller, &p, Some(&page)).await
}

/// `POST /api/compounds` with a JSON object of the same parameters (a large `polygon` or
/// `line` as GeoJSON or WKT): the same answer as the GET.
pub async fn search_post(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, Error> {
    let p = Params::from_json(&body, &search_params())?;
    run_search(&state, &caller, &p, None).await
}

async fn run_search(
    state: &AppState,
    caller: &Caller,
    p: &Params,
    page_url: Option<&(dyn Fn(usize) -> String + Sync)>,
) -> Result<Response, Error> {
    let format = Format::parse_for(p.get("f"), caller)?;
    let filter = parse_filter(p)?;
    let max = if format == Format::GeoJson {
        MAX_PAGE
    } else {
        MAX_EXPORT
    };
    let limit = count(p, "limit", 100, 1, max)?;
    let offset = count(p, "offset", 0, 0, usize::MAX)?;
    let ctx = Ctx::of(state, p).await?;
    let area = search_area(p, &ctx.scope)?;
    let sort = match p.get("sort") {
        None if area.measures() => Sort::Distance,
        None if filter.name.is_some() => Sort::Relevance,
        None => Sort::Id,
        Some(s) => {
            let sort = Sort::parse(s).ok_or_else(|| {
                Error::BadRequest(format!(
                    "unknown sort `{s}`; use density, complaints, distance, name, id or relevance"
                ))
            })?;
            if sort == Sort::Relevance && filter.name.is_none() {
                return Err(Error::BadRequest(
                    "sort=relevance needs a name search `q`".into(),
                ));
            }
            if sort == Sort::Distance && !area.measures() {
                return Err(Error::BadRequest(
                    "sort=distance needs a point (lon, lat) or a line to measure from".into(),
                ));
            }
            sort
        }
    };
    let only = ctx.only(&filter)?;
    let hits = if only.as_ref().is_some_and(Vec::is_empty) {
        Vec::new()
    } else {
        state
            .atlas
            .store
            .find_compounds(&area, only.as_deref(), usize::MAX)
            .await?
    };
    let mut rows = ctx.rows(&hits);
    if let Some(cql) = cql2_filter(p, &ctx, &rows)? {
        // Geometries in CRS84 as the filter's are, whatever datum the answer is in.
        rows = cql.keep(rows, |r| {
            let c = &ctx.city.data.compounds[r.k];
            (
                r.properties(&ctx.city),
                Geometry::MultiPolygon(c.geom.clone()),
            )
        })?;
    }
    sort_rows(&mut rows, sort, &ctx.city, filter.name.as_deref());
    let matched = rows.len();
    let features: Vec<Feature> = rows
        .iter()
        .skip(offset)
        .take(limit)
        .map(|r| ctx.feature(r))
        .collect();
    let mut extra = ctx.about();
    extra.insert("numberMatched".into(), json!(matched));
    extra.insert("numberReturned".into(), json!(features.len()));
    let more = offset + features.len() < matched;
    if more {
        extra.insert("next_offset".into(), json!(offset + features.len()));
    }
    if let Some(url) = page_url {
        let mut links =
            vec![json!({ "rel": "self", "type": "application/geo+json", "href": url(offset) })];
        if more {
            links.push(json!({ "rel": "next", "type": "application/geo+json", "href": url(offset + features.len()) }));
        }
        extra.insert("links".into(), Value::Array(links));
    }
    export::respond(format, "compounds", &features, extra)
}

/// `filter` (CQL2, as on OGC API Features items) over the attributes of the compounds a search
/// answers, named and typed from its first row.
fn cql2_filter(
    p: &Params,
    ctx: &Ctx,
    rows: &[Row],
) -> Result<Option<super::filter::Filter>, Error> {
    let Some(f) = super::filter::Filter::of_query(
        p.get("filter"),
        p.get("filter-lang"),
        p.get("filter-crs"),
    )?
    else {
        return Ok(None);
    };
    // The first row, else any compound: the same attributes.
    let any = || {
        let id = ctx.city.data.compounds.first()?.id;
        Row::new(&ctx.city, &ctx.fig, id, None)
    };
    let Some(first) = rows.first().copied().or_else(any).map(|r| ctx.feature(&r)) else {
        return Ok(Some(f));
    };
    let names: Vec<&str> = first.properties.keys().map(String::as_str).collect();
    f.check_names(&names, "a compound")?;
    super::filter::check_types_on(&f, Some(&first))?;
    Ok(Some(f))
}

/// `GET /api/districts?from=&to=&period=`: households, complaints, density and grade counts
/// of each district.
pub async fn districts(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Error> {
    let p = Params::parse(raw, &["from", "to", "period"])?;
    let ctx = Ctx::of(&state, &p).await?;
    let by = ctx.compounds_by(|c| &c.district_code);
    let list: Vec<Value> = ctx
        .city
        .data
        .districts
        .iter()
        .map(|d| {
            let ids = by.get(d.code.as_str()).map_or(&[][..], Vec::as_slice);
            summary(
                &ctx,
                (&d.code, &d.name),
                ids,
                &ctx.fig.district(&d.code),
                None,
            )
        })
        .collect();
    let mut out = ctx.about();
    out.remove("datum");
    out.insert("districts".into(), Value::Array(list));
    Ok(Json(Value::Object(out)))
}

/// `GET /api/streets?district=&from=&to=&period=`: the same per street.
pub async fn streets(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Error> {
    let p = Params::parse(raw, &["district", "from", "to", "period"])?;
    let ctx = Ctx::of(&state, &p).await?;
    let d = &ctx.city.data;
    let district = match p.get("district") {
        None => None,
        Some(x) => Some(crate::error::district_code(d, x)?.to_string()),
    };
    let by = ctx.compounds_by(|c| &c.street_code);
    let list: Vec<Value> = d
        .streets
        .iter()
        .filter(|s| district.as_ref().is_none_or(|c| &s.district_code == c))
        .map(|s| {
            let ids = by.get(s.code.as_str()).map_or(&[][..], Vec::as_slice);
            summary(
                &ctx,
                (&s.code, &s.name),
                ids,
                &ctx.fig.street(&s.code),
                Some(&s.district_code),
            )
        })
        .collect();
    let mut out = ctx.about();
    out.remove("datum");
    out.insert("streets".into(), Value::Array(list));
    Ok(Json(Value::Object(out)))
}

/// An area's figures: its compounds, households, complaints, density and grades, and the
/// three rates with the hours over its compounds `ids`.
fn summary(
    ctx: &Ctx,
    (code, name): (&str, &str),
    ids: &[i64],
    a: &crate::analytics::AreaFigures,
    district: Option<&str>,
) -> Value {
    let dens = density(a.complaints, a.households, ctx.scope.window.months());
    let mut v = json!({
        "code": code, "name": name, "compounds": a.compounds, "households": a.households,
        "complaints": a.complaints, "density": (dens * 100.0).round() / 100.0,
        "red": a.red, "yellow": a.yellow, "blue": a.blue,
    });
    if let Some(d) = district {
        v["district"] = json!(ctx.city.district_name(d));
        v["district_code"] = json!(d);
    }
    if let Value::Object(m) = &mut v {
        let rates = super::request::area_rates(&ctx.scope.stats, a, ids, ctx.scope.window);
        super::request::insert_rates(m, &rates);
    }
    v
}

const ROUTE: [&str; 7] = [
    "start",
    "end",
    "compounds",
    "select",
    "rounds",
    "max_stops",
    "f",
];
const SELECT: [&str; 8] = [
    "q",
    "grade",
    "district",
    "street",
    "company",
    "category",
    "min_density",
    "limit",
];

fn point_member(p: &Params, k: &str, scope: &Scope) -> Result<Option<Point<f64>>, Error> {
    let Some(v) = p.get(k) else { return Ok(None) };
    let xy: Vec<f64> = v
        .split(',')
        .map(|x| x.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
        .collect::<Option<_>>()
        .filter(|xy: &Vec<f64>| xy.len() == 2)
        .ok_or_else(|| {
            Error::BadRequest(format!("`{k}` must be [longitude, latitude], got `{v}`"))
        })?;
    lon_lat(xy[0], xy[1], scope.datum, &format!("`{k}`: ")).map(Some)
}

/// The compounds a route visits: the ids given (each known, none twice), or a selection's
/// worst by density up to its `limit`.
fn route_stops(p: &Params, ctx: &Ctx) -> Result<Vec<i64>, Error> {
    let ids = match (p.get("compounds"), p.get("select")) {
        (Some(_), Some(_)) => {
            return Err(Error::BadRequest(
                "give either `compounds` or `select`, not both".into(),
            ))
        }
        (None, None) => {
            return Err(Error::BadRequest(
                "say which compounds to visit: `compounds` (ids) or `select` (a selection)".into(),
            ))
        }
        (Some(list), None) => {
            let mut ids = Vec::new();
            for raw in list.split(',') {
                let id = raw.trim().parse::<i64>().map_err(|_| {
                    Error::BadRequest(format!("`compounds` holds ids (numbers), got `{raw}`"))
                })?;
                if ctx.city.compound(id).is_none() {
                    return Err(Error::NotFound(format!("compound {id}")));
                }
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            ids
        }
        (None, Some(sel)) => {
            let sp = Params::from_json(sel.as_bytes(), &SELECT)
                .map_err(|e| Error::BadRequest(format!("`select`: {e}")))?;
            let filter = parse_filter(&sp)?;
            let limit = count(&sp, "limit", 20, 1, MAX_STOPS)?;
            let only = ctx.only(&filter)?;
            let mut rows: Vec<Row> = match only {
                Some(ids) => ids
                    .iter()
                    .filter_map(|id| Row::new(&ctx.city, &ctx.fig, *id, None))
                    .collect(),
                None => ctx
                    .city
                    .data
                    .compounds
                    .iter()
                    .filter_map(|c| Row::new(&ctx.city, &ctx.fig, c.id, None))
                    .collect(),
            };
            // The worst first: the selection's `limit` keeps the highest densities.
            sort_rows(&mut rows, Sort::Density, &ctx.city, None);
            rows.iter().take(limit).map(|r| r.id).collect()
        }
    };
    Ok(ids)
}

/// One round: its stops in visiting order with legs and running totals, and its line.
fn plan_round(
    ctx: &Ctx,
    n: usize,
    group: &[usize],
    rows: &[Row],
    points: &[Point<f64>],
    (start, end): (Point<f64>, Option<Point<f64>>),
    out_xy: &dyn Fn(Point<f64>) -> [f64; 2],
) -> (Value, f64) {
    let pts: Vec<Point<f64>> = group.iter().map(|&i| points[i]).collect();
    let r = route::plan(start, &pts, end);
    let mut cumulative = 0.0;
    let mut line = vec![out_xy(start)];
    let stops: Vec<Value> = r
        .order
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            let row = &rows[group[i]];
            cumulative += r.legs[k];
            line.push(out_xy(pts[i]));
            let mut m = row.properties(&ctx.city);
            m.insert("order".into(), json!(k + 1));
            let [x, y] = out_xy(pts[i]);
            m.insert("lon".into(), json!(x));
            m.insert("lat".into(), json!(y));
            m.insert("leg_m".into(), json!((r.legs[k] * 10.0).round() / 10.0));
            m.insert(
                "cumulative_m".into(),
                json!((cumulative * 10.0).round() / 10.0),
            );
            Value::Object(m)
        })
        .collect();
    if let Some(e) = end {
        line.push(out_xy(e));
    }
    let ls: LineString<f64> = line.iter().map(|[x, y]| (*x, *y)).collect();
    let round = json!({
        "round": n + 1,
        "method": r.method,
        "stops": stops,
        "end_leg_m": end.map(|_| (r.legs.last().copied().unwrap_or(0.0) * 10.0).round() / 10.0),
        "total_m": (r.total_m * 10.0).round() / 10.0,
        "route": {
            "type": "Feature",
            "geometry": geojson::Geometry::from(&Geometry::LineString(ls)),
            "properties": { "round": n + 1, "stops": group.len(), "total_m": (r.total_m * 10.0).round() / 10.0 },
        },
    });
    (round, r.total_m)
}

/// `POST /api/plan/route`: an inspection round (or several) through compounds given by id or
/// by a selection, from a start point to an optional end point.
///
/// Body: `{"start":[lon,lat], "end":[lon,lat]?, "compounds":[id,…] | "select":{"grade":…,
/// "district":…, "street":…, "company":…, "category":…, "min_density":…, "limit":20},
/// "rounds":1, "max_stops":…, "from","to","period","datum"}`.
pub async fn plan_route(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    caller.require(Role::Planner)?;
    let mut all = allowed(&ROUTE);
    all.retain(|k| !FILTERS.contains(k));
    let p = Params::from_json(&body, &all)?;
    let ctx = Ctx::of(&state, &p).await?;
    let start = point_member(&p, "start", &ctx.scope)?
        .ok_or_else(|| Error::BadRequest("`start` is required: [longitude, latitude]".into()))?;
    let end = point_member(&p, "end", &ctx.scope)?;
    let ids = route_stops(&p, &ctx)?;
    if ids.is_empty() {
        return Err(Error::BadRequest(
            "the selection matches no compound: nothing to visit".into(),
        ));
    }
    if ids.len() > MAX_STOPS {
        return Err(Error::BadRequest(format!(
            "{} stops; a request plans at most {MAX_STOPS}",
            ids.len()
        )));
    }
    let rounds = count(&p, "rounds", 1, 1, 100)?;
    let max_stops = count(&p, "max_stops", ids.len().div_ceil(rounds), 1, MAX_STOPS)?;
    if rounds * max_stops < ids.len() {
        return Err(Error::BadRequest(format!(
            "{} stops do not fit in {rounds} round(s) of at most {max_stops}: ask for at least {} rounds",
            ids.len(),
            ids.len().div_ceil(max_stops)
        )));
    }
    let rows: Vec<Row> = ids
        .iter()
        .filter_map(|id| Row::new(&ctx.city, &ctx.fig, *id, None))
        .collect();
    let points: Vec<Point<f64>> = rows.iter().map(|r| ctx.city.compound_label(r.k)).collect();
    let started = std::time::Instant::now();
    let groups = if rounds == 1 {
        vec![(0..points.len()).collect::<Vec<_>>()]
    } else {
        route::split(start, &points, rounds, max_stops)
    };
    let datum = ctx.scope.datum;
    let out_xy = |p: Point<f64>| {
        let (x, y) = datum.from_wgs84(p.x(), p.y());
        [(x * 1e7).round() / 1e7, (y * 1e7).round() / 1e7]
    };
    let mut planned = Vec::new();
    let mut grand = 0.0;
    for (n, group) in groups.iter().enumerate() {
        let (round, total_m) = plan_round(&ctx, n, group, &rows, &points, (start, end), &out_xy);
        grand += total_m;
        planned.push(round);
    }
    let mut out = ctx.about();
    out.insert("distance_model".into(), json!("great-circle"));
    out.insert(
        "note".into(),
        json!("Distances are great-circle (haversine, mean Earth radius) between the start, each compound's inside point and the end: there is no road network yet, so travel on streets is longer."),
    );
    out.insert("start".into(), json!(out_xy(start)));
    out.insert("end".into(), json!(end.map(out_xy)));
    out.insert("stops".into(), json!(ids.len()));
    out.insert("total_m".into(), json!((grand * 10.0).round() / 10.0));
    out.insert(
        "planning_ms".into(),
        json!(started.elapsed().as_secs_f64() * 1e3),
    );
    out.insert("rounds".into(), Value::Array(planned));
    Ok(Json(Value::Object(out)))
}

/// This surface's routes: summaries, compound search and nearest compounds, inspection routes.
pub(super) fn routes() -> axum::Router<super::AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/api/districts", get(districts))
        .route("/api/streets", get(streets))
        .route("/api/compounds", get(search).post(search_post))
        .route("/api/compounds/nearby", get(nearby))
        .route("/api/plan/route", axum::routing::post(plan_route))
}
