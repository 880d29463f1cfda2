//! Raster pictures of the atlas: the `grade` and `density` tilesets as PNG tiles, and the same
//! drawing on any view (static maps). Polygons are drawn anti-aliased by tiny-skia; PNGs are
//! encoded by the image crate; text (legends, scale bars) is drawn from the bundled CJK font
//! with ab_glyph.
//!
//! The density heatmap is a kernel density of the window's complaints: the heat points of
//! [`Figures`] (complaints pre-aggregated at their unit, building or compound — never the raw
//! complaints) are binned into the pixels of the view and a margin of three bandwidths, then
//! blurred by a separable Gaussian. Its bandwidth is a fixed number of pixels (so it follows
//! the zoom in metres) and its colours are an absolute scale of complaints per km² per year, so
//! neighbouring tiles agree at their edges: there are no seams.

use super::atlas::{CityIndex, Figures};
use super::filter::{keeps, TileFilter};
use super::{Datum, Grid};
use crate::analytics::{density, density_class, Grade};
use crate::model::Layer;
use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use geo_types::MultiPolygon;
use tiny_skia::{FillRule, Paint, PathBuilder, Pixmap, PremultipliedColorU8, Stroke, Transform};

/// The raster tilesets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Style {
    /// Compounds filled red / yellow / blue, buildings from zoom 15.
    Grade,
    /// A heatmap of complaint density.
    Density,
}

impl Style {
    pub const ALL: [Style; 2] = [Style::Grade, Style::Density];

    pub fn parse(s: &str) -> Option<Style> {
        match s {
            "grade" => Some(Style::Grade),
            "density" => Some(Style::Density),
            _ => None,
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Style::Grade => "grade",
            Style::Density => "density",
        }
    }
}

/// The fill colours of grades (as the vector `grade` style).
pub const GRADE_COLORS: [(Grade, [u8; 3]); 3] = [
    (Grade::Red, [0xd7, 0x30, 0x1f]),
    (Grade::Yellow, [0xf5, 0xb7, 0x00]),
    (Grade::Blue, [0x6f, 0xa8, 0xdc]),
];

/// Heatmap colours: a perceptual ramp (inferno-like, light to dark read as low to high) with
/// transparency rising with density.
const RAMP: [(f32, [u8; 4]); 7] = [
    (0.00, [0xfc, 0xff, 0xa4, 0]),
    (0.15, [0xf7, 0xd1, 0x3d, 110]),
    (0.35, [0xfb, 0x9b, 0x06, 160]),
    (0.55, [0xed, 0x69, 0x25, 190]),
    (0.70, [0xcf, 0x44, 0x46, 210]),
    (0.85, [0x93, 0x26, 0x67, 225]),
    (1.00, [0x42, 0x0a, 0x68, 235]),
];

/// The density scale: log10 of complaints per km² per year from `LOW` (transparent) to
/// `HIGH` (darkest).
pub const DENSITY_LOW: f64 = 50.0;
pub const DENSITY_HIGH: f64 = 20_000.0;

/// The heatmap bandwidth in pixels of a 256-pixel tile.
const BANDWIDTH_PX: f64 = 10.0;

/// What the picture shows, in pixels: a box of a grid's projected plane.
#[derive(Debug, Clone, Copy)]
pub struct View {
    pub grid: Grid,
    pub datum: Datum,
    /// Projected x of the left edge, y of the top edge.
    pub x0: f64,
    pub y0: f64,
    /// Projected units per pixel.
    pub res: f64,
    pub width: u32,
    pub height: u32,
    /// Pixels per "CSS pixel": 2 for @2x tiles (line widths and bandwidth scale with it).
    pub ratio: f64,
}

