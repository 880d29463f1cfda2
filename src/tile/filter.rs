//! A CQL2 filter ([`crate::filter`]) on the `atlas` tileset's tiles and on the grade picture,
//! read against the layers' attributes ([`TileLayer::fields`]).
//!
//! A filter is read on each feature layer whose attributes include every property it names (a
//! filter that names only the geometry, on every feature layer); the features of the other
//! layers are served as they are. Labels follow the feature they name. The heat cells are a
//! picture of all the window's complaints, not features, and are left as they are. A feature
//! is tested on the attributes the caller is shown: a count withheld from a public caller is
//! null to the filter as it is absent from the tile.

use super::layers::TileLayer;
use super::mvt;
use crate::error::Error;
use crate::filter::Filter;
use geo_types::Geometry;
use serde_json::{Map, Value};
use std::sync::Arc;

/// A filter on the tiles, checked against the layers' attributes.
#[derive(Debug)]
pub struct TileFilter {
    filter: Filter,
    applies: Vec<TileLayer>,
    key: Arc<str>,
}

impl TileFilter {
    /// The layers it is read on are those with every property it names; none is a 400, and
    /// so is a comparison with a literal of another kind than the attribute's.
    pub fn new(filter: Filter) -> Result<TileFilter, Error> {
        let applies: Vec<TileLayer> = TileLayer::FILTERED
            .into_iter()
            .filter(|l| filter.names().iter().all(|n| l.has(n)))
            .collect();
        if applies.is_empty() {
            return Err(Error::BadRequest(format!(
                "no layer of the atlas tileset has every property the filter names ({}); {}",
                filter.names().join(", "),
                TileLayer::FILTERED
                    .iter()
                    .map(|l| {
                        let names: Vec<&str> = l.fields().into_iter().map(|(n, _)| n).collect();
                        format!("{l} has {}", names.join(", "))
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            )));
        }
        for l in &applies {
            filter
                .check_types(&|n| l.kind(n))
                .map_err(|e| Error::BadRequest(format!("on the {l} layer, {e}")))?;
        }
        let key = filter.canonical().into();
        Ok(TileFilter {
            filter,
            applies,
            key,
        })
    }

    /// The filter's one spelling, which filtered tiles are cached under.
    #[must_use]
    pub fn key(&self) -> &Arc<str> {
        &self.key
    }

    /// The layers it is read on.
    #[must_use]
    pub fn layers(&self) -> &[TileLayer] {
        &self.applies
    }

    /// Whether a feature of `layer` with these attributes (and `geom`, in longitude and
    /// latitude, made only for a spatial filter) is kept. A value the filter cannot compare is
    /// not a match.
    pub fn keeps(
        &self,
        layer: TileLayer,
        props: &[(&'static str, mvt::Value<'_>)],
        geom: &dyn Fn() -> Geometry<f64>,
    ) -> bool {
        if !self.applies.contains(&layer) {
            return true;
        }
        let map: Map<String, Value> = props
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    mvt::Value::Str(s) => Value::from(*s),
                    mvt::Value::String(s) => Value::from(s.as_str()),
                    mvt::Value::Uint(n) => Value::from(*n),
                    mvt::Value::Sint(n) => Value::from(*n),
                    mvt::Value::Double(x) => Value::from(*x),
                    mvt::Value::Bool(b) => Value::from(*b),
                };
                ((*k).to_string(), v)
            })
            .collect();
        let g = self.filter.spatial().then(geom);
        self.filter.matches_owned(map, g.as_ref()).unwrap_or(false)
    }
}

/// Keeps every feature when there is no filter.
pub fn keeps(
    filter: Option<&TileFilter>,
    layer: TileLayer,
    props: &[(&'static str, mvt::Value<'_>)],
    geom: &dyn Fn() -> Geometry<f64>,
) -> bool {
    filter.is_none_or(|f| f.keeps(layer, props, geom))
}
