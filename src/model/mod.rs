//! Plain domain types: the housing geography (districts → streets → compounds → buildings →
//! units), property companies and hotline complaints. No I/O, no storage, no HTTP here.

use geo_types::{MultiPolygon, Point, Polygon};
use serde::{Deserialize, Serialize};
use std::fmt;

pub mod alert;
mod category;
pub mod clock;
pub mod company_list;
pub mod datum;
pub mod encoding;
pub mod grade;
pub mod handling;
mod month;
mod privacy;
pub mod repeat;
pub mod stats;
pub use category::Category;
pub use datum::Datum;
pub use month::{Month, Quarter};
pub use privacy::Audience;

/// An EPSG code as people write it: `EPSG:4549`, `epsg:4549` or `4549`.
pub fn epsg_code(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let digits = t
        .strip_prefix("EPSG:")
        .or_else(|| t.strip_prefix("epsg:"))
        .unwrap_or(t);
    digits
        .parse::<u32>()
        .map_err(|_| format!("`{s}` is not a CRS code: write it as EPSG:4549 (or 4549)"))
}

/// A district-level area (区 / 县级市), identified by its 6-digit administrative code.
#[derive(Debug, Clone, PartialEq)]
pub struct District {
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub geom: MultiPolygon<f64>,
}

/// A sub-district street (街道) or town (镇), identified by its 9-digit NBS code.
#[derive(Debug, Clone, PartialEq)]
pub struct Street {
    pub code: String,
    pub name: String,
    pub district_code: String,
    /// `街道` or `镇`.
    pub kind: String,
    pub geom: MultiPolygon<f64>,
}

/// A property-management company registered on the city platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Company {
    pub id: i64,
    pub name: String,
}

/// A gated residential compound (小区 / 物业项目).
#[derive(Debug, Clone, PartialEq)]
pub struct Compound {
    pub id: i64,
    pub name: String,
    /// Other names callers use for it ("金秋小区" for "金秋桂园").
    pub aliases: Vec<String>,
    pub district_code: String,
    pub street_code: String,
    pub company_id: i64,
    pub year_built: i32,
    pub households: i32,
    pub geom: MultiPolygon<f64>,
}

/// A residential building footprint inside a compound ("5号楼").
#[derive(Debug, Clone, PartialEq)]
pub struct Building {
    pub id: i64,
    pub compound_id: i64,
    pub name: String,
    pub floors: i32,
    pub households: i32,
    pub geom: Polygon<f64>,
}

/// A stairwell entrance of a building ("2单元"); households hang off it.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub id: i64,
    pub building_id: i64,
    pub name: String,
    pub households: i32,
    pub geom: Point<f64>,
}

/// One hotline complaint as the store keeps it. The complainant's name, phone and free text
/// live apart in [`ComplaintContact`] and never leave the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Complaint {
    pub ticket_id: String,
    pub received_at: chrono::NaiveDateTime,
    pub category: Category,
    pub channel: String,
    pub address: String,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub status: String,
    pub satisfaction: Option<String>,
    /// When the hotline closed the ticket, when the export says.
    pub closed_at: Option<chrono::NaiveDateTime>,
    /// When the hotline first responded (called back, sent someone), when the export says.
    pub responded_at: Option<chrono::NaiveDateTime>,
    /// Where the geocoder placed it.
    pub place: Placement,
}

/// How a complaint was placed on the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MatchMethod {
    /// Its coordinates fall inside the compound.
    Gps,
    /// Its address names the compound exactly (name or alias).
    Text,
    /// Its address names the compound with a slip (typo, dropped character).
    Fuzzy,
    /// Not placed; `Placement::reason` says why.
    #[default]
    Unmatched,
}

impl MatchMethod {
    pub fn code(self) -> &'static str {
        match self {
            MatchMethod::Gps => "gps",
            MatchMethod::Text => "text",
            MatchMethod::Fuzzy => "fuzzy",
            MatchMethod::Unmatched => "unmatched",
        }
    }
    pub fn parse(s: &str) -> Option<MatchMethod> {
        [
            MatchMethod::Gps,
            MatchMethod::Text,
            MatchMethod::Fuzzy,
            MatchMethod::Unmatched,
        ]
        .into_iter()
        .find(|m| m.code() == s)
    }
}

/// A complaint's place: compound, building and unit as far as they could be told.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Placement {
    pub compound_id: Option<i64>,
    pub building_id: Option<i64>,
    pub unit_id: Option<i64>,
    pub method: MatchMethod,
    /// Why it is unmatched, or what could not be told (a building number not in the compound).
    pub note: Option<String>,
}

