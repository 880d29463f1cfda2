//! Compounds, buildings and units: plans calibrated to the city's totals, laid out like Chinese
//! residential estates (rows of slabs facing south, towers, villas), placed inside their
//! street without overlapping one another.

use super::city::{DistrictCtx, StreetCtx, DISTRICT_COMPOUNDS};
use super::names::NameBook;
use crate::model::{Building, Category, Compound, Unit};
use geo::{BoundingRect, Contains, Intersects};
use geo_types::{coord, Coord, LineString, MultiPolygon, Point, Polygon};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_distr::{Distribution, LogNormal, Normal};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

/// City totals at scale 1.0 (DOMAIN.md).
pub const BUILDINGS: f64 = 63_800.0;
pub const UNITS: f64 = 209_000.0;
pub const HOUSEHOLDS: f64 = 2_550_000.0;
pub const COMPANIES: f64 = 924.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BKind {
    Slab,
    Tower,
    Villa,
}

#[derive(Debug, Clone, Copy)]
pub struct BPlan {
    pub kind: BKind,
    pub floors: i32,
    pub units: i32,
    pub hh_per_floor: i32,
}

impl BPlan {
    fn slab(floors: i32, units: i32) -> BPlan {
        BPlan {
            kind: BKind::Slab,
            floors,
            units,
            hh_per_floor: 2,
        }
    }
    fn tower(floors: i32, units: i32) -> BPlan {
        BPlan {
            kind: BKind::Tower,
            floors,
            units,
            hh_per_floor: 2,
        }
    }
    pub fn hh_per_unit(&self) -> i32 {
        match self.kind {
            BKind::Villa => 1,
            _ => self.floors * self.hh_per_floor,
        }
    }
    pub fn households(&self) -> i32 {
        self.units * self.hh_per_unit()
    }
    /// Footprint length (along the entrance side) and depth in metres.
    fn footprint(&self, unit_w: f64) -> (f64, f64) {
        match self.kind {
            BKind::Slab => (f64::from(self.units) * unit_w, 11.5),
            BKind::Tower => match self.units {
                1 => (22.0, 20.0),
                u => (f64::from(u) * 18.0, 18.0),
            },
            BKind::Villa => (12.0 + 10.0 * f64::from(self.units - 1), 11.0),
        }
    }
}

/// A compound the demo city must contain, with its story (DOMAIN.md).
pub struct Named {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub district: &'static str,
    pub street: &'static str,
    pub year: i32,
    pub plan: fn() -> Vec<BPlan>,
    pub target_area_m2: Option<f64>,
    /// Complaint weight multiplier (hot compounds carry much of the load).
    pub hot: f64,
    pub boosts: &'static [(Category, f64)],
}

