//! Feature answers in the formats planners and GIS tools take: GeoJSON (RFC 7946),
//! FlatGeobuf (through the flatgeobuf writer) and CSV (properties with the longitude and
//! latitude of a point inside each feature). Geometry is shifted to the asked datum here.

use crate::error::Error;
use crate::tile::Datum;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use geo::{InteriorPoint, MapCoords};
use geo_types::Geometry;
use serde_json::{Map, Value};

/// One feature of an answer.
pub struct Feature {
    pub id: Value,
    pub geometry: Geometry<f64>,
    pub properties: Map<String, Value>,
}

/// An answer format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    GeoJson,
    FlatGeobuf,
    Csv,
}

impl Format {
    /// The format asked for, when the caller may have it: downloads (FlatGeobuf, CSV) are
    /// exports, for planners.
    pub fn parse_for(f: Option<&str>, caller: &super::Caller) -> Result<Format, Error> {
        let format = Format::parse(f)?;
        if format != Format::GeoJson {
            caller.require(crate::config::Role::Planner)?;
        }
        Ok(format)
    }

    pub fn parse(f: Option<&str>) -> Result<Format, Error> {
        match f {
            None | Some("json" | "geojson" | "application/geo+json") => Ok(Format::GeoJson),
            Some("fgb" | "flatgeobuf" | "application/flatgeobuf") => Ok(Format::FlatGeobuf),
            Some("csv" | "text/csv") => Ok(Format::Csv),
            Some(other) => Err(Error::BadRequest(format!(
                "unknown format f=`{other}`; use json, fgb or csv"
            ))),
        }
    }
}

/// Shifts every coordinate from WGS 84 to `datum`.
pub fn shift(g: &Geometry<f64>, datum: Datum) -> Geometry<f64> {
    if datum == Datum::Wgs84 {
        return g.clone();
    }
    g.map_coords(|c| {
        let (x, y) = datum.from_wgs84(c.x, c.y);
        geo_types::coord! { x: x, y: y }
    })
}

/// A GeoJSON Feature.
pub fn feature_json(f: &Feature) -> Value {
    serde_json::json!({
        "type": "Feature",
        "id": f.id,
        "geometry": geojson::Geometry::from(&f.geometry),
        "properties": f.properties,
    })
}

/// A GeoJSON FeatureCollection with `extra` members (numberMatched, links…) first.
pub fn collection_json(features: &[Feature], extra: Map<String, Value>) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), Value::from("FeatureCollection"));
    m.extend(extra);
    m.insert(
        "features".into(),
        Value::Array(features.iter().map(feature_json).collect()),
    );
    Value::Object(m)
}

/// A CSV text made elsewhere, as a download named `name.csv`.
pub fn csv_response(name: &str, text: String) -> Response {
    with_type(
        text.into_bytes(),
        "text/csv; charset=utf-8",
        Some(&format!("{name}.csv")),
    )
}

pub(super) fn with_type(body: Vec<u8>, ctype: &'static str, filename: Option<&str>) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    if let Some(name) = filename {
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
            r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
    }
    r
}

/// The answer in `format`; `name` names the layer and the download.
pub fn respond(
    format: Format,
    name: &str,
    features: &[Feature],
    extra: Map<String, Value>,
) -> Result<Response, Error> {
    Ok(match format {
        Format::GeoJson => {
            let body = serde_json::to_vec(&collection_json(features, extra))
                .map_err(anyhow::Error::from)?;
            with_type(body, "application/geo+json", None)
        }
        Format::Csv => with_type(
            csv(features)?,
            "text/csv; charset=utf-8",
            Some(&format!("{name}.csv")),
        ),
        Format::FlatGeobuf => with_type(
            fgb(name, features)?,
            "application/flatgeobuf",
            Some(&format!("{name}.fgb")),
        ),
    })
}

/// Property names in first-seen order over all features.
fn columns(features: &[Feature]) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    for f in features {
        for k in f.properties.keys() {
            if !cols.contains(k) {
                cols.push(k.clone());
            }
        }
    }
    cols
}

fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// CSV with a byte-order mark, so that spreadsheet programs read the Chinese names as UTF-8.
fn write_csv(head: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Result<Vec<u8>, Error> {
    let mut out = "\u{feff}".as_bytes().to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(head).map_err(anyhow::Error::from)?;
        for rec in rows {
            w.write_record(&rec).map_err(anyhow::Error::from)?;
        }
        w.flush().map_err(anyhow::Error::from)?;
    }
    Ok(out)
}

