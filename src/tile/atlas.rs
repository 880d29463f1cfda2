//! The `atlas` tileset: eight layers (PRODUCT.md) built from the city's geography and the
//! figures of one complaint window and grade period (and, for the `hotspots` layer, the
//! window's hot-spot cells, [`super::hotspots::HotCells`]).
//!
//! How a tile is made:
//! 1. [`CityIndex`] (per geography): R-trees of every layer, label points, names and counts;
//! 2. [`Figures`] (per window × period): complaints, density and grade per compound, building
//!    and unit, district and street aggregates, and the heat points (each placed complaint
//!    at its unit, else its building, else its compound, so heat cells add up);
//! 3. [`build`]: features whose box meets the tile, through the pipeline of [`super::mvt`],
//!    with their attributes; empty tiles are `None`; tiles over 500 KB are thinned, finest
//!    layer first, and say so.

use super::filter::{keeps, TileFilter};
use super::hotspots::HotCells;
use super::layers::TileLayer;
use super::mvt::{self, f, i, s, u, LayerBuilder, TileFrame, EXTENT};
use crate::analytics::company_list::ListBook;
use crate::analytics::{
    density, density_class, AreaFigures as Agg, Grade, GradeBook, Stats, Window,
};
use crate::model::alert::AlertRule;
use crate::model::company_list::List;
use crate::model::stats::{Rowed, NO_ROW};
use crate::model::{Category, Dataset, Layer, Quarter};
use geo::{BoundingRect, Centroid, InteriorPoint};
use geo_types::{Geometry, MultiPolygon, Point, Polygon, Rect};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use std::collections::HashMap;
use std::sync::Arc;

type BoxTree = RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>;
type PointTree = RTree<GeomWithData<[f64; 2], usize>>;

/// The largest tile we produce; above it layers are thinned.
pub const MAX_TILE_BYTES: usize = 500 * 1024;
const HEAT_CELLS: u32 = 16;

fn boxes<T>(items: &[T], rect: impl Fn(&T) -> Option<Rect<f64>>) -> BoxTree {
    RTree::bulk_load(
        items
            .iter()
            .enumerate()
            .filter_map(|(k, it)| {
                let r = rect(it)?;
                Some(GeomWithData::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    k,
                ))
            })
            .collect(),
    )
}

fn label_point(mp: &MultiPolygon<f64>) -> Point<f64> {
    // The biggest part's interior point: inside the shape, and a single one per feature.
    let biggest = mp.0.iter().max_by(|a, b| {
        use geo::Area;
        a.unsigned_area().total_cmp(&b.unsigned_area())
    });
    biggest
        .and_then(InteriorPoint::interior_point)
        .or_else(|| mp.centroid())
        .unwrap_or_else(|| Point::new(0.0, 0.0))
}

/// The geography as tiles read it.
pub struct CityIndex {
    pub data: Arc<Dataset>,
    /// The city's extent and the map's default centre, made once with the index
    /// ([`Dataset::extent`], [`Dataset::centre`]).
    extent: Option<[f64; 4]>,
    pub centre: Option<[f64; 2]>,
    districts: BoxTree,
    streets: BoxTree,
    compounds: BoxTree,
    buildings: BoxTree,
    units: PointTree,
    district_label: Vec<Point<f64>>,
    street_label: Vec<Point<f64>>,
    compound_label: Vec<Point<f64>>,
    buildings_of: HashMap<i64, Vec<usize>>,
    units_of: HashMap<i64, Vec<usize>>,
    compound_initials: Vec<String>,
    /// Positions by id and code, shared with the figures of every window.
    pos: Arc<Positions>,
    /// Per compound (by position): its district, street and company (by position), and how
    /// many buildings it has — what each tile would otherwise look up by id or code.
    compound_links: Vec<Links>,
    /// Per street (by position): its district's position.
    street_district: Vec<Option<usize>>,
    /// Per building (by position): how many units it has.
    building_units: Vec<u64>,
    /// Where the heat layer places complaints, shared with the figures of every window.
    spots: Arc<HeatSpots>,
    /// The tile geometry projected into Web Mercator once.
    merc: Mercator,
}

/// The city's tile geometry in Web Mercator metres, projected once when the index is made
/// (by position, as in the dataset): WebMercatorQuad tiles in WGS84 — the common case — then
/// only scale it. Projecting every vertex for every tile (a tangent and a logarithm each) was
/// about 12% of building an uncached tile.
struct Mercator {
    districts: Vec<MultiPolygon<f64>>,
    streets: Vec<MultiPolygon<f64>>,
    compounds: Vec<MultiPolygon<f64>>,
    buildings: Vec<Polygon<f64>>,
    units: Vec<Point<f64>>,
    district_label: Vec<Point<f64>>,
    street_label: Vec<Point<f64>>,
    compound_label: Vec<Point<f64>>,
}

impl Mercator {
    fn new(data: &Dataset, labels: [&[Point<f64>]; 3]) -> Mercator {
        use geo::MapCoords;
        let grid = super::Grid::WebMercatorQuad;
        let p = |c: geo_types::Coord<f64>| {
            let (x, y) = grid.project(c.x, c.y);
            geo_types::coord! { x: x, y: y }
        };
        let points = |v: &[Point<f64>]| v.iter().map(|q| Point(p(q.0))).collect();
        Mercator {
            districts: data
                .districts
                .iter()
                .map(|d| d.geom.map_coords(p))
                .collect(),
            streets: data.streets.iter().map(|d| d.geom.map_coords(p)).collect(),
            compounds: data
                .compounds
                .iter()
                .map(|d| d.geom.map_coords(p))
                .collect(),
            buildings: data
                .buildings
                .iter()
                .map(|d| d.geom.map_coords(p))
                .collect(),
            units: data.units.iter().map(|d| Point(p(d.geom.0))).collect(),
            district_label: points(labels[0]),
            street_label: points(labels[1]),
            compound_label: points(labels[2]),
        }
    }
}

/// The geometry one tile is built from, by dataset position: the dataset's own
/// longitude/latitude, or the projected copy when the tile's frame takes it.
#[derive(Clone, Copy)]
struct Shapes<'a> {
    city: &'a CityIndex,
    merc: Option<&'a Mercator>,
}

impl<'a> Shapes<'a> {
    fn district(self, k: usize) -> &'a [Polygon<f64>] {
        self.merc
            .map_or(&self.city.data.districts[k].geom.0, |m| &m.districts[k].0)
    }
    fn street(self, k: usize) -> &'a [Polygon<f64>] {
        self.merc
            .map_or(&self.city.data.streets[k].geom.0, |m| &m.streets[k].0)
    }
    fn compound(self, k: usize) -> &'a [Polygon<f64>] {
        self.merc
            .map_or(&self.city.data.compounds[k].geom.0, |m| &m.compounds[k].0)
    }
    fn building(self, k: usize) -> &'a Polygon<f64> {
        self.merc
            .map_or(&self.city.data.buildings[k].geom, |m| &m.buildings[k])
    }
    fn unit(self, k: usize) -> Point<f64> {
        self.merc
            .map_or(self.city.data.units[k].geom, |m| m.units[k])
    }
    fn district_label(self, k: usize) -> Point<f64> {
        self.merc
            .map_or(self.city.district_label[k], |m| m.district_label[k])
    }
    fn street_label(self, k: usize) -> Point<f64> {
        self.merc
            .map_or(self.city.street_label[k], |m| m.street_label[k])
    }
    fn compound_label(self, k: usize) -> Point<f64> {
        self.merc
            .map_or(self.city.compound_label[k], |m| m.compound_label[k])
    }
}

