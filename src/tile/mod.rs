//! Tiles, pure and synchronous: grids (tile-grid), datums, the geometry pipeline and MVT
//! encoding (geozero), the `atlas` tileset's layers, and the tile cache.

pub mod archive;
pub mod atlas;
pub mod cache;
pub mod datum;
pub mod grid;
pub mod mvt;
pub mod raster;
pub mod seed;
pub mod served;
pub mod service;

pub use datum::Datum;
pub use grid::Grid;
