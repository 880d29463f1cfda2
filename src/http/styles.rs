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
pub const STYLES: [&str; 3] = ["grade", "density", "company"];

/// The `company` style: the grade style with compounds filled by their property company's
/// list standing in the grade quarter (the tiles' `company_list`): black, red, or neither.
fn company_style(style: &mut Value) {
    style["name"] = Value::from("compound-atlas company lists");
    style["metadata"] = serde_json::json!({
        "compound-atlas:style": "company",
        "compound-atlas:description": "Compounds filled by their property company's list in the grade quarter: black list, red list, neither; districts and streets outlined and labelled."
    });
    if let Some(layers) = style["layers"].as_array_mut() {
        for l in layers.iter_mut().filter(|l| l["id"] == "compounds-fill") {
            l["paint"]["fill-color"] = serde_json::json!([
                "match",
                ["get", "company_list"],
                ["black"],
                COMPANY_BLACK,
                ["red"],
                COMPANY_RED,
                COMPANY_NONE
            ]);
        }
    }
}

/// The company style's colours (the map page's legend reads them from the style).
const COMPANY_BLACK: &str = "#212121";
const COMPANY_RED: &str = "#d7301f";
const COMPANY_NONE: &str = "#c9c9c9";

pub async fn style(
    headers: HeaderMap,
    Path(file): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Error> {
    let name = super::tiles::json_name("/styles", &file)?;
    let template = match name {
        "grade" | "company" => GRADE,
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
    if name == "company" {
        company_style(&mut style);
    }
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
