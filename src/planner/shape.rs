//! Search shapes given by a caller: polygons and lines as WKT or GeoJSON, checked for
//! structure, coordinate ranges and (polygons) validity, and brought back to WGS 84 from the
//! caller's datum.

use crate::tile::Datum;
use geo::{MapCoords, Validation};
use geo_types::{Geometry, MultiLineString, MultiPolygon};
use geozero::ToGeo;

/// The most vertices a search shape may have.
pub const MAX_VERTICES: usize = 100_000;

/// Reads WKT (`POLYGON((…))`) or GeoJSON (a geometry, or a Feature holding one).
pub fn parse(text: &str) -> Result<Geometry<f64>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty shape".into());
    }
    if t.starts_with('{') {
        let gj: geojson::GeoJson = t.parse().map_err(|e| format!("malformed GeoJSON: {e}"))?;
        let geom = match gj {
            geojson::GeoJson::Geometry(g) => g,
            geojson::GeoJson::Feature(f) => f
                .geometry
                .ok_or_else(|| "the GeoJSON Feature has no geometry".to_string())?,
            geojson::GeoJson::FeatureCollection(_) => {
                return Err("give one geometry (or Feature), not a FeatureCollection".into())
            }
        };
        Geometry::<f64>::try_from(geom).map_err(|e| format!("malformed GeoJSON geometry: {e}"))
    } else {
        geozero::wkt::Wkt(t)
            .to_geo()
            .map_err(|e| format!("malformed WKT: {e}"))
    }
}

fn check_coords(g: &Geometry<f64>) -> Result<(), String> {
    use geo::CoordsIter;
    let mut n = 0usize;
    for c in g.coords_iter() {
        n += 1;
        if !c.x.is_finite() || !c.y.is_finite() {
            return Err("a coordinate is not a finite number".into());
        }
        if !(-180.0..=180.0).contains(&c.x) || !(-90.0..=90.0).contains(&c.y) {
            return Err(format!(
                "coordinate ({}, {}) is outside longitude −180..180 / latitude −90..90 (give longitude first)",
                c.x, c.y
            ));
        }
    }
    if n > MAX_VERTICES {
        return Err(format!(
            "the shape has {n} vertices; at most {MAX_VERTICES}"
        ));
    }
    Ok(())
}

fn to_wgs84(g: Geometry<f64>, datum: Datum) -> Geometry<f64> {
    g.map_coords(|c| {
        let (x, y) = datum.to_wgs84(c.x, c.y);
        geo_types::coord! { x: x, y: y }
    })
}

/// A polygon or multipolygon, valid (closed rings, no self-intersection, holes inside).
pub fn polygon(text: &str, datum: Datum) -> Result<MultiPolygon<f64>, String> {
    let g = parse(text)?;
    check_coords(&g)?;
    let mp = match to_wgs84(g, datum) {
        Geometry::Polygon(p) => MultiPolygon(vec![p]),
        Geometry::MultiPolygon(mp) => mp,
        other => {
            return Err(format!(
                "expected a Polygon or MultiPolygon, got a {}",
                crate::io::validate::type_name(&other)
            ))
        }
    };
    if mp.0.iter().any(|p| p.exterior().0.len() < 4) {
        return Err("a polygon ring needs at least 4 positions (the first repeated last)".into());
    }
    if let Some(problem) = mp.validation_errors().first() {
        return Err(format!("invalid polygon: {problem}"));
    }
    Ok(mp)
}

/// A linestring or multilinestring of at least two positions each.
pub fn line(text: &str, datum: Datum) -> Result<MultiLineString<f64>, String> {
    let g = parse(text)?;
    check_coords(&g)?;
    let ml = match to_wgs84(g, datum) {
        Geometry::LineString(l) => MultiLineString(vec![l]),
        Geometry::MultiLineString(ml) => ml,
        other => {
            return Err(format!(
                "expected a LineString or MultiLineString, got a {}",
                crate::io::validate::type_name(&other)
            ))
        }
    };
    if ml.0.is_empty() || ml.0.iter().any(|l| l.0.len() < 2) {
        return Err("a line needs at least two positions".into());
    }
    Ok(ml)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wkt_and_geojson_and_refuses_bad_shapes() {
        let sq = "POLYGON((120.3 36.0, 120.4 36.0, 120.4 36.1, 120.3 36.1, 120.3 36.0))";
        assert_eq!(polygon(sq, Datum::Wgs84).map(|m| m.0.len()), Ok(1));
        let gj = r#"{"type":"Polygon","coordinates":[[[120.3,36.0],[120.4,36.0],[120.4,36.1],[120.3,36.0]]]}"#;
        assert!(polygon(gj, Datum::Wgs84).is_ok());
        let bowtie = "POLYGON((120.3 36.0, 120.4 36.1, 120.4 36.0, 120.3 36.1, 120.3 36.0))";
        assert!(polygon(bowtie, Datum::Wgs84)
            .unwrap_err()
            .contains("invalid polygon"));
        assert!(polygon("POLYGON((120.3 36.0, 120.4", Datum::Wgs84)
            .unwrap_err()
            .contains("malformed WKT"));
        assert!(polygon("{\"type\":\"Polygon\"", Datum::Wgs84)
            .unwrap_err()
            .contains("malformed GeoJSON"));
        assert!(polygon(
            "POLYGON((36.0 120.3, 36.0 120.4, 36.1 120.4, 36.0 120.3))",
            Datum::Wgs84
        )
        .unwrap_err()
        .contains("outside"));
        assert!(polygon("LINESTRING(120.3 36.0, 120.4 36.0)", Datum::Wgs84)
            .unwrap_err()
            .contains("LineString"));
        assert!(line("LINESTRING(120.3 36.0, 120.4 36.0)", Datum::Wgs84).is_ok());
        assert!(line("LINESTRING(120.3 36.0)", Datum::Wgs84).is_err());
    }
}
