//! The in-memory tile cache: bounded in bytes, keyed by everything that changes a tile, and
//! invalidated by area — an import drops the tiles whose box meets what it changed, no more.

use axum::http::HeaderValue;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Everything that changes a tile's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TileKey {
    pub tileset: &'static str,
    /// Pixels square for raster tiles; 0 for vector tiles.
    pub size: u32,
    pub grid: &'static str,
    pub z: u8,
    pub x: u64,
    pub y: u64,
    pub window: (i32, i32),
    pub period: Option<i32>,
    pub datum: &'static str,
    /// Whether small counts are shown (planners) or withheld (public).
    pub full_counts: bool,
}

/// A tile as the cache keeps it, shared (a hit costs one reference count).
#[derive(Clone)]
pub struct Cached(Arc<Tile>);

pub struct Tile {
    pub bytes: bytes::Bytes,
    pub thinned: Vec<&'static str>,
    /// The longitude/latitude box the tile's content came from.
    pub bbox: [f64; 4],
    /// The bytes compressed for the clients that take it, made on first demand and kept with
    /// the tile (the size bound counts the uncompressed bytes; brotli and gzip copies of a
    /// 7 KB tile together add about as much again).
    packed: Packed,
    /// The strong ETags of the bytes as they are, gzipped and in brotli: each coding is its
    /// own representation.
    etags: [HeaderValue; 3],
}

impl std::ops::Deref for Cached {
    type Target = Tile;
    fn deref(&self) -> &Tile {
        &self.0
    }
}

impl Cached {
    /// A tile's bytes with their ETags.
    pub fn new(bytes: bytes::Bytes, thinned: Vec<&'static str>, bbox: [f64; 4]) -> Cached {
        use std::hash::BuildHasher;
        // A fixed seed: the same bytes get the same tag after a restart, so clients and CDNs
        // keep revalidating with 304s. (SipHash was 1% of an uncached tile.)
        let h =
            foldhash::quality::FixedState::with_seed(0x6174_6c61_735f_7431).hash_one(&bytes[..]);
        let tag = format!("{h:016x}-{}", bytes.len());
        let etags = [None, Some(Coding::Gzip), Some(Coding::Brotli)].map(|c| {
            let suffix = c.map_or(String::new(), |c| format!("-{}", c.name()));
            // Hex digits, a dash and a coding name: always a valid header value.
            HeaderValue::from_str(&format!("\"{tag}{suffix}\""))
                .unwrap_or(HeaderValue::from_static("\"0\""))
        });
        Cached(Arc::new(Tile {
            bytes,
            thinned,
            bbox,
            packed: Packed::default(),
            etags,
        }))
    }
}

impl Tile {
    /// The ETag of the tile in `coding` (or as it is).
    pub fn etag(&self, coding: Option<Coding>) -> &HeaderValue {
        &self.etags[match coding {
            None => 0,
            Some(Coding::Gzip) => 1,
            Some(Coding::Brotli) => 2,
        }]
    }

    /// The tile's bytes in `coding`, compressed the first time a client asks for it.
    pub fn body(&self, coding: Option<Coding>) -> bytes::Bytes {
        match coding {
            Some(c) => self.packed.get(&self.bytes, c),
            None => self.bytes.clone(),
        }
    }
}

/// A content coding of tile bytes (RFC 9110 §8.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    Brotli,
}

impl Coding {
    pub fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Brotli => "br",
        }
    }
}

/// Compressed copies of one tile's bytes.
#[derive(Default)]
struct Packed {
    gzip: std::sync::OnceLock<bytes::Bytes>,
    br: std::sync::OnceLock<bytes::Bytes>,
}

impl Packed {
    /// `raw` in `coding`, compressed the first time it is asked for.
    fn get(&self, raw: &[u8], coding: Coding) -> bytes::Bytes {
        use std::io::Write;
        match coding {
            // Writing to memory cannot fail.
            Coding::Gzip => self
                .gzip
                .get_or_init(|| super::archive::gzip(raw).unwrap_or_default().into()),
            Coding::Brotli => self.br.get_or_init(|| {
                // Quality 5: most of brotli's gain over gzip for a fraction of its top setting's time.
                let mut w = brotli::CompressorWriter::new(Vec::new(), 4096, 5, 22);
                let _ = w.write_all(raw);
                let _ = w.flush();
                w.into_inner().into()
            }),
        }
        .clone()
    }
}

struct Inner {
    map: HashMap<TileKey, Cached, foldhash::fast::RandomState>,
    order: VecDeque<TileKey>,
    bytes: usize,
}

pub struct TileCache {
    max_bytes: usize,
    inner: Mutex<Inner>,
    hits: AtomicU64,
    misses: AtomicU64,
}

fn meets(a: [f64; 4], b: [f64; 4]) -> bool {
    a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3]
}