pub const NAMED: &[Named] = &[
    Named {
        name: "金秋桂园",
        aliases: &["金秋小区"],
        district: "370213",
        street: "虎山路街道",
        year: 2004,
        plan: || {
            (0..18)
                .map(|i| BPlan::slab(6, if i % 3 == 0 { 4 } else { 3 }))
                .collect()
        },
        target_area_m2: None,
        hot: 9.0,
        boosts: &[(Category::FireLane, 9.0), (Category::Order, 2.5)],
    },
    Named {
        name: "金光丽园",
        aliases: &["金光小区"],
        district: "370212",
        street: "中韩街道",
        year: 2011,
        plan: || {
            (0..46)
                .map(|_| BPlan::tower(26, 2))
                .chain((0..44).map(|_| BPlan::slab(6, 3)))
                .collect()
        },
        target_area_m2: Some(200_000.0),
        hot: 2.2,
        boosts: &[
            (Category::StairwellClutter, 6.0),
            (Category::Sanitation, 1.5),
        ],
    },
    Named {
        name: "碧海花园",
        aliases: &["碧海小区"],
        district: "370211",
        street: "黄岛街道",
        year: 1997,
        plan: || {
            (0..24)
                .map(|i| BPlan::slab(if i % 4 == 0 { 5 } else { 6 }, 3))
                .collect()
        },
        target_area_m2: None,
        hot: 6.0,
        boosts: &[
            (Category::FlyingWire, 8.0),
            (Category::StairwellClutter, 4.0),
            (Category::Sanitation, 2.0),
        ],
    },
    Named {
        name: "海信慧园二期",
        aliases: &["慧园二期"],
        district: "370202",
        street: "湛山街道",
        year: 2003,
        plan: || {
            (0..12)
                .map(|_| BPlan::slab(6, 3))
                .chain((0..2).map(|_| BPlan::tower(18, 2)))
                .collect()
        },
        target_area_m2: None,
        hot: 3.0,
        boosts: &[
            (Category::Repairs, 2.5),
            (Category::Committee, 5.0),
            (Category::Order, 2.0),
        ],
    },
    Named {
        name: "海延雅居",
        aliases: &["海延小区"],
        district: "370202",
        street: "金湖路街道",
        year: 2002,
        plan: || (0..10).map(|_| BPlan::slab(7, 3)).collect(),
        target_area_m2: None,
        hot: 6.0,
        boosts: &[(Category::Fees, 3.0), (Category::Repairs, 2.0)],
    },
    Named {
        name: "海岸馨园",
        aliases: &[],
        district: "370211",
        street: "薛家岛街道",
        year: 2009,
        plan: || {
            (0..16)
                .map(|_| BPlan::slab(6, 4))
                .chain((0..4).map(|_| BPlan::tower(24, 2)))
                .collect()
        },
        target_area_m2: None,
        hot: 6.0,
        boosts: &[(Category::Sanitation, 2.5), (Category::Order, 2.0)],
    },
    Named {
        name: "华易春之都",
        aliases: &["春之都"],
        district: "370214",
        street: "城阳街道",
        year: 2008,
        plan: || {
            (0..14)
                .map(|_| BPlan::slab(6, 3))
                .chain((0..6).map(|_| BPlan::tower(28, 2)))
                .collect()
        },
        target_area_m2: None,
        hot: 6.0,
        boosts: &[(Category::Fees, 2.5), (Category::FireFacility, 2.5)],
    },
    Named {
        name: "温哥华小区",
        aliases: &["温哥华花园"],
        district: "370213",
        street: "李村街道",
        year: 2006,
        plan: || (0..20).map(|_| BPlan::slab(6, 3)).collect(),
        target_area_m2: None,
        hot: 4.5,
        boosts: &[(Category::Repairs, 2.0), (Category::Greening, 2.0)],
    },
];

/// One generated compound with everything the complaint generator needs.
pub struct Estate {
    pub compound: Compound,
    pub street_idx: usize,
    pub district_idx: usize,
    pub buildings: std::ops::Range<usize>,
    pub hot: f64,
    pub boosts: Vec<(Category, f64)>,
    /// One of the named compounds of DOMAIN.md (its story is set, not drawn).
    pub named: bool,
}

/// Per-unit facts for room numbers ("301"): floors and households a floor.
#[derive(Clone, Copy)]
pub struct UnitShape {
    pub floors: i32,
    pub per_floor: i32,
}

#[allow(clippy::struct_field_names)] // the estates, beside the buildings and units they hold
pub struct Estates {
    pub estates: Vec<Estate>,
    pub buildings: Vec<Building>,
    pub units: Vec<Unit>,
    pub unit_shapes: Vec<UnitShape>,
    /// First unit index of each building (units of building i are `unit_start[i]..unit_start[i+1]`).
    pub unit_start: Vec<usize>,
    pub unplaced: usize,
}

struct Draft {
    name: String,
    aliases: Vec<String>,
    street_idx: usize,
    year: i32,
    plan: Vec<BPlan>,
    target_area: Option<f64>,
    hot: f64,
    boosts: Vec<(Category, f64)>,
    fixed: bool,
}

fn largest_remainder(total: usize, weights: &[f64]) -> Vec<usize> {
    let sum: f64 = weights.iter().sum();
    if sum <= 0.0 {
        return vec![0; weights.len()];
    }
    let raw: Vec<f64> = weights.iter().map(|w| w / sum * total as f64).collect();
    let mut out: Vec<usize> = raw.iter().map(|r| r.floor() as usize).collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|a, b| (raw[*b] - raw[*b].floor()).total_cmp(&(raw[*a] - raw[*a].floor())));
    let mut left = total.saturating_sub(out.iter().sum());
    for i in order {
        if left == 0 {
            break;
        }
        out[i] += 1;
        left -= 1;
    }
    out
}

