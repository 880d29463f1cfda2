//! `/tiles`: the catalog, TileJSON 3.0.0, and the `atlas` vector tiles in WebMercatorQuad and
//! WorldCRS84Quad, with the complaint window, grade period and datum as parameters.

use super::request::{base_url, Params};
use super::{AppState, Caller};
use crate::error::Error;
use crate::filter::Filter;
use crate::serving::cache::Coding;
use crate::serving::service::TileRequest;
use crate::tile::address::{TileAddress, TileFormat};
use crate::tile::filter::TileFilter;
use crate::tile::layers::TileLayer;
use crate::tile::raster::Style;
use crate::tile::Grid;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

pub use crate::tile::mlt::{Encoding, MLT, MVT};
/// What a tile request may say: the window, period and datum, and a filter.
pub fn tile_params() -> Vec<&'static str> {
    let mut v = vec!["from", "to", "period", "datum"];
    v.extend(crate::filter::PARAMS);
    v
}

/// `filter` (CQL2 text, or JSON with `filter-lang=cql2-json`; geometries in CRS84) on the
/// `atlas` tiles and the grade picture, checked against the layers' attributes
/// ([`crate::tile::filter`]).
pub fn tile_filter(p: &Params, set: Tileset) -> Result<Option<Arc<TileFilter>>, Error> {
    let Some(f) = Filter::of_query(p.get("filter"), p.get("filter-lang"), p.get("filter-crs"))?
    else {
        return Ok(None);
    };
    let f = TileFilter::new(f)?;
    match set {
        Tileset::Raster(Style::Grade) if !f.layers().contains(&TileLayer::Compounds) => {
            Err(Error::BadRequest(format!(
                "the grade picture is filtered on its compounds, and this filter names what only the {} layer(s) have",
                f.layers().iter().map(|l| l.name()).collect::<Vec<_>>().join(" / ")
            )))
        }
        Tileset::Raster(Style::Density) => Err(Error::BadRequest(
            "the density picture is drawn from every complaint and takes no filter; filter the grade picture or the atlas tiles".into(),
        )),
        _ => Ok(Some(Arc::new(f))),
    }
}

/// The tilesets: `atlas` (vector) and the raster `grade` and `density`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tileset {
    Vector,
    Raster(Style),
    /// A seeded archive, by position in `AppState::archives`.
    Archive(usize),
}

/// A tileset by name: the built-in ones, then the seeded archives.
pub fn resolve_tileset(state: &AppState, name: &str) -> Result<Tileset, Error> {
    check_tileset(name).or_else(|e| {
        state
            .archives
            .iter()
            .position(|a| a.name == name)
            .map(Tileset::Archive)
            .ok_or(e)
    })
}

pub fn check_tileset(name: &str) -> Result<Tileset, Error> {
    if name == "atlas" {
        return Ok(Tileset::Vector);
    }
    Style::parse(name).map(Tileset::Raster).ok_or_else(|| {
        Error::NotFound(format!(
            "no tileset `{name}`; this server has `atlas` (vector), `grade` and `density` (PNG) (see /tiles)"
        ))
    })
}

/// `GET /tiles`: the tilesets.
pub async fn catalog(State(state): State<AppState>, headers: HeaderMap) -> Json<Value> {
    let base = base_url(&headers);
    let mut c = json!({
        "tilesets": [{
            "id": "atlas",
            "title": state.titled("housing, complaints and grades"),
            "format": "mvt",
            "content_type": MVT,
            "tilejson": format!("{base}/tiles/atlas.json"),
            "tiles": format!("{base}/tiles/atlas/{{z}}/{{x}}/{{y}}.mvt"),
            "mlt": {
                "content_type": MLT,
                "tilejson": format!("{base}/tiles/atlas.json?encoding=mlt"),
                "tiles": format!("{base}/tiles/atlas/{{z}}/{{x}}/{{y}}.mlt"),
            },
            "tile_matrix_sets": Grid::ALL.iter().map(|g| g.id()).collect::<Vec<_>>(),
            "layers": TileLayer::ALL.iter().map(|l| json!({ "id": l.name(), "minzoom": l.zooms().start(), "maxzoom": l.zooms().end() })).collect::<Vec<_>>(),
        }, {
            "id": "grade",
            "title": "Compounds by red/yellow/blue grade (raster)",
            "format": "png",
            "content_type": "image/png",
            "tilejson": format!("{base}/tiles/grade.json"),
            "tiles": format!("{base}/tiles/grade/{{z}}/{{x}}/{{y}}.png"),
            "tile_matrix_sets": Grid::ALL.iter().map(|g| g.id()).collect::<Vec<_>>(),
        }, {
            "id": "density",
            "title": "Complaint density heatmap (raster)",
            "format": "png",
            "content_type": "image/png",
            "tilejson": format!("{base}/tiles/density.json"),
            "tiles": format!("{base}/tiles/density/{{z}}/{{x}}/{{y}}.png"),
            "tile_matrix_sets": Grid::ALL.iter().map(|g| g.id()).collect::<Vec<_>>(),
        }]
    });
    if let Some(list) = c["tilesets"].as_array_mut() {
        for a in state.archives.iter() {
            list.push(json!({
                "id": a.name,
                "title": format!("seeded archive {}", a.path.file_name().and_then(|f| f.to_str()).unwrap_or_default()),
                "format": a.encoding.name(),
                "content_type": a.encoding.content_type(),
                "tilejson": format!("{base}/tiles/{}.json", a.name),
                "tiles": format!("{base}/tiles/{}/{{z}}/{{x}}/{{y}}.{}", a.name, a.encoding.name()),
                "tile_matrix_sets": ["WebMercatorQuad"],
            }));
        }
    }
    Json(c)
}

