//! `GET /openapi.json`: the OpenAPI 3.0 description of every path, with this server's URL.

use super::request::base_url;
use super::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Map, Value};

/// What a feature request may answer in.
const GEO: [&str; 3] = ["application/geo+json", "application/flatgeobuf", "text/csv"];

fn q(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema })
}

fn path(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string" } })
}

fn string() -> Value {
    json!({ "type": "string" })
}

fn number() -> Value {
    json!({ "type": "number" })
}

fn window() -> Vec<Value> {
    vec![
        q(
            "from",
            "first month of the complaint window (YYYY-MM); default: 12 months before `to`",
            json!({ "type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$" }),
        ),
        q(
            "to",
            "last month of the complaint window (YYYY-MM); default: the last month of data",
            json!({ "type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$" }),
        ),
        q(
            "period",
            "grade quarter (YYYYQn); default: the latest graded",
            json!({ "type": "string", "pattern": "^[0-9]{4}Q[1-4]$" }),
        ),
    ]
}

fn datum() -> Value {
    q(
        "datum",
        "coordinates in (and out) in WGS 84 (default), GCJ-02 (AMap, Tencent) or BD-09 (Baidu)",
        json!({ "type": "string", "enum": ["wgs84", "gcj02", "bd09"] }),
    )
}

fn filters() -> Vec<Value> {
    vec![
        q(
            "q",
            "name search: part of a compound's name or alias, or its pinyin initials (jqgy: 金秋桂园)",
            string(),
        ),
        q(
            "grade",
            "red, yellow, blue (comma-separated: any of)",
            string(),
        ),
        q("district", "district code or name", string()),
        q("street", "street code or name", string()),
        q("company", "property company id or name", string()),
        q(
            "category",
            "compounds with complaints of this category in the window (code or Chinese label)",
            string(),
        ),
        q(
            "min_density",
            "complaints per 100 households per year, at least",
            json!({ "type": "number", "minimum": 0 }),
        ),
    ]
}

fn format() -> Value {
    q(
        "f",
        "answer format",
        json!({ "type": "string", "enum": ["json", "fgb", "csv"] }),
    )
}

fn errors() -> Value {
    json!({
        "400": { "$ref": "#/components/responses/Error" },
        "404": { "$ref": "#/components/responses/Error" },
        "503": { "$ref": "#/components/responses/Error" },
    })
}

fn ok(description: &str, types: &[&str]) -> Value {
    let mut content = Map::new();
    for t in types {
        // Workbooks are bytes: said so, so that clients (and schemathesis) send bytes.
        let schema = if t.starts_with("text/") || t.contains("json") {
            json!({})
        } else {
            json!({ "type": "string", "format": "binary" })
        };
        content.insert((*t).to_string(), json!({ "schema": schema }));
    }
    let mut r = errors();
    r["200"] = json!({ "description": description, "content": content });
    r
}

fn op(summary: &str, tag: &str, params: Vec<Value>, responses: Value) -> Value {
    json!({ "summary": summary, "tags": [tag], "parameters": params, "responses": responses })
}

/// A planner operation: a planner token, or none when the server opens the planner tools to
/// callers without one (`[auth] open_planner`, the default when no token is configured).
fn planner_only(mut op: Value) -> Value {
    op["security"] = json!([{ "bearer": [] }, {}]);
    op
}

fn with(mut a: Vec<Value>, b: impl IntoIterator<Item = Value>) -> Vec<Value> {
    a.extend(b);
    a
}

fn body(description: &str, types: &[&str]) -> Value {
    let mut content = Map::new();
    for t in types {
        // Workbooks are bytes: said so, so that clients (and schemathesis) send bytes.
        let schema = if t.starts_with("text/") || t.contains("json") {
            json!({})
        } else {
            json!({ "type": "string", "format": "binary" })
        };
        content.insert((*t).to_string(), json!({ "schema": schema }));
    }
    json!({ "required": true, "description": description, "content": content })
}

/// The whole document.
/// `about` opens the description (it names the city when one is configured).
pub fn document(base: &str, about: &str) -> Value {
    let mut doc = paths_and_components(base, about);
    // Errors on `/ogc/…` are OGC API exceptions (`http::ogc_exceptions`).
    if let Some(paths) = doc["paths"].as_object_mut() {
        for (_, ops) in paths.iter_mut().filter(|(p, _)| p.starts_with("/ogc")) {
            for op in ops.as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
                for (status, r) in op["responses"].as_object_mut().into_iter().flatten() {
                    if !status.starts_with('2') {
                        *r = json!({ "$ref": "#/components/responses/Exception" });
                    }
                }
            }
        }
    }
    doc
}

