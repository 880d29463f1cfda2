//! `atlas import`: reading geodata files (FlatGeobuf, GeoJSON, a dataset directory, the company
//! CSV) into a validated [`Dataset`] that a store takes all or nothing.

use crate::io::{self, manifest::Manifest, FormatError, GeometryRules};
use crate::model::{Dataset, Layer};
use std::path::{Path, PathBuf};

/// How files are read.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The layer of every file, when their names do not say it.
    pub layer: Option<Layer>,
    /// Re-wind polygon rings instead of rejecting clockwise exteriors.
    pub reorient: bool,
    /// The EPSG code to assume for FlatGeobuf files that declare no CRS.
    pub assume_crs: Option<i32>,
}

/// Which layer a file holds: from `--layer`, its name (`compounds*.fgb`), or its FlatGeobuf header.
fn layer_of(path: &Path, opts: &ImportOptions) -> Result<Layer, FormatError> {
    if let Some(l) = opts.layer {
        return Ok(l);
    }
    let stem = path
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_lowercase();
    if let Some(l) = Layer::ALL.into_iter().find(|l| stem.starts_with(l.name())) {
        return Ok(l);
    }
    if let Some(l) = io::fgb::header_name(path).and_then(|n| Layer::from_name(&n.to_lowercase())) {
        return Ok(l);
    }
    Err(FormatError::file(
        path,
        "cannot tell which layer this file holds: name it districts*, streets*, companies*, \
         compounds*, buildings* or units*, or pass --layer",
    ))
}

fn read_file(path: &Path, opts: &ImportOptions) -> Result<Dataset, FormatError> {
    let rules = GeometryRules {
        reorient: opts.reorient,
        ..GeometryRules::default()
    };
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_lowercase();
    let layer = layer_of(path, opts)?;
    let mut data = Dataset::default();
    macro_rules! read {
        ($field:ident) => {
            data.$field = match ext.as_str() {
                "fgb" => io::fgb::read_layer(path, rules, opts.assume_crs)?,
                "geojson" | "json" => io::geojson::read_layer(path, rules)?,
                _ => {
                    return Err(FormatError::file(
                        path,
                        format!("unsupported format `.{ext}`: use FlatGeobuf (.fgb) or GeoJSON (.geojson)"),
                    ))
                }
            }
        };
    }
    match layer {
        Layer::Companies => {
            if ext != "csv" {
                return Err(FormatError::file(
                    path,
                    "companies are read from a CSV file with columns id,name",
                ));
            }
            data.companies = io::csv::read_companies(path)?;
        }
        Layer::Districts => read!(districts),
        Layer::Streets => read!(streets),
        Layer::Compounds => read!(compounds),
        Layer::Buildings => read!(buildings),
        Layer::Units => read!(units),
    }
    Ok(data)
}

/// Reads every path (files, or dataset directories with a manifest) into one dataset.
pub fn read_paths(
    paths: &[PathBuf],
    opts: &ImportOptions,
    progress: bool,
) -> Result<Dataset, FormatError> {
    let mut all = Dataset::default();
    for path in paths {
        let spinner = if progress {
            let s = indicatif::ProgressBar::new_spinner();
            s.set_message(format!("reading {}", path.display()));
            s.enable_steady_tick(std::time::Duration::from_millis(120));
            s
        } else {
            indicatif::ProgressBar::hidden()
        };
        let data = if path.is_dir() {
            if !Manifest::exists(path) {
                return Err(FormatError::file(
                    path,
                    "a directory to import must hold a manifest.json (made by `atlas generate`)",
                ));
            }
            let m = Manifest::read(path).map_err(|e| FormatError::file(path, e))?;
            io::dataset::read(path, &m)?
        } else if !path.exists() {
            return Err(FormatError::file(path, "no such file"));
        } else {
            read_file(path, opts)?
        };
        spinner.finish_and_clear();
        all.extend(data);
    }
    Ok(all)
}
pub mod complaints;
pub mod geocode;