impl View {
    /// The view of a tile, `size` pixels square (256, or 512 for @2x).
    pub fn tile(grid: Grid, datum: Datum, z: u8, x: u64, y: u64, size: u32) -> View {
        let [w, _, e, n] = grid.xy_bounds(z, x, y);
        View {
            grid,
            datum,
            x0: w,
            y0: n,
            res: (e - w) / f64::from(size),
            width: size,
            height: size,
            ratio: f64::from(size) / 256.0,
        }
    }

    /// A WebMercator view of `width` × `height` pixels fitting a WGS 84 box (with a margin).
    pub fn fit(bbox: [f64; 4], width: u32, height: u32, datum: Datum) -> View {
        let grid = Grid::WebMercatorQuad;
        let (sw, ne) = (
            datum.from_wgs84(bbox[0], bbox[1]),
            datum.from_wgs84(bbox[2], bbox[3]),
        );
        let (x1, y1) = grid.project(sw.0, sw.1);
        let (x2, y2) = grid.project(ne.0, ne.1);
        let res = ((x2 - x1) / f64::from(width))
            .max((y2 - y1) / f64::from(height))
            .max(0.05)
            * 1.1;
        let (cx, cy) = (f64::midpoint(x1, x2), f64::midpoint(y1, y2));
        View {
            grid,
            datum,
            x0: cx - res * f64::from(width) / 2.0,
            y0: cy + res * f64::from(height) / 2.0,
            res,
            width,
            height,
            ratio: 1.0,
        }
    }

    /// A WGS 84 point in pixels.
    pub fn px(&self, lon: f64, lat: f64) -> (f32, f32) {
        let (lon, lat) = self.datum.from_wgs84(lon, lat);
        let (x, y) = self.grid.project(lon, lat);
        (
            ((x - self.x0) / self.res) as f32,
            ((self.y0 - y) / self.res) as f32,
        )
    }

    /// The WGS 84 box of the view grown by `margin` pixels (and the datum shift).
    pub fn bbox(&self, margin: f64) -> [f64; 4] {
        let m = margin * self.res;
        let (w, n) = self.grid.unproject(self.x0 - m, self.y0 + m);
        let (e, s) = self.grid.unproject(
            self.x0 + self.res * f64::from(self.width) + m,
            self.y0 - self.res * f64::from(self.height) - m,
        );
        let pad = if self.datum == Datum::Wgs84 {
            0.0
        } else {
            0.01
        };
        [w - pad, s - pad, e + pad, n + pad]
    }

    /// Metres on the ground per pixel at a latitude.
    pub fn metres_per_px(&self, lat: f64) -> f64 {
        match self.grid {
            Grid::WebMercatorQuad => self.res * lat.to_radians().cos(),
            Grid::WorldCrs84Quad | Grid::Cgcs2000Quad => self.res * 111_320.0,
        }
    }

    /// The zoom level this view draws at (for choosing what to draw).
    pub fn zoom(&self) -> f64 {
        let (w, _, e, _) = match self.grid {
            Grid::WebMercatorQuad => (-20_037_508.342_789_244, 0.0, 20_037_508.342_789_244, 0.0),
            Grid::WorldCrs84Quad | Grid::Cgcs2000Quad => (-180.0, 0.0, 180.0, 0.0),
        };
        let tiles0 = match self.grid {
            Grid::WebMercatorQuad => 1.0,
            Grid::WorldCrs84Quad | Grid::Cgcs2000Quad => 2.0,
        };
        ((e - w) / tiles0 / (self.res * 256.0 / self.ratio)).log2()
    }
}

fn path_of(view: &View, mp: &MultiPolygon<f64>) -> Option<tiny_skia::Path> {
    let mut pb = PathBuilder::new();
    for poly in &mp.0 {
        for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
            let mut first = true;
            for c in &ring.0 {
                let (x, y) = view.px(c.x, c.y);
                if first {
                    pb.move_to(x, y);
                    first = false;
                } else {
                    pb.line_to(x, y);
                }
            }
            pb.close();
        }
    }
    pb.finish()
}

