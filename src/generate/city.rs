//! The real frame of the demo city: Qingdao's 10 districts (real boundaries, WGS84) and their
//! streets and towns (real NBS codes), with street areas made as seeded Voronoi cells clipped to
//! their district, since no public source ships street polygons.

use super::frame::Frame;
use crate::model::{District, Street};
use geo::orient::Direction;
use geo::{Area, BooleanOps, BoundingRect, Buffer, Contains, Orient, Validation};
use geo_types::{coord, Coord, LineString, MultiPolygon, Point, Polygon};
use rand::Rng;
use rand_distr::{Distribution, Normal};

const DISTRICTS_GEOJSON: &str =
    include_str!("../../assets/qingdao/qingdao_districts_wgs84.geojson");
const STREETS_CSV: &str = include_str!("../../assets/qingdao/qingdao_streets_2023.csv");

/// A district with what the generator needs to place things in it.
pub struct DistrictCtx {
    pub district: District,
    pub frame: Frame,
    /// The district polygon in the local frame (metres).
    pub geom_m: MultiPolygon<f64>,
    pub center_m: Coord<f64>,
    /// Share of urban residents' committees: 1.0 for the old city, low for rural areas.
    pub urban_share: f64,
}

/// A street with its polygon in metres and its weight for placing compounds.
pub struct StreetCtx {
    pub street: Street,
    pub district_idx: usize,
    pub geom_m: MultiPolygon<f64>,
    pub seed_m: Coord<f64>,
    pub weight: f64,
    pub area_m2: f64,
}

/// How many of the city's ~4,200 compounds each district holds at scale 1.0. The split follows
/// where urban residents live (residents' committees, urban population), e.g. 市南区's "220+
/// property projects" of DOMAIN.md and few compounds in rural 平度市 and 莱西市.
pub const DISTRICT_COMPOUNDS: [(&str, u32); 10] = [
    ("370202", 230),  // 市南区
    ("370203", 620),  // 市北区
    ("370211", 1050), // 黄岛区 (西海岸新区)
    ("370212", 330),  // 崂山区
    ("370213", 380),  // 李沧区
    ("370214", 600),  // 城阳区
    ("370215", 380),  // 即墨区
    ("370281", 300),  // 胶州市
    ("370283", 170),  // 平度市
    ("370285", 140),  // 莱西市
];

struct StreetRow {
    district_code: String,
    code: String,
    name: String,
    kind: String,
    communities: f64,
    villages: f64,
}

fn street_rows() -> anyhow::Result<Vec<StreetRow>> {
    let mut r = csv::Reader::from_reader(STREETS_CSV.as_bytes());
    let mut out = Vec::new();
    for row in r.records() {
        let row = row?;
        let kind = row.get(4).unwrap_or_default().to_string();
        // Development zones and reserves overlap real streets: leave them out (see the data README).
        if kind != "街道" && kind != "镇" {
            continue;
        }
        out.push(StreetRow {
            district_code: row.get(0).unwrap_or_default().to_string(),
            code: row.get(2).unwrap_or_default().to_string(),
            name: row.get(3).unwrap_or_default().to_string(),
            kind,
            communities: row.get(5).unwrap_or("0").parse().unwrap_or(0.0),
            villages: row.get(6).unwrap_or("0").parse().unwrap_or(0.0),
        });
    }
    Ok(out)
}

