//! OGC API at `/ogc`: landing page, conformance, collections; Tiles Part 1 (tile matrix
//! sets, the dataset and collection tilesets of `atlas`, tiles addressed by
//! tileMatrix/tileRow/tileCol — served by the same handler as the XYZ paths); the feature
//! collections of Features Part 1 are in [`super::features`].

use super::request::base_url;
use super::tiles::MVT;
use super::{features, AppState, Caller};
use crate::error::Error;
use crate::tile::address::{TileAddress, TileFormat};
use crate::tile::layers::TileLayer;
use crate::tile::raster::Style;
use crate::tile::Grid;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use serde_json::{json, Value};

const CONFORMANCE: [&str; 22] = [
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/dataset-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/png",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
    // OGC API – Features Part 3 and CQL2, through the cql2 crate (`filter` on items).
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
];

fn link(href: String, rel: &str, kind: &str, title: &str) -> Value {
    json!({ "href": href, "rel": rel, "type": kind, "title": title })
}

pub async fn landing(State(state): State<AppState>, headers: HeaderMap) -> Json<Value> {
    let b = base_url(&headers);
    Json(json!({
        "title": "compound-atlas",
        "description": state.titled("residential compounds, complaints and grades as OGC API – Features and Tiles"),
        "links": [
            link(format!("{b}/ogc"), "self", "application/json", "this document"),
            link(format!("{b}/openapi.json"), "service-desc", "application/vnd.oai.openapi+json;version=3.0", "the API definition (OpenAPI 3.0)"),
            link(format!("{b}/ogc/conformance"), "http://www.opengis.net/def/rel/ogc/1.0/conformance", "application/json", "conformance classes"),
            link(format!("{b}/ogc/tileMatrixSets"), "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes", "application/json", "tile matrix sets"),
            link(format!("{b}/ogc/tiles"), "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", "application/json", "vector tilesets"),
            link(format!("{b}/ogc/collections"), "data", "application/json", "collections"),
        ]
    }))
}

pub async fn conformance() -> Json<Value> {
    Json(json!({ "conformsTo": CONFORMANCE }))
}

pub async fn tile_matrix_sets(headers: HeaderMap) -> Json<Value> {
    let b = base_url(&headers);
    Json(json!({
        "tileMatrixSets": Grid::ALL.iter().map(|g| json!({
            "id": g.id(),
            "title": g.definition().title_description_keywords.title,
            "uri": g.definition().uri,
            "links": [link(format!("{b}/ogc/tileMatrixSets/{}", g.id()), "self", "application/json", g.id())],
        })).collect::<Vec<_>>()
    }))
}

fn grid(id: &str) -> Result<Grid, Error> {
    Grid::parse(id)
        .ok_or_else(|| Error::NotFound(format!("no tile matrix set `{id}`; use {}", Grid::ids())))
}

/// A tile matrix set in the TMS 2.0 JSON encoding, carrying the members of the TMS 1.0
/// encoding beside them (`type`, `identifier`, `supportedCRS`, `tileMatrix`), which clients
/// such as GDAL 3.6 read; TMS 2.0 readers ignore them.
pub async fn tile_matrix_set(Path(id): Path<String>) -> Result<Json<Value>, Error> {
    let g = grid(&id)?;
    let mut v = serde_json::to_value(g.definition()).map_err(|e| Error::Other(e.into()))?;
    let v1: Vec<Value> = v["tileMatrices"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            json!({
                "type": "TileMatrixType",
                "identifier": m["id"],
                "scaleDenominator": m["scaleDenominator"],
                "topLeftCorner": m["pointOfOrigin"],
                "tileWidth": m["tileWidth"],
                "tileHeight": m["tileHeight"],
                "matrixWidth": m["matrixWidth"],
                "matrixHeight": m["matrixHeight"],
            })
        })
        .collect();
    let crs = match g {
        Grid::WebMercatorQuad => "http://www.opengis.net/def/crs/EPSG/0/3857",
        Grid::WorldCrs84Quad => "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        Grid::Cgcs2000Quad => "http://www.opengis.net/def/crs/EPSG/0/4490",
    };
    if let Some(o) = v.as_object_mut() {
        o.insert("type".into(), json!("TileMatrixSetType"));
        o.insert("identifier".into(), json!(g.id()));
        o.insert("supportedCRS".into(), json!(crs));
        o.insert("tileMatrix".into(), Value::Array(v1));
    }
    Ok(Json(v))
}

/// The deepest tile matrix the tilesets describe (as the WMTS capabilities).
const DEEPEST: u8 = 18;

