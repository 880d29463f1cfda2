//! Tiles, pure and synchronous: grids (tile-grid), datums, typed tile addresses, the geometry
//! pipeline and MVT encoding (geozero), MLT re-encoding (mlt-core), the `atlas` tileset's
//! layers and their filter (the `hotspots` layer's cells in [`hotspots`]), and the raster
//! pictures. Serving them — the async service, the
//! cache, seeding and archives — is [`crate::serving`]'s.

pub mod address;
pub mod atlas;
pub mod filter;
/// The datums live in `model` (plain values the configuration and the importer use too).
pub use crate::model::datum;
pub mod grid;
pub mod hotspots;
pub mod layers;
pub mod mlt;
pub mod mvt;
pub mod raster;
pub mod report;

pub use datum::Datum;
pub use grid::Grid;
