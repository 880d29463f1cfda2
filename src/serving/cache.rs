//! The in-memory tile cache: bounded in bytes, keyed by everything that changes a tile, and
//! invalidated by area — an import drops the tiles whose box meets what it changed, no more.

use axum::http::HeaderValue;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// What a cached tile is: an `atlas` vector tile in an encoding, or a picture of a raster
/// style at a size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Made {
    Vector(crate::tile::mlt::Encoding),
    /// `size` pixels square (256, or 512 for @2x).
    Picture {
        style: crate::tile::raster::Style,
        size: u32,
    },
}

impl Made {
    /// The tileset's name, as `/tiles/{tileset}` and a purge name it.
    #[must_use]
    pub fn tileset(self) -> &'static str {
        match self {
            Made::Vector(_) => "atlas",
            Made::Picture { style, .. } => style.id(),
        }
    }
}

/// Everything that changes a tile's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TileKey {
    pub made: Made,
    pub grid: crate::tile::Grid,
    pub z: u8,
    pub x: u64,
    pub y: u64,
    pub window: crate::analytics::Window,
    pub period: Option<crate::model::Quarter>,
    pub datum: crate::tile::Datum,
    /// Whether small counts are shown (planners) or withheld (public).
    pub full_counts: bool,
    /// The CQL2 filter's one spelling, for filtered tiles.
    pub filter: Option<Arc<str>>,
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
    /// the tile; the cache's size bound counts them too (brotli and gzip copies of a 7 KB tile
    /// together add about as much again).
    packed: Packed,
    /// The cache holding the tile, to count its compressed copies there.
    home: OnceLock<Weak<Mutex<Inner>>>,
    /// Whether the tile is in `home` now, and how many of its compressed bytes `home` counts:
    /// both changed only under `home`'s lock, so the count stays exact.
    cached: AtomicBool,
    counted: AtomicUsize,
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
            home: OnceLock::new(),
            cached: AtomicBool::new(false),
            counted: AtomicUsize::new(0),
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

    /// The tile's bytes in `coding`, compressed the first time a client asks for it (and then
    /// counted by the cache that holds the tile).
    pub fn body(&self, coding: Option<Coding>) -> bytes::Bytes {
        let Some(c) = coding else {
            return self.bytes.clone();
        };
        let mut made = 0;
        let out = self.packed.get(&self.bytes, c, &mut made);
        if made > 0 {
            if let Some(home) = self.home.get().and_then(Weak::upgrade) {
                let mut g = home
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if self.cached.load(Ordering::Relaxed) {
                    g.packed += made;
                    self.counted.fetch_add(made, Ordering::Relaxed);
                }
            }
        }
        out
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
    /// `raw` in `coding`, compressed the first time it is asked for; `made` gets the size of
    /// a copy made by this call.
    fn get(&self, raw: &[u8], coding: Coding, made: &mut usize) -> bytes::Bytes {
        use std::io::Write;
        let cell = match coding {
            Coding::Gzip => &self.gzip,
            Coding::Brotli => &self.br,
        };
        cell.get_or_init(|| {
            // Writing to memory cannot fail.
            let out: bytes::Bytes = match coding {
                Coding::Gzip => super::archive::gzip(raw).unwrap_or_default().into(),
                Coding::Brotli => {
                    // Quality 5: most of brotli's gain over gzip for a fraction of its top
                    // setting's time.
                    let mut w = brotli::CompressorWriter::new(Vec::new(), 4096, 5, 22);
                    let _ = w.write_all(raw);
                    let _ = w.flush();
                    w.into_inner().into()
                }
            };
            *made = out.len();
            out
        })
        .clone()
    }
}

struct Inner {
    map: HashMap<TileKey, Cached, foldhash::fast::RandomState>,
    order: VecDeque<TileKey>,
    /// The tiles' own bytes (and 128 a tile for their keys and bookkeeping).
    bytes: usize,
    /// Their compressed copies.
    packed: usize,
}

