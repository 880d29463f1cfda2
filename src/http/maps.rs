//! Pictures for reports: `GET /api/map.png` (an area or one compound, with a legend, a scale
//! bar and attribution) and the legends of the styles as PNG and JSON.

use super::request::parse_bbox;
use super::request::{Params, Scope};
use super::{AppState, Caller};
use crate::error::Error;
use crate::tile::raster::{self, Style, Text, View};
use crate::tile::report::{compound_view, draw_legend, legend_title, ReportMap};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use tiny_skia::Pixmap;

/// Picture sizes: at least this many pixels a side…
pub const MIN_SIZE: u32 = 64;
/// …and at most this many.
pub const MAX_SIZE: u32 = 2048;

fn png_response(pm: &Pixmap) -> Result<Response, Error> {
    let bytes = raster::png(pm).map_err(|e| Error::Other(anyhow::anyhow!(e)))?;
    let mut r = bytes.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(r)
}

fn style_of(s: Option<&str>) -> Result<Style, Error> {
    match s {
        None => Ok(Style::Grade),
        Some(s) => Style::parse(s)
            .ok_or_else(|| Error::BadRequest(format!("unknown style `{s}`; use grade or density"))),
    }
}

fn size(p: &Params, k: &str, default: u32) -> Result<u32, Error> {
    match p.get(k) {
        None => Ok(default),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (MIN_SIZE..=MAX_SIZE).contains(n))
            .ok_or_else(|| {
                Error::BadRequest(format!(
                    "`{k}` must be a whole number of pixels from {MIN_SIZE} to {MAX_SIZE}, got `{v}`"
                ))
            }),
    }
}

fn zh(p: &Params) -> Result<bool, Error> {
    match p.get("lang") {
        None | Some("zh") => Ok(true),
        Some("en") => Ok(false),
        Some(o) => Err(Error::BadRequest(format!("`lang` is zh or en, got `{o}`"))),
    }
}

/// `GET /api/map.png?bbox=w,s,e,n|compound=ID&width=&height=&style=grade|density&from=&to=&period=&datum=&lang=`
pub async fn map_png(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, Error> {
    let p = Params::parse(
        raw,
        &[
            "bbox", "compound", "width", "height", "style", "from", "to", "period", "datum", "lang",
        ],
    )?;
    let style = style_of(p.get("style"))?;
    let (width, height) = (size(&p, "width", 800)?, size(&p, "height", 600)?);
    let zh = zh(&p)?;
    let scope = Scope::of(&state, &p).await?;
    let city = state.tiles.city(&state.atlas).await?;
    let fig = state
        .tiles
        .figures(&state.atlas, scope.window, scope.period)
        .await?;
    let compound = match (p.get("bbox"), p.get("compound")) {
        (Some(_), Some(_)) => {
            return Err(Error::BadRequest(
                "give `bbox` or `compound`, not both".into(),
            ))
        }
        (None, None) => {
            return Err(Error::BadRequest(
                "say what to draw: `bbox=w,s,e,n` or `compound=ID`".into(),
            ))
        }
        (None, Some(id)) => {
            let id: i64 = id.parse().map_err(|_| {
                Error::BadRequest(format!("`compound` is an id (a number), got `{id}`"))
            })?;
            let (k, _) = city
                .compound(id)
                .ok_or_else(|| Error::NotFound(format!("compound {id}")))?;
            Some(k)
        }
        (Some(_), None) => None,
    };
    let bbox = if let Some(k) = compound {
        compound_view(&city, k)
            .ok_or_else(|| Error::BadRequest("the compound has no shape".into()))?
    } else {
        let b = parse_bbox(p.get("bbox").unwrap_or_default(), scope.datum)?;
        if b[2] - b[0] > 5.0 || b[3] - b[1] > 5.0 {
            return Err(Error::BadRequest(
                "`bbox` may span at most 5 degrees".into(),
            ));
        }
        if b[2] <= b[0] || b[3] <= b[1] {
            return Err(Error::BadRequest("`bbox` has no area".into()));
        }
        b
    };
    let report = ReportMap {
        view: View::fit(bbox, width, height, scope.datum),
        bbox,
        style,
        compound,
        window: scope.window,
        audience: state.audience(&caller),
        zh,
    };
    let pm = tokio::task::spawn_blocking(move || report.draw(&city, &fig))
        .await
        .map_err(|e| Error::Other(anyhow::anyhow!(e)))?
        .ok_or_else(|| Error::Other(anyhow::anyhow!("the bundled font cannot be read")))?;
    png_response(&pm)
}

/// `GET /styles/{style}/legend.png` and `/styles/{style}/legend.json` (`?lang=zh|en`).
pub async fn legend(
    Path((style, file)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Error> {
    let style = Style::parse(&style).ok_or_else(|| {
        Error::NotFound(format!("no style `{style}`; styles are grade and density"))
    })?;
    let p = Params::parse(raw, &["lang"])?;
    let zh = zh(&p)?;
    let rows = raster::legend_rows(style, zh);
    match file.as_str() {
        "legend.json" => Ok(Json(json!({
            "style": style.id(),
            "title": legend_title(style, zh),
            "items": rows.iter().map(|(c, l)| json!({ "color": format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2]), "label": l })).collect::<Vec<Value>>(),
        }))
        .into_response()),
        "legend.png" => {
            let text = Text::new().ok_or_else(|| Error::Other(anyhow::anyhow!("the bundled font cannot be read")))?;
            let title = legend_title(style, zh);
            let w = rows
                .iter()
                .map(|(_, l)| text.width(l, 13.0) + 26.0)
                .fold(text.width(title, 13.0), f32::max)
                + 18.0;
            let h = 18.0 * (rows.len() as f32 + 1.0) + 12.0;
            let mut pm = Pixmap::new(w.ceil() as u32, h.ceil() as u32)
                .ok_or_else(|| Error::Other(anyhow::anyhow!("legend size")))?;
            draw_legend(&mut pm, &text, title, &rows, 0.0, 0.0);
            png_response(&pm)
        }
        other => Err(Error::NotFound(format!(
            "`{other}`: a style's legend is legend.png or legend.json"
        ))),
    }
}

/// This surface's routes: legends and map pictures.
pub(super) fn routes() -> axum::Router<super::AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/styles/{style}/{file}", get(legend))
        .route("/api/map.png", get(map_png))
}