/// `filter`, `filter-lang` and `filter-crs`.
fn cql2(what: &str) -> Vec<Value> {
    vec![
        q("filter", what, string()),
        q(
            "filter-lang",
            "cql2-text (default) or cql2-json",
            json!({ "type": "string", "enum": ["cql2-text", "cql2-json"] }),
        ),
        q(
            "filter-crs",
            "the CRS of the filter's geometries: CRS84 only",
            json!({ "type": "string", "enum": [crate::http::filter::CRS84] }),
        ),
    ]
}

fn paths_and_components(base: &str, about: &str) -> Value {
    let mut paths = Map::new();
    for part in [
        tile_paths(),
        ogc_paths(),
        planner_paths(),
        report_paths(),
        company_list_paths(),
        repeats_path(),
        picture_and_wmts_paths(),
        esri_paths(),
        admin_paths(),
    ] {
        if let Value::Object(part) = part {
            paths.extend(part);
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "compound-atlas",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!("{about}: vector tiles, OGC API – Features and Tiles, planner queries. Errors are JSON {{\"error\":{{\"code\",\"message\"}}}}."),
            "license": { "name": "MIT" },
        },
        "servers": [{ "url": base }],
        "tags": [
            { "name": "service" }, { "name": "tiles" }, { "name": "ogc" }, { "name": "planner" }, { "name": "complaints" },
        ],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Exception": {
                    "type": "object",
                    "required": ["code", "description", "status"],
                    "properties": { "code": string(), "description": string(), "title": string(), "status": { "type": "integer" }, "detail": string() },
                },
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": { "error": { "type": "object", "required": ["code", "message"], "properties": { "code": string(), "message": string() } } },
                },
            },
            "responses": {
                "Exception": { "description": "a client mistake (4xx) or the store away (503), as OGC API's exception", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Exception" } } } },
                "Error": { "description": "a client mistake (4xx) or the store away (503)", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
            },
        },
    })
}

/// The parameters of a vector tile: its address, the window, the datum and a filter.
fn tile_params() -> Vec<Value> {
    with(
        vec![
            path("tileset", "tileset (`atlas`)"),
            path("z", "zoom"),
            path("x", "column"),
            path("y", "row, with the extension: `{y}.mvt`"),
        ],
        with(
            with(window(), [datum()]),
            cql2("a CQL2 filter on the layers' attributes: read on each layer that has every property it names; labels follow their features; the grade picture on its compounds"),
        ),
    )
}

/// The parameters of OGC API – Features items.
fn items_params() -> Vec<Value> {
    with(
        vec![
            path(
                "collectionId",
                "districts, streets, compounds, buildings or units",
            ),
            q(
                "bbox",
                "west,south,east,north in CRS84",
                json!({ "type": "array", "items": number(), "minItems": 4, "maxItems": 4 }),
            ),
            q(
                "bbox-crs",
                "only http://www.opengis.net/def/crs/OGC/1.3/CRS84",
                string(),
            ),
            q(
                "limit",
                "features per page (at most 10000)",
                json!({ "type": "integer", "minimum": 1, "default": 100 }),
            ),
            q(
                "offset",
                "features to skip",
                json!({ "type": "integer", "minimum": 0, "default": 0 }),
            ),
            q(
                "datetime",
                "the complaint window: a date, or an interval a/b with `..` for an open end",
                string(),
            ),
            q(
                "compound_id",
                "buildings of a compound",
                json!({ "type": "integer" }),
            ),
            q(
                "building_id",
                "units of a building",
                json!({ "type": "integer" }),
            ),
            format(),
            datum(),
        ],
        with(
            with(window(), filters()),
            cql2("a CQL2 filter on the collection's queryables (OGC API – Features Part 3)"),
        ),
    )
}

/// The parameters of compound search.
fn search_params() -> Vec<Value> {
    with(
        vec![
            q("bbox", "west,south,east,north", string()),
            q(
                "polygon",
                "compounds meeting a polygon (WKT or GeoJSON)",
                string(),
            ),
            q("line", "a line (WKT or GeoJSON); with `within_m`", string()),
            q(
                "within_m",
                "metres from `line` (default 500, at most 50000)",
                number(),
            ),
            q(
                "lon",
                "longitude of a point; with `lat` and `radius_m`",
                number(),
            ),
            q("lat", "latitude of a point", number()),
            q(
                "radius_m",
                "metres from the point (default 1000, at most 50000)",
                number(),
            ),
            q(
                "sort",
                "order",
                json!({ "type": "string", "enum": ["density", "complaints", "distance", "name", "id", "relevance"] }),
            ),
            q(
                "limit",
                "compounds per page (at most 1000; 10000 for fgb/csv)",
                json!({ "type": "integer", "minimum": 1, "default": 100 }),
            ),
            q(
                "offset",
                "compounds to skip",
                json!({ "type": "integer", "minimum": 0 }),
            ),
            format(),
            datum(),
        ],
        with(
            with(window(), filters()),
            cql2("a CQL2 filter on the compounds' attributes, with the other filters"),
        ),
    )
}

