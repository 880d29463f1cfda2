//! Field mappings: which source field fills which of our fields, per layer, in a TOML file
//! other tools can write:
//!
//! ```toml
//! # atlas import compounds.shp buildings.shp --mapping housing.toml
//! [compounds]
//! id = "XQBM"            # our field = the source field
//! name = "XQMC"
//! households = "HS"
//! [buildings]
//! compound_id = "SSXQ"
//! name = "LDH"
//! ```
//!
//! A field the mapping does not name keeps its own name. The mapping is checked against each
//! file's fields before a feature is read: a source field the file lacks, or one of our fields
//! the layer does not have, is an error naming the file (or the mapping) and the field.

use super::records::Record;
use super::{FeatureProblem, FormatError, Props, RawFeature};
use crate::io::crs::Crs;
use crate::model::{Building, Compound, District, Layer, Street, Unit};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One layer's mapping: our field → the source field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerMapping(BTreeMap<String, String>);

/// A mapping file.
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    pub file: PathBuf,
    layers: BTreeMap<Layer, LayerMapping>,
    /// The `[complaints]` table, read by the hotline import (`ingest::complaints`).
    pub complaints: Option<toml::Table>,
}

/// Our fields of a layer, as its records read them.
pub fn fields_of(layer: Layer) -> Vec<&'static str> {
    let cols = match layer {
        Layer::Districts => District::COLUMNS,
        Layer::Streets => Street::COLUMNS,
        Layer::Compounds => Compound::COLUMNS,
        Layer::Buildings => Building::COLUMNS,
        Layer::Units => Unit::COLUMNS,
        Layer::Companies => &[
            ("id", super::records::ColType::Long),
            ("name", super::records::ColType::Str),
        ],
    };
    cols.iter().map(|(n, _)| *n).collect()
}

impl Mapping {
    /// Reads and checks a mapping file.
    pub fn load(path: &Path) -> Result<Mapping, FormatError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| FormatError::file(path, format!("cannot read: {e}")))?;
        Mapping::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Mapping, FormatError> {
        let mut raw: BTreeMap<String, toml::Table> = toml::from_str(text)
            .map_err(|e| FormatError::file(path, format!("not a mapping file: {e}")))?;
        let complaints = raw.remove("complaints");
        let mut layers = BTreeMap::new();
        for (name, fields) in raw {
            let layer = Layer::from_name(&name).ok_or_else(|| {
                let mut e = FormatError::file(
                    path,
                    format!("`[{name}]` is not a layer: use districts, streets, compounds, buildings, units or complaints"),
                );
                e.field = Some(name.clone());
                e
            })?;
            let ours = fields_of(layer);
            let mut m = BTreeMap::new();
            for (field, source) in fields {
                if !ours.contains(&field.as_str()) {
                    let mut e = FormatError::file(
                        path,
                        format!(
                            "`{field}` is not a field of {name} (its fields: {})",
                            ours.join(", ")
                        ),
                    );
                    e.field = Some(format!("{name}.{field}"));
                    return Err(e);
                }
                let toml::Value::String(source) = source else {
                    let mut e = FormatError::file(
                        path,
                        "the source field must be given as a string, e.g. name = \"XQMC\"",
                    );
                    e.field = Some(format!("{name}.{field}"));
                    return Err(e);
                };
                m.insert(field, source);
            }
            layers.insert(layer, LayerMapping(m));
        }
        Ok(Mapping {
            file: path.to_path_buf(),
            layers,
            complaints,
        })
    }

    #[must_use]
    pub fn layer(&self, layer: Layer) -> Option<&LayerMapping> {
        self.layers.get(&layer)
    }
}

impl LayerMapping {
    /// Every source field the mapping names must be a field of the file.
    pub fn check(&self, file: &Path, fields: &[String]) -> Result<(), FormatError> {
        for (ours, source) in &self.0 {
            if !fields.iter().any(|f| f == source) {
                let mut e = FormatError::file(
                    file,
                    format!(
                        "the mapping fills `{ours}` from `{source}`, which this file does not have (its fields: {})",
                        fields.join(", ")
                    ),
                );
                e.field = Some(source.clone());
                return Err(e);
            }
        }
        Ok(())
    }

    /// Renames the mapped source fields of one feature to ours.
    pub fn apply(&self, props: &mut Props) {
        let taken: Vec<(String, serde_json::Value)> = self
            .0
            .iter()
            .map(|(ours, source)| {
                (
                    ours.clone(),
                    props
                        .get(source)
                        .cloned()
                        .unwrap_or(serde_json::Value::Null),
                )
            })
            .collect();
        for source in self.0.values() {
            props.remove(source);
        }
        props.extend(taken);
    }
}

/// What the import does to every feature before it becomes a record: its fields renamed by the
/// mapping, then its geometry reprojected to longitude/latitude.
#[derive(Default)]
pub struct Adapt<'a> {
    pub mapping: Option<&'a LayerMapping>,
    pub crs: Option<&'a Crs>,
}

impl Adapt<'_> {
    pub fn apply(&self, raw: &mut RawFeature) -> Result<(), FeatureProblem> {
        if let Some(m) = self.mapping {
            m.apply(&mut raw.props);
        }
        if let (Some(crs), Some(g)) = (self.crs, raw.geom.as_mut()) {
            if !crs.is_lonlat() {
                crs.to_lonlat(g).map_err(FeatureProblem::geometry)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_renames_and_checks() {
        let m = Mapping::parse(
            "[compounds]\nid = \"XQBM\"\nname = \"小区名称\"\n",
            Path::new("m.toml"),
        )
        .unwrap();
        let l = m.layer(Layer::Compounds).unwrap();
        let mut p = Props::new();
        p.insert("XQBM".into(), serde_json::json!(7));
        p.insert("小区名称".into(), serde_json::json!("金秋桂园"));
        p.insert("households".into(), serde_json::json!(300));
        l.apply(&mut p);
        assert_eq!(p["id"], 7);
        assert_eq!(p["name"], "金秋桂园");
        assert_eq!(p["households"], 300);
        assert!(!p.contains_key("XQBM"));
        let e = l.check(Path::new("c.shp"), &["XQBM".into()]).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("小区名称"));
        let bad =
            Mapping::parse("[compounds]\nhouseholdz = \"HS\"\n", Path::new("m.toml")).unwrap_err();
        assert!(bad.to_string().contains("householdz"), "{bad}");
        assert!(Mapping::parse("[towers]\nid = \"X\"\n", Path::new("m.toml")).is_err());
    }
}
