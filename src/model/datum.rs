//! The Chinese web-map datums: GCJ-02 (AMap, Tencent) and BD-09 (Baidu), from WGS84 by the
//! public formulas (Krasovsky ellipsoid constants; BD-09 as Baidu's published offset on GCJ-02).

use std::f64::consts::PI;

const A: f64 = 6_378_245.0;
const EE: f64 = 0.006_693_421_622_965_943;
const X_PI: f64 = PI * 3000.0 / 180.0;

/// Which datum geometry is drawn in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Datum {
    /// WGS84 / CGCS2000: no shift.
    #[default]
    Wgs84,
    Gcj02,
    Bd09,
}

impl Datum {
    pub fn parse(s: &str) -> Option<Datum> {
        match s.to_ascii_lowercase().as_str() {
            "wgs84" | "cgcs2000" | "" => Some(Datum::Wgs84),
            "gcj02" => Some(Datum::Gcj02),
            "bd09" => Some(Datum::Bd09),
            _ => None,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Datum::Wgs84 => "wgs84",
            Datum::Gcj02 => "gcj02",
            Datum::Bd09 => "bd09",
        }
    }
    /// Shifts a WGS84 longitude/latitude into this datum.
    pub fn from_wgs84(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Datum::Wgs84 => (lon, lat),
            Datum::Gcj02 => wgs84_to_gcj02(lon, lat),
            Datum::Bd09 => {
                let (x, y) = wgs84_to_gcj02(lon, lat);
                gcj02_to_bd09(x, y)
            }
        }
    }
}

impl Datum {
    /// Takes a longitude/latitude of this datum back to WGS84 (by fixed-point iteration on
    /// the forward shift, to well under a millimetre).
    pub fn to_wgs84(self, lon: f64, lat: f64) -> (f64, f64) {
        if self == Datum::Wgs84 {
            return (lon, lat);
        }
        let (mut x, mut y) = (lon, lat);
        for _ in 0..30 {
            let (fx, fy) = self.from_wgs84(x, y);
            let (dx, dy) = (fx - lon, fy - lat);
            x -= dx;
            y -= dy;
            if dx.abs() < 1e-11 && dy.abs() < 1e-11 {
                break;
            }
        }
        (x, y)
    }
}

fn out_of_china(lon: f64, lat: f64) -> bool {
    !(72.004..=137.8347).contains(&lon) || !(0.8293..=55.8271).contains(&lat)
}

fn transform_lat(x: f64, y: f64) -> f64 {
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

fn transform_lon(x: f64, y: f64) -> f64 {
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

pub fn wgs84_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    if out_of_china(lon, lat) {
        return (lon, lat);
    }
    let dlat = transform_lat(lon - 105.0, lat - 35.0);
    let dlon = transform_lon(lon - 105.0, lat - 35.0);
    let radlat = lat / 180.0 * PI;
    let magic = 1.0 - EE * radlat.sin() * radlat.sin();
    let sqrt_magic = magic.sqrt();
    let dlat = (dlat * 180.0) / ((A * (1.0 - EE)) / (magic * sqrt_magic) * PI);
    let dlon = (dlon * 180.0) / (A / sqrt_magic * radlat.cos() * PI);
    (lon + dlon, lat + dlat)
}

pub fn gcj02_to_bd09(lon: f64, lat: f64) -> (f64, f64) {
    let z = (lon * lon + lat * lat).sqrt() + 0.000_02 * (lat * X_PI).sin();
    let theta = lat.atan2(lon) + 0.000_003 * (lon * X_PI).cos();
    (z * theta.cos() + 0.0065, z * theta.sin() + 0.006)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_to_wgs84_inverts_the_shift() {
        for d in [Datum::Gcj02, Datum::Bd09] {
            for (lon, lat) in [(120.38, 36.07), (120.1, 35.9), (119.97, 36.78)] {
                let (x, y) = d.from_wgs84(lon, lat);
                let (bx, by) = d.to_wgs84(x, y);
                assert!((bx - lon).abs() < 1e-9 && (by - lat).abs() < 1e-9, "{d:?}");
            }
        }
    }

    /// Reference pairs published with the widely used coordtransform library.
    #[test]
    fn published_reference_pairs() {
        let (x, y) = wgs84_to_gcj02(116.404, 39.915);
        assert!(
            (x - 116.410_244_499_169_38).abs() < 1e-9 && (y - 39.916_404_281_501_64).abs() < 1e-9,
            "{x} {y}"
        );
        let (x, y) = gcj02_to_bd09(116.404, 39.915);
        assert!(
            (x - 116.410_369_493_710_29).abs() < 1e-9 && (y - 39.921_336_993_510_21).abs() < 1e-9,
            "{x} {y}"
        );
        assert_eq!(
            wgs84_to_gcj02(2.35, 48.85),
            (2.35, 48.85),
            "outside China nothing moves"
        );
    }

    /// The reference data (assets/qingdao, copied from the project's shared data with its
    /// README) holds the same district boundaries in WGS84 and in their GCJ-02 original (to 6
    /// decimals): shifting ours must land on theirs.
    #[test]
    fn qingdao_boundaries_shift_onto_their_gcj02_original() {
        let gcj = include_str!("../../assets/qingdao/qingdao_districts_gcj02.geojson");
        let wgs = include_str!("../../assets/qingdao/qingdao_districts_wgs84.geojson");
        let coords = |text: &str| -> Vec<(f64, f64)> {
            let fc: geojson::FeatureCollection = text
                .parse::<geojson::GeoJson>()
                .unwrap()
                .try_into()
                .unwrap();
            let g: geo_types::Geometry<f64> =
                fc.features[0].geometry.clone().unwrap().try_into().unwrap();
            use geo::CoordsIter;
            g.coords_iter().map(|c| (c.x, c.y)).collect()
        };
        let (a, b) = (coords(wgs), coords(gcj));
        assert_eq!(a.len(), b.len());
        let mut worst: f64 = 0.0;
        for ((x, y), (gx, gy)) in a.iter().zip(&b) {
            let (sx, sy) = wgs84_to_gcj02(*x, *y);
            worst = worst.max((sx - gx).abs()).max((sy - gy).abs());
        }
        // Both files are rounded to 1e-6 degrees and made valid separately: within 2e-6.
        assert!(worst < 2.5e-6, "worst difference {worst}°");
    }
}