/// Where a feature of each layer sits in the dataset's vectors, by id or code.
#[derive(Default)]
struct Positions {
    district: HashMap<String, usize>,
    street: HashMap<String, usize>,
    compound: HashMap<i64, usize>,
    building: HashMap<i64, usize>,
    unit: HashMap<i64, usize>,
    company: HashMap<i64, usize>,
}

#[derive(Clone, Copy)]
struct Links {
    district: Option<usize>,
    street: Option<usize>,
    company: Option<usize>,
    buildings: u64,
}

/// The places the heat layer puts complaints, made once per geography (a window only weighs
/// them): each unit of a compound's buildings, each of those buildings at its centroid (what
/// its units do not hold), each compound at its label point (what its buildings do not hold),
/// so heat cells add up. Slots number them in that order: units, buildings, compounds, each
/// by dataset position.
struct HeatSpots {
    /// Each place with its slot and its households (units only).
    tree: RTree<GeomWithData<[f64; 2], (u32, i64)>>,
    /// The same places in Web Mercator metres, in the order of their z20 quadkeys: a
    /// WebMercatorQuad tile's places are one run of it, found by two binary searches
    /// ([`HeatSpots::in_tile`]) instead of an R-tree walk, and need no projecting.
    quad: Vec<QuadSpot>,
    /// Slots taken by units, then by buildings, then by compounds.
    units: usize,
    buildings: usize,
    compounds: usize,
    /// Per building (by position): its compound's position.
    building_compound: Vec<Option<usize>>,
    /// Per unit (by position): its building's position.
    unit_building: Vec<Option<usize>>,
}

impl HeatSpots {
    fn new(
        data: &Dataset,
        (pos, of): (&Positions, [&HashMap<i64, Vec<usize>>; 2]),
        labels: &[Point<f64>],
    ) -> HeatSpots {
        let (buildings_of, units_of) = (of[0], of[1]);
        let (nu, nb) = (data.units.len(), data.buildings.len());
        let slot = |k: usize| u32::try_from(k).unwrap_or(u32::MAX);
        let mut spots = Vec::new();
        for (k, c) in data.compounds.iter().enumerate() {
            for &bk in buildings_of.get(&c.id).map_or(&[][..], Vec::as_slice) {
                let b = &data.buildings[bk];
                for &uk in units_of.get(&b.id).map_or(&[][..], Vec::as_slice) {
                    let u = &data.units[uk];
                    let at = [u.geom.x(), u.geom.y()];
                    spots.push(GeomWithData::new(at, (slot(uk), i64::from(u.households))));
                }
                let p = b.geom.centroid().unwrap_or(labels[k]);
                spots.push(GeomWithData::new([p.x(), p.y()], (slot(nu + bk), 0)));
            }
            let p = labels[k];
            spots.push(GeomWithData::new([p.x(), p.y()], (slot(nu + nb + k), 0)));
        }
        let (tree, quad) = spot_index(spots);
        HeatSpots {
            tree,
            quad,
            units: nu,
            buildings: nb,
            compounds: data.compounds.len(),
            building_compound: data
                .buildings
                .iter()
                .map(|b| pos.compound.get(&b.compound_id).copied())
                .collect(),
            unit_building: data
                .units
                .iter()
                .map(|u| pos.building.get(&u.building_id).copied())
                .collect(),
        }
    }
}

/// The heat places' R-tree (longitude/latitude) and their projected copy in quadkey order.
fn spot_index(spots: Vec<GeomWithData<[f64; 2], (u32, i64)>>) -> SpotIndex {
    let mut quad: Vec<QuadSpot> = spots.iter().map(QuadSpot::of).collect();
    quad.sort_by_cached_key(|q| quadkey(q.at));
    (RTree::bulk_load(spots), quad)
}

type SpotIndex = (RTree<GeomWithData<[f64; 2], (u32, i64)>>, Vec<QuadSpot>);

impl QuadSpot {
    fn of(g: &GeomWithData<[f64; 2], (u32, i64)>) -> QuadSpot {
        let (x, y) = super::Grid::WebMercatorQuad.project(g.geom()[0], g.geom()[1]);
        QuadSpot {
            at: [x, y],
            slot: g.data.0,
            households: i32::try_from(g.data.1).unwrap_or(i32::MAX),
        }
    }
}

/// A heat place in Web Mercator metres, with its slot and households (see [`HeatSpots`]).
struct QuadSpot {
    at: [f64; 2],
    slot: u32,
    households: i32,
}

/// The zoom of the quadkeys [`HeatSpots::quad`] is ordered by: any tile up to it is one run.
const QUAD_ZOOM: u8 = 20;

/// The Morton code (quadkey as a number) at zoom [`QUAD_ZOOM`] of the WebMercatorQuad tile holding a
/// point in Web Mercator metres (tile-grid's tile; beyond the grid's edge, its edge tiles).
fn quadkey(at: [f64; 2]) -> u64 {
    static STEP: std::sync::OnceLock<super::grid::TileStep> = std::sync::OnceLock::new();
    let step = STEP.get_or_init(|| super::Grid::WebMercatorQuad.tile_step(QUAD_ZOOM));
    let (x, y) = step.tile(at[0], at[1]);
    morton(x, y)
}

