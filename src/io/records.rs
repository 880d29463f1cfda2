//! How each geography record maps to a feature: its columns, its geometry type, and the
//! checks that turn a [`RawFeature`] back into a record.

use super::validate::{self, GeometryRules};
use super::{FeatureProblem, Props, RawFeature};
use crate::model::{Building, Compound, District, Layer, Street, Unit};
use geo_types::Geometry;

/// A column's type, as written to FlatGeobuf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    Str,
    Int,
    Long,
}

/// The geometry a layer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeomKind {
    MultiPolygon,
    Polygon,
    Point,
}

/// A property value to write.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Str(&'a str),
    Owned(String),
    Int(i32),
    Long(i64),
}

/// A geography record that can be written as a feature and read back with validation.
pub trait Record: Sized + Send + Sync + 'static {
    const LAYER: Layer;
    const GEOMETRY: GeomKind;
    /// Property columns, in writing order.
    const COLUMNS: &'static [(&'static str, ColType)];

    fn geometry(&self) -> Geometry<f64>;
    /// Values in the order of [`Record::COLUMNS`].
    fn values(&self) -> Vec<Value<'_>>;
    fn from_raw(raw: &mut RawFeature, rules: GeometryRules) -> Result<Self, FeatureProblem>;
    /// The record's key (id or code), unique within its layer.
    fn key(&self) -> String;
}

fn text(props: &Props, name: &str) -> Result<String, FeatureProblem> {
    match props.get(name) {
        None | Some(serde_json::Value::Null) => {
            Err(FeatureProblem::field(name, "missing required property"))
        }
        Some(serde_json::Value::String(s)) if s.trim().is_empty() => {
            Err(FeatureProblem::field(name, "is empty"))
        }
        Some(serde_json::Value::String(s)) => Ok(s.trim().to_string()),
        Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
        Some(other) => Err(FeatureProblem::field(
            name,
            format!("expected text, found {other}"),
        )),
    }
}

fn opt_text(props: &Props, name: &str) -> String {
    text(props, name).unwrap_or_default()
}

fn integer(props: &Props, name: &str) -> Result<i64, FeatureProblem> {
    let bad = |v: &serde_json::Value| {
        FeatureProblem::field(name, format!("expected an integer, found {v}"))
    };
    match props.get(name) {
        None | Some(serde_json::Value::Null) => {
            Err(FeatureProblem::field(name, "missing required property"))
        }
        Some(v @ serde_json::Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .ok_or_else(|| bad(v)),
        Some(v @ serde_json::Value::String(s)) => s.trim().parse().map_err(|_| bad(v)),
        Some(v) => Err(bad(v)),
    }
}

fn ranged(props: &Props, name: &str, lo: i64, hi: i64) -> Result<i32, FeatureProblem> {
    let v = integer(props, name)?;
    if !(lo..=hi).contains(&v) {
        return Err(FeatureProblem::field(
            name,
            format!("{v} is outside the allowed range {lo}..={hi}"),
        ));
    }
    i32::try_from(v).map_err(|_| FeatureProblem::field(name, "does not fit a 32-bit integer"))
}

fn code(props: &Props, name: &str, digits: usize) -> Result<String, FeatureProblem> {
    let c = text(props, name)?;
    if c.len() != digits || !c.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FeatureProblem::field(
            name,
            format!("`{c}` is not a {digits}-digit administrative code"),
        ));
    }
    Ok(c)
}

/// Whether a property is absent or blank: a link or id the import derives (`ingest::derive`).
fn blank(props: &Props, name: &str) -> bool {
    match props.get(name) {
        None | Some(serde_json::Value::Null) => true,
        Some(serde_json::Value::String(s)) => s.trim().is_empty(),
        Some(_) => false,
    }
}

/// An id or link the source may leave out: 0 when blank (derived on import), else positive.
fn derivable_id(props: &Props, name: &str) -> Result<i64, FeatureProblem> {
    if blank(props, name) {
        Ok(0)
    } else {
        positive_id(props, name)
    }
}

/// An administrative code the source may leave out: empty when blank (derived on import).
fn derivable_code(props: &Props, name: &str, digits: usize) -> Result<String, FeatureProblem> {
    if blank(props, name) {
        Ok(String::new())
    } else {
        code(props, name, digits)
    }
}

fn positive_id(props: &Props, name: &str) -> Result<i64, FeatureProblem> {
    let v = integer(props, name)?;
    if v <= 0 {
        return Err(FeatureProblem::field(
            name,
            format!("{v} is not a positive id"),
        ));
    }
    Ok(v)
}

impl Record for District {
    const LAYER: Layer = Layer::Districts;
    const GEOMETRY: GeomKind = GeomKind::MultiPolygon;
    const COLUMNS: &'static [(&'static str, ColType)] = &[
        ("code", ColType::Str),
        ("name", ColType::Str),
        ("name_en", ColType::Str),
    ];

    fn geometry(&self) -> Geometry<f64> {
        Geometry::MultiPolygon(self.geom.clone())
    }
    fn values(&self) -> Vec<Value<'_>> {
        vec![
            Value::Str(&self.code),
            Value::Str(&self.name),
            Value::Str(&self.name_en),
        ]
    }
    fn from_raw(raw: &mut RawFeature, rules: GeometryRules) -> Result<Self, FeatureProblem> {
        // Accept `adcode` as the shared reference data names it.
        let code = if raw.props.contains_key("code") {
            code(&raw.props, "code", 6)?
        } else {
            code(&raw.props, "adcode", 6)?
        };
        Ok(District {
            code,
            name: text(&raw.props, "name")?,
            name_en: opt_text(&raw.props, "name_en"),
            geom: validate::multi_polygon(raw.geom.take(), rules)?,
        })
    }
    fn key(&self) -> String {
        self.code.clone()
    }
}