fn draw_plan<R: Rng>(rng: &mut R, urban: bool) -> Vec<BPlan> {
    let roll: f64 = rng.gen();
    let (p_tower, p_mixed, p_villa) = if urban {
        (0.10, 0.14, 0.03)
    } else {
        (0.15, 0.17, 0.05)
    };
    let n_lognormal = |rng: &mut R, mean: f64| -> usize {
        let d = LogNormal::new(mean.ln() - 0.18, 0.6)
            .unwrap_or_else(|_| LogNormal::new(0.0, 1.0).expect("valid"));
        (d.sample(rng).round() as usize).clamp(1, 160)
    };
    let slab = |rng: &mut R| BPlan::slab(6, *[2, 3, 3, 4, 4, 5].choose(rng).unwrap_or(&3));
    let tower = |rng: &mut R| BPlan::tower(rng.gen_range(18..=33), rng.gen_range(1..=2));
    if roll < p_tower {
        (0..n_lognormal(rng, 9.0)).map(|_| tower(rng)).collect()
    } else if roll < p_tower + p_mixed {
        (0..n_lognormal(rng, 15.0))
            .map(|_| {
                if rng.gen_bool(0.3) {
                    tower(rng)
                } else {
                    slab(rng)
                }
            })
            .collect()
    } else if roll < p_tower + p_mixed + p_villa {
        (0..n_lognormal(rng, 22.0))
            .map(|_| BPlan {
                kind: BKind::Villa,
                floors: 3,
                units: rng.gen_range(1..=2),
                hh_per_floor: 1,
            })
            .collect()
    } else {
        (0..n_lognormal(rng, 17.0)).map(|_| slab(rng)).collect()
    }
}

/// Nudges the plans (never the named compounds) until buildings, units and households meet
/// the city's totals for this scale.
fn calibrate<R: Rng>(rng: &mut R, drafts: &mut [Draft], scale: f64) {
    let target_b = (BUILDINGS * scale).round() as i64;
    let target_u = (UNITS * scale).round() as i64;
    let target_h = (HOUSEHOLDS * scale).round() as i64;
    let free: Vec<usize> = (0..drafts.len()).filter(|i| !drafts[*i].fixed).collect();
    if free.is_empty() {
        return;
    }
    fit_buildings(rng, drafts, &free, target_b);
    let slabs: Vec<(usize, usize)> = free
        .iter()
        .flat_map(|&i| {
            drafts[i]
                .plan
                .iter()
                .enumerate()
                .filter(|(_, p)| p.kind == BKind::Slab)
                .map(move |(j, _)| (i, j))
        })
        .collect();
    if slabs.is_empty() {
        return;
    }
    fit_units(rng, drafts, &slabs, target_u);
    fit_households(rng, drafts, &slabs, target_h);
}

/// Adds or drops buildings of the free compounds until the city has `target` of them.
fn fit_buildings<R: Rng>(rng: &mut R, drafts: &mut [Draft], free: &[usize], target: i64) {
    let count_b = |d: &[Draft]| d.iter().map(|x| x.plan.len() as i64).sum::<i64>();
    let mut b = count_b(drafts);
    let mut guard = 0;
    while b != target && guard < 10_000_000 {
        guard += 1;
        let i = *free.choose(rng).unwrap_or(&free[0]);
        let d = &mut drafts[i];
        if b < target {
            let template = *d.plan.choose(rng).unwrap_or(&BPlan::slab(6, 3));
            d.plan.push(template);
            b += 1;
        } else if d.plan.len() > 2 {
            d.plan.pop();
            b -= 1;
        }
    }
}

/// Widens or narrows free slabs by a unit until the city has `target` units.
fn fit_units<R: Rng>(rng: &mut R, drafts: &mut [Draft], slabs: &[(usize, usize)], target: i64) {
    let count_u = |d: &[Draft]| {
        d.iter()
            .flat_map(|x| x.plan.iter())
            .map(|p| i64::from(p.units))
            .sum::<i64>()
    };
    let mut u = count_u(drafts);
    let mut guard = 0;
    while u != target && guard < 10_000_000 {
        guard += 1;
        let (i, j) = *slabs.choose(rng).unwrap_or(&slabs[0]);
        let p = &mut drafts[i].plan[j];
        if u < target && p.units < 6 {
            p.units += 1;
            u += 1;
        } else if u > target && p.units > 1 {
            p.units -= 1;
            u -= 1;
        }
    }
}

