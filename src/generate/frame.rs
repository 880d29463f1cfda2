//! A local metric frame (equirectangular around a centre) for laying out shapes in metres.
//! Within a district (< 100 km) its scale error is below 1%, far under what a layout needs.

use geo::MapCoords;
use geo_types::Coord;

#[derive(Debug, Clone, Copy)]
pub struct Frame {
    lon0: f64,
    lat0: f64,
    kx: f64,
    ky: f64,
}

impl Frame {
    pub fn new(lon0: f64, lat0: f64) -> Frame {
        Frame {
            lon0,
            lat0,
            kx: 111_320.0 * lat0.to_radians().cos(),
            ky: 110_574.0,
        }
    }

    pub fn to_m(self, c: Coord<f64>) -> Coord<f64> {
        Coord {
            x: (c.x - self.lon0) * self.kx,
            y: (c.y - self.lat0) * self.ky,
        }
    }

    pub fn to_ll(self, c: Coord<f64>) -> Coord<f64> {
        Coord {
            x: round6(self.lon0 + c.x / self.kx),
            y: round6(self.lat0 + c.y / self.ky),
        }
    }

    pub fn geom_to_m<G: MapCoords<f64, f64, Output = G>>(&self, g: &G) -> G {
        g.map_coords(|c| self.to_m(c))
    }

    pub fn geom_to_ll<G: MapCoords<f64, f64, Output = G>>(&self, g: &G) -> G {
        g.map_coords(|c| self.to_ll(c))
    }
}

/// Coordinates are stored to 1e-7 degrees (about 1 cm), as FlatGeobuf readers print them.
fn round6(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}
