//! The two stores behind one trait: [`embedded::EmbeddedStore`] (FlatGeobuf files in a data
//! directory, in memory with R-trees) and [`postgis::PostgisStore`] (sqlx). Both answer every
//! question with the same results; nothing here knows about HTTP.

pub mod embedded;
pub mod postgis;

use crate::model::company_list::CompanyOverride;
use crate::model::grade::{GradeRecord, Override};
use crate::model::stats::Stats;
use crate::model::{Building, Complaint, ComplaintContact, Compound, Counts, Dataset, Layer, Unit};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Errors a store reports, each saying what an operator needs to act.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (down, pool exhausted, timed out): try again later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The data offered breaks a rule of the store (a reference to nothing, a duplicate key…).
    #[error("rejected: {0}")]
    Rejected(String),
    /// A file of the data directory cannot be read.
    #[error("{0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(String),
    /// A database error the driver reported, kept as the source (with its SQLSTATE and the
    /// server's detail) for the log.
    #[error("database error: {message}")]
    Sql {
        message: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// The two version counters of a store: every change moves `data`; a change of the geography
/// moves `geography` too ([`Store::version`], [`Store::geography_version`]).
#[derive(Debug)]
pub struct Versions {
    data: std::sync::atomic::AtomicU64,
    geography: std::sync::atomic::AtomicU64,
}

impl Default for Versions {
    fn default() -> Self {
        Versions {
            data: std::sync::atomic::AtomicU64::new(1),
            geography: std::sync::atomic::AtomicU64::new(1),
        }
    }
}

impl Versions {
    /// Complaints or grades changed; the geography did not.
    pub fn facts_changed(&self) {
        self.data.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// The geography changed (and so, possibly, everything derived from it).
    pub fn geography_changed(&self) {
        self.geography
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.facts_changed();
    }

    pub fn data(&self) -> u64 {
        self.data.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn geography(&self) -> u64 {
        self.geography.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Something derived from the store's data, kept for one store version ([`Store::version`] or
/// [`Store::geography_version`]) and made once per version.
///
/// The value kept is read without a lock (an `ArcSwap`): the tile path, which asks for the
/// statistics and the city index on every request, never waits while another request reads.
/// Only a miss takes the lock, so that callers asking while the value is being made wait for
/// it instead of making it again (single flight).
pub struct ByVersion<T> {
    kept: arc_swap::ArcSwapOption<(u64, Arc<T>)>,
    making: tokio::sync::Mutex<()>,
}

impl<T> Default for ByVersion<T> {
    fn default() -> Self {
        ByVersion {
            kept: arc_swap::ArcSwapOption::empty(),
            making: tokio::sync::Mutex::new(()),
        }
    }
}

impl<T> ByVersion<T> {
    fn kept_for(&self, version: u64) -> Option<Arc<T>> {
        self.kept
            .load()
            .as_ref()
            .filter(|k| k.0 == version)
            .map(|k| Arc::clone(&k.1))
    }

    /// The value made for `version`, or `make`'s, kept for it.
    pub async fn get_or_make<F>(&self, version: u64, make: F) -> Result<Arc<T>, StoreError>
    where
        F: std::future::Future<Output = Result<T, StoreError>>,
    {
        if let Some(x) = self.kept_for(version) {
            return Ok(x);
        }
        let _making = self.making.lock().await;
        // Made by the caller that held the lock before us?
        if let Some(x) = self.kept_for(version) {
            return Ok(x);
        }
        let x = Arc::new(make.await?);
        self.kept.store(Some(Arc::new((version, Arc::clone(&x)))));
        Ok(x)
    }
}

/// Runs `f` on the blocking pool (CPU work over the whole city: indexes, figures, grades) and
/// logs at `debug` how long it took, as `what`, with the process's resident memory then (what
/// each structure adds, read off a server's start).
pub async fn blocking<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let x = f();
        let ms = started.elapsed().as_millis() as u64;
        tracing::debug!(ms, rss_mb = crate::io::resident_mb(), "{what}");
        x
    })
    .await
    .map_err(|e| StoreError::Io(std::io::Error::other(e)))
}

/// What an import did, per layer: records offered, and records inserted or changed (an
/// unchanged record offered again is not rewritten).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    pub read: BTreeMap<Layer, usize>,
    pub changed: BTreeMap<Layer, usize>,
}

/// What a complaint import did in the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ComplaintImport {
    /// Complaints stored for the first time.
    pub new: usize,
    /// Complaints already stored with the same content (importing a file twice changes nothing).
    pub unchanged: usize,
    /// Tickets already stored with different content: rejected, the stored one kept.
    pub conflicts: Vec<String>,
}

/// A change another process made to a shared store (PostGIS: LISTEN/NOTIFY).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The complaints or grades of these compounds changed.
    Compounds(Vec<i64>),
    /// Anything may have changed (a geography import, or notices missed while the
    /// connection was down).
    All,
}

/// A bounding box in longitude/latitude: west, south, east, north.
pub type Bbox = [f64; 4];

/// Where to look for compounds; shapes in longitude/latitude (WGS 84), distances in metres
/// on the WGS 84 ellipsoid (PostGIS `geography`).
#[derive(Debug, Clone)]
pub enum Area {
    /// Within `radius_m` of a point (0 inside a compound), nearest first.
    Near {
        point: geo_types::Point<f64>,
        radius_m: f64,
    },
    /// Meeting a box.
    Bbox(Bbox),
    /// Meeting a polygon (checked valid by the caller).
    Polygon(geo_types::MultiPolygon<f64>),
    /// Within `distance_m` of a line (a planned road, a patrol path), nearest first.
    Corridor {
        line: geo_types::MultiLineString<f64>,
        distance_m: f64,
    },
}

