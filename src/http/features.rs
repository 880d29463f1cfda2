//! OGC API – Features Part 1 (Core, GeoJSON, OpenAPI 3.0) at `/ogc/collections/{id}/items`
//! for `districts`, `streets`, `compounds`, `buildings` and `units`: bbox, limit/offset with
//! next links, `datetime` as the complaint window, property filters, single items, and
//! FlatGeobuf or CSV besides GeoJSON.

use super::export::{self, Feature, Format};
use super::planner::parse_filter;
use super::request::base_url;
use super::request::parse_bbox;
use super::request::{Params, Scope};
use super::{AppState, Caller};
use crate::analytics::{density, density_class, AreaFigures, Window};
use crate::error::Error;
use crate::model::Audience;
use crate::model::{Layer, Month};
use crate::planner::Row;
use crate::store::Area;
use crate::tile::atlas::{CityIndex, Figures};
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use geo::Intersects;
use geo_types::Geometry;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// The feature collections, with their titles and the filters each takes.
pub const COLLECTIONS: [(&str, &str, &[&str]); 5] = [
    (
        "districts",
        "Districts (区/市) with complaint figures and grade counts",
        &[],
    ),
    (
        "streets",
        "Streets (街道/镇) with complaint figures and grade counts",
        &["district"],
    ),
    (
        "compounds",
        "Residential compounds (小区) with complaints, density and grade",
        &[
            "q",
            "grade",
            "district",
            "street",
            "company",
            "category",
            "min_density",
        ],
    ),
    (
        "buildings",
        "Buildings (楼栋) with complaints and density",
        &["compound_id"],
    ),
    (
        "units",
        "Building units (单元) with complaints",
        &["building_id"],
    ),
];

/// The most features one page holds.
pub const MAX_LIMIT: usize = 10_000;
const DEFAULT_LIMIT: usize = 100;

pub fn layer_of(id: &str) -> Option<(Layer, &'static [&'static str])> {
    let layer = match id {
        "districts" => Layer::Districts,
        "streets" => Layer::Streets,
        "compounds" => Layer::Compounds,
        "buildings" => Layer::Buildings,
        "units" => Layer::Units,
        _ => return None,
    };
    COLLECTIONS
        .iter()
        .find(|(n, _, _)| *n == id)
        .map(|(_, _, f)| (layer, *f))
}

fn link(href: String, rel: &str, kind: &str, title: &str) -> Value {
    json!({ "href": href, "rel": rel, "type": kind, "title": title })
}

/// The collection document of a feature collection.
pub fn collection_doc(b: &str, id: &str, title: &str, bbox: [f64; 4]) -> Value {
    json!({
        "id": id,
        "title": title,
        "itemType": "feature",
        "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        "extent": {
            "spatial": { "bbox": [bbox], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84" },
        },
        "links": [
            link(format!("{b}/ogc/collections/{id}"), "self", "application/json", "this collection"),
            link(format!("{b}/ogc/collections/{id}/items"), "items", "application/geo+json", "items as GeoJSON"),
            link(format!("{b}/ogc/collections/{id}/items?f=fgb"), "items", "application/flatgeobuf", "items as FlatGeobuf"),
            link(format!("{b}/ogc/collections/{id}/items?f=csv"), "items", "text/csv", "items as CSV"),
            link(format!("{b}/ogc/collections/{id}/queryables"), "http://www.opengis.net/def/rel/ogc/1.0/queryables", "application/schema+json", "what a filter may name"),
            link(format!("{b}/ogc/collections/{id}/tiles"), "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", "application/json", "vector tiles (the atlas tileset, every layer)"),
        ],
    })
}

/// `datetime` (RFC 3339 instant or interval, `..` open) as a complaint window of whole
/// months within the data.
pub fn window_of(datetime: &str, first: Month, last: Month) -> Result<Window, Error> {
    let month = |s: &str, end: bool| -> Result<Month, Error> {
        let s = s.trim();
        if s.is_empty() || s == ".." {
            return Ok(if end { last } else { first });
        }
        let ym = s.get(..7).unwrap_or(s);
        Month::parse(ym).ok_or_else(|| {
            Error::BadRequest(format!(
                "`datetime` takes dates (2023-01-01, 2023-01) or an interval a/b with `..` for an open end; got `{s}`"
            ))
        })
    };
    let (from, to) = if let Some((a, b)) = datetime.split_once('/') {
        (month(a, false)?, month(b, true)?)
    } else {
        let m = month(datetime, false)?;
        (m, m)
    };
    if from > to {
        return Err(Error::BadRequest(format!(
            "`datetime` runs backwards: `{datetime}`"
        )));
    }
    Ok(Window { from, to })
}

