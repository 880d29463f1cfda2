//! WMTS 1.0.0: capabilities (RESTful `/wmts/1.0.0/WMTSCapabilities.xml` and KVP
//! `/wmts?SERVICE=WMTS&REQUEST=GetCapabilities`) and GetTile (RESTful and KVP) for the raster
//! tilesets `grade` and `density` (image/png) and the vector tileset `atlas`
//! (application/vnd.mapbox-vector-tile), in WebMercatorQuad and WorldCRS84Quad — through the
//! same handler as the XYZ tiles.

use super::request::base_url;
use super::tiles::{check_tileset, serve_tile, Tileset, MVT};
use super::{AppState, Caller};
use crate::error::Error;
use crate::tile::address::{TileAddress, TileFormat};
use crate::tile::Grid;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::fmt::Write as _;

/// The most zoom levels advertised.
const MAX_ZOOM: usize = 18;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn supported_crs(g: Grid) -> &'static str {
    match g {
        Grid::WebMercatorQuad => "urn:ogc:def:crs:EPSG::3857",
        // CRS84 keeps longitude first, as the corners below are written.
        Grid::WorldCrs84Quad => "urn:ogc:def:crs:OGC:1.3:CRS84",
        // EPSG:4490 is latitude first: so are its corners in tiles/CGCS2000Quad.json.
        Grid::Cgcs2000Quad => "urn:ogc:def:crs:EPSG::4490",
    }
}

fn well_known(g: Grid) -> &'static str {
    match g {
        Grid::WebMercatorQuad => "urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible",
        // Tianditu's level n has GoogleCRS84Quad's scale n.
        Grid::WorldCrs84Quad | Grid::Cgcs2000Quad => "urn:ogc:def:wkss:OGC:1.0:GoogleCRS84Quad",
    }
}

fn matrix_set(out: &mut String, g: Grid) {
    let def = serde_json::to_value(g.definition()).unwrap_or_default();
    let _ = write!(
        out,
        "<TileMatrixSet><ows:Identifier>{}</ows:Identifier><ows:SupportedCRS>{}</ows:SupportedCRS><WellKnownScaleSet>{}</WellKnownScaleSet>",
        g.id(),
        supported_crs(g),
        well_known(g)
    );
    for m in def["tileMatrices"]
        .as_array()
        .into_iter()
        .flatten()
        .take(MAX_ZOOM + 1)
    {
        let origin = &m["pointOfOrigin"];
        let _ = write!(
            out,
            "<TileMatrix><ows:Identifier>{}</ows:Identifier><ScaleDenominator>{}</ScaleDenominator><TopLeftCorner>{} {}</TopLeftCorner><TileWidth>{}</TileWidth><TileHeight>{}</TileHeight><MatrixWidth>{}</MatrixWidth><MatrixHeight>{}</MatrixHeight></TileMatrix>",
            m["id"].as_str().unwrap_or_default(),
            m["scaleDenominator"],
            origin[0],
            origin[1],
            m["tileWidth"],
            m["tileHeight"],
            m["matrixWidth"],
            m["matrixHeight"],
        );
    }
    out.push_str("</TileMatrixSet>");
}

