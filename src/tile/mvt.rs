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
use geo::BoundingRect;
use geo_types::{coord, Coord, LineString, MultiPolygon, Point, Polygon, Rect};
use geozero::mvt::{tile, TileValue};
use geozero::ToMvt;
use std::collections::HashMap;

pub const EXTENT: u32 = 4096;
/// Tile buffer, in tile units, kept around each tile so that strokes join across edges.
pub const BUFFER: f64 = 64.0;

/// How one tile maps longitude/latitude (or, see [`TileFrame::projected`], coordinates
/// already in the grid's CRS) to tile coordinates.
#[derive(Debug, Clone, Copy)]
pub struct TileFrame {
    pub grid: Grid,
    pub datum: Datum,
    pub z: u8,
    pub x: u64,
    pub y: u64,
    xy: Bounds,
    /// Coordinates given to [`TileFrame::to_tile`] are in the grid's CRS already.
    in_grid_crs: bool,
    /// Whether a copy of the geometry projected beforehand may be used (see
    /// [`TileFrame::takes_projected`]).
    projected_copies: bool,
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
            in_grid_crs: false,
            projected_copies: true,
        }
    }

    /// This frame without the use of geometry projected beforehand: everything is projected
    /// from longitude/latitude for this tile (tests compare the two).
    #[must_use]
    pub fn unprojected_only(mut self) -> TileFrame {
        self.projected_copies = false;
        self
    }

    /// Whether geometry projected once into Web Mercator may stand in for longitude/latitude:
    /// WebMercatorQuad tiles in WGS84, the common case. (A datum shift is applied before
    /// projecting, so GCJ-02 and BD-09 tiles cannot use it.)
    pub fn takes_projected(&self) -> bool {
        self.projected_copies && self.grid == Grid::WebMercatorQuad && self.datum == Datum::Wgs84
    }

    /// The frame for coordinates already projected into the grid's CRS.
    #[must_use]
    pub fn projected(mut self) -> TileFrame {
        self.in_grid_crs = true;
        self
    }

    pub fn to_tile(&self, c: Coord<f64>) -> Coord<f64> {
        let (x, y) = if self.in_grid_crs {
            (c.x, c.y)
        } else {
            let (lon, lat) = self.datum.from_wgs84(c.x, c.y);
            self.grid.project(lon, lat)
        };
        let [w, s, e, n] = self.xy;
        coord! { x: (x - w) / (e - w) * f64::from(EXTENT), y: (n - y) / (n - s) * f64::from(EXTENT) }
    }

    /// The tile with its buffer, in the coordinates this frame takes.
    fn input_bbox(&self) -> [f64; 4] {
        if !self.in_grid_crs {
            return self.query_bbox();
        }
        let [w, s, e, n] = self.xy;
        let pad_x = (e - w) * BUFFER / f64::from(EXTENT);
        let pad_y = (n - s) * BUFFER / f64::from(EXTENT);
        [w - pad_x, s - pad_y, e + pad_x, n + pad_y]
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

/// A ring snapped to the integer grid without repeated points, wound as MVT wants it
/// (`exterior`: positive area in tile coordinates; holes negative); None when it collapses.
fn snap_ring(ring: &LineString<f64>, exterior: bool) -> Option<LineString<f64>> {
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
    let twice_area: f64 = pts
        .windows(2)
        .map(|w| w[0].x * w[1].y - w[1].x * w[0].y)
        .sum();
    if twice_area.abs() < 1.0 {
        return None;
    }
    if (twice_area > 0.0) != exterior {
        pts.reverse();
    }
    Some(LineString::from(pts))
}

/// Which sides of the box `b` a point lies beyond (one bit per side).
fn outcode(c: &Coord<f64>, b: [f64; 4]) -> u8 {
    u8::from(c.x < b[0])
        | u8::from(c.x > b[2]) << 1
        | u8::from(c.y < b[1]) << 2
        | u8::from(c.y > b[3]) << 3
}

/// The ring without its closing point, each run of consecutive vertices that lie beyond one
/// same side of the box cut down to its first and last vertex. Clipping gives the same
/// answer: against that side the run's inner vertices make no output, and the straight
/// segment that replaces them lies beyond the side too. A district's 2,000 vertices come
/// down to the few near the tile in one pass.
fn reduce_ring(ring: &[Coord<f64>], b: [f64; 4]) -> Vec<Coord<f64>> {
    let n = if ring.first() == ring.last() && ring.len() > 1 {
        ring.len() - 1
    } else {
        ring.len()
    };
    let mut out: Vec<Coord<f64>> = Vec::new();
    let mut k = 0;
    while k < n {
        let mut side = outcode(&ring[k], b);
        let start = k;
        k += 1;
        while k < n {
            let next = side & outcode(&ring[k], b);
            if next == 0 {
                break;
            }
            side = next;
            k += 1;
        }
        out.push(ring[start]);
        if side != 0 && k - 1 > start {
            out.push(ring[k - 1]);
        }
    }
    out
}

/// Sutherland–Hodgman against an axis-aligned box, ring by ring. Exact inside the box; along
/// its edges it may leave zero-area runs, which is why the box is wider than what is kept
/// (and why only convex shapes are clipped with it to the tile itself).
fn clip_ring(ring: &LineString<f64>, b: [f64; 4]) -> Option<LineString<f64>> {
    sutherland_hodgman(reduce_ring(&ring.0, b), b)
}

fn sutherland_hodgman(mut pts: Vec<Coord<f64>>, b: [f64; 4]) -> Option<LineString<f64>> {
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

fn pre_clip(parts: &[Polygon<f64>], b: [f64; 4]) -> Option<MultiPolygon<f64>> {
    let parts: Vec<Polygon<f64>> = parts
        .iter()
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

/// The largest ring that takes the fast path (clip ring against box, snap, check).
const SMALL_RING: usize = 16;

/// Clips, snaps and winds a small convex polygon without holes (most compounds, every
/// building) ring against box — exact for convex shapes — and checks that snapping left it
/// valid; None when it needs the general path.
#[allow(clippy::option_option)] // outer: whether the fast path applies; inner: the clipped part
fn small_convex(p: &Polygon<f64>, r: Rect<f64>, inside: bool) -> Option<Option<Polygon<f64>>> {
    use geo::{IsConvex, Validation};
    if !p.interiors().is_empty() || p.exterior().0.len() > SMALL_RING || !p.exterior().is_convex() {
        return None;
    }
    let ring = if inside {
        std::borrow::Cow::Borrowed(p.exterior())
    } else {
        match clip_ring(p.exterior(), [r.min().x, r.min().y, r.max().x, r.max().y]) {
            Some(c) => std::borrow::Cow::Owned(c),
            None => return Some(None),
        }
    };
    let Some(ext) = snap_ring(&ring, true) else {
        return Some(None);
    };
    let out = Polygon::new(ext, vec![]);
    (convex_once(&out.exterior().0) || out.is_valid()).then_some(Some(out))
}

/// Whether a closed ring is convex and goes round once: every turn the same way (straight on
/// allowed, turning back not) and the edges' x-components changing sign exactly twice. Its
/// edges' direction then turns monotonically through one full turn, so the ring is simple —
/// OGC-valid without geo's check of every pair of segments (which was a twentieth of building
/// a tile). A ring it refuses still gets that check.
fn convex_once(ring: &[Coord<f64>]) -> bool {
    let n = ring.len().saturating_sub(1);
    if n < 3 || ring.first() != ring.last() {
        return false;
    }
    let edge = |i: usize| ring[i + 1] - ring[i];
    // Which way the ring turns (left: true), once a turn is seen; the sign of the last
    // non-zero x-component (positive: true).
    let mut turn: Option<bool> = None;
    let mut changes = 0;
    let Some(last) = (0..n).rev().map(|i| edge(i).x).find(|x| *x != 0.0) else {
        return false;
    };
    let mut east = last > 0.0;
    for i in 0..n {
        let (a, b) = (edge(i), edge((i + 1) % n));
        let cross = a.x * b.y - a.y * b.x;
        if cross == 0.0 {
            if a.x * b.x + a.y * b.y <= 0.0 {
                return false;
            }
        } else if *turn.get_or_insert(cross > 0.0) != (cross > 0.0) {
            return false;
        }
        if a.x != 0.0 {
            if (a.x > 0.0) != east {
                changes += 1;
            }
            east = a.x > 0.0;
        }
    }
    turn.is_some() && changes == 2
}

/// Snaps polygons to the integer grid and clips them to the tile with its buffer in integer
/// arithmetic (i_overlay, OGC-valid output, exteriors with positive area in tile coordinates):
/// valid polygons whatever snapping does to a detailed boundary at a low zoom.
fn snap_clip(parts: &[Polygon<f64>]) -> Vec<Polygon<f64>> {
    use i_overlay::core::fill_rule::FillRule;
    use i_overlay::core::overlay::{IntOverlayOptions, Overlay};
    use i_overlay::core::overlay_rule::OverlayRule;
    use i_overlay::core::solver::Solver;
    use i_overlay::i_float::int::point::IntPoint;
    // Far outside the tile nothing is kept; clamp there so that integers never overflow.
    let far = f64::from(EXTENT) * 64.0;
    let ring = |r: &LineString<f64>| -> Vec<IntPoint> {
        let n = r.0.len() - usize::from(r.0.len() > 1 && r.0.first() == r.0.last());
        r.0[..n]
            .iter()
            .map(|c| {
                let q = |v: f64| v.round().clamp(-far, far) as i32;
                IntPoint::new(q(c.x), q(c.y))
            })
            .collect()
    };
    let subject: Vec<Vec<Vec<IntPoint>>> = parts
        .iter()
        .map(|p| {
            std::iter::once(p.exterior())
                .chain(p.interiors())
                .map(ring)
                .collect()
        })
        .collect();
    let (lo, hi) = (-(BUFFER as i32), (f64::from(EXTENT) + BUFFER) as i32);
    let clip = vec![vec![vec![
        IntPoint::new(lo, lo),
        IntPoint::new(hi, lo),
        IntPoint::new(hi, hi),
        IntPoint::new(lo, hi),
    ]]];
    let mut options = IntOverlayOptions::ogc();
    // Drop what collapses below half a square tile unit (twice the area is counted).
    options.min_output_area = 1;
    let shapes = Overlay::with_shapes_options(&subject, &clip, options, Solver::default())
        .overlay(OverlayRule::Intersect, FillRule::EvenOdd);
    let close = |c: Vec<IntPoint>| {
        let mut pts: Vec<Coord<f64>> = c
            .iter()
            .map(|p| coord! { x: f64::from(p.x), y: f64::from(p.y) })
            .collect();
        pts.push(pts[0]);
        LineString::from(pts)
    };
    shapes
        .into_iter()
        .filter_map(|shape| {
            let mut rings = shape.into_iter().filter(|c| c.len() >= 3).map(close);
            let ext = rings.next()?;
            Some(Polygon::new(ext, rings.collect()))
        })
        .collect()
}

/// A polygonal geometry in tile coordinates, clipped, snapped and oriented; None when
/// nothing of it is left in the tile.
pub fn polygons(frame: &TileFrame, parts: &[Polygon<f64>]) -> Option<MultiPolygon<f64>> {
    polygons_with(frame, parts, true)
}

fn polygons_with(
    frame: &TileFrame,
    parts: &[Polygon<f64>],
    pre_clipping: bool,
) -> Option<MultiPolygon<f64>> {
    use geo::MapCoords;
    // Large shapes (districts, streets) are first cut down, cheaply and in the input's
    // coordinates, to a box somewhat wider than the tile, so that only their nearby vertices
    // are projected and clipped exactly; the cut edges lie outside the exact clip and vanish
    // with it.
    let cut;
    let parts = if pre_clipping && parts.iter().map(|p| p.exterior().0.len()).sum::<usize>() > 64 {
        let [w, s, e, n] = frame.input_bbox();
        let (dx, dy) = ((e - w) * 0.25, (n - s) * 0.25);
        cut = pre_clip(parts, [w - dx, s - dy, e + dx, n + dy])?;
        &cut.0[..]
    } else {
        parts
    };
    let t = MultiPolygon(
        parts
            .iter()
            .map(|p| p.map_coords(|c| frame.to_tile(c)))
            .collect(),
    );
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
    let mut out = Vec::with_capacity(t.0.len());
    let mut rest = Vec::new();
    for p in t {
        match small_convex(&p, r, inside) {
            Some(done) => out.extend(done),
            None => rest.push(p),
        }
    }
    if !rest.is_empty() {
        out.extend(snap_clip(&rest));
    }
    (!out.is_empty()).then_some(MultiPolygon(out))
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

/// An attribute value of a feature being built; strings are borrowed from the dataset until
/// the layer's value table first needs them.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Str(&'a str),
    String(String),
    Uint(u64),
    Sint(i64),
    Double(f64),
    Bool(bool),
}

/// How a value is found again in a layer's value table (MVT wants each value once).
#[derive(PartialEq, Eq, Hash)]
enum ValueKey<'a> {
    Str(&'a str),
    String(String),
    Uint(u64),
    Sint(i64),
    Double(u64),
    Bool(bool),
}

impl<'a> Value<'a> {
    fn key(&self) -> ValueKey<'a> {
        match self {
            Value::Str(v) => ValueKey::Str(v),
            Value::String(v) => ValueKey::String(v.clone()),
            Value::Uint(v) => ValueKey::Uint(*v),
            Value::Sint(v) => ValueKey::Sint(*v),
            Value::Double(v) => ValueKey::Double(v.to_bits()),
            Value::Bool(v) => ValueKey::Bool(*v),
        }
    }

    fn into_tile(self) -> tile::Value {
        match self {
            Value::Str(v) => TileValue::Str(v.to_string()),
            Value::String(v) => TileValue::Str(v),
            Value::Uint(v) => TileValue::Uint(v),
            Value::Sint(v) => TileValue::Sint(v),
            Value::Double(v) => TileValue::Double(v),
            Value::Bool(v) => TileValue::Bool(v),
        }
        .into()
    }
}

/// One layer of a tile being built: features with geozero's MVT geometry encoding, and the
/// layer's key and value tables, each entry once. (geozero's `TagsBuilder` does the same with
/// owned values and SipHash; this one borrows strings and hashes with foldhash, which took
/// a tenth of the time of building a tile.)
pub struct LayerBuilder<'a> {
    name: &'static str,
    features: Vec<tile::Feature>,
    keys: Vec<&'static str>,
    values: Vec<tile::Value>,
    index: HashMap<ValueKey<'a>, u32, foldhash::fast::RandomState>,
}

impl<'a> LayerBuilder<'a> {
    pub fn new(name: &'static str) -> LayerBuilder<'a> {
        LayerBuilder::with_capacity(name, 0)
    }

    /// A layer expecting about `features` features (its tables are sized for them).
    pub fn with_capacity(name: &'static str, features: usize) -> LayerBuilder<'a> {
        LayerBuilder {
            name,
            features: Vec::with_capacity(features),
            keys: Vec::new(),
            values: Vec::with_capacity(features * 4),
            index: HashMap::with_capacity_and_hasher(
                features * 4,
                foldhash::fast::RandomState::default(),
            ),
        }
    }

    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// The layer's name in tiles.
    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    fn key_index(&mut self, k: &'static str) -> u32 {
        // A layer has a dozen keys at most: a scan beats hashing.
        let at = self.keys.iter().position(|x| *x == k).unwrap_or_else(|| {
            self.keys.push(k);
            self.keys.len() - 1
        });
        at as u32
    }

    fn value_index(&mut self, v: Value<'a>) -> u32 {
        let next = self.values.len() as u32;
        match self.index.entry(v.key()) {
            std::collections::hash_map::Entry::Occupied(e) => *e.get(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(next);
                self.values.push(v.into_tile());
                next
            }
        }
    }

    /// Adds a feature whose geometry is already in tile coordinates.
    pub fn add(
        &mut self,
        id: Option<u64>,
        geom: geo_types::Geometry<f64>,
        props: Vec<(&'static str, Value<'a>)>,
    ) {
        let Ok(mut f) = geom.to_mvt_unscaled() else {
            return;
        };
        f.id = id;
        f.tags.reserve(props.len() * 2);
        for (k, v) in props {
            let ki = self.key_index(k);
            let vi = self.value_index(v);
            f.tags.push(ki);
            f.tags.push(vi);
        }
        self.features.push(f);
    }

    pub fn finish(self) -> Option<tile::Layer> {
        if self.features.is_empty() {
            return None;
        }
        Some(tile::Layer {
            version: 2,
            name: self.name.to_string(),
            features: self.features,
            keys: self.keys.into_iter().map(str::to_string).collect(),
            values: self.values,
            extent: Some(EXTENT),
        })
    }
}

/// One layer encoded as it stands in a tile (`Tile.layers`, field 3, with its length), the
/// bytes prost writes for it. prost works every nested message's length out again at each
/// level it is written from (a feature's three times in a tile); here each feature's packed
/// fields are measured once, the layer's length is their sum, and the bytes are written in
/// one pass. A tile is its layers' encodings one after the other.
#[must_use]
pub fn encode_layer(l: &tile::Layer) -> Vec<u8> {
    let feature_sizes: Vec<[usize; 3]> = l.features.iter().map(feature_size).collect();
    let values: Vec<usize> = l.values.iter().map(value_size).collect();
    let len = delimited(l.name.len())
        + feature_sizes.iter().map(|s| delimited(s[0])).sum::<usize>()
        + l.keys.iter().map(|k| delimited(k.len())).sum::<usize>()
        + values.iter().map(|&v| delimited(v)).sum::<usize>()
        + l.extent.map_or(0, |e| 1 + varint_len(u64::from(e)))
        + 1
        + varint_len(u64::from(l.version));
    let mut out = Vec::with_capacity(delimited(len));
    bytes_field(&mut out, 3, len);
    bytes_field(&mut out, 1, l.name.len());
    out.extend_from_slice(l.name.as_bytes());
    for (f, s) in l.features.iter().zip(&feature_sizes) {
        bytes_field(&mut out, 2, s[0]);
        if let Some(id) = f.id {
            varint(&mut out, 1 << 3);
            varint(&mut out, id);
        }
        packed(&mut out, 2, &f.tags, s[1]);
        if let Some(t) = f.r#type {
            varint(&mut out, 3 << 3);
            // An enumeration is an int32: negative ones take ten bytes, as prost writes them.
            varint(&mut out, i64::from(t) as u64);
        }
        packed(&mut out, 4, &f.geometry, s[2]);
    }
    for k in &l.keys {
        bytes_field(&mut out, 3, k.len());
        out.extend_from_slice(k.as_bytes());
    }
    for (v, &size) in l.values.iter().zip(&values) {
        bytes_field(&mut out, 4, size);
        write_value(&mut out, v);
    }
    if let Some(e) = l.extent {
        varint(&mut out, 5 << 3);
        varint(&mut out, u64::from(e));
    }
    varint(&mut out, 15 << 3);
    varint(&mut out, u64::from(l.version));
    debug_assert_eq!(out.len(), delimited(len));
    out
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// The size of a length-delimited field of `len` bytes (its tag below 16: one byte).
fn delimited(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

fn bytes_field(out: &mut Vec<u8>, tag: u32, len: usize) {
    varint(out, u64::from(tag << 3 | 2));
    varint(out, len as u64);
}

fn packed_len(v: &[u32]) -> usize {
    v.iter().map(|&x| varint_len(u64::from(x))).sum()
}

/// A packed repeated field of `len` bytes of varints; nothing when empty.
fn packed(out: &mut Vec<u8>, tag: u32, v: &[u32], len: usize) {
    if v.is_empty() {
        return;
    }
    bytes_field(out, tag, len);
    for &x in v {
        varint(out, u64::from(x));
    }
}

/// A feature's encoded size, and its tags' and geometry's packed sizes.
fn feature_size(f: &tile::Feature) -> [usize; 3] {
    let (tags, geom) = (packed_len(&f.tags), packed_len(&f.geometry));
    let size = f.id.map_or(0, |id| 1 + varint_len(id))
        + if f.tags.is_empty() {
            0
        } else {
            delimited(tags)
        }
        + f.r#type.map_or(0, |t| 1 + varint_len(i64::from(t) as u64))
        + if f.geometry.is_empty() {
            0
        } else {
            delimited(geom)
        };
    [size, tags, geom]
}

fn value_size(v: &tile::Value) -> usize {
    v.string_value.as_ref().map_or(0, |s| delimited(s.len()))
        + v.float_value.map_or(0, |_| 5)
        + v.double_value.map_or(0, |_| 9)
        + v.int_value.map_or(0, |i| 1 + varint_len(i as u64))
        + v.uint_value.map_or(0, |u| 1 + varint_len(u))
        + v.sint_value.map_or(0, |i| 1 + varint_len(zigzag(i)))
        + v.bool_value.map_or(0, |_| 2)
}

fn zigzag(i: i64) -> u64 {
    ((i << 1) ^ (i >> 63)) as u64
}

fn write_value(out: &mut Vec<u8>, v: &tile::Value) {
    if let Some(s) = &v.string_value {
        bytes_field(out, 1, s.len());
        out.extend_from_slice(s.as_bytes());
    }
    if let Some(f) = v.float_value {
        varint(out, 2 << 3 | 5);
        out.extend_from_slice(&f.to_le_bytes());
    }
    if let Some(d) = v.double_value {
        varint(out, 3 << 3 | 1);
        out.extend_from_slice(&d.to_le_bytes());
    }
    if let Some(i) = v.int_value {
        varint(out, 4 << 3);
        varint(out, i as u64);
    }
    if let Some(u) = v.uint_value {
        varint(out, 5 << 3);
        varint(out, u);
    }
    if let Some(i) = v.sint_value {
        varint(out, 6 << 3);
        varint(out, zigzag(i));
    }
    if let Some(b) = v.bool_value {
        varint(out, 7 << 3);
        varint(out, u64::from(b));
    }
}

pub fn s(v: &str) -> Value<'_> {
    Value::Str(v)
}
pub fn i(v: i64) -> Value<'static> {
    Value::Sint(v)
}
pub fn u(v: u64) -> Value<'static> {
    Value::Uint(v)
}
pub fn f(v: f64) -> Value<'static> {
    Value::Double((v * 100.0).round() / 100.0)
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // tests compare the exact values they expect
mod tests {
    use super::*;
    use geo::{Area, BooleanOps, Winding};

    /// Qingdao's real district boundaries (detailed rings of up to 2,500 vertices).
    fn districts() -> Vec<MultiPolygon<f64>> {
        let fc: geojson::FeatureCollection =
            include_str!("../../assets/qingdao/qingdao_districts_wgs84.geojson")
                .parse::<geojson::GeoJson>()
                .unwrap()
                .try_into()
                .unwrap();
        fc.features
            .iter()
            .filter_map(|f| match f.geometry.clone()?.try_into().ok()? {
                geo_types::Geometry::MultiPolygon(mp) => Some(mp),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn layers_encode_to_the_bytes_prost_writes() {
        use geozero::mvt::{Message, Tile};
        let mut l = LayerBuilder::new("mixed");
        let square = Polygon::new(
            LineString::from(vec![
                (0.0, 0.0),
                (300.0, 0.0),
                (300.0, 300.0),
                (0.0, 300.0),
                (0.0, 0.0),
            ]),
            vec![],
        );
        let props = |k: u64| {
            vec![
                ("name", s("青岛")),
                ("owned", Value::String(format!("n{k}"))),
                ("n", u(k * 1_000_003)),
                ("d", i(-(k as i64) * 77)),
                ("x", f(k as f64 / 3.0)),
                ("b", Value::Bool(k.is_multiple_of(2))),
            ]
        };
        for k in 0..40u64 {
            let id = (k % 3 != 0).then_some(k << 40);
            l.add(id, geo_types::Geometry::Polygon(square.clone()), props(k));
            l.add(
                None,
                geo_types::Geometry::Point(Point::new(k as f64, 9.0)),
                vec![],
            );
        }
        let mut layer = l.finish().unwrap();
        // Values of every kind a tile may hold, whether we write them or not.
        layer.values.push(tile::Value {
            float_value: Some(1.5),
            ..Default::default()
        });
        layer.values.push(tile::Value {
            int_value: Some(-3),
            ..Default::default()
        });
        layer.values.push(tile::Value {
            sint_value: Some(i64::MIN),
            ..Default::default()
        });
        let other = LayerBuilder::new("empty-tags");
        assert!(other.finish().is_none());
        let mut second = layer.clone();
        second.name = "second".into();
        second.extent = None;
        second.features[0].r#type = Some(-1);
        let tile = Tile {
            layers: vec![layer.clone(), second.clone()],
        };
        let ours: Vec<u8> = [encode_layer(&layer), encode_layer(&second)].concat();
        assert_eq!(ours, tile.encode_to_vec());
        assert_eq!(Tile::decode(&ours[..]).unwrap(), tile);
    }

    #[test]
    fn convex_rings_that_go_round_once_are_valid_and_nothing_else_passes() {
        use geo::Validation;
        let ring = |pts: &[(f64, f64)]| {
            let mut v: Vec<Coord<f64>> = pts.iter().map(|&(x, y)| coord! { x: x, y: y }).collect();
            v.push(v[0]);
            v
        };
        let square = ring(&[(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0)]);
        let square_cw = ring(&[(0.0, 0.0), (0.0, 4.0), (4.0, 4.0), (4.0, 0.0)]);
        let with_straight = ring(&[(0.0, 0.0), (2.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0)]);
        let hexagon = ring(&[
            (2.0, 0.0),
            (6.0, 0.0),
            (8.0, 3.0),
            (6.0, 6.0),
            (2.0, 6.0),
            (0.0, 3.0),
        ]);
        for r in [&square, &square_cw, &with_straight, &hexagon] {
            assert!(convex_once(r), "{r:?}");
            assert!(Polygon::new(LineString::from(r.clone()), vec![]).is_valid());
        }
        // A pentagram turns one way all along but goes round twice; a bow tie turns both ways;
        // a spike turns back; a concave ring turns both ways; too few points make no ring.
        let pentagram = ring(&[(0.0, 3.0), (7.0, 3.0), (1.0, -1.0), (3.5, 6.0), (6.0, -1.0)]);
        let bow_tie = ring(&[(0.0, 0.0), (4.0, 4.0), (4.0, 0.0), (0.0, 4.0)]);
        let spike = ring(&[(0.0, 0.0), (4.0, 0.0), (8.0, 0.0), (4.0, 0.0), (4.0, 4.0)]);
        let concave = ring(&[(0.0, 0.0), (4.0, 0.0), (2.0, 1.0), (4.0, 4.0), (0.0, 4.0)]);
        let line = ring(&[(0.0, 0.0), (4.0, 0.0)]);
        for r in [&pentagram, &bow_tie, &spike, &concave, &line] {
            assert!(!convex_once(r), "{r:?}");
        }
        assert!(!Polygon::new(LineString::from(pentagram), vec![]).is_valid());
        assert!(!Polygon::new(LineString::from(bow_tie), vec![]).is_valid());
    }

    #[test]
    fn cutting_large_shapes_down_first_changes_nothing_in_the_tile() {
        let mut compared = 0;
        for mp in districts() {
            let c = mp.bounding_rect().unwrap().center();
            for z in [9u8, 12, 15] {
                let n = f64::from(1u32 << z);
                let x = ((c.x + 180.0) / 360.0 * n) as u64;
                let lat = c.y.to_radians();
                let y = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0
                    * n) as u64;
                let frame = TileFrame::new(Grid::WebMercatorQuad, Datum::Wgs84, z, x, y);
                let fast = polygons_with(&frame, &mp.0, true).map_or(0.0, |m| m.unsigned_area());
                let exact = polygons_with(&frame, &mp.0, false).map_or(0.0, |m| m.unsigned_area());
                assert!((fast - exact).abs() <= 1.0, "z{z}: {fast} vs {exact}");
                if exact > 0.0 {
                    compared += 1;
                }
            }
        }
        assert!(compared >= 20, "only {compared} tiles held a district");
    }

    /// Geometry projected into Web Mercator beforehand (what WGS84 WebMercatorQuad tiles are
    /// built from) makes the tile as exactly as projecting longitude/latitude per tile does:
    /// both within the snapping bound of the exact (floating-point, unsnapped) intersection of
    /// the district with the tile — each vertex moves at most half a unit per axis, so the area
    /// moves by less than 0.71 × the boundary's length — at zooms 9 to 17, in tiles inside and
    /// across each district's edge.
    #[test]
    fn geometry_projected_beforehand_makes_the_same_tile() {
        use geo::MapCoords;
        let perimeter = |m: &MultiPolygon<f64>| -> f64 {
            m.0.iter()
                .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
                .flat_map(|r| r.0.windows(2))
                .map(|w| (w[1].x - w[0].x).hypot(w[1].y - w[0].y))
                .sum()
        };
        let area = |m: &Option<MultiPolygon<f64>>| m.as_ref().map_or(0.0, geo::Area::unsigned_area);
        let mut compared = 0;
        for mp in districts() {
            let merc = mp.map_coords(|c| {
                let (x, y) = Grid::WebMercatorQuad.project(c.x, c.y);
                coord! { x: x, y: y }
            });
            let bb = mp.bounding_rect().unwrap();
            for (lon, lat) in [
                (bb.center().x, bb.center().y),
                (bb.min().x + bb.width() * 0.1, bb.center().y),
                (bb.center().x, bb.max().y - bb.height() * 0.05),
            ] {
                for z in [9u8, 12, 15, 17] {
                    let n = f64::from(1u32 << z);
                    let x = ((lon + 180.0) / 360.0 * n) as u64;
                    let r = lat.to_radians();
                    let y = ((1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0
                        * n) as u64;
                    let frame = TileFrame::new(Grid::WebMercatorQuad, Datum::Wgs84, z, x, y);
                    assert!(frame.takes_projected());
                    assert!(!frame.unprojected_only().takes_projected());
                    let tile = mp.map_coords(|c| frame.to_tile(c));
                    let exact = tile.intersection(&MultiPolygon(vec![clip_rect().to_polygon()]));
                    let bound = 0.71 * perimeter(&exact) + 1.0;
                    let want = exact.unsigned_area();
                    let projected = area(&polygons(&frame.projected(), &merc.0));
                    let per_tile = area(&polygons(&frame, &mp.0));
                    for (how, got) in [("projected", projected), ("per tile", per_tile)] {
                        assert!(
                            (got - want).abs() <= bound,
                            "z{z}/{x}/{y} {how}: {got} vs {want} (bound {bound})"
                        );
                    }
                    if want > 0.0 {
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared >= 60, "only {compared} tiles held a district");
    }

    #[test]
    fn reducing_a_ring_before_clipping_keeps_the_clipped_area() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut kept = 0;
        for mp in districts() {
            let bb = mp.bounding_rect().unwrap();
            for p in &mp.0 {
                let ring = p.exterior();
                for _ in 0..50 {
                    let (w, h) = (
                        bb.width() * rng.gen_range(0.01..0.6),
                        bb.height() * rng.gen_range(0.01..0.6),
                    );
                    let x = rng.gen_range(bb.min().x - w..bb.max().x);
                    let y = rng.gen_range(bb.min().y - h..bb.max().y);
                    let b = [x, y, x + w, y + h];
                    let area = |r: Option<LineString<f64>>| {
                        r.map_or(0.0, |r| Polygon::new(r, vec![]).unsigned_area())
                    };
                    let mut full = ring.0.clone();
                    full.pop();
                    let exact = area(sutherland_hodgman(full, b));
                    let reduced = reduce_ring(&ring.0, b);
                    assert!(reduced.len() < ring.0.len());
                    let fast = area(clip_ring(ring, b));
                    assert!(
                        (fast - exact).abs() <= 1e-12 + exact * 1e-9,
                        "{fast} vs {exact}"
                    );
                    kept += usize::from(exact > 0.0);
                }
            }
        }
        assert!(kept > 100, "only {kept} boxes met a district");
    }

    #[test]
    fn convex_shapes_clip_to_the_same_area_as_the_boolean_intersection() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let r = clip_rect();
        for _ in 0..2000 {
            // A random convex polygon (the hull of random points) near the tile edge.
            let cx = rng.gen_range(-400.0..4500.0);
            let cy = rng.gen_range(-400.0..4500.0);
            let pts: Vec<geo_types::Point<f64>> = (0..8)
                .map(|_| {
                    geo_types::Point::new(
                        cx + rng.gen_range(-300.0..300.0),
                        cy + rng.gen_range(-300.0..300.0),
                    )
                })
                .collect();
            let hull = {
                use geo::ConvexHull;
                geo_types::MultiPoint(pts).convex_hull()
            };
            let b = [r.min().x, r.min().y, r.max().x, r.max().y];
            let fast = clip_ring(hull.exterior(), b)
                .map_or(0.0, |c| Polygon::new(c, vec![]).unsigned_area());
            let exact = MultiPolygon(vec![hull])
                .intersection(&r.to_polygon())
                .unsigned_area();
            // geo's boolean ops snap to a fixed-point grid: agree within a millionth (and a
            // thousandth of a square tile unit for slivers).
            assert!(
                (fast - exact).abs() <= 1e-3 + exact * 1e-6,
                "{fast} vs {exact}"
            );
        }
    }

    #[test]
    fn polygons_are_clipped_snapped_and_wound_for_mvt() {
        let frame = TileFrame::new(Grid::WebMercatorQuad, Datum::Wgs84, 14, 13669, 6353);
        let [w, s, e, n] = frame.query_bbox();
        // A box across the tile's east edge.
        let (cx, cy) = (e - (e - w) * 0.05, f64::midpoint(s, n));
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
        let t = polygons(&frame, &mp.0).unwrap();
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
        assert!(polygons(&frame, &far.0).is_none());
    }
}