/// Personal data of a complainant: stored, never served.
#[derive(Debug, Clone, PartialEq)]
pub struct ComplaintContact {
    pub ticket_id: String,
    pub caller_name: String,
    pub caller_phone: String,
    pub content: String,
}

/// The geography layers, in the order they must be loaded (parents before children).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    Districts,
    Streets,
    Companies,
    Compounds,
    Buildings,
    Units,
}

impl Layer {
    pub const ALL: [Layer; 6] = [
        Layer::Districts,
        Layer::Streets,
        Layer::Companies,
        Layer::Compounds,
        Layer::Buildings,
        Layer::Units,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Layer::Districts => "districts",
            Layer::Streets => "streets",
            Layer::Companies => "companies",
            Layer::Compounds => "compounds",
            Layer::Buildings => "buildings",
            Layer::Units => "units",
        }
    }

    pub fn from_name(name: &str) -> Option<Layer> {
        Layer::ALL.into_iter().find(|l| l.name() == name)
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of geography records, as read from files or generated, ready for a store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dataset {
    pub districts: Vec<District>,
    pub streets: Vec<Street>,
    pub companies: Vec<Company>,
    pub compounds: Vec<Compound>,
    pub buildings: Vec<Building>,
    pub units: Vec<Unit>,
}

impl Dataset {
    pub fn len(&self, layer: Layer) -> usize {
        match layer {
            Layer::Districts => self.districts.len(),
            Layer::Streets => self.streets.len(),
            Layer::Companies => self.companies.len(),
            Layer::Compounds => self.compounds.len(),
            Layer::Buildings => self.buildings.len(),
            Layer::Units => self.units.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        Layer::ALL.iter().all(|l| self.len(*l) == 0)
    }

    /// The city's extent (west, south, east, north): its districts', else its compounds'.
    #[must_use]
    pub fn extent(&self) -> Option<[f64; 4]> {
        use geo::BoundingRect;
        let rects: Vec<geo_types::Rect<f64>> = if self.districts.is_empty() {
            self.compounds
                .iter()
                .filter_map(|c| c.geom.bounding_rect())
                .collect()
        } else {
            self.districts
                .iter()
                .filter_map(|d| d.geom.bounding_rect())
                .collect()
        };
        rects.into_iter().fold(None, |acc: Option<[f64; 4]>, r| {
            let b = [r.min().x, r.min().y, r.max().x, r.max().y];
            Some(match acc {
                None => b,
                Some(a) => [
                    a[0].min(b[0]),
                    a[1].min(b[1]),
                    a[2].max(b[2]),
                    a[3].max(b[3]),
                ],
            })
        })
    }

    /// Where a map of the city starts: the median of its compounds' box centres (the dense
    /// part of the city, not the middle of its outline), else its extent's centre.
    #[must_use]
    pub fn centre(&self) -> Option<[f64; 2]> {
        use geo::BoundingRect;
        let (mut xs, mut ys): (Vec<f64>, Vec<f64>) = self
            .compounds
            .iter()
            .filter_map(|c| c.geom.bounding_rect())
            .map(|r| (r.center().x, r.center().y))
            .unzip();
        if xs.is_empty() {
            return self
                .extent()
                .map(|[w, s, e, n]| [f64::midpoint(w, e), f64::midpoint(s, n)]);
        }
        xs.sort_by(f64::total_cmp);
        ys.sort_by(f64::total_cmp);
        Some([xs[xs.len() / 2], ys[ys.len() / 2]])
    }

    /// The district a caller names, by its code or its name (the one rule every endpoint uses).
    #[must_use]
    pub fn find_district(&self, key: &str) -> Option<&District> {
        self.districts
            .iter()
            .find(|d| d.code == key || d.name == key)
    }

    /// The streets a caller names, by code or name: a name may be shared by streets of two
    /// districts, so every one is returned (none: the street is unknown).
    #[must_use]
    pub fn find_streets(&self, key: &str) -> Vec<&Street> {
        self.streets
            .iter()
            .filter(|s| s.code == key || s.name == key)
            .collect()
    }

    /// Appends another dataset's records (used when several files are imported at once).
    pub fn extend(&mut self, other: Dataset) {
        self.districts.extend(other.districts);
        self.streets.extend(other.streets);
        self.companies.extend(other.companies);
        self.compounds.extend(other.compounds);
        self.buildings.extend(other.buildings);
        self.units.extend(other.units);
    }
}

/// Row counts per table, as `/health` reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub districts: i64,
    pub streets: i64,
    pub companies: i64,
    pub compounds: i64,
    pub buildings: i64,
    pub units: i64,
    pub households: i64,
    pub complaints: i64,
}

impl Dataset {
    /// Checks that every reference points at a record of the dataset: streets → districts,
    /// compounds → districts, streets and companies, buildings → compounds, units → buildings.
    /// Also that no key appears twice in a layer.
    pub fn check_references(&self) -> Result<(), String> {
        self.check_ids()?;
        let keys = self.unique_keys()?;
        self.check_links(&keys)
    }

    /// Checks that no compound, building or unit still has the 0 id an import derives later.
    fn check_ids(&self) -> Result<(), String> {
        // Ids the import derives (`ingest::derive`) are 0 until then: none may be stored so.
        let unnamed = [
            (
                "compound",
                self.compounds.iter().find(|c| c.id <= 0).map(|c| &c.name),
            ),
            (
                "building",
                self.buildings.iter().find(|b| b.id <= 0).map(|b| &b.name),
            ),
            (
                "unit",
                self.units.iter().find(|u| u.id <= 0).map(|u| &u.name),
            ),
        ];
        if let Some((layer, Some(name))) = unnamed.into_iter().find(|(_, n)| n.is_some()) {
            return Err(format!("{layer} `{name}` has no id"));
        }
        Ok(())
    }

    /// The keys of every layer, checking that none appears twice in its layer.
    fn unique_keys(&self) -> Result<Keys, String> {
        let districts = unique("districts", self.districts.iter().map(|d| d.code.clone()))?;
        let streets = unique("streets", self.streets.iter().map(|s| s.code.clone()))?;
        let companies = unique("companies", self.companies.iter().map(|c| c.id.to_string()))?;
        let compounds = unique("compounds", self.compounds.iter().map(|c| c.id.to_string()))?;
        let buildings = unique("buildings", self.buildings.iter().map(|b| b.id.to_string()))?;
        unique("units", self.units.iter().map(|u| u.id.to_string()))?;
        Ok(Keys {
            districts,
            streets,
            companies,
            compounds,
            buildings,
        })
    }

    /// Checks that every street, compound, building and unit refers to keys in `keys`.
    fn check_links(&self, keys: &Keys) -> Result<(), String> {
        for s in &self.streets {
            if !keys.districts.contains(&s.district_code) {
                return Err(missing(
                    "street",
                    &s.code,
                    "district_code",
                    &s.district_code,
                    "district",
                ));
            }
        }
        for c in &self.compounds {
            let id = c.id.to_string();
            if !keys.districts.contains(&c.district_code) {
                return Err(missing(
                    "compound",
                    &id,
                    "district_code",
                    &c.district_code,
                    "district",
                ));
            }
            if !keys.streets.contains(&c.street_code) {
                return Err(missing(
                    "compound",
                    &id,
                    "street_code",
                    &c.street_code,
                    "street",
                ));
            }
            if !keys.companies.contains(&c.company_id.to_string()) {
                return Err(missing(
                    "compound",
                    &id,
                    "company_id",
                    &c.company_id.to_string(),
                    "company",
                ));
            }
        }
        for b in &self.buildings {
            if !keys.compounds.contains(&b.compound_id.to_string()) {
                return Err(missing(
                    "building",
                    &b.id.to_string(),
                    "compound_id",
                    &b.compound_id.to_string(),
                    "compound",
                ));
            }
        }
        for u in &self.units {
            if !keys.buildings.contains(&u.building_id.to_string()) {
                return Err(missing(
                    "unit",
                    &u.id.to_string(),
                    "building_id",
                    &u.building_id.to_string(),
                    "building",
                ));
            }
        }
        Ok(())
    }
}

/// The keys of the layers other records refer to, as [`Dataset::check_references`] collects them.
struct Keys {
    districts: std::collections::HashSet<String>,
    streets: std::collections::HashSet<String>,
    companies: std::collections::HashSet<String>,
    compounds: std::collections::HashSet<String>,
    buildings: std::collections::HashSet<String>,
}

/// The set of `keys`, or an error naming `layer` and the first key that appears twice.
fn unique<'a>(
    layer: &str,
    keys: impl Iterator<Item = String> + 'a,
) -> Result<std::collections::HashSet<String>, String> {
    let mut set = std::collections::HashSet::new();
    for k in keys {
        if !set.insert(k.clone()) {
            return Err(format!("{layer}: key {k} appears twice"));
        }
    }
    Ok(set)
}

/// The message for a `field` of `layer` record `id` whose `value` names no `target`.
fn missing(layer: &str, id: &str, field: &str, value: &str, target: &str) -> String {
    format!("{layer} {id}: field `{field}` refers to {target} {value}, which does not exist")
}
