//! Serving seeded archives: every `*.mbtiles` and `*.pmtiles` of the archive directory
//! (`[tiles] archive_dir`, default `./tiles`) is a read-only tileset named after its file
//! (`tiles/atlas-2023q2.pmtiles` → `/tiles/atlas-2023q2/{z}/{x}/{y}.mvt`), with its TileJSON
//! from the archive's metadata. Tiles are handed out as stored (gzip) to clients that take
//! gzip, and inflated for the others.

use super::archive::ArchiveError;
use bytes::Bytes;
use pmtiles::{AsyncPmTilesReader, MmapBackend, TileCoord};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

enum Source {
    Mb(Mutex<rusqlite::Connection>),
    Pm(Box<AsyncPmTilesReader<MmapBackend>>),
}

/// One archive served as a tileset.
pub struct Archive {
    pub name: String,
    pub path: PathBuf,
    /// Whether stored tiles are gzip-compressed.
    pub gzip: bool,
    /// MVT or MLT tiles (PMTiles' tile type, MBTiles' `format`).
    pub encoding: crate::tile::mlt::Encoding,
    pub minzoom: u8,
    pub maxzoom: u8,
    pub bounds: Option<[f64; 4]>,
    /// TileJSON `vector_layers` from the archive, when it has them.
    pub vector_layers: serde_json::Value,
    src: Source,
}

fn mb_meta(conn: &rusqlite::Connection) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    if let Ok(mut st) = conn.prepare("SELECT name, value FROM metadata") {
        if let Ok(rows) = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        {
            for (k, v) in rows.flatten() {
                out.insert(k, v);
            }
        }
    }
    out
}

impl Archive {
    /// Opens an archive for reading; the error names the file.
    pub async fn open(path: &Path) -> Result<Archive, ArchiveError> {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| ArchiveError::unsupported(path, "no usable file name"))?
            .to_string();
        match super::archive::Kind::of(path)? {
            super::archive::Kind::MbTiles => Archive::open_mbtiles(path, name),
            super::archive::Kind::PmTiles => Archive::open_pmtiles(path, name).await,
        }
    }

    /// Opens an MBTiles archive, read-only, described by its `metadata` table.
    fn open_mbtiles(path: &Path, name: String) -> Result<Archive, ArchiveError> {
        let conn =
            rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .map_err(ArchiveError::sqlite(path))?;
        let meta = mb_meta(&conn);
        let json: serde_json::Value = meta
            .get("json")
            .and_then(|j| serde_json::from_str(j).ok())
            .unwrap_or_default();
        let bounds = meta.get("bounds").and_then(|b| {
            let v: Vec<f64> = b.split(',').filter_map(|x| x.trim().parse().ok()).collect();
            (v.len() == 4).then(|| [v[0], v[1], v[2], v[3]])
        });
        let zoom = |k: &str, d: u8| meta.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
        let encoding = match meta.get("format").map(String::as_str) {
            None | Some("pbf") => crate::tile::mlt::Encoding::Mvt,
            Some("mlt") => crate::tile::mlt::Encoding::Mlt,
            Some(other) => {
                return Err(ArchiveError::unsupported(
                    path,
                    format!("tiles of format `{other}` are not served (pbf or mlt)"),
                ))
            }
        };
        Ok(Archive {
            name,
            path: path.to_path_buf(),
            gzip: true,
            encoding,
            minzoom: zoom("minzoom", 0),
            maxzoom: zoom("maxzoom", 22),
            bounds,
            vector_layers: json["vector_layers"].clone(),
            src: Source::Mb(Mutex::new(conn)),
        })
    }

    /// Opens a PMTiles archive, described by its header and JSON metadata.
    async fn open_pmtiles(path: &Path, name: String) -> Result<Archive, ArchiveError> {
        let reader = AsyncPmTilesReader::new_with_path(path)
            .await
            .map_err(ArchiveError::pmtiles(path))?;
        let h = reader.get_header();
        let gzip = matches!(h.tile_compression, pmtiles::Compression::Gzip);
        let encoding = match h.tile_type {
            pmtiles::TileType::Mvt => crate::tile::mlt::Encoding::Mvt,
            pmtiles::TileType::Mlt => crate::tile::mlt::Encoding::Mlt,
            other => {
                return Err(ArchiveError::unsupported(
                    path,
                    format!("tiles of type {other:?} are not served (MVT or MLT)"),
                ))
            }
        };
        let (minzoom, maxzoom) = (h.min_zoom, h.max_zoom);
        let bounds = Some([
            h.min_longitude,
            h.min_latitude,
            h.max_longitude,
            h.max_latitude,
        ]);
        let meta: serde_json::Value = reader
            .get_metadata()
            .await
            .ok()
            .and_then(|m| serde_json::from_str(&m).ok())
            .unwrap_or_default();
        Ok(Archive {
            name,
            path: path.to_path_buf(),
            gzip,
            encoding,
            minzoom,
            maxzoom,
            bounds,
            vector_layers: meta["vector_layers"].clone(),
            src: Source::Pm(Box::new(reader)),
        })
    }

    /// A tile as stored (XYZ numbering), `None` when the archive has none there.
    pub async fn tile(&self, z: u8, x: u64, y: u64) -> Result<Option<Bytes>, ArchiveError> {
        match &self.src {
            Source::Mb(conn) => {
                let row = (1u64 << z) - 1 - y;
                let conn = conn
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let got: Result<Vec<u8>, rusqlite::Error> = conn.query_row(
                    "SELECT tile_data FROM tiles WHERE zoom_level = ?1 AND tile_column = ?2 AND tile_row = ?3",
                    rusqlite::params![i64::from(z), x as i64, row as i64],
                    |r| r.get(0),
                );
                match got {
                    Ok(b) => Ok(Some(Bytes::from(b))),
                    Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
                    Err(e) => Err(ArchiveError::sqlite(&self.path)(e)),
                }
            }
            Source::Pm(reader) => {
                let (Ok(x), Ok(y)) = (u32::try_from(x), u32::try_from(y)) else {
                    return Ok(None);
                };
                let pmt = ArchiveError::pmtiles(&self.path);
                let coord = TileCoord::new(z, x, y).map_err(&pmt)?;
                reader.get_tile(coord).await.map_err(pmt)
            }
        }
    }
}

/// Inflates a gzip tile.
pub fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() * 3);
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

/// The archives of a directory (none when it does not exist); a file that cannot be opened is
/// logged and left out.
pub async fn open_dir(dir: &Path) -> Vec<Archive> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| super::archive::Kind::of(p).is_ok())
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        match Archive::open(&p).await {
            Ok(a) => {
                tracing::info!(archive = %p.display(), tileset = %a.name, "serving a seeded archive");
                out.push(a);
            }
            Err(e) => tracing::warn!(error = %e, "archive left out"),
        }
    }
    out
}