/// Loads the districts from the bundled reference data.
pub fn districts() -> anyhow::Result<Vec<DistrictCtx>> {
    let fc: geojson::FeatureCollection =
        DISTRICTS_GEOJSON.parse::<geojson::GeoJson>()?.try_into()?;
    let rows = street_rows()?;
    let mut out = Vec::new();
    for f in fc.features {
        let prop = |k: &str| {
            f.property(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let code = prop("adcode");
        let geom: geo_types::Geometry<f64> = f
            .geometry
            .clone()
            .ok_or_else(|| anyhow::anyhow!("district {code} has no geometry"))?
            .try_into()?;
        let geom = match geom {
            geo_types::Geometry::MultiPolygon(mp) => mp,
            geo_types::Geometry::Polygon(p) => MultiPolygon(vec![p]),
            _ => anyhow::bail!("district {code} is not polygonal"),
        };
        let center = f
            .property("center")
            .and_then(|v| v.as_array())
            .and_then(|a| Some(coord! { x: a.first()?.as_f64()?, y: a.get(1)?.as_f64()? }))
            .ok_or_else(|| anyhow::anyhow!("district {code} has no center"))?;
        let frame = Frame::new(center.x, center.y);
        let (c, v) = rows
            .iter()
            .filter(|r| r.district_code == code)
            .fold((0.0, 0.0), |(c, v), r| (c + r.communities, v + r.villages));
        out.push(DistrictCtx {
            geom_m: frame.geom_to_m(&geom),
            center_m: frame.to_m(center),
            frame,
            urban_share: if c + v > 0.0 { c / (c + v) } else { 0.0 },
            district: District {
                code,
                name: prop("name"),
                name_en: prop("name_en"),
                geom,
            },
        });
    }
    out.sort_by(|a, b| a.district.code.cmp(&b.district.code));
    Ok(out)
}

/// Clips a convex polygon by the half-plane of points nearer to `a` than to `b`.
fn clip_half_plane(poly: &[Coord<f64>], a: Coord<f64>, b: Coord<f64>) -> Vec<Coord<f64>> {
    let n = coord! { x: b.x - a.x, y: b.y - a.y };
    let m = coord! { x: f64::midpoint(a.x, b.x), y: f64::midpoint(a.y, b.y) };
    let side = |p: Coord<f64>| (p.x - m.x) * n.x + (p.y - m.y) * n.y; // <= 0 is a's side
    let mut out = Vec::with_capacity(poly.len() + 1);
    for i in 0..poly.len() {
        let p = poly[i];
        let q = poly[(i + 1) % poly.len()];
        let (sp, sq) = (side(p), side(q));
        if sp <= 0.0 {
            out.push(p);
        }
        if (sp <= 0.0) != (sq <= 0.0) {
            let t = sp / (sp - sq);
            out.push(coord! { x: p.x + t * (q.x - p.x), y: p.y + t * (q.y - p.y) });
        }
    }
    out
}

fn sample_in<R: Rng>(
    rng: &mut R,
    geom: &MultiPolygon<f64>,
    around: Option<(Coord<f64>, f64)>,
) -> Option<Coord<f64>> {
    let bbox = geom.bounding_rect()?;
    for _ in 0..2000 {
        let c = match around {
            Some((center, sigma)) => {
                let n = Normal::new(0.0, sigma).ok()?;
                coord! { x: center.x + n.sample(rng), y: center.y + n.sample(rng) }
            }
            None => coord! {
                x: rng.gen_range(bbox.min().x..bbox.max().x),
                y: rng.gen_range(bbox.min().y..bbox.max().y),
            },
        };
        if geom.contains(&Point(c)) {
            return Some(c);
        }
    }
    None
}

/// Makes the street areas of every district: seeds inside the district (街道 near the urban
/// core where the district is mixed, 镇 anywhere), Voronoi cells, clipped to the district.
pub fn streets<R: Rng>(rng: &mut R, districts: &[DistrictCtx]) -> anyhow::Result<Vec<StreetCtx>> {
    let rows = street_rows()?;
    let mut out = Vec::new();
    for (di, d) in districts.iter().enumerate() {
        let rows: Vec<&StreetRow> = rows
            .iter()
            .filter(|r| r.district_code == d.district.code)
            .collect();
        let seeds = street_seeds(rng, d, &rows)?;
        let bbox = d
            .geom_m
            .bounding_rect()
            .ok_or_else(|| anyhow::anyhow!("empty district"))?;
        for (i, r) in rows.iter().enumerate() {
            let (geom_m, geom) = street_area(d, bbox, &seeds, i, &r.name)?;
            let area_m2 = geom_m.unsigned_area();
            out.push(StreetCtx {
                street: Street {
                    code: r.code.clone(),
                    name: r.name.clone(),
                    district_code: d.district.code.clone(),
                    kind: r.kind.clone(),
                    geom,
                },
                district_idx: di,
                geom_m,
                seed_m: seeds[i],
                weight: r.communities + 0.15 * r.villages + 1.0,
                area_m2,
            });
        }
    }
    Ok(out)
}

/// One seed per street of the district, each kept a spacing away from the seeds before it.
fn street_seeds<R: Rng>(
    rng: &mut R,
    d: &DistrictCtx,
    rows: &[&StreetRow],
) -> anyhow::Result<Vec<Coord<f64>>> {
    let area = d.geom_m.unsigned_area();
    let spacing = (area / rows.len().max(1) as f64).sqrt();
    let mut seeds: Vec<Coord<f64>> = Vec::new();
    for r in rows {
        let around = if r.kind == "街道" && d.urban_share < 0.95 {
            Some((d.center_m, (area.sqrt() * 0.12).max(2_000.0)))
        } else {
            None
        };
        let mut best = None;
        for attempt in 0..400 {
            let Some(c) =
                sample_in(rng, &d.geom_m, around).or_else(|| sample_in(rng, &d.geom_m, None))
            else {
                break;
            };
            let min_gap = spacing
                * if attempt < 200 { 0.45 } else { 0.2 }
                * if around.is_some() { 0.4 } else { 1.0 };
            if seeds
                .iter()
                .all(|s| ((s.x - c.x).powi(2) + (s.y - c.y).powi(2)).sqrt() > min_gap)
            {
                best = Some(c);
                break;
            }
        }
        let c = best.ok_or_else(|| anyhow::anyhow!("cannot seed street {}", r.name))?;
        seeds.push(c);
    }
    Ok(seeds)
}

/// Street `i`'s Voronoi cell clipped to the district and made valid: in metres and in WGS84.
fn street_area(
    d: &DistrictCtx,
    bbox: geo_types::Rect<f64>,
    seeds: &[Coord<f64>],
    i: usize,
    name: &str,
) -> anyhow::Result<(MultiPolygon<f64>, MultiPolygon<f64>)> {
    let (lo, hi) = (bbox.min(), bbox.max());
    let mut cell = vec![
        coord! { x: lo.x - 1.0, y: lo.y - 1.0 },
        coord! { x: hi.x + 1.0, y: lo.y - 1.0 },
        coord! { x: hi.x + 1.0, y: hi.y + 1.0 },
        coord! { x: lo.x - 1.0, y: hi.y + 1.0 },
    ];
    for (j, s) in seeds.iter().enumerate() {
        if i != j {
            cell = clip_half_plane(&cell, seeds[i], *s);
        }
    }
    let cell = Polygon::new(LineString::from(cell), vec![]);
    let clipped = d.geom_m.intersection(&MultiPolygon(vec![cell]));
    // Drop crumbs that quantised district edges leave behind.
    let parts: Vec<Polygon<f64>> = clipped
        .0
        .into_iter()
        .filter(|p| p.unsigned_area() > 20_000.0)
        .collect();
    // Where the district outline pinches (rings touching at a point), the overlay
    // returns self-touching rings, which OGC calls invalid: shrinking by a metre opens
    // every pinch into separate parts.
    // A few pinches need more than a metre; try wider until the result is valid.
    let cell = MultiPolygon(parts);
    for shrink in [1.0, 2.0, 4.0, 8.0, 16.0] {
        let geom_m = cell.buffer(-shrink).orient(Direction::Default);
        let geom = d.frame.geom_to_ll(&geom_m);
        if geom.is_valid() && !geom.0.is_empty() {
            return Ok((geom_m, geom));
        }
    }
    Err(anyhow::anyhow!(
        "street {} of {} cannot be made valid",
        name,
        d.district.name
    ))
}
