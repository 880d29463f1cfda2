//! Encodings as plain values, which the configuration, the importer, the generator and the
//! tiles all name: a text file's (UTF-8 or GBK) and a vector tile's (MVT or MLT).

use serde::{Deserialize, Serialize};

/// Text encoding of a CSV file: an export, a geography table, or what `atlas generate`
/// writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextEncoding {
    #[default]
    Utf8,
    Gbk,
}

/// The media type of a Mapbox Vector Tile.
pub const MVT: &str = "application/vnd.mapbox-vector-tile";

/// The media type of a MapLibre Tile (the one MapLibre Native asks for; the PMTiles
/// specification's `application/vnd.maplibre-vector-tile` is accepted too).
pub const MLT: &str = "application/vnd.maplibre-tile";

/// Media types a client may name in `Accept` for an MLT answer.
pub const MLT_TYPES: [&str; 2] = [MLT, "application/vnd.maplibre-vector-tile"];

/// A vector tile encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Encoding {
    /// Mapbox Vector Tile 2.1 (protobuf).
    #[default]
    Mvt,
    /// MapLibre Tile (columnar).
    Mlt,
}

impl Encoding {
    /// The name used in paths (`.mvt`, `.mlt`) and in `?encoding=`.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Mvt => "mvt",
            Encoding::Mlt => "mlt",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Mvt => MVT,
            Encoding::Mlt => MLT,
        }
    }

    /// `mvt` (or `pbf`) and `mlt`.
    pub fn parse(s: &str) -> Option<Encoding> {
        match s {
            "mvt" | "pbf" => Some(Encoding::Mvt),
            "mlt" => Some(Encoding::Mlt),
            _ => None,
        }
    }
}
