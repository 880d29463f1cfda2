//! The `hotspots` layer of the `atlas` tileset: the H3 cells of a window's hot-spot statistics
//! ([`crate::analytics::hotspots`], at `[hotspots]`' resolution and rings — the figures
//! `GET /api/hotspots` answers for the same window), with their Gi* z-score, p- and q-value,
//! `hot` / `cold` and emerging pattern.
//!
//! [`HotCells`] is made once per store version and window (the statistics are the whole
//! city's, never a tile's): each cell's outline in longitude/latitude and projected into Web
//! Mercator, and an R-tree of their boxes ([`Outlines`]: the same for every window whose study
//! cells are the same, so made once and shared), so that a tile only looks its cells up and
//! encodes them. The layer is not filtered by a tile's CQL2 `filter` (see [`super::filter`]): its
//! statistics are of every complaint of the window, as the heat cells are.

use super::atlas::CityIndex;
use super::layers::TileLayer;
use super::mvt::{self, s, u, LayerBuilder, TileFrame};
use crate::analytics::hotspots::Hotspots;
use geo::BoundingRect;
use geo_types::{Geometry, LineString, Point, Polygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use std::sync::Arc;

/// The cells of one window's hot-spot statistics, ready for tiles.
pub struct HotCells {
    /// The statistics, cell by cell (the order of the outlines).
    pub stats: Arc<Hotspots>,
    shapes: Arc<Outlines>,
}

/// The outlines of a set of study cells (in H3 order) and an R-tree of their boxes: they
/// depend on the cells only, not on the window or the counts.
pub struct Outlines {
    cells: Vec<h3o::CellIndex>,
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
    /// Each cell's outline in longitude/latitude.
    outline: Vec<Polygon<f64>>,
    /// The same projected into Web Mercator metres (see `atlas::Mercator`).
    merc: Vec<Polygon<f64>>,
}

/// Where the statistics count each compound's complaints: its inside point (the label point
/// of the city index), by id.
#[must_use]
pub fn places(city: &CityIndex) -> Vec<(i64, Point<f64>)> {
    city.data
        .compounds
        .iter()
        .enumerate()
        .map(|(k, c)| (c.id, city.compound_label(k)))
        .collect()
}

impl HotCells {
    /// The cells of `stats` with their outlines and boxes: those of `like` where its cells
    /// are the same (another window of the same city and resolution), else made.
    #[must_use]
    pub fn new(stats: Arc<Hotspots>, like: Option<&HotCells>) -> HotCells {
        let same = |o: &&Arc<Outlines>| {
            o.cells.len() == stats.cells.len()
                && o.cells.iter().zip(&stats.cells).all(|(a, b)| *a == b.index)
        };
        let shapes = like
            .map(|h| &h.shapes)
            .filter(same)
            .map_or_else(|| Arc::new(Outlines::new(&stats)), Arc::clone);
        HotCells { stats, shapes }
    }
}

impl Outlines {
    fn new(stats: &Hotspots) -> Outlines {
        let outline: Vec<Polygon<f64>> = stats
            .cells
            .iter()
            .map(|c| {
                let ring: Vec<(f64, f64)> = c
                    .index
                    .boundary()
                    .iter()
                    .map(|ll| (ll.lng(), ll.lat()))
                    .collect();
                // LineString::from leaves the ring open; Polygon::new closes it.
                Polygon::new(LineString::from(ring), vec![])
            })
            .collect();
        let grid = super::Grid::WebMercatorQuad;
        let merc = outline
            .iter()
            .map(|p| {
                use geo::MapCoords;
                p.map_coords(|c| {
                    let (x, y) = grid.project(c.x, c.y);
                    geo_types::coord! { x: x, y: y }
                })
            })
            .collect();
        let tree = RTree::bulk_load(
            outline
                .iter()
                .enumerate()
                .filter_map(|(k, p)| {
                    let r = p.bounding_rect()?;
                    let corners = ([r.min().x, r.min().y], [r.max().x, r.max().y]);
                    Some(GeomWithData::new(
                        Rectangle::from_corners(corners.0, corners.1),
                        k,
                    ))
                })
                .collect(),
        );
        Outlines {
            cells: stats.cells.iter().map(|c| c.index).collect(),
            tree,
            outline,
            merc,
        }
    }
}

impl HotCells {
    /// The layer of one tile: the cells whose box meets `q` (longitude/latitude), placed in
    /// `at` — from the projected outlines when `projected` (`at` then takes Web Mercator).
    pub fn layer<'a>(&'a self, q: [f64; 4], at: &TileFrame, projected: bool) -> LayerBuilder<'a> {
        let shapes = &self.shapes;
        let mut found: Vec<usize> = shapes
            .tree
            .locate_in_envelope_intersecting(&AABB::from_corners([q[0], q[1]], [q[2], q[3]]))
            .map(|g| g.data)
            .collect();
        // The statistics' order (the cells' H3 order), whatever the tree's.
        found.sort_unstable();
        let mut l = LayerBuilder::with_capacity(TileLayer::Hotspots.name(), found.len());
        for k in found {
            let shape = if projected {
                &shapes.merc[k]
            } else {
                &shapes.outline[k]
            };
            let Some(t) = mvt::polygons(at, std::slice::from_ref(shape)) else {
                continue;
            };
            let c = &self.stats.cells[k];
            let mut props = vec![("cell", s(&c.cell)), ("complaints", u(c.complaints))];
            // Stored as doubles: the tile carries the statistics' own values.
            for (name, v) in [("gi_z", c.gi_z), ("gi_p", c.gi_p), ("gi_q", c.gi_q)] {
                if let Some(v) = v {
                    props.push((name, mvt::Value::Double(v)));
                }
            }
            if let Some(h) = c.hot {
                props.push(("hot", s(h)));
            }
            props.push(("pattern", s(c.pattern)));
            l.add(None, Geometry::MultiPolygon(t), props);
        }
        l
    }
}
