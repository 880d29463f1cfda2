//! Tile matrix sets (tile-grid, definitions in `tiles/`): WebMercatorQuad, WorldCRS84Quad, and
//! CGCS2000Quad — the geographic grid of EPSG:4490 numbered from 1 as Tianditu's "c" basemaps
//! count it (its level n is WorldCRS84Quad's n − 1, tile for tile: CGCS2000 and WGS 84
//! coordinates agree to centimetres, as everywhere in this server).

use ogcapi_types::tiles::TileMatrixSet;
use std::sync::OnceLock;
use tile_grid::{TileMatrixSetOps, Tms, Xyz};

/// The bounds of an empty city (no district, no compound): the Web Mercator world.
pub const WORLD_BOUNDS: [f64; 4] = [-180.0, -85.051_128_78, 180.0, 85.051_128_78];

const WEB_MERCATOR_QUAD: &str = include_str!("../../tiles/WebMercatorQuad.json");
const WORLD_CRS84_QUAD: &str = include_str!("../../tiles/WorldCRS84Quad.json");
const CGCS2000_QUAD: &str = include_str!("../../tiles/CGCS2000Quad.json");
/// WGS 84 semi-major axis, the Web Mercator sphere.
const R: f64 = 6_378_137.0;
/// The deepest zoom we serve.
pub const MAX_ZOOM: u8 = 22;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Grid {
    WebMercatorQuad,
    WorldCrs84Quad,
    /// EPSG:4490 with Tianditu's numbering: addressed here, served as WorldCRS84Quad's tile of
    /// the level below ([`Grid::served_as`]).
    Cgcs2000Quad,
}

struct Loaded {
    def: TileMatrixSet,
    tms: Tms,
}

fn load(json: &str) -> Loaded {
    // The definitions ship with the binary and are checked by tests: a failure is a build bug.
    let def = TileMatrixSet::from_json(json).expect("bundled tile matrix set parses");
    let tms = Tms::try_from(&def).expect("bundled tile matrix set is usable");
    Loaded { def, tms }
}

/// The grid whose tile-grid arithmetic serves `g` (CGCS2000Quad's is WorldCRS84Quad's, one
/// level down: tile-grid takes EPSG:4490's degrees for metres).
/// One zoom's tile arithmetic ([`Grid::tile_step`]): tile-grid's `xy_tile`, operation for
/// operation, with the matrix found once instead of at every point (tile-grid finds it by its
/// identifier, a string made and compared per call: sorting the full city's 277,000 heat places
/// by tile took 3.2 s of a server's first tile).
#[derive(Debug, Clone, Copy)]
pub struct TileStep {
    origin: (f64, f64),
    step: (f64, f64),
    matrix: (u64, u64),
    last: (u64, u64),
}

impl TileStep {
    /// The tile (column, row) holding a point in the grid's CRS, clamped to the matrix.
    pub fn tile(&self, x: f64, y: f64) -> (u64, u64) {
        let column = if x.is_infinite() {
            0.0
        } else {
            ((x - self.origin.0) / self.step.0).floor()
        };
        let row = if y.is_infinite() {
            0.0
        } else {
            ((self.origin.1 - y) / self.step.1).floor()
        };
        // As tile-grid: below the matrix is 0, beyond it its width; then within ours.
        let clamp = |t: f64, width: u64, last: u64| {
            let t = if t < 0.0 { 0 } else { t as u64 };
            t.min(width).min(last)
        };
        (
            clamp(column, self.matrix.0, self.last.0),
            clamp(row, self.matrix.1, self.last.1),
        )
    }
}

fn loaded(g: Grid) -> &'static Loaded {
    static WM: OnceLock<Loaded> = OnceLock::new();
    static C84: OnceLock<Loaded> = OnceLock::new();
    match g {
        Grid::WebMercatorQuad => WM.get_or_init(|| load(WEB_MERCATOR_QUAD)),
        Grid::WorldCrs84Quad | Grid::Cgcs2000Quad => C84.get_or_init(|| load(WORLD_CRS84_QUAD)),
    }
}