fn paint(rgb: [u8; 3], alpha: u8) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color_rgba8(rgb[0], rgb[1], rgb[2], alpha);
    p.anti_alias = true;
    p
}

fn fill_and_outline(
    pm: &mut Pixmap,
    path: &tiny_skia::Path,
    fill: Paint<'_>,
    line: Paint<'_>,
    width: f32,
) {
    pm.fill_path(path, &fill, FillRule::EvenOdd, Transform::identity(), None);
    let stroke = Stroke {
        width,
        ..Stroke::default()
    };
    pm.stroke_path(path, &line, &stroke, Transform::identity(), None);
}

/// Draws the grade picture: compounds by grade with outlines, buildings from zoom 15, district
/// boundaries.
fn draw_grade(
    pm: &mut Pixmap,
    view: &View,
    city: &CityIndex,
    fig: &Figures,
    filter: Option<&TileFilter>,
) {
    let d = &city.data;
    let z = view.zoom();
    let r = view.ratio as f32;
    let q = view.bbox(4.0);
    let mut dropped = Vec::new();
    for k in city.in_box(Layer::Compounds, q) {
        let c = &d.compounds[k];
        if filter.is_some() {
            let props = super::atlas::compound_props(city, fig, k);
            if !keeps(filter, super::layers::TileLayer::Compounds, &props, &|| {
                geo_types::Geometry::MultiPolygon(c.geom.clone())
            }) {
                dropped.push(c.id);
                continue;
            }
        }
        let Some(path) = path_of(view, &c.geom) else {
            continue;
        };
        let (_, grade) = fig.compound(c.id);
        let rgb = grade
            .and_then(|g| GRADE_COLORS.iter().find(|(x, _)| *x == g))
            .map_or([0xbd, 0xbd, 0xbd], |(_, rgb)| *rgb);
        let alpha = if z >= 15.0 { 150 } else { 215 };
        let line = [rgb[0] / 2, rgb[1] / 2, rgb[2] / 2];
        fill_and_outline(pm, &path, paint(rgb, alpha), paint(line, 230), 0.8 * r);
    }
    if z >= 15.0 {
        for k in city.in_box(Layer::Buildings, q) {
            let b = &d.buildings[k];
            if dropped.contains(&b.compound_id) {
                continue;
            }
            let mp = MultiPolygon(vec![b.geom.clone()]);
            let Some(path) = path_of(view, &mp) else {
                continue;
            };
            fill_and_outline(
                pm,
                &path,
                paint([0xf4, 0xf1, 0xea], 200),
                paint([0x55, 0x55, 0x55], 220),
                0.6 * r,
            );
        }
    }
    draw_districts(pm, view, city);
}

fn draw_districts(pm: &mut Pixmap, view: &View, city: &CityIndex) {
    let r = view.ratio as f32;
    for k in city.in_box(Layer::Districts, view.bbox(4.0)) {
        let Some(path) = path_of(view, &city.data.districts[k].geom) else {
            continue;
        };
        let stroke = Stroke {
            width: 1.2 * r,
            ..Stroke::default()
        };
        pm.stroke_path(
            &path,
            &paint([0x5a, 0x4a, 0x3a], 200),
            &stroke,
            Transform::identity(),
            None,
        );
    }
}

/// Widths of three box blurs whose succession approximates a Gaussian of `sigma` pixels
/// (Kovesi's construction: two sizes, odd, variances adding up to sigma²).
fn boxes(sigma: f64) -> [usize; 3] {
    let n = 3.0;
    let ideal = (12.0 * sigma * sigma / n + 1.0).sqrt();
    let mut lo = ideal.floor() as i64;
    if lo % 2 == 0 {
        lo -= 1;
    }
    let lo = lo.max(1);
    let l = lo as f64;
    let m = ((12.0 * sigma * sigma - n * l * l - 4.0 * n * l - 3.0 * n) / (-4.0 * l - 4.0)).round()
        as i64;
    let size = |i: i64| usize::try_from(if i < m { lo } else { lo + 2 }).unwrap_or(1);
    [size(0), size(1), size(2)]
}