/// The parameters of nearest compounds.
fn nearby_params() -> Vec<Value> {
    with(
        vec![
            json!({ "name": "lon", "in": "query", "required": true, "schema": { "type": "number", "minimum": -180, "maximum": 180 } }),
            json!({ "name": "lat", "in": "query", "required": true, "schema": { "type": "number", "minimum": -90, "maximum": 90 } }),
            q(
                "radius_m",
                "metres (default 1000, above 0, at most 50000)",
                json!({ "type": "number", "exclusiveMinimum": true, "minimum": 0, "maximum": 50000 }),
            ),
            q(
                "limit",
                "at most 500",
                json!({ "type": "integer", "minimum": 1, "maximum": 500, "default": 20 }),
            ),
            format(),
            datum(),
        ],
        with(window(), filters()),
    )
}

/// The catalogue, TileJSON, XYZ and TMS tiles, styles and fonts.
fn tile_paths() -> Value {
    json!({
            "/health": { "get": op("store status and counts", "service", vec![], ok("healthy", &["application/json"])) },
            "/openapi.json": { "get": op("this document", "service", vec![], ok("OpenAPI 3.0", &["application/json"])) },
            "/tiles": { "get": op("the catalog of tilesets", "tiles", vec![], ok("catalog", &["application/json"])) },
            "/tiles/{file}": { "get": op("TileJSON 3.0.0 of a tileset: `atlas.json`", "tiles", with(vec![path("file", "`{tileset}.json`")], with(window(), [datum()])), ok("TileJSON", &["application/json"])) },
            "/tiles/{tileset}/{z}/{x}/{y}": { "get": op("a vector tile in WebMercatorQuad (204 when empty)", "tiles", tile_params(), ok("Mapbox Vector Tile", &["application/vnd.mapbox-vector-tile"])) },
            "/tiles/{tileset}/{tms}/{z}/{x}/{y}": { "get": op("a vector tile in a tile matrix set", "tiles", with(vec![path("tms", "WebMercatorQuad, WorldCRS84Quad or CGCS2000Quad (EPSG:4490, levels from 1 as Tianditu's c)")], tile_params()), ok("Mapbox Vector Tile", &["application/vnd.mapbox-vector-tile"])) },
            "/styles/{file}": { "get": op("a MapLibre style: `grade.json`, `density.json`", "tiles", vec![path("file", "`{style}.json`")], ok("style", &["application/json"])) },
            "/fonts/{stack}/{range}": { "get": op("SDF glyphs for map labels", "tiles", vec![path("stack", "font stack"), path("range", "`{start}-{end}.pbf`")], ok("glyphs", &["application/x-protobuf"])) },
    })
}

