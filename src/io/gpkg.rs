//! GeoPackage feature tables (OGC 12-128r18), read with rusqlite: the table whose name starts
//! with the layer's (or the only one), its CRS from `gpkg_spatial_ref_sys` (the EPSG code, or
//! the WKT definition), its geometry blobs (the GeoPackage header, then WKB) read by geozero.

use super::crs::Crs;
use super::{FeatureProblem, FormatError, Props, RawFeature};
use geozero::ToGeo;
use std::path::Path;

/// A GeoPackage table's features, its CRS and its field names.
pub struct Features {
    pub features: Vec<RawFeature>,
    pub crs: Crs,
    pub fields: Vec<String>,
}

fn sql_error(path: &Path, e: &rusqlite::Error) -> FormatError {
    FormatError::file(path, format!("not a readable GeoPackage: {e}"))
}

/// The WKB inside a GeoPackage geometry blob, or None for an empty geometry.
fn wkb_of(blob: &[u8]) -> Result<Option<&[u8]>, String> {
    if blob.len() < 8 || &blob[..2] != b"GP" {
        return Err("not a GeoPackage geometry (no `GP` header)".into());
    }
    let flags = blob[3];
    if flags & 0b1_0000 != 0 {
        return Ok(None);
    }
    let envelope = match (flags >> 1) & 0b111 {
        0 => 0,
        1 => 32,
        2 | 3 => 48,
        4 => 64,
        n => return Err(format!("unknown envelope kind {n} in the geometry header")),
    };
    blob.get(8 + envelope..)
        .map(Some)
        .ok_or_else(|| "the geometry blob is truncated".to_string())
}

/// Reads the feature table of `layer` (by name prefix, or the only feature table).
pub fn read(path: &Path, layer: &str) -> Result<Features, FormatError> {
    let db =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| sql_error(path, &e))?;
    let (table, geom_col, srs_id) = choose_table(&db, path, layer)?;
    let crs = table_crs(&db, path, &table, srs_id)?;
    let (features, fields) = read_table(&db, path, &table, &geom_col)?;
    Ok(Features {
        features,
        crs,
        fields,
    })
}

/// The feature table of `layer` (name, geometry column, srs id): the only one, or by name prefix.
fn choose_table(
    db: &rusqlite::Connection,
    path: &Path,
    layer: &str,
) -> Result<(String, String, i64), FormatError> {
    let mut q = db
        .prepare(
            "SELECT c.table_name, g.column_name, g.srs_id FROM gpkg_contents c \
             JOIN gpkg_geometry_columns g ON g.table_name = c.table_name \
             WHERE c.data_type = 'features' ORDER BY c.table_name",
        )
        .map_err(|e| sql_error(path, &e))?;
    let tables: Vec<(String, String, i64)> = q
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .and_then(Iterator::collect)
        .map_err(|e| sql_error(path, &e))?;
    let chosen = match tables.as_slice() {
        [] => return Err(FormatError::file(path, "the GeoPackage holds no feature table")),
        [one] => one.clone(),
        many => many
            .iter()
            .find(|(t, _, _)| t.to_lowercase().starts_with(layer))
            .cloned()
            .ok_or_else(|| {
                FormatError::file(
                    path,
                    format!(
                        "the GeoPackage holds the tables {}; none is named after `{layer}` (name it {layer}*)",
                        many.iter().map(|t| t.0.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                )
            })?,
    };
    Ok(chosen)
}

/// The CRS `srs_id` of `table`, from its EPSG code or WKT in `gpkg_spatial_ref_sys`.
fn table_crs(
    db: &rusqlite::Connection,
    path: &Path,
    table: &str,
    srs_id: i64,
) -> Result<Crs, FormatError> {
    let (org, org_id, definition): (String, i64, String) = db
        .query_row(
            "SELECT organization, organization_coordsys_id, definition FROM gpkg_spatial_ref_sys WHERE srs_id = ?1",
            [srs_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map_err(|e| FormatError::file(path, format!("the CRS {srs_id} of `{table}` is not in gpkg_spatial_ref_sys: {e}")))?;
    if org.eq_ignore_ascii_case("EPSG") {
        Crs::from_epsg(u32::try_from(org_id).unwrap_or(0))
    } else {
        Crs::from_wkt(&definition)
    }
    .map_err(|m| FormatError::file(path, format!("table `{table}`: {m}")))
}

/// Every row of `table` as a feature, and the names of its fields other than `geom_col`.
fn read_table(
    db: &rusqlite::Connection,
    path: &Path,
    table: &str,
    geom_col: &str,
) -> Result<(Vec<RawFeature>, Vec<String>), FormatError> {
    let mut q = db
        .prepare(&format!("SELECT * FROM \"{}\"", table.replace('"', "\"\"")))
        .map_err(|e| sql_error(path, &e))?;
    let names: Vec<String> = q.column_names().iter().map(|s| (*s).to_string()).collect();
    let fields: Vec<String> = names.iter().filter(|n| **n != geom_col).cloned().collect();
    let mut rows = q.query([]).map_err(|e| sql_error(path, &e))?;
    let mut features = Vec::new();
    while let Some(row) = rows.next().map_err(|e| sql_error(path, &e))? {
        let number = features.len() + 1;
        features.push(read_row(path, row, &names, geom_col, number)?);
    }
    Ok((features, fields))
}

/// One row as feature `number`: its columns as properties, its `geom_col` blob as geometry.
fn read_row(
    path: &Path,
    row: &rusqlite::Row<'_>,
    names: &[String],
    geom_col: &str,
    number: usize,
) -> Result<RawFeature, FormatError> {
    let mut props = Props::new();
    let mut geom = None;
    for (i, name) in names.iter().enumerate() {
        use rusqlite::types::ValueRef as V;
        let v = row.get_ref(i).map_err(|e| sql_error(path, &e))?;
        if *name == geom_col {
            if let V::Blob(b) = v {
                geom = Some(b.to_vec());
            }
            continue;
        }
        let j = match v {
            V::Null | V::Blob(_) => serde_json::Value::Null,
            V::Integer(n) => serde_json::Value::from(n),
            V::Real(f) => serde_json::Number::from_f64(f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            V::Text(t) => serde_json::Value::String(String::from_utf8_lossy(t).trim().to_string()),
        };
        props.insert(name.clone(), j);
    }
    let mut raw = RawFeature {
        number,
        geom: None,
        props,
    };
    if let Some(blob) = geom {
        let g = wkb_of(&blob)
            .and_then(|w| {
                w.map(|w| {
                    geozero::wkb::Wkb(w.to_vec())
                        .to_geo()
                        .map_err(|e| e.to_string())
                })
                .transpose()
            })
            .map_err(|m| {
                FormatError::feature(
                    path,
                    &raw,
                    FeatureProblem::geometry(format!("unreadable geometry: {m}")),
                )
            })?;
        raw.geom = g;
    }
    Ok(raw)
}
