//! From longitude/latitude geometry to Mapbox Vector Tile 2.1 features:
//! 1. shift into the requested datum (WGS84, GCJ-02, BD-09);
//! 2. project into the grid's CRS and scale into tile coordinates (extent 4096, y down);
//! 3. clip to the tile and its buffer (geo's boolean ops, only for what crosses the edge);
//! 4. snap to the integer grid, drop repeated points and collapsed rings (a small building
//!    never becomes an invalid shape: it disappears when it is smaller than a tile unit);
//! 5. orient rings as MVT wants them (exterior positive area in tile coordinates);
//! 6. encode commands with geozero's MVT writer; tags with its TagsBuilder.

use super::datum::Datum;
use super::grid::{Bounds, Grid};
use geo::orient::{Direction, Orient};
use geo::{Area, BooleanOps, BoundingRect};
use geo_types::{coord, Coord, LineString, MultiPolygon, Point, Polygon, Rect};
use geozero::mvt::{tile, TagsBuilder, TileValue};
use geozero::ToMvt;

pub const EXTENT: u32 = 4096;
/// Tile buffer, in tile units, kept around each tile so that strokes join across edges.
pub const BUFFER: f64 = 64.0;

/// How one tile maps longitude/latitude to tile coordinates.
#[derive(Debug, Clone, Copy)]
pub struct TileFrame {
    pub grid: Grid,
    pub datum: Datum,
    pub z: u8,
    pub x: u64,
    pub y: u64,
    xy: Bounds,
}

impl TileFrame {
    pub fn new(grid: Grid, datum: Datum, z: u8, x: u64, y: u64) -> TileFrame {
        TileFrame {
            grid,
            datum,
            z,
            x,
            y,
            xy: grid.xy_bounds(z, x, y),
        }
    }

    pub fn to_tile(&self, c: Coord<f64>) -> Coord<f64> {
        let (lon, lat) = self.datum.from_wgs84(c.x, c.y);
        let (x, y) = self.grid.project(lon, lat);
        let [w, s, e, n] = self.xy;
        coord! { x: (x - w) / (e - w) * f64::from(EXTENT), y: (n - y) / (n - s) * f64::from(EXTENT) }
    }

    /// The WGS84 box to fetch features from: the tile with its buffer, widened by the datum
    /// shift (GCJ-02 moves Qingdao about 500 m east).
    pub fn query_bbox(&self) -> [f64; 4] {
        let [w, s, e, n] = self.xy;
        let pad_x = (e - w) * BUFFER / f64::from(EXTENT);
        let pad_y = (n - s) * BUFFER / f64::from(EXTENT);
        let (lw, ls) = self.grid.unproject(w - pad_x, s - pad_y);
        let (le, ln) = self.grid.unproject(e + pad_x, n + pad_y);
        let shift = if self.datum == Datum::Wgs84 {
            0.0
        } else {
            0.02
        };
        [lw - shift, ls - shift, le + shift, ln + shift]
    }
}

fn clip_rect() -> Rect<f64> {
    Rect::new(
        coord! { x: -BUFFER, y: -BUFFER },
        coord! { x: f64::from(EXTENT) + BUFFER, y: f64::from(EXTENT) + BUFFER },
    )
}

fn snap_ring(ring: &LineString<f64>) -> Option<LineString<f64>> {
    let mut pts: Vec<Coord<f64>> = Vec::with_capacity(ring.0.len());
    for c in &ring.0 {
        let s = coord! { x: c.x.round(), y: c.y.round() };
        if pts.last() != Some(&s) {
            pts.push(s);
        }
    }
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    if pts.len() < 3 {
        return None;
    }
    pts.push(pts[0]);
    let ls = LineString::from(pts);
    (Polygon::new(ls.clone(), vec![]).unsigned_area() >= 0.5).then_some(ls)
}