/// Raises or lowers free slabs by a floor (now and then three households a floor) until the
/// city's households are within 12 of `target`.
fn fit_households<R: Rng>(
    rng: &mut R,
    drafts: &mut [Draft],
    slabs: &[(usize, usize)],
    target: i64,
) {
    let count_h = |d: &[Draft]| {
        d.iter()
            .flat_map(|x| x.plan.iter())
            .map(|p| i64::from(p.households()))
            .sum::<i64>()
    };
    let mut h = count_h(drafts);
    let mut guard = 0;
    while (h - target).abs() > 12 && guard < 10_000_000 {
        guard += 1;
        let (i, j) = *slabs.choose(rng).unwrap_or(&slabs[0]);
        let p = &mut drafts[i].plan[j];
        let step = i64::from(p.units * p.hh_per_floor);
        if h < target && p.floors < 7 {
            p.floors += 1;
            h += step;
        } else if h > target && p.floors > 3 {
            p.floors -= 1;
            h -= step;
        } else if h < target && p.floors == 7 && p.hh_per_floor == 2 && rng.gen_bool(0.02) {
            p.hh_per_floor = 3;
            h += i64::from(p.units * p.floors);
        }
    }
}

/// A building's footprint ring and its entrance points, in the compound's frame.
type PlacedBuilding = (Vec<Coord<f64>>, Vec<Coord<f64>>);

/// A compound laid out in its own frame (metres, centred, unrotated).
struct Layout {
    outline: Vec<Coord<f64>>,
    half: (f64, f64),
    buildings: Vec<PlacedBuilding>,
}

fn layout<R: Rng>(rng: &mut R, plan: &[BPlan], target_area: Option<f64>) -> Layout {
    let unit_w = rng.gen_range(12.0..14.5);
    let dims: Vec<(f64, f64)> = plan.iter().map(|p| p.footprint(unit_w)).collect();
    let grid = Grid::new(rng, plan, &dims, target_area);
    let outline = grid.outline();
    let buildings = grid.buildings(rng, plan, &dims);
    Layout {
        outline,
        half: (grid.w / 2.0, grid.h / 2.0),
        buildings,
    }
}

/// The grid a compound's buildings stand on: cells, rows and columns, and the corner cut out
/// of it (north-east, `cut_c` columns by `cut_r` rows) when the estate is L-shaped.
struct Grid {
    cell_w: f64,
    cell_h: f64,
    cols: usize,
    rows: usize,
    cut_c: usize,
    cut_r: usize,
    /// Width and height of the whole compound, margins included.
    w: f64,
    h: f64,
}

impl Grid {
    const MARGIN: f64 = 12.0;

    /// Cells big enough for the largest building, in a roughly square grid, stretched to the
    /// target area when the compound has one.
    fn new<R: Rng>(
        rng: &mut R,
        plan: &[BPlan],
        dims: &[(f64, f64)],
        target_area: Option<f64>,
    ) -> Grid {
        let max_len = dims.iter().map(|d| d.0).fold(0.0, f64::max);
        let max_dep = dims.iter().map(|d| d.1).fold(0.0, f64::max);
        let has_tower = plan.iter().any(|p| p.kind == BKind::Tower);
        let all_villa = plan.iter().all(|p| p.kind == BKind::Villa);
        let (gap_x, gap_y) = if all_villa {
            (8.0, 10.0)
        } else if has_tower {
            (16.0, 30.0)
        } else {
            (9.0, 20.0)
        };
        let mut cell_w = max_len + gap_x;
        let mut cell_h = max_dep + gap_y;
        let n = plan.len();
        let ratio = rng.gen_range(0.7..1.5);
        let cols = ((n as f64 * cell_h / cell_w * ratio).sqrt().round() as usize).clamp(1, n);
        let mut rows = n.div_ceil(cols);
        let (mut cut_c, mut cut_r) = (0, 0);
        if rows >= 3 && cols >= 3 && rng.gen_bool(0.25) {
            cut_c = cols / 2;
            cut_r = rows / 3;
            while rows * cols - cut_c * cut_r < n {
                rows += 1;
            }
        }
        let margin = Self::MARGIN;
        if let Some(target) = target_area {
            let area =
                (cols as f64 * cell_w + 2.0 * margin) * (rows as f64 * cell_h + 2.0 * margin);
            let k = (target / area).sqrt();
            cell_w = (cell_w * k).max(max_len + 6.0);
            cell_h = (cell_h * k).max(max_dep + 8.0);
        }
        Grid {
            cell_w,
            cell_h,
            cols,
            rows,
            cut_c,
            cut_r,
            w: cols as f64 * cell_w + 2.0 * margin,
            h: rows as f64 * cell_h + 2.0 * margin,
        }
    }

    /// The south-west corner of the compound.
    fn origin(&self) -> (f64, f64) {
        (-self.w / 2.0, -self.h / 2.0)
    }

