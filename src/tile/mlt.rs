//! MapLibre Tiles (MLT): the `atlas` tileset's MVT re-encoded column by column with the
//! `mlt-core` crate (the MapLibre project's own encoder), so that both encodings carry exactly
//! the same layers, features, ids, properties and geometry.
//!
//! The encoder keeps the features in the order MVT has them (draw order and label priority,
//! as our layers are built), and chooses per column among its lightweight codecs (delta,
//! RLE, FastPFOR, FSST strings, shared dictionaries); it tries no spatial or id sort, which
//! would reorder what the map draws and cost a second and third encoding of every tile.

use mlt_core::encoder::EncoderConfig;

pub use crate::model::encoding::{Encoding, MLT, MLT_TYPES, MVT};

/// Why a tile could not be re-encoded (never expected for tiles we built: a bug if seen).
#[derive(Debug, thiserror::Error)]
#[error("MLT encoding: {0}")]
pub struct MltError(String);

/// No sorts (features keep MVT's order: draw order and label priority), and no shared string
/// dictionaries: MapLibre GL JS's decoder (5.24) reads a shared dictionary only over nullable
/// columns and refuses the tile otherwise ("only optional string fields are implemented for a
/// struct"), and our names, districts and companies are never null (found by tests/web.rs).
fn config() -> EncoderConfig {
    EncoderConfig::default()
        .with_shared_dict(false)
        .with_spatial_morton_sort(false)
        .with_spatial_hilbert_sort(false)
        .with_id_sort(false)
}

/// The MLT tile holding the same layers and features as the MVT tile `mvt`, layer for layer
/// in the same order (an MVT layer without features is left out, as MLT has no empty layer).
pub fn from_mvt(mvt: &[u8]) -> Result<Vec<u8>, MltError> {
    let layers = mlt_core::mvt::mvt_to_tile_layers(mvt).map_err(|e| MltError(e.to_string()))?;
    let cfg = config();
    let mut out = Vec::with_capacity(mvt.len() / 2);
    for layer in layers {
        let name = layer.name().to_string();
        let bytes = layer
            .encode(cfg)
            .map_err(|e| MltError(format!("layer {name}: {e}")))?;
        out.extend_from_slice(&bytes);
    }
    Ok(out)
}
