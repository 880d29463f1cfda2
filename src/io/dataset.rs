//! A whole dataset directory: every layer written under one generation's names, or read back
//! through its manifest — with full validation, except that a file still holding the records
//! that passed it when written (its digest in the manifest's `checked`) skips the costly
//! geometry validity check.

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
/// manifest that names them, with their digests in `checked`: the caller vouches that every
/// record passed the readers' checks (the store's records were read through them; the
/// generator reads its output back). The caller writes the manifest last.
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
        // The company register (a small CSV) has no costly check to skip.
        if layer != Layer::Companies {
            let digest = super::digest::of_file(&path)
                .map_err(|e| FormatError::file(&path, format!("cannot read back: {e}")))?;
            m.checked.insert(file.clone(), digest);
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
        let started = std::time::Instant::now();
        if layer == Layer::Companies {
            data.companies = super::csv::read_companies(&path)?;
            continue;
        }
        let bytes = std::fs::read(&path)
            .map_err(|e| FormatError::file(&path, format!("cannot open: {e}")))?;
        let recorded = manifest
            .layers
            .get(&layer)
            .and_then(|f| manifest.checked.get(f));
        let rules = GeometryRules {
            known_valid: recorded.is_some_and(|d| *d == super::digest::of_bytes(&bytes)),
            ..rules
        };
        if recorded.is_some() && !rules.known_valid {
            tracing::warn!(
                file = %path.display(),
                "the file changed since it was written: checking every geometry again"
            );
        }
        use super::fgb::read_layer_bytes as read;
        match layer {
            Layer::Districts => data.districts = read(&path, &bytes, rules, None)?,
            Layer::Streets => data.streets = read(&path, &bytes, rules, None)?,
            Layer::Compounds => data.compounds = read(&path, &bytes, rules, None)?,
            Layer::Buildings => data.buildings = read(&path, &bytes, rules, None)?,
            Layer::Units => data.units = read(&path, &bytes, rules, None)?,
            Layer::Companies => {}
        }
        tracing::debug!(
            layer = layer.name(),
            known_valid = rules.known_valid,
            ms = started.elapsed().as_millis() as u64,
            rss_mb = crate::io::resident_mb(),
            "layer read"
        );
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