/// What an items request reads.
/// What answering features takes: the window and its figures, the city, the caller's audience
/// (shared with the Esri FeatureServer).
pub(super) struct Ctx {
    pub(super) scope: Scope,
    pub(super) city: Arc<CityIndex>,
    fig: Arc<Figures>,
    audience: Audience,
}

impl Ctx {
    pub(super) async fn of(state: &AppState, caller: &Caller, p: &Params) -> Result<Ctx, Error> {
        let mut scope = Scope::of(state, p).await?;
        if let Some(dt) = p.get("datetime") {
            if p.get("from").is_some() || p.get("to").is_some() {
                return Err(Error::BadRequest(
                    "give the window as `datetime` or as `from`/`to`, not both".into(),
                ));
            }
            let first = scope.stats.first.unwrap_or(scope.window.from);
            let last = scope.stats.last.unwrap_or(scope.window.to);
            scope.window = window_of(dt, first, last)?;
        }
        let city = state.tiles.city(&state.atlas).await?;
        let fig = state
            .tiles
            .figures(&state.atlas, scope.window, scope.period)
            .await?;
        Ok(Ctx {
            scope,
            city,
            fig,
            audience: state.audience(caller),
        })
    }

    fn geometry(&self, g: Geometry<f64>) -> Geometry<f64> {
        export::shift(&g, self.scope.datum)
    }

    /// A small count is withheld from public callers (privacy).
    fn count(&self, n: u64) -> Value {
        self.audience.shown(n).map_or(Value::Null, |n| json!(n))
    }