fn csv(features: &[Feature]) -> Result<Vec<u8>, Error> {
    let cols = columns(features);
    let mut head: Vec<&str> = cols.iter().map(String::as_str).collect();
    head.extend(["lon", "lat"]);
    write_csv(
        &head,
        features.iter().map(|f| {
            let mut rec: Vec<String> = cols.iter().map(|c| cell(f.properties.get(c))).collect();
            match f.geometry.interior_point() {
                Some(p) => rec.extend([format!("{:.7}", p.x()), format!("{:.7}", p.y())]),
                None => rec.extend([String::new(), String::new()]),
            }
            rec
        }),
    )
}

/// A table without geometry as a CSV download `name.csv`: the rows' members in first-seen
/// order, arrays joined by `|`.
/// A JSON body already written (a kept answer, or one just made to be kept).
pub fn json_bytes(body: bytes::Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The answer kept for request `key` of the store's current version, when JSON is asked (a
/// CSV is written afresh).
pub fn kept(atlas: &crate::analytics::Atlas, key: &str, format: Format) -> Option<Response> {
    if format == Format::Csv {
        return None;
    }
    atlas.remembered(key).map(json_bytes)
}

pub fn table_csv(name: &str, rows: &[Map<String, Value>]) -> Result<Response, Error> {
    let mut cols: Vec<&str> = Vec::new();
    for r in rows {
        for k in r.keys() {
            if !cols.contains(&k.as_str()) {
                cols.push(k);
            }
        }
    }
    let text = |v: Option<&Value>| match v {
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| cell(Some(x)))
            .collect::<Vec<_>>()
            .join("|"),
        other => cell(other),
    };
    let body = write_csv(
        &cols,
        rows.iter()
            .map(|r| cols.iter().map(|c| text(r.get(*c))).collect()),
    )?;
    Ok(with_type(
        body,
        "text/csv; charset=utf-8",
        Some(&format!("{name}.csv")),
    ))
}

fn fgb(name: &str, features: &[Feature]) -> Result<Vec<u8>, Error> {
    use flatgeobuf::{ColumnType, GeometryType};
    use geozero::{ColumnValue, PropertyProcessor};
    let gtype = match features.first().map(|f| &f.geometry) {
        Some(Geometry::Point(_)) => GeometryType::Point,
        Some(Geometry::LineString(_) | Geometry::MultiLineString(_)) => {
            GeometryType::MultiLineString
        }
        _ => GeometryType::MultiPolygon,
    };
    fn err(e: impl std::fmt::Display) -> Error {
        Error::Other(anyhow::anyhow!("FlatGeobuf: {e}"))
    }
    let mut w = crate::io::fgb::writer(name, gtype).map_err(err)?;
    let cols = columns(features);
    let types: Vec<ColumnType> = cols
        .iter()
        .map(|c| {
            let first = features
                .iter()
                .filter_map(|f| f.properties.get(c))
                .find(|v| !v.is_null());
            match first {
                Some(Value::Number(n)) if n.is_i64() || n.is_u64() => ColumnType::Long,
                Some(Value::Number(_)) => ColumnType::Double,
                Some(Value::Bool(_)) => ColumnType::Bool,
                _ => ColumnType::String,
            }
        })
        .collect();
    for (c, t) in cols.iter().zip(&types) {
        w.add_column(c, *t, |_, col| col.nullable = true);
    }
    for f in features {
        w.add_feature_geom(f.geometry.clone(), |feat| {
            for (i, (c, t)) in cols.iter().zip(&types).enumerate() {
                let Some(v) = f.properties.get(c).filter(|v| !v.is_null()) else {
                    continue;
                };
                let text;
                let cv = match (*t, v) {
                    (ColumnType::Long, Value::Number(n)) => {
                        ColumnValue::Long(n.as_i64().unwrap_or(0))
                    }
                    (ColumnType::Double, Value::Number(n)) => {
                        ColumnValue::Double(n.as_f64().unwrap_or(0.0))
                    }
                    (ColumnType::Bool, Value::Bool(b)) => ColumnValue::Bool(*b),
                    (_, Value::String(s)) => ColumnValue::String(s),
                    (_, other) => {
                        text = other.to_string();
                        ColumnValue::String(&text)
                    }
                };
                // Writing into the in-memory feature buffer cannot fail for these types.
                let _ = feat.property(i, c, &cv);
            }
        })
        .map_err(err)?;
    }
    let mut out = Vec::new();
    w.write(&mut out).map_err(err)?;
    Ok(out)
}