/// `encoding=mvt|mlt` taken out of a TileJSON's or style's query (default MVT), with the rest
/// of the query, which the tile URLs carry on.
pub fn take_encoding(raw: Option<String>) -> Result<(Encoding, Option<String>), Error> {
    let Some(q) = raw.filter(|q| !q.is_empty()) else {
        return Ok((Encoding::Mvt, None));
    };
    let mut encoding = None;
    let mut rest = Vec::new();
    for part in q.split('&') {
        match part.split_once('=') {
            Some(("encoding", v)) => {
                if encoding.is_some() {
                    return Err(Error::BadRequest("`encoding` is given twice".into()));
                }
                encoding = Some(Encoding::parse(v).ok_or_else(|| {
                    Error::BadRequest(format!("`encoding={v}`: the encoding is mvt or mlt"))
                })?);
            }
            _ => rest.push(part),
        }
    }
    let rest = (!rest.is_empty()).then(|| rest.join("&"));
    Ok((encoding.unwrap_or_default(), rest))
}

/// The name of a `{name}.json` path segment, or a 404 naming the path.
pub fn json_name<'a>(prefix: &str, file: &'a str) -> Result<&'a str, Error> {
    file.strip_suffix(".json")
        .ok_or_else(|| Error::NotFound(format!("no such path: {prefix}/{file}")))
}