/// Where the city's tiles are, per tile matrix (OGC API – Tiles `tileMatrixSetLimits`):
/// clients need not ask for the rest of the world, and GDAL 3.6's OGCAPI driver reads only
/// the tile matrices listed here.
fn limits(g: Grid, bbox: [f64; 4]) -> Vec<Value> {
    (g.first_level()..=DEEPEST + g.first_level())
        .map(|z| {
            let [c0, r0, c1, r1] = g.tile_range(z, bbox);
            json!({ "tileMatrix": z.to_string(), "minTileRow": r0, "maxTileRow": r1, "minTileCol": c0, "maxTileCol": c1 })
        })
        .collect()
}

fn tileset(b: &str, prefix: &str, g: Grid, bbox: [f64; 4]) -> Value {
    let tiles = format!("{b}{prefix}/tiles/{}", g.id());
    json!({
        "title": format!("atlas in {}", g.id()),
        "dataType": "vector",
        "crs": crs_uri(g),
        "tileMatrixSetURI": g.definition().uri,
        "tileMatrixSetLimits": limits(g, bbox),
        "links": [
            link(tiles.clone(), "self", "application/json", "this tileset"),
            link(format!("{b}/ogc/tileMatrixSets/{}", g.id()), "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme", "application/json", g.id()),
            json!({ "href": format!("{tiles}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"), "rel": "item", "type": MVT, "templated": true, "title": "tiles" }),
        ],
        // Layer zooms are those of the tile served (CGCS2000Quad's level n is WorldCRS84Quad's n − 1).
        "layers": TileLayer::ALL.iter().map(|l| json!({ "id": l.name(), "dataType": "vector", "minTileMatrix": (l.zooms().start() + g.first_level()).to_string(), "maxTileMatrix": ((*l.zooms().end()).min(DEEPEST) + g.first_level()).to_string() })).collect::<Vec<_>>(),
    })
}

fn crs_uri(g: Grid) -> &'static str {
    match g {
        Grid::WebMercatorQuad => "http://www.opengis.net/def/crs/EPSG/0/3857",
        Grid::WorldCrs84Quad => "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        Grid::Cgcs2000Quad => "http://www.opengis.net/def/crs/EPSG/0/4490",
    }
}

