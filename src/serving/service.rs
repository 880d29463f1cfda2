//! Serving tiles from a store (the one asynchronous room of `tile/`): the city index, the
//! figures of each window × period and the hot-spot cells of each window, cached per store
//! version; built tiles in the tile cache.

use super::cache::{Cached, Made, TileCache, TileKey};
use crate::analytics::{Atlas, Window};
use crate::model::Quarter;
use crate::store::{blocking, ByVersion, StoreError};
use crate::tile::atlas::{self, Audience, CityIndex, Figures, Rows};
use crate::tile::filter::TileFilter;
use crate::tile::hotspots::HotCells;
use crate::tile::layers::TileLayer;
use crate::tile::mlt::Encoding;
use crate::tile::mvt::TileFrame;
use crate::tile::{Datum, Grid};
use std::sync::Arc;
use tokio::sync::Mutex;

/// What one tile request asks for, validated.
#[derive(Debug, Clone)]
pub struct TileRequest {
    pub grid: Grid,
    pub z: u8,
    pub x: u64,
    pub y: u64,
    pub window: Window,
    pub period: Option<Quarter>,
    pub datum: Datum,
    pub audience: Audience,
    /// MVT or MLT (the `atlas` tileset only; pictures ignore it).
    pub encoding: Encoding,
    /// A CQL2 filter on the features (the `atlas` tileset and the grade picture).
    pub filter: Option<Arc<TileFilter>>,
}

/// From this zoom tiles are built on the request's own worker: they take well under 2 ms
/// (0.3–1 ms measured, z13–z17), and handing them to the blocking pool and back cost ~15% of
/// the uncached throughput. Lower zooms (up to ~15 ms at z8, whole districts) go to the
/// blocking pool so that they never hold up the workers.
const INLINE_FROM_ZOOM: u8 = 13;

/// Store version, complaint window, grade period.
type FiguresKey = (u64, Window, Option<Quarter>);

/// The hot-spot cells of a store version and window (`None`: the window has no statistics).
type KeptHot = ((u64, Window), Option<Arc<HotCells>>);

/// How many windows' hot-spot cells are kept.
const KEPT_HOT_WINDOWS: usize = 4;

pub struct TileService {
    city: ByVersion<CityIndex>,
    /// The figures made last (at most 8, of the current version), read without a lock; making
    /// one takes `making_figures`, so a window's figures are made once (single flight). The
    /// lock keeps where the city's features sit in the statistics of the store version it was
    /// made for, which every window of that version reads.
    figures: arc_swap::ArcSwap<Vec<(FiguresKey, Arc<Figures>)>>,
    making_figures: Mutex<Option<(u64, Arc<Rows>)>>,
    /// The hot-spot cells of the windows asked last (the statistics themselves are the
    /// analytics service's, [`Atlas::hotspots`]), read without a lock; made once (single flight).
    hot: arc_swap::ArcSwap<Vec<KeptHot>>,
    making_hot: Mutex<()>,
    pub cache: TileCache,
    /// The company lists the cached tiles' `company_list` was made from (those of the figures
    /// made last), to find after a change which companies' standing moved.
    lists_seen: arc_swap::ArcSwapOption<crate::analytics::company_list::ListBook>,
    /// Tiles from this zoom are built on the caller's task ([`INLINE_FROM_ZOOM`] to serve).
    inline_from: u8,
}

impl TileService {
    pub fn new(cache_bytes: usize) -> TileService {
        TileService {
            city: ByVersion::default(),
            figures: arc_swap::ArcSwap::from_pointee(Vec::new()),
            making_figures: Mutex::new(None),
            hot: arc_swap::ArcSwap::from_pointee(Vec::new()),
            making_hot: Mutex::new(()),
            cache: TileCache::new(cache_bytes),
            lists_seen: arc_swap::ArcSwapOption::empty(),
            inline_from: INLINE_FROM_ZOOM,
        }
    }

    /// For batch work (seeding): no cache, and every tile built on the blocking pool, so that
    /// tiles asked for at once are built at once (inline, they would take turns on the one
    /// task that asks).
    pub fn batch() -> TileService {
        TileService {
            inline_from: u8::MAX,
            ..TileService::new(0)
        }
    }

