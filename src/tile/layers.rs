//! The eight layers of the `atlas` tileset (PRODUCT.md): each owns its name, its zoom range and
//! its attributes, which TileJSON (`vector_layers`), the OGC tileset documents, the seeded
//! archives' metadata and the CQL2 filter all read from here.

use crate::filter::Kind;
use serde_json::{json, Map, Value};
use std::ops::RangeInclusive;

/// A layer of the `atlas` tileset, in the order a tile holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TileLayer {
    Districts,
    Streets,
    Heat,
    Compounds,
    Hotspots,
    Buildings,
    Units,
    Labels,
}

use TileLayer::{Buildings, Compounds, Districts, Heat, Hotspots, Labels, Streets, Units};

const AREA_FIGURES: [(&str, &str); 9] = [
    ("compounds", "Number, compounds in the area"),
    ("households", "Number, households in the area"),
    ("complaints", "Number, complaints in the window"),
    ("density", "Number, complaints per 100 households per year"),
    ("red", "Number, red compounds in the period"),
    ("yellow", "Number, yellow compounds in the period"),
    ("blue", "Number, blue compounds in the period"),
    ("resolved_rate", RESOLVED_RATE),
    ("satisfied_rate", SATISFIED_RATE),
];

const RESOLVED_RATE: &str =
    "Number, complaints of the window closed ÷ received (absent with none received)";
const SATISFIED_RATE: &str =
    "Number, complaints of the window rated satisfied ÷ rated (absent with none rated)";

const HOTSPOT_FIELDS: [(&str, &str); 7] = [
    ("cell", "String, the H3 cell index (hexadecimal)"),
    (
        "complaints",
        "Number, complaints in the window at the cell's compounds",
    ),
    (
        "gi_z",
        "Number, Getis-Ord Gi* z-score over the window (absent without variance)",
    ),
    ("gi_p", "Number, two-sided p-value of gi_z"),
    (
        "gi_q",
        "Number, Benjamini-Hochberg FDR q-value of gi_p over the cells",
    ),
    (
        "hot",
        "String, hot / cold where gi_q < 0.05 (absent otherwise)",
    ),
    (
        "pattern",
        "String, emerging hot-spot pattern (new_hot ... historical_cold) or none",
    ),
];

impl TileLayer {
    /// Every layer, in the order a tile holds them.
    pub const ALL: [TileLayer; 8] = [
        Districts, Streets, Heat, Compounds, Hotspots, Buildings, Units, Labels,
    ];

    /// The layers a filter is read on (heat cells, hot-spot cells and labels are not).
    pub const FILTERED: [TileLayer; 5] = [Districts, Streets, Compounds, Buildings, Units];

    /// The order layers are dropped in while a tile is over its size bound: finest first (the
    /// hot-spot cells, an overlay, before the heat cells).
    pub const THINNING: [TileLayer; 7] =
        [Units, Buildings, Labels, Hotspots, Heat, Compounds, Streets];

