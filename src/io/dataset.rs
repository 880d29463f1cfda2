//! A whole dataset directory: every layer written under one generation's names, or read back
//! (with full validation) through its manifest.

use super::manifest::Manifest;
use super::{FormatError, GeometryRules};
use crate::model::{Dataset, Layer};
use std::path::Path;

fn file_name(layer: Layer, generation: u64) -> String {
    let ext = if layer == Layer::Companies {
        "csv"
    } else {
        "fgb"
    };
    if generation <= 1 {
        format!("{}.{ext}", layer.name())
    } else {
        format!("{}.{generation}.{ext}", layer.name())
    }
}

/// Writes every layer of `data` into `dir` under this generation's names and returns the
/// manifest that names them. The caller writes the manifest last.
pub fn write(dir: &Path, data: &Dataset, generation: u64) -> Result<Manifest, FormatError> {
    let mut m = Manifest {
        format: 1,
        generation,
        ..Manifest::default()
    };
    for layer in Layer::ALL {
        let file = file_name(layer, generation);
        let path = dir.join(&file);
        match layer {
            Layer::Districts => super::fgb::write_layer(&path, &data.districts)?,
            Layer::Streets => super::fgb::write_layer(&path, &data.streets)?,
            Layer::Companies => super::csv::write_companies(&path, &data.companies)?,
            Layer::Compounds => super::fgb::write_layer(&path, &data.compounds)?,
            Layer::Buildings => super::fgb::write_layer(&path, &data.buildings)?,
            Layer::Units => super::fgb::write_layer(&path, &data.units)?,
        }
        m.layers.insert(layer, file);
    }
    Ok(m)
}

/// Reads every layer the manifest names.
pub fn read(dir: &Path, manifest: &Manifest) -> Result<Dataset, FormatError> {
    let rules = GeometryRules::default();
    let mut data = Dataset::default();
    for layer in Layer::ALL {
        let Some(path) = manifest.layer_file(dir, layer) else {
            continue;
        };
        match layer {
            Layer::Districts => data.districts = super::fgb::read_layer(&path, rules, None)?,
            Layer::Streets => data.streets = super::fgb::read_layer(&path, rules, None)?,
            Layer::Companies => data.companies = super::csv::read_companies(&path)?,
            Layer::Compounds => data.compounds = super::fgb::read_layer(&path, rules, None)?,
            Layer::Buildings => data.buildings = super::fgb::read_layer(&path, rules, None)?,
            Layer::Units => data.units = super::fgb::read_layer(&path, rules, None)?,
        }
    }
    // FlatGeobuf stores features in spatial (Hilbert) order; keep records in key order.
    data.districts.sort_by(|a, b| a.code.cmp(&b.code));
    data.streets.sort_by(|a, b| a.code.cmp(&b.code));
    data.companies.sort_by_key(|c| c.id);
    data.compounds.sort_by_key(|c| c.id);
    data.buildings.sort_by_key(|b| b.id);
    data.units.sort_by_key(|u| u.id);
    Ok(data)
}
