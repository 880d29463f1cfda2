//! GeoJSON (RFC 7946) layers: a FeatureCollection read with the geojson crate, checked for the
//! things RFC 7946 asks (closed rings, longitude/latitude, no foreign CRS).

use super::{FeatureProblem, FormatError, GeometryRules, Props, RawFeature, Record};
use std::path::Path;

fn crs_ok(crs: &serde_json::Value) -> Result<(), String> {
    let name = crs
        .pointer("/properties/name")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    let ok = [
        "CRS84",
        "EPSG::4326",
        "EPSG:4326",
        "EPSG::4490",
        "EPSG:4490",
    ]
    .iter()
    .any(|s| name.ends_with(s));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the file declares CRS `{name}`; expected longitude/latitude (OGC:CRS84 or EPSG:4326); \
             reproject with ogr2ogr -t_srs EPSG:4326"
        ))
    }
}

fn rings_closed(value: &geojson::Value) -> Result<(), FeatureProblem> {
    fn check(rings: &[Vec<Vec<f64>>]) -> Result<(), FeatureProblem> {
        for (i, ring) in rings.iter().enumerate() {
            if ring.len() >= 2 && ring.first() != ring.last() {
                let which = if i == 0 {
                    "exterior ring".to_string()
                } else {
                    format!("interior ring {i}")
                };
                return Err(FeatureProblem::geometry(format!(
                    "{which} is not closed: its last position differs from its first"
                )));
            }
        }
        Ok(())
    }
    match value {
        geojson::Value::Polygon(rings) => check(rings),
        geojson::Value::MultiPolygon(polys) => polys.iter().try_for_each(|p| check(p)),
        _ => Ok(()),
    }
}

/// Reads and validates every feature of a GeoJSON FeatureCollection.
pub fn read_layer<T: Record>(path: &Path, rules: GeometryRules) -> Result<Vec<T>, FormatError> {
    read_layer_mapped(path, rules, None)
}

/// [`read_layer`] with the fields renamed by a mapping first.
pub fn read_layer_mapped<T: Record>(
    path: &Path,
    rules: GeometryRules,
    mapping: Option<&super::mapping::LayerMapping>,
) -> Result<Vec<T>, FormatError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| FormatError::file(path, format!("cannot read: {e}")))?;
    let fc: geojson::FeatureCollection = match text.parse::<geojson::GeoJson>() {
        Ok(geojson::GeoJson::FeatureCollection(fc)) => fc,
        Ok(_) => {
            return Err(FormatError::file(
                path,
                "expected a GeoJSON FeatureCollection",
            ))
        }
        Err(e) => {
            return Err(FormatError::file(
                path,
                format!("not valid GeoJSON (truncated or malformed): {e}"),
            ))
        }
    };
    if let Some(crs) = fc.foreign_members.as_ref().and_then(|m| m.get("crs")) {
        crs_ok(crs).map_err(|m| FormatError::file(path, m))?;
    }
    if let Some(m) = mapping {
        let mut fields: Vec<String> = Vec::new();
        for f in &fc.features {
            for k in f.properties.iter().flat_map(|p| p.keys()) {
                if !fields.contains(k) {
                    fields.push(k.clone());
                }
            }
        }
        m.check(path, &fields)?;
    }
    let mut out = Vec::with_capacity(fc.features.len());
    for (i, feature) in fc.features.into_iter().enumerate() {
        let mut props: Props = feature.properties.unwrap_or_default().into_iter().collect();
        if let Some(id) = &feature.id {
            let v = match id {
                geojson::feature::Id::String(s) => serde_json::Value::from(s.clone()),
                geojson::feature::Id::Number(n) => serde_json::Value::Number(n.clone()),
            };
            props.entry("id".into()).or_insert(v);
        }
        let mut raw = RawFeature {
            number: i + 1,
            geom: None,
            props,
        };
        if let Some(g) = feature.geometry {
            rings_closed(&g.value).map_err(|p| FormatError::feature(path, &raw, p))?;
            match geo_types::Geometry::<f64>::try_from(g) {
                Ok(geom) => raw.geom = Some(geom),
                Err(e) => {
                    return Err(FormatError::feature(
                        path,
                        &raw,
                        FeatureProblem::geometry(format!("unreadable geometry: {e}")),
                    ))
                }
            }
        }
        if let Some(m) = mapping {
            m.apply(&mut raw.props);
        }
        let rec = T::from_raw(&mut raw, rules).map_err(|p| FormatError::feature(path, &raw, p))?;
        out.push(rec);
    }
    Ok(out)
}
