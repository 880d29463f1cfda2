//! Tile archives for `atlas seed`: MBTiles (SQLite, resumable: tiles already in the file are
//! kept and skipped) and PMTiles v3 (the pmtiles crate's writer). Tiles are stored gzipped.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why an archive could not be written or read: the file, and what failed underneath (kept
/// as the error's source).
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{}: {source}", path.display())]
    PmTiles {
        path: PathBuf,
        #[source]
        source: pmtiles::PmtError,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not an archive we write or serve (its name, its format).
    #[error("{}: {what}", path.display())]
    Unsupported { path: PathBuf, what: String },
}

impl ArchiveError {
    pub(crate) fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> ArchiveError + '_ {
        move |source| ArchiveError::Sqlite {
            path: path.to_path_buf(),
            source,
        }
    }
    pub(crate) fn pmtiles(path: &Path) -> impl Fn(pmtiles::PmtError) -> ArchiveError + '_ {
        move |source| ArchiveError::PmTiles {
            path: path.to_path_buf(),
            source,
        }
    }
    pub(crate) fn io(path: &Path) -> impl Fn(std::io::Error) -> ArchiveError + '_ {
        move |source| ArchiveError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
    pub(crate) fn unsupported(path: &Path, what: impl Into<String>) -> ArchiveError {
        ArchiveError::Unsupported {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }
}

/// Which archive a file name asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    MbTiles,
    PmTiles,
}

impl Kind {
    pub fn of(path: &Path) -> Result<Kind, ArchiveError> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("mbtiles") => Ok(Kind::MbTiles),
            Some("pmtiles") => Ok(Kind::PmTiles),
            _ => Err(ArchiveError::unsupported(
                path,
                "the archive must be named *.mbtiles or *.pmtiles",
            )),
        }
    }
}

/// Archive metadata.
pub struct Meta {
    pub name: String,
    pub description: String,
    pub attribution: String,
    pub bounds: [f64; 4],
    pub center: [f64; 3],
    pub minzoom: u8,
    pub maxzoom: u8,
    /// MVT or MLT tiles.
    pub encoding: crate::tile::mlt::Encoding,
    /// TileJSON `vector_layers`.
    pub vector_layers: serde_json::Value,
}

pub fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut e = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 2),
        flate2::Compression::default(),
    );
    e.write_all(bytes)?;
    e.finish()
}

/// z, x, y (XYZ numbering).
pub type TileXyz = (u8, u64, u64);

/// An MBTiles file being written.
pub struct MbTiles {
    conn: rusqlite::Connection,
    path: PathBuf,
    pending: usize,
}