/// Sutherland–Hodgman against an axis-aligned box, ring by ring. Exact inside the box; along
/// its edges it may leave zero-area runs, which is why the box is wider than what is kept.
fn clip_ring(ring: &LineString<f64>, b: [f64; 4]) -> Option<LineString<f64>> {
    let mut pts: Vec<Coord<f64>> = ring.0.clone();
    if pts.first() == pts.last() {
        pts.pop();
    }
    let inside = |c: &Coord<f64>, edge: usize| match edge {
        0 => c.x >= b[0],
        1 => c.x <= b[2],
        2 => c.y >= b[1],
        _ => c.y <= b[3],
    };
    let cross = |a: Coord<f64>, c: Coord<f64>, edge: usize| {
        let (t, fixed_x) = match edge {
            0 => ((b[0] - a.x) / (c.x - a.x), true),
            1 => ((b[2] - a.x) / (c.x - a.x), true),
            2 => ((b[1] - a.y) / (c.y - a.y), false),
            _ => ((b[3] - a.y) / (c.y - a.y), false),
        };
        let p = coord! { x: a.x + t * (c.x - a.x), y: a.y + t * (c.y - a.y) };
        if fixed_x {
            coord! { x: if edge == 0 { b[0] } else { b[2] }, y: p.y }
        } else {
            coord! { x: p.x, y: if edge == 2 { b[1] } else { b[3] } }
        }
    };
    for edge in 0..4 {
        if pts.is_empty() {
            return None;
        }
        let mut out = Vec::with_capacity(pts.len() + 4);
        for i in 0..pts.len() {
            let cur = pts[i];
            let prev = pts[(i + pts.len() - 1) % pts.len()];
            match (inside(&prev, edge), inside(&cur, edge)) {
                (true, true) => out.push(cur),
                (true, false) => out.push(cross(prev, cur, edge)),
                (false, true) => {
                    out.push(cross(prev, cur, edge));
                    out.push(cur);
                }
                (false, false) => {}
            }
        }
        pts = out;
    }
    if pts.len() < 3 {
        return None;
    }
    pts.push(pts[0]);
    Some(LineString::from(pts))
}

fn pre_clip(mp: &MultiPolygon<f64>, b: [f64; 4]) -> Option<MultiPolygon<f64>> {
    let parts: Vec<Polygon<f64>> =
        mp.0.iter()
            .filter_map(|p| {
                let ext = clip_ring(p.exterior(), b)?;
                let holes = p
                    .interiors()
                    .iter()
                    .filter_map(|r| clip_ring(r, b))
                    .collect();
                Some(Polygon::new(ext, holes))
            })
            .collect();
    (!parts.is_empty()).then_some(MultiPolygon(parts))
}

/// A polygonal geometry in tile coordinates, clipped, snapped and oriented; None when
/// nothing of it is left in the tile.
pub fn polygons(frame: &TileFrame, mp: &MultiPolygon<f64>) -> Option<MultiPolygon<f64>> {
    polygons_with(frame, mp, true)
}

fn polygons_with(
    frame: &TileFrame,
    mp: &MultiPolygon<f64>,
    pre_clipping: bool,
) -> Option<MultiPolygon<f64>> {
    use geo::MapCoords;
    // Large shapes (districts, streets) are first cut down, cheaply and in degrees, to a box
    // somewhat wider than the tile, so that only their nearby vertices are projected and
    // clipped exactly; the cut edges lie outside the exact clip and vanish with it.
    let mp = if pre_clipping && mp.0.iter().map(|p| p.exterior().0.len()).sum::<usize>() > 64 {
        let [w, s, e, n] = frame.query_bbox();
        let (dx, dy) = ((e - w) * 0.25, (n - s) * 0.25);
        std::borrow::Cow::Owned(pre_clip(mp, [w - dx, s - dy, e + dx, n + dy])?)
    } else {
        std::borrow::Cow::Borrowed(mp)
    };
    let t: MultiPolygon<f64> = mp.map_coords(|c| frame.to_tile(c));
    let bb = t.bounding_rect()?;
    let r = clip_rect();
    if bb.max().x < r.min().x
        || bb.min().x > r.max().x
        || bb.max().y < r.min().y
        || bb.min().y > r.max().y
    {
        return None;
    }
    let inside = bb.min().x >= r.min().x
        && bb.max().x <= r.max().x
        && bb.min().y >= r.min().y
        && bb.max().y <= r.max().y;
    let clipped = if inside {
        t
    } else {
        t.intersection(&r.to_polygon())
    };
    let parts: Vec<Polygon<f64>> = clipped
        .0
        .iter()
        .filter_map(|p| {
            let ext = snap_ring(p.exterior())?;
            let holes = p.interiors().iter().filter_map(snap_ring).collect();
            Some(Polygon::new(ext, holes))
        })
        .collect();
    if parts.is_empty() {
        return None;
    }
    Some(MultiPolygon(parts).orient(Direction::Default))
}

/// A point in tile coordinates when it falls inside the tile (`buffered`: or its buffer).
pub fn point(frame: &TileFrame, p: Point<f64>, buffered: bool) -> Option<Point<f64>> {
    let c = frame.to_tile(p.0);
    let (lo, hi) = if buffered {
        (-BUFFER, f64::from(EXTENT) + BUFFER)
    } else {
        (0.0, f64::from(EXTENT))
    };
    let inside = c.x >= lo && c.x < hi && c.y >= lo && c.y < hi;
    inside.then(|| Point::new(c.x.round(), c.y.round()))
}

