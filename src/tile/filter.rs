//! The attributes of the `atlas` tileset's layers, and a CQL2 filter ([`crate::filter`]) on its
//! tiles and on the grade picture.
//!
//! A filter is read on each feature layer whose attributes include every property it names (a
//! filter that names only the geometry, on every feature layer); the features of the other
//! layers are served as they are. Labels follow the feature they name. The heat cells are a
//! picture of all the window's complaints, not features, and are left as they are. A feature
//! is tested on the attributes the caller is shown: a count withheld from a public caller is
//! null to the filter as it is absent from the tile.

use super::mvt;
use crate::error::Error;
use crate::filter::{Filter, Kind};
use geo_types::Geometry;
use serde_json::{Map, Value};
use std::sync::Arc;

const AREA_FIGURES: [(&str, &str); 7] = [
    ("compounds", "Number, compounds in the area"),
    ("households", "Number, households in the area"),
    ("complaints", "Number, complaints in the window"),
    ("density", "Number, complaints per 100 households per year"),
    ("red", "Number, red compounds in the period"),
    ("yellow", "Number, yellow compounds in the period"),
    ("blue", "Number, blue compounds in the period"),
];

/// Each layer's attributes and what they hold (`Number`, `String` or `Boolean`, then a note):
/// TileJSON's `fields`, and what a filter may name.
pub fn fields(layer: &str) -> Vec<(&'static str, &'static str)> {
    let own: &[(&str, &str)] = match layer {
        "districts" => &[
            ("code", "String, 6-digit administrative code"),
            ("name", "String"),
        ],
        "streets" => &[
            ("code", "String, 9-digit NBS code"),
            ("name", "String"),
            ("district", "String, district name"),
        ],
        "heat" => &[
            ("complaints", "Number, complaints in the cell"),
            ("density", "Number, per 100 households per year"),
        ],
        "compounds" => &[
            ("id", "Number"),
            ("name", "String"),
            ("district", "String"),
            ("street", "String"),
            ("company", "String"),
            ("households", "Number"),
            ("buildings", "Number"),
            ("complaints", "Number"),
            ("density", "Number"),
            ("density_class", "Number, 0-5"),
            ("grade", "String, red / yellow / blue"),
        ],
        "buildings" => &[
            ("id", "Number"),
            ("compound_id", "Number"),
            ("name", "String"),
            ("floors", "Number"),
            ("units", "Number"),
            ("households", "Number"),
            ("complaints", "Number, withheld below the privacy minimum"),
            ("density", "Number"),
            ("density_class", "Number, 0-5"),
            ("suppressed", "Boolean, small count withheld"),
        ],
        "units" => &[
            ("id", "Number"),
            ("building_id", "Number"),
            ("name", "String"),
            ("households", "Number"),
            ("complaints", "Number, withheld below the privacy minimum"),
            ("suppressed", "Boolean"),
        ],
        "labels" => &[
            ("kind", "String, district / street / compound"),
            ("id", "String"),
            ("name", "String"),
            ("grade", "String"),
        ],
        _ => &[],
    };
    let mut v = own.to_vec();
    if matches!(layer, "districts" | "streets") {
        v.extend(AREA_FIGURES);
    }
    v
}

/// What a layer's attribute holds.
fn kind(layer: &str, name: &str) -> Option<Kind> {
    let (_, note) = fields(layer).into_iter().find(|(n, _)| *n == name)?;
    match note.split(',').next()? {
        "Number" => Some(Kind::Number),
        "String" => Some(Kind::String),
        "Boolean" => Some(Kind::Boolean),
        _ => None,
    }
}

/// The layers a filter is read on (heat cells and labels are not).
pub const FILTERED: [&str; 5] = ["districts", "streets", "compounds", "buildings", "units"];

/// A filter on the tiles, checked against the layers' attributes.
#[derive(Debug)]
pub struct TileFilter {
    filter: Filter,
    applies: Vec<&'static str>,
    key: Arc<str>,
}

impl TileFilter {
    /// The layers it is read on are those with every property it names; none is a 400, and
    /// so is a comparison with a literal of another kind than the attribute's.
    pub fn new(filter: Filter) -> Result<TileFilter, Error> {
        let has = |layer: &str, n: &str| fields(layer).iter().any(|(f, _)| *f == n);
        let applies: Vec<&'static str> = FILTERED
            .into_iter()
            .filter(|l| filter.names().iter().all(|n| has(l, n)))
            .collect();
        if applies.is_empty() {
            return Err(Error::BadRequest(format!(
                "no layer of the atlas tileset has every property the filter names ({}); {}",
                filter.names().join(", "),
                FILTERED
                    .iter()
                    .map(|l| {
                        let names: Vec<&str> = fields(l).into_iter().map(|(n, _)| n).collect();
                        format!("{l} has {}", names.join(", "))
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            )));
        }
        for l in &applies {
            filter
                .check_types(&|n| kind(l, n))
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
    pub fn layers(&self) -> &[&'static str] {
        &self.applies
    }

    /// Whether a feature of `layer` with these attributes (and `geom`, in longitude and
    /// latitude, made only for a spatial filter) is kept. A value the filter cannot compare is
    /// not a match.
    pub fn keeps(
        &self,
        layer: &str,
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
    layer: &str,
    props: &[(&'static str, mvt::Value<'_>)],
    geom: &dyn Fn() -> Geometry<f64>,
) -> bool {
    filter.is_none_or(|f| f.keeps(layer, props, geom))
}
