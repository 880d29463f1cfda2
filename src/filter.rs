//! CQL2 filters (OGC API – Features Part 3 `filter`, the Esri `where`, `filter=` on tiles and
//! `/api/compounds`), parsed by the `cql2` crate and evaluated on each feature's properties and
//! geometry: comparisons, `AND`/`OR`/`NOT`, `IN`, `BETWEEN`, `LIKE`, `IS NULL`, and spatial
//! functions such as `S_INTERSECTS` with a geometry literal. A comparison of a property with a
//! literal of another type is refused before anything is evaluated ([`Filter::check_types`]).
//! Their cost is bounded: the text's length, the expression's size and depth, and the time
//! spent evaluating ([`Filter::keep`]).

use crate::error::Error;
use geo_types::Geometry;
use serde_json::{Map, Value};
use std::time::{Duration, Instant};

/// The longest filter accepted, in bytes.
const MAX_LEN: usize = 8 * 1024;
/// The most nodes and the deepest nesting of an expression.
const MAX_NODES: usize = 500;
const MAX_DEPTH: usize = 32;
/// The longest a filter may take over the features it is asked about.
const MAX_TIME: Duration = Duration::from_secs(5);

/// The query parameters of a filter.
pub const PARAMS: [&str; 3] = ["filter", "filter-lang", "filter-crs"];

/// The only CRS filter geometries are read in.
pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

/// A checked filter.
#[derive(Debug)]
pub struct Filter {
    expr: cql2::Expr,
    /// Whether it reads the geometry (then each feature's geometry is encoded for it).
    spatial: bool,
    /// The properties it names, other than the geometry, each once.
    names: Vec<String>,
}

/// What a property holds, as a filter's literals are checked against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Number,
    String,
    Boolean,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Number => "a number",
            Kind::String => "a string",
            Kind::Boolean => "a boolean",
        }
    }
}