/// OGC API – Features and Tiles.
fn ogc_paths() -> Value {
    json!({
            "/ogc": { "get": op("OGC API landing page", "ogc", vec![format()], ok("landing page", &["application/json"])) },
            "/ogc/conformance": { "get": op("conformance classes", "ogc", vec![], ok("conformance", &["application/json"])) },
            "/ogc/collections": { "get": op("feature collections and the tiled collection", "ogc", vec![], ok("collections", &["application/json"])) },
            "/ogc/collections/{collectionId}": { "get": op("one collection", "ogc", vec![path("collectionId", "collection id")], ok("collection", &["application/json"])) },
            "/ogc/collections/{collectionId}/queryables": { "get": op("what a filter may name: the collection's properties and geometry as a JSON Schema", "ogc", vec![path("collectionId", "districts, streets, compounds, buildings or units")], ok("queryables", &["application/schema+json"])) },
            "/ogc/collections/{collectionId}/items": { "get": op("features of a collection", "ogc", items_params(), ok("features", &GEO)) },
            "/ogc/collections/{collectionId}/items/{featureId}": { "get": op("one feature", "ogc", with(vec![path("collectionId", "collection id"), path("featureId", "feature id (district/street code, or id)"), format(), datum()], window()), ok("feature", &GEO)) },
            "/ogc/tileMatrixSets": { "get": op("tile matrix sets", "ogc", vec![], ok("list", &["application/json"])) },
            "/ogc/tileMatrixSets/{tileMatrixSetId}": { "get": op("a tile matrix set definition", "ogc", vec![path("tileMatrixSetId", "WebMercatorQuad, WorldCRS84Quad or CGCS2000Quad (EPSG:4490, levels from 1 as Tianditu's c)")], ok("definition", &["application/json"])) },
            "/ogc/tiles": { "get": op("vector tilesets of the dataset", "ogc", vec![], ok("tilesets", &["application/json"])) },
            "/ogc/tiles/{tileMatrixSetId}": { "get": op("a tileset", "ogc", vec![path("tileMatrixSetId", "tile matrix set")], ok("tileset", &["application/json"])) },
            "/ogc/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}": { "get": op("a tile by matrix, row, column", "ogc", with(vec![path("tileMatrixSetId", "tile matrix set"), path("tileMatrix", "zoom"), path("tileRow", "row"), path("tileCol", "column")], with(window(), [datum()])), ok("Mapbox Vector Tile", &["application/vnd.mapbox-vector-tile"])) },
            "/ogc/collections/{collectionId}/tiles": { "get": op("tilesets of a collection", "ogc", vec![path("collectionId", "`atlas`")], ok("tilesets", &["application/json"])) },
            "/ogc/collections/{collectionId}/tiles/{tileMatrixSetId}": { "get": op("a collection tileset", "ogc", vec![path("collectionId", "`atlas`"), path("tileMatrixSetId", "tile matrix set")], ok("tileset", &["application/json"])) },
            "/ogc/collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}": { "get": op("a collection tile", "ogc", with(vec![path("collectionId", "`atlas`"), path("tileMatrixSetId", "tile matrix set"), path("tileMatrix", "zoom"), path("tileRow", "row"), path("tileCol", "column")], with(window(), [datum()])), ok("Mapbox Vector Tile", &["application/vnd.mapbox-vector-tile"])) },
            "/ogc/collections/{collectionId}/map/tiles": { "get": op("map tilesets of a collection (the grade map, PNG)", "ogc", vec![path("collectionId", "`atlas`")], ok("tilesets", &["application/json"])) },
            "/ogc/collections/{collectionId}/map/tiles/{tileMatrixSetId}": { "get": op("a map tileset", "ogc", vec![path("collectionId", "`atlas`"), path("tileMatrixSetId", "tile matrix set")], ok("tileset", &["application/json"])) },
            "/ogc/collections/{collectionId}/map/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}": { "get": op("a map tile (256 px PNG)", "ogc", with(vec![path("collectionId", "`atlas`"), path("tileMatrixSetId", "tile matrix set"), path("tileMatrix", "zoom"), path("tileRow", "row"), path("tileCol", "column")], with(window(), [datum()])), ok("PNG", &["image/png"])) },
            "/ogc/collections/{collectionId}/styles/{styleId}/map/tiles": { "get": op("map tilesets of a collection in a style", "ogc", vec![path("collectionId", "`atlas`"), path("styleId", "`grade` or `density`")], ok("tilesets", &["application/json"])) },
            "/ogc/collections/{collectionId}/styles/{styleId}/map/tiles/{tileMatrixSetId}": { "get": op("a map tileset in a style", "ogc", vec![path("collectionId", "`atlas`"), path("styleId", "`grade` or `density`"), path("tileMatrixSetId", "tile matrix set")], ok("tileset", &["application/json"])) },
            "/ogc/collections/{collectionId}/styles/{styleId}/map/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}": { "get": op("a map tile in a style (256 px PNG)", "ogc", with(vec![path("collectionId", "`atlas`"), path("styleId", "`grade` or `density`"), path("tileMatrixSetId", "tile matrix set"), path("tileMatrix", "zoom"), path("tileRow", "row"), path("tileCol", "column")], with(window(), [datum()])), ok("PNG", &["image/png"])) },
    })
}

/// The property companies' red and black lists: the quarter's lists, the audit trail, one
/// company's standing and its override.
fn company_list_paths() -> Value {
    json!({
            "/api/companies/lists": { "get": op("the property companies' black and red lists of a quarter (rule lists-1, [company_lists]) and those that came off one in it (摘帽): each with why, since when, held, any override (f=csv: planner)", "planner", vec![
                q("period", "YYYYQn (default the latest graded quarter)", string()),
                q("district", "district code or name: the companies working in it", string()),
                q("list", "black, red, capped_off (came off a list this quarter) or all (default)", json!({ "type": "string", "enum": ["black", "red", "capped_off", "all"] })),
                q("f", "json (default) or csv", json!({ "type": "string", "enum": ["json", "csv"] })),
            ], ok("company lists", &["application/json", "text/csv"])) },
            "/api/companies/lists/overrides": { "get": op("every company list override (the audit trail: who, when, from, to, why), newest first", "planner", vec![], ok("overrides", &["application/json"])) },
            "/api/companies/{id}/list": {
                "get": op("a property company's list standing in a quarter, why, its standing quarter by quarter and its overrides", "planner", vec![path("id", "company id"), q("period", "YYYYQn (default the latest graded quarter)", string())], ok("standing", &["application/json"])),
                "post": {
                    "summary": "set a company's list standing for a quarter (admin token)",
                    "tags": ["complaints"],
                    "parameters": [path("id", "company id")],
                    "security": [{ "bearer": [] }],
                    "requestBody": body("{\"period\":\"2023Q2\",\"list\":\"none\",\"reason\":\"…\"}", &["application/json"]),
                    "responses": ok("the standing after the override", &["application/json"]),
                },
            },
    })
}