fn cgcs2000_definition() -> &'static TileMatrixSet {
    static DEF: OnceLock<TileMatrixSet> = OnceLock::new();
    DEF.get_or_init(|| {
        // Shipped with the binary and checked by tests: a failure is a build bug.
        TileMatrixSet::from_json(CGCS2000_QUAD).expect("bundled tile matrix set parses")
    })
}

/// Bounds in the grid's CRS units: west, south, east, north.
pub type Bounds = [f64; 4];

impl Grid {
    pub const ALL: [Grid; 3] = [
        Grid::WebMercatorQuad,
        Grid::WorldCrs84Quad,
        Grid::Cgcs2000Quad,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Grid::WebMercatorQuad => "WebMercatorQuad",
            Grid::WorldCrs84Quad => "WorldCRS84Quad",
            Grid::Cgcs2000Quad => "CGCS2000Quad",
        }
    }

    /// A grid by its id (any case); Tianditu's name `c` is CGCS2000Quad.
    pub fn parse(s: &str) -> Option<Grid> {
        if s == "c" {
            return Some(Grid::Cgcs2000Quad);
        }
        Grid::ALL
            .into_iter()
            .find(|g| g.id().eq_ignore_ascii_case(s))
    }

    /// The ids, for messages naming what there is.
    pub fn ids() -> String {
        Grid::ALL.map(Grid::id).join(", ")
    }

    /// The lowest level: 1 for CGCS2000Quad (Tianditu's numbering), else 0.
    pub fn first_level(self) -> u8 {
        u8::from(self == Grid::Cgcs2000Quad)
    }

    /// The grid and level whose tile is this grid's tile `z` (same bounds, same bytes):
    /// CGCS2000Quad's level z is WorldCRS84Quad's z − 1; other grids are themselves. Call after
    /// [`Grid::check`].
    pub fn served_as(self, z: u8) -> (Grid, u8) {
        match self {
            Grid::Cgcs2000Quad => (Grid::WorldCrs84Quad, z.saturating_sub(1)),
            g => (g, z),
        }
    }

    /// The OGC definition (for `/ogc/tileMatrixSets/{id}`).
    pub fn definition(self) -> &'static TileMatrixSet {
        match self {
            Grid::Cgcs2000Quad => cgcs2000_definition(),
            g => &loaded(g).def,
        }
    }

    /// Whether z/x/y names a tile of this grid, with a reason when not.
    pub fn check(self, z: u32, x: u64, y: u64) -> Result<(), String> {
        let (first, last) = (
            u32::from(self.first_level()),
            u32::from(MAX_ZOOM + self.first_level()),
        );
        if z > last {
            return Err(format!("zoom {z} is beyond the deepest level {last}"));
        }
        if z < first {
            return Err(format!(
                "{} is numbered from level {first}, as Tianditu's \"c\" matrix set (its level 1 is WorldCRS84Quad's 0)",
                self.id()
            ));
        }
        // The matrix sizes of tiles/*.json (tested against tile-grid's below): tile-grid's own
        // check was 2% of a cached tile.
        let (w, h) = self.matrix_size(z as u8);
        if x >= w || y >= h {
            return Err(format!(
                "tile {z}/{x}/{y} is outside the {} matrix of zoom {z} ({w} × {h} tiles)",
                self.id()
            ));
        }
        Ok(())
    }

    /// The tiles of zoom `z` that a longitude/latitude box (west, south, east, north) meets:
    /// first column, first row, last column, last row (tile-grid's tile of each corner).
    pub fn tile_range(self, z: u8, bbox: [f64; 4]) -> [u64; 4] {
        if self == Grid::Cgcs2000Quad {
            let (g, z) = self.served_as(z);
            return g.tile_range(z, bbox);
        }
        let (x0, y0) = self.project(bbox[0], bbox[3]);
        let (x1, y1) = self.project(bbox[2], bbox[1]);
        let nw = self.xy_tile(x0, y0, z);
        let se = self.xy_tile(x1, y1, z);
        [nw.0, nw.1, se.0, se.1]
    }

    /// The tile of zoom `z` (column, row) holding a point in the grid's CRS: tile-grid's,
    /// clamped to the matrix (CGCS2000Quad: call it with the zoom it is served as).
    pub fn xy_tile(self, x: f64, y: f64, z: u8) -> (u64, u64) {
        self.tile_step(z).tile(x, y)
    }

    /// Zoom `z`'s tile arithmetic, its matrix looked up once, for finding the tiles of many
    /// points ([`TileStep::tile`]; CGCS2000Quad: call it with the zoom it is served as).
    pub fn tile_step(self, z: u8) -> TileStep {
        let tms = &loaded(self).tms;
        let matrix = tms.matrix(z);
        let m = matrix.as_ref();
        let res = tms.resolution(m);
        // The top-left corner of tile (0, 0) is the matrix's origin, axes as tile-grid orders
        // them (x + 0·step is x exactly).
        let origin = tms.xy_ul(&Xyz::new(0, 0, z));
        let size = self.matrix_size(z);
        TileStep {
            origin: (origin.x, origin.y),
            step: (
                res * f64::from(u16::from(m.tile_width)),
                res * f64::from(u16::from(m.tile_height)),
            ),
            matrix: (u64::from(m.matrix_width), u64::from(m.matrix_height)),
            last: (size.0 - 1, size.1 - 1),
        }
    }

    pub fn matrix_size(self, z: u8) -> (u64, u64) {
        match self {
            Grid::WebMercatorQuad => (1 << z, 1 << z),
            Grid::WorldCrs84Quad => (2 << z, 1 << z),
            Grid::Cgcs2000Quad => (1 << z, 1 << z.saturating_sub(1)),
        }
    }

    /// A tile's bounds in the grid's CRS (metres for Web Mercator, degrees for CRS84 and
    /// CGCS2000, longitude first).
    pub fn xy_bounds(self, z: u8, x: u64, y: u64) -> Bounds {
        let (g, z) = self.served_as(z);
        let b = loaded(g).tms.xy_bounds(&Xyz::new(x, y, z));
        [b.left, b.bottom, b.right, b.top]
    }

    /// Longitude/latitude to the grid's CRS.
    pub fn project(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Grid::WebMercatorQuad => {
                let lat = lat.clamp(-85.051_128_78, 85.051_128_78);
                (
                    R * lon.to_radians(),
                    R * (std::f64::consts::FRAC_PI_4 + lat.to_radians() / 2.0)
                        .tan()
                        .ln(),
                )
            }
            Grid::WorldCrs84Quad | Grid::Cgcs2000Quad => (lon, lat),
        }
    }

    /// The grid's CRS to longitude/latitude.
    pub fn unproject(self, x: f64, y: f64) -> (f64, f64) {
        match self {
            Grid::WebMercatorQuad => (
                (x / R).to_degrees(),
                (2.0 * (y / R).exp().atan() - std::f64::consts::FRAC_PI_2).to_degrees(),
            ),
            Grid::WorldCrs84Quad | Grid::Cgcs2000Quad => (x, y),
        }
    }

    /// A tile's bounds in longitude/latitude.
    pub fn lonlat_bounds(self, z: u8, x: u64, y: u64) -> Bounds {
        let [w, s, e, n] = self.xy_bounds(z, x, y);
        let (w, s) = self.unproject(w, s);
        let (e, n) = self.unproject(e, n);
        [w, s, e, n]
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // tests compare the exact values they expect
mod tests {
    use super::*;

    /// A zoom's tile arithmetic found once gives tile-grid's own tile (clamped) for points
    /// inside, on the edges of and outside every grid's matrix, at every zoom.
    #[test]
    fn a_tile_step_gives_tile_grids_tile() {
        for grid in [Grid::WebMercatorQuad, Grid::WorldCrs84Quad] {
            for z in 0..=22u8 {
                let step = grid.tile_step(z);
                let (w, h) = grid.matrix_size(z);
                let mut points = vec![(f64::INFINITY, f64::NEG_INFINITY), (f64::NAN, 0.0)];
                for lon in [
                    -180.0, -179.9, -0.000_001, 0.0, 120.38, 179.99, 180.0, 200.0,
                ] {
                    for lat in [-89.0, -85.06, -1e-9, 0.0, 36.17, 36.062_5, 85.06, 89.0] {
                        points.push(grid.project(lon, lat));
                    }
                }
                // Points on tile edges at this zoom, and a hair either side.
                for (x, y) in [(3u64, 5u64), (w / 2, h / 2), (w - 1, h - 1)] {
                    let [l, b, r, t] = grid.xy_bounds(z, x.min(w - 1), y.min(h - 1));
                    for (px, py) in [(l, t), (r, b), (f64::midpoint(l, r), f64::midpoint(b, t))] {
                        for e in [-1e-9, 0.0, 1e-9] {
                            points.push((px + e, py - e));
                        }
                    }
                }
                for (x, y) in points {
                    let t = loaded(grid).tms.xy_tile(x, y, z);
                    assert_eq!(
                        step.tile(x, y),
                        (t.x.min(w - 1), t.y.min(h - 1)),
                        "{grid:?} z{z} ({x}, {y})"
                    );
                }
            }
        }
    }

    #[test]
    fn grids_agree_with_their_definitions() {
        let b = Grid::WebMercatorQuad.xy_bounds(4, 10, 10);
        assert!(
            (b[0] - 5_009_377.085_697_308).abs() < 1e-3
                && (b[3] + 5_009_377.085_697_308).abs() < 1e-3,
            "{b:?}"
        );
        // CRS84: two tiles at zoom 0, the western one covers -180..0.
        assert_eq!(Grid::WorldCrs84Quad.matrix_size(0), (2, 1));
        let c = Grid::WorldCrs84Quad.xy_bounds(0, 0, 0);
        for (got, want) in c.iter().zip([-180.0, -90.0, 0.0, 90.0]) {
            assert!((got - want).abs() < 1e-9, "{c:?}");
        }
        assert!(Grid::WorldCrs84Quad.check(0, 1, 0).is_ok());
        assert!(Grid::WebMercatorQuad.check(0, 1, 0).is_err());
        assert!(Grid::WebMercatorQuad.check(23, 0, 0).is_err());
        let (x, y) = Grid::WebMercatorQuad.project(120.38, 36.07);
        let (lon, lat) = Grid::WebMercatorQuad.unproject(x, y);
        assert!((lon - 120.38).abs() < 1e-9 && (lat - 36.07).abs() < 1e-9);
    }

    #[test]
    fn tile_ranges_cover_the_box_corners() {
        // Qingdao's box: zoom 0 holds it in one tile of each grid (the eastern CRS84 one).
        let qd = [120.0, 35.5, 121.0, 36.5];
        assert_eq!(Grid::WebMercatorQuad.tile_range(0, qd), [0, 0, 0, 0]);
        assert_eq!(Grid::WorldCrs84Quad.tile_range(0, qd), [1, 0, 1, 0]);
        for g in Grid::ALL {
            for z in [3u8, 9, 14] {
                let [c0, r0, c1, r1] = g.tile_range(z, qd);
                assert!(c0 <= c1 && r0 <= r1, "{g:?} z{z}");
                // Each corner lies in the tile the range starts or ends with.
                let tile = |lon: f64, lat: f64| {
                    let (x, y) = g.project(lon, lat);
                    let b0 = g.xy_bounds(z, 0, 0);
                    let (tw, th) = (b0[2] - b0[0], b0[3] - b0[1]);
                    (
                        ((x - b0[0]) / tw).floor() as u64,
                        ((b0[3] - y) / th).floor() as u64,
                    )
                };
                assert_eq!(tile(qd[0], qd[3]), (c0, r0), "{g:?} z{z}");
                assert_eq!(tile(qd[2], qd[1]), (c1, r1), "{g:?} z{z}");
            }
        }
    }

    /// CGCS2000Quad, as Tianditu's "c" counts it: its level n is WorldCRS84Quad's n − 1 tile for
    /// tile, its definition (tiles/CGCS2000Quad.json: EPSG:4490, latitude first) says the same
    /// matrices one number up, and level 0 does not exist.
    #[test]
    fn cgcs2000_quad_is_tianditus_c_numbering() {
        let def = serde_json::to_value(Grid::Cgcs2000Quad.definition()).unwrap();
        assert_eq!(def["crs"], "http://www.opengis.net/def/crs/EPSG/0/4490");
        let c84 = serde_json::to_value(Grid::WorldCrs84Quad.definition()).unwrap();
        let (ms, m84) = (
            def["tileMatrices"].as_array().unwrap(),
            c84["tileMatrices"].as_array().unwrap(),
        );
        assert_eq!(ms.len(), usize::from(MAX_ZOOM) + 1);
        for (m, n) in ms.iter().zip(m84) {
            let level: u8 = m["id"].as_str().unwrap().parse().unwrap();
            assert_eq!(level, n["id"].as_str().unwrap().parse::<u8>().unwrap() + 1);
            for k in [
                "scaleDenominator",
                "cellSize",
                "matrixWidth",
                "matrixHeight",
            ] {
                assert_eq!(m[k], n[k], "level {level} {k}");
            }
            assert_eq!(m["pointOfOrigin"], serde_json::json!([90.0, -180.0]));
            let (w, h) = Grid::Cgcs2000Quad.matrix_size(level);
            assert_eq!(
                (w, h),
                (
                    m["matrixWidth"].as_u64().unwrap(),
                    m["matrixHeight"].as_u64().unwrap()
                )
            );
            assert!(Grid::Cgcs2000Quad
                .check(u32::from(level), w - 1, h - 1)
                .is_ok());
            assert!(Grid::Cgcs2000Quad.check(u32::from(level), w, 0).is_err());
            assert_eq!(
                Grid::Cgcs2000Quad.xy_bounds(level, w - 1, h - 1),
                Grid::WorldCrs84Quad.xy_bounds(level - 1, w - 1, h - 1)
            );
        }
        // Tianditu's level 1: two tiles of 180°, the eastern one holds Qingdao.
        let b = Grid::Cgcs2000Quad.xy_bounds(1, 1, 0);
        for (got, want) in b.iter().zip([0.0, -90.0, 180.0, 90.0]) {
            assert!((got - want).abs() < 1e-9, "{b:?}");
        }
        let err = Grid::Cgcs2000Quad.check(0, 0, 0).unwrap_err();
        assert!(err.contains("numbered from level 1"), "{err}");
        assert!(Grid::Cgcs2000Quad.check(24, 0, 0).is_err());
        assert_eq!(Grid::parse("c"), Some(Grid::Cgcs2000Quad));
        assert_eq!(Grid::parse("cgcs2000quad"), Some(Grid::Cgcs2000Quad));
        assert_eq!(Grid::Cgcs2000Quad.served_as(14), (Grid::WorldCrs84Quad, 13));
        let qd = [120.0, 35.5, 121.0, 36.5];
        assert_eq!(
            Grid::Cgcs2000Quad.tile_range(10, qd),
            Grid::WorldCrs84Quad.tile_range(9, qd)
        );
    }

    /// `check` uses `matrix_size`; the definitions in tiles/ (through tile-grid) must agree at
    /// every zoom, on both sides of each edge.
    #[test]
    fn matrix_sizes_are_the_definitions() {
        for g in [Grid::WebMercatorQuad, Grid::WorldCrs84Quad] {
            let tms = &loaded(g).tms;
            for z in 0..=MAX_ZOOM {
                let (w, h) = g.matrix_size(z);
                for (x, y, inside) in [
                    (w - 1, h - 1, true),
                    (w, h - 1, false),
                    (w - 1, h, false),
                    (0, 0, true),
                ] {
                    assert_eq!(
                        tms.is_valid(&Xyz::new(x, y, z)),
                        inside,
                        "{g:?} {z}/{x}/{y}"
                    );
                    assert_eq!(
                        g.check(u32::from(z), x, y).is_ok(),
                        inside,
                        "{g:?} {z}/{x}/{y}"
                    );
                }
            }
        }
    }
}