/// Bits of `x` and `y` interleaved, `x` in the even ones.
fn morton(x: u64, y: u64) -> u64 {
    let spread = |mut v: u64| {
        v &= 0xFFFF_FFFF;
        v = (v | (v << 16)) & 0x0000_FFFF_0000_FFFF;
        v = (v | (v << 8)) & 0x00FF_00FF_00FF_00FF;
        v = (v | (v << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
        v = (v | (v << 2)) & 0x3333_3333_3333_3333;
        (v | (v << 1)) & 0x5555_5555_5555_5555
    };
    spread(x) | (spread(y) << 1)
}

impl HeatSpots {
    /// The places that may lie in WebMercatorQuad tile `frame` (WGS84, zoom ≤ [`QUAD_ZOOM`]),
    /// projected: the tile's run of [`HeatSpots::quad`], and apart the few places within a hair
    /// of its edges whose quadkey names a neighbouring tile — a place's z20 tile and the tile's own
    /// arithmetic at its zoom may round a place on an edge to different sides (the tile decides,
    /// with [`mvt::point`], which are in).
    fn in_tile(&self, frame: &TileFrame) -> (&[QuadSpot], Vec<QuadSpot>) {
        let shift = 2 * u32::from(QUAD_ZOOM - frame.z);
        let m = morton(frame.x, frame.y);
        let (lo, hi) = (m << shift, (m + 1) << shift);
        let key = |q: &QuadSpot| quadkey(q.at);
        let a = self.quad.partition_point(|q| key(q) < lo);
        let b = a + self.quad[a..].partition_point(|q| key(q) < hi);
        // Strips a ten-millionth of a degree (about a centimetre) wide along the four edges:
        // far wider than floating rounding at Web Mercator's scale (nanometres).
        const HAIR: f64 = 1e-7;
        let [w, s, e, n] = frame.grid.lonlat_bounds(frame.z, frame.x, frame.y);
        let strips = [
            [w - HAIR, s - HAIR, w + HAIR, n + HAIR],
            [e - HAIR, s - HAIR, e + HAIR, n + HAIR],
            [w - HAIR, s - HAIR, e + HAIR, s + HAIR],
            [w - HAIR, n - HAIR, e + HAIR, n + HAIR],
        ];
        let mut beside: Vec<QuadSpot> = Vec::new();
        for strip in strips {
            for g in query(&self.tree, strip) {
                let q = QuadSpot::of(g);
                if !(lo..hi).contains(&key(&q)) && !beside.iter().any(|b| b.slot == q.slot) {
                    beside.push(q);
                }
            }
        }
        (&self.quad[a..b], beside)
    }
}

impl Positions {
    fn of(data: &Dataset) -> Positions {
        Positions {
            district: positions(&data.districts, |d| d.code.clone()),
            street: positions(&data.streets, |s| s.code.clone()),
            compound: positions(&data.compounds, |c| c.id),
            building: positions(&data.buildings, |b| b.id),
            unit: positions(&data.units, |u| u.id),
            company: positions(&data.companies, |c| c.id),
        }
    }
}

fn positions<T, K: std::hash::Hash + Eq>(items: &[T], key: impl Fn(&T) -> K) -> HashMap<K, usize> {
    items.iter().enumerate().map(|(k, x)| (key(x), k)).collect()
}

impl CityIndex {
    pub fn new(data: Arc<Dataset>) -> CityIndex {
        let mut buildings_of: HashMap<i64, Vec<usize>> = HashMap::new();
        for (k, b) in data.buildings.iter().enumerate() {
            buildings_of.entry(b.compound_id).or_default().push(k);
        }
        let mut units_of: HashMap<i64, Vec<usize>> = HashMap::new();
        for (k, x) in data.units.iter().enumerate() {
            units_of.entry(x.building_id).or_default().push(k);
        }
        let pos = Positions::of(&data);
        let compound_links = data
            .compounds
            .iter()
            .map(|c| Links {
                district: pos.district.get(&c.district_code).copied(),
                street: pos.street.get(&c.street_code).copied(),
                company: pos.company.get(&c.company_id).copied(),
                buildings: buildings_of.get(&c.id).map_or(0, Vec::len) as u64,
            })
            .collect();
        let street_district = data
            .streets
            .iter()
            .map(|s| pos.district.get(&s.district_code).copied())
            .collect();
        let building_units = data
            .buildings
            .iter()
            .map(|b| units_of.get(&b.id).map_or(0, Vec::len) as u64)
            .collect();
        let district_label: Vec<Point<f64>> = data
            .districts
            .iter()
            .map(|d| label_point(&d.geom))
            .collect();
        let street_label: Vec<Point<f64>> =
            data.streets.iter().map(|d| label_point(&d.geom)).collect();
        let compound_label: Vec<Point<f64>> = data
            .compounds
            .iter()
            .map(|d| label_point(&d.geom))
            .collect();
        let merc = Mercator::new(&data, [&district_label, &street_label, &compound_label]);
        let spots = Arc::new(HeatSpots::new(
            &data,
            (&pos, [&buildings_of, &units_of]),
            &compound_label,
        ));
        CityIndex {
            spots,
            extent: data.extent(),
            centre: data.centre(),
            merc,
            pos: Arc::new(pos),
            compound_links,
            street_district,
            building_units,
            districts: boxes(&data.districts, |d| d.geom.bounding_rect()),
            streets: boxes(&data.streets, |d| d.geom.bounding_rect()),
            compounds: boxes(&data.compounds, |d| d.geom.bounding_rect()),
            buildings: boxes(&data.buildings, |d| d.geom.bounding_rect()),
            units: RTree::bulk_load(
                data.units
                    .iter()
                    .enumerate()
                    .map(|(k, x)| GeomWithData::new([x.geom.x(), x.geom.y()], k))
                    .collect(),
            ),
            district_label,
            street_label,
            compound_label,
            buildings_of,
            units_of,
            compound_initials: data
                .compounds
                .iter()
                .map(|c| crate::ingest::geocode::initials(&c.name))
                .collect(),
            data,
        }
    }

    /// A compound by id, with its position in `data.compounds`.
    pub fn compound(&self, id: i64) -> Option<(usize, &crate::model::Compound)> {
        let k = *self.pos.compound.get(&id)?;
        Some((k, &self.data.compounds[k]))
    }

    /// A building by id.
    pub fn building(&self, id: i64) -> Option<&crate::model::Building> {
        self.pos.building.get(&id).map(|k| &self.data.buildings[*k])
    }

    /// A unit by id.
    pub fn unit(&self, id: i64) -> Option<&crate::model::Unit> {
        self.pos.unit.get(&id).map(|k| &self.data.units[*k])
    }

    /// Whether a compound (by position) answers a name search: its name or an alias holds
    /// `q`, or `q` (latin letters) is within its name's pinyin initials (`jqgy` → 金秋桂园).
    pub fn compound_named(&self, k: usize, q: &str) -> bool {
        let c = &self.data.compounds[k];
        if c.name.contains(q) || c.aliases.iter().any(|a| a.contains(q)) {
            return true;
        }
        let q = q.to_lowercase();
        q.chars().all(|ch| ch.is_ascii_alphanumeric()) && self.compound_initials[k].contains(&q)
    }

    /// How well a compound's name answers a search (lower is better): the name itself, a
    /// name beginning with `q`, holding it, an alias holding it, the pinyin initials, initials
    /// beginning with `q`, anything else.
    pub fn compound_rank(&self, k: usize, q: &str) -> u8 {
        let c = &self.data.compounds[k];
        let ql = q.to_lowercase();
        let initials = &self.compound_initials[k];
        if c.name == q {
            0
        } else if c.name.starts_with(q) {
            1
        } else if c.name.contains(q) {
            2
        } else if c.aliases.iter().any(|a| a.contains(q)) {
            3
        } else if *initials == ql {
            4
        } else if initials.starts_with(&ql) {
            5
        } else {
            6
        }
    }

    /// The point inside a compound (by position) where its label and route stop go.
    pub fn compound_label(&self, k: usize) -> Point<f64> {
        self.compound_label[k]
    }

    /// The label point of a district or street (by position).
    pub fn area_label(&self, layer: Layer, k: usize) -> Point<f64> {
        match layer {
            Layer::Districts => self.district_label[k],
            _ => self.street_label[k],
        }
    }

    pub fn district_name(&self, code: &str) -> &str {
        let d = &self.data.districts;
        self.pos.district.get(code).map_or("", |&k| &d[k].name)
    }

    pub fn street_name(&self, code: &str) -> &str {
        let s = &self.data.streets;
        self.pos.street.get(code).map_or("", |&k| &s[k].name)
    }

    pub fn company_name(&self, id: i64) -> &str {
        let c = &self.data.companies;
        self.pos.company.get(&id).map_or("", |&k| &c[k].name)
    }

    /// Positions in `data.buildings` of a compound's buildings.
    pub fn buildings_of(&self, compound_id: i64) -> &[usize] {
        self.buildings_of
            .get(&compound_id)
            .map_or(&[], Vec::as_slice)
    }

    /// Positions in `data.units` of a building's units.
    pub fn units_of(&self, building_id: i64) -> &[usize] {
        self.units_of.get(&building_id).map_or(&[], Vec::as_slice)
    }

    /// Positions (in the layer's vector of `data`, ascending) of the features whose bounding
    /// box meets `b`.
    pub fn in_box(&self, layer: Layer, b: [f64; 4]) -> Vec<usize> {
        let mut out: Vec<usize> = match layer {
            Layer::Districts => query(&self.districts, b).map(|g| g.data).collect(),
            Layer::Streets => query(&self.streets, b).map(|g| g.data).collect(),
            Layer::Compounds => query(&self.compounds, b).map(|g| g.data).collect(),
            Layer::Buildings => query(&self.buildings, b).map(|g| g.data).collect(),
            Layer::Units => query(&self.units, b).map(|g| g.data).collect(),
            Layer::Companies => Vec::new(),
        };
        out.sort_unstable();
        out
    }

    /// The extent of the city in longitude/latitude.
    pub fn bounds(&self) -> Option<[f64; 4]> {
        self.extent
    }

    /// The bounding boxes of the districts these compounds lie in (what a change to their
    /// complaints touches: district and street figures, and the grade ranking).
    pub fn district_boxes_of(&self, compounds: &[i64]) -> Vec<[f64; 4]> {
        let codes: std::collections::HashSet<&str> = self
            .data
            .compounds
            .iter()
            .filter(|c| compounds.contains(&c.id))
            .map(|c| c.district_code.as_str())
            .collect();
        self.data
            .districts
            .iter()
            .filter(|d| codes.contains(d.code.as_str()))
            .filter_map(|d| d.geom.bounding_rect())
            .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y])
            .collect()
    }
}