/// A box blur of `width` (odd) along rows (`stride` 1) or columns (`stride` w) of a w × h grid,
/// by running sums; outside the grid counts as 0.
fn box_blur(src: &[f64], dst: &mut [f64], w: usize, h: usize, width: usize, along_rows: bool) {
    let r = width / 2;
    let inv = 1.0 / width as f64;
    let (lines, len) = if along_rows { (h, w) } else { (w, h) };
    let at = |line: usize, i: usize| {
        if along_rows {
            line * w + i
        } else {
            i * w + line
        }
    };
    for line in 0..lines {
        let mut sum = 0.0;
        for i in 0..r.min(len) {
            sum += src[at(line, i)];
        }
        for i in 0..len {
            if i + r < len {
                sum += src[at(line, i + r)];
            }
            if i > r {
                sum -= src[at(line, i - r - 1)];
            }
            dst[at(line, i)] = sum * inv;
        }
    }
}

/// The heatmap: complaints per km² per year, by kernel density.
fn draw_density(pm: &mut Pixmap, view: &View, city: &CityIndex, fig: &Figures) {
    let sigma = BANDWIDTH_PX * view.ratio;
    let r = (3.0 * sigma).ceil() as i64;
    let (w, h) = (
        i64::from(view.width) + 2 * r,
        i64::from(view.height) + 2 * r,
    );
    let mut grid = vec![0.0f64; (w * h) as usize];
    let q = view.bbox(r as f64 + 1.0);
    for (lon, lat, n) in fig.heat_in(q) {
        let (x, y) = view.px(lon, lat);
        let (gx, gy) = (x.floor() as i64 + r, y.floor() as i64 + r);
        if gx >= 0 && gy >= 0 && gx < w && gy < h {
            grid[(gy * w + gx) as usize] += n as f64;
        }
    }
    // A Gaussian blur as three box blurs along rows and three along columns: the margin of
    // three bandwidths holds their whole reach, so every pixel sees all its neighbours' points
    // whichever tile it is drawn in.
    let (wu, hu) = (w as usize, h as usize);
    let mut tmp = vec![0.0f64; wu * hu];
    for width in boxes(sigma) {
        box_blur(&grid, &mut tmp, wu, hu, width, true);
        box_blur(&tmp, &mut grid, wu, hu, width, false);
    }
    // Counts per pixel → per km² per year.
    let lat = {
        let b = view.bbox(0.0);
        f64::midpoint(b[1], b[3])
    };
    let px_km2 = (view.metres_per_px(lat) / 1000.0).powi(2);
    let years = f64::from(fig.window.months()) / 12.0;
    let (lo, hi) = (DENSITY_LOW.log10(), DENSITY_HIGH.log10());
    let pixels = pm.pixels_mut();
    for y in 0..i64::from(view.height) {
        for x in 0..i64::from(view.width) {
            let s = grid[((y + r) * w + x + r) as usize];
            let per_km2 = s / px_km2 / years;
            if per_km2 < DENSITY_LOW {
                continue;
            }
            let t = ((per_km2.log10() - lo) / (hi - lo)).clamp(0.0, 1.0) as f32;
            let [cr, cg, cb, ca] = ramp(t);
            let a = f32::from(ca) / 255.0;
            let premul = |v: u8| (f32::from(v) * a).round() as u8;
            if let Some(p) = PremultipliedColorU8::from_rgba(premul(cr), premul(cg), premul(cb), ca)
            {
                pixels[(y * i64::from(view.width) + x) as usize] = p;
            }
        }
    }
    draw_districts(pm, view, city);
}