/// The planner's API: search, geocoding, detail, grades, summaries, companies, trend, routes, meta.
fn planner_paths() -> Value {
    json!({
            "/api/compounds/nearby": { "get": op("compounds nearest a point, by true distance to their boundary (0 inside)", "planner", nearby_params(), ok("compounds, nearest first, each with distance_m", &GEO)) },
            "/api/compounds": {
                "get": op("compounds in a box, a polygon, along a line or around a point; filtered, sorted, paged", "planner", search_params(), ok("compounds", &GEO)),
                "post": {
                    "summary": "the same search with the parameters as a JSON object (for large polygons and lines)",
                    "tags": ["planner"],
                    "requestBody": body("the parameters of GET /api/compounds as members; polygon/line as GeoJSON objects or WKT", &["application/json"]),
                    "responses": ok("compounds", &GEO),
                },
            },
            "/api/geocode": { "get": planner_only(op("ranked compound, building and unit candidates for an address as written, with what matched (for dispatchers; planner token)", "planner", vec![q("q", "the address", string()), q("lon", "longitude, when the caller's position is known", number()), q("lat", "latitude", number()), q("limit", "at most this many candidates (1–50, default 10)", json!({ "type": "integer", "minimum": 1, "maximum": 50 }))], ok("candidates, the one the import would choose first", &["application/json"]))) },
            "/api/compounds/{id}": { "get": planner_only(op("a compound: figures for the window, monthly series, category mix, buildings, grade history, company (planner token)", "planner", with(vec![path("id", "compound id")], window()), ok("compound", &["application/json"]))) },
            "/api/compounds/{id}/grade": {
                "get": op("a compound's grade and why", "planner", vec![path("id", "compound id"), q("period", "YYYYQn", string())], ok("grade", &["application/json"])),
                "post": {
                    "summary": "override a grade (admin token)",
                    "tags": ["complaints"],
                    "parameters": [path("id", "compound id")],
                    "security": [{ "bearer": [] }],
                    "requestBody": body("{\"period\":\"2023Q2\",\"grade\":\"yellow\",\"reason\":\"…\"}", &["application/json"]),
                    "responses": ok("the grade after the override", &["application/json"]),
                },
            },
            "/api/districts": { "get": op("district summaries", "planner", window(), ok("districts", &["application/json"])) },
            "/api/streets": { "get": op("street summaries", "planner", with(vec![q("district", "district code or name", string())], window()), ok("streets", &["application/json"])) },
            "/api/companies": { "get": op("the property companies' league table: compounds, households, complaints, density, red/yellow/blue compounds, red share, change on a year before (f=csv: planner)", "planner", with(vec![
                q("district", "district code or name", string()),
                q("sort", "what orders the table, largest first (name: alphabetical; unresolved and dissatisfied: the shares not closed and not satisfied, the worst first)", json!({ "type": "string", "enum": crate::planner::companies::SortBy::NAMES })),
                q("f", "json (default) or csv", json!({ "type": "string", "enum": ["json", "csv"] })),
            ], window()), ok("companies", &["application/json", "text/csv"])) },
            "/api/companies/{id}": { "get": op("one property company: its figures, compounds and monthly complaints", "planner", with(vec![path("id", "company id")], window()), ok("company", &["application/json"])) },
            "/api/grades": { "get": op("red/yellow/blue counts and the flagged compounds", "planner", vec![q("period", "YYYYQn", string()), q("district", "district code", string())], ok("grades", &["application/json"])) },
            "/api/stats/trend": { "get": op("monthly complaints with year-on-year and half-on-half changes", "planner", with(vec![q("district", "district", string()), q("street", "street", string()), q("compound", "compound id", string()), q("category", "category", string())], window().into_iter().take(2)), ok("trend", &["application/json"])) },
            "/api/stats/effect": { "get": op("the campaign's effect: the months from `start` against the same months a year before, adjusted by the trend of the `baseline` months before the start (a ratio of ratios), with a 95% interval; the plain year-on-year and months-before changes beside it", "planner", vec![
                q("district", "district code or name", string()), q("street", "street", string()), q("compound", "compound id", string()), q("category", "category", string()),
                q("start", "first month of the campaign, YYYY-MM (default 2023-05)", string()),
                q("to", "last month counted, YYYY-MM (default: the last month of data)", string()),
                q("baseline", "months before the start that give the trend (1–36, default 12)", json!({ "type": "integer", "minimum": 1, "maximum": 36 })),
            ], ok("the effect", &["application/json"])) },
            "/api/alerts": { "get": op("early warning: the compounds whose complaints of a category in a month stand out against their own seasonal baseline (rule alert-1: the same months of earlier years, a trend where clear, an overdispersed Poisson upper tail below the target false-alarm rate), smallest p first, with the rule and how many compound-category months were tested (f=csv: planner)", "planner", vec![
                q("month", "the month tested, YYYY-MM (default: the last month of data)", string()),
                q("district", "district code or name", string()), q("street", "street", string()), q("compound", "compound id", string()),
                q("company", "property company id", string()), q("category", "category", string()),
                q("alpha", "the false-alarm rate of one test for this answer, above 0 and below 0.5 (default: the configured rule's, 0.001)", json!({ "type": "number", "minimum": 0, "maximum": 0.5, "exclusiveMinimum": true, "exclusiveMaximum": true })),
                q("f", "json (default) or csv", json!({ "type": "string", "enum": ["json", "csv"] })),
            ], ok("the month's alerts", &["application/json", "text/csv"])) },
            "/api/stats/hours": { "get": op("time patterns: the complaints a selection received by ISO weekday (Monday first) and hour of the day (0–23, local time as the export writes it) over the window, with the totals by hour and by weekday; an empty selection answers zeros and a `note` saying why (f=csv: a row a weekday, a column an hour)", "planner", with(vec![
                q("district", "district code or name", string()), q("street", "street", string()), q("compound", "compound id", string()),
                q("company", "property company id", string()), q("category", "category", string()),
                q("f", "json (default) or csv", json!({ "type": "string", "enum": ["json", "csv"] })),
            ], window().into_iter().take(2)), ok("weekday × hour counts", &["application/json", "text/csv"])) },
            "/api/hotspots": { "get": op("hot spots that change over time on H3 cells (GeoJSON, one feature per cell holding a compound): Gi* z, p and FDR q over the window, monthly z-scores, their Mann–Kendall trend and the emerging pattern as ArcGIS Pro defines it", "planner", vec![
                q("res", "H3 resolution, 5–11 (default 9)", json!({ "type": "integer", "minimum": 5, "maximum": 11 })),
                q("k", "rings of neighbours, 1–3 (default 1)", json!({ "type": "integer", "minimum": 1, "maximum": 3 })),
                q("from", "first month, YYYY-MM (the window needs at least 10 months)", string()),
                q("to", "last month, YYYY-MM", string()),
                q("category", "category", string()),
            ], ok("cells", &["application/geo+json"])) },
            "/api/plan/route": {
                "post": {
                    "summary": "an inspection round (or several): visiting order, legs, total, route line; great-circle distances (planner token)",
                    "tags": ["planner"],
                    "security": [{ "bearer": [] }, {}],
                    "requestBody": body("{\"start\":[lon,lat], \"end\":[lon,lat]?, \"compounds\":[id…] | \"select\":{grade, district, street, company, category, min_density, limit}, \"rounds\":n?, \"max_stops\":k?, \"from\",\"to\",\"period\",\"datum\"}", &["application/json"]),
                    "responses": ok("the plan", &["application/json"]),
                },
            },
            "/api/meta": { "get": op("what the map page needs: months, quarters, districts and streets with boxes, categories, basemaps", "service", vec![], ok("meta", &["application/json"])) },
            "/api/map.png": { "get": op("a picture of an area or a compound, with legend, scale bar and attribution", "tiles", with(vec![
                q("bbox", "west,south,east,north (at most 5 degrees)", string()),
                q("compound", "a compound id (instead of bbox)", json!({ "type": "integer" })),
                q("width", "pixels, 64..2048 (default 800)", json!({ "type": "integer", "minimum": 64, "maximum": 2048 })),
                q("height", "pixels, 64..2048 (default 600)", json!({ "type": "integer", "minimum": 64, "maximum": 2048 })),
                q("style", "grade or density", json!({ "type": "string", "enum": ["grade", "density"] })),
                q("lang", "zh (default) or en", json!({ "type": "string", "enum": ["zh", "en"] })),
                datum(),
            ], window()), ok("PNG", &["image/png"])) },
    })
}