/// Where each feature of the city (by dataset position) has its row in a store's statistics
/// tables ([`NO_ROW`] for none): made once per store version, so that a window's figures
/// look nothing up by id.
pub struct Rows {
    compound: Vec<u32>,
    building: Vec<u32>,
    unit: Vec<u32>,
    /// Compounds' rows in the handling table.
    handling: Vec<u32>,
}

impl Rows {
    pub fn new(city: &CityIndex, stats: &Stats) -> Rows {
        let d = &city.data;
        Rows {
            compound: d
                .compounds
                .iter()
                .map(|c| stats.compound.row_of(c.id))
                .collect(),
            building: d
                .buildings
                .iter()
                .map(|b| stats.building.row_of(b.id))
                .collect(),
            unit: d.units.iter().map(|u| stats.unit.row_of(u.id)).collect(),
            handling: d
                .compounds
                .iter()
                .map(|c| stats.handling.row_of(c.id))
                .collect(),
        }
    }
}

/// A table's totals (by row) read by dataset position, each as `as_kept` keeps it.
fn by_position<T: Default>(rows: &[u32], totals: &[u64], as_kept: impl Fn(u64) -> T) -> Vec<T> {
    rows.iter()
        .map(|&r| {
            if r == NO_ROW {
                T::default()
            } else {
                as_kept(totals[r as usize])
            }
        })
        .collect()
}

