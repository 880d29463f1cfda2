//! Geometry checks shared by every reader: emptiness, coordinate ranges (a projected file read
//! as lon/lat), ring closure and winding, and OGC validity through geo's `Validation`.

use super::FeatureProblem;
use geo::orient::{Direction, Orient};
use geo::{Validation, Winding};
use geo_types::{Coord, Geometry, LineString, MultiPolygon, Polygon};

/// How strict a reader is about polygon ring orientation.
#[derive(Debug, Clone, Copy, Default)]
pub struct GeometryRules {
    /// Re-wind rings to RFC 7946 order instead of rejecting clockwise exteriors.
    pub reorient: bool,
    /// The file is byte for byte one whose records passed every check when it was written
    /// (its digest is in the manifest's `checked`): OGC validity, the costly check (a sweep
    /// over every pair of edges), is not done again. Everything else still is.
    pub known_valid: bool,
}

fn check_coord(c: Coord<f64>) -> Result<(), FeatureProblem> {
    if !c.x.is_finite() || !c.y.is_finite() {
        return Err(FeatureProblem::geometry(
            "a coordinate is not a finite number",
        ));
    }
    if !(-180.0..=180.0).contains(&c.x) || !(-90.0..=90.0).contains(&c.y) {
        return Err(FeatureProblem::geometry(format!(
            "coordinate ({}, {}) is not longitude/latitude: the file seems to be in a projected CRS; \
             reproject it to EPSG:4326 (ogr2ogr -t_srs EPSG:4326)",
            c.x, c.y
        )));
    }
    Ok(())
}

fn check_ring(ring: &LineString<f64>, which: &str) -> Result<(), FeatureProblem> {
    if ring.0.len() < 4 {
        return Err(FeatureProblem::geometry(format!(
            "{which} has {} points; a ring needs at least 4",
            ring.0.len()
        )));
    }
    ring.0.iter().try_for_each(|c| check_coord(*c))
}

/// Checks one polygon; `validity` runs the OGC validity check (a multipolygon's parts skip it:
/// the multipolygon's own check covers each part).
fn check_polygon(
    poly: &Polygon<f64>,
    rules: GeometryRules,
    validity: bool,
) -> Result<Polygon<f64>, FeatureProblem> {
    if poly.exterior().0.is_empty() {
        return Err(FeatureProblem::geometry("empty polygon"));
    }
    check_ring(poly.exterior(), "exterior ring")?;
    for (i, hole) in poly.interiors().iter().enumerate() {
        check_ring(hole, &format!("interior ring {}", i + 1))?;
    }
    if !rules.reorient {
        if poly.exterior().is_cw() {
            return Err(FeatureProblem::geometry(
                "exterior ring is wound clockwise; RFC 7946 wants it counter-clockwise \
                 (import with --reorient to re-wind rings)",
            ));
        }
        if let Some(i) = poly.interiors().iter().position(geo::Winding::is_ccw) {
            return Err(FeatureProblem::geometry(format!(
                "interior ring {} is wound counter-clockwise; holes must be clockwise \
                 (import with --reorient to re-wind rings)",
                i + 1
            )));
        }
    }
    let poly = poly.orient(Direction::Default);
    if rules.known_valid || !validity {
        return Ok(poly);
    }
    if let Err(e) = poly.check_validation() {
        return Err(FeatureProblem::geometry(format!("invalid polygon: {e}")));
    }
    Ok(poly)
}

/// Checks a polygonal geometry and returns it as a MultiPolygon (a Polygon is promoted).
pub fn multi_polygon(
    geom: Option<Geometry<f64>>,
    rules: GeometryRules,
) -> Result<MultiPolygon<f64>, FeatureProblem> {
    let polys = match geom {
        None => return Err(FeatureProblem::geometry("missing geometry")),
        Some(Geometry::Polygon(p)) => vec![p],
        Some(Geometry::MultiPolygon(mp)) => mp.0,
        Some(other) => {
            return Err(FeatureProblem::geometry(format!(
                "expected a Polygon or MultiPolygon, found a {}",
                type_name(&other)
            )))
        }
    };
    if polys.is_empty() {
        return Err(FeatureProblem::geometry("empty geometry"));
    }
    let polys = polys
        .iter()
        .map(|p| check_polygon(p, rules, false))
        .collect::<Result<Vec<_>, _>>()?;
    let mp = MultiPolygon(polys);
    if rules.known_valid {
        return Ok(mp);
    }
    if let Err(e) = mp.check_validation() {
        return Err(FeatureProblem::geometry(format!(
            "invalid multipolygon: {e}"
        )));
    }
    Ok(mp)
}