/// The operators whose operands must be of one kind.
const COMPARISONS: [&str; 9] = ["=", "<>", "<", ">", "<=", ">=", "between", "in", "like"];

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
        let f = Filter::read(text, lang, crs)?;
        f.check_names(fields, "this collection")?;
        Ok(f)
    }

    /// Refuses a property that is not one of `fields` (of `what`: "this collection").
    pub fn check_names(&self, fields: &[&str], what: &str) -> Result<(), Error> {
        match self.names.iter().find(|p| !fields.contains(&p.as_str())) {
            Some(p) => Err(Error::BadRequest(format!(
                "the filter names `{p}`, which is not a field of {what}; it has geometry, {}",
                fields.join(", ")
            ))),
            None => Ok(()),
        }
    }

    /// `filter`, `filter-lang` and `filter-crs` as a request gives them: no filter without
    /// `filter` (and then the other two are a mistake), else [`Filter::read`].
    pub fn of_query(
        text: Option<&str>,
        lang: Option<&str>,
        crs: Option<&str>,
    ) -> Result<Option<Filter>, Error> {
        match text {
            Some(t) => Filter::read(t, lang, crs).map(Some),
            None if lang.is_some() || crs.is_some() => Err(Error::BadRequest(
                "`filter-lang` and `filter-crs` go with a `filter`".into(),
            )),
            None => Ok(None),
        }
    }

    /// A filter read and bounded but not yet held to any fields (the caller checks
    /// [`Filter::names`] against what it serves).
    pub fn read(text: &str, lang: Option<&str>, crs: Option<&str>) -> Result<Filter, Error> {
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
        let spatial = shape.properties.iter().any(|p| p == "geometry");
        let mut names: Vec<String> = Vec::new();
        for p in shape.properties {
            if p != "geometry" && !names.contains(&p) {
                names.push(p);
            }
        }
        Ok(Filter {
            expr,
            spatial,
            names,
        })
    }

    /// The properties the filter names, other than the geometry.
    #[must_use]
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether it reads the geometry.
    #[must_use]
    pub fn spatial(&self) -> bool {
        self.spatial
    }

    /// One spelling of the filter whatever it came as (CQL2 text or JSON, spaces, case of the
    /// keywords): what caches know a filtered answer by.
    #[must_use]
    pub fn canonical(&self) -> String {
        self.expr
            .to_text()
            .unwrap_or_else(|_| serde_json::to_string(&self.expr).unwrap_or_default())
    }

    /// Refuses a comparison of a property with a literal of another kind (`name > 5`,
    /// `households = 'many'`), naming both; `kind` says what each property holds (`None`: not
    /// known, not checked).
    pub fn check_types(&self, kind: &dyn Fn(&str) -> Option<Kind>) -> Result<(), Error> {
        check_kinds(&self.expr, kind)
    }

    /// Whether a feature with these properties (and, for a spatial filter, this longitude /
    /// latitude geometry) passes. A property the feature lacks is null. A comparison of values
    /// of different types (a number with a text) is the client's mistake, named.
    pub fn matches(
        &self,
        properties: &Map<String, Value>,
        geometry: Option<&Geometry<f64>>,
    ) -> Result<bool, Error> {
        self.matches_owned(properties.clone(), geometry)
    }

    /// [`Filter::matches`] on properties the caller no longer needs (not copied again).
    pub fn matches_owned(
        &self,
        mut props: Map<String, Value>,
        geometry: Option<&Geometry<f64>>,
    ) -> Result<bool, Error> {
        for n in &self.names {
            props.entry(n.as_str()).or_insert(Value::Null);
        }
        let mut item = Map::new();
        item.insert("properties".into(), Value::Object(props));
        if let (true, Some(g)) = (self.spatial, geometry) {
            let g = serde_json::to_value(geojson::Geometry::from(g)).unwrap_or(Value::Null);
            item.insert("geometry".into(), g);
        }
        let item = Value::Object(item);
        let expr = self.expr.clone();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            expr.matches(Some(&item)).map_err(|e| e.to_string())
        }))
        .unwrap_or_else(|_| Err("the evaluation failed".to_string()))
        .map_err(|e| Error::BadRequest(format!("the filter cannot be evaluated: {e}")))
    }

    /// The items of `candidates` that pass, each read as the properties and geometry `feature`
    /// makes of it; refused when it takes longer than the time allowed.
    pub fn keep<T>(
        &self,
        candidates: impl IntoIterator<Item = T>,
        mut feature: impl FnMut(&T) -> (Map<String, Value>, Geometry<f64>),
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
            let (props, geom) = feature(&c);
            if self.matches_owned(props, Some(&geom))? {
                out.push(c);
            }
        }
        Ok(out)
    }
}

/// The kind of a literal operand, if it is one.
fn literal_kind(e: &cql2::Expr) -> Option<(Kind, String)> {
    use cql2::Expr;
    match e {
        Expr::Float(v) => Some((Kind::Number, v.to_string())),
        Expr::Literal(v) => Some((Kind::String, format!("'{v}'"))),
        Expr::Bool(v) => Some((Kind::Boolean, v.to_string())),
        _ => None,
    }
}

fn check_kinds(e: &cql2::Expr, kind: &dyn Fn(&str) -> Option<Kind>) -> Result<(), Error> {
    use cql2::Expr;
    match e {
        Expr::Operation { op, args } => {
            if COMPARISONS.contains(&op.to_lowercase().as_str()) {
                let property = args.iter().find_map(|a| match a.as_ref() {
                    Expr::Property { property } => kind(property).map(|k| (property, k)),
                    _ => None,
                });
                if let Some((p, want)) = property {
                    let literals = args.iter().flat_map(|a| match a.as_ref() {
                        Expr::Array(items) => items.iter().map(AsRef::as_ref).collect(),
                        other => vec![other],
                    });
                    for (got, text) in literals.filter_map(literal_kind) {
                        let like = op.eq_ignore_ascii_case("like");
                        if got != want || (like && want != Kind::String) {
                            return Err(Error::BadRequest(format!(
                                "the filter compares `{p}`, {}, with {text}, {}{}",
                                want.name(),
                                got.name(),
                                if like { " (LIKE takes strings)" } else { "" }
                            )));
                        }
                    }
                }
            }
            args.iter().try_for_each(|a| check_kinds(a, kind))
        }
        _ => Ok(()),
    }
}
