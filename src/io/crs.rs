//! Coordinate reference systems of imported files, and their reprojection to the
//! longitude/latitude every store keeps (EPSG:4326; CGCS2000's EPSG:4490 is the same to within
//! centimetres and taken as it is, as PROJ does).
//!
//! A CRS comes from an EPSG code (`--crs EPSG:4549`, a FlatGeobuf header, a GeoPackage's
//! `gpkg_spatial_ref_sys`), whose definition is looked up in `crs-definitions` and projected
//! with `proj4rs`, or from the WKT of a Shapefile's `.prj`: by its `AUTHORITY["EPSG",…]` when it
//! has one, else from its projection, parameters and spheroid (the ESRI form bureaus' files
//! carry: `PROJCS["CGCS2000_3_Degree_GK_Zone_40",…PROJECTION["Gauss_Kruger"]…]`).
//!
//! Gauss–Krüger eastings are written with and without their zone number in front
//! (`40 512 345.6` or `512 345.6`): either form is read under either kind of CRS, the prefix
//! checked against the zone's central meridian.

use geo_types::{Coord, Geometry};

/// The codes taken as longitude/latitude without any transformation.
const LONLAT: [u16; 3] = [4326, 4490, 4979];

/// Web Mercator's codes (sphere of radius 6378137, no datum shift: inverted by formula).
const WEB_MERCATOR: [u32; 4] = [3857, 900_913, 3785, 102_100];

/// A source CRS, ready to turn its coordinates into longitude/latitude.
#[derive(Debug)]
pub struct Crs {
    /// How it was named, for messages: `EPSG:4549`, or the `.prj`'s name.
    pub label: String,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    LonLat,
    WebMercator,
    Projected {
        from: Box<proj4rs::Proj>,
        to: Box<proj4rs::Proj>,
        /// Transverse Mercator: the false easting and central meridian, to read eastings
        /// with or without a zone prefix.
        tmerc: Option<(f64, f64)>,
        /// The CRS is geographic (degrees in, degrees out, through a datum shift).
        geographic: bool,
    },
}

impl Crs {
    /// Longitude/latitude (EPSG:4326).
    #[must_use]
    pub fn lonlat() -> Crs {
        Crs {
            label: "EPSG:4326".into(),
            kind: Kind::LonLat,
        }
    }

    #[must_use]
    pub fn is_lonlat(&self) -> bool {
        matches!(self.kind, Kind::LonLat)
    }

    /// Parses `--crs`: `EPSG:4549`, `epsg:4549` or `4549`.
    pub fn parse_code(s: &str) -> Result<u32, String> {
        crate::model::epsg_code(s)
    }

    /// The CRS of an EPSG code.
    pub fn from_epsg(code: u32) -> Result<Crs, String> {
        let label = format!("EPSG:{code}");
        let c = u16::try_from(code).ok();
        if c.is_some_and(|c| LONLAT.contains(&c)) {
            return Ok(Crs {
                label,
                kind: Kind::LonLat,
            });
        }
        if WEB_MERCATOR.contains(&code) {
            return Ok(Crs {
                label,
                kind: Kind::WebMercator,
            });
        }
        let def = c.and_then(crs_definitions::from_code).ok_or_else(|| {
            format!("{label} is not a CRS this server knows; reproject the file to EPSG:4326 or give its code with --crs")
        })?;
        Crs::from_proj_string(label, def.proj4)
    }

    fn from_proj_string(label: String, proj4: &str) -> Result<Crs, String> {
        let from = proj4rs::Proj::from_proj_string(proj4)
            .map_err(|e| format!("{label}: its definition `{proj4}` cannot be used: {e}"))?;
        let geographic = from.is_latlong();
        // A datum of its own (towgs84, or a named datum other than WGS84) is shifted onto WGS84;
        // otherwise the CRS's own ellipsoid is kept (CGCS2000 and WGS84 agree to centimetres,
        // and PROJ takes one for the other without a shift as well).
        let shifted =
            proj4.contains("+towgs84") || proj4.contains("+datum=") || proj4.contains("+nadgrids");
        let to = if shifted {
            "+proj=longlat +datum=WGS84 +no_defs".to_string()
        } else {
            let ellps: Vec<&str> = proj4
                .split_whitespace()
                .filter(|p| {
                    p.starts_with("+ellps=")
                        || p.starts_with("+a=")
                        || p.starts_with("+b=")
                        || p.starts_with("+rf=")
                        || p.starts_with("+R=")
                })
                .collect();
            let ellps = if ellps.is_empty() {
                "+ellps=WGS84".to_string()
            } else {
                ellps.join(" ")
            };
            format!("+proj=longlat {ellps} +no_defs")
        };
        let to = proj4rs::Proj::from_proj_string(&to)
            .map_err(|e| format!("{label}: cannot make its geographic CRS: {e}"))?;
        let tmerc = proj4.contains("+proj=tmerc").then(|| {
            (
                param(proj4, "x_0").unwrap_or(0.0),
                param(proj4, "lon_0").unwrap_or(0.0),
            )
        });
        if geographic && !shifted {
            // Degrees on another ellipsoid with no datum: nothing to transform.
            return Ok(Crs {
                label,
                kind: Kind::LonLat,
            });
        }
        Ok(Crs {
            label,
            kind: Kind::Projected {
                from: Box::new(from),
                to: Box::new(to),
                tmerc,
                geographic,
            },
        })
    }