/// Checks a single polygon (a one-part MultiPolygon is accepted).
pub fn polygon(
    geom: Option<Geometry<f64>>,
    rules: GeometryRules,
) -> Result<Polygon<f64>, FeatureProblem> {
    match geom {
        Some(Geometry::MultiPolygon(mp)) if mp.0.len() == 1 => {
            let p =
                mp.0.into_iter()
                    .next()
                    .ok_or_else(|| FeatureProblem::geometry("empty geometry"))?;
            check_polygon(&p, rules, true)
        }
        Some(Geometry::Polygon(p)) => check_polygon(&p, rules, true),
        None => Err(FeatureProblem::geometry("missing geometry")),
        Some(other) => Err(FeatureProblem::geometry(format!(
            "expected a Polygon, found a {}",
            type_name(&other)
        ))),
    }
}

/// Checks a point.
pub fn point(geom: Option<Geometry<f64>>) -> Result<geo_types::Point<f64>, FeatureProblem> {
    match geom {
        Some(Geometry::Point(p)) => {
            check_coord(p.0)?;
            Ok(p)
        }
        Some(Geometry::MultiPoint(mp)) if mp.0.len() == 1 => {
            let p = mp.0[0];
            check_coord(p.0)?;
            Ok(p)
        }
        None => Err(FeatureProblem::geometry("missing geometry")),
        Some(other) => Err(FeatureProblem::geometry(format!(
            "expected a Point, found a {}",
            type_name(&other)
        ))),
    }
}

/// The OGC name of a geometry's type.
pub fn type_name(g: &Geometry<f64>) -> &'static str {
    match g {
        Geometry::Point(_) => "Point",
        Geometry::Line(_) => "Line",
        Geometry::LineString(_) => "LineString",
        Geometry::Polygon(_) => "Polygon",
        Geometry::MultiPoint(_) => "MultiPoint",
        Geometry::MultiLineString(_) => "MultiLineString",
        Geometry::MultiPolygon(_) => "MultiPolygon",
        Geometry::GeometryCollection(_) => "GeometryCollection",
        Geometry::Rect(_) => "Rect",
        Geometry::Triangle(_) => "Triangle",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::polygon;

    #[test]
    fn bowtie_is_rejected_as_invalid() {
        let bowtie = polygon![(x: 120.0, y: 36.0), (x: 120.01, y: 36.01), (x: 120.01, y: 36.0), (x: 120.0, y: 36.01), (x: 120.0, y: 36.0)];
        let e = polygon(
            Some(Geometry::Polygon(bowtie)),
            GeometryRules {
                reorient: true,
                ..GeometryRules::default()
            },
        )
        .unwrap_err();
        assert!(e.message.contains("invalid"), "{e:?}");
    }

    #[test]
    fn clockwise_exterior_is_rejected_unless_reoriented() {
        let cw = polygon![(x: 120.0, y: 36.0), (x: 120.0, y: 36.01), (x: 120.01, y: 36.01), (x: 120.01, y: 36.0), (x: 120.0, y: 36.0)];
        let e = polygon(
            Some(Geometry::Polygon(cw.clone())),
            GeometryRules::default(),
        )
        .unwrap_err();
        assert!(e.message.contains("clockwise"));
        let fixed = polygon(
            Some(Geometry::Polygon(cw)),
            GeometryRules {
                reorient: true,
                ..GeometryRules::default()
            },
        )
        .unwrap();
        assert!(fixed.exterior().is_ccw());
    }

    #[test]
    fn projected_coordinates_are_named() {
        let e = point(Some(Geometry::Point(geo_types::Point::new(
            13_400_000.0,
            4_300_000.0,
        ))))
        .unwrap_err();
        assert!(e.message.contains("projected CRS"));
    }
}
