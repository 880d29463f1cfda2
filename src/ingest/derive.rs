//! Links the source does not carry, derived on import from where things are, and ids the
//! source does not give, generated stably.
//!
//! A bureau's housing database often holds each layer on its own: buildings without the code of
//! their compound, unit points without their building, compounds without street or district
//! codes, features without ids. After the files are read (and before the store takes them),
//! [`links`] fills what is blank:
//!
//! - an id: a hash of the layer, the name and the coordinates, at or above 2^40 (so never one a
//!   source gives) and under 2^53 (exact in JavaScript): the same input gives the same ids, and
//!   importing the same file again changes nothing;
//! - a street's district, a compound's street and district: the area that contains its inside
//!   point (a compound with a street but no district takes its street's district);
//! - a building's compound: the compound that contains its inside point;
//! - a unit's building: the building that contains it, else the nearest within
//!   [`LinkOptions::unit_distance_m`].
//!
//! Areas are looked for among the imported records and those already stored. When two areas
//! contain the inside point, or none does but the shape overlaps one, the one with the largest
//! overlap is taken and the choice is listed in the report with every candidate; when two
//! buildings are equally near a unit (within a metre), the nearest is taken and listed. When
//! nothing fits, the import fails naming the file, the feature and the field.

use crate::io::FormatError;
use crate::model::{Building, Compound, Dataset, District, Layer, Street};
use geo::{
    Area, BooleanOps, BoundingRect, Closest, ClosestPoint, Contains, CoordsIter, Distance,
    Haversine, InteriorPoint,
};
use geo_types::{MultiPolygon, Point, Polygon, Rect};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// How links are derived.
#[derive(Debug, Clone, Copy)]
pub struct LinkOptions {
    /// How far (metres) a unit point outside every building may be from the building it is
    /// given (`--unit-distance`).
    pub unit_distance_m: f64,
}

impl Default for LinkOptions {
    fn default() -> Self {
        LinkOptions {
            unit_distance_m: 30.0,
        }
    }
}

/// Where an import's records came from, in reading order: to name them in errors and reports.
#[derive(Debug, Clone, Default)]
pub struct Origins(Vec<(Layer, PathBuf, usize, usize)>);

impl Origins {
    /// Notes that `path` gave the records of `data` (appended to the import in this order),
    /// numbered from `first` (1 for features, 2 for the lines of a CSV file under its header).
    pub fn record(&mut self, path: &Path, data: &Dataset, first: usize) {
        for (layer, n) in [
            (Layer::Districts, data.districts.len()),
            (Layer::Streets, data.streets.len()),
            (Layer::Compounds, data.compounds.len()),
            (Layer::Buildings, data.buildings.len()),
            (Layer::Units, data.units.len()),
        ] {
            if n > 0 {
                self.0.push((layer, path.to_path_buf(), n, first));
            }
        }
    }

    /// The file and feature (or line) number of a layer's `index`th record.
    fn locate(&self, layer: Layer, index: usize) -> (PathBuf, usize) {
        let mut i = index;
        for (l, path, n, first) in &self.0 {
            if *l != layer {
                continue;
            }
            if i < *n {
                return (path.clone(), i + first);
            }
            i -= n;
        }
        (PathBuf::new(), index + 1)
    }
}

/// One derivation made between several candidates, or from a shape only partly inside.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Ambiguity {
    pub layer: &'static str,
    pub file: String,
    pub feature: usize,
    pub name: String,
    /// The field derived, e.g. `compound_id`.
    pub field: &'static str,
    /// The value given.
    pub chosen: String,
    /// Every candidate, the chosen first.
    pub candidates: Vec<String>,
    pub reason: String,
}

/// What [`links`] did, as the import's report shows it.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LinkReport {
    /// Ids generated, per layer.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub generated_ids: BTreeMap<&'static str, usize>,
    /// Links derived, per `layer.field`, counted by how (`inside`, `overlap`, `nearest`,
    /// `street`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub derived: BTreeMap<String, BTreeMap<&'static str, usize>>,
    /// Derivations chosen among several candidates, for someone to check.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ambiguous: Vec<Ambiguity>,
}

