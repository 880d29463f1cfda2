//! CQL2 filters (OGC API – Features Part 3 `filter`, the Esri `where`), parsed by the `cql2`
//! crate and evaluated on each feature as its GeoJSON: comparisons, `AND`/`OR`/`NOT`, `IN`,
//! `BETWEEN`, `LIKE`, `IS NULL`, and spatial functions such as `S_INTERSECTS` with a geometry
//! literal. Their cost is bounded: the text's length, the expression's size and depth, and the
//! time spent evaluating ([`Filter::keep`]).

use super::export::{feature_json, Feature};
use crate::error::Error;
use std::time::{Duration, Instant};

/// The longest filter accepted, in bytes.
const MAX_LEN: usize = 8 * 1024;
/// The most nodes and the deepest nesting of an expression.
const MAX_NODES: usize = 500;
const MAX_DEPTH: usize = 32;
/// The longest a filter may take over the features it is asked about.
const MAX_TIME: Duration = Duration::from_secs(5);

/// The only CRS filter geometries are read in.
pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

/// A checked filter.
pub struct Filter {
    expr: cql2::Expr,
    /// Whether it reads the geometry (then each feature's geometry is encoded for it).
    spatial: bool,
}

/// What `walk` learned of an expression.
#[derive(Default)]
struct Shape {
    nodes: usize,
    depth: usize,
    properties: Vec<String>,
}

fn walk(e: &cql2::Expr, depth: usize, s: &mut Shape) {
    use cql2::Expr;
    s.nodes += 1;
    s.depth = s.depth.max(depth);
    let mut each = |args: &[Box<Expr>]| args.iter().for_each(|a| walk(a, depth + 1, s));
    match e {
        Expr::Property { property } => s.properties.push(property.clone()),
        Expr::Operation { args, .. } | Expr::Array(args) => each(args),
        Expr::Interval { interval } => each(interval),
        Expr::BBox { bbox } => each(bbox),
        Expr::Timestamp { timestamp: a } | Expr::Date { date: a } => walk(a, depth + 1, s),
        _ => {}
    }
}

impl Filter {
    /// A filter in `lang` (`cql2-text`, the default, or `cql2-json`) whose geometries are in
    /// `crs` (CRS84 only), naming only `fields` (and `geometry`).
    pub fn parse(
        text: &str,
        lang: Option<&str>,
        crs: Option<&str>,
        fields: &[&str],
    ) -> Result<Filter, Error> {
        if text.len() > MAX_LEN {
            return Err(Error::BadRequest(format!(
                "the filter is {} bytes; at most {MAX_LEN} are taken",
                text.len()
            )));
        }
        if let Some(c) = crs.filter(|c| *c != CRS84) {
            return Err(Error::BadRequest(format!(
                "filter-crs `{c}` is not supported; filter geometries are in {CRS84}"
            )));
        }
        // A parser's panic on some input is still the input's fault: a 400, not a dropped
        // connection.
        let guarded = |f: &dyn Fn() -> Result<cql2::Expr, String>| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
                .unwrap_or_else(|_| Err("the parser could not read it".to_string()))
        };
        let expr = match lang.unwrap_or("cql2-text") {
            "cql2-text" => guarded(&|| cql2::parse_text(text).map_err(|e| e.to_string()))
                .map_err(|e| Error::BadRequest(format!("filter `{text}` is not CQL2 text: {e}")))?,
            "cql2-json" => guarded(&|| cql2::parse_json(text).map_err(|e| e.to_string()))
                .map_err(|e| Error::BadRequest(format!("filter is not CQL2 JSON: {e}")))?,
            other => {
                return Err(Error::BadRequest(format!(
                    "filter-lang `{other}` is not supported; use cql2-text or cql2-json"
                )))
            }
        };
        let mut shape = Shape::default();
        walk(&expr, 1, &mut shape);
        if shape.nodes > MAX_NODES || shape.depth > MAX_DEPTH {
            return Err(Error::BadRequest(format!(
                "the filter has {} terms nested {} deep; at most {MAX_NODES} terms and {MAX_DEPTH} levels are taken",
                shape.nodes, shape.depth
            )));
        }
        if let Some(p) = shape
            .properties
            .iter()
            .find(|p| *p != "geometry" && !fields.contains(&p.as_str()))
        {
            return Err(Error::BadRequest(format!(
                "the filter names `{p}`, which is not a field of this collection; it has geometry, {}",
                fields.join(", ")
            )));
        }
        let spatial = shape.properties.iter().any(|p| p == "geometry");
        Ok(Filter { expr, spatial })
    }

    /// Whether a feature passes. A comparison of values of different types (a number with a
    /// text) is the client's mistake, named.
    pub fn matches(&self, f: &Feature) -> Result<bool, Error> {
        let item = if self.spatial {
            feature_json(f)
        } else {
            serde_json::json!({ "properties": f.properties })
        };
        let expr = self.expr.clone();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            expr.matches(Some(&item)).map_err(|e| e.to_string())
        }))
        .unwrap_or_else(|_| Err("the evaluation failed".to_string()))
        .map_err(|e| Error::BadRequest(format!("the filter cannot be evaluated: {e}")))
    }

    /// The features of `candidates` that pass, made by `feature`; refused when it takes longer
    /// than the time allowed.
    pub fn keep<T>(
        &self,
        candidates: impl IntoIterator<Item = T>,
        mut feature: impl FnMut(&T) -> Feature,
    ) -> Result<Vec<T>, Error> {
        let start = Instant::now();
        let mut out = Vec::new();
        for (i, c) in candidates.into_iter().enumerate() {
            if i % 256 == 255 && start.elapsed() > MAX_TIME {
                return Err(Error::BadRequest(format!(
                    "the filter took longer than {} s over {i} features; narrow it (a bbox, fewer terms)",
                    MAX_TIME.as_secs()
                )));
            }
            if self.matches(&feature(&c))? {
                out.push(c);
            }
        }
        Ok(out)
    }
}

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
