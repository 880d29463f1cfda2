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
    /// The EPSG code of the files, over what they declare (`--crs`).
    pub assume_crs: Option<i32>,
    /// The field mapping (`--mapping`).
    pub mapping: Option<io::mapping::Mapping>,
    /// The datum the coordinates are in (`--datum gcj02` for coordinates taken from AMap or
    /// Tencent), shifted back to WGS84 / CGCS2000 after reprojection.
    pub datum: crate::model::Datum,
    /// The text encoding of CSV geography tables (default: detected).
    pub encoding: Option<io::text::TextEncoding>,
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
    let mapping = opts.mapping.as_ref().and_then(|m| m.layer(layer));
    let crs = opts.assume_crs.and_then(|c| u32::try_from(c).ok());
    let mut data = Dataset::default();
    macro_rules! read {
        ($field:ident) => {
            data.$field = match ext.as_str() {
                "fgb" => io::fgb::read_layer_mapped(path, rules, crs, mapping)?,
                "geojson" | "json" => io::geojson::read_layer_mapped(path, rules, mapping)?,
                "shp" => read_shapefile(path, rules, crs, mapping)?,
                "gpkg" => read_geopackage(path, rules, crs, mapping)?,
                "csv" | "txt" => read_csv_layer(path, rules, crs, opts.encoding, mapping)?,
                _ => {
                    return Err(FormatError::file(
                        path,
                        format!("unsupported format `.{ext}`: use a Shapefile (.shp), GeoPackage (.gpkg), FlatGeobuf (.fgb), GeoJSON (.geojson) or CSV with a WKT or lon/lat columns (.csv)"),
                    ))
                }
            }
        };
    }
    match layer {
        Layer::Companies => {
            if !matches!(ext.as_str(), "csv" | "txt") {
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
    if opts.datum != crate::model::Datum::Wgs84 {
        shift_datum(&mut data, opts.datum);
    }
    Ok(data)
}

/// Shifts every coordinate from `datum` (GCJ-02 or BD-09) back to WGS84 / CGCS2000.
fn shift_datum(data: &mut Dataset, datum: crate::model::Datum) {
    use geo::MapCoordsInPlace;
    let back = |c: geo_types::Coord<f64>| {
        let (x, y) = datum.to_wgs84(c.x, c.y);
        geo_types::Coord { x, y }
    };
    data.districts
        .iter_mut()
        .for_each(|d| d.geom.map_coords_in_place(back));
    data.streets
        .iter_mut()
        .for_each(|s| s.geom.map_coords_in_place(back));
    data.compounds
        .iter_mut()
        .for_each(|c| c.geom.map_coords_in_place(back));
    data.buildings
        .iter_mut()
        .for_each(|b| b.geom.map_coords_in_place(back));
    data.units
        .iter_mut()
        .for_each(|u| u.geom.map_coords_in_place(back));
}

/// A CSV geography table: a WKT or longitude/latitude columns, in `crs` (default EPSG:4326).
fn read_csv_layer<T: io::Record>(
    path: &Path,
    rules: GeometryRules,
    crs: Option<u32>,
    encoding: Option<io::text::TextEncoding>,
    mapping: Option<&io::mapping::LayerMapping>,
) -> Result<Vec<T>, FormatError> {
    let table = io::csv::read_features(path, encoding)?;
    let crs =
        io::crs::Crs::from_epsg(crs.unwrap_or(4326)).map_err(|m| FormatError::file(path, m))?;
    adapt_features(path, table.features, &table.fields, &crs, mapping, rules)
}

/// A Shapefile layer: its `.prj`'s CRS (or `crs` over it) reprojected, its fields mapped, its
/// rings taken in the Shapefile's own winding (clockwise exteriors) and re-wound.
fn read_shapefile<T: io::Record>(
    path: &Path,
    rules: GeometryRules,
    crs: Option<u32>,
    mapping: Option<&io::mapping::LayerMapping>,
) -> Result<Vec<T>, FormatError> {
    let shp = io::shp::read(path)?;
    let crs = match (crs, shp.crs) {
        (Some(code), _) => io::crs::Crs::from_epsg(code).map_err(|m| FormatError::file(path, m))?,
        (None, Some(c)) => c,
        (None, None) => {
            return Err(FormatError::file(
                path,
                "the Shapefile has no .prj saying its CRS: give it with --crs (for example --crs EPSG:4549)",
            ))
        }
    };
    let rules = GeometryRules {
        reorient: true,
        ..rules
    };
    adapt_features(path, shp.features, &shp.fields, &crs, mapping, rules)
}

/// A GeoPackage layer: the table named after the layer (or the only one), its CRS (or `crs`
/// over it) reprojected, its fields mapped.
fn read_geopackage<T: io::Record>(
    path: &Path,
    rules: GeometryRules,
    crs: Option<u32>,
    mapping: Option<&io::mapping::LayerMapping>,
) -> Result<Vec<T>, FormatError> {
    let g = io::gpkg::read(path, T::LAYER.name())?;
    let crs = match crs {
        Some(code) => io::crs::Crs::from_epsg(code).map_err(|m| FormatError::file(path, m))?,
        None => g.crs,
    };
    adapt_features(path, g.features, &g.fields, &crs, mapping, rules)
}

/// Features read from a file, mapped, reprojected and made records.
fn adapt_features<T: io::Record>(
    path: &Path,
    features: Vec<io::RawFeature>,
    fields: &[String],
    crs: &io::crs::Crs,
    mapping: Option<&io::mapping::LayerMapping>,
    rules: GeometryRules,
) -> Result<Vec<T>, FormatError> {
    if let Some(m) = mapping {
        m.check(path, fields)?;
    }
    let adapt = io::mapping::Adapt {
        mapping,
        crs: Some(crs),
    };
    features
        .into_iter()
        .map(|mut raw| {
            adapt
                .apply(&mut raw)
                .and_then(|()| T::from_raw(&mut raw, rules))
                .map_err(|p| FormatError::feature(path, &raw, p))
        })
        .collect()
}

/// Reads every path (files, or dataset directories with a manifest) into one dataset. Blank ids
/// and links stay blank: `atlas import` reads with [`read_sources`] and fills them with
/// [`derive::links`].
pub fn read_paths(
    paths: &[PathBuf],
    opts: &ImportOptions,
    progress: bool,
) -> Result<Dataset, FormatError> {
    read_sources(paths, opts, progress).map(|(data, _)| data)
}

/// [`read_paths`], with where each record came from (for [`derive::links`]).
pub fn read_sources(
    paths: &[PathBuf],
    opts: &ImportOptions,
    progress: bool,
) -> Result<(Dataset, derive::Origins), FormatError> {
    let mut all = Dataset::default();
    let mut origins = derive::Origins::default();
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
        let csv = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("csv") || e.eq_ignore_ascii_case("txt"));
        origins.record(path, &data, if csv { 2 } else { 1 });
        all.extend(data);
    }
    Ok((all, origins))
}
pub mod complaints;
pub mod derive;
pub mod forms;
pub mod geocode;
pub mod inspect;
