//! OGC API at `/ogc`: landing page, conformance, collections; Tiles Part 1 (tile matrix
//! sets, the dataset and collection tilesets of `atlas`, tiles addressed by
//! tileMatrix/tileRow/tileCol — served by the same handler as the XYZ paths); the feature
//! collections of Features Part 1 are in [`super::features`].

use super::tiles::{base_url, MVT};
use super::{features, AppState, Caller};
use crate::error::Error;
use crate::tile::atlas::LAYERS;
use crate::tile::Grid;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use serde_json::{json, Value};

const CONFORMANCE: [&str; 13] = [
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
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
];

fn link(href: String, rel: &str, kind: &str, title: &str) -> Value {
    json!({ "href": href, "rel": rel, "type": kind, "title": title })
}

pub async fn landing(headers: HeaderMap) -> Json<Value> {
    let b = base_url(&headers);
    Json(json!({
        "title": "compound-atlas",
        "description": "Qingdao residential compounds, complaints and grades as OGC API – Features and Tiles",
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
    Grid::parse(id).ok_or_else(|| {
        Error::NotFound(format!(
            "no tile matrix set `{id}`; use WebMercatorQuad or WorldCRS84Quad"
        ))
    })
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
    };
    if let Some(o) = v.as_object_mut() {
        o.insert("type".into(), json!("TileMatrixSetType"));
        o.insert("identifier".into(), json!(g.id()));
        o.insert("supportedCRS".into(), json!(crs));
        o.insert("tileMatrix".into(), Value::Array(v1));
    }
    Ok(Json(v))
}

fn tileset(b: &str, prefix: &str, g: Grid) -> Value {
    let tiles = format!("{b}{prefix}/tiles/{}", g.id());
    json!({
        "title": format!("atlas in {}", g.id()),
        "dataType": "vector",
        "crs": crs_uri(g),
        "tileMatrixSetURI": g.definition().uri,
        "links": [
            link(tiles.clone(), "self", "application/json", "this tileset"),
            link(format!("{b}/ogc/tileMatrixSets/{}", g.id()), "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme", "application/json", g.id()),
            json!({ "href": format!("{tiles}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"), "rel": "item", "type": MVT, "templated": true, "title": "tiles" }),
        ],
        "layers": LAYERS.iter().map(|(n, lo, hi)| json!({ "id": n, "dataType": "vector", "minTileMatrix": lo.to_string(), "maxTileMatrix": (*hi).min(18).to_string() })).collect::<Vec<_>>(),
    })
}

fn crs_uri(g: Grid) -> &'static str {
    match g {
        Grid::WebMercatorQuad => "http://www.opengis.net/def/crs/EPSG/0/3857",
        Grid::WorldCrs84Quad => "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
    }
}

fn collection_doc(b: &str, bbox: [f64; 4]) -> Value {
    json!({
        "id": "atlas",
        "title": "Qingdao housing, complaints and grades (vector tiles)",
        "extent": { "spatial": { "bbox": [bbox], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84" } },
        "links": [
            link(format!("{b}/ogc/collections/atlas"), "self", "application/json", "this collection"),
            link(format!("{b}/ogc/collections/atlas/tiles"), "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", "application/json", "vector tilesets"),
        ],
    })
}

async fn city_bounds(state: &AppState) -> Result<[f64; 4], Error> {
    let city = state.tiles.city(&state.atlas).await?;
    Ok(city.bounds().unwrap_or([119.5, 35.5, 121.4, 37.2]))
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
    Ok(Json(collection_doc(&b, bbox)))
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
    // `atlas` (every layer as one tileset) stays addressable at /ogc/collections/atlas but
    // is not listed: it has no items, and feature clients (GDAL's OAPIF) open every listed
    // collection as a layer. Each feature collection links to the same vector tiles.
    let list: Vec<Value> = features::COLLECTIONS
        .iter()
        .map(|(id, title, _)| features::collection_doc(&b, id, title, bbox))
        .collect();
    Ok(Json(json!({
        "links": [link(format!("{b}/ogc/collections"), "self", "application/json", "collections")],
        "collections": list
    })))
}

pub async fn tilesets(headers: HeaderMap) -> Json<Value> {
    let b = base_url(&headers);
    Json(
        json!({ "tilesets": Grid::ALL.iter().map(|g| tileset(&b, "/ogc", *g)).collect::<Vec<_>>() }),
    )
}

pub async fn collection_tilesets(
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, Error> {
    check_collection(&id)?;
    let b = base_url(&headers);
    Ok(Json(
        json!({ "tilesets": Grid::ALL.iter().map(|g| tileset(&b, &format!("/ogc/collections/{id}"), *g)).collect::<Vec<_>>() }),
    ))
}

pub async fn dataset_tileset(
    headers: HeaderMap,
    Path(tms): Path<String>,
) -> Result<Json<Value>, Error> {
    Ok(Json(tileset(&base_url(&headers), "/ogc", grid(&tms)?)))
}

pub async fn collection_tileset(
    headers: HeaderMap,
    Path((id, tms)): Path<(String, String)>,
) -> Result<Json<Value>, Error> {
    check_collection(&id)?;
    Ok(Json(tileset(
        &base_url(&headers),
        &format!("/ogc/collections/{id}"),
        grid(&tms)?,
    )))
}

/// `/ogc/tiles/{tms}/{tileMatrix}/{tileRow}/{tileCol}`: row is y, column is x.
pub async fn dataset_tile(
    state: State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((tms, z, row, col)): Path<(String, String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Error> {
    let g = grid(&tms)?;
    super::tiles::serve_tile(
        state.0,
        caller,
        &headers,
        super::tiles::Tileset::Vector,
        g,
        &z,
        &col,
        &format!("{row}.mvt"),
        raw,
    )
    .await
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