impl Inner {
    /// Takes a tile out of the accounts (under the lock, so a copy being made now is not
    /// counted after it).
    fn release(&mut self, t: &Cached) {
        t.cached.store(false, Ordering::Relaxed);
        self.bytes -= t.bytes.len() + 128;
        self.packed -= t.counted.swap(0, Ordering::Relaxed);
    }
}

pub struct TileCache {
    max_bytes: usize,
    inner: Arc<Mutex<Inner>>,
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
            inner: Arc::new(Mutex::new(Inner {
                map: HashMap::default(),
                order: VecDeque::new(),
                bytes: 0,
                packed: 0,
            })),
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

    /// Stores a tile, evicting the oldest ones while the tiles and their compressed copies
    /// (those made since the last insertion are counted now) exceed the size bound.
    pub fn put(&self, k: TileKey, v: Cached) {
        let size = v.bytes.len() + 128;
        // A tile belongs to one cache; one already held (by this or another cache) stays there.
        if size > self.max_bytes || v.home.set(Arc::downgrade(&self.inner)).is_err() {
            return;
        }
        let mut g = self.lock();
        v.cached.store(true, Ordering::Relaxed);
        if let Some(old) = g.map.insert(k.clone(), v) {
            g.release(&old);
        } else {
            g.order.push_back(k);
        }
        g.bytes += size;
        while g.bytes + g.packed > self.max_bytes {
            let Some(old) = g.order.pop_front() else {
                break;
            };
            if let Some(v) = g.map.remove(&old) {
                g.release(&v);
            }
        }
    }

    /// Drops every tile whose content box meets one of `areas`; returns how many.
    pub fn invalidate(&self, areas: &[[f64; 4]]) -> usize {
        self.drop_where(|_, v| areas.iter().any(|a| meets(*a, v.bbox)))
    }

    /// Drops the tiles an administrator names: of one tileset (or all), whose content box
    /// meets `bbox` (or anywhere), at zooms `zooms`; returns how many.
    pub fn purge(&self, tileset: Option<&str>, bbox: Option<[f64; 4]>, zooms: (u8, u8)) -> usize {
        self.drop_where(|k, v| {
            tileset.is_none_or(|t| t == k.made.tileset())
                && (zooms.0..=zooms.1).contains(&k.z)
                && bbox.is_none_or(|b| meets(b, v.bbox))
        })
    }

    /// Drops the tiles whose key `gone` picks, wherever they are; returns how many.
    pub fn drop_keys(&self, gone: impl Fn(&TileKey) -> bool) -> usize {
        self.drop_where(|k, _| gone(k))
    }

    /// Drops the tiles `gone` picks, under one lock; returns how many.
    fn drop_where(&self, gone: impl Fn(&TileKey, &Cached) -> bool) -> usize {
        let mut g = self.lock();
        let keys: Vec<TileKey> = g
            .map
            .iter()
            .filter(|(k, v)| gone(k, v))
            .map(|(k, _)| k.clone())
            .collect();
        for k in &keys {
            if let Some(v) = g.map.remove(k) {
                g.release(&v);
            }
        }
        let Inner { map, order, .. } = &mut *g;
        order.retain(|k| map.contains_key(k));
        keys.len()
    }

    pub fn clear(&self) {
        let mut g = self.lock();
        for v in std::mem::take(&mut g.map).into_values() {
            g.release(&v);
        }
        g.order.clear();
    }

    /// (tiles, bytes with the compressed copies, hits, misses)
    pub fn stats(&self) -> (usize, usize, u64, u64) {
        let g = self.lock();
        (
            g.map.len(),
            g.bytes + g.packed,
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
            made: Made::Vector(crate::tile::mlt::Encoding::Mvt),
            grid: crate::tile::Grid::WebMercatorQuad,
            z: 14,
            x,
            y: 1,
            window: crate::analytics::Window {
                from: crate::model::Month::new(2023, 1),
                to: crate::model::Month::new(2023, 12),
            },
            period: None,
            datum: crate::tile::Datum::Wgs84,
            full_counts: false,
            filter: None,
        }
    }
    fn tile(n: usize, bbox: [f64; 4]) -> Cached {
        Cached::new(bytes::Bytes::from(vec![0u8; n]), vec![], bbox)
    }