    /// The CRS a Shapefile's `.prj` (WKT 1, ESRI or OGC flavour) describes.
    pub fn from_wkt(wkt: &str) -> Result<Crs, String> {
        let root = wkt::parse(wkt).map_err(|e| format!("the CRS text cannot be read: {e}"))?;
        let name = root.text(0).unwrap_or_default().to_string();
        if let Some(code) = root.authority() {
            let mut crs = Crs::from_epsg(code)?;
            crs.label = format!("{name} (EPSG:{code})");
            return Ok(crs);
        }
        let geogcs = if root.key == "GEOGCS" {
            Some(&root)
        } else {
            root.child("GEOGCS")
        };
        let ellps = wkt_ellipsoid(&name, geogcs)?;
        let towgs84 = wkt_towgs84(geogcs);
        match root.key.as_str() {
            "GEOGCS" => {
                if towgs84.is_empty() {
                    Ok(Crs {
                        label: name,
                        kind: Kind::LonLat,
                    })
                } else {
                    Crs::from_proj_string(name, &format!("+proj=longlat {ellps}{towgs84} +no_defs"))
                }
            }
            "PROJCS" => Crs::from_wkt_projcs(&root, name, &ellps, &towgs84),
            other => Err(format!(
                "the CRS text is a `{other}`; expected PROJCS or GEOGCS"
            )),
        }
    }

    /// The CRS of a WKT `PROJCS` without an EPSG authority, from its projection and parameters.
    fn from_wkt_projcs(
        root: &wkt::Node,
        name: String,
        ellps: &str,
        towgs84: &str,
    ) -> Result<Crs, String> {
        let projection = root
            .child("PROJECTION")
            .and_then(|p| p.text(0))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let p = |names: &[&str]| wkt_parameter(root, names);
        let to_meter = root.child("UNIT").and_then(|u| u.number(1)).unwrap_or(1.0);
        let common = format!(
            "+x_0={} +y_0={} {ellps}{towgs84} +to_meter={to_meter} +no_defs",
            p(&["false_easting"]) * to_meter,
            p(&["false_northing"]) * to_meter,
        );
        let proj4 = match projection.as_str() {
            "transverse_mercator" | "gauss_kruger" | "gauss-kruger" => {
                let k = match p(&["scale_factor"]) {
                    0.0 => 1.0,
                    k => k,
                };
                format!(
                    "+proj=tmerc +lat_0={} +lon_0={} +k={k} {common}",
                    p(&["latitude_of_origin"]),
                    p(&["central_meridian", "longitude_of_center"]),
                )
            }
            "mercator_auxiliary_sphere" | "popular_visualisation_pseudo_mercator" => {
                return Ok(Crs {
                    label: name,
                    kind: Kind::WebMercator,
                })
            }
            "mercator" | "mercator_1sp" | "mercator_2sp" => format!(
                "+proj=merc +lon_0={} +lat_ts={} +k={} {common}",
                p(&["central_meridian"]),
                p(&["standard_parallel_1"]),
                match p(&["scale_factor"]) {
                    0.0 => 1.0,
                    k => k,
                },
            ),
            "" => return Err(format!("`{name}`: the CRS text names no PROJECTION")),
            other => {
                return Err(format!(
                    "`{name}`: the projection `{other}` is not supported (Transverse Mercator / Gauss–Krüger, Mercator and Web Mercator are); reproject the file to EPSG:4326 or give its EPSG code with --crs"
                ))
            }
        };
        Crs::from_proj_string(name, &proj4)
    }