fn collection_doc(b: &str, bbox: [f64; 4], title: &str) -> Value {
    json!({
        "id": "atlas",
        "title": title,
        "extent": { "spatial": { "bbox": [bbox], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84" } },
        "links": [
            link(format!("{b}/ogc/collections/atlas"), "self", "application/json", "this collection"),
            link(format!("{b}/ogc/collections/atlas/tiles"), "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", "application/json", "vector tilesets"),
            link(format!("{b}/ogc/collections/atlas/map/tiles"), "http://www.opengis.net/def/rel/ogc/1.0/tilesets-map", "application/json", "map tilesets (the grade map as PNG)"),
            link(format!("{b}/ogc/collections/atlas/styles/density/map/tiles"), "http://www.opengis.net/def/rel/ogc/1.0/tilesets-map", "application/json", "map tilesets (the density map as PNG)"),
        ],
    })
}

async fn city_bounds(state: &AppState) -> Result<[f64; 4], Error> {
    let city = state.tiles.city(&state.atlas).await?;
    Ok(city.bounds().unwrap_or(crate::tile::grid::WORLD_BOUNDS))
}

pub async fn collection(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, Error> {
    let b = base_url(&headers);
    let bbox = city_bounds(&state).await?;
    if let Some((_, title, _)) = features::COLLECTIONS.iter().find(|(n, _, _)| *n == id) {
        return Ok(Json(features::collection_doc(&b, &id, title, bbox)));
    }
    check_collection(&id)?;
    Ok(Json(collection_doc(
        &b,
        bbox,
        &state.titled("housing, complaints and grades (vector tiles)"),
    )))
}

fn check_collection(id: &str) -> Result<(), Error> {
    if id == "atlas" || features::layer_of(id).is_some() {
        Ok(())
    } else {
        Err(Error::NotFound(format!(
            "no tiled collection `{id}`; vector tiles are in `atlas`"
        )))
    }
}

pub async fn collections(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, Error> {
    let b = base_url(&headers);
    let bbox = city_bounds(&state).await?;
    // The feature collections, each with its items and the same vector tiles, then `atlas`
    // (every layer as one tileset, vector and map tiles): no `itemType`, so feature clients
    // (OWSLib's `feature_collections`, GDAL's OAPIF) do not take it for a feature layer.
    let mut list: Vec<Value> = features::COLLECTIONS
        .iter()
        .map(|(id, title, _)| features::collection_doc(&b, id, title, bbox))
        .collect();
    list.push(collection_doc(
        &b,
        bbox,
        &state.titled("housing, complaints and grades (vector tiles)"),
    ));
    Ok(Json(json!({
        "links": [link(format!("{b}/ogc/collections"), "self", "application/json", "collections")],
        "collections": list
    })))
}

pub async fn tilesets(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, Error> {
    let (b, bbox) = (base_url(&headers), city_bounds(&state).await?);
    Ok(Json(
        json!({ "tilesets": Grid::ALL.iter().map(|g| tileset(&b, "/ogc", *g, bbox)).collect::<Vec<_>>() }),
    ))
}

pub async fn collection_tilesets(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, Error> {
    check_collection(&id)?;
    let (b, bbox) = (base_url(&headers), city_bounds(&state).await?);
    let prefix = format!("/ogc/collections/{id}");
    Ok(Json(
        json!({ "tilesets": Grid::ALL.iter().map(|g| tileset(&b, &prefix, *g, bbox)).collect::<Vec<_>>() }),
    ))
}

pub async fn dataset_tileset(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(tms): Path<String>,
) -> Result<Json<Value>, Error> {
    let g = grid(&tms)?;
    let bbox = city_bounds(&state).await?;
    Ok(Json(tileset(&base_url(&headers), "/ogc", g, bbox)))
}

pub async fn collection_tileset(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, tms)): Path<(String, String)>,
) -> Result<Json<Value>, Error> {
    check_collection(&id)?;
    let g = grid(&tms)?;
    let bbox = city_bounds(&state).await?;
    let prefix = format!("/ogc/collections/{id}");
    Ok(Json(tileset(&base_url(&headers), &prefix, g, bbox)))
}

/// `/ogc/tiles/{tms}/{tileMatrix}/{tileRow}/{tileCol}`: row is y, column is x.
pub async fn dataset_tile(
    state: State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((tms, z, row, col)): Path<(String, String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Error> {
    let at = TileAddress::parse(grid(&tms)?, &z, &col, &row)?;
    let set = super::tiles::Tileset::Vector;
    super::tiles::serve_tile(state.0, caller, &headers, set, (at, TileFormat::MVT), raw).await
}

pub async fn collection_tile(
    state: State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((id, tms, z, row, col)): Path<(String, String, String, String, String)>,
    raw: RawQuery,
) -> Result<Response, Error> {
    check_collection(&id)?;
    dataset_tile(state, caller, headers, Path((tms, z, row, col)), raw).await
}

// Map tiles (OGC API – Tiles, tilesets-map): the `atlas` collection drawn in a style — the
// PNG tiles of `/tiles/{grade|density}/…` — for clients that take pictures rather than
// vector tiles (GDAL's OGCAPI raster driver among them). The default map is `grade`.

/// The atlas collection's map tilesets and their tiles, in `style` (`None`: the default map).
fn map_base(b: &str, style: Option<Style>) -> String {
    match style {
        None => format!("{b}/ogc/collections/atlas/map/tiles"),
        Some(s) => format!("{b}/ogc/collections/atlas/styles/{}/map/tiles", s.id()),
    }
}

fn map_tileset(b: &str, style: Option<Style>, g: Grid, bbox: [f64; 4]) -> Value {
    let tiles = format!("{}/{}", map_base(b, style), g.id());
    let s = style.unwrap_or(Style::Grade);
    json!({
        "title": format!("atlas map ({}) in {}", s.id(), g.id()),
        "dataType": "map",
        "crs": crs_uri(g),
        "tileMatrixSetURI": g.definition().uri,
        "tileMatrixSetLimits": limits(g, bbox),
        "style": { "id": s.id() },
        "links": [
            link(tiles.clone(), "self", "application/json", "this tileset"),
            link(format!("{b}/ogc/tileMatrixSets/{}", g.id()), "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme", "application/json", g.id()),
            json!({ "href": format!("{tiles}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"), "rel": "item", "type": "image/png", "templated": true, "title": "tiles (256 px PNG)" }),
        ],
    })
}

fn map_style(id: &str, style: Option<&str>) -> Result<Option<Style>, Error> {
    if id != "atlas" {
        return Err(Error::NotFound(format!(
            "no map of collection `{id}`; maps are drawn of `atlas`"
        )));
    }
    style
        .map(|s| {
            Style::parse(s)
                .ok_or_else(|| Error::NotFound(format!("no style `{s}`; use grade or density")))
        })
        .transpose()
}

async fn map_tilesets_doc(
    state: &AppState,
    headers: &HeaderMap,
    style: Option<Style>,
) -> Result<Json<Value>, Error> {
    let (b, bbox) = (base_url(headers), city_bounds(state).await?);
    Ok(Json(json!({
        "links": [link(map_base(&b, style), "self", "application/json", "map tilesets")],
        "tilesets": Grid::ALL.iter().map(|g| map_tileset(&b, style, *g, bbox)).collect::<Vec<_>>(),
    })))
}

async fn map_tileset_in(
    state: &AppState,
    headers: &HeaderMap,
    style: Option<Style>,
    tms: &str,
) -> Result<Json<Value>, Error> {
    let g = grid(tms)?;
    let bbox = city_bounds(state).await?;
    Ok(Json(map_tileset(&base_url(headers), style, g, bbox)))
}

/// The segments of a map-tiles route, with `styles/{style}` or without: axum has no optional
/// path segment, so both routes of each pair share one handler, which reads the style when the
/// path has one.
type MapPath = Path<std::collections::HashMap<String, String>>;

fn segment<'a>(p: &'a std::collections::HashMap<String, String>, name: &str) -> &'a str {
    p.get(name).map_or("", String::as_str)
}

fn map_style_of(p: &std::collections::HashMap<String, String>) -> Result<Option<Style>, Error> {
    map_style(segment(p, "id"), p.get("style").map(String::as_str))
}

/// `/ogc/collections/{id}[/styles/{style}]/map/tiles`
pub async fn map_tilesets(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(p): MapPath,
) -> Result<Json<Value>, Error> {
    map_tilesets_doc(&state, &headers, map_style_of(&p)?).await
}

/// `/ogc/collections/{id}[/styles/{style}]/map/tiles/{tms}`
pub async fn map_tileset_doc(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(p): MapPath,
) -> Result<Json<Value>, Error> {
    map_tileset_in(&state, &headers, map_style_of(&p)?, segment(&p, "tms")).await
}

async fn map_tile_in(
    state: AppState,
    caller: Caller,
    headers: &HeaderMap,
    style: Option<Style>,
    (tms, z, row, col): (String, String, String, String),
    raw: Option<String>,
) -> Result<Response, Error> {
    let at = TileAddress::parse(grid(&tms)?, &z, &col, &row)?;
    let set = super::tiles::Tileset::Raster(style.unwrap_or(Style::Grade));
    super::tiles::serve_tile(state, caller, headers, set, (at, TileFormat::PNG), raw).await
}

/// `/ogc/collections/{id}[/styles/{style}]/map/tiles/{tms}/{tileMatrix}/{tileRow}/{tileCol}`:
/// a PNG.
pub async fn map_tile(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(p): MapPath,
    RawQuery(raw): RawQuery,
) -> Result<Response, Error> {
    let style = map_style_of(&p)?;
    let [tms, z, row, col] = ["tms", "z", "row", "col"].map(|k| segment(&p, k).to_string());
    map_tile_in(state, caller, &headers, style, (tms, z, row, col), raw).await
}

/// This surface's routes: OGC API's landing page, conformance, tile matrix sets, collections and tilesets (the features are [`super::features`]'s).
pub(super) fn routes() -> axum::Router<super::AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/ogc", get(landing))
        .route("/ogc/conformance", get(conformance))
        .route("/ogc/tileMatrixSets", get(tile_matrix_sets))
        .route("/ogc/tileMatrixSets/{id}", get(tile_matrix_set))
        .route("/ogc/collections", get(collections))
        .route("/ogc/collections/{id}", get(collection))
        .route("/ogc/tiles", get(tilesets))
        .route("/ogc/tiles/{tms}", get(dataset_tileset))
        .route("/ogc/collections/{id}/tiles", get(collection_tilesets))
        .route("/ogc/collections/{id}/tiles/{tms}", get(collection_tileset))
        .route("/ogc/collections/{id}/map/tiles", get(map_tilesets))
        .route(
            "/ogc/collections/{id}/map/tiles/{tms}",
            get(map_tileset_doc),
        )
        .route(
            "/ogc/collections/{id}/styles/{style}/map/tiles",
            get(map_tilesets),
        )
        .route(
            "/ogc/collections/{id}/styles/{style}/map/tiles/{tms}",
            get(map_tileset_doc),
        )
}

/// This surface's tile routes, whose bodies the tile handler compresses itself.
pub(super) fn tile_routes() -> axum::Router<super::AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/ogc/tiles/{tms}/{z}/{row}/{col}", get(dataset_tile))
        .route(
            "/ogc/collections/{id}/tiles/{tms}/{z}/{row}/{col}",
            get(collection_tile),
        )
        .route(
            "/ogc/collections/{id}/map/tiles/{tms}/{z}/{row}/{col}",
            get(map_tile),
        )
        .route(
            "/ogc/collections/{id}/styles/{style}/map/tiles/{tms}/{z}/{row}/{col}",
            get(map_tile),
        )
}