    fn area(&self, code: &str, name: &str, a: &AreaFigures) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("code".into(), json!(code));
        m.insert("name".into(), json!(name));
        m.insert("compounds".into(), json!(a.compounds));
        m.insert("households".into(), json!(a.households));
        m.insert("complaints".into(), json!(a.complaints));
        let d = density(a.complaints, a.households, self.scope.window.months());
        m.insert("density".into(), json!((d * 100.0).round() / 100.0));
        m.insert("red".into(), json!(a.red));
        m.insert("yellow".into(), json!(a.yellow));
        m.insert("blue".into(), json!(a.blue));
        m.insert("resolved_rate".into(), json!(a.resolved_rate()));
        m.insert("satisfied_rate".into(), json!(a.satisfied_rate()));
        m
    }

    /// How many features a layer has.
    pub(super) fn size(&self, layer: Layer) -> usize {
        let d = &self.city.data;
        match layer {
            Layer::Districts => d.districts.len(),
            Layer::Streets => d.streets.len(),
            Layer::Buildings => d.buildings.len(),
            Layer::Units => d.units.len(),
            Layer::Compounds | Layer::Companies => d.compounds.len(),
        }
    }

    /// The first features of a layer, to learn its properties' types from (every feature of
    /// a layer has the same properties).
    pub(super) fn sample(&self, layer: Layer) -> Vec<Feature> {
        (0..self.size(layer).min(500))
            .map(|k| self.feature(layer, k))
            .collect()
    }

    /// The names of a layer's properties (every feature has the same ones), from its first
    /// feature: what a filter may name, without typing them from a sample.
    pub(super) fn property_names(&self, layer: Layer) -> Vec<String> {
        if self.size(layer) == 0 {
            return Vec::new();
        }
        self.feature(layer, 0).properties.keys().cloned().collect()
    }

    /// The feature at position `k` of a layer.
    pub(super) fn feature(&self, layer: Layer, k: usize) -> Feature {
        match layer {
            Layer::Districts => self.district_feature(k),
            Layer::Streets => self.street_feature(k),
            Layer::Compounds | Layer::Companies => self.compound_feature(k),
            Layer::Buildings => self.building_feature(k),
            Layer::Units => self.unit_feature(k),
        }
    }

    /// The district at position `k`, with its complaint figures.
    fn district_feature(&self, k: usize) -> Feature {
        let x = &self.city.data.districts[k];
        Feature {
            id: json!(x.code),
            geometry: self.geometry(Geometry::MultiPolygon(x.geom.clone())),
            properties: self.area(&x.code, &x.name, &self.fig.district(&x.code)),
        }
    }

    /// The street at position `k`, with its figures and its district.
    fn street_feature(&self, k: usize) -> Feature {
        let x = &self.city.data.streets[k];
        let mut m = self.area(&x.code, &x.name, &self.fig.street(&x.code));
        m.insert(
            "district".into(),
            json!(self.city.district_name(&x.district_code)),
        );
        m.insert("district_code".into(), json!(x.district_code));
        Feature {
            id: json!(x.code),
            geometry: self.geometry(Geometry::MultiPolygon(x.geom.clone())),
            properties: m,
        }
    }

    /// The compound at position `k`, with the planner's row of properties.
    fn compound_feature(&self, k: usize) -> Feature {
        let c = &self.city.data.compounds[k];
        let props = Row::new(&self.city, &self.fig, c.id, None)
            .map(|r| r.properties(&self.city))
            .unwrap_or_default();
        Feature {
            id: json!(c.id),
            geometry: self.geometry(Geometry::MultiPolygon(c.geom.clone())),
            properties: props,
        }
    }

    /// The building at position `k`, with its complaints and density (withheld alike).
    fn building_feature(&self, k: usize) -> Feature {
        let b = &self.city.data.buildings[k];
        let n = self.fig.building(b.id);
        let shown = self.count(n);
        let dens = density(n, i64::from(b.households), self.scope.window.months());
        let mut m = Map::new();
        m.insert("id".into(), json!(b.id));
        m.insert("compound_id".into(), json!(b.compound_id));
        m.insert("name".into(), json!(b.name));
        m.insert("floors".into(), json!(b.floors));
        m.insert("units".into(), json!(self.city.units_of(b.id).len()));
        m.insert("households".into(), json!(b.households));
        m.insert(
            "density".into(),
            if shown.is_null() {
                Value::Null
            } else {
                json!((dens * 100.0).round() / 100.0)
            },
        );
        m.insert(
            "density_class".into(),
            if shown.is_null() {
                Value::Null
            } else {
                json!(density_class(n, dens))
            },
        );
        m.insert("complaints".into(), shown);
        Feature {
            id: json!(b.id),
            geometry: self.geometry(Geometry::Polygon(b.geom.clone())),
            properties: m,
        }
    }

    /// The unit at position `k`, with its complaints.
    fn unit_feature(&self, k: usize) -> Feature {
        let u = &self.city.data.units[k];
        let mut m = Map::new();
        m.insert("id".into(), json!(u.id));
        m.insert("building_id".into(), json!(u.building_id));
        m.insert("name".into(), json!(u.name));
        m.insert("households".into(), json!(u.households));
        m.insert("complaints".into(), self.count(self.fig.unit(u.id)));
        Feature {
            id: json!(u.id),
            geometry: self.geometry(Geometry::Point(u.geom)),
            properties: m,
        }
    }
}