impl TileCache {
    pub fn new(max_bytes: usize) -> TileCache {
        TileCache {
            max_bytes,
            inner: Mutex::new(Inner {
                map: HashMap::default(),
                order: VecDeque::new(),
                bytes: 0,
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn get(&self, k: &TileKey) -> Option<Cached> {
        let hit = self.lock().map.get(k).cloned();
        let counter = if hit.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        hit
    }

    /// Stores a tile, evicting the oldest ones beyond the size bound.
    pub fn put(&self, k: TileKey, v: Cached) {
        let mut g = self.lock();
        let size = v.bytes.len() + 128;
        if size > self.max_bytes {
            return;
        }
        if let Some(old) = g.map.insert(k.clone(), v) {
            g.bytes -= old.bytes.len() + 128;
        } else {
            g.order.push_back(k);
        }
        g.bytes += size;
        while g.bytes > self.max_bytes {
            let Some(old) = g.order.pop_front() else {
                break;
            };
            if let Some(v) = g.map.remove(&old) {
                g.bytes -= v.bytes.len() + 128;
            }
        }
    }

    /// Drops every tile whose content box meets one of `areas`; returns how many.
    pub fn invalidate(&self, areas: &[[f64; 4]]) -> usize {
        let mut g = self.lock();
        let before = g.map.len();
        let mut freed = 0;
        g.map.retain(|_, v| {
            let keep = !areas.iter().any(|a| meets(*a, v.bbox));
            if !keep {
                freed += v.bytes.len() + 128;
            }
            keep
        });
        g.bytes -= freed;
        let Inner { map, order, .. } = &mut *g;
        order.retain(|k| map.contains_key(k));
        before - g.map.len()
    }

    pub fn clear(&self) {
        let mut g = self.lock();
        g.map.clear();
        g.order.clear();
        g.bytes = 0;
    }

    /// (tiles, bytes, hits, misses)
    pub fn stats(&self) -> (usize, usize, u64, u64) {
        let g = self.lock();
        (
            g.map.len(),
            g.bytes,
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(x: u64) -> TileKey {
        TileKey {
            tileset: "atlas",
            size: 0,
            grid: "WebMercatorQuad",
            z: 14,
            x,
            y: 1,
            window: (0, 11),
            period: None,
            datum: "wgs84",
            full_counts: false,
        }
    }
    fn tile(n: usize, bbox: [f64; 4]) -> Cached {
        Cached::new(bytes::Bytes::from(vec![0u8; n]), vec![], bbox)
    }

    /// ETags come from the bytes alone (a fixed seed): the same tile gets the same tag in
    /// another process, so revalidation survives a restart; other bytes get another tag.
    #[test]
    fn etags_depend_on_the_bytes_only() {
        let a = tile(100, [0.0; 4]);
        let b = Cached::new(bytes::Bytes::from(vec![0u8; 100]), vec!["units"], [1.0; 4]);
        let c = Cached::new(bytes::Bytes::from(vec![1u8; 100]), vec![], [0.0; 4]);
        assert_eq!(a.etag(None), b.etag(None));
        assert_ne!(a.etag(None), c.etag(None));
        let tags = [None, Some(Coding::Gzip), Some(Coding::Brotli)].map(|k| a.etag(k).clone());
        assert!(tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2]);
        // What a fixed seed gives for these bytes in any process (not the seed of a run).
        let again = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "tile::cache::tests::etag_of_a_hundred_zeros",
                "--nocapture",
            ])
            .env("ATLAS_PRINT_ETAG", "1")
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&again.stdout);
        assert!(
            out.contains(&format!("etag={}", a.etag(None).to_str().unwrap())),
            "another process made another tag: {out}"
        );
    }

    #[test]
    fn etag_of_a_hundred_zeros() {
        if std::env::var_os("ATLAS_PRINT_ETAG").is_some() {
            println!("etag={}", tile(100, [0.0; 4]).etag(None).to_str().unwrap());
        }
    }

    #[test]
    fn invalidation_drops_only_the_tiles_an_area_meets() {
        let c = TileCache::new(1 << 20);
        c.put(key(1), tile(10, [120.0, 36.0, 120.1, 36.1]));
        c.put(key(2), tile(10, [121.0, 36.0, 121.1, 36.1]));
        assert_eq!(c.invalidate(&[[120.05, 36.05, 120.06, 36.06]]), 1);
        assert!(c.get(&key(1)).is_none());
        assert!(c.get(&key(2)).is_some());
    }

    #[test]
    fn the_size_bound_evicts_the_oldest() {
        let c = TileCache::new(1000);
        for x in 0..10 {
            c.put(key(x), tile(300, [0.0; 4]));
        }
        let (n, bytes, _, _) = c.stats();
        assert!(bytes <= 1000 && n == 2, "{n} tiles, {bytes} bytes");
        assert!(c.get(&key(9)).is_some() && c.get(&key(0)).is_none());
    }
}