/// The ramp's colour at `t` in 0..=1.
pub fn ramp(t: f32) -> [u8; 4] {
    for pair in RAMP.windows(2) {
        let ((t0, c0), (t1, c1)) = (pair[0], pair[1]);
        if t <= t1 {
            let f = if t1 > t0 { (t - t0) / (t1 - t0) } else { 0.0 };
            let mix =
                |a: u8, b: u8| (f32::from(a) + (f32::from(b) - f32::from(a)) * f).round() as u8;
            return [
                mix(c0[0], c1[0]),
                mix(c0[1], c1[1]),
                mix(c0[2], c1[2]),
                mix(c0[3], c1[3]),
            ];
        }
    }
    RAMP[RAMP.len() - 1].1
}

/// Draws a style on a fresh transparent picture of the view; the grade picture only the
/// compounds `filter` keeps, and their buildings (the density picture is every complaint's:
/// callers refuse a filter on it).
///
/// # Panics
/// Never: a 1×1 picture, the fallback for a size the callers let through, always allocates.
pub fn draw(
    view: &View,
    style: Style,
    city: &CityIndex,
    fig: &Figures,
    filter: Option<&TileFilter>,
) -> Pixmap {
    let mut pm = Pixmap::new(view.width.max(1), view.height.max(1)).unwrap_or_else(|| {
        // Sizes are checked by callers; a 1×1 picture is the fallback, never a panic.
        Pixmap::new(1, 1).expect("a 1x1 pixmap")
    });
    match style {
        Style::Grade => draw_grade(&mut pm, view, city, fig, filter),
        Style::Density => draw_density(&mut pm, view, city, fig),
    }
    pm
}

/// PNG bytes of a picture (straight alpha, as PNG wants).
pub fn png(pm: &Pixmap) -> Result<Vec<u8>, String> {
    use image::ImageEncoder;
    let mut rgba = Vec::with_capacity(pm.data().len());
    for p in pm.pixels() {
        let c = p.demultiply();
        rgba.extend_from_slice(&[c.red(), c.green(), c.blue(), c.alpha()]);
    }
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new_with_quality(
        &mut out,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::Adaptive,
    )
    .write_image(
        &rgba,
        pm.width(),
        pm.height(),
        image::ExtendedColorType::Rgba8,
    )
    .map_err(|e| e.to_string())?;
    Ok(out)
}

/// Whether a picture has any visible pixel.
pub fn is_empty(pm: &Pixmap) -> bool {
    pm.pixels().iter().all(|p| p.alpha() == 0)
}

/// Text drawn with the bundled CJK font.
pub struct Text {
    font: FontRef<'static>,
}

impl Text {
    pub fn new() -> Option<Text> {
        FontRef::try_from_slice_and_index(crate::assets::CJK_FONT, 0)
            .ok()
            .map(|font| Text { font })
    }

    /// The width in pixels of `s` at `size`.
    pub fn width(&self, s: &str, size: f32) -> f32 {
        let f = self.font.as_scaled(PxScale::from(size));
        s.chars().map(|c| f.h_advance(self.font.glyph_id(c))).sum()
    }

    /// Draws `s` with its baseline at `y`, starting at `x`.
    pub fn draw(&self, pm: &mut Pixmap, s: &str, x: f32, y: f32, size: f32, rgb: [u8; 3]) {
        let scale = PxScale::from(size);
        let f = self.font.as_scaled(scale);
        let mut pen = x;
        let (w, h) = (pm.width() as i32, pm.height() as i32);
        let pixels = pm.pixels_mut();
        for c in s.chars() {
            let id = self.font.glyph_id(c);
            let glyph = id.with_scale_and_position(scale, ab_glyph::point(pen, y));
            pen += f.h_advance(id);
            let Some(og) = self.font.outline_glyph(glyph) else {
                continue;
            };
            let b = og.px_bounds();
            og.draw(|gx, gy, cov| {
                let (px, py) = (b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32);
                if px < 0 || py < 0 || px >= w || py >= h || cov <= 0.0 {
                    return;
                }
                let i = (py * w + px) as usize;
                let dst = pixels[i];
                let a = cov.min(1.0);
                let blend =
                    |s: u8, d: u8| (f32::from(s) * a + f32::from(d) * (1.0 - a)).round() as u8;
                let out_a = (255.0 * a + f32::from(dst.alpha()) * (1.0 - a)).round() as u8;
                let (r, g, bb) = (
                    blend(rgb[0], dst.red()),
                    blend(rgb[1], dst.green()),
                    blend(rgb[2], dst.blue()),
                );
                if let Some(p) = PremultipliedColorU8::from_rgba(
                    r.min(out_a),
                    g.min(out_a),
                    bb.min(out_a),
                    out_a,
                ) {
                    pixels[i] = p;
                }
            });
        }
    }
}