fn common_params(filters: &[&'static str]) -> Vec<&'static str> {
    let mut v = vec![
        "bbox", "bbox-crs", "limit", "offset", "datetime", "f", "from", "to", "period", "datum",
    ];
    v.extend(super::filter::PARAMS);
    v.extend_from_slice(filters);
    v
}

fn check_crs(p: &Params) -> Result<(), Error> {
    match p.get("bbox-crs") {
        None | Some("http://www.opengis.net/def/crs/OGC/1.3/CRS84") => Ok(()),
        Some(other) => Err(Error::BadRequest(format!(
            "bbox-crs `{other}` is not supported; this server takes http://www.opengis.net/def/crs/OGC/1.3/CRS84"
        ))),
    }
}

fn not_a_collection(id: &str) -> Error {
    Error::NotFound(format!(
        "no feature collection `{id}`; this server has districts, streets, compounds, buildings and units"
    ))
}

/// The id a parameter `k` gives, if the request has it.
fn id_param(p: &Params, k: &str) -> Result<Option<i64>, Error> {
    p.get(k)
        .map(|v| {
            v.parse::<i64>().map_err(|_| {
                Error::BadRequest(format!("`{k}` must be an id (a number), got `{v}`"))
            })
        })
        .transpose()
}

/// What a request's features are matched against: its context, parameters and box.
struct Matching<'a> {
    ctx: &'a Ctx,
    p: &'a Params,
    bbox: Option<[f64; 4]>,
    rect: Option<geo_types::Rect<f64>>,
}

impl Matching<'_> {
    /// The positions of a layer's features in the box (all `len` of them without one).
    fn candidates(&self, layer: Layer, len: usize) -> Vec<usize> {
        match self.bbox {
            Some(b) => self.ctx.city.in_box(layer, b),
            None => (0..len).collect(),
        }
    }

    /// Whether a geometry meets the box (any does without one).
    fn in_rect<G>(&self, g: &G) -> bool
    where
        geo_types::Rect<f64>: Intersects<G>,
    {
        self.rect.is_none_or(|r| r.intersects(g))
    }

    /// The districts meeting the box.
    fn districts(&self) -> Vec<usize> {
        let d = &self.ctx.city.data;
        self.candidates(Layer::Districts, d.districts.len())
            .into_iter()
            .filter(|&k| self.in_rect(&d.districts[k].geom))
            .collect()
    }

    /// The streets meeting the box, of the `district` asked for.
    fn streets(&self) -> Result<Vec<usize>, Error> {
        let d = &self.ctx.city.data;
        let district = self
            .p
            .get("district")
            .map(|x| crate::error::district_code(d, x))
            .transpose()?;
        Ok(self
            .candidates(Layer::Streets, d.streets.len())
            .into_iter()
            .filter(|&k| {
                let s = &d.streets[k];
                district.is_none_or(|x| s.district_code == x) && self.in_rect(&s.geom)
            })
            .collect())
    }

    /// The compounds in the box that the planner's filter keeps, found by the store.
    async fn compounds(&self, state: &AppState) -> Result<Vec<usize>, Error> {
        let ctx = self.ctx;
        let filter = parse_filter(self.p)?;
        let only = filter.ids(&ctx.city, &ctx.fig, &ctx.scope.stats)?;
        if only.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        let area = Area::Bbox(self.bbox.unwrap_or([-180.0, -90.0, 180.0, 90.0]));
        let hits = state
            .atlas
            .store
            .find_compounds(&area, only.as_deref(), usize::MAX)
            .await?;
        let mut ks: Vec<usize> = hits
            .iter()
            .filter_map(|h| ctx.city.compound(h.id).map(|(k, _)| k))
            .collect();
        ks.sort_unstable();
        Ok(ks)
    }

    /// The buildings meeting the box, of the `compound_id` asked for.
    fn buildings(&self) -> Result<Vec<usize>, Error> {
        let d = &self.ctx.city.data;
        let compound = id_param(self.p, "compound_id")?;
        Ok(match compound {
            Some(c) => self.ctx.city.buildings_of(c).to_vec(),
            None => self.candidates(Layer::Buildings, d.buildings.len()),
        }
        .into_iter()
        .filter(|&k| self.in_rect(&d.buildings[k].geom))
        .collect())
    }

    /// The units meeting the box, of the `building_id` asked for.
    fn units(&self) -> Result<Vec<usize>, Error> {
        let d = &self.ctx.city.data;
        let building = id_param(self.p, "building_id")?;
        Ok(match building {
            Some(b) => self.ctx.city.units_of(b).to_vec(),
            None => self.candidates(Layer::Units, d.units.len()),
        }
        .into_iter()
        .filter(|&k| self.in_rect(&d.units[k].geom))
        .collect())
    }
}

/// Positions of the features matching the request, ascending.
async fn matching(
    state: &AppState,
    ctx: &Ctx,
    layer: Layer,
    p: &Params,
) -> Result<Vec<usize>, Error> {
    let bbox = p
        .get("bbox")
        .map(|b| parse_bbox(b, ctx.scope.datum))
        .transpose()?;
    let rect = bbox.map(|b| {
        geo_types::Rect::new(
            geo_types::coord! { x: b[0], y: b[1] },
            geo_types::coord! { x: b[2], y: b[3] },
        )
    });
    let m = Matching { ctx, p, bbox, rect };
    match layer {
        Layer::Districts => Ok(m.districts()),
        Layer::Streets => m.streets(),
        Layer::Compounds | Layer::Companies => m.compounds(state).await,
        Layer::Buildings => m.buildings(),
        Layer::Units => m.units(),
    }
}

/// `GET /ogc/collections/{id}/items`
/// `atlas` is a tiled collection with no features of its own. Feature clients that open every
/// listed collection as a layer (GDAL 3.6's OAPIF, which does not read `itemType`) find it
/// empty instead of failing on it; its features are in the other collections.
fn no_items(b: &str) -> Response {
    let body = serde_json::json!({
        "type": "FeatureCollection",
        "features": [],
        "numberMatched": 0,
        "numberReturned": 0,
        "links": [
            link(format!("{b}/ogc/collections/atlas/items"), "self", "application/geo+json", "no items: atlas is the vector tiles of every layer"),
            link(format!("{b}/ogc/collections"), "data", "application/json", "the feature collections"),
        ],
    });
    (
        [(axum::http::header::CONTENT_TYPE, "application/geo+json")],
        body.to_string(),
    )
        .into_response()
}