impl LinkReport {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.generated_ids.is_empty() && self.derived.is_empty() && self.ambiguous.is_empty()
    }

    fn count(&mut self, layer: Layer, field: &str, how: &'static str) {
        *self
            .derived
            .entry(format!("{}.{field}", layer.name()))
            .or_default()
            .entry(how)
            .or_default() += 1;
    }
}

/// Whether any id or link of `data` is blank (so that [`links`] has something to do, and the
/// stored geography must be read for it).
#[must_use]
pub fn needed(data: &Dataset) -> bool {
    data.streets.iter().any(|s| s.district_code.is_empty())
        || data
            .compounds
            .iter()
            .any(|c| c.id == 0 || c.street_code.is_empty() || c.district_code.is_empty())
        || data
            .buildings
            .iter()
            .any(|b| b.id == 0 || b.compound_id == 0)
        || data.units.iter().any(|u| u.id == 0 || u.building_id == 0)
}

/// Fills the blank ids and links of `incoming` (see the module's documentation), looking for
/// areas among `incoming` and `stored` (an incoming record replaces the stored one of its key).
pub fn links(
    incoming: &mut Dataset,
    origins: &Origins,
    stored: &Dataset,
    opts: LinkOptions,
) -> Result<LinkReport, FormatError> {
    let mut report = LinkReport::default();
    generate_ids(incoming, &mut report);
    let ctx = Ctx { origins };

    if incoming.streets.iter().any(|s| s.district_code.is_empty()) {
        let districts = Areas::new(&incoming.districts, &stored.districts, |d: &District| {
            (d.code.clone(), &d.geom)
        });
        for (k, s) in incoming.streets.iter_mut().enumerate() {
            if s.district_code.is_empty() {
                let at = ctx.at(Layer::Streets, k, &s.name, "district_code");
                s.district_code = Ctx::within(&at, &s.geom, &districts, "district", &mut report)?;
            }
        }
    }

    if incoming
        .compounds
        .iter()
        .any(|c| c.street_code.is_empty() || c.district_code.is_empty())
    {
        let streets = Areas::new(&incoming.streets, &stored.streets, |s: &Street| {
            (s.code.clone(), &s.geom)
        });
        let districts = Areas::new(&incoming.districts, &stored.districts, |d: &District| {
            (d.code.clone(), &d.geom)
        });
        let street_district: HashMap<&str, &str> = stored
            .streets
            .iter()
            .chain(&incoming.streets)
            .map(|s| (s.code.as_str(), s.district_code.as_str()))
            .collect();
        for (k, c) in incoming.compounds.iter_mut().enumerate() {
            if c.street_code.is_empty() {
                let at = ctx.at(Layer::Compounds, k, &c.name, "street_code");
                c.street_code = Ctx::within(&at, &c.geom, &streets, "street", &mut report)?;
            }
            if c.district_code.is_empty() {
                if let Some(d) = street_district.get(c.street_code.as_str()) {
                    c.district_code = (*d).to_string();
                    report.count(Layer::Compounds, "district_code", "street");
                } else {
                    let at = ctx.at(Layer::Compounds, k, &c.name, "district_code");
                    c.district_code =
                        Ctx::within(&at, &c.geom, &districts, "district", &mut report)?;
                }
            }
        }
    }

    if incoming.buildings.iter().any(|b| b.compound_id == 0) {
        let compounds = Areas::new(&incoming.compounds, &stored.compounds, |c: &Compound| {
            (c.id.to_string(), &c.geom)
        });
        for (k, b) in incoming.buildings.iter_mut().enumerate() {
            if b.compound_id == 0 {
                let at = ctx.at(Layer::Buildings, k, &b.name, "compound_id");
                let shape = MultiPolygon(vec![b.geom.clone()]);
                let id = Ctx::within(&at, &shape, &compounds, "compound", &mut report)?;
                b.compound_id = id.parse().unwrap_or_default();
            }
        }
    }

    if incoming.units.iter().any(|u| u.building_id == 0) {
        let buildings = Areas::new(&incoming.buildings, &stored.buildings, |b: &Building| {
            (b.id.to_string(), &b.geom)
        });
        for (k, u) in incoming.units.iter_mut().enumerate() {
            if u.building_id == 0 {
                let at = ctx.at(Layer::Units, k, &u.name, "building_id");
                let id = Ctx::building_of(&at, u.geom, &buildings, opts, &mut report)?;
                u.building_id = id.parse().unwrap_or_default();
            }
        }
    }
    Ok(report)
}