/// `GET /tiles/{tileset}.json`: TileJSON 3.0.0; tile URLs carry the window parameters given.
pub async fn tilejson(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(file): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Error> {
    let name = json_name("/tiles", &file)?;
    let set = resolve_tileset(&state, name)?;
    if let Tileset::Archive(i) = set {
        let a = &state.archives[i];
        let base = base_url(&headers);
        return Ok(Json(json!({
            "tilejson": "3.0.0",
            "name": a.name,
            "description": format!("seeded archive {}", a.path.file_name().and_then(|f| f.to_str()).unwrap_or_default()),
            "scheme": "xyz",
            "encoding": a.encoding.name(),
            "tiles": [format!("{base}/tiles/{}/{{z}}/{{x}}/{{y}}.{}", a.name, a.encoding.name())],
            "minzoom": a.minzoom,
            "maxzoom": a.maxzoom,
            "bounds": a.bounds,
            "vector_layers": a.vector_layers,
        })));
    }
    let (encoding, raw) = take_encoding(raw)?;
    if encoding == Encoding::Mlt && set != Tileset::Vector {
        return Err(Error::BadRequest(
            "`encoding=mlt`: only the atlas tileset has MapLibre Tiles".into(),
        ));
    }
    let p = Params::parse(raw.clone(), &tile_params())?;
    // Validate what the tile URLs will carry.
    let w = super::request::Scope::of(&state, &p).await?.window;
    tile_filter(&p, set)?;
    let city = state.tiles.city(&state.atlas).await?;
    let bounds = city.bounds().unwrap_or(crate::tile::grid::WORLD_BOUNDS);
    let center = state.center(&city);
    let query = raw
        .filter(|q| !q.is_empty())
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let base = base_url(&headers);
    if let Tileset::Raster(style) = set {
        let id = style.id();
        return Ok(Json(json!({
            "tilejson": "3.0.0",
            "name": id,
            "description": match style {
                Style::Grade => state.titled("residential compounds filled by red/yellow/blue grade (buildings from zoom 15), PNG"),
                Style::Density => "Kernel density of hotline complaints (per km² per year over the window), PNG with transparency".to_string(),
            },
            "version": env!("CARGO_PKG_VERSION"),
            "attribution": state.attribution(),
            "scheme": "xyz",
            "format": "png",
            "tileSize": 256,
            "tiles": [format!("{base}/tiles/{id}/{{z}}/{{x}}/{{y}}.png{query}")],
            "tiles@2x": [format!("{base}/tiles/{id}/{{z}}/{{x}}/{{y}}@2x.png{query}")],
            "minzoom": 0,
            "maxzoom": 18,
            "bounds": bounds,
            "center": [center[0], center[1], 11.0],
            "legend": format!("{base}/styles/{id}/legend.json"),
            "window": { "from": w.from.to_string(), "to": w.to.to_string() },
        })));
    }
    Ok(Json(json!({
        "tilejson": "3.0.0",
        "name": "atlas",
        "description": state.titled("residential compounds, buildings and units coloured by complaint density and red/yellow/blue grade"),
        "version": env!("CARGO_PKG_VERSION"),
        "attribution": state.attribution(),
        "scheme": "xyz",
        "encoding": encoding.name(),
        "tiles": [format!("{base}/tiles/atlas/{{z}}/{{x}}/{{y}}.{}{query}", encoding.name())],
        "minzoom": 0,
        "maxzoom": 18,
        "bounds": bounds,
        "center": [center[0], center[1], 11.0],
        "fillzoom": 16,
        "vector_layers": TileLayer::vector_layers(18),
        "window": { "from": w.from.to_string(), "to": w.to.to_string() },
    })))
}

/// A tile of a seeded archive: as stored (gzip) to clients that take gzip, inflated for the
/// others; 204 where the archive has none.
async fn serve_archive(
    state: &AppState,
    headers: &HeaderMap,
    i: usize,
    at: TileAddress,
    raw: Option<String>,
) -> Result<Response, Error> {
    let a = &state.archives[i];
    if at.grid != Grid::WebMercatorQuad {
        return Err(Error::NotFound(format!(
            "the archive {} is seeded in WebMercatorQuad only",
            a.name
        )));
    }
    if raw.as_deref().is_some_and(|q| !q.is_empty()) {
        return Err(Error::BadRequest(format!(
            "the archive {} holds one seeded window: it takes no parameters",
            a.name
        )));
    }
    let stored = a
        .tile(at.z, at.x, at.y)
        .await
        .map_err(|e| Error::Other(anyhow::anyhow!(e)))?;
    let Some(stored) = stored else {
        return Ok((
            StatusCode::NO_CONTENT,
            [(header::CACHE_CONTROL, "public, max-age=3600")],
        )
            .into_response());
    };
    let (bytes, gzipped) = if a.gzip && !acceptance(headers).gzip {
        (
            bytes::Bytes::from(crate::serving::served::gunzip(&stored).map_err(|e| {
                Error::Other(anyhow::Error::new(e).context("a stored tile is not gzip"))
            })?),
            false,
        )
    } else {
        (stored, a.gzip)
    };
    let t = crate::serving::cache::Cached::new(bytes, Vec::new(), [0.0; 4]);
    let mut resp = with_etag(headers, &t, a.encoding.content_type(), None);
    if gzipped && resp.status() == StatusCode::OK {
        resp.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    Ok(resp)
}

/// The quality a client's `Accept` gives a media type named exactly (0 when it is not named).
fn accept_q(headers: &HeaderMap, types: &[&str]) -> f32 {
    let mut best: f32 = 0.0;
    for v in headers.get_all(header::ACCEPT) {
        let Ok(v) = v.to_str() else { continue };
        for item in v.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim();
            if !types.iter().any(|t| t.eq_ignore_ascii_case(name)) {
                continue;
            }
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            best = best.max(q);
        }
    }
    best
}

/// The encoding of a vector tile asked for as `.mvt`/`.pbf`: MLT when `Accept` names an MLT
/// media type at least as high as MVT's (`*/*` names neither: MVT, as every client expects).
fn negotiate(headers: &HeaderMap) -> Encoding {
    let mlt = accept_q(headers, &crate::tile::mlt::MLT_TYPES);
    let mvt = accept_q(headers, &[MVT, "application/x-protobuf"]);
    if mlt > 0.0 && mlt >= mvt {
        Encoding::Mlt
    } else {
        Encoding::Mvt
    }
}

/// The codings of ours a client takes (`Accept-Encoding`, RFC 9110 §12.5.3).
struct Acceptance {
    gzip: bool,
    br: bool,
}

/// What `Accept-Encoding` takes: a coding named with q > 0 (`q=0` refuses); `*` stands for
/// gzip.
fn acceptance(headers: &HeaderMap) -> Acceptance {
    let mut a = Acceptance {
        gzip: false,
        br: false,
    };
    let mut star = false;
    for v in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(v) = v.to_str() else { continue };
        for item in v.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q <= 0.0 {
                continue;
            }
            match name.as_str() {
                "br" => a.br = true,
                "gzip" | "x-gzip" => a.gzip = true,
                "*" => star = true,
                _ => {}
            }
        }
    }
    a.gzip |= star;
    a
}