/// A place's complaints in a window as a kept window holds them: `u32` (saturating), half the
/// memory of the per-place figures.
fn narrow(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// The figures of one complaint window and grade period, by position in the dataset's
/// vectors (tiles read them by position; the id and code accessors go through [`Positions`]).
pub struct Figures {
    pub window: Window,
    pub period: Option<Quarter>,
    pos: Arc<Positions>,
    compound: Vec<(u64, Option<Grade>)>,
    /// Per compound, complaints closed, rated and rated satisfied.
    handled: Vec<[u64; 3]>,
    building: Vec<u32>,
    unit: Vec<u32>,
    district: Vec<Agg>,
    street: Vec<Agg>,
    /// The city's heat places, and the window's complaints at each (by slot).
    spots: Arc<HeatSpots>,
    heat: Vec<u32>,
    /// Per compound (by position): the category of its strongest early-warning alert in the
    /// window's last month, if any ([`Figures::with_alerts`]).
    alert: Vec<Option<Category>>,
    /// Per compound (by position): its company's list standing in the period
    /// ([`Figures::with_company_lists`]; empty without a period).
    company_list: Vec<List>,
    /// Per compound (by position): its repeat complaints in the window
    /// ([`Figures::with_repeats`]).
    repeats: Vec<u64>,
}

impl Figures {
    /// The figures of a window: each feature's total is one subtraction of running totals
    /// ([`Stats`]), and the heat places are the city's, only weighed here — no tree is built
    /// per window.
    pub fn new(
        city: &CityIndex,
        (stats, rows): (&Stats, &Rows),
        book: &GradeBook,
        window: Window,
        period: Option<Quarter>,
    ) -> Figures {
        let d = &city.data;
        let months = stats.range(window);
        let building = by_position(
            &rows.building,
            &stats.building.window(months.clone()),
            narrow,
        );
        let unit = by_position(&rows.unit, &stats.unit.window(months.clone()), narrow);
        let handling = stats.handling.window_each(months.clone());
        let handled: Vec<[u64; 3]> = rows
            .handling
            .iter()
            .map(|&r| handling.get(r as usize).copied().unwrap_or_default())
            .collect();
        let compound: Vec<(u64, Option<Grade>)> =
            by_position(&rows.compound, &stats.compound.window(months), |n| n)
                .into_iter()
                .zip(&d.compounds)
                .map(|(n, c)| (n, period.and_then(|q| book.get(q, c.id)).map(|r| r.grade)))
                .collect();
        let mut district = vec![Agg::default(); d.districts.len()];
        let mut street = vec![Agg::default(); d.streets.len()];
        for (k, c) in d.compounds.iter().enumerate() {
            let (n, grade) = compound[k];
            let links = city.compound_links[k];
            for agg in [
                links.district.map(|x| &mut district[x]),
                links.street.map(|x| &mut street[x]),
            ]
            .into_iter()
            .flatten()
            {
                agg.add(i64::from(c.households), n, grade, handled[k]);
            }
        }
        let heat = Self::heat_of(city, &compound, &building, &unit);
        Figures {
            window,
            period,
            pos: Arc::clone(&city.pos),
            compound,
            handled,
            building,
            unit,
            district,
            street,
            spots: Arc::clone(&city.spots),
            heat,
            alert: Vec::new(),
            company_list: Vec::new(),
            repeats: Vec::new(),
        }
    }

    /// The same figures with each compound's repeat complaints in the window (under `rule`:
    /// the same place and category again within its days).
    #[must_use]
    pub fn with_repeats(
        mut self,
        city: &CityIndex,
        stats: &Stats,
        rule: &crate::model::repeat::RepeatRule,
    ) -> Figures {
        let r = stats.range(self.window);
        self.repeats = city
            .data
            .compounds
            .iter()
            .map(|c| stats.repeats.count(c.id, &r, None, rule))
            .collect();
        self
    }

    /// A compound's repeat complaints in the window.
    pub fn repeats(&self, id: i64) -> u64 {
        self.pos
            .compound
            .get(&id)
            .and_then(|&k| self.repeats.get(k).copied())
            .unwrap_or(0)
    }

    /// The same figures with each compound's early-warning alert of the window's last month
    /// (`analytics::alerts`, under `rule`).
    #[must_use]
    pub fn with_alerts(mut self, city: &CityIndex, stats: &Stats, rule: &AlertRule) -> Figures {
        let ids: Vec<i64> = city.data.compounds.iter().map(|c| c.id).collect();
        self.alert = crate::analytics::alerts::flags(stats, &ids, self.window.to, rule);
        self
    }

    /// The same figures with each compound's company's list standing in the period.
    #[must_use]
    pub fn with_company_lists(mut self, city: &CityIndex, lists: &ListBook) -> Figures {
        if let Some(q) = self.period {
            self.company_list = city
                .data
                .compounds
                .iter()
                .map(|c| lists.get(q, c.company_id).map_or(List::None, |s| s.list))
                .collect();
        }
        self
    }

    /// A compound's company's list standing in the period (`None` without a period).
    pub fn company_list(&self, id: i64) -> Option<List> {
        self.pos
            .compound
            .get(&id)
            .and_then(|&k| self.company_list.get(k).copied())
    }

    /// A compound's early-warning alert of the window's last month: the category of its
    /// smallest p-value, if any.
    pub fn alert(&self, id: i64) -> Option<Category> {
        self.pos
            .compound
            .get(&id)
            .and_then(|&k| self.alert.get(k).copied().flatten())
    }

    /// The window's complaints at each heat place: a unit's own, what a building's units do
    /// not hold, what a compound's buildings do not hold (complaints placed on it only).
    fn heat_of(
        city: &CityIndex,
        compound: &[(u64, Option<Grade>)],
        building: &[u32],
        unit: &[u32],
    ) -> Vec<u32> {
        let sp = &city.spots;
        let mut on_units = vec![0u64; building.len()];
        for (n, b) in unit.iter().zip(&sp.unit_building) {
            if let Some(b) = b {
                on_units[*b] += u64::from(*n);
            }
        }
        let mut on_buildings = vec![0u64; compound.len()];
        for (n, c) in building.iter().zip(&sp.building_compound) {
            if let Some(c) = c {
                on_buildings[*c] += u64::from(*n);
            }
        }
        let mut heat = Vec::with_capacity(sp.units + sp.buildings + sp.compounds);
        heat.extend_from_slice(unit);
        heat.extend(
            building
                .iter()
                .zip(on_units)
                .map(|(n, on)| narrow(u64::from(*n).saturating_sub(on))),
        );
        heat.extend(
            compound
                .iter()
                .zip(on_buildings)
                .map(|((n, _), on)| narrow(n.saturating_sub(on))),
        );
        heat
    }

    /// Complaints in the window and grade in the period of a compound.
    pub fn compound(&self, id: i64) -> (u64, Option<Grade>) {
        self.pos
            .compound
            .get(&id)
            .map_or((0, None), |&k| self.compound[k])
    }

    /// A compound's resolution and satisfaction rates in the window (`None`: nothing
    /// received, or nothing rated).
    pub fn rates(&self, id: i64) -> (Option<f64>, Option<f64>) {
        self.pos
            .compound
            .get(&id)
            .map_or((None, None), |&k| self.rates_at(k))
    }

    /// A compound's complaints of the window closed, rated and rated satisfied.
    pub fn handled(&self, id: i64) -> [u64; 3] {
        self.pos
            .compound
            .get(&id)
            .map_or([0; 3], |&k| self.handled[k])
    }

    /// [`Figures::rates`] by position.
    pub fn rates_at(&self, k: usize) -> (Option<f64>, Option<f64>) {
        use crate::model::handling::rate;
        let [closed, rated, satisfied] = self.handled[k];
        (rate(closed, self.compound[k].0), rate(satisfied, rated))
    }

    /// Complaints in the window of a building.
    pub fn building(&self, id: i64) -> u64 {
        self.pos
            .building
            .get(&id)
            .map_or(0, |&k| u64::from(self.building[k]))
    }

    /// Complaints in the window of a unit.
    pub fn unit(&self, id: i64) -> u64 {
        self.pos
            .unit
            .get(&id)
            .map_or(0, |&k| u64::from(self.unit[k]))
    }

    /// Figures of a district by code.
    pub fn district(&self, code: &str) -> Agg {
        self.pos
            .district
            .get(code)
            .map(|&k| self.district[k].clone())
            .unwrap_or_default()
    }

    /// Figures of a street by code.
    pub fn street(&self, code: &str) -> Agg {
        self.pos
            .street
            .get(code)
            .map(|&k| self.street[k].clone())
            .unwrap_or_default()
    }

    /// Heat points (longitude, latitude, complaints) in a box.
    pub fn heat_in(&self, b: [f64; 4]) -> impl Iterator<Item = (f64, f64, u64)> + '_ {
        self.heat_spots(b)
            .filter(|s| s.complaints > 0)
            .map(|s| (s.at[0], s.at[1], s.complaints))
    }

    /// Every heat place in a box, with the window's complaints there.
    fn heat_spots(&self, b: [f64; 4]) -> impl Iterator<Item = Spot> + '_ {
        query(&self.spots.tree, b).map(|g| {
            let (slot, households) = g.data;
            Spot {
                at: *g.geom(),
                complaints: u64::from(self.heat[slot as usize]),
                households,
            }
        })
    }
}

/// A heat place of a tile: where (longitude/latitude), the window's complaints and the
/// households there.
struct Spot {
    at: [f64; 2],
    complaints: u64,
    households: i64,
}

/// Who asks: public callers get small building and unit counts withheld.
pub use crate::model::Audience;

/// A built tile.
pub struct Built {
    pub bytes: Vec<u8>,
    /// Layers left out to stay under [`MAX_TILE_BYTES`].
    pub thinned: Vec<&'static str>,
}

fn query<T: rstar::RTreeObject<Envelope = AABB<[f64; 2]>>>(
    tree: &RTree<T>,
    b: [f64; 4],
) -> impl Iterator<Item = &T> {
    tree.locate_in_envelope_intersecting(&AABB::from_corners([b[0], b[1]], [b[2], b[3]]))
}

fn agg_props<'a>(
    a: &Agg,
    months: i32,
    mut props: Vec<(&'static str, mvt::Value<'a>)>,
) -> Vec<(&'static str, mvt::Value<'a>)> {
    props.extend([
        ("compounds", u(a.compounds)),
        ("households", i(a.households)),
        ("complaints", u(a.complaints)),
        ("density", f(density(a.complaints, a.households, months))),
        ("red", u(a.red)),
        ("yellow", u(a.yellow)),
        ("blue", u(a.blue)),
    ]);
    rates_props(&mut props, (a.resolved_rate(), a.satisfied_rate()));
    props
}