/// An id from the layer, the name and the coordinates: at or above 2^40, under 2^53.
fn stable_id(layer: Layer, name: &str, coords: impl Iterator<Item = (f64, f64)>, salt: u32) -> i64 {
    // FNV-1a: fixed, unlike the std hashers, from one build and machine to the next.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(layer.name().as_bytes());
    eat(&[0]);
    eat(name.as_bytes());
    eat(&[0]);
    eat(&salt.to_le_bytes());
    for (x, y) in coords {
        // To 1e-7 degrees (about a centimetre): the same file read again gives the same bytes.
        eat(&((x * 1e7).round() as i64).to_le_bytes());
        eat(&((y * 1e7).round() as i64).to_le_bytes());
    }
    const LOW: u64 = 1 << 40;
    const SPAN: u64 = (1 << 53) - LOW;
    i64::try_from(LOW + h % SPAN).unwrap_or(i64::MAX)
}

fn generate_ids(data: &mut Dataset, report: &mut LinkReport) {
    fn fill<T>(
        layer: Layer,
        items: &mut [T],
        id: impl Fn(&mut T) -> &mut i64,
        key: impl Fn(&T) -> (String, Vec<(f64, f64)>),
        report: &mut LinkReport,
    ) {
        let mut taken: HashSet<i64> = items
            .iter_mut()
            .map(|t| *id(t))
            .filter(|i| *i != 0)
            .collect();
        let mut made = 0;
        for t in items.iter_mut() {
            if *id(t) != 0 {
                continue;
            }
            let (name, coords) = key(t);
            // Two features alike in name and shape: the second takes the next salt.
            let new = (0..u32::MAX)
                .map(|salt| stable_id(layer, &name, coords.iter().copied(), salt))
                .find(|i| !taken.contains(i))
                .unwrap_or_default();
            taken.insert(new);
            *id(t) = new;
            made += 1;
        }
        if made > 0 {
            report.generated_ids.insert(layer.name(), made);
        }
    }
    fill(
        Layer::Compounds,
        &mut data.compounds,
        |c| &mut c.id,
        |c| {
            (
                c.name.clone(),
                c.geom.coords_iter().map(|p| (p.x, p.y)).collect(),
            )
        },
        report,
    );
    fill(
        Layer::Buildings,
        &mut data.buildings,
        |b| &mut b.id,
        |b| {
            (
                b.name.clone(),
                b.geom.coords_iter().map(|p| (p.x, p.y)).collect(),
            )
        },
        report,
    );
    fill(
        Layer::Units,
        &mut data.units,
        |u| &mut u.id,
        |u| (u.name.clone(), vec![(u.geom.x(), u.geom.y())]),
        report,
    );
}

type BoxTree = RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>;

/// The areas a derivation looks in: the imported ones and the stored ones they do not replace,
/// by key, with a box index.
struct Areas<'a, G> {
    items: Vec<(String, &'a G)>,
    tree: BoxTree,
}