/// A filled rectangle.
pub fn rect(pm: &mut Pixmap, x: f32, y: f32, w: f32, h: f32, rgb: [u8; 3], alpha: u8) {
    if let Some(r) = tiny_skia::Rect::from_xywh(x, y, w, h) {
        pm.fill_rect(r, &paint(rgb, alpha), Transform::identity(), None);
    }
}

/// The legend of a style: (colour, label) rows.
pub fn legend_rows(style: Style, zh: bool) -> Vec<([u8; 3], String)> {
    match style {
        Style::Grade => GRADE_COLORS
            .iter()
            .map(|(g, rgb)| {
                let label = match (g, zh) {
                    (Grade::Red, true) => "红色（重点整治）",
                    (Grade::Yellow, true) => "黄色（限期整改）",
                    (Grade::Blue, true) => "蓝色（正常）",
                    (Grade::Red, false) => "red",
                    (Grade::Yellow, false) => "yellow",
                    (Grade::Blue, false) => "blue",
                };
                (*rgb, label.to_string())
            })
            .collect(),
        Style::Density => [100.0, 300.0, 1_000.0, 3_000.0, 10_000.0]
            .iter()
            .map(|v: &f64| {
                let t = ((v.log10() - DENSITY_LOW.log10())
                    / (DENSITY_HIGH.log10() - DENSITY_LOW.log10())) as f32;
                let c = ramp(t);
                let unit = if zh { "件/km²·年" } else { "per km²·yr" };
                ([c[0], c[1], c[2]], format!("{v} {unit}"))
            })
            .collect(),
    }
}

/// The colours of density classes 0–5 (as the vector `density` style).
pub const CLASS_COLORS: [[u8; 3]; 6] = [
    [0xf0, 0xf0, 0xf0],
    [0xfe, 0xe5, 0xd9],
    [0xfc, 0xbb, 0xa1],
    [0xfc, 0x92, 0x72],
    [0xef, 0x3b, 0x2c],
    [0x99, 0x00, 0x0d],
];

/// The colour of a building's density class (static maps of one compound).
pub fn class_color(n: u64, households: i64, months: i32) -> [u8; 3] {
    CLASS_COLORS[usize::from(density_class(n, density(n, households, months)).min(5))]
}

/// Fills a (multi)polygon and outlines it.
pub fn fill_polygon(
    pm: &mut Pixmap,
    view: &View,
    mp: &MultiPolygon<f64>,
    rgb: [u8; 3],
    alpha: u8,
    line: [u8; 3],
    width: f32,
) {
    if let Some(path) = path_of(view, mp) {
        fill_and_outline(pm, &path, paint(rgb, alpha), paint(line, 255), width);
    }
}

/// Outlines a (multi)polygon.
pub fn outline(pm: &mut Pixmap, view: &View, mp: &MultiPolygon<f64>, rgb: [u8; 3], width: f32) {
    if let Some(path) = path_of(view, mp) {
        let stroke = Stroke {
            width,
            ..Stroke::default()
        };
        pm.stroke_path(
            &path,
            &paint(rgb, 255),
            &stroke,
            Transform::identity(),
            None,
        );
    }
}
