//! ESRI Shapefiles as bureaus export them: `.shp` with its `.shx` index and `.dbf` attribute
//! table (GBK or UTF-8, as the `.cpg` says; without one, UTF-8 when every text decodes, else
//! GBK), and a `.prj` naming the CRS (read by [`super::crs::Crs::from_wkt`]). Read with the
//! `shapefile` and `dbase` crates into raw features that the import maps and reprojects.

use super::crs::Crs;
use super::{FormatError, Props, RawFeature};
use shapefile::dbase;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// A Shapefile's features, the CRS its `.prj` declares (None: no `.prj`) and its field names.
pub struct Features {
    pub features: Vec<RawFeature>,
    pub crs: Option<Crs>,
    pub fields: Vec<String>,
}

fn sibling(path: &Path, ext: &str) -> Option<PathBuf> {
    // `.shx` or `.SHX`, as the file was written.
    [ext.to_string(), ext.to_ascii_uppercase()]
        .into_iter()
        .map(|e| path.with_extension(e))
        .find(|p| p.exists())
}

fn open(path: &Path) -> Result<BufReader<File>, FormatError> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|e| FormatError::file(path, format!("cannot open: {e}")))
}

/// The encoding of the attribute table: the `.cpg`'s, when there is one.
fn cpg_encoding(path: &Path) -> Result<Option<&'static encoding_rs::Encoding>, FormatError> {
    let Some(cpg) = sibling(path, "cpg") else {
        return Ok(None);
    };
    let label = std::fs::read_to_string(&cpg)
        .map_err(|e| FormatError::file(&cpg, format!("cannot read: {e}")))?;
    let label = label.trim().trim_start_matches('\u{feff}');
    let enc = match label.to_ascii_uppercase().as_str() {
        "936" | "CP936" | "GBK" | "GB2312" | "ANSI 936" => Some(encoding_rs::GBK),
        "54936" | "GB18030" => Some(encoding_rs::GB18030),
        "65001" | "UTF-8" | "UTF8" => Some(encoding_rs::UTF_8),
        _ => encoding_rs::Encoding::for_label(label.as_bytes()),
    };
    enc.map(Some).ok_or_else(|| {
        FormatError::file(
            &cpg,
            format!("unknown code page `{label}` (GBK, GB18030 and UTF-8 are read)"),
        )
    })
}

fn value(v: dbase::FieldValue) -> serde_json::Value {
    use dbase::FieldValue as F;
    use serde_json::Value as J;
    let number = |f: f64| {
        if f.fract() == 0.0 && f.abs() < 9.0e15 {
            J::from(f as i64)
        } else {
            serde_json::Number::from_f64(f).map_or(J::Null, J::Number)
        }
    };
    match v {
        F::Character(s) => s.map_or(J::Null, |s| J::String(s.trim().to_string())),
        F::Memo(s) => J::String(s),
        F::Numeric(n) => n.map_or(J::Null, number),
        F::Float(n) => n.map_or(J::Null, |f| number(f64::from(f))),
        F::Integer(i) => J::from(i),
        F::Double(f) | F::Currency(f) => number(f),
        F::Logical(b) => b.map_or(J::Null, J::Bool),
        F::Date(d) => d.map_or(J::Null, |d| {
            J::String(format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()))
        }),
        F::DateTime(t) => {
            let d = t.date();
            J::String(format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()))
        }
    }
}

/// Reads every shape and its attributes.
pub fn read(path: &Path) -> Result<Features, FormatError> {
    let shx = sibling(path, "shx").ok_or_else(|| {
        FormatError::file(
            path,
            "the Shapefile's index (.shx) is missing beside it: copy all of its files (.shp, .shx, .dbf, .prj, .cpg)",
        )
    })?;
    let dbf = sibling(path, "dbf").ok_or_else(|| {
        FormatError::file(
            path,
            "the Shapefile's attribute table (.dbf) is missing beside it: copy all of its files (.shp, .shx, .dbf, .prj, .cpg)",
        )
    })?;
    let crs = match sibling(path, "prj") {
        None => None,
        Some(prj) => {
            let text = std::fs::read(&prj)
                .map_err(|e| FormatError::file(&prj, format!("cannot read: {e}")))?;
            let text = String::from_utf8_lossy(&text);
            Some(Crs::from_wkt(text.trim()).map_err(|e| {
                FormatError::file(
                    &prj,
                    format!("{e} (give the CRS with --crs EPSG:N instead)"),
                )
            })?)
        }
    };
    let encodings: Vec<&'static encoding_rs::Encoding> = match cpg_encoding(path)? {
        Some(e) => vec![e],
        None => vec![encoding_rs::UTF_8, encoding_rs::GBK],
    };
    let mut last = None;
    for enc in encodings {
        match read_with(path, &shx, &dbf, enc) {
            Ok((features, fields)) => {
                return Ok(Features {
                    features,
                    crs,
                    fields,
                })
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| FormatError::file(path, "cannot be read")))
}

fn read_with(
    path: &Path,
    shx: &Path,
    dbf: &Path,
    enc: &'static encoding_rs::Encoding,
) -> Result<(Vec<RawFeature>, Vec<String>), FormatError> {
    let shapes = shapefile::ShapeReader::with_shx(open(path)?, open(shx)?)
        .map_err(|e| FormatError::file(path, format!("not a readable Shapefile: {e}")))?;
    // UTF-8 strictly (an undecodable text is an error, and GBK is tried next); GBK as it is.
    let builder = if enc == encoding_rs::UTF_8 {
        dbase::ReaderBuilder::new().with_encoding(dbase::encoding::Unicode)
    } else {
        dbase::ReaderBuilder::new().with_encoding(dbase::encoding::EncodingRs::from(enc))
    };
    let table = builder
        .build(open(dbf)?)
        .map_err(|e| FormatError::file(dbf, format!("not a readable attribute table: {e}")))?;
    let fields: Vec<String> = table
        .fields()
        .iter()
        .map(|f| f.name().to_string())
        .collect();
    let mut reader = shapefile::Reader::new(shapes, table);
    let mut out = Vec::new();
    for (i, item) in reader.iter_shapes_and_records().enumerate() {
        let number = i + 1;
        let (shape, record) = item.map_err(|e| {
            let mut err = FormatError::file(path, format!("cannot read this feature: {e}"));
            err.feature = Some(number);
            err
        })?;
        let props: Props = record.into_iter().map(|(k, v)| (k, value(v))).collect();
        let mut raw = RawFeature {
            number,
            geom: None,
            props,
        };
        if !matches!(shape, shapefile::Shape::NullShape) {
            match geo_types::Geometry::<f64>::try_from(shape) {
                Ok(g) => raw.geom = Some(g),
                Err(e) => {
                    return Err(FormatError::feature(
                        path,
                        &raw,
                        super::FeatureProblem::geometry(format!("unreadable shape: {e}")),
                    ))
                }
            }
        }
        out.push(raw);
    }
    Ok((out, fields))
}