/// The coding a client takes for a compressible answer: brotli before gzip, none when neither
/// is acceptable.
pub fn accepted_coding(headers: &HeaderMap) -> Option<Coding> {
    let a = acceptance(headers);
    if a.br {
        Some(Coding::Brotli)
    } else if a.gzip {
        Some(Coding::Gzip)
    } else {
        None
    }
}

/// A cached tile as a response: 304 when the client has it, else the bytes with their ETag;
/// `coding`: compressed (once per cached tile) for a client that takes it.
fn with_etag(
    headers: &HeaderMap,
    t: &crate::serving::cache::Cached,
    ctype: &'static str,
    coding: Option<Coding>,
) -> Response {
    // Each coding is its own representation, with its own strong ETag.
    let etag = t.etag(coding);
    let fresh = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .any(|v| none_match_names(v, etag));
    // Room for these and what the request layer adds (id, CORS), so the map never regrows.
    let mut h = HeaderMap::with_capacity(12);
    h.insert(header::ETAG, etag.clone());
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if fresh {
        let mut resp = Response::new(axum::body::Body::empty());
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
        *resp.headers_mut() = h;
        return resp;
    }
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    if let Some(c) = coding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(c.name()));
    }
    let mut resp = Response::new(axum::body::Body::from(t.body(coding)));
    *resp.headers_mut() = h;
    resp
}

/// Whether an `If-None-Match` value names `etag` (RFC 9110 §13.1.2: a list, `*`, and the weak
/// comparison, so `W/"…"` matches too).
fn none_match_names(value: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(v) = value.to_str() else { return false };
    let want = etag.as_bytes();
    v.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t).as_bytes() == want)
}

/// Whether `tileset` is served as `format` (`Err` the extension asked for when it names no
/// format): the format, or a 404 naming the formats the tileset has.
pub fn served_as(
    state: &AppState,
    tileset: Tileset,
    format: Result<TileFormat, &str>,
) -> Result<TileFormat, Error> {
    let ext: &str = match format {
        Ok(f) => f.ext(),
        Err(e) => e,
    };
    match (tileset, format) {
        (Tileset::Vector, Ok(f @ TileFormat::Vector(_)))
        | (Tileset::Raster(_), Ok(f @ TileFormat::Png { .. })) => Ok(f),
        (Tileset::Archive(i), Ok(f @ TileFormat::Vector(e))) if e == state.archives[i].encoding => {
            Ok(f)
        }
        (Tileset::Vector, _) => Err(Error::NotFound(format!(
            "the atlas tileset is served as .mvt or .mlt, not .{ext}"
        ))),
        (Tileset::Archive(i), _) => {
            let a = &state.archives[i];
            Err(Error::NotFound(format!(
                "the archive {} holds {} tiles: served as .{}, not .{ext}",
                a.name,
                a.encoding.name().to_uppercase(),
                a.encoding.name()
            )))
        }
        (Tileset::Raster(s), _) => Err(Error::NotFound(format!(
            "the {} tileset is served as .png (or @2x.png), not .{ext}",
            s.id()
        ))),
    }
}

/// A tile of `tileset` by its path, `{z}/{x}/{y}.{ext}`: its address and format.
pub fn tile_path(
    state: &AppState,
    tileset: Tileset,
    grid: Grid,
    (z, x, y_ext): (&str, &str, &str),
) -> Result<(TileAddress, TileFormat), Error> {
    let (y, format) = TileFormat::of_name(y_ext)?;
    let format = served_as(state, tileset, format)?;
    Ok((TileAddress::parse(grid, z, x, y)?, format))
}