    /// The compound's outline: a rectangle, or an L when a corner is cut out.
    fn outline(&self) -> Vec<Coord<f64>> {
        let margin = Self::MARGIN;
        let (x0, y0) = self.origin();
        if self.cut_c > 0 {
            let xc = x0 + margin + (self.cols - self.cut_c) as f64 * self.cell_w;
            let yc = -y0 - margin - self.cut_r as f64 * self.cell_h;
            vec![
                coord! { x: x0, y: y0 },
                coord! { x: -x0, y: y0 },
                coord! { x: -x0, y: yc },
                coord! { x: xc, y: yc },
                coord! { x: xc, y: -y0 },
                coord! { x: x0, y: -y0 },
                coord! { x: x0, y: y0 },
            ]
        } else {
            vec![
                coord! { x: x0, y: y0 },
                coord! { x: -x0, y: y0 },
                coord! { x: -x0, y: -y0 },
                coord! { x: x0, y: -y0 },
                coord! { x: x0, y: y0 },
            ]
        }
    }

    /// The buildings cell by cell from the north-west, skipping the cut, each jittered along
    /// its row, with its entrances.
    fn buildings<R: Rng>(
        &self,
        rng: &mut R,
        plan: &[BPlan],
        dims: &[(f64, f64)],
    ) -> Vec<PlacedBuilding> {
        let margin = Self::MARGIN;
        let (x0, y0) = self.origin();
        let n = plan.len();
        let mut buildings = Vec::with_capacity(n);
        let mut k = 0;
        'rows: for r in 0..self.rows {
            for c in 0..self.cols {
                if k == n {
                    break 'rows;
                }
                // Rows are counted from the north edge; the cut is the north-east block.
                if r < self.cut_r && c >= self.cols - self.cut_c {
                    continue;
                }
                let (len, dep) = dims[k];
                let jx = (self.cell_w - len - 4.0).max(0.0) * 0.3 * rng.gen_range(-1.0..1.0);
                let cx = x0 + margin + (c as f64 + 0.5) * self.cell_w + jx;
                let cy = -y0 - margin - (r as f64 + 0.5) * self.cell_h;
                buildings.push(building(plan[k], cx, cy, len, dep));
                k += 1;
            }
        }
        buildings
    }
}

/// A building's footprint centred at (`cx`, `cy`) and its entrances along one long side.
fn building(p: BPlan, cx: f64, cy: f64, len: f64, dep: f64) -> PlacedBuilding {
    let (hx, hy) = (len / 2.0, dep / 2.0);
    let fp = vec![
        coord! { x: cx - hx, y: cy - hy },
        coord! { x: cx + hx, y: cy - hy },
        coord! { x: cx + hx, y: cy + hy },
        coord! { x: cx - hx, y: cy + hy },
        coord! { x: cx - hx, y: cy - hy },
    ];
    // Slabs open to the north (living rooms face south); towers and villas to the south.
    let ey = if p.kind == BKind::Slab {
        cy + hy + 1.5
    } else {
        cy - hy - 1.5
    };
    let entrances = (0..p.units)
        .map(|u| coord! { x: cx - hx + (f64::from(u) + 0.5) * len / f64::from(p.units), y: ey })
        .collect();
    (fp, entrances)
}

fn place(c: Coord<f64>, theta: f64, at: Coord<f64>) -> Coord<f64> {
    let (s, co) = theta.sin_cos();
    coord! { x: at.x + c.x * co - c.y * s, y: at.y + c.x * s + c.y * co }
}

fn ring(points: &[Coord<f64>], theta: f64, at: Coord<f64>) -> Polygon<f64> {
    Polygon::new(
        LineString::from(
            points
                .iter()
                .map(|c| place(*c, theta, at))
                .collect::<Vec<_>>(),
        ),
        vec![],
    )
}

/// A street's boundary segments, to tell exactly whether an outline stays inside.
struct StreetIndex {
    edges: RTree<geo_types::Line<f64>>,
}

impl StreetIndex {
    /// The boundary segments of a street, outer rings and holes alike.
    fn new(s: &StreetCtx) -> StreetIndex {
        StreetIndex {
            edges: RTree::bulk_load(
                s.geom_m
                    .0
                    .iter()
                    .flat_map(|p| {
                        std::iter::once(p.exterior())
                            .chain(p.interiors().iter())
                            .flat_map(geo_types::LineString::lines)
                    })
                    .collect(),
            ),
        }
    }
}

/// Everything placed so far, to keep compounds apart.
struct Occupied {
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
    outlines: Vec<Polygon<f64>>,
}

