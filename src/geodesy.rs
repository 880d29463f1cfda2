//! Distances in metres on the WGS 84 ellipsoid, measured the way PostGIS measures
//! `geography`: edges are great-circle arcs; the nearest point of a shape is found on the
//! sphere first, then the geodesic (Karney) distance to it is taken on the ellipsoid.

use geo::{Distance, Geodesic, Intersects};
use geo_types::{Coord, Line, LineString, MultiLineString, MultiPolygon, Point, Rect};

/// Metres per degree of latitude (mean), used only to size search boxes generously.
const M_PER_DEG_LAT: f64 = 110_574.0;

/// The geodesic distance between two points in metres.
pub fn metres(a: Point<f64>, b: Point<f64>) -> f64 {
    Geodesic.distance(a, b)
}

/// A box around `p` holding every point within `radius_m` of it (with a margin).
pub fn search_box(p: Point<f64>, radius_m: f64) -> Rect<f64> {
    grow(Rect::new(p.0, p.0), radius_m)
}

/// `r` grown by `m` metres on every side.
pub fn grow(r: Rect<f64>, m: f64) -> Rect<f64> {
    let lat = r.max().y.abs().max(r.min().y.abs());
    let dlat = m / M_PER_DEG_LAT * 1.02 + 1e-6;
    let dlon = m / (111_320.0 * lat.to_radians().cos().max(0.05)) * 1.02 + 1e-6;
    Rect::new(
        Coord {
            x: r.min().x - dlon,
            y: r.min().y - dlat,
        },
        Coord {
            x: r.max().x + dlon,
            y: r.max().y + dlat,
        },
    )
}

type V3 = [f64; 3];

fn unit(c: Coord<f64>) -> V3 {
    let (lon, lat) = (c.x.to_radians(), c.y.to_radians());
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

fn lonlat(v: V3) -> Coord<f64> {
    Coord {
        x: v[1].atan2(v[0]).to_degrees(),
        y: v[2].atan2(v[0].hypot(v[1])).to_degrees(),
    }
}

fn cross(a: V3, b: V3) -> V3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn norm(a: V3) -> f64 {
    dot(a, a).sqrt()
}

/// The angle between two unit vectors (radians), well-conditioned for small angles.
fn angle(a: V3, b: V3) -> f64 {
    norm(cross(a, b)).atan2(dot(a, b))
}

/// The point of the great-circle arc `a`–`b` nearest to `p`, with its angular distance.
fn nearest_on_segment(p: Coord<f64>, a: Coord<f64>, b: Coord<f64>) -> (Coord<f64>, f64) {
    let (pv, av, bv) = (unit(p), unit(a), unit(b));
    let n = cross(av, bv);
    let nn = norm(n);
    if nn > 1e-15 {
        let n = [n[0] / nn, n[1] / nn, n[2] / nn];
        let k = dot(pv, n);
        let c = [pv[0] - k * n[0], pv[1] - k * n[1], pv[2] - k * n[2]];
        let cn = norm(c);
        if cn > 1e-15 {
            let c = [c[0] / cn, c[1] / cn, c[2] / cn];
            // On the arc when it lies between a and b going round the normal.
            if dot(cross(av, c), n) >= 0.0 && dot(cross(c, bv), n) >= 0.0 {
                return (lonlat(c), angle(pv, c));
            }
        }
    }
    let (da, db) = (angle(pv, av), angle(pv, bv));
    if da <= db {
        (a, da)
    } else {
        (b, db)
    }
}

/// The nearest point to `p` over a set of segments (on the sphere, for choosing).
fn nearest_of(p: Coord<f64>, lines: impl Iterator<Item = Line<f64>>) -> Option<(Coord<f64>, f64)> {
    let mut best: Option<(Coord<f64>, f64)> = None;
    for l in lines {
        let (q, d2) = nearest_on_segment(p, l.start, l.end);
        if best.is_none_or(|(_, b)| d2 < b) {
            best = Some((q, d2));
        }
    }
    best
}

fn polygon_lines(mp: &MultiPolygon<f64>) -> impl Iterator<Item = Line<f64>> + '_ {
    mp.0.iter().flat_map(|poly| {
        std::iter::once(poly.exterior())
            .chain(poly.interiors())
            .flat_map(LineString::lines)
    })
}

