//! A tile's address and format, typed: every surface (XYZ and TMS paths, OGC API Tiles, WMTS
//! REST and KVP, the ArcGIS services) reads its own spelling of them — `{z}/{x}/{y}.mvt`,
//! `{tileMatrix}/{tileRow}/{tileCol}`, `TILEMATRIX=…&FORMAT=image/png`, `{level}/{row}/{col}`
//! — into these, and the tile service takes only these.

use super::grid::Grid;
use super::mlt::Encoding;
use crate::error::Error;

/// What a tile is asked for as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TileFormat {
    /// A vector tile: `.mvt` (or `.pbf`) or `.mlt`.
    Vector(Encoding),
    /// A PNG, `size` pixels square: `.png` (256) or `@2x.png` (512).
    Png { size: u32 },
}

impl TileFormat {
    pub const PNG: TileFormat = TileFormat::Png { size: 256 };
    pub const MVT: TileFormat = TileFormat::Vector(Encoding::Mvt);

    /// A tile's file name, `{y}.mvt`, `{y}.pbf`, `{y}.mlt`, `{y}.png` or `{y}@2x.png`: the row
    /// and the format, or the extension when it is none of these (which the caller names in
    /// its error, as it knows which formats its tileset has).
    pub fn of_name(name: &str) -> Result<(&str, Result<TileFormat, &str>), Error> {
        let (y, ext) = name.rsplit_once('.').ok_or_else(|| {
            Error::BadRequest(format!("`{name}`: a tile is named {{y}}.mvt or {{y}}.png"))
        })?;
        Ok(match (ext, Encoding::parse(ext)) {
            (_, Some(e)) => (y, Ok(TileFormat::Vector(e))),
            ("png", _) => match y.strip_suffix("@2x") {
                Some(y) => (y, Ok(TileFormat::Png { size: 512 })),
                None => (y, Ok(TileFormat::PNG)),
            },
            _ => (y, Err(ext)),
        })
    }

    /// The extension the format is served with.
    #[must_use]
    pub fn ext(self) -> &'static str {
        match self {
            TileFormat::Vector(e) => e.name(),
            TileFormat::Png { .. } => "png",
        }
    }
}

/// A tile of a grid, checked against the grid's matrices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileAddress {
    pub grid: Grid,
    pub z: u8,
    pub x: u64,
    pub y: u64,
}

fn number<T: std::str::FromStr>(what: &str, v: &str) -> Result<T, Error> {
    v.parse()
        .map_err(|_| Error::BadRequest(format!("{what} must be a non-negative integer, got `{v}`")))
}

impl TileAddress {
    /// Zoom (tile matrix), column and row as a path or query spells them; a 400 naming the
    /// part that is not a number or outside the grid.
    pub fn parse(grid: Grid, z: &str, x: &str, y: &str) -> Result<TileAddress, Error> {
        let (z, x, y): (u32, u64, u64) = (number("z", z)?, number("x", x)?, number("y", y)?);
        grid.check(z, x, y).map_err(Error::BadRequest)?;
        // `check` bounds z by the deepest level served.
        let z = u8::try_from(z).map_err(|_| Error::BadRequest(format!("z {z} is too deep")))?;
        Ok(TileAddress { grid, z, x, y })
    }

    /// The tile as it is made: CGCS2000Quad's tiles are WorldCRS84Quad's of the level below
    /// (same bounds, same bytes, one cache entry).
    #[must_use]
    pub fn served(self) -> TileAddress {
        let (grid, z) = self.grid.served_as(self.z);
        TileAddress { grid, z, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_are_read_into_a_typed_address() {
        let of = |n| TileFormat::of_name(n).unwrap();
        assert_eq!(of("12.mvt"), ("12", Ok(TileFormat::MVT)));
        assert_eq!(of("12.pbf"), ("12", Ok(TileFormat::MVT)));
        assert_eq!(of("12.mlt"), ("12", Ok(TileFormat::Vector(Encoding::Mlt))));
        assert_eq!(of("12.png"), ("12", Ok(TileFormat::PNG)));
        assert_eq!(of("12@2x.png"), ("12", Ok(TileFormat::Png { size: 512 })));
        assert_eq!(of("12.jpg"), ("12", Err("jpg")));
        assert!(TileFormat::of_name("12").is_err());

        let a = TileAddress::parse(Grid::WebMercatorQuad, "14", "13700", "6300").unwrap();
        assert_eq!((a.z, a.x, a.y), (14, 13700, 6300));
        for (z, x, y, says) in [
            ("-1", "0", "0", "z must be"),
            ("3", "x", "0", "x must be"),
            ("3", "0", "1.5", "y must be"),
            ("3", "8", "0", "x"),
            ("23", "0", "0", "z"),
            ("400", "0", "0", "z"),
        ] {
            let e = TileAddress::parse(Grid::WebMercatorQuad, z, x, y).unwrap_err();
            assert!(
                matches!(&e, Error::BadRequest(m) if m.contains(says)),
                "{z}/{x}/{y}: {e}"
            );
        }
        let c = TileAddress::parse(Grid::Cgcs2000Quad, "5", "20", "7").unwrap();
        assert_eq!(
            c.served(),
            TileAddress {
                grid: Grid::WorldCrs84Quad,
                z: 4,
                x: 20,
                y: 7
            }
        );
    }
}