impl<'a, G: BoundingRect<f64>> Areas<'a, G>
where
    G::Output: Into<Option<Rect<f64>>>,
{
    fn new<T>(incoming: &'a [T], stored: &'a [T], of: impl Fn(&'a T) -> (String, &'a G)) -> Self {
        let fresh: Vec<(String, &G)> = incoming.iter().map(&of).collect();
        let keys: HashSet<&str> = fresh.iter().map(|(k, _)| k.as_str()).collect();
        let kept: Vec<(String, &G)> = stored
            .iter()
            .map(&of)
            .filter(|(k, _)| !keys.contains(k.as_str()))
            .collect();
        let items: Vec<(String, &G)> = kept.into_iter().chain(fresh).collect();
        let tree = RTree::bulk_load(
            items
                .iter()
                .enumerate()
                .filter_map(|(k, (_, g))| {
                    let r: Rect<f64> = g.bounding_rect().into()?;
                    Some(GeomWithData::new(
                        Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                        k,
                    ))
                })
                .collect(),
        );
        Areas { items, tree }
    }

    fn near(&self, r: Rect<f64>) -> impl Iterator<Item = usize> + '_ {
        self.tree
            .locate_in_envelope_intersecting(&AABB::from_corners(
                [r.min().x, r.min().y],
                [r.max().x, r.max().y],
            ))
            .map(|e| e.data)
    }
}

/// The record a derivation is for.
struct At {
    layer: Layer,
    file: PathBuf,
    feature: usize,
    name: String,
    field: &'static str,
}

struct Ctx<'a> {
    origins: &'a Origins,
}

