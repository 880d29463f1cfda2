//! `/styles/{style}.json`: the MapLibre styles of `styles/`, with this server's absolute URLs
//! (and any complaint window given) filled in.

use super::request::base_url;
use super::request::Params;
use crate::error::Error;
use axum::extract::{Path, RawQuery};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;

const GRADE: &str = include_str!("../../styles/grade.json");
const DENSITY: &str = include_str!("../../styles/density.json");

/// The styles this server has.
pub const STYLES: [&str; 2] = ["grade", "density"];

pub async fn style(
    headers: HeaderMap,
    Path(file): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Error> {
    let name = super::tiles::json_name("/styles", &file)?;
    let template = match name {
        "grade" => GRADE,
        "density" => DENSITY,
        other => {
            return Err(Error::NotFound(format!(
                "no style `{other}`; styles are {}",
                STYLES.join(", ")
            )))
        }
    };
    // The window parameters travel on to the TileJSON (which checks them); `encoding=mlt`
    // marks the vector source as MapLibre Tiles and travels on too (the TileJSON's tile URLs
    // then end in `.mlt`).
    let (encoding, rest) = super::tiles::take_encoding(raw.clone())?;
    Params::parse(rest, &super::tiles::tile_params())?;
    let query = raw
        .filter(|q| !q.is_empty())
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let text = template
        .replace("{base}", &base_url(&headers))
        .replace("{query}", &query);
    let mut style: Value = serde_json::from_str(&text).map_err(|e| Error::Other(e.into()))?;
    if encoding == super::tiles::Encoding::Mlt {
        style["sources"]["atlas"]["encoding"] = Value::from(encoding.name());
    }
    Ok(Json(style))
}

/// This surface's routes: the MapLibre styles.
pub(super) fn routes() -> axum::Router<super::AppState> {
    use axum::routing::get;
    axum::Router::new().route("/styles/{file}", get(style))
}
