//! FlatGeobuf layers: written with a packed R-tree index and EPSG:4326, read back with header,
//! CRS and per-feature checks.

use super::records::{ColType, Value};
use super::{FeatureProblem, FormatError, GeometryRules, Props, RawFeature, Record};
use flatgeobuf::{
    ColumnType, FallibleStreamingIterator, FeatureProperties, FgbCrs, FgbReader, FgbWriter,
    FgbWriterOptions, GeometryType,
};
use geozero::{ColumnValue, PropertyProcessor, ToGeo};
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

/// CRS codes we accept as longitude/latitude: WGS 84 and CGCS2000 (equal at map scale).
pub const LONLAT_CODES: [i32; 2] = [4326, 4490];

/// A FlatGeobuf writer for WGS 84 features: packed R-tree index, single geometries promoted to
/// multi, EPSG:4326 in the header.
pub fn writer(name: &str, geometry_type: GeometryType) -> flatgeobuf::Result<FgbWriter<'_>> {
    FgbWriter::create_with_options(
        name,
        geometry_type,
        FgbWriterOptions {
            write_index: true,
            promote_to_multi: true,
            crs: FgbCrs {
                code: 4326,
                org: Some("EPSG"),
                ..Default::default()
            },
            ..Default::default()
        },
    )
}

/// Writes records to `path` (through a temporary file renamed into place, so a crash never
/// leaves a half-written layer).
pub fn write_layer<T: Record>(path: &Path, records: &[T]) -> Result<(), FormatError> {
    let io_err = |e: &dyn std::fmt::Display| FormatError::file(path, format!("cannot write: {e}"));
    let geometry_type = match T::GEOMETRY {
        super::records::GeomKind::MultiPolygon => GeometryType::MultiPolygon,
        super::records::GeomKind::Polygon => GeometryType::Polygon,
        super::records::GeomKind::Point => GeometryType::Point,
    };
    let mut fgb = writer(T::LAYER.name(), geometry_type).map_err(|e| io_err(&e))?;
    for (name, ty) in T::COLUMNS {
        let ct = match ty {
            ColType::Str => ColumnType::String,
            ColType::Int => ColumnType::Int,
            ColType::Long => ColumnType::Long,
        };
        fgb.add_column(name, ct, |_, col| col.nullable = false);
    }
    for rec in records {
        let values = rec.values();
        fgb.add_feature_geom(rec.geometry(), |feat| {
            for (i, ((name, _), v)) in T::COLUMNS.iter().zip(values.iter()).enumerate() {
                let cv = match v {
                    Value::Str(s) => ColumnValue::String(s),
                    Value::Owned(s) => ColumnValue::String(s.as_str()),
                    Value::Int(n) => ColumnValue::Int(*n),
                    Value::Long(n) => ColumnValue::Long(*n),
                };
                // Writing to the in-memory feature buffer cannot fail for these types.
                let _ = feat.property(i, name, &cv);
            }
        })
        .map_err(|e| io_err(&e))?;
    }
    let tmp = path.with_extension("fgb.tmp");
    let file = File::create(&tmp).map_err(|e| io_err(&e))?;
    let mut out = BufWriter::new(file);
    fgb.write(&mut out).map_err(|e| io_err(&e))?;
    out.flush().map_err(|e| io_err(&e))?;
    out.get_ref().sync_all().map_err(|e| io_err(&e))?;
    drop(out);
    std::fs::rename(&tmp, path).map_err(|e| io_err(&e))?;
    Ok(())
}

struct PropCollector<'a>(&'a mut Props);