/// Metres from `p` to a (multi)polygon: 0 inside or on it, else to its nearest boundary
/// point.
pub fn point_to_polygon(p: Point<f64>, mp: &MultiPolygon<f64>) -> f64 {
    if mp.intersects(&p) {
        return 0.0;
    }
    nearest_of(p.0, polygon_lines(mp)).map_or(f64::INFINITY, |(q, _)| metres(p, Point(q)))
}

/// Metres from `p` to a line.
pub fn point_to_line(p: Point<f64>, line: &MultiLineString<f64>) -> f64 {
    nearest_of(p.0, line.0.iter().flat_map(LineString::lines))
        .map_or(f64::INFINITY, |(q, _)| metres(p, Point(q)))
}

/// Metres between a (multi)polygon and a line: 0 where they meet, else the least distance
/// between a vertex of one and the other.
pub fn polygon_to_line(mp: &MultiPolygon<f64>, line: &MultiLineString<f64>) -> f64 {
    if mp.intersects(line) {
        return 0.0;
    }
    let mut best = f64::INFINITY;
    for c in line.0.iter().flat_map(|l| l.0.iter()) {
        best = best.min(point_to_polygon(Point(*c), mp));
    }
    for poly in &mp.0 {
        for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
            for c in &ring.0 {
                best = best.min(point_to_line(Point(*c), line));
            }
        }
    }
    best
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // tests compare the exact values they expect
mod tests {
    use super::*;
    use geo_types::{line_string, polygon};

    #[test]
    fn inside_is_zero_and_outside_is_to_the_edge() {
        let sq = MultiPolygon(vec![polygon![
            (x: 120.0, y: 36.0), (x: 120.01, y: 36.0), (x: 120.01, y: 36.01), (x: 120.0, y: 36.01), (x: 120.0, y: 36.0)
        ]]);
        assert_eq!(point_to_polygon(Point::new(120.005, 36.005), &sq), 0.0);
        // Due south of the bottom edge by 0.001° of latitude: about 110.9 m at 36°N.
        let d = point_to_polygon(Point::new(120.005, 35.999), &sq);
        let direct = metres(Point::new(120.005, 35.999), Point::new(120.005, 36.0));
        // The edge is a great circle, which bows ~1 cm north of the parallel here.
        assert!((d - direct).abs() < 0.05, "{d} vs {direct}");
        assert!((d - 110.9).abs() < 0.3, "{d}");
    }

    #[test]
    fn corridor_distance_is_symmetric_in_vertices() {
        let sq = MultiPolygon(vec![polygon![
            (x: 120.0, y: 36.0), (x: 120.01, y: 36.0), (x: 120.01, y: 36.01), (x: 120.0, y: 36.01), (x: 120.0, y: 36.0)
        ]]);
        let crossing = MultiLineString(vec![
            line_string![(x: 119.99, y: 36.005), (x: 120.02, y: 36.005)],
        ]);
        assert_eq!(polygon_to_line(&sq, &crossing), 0.0);
        let north = MultiLineString(vec![
            line_string![(x: 119.99, y: 36.011), (x: 120.02, y: 36.011)],
        ]);
        let d = polygon_to_line(&sq, &north);
        assert!((d - 110.9).abs() < 0.5, "{d}");
    }

    #[test]
    fn search_box_holds_the_circle() {
        let p = Point::new(120.38, 36.07);
        let r = search_box(p, 5_000.0);
        assert!(metres(p, Point::new(r.min().x, p.y())) > 5_000.0);
        assert!(metres(p, Point::new(p.x(), r.max().y)) > 5_000.0);
    }
}