/// A compound's attributes in the tiles (by position).
pub(crate) fn compound_props<'a>(
    city: &'a CityIndex,
    fig: &Figures,
    k: usize,
) -> Vec<(&'static str, mvt::Value<'a>)> {
    let d = &city.data;
    let c = &d.compounds[k];
    let (n, grade) = fig.compound[k];
    let dens = density(n, i64::from(c.households), fig.window.months());
    let links = city.compound_links[k];
    let mut props = vec![
        ("id", i(c.id)),
        ("name", s(&c.name)),
        (
            "district",
            s(links.district.map_or("", |k| &d.districts[k].name)),
        ),
        ("street", s(links.street.map_or("", |k| &d.streets[k].name))),
        (
            "company",
            s(links.company.map_or("", |k| &d.companies[k].name)),
        ),
        ("households", i(i64::from(c.households))),
        ("buildings", u(links.buildings)),
        ("complaints", u(n)),
        ("density", f(dens)),
        ("density_class", u(u64::from(density_class(n, dens)))),
    ];
    if let Some(g) = grade {
        props.push(("grade", s(g.code())));
    }
    rates_props(&mut props, fig.rates_at(k));
    if let Some(c) = fig.alert.get(k).copied().flatten() {
        props.push(("alert", s(c.code())));
    }
    if let Some(l) = fig.company_list.get(k) {
        props.push(("company_list", s(l.code())));
    }
    let repeats = fig.repeats.get(k).copied().unwrap_or(0);
    props.push(("repeats", u(repeats)));
    if let Some(r) = crate::model::handling::rate(repeats, n) {
        props.push(("repeat_rate", mvt::Value::Double(r)));
    }
    props
}

/// The resolution and satisfaction rates (to four places, as the API gives them), where there
/// is something to rate.
fn rates_props(
    props: &mut Vec<(&'static str, mvt::Value<'_>)>,
    (resolved, satisfied): (Option<f64>, Option<f64>),
) {
    if let Some(r) = resolved {
        props.push(("resolved_rate", mvt::Value::Double(r)));
    }
    if let Some(r) = satisfied {
        props.push(("satisfied_rate", mvt::Value::Double(r)));
    }
}

/// What the layers of one tile are built from.
struct Build<'a> {
    city: &'a CityIndex,
    fig: &'a Figures,
    /// The tile in longitude/latitude: the heat points (the window's) come so.
    frame: &'a TileFrame,
    /// The frame the city's geometry is placed in: projected beforehand where the frame
    /// allows ([`Shapes`]).
    at: TileFrame,
    shapes: Shapes<'a>,
    /// The box the features are looked up in.
    q: [f64; 4],
    months: i32,
    who: Audience,
    filter: Option<&'a TileFilter>,
    /// The window's hot-spot cells, where the tile's zoom has the layer and the window its
    /// statistics.
    hot: Option<&'a HotCells>,
}

/// The features the filter dropped (by position), that their labels go too.
#[derive(Default)]
struct Dropped {
    districts: Vec<usize>,
    streets: Vec<usize>,
    compounds: Vec<usize>,
}

/// Builds one tile of the `atlas` tileset with the features `filter` keeps (and the hot-spot
/// cells `hot`, where given); `None` when it holds nothing.
pub fn build(
    city: &CityIndex,
    fig: &Figures,
    frame: &TileFrame,
    who: Audience,
    filter: Option<&TileFilter>,
    hot: Option<&HotCells>,
) -> Option<Built> {
    let (shapes, at) = if frame.takes_projected() {
        let merc = Some(&city.merc);
        (Shapes { city, merc }, frame.projected())
    } else {
        (Shapes { city, merc: None }, *frame)
    };
    let b = Build {
        city,
        fig,
        frame,
        at,
        shapes,
        q: frame.query_bbox(),
        months: fig.window.months(),
        who,
        filter,
        hot,
    };
    let mut dropped = Dropped::default();
    let layers: Vec<LayerBuilder> = TileLayer::ALL
        .into_iter()
        .filter(|l| l.in_zoom(frame.z))
        .map(|l| match l {
            TileLayer::Districts => b.districts(&mut dropped.districts),
            TileLayer::Streets => b.streets(&mut dropped.streets),
            TileLayer::Heat => b.heat(),
            TileLayer::Compounds => b.compounds(&mut dropped.compounds),
            TileLayer::Hotspots => b.hotspots(),
            TileLayer::Buildings => b.buildings(),
            TileLayer::Units => b.units(),
            TileLayer::Labels => b.labels(&dropped),
        })
        .collect();
    finish(layers)
}