impl PropertyProcessor for PropCollector<'_> {
    fn property(&mut self, _i: usize, name: &str, v: &ColumnValue) -> geozero::error::Result<bool> {
        use serde_json::Value as J;
        let j = match v {
            ColumnValue::Byte(n) => J::from(*n),
            ColumnValue::UByte(n) => J::from(*n),
            ColumnValue::Bool(b) => J::from(*b),
            ColumnValue::Short(n) => J::from(*n),
            ColumnValue::UShort(n) => J::from(*n),
            ColumnValue::Int(n) => J::from(*n),
            ColumnValue::UInt(n) => J::from(*n),
            ColumnValue::Long(n) => J::from(*n),
            ColumnValue::ULong(n) => J::from(*n),
            ColumnValue::Float(f) => J::from(f64::from(*f)),
            ColumnValue::Double(f) => J::from(*f),
            ColumnValue::String(s) | ColumnValue::DateTime(s) => J::from(*s),
            ColumnValue::Json(s) => serde_json::from_str(s).unwrap_or_else(|_| J::from(*s)),
            ColumnValue::Binary(_) => J::Null,
        };
        self.0.insert(name.to_string(), j);
        Ok(false)
    }
}

/// Reads and validates every feature of a FlatGeobuf layer.
///
/// `assume_crs` stands in for a file whose header carries no CRS.
pub fn read_layer<T: Record>(
    path: &Path,
    rules: GeometryRules,
    assume_crs: Option<i32>,
) -> Result<Vec<T>, FormatError> {
    let bytes =
        std::fs::read(path).map_err(|e| FormatError::file(path, format!("cannot open: {e}")))?;
    read_layer_bytes(path, &bytes, rules, assume_crs)
}

/// [`read_layer`] for an import: a projected CRS (from the header, or `crs` over it) is
/// reprojected, and the mapping renames the fields.
pub fn read_layer_mapped<T: Record>(
    path: &Path,
    rules: GeometryRules,
    crs: Option<u32>,
    mapping: Option<&super::mapping::LayerMapping>,
) -> Result<Vec<T>, FormatError> {
    let bytes =
        std::fs::read(path).map_err(|e| FormatError::file(path, format!("cannot open: {e}")))?;
    read_features(path, &bytes, rules, crs, mapping, true)
}

/// [`read_layer`] over a file's bytes already read (`path` names it in errors).
pub fn read_layer_bytes<T: Record>(
    path: &Path,
    bytes: &[u8],
    rules: GeometryRules,
    assume_crs: Option<i32>,
) -> Result<Vec<T>, FormatError> {
    let assume = assume_crs.and_then(|c| u32::try_from(c).ok());
    read_features(path, bytes, rules, assume, None, false)
}

/// The reader behind both: `crs` overrides the header's when `overrides`, else stands in for
/// a header without one; other CRSs than longitude/latitude are reprojected.
fn read_features<T: Record>(
    path: &Path,
    bytes: &[u8],
    rules: GeometryRules,
    crs: Option<u32>,
    mapping: Option<&super::mapping::LayerMapping>,
    overrides: bool,
) -> Result<Vec<T>, FormatError> {
    let mut reader = std::io::Cursor::new(bytes);
    let fgb = FgbReader::open(&mut reader).map_err(|e| {
        FormatError::file(
            path,
            format!("not a readable FlatGeobuf file (truncated or corrupt header): {e}"),
        )
    })?;
    let header = fgb.header();
    let declared_code = header
        .crs()
        .map(|c| c.code())
        .filter(|c| *c > 0)
        .and_then(|c| u32::try_from(c).ok());
    let crs = source_crs(path, declared_code, crs, overrides)?;
    if let Some(m) = mapping {
        let fields: Vec<String> = header
            .columns()
            .map(|cols| cols.iter().map(|c| c.name().to_string()).collect())
            .unwrap_or_default();
        m.check(path, &fields)?;
    }
    let adapt = super::mapping::Adapt {
        mapping,
        crs: Some(&crs),
    };
    let declared = usize::try_from(header.features_count()).unwrap_or(usize::MAX);
    let mut iter = fgb
        .select_all()
        .map_err(|e| FormatError::file(path, format!("cannot read features: {e}")))?;
    let mut out = Vec::with_capacity(declared.min(1 << 20));
    let mut number = 0usize;
    loop {
        let feature = match iter.next() {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return Err(FormatError {
                    file: path.to_path_buf(),
                    feature: Some(number + 1),
                    id: None,
                    field: None,
                    message: format!("cannot read feature (file truncated or corrupt?): {e}"),
                })
            }
        };
        number += 1;
        let mut raw = raw_feature(path, feature, number)?;
        adapt
            .apply(&mut raw)
            .map_err(|p| FormatError::feature(path, &raw, p))?;
        let rec = T::from_raw(&mut raw, rules).map_err(|p| FormatError::feature(path, &raw, p))?;
        out.push(rec);
    }
    if declared != 0 && number != declared {
        return Err(FormatError::file(
            path,
            format!("the header declares {declared} features but {number} could be read (file truncated?)"),
        ));
    }
    Ok(out)
}

