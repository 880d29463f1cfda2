//! Tiles, pure and synchronous: grids (tile-grid), datums, the geometry pipeline and MVT
//! encoding (geozero), MLT re-encoding (mlt-core), the `atlas` tileset's layers, and the tile cache.

pub mod address;
pub mod archive;
pub mod atlas;
pub mod cache;
pub mod filter;
/// The datums live in `model` (plain values the configuration and the importer use too).
pub use crate::model::datum;
pub mod grid;
pub mod layers;
pub mod mlt;
pub mod mvt;
pub mod raster;
pub mod seed;
pub mod served;
pub mod service;

pub use datum::Datum;
pub use grid::Grid;
