//! The two stores behind one trait: [`embedded::EmbeddedStore`] (FlatGeobuf files in a data
//! directory, in memory with R-trees) and [`postgis::PostgisStore`] (sqlx). Both answer every
//! question with the same results; nothing here knows about HTTP.

pub mod embedded;
pub mod postgis;

use crate::model::{Building, Compound, Counts, Dataset, Layer, Unit};
use async_trait::async_trait;
use std::collections::BTreeMap;

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
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// What an import did, per layer: records offered, and records inserted or changed (an
/// unchanged record offered again is not rewritten).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    pub read: BTreeMap<Layer, usize>,
    pub changed: BTreeMap<Layer, usize>,
}

/// A bounding box in longitude/latitude: west, south, east, north.
pub type Bbox = [f64; 4];

/// The store interface every surface uses. Object-safe: the server holds an `Arc<dyn Store>`.
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
    /// The buildings of a compound, by id.
    async fn buildings_of(&self, compound_id: i64) -> Result<Vec<Building>, StoreError>;
    /// The units of a building, by id.
    async fn units_of(&self, building_id: i64) -> Result<Vec<Unit>, StoreError>;
}
