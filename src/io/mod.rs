//! Geodata formats: the mapping between our records and features (geometry + properties), and
//! the FlatGeobuf, GeoJSON and CSV readers and writers built on geozero and flatgeobuf.
//!
//! Every reader validates as it goes and reports problems as [`FormatError`]s naming the file,
//! the feature and the field, so that an operator can fix the file.

pub mod complaints;
pub mod crs;
pub mod csv;
pub mod dataset;
pub mod digest;
pub mod fgb;
pub mod geojson;
pub mod gpkg;
pub mod manifest;
pub mod mapping;
mod records;
pub mod shp;
pub mod stats;
pub mod text;
pub(crate) mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use records::{Record, Value as RecordValue};
pub use validate::GeometryRules;

/// Properties of one feature, whatever format it came from.
pub type Props = BTreeMap<String, serde_json::Value>;

/// One feature as read from a file, before it becomes a record.
#[derive(Debug, Clone)]
pub struct RawFeature {
    /// Position in the file, from 1.
    pub number: usize,
    pub geom: Option<geo_types::Geometry<f64>>,
    pub props: Props,
}

/// What went wrong with a feature, without the file name (added by the reader).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureProblem {
    pub field: Option<String>,
    pub message: String,
}

impl FeatureProblem {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        FeatureProblem {
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    pub fn geometry(message: impl Into<String>) -> Self {
        FeatureProblem::field("geometry", message)
    }
}

/// A problem in an input file: which file, which feature (or line), which field, and what.
#[derive(Debug, Clone, PartialEq)]
pub struct FormatError {
    pub file: PathBuf,
    /// Feature number (from 1) or CSV line number; `None` for file-level problems.
    pub feature: Option<usize>,
    /// The feature's id as the file gives it, when it has one.
    pub id: Option<String>,
    pub field: Option<String>,
    pub message: String,
}

impl FormatError {
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        FormatError {
            file: file.to_path_buf(),
            feature: None,
            id: None,
            field: None,
            message: message.into(),
        }
    }

    pub fn feature(file: &Path, raw: &RawFeature, problem: FeatureProblem) -> Self {
        let id = raw
            .props
            .get("id")
            .or_else(|| raw.props.get("code"))
            .map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            });
        FormatError {
            file: file.to_path_buf(),
            feature: Some(raw.number),
            id,
            field: problem.field,
            message: problem.message,
        }
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(n) = self.feature {
            write!(f, ": feature {n}")?;
        }
        if let Some(id) = &self.id {
            write!(f, " (id {id})")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for FormatError {}

/// The process's resident memory in MiB (Linux: `/proc/self/statm`, 4 KiB pages); `None`
/// elsewhere.
#[must_use]
pub fn resident_mb() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096 / (1024 * 1024))
}