/// The tile of the layers that hold something; `None` when none does. While the tile is over
/// [`MAX_TILE_BYTES`] the finest layer present is dropped, and the tile says so.
fn finish(layers: Vec<LayerBuilder>) -> Option<Built> {
    let mut encoded: Vec<(&'static str, Vec<u8>)> = layers
        .into_iter()
        .filter_map(|l| {
            let name = l.name();
            l.finish().map(|l| (name, mvt::encode_layer(&l)))
        })
        .collect();
    if encoded.is_empty() {
        return None;
    }
    let mut thinned = Vec::new();
    let size = |e: &[(&str, Vec<u8>)]| e.iter().map(|(_, b)| b.len()).sum::<usize>();
    while size(&encoded) > MAX_TILE_BYTES && encoded.len() > 1 {
        let Some(n) = TileLayer::THINNING
            .into_iter()
            .map(TileLayer::name)
            .find(|n| encoded.iter().any(|(l, _)| l == n))
        else {
            break;
        };
        encoded.retain(|(l, _)| *l != n);
        thinned.push(n);
    }
    let mut bytes = Vec::with_capacity(size(&encoded));
    for (_, b) in encoded {
        bytes.extend_from_slice(&b);
    }
    Some(Built { bytes, thinned })
}

impl<'a> Build<'a> {
    fn keeps(
        &self,
        layer: TileLayer,
        props: &[(&'static str, mvt::Value<'_>)],
        geom: &dyn Fn() -> Geometry<f64>,
    ) -> bool {
        keeps(self.filter, layer, props, geom)
    }

    fn districts(&self, dropped: &mut Vec<usize>) -> LayerBuilder<'a> {
        let city = self.city;
        let d = &city.data;
        let mut l = LayerBuilder::new(TileLayer::Districts.name());
        for g in query(&city.districts, self.q) {
            let x = &d.districts[g.data];
            let a = &self.fig.district[g.data];
            let own = vec![("code", s(&x.code)), ("name", s(&x.name))];
            let props = agg_props(a, self.months, own);
            if !self.keeps(TileLayer::Districts, &props, &|| {
                Geometry::MultiPolygon(x.geom.clone())
            }) {
                dropped.push(g.data);
                continue;
            }
            if let Some(t) = mvt::polygons(&self.at, self.shapes.district(g.data)) {
                l.add(x.code.parse().ok(), Geometry::MultiPolygon(t), props);
            }
        }
        l
    }

    fn streets(&self, dropped: &mut Vec<usize>) -> LayerBuilder<'a> {
        let city = self.city;
        let d = &city.data;
        let mut l = LayerBuilder::new(TileLayer::Streets.name());
        for g in query(&city.streets, self.q) {
            let x = &d.streets[g.data];
            let a = &self.fig.street[g.data];
            let district = city.street_district[g.data].map_or("", |k| &d.districts[k].name);
            let own = vec![
                ("code", s(&x.code)),
                ("name", s(&x.name)),
                ("district", s(district)),
            ];
            let props = agg_props(a, self.months, own);
            if !self.keeps(TileLayer::Streets, &props, &|| {
                Geometry::MultiPolygon(x.geom.clone())
            }) {
                dropped.push(g.data);
                continue;
            }
            if let Some(t) = mvt::polygons(&self.at, self.shapes.street(g.data)) {
                l.add(x.code.parse().ok(), Geometry::MultiPolygon(t), props);
            }
        }
        l
    }

    /// The window's complaints summed on a [`HEAT_CELLS`]² grid of the tile (never filtered:
    /// a picture of all of them).
    fn heat(&self) -> LayerBuilder<'a> {
        let cell = f64::from(EXTENT / HEAT_CELLS);
        let side = HEAT_CELLS as usize;
        let mut cells = [(0u64, 0i64); (HEAT_CELLS * HEAT_CELLS) as usize];
        let mut add = |p: Option<Point<f64>>, n: u64, hh: i64| {
            if let Some(p) = p {
                let (cx, cy) = ((p.x() / cell) as usize, (p.y() / cell) as usize);
                // A point rounded onto the far edge belongs to the last cell.
                let e = &mut cells[cx.min(side - 1) * side + cy.min(side - 1)];
                e.0 += n;
                e.1 += hh;
            }
        };
        let fr = self.frame;
        if self.shapes.merc.is_some() && fr.z <= QUAD_ZOOM {
            // A WebMercatorQuad tile in WGS84: its run of the places in quadkey order, already
            // projected.
            let (run, beside) = self.fig.spots.in_tile(fr);
            for q in run.iter().chain(&beside) {
                let n = u64::from(self.fig.heat[q.slot as usize]);
                let p = mvt::point(&self.at, Point::new(q.at[0], q.at[1]), false);
                add(p, n, i64::from(q.households));
            }
        } else {
            for spot in self.fig.heat_spots(self.q) {
                let p = mvt::point(fr, Point::new(spot.at[0], spot.at[1]), false);
                add(p, spot.complaints, spot.households);
            }
        }
        let mut l = LayerBuilder::new(TileLayer::Heat.name());
        for (k, &(n, hh)) in cells.iter().enumerate().filter(|(_, v)| v.0 > 0) {
            let (cx, cy) = ((k / side) as u32, (k % side) as u32);
            let (x0, y0) = (f64::from(cx) * cell, f64::from(cy) * cell);
            let sq = Polygon::new(
                // Positive area in tile coordinates: an MVT exterior ring.
                geo_types::LineString::from(vec![
                    (x0, y0),
                    (x0 + cell, y0),
                    (x0 + cell, y0 + cell),
                    (x0, y0 + cell),
                    (x0, y0),
                ]),
                vec![],
            );
            let props = vec![
                ("complaints", u(n)),
                ("density", f(density(n, hh, self.months))),
            ];
            l.add(None, Geometry::Polygon(sq), props);
        }
        l
    }

    /// The window's hot-spot cells (never filtered: statistics of all its complaints).
    fn hotspots(&self) -> LayerBuilder<'a> {
        match self.hot {
            Some(h) => h.layer(self.q, &self.at, self.shapes.merc.is_some()),
            None => LayerBuilder::new(TileLayer::Hotspots.name()),
        }
    }

    fn compounds(&self, dropped: &mut Vec<usize>) -> LayerBuilder<'a> {
        let city = self.city;
        let d = &city.data;
        let found: Vec<_> = query(&city.compounds, self.q).collect();
        let mut l = LayerBuilder::with_capacity(TileLayer::Compounds.name(), found.len());
        for g in found {
            let c = &d.compounds[g.data];
            let props = compound_props(city, self.fig, g.data);
            if !self.keeps(TileLayer::Compounds, &props, &|| {
                Geometry::MultiPolygon(c.geom.clone())
            }) {
                dropped.push(g.data);
                continue;
            }
            let Some(t) = mvt::polygons(&self.at, self.shapes.compound(g.data)) else {
                continue;
            };
            l.add(u64::try_from(c.id).ok(), Geometry::MultiPolygon(t), props);
        }
        l
    }

    fn buildings(&self) -> LayerBuilder<'a> {
        let city = self.city;
        let d = &city.data;
        let found: Vec<_> = query(&city.buildings, self.q).collect();
        let mut l = LayerBuilder::with_capacity(TileLayer::Buildings.name(), found.len());
        for g in found {
            let b = &d.buildings[g.data];
            let n = u64::from(self.fig.building[g.data]);
            let dens = density(n, i64::from(b.households), self.months);
            let mut props = vec![
                ("id", i(b.id)),
                ("compound_id", i(b.compound_id)),
                ("name", s(&b.name)),
                ("floors", i(i64::from(b.floors))),
                ("units", u(city.building_units[g.data])),
                ("households", i(i64::from(b.households))),
            ];
            if self.who.withholds(n) {
                // Coarsened: "some" complaints, never how many.
                props.push(("density_class", u(1)));
                props.push(("suppressed", mvt::Value::Bool(true)));
            } else {
                props.push(("complaints", u(n)));
                props.push(("density", f(dens)));
                props.push(("density_class", u(u64::from(density_class(n, dens)))));
            }
            if !self.keeps(TileLayer::Buildings, &props, &|| {
                Geometry::Polygon(b.geom.clone())
            }) {
                continue;
            }
            let shape = std::slice::from_ref(self.shapes.building(g.data));
            let Some(t) = mvt::polygons(&self.at, shape) else {
                continue;
            };
            l.add(u64::try_from(b.id).ok(), Geometry::MultiPolygon(t), props);
        }
        l
    }

    fn units(&self) -> LayerBuilder<'a> {
        let city = self.city;
        let d = &city.data;
        let found: Vec<_> = query(&city.units, self.q).collect();
        let mut l = LayerBuilder::with_capacity(TileLayer::Units.name(), found.len());
        for g in found {
            let x = &d.units[g.data];
            let n = u64::from(self.fig.unit[g.data]);
            let mut props = vec![
                ("id", i(x.id)),
                ("building_id", i(x.building_id)),
                ("name", s(&x.name)),
                ("households", i(i64::from(x.households))),
            ];
            if self.who.withholds(n) {
                props.push(("suppressed", mvt::Value::Bool(true)));
            } else {
                props.push(("complaints", u(n)));
            }
            if !self.keeps(TileLayer::Units, &props, &|| Geometry::Point(x.geom)) {
                continue;
            }
            let Some(p) = mvt::point(&self.at, self.shapes.unit(g.data), true) else {
                continue;
            };
            l.add(u64::try_from(x.id).ok(), Geometry::Point(p), props);
        }
        l
    }

    /// A point for each district, street and (from the compounds' zoom) compound the filter
    /// kept, with its kind, id, name and grade.
    fn labels(&self, dropped: &Dropped) -> LayerBuilder<'a> {
        let city = self.city;
        let d = &city.data;
        let mut l = LayerBuilder::new(TileLayer::Labels.name());
        let mut add = |p: Point<f64>, kind: &'static str, id, name| {
            if let Some(p) = mvt::point(&self.at, p, false) {
                let props = vec![("kind", s(kind)), ("id", id), ("name", name)];
                l.add(None, Geometry::Point(p), props);
            }
        };
        for g in query(&city.districts, self.q) {
            if !dropped.districts.contains(&g.data) {
                let x = &d.districts[g.data];
                let at = self.shapes.district_label(g.data);
                add(at, "district", s(&x.code), s(&x.name));
            }
        }
        for g in query(&city.streets, self.q) {
            if !dropped.streets.contains(&g.data) {
                let x = &d.streets[g.data];
                add(
                    self.shapes.street_label(g.data),
                    "street",
                    s(&x.code),
                    s(&x.name),
                );
            }
        }
        if TileLayer::Compounds.in_zoom(self.frame.z) {
            for g in query(&city.compounds, self.q) {
                let c = &d.compounds[g.data];
                if dropped.compounds.contains(&g.data) {
                    continue;
                }
                let Some(p) = mvt::point(&self.at, self.shapes.compound_label(g.data), false)
                else {
                    continue;
                };
                let mut props = vec![
                    ("kind", s("compound")),
                    ("id", mvt::Value::String(c.id.to_string())),
                    ("name", s(&c.name)),
                ];
                if let (_, Some(grade)) = self.fig.compound[g.data] {
                    props.push(("grade", s(grade.code())));
                }
                l.add(None, Geometry::Point(p), props);
            }
        }
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geozero::mvt::{Message, Tile};

    /// A layer of `n` point features, each with a string of `len` bytes of its own.
    fn layer(layer: TileLayer, n: usize, len: usize) -> LayerBuilder<'static> {
        let mut l = LayerBuilder::new(layer.name());
        for k in 0..n {
            let p = Geometry::Point(Point::new((k % 4096) as f64, (k / 4096) as f64));
            let text = format!("{k:0len$}");
            l.add(Some(k as u64), p, vec![("text", mvt::Value::String(text))]);
        }
        l
    }

    #[test]
    #[allow(clippy::too_many_lines)] // a test reads top to bottom
    fn heat_places_on_tile_edges_are_found_as_the_tiles_own_arithmetic_finds_them() {
        use super::super::{Datum, Grid};
        let tile_at = |lon: f64, lat: f64, z: u8| {
            let n = f64::from(1u32 << z);
            let r = lat.to_radians();
            let x = ((lon + 180.0) / 360.0 * n).floor();
            let y =
                ((1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor();
            (x as u64, y as u64)
        };
        let frame = |z, x, y| TileFrame::new(Grid::WebMercatorQuad, Datum::Wgs84, z, x, y);
        // Places on the edges and corners of tiles, and a hair either side, at several zooms:
        // at the equator and the prime meridian, over Qingdao, over New York.
        let mut probes = Vec::new();
        let mut places: Vec<[f64; 2]> = Vec::new();
        for z in [1u8, 2, 3, 9, 12, 15, 18, 20] {
            for (lon, lat) in [(0.0, 0.0), (120.38, 36.07), (-73.98, 40.75)] {
                let (x, y) = tile_at(lon, lat, z);
                probes.push((z, x, y));
                let [w, s, e, n] = Grid::WebMercatorQuad.lonlat_bounds(z, x, y);
                let (cx, cy) = (f64::midpoint(w, e), f64::midpoint(s, n));
                for (px, py) in [
                    (w, s),
                    (w, n),
                    (e, s),
                    (e, n),
                    (w, cy),
                    (e, cy),
                    (cx, s),
                    (cx, n),
                ] {
                    for d in [-1e-9, -1e-12, 0.0, 1e-12, 1e-9] {
                        places.push([px + d, py]);
                        places.push([px, py + d]);
                    }
                }
            }
        }
        let spots = places
            .iter()
            .enumerate()
            .map(|(k, p)| GeomWithData::new(*p, (k as u32, 1)))
            .collect();
        let (tree, quad) = spot_index(spots);
        let hs = HeatSpots {
            tree,
            quad,
            units: 0,
            buildings: 0,
            compounds: 0,
            building_compound: Vec::new(),
            unit_building: Vec::new(),
        };
        let mut beside = 0;
        for (z, x, y) in probes {
            let mut seen = vec![0u32; places.len()];
            let last = (1u64 << z) - 1;
            for tx in x.saturating_sub(1)..=(x + 1).min(last) {
                for ty in y.saturating_sub(1)..=(y + 1).min(last) {
                    let f = frame(z, tx, ty);
                    let mut own: Vec<u32> = query(&hs.tree, f.query_bbox())
                        .filter(|g| {
                            mvt::point(&f, Point::new(g.geom()[0], g.geom()[1]), false).is_some()
                        })
                        .map(|g| g.data.0)
                        .collect();
                    let (run, extra) = hs.in_tile(&f);
                    beside += extra.len();
                    let mut fast: Vec<u32> = run
                        .iter()
                        .chain(&extra)
                        .filter(|q| {
                            mvt::point(&f.projected(), Point::new(q.at[0], q.at[1]), false)
                                .is_some()
                        })
                        .map(|q| q.slot)
                        .collect();
                    own.sort_unstable();
                    fast.sort_unstable();
                    assert_eq!(fast, own, "z{z}/{tx}/{ty}");
                    for k in own {
                        seen[k as usize] += 1;
                    }
                }
            }
            assert!(
                seen.iter().all(|n| *n <= 1),
                "a place counted in two tiles at z{z}"
            );
        }
        assert!(
            beside > 0,
            "no place needed the edge strips: the test does not reach them"
        );
    }

    #[test]
    fn a_tile_over_its_bound_drops_its_finest_layers_first() {
        let layers = vec![
            layer(TileLayer::Districts, 3, 10),
            layer(TileLayer::Compounds, 300, 100),
            layer(TileLayer::Buildings, 3_200, 150),
            layer(TileLayer::Units, 2_000, 150),
            LayerBuilder::new(TileLayer::Labels.name()),
        ];
        let built = finish(layers).unwrap();
        assert_eq!(built.thinned, ["units", "buildings"]);
        assert!(built.bytes.len() <= MAX_TILE_BYTES);
        let tile = Tile::decode(&built.bytes[..]).unwrap();
        let names: Vec<&str> = tile.layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["districts", "compounds"]);
        assert_eq!(tile.layers[1].features.len(), 300);

        let small = finish(vec![layer(TileLayer::Districts, 3, 10)]).unwrap();
        assert!(small.thinned.is_empty());
        assert_eq!(Tile::decode(&small.bytes[..]).unwrap().layers.len(), 1);
        assert!(finish(vec![LayerBuilder::new(TileLayer::Units.name())]).is_none());
    }
}