/// The monthly report of a district, a PDF.
fn report_paths() -> Value {
    json!({
            "/api/report.pdf": { "get": planner_only(op("a district's monthly report as a PDF (planner token): one to three A4 pages in Chinese — the district's map picture, the three rates and the hours against the same month a year before, the red and yellow compounds, the companies worst by density, the month's alerts, the 24-month trend and the campaign's effect; a district without complaints in the month gets a report saying so", "planner", vec![
                json!({ "name": "district", "in": "query", "required": true, "description": "district code or name", "schema": string() }),
                json!({ "name": "month", "in": "query", "required": true, "description": "the month reported, YYYY-MM, within the data", "schema": { "type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$" } }),
            ], ok("the report", &["application/pdf"]))) },
    })
}

/// Repeat hot spots (issue 16, part 3).
fn repeats_path() -> Value {
    json!({
            "/api/repeats": { "get": planner_only(op("repeat hot spots: the units, and buildings where the unit is not known, whose complaints came again of the same category within [repeats] days (default 30), most repeats first, with each place's complaints, repeats, repeat rate and repeats by category, and the selection's complaints, repeats and repeat rate over the window; counts only (planner); an empty list carries a `note` saying why (f=csv: a row a place)", "planner", with(vec![
                q("district", "district code or name", string()), q("street", "street", string()), q("compound", "compound id", string()),
                q("company", "property company id", string()), q("category", "category", string()),
                q("limit", "places listed, 1–5000 (default 100)", json!({ "type": "integer", "minimum": 1, "maximum": 5000 })),
                q("f", "json (default) or csv", json!({ "type": "string", "enum": ["json", "csv"] })),
            ], window().into_iter().take(2)), ok("repeat hot spots", &["application/json", "text/csv"]))) }
    })
}