    /// Turns every coordinate of `g` into longitude/latitude.
    pub fn to_lonlat(&self, g: &mut Geometry<f64>) -> Result<(), String> {
        use geo::MapCoordsInPlace;
        // The closure must be `Copy`: it holds references only.
        let failure = std::cell::RefCell::new(None);
        let seen = &failure;
        g.map_coords_in_place(|c| match self.coord(c) {
            Ok(c) => c,
            Err(e) => {
                seen.borrow_mut().get_or_insert(e);
                c
            }
        });
        failure.into_inner().map_or(Ok(()), Err)
    }

    /// One coordinate in longitude/latitude.
    pub fn coord(&self, c: Coord<f64>) -> Result<Coord<f64>, String> {
        match &self.kind {
            Kind::LonLat => Ok(c),
            Kind::WebMercator => {
                const R: f64 = 6_378_137.0;
                let lon = (c.x / R).to_degrees();
                let lat = (2.0 * (c.y / R).exp().atan() - std::f64::consts::FRAC_PI_2).to_degrees();
                Ok(Coord { x: lon, y: lat })
            }
            Kind::Projected {
                from,
                to,
                tmerc,
                geographic,
            } => {
                let x = match tmerc {
                    Some((x0, lon0)) => {
                        easting(c.x, *x0, *lon0).map_err(|e| format!("{}: {e}", self.label))?
                    }
                    None => c.x,
                };
                let mut p = if *geographic {
                    (c.x.to_radians(), c.y.to_radians(), 0.0)
                } else {
                    (x, c.y, 0.0)
                };
                proj4rs::transform::transform(from, to, &mut p).map_err(|e| {
                    format!(
                        "{}: ({}, {}) cannot be transformed: {e}",
                        self.label, c.x, c.y
                    )
                })?;
                let out = Coord {
                    x: p.0.to_degrees(),
                    y: p.1.to_degrees(),
                };
                if out.x.is_finite() && out.y.is_finite() {
                    Ok(out)
                } else {
                    Err(format!(
                        "{}: ({}, {}) lies outside the projection",
                        self.label, c.x, c.y
                    ))
                }
            }
        }
    }
}

/// The proj `+a= +rf=` (or `+a= +b=`) of the SPHEROID in a WKT's GEOGCS, named `name` in errors.
fn wkt_ellipsoid(name: &str, geogcs: Option<&wkt::Node>) -> Result<String, String> {
    let spheroid = geogcs
        .and_then(|g| g.child("DATUM"))
        .and_then(|d| d.child("SPHEROID"))
        .ok_or_else(|| format!("`{name}`: no SPHEROID in the CRS text"))?;
    let (a, rf) = (
        spheroid
            .number(1)
            .ok_or("the SPHEROID has no semi-major axis")?,
        spheroid
            .number(2)
            .ok_or("the SPHEROID has no inverse flattening")?,
    );
    Ok(if rf == 0.0 {
        format!("+a={a} +b={a}")
    } else {
        format!("+a={a} +rf={rf}")
    })
}

/// The proj ` +towgs84=…` of the TOWGS84 in a WKT's GEOGCS datum, or an empty string.
fn wkt_towgs84(geogcs: Option<&wkt::Node>) -> String {
    geogcs
        .and_then(|g| g.child("DATUM"))
        .and_then(|d| d.child("TOWGS84"))
        .map(|t| {
            let v: Vec<String> = (0..7)
                .filter_map(|i| t.number(i))
                .map(|n| n.to_string())
                .collect();
            format!(" +towgs84={}", v.join(","))
        })
        .unwrap_or_default()
}

/// The value of the first WKT `PARAMETER` of `root` named any of `names`, or 0.
fn wkt_parameter(root: &wkt::Node, names: &[&str]) -> f64 {
    root.children("PARAMETER")
        .find(|x| {
            x.text(0)
                .is_some_and(|n| names.iter().any(|m| n.eq_ignore_ascii_case(m)))
        })
        .and_then(|x| x.number(1))
        .unwrap_or(0.0)
}

/// A numeric `+name=` parameter of a proj string.
fn param(proj4: &str, name: &str) -> Option<f64> {
    let key = format!("+{name}=");
    proj4
        .split_whitespace()
        .find_map(|p| p.strip_prefix(&key))
        .and_then(|v| v.parse().ok())
}