    pub async fn city(&self, atlas: &Atlas) -> Result<Arc<CityIndex>, StoreError> {
        let make = async {
            let data = atlas.store.geography().await?;
            blocking("city index made", move || CityIndex::new(data)).await
        };
        self.city
            .get_or_make(atlas.store.geography_version(), make)
            .await
    }

    pub async fn figures(
        &self,
        atlas: &Atlas,
        window: Window,
        period: Option<Quarter>,
    ) -> Result<Arc<Figures>, StoreError> {
        let v = atlas.store.version();
        let key = (v, window, period);
        let kept = || {
            self.figures
                .load()
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, f)| Arc::clone(f))
        };
        if let Some(f) = kept() {
            return Ok(f);
        }
        let mut making = self.making_figures.lock().await;
        if let Some(f) = kept() {
            return Ok(f);
        }
        let city = self.city(atlas).await?;
        let stats = atlas.store.stats().await?;
        let book = atlas.grades().await?;
        let lists = atlas.company_lists().await?;
        self.lists_seen.store(Some(Arc::clone(&lists)));
        let rows = match &*making {
            Some((made_for, rows)) if *made_for == v => Some(Arc::clone(rows)),
            _ => None,
        };
        let rule = atlas.alert_rule.clone();
        let repeats = atlas.rule.repeats;
        let (fig, rows) = blocking("figures made", move || {
            let rows = rows.unwrap_or_else(|| Arc::new(Rows::new(&city, &stats)));
            let fig = Figures::new(&city, (&stats, &rows), &book, window, period)
                .with_alerts(&city, &stats, &rule)
                .with_company_lists(&city, &lists)
                .with_repeats(&city, &stats, &repeats);
            (Arc::new(fig), rows)
        })
        .await?;
        *making = Some((v, rows));
        let mut next: Vec<_> = self
            .figures
            .load()
            .iter()
            .filter(|(k, _)| k.0 == v)
            .cloned()
            .collect();
        if next.len() >= 8 {
            next.remove(0);
        }
        next.push((key, Arc::clone(&fig)));
        self.figures.store(Arc::new(next));
        Ok(fig)
    }

    /// The hot-spot cells of a window: the statistics [`Atlas::hotspots`] makes at the
    /// service's default resolution and rings (`[hotspots]`), for every category; `None` where
    /// the window has none (shorter than [`MIN_MONTHS`](crate::analytics::hotspots::MIN_MONTHS),
    /// or outside the data), and tiles then go without the layer.
    pub async fn hot_cells(
        &self,
        atlas: &Atlas,
        window: Window,
    ) -> Result<Option<Arc<HotCells>>, StoreError> {
        if window.months() < crate::analytics::hotspots::MIN_MONTHS {
            return Ok(None);
        }
        let key = (atlas.store.version(), window);
        let kept = || {
            self.hot
                .load()
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, h)| h.clone())
        };
        if let Some(h) = kept() {
            return Ok(h);
        }
        let _making = self.making_hot.lock().await;
        if let Some(h) = kept() {
            return Ok(h);
        }
        let city = self.city(atlas).await?;
        let ask = crate::analytics::hotspots::Ask {
            res: atlas.hotspot_defaults.res,
            k: atlas.hotspot_defaults.k,
            window,
            category: None,
        };
        // The outlines of the cells made last serve again where the cells are the same.
        let like = self.hot.load().iter().rev().find_map(|(_, h)| h.clone());
        let made = match atlas
            .hotspots(ask, crate::tile::hotspots::places(&city))
            .await
        {
            Ok(stats) => Some(Arc::new(
                blocking("hot-spot cells made", move || {
                    HotCells::new(stats, like.as_deref())
                })
                .await?,
            )),
            Err(crate::error::Error::BadRequest(why)) => {
                tracing::debug!(%why, "tiles without the hotspots layer");
                None
            }
            Err(crate::error::Error::Store(e)) => return Err(e),
            Err(e) => return Err(StoreError::Io(std::io::Error::other(e.to_string()))),
        };
        let mut next: Vec<KeptHot> = self
            .hot
            .load()
            .iter()
            .filter(|(k, _)| k.0 == key.0)
            .cloned()
            .collect();
        if next.len() >= KEPT_HOT_WINDOWS {
            next.remove(0);
        }
        next.push((key, made.clone()));
        self.hot.store(Arc::new(next));
        Ok(made)
    }

    /// One tile of the `atlas` tileset in the request's encoding, from the cache or built;
    /// `None` when empty. An MLT tile is the MVT tile re-encoded (itself cached), so both
    /// always hold the same features.
    pub async fn tile(&self, atlas: &Atlas, r: &TileRequest) -> Result<Option<Cached>, StoreError> {
        if r.encoding == Encoding::Mlt {
            return self.mlt_tile(atlas, r).await;
        }
        let key = Self::vector_key(r);
        if let Some(hit) = self.cache.get(&key) {
            return Ok(Some(hit));
        }
        let city = self.city(atlas).await?;
        // A never-seen window's figures and hot-spot cells are made side by side.
        let (fig, hot) = tokio::try_join!(self.figures(atlas, r.window, r.period), async {
            if TileLayer::Hotspots.in_zoom(r.z) {
                self.hot_cells(atlas, r.window).await
            } else {
                Ok(None)
            }
        })?;
        let frame = TileFrame::new(r.grid, r.datum, r.z, r.x, r.y);
        let who = r.audience;
        let filter = r.filter.clone();
        let started = std::time::Instant::now();
        let built = if r.z >= self.inline_from {
            atlas::build(&city, &fig, &frame, who, filter.as_deref(), hot.as_deref())
        } else {
            tokio::task::spawn_blocking(move || {
                atlas::build(&city, &fig, &frame, who, filter.as_deref(), hot.as_deref())
            })
            .await
            .map_err(|e| StoreError::Io(std::io::Error::other(e)))?
        };
        let ms = started.elapsed().as_millis();
        if ms > 500 {
            tracing::warn!(
                z = r.z,
                x = r.x,
                y = r.y,
                grid = r.grid.id(),
                ms,
                "slow tile"
            );
        }
        let Some(b) = built else { return Ok(None) };
        let cached = Cached::new(bytes::Bytes::from(b.bytes), b.thinned, frame.query_bbox());
        self.cache.put(key, cached.clone());
        Ok(Some(cached))
    }

    /// What the cache knows a tile of `tileset` (`size` px square for pictures, 0 for vector
    /// tiles) by.
    fn key(r: &TileRequest, made: Made, full_counts: bool) -> TileKey {
        TileKey {
            made,
            grid: r.grid,
            z: r.z,
            x: r.x,
            y: r.y,
            window: r.window,
            period: r.period,
            datum: r.datum,
            full_counts,
            filter: r.filter.as_ref().map(|f| Arc::clone(f.key())),
        }
    }

    /// What the cache knows a vector tile request by.
    fn vector_key(r: &TileRequest) -> TileKey {
        Self::key(r, Made::Vector(r.encoding), r.audience.sees_small_counts)
    }

    /// An MLT tile: cached, else the MVT tile (cached or built) re-encoded, on the blocking
    /// pool below [`INLINE_FROM_ZOOM`] as tiles are built.
    async fn mlt_tile(&self, atlas: &Atlas, r: &TileRequest) -> Result<Option<Cached>, StoreError> {
        let key = Self::vector_key(r);
        if let Some(hit) = self.cache.get(&key) {
            return Ok(Some(hit));
        }
        let mvt_req = TileRequest {
            encoding: Encoding::Mvt,
            ..r.clone()
        };
        let Some(mvt) = Box::pin(self.tile(atlas, &mvt_req)).await? else {
            return Ok(None);
        };
        let encode = {
            let mvt = mvt.bytes.clone();
            move || crate::tile::mlt::from_mvt(&mvt)
        };
        let bytes = if r.z >= self.inline_from {
            encode()
        } else {
            tokio::task::spawn_blocking(encode)
                .await
                .map_err(|e| StoreError::Io(std::io::Error::other(e)))?
        }
        .map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
        let cached = Cached::new(bytes::Bytes::from(bytes), mvt.thinned.clone(), mvt.bbox);
        self.cache.put(key, cached.clone());
        Ok(Some(cached))
    }

    /// One PNG tile of a raster tileset, `size` pixels square (256, or 512 for @2x), from the
    /// cache or drawn. An empty tile is a transparent PNG (image clients want a picture).
    pub async fn raster(
        &self,
        atlas: &Atlas,
        r: &TileRequest,
        style: crate::tile::raster::Style,
        size: u32,
    ) -> Result<Cached, StoreError> {
        let key = Self::key(r, Made::Picture { style, size }, false);
        if let Some(hit) = self.cache.get(&key) {
            return Ok(hit);
        }
        let city = self.city(atlas).await?;
        let fig = self.figures(atlas, r.window, r.period).await?;
        let view = crate::tile::raster::View::tile(r.grid, r.datum, r.z, r.x, r.y, size);
        let filter = r.filter.clone();
        let bytes = tokio::task::spawn_blocking(move || {
            let pm = crate::tile::raster::draw(&view, style, &city, &fig, filter.as_deref());
            crate::tile::raster::png(&pm)
        })
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(e)))?
        .map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
        let frame = TileFrame::new(r.grid, r.datum, r.z, r.x, r.y);
        let cached = Cached::new(bytes::Bytes::from(bytes), Vec::new(), frame.query_bbox());
        self.cache.put(key, cached.clone());
        Ok(cached)
    }

    /// Drops the cached tiles that the given compounds' change touches (their districts).
    pub async fn invalidate_compounds(
        &self,
        atlas: &Atlas,
        compounds: &[i64],
    ) -> Result<usize, StoreError> {
        if compounds.is_empty() {
            return Ok(0);
        }
        let city = self.city(atlas).await?;
        let mut touched = compounds.to_vec();
        touched.extend(self.list_moves(atlas, &city).await?);
        let areas = city.district_boxes_of(&touched);
        Ok(self.cache.invalidate(&areas))
    }

    /// The compounds of every company whose list standing in some quarter differs between the
    /// lists the cached tiles were made from and the store's lists now: a grade anywhere moves
    /// its company's red share, and the worst-rate line is the whole city's, so a change in one
    /// district can move a company's colour in another.
    async fn list_moves(&self, atlas: &Atlas, city: &CityIndex) -> Result<Vec<i64>, StoreError> {
        let Some(seen) = self.lists_seen.load_full() else {
            return Ok(Vec::new());
        };
        let now = atlas.company_lists().await?;
        if Arc::ptr_eq(&seen, &now) {
            return Ok(Vec::new());
        }
        let mut moved: std::collections::HashSet<i64> = now
            .records
            .iter()
            .filter(|(k, s)| seen.records.get(k).map(|o| o.list) != Some(s.list))
            .map(|((_, company), _)| *company)
            .collect();
        moved.extend(
            seen.records
                .keys()
                .filter(|k| !now.records.contains_key(k))
                .map(|(_, company)| *company),
        );
        self.lists_seen.store(Some(now));
        Ok(city
            .data
            .compounds
            .iter()
            .filter(|c| moved.contains(&c.company_id))
            .map(|c| c.id)
            .collect())
    }

    /// Drops the cached tiles a change to these compounds' complaints touches: their
    /// districts' ([`TileService::invalidate_compounds`]), and every vector tile that may hold
    /// the `hotspots` layer (its zooms, a window long enough): the hot-spot statistics are the
    /// whole city's — a count anywhere moves every cell's z-score.
    pub async fn invalidate_complaints(
        &self,
        atlas: &Atlas,
        compounds: &[i64],
    ) -> Result<usize, StoreError> {
        let near = self.invalidate_compounds(atlas, compounds).await?;
        if compounds.is_empty() {
            return Ok(near);
        }
        let hot = self.cache.drop_keys(|k| {
            matches!(k.made, Made::Vector(_))
                && TileLayer::Hotspots.in_zoom(k.z)
                && k.window.months() >= crate::analytics::hotspots::MIN_MONTHS
        });
        Ok(near + hot)
    }
}