/// One layer of a tile being built.
pub struct LayerBuilder {
    name: &'static str,
    features: Vec<tile::Feature>,
    tags: TagsBuilder<String>,
}

impl LayerBuilder {
    pub fn new(name: &'static str) -> LayerBuilder {
        LayerBuilder {
            name,
            features: Vec::new(),
            tags: TagsBuilder::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.features.len()
    }

    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// Adds a feature whose geometry is already in tile coordinates.
    pub fn add(
        &mut self,
        id: Option<u64>,
        geom: geo_types::Geometry<f64>,
        props: Vec<(&str, TileValue)>,
    ) {
        let Ok(mut f) = geom.to_mvt_unscaled() else {
            return;
        };
        f.id = id;
        for (k, v) in props {
            let (ki, vi) = self.tags.insert(k.to_string(), v);
            f.tags.push(ki);
            f.tags.push(vi);
        }
        self.features.push(f);
    }

    pub fn finish(self) -> Option<tile::Layer> {
        if self.features.is_empty() {
            return None;
        }
        let (keys, values) = self.tags.into_tags();
        Some(tile::Layer {
            version: 2,
            name: self.name.to_string(),
            features: self.features,
            keys,
            values: values.into_iter().map(Into::into).collect(),
            extent: Some(EXTENT),
        })
    }
}

pub fn s(v: &str) -> TileValue {
    TileValue::Str(v.to_string())
}
pub fn i(v: i64) -> TileValue {
    TileValue::Sint(v)
}
pub fn u(v: u64) -> TileValue {
    TileValue::Uint(v)
}
pub fn f(v: f64) -> TileValue {
    TileValue::Double((v * 100.0).round() / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Winding;

    #[test]
    fn cutting_large_shapes_down_first_changes_nothing_in_the_tile() {
        let fc: geojson::FeatureCollection =
            include_str!("../../assets/qingdao/qingdao_districts_wgs84.geojson")
                .parse::<geojson::GeoJson>()
                .unwrap()
                .try_into()
                .unwrap();
        let mut compared = 0;
        for f in &fc.features {
            let g: geo_types::Geometry<f64> = f.geometry.clone().unwrap().try_into().unwrap();
            let geo_types::Geometry::MultiPolygon(mp) = g else {
                continue;
            };
            let c = mp.bounding_rect().unwrap().center();
            for z in [9u8, 12, 15] {
                let n = f64::from(1u32 << z);
                let x = ((c.x + 180.0) / 360.0 * n) as u64;
                let lat = c.y.to_radians();
                let y = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0
                    * n) as u64;
                let frame = TileFrame::new(Grid::WebMercatorQuad, Datum::Wgs84, z, x, y);
                let fast = polygons_with(&frame, &mp, true).map_or(0.0, |m| m.unsigned_area());
                let exact = polygons_with(&frame, &mp, false).map_or(0.0, |m| m.unsigned_area());
                assert!((fast - exact).abs() <= 1.0, "z{z}: {fast} vs {exact}");
                if exact > 0.0 {
                    compared += 1;
                }
            }
        }
        assert!(compared >= 20, "only {compared} tiles held a district");
    }

    #[test]
    fn polygons_are_clipped_snapped_and_wound_for_mvt() {
        let frame = TileFrame::new(Grid::WebMercatorQuad, Datum::Wgs84, 14, 13669, 6353);
        let [w, s, e, n] = frame.query_bbox();
        // A box across the tile's east edge.
        let (cx, cy) = (e - (e - w) * 0.05, (s + n) / 2.0);
        let mp = MultiPolygon(vec![Polygon::new(
            LineString::from(vec![
                (cx, cy),
                (cx + 0.01, cy),
                (cx + 0.01, cy + 0.001),
                (cx, cy + 0.001),
                (cx, cy),
            ]),
            vec![],
        )]);
        let t = polygons(&frame, &mp).unwrap();
        for p in &t.0 {
            assert!(p.exterior().is_ccw(), "positive area in tile coordinates");
            for c in &p.exterior().0 {
                assert_eq!(c.x, c.x.round());
                assert!(c.x <= f64::from(EXTENT) + BUFFER);
            }
        }
        // Far away: nothing.
        let far = MultiPolygon(vec![Polygon::new(
            LineString::from(vec![(0.0, 0.0), (0.1, 0.0), (0.1, 0.1), (0.0, 0.0)]),
            vec![],
        )]);
        assert!(polygons(&frame, &far).is_none());
    }
}