/// A Gauss–Krüger easting as the CRS with false easting `x0` expects it, whether the file
/// wrote it with its zone number in front (`40 512 345.6`) or without (`512 345.6`).
fn easting(x: f64, x0: f64, lon0: f64) -> Result<f64, String> {
    let crs_prefix = (x0 / 1e6).floor();
    let data_prefix = if x >= 1e7 { (x / 1e6).floor() } else { 0.0 };
    // Both are whole numbers of millions (floored), compared as such.
    if data_prefix as i64 == crs_prefix as i64 {
        return Ok(x);
    }
    if data_prefix > 0.0 {
        // The zone must be this CRS's: 3° zone n has its meridian at 3n, 6° zone n at 6n - 3.
        let fits = (data_prefix * 3.0 - lon0).abs() < 1e-6
            || (data_prefix * 6.0 - 3.0 - lon0).abs() < 1e-6;
        if !fits {
            return Err(format!(
                "the easting {x} carries zone {data_prefix}, whose central meridian is not the CRS's {lon0}°"
            ));
        }
    }
    Ok(x - data_prefix * 1e6 + crs_prefix * 1e6)
}

/// A small reader of WKT 1 (`KEY["text", number, CHILD[…], …]`), enough for CRS texts.
mod wkt {
    #[derive(Debug)]
    pub enum Item {
        Text(String),
        Number(f64),
        Node(Node),
    }

    #[derive(Debug)]
    pub struct Node {
        pub key: String,
        pub items: Vec<Item>,
    }

    impl Node {
        pub fn text(&self, i: usize) -> Option<&str> {
            match self.items.get(i) {
                Some(Item::Text(s)) => Some(s),
                _ => None,
            }
        }

        pub fn number(&self, i: usize) -> Option<f64> {
            match self.items.get(i) {
                Some(Item::Number(n)) => Some(*n),
                Some(Item::Text(s)) => s.parse().ok(),
                _ => None,
            }
        }

        pub fn children<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
            self.items.iter().filter_map(move |i| match i {
                Item::Node(n) if n.key.eq_ignore_ascii_case(key) => Some(n),
                _ => None,
            })
        }

        pub fn child(&self, key: &str) -> Option<&Node> {
            self.items.iter().find_map(|i| match i {
                Item::Node(n) if n.key.eq_ignore_ascii_case(key) => Some(n),
                _ => None,
            })
        }

