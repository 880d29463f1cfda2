//! Companies as CSV (`id,name`): a table without geometry.

use super::FormatError;
use crate::model::Company;
use std::path::Path;

/// Writes the company register.
pub fn write_companies(path: &Path, companies: &[Company]) -> Result<(), FormatError> {
    let err = |e: &dyn std::fmt::Display| FormatError::file(path, format!("cannot write: {e}"));
    let tmp = path.with_extension("csv.tmp");
    let mut w = csv::Writer::from_path(&tmp).map_err(|e| err(&e))?;
    for c in companies {
        w.serialize(c).map_err(|e| err(&e))?;
    }
    w.flush().map_err(|e| err(&e))?;
    drop(w);
    std::fs::rename(&tmp, path).map_err(|e| err(&e))
}

/// Reads the company register, naming the line and field of any bad row.
pub fn read_companies(path: &Path) -> Result<Vec<Company>, FormatError> {
    let mut r = csv::Reader::from_path(path)
        .map_err(|e| FormatError::file(path, format!("cannot open: {e}")))?;
    let headers = r
        .headers()
        .map_err(|e| FormatError::file(path, format!("cannot read the header line: {e}")))?
        .clone();
    for needed in ["id", "name"] {
        if !headers.iter().any(|h| h == needed) {
            return Err(FormatError {
                file: path.to_path_buf(),
                feature: Some(1),
                id: None,
                field: Some(needed.into()),
                message: "missing column".into(),
            });
        }
    }
    let mut out = Vec::new();
    for (i, row) in r.deserialize::<Company>().enumerate() {
        let line = i + 2;
        let c = row.map_err(|e| FormatError {
            file: path.to_path_buf(),
            feature: Some(line),
            id: None,
            field: match e.kind() {
                csv::ErrorKind::Deserialize { err, .. } => err
                    .field()
                    .and_then(|i| headers.get(usize::try_from(i).unwrap_or(usize::MAX)))
                    .map(str::to_string),
                _ => None,
            },
            message: format!("bad row: {e}"),
        })?;
        if c.id <= 0 || c.name.trim().is_empty() {
            return Err(FormatError {
                file: path.to_path_buf(),
                feature: Some(line),
                id: Some(c.id.to_string()),
                field: Some(if c.id <= 0 { "id" } else { "name" }.into()),
                message: "must be a positive id and a non-empty name".into(),
            });
        }
        out.push(c);
    }
    Ok(out)
}

/// The columns a CSV geography table may carry its geometry in.
const WKT_COLUMNS: &[&str] = &["wkt", "geometry", "geom", "the_geom", "shape", "几何"];
const LON_COLUMNS: &[&str] = &["lon", "lng", "longitude", "x", "经度"];
const LAT_COLUMNS: &[&str] = &["lat", "latitude", "y", "纬度"];

/// A CSV geography table as read: its fields (the geometry columns left out) and features.
pub struct Features {
    pub fields: Vec<String>,
    pub features: Vec<super::RawFeature>,
}

fn column(headers: &[String], names: &[&str]) -> Option<usize> {
    headers
        .iter()
        .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
}