/// Pictures, legends and WMTS.
fn picture_and_wmts_paths() -> Value {
    json!({
            "/styles/{style}/{file}": { "get": op("a style's legend: legend.png or legend.json", "tiles", vec![path("style", "grade or density"), path("file", "legend.png or legend.json"), q("lang", "zh or en", string())], ok("legend", &["image/png", "application/json"])) },
            "/wmts": { "get": op("WMTS 1.0.0 KVP: GetCapabilities, GetTile", "tiles", vec![
                q("SERVICE", "WMTS", string()), q("REQUEST", "GetCapabilities or GetTile", string()), q("LAYER", "grade, density or atlas", string()),
                q("STYLE", "default", string()), q("FORMAT", "image/png or application/vnd.mapbox-vector-tile", string()),
                q("TILEMATRIXSET", "WebMercatorQuad, WorldCRS84Quad or CGCS2000Quad (EPSG:4490, levels from 1 as Tianditu's c)", string()), q("TILEMATRIX", "zoom", string()),
                q("TILEROW", "row", string()), q("TILECOL", "column", string()),
            ], ok("capabilities or a tile", &["application/xml", "image/png", "application/vnd.mapbox-vector-tile"])) },
            "/wmts/1.0.0/WMTSCapabilities.xml": { "get": op("WMTS 1.0.0 capabilities (RESTful)", "tiles", vec![], ok("capabilities", &["application/xml"])) },
            "/wmts/1.0.0/{layer}/{style}/{tms}/{z}/{row}/{col}": { "get": op("a WMTS tile (RESTful)", "tiles", with(vec![path("layer", "grade, density or atlas"), path("style", "default"), path("tms", "tile matrix set"), path("z", "tile matrix"), path("row", "tile row"), path("col", "tile column with extension: `{col}.png` or `.mvt`")], with(window(), [datum()])), ok("tile", &["image/png", "application/vnd.mapbox-vector-tile"])) },
    })
}