        /// The node's own `AUTHORITY["EPSG", "code"]`.
        pub fn authority(&self) -> Option<u32> {
            let a = self.child("AUTHORITY")?;
            if !a.text(0)?.eq_ignore_ascii_case("EPSG") {
                return None;
            }
            a.number(1).map(|n| n as u32)
        }
    }

    pub fn parse(s: &str) -> Result<Node, String> {
        let mut p = Parser {
            s: s.as_bytes(),
            at: 0,
        };
        let n = p.node()?;
        p.space();
        if p.at < p.s.len() {
            return Err(format!("unexpected text after the CRS at byte {}", p.at));
        }
        Ok(n)
    }

    struct Parser<'a> {
        s: &'a [u8],
        at: usize,
    }

    impl Parser<'_> {
        fn space(&mut self) {
            while self.at < self.s.len() && self.s[self.at].is_ascii_whitespace() {
                self.at += 1;
            }
        }

        fn node(&mut self) -> Result<Node, String> {
            self.space();
            let start = self.at;
            while self.at < self.s.len()
                && (self.s[self.at].is_ascii_alphanumeric() || self.s[self.at] == b'_')
            {
                self.at += 1;
            }
            if start == self.at {
                return Err(format!("expected a keyword at byte {start}"));
            }
            let key = String::from_utf8_lossy(&self.s[start..self.at]).into_owned();
            self.space();
            let close = match self.s.get(self.at) {
                Some(b'[') => b']',
                Some(b'(') => b')',
                _ => return Err(format!("expected `[` after {key} at byte {}", self.at)),
            };
            self.at += 1;
            let mut items = Vec::new();
            loop {
                self.space();
                match self.s.get(self.at) {
                    None => return Err(format!("{key}[ is not closed")),
                    Some(c) if *c == close => {
                        self.at += 1;
                        return Ok(Node { key, items });
                    }
                    Some(b',') => self.at += 1,
                    Some(b'"') => items.push(self.quoted()?),
                    Some(c) if c.is_ascii_digit() || *c == b'-' || *c == b'+' || *c == b'.' => {
                        items.push(self.number()?);
                    }
                    Some(_) => items.push(self.nested()?),
                }
            }
        }

        /// Reads a quoted text, the parser standing on its opening `"`.
        fn quoted(&mut self) -> Result<Item, String> {
            self.at += 1;
            let start = self.at;
            while self.at < self.s.len() && self.s[self.at] != b'"' {
                self.at += 1;
            }
            if self.at >= self.s.len() {
                return Err("a quoted text is not closed".into());
            }
            let item = Item::Text(String::from_utf8_lossy(&self.s[start..self.at]).into_owned());
            self.at += 1;
            Ok(item)
        }

        /// Reads a number, the parser standing on its first digit or sign.
        fn number(&mut self) -> Result<Item, String> {
            let start = self.at;
            while self.at < self.s.len()
                && (self.s[self.at].is_ascii_digit() || b"+-.eE".contains(&self.s[self.at]))
            {
                self.at += 1;
            }
            let t = String::from_utf8_lossy(&self.s[start..self.at]).into_owned();
            Ok(Item::Number(
                t.parse().map_err(|_| format!("`{t}` is not a number"))?,
            ))
        }

        /// Reads a nested node or, failing that, a bare keyword (`AXIS["x", EAST]`).
        fn nested(&mut self) -> Result<Item, String> {
            let save = self.at;
            if let Ok(n) = self.node() {
                Ok(Item::Node(n))
            } else {
                self.at = save;
                let start = self.at;
                while self.at < self.s.len() && self.s[self.at].is_ascii_alphanumeric() {
                    self.at += 1;
                }
                if start == self.at {
                    return Err(format!(
                        "unexpected `{}` at byte {start}",
                        self.s[start] as char
                    ));
                }
                Ok(Item::Text(
                    String::from_utf8_lossy(&self.s[start..self.at]).into_owned(),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ESRI_GK40: &str = r#"PROJCS["CGCS2000_3_Degree_GK_Zone_40",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",40500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",120.0],PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#;

    #[test]
    fn codes_parse_in_their_usual_forms() {
        assert_eq!(Crs::parse_code("EPSG:4549"), Ok(4549));
        assert_eq!(Crs::parse_code("4549"), Ok(4549));
        assert!(Crs::parse_code("GK40").is_err());
    }

    #[test]
    fn the_same_point_from_an_esri_prj_and_from_both_epsg_zones() {
        let prj = Crs::from_wkt(ESRI_GK40).unwrap();
        // EPSG:4528: CGCS2000 3° zone 40 (with the prefix); EPSG:4549: CM 120E (without).
        let with = Crs::from_epsg(4528).unwrap();
        let without = Crs::from_epsg(4549).unwrap();
        let a = prj
            .coord(Coord {
                x: 40_534_000.0,
                y: 3_993_000.0,
            })
            .unwrap();
        let b = with
            .coord(Coord {
                x: 40_534_000.0,
                y: 3_993_000.0,
            })
            .unwrap();
        let c = without
            .coord(Coord {
                x: 534_000.0,
                y: 3_993_000.0,
            })
            .unwrap();
        // The prefix is read under either kind of CRS.
        let d = without
            .coord(Coord {
                x: 40_534_000.0,
                y: 3_993_000.0,
            })
            .unwrap();
        let e = prj
            .coord(Coord {
                x: 534_000.0,
                y: 3_993_000.0,
            })
            .unwrap();
        for p in [b, c, d, e] {
            assert!(
                (p.x - a.x).abs() < 1e-9 && (p.y - a.y).abs() < 1e-9,
                "{p:?} vs {a:?}"
            );
        }
        assert!(
            (a.x - 120.38).abs() < 0.05 && (a.y - 36.07).abs() < 0.05,
            "{a:?}"
        );
        // A zone that is not the CRS's is refused.
        assert!(without
            .coord(Coord {
                x: 39_534_000.0,
                y: 3_993_000.0
            })
            .is_err());
    }

    #[test]
    fn web_mercator_and_lonlat() {
        let m = Crs::from_epsg(3857).unwrap();
        let p = m
            .coord(Coord {
                x: 13_400_000.0,
                y: 4_310_000.0,
            })
            .unwrap();
        assert!(
            (p.x - 120.374).abs() < 1e-3 && (p.y - 36.07).abs() < 0.01,
            "{p:?}"
        );
        assert!(Crs::from_epsg(4490).unwrap().is_lonlat());
        assert!(Crs::from_wkt(r#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#).unwrap().is_lonlat());
        assert!(Crs::from_epsg(999_999).is_err());
        assert!(Crs::from_wkt("PROJCS[").is_err());
        assert!(Crs::from_wkt(r#"PROJCS["x",GEOGCS["g",DATUM["d",SPHEROID["s",6378137,298.25]]],PROJECTION["Lambert_Azimuthal_Equal_Area"]]"#).unwrap_err().contains("not supported"));
    }
}
