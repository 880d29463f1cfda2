//! The in-memory tile cache: bounded in bytes, keyed by everything that changes a tile, and
//! invalidated by area — an import drops the tiles whose box meets what it changed, no more.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Everything that changes a tile's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TileKey {
    pub tileset: String,
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

#[derive(Clone)]
pub struct Cached {
    pub bytes: bytes::Bytes,
    pub etag: String,
    pub thinned: Vec<&'static str>,
    /// The longitude/latitude box the tile's content came from.
    pub bbox: [f64; 4],
    /// The bytes compressed for the clients that take it, made on first demand and kept with
    /// the tile (the size bound counts the uncompressed bytes; brotli and gzip copies of a
    /// 7 KB tile together add about as much again).
    pub packed: std::sync::Arc<Packed>,
}

/// A strong ETag for bytes served as they are.
fn etag_of(bytes: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    format!("\"{:016x}-{}\"", h.finish(), bytes.len())
}

impl Cached {
    /// A tile's bytes with their ETag.
    pub fn new(bytes: bytes::Bytes, thinned: Vec<&'static str>, bbox: [f64; 4]) -> Cached {
        Cached {
            etag: etag_of(&bytes),
            bytes,
            thinned,
            bbox,
            packed: std::sync::Arc::default(),
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
pub struct Packed {
    gzip: std::sync::OnceLock<bytes::Bytes>,
    br: std::sync::OnceLock<bytes::Bytes>,
}

impl Packed {
    /// `raw` in `coding`, compressed the first time it is asked for.
    pub fn get(&self, raw: &[u8], coding: Coding) -> bytes::Bytes {
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
    map: HashMap<TileKey, Cached>,
    order: VecDeque<TileKey>,
    bytes: usize,
    hits: u64,
    misses: u64,
}

pub struct TileCache {
    max_bytes: usize,
    inner: Mutex<Inner>,
}

fn meets(a: [f64; 4], b: [f64; 4]) -> bool {
    a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3]
}

impl TileCache {
    pub fn new(max_bytes: usize) -> TileCache {
        TileCache {
            max_bytes,
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                order: VecDeque::new(),
                bytes: 0,
                hits: 0,
                misses: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn get(&self, k: &TileKey) -> Option<Cached> {
        let mut g = self.lock();
        let hit = g.map.get(k).cloned();
        if hit.is_some() {
            g.hits += 1;
        } else {
            g.misses += 1;
        }
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
        (g.map.len(), g.bytes, g.hits, g.misses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(x: u64) -> TileKey {
        TileKey {
            tileset: "atlas".into(),
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