impl Occupied {
    /// Nothing placed yet.
    fn new() -> Occupied {
        Occupied {
            tree: RTree::new(),
            outlines: Vec::new(),
        }
    }

    /// Marks a placed compound's outline as taken.
    fn insert(&mut self, outline: &Polygon<f64>) {
        if let Some(bb) = outline.bounding_rect() {
            let r = Rectangle::from_corners([bb.min().x, bb.min().y], [bb.max().x, bb.max().y]);
            self.tree.insert(GeomWithData::new(r, self.outlines.len()));
        }
        self.outlines.push(outline.clone());
    }
}

fn try_place(
    lay: &Layout,
    theta: f64,
    at: Coord<f64>,
    street: &StreetCtx,
    sidx: &StreetIndex,
    occ: &Occupied,
) -> Option<Polygon<f64>> {
    let outline = ring(&lay.outline, theta, at);
    // The outline with a road around it (7 m): it must stay clear of neighbours and of the
    // street boundary, so that rounding coordinates never pushes a corner across.
    let road = 7.0;
    let (hx, hy) = (lay.half.0 + road, lay.half.1 + road);
    let claim = ring(
        &[
            coord! { x: -hx, y: -hy },
            coord! { x: hx, y: -hy },
            coord! { x: hx, y: hy },
            coord! { x: -hx, y: hy },
            coord! { x: -hx, y: -hy },
        ],
        theta,
        at,
    );
    // Inside the street: a corner inside, and no edge crossing the street boundary.
    if !street.geom_m.contains(&Point(claim.exterior().0[0])) {
        return None;
    }
    let bb = claim.bounding_rect()?;
    let line_env = AABB::from_corners(
        Point::new(bb.min().x, bb.min().y),
        Point::new(bb.max().x, bb.max().y),
    );
    if sidx
        .edges
        .locate_in_envelope_intersecting(&line_env)
        .any(|e| claim.exterior().lines().any(|l| l.intersects(e)))
    {
        return None;
    }
    let cb = claim.bounding_rect()?;
    let cenv = AABB::from_corners([cb.min().x, cb.min().y], [cb.max().x, cb.max().y]);
    if occ
        .tree
        .locate_in_envelope_intersecting(&cenv)
        .any(|g| occ.outlines[g.data].intersects(&claim))
    {
        return None;
    }
    Some(outline)
}

/// Every compound to place: the named ones of the seed, then each district's share spread
/// over its streets by weight; calibrated, the named and the large first.
fn drafts<R: Rng>(
    rng: &mut R,
    scale: f64,
    districts: &[DistrictCtx],
    streets: &[StreetCtx],
) -> anyhow::Result<Vec<Draft>> {
    let mut book = NameBook::new(
        NAMED
            .iter()
            .flat_map(|n| std::iter::once(n.name).chain(n.aliases.iter().copied()))
            .map(str::to_string),
    );
    let mut drafts: Vec<Draft> = Vec::new();
    for n in NAMED {
        let street_idx = streets
            .iter()
            .position(|s| s.street.district_code == n.district && s.street.name == n.street)
            .ok_or_else(|| anyhow::anyhow!("street {} of {} not found", n.street, n.name))?;
        drafts.push(Draft {
            name: n.name.into(),
            aliases: n.aliases.iter().map(|s| (*s).to_string()).collect(),
            street_idx,
            year: n.year,
            plan: (n.plan)(),
            target_area: n.target_area_m2,
            hot: n.hot,
            boosts: n.boosts.to_vec(),
            fixed: true,
        });
    }
    for (di, d) in districts.iter().enumerate() {
        let share = DISTRICT_COMPOUNDS
            .iter()
            .find(|(c, _)| *c == d.district.code)
            .map_or(0, |(_, n)| *n);
        let named_here = NAMED
            .iter()
            .filter(|n| n.district == d.district.code)
            .count();
        let total = ((f64::from(share) * scale).round() as usize).saturating_sub(named_here);
        let idx: Vec<usize> = (0..streets.len())
            .filter(|i| streets[*i].district_idx == di)
            .collect();
        let weights: Vec<f64> = idx.iter().map(|i| streets[*i].weight).collect();
        let per_street = largest_remainder(total, &weights);
        let urban = d.urban_share >= 0.95;
        for (k, &si) in idx.iter().enumerate() {
            for _ in 0..per_street[k] {
                let name = book.compound(rng);
                let aliases = book.aliases(rng, &name);
                let old_city = matches!(d.district.code.as_str(), "370202" | "370203");
                let year = if old_city {
                    rng.gen_range(1982..=2016)
                } else {
                    rng.gen_range(1990..=2022)
                };
                let hot = if rng.gen_bool(0.07) {
                    rng.gen_range(2.5..6.0)
                } else {
                    1.0
                };
                drafts.push(Draft {
                    name,
                    aliases,
                    street_idx: si,
                    year,
                    plan: draw_plan(rng, urban),
                    target_area: None,
                    hot,
                    boosts: Vec::new(),
                    fixed: false,
                });
            }
        }
    }
    calibrate(rng, &mut drafts, scale);
    // Large estates first: they are the hard ones to fit; the named ones before all.
    drafts.sort_by_key(|d| (!d.fixed, std::cmp::Reverse(d.plan.len())));
    Ok(drafts)
}