/// One tile of `tileset` at `at` as `format` (checked with [`served_as`]), for every surface
/// that serves tiles; `raw` is the rest of the request's query (window, period, datum,
/// filter).
pub async fn serve_tile(
    state: AppState,
    caller: Caller,
    headers: &HeaderMap,
    tileset: Tileset,
    (at, format): (TileAddress, TileFormat),
    raw: Option<String>,
) -> Result<Response, Error> {
    let format = served_as(&state, tileset, Ok(format))?;
    let at = at.served();
    if let Tileset::Archive(i) = tileset {
        return serve_archive(&state, headers, i, at, raw).await;
    }
    // `.mlt`, or `.mvt` with an `Accept` that prefers MLT (then the answer varies by Accept).
    let (encoding, negotiated) = match format {
        TileFormat::Vector(Encoding::Mlt) => (Encoding::Mlt, false),
        TileFormat::Vector(Encoding::Mvt) => (negotiate(headers), true),
        TileFormat::Png { .. } => (Encoding::Mvt, false),
    };
    let p = Params::parse(raw, &tile_params())?;
    let filter = tile_filter(&p, tileset)?;
    let super::request::Scope {
        window,
        period,
        datum,
        ..
    } = super::request::Scope::of(&state, &p).await?;
    let req = TileRequest {
        grid: at.grid,
        z: at.z,
        x: at.x,
        y: at.y,
        window,
        period,
        datum,
        audience: state.audience(&caller),
        encoding,
        filter,
    };
    if let (Tileset::Raster(style), TileFormat::Png { size }) = (tileset, format) {
        let t = state.tiles.raster(&state.atlas, &req, style, size).await?;
        return Ok(with_etag(headers, &t, "image/png", None));
    }
    let tile = state.tiles.tile(&state.atlas, &req).await?;
    let Some(t) = tile else {
        return Ok((
            StatusCode::NO_CONTENT,
            [(header::CACHE_CONTROL, "public, max-age=300")],
        )
            .into_response());
    };
    let mut resp = with_etag(
        headers,
        &t,
        encoding.content_type(),
        accepted_coding(headers),
    );
    if negotiated {
        resp.headers_mut().insert(
            header::VARY,
            HeaderValue::from_static("accept, accept-encoding"),
        );
    }
    if !t.thinned.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&t.thinned.join(",")) {
            resp.headers_mut().insert("x-atlas-thinned", v);
        }
    }
    Ok(resp)
}

/// `GET /tiles/{tileset}/{z}/{x}/{y}.mvt` (WebMercatorQuad).
pub async fn tile_xyz(
    State(state): State<AppState>,
    caller: Caller,
    Path((tileset, z, x, y)): Path<(String, String, String, String)>,
    RawQuery(raw): RawQuery,
    // The request itself, for its headers: borrowed rather than copied (a `HeaderMap`
    // extractor clones them all).
    req: axum::extract::Request,
) -> Result<Response, Error> {
    let set = resolve_tileset(&state, &tileset)?;
    let at = tile_path(&state, set, Grid::WebMercatorQuad, (&z, &x, &y))?;
    serve_tile(state, caller, req.headers(), set, at, raw).await
}

/// `GET /tiles/{tileset}/{tms}/{z}/{x}/{y}.mvt`
pub async fn tile_tms(
    State(state): State<AppState>,
    caller: Caller,
    Path((tileset, tms, z, x, y)): Path<(String, String, String, String, String)>,
    RawQuery(raw): RawQuery,
    req: axum::extract::Request,
) -> Result<Response, Error> {
    let set = resolve_tileset(&state, &tileset)?;
    let grid = Grid::parse(&tms).ok_or_else(|| {
        Error::NotFound(format!("no tile matrix set `{tms}`; use {}", Grid::ids()))
    })?;
    let at = tile_path(&state, set, grid, (&z, &x, &y))?;
    serve_tile(state, caller, req.headers(), set, at, raw).await
}

/// This surface's routes: the catalogue and TileJSON.
pub(super) fn routes() -> axum::Router<super::AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/tiles", get(catalog))
        .route("/tiles/{file}", get(tilejson))
}

/// This surface's tile routes, whose bodies the tile handler compresses itself.
pub(super) fn tile_routes() -> axum::Router<super::AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/tiles/{tileset}/{z}/{x}/{y}", get(tile_xyz))
        .route("/tiles/{tileset}/{tms}/{z}/{x}/{y}", get(tile_tms))
}