    /// A purge drops what it names (tileset, box, zooms) and keeps the rest, with the byte
    /// count following.
    #[test]
    fn a_purge_drops_what_it_names() {
        let c = TileCache::new(1 << 20);
        for x in 0..4 {
            c.put(key(x), tile(100, [x as f64, 0.0, x as f64 + 0.5, 0.5]));
        }
        let mut k = key(9);
        k.made = Made::Picture {
            style: crate::tile::raster::Style::Grade,
            size: 256,
        };
        k.z = 10;
        c.put(k, tile(100, [0.0, 0.0, 9.0, 9.0]));
        assert_eq!(c.purge(Some("density"), None, (0, 30)), 0);
        assert_eq!(
            c.purge(Some("atlas"), Some([0.9, 0.0, 2.1, 1.0]), (0, 30)),
            2
        );
        assert_eq!(c.purge(None, None, (11, 30)), 2);
        assert_eq!(c.stats().0, 1);
        assert_eq!(c.stats().1, 228);
        assert_eq!(c.purge(None, None, (0, 30)), 1);
        assert_eq!(c.stats().1, 0);
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
                "serving::cache::tests::etag_of_a_hundred_zeros",
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

    /// Compressed copies count against the bound, exactly: made while cached they are added,
    /// evicted, invalidated or cleared tiles take theirs away, and a copy made of a tile no
    /// longer cached is not counted.
    #[test]
    fn compressed_copies_count_against_the_bound() {
        // Tiles that compress: repeated text, 2,000 bytes each.
        let text = |n: u8| {
            let s: Vec<u8> = (0..2000u32).map(|i| b'a' + ((i as u8 ^ n) % 7)).collect();
            Cached::new(
                bytes::Bytes::from(s),
                vec![],
                [f64::from(n), 0.0, f64::from(n) + 0.5, 0.5],
            )
        };
        let c = TileCache::new(10_000);
        for n in 0..4 {
            c.put(key(u64::from(n)), text(n));
        }
        let (_, raw, _, _) = c.stats();
        assert_eq!(raw, 4 * 2128);
        let t = c.get(&key(0)).unwrap();
        let (gz, br) = (t.body(Some(Coding::Gzip)), t.body(Some(Coding::Brotli)));
        t.body(Some(Coding::Gzip)); // made once: counted once
        assert_eq!(c.stats().1, raw + gz.len() + br.len());
        // A fifth tile no longer fits with the copies: the oldest goes, with its copies.
        c.put(key(4), text(4));
        assert!(c.get(&key(0)).is_none());
        assert_eq!(c.stats(), (4, 4 * 2128, c.stats().2, c.stats().3));
        // A tile evicted while a request holds it compresses for it without being counted.
        let held = c.get(&key(1)).unwrap();
        c.put(key(5), text(5));
        assert!(c.get(&key(1)).is_none());
        assert!(!held.body(Some(Coding::Gzip)).is_empty());
        assert_eq!(c.stats().1, 4 * 2128);
        let u = c.get(&key(2)).unwrap();
        let copy = u.body(Some(Coding::Brotli)).len();
        assert_eq!(c.stats().1, 4 * 2128 + copy);
        assert_eq!(c.invalidate(&[[2.1, 0.1, 2.2, 0.2]]), 1);
        assert_eq!(c.stats().1, 3 * 2128);
        c.get(&key(3)).unwrap().body(Some(Coding::Gzip));
        c.clear();
        assert_eq!(c.stats().1, 0);
        // The bound holds at each insertion, copies included.
        let c = TileCache::new(6_000);
        for n in 0..20u8 {
            c.put(key(u64::from(n)), text(n));
            let t = c.get(&key(u64::from(n))).unwrap();
            t.body(Some(Coding::Gzip));
            t.body(Some(Coding::Brotli));
        }
        c.put(key(99), text(99));
        assert!(c.stats().1 <= 6_000, "{:?}", c.stats());
    }
}