impl Ctx<'_> {
    fn at(&self, layer: Layer, index: usize, name: &str, field: &'static str) -> At {
        let (file, feature) = self.origins.locate(layer, index);
        At {
            layer,
            file,
            feature,
            name: name.to_string(),
            field,
        }
    }

    fn fail(at: &At, message: String) -> FormatError {
        FormatError {
            file: at.file.clone(),
            feature: Some(at.feature),
            id: None,
            field: Some(at.field.to_string()),
            message: format!("`{}`: {message}", at.name),
        }
    }

    fn listed(
        at: &At,
        chosen: &str,
        candidates: Vec<String>,
        reason: String,
        report: &mut LinkReport,
    ) {
        report.ambiguous.push(Ambiguity {
            layer: at.layer.name(),
            file: at.file.display().to_string(),
            feature: at.feature,
            name: at.name.clone(),
            field: at.field,
            chosen: chosen.to_string(),
            candidates,
            reason,
        });
    }

    /// The key of the area that holds `shape`: the one containing its inside point, else (or
    /// among several) the one it overlaps most, listed.
    fn within(
        at: &At,
        shape: &MultiPolygon<f64>,
        areas: &Areas<'_, MultiPolygon<f64>>,
        what: &str,
        report: &mut LinkReport,
    ) -> Result<String, FormatError> {
        let (Some(rect), Some(inside)) = (shape.bounding_rect(), shape.interior_point()) else {
            return Err(Self::fail(at, "has no shape to place".into()));
        };
        let near: Vec<usize> = areas.near(rect).collect();
        let holding: Vec<usize> = near
            .iter()
            .copied()
            .filter(|&k| areas.items[k].1.contains(&inside))
            .collect();
        if let [k] = holding.as_slice() {
            report.count(at.layer, at.field, "inside");
            return Ok(areas.items[*k].0.clone());
        }
        let mut overlaps: Vec<(usize, f64)> = near
            .iter()
            .map(|&k| (k, areas.items[k].1.intersection(shape).unsigned_area()))
            .filter(|(_, a)| *a > 0.0)
            .collect();
        overlaps.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let Some(&(best, _)) = overlaps.first() else {
            return Err(Self::fail(
                at,
                format!(
                    "no {what} contains or overlaps it: give `{}` in the source (or map it), or import the {what} layer",
                    at.field
                ),
            ));
        };
        let total = shape.unsigned_area().max(f64::MIN_POSITIVE);
        let key = areas.items[best].0.clone();
        let candidates = overlaps
            .iter()
            .map(|(k, a)| {
                format!(
                    "{} ({:.0}% of it)",
                    areas.items[*k].0,
                    (100.0 * a / total).min(100.0)
                )
            })
            .collect();
        let reason = if holding.is_empty() {
            format!(
                "its inside point is in no {what}; it overlaps {} of them, the largest overlap taken",
                overlaps.len()
            )
        } else {
            format!(
                "its inside point is in {} {what}s; the largest overlap taken",
                holding.len()
            )
        };
        Self::listed(at, &key, candidates, reason, report);
        report.count(at.layer, at.field, "overlap");
        Ok(key)
    }

    /// The key of the building a unit point is in, else of the nearest within the distance.
    fn building_of(
        at: &At,
        p: Point<f64>,
        buildings: &Areas<'_, Polygon<f64>>,
        opts: LinkOptions,
        report: &mut LinkReport,
    ) -> Result<String, FormatError> {
        let limit = opts.unit_distance_m;
        let dlat = limit / 111_320.0;
        let dlon = dlat / p.y().to_radians().cos().max(0.01);
        let rect = Rect::new((p.x() - dlon, p.y() - dlat), (p.x() + dlon, p.y() + dlat));
        let near: Vec<usize> = buildings.near(rect).collect();
        let mut holding: Vec<usize> = near
            .iter()
            .copied()
            .filter(|&k| buildings.items[k].1.contains(&p))
            .collect();
        if holding.len() == 1 {
            report.count(at.layer, at.field, "inside");
            return Ok(buildings.items[holding[0]].0.clone());
        }
        if !holding.is_empty() {
            // Buildings drawn over each other: the smallest is the one the point is most in.
            let area = |k: usize| buildings.items[k].1.unsigned_area();
            holding.sort_by(|a, b| area(*a).total_cmp(&area(*b)).then(a.cmp(b)));
            let key = buildings.items[holding[0]].0.clone();
            let candidates = holding
                .iter()
                .map(|k| buildings.items[*k].0.clone())
                .collect();
            Self::listed(
                at,
                &key,
                candidates,
                format!("inside {} buildings; the smallest taken", holding.len()),
                report,
            );
            report.count(at.layer, at.field, "inside");
            return Ok(key);
        }
        let mut by_distance: Vec<(usize, f64)> = near
            .iter()
            .filter_map(|&k| {
                let g = buildings.items[k].1;
                let q = match g.exterior().closest_point(&p) {
                    Closest::SinglePoint(q) | Closest::Intersection(q) => q,
                    Closest::Indeterminate => return None,
                };
                Some((k, Haversine.distance(p, q)))
            })
            .filter(|(_, d)| *d <= limit)
            .collect();
        by_distance.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        let Some(&(best, d0)) = by_distance.first() else {
            return Err(Self::fail(
                at,
                format!(
                    "no building contains this unit or lies within {limit} m of it: give `building_id` in the source (or map it), or a larger --unit-distance"
                ),
            ));
        };
        let key = buildings.items[best].0.clone();
        let close: Vec<&(usize, f64)> =
            by_distance.iter().filter(|(_, d)| *d - d0 <= 1.0).collect();
        if close.len() > 1 {
            let candidates = close
                .iter()
                .map(|(k, d)| format!("{} ({d:.1} m)", buildings.items[*k].0))
                .collect();
            Self::listed(
                at,
                &key,
                candidates,
                format!(
                    "outside every building; {} buildings within a metre of the nearest",
                    close.len()
                ),
                report,
            );
        }
        report.count(at.layer, at.field, "nearest");
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Unit;
    use geo_types::polygon;

    fn square(x: f64, y: f64, side: f64) -> Polygon<f64> {
        polygon![(x: x, y: y), (x: x + side, y: y), (x: x + side, y: y + side), (x: x, y: y + side), (x: x, y: y)]
    }

    fn compound(id: i64, geom: Polygon<f64>) -> Compound {
        Compound {
            id,
            name: format!("小区{id}"),
            aliases: vec![],
            district_code: "370202".into(),
            street_code: "370202001".into(),
            company_id: 1,
            year_built: 2000,
            households: 100,
            geom: MultiPolygon(vec![geom]),
        }
    }

    fn building(id: i64, compound_id: i64, geom: Polygon<f64>) -> Building {
        Building {
            id,
            compound_id,
            name: format!("{id}号楼"),
            floors: 6,
            households: 24,
            geom,
        }
    }

    fn unit(id: i64, x: f64, y: f64) -> Unit {
        Unit {
            id,
            building_id: 0,
            name: "1单元".into(),
            households: 12,
            geom: Point::new(x, y),
        }
    }

    #[test]
    fn buildings_and_units_find_their_containers_and_ids_are_stable() {
        let stored = Dataset {
            compounds: vec![compound(1, square(120.0, 36.0, 0.01))],
            ..Dataset::default()
        };
        let mut data = Dataset {
            compounds: vec![compound(0, square(120.02, 36.0, 0.01))],
            buildings: vec![
                building(0, 0, square(120.001, 36.001, 0.0005)),
                building(0, 0, square(120.021, 36.001, 0.0005)),
            ],
            units: vec![
                unit(0, 120.0012, 36.0012),
                // 11 m east of the first building, outside it.
                unit(0, 120.001_62, 36.0012),
            ],
            ..Dataset::default()
        };
        let mut origins = Origins::default();
        origins.record(Path::new("housing.shp"), &data, 1);
        let mut again = data.clone();
        let report = links(&mut data, &origins, &stored, LinkOptions::default()).unwrap();
        let new_compound = data.compounds[0].id;
        assert!((1 << 40..1 << 53).contains(&new_compound));
        assert_eq!(data.buildings[0].compound_id, 1, "the stored compound");
        assert_eq!(data.buildings[1].compound_id, new_compound);
        assert_eq!(data.units[0].building_id, data.buildings[0].id);
        assert_eq!(data.units[1].building_id, data.buildings[0].id);
        assert_eq!(report.generated_ids["units"], 2);
        assert_eq!(report.derived["units.building_id"]["nearest"], 1);
        assert!(report.ambiguous.is_empty(), "{report:?}");
        links(&mut again, &origins, &stored, LinkOptions::default()).unwrap();
        assert_eq!(again, data, "the same input gives the same ids and links");

        // A unit 100 m from everything: named, with its file and feature.
        let mut far = Dataset {
            buildings: data.buildings.clone(),
            units: vec![unit(0, 120.0012, 36.0012), unit(0, 120.0030, 36.0012)],
            ..Dataset::default()
        };
        let mut o = Origins::default();
        o.record(Path::new("units.shp"), &far, 1);
        let e = links(&mut far, &o, &Dataset::default(), LinkOptions::default()).unwrap_err();
        assert_eq!(e.feature, Some(2));
        assert_eq!(e.field.as_deref(), Some("building_id"));
        assert!(e.to_string().contains("units.shp"), "{e}");
    }

    #[test]
    fn a_building_across_two_compounds_is_listed_with_its_choice() {
        let stored = Dataset {
            compounds: vec![
                compound(1, square(120.0, 36.0, 0.01)),
                compound(2, square(120.01, 36.0, 0.01)),
            ],
            ..Dataset::default()
        };
        // Three quarters in compound 2, its inside point in 2 as well: inside, no listing.
        let mut data = Dataset {
            buildings: vec![building(7, 0, square(120.0095, 36.005, 0.002))],
            ..Dataset::default()
        };
        let o = Origins::default();
        let r = links(&mut data, &o, &stored, LinkOptions::default()).unwrap();
        assert_eq!(data.buildings[0].compound_id, 2);
        assert!(r.ambiguous.is_empty());
        // Overlapping compounds both holding its inside point: the larger overlap, listed.
        let stored = Dataset {
            compounds: vec![
                compound(1, square(120.0, 36.0, 0.01)),
                compound(2, square(120.005, 36.0, 0.01)),
            ],
            ..Dataset::default()
        };
        let mut data = Dataset {
            buildings: vec![building(7, 0, square(120.0085, 36.005, 0.002))],
            ..Dataset::default()
        };
        let r = links(&mut data, &o, &stored, LinkOptions::default()).unwrap();
        assert_eq!(data.buildings[0].compound_id, 2);
        assert_eq!(r.ambiguous.len(), 1);
        assert_eq!(r.ambiguous[0].candidates.len(), 2);
        assert!(r.ambiguous[0].candidates[0].starts_with("2 (100%"), "{r:?}");
    }
}