/// Reads a geography layer from CSV (UTF-8 or GBK): a WKT column (`wkt`, `geometry`, …) or
/// longitude and latitude columns (`lon`/`lat`, `x`/`y`, `经度`/`纬度`) for points. Every
/// other column is a property, as text (the record reads numbers from it); empty cells are
/// blank. A row whose geometry cannot be read is an error naming its line and column.
pub fn read_features(
    path: &Path,
    forced: Option<super::text::TextEncoding>,
) -> Result<Features, FormatError> {
    let bytes =
        std::fs::read(path).map_err(|e| FormatError::file(path, format!("cannot read: {e}")))?;
    let (text, _) = super::text::decode(&bytes, forced).map_err(|m| FormatError::file(path, m))?;
    let mut r = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = r
        .headers()
        .map_err(|e| FormatError::file(path, format!("cannot read the header line: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let columns = Columns::find(path, headers)?;
    let fields = columns.fields();
    let mut features = Vec::new();
    for (i, row) in r.records().enumerate() {
        // The header is line 1.
        let line = i + 2;
        let row = row.map_err(|e| FormatError {
            file: path.to_path_buf(),
            feature: Some(line),
            id: None,
            field: None,
            message: format!("not a CSV row: {e}"),
        })?;
        features.push(columns.feature(path, line, &row)?);
    }
    Ok(Features { fields, features })
}

/// A CSV geography table's header and where in it the geometry is.
struct Columns {
    headers: Vec<String>,
    wkt: Option<usize>,
    lonlat: Option<(usize, usize)>,
    geometry_at: Vec<usize>,
}

impl Columns {
    /// Finds the WKT or longitude/latitude columns in `headers`, or says none is there.
    fn find(path: &Path, headers: Vec<String>) -> Result<Columns, FormatError> {
        let wkt = column(&headers, WKT_COLUMNS);
        let lonlat = column(&headers, LON_COLUMNS).zip(column(&headers, LAT_COLUMNS));
        if wkt.is_none() && lonlat.is_none() {
            return Err(FormatError::file(
                path,
                format!(
                    "no geometry column: give a WKT column ({}) or longitude and latitude columns (lon and lat, x and y, 经度 and 纬度); its columns: {}",
                    WKT_COLUMNS.join(", "),
                    headers.join(", ")
                ),
            ));
        }
        let geometry_at: Vec<usize> = match (wkt, lonlat) {
            (Some(w), _) => vec![w],
            (None, Some((x, y))) => vec![x, y],
            (None, None) => vec![],
        };
        Ok(Columns {
            headers,
            wkt,
            lonlat,
            geometry_at,
        })
    }

    /// The names of the columns that are not geometry.
    fn fields(&self) -> Vec<String> {
        self.headers
            .iter()
            .enumerate()
            .filter(|(k, _)| !self.geometry_at.contains(k))
            .map(|(_, h)| h.clone())
            .collect()
    }

    /// The feature of the row on `line`: its geometry and its other cells as properties.
    fn feature(
        &self,
        path: &Path,
        line: usize,
        row: &csv::StringRecord,
    ) -> Result<super::RawFeature, FormatError> {
        let cell = |k: usize| row.get(k).unwrap_or_default().trim();
        let geom = self.geometry(path, line, row)?;
        let props = self
            .headers
            .iter()
            .enumerate()
            .filter(|(k, _)| !self.geometry_at.contains(k))
            .map(|(k, h)| {
                let v = cell(k);
                let v = if v.is_empty() {
                    serde_json::Value::Null
                } else {
                    serde_json::Value::String(v.to_string())
                };
                (h.clone(), v)
            })
            .collect();
        Ok(super::RawFeature {
            number: line,
            geom,
            props,
        })
    }

    /// The geometry of the row on `line`, read from its WKT or longitude/latitude cells.
    fn geometry(
        &self,
        path: &Path,
        line: usize,
        row: &csv::StringRecord,
    ) -> Result<Option<geo_types::Geometry<f64>>, FormatError> {
        use geozero::ToGeo;
        let cell = |k: usize| row.get(k).unwrap_or_default().trim();
        let at = |field: &str, message: String| FormatError {
            file: path.to_path_buf(),
            feature: Some(line),
            id: None,
            field: Some(field.to_string()),
            message,
        };
        let headers = &self.headers;
        let geom = match (self.wkt, self.lonlat) {
            (Some(w), _) if cell(w).is_empty() => None,
            (Some(w), _) => Some(
                geozero::wkt::Wkt(cell(w))
                    .to_geo()
                    .map_err(|e| at(&headers[w], format!("not WKT: {e}")))?,
            ),
            (None, Some((x, y))) => {
                let num = |k: usize| {
                    cell(k)
                        .parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite())
                        .ok_or_else(|| at(&headers[k], format!("`{}` is not a number", cell(k))))
                };
                Some(geo_types::Geometry::Point(geo_types::Point::new(
                    num(x)?,
                    num(y)?,
                )))
            }
            (None, None) => None,
        };
        Ok(geom)
    }
}