/// The Esri REST services.
fn esri_paths() -> Value {
    json!({
            "/arcgis/rest/services/atlas/VectorTileServer": { "get": op("the atlas tiles as an Esri VectorTileServer", "tiles", vec![q("f", "json or pjson", string())], ok("service", &["application/json"])) },
            "/arcgis/rest/services/atlas/VectorTileServer/tile/{z}/{y}/{x}": { "get": op("a tile, row before column (`{x}.pbf`)", "tiles", vec![path("z", "level"), path("y", "row"), path("x", "column with `.pbf`")], ok("tile", &["application/vnd.mapbox-vector-tile"])) },
            "/arcgis/rest/services/atlas/FeatureServer": { "get": op("districts, streets, compounds and buildings as an Esri FeatureServer: its layers", "features", vec![q("f", "json or pjson", string())], ok("service", &["application/json"])) },
            "/arcgis/rest/services/atlas/FeatureServer/{layer}": { "get": op("a FeatureServer layer: fields, extent, spatial reference, renderer", "features", with(vec![path("layer", "0 districts, 1 streets, 2 compounds, 3 buildings"), q("f", "json or pjson", string())], window()), ok("layer", &["application/json"])) },
            "/arcgis/rest/services/atlas/FeatureServer/{layer}/query": { "get": op("features of a layer, Esri's query", "features", with(vec![
                path("layer", "0 districts, 1 streets, 2 compounds, 3 buildings"),
                q("where", "SQL-92 / CQL2 text on the layer's fields (`1=1`: all)", string()),
                q("geometry", "envelope `xmin,ymin,xmax,ymax`, point `x,y`, or Esri JSON", string()),
                q("geometryType", "esriGeometryEnvelope (default), esriGeometryPoint, esriGeometryPolygon", string()),
                q("spatialRel", "esriSpatialRelIntersects (default) or esriSpatialRelEnvelopeIntersects", string()),
                q("inSR", "4326 (default), 4490, 3857 or 102100", string()),
                q("outSR", "4326 (default), 4490, 3857 or 102100", string()),
                q("outFields", "`*` or a comma-separated list", string()),
                q("objectIds", "comma-separated OBJECTIDs", string()),
                q("returnGeometry", "true (default) or false", string()),
                q("returnCountOnly", "true or false", string()),
                q("returnIdsOnly", "true or false", string()),
                q("resultOffset", "features to skip", json!({ "type": "integer", "minimum": 0 })),
                q("resultRecordCount", "at most this many (≤ 2000)", json!({ "type": "integer", "minimum": 1 })),
                q("f", "json (default), pjson or geojson", string()),
            ], window()), ok("a feature set, a count or ids", &["application/json", "application/geo+json"])) },
            "/arcgis/rest/services/{style}/MapServer": { "get": op("the grade or density map as an Esri tiled MapServer (tileInfo, extents, spatial reference)", "tiles", vec![path("style", "grade or density"), q("f", "json or pjson", string())], ok("service", &["application/json"])) },
            "/arcgis/rest/services/{style}/MapServer/tile/{z}/{y}/{x}": { "get": op("a 256-pixel PNG of the map service, row before column", "tiles", with(vec![path("style", "grade or density"), path("z", "level"), path("y", "row"), path("x", "column")], with(window(), [datum()])), ok("tile", &["image/png"])) },
            "/arcgis/rest/services/atlas/VectorTileServer/resources/styles/root.json": { "get": op("the grade style in Esri's form", "tiles", vec![], ok("style", &["application/json"])) },
            "/arcgis/rest/services/atlas/VectorTileServer/tilemap/{level}/{row}/{col}/{width}/{height}": { "get": op("which tiles exist in a block", "tiles", vec![path("level", "level"), path("row", "top row"), path("col", "left column"), path("width", "columns (≤ 256)"), path("height", "rows (≤ 256)")], ok("tilemap", &["application/json"])) },
    })
}

/// What an administrator does: the cache and imports.
fn admin_paths() -> Value {
    json!({
            "/api/cache": {
                "delete": {
                    "summary": "drop cached tiles by tileset, box and zoom range; answers how many (admin token)",
                    "tags": ["tiles"],
                    "parameters": [
                        q("tileset", "atlas, grade or density (default: every tileset)", json!({ "type": "string", "enum": ["atlas", "grade", "density"] })),
                        q("bbox", "west,south,east,north in WGS84: tiles whose content meets it (default: anywhere)", string()),
                        q("minzoom", "lowest zoom dropped (default 0)", json!({ "type": "integer", "minimum": 0, "maximum": 30 })),
                        q("maxzoom", "highest zoom dropped (default 30)", json!({ "type": "integer", "minimum": 0, "maximum": 30 })),
                    ],
                    "security": [{ "bearer": [] }],
                    "responses": ok("how many tiles were dropped and how many are left", &["application/json"]),
                },
            },
            "/api/complaints": {
                "post": {
                    "summary": "import a hotline export (admin token)",
                    "tags": ["complaints"],
                    "parameters": [q("encoding", "utf8 or gbk (detected when absent)", string())],
                    "security": [{ "bearer": [] }],
                    "requestBody": body("the export as CSV, JSON lines or a workbook (its first sheet)", &["text/csv", "application/x-ndjson", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/vnd.ms-excel", "application/vnd.oasis.opendocument.spreadsheet"]),
                    "responses": ok("the import report", &["application/json"]),
                },
            },
    })
}

pub async fn openapi(State(state): State<AppState>, headers: HeaderMap) -> Json<Value> {
    Json(document(
        &base_url(&headers),
        &state.titled("housing geography, hotline complaints and red/yellow/blue grades"),
    ))
}

/// This surface's routes: this service's OpenAPI document.
pub(super) fn routes() -> axum::Router<super::AppState> {
    use axum::routing::get;
    axum::Router::new().route("/openapi.json", get(openapi))
}