/// The CRS to read with: `crs` over the header's `declared` code when `overrides`, else under it.
fn source_crs(
    path: &Path,
    declared: Option<u32>,
    crs: Option<u32>,
    overrides: bool,
) -> Result<super::crs::Crs, FormatError> {
    let crs_code = if overrides {
        crs.or(declared)
    } else {
        declared.or(crs)
    };
    match crs_code {
        Some(c) => super::crs::Crs::from_epsg(c).map_err(|m| FormatError::file(path, m)),
        None => Err(FormatError::file(
            path,
            "the file declares no CRS; give it with --crs (for example --crs EPSG:4326)",
        )),
    }
}

/// Feature `number` as read, its geometry and properties, or an error for unreadable properties.
fn raw_feature(
    path: &Path,
    feature: &flatgeobuf::FgbFeature,
    number: usize,
) -> Result<RawFeature, FormatError> {
    let mut props = Props::new();
    let geom = feature.to_geo().ok();
    let prop_result = feature.process_properties(&mut PropCollector(&mut props));
    let raw = RawFeature {
        number,
        geom,
        props,
    };
    if let Err(e) = prop_result {
        return Err(FormatError::feature(
            path,
            &raw,
            FeatureProblem {
                field: None,
                message: format!("unreadable properties: {e}"),
            },
        ));
    }
    Ok(raw)
}

/// A FlatGeobuf file read as it is: its features unchecked, the header's CRS code and columns.
pub struct RawLayer {
    pub features: Vec<RawFeature>,
    pub crs: Option<u32>,
    pub fields: Vec<String>,
}

/// Every feature of a FlatGeobuf file as it is (for `atlas import --inspect`).
pub fn read_raw(path: &Path) -> Result<RawLayer, FormatError> {
    let bytes =
        std::fs::read(path).map_err(|e| FormatError::file(path, format!("cannot open: {e}")))?;
    let mut reader = std::io::Cursor::new(&bytes[..]);
    let fgb = FgbReader::open(&mut reader)
        .map_err(|e| FormatError::file(path, format!("not a readable FlatGeobuf file: {e}")))?;
    let header = fgb.header();
    let crs = header
        .crs()
        .map(|c| c.code())
        .filter(|c| *c > 0)
        .and_then(|c| u32::try_from(c).ok());
    let fields: Vec<String> = header
        .columns()
        .map(|cols| cols.iter().map(|c| c.name().to_string()).collect())
        .unwrap_or_default();
    let mut iter = fgb
        .select_all()
        .map_err(|e| FormatError::file(path, format!("cannot read features: {e}")))?;
    let mut out = Vec::new();
    while let Some(feature) = iter
        .next()
        .map_err(|e| FormatError::file(path, format!("cannot read a feature: {e}")))?
    {
        let mut props = Props::new();
        let _ = feature.process_properties(&mut PropCollector(&mut props));
        out.push(RawFeature {
            number: out.len() + 1,
            geom: feature.to_geo().ok(),
            props,
        });
    }
    Ok(RawLayer {
        features: out,
        crs,
        fields,
    })
}

/// The layer a FlatGeobuf file declares in its header name, if any.
pub fn header_name(path: &Path) -> Option<String> {
    let file = File::open(path).ok()?;
    let mut reader = BufReader::new(file);
    let fgb = FgbReader::open(&mut reader).ok()?;
    fgb.header().name().map(str::to_string)
}