/// The capabilities document.
/// Text for an XML element.
fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `about` is the service's abstract (it names the city when one is configured).
pub fn capabilities(base: &str, bounds: [f64; 4], about: &str) -> String {
    let mut x = String::with_capacity(64 * 1024);
    x.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>
<Capabilities xmlns="http://www.opengis.net/wmts/1.0" xmlns:ows="http://www.opengis.net/ows/1.1" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.opengis.net/wmts/1.0 http://schemas.opengis.net/wmts/1.0/wmtsGetCapabilities_response.xsd" version="1.0.0">"#);
    let _ = write!(x, "<ows:ServiceIdentification><ows:Title>compound-atlas</ows:Title><ows:Abstract>{}</ows:Abstract><ows:ServiceType>OGC WMTS</ows:ServiceType><ows:ServiceTypeVersion>1.0.0</ows:ServiceTypeVersion></ows:ServiceIdentification>", xml_escape(about));
    x.push_str("<ows:OperationsMetadata>");
    for (op, rest) in [
        (
            "GetCapabilities",
            format!("{base}/wmts/1.0.0/WMTSCapabilities.xml"),
        ),
        ("GetTile", format!("{base}/wmts/1.0.0/")),
    ] {
        let _ = write!(
            x,
            "<ows:Operation name=\"{op}\"><ows:DCP><ows:HTTP><ows:Get xlink:href=\"{}\"><ows:Constraint name=\"GetEncoding\"><ows:AllowedValues><ows:Value>RESTful</ows:Value></ows:AllowedValues></ows:Constraint></ows:Get><ows:Get xlink:href=\"{}\"><ows:Constraint name=\"GetEncoding\"><ows:AllowedValues><ows:Value>KVP</ows:Value></ows:AllowedValues></ows:Constraint></ows:Get></ows:HTTP></ows:DCP></ows:Operation>",
            esc(&rest),
            esc(&format!("{base}/wmts?"))
        );
    }
    x.push_str("</ows:OperationsMetadata><Contents>");
    let layers: [(&str, &str, &str, &str, &str); 3] = [
        (
            "grade",
            "Compounds by grade",
            "Residential compounds filled red / yellow / blue by grade (buildings from zoom 15)",
            "image/png",
            "png",
        ),
        (
            "density",
            "Complaint density",
            "Kernel density of hotline complaints per km² per year over the window",
            "image/png",
            "png",
        ),
        (
            "atlas",
            "Atlas vector tiles",
            "Districts, streets, heat, compounds, buildings, units and labels (Mapbox Vector Tile)",
            MVT,
            "mvt",
        ),
    ];
    for (id, title, abs, format, ext) in layers {
        let _ = write!(
            x,
            "<Layer><ows:Title>{title}</ows:Title><ows:Abstract>{abs}</ows:Abstract><ows:WGS84BoundingBox><ows:LowerCorner>{} {}</ows:LowerCorner><ows:UpperCorner>{} {}</ows:UpperCorner></ows:WGS84BoundingBox><ows:Identifier>{id}</ows:Identifier><Style isDefault=\"true\"><ows:Identifier>default</ows:Identifier></Style><Format>{format}</Format>",
            bounds[0], bounds[1], bounds[2], bounds[3]
        );
        for g in Grid::ALL {
            let _ = write!(
                x,
                "<TileMatrixSetLink><TileMatrixSet>{}</TileMatrixSet></TileMatrixSetLink>",
                g.id()
            );
        }
        let _ = write!(
            x,
            "<ResourceURL format=\"{format}\" resourceType=\"tile\" template=\"{}\"/></Layer>",
            esc(&format!("{base}/wmts/1.0.0/{id}/{{Style}}/{{TileMatrixSet}}/{{TileMatrix}}/{{TileRow}}/{{TileCol}}.{ext}"))
        );
    }
    for g in Grid::ALL {
        matrix_set(&mut x, g);
    }
    let _ = write!(
        x,
        "</Contents><ServiceMetadataURL xlink:href=\"{}\"/></Capabilities>",
        esc(&format!("{base}/wmts/1.0.0/WMTSCapabilities.xml"))
    );
    x
}

fn xml(body: String) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    r
}

async fn caps(state: &AppState, headers: &HeaderMap) -> Result<Response, Error> {
    let city = state.tiles.city(&state.atlas).await?;
    let bounds = city.bounds().unwrap_or(crate::tile::grid::WORLD_BOUNDS);
    let about =
        state.titled("residential compounds by complaint density and red/yellow/blue grade");
    Ok(xml(capabilities(&base_url(headers), bounds, &about)))
}

/// `GET /wmts/1.0.0/WMTSCapabilities.xml`
pub async fn rest_capabilities(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    caps(&state, &headers).await
}

fn grid(id: &str) -> Result<Grid, Error> {
    Grid::parse(id)
        .ok_or_else(|| Error::NotFound(format!("no TileMatrixSet `{id}`; use {}", Grid::ids())))
}

/// The format a WMTS layer is asked for in: MVT for `atlas`, a 256-pixel PNG for the pictures.
fn check_format(set: Tileset, ext: &str) -> Result<TileFormat, Error> {
    match (set, ext) {
        (Tileset::Vector, "mvt" | "pbf") => Ok(TileFormat::MVT),
        (Tileset::Raster(_), "png") => Ok(TileFormat::PNG),
        _ => Err(Error::BadRequest(format!(
            "format `{ext}` is not served for this layer: grade and density are image/png, atlas is {MVT}"
        ))),
    }
}