/// Where a compound goes: its street, the angle of its layout, its centre and its outline.
type Spot = (usize, f64, Coord<f64>, Polygon<f64>);

/// What placing reads and keeps: the streets with their edges, orientations and centres, each
/// district's taken ground, and the streets found full.
struct Ground<'a> {
    districts: &'a [DistrictCtx],
    streets: &'a [StreetCtx],
    edges: Vec<StreetIndex>,
    theta: Vec<f64>,
    /// Each street's seed in degrees, to order other districts' streets by distance.
    seed_ll: Vec<Coord<f64>>,
    occupied: Vec<Occupied>,
    /// Consecutive compounds a street had no room for; at `FULL` other districts' compounds
    /// no longer try it (its own district's still do: a smaller one may fit). The full city
    /// at scale 1 never spills, so it is placed exactly as before spilling existed.
    misses: Vec<u8>,
}

/// A street that had no room for this many compounds in a row is full to other districts.
const FULL: u8 = 3;

impl<'a> Ground<'a> {
    fn new<R: Rng>(rng: &mut R, districts: &'a [DistrictCtx], streets: &'a [StreetCtx]) -> Self {
        Ground {
            districts,
            streets,
            edges: streets.iter().map(StreetIndex::new).collect(),
            theta: streets.iter().map(|_| rng.gen_range(-0.3..0.3)).collect(),
            seed_ll: streets
                .iter()
                .map(|s| districts[s.district_idx].frame.to_ll(s.seed_m))
                .collect(),
            occupied: districts.iter().map(|_| Occupied::new()).collect(),
            misses: vec![0; streets.len()],
        }
    }

    /// The streets to try for a draft, in order: its home street; unless it is a named one,
    /// the district's other streets by weight, then — when the district is full, as the old
    /// city is above scale ~1.5 — every other district's streets, nearest first.
    fn candidates(&self, draft: &Draft) -> Vec<usize> {
        let home = draft.street_idx;
        if draft.fixed {
            return vec![home];
        }
        let di = self.streets[home].district_idx;
        let mut own: Vec<usize> = (0..self.streets.len())
            .filter(|i| self.streets[*i].district_idx == di && *i != home)
            .collect();
        own.sort_by(|a, b| self.streets[*b].weight.total_cmp(&self.streets[*a].weight));
        let at = self.seed_ll[home];
        let far = |i: usize| {
            let c = self.seed_ll[i];
            (c.x - at.x).hypot((c.y - at.y) * 1.25)
        };
        let mut other: Vec<usize> = (0..self.streets.len())
            .filter(|i| self.streets[*i].district_idx != di && self.misses[*i] < FULL)
            .collect();
        other.sort_by(|a, b| far(*a).total_cmp(&far(*b)));
        std::iter::once(home).chain(own).chain(other).collect()
    }

    /// A free spot for a layout: tried on its home street first (300 times), then on the
    /// other candidate streets (60 times each). A street with no room for it counts a miss.
    fn find_spot<R: Rng>(
        &mut self,
        rng: &mut R,
        draft: &Draft,
        lay: &Layout,
    ) -> anyhow::Result<Option<Spot>> {
        for si in self.candidates(draft) {
            let s = &self.streets[si];
            let Some(bbox) = s.geom_m.bounding_rect() else {
                continue;
            };
            let urban_share = self.districts[s.district_idx].urban_share;
            let occupied = &self.occupied[s.district_idx];
            let sigma = (s.area_m2.sqrt() * 0.18).max(600.0);
            let tries = if si == draft.street_idx { 300 } else { 60 };
            for t in 0..tries {
                let at = if urban_share < 0.95 && t < tries / 2 {
                    let n = Normal::new(0.0, sigma)?;
                    coord! { x: s.seed_m.x + n.sample(rng), y: s.seed_m.y + n.sample(rng) }
                } else {
                    coord! { x: rng.gen_range(bbox.min().x..=bbox.max().x), y: rng.gen_range(bbox.min().y..=bbox.max().y) }
                };
                let theta = self.theta[si] + rng.gen_range(-0.08..0.08);
                if let Some(outline) = try_place(lay, theta, at, s, &self.edges[si], occupied) {
                    self.misses[si] = 0;
                    return Ok(Some((si, theta, at, outline)));
                }
            }
            self.misses[si] = self.misses[si].saturating_add(1);
        }
        Ok(None)
    }
}