impl Area {
    /// Whether hits carry a distance and come nearest first.
    pub fn measures(&self) -> bool {
        matches!(self, Area::Near { .. } | Area::Corridor { .. })
    }
}

/// A compound an [`Area`] finds: nearest first (with its distance) for `Near` and `Corridor`,
/// by id otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub id: i64,
    pub distance_m: Option<f64>,
}

/// Sorts hits the way [`Store::find_compounds`] answers them.
pub fn sort_hits(hits: &mut Vec<Hit>, limit: usize) {
    hits.sort_by(|a, b| {
        a.distance_m
            .unwrap_or(0.0)
            .total_cmp(&b.distance_m.unwrap_or(0.0))
            .then(a.id.cmp(&b.id))
    });
    hits.truncate(limit);
}

/// The store interface every surface uses. Object-safe: the server holds an `Arc<dyn Store>`.
///
/// What a store is, said plainly: a **snapshot source** — it loads the whole geography
/// ([`Store::geography`], versioned by [`Store::geography_version`]) and the monthly
/// statistics ([`Store::stats`], by [`Store::version`]) for every server to hold in memory
/// (the city index of `tile::atlas`, the gazetteer, the figures), takes imports and overrides
/// all or nothing, and announces changes. Tiles, pictures, statistics, OGC features and
/// compound search are answered from that in-memory snapshot, the same for both stores. What
/// a store answers itself is only what follows the snapshot accessors below: `counts`,
/// `compound`, `compounds_in_bbox`, `find_compounds` (PostGIS with `ST_DWithin` /
/// `ST_Intersects` on its GiST index, the embedded store on its R-tree), `buildings_of` and
/// `units_of`. Holding the city in every server is the design (the full demo city is ~270,000
/// rows; docs/scaling.md gives the memory per city), not an accident of the PostGIS store.
#[async_trait]
pub trait Store: Send + Sync {
    /// `"embedded"` or `"postgis"`.
    fn kind(&self) -> &'static str;
    /// Row counts per table (and households), for `/health`.
    async fn counts(&self) -> Result<Counts, StoreError>;
    /// Upserts a validated dataset by key, all or nothing.
    async fn import(&self, data: Dataset) -> Result<ImportReport, StoreError>;
    /// One compound by id.
    async fn compound(&self, id: i64) -> Result<Option<Compound>, StoreError>;
    /// Compounds whose bounding box meets `bbox`, by id, at most `limit`.
    async fn compounds_in_bbox(
        &self,
        bbox: Bbox,
        limit: usize,
    ) -> Result<Vec<Compound>, StoreError>;
    /// The compounds an area finds, restricted to `only` when given, at most `limit`.
    async fn find_compounds(
        &self,
        area: &Area,
        only: Option<&[i64]>,
        limit: usize,
    ) -> Result<Vec<Hit>, StoreError>;
    /// The buildings of a compound, by id.
    async fn buildings_of(&self, compound_id: i64) -> Result<Vec<Building>, StoreError>;
    /// The units of a building, by id.
    async fn units_of(&self, building_id: i64) -> Result<Vec<Unit>, StoreError>;

    /// Everything geographic (for the geocoder's gazetteer and aggregates).
    async fn geography(&self) -> Result<Arc<Dataset>, StoreError>;
    /// Stores placed complaints, apart from their callers' contacts; all or nothing. A ticket
    /// already stored with the same content is left alone, one with other content is refused.
    /// The monthly statistics are refreshed for the compounds the import touches.
    async fn import_complaints(
        &self,
        rows: Vec<(Complaint, ComplaintContact)>,
    ) -> Result<ComplaintImport, StoreError>;
    /// The monthly complaint statistics.
    async fn stats(&self) -> Result<Arc<Stats>, StoreError>;
    /// Every grade override ever made (the audit trail), oldest first.
    async fn overrides(&self) -> Result<Vec<Override>, StoreError>;
    /// Records a grade override.
    async fn add_override(&self, o: Override) -> Result<(), StoreError>;
    /// Every company list override ever made (the audit trail), oldest first.
    async fn company_overrides(&self) -> Result<Vec<CompanyOverride>, StoreError>;
    /// Records a company list override (refused for a company that does not exist); the
    /// company's compounds are announced as changed (their tiles carry its standing).
    async fn add_company_override(&self, o: CompanyOverride) -> Result<(), StoreError>;
    /// Increases with every change of the store's data this process makes or hears of —
    /// geography, complaints or grade overrides (the statistics, the grades and the figures
    /// key on it).
    fn version(&self) -> u64;
    /// Increases only with a change of the geography (an import of layers, or another
    /// server's change of unknown kind): a complaint import or a grade override leaves it, so
    /// the geography, the city index and the gazetteer, which key on it, are not made again.
    fn geography_version(&self) -> u64;
    /// Changes made by other processes sharing this store, as they are announced; `None` when
    /// no other process can share it (embedded). The store's version moves on with each.
    async fn changes(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<Change>> {
        None
    }
    /// Open and idle connections of the database pool (PostGIS), for metrics.
    fn pool_stats(&self) -> Option<(u32, usize)> {
        None
    }
    /// Persists computed grades where SQL clients read them (PostGIS); the embedded store
    /// computes them on demand.
    async fn save_grades(&self, _grades: &[&GradeRecord]) -> Result<(), StoreError> {
        Ok(())
    }
}