fn check_style(style: &str) -> Result<(), Error> {
    if style == "default" || style.is_empty() {
        Ok(())
    } else {
        Err(Error::BadRequest(format!(
            "no style `{style}`; layers have the style `default`"
        )))
    }
}

/// `GET /wmts/1.0.0/{layer}/{style}/{tms}/{z}/{row}/{col}.{ext}`
pub async fn rest_tile(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((layer, style, tms, z, row, col_ext)): Path<(
        String,
        String,
        String,
        String,
        String,
        String,
    )>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Error> {
    let set = check_tileset(&layer)?;
    check_style(&style)?;
    let (col, ext) = col_ext.rsplit_once('.').ok_or_else(|| {
        Error::BadRequest(format!(
            "`{col_ext}`: a tile is named {{TileCol}}.png or .mvt"
        ))
    })?;
    let format = check_format(set, ext)?;
    let at = TileAddress::parse(grid(&tms)?, &z, col, &row)?;
    serve_tile(state, caller, &headers, set, (at, format), raw).await
}

/// `GET /wmts?SERVICE=WMTS&REQUEST=GetCapabilities|GetTile&…` (parameter names in any case).
pub async fn kvp(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Error> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| Error::BadRequest(format!("malformed query string: {e}")))?;
    let p: HashMap<String, String> = pairs
        .into_iter()
        .map(|(k, v)| (k.to_ascii_uppercase(), v))
        .collect();
    let get = |k: &str| p.get(k).map(String::as_str).filter(|v| !v.is_empty());
    if let Some(s) = get("SERVICE") {
        if !s.eq_ignore_ascii_case("WMTS") {
            return Err(Error::BadRequest(format!(
                "SERVICE must be WMTS, got `{s}`"
            )));
        }
    }
    match get("REQUEST") {
        Some(r) if r.eq_ignore_ascii_case("GetCapabilities") => caps(&state, &headers).await,
        Some(r) if r.eq_ignore_ascii_case("GetTile") => {
            let need =
                |k: &str| get(k).ok_or_else(|| Error::BadRequest(format!("GetTile needs {k}")));
            let set = check_tileset(need("LAYER")?)?;
            check_style(get("STYLE").unwrap_or("default"))?;
            let ext = match need("FORMAT")? {
                "image/png" => "png",
                f if f == MVT || f == "application/x-protobuf" => "mvt",
                other => {
                    return Err(Error::BadRequest(format!(
                        "FORMAT `{other}` is not served; use image/png or {MVT}"
                    )))
                }
            };
            let format = check_format(set, ext)?;
            let g = grid(need("TILEMATRIXSET")?)?;
            let (z, row, col) = (need("TILEMATRIX")?, need("TILEROW")?, need("TILECOL")?);
            let at = TileAddress::parse(g, z, col, row)?;
            // The window travels as extra parameters, as on the XYZ paths.
            let mut extra: Vec<(String, String)> = Vec::new();
            for k in ["FROM", "TO", "PERIOD", "DATUM"] {
                if let Some(v) = get(k) {
                    extra.push((k.to_ascii_lowercase(), v.to_string()));
                }
            }
            let raw = (!extra.is_empty())
                .then(|| serde_urlencoded::to_string(&extra).unwrap_or_default());
            serve_tile(state, caller, &headers, set, (at, format), raw).await
        }
        Some(other) => Err(Error::BadRequest(format!(
            "REQUEST `{other}` is not supported; use GetCapabilities or GetTile"
        ))),
        None => Err(Error::BadRequest(
            "REQUEST is required (GetCapabilities or GetTile)".into(),
        )),
    }
}

/// This surface's routes: WMTS capabilities, KVP and RESTful.
pub(super) fn routes() -> axum::Router<super::AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/wmts", get(kvp))
        .route("/wmts/1.0.0/WMTSCapabilities.xml", get(rest_capabilities))
}

/// This surface's tile routes, whose bodies the tile handler compresses itself.
pub(super) fn tile_routes() -> axum::Router<super::AppState> {
    use axum::routing::get;
    axum::Router::new().route(
        "/wmts/1.0.0/{layer}/{style}/{tms}/{z}/{row}/{col}",
        get(rest_tile),
    )
}