/// The `limit` (at most [`MAX_LIMIT`]) and `offset` a request asks for.
fn page_bounds(p: &Params) -> Result<(usize, usize), Error> {
    let limit = match p.get("limit") {
        None => DEFAULT_LIMIT,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                Error::BadRequest(format!("`limit` must be a whole number from 1, got `{v}`"))
            })?
            // OGC API – Features: a limit above the maximum is served as the maximum.
            .min(MAX_LIMIT),
    };
    let offset = match p.get("offset") {
        None => 0,
        Some(v) => v.parse::<usize>().map_err(|_| {
            Error::BadRequest(format!("`offset` must be a whole number, got `{v}`"))
        })?,
    };
    Ok((limit, offset))
}

/// OGC API – Features Part 3: the positions `ks` a CQL2 filter keeps (all without one).
fn filtered(ctx: &Ctx, layer: Layer, p: &Params, ks: Vec<usize>) -> Result<Vec<usize>, Error> {
    let filter = super::filter::Filter::of_query(
        p.get("filter"),
        p.get("filter-lang"),
        p.get("filter-crs"),
    )?;
    Ok(match filter {
        Some(filter) => {
            let fields = ctx.property_names(layer);
            let names: Vec<&str> = fields.iter().map(String::as_str).collect();
            filter.check_names(&names, "this collection")?;
            let first = ks.first().map(|&k| ctx.feature(layer, k));
            super::filter::check_types_on(&filter, first.as_ref())?;
            filter.keep(ks, |&k| {
                let f = ctx.feature(layer, k);
                (f.properties, f.geometry)
            })?
        }
        None => ks,
    })
}

/// One page of a collection's items, for the links to it and to its neighbours.
struct Page<'a> {
    base: String,
    id: &'a str,
    raw: Option<&'a str>,
    limit: usize,
    offset: usize,
}

impl Page<'_> {
    /// The address of the page from `offset` with the request's other parameters, in `f`.
    fn url(&self, offset: usize, f: Option<&str>) -> String {
        let (b, id) = (&self.base, self.id);
        let mut pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(self.raw.unwrap_or("")).unwrap_or_default();
        pairs.retain(|(k, _)| k != "offset" && k != "f" && k != "limit");
        pairs.push(("limit".into(), self.limit.to_string()));
        pairs.push(("offset".into(), offset.to_string()));
        if let Some(f) = f {
            pairs.push(("f".into(), f.into()));
        }
        format!(
            "{b}/ogc/collections/{id}/items?{}",
            serde_urlencoded::to_string(&pairs).unwrap_or_default()
        )
    }

    /// The page's links: itself, as FlatGeobuf, its collection, and the next and previous
    /// pages when there are some.
    fn links(&self, returned: usize, matched: usize) -> Vec<Value> {
        let (b, id, limit, offset) = (&self.base, self.id, self.limit, self.offset);
        let mut links = vec![
            link(
                self.url(offset, None),
                "self",
                "application/geo+json",
                "this page",
            ),
            link(
                self.url(offset, Some("fgb")),
                "alternate",
                "application/flatgeobuf",
                "this page as FlatGeobuf",
            ),
            link(
                format!("{b}/ogc/collections/{id}"),
                "collection",
                "application/json",
                "the collection",
            ),
        ];
        if offset + returned < matched {
            links.push(link(
                self.url(offset + returned, None),
                "next",
                "application/geo+json",
                "next page",
            ));
        }
        if offset > 0 {
            links.push(link(
                self.url(offset.saturating_sub(limit), None),
                "prev",
                "application/geo+json",
                "previous page",
            ));
        }
        links
    }
}