    /// The layer's name in tiles, TileJSON and filters.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Districts => "districts",
            Streets => "streets",
            Heat => "heat",
            Compounds => "compounds",
            Buildings => "buildings",
            Units => "units",
            Labels => "labels",
            Hotspots => "hotspots",
        }
    }

    #[must_use]
    pub fn parse(name: &str) -> Option<TileLayer> {
        Self::ALL.into_iter().find(|l| l.name() == name)
    }

    /// The zooms the layer is in (inclusive).
    #[must_use]
    pub fn zooms(self) -> RangeInclusive<u8> {
        match self {
            Districts => 0..=22,
            Heat => 0..=15,
            Hotspots => 9..=15,
            Streets | Labels => 9..=22,
            Compounds => 11..=22,
            Buildings => 14..=22,
            Units => 16..=22,
        }
    }

    #[must_use]
    pub fn in_zoom(self, z: u8) -> bool {
        self.zooms().contains(&z)
    }

    /// The layer's attributes and what they hold (`Number`, `String` or `Boolean`, then a
    /// note): TileJSON's `fields`, and what a filter may name.
    #[must_use]
    pub fn fields(self) -> Vec<(&'static str, &'static str)> {
        let own: &[(&str, &str)] = match self {
            Districts => &[
                ("code", "String, 6-digit administrative code"),
                ("name", "String"),
            ],
            Streets => &[
                ("code", "String, 9-digit NBS code"),
                ("name", "String"),
                ("district", "String, district name"),
            ],
            Heat => &[
                ("complaints", "Number, complaints in the cell"),
                ("density", "Number, per 100 households per year"),
            ],
            Compounds => &[
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
                ("resolved_rate", RESOLVED_RATE),
                ("satisfied_rate", SATISFIED_RATE),
                ("alert", "String, the category of the compound's strongest early-warning alert in the window's last month (absent without one)"),
                ("company_list", "String, its property company's list in the grade quarter: black / red / none"),
                ("repeats", "Number, repeat complaints in the window: the same unit (or building) and category again within [repeats] days"),
                ("repeat_rate", "Number, repeats ÷ complaints in the window (absent without complaints)"),
            ],
            Buildings => &[
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
            Units => &[
                ("id", "Number"),
                ("building_id", "Number"),
                ("name", "String"),
                ("households", "Number"),
                ("complaints", "Number, withheld below the privacy minimum"),
                ("suppressed", "Boolean"),
            ],
            Labels => &[
                ("kind", "String, district / street / compound"),
                ("id", "String"),
                ("name", "String"),
                ("grade", "String"),
            ],
            Hotspots => &HOTSPOT_FIELDS,
        };
        let mut v = own.to_vec();
        if matches!(self, Districts | Streets) {
            v.extend(AREA_FIGURES);
        }
        v
    }

    /// Whether the layer has an attribute of this name.
    #[must_use]
    pub fn has(self, name: &str) -> bool {
        self.fields().iter().any(|(f, _)| *f == name)
    }

    /// What the layer's attribute holds.
    #[must_use]
    pub fn kind(self, name: &str) -> Option<Kind> {
        let (_, note) = self.fields().into_iter().find(|(n, _)| *n == name)?;
        match note.split(',').next()? {
            "Number" => Some(Kind::Number),
            "String" => Some(Kind::String),
            "Boolean" => Some(Kind::Boolean),
            _ => None,
        }
    }

    /// The layer as TileJSON's `vector_layers` lists it, its zooms capped at `maxzoom`.
    #[must_use]
    pub fn vector_layer(self, maxzoom: u8) -> Value {
        let fields: Map<String, Value> = self
            .fields()
            .into_iter()
            .map(|(k, v)| (k.to_string(), Value::from(v)))
            .collect();
        let z = self.zooms();
        json!({
            "id": self.name(),
            "minzoom": z.start(),
            "maxzoom": (*z.end()).min(maxzoom),
            "fields": fields,
        })
    }

    /// Every layer as TileJSON's `vector_layers`.
    #[must_use]
    pub fn vector_layers(maxzoom: u8) -> Value {
        Value::Array(
            Self::ALL
                .into_iter()
                .map(|l| l.vector_layer(maxzoom))
                .collect(),
        )
    }
}

impl std::fmt::Display for TileLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names parse back, zooms are PRODUCT.md's, and every filtered layer has an id or code.
    #[test]
    fn layers_know_their_names_zooms_and_fields() {
        for l in TileLayer::ALL {
            assert_eq!(TileLayer::parse(l.name()), Some(l));
        }
        assert_eq!(TileLayer::parse("hotspots"), Some(Hotspots));
        assert_eq!(TileLayer::parse("hotspot"), None);
        let zooms: Vec<(u8, u8)> = TileLayer::ALL
            .iter()
            .map(|l| (*l.zooms().start(), *l.zooms().end()))
            .collect();
        assert_eq!(
            zooms,
            [
                (0, 22),
                (9, 22),
                (0, 15),
                (11, 22),
                (9, 15),
                (14, 22),
                (16, 22),
                (9, 22)
            ]
        );
        for l in TileLayer::FILTERED {
            assert!(l.has("id") || l.has("code"), "{l}");
        }
        assert_eq!(Streets.kind("district"), Some(Kind::String));
        assert_eq!(Districts.kind("red"), Some(Kind::Number));
        assert_eq!(Buildings.kind("suppressed"), Some(Kind::Boolean));
        assert_eq!(Heat.kind("name"), None);
        let v = Heat.vector_layer(14);
        assert_eq!(v["maxzoom"], 14);
        assert_eq!(v["fields"]["complaints"], "Number, complaints in the cell");
    }
}