impl Record for Street {
    const LAYER: Layer = Layer::Streets;
    const GEOMETRY: GeomKind = GeomKind::MultiPolygon;
    const COLUMNS: &'static [(&'static str, ColType)] = &[
        ("code", ColType::Str),
        ("name", ColType::Str),
        ("district_code", ColType::Str),
        ("kind", ColType::Str),
    ];

    fn geometry(&self) -> Geometry<f64> {
        Geometry::MultiPolygon(self.geom.clone())
    }
    fn values(&self) -> Vec<Value<'_>> {
        vec![
            Value::Str(&self.code),
            Value::Str(&self.name),
            Value::Str(&self.district_code),
            Value::Str(&self.kind),
        ]
    }
    fn from_raw(raw: &mut RawFeature, rules: GeometryRules) -> Result<Self, FeatureProblem> {
        Ok(Street {
            code: code(&raw.props, "code", 9)?,
            name: text(&raw.props, "name")?,
            district_code: derivable_code(&raw.props, "district_code", 6)?,
            kind: text(&raw.props, "kind").unwrap_or_else(|_| "街道".into()),
            geom: validate::multi_polygon(raw.geom.take(), rules)?,
        })
    }
    fn key(&self) -> String {
        self.code.clone()
    }
}

impl Record for Compound {
    const LAYER: Layer = Layer::Compounds;
    const GEOMETRY: GeomKind = GeomKind::MultiPolygon;
    const COLUMNS: &'static [(&'static str, ColType)] = &[
        ("id", ColType::Long),
        ("name", ColType::Str),
        ("aliases", ColType::Str),
        ("district_code", ColType::Str),
        ("street_code", ColType::Str),
        ("company_id", ColType::Long),
        ("year_built", ColType::Int),
        ("households", ColType::Int),
    ];

    fn geometry(&self) -> Geometry<f64> {
        Geometry::MultiPolygon(self.geom.clone())
    }
    fn values(&self) -> Vec<Value<'_>> {
        vec![
            Value::Long(self.id),
            Value::Str(&self.name),
            Value::Owned(self.aliases.join("|")),
            Value::Str(&self.district_code),
            Value::Str(&self.street_code),
            Value::Long(self.company_id),
            Value::Int(self.year_built),
            Value::Int(self.households),
        ]
    }
    fn from_raw(raw: &mut RawFeature, rules: GeometryRules) -> Result<Self, FeatureProblem> {
        let p = &raw.props;
        let aliases = match p.get("aliases") {
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            Some(serde_json::Value::String(s)) => s
                .split('|')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        };
        Ok(Compound {
            id: derivable_id(p, "id")?,
            name: text(p, "name")?,
            aliases,
            district_code: derivable_code(p, "district_code", 6)?,
            street_code: derivable_code(p, "street_code", 9)?,
            company_id: positive_id(p, "company_id")?,
            year_built: ranged(p, "year_built", 1900, 2100)?,
            households: ranged(p, "households", 0, 100_000)?,
            geom: validate::multi_polygon(raw.geom.take(), rules)?,
        })
    }
    fn key(&self) -> String {
        self.id.to_string()
    }
}

impl Record for Building {
    const LAYER: Layer = Layer::Buildings;
    const GEOMETRY: GeomKind = GeomKind::Polygon;
    const COLUMNS: &'static [(&'static str, ColType)] = &[
        ("id", ColType::Long),
        ("compound_id", ColType::Long),
        ("name", ColType::Str),
        ("floors", ColType::Int),
        ("households", ColType::Int),
    ];

    fn geometry(&self) -> Geometry<f64> {
        Geometry::Polygon(self.geom.clone())
    }
    fn values(&self) -> Vec<Value<'_>> {
        vec![
            Value::Long(self.id),
            Value::Long(self.compound_id),
            Value::Str(&self.name),
            Value::Int(self.floors),
            Value::Int(self.households),
        ]
    }
    fn from_raw(raw: &mut RawFeature, rules: GeometryRules) -> Result<Self, FeatureProblem> {
        let p = &raw.props;
        Ok(Building {
            id: derivable_id(p, "id")?,
            compound_id: derivable_id(p, "compound_id")?,
            name: text(p, "name")?,
            floors: ranged(p, "floors", 1, 150)?,
            households: ranged(p, "households", 0, 10_000)?,
            geom: validate::polygon(raw.geom.take(), rules)?,
        })
    }
    fn key(&self) -> String {
        self.id.to_string()
    }
}

impl Record for Unit {
    const LAYER: Layer = Layer::Units;
    const GEOMETRY: GeomKind = GeomKind::Point;
    const COLUMNS: &'static [(&'static str, ColType)] = &[
        ("id", ColType::Long),
        ("building_id", ColType::Long),
        ("name", ColType::Str),
        ("households", ColType::Int),
    ];

    fn geometry(&self) -> Geometry<f64> {
        Geometry::Point(self.geom)
    }
    fn values(&self) -> Vec<Value<'_>> {
        vec![
            Value::Long(self.id),
            Value::Long(self.building_id),
            Value::Str(&self.name),
            Value::Int(self.households),
        ]
    }
    fn from_raw(raw: &mut RawFeature, _rules: GeometryRules) -> Result<Self, FeatureProblem> {
        let p = &raw.props;
        Ok(Unit {
            id: derivable_id(p, "id")?,
            building_id: derivable_id(p, "building_id")?,
            name: text(p, "name")?,
            households: ranged(p, "households", 0, 2_000)?,
            geom: validate::point(raw.geom.take())?,
        })
    }
    fn key(&self) -> String {
        self.id.to_string()
    }
}
