//! The CQL2 filter ([`crate::filter`]) as the feature services read it: the types of a layer's
//! properties from a sample of its features.

use super::export::Feature;
pub use crate::filter::{Filter, Kind, CRS84, PARAMS};

/// The JSON Schema type of each property of a layer's features, from what a sample holds
/// (`integer`, `number`, `string`, `boolean`; a property that is only ever null is a number:
/// the counts withheld from public callers).
pub fn property_types(sample: &[Feature]) -> Vec<(String, &'static str)> {
    let Some(first) = sample.first() else {
        return Vec::new();
    };
    first
        .properties
        .keys()
        .map(|name| {
            let mut kind = None;
            for v in sample.iter().filter_map(|f| f.properties.get(name)) {
                match v {
                    serde_json::Value::String(_) => {
                        kind = Some("string");
                        break;
                    }
                    serde_json::Value::Bool(_) => kind = Some("boolean"),
                    serde_json::Value::Number(n) if !n.is_i64() && !n.is_u64() => {
                        kind = Some("number");
                    }
                    serde_json::Value::Number(_) => {
                        kind = kind.or(Some("integer"));
                    }
                    _ => {}
                }
            }
            (name.clone(), kind.unwrap_or("number"))
        })
        .collect()
}

/// [`Filter::check_types`] against what the properties of one feature of the layer hold (a
/// property null there is not checked; no feature, nothing to check).
pub fn check_types_on(
    filter: &Filter,
    sample: Option<&Feature>,
) -> Result<(), crate::error::Error> {
    let Some(f) = sample else {
        return Ok(());
    };
    filter.check_types(&|name: &str| match f.properties.get(name)? {
        serde_json::Value::String(_) => Some(Kind::String),
        serde_json::Value::Bool(_) => Some(Kind::Boolean),
        serde_json::Value::Number(_) => Some(Kind::Number),
        _ => None,
    })
}