impl Estates {
    /// The buildings and units of a placed layout; returns the compound's households.
    fn add_buildings(
        &mut self,
        compound_id: i64,
        lay: &Layout,
        plan: &[BPlan],
        frame: &super::frame::Frame,
        theta: f64,
        at: Coord<f64>,
    ) -> i32 {
        let mut households = 0;
        for (k, ((fp, entrances), p)) in lay.buildings.iter().zip(plan.iter()).enumerate() {
            let building_id = self.buildings.len() as i64 + 1;
            self.unit_start.push(self.units.len());
            for (u, e) in entrances.iter().enumerate() {
                self.units.push(Unit {
                    id: self.units.len() as i64 + 1,
                    building_id,
                    name: format!("{}单元", u + 1),
                    households: p.hh_per_unit(),
                    geom: Point(frame.to_ll(place(*e, theta, at))),
                });
                self.unit_shapes.push(UnitShape {
                    floors: p.floors,
                    per_floor: if p.kind == BKind::Villa {
                        1
                    } else {
                        p.hh_per_floor
                    },
                });
            }
            households += p.households();
            self.buildings.push(Building {
                id: building_id,
                compound_id,
                name: format!("{}号楼", k + 1),
                floors: p.floors,
                households: p.households(),
                geom: frame.geom_to_ll(&ring(fp, theta, at)),
            });
        }
        households
    }
}

pub fn generate<R: Rng>(
    rng: &mut R,
    scale: f64,
    districts: &[DistrictCtx],
    streets: &[StreetCtx],
    n_companies: usize,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Estates> {
    let drafts = drafts(rng, scale, districts, streets)?;
    let mut ground = Ground::new(rng, districts, streets);

    // Companies: a few large firms run many compounds, most run a handful.
    let company_weights: Vec<f64> = (0..n_companies).map(|i| 1.0 / (i as f64 + 8.0)).collect();
    let company_pick = rand::distributions::WeightedIndex::new(&company_weights)?;

    let mut out = Estates {
        estates: Vec::new(),
        buildings: Vec::new(),
        units: Vec::new(),
        unit_shapes: Vec::new(),
        unit_start: Vec::new(),
        unplaced: 0,
    };
    progress.set_length(drafts.len() as u64);
    for draft in drafts {
        progress.inc(1);
        let lay = layout(rng, &draft.plan, draft.target_area);
        let Some((si, theta, at, outline)) = ground.find_spot(rng, &draft, &lay)? else {
            out.unplaced += 1;
            let home = &districts[streets[draft.street_idx].district_idx];
            tracing::debug!(district = %home.district.name, buildings = draft.plan.len(), "compound could not be placed");
            continue;
        };
        // The street that had room: the home street, or another where the home district is
        // full; the compound belongs to the district it stands in.
        let di = streets[si].district_idx;
        let d = &districts[di];
        ground.occupied[di].insert(&outline);

        let compound_id = out.estates.len() as i64 + 1;
        let b_start = out.buildings.len();
        let households = out.add_buildings(compound_id, &lay, &draft.plan, &d.frame, theta, at);
        out.estates.push(Estate {
            compound: Compound {
                id: compound_id,
                name: draft.name,
                aliases: draft.aliases,
                district_code: d.district.code.clone(),
                street_code: streets[si].street.code.clone(),
                company_id: company_pick.sample(rng) as i64 + 1,
                year_built: draft.year,
                households,
                geom: MultiPolygon(vec![d.frame.geom_to_ll(&outline)]),
            },
            street_idx: si,
            district_idx: di,
            buildings: b_start..out.buildings.len(),
            hot: draft.hot,
            boosts: draft.boosts,
            named: draft.fixed,
        });
    }
    out.unit_start.push(out.units.len());
    Ok(out)
}
