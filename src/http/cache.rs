//! `DELETE /api/cache`: an administrator drops cached tiles by tileset, box and zoom range —
//! after fixing data by hand in the database, or to see a style change at once — and is told
//! how many went. Archives (`--archive`) are files, not cache: they are not touched.

use super::request::parse_bbox;
use super::request::Params;
use super::{AppState, Caller};
use crate::config::Role;
use crate::error::Error;
use crate::tile::Datum;
use axum::extract::{RawQuery, State};
use axum::Json;
use serde_json::{json, Value};

/// The tilesets the cache holds: the vector tiles and the two pictures.
const TILESETS: [&str; 3] = ["atlas", "grade", "density"];
const MAX_ZOOM: u8 = 30;

fn zoom(p: &Params, k: &str, default: u8) -> Result<u8, Error> {
    p.get(k).map_or(Ok(default), |v| {
        v.parse::<u8>()
            .ok()
            .filter(|z| *z <= MAX_ZOOM)
            .ok_or_else(|| {
                Error::BadRequest(format!(
                    "`{k}` must be a zoom level from 0 to {MAX_ZOOM}, got `{v}`"
                ))
            })
    })
}

pub async fn purge(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Error> {
    caller.require(Role::Admin)?;
    let p = Params::parse(raw, &["tileset", "bbox", "minzoom", "maxzoom"])?;
    let tileset = match p.get("tileset") {
        None => None,
        Some(t) if TILESETS.contains(&t) => Some(t),
        Some(t) => {
            return Err(Error::BadRequest(format!(
                "no tileset `{t}` in the cache; it holds {}",
                TILESETS.join(", ")
            )))
        }
    };
    let bbox = p
        .get("bbox")
        .map(|b| parse_bbox(b, Datum::Wgs84))
        .transpose()?;
    let (minzoom, maxzoom) = (zoom(&p, "minzoom", 0)?, zoom(&p, "maxzoom", MAX_ZOOM)?);
    if minzoom > maxzoom {
        return Err(Error::BadRequest(format!(
            "`minzoom` {minzoom} is above `maxzoom` {maxzoom}"
        )));
    }
    let dropped = state.tiles.cache.purge(tileset, bbox, (minzoom, maxzoom));
    state.metrics.cache_purged.inc_by(dropped as u64);
    let (left, bytes, _, _) = state.tiles.cache.stats();
    tracing::info!(
        dropped,
        ?tileset,
        ?bbox,
        minzoom,
        maxzoom,
        "cached tiles purged"
    );
    Ok(Json(json!({
        "dropped": dropped,
        "tileset": tileset,
        "bbox": bbox,
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "tiles_left": left,
        "bytes_left": bytes,
    })))
}

/// This surface's routes: dropping cached tiles.
pub(super) fn routes() -> axum::Router<super::AppState> {
    axum::Router::new().route("/api/cache", axum::routing::delete(purge))
}