impl MbTiles {
    /// Opens (or creates) an MBTiles file and returns it with the tiles it already holds.
    pub fn open(path: &Path, meta: &Meta) -> Result<(MbTiles, HashSet<TileXyz>), ArchiveError> {
        let e = ArchiveError::sqlite(path);
        let conn = rusqlite::Connection::open(path).map_err(&e)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE IF NOT EXISTS metadata (name TEXT PRIMARY KEY, value TEXT);
             CREATE TABLE IF NOT EXISTS tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB);
             CREATE UNIQUE INDEX IF NOT EXISTS tile_index ON tiles (zoom_level, tile_column, tile_row);",
        )
        .map_err(&e)?;
        let json = serde_json::json!({ "vector_layers": meta.vector_layers }).to_string();
        let b = meta.bounds;
        let rows = [
            ("name", meta.name.clone()),
            (
                "format",
                match meta.encoding {
                    crate::tile::mlt::Encoding::Mvt => "pbf",
                    crate::tile::mlt::Encoding::Mlt => "mlt",
                }
                .to_string(),
            ),
            ("type", "overlay".to_string()),
            ("version", env!("CARGO_PKG_VERSION").to_string()),
            ("description", meta.description.clone()),
            ("attribution", meta.attribution.clone()),
            ("bounds", format!("{},{},{},{}", b[0], b[1], b[2], b[3])),
            (
                "center",
                format!("{},{},{}", meta.center[0], meta.center[1], meta.center[2]),
            ),
            ("minzoom", meta.minzoom.to_string()),
            ("maxzoom", meta.maxzoom.to_string()),
            ("json", json),
        ];
        for (k, v) in rows {
            conn.execute(
                "INSERT OR REPLACE INTO metadata (name, value) VALUES (?1, ?2)",
                (k, v),
            )
            .map_err(&e)?;
        }
        let mut have = HashSet::new();
        {
            let mut stmt = conn
                .prepare("SELECT zoom_level, tile_column, tile_row FROM tiles")
                .map_err(&e)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .map_err(&e)?;
            for row in rows {
                let (z, x, tms_y) = row.map_err(&e)?;
                let z = u8::try_from(z).unwrap_or(0);
                let y = (1i64 << z) - 1 - tms_y;
                have.insert((z, x as u64, y as u64));
            }
        }
        conn.execute_batch("BEGIN").map_err(&e)?;
        let path = path.to_path_buf();
        Ok((
            MbTiles {
                conn,
                path,
                pending: 0,
            },
            have,
        ))
    }

    /// Adds a tile (XYZ numbering; stored with the TMS row MBTiles wants), committing every
    /// 500 tiles so that an interrupted seed keeps what it made.
    pub fn add(&mut self, z: u8, x: u64, y: u64, gz: &[u8]) -> Result<(), ArchiveError> {
        let tms_y = (1u64 << z) - 1 - y;
        let e = ArchiveError::sqlite(&self.path);
        self.conn
            .execute(
                "INSERT OR REPLACE INTO tiles (zoom_level, tile_column, tile_row, tile_data) VALUES (?1, ?2, ?3, ?4)",
                (i64::from(z), x as i64, tms_y as i64, gz),
            )
            .map_err(&e)?;
        self.pending += 1;
        if self.pending >= 500 {
            self.conn.execute_batch("COMMIT; BEGIN").map_err(&e)?;
            self.pending = 0;
        }
        Ok(())
    }

    pub fn finish(self) -> Result<(), ArchiveError> {
        let e = ArchiveError::sqlite(&self.path);
        self.conn.execute_batch("COMMIT").map_err(e)
    }
}

/// Writes a PMTiles v3 archive from gzipped tiles (any order).
pub fn write_pmtiles(
    path: &Path,
    meta: &Meta,
    mut tiles: Vec<((u8, u64, u64), Vec<u8>)>,
) -> Result<(), ArchiveError> {
    use pmtiles::{Compression, PmTilesWriter, TileCoord, TileId, TileType};
    let (pmt, io) = (ArchiveError::pmtiles(path), ArchiveError::io(path));
    let coord = |z: u8, x: u64, y: u64| TileCoord::new(z, x as u32, y as u32);
    let mut keyed = Vec::with_capacity(tiles.len());
    for ((z, x, y), data) in tiles.drain(..) {
        let c = coord(z, x, y).map_err(&pmt)?;
        keyed.push((TileId::from(c).value(), c, data));
    }
    keyed.sort_by_key(|t| t.0);
    let tmp = path.with_extension("pmtiles.tmp");
    let file = std::fs::File::create(&tmp).map_err(&io)?;
    let metadata = serde_json::json!({
        "name": meta.name, "description": meta.description, "attribution": meta.attribution,
        "vector_layers": meta.vector_layers,
    })
    .to_string();
    let b = meta.bounds;
    let kind = match meta.encoding {
        crate::tile::mlt::Encoding::Mvt => TileType::Mvt,
        crate::tile::mlt::Encoding::Mlt => TileType::Mlt,
    };
    let mut w = PmTilesWriter::new(kind)
        .precompressed(Compression::Gzip)
        .min_zoom(meta.minzoom)
        .max_zoom(meta.maxzoom)
        .bounds(b[0], b[1], b[2], b[3])
        .center(meta.center[0], meta.center[1])
        .center_zoom(meta.center[2] as u8)
        .metadata(metadata)
        .create(std::io::BufWriter::new(file))
        .map_err(&pmt)?;
    for (_, c, data) in keyed {
        w.add_tile(c, &data).map_err(&pmt)?;
    }
    w.finalize().map_err(&pmt)?;
    std::fs::rename(&tmp, path).map_err(&io)
}