pub async fn items(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Error> {
    if id == "atlas" {
        return Ok(no_items(&base_url(&headers)));
    }
    let (layer, filters) = layer_of(&id).ok_or_else(|| not_a_collection(&id))?;
    let p = Params::parse(raw.clone(), &common_params(filters))?;
    check_crs(&p)?;
    let format = Format::parse_for(p.get("f"), &caller)?;
    let (limit, offset) = page_bounds(&p)?;
    let ctx = Ctx::of(&state, &caller, &p).await?;
    let ks = matching(&state, &ctx, layer, &p).await?;
    let ks = filtered(&ctx, layer, &p, ks)?;
    let features: Vec<Feature> = ks
        .iter()
        .skip(offset)
        .take(limit)
        .map(|&k| ctx.feature(layer, k))
        .collect();
    let page = Page {
        base: base_url(&headers),
        id: &id,
        raw: raw.as_deref(),
        limit,
        offset,
    };
    let links = page.links(features.len(), ks.len());
    let mut extra = Map::new();
    extra.insert("numberMatched".into(), json!(ks.len()));
    extra.insert("numberReturned".into(), json!(features.len()));
    extra.insert(
        "timeStamp".into(),
        json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    );
    extra.insert("links".into(), Value::Array(links));
    export::respond(format, &id, &features, extra)
}

/// `GET /ogc/collections/{id}/items/{featureId}`
pub async fn item(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((id, fid)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Error> {
    let (layer, _) = layer_of(&id).ok_or_else(|| not_a_collection(&id))?;
    let p = Params::parse(raw, &["f", "datetime", "from", "to", "period", "datum"])?;
    let ctx = Ctx::of(&state, &caller, &p).await?;
    let d = &ctx.city.data;
    let num = fid.parse::<i64>().ok();
    let k = match layer {
        Layer::Districts => d.districts.iter().position(|x| x.code == fid),
        Layer::Streets => d.streets.iter().position(|x| x.code == fid),
        Layer::Compounds | Layer::Companies => {
            num.and_then(|n| ctx.city.compound(n)).map(|(k, _)| k)
        }
        Layer::Buildings => num.and_then(|n| d.buildings.iter().position(|b| b.id == n)),
        Layer::Units => num.and_then(|n| d.units.iter().position(|u| u.id == n)),
    }
    .ok_or_else(|| Error::NotFound(format!("no feature `{fid}` in `{id}`")))?;
    let f = ctx.feature(layer, k);
    let b = base_url(&headers);
    match Format::parse_for(p.get("f"), &caller)? {
        Format::GeoJson => {
            let mut v = export::feature_json(&f);
            v["links"] = json!([
                link(
                    format!("{b}/ogc/collections/{id}/items/{fid}"),
                    "self",
                    "application/geo+json",
                    "this feature"
                ),
                link(
                    format!("{b}/ogc/collections/{id}"),
                    "collection",
                    "application/json",
                    "the collection"
                ),
            ]);
            let body = serde_json::to_vec(&v).map_err(anyhow::Error::from)?;
            let mut r = axum::response::IntoResponse::into_response(body);
            r.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/geo+json"),
            );
            Ok(r)
        }
        other => export::respond(other, &id, &[f], Map::new()),
    }
}

/// `GET /ogc/collections/{id}/queryables` (OGC API – Features Part 3): the properties a
/// `filter` may name, with their types, and the geometry, as a JSON Schema.
pub async fn queryables(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Error> {
    let (layer, _) = layer_of(&id).ok_or_else(|| not_a_collection(&id))?;
    let p = Params::parse(raw, &["f", "from", "to", "period"])?;
    let ctx = Ctx::of(&state, &caller, &p).await?;
    let mut props = Map::new();
    let geometry = if layer == Layer::Units {
        "https://geojson.org/schema/Point.json"
    } else if layer == Layer::Buildings {
        "https://geojson.org/schema/Polygon.json"
    } else {
        "https://geojson.org/schema/MultiPolygon.json"
    };
    props.insert(
        "geometry".into(),
        json!({ "title": "geometry", "$ref": geometry, "x-ogc-role": "primary-geometry" }),
    );
    for (name, kind) in super::filter::property_types(&ctx.sample(layer)) {
        props.insert(name.clone(), json!({ "title": name, "type": kind }));
    }
    let b = base_url(&headers);
    let body = json!({
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": format!("{b}/ogc/collections/{id}/queryables"),
        "type": "object",
        "title": id,
        "properties": props,
        "additionalProperties": false,
    });
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/schema+json")],
        body.to_string(),
    )
        .into_response())
}

/// This surface's routes: OGC API – Features items, one item and queryables.
pub(super) fn routes() -> axum::Router<super::AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/ogc/collections/{id}/items", get(items))
        .route("/ogc/collections/{id}/queryables", get(queryables))
        .route("/ogc/collections/{id}/items/{fid}", get(item))
}
