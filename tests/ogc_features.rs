//! OGC API – Features as GIS tools meet it: GDAL's OAPIF driver opens the server and counts
//! and reads every collection; items page by next links, filter by bbox, datetime and
//! properties, answer single items and FlatGeobuf; /openapi.json is a valid OpenAPI 3
//! document (checked by swagger-parser from npm) that names every path parameter.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the exact values it expects and takes the defaults its calls need

mod common;

use common::{call, Resp};
use serde_json::Value;
use std::collections::HashSet;
use std::process::Command;

const SCALE: f64 = 0.1;
const SEED: u64 = 81;

fn app() -> axum::Router {
    common::shared_app(SCALE, SEED)
}

async fn get(uri: &str) -> Resp {
    call(&app(), "GET", uri, &[], Vec::new()).await
}

async fn json(uri: &str) -> Value {
    let r = get(uri).await;
    assert_eq!(r.status, 200, "{uri}: {}", String::from_utf8_lossy(&r.body));
    r.json()
}

struct Counts {
    districts: usize,
    streets: usize,
    compounds: usize,
    buildings: usize,
    units: usize,
}

/// Feature counts of the city, as its files hold them.
fn counts() -> Counts {
    use compound_atlas::store::{embedded::EmbeddedStore, Store};
    let c = std::thread::spawn(|| {
        let store = EmbeddedStore::open(&common::copy_dir(&common::city(SCALE, SEED))).unwrap();
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(store.counts())
            .unwrap()
    })
    .join()
    .unwrap();
    let n = |v: i64| usize::try_from(v).unwrap();
    Counts {
        districts: n(c.districts),
        streets: n(c.streets),
        compounds: n(c.compounds),
        buildings: n(c.buildings),
        units: n(c.units),
    }
}

#[tokio::test]
async fn landing_conformance_and_collections_describe_the_features() {
    let l = json("/ogc").await;
    let rels: Vec<&str> = l["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["rel"].as_str().unwrap())
        .collect();
    for r in [
        "self",
        "service-desc",
        "data",
        "http://www.opengis.net/def/rel/ogc/1.0/conformance",
    ] {
        assert!(rels.contains(&r), "{r} in {rels:?}");
    }
    let c = json("/ogc/conformance").await;
    let classes: Vec<&str> = c["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    for k in ["core", "geojson", "oas30"] {
        assert!(classes.contains(
            &format!("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{k}").as_str()
        ));
    }
    let cs = json("/ogc/collections").await;
    let ids: Vec<&str> = cs["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "districts",
            "streets",
            "compounds",
            "buildings",
            "units",
            "atlas"
        ]
    );
    // `atlas` is listed (OGC API – Tiles clients find it there) as tiles only: no itemType, no
    // items link, its vector and map tilesets linked.
    let atlas = &cs["collections"][5];
    assert!(atlas.get("itemType").is_none(), "{atlas}");
    let rels: Vec<&str> = atlas["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rel"].as_str().unwrap())
        .collect();
    assert!(!rels.contains(&"items"), "{rels:?}");
    for rel in ["tilesets-vector", "tilesets-map"] {
        assert!(
            rels.contains(&format!("http://www.opengis.net/def/rel/ogc/1.0/{rel}").as_str()),
            "{rels:?}"
        );
    }
    // With or without a trailing slash, as clients write them (OWSLib asks for `/ogc/`).
    assert_eq!(json("/ogc/").await["links"], json("/ogc").await["links"]);
    assert_eq!(json("/ogc/collections/").await, cs);
    for c in cs["collections"].as_array().unwrap().iter().take(5) {
        assert!(c["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["rel"] == "items" && l["type"] == "application/geo+json"));
        let b = c["extent"]["spatial"]["bbox"][0].as_array().unwrap();
        assert!(b[0].as_f64().unwrap() > 119.0 && b[2].as_f64().unwrap() < 122.0);
    }
}

#[tokio::test]
async fn items_count_page_and_filter() {
    let n = counts();
    for (id, expected) in [
        ("districts", n.districts),
        ("streets", n.streets),
        ("compounds", n.compounds),
        ("buildings", n.buildings),
        ("units", n.units),
    ] {
        let v = json(&format!("/ogc/collections/{id}/items?limit=3")).await;
        assert_eq!(
            v["numberMatched"].as_u64().unwrap(),
            expected as u64,
            "{id}"
        );
        assert_eq!(v["numberReturned"], 3);
        assert!(v["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["rel"] == "next"));
    }
    // Streets page by next links to every street once.
    let mut seen = Vec::new();
    let mut next = Some("/ogc/collections/streets/items?limit=4".to_string());
    while let Some(uri) = next {
        let v = json(&uri).await;
        for f in v["features"].as_array().unwrap() {
            seen.push(f["id"].as_str().unwrap().to_string());
        }
        next = v["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
            .map(|l| {
                let h = l["href"].as_str().unwrap();
                h[h.find("/ogc/").unwrap()..].to_string()
            });
    }
    assert_eq!(seen.len(), n.streets);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), n.streets);
    // A bbox keeps features meeting it; buildings of one compound; units of one building.
    let v =
        json("/ogc/collections/buildings/items?bbox=120.30,36.04,120.42,36.12&limit=10000").await;
    let m = v["numberMatched"].as_u64().unwrap();
    assert!(m > 0 && m < n.buildings as u64);
    let b = &v["features"][0];
    let cid = b["properties"]["compound_id"].as_i64().unwrap();
    let of = json(&format!(
        "/ogc/collections/buildings/items?compound_id={cid}"
    ))
    .await;
    assert!(of["features"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["properties"]["compound_id"] == cid));
    let bid = b["id"].as_i64().unwrap();
    let units = json(&format!("/ogc/collections/units/items?building_id={bid}")).await;
    assert_eq!(units["numberMatched"], b["properties"]["units"]);
    // Properties filter compounds like the planner API.
    let red = json("/ogc/collections/compounds/items?grade=red&limit=10000").await;
    assert!(red["features"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["properties"]["grade"] == "red"));
    assert!(red["numberMatched"].as_u64().unwrap() > 0);
    // datetime is the complaint window: the same figures as from/to.
    let a = json("/ogc/collections/districts/items?datetime=2022-01-01/2022-12-31").await;
    let b = json("/ogc/collections/districts/items?from=2022-01&to=2022-12").await;
    assert_eq!(a["features"], b["features"]);
    let open = json("/ogc/collections/districts/items?datetime=../2022-12-31").await;
    assert_ne!(open["features"], a["features"]);
    // Single items, by code and by id.
    let d = json("/ogc/collections/districts/items/370202").await;
    assert_eq!(d["properties"]["name"], "市南区");
    let c = json(&format!("/ogc/collections/compounds/items/{cid}")).await;
    assert_eq!(c["id"], cid);
    // FlatGeobuf pages read back: an export, for planners.
    let uri = "/ogc/collections/compounds/items?f=fgb&limit=50";
    assert_eq!(get(uri).await.status, 401, "exports need a planner token");
    let r = call(
        &app(),
        "GET",
        uri,
        &[("authorization", "Bearer planner-secret")],
        Vec::new(),
    )
    .await;
    assert_eq!(r.status, 200);
    let mut cur = std::io::Cursor::new(r.body);
    let fgb = flatgeobuf::FgbReader::open(&mut cur).unwrap();
    assert_eq!(fgb.header().features_count(), 50);
}

#[tokio::test]
async fn small_counts_stay_withheld_in_features() {
    let v = json("/ogc/collections/units/items?limit=10000").await;
    let shown: Vec<&Value> = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["properties"]["complaints"])
        .collect();
    assert!(shown
        .iter()
        .all(|c| c.is_null() || c.as_u64().unwrap() == 0 || c.as_u64().unwrap() >= 3));
    assert!(
        shown.iter().any(|c| c.is_null()),
        "some unit has 1 or 2 complaints, withheld"
    );
    let r = call(
        &app(),
        "GET",
        "/ogc/collections/units/items?limit=10000",
        &[("authorization", "Bearer planner-secret")],
        vec![],
    )
    .await;
    let v = r.json();
    assert!(v["features"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["properties"]["complaints"].is_u64()));
}

fn tool(name: &str) -> Command {
    if Command::new(name).arg("--version").output().is_ok() {
        Command::new(name)
    } else {
        panic!("{name} is not installed: scripts/test installs it (gdal-bin, nodejs)")
    }
}

#[test]
fn gdal_reads_every_collection_with_the_right_counts() {
    let n = counts();
    let data = common::copy_dir(&common::city(SCALE, SEED));
    let (mut child, url) = common::serve(&["--data", data.to_str().unwrap()]);
    let ds = format!("OAPIF:{url}/ogc");
    let out = tool("ogrinfo").args(["-ro", "-so", &ds]).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !text.contains("ERROR"), "{text}");
    for (layer, expected) in [
        ("districts", n.districts),
        ("streets", n.streets),
        ("compounds", n.compounds),
        ("buildings", n.buildings),
        ("units", n.units),
        // Listed as a tiled collection; GDAL 3.6 opens every listed collection as a layer,
        // and finds this one empty instead of failing on it.
        ("atlas", 0),
    ] {
        let out = tool("ogrinfo")
            .args(["-ro", "-so", &ds, layer])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            text.contains(&format!("Feature Count: {expected}")),
            "{layer}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Read every street and compound through GDAL's paging into GeoJSON.
    for (layer, expected) in [("streets", n.streets), ("compounds", n.compounds)] {
        let dir = tempfile::tempdir().unwrap();
        let outf = dir.path().join(format!("{layer}.geojson"));
        let st = tool("ogr2ogr")
            .args([
                "-f",
                "GeoJSON",
                outf.to_str().unwrap(),
                &ds,
                layer,
                "-oo",
                "PAGE_SIZE=250",
            ])
            .status()
            .unwrap();
        assert!(st.success());
        let v: Value = serde_json::from_slice(&std::fs::read(&outf).unwrap()).unwrap();
        let f = v["features"].as_array().unwrap();
        assert_eq!(f.len(), expected, "{layer} read through GDAL");
        assert!(f.iter().all(|x| x["properties"]["name"]
            .as_str()
            .is_some_and(|s| !s.is_empty())));
    }
    // A bbox from GDAL's spatial filter.
    let out = tool("ogrinfo")
        .args([
            "-ro",
            "-so",
            &ds,
            "compounds",
            "-spat",
            "120.30",
            "36.04",
            "120.42",
            "36.12",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let count: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("Feature Count: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(count > 0 && count < n.compounds, "{text}");
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn openapi_is_a_valid_openapi_3_document_naming_every_path_parameter() {
    let doc = json("/openapi.json").await;
    assert_eq!(doc["openapi"], "3.0.3");
    for (p, item) in doc["paths"].as_object().unwrap() {
        let templated: HashSet<&str> = p
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        for (method, op) in item.as_object().unwrap() {
            let declared: HashSet<&str> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|x| x["in"] == "path")
                        .map(|x| x["name"].as_str().unwrap())
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(declared, templated, "{method} {p}");
        }
    }
    // Every route the server has is described (and answers something other than our 404).
    for p in doc["paths"].as_object().unwrap().keys() {
        let concrete = p
            .replace("{collectionId}", "compounds")
            .replace("{featureId}", "1")
            .replace("{id}", "1")
            .replace("{file}", "atlas.json")
            .replace("{tileMatrixSetId}", "WebMercatorQuad")
            .replace("{tms}", "WebMercatorQuad")
            .replace("{tileset}", "atlas")
            .replace("{stack}", "Noto%20Sans%20Regular")
            .replace("{range}", "0-255.pbf")
            .replace("{tileMatrix}", "12")
            .replace("{tileRow}", "1550")
            .replace("{tileCol}", "3417")
            .replace("{style}", "grade")
            .replace("{layer}", "grade")
            .replace("{level}", "3")
            .replace("{width}", "2")
            .replace("{height}", "2")
            .replace("{row}", "1550")
            .replace("{col}", "3417.png")
            .replace("{z}", "12")
            .replace("{x}", "3417")
            .replace("{y}", "1550.mvt");
        let r = get(&concrete).await;
        let body = String::from_utf8_lossy(&r.body);
        assert!(
            !body.contains("no such path"),
            "{p} → {concrete} is not routed"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&doc).unwrap()).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/validate-openapi.js");
    assert!(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tools/node_modules/@apidevtools/swagger-parser")
            .exists(),
        "swagger-parser is missing: run scripts/test, which installs it (npm ci in tools/)"
    );
    let out = tool("node").arg(&script).arg(&file).output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The Esri FeatureServer over the same features: service and layer JSON as ArcGIS clients read
/// them, `query` with where / geometry / outFields / paging / counts / ids / outSR / f, the
/// answers equal to OGC API – Features', and mistakes as Esri error objects.
#[tokio::test]
async fn the_feature_server_answers_esri_queries_as_ogc_features_does() {
    let root = "/arcgis/rest/services/atlas/FeatureServer";
    let s = json(&format!("{root}?f=json")).await;
    let names: Vec<&str> = s["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["districts", "streets", "compounds", "buildings"]);
    let l = json(&format!("{root}/2?f=json")).await;
    assert_eq!(l["objectIdField"], "OBJECTID");
    assert_eq!(l["geometryType"], "esriGeometryPolygon");
    let field = |n: &str| {
        l["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == n)
            .map(|f| f["type"].as_str().unwrap().to_string())
    };
    assert_eq!(field("OBJECTID").as_deref(), Some("esriFieldTypeOID"));
    assert_eq!(field("grade").as_deref(), Some("esriFieldTypeString"));
    assert_eq!(field("households").as_deref(), Some("esriFieldTypeInteger"));
    assert_eq!(field("density").as_deref(), Some("esriFieldTypeDouble"));
    assert_eq!(l["drawingInfo"]["renderer"]["field1"], "grade");

    let q = |query: &str| format!("{root}/2/query?{query}");
    let count = |v: Value| v["count"].as_u64().unwrap();
    let all = count(json(&q("where=1%3D1&returnCountOnly=true&f=json")).await);
    assert_eq!(all, counts().compounds as u64);
    // where, as OGC API – Features' grade filter counts it.
    let red = count(json(&q("where=grade%20%3D%20%27red%27&returnCountOnly=true")).await);
    let ogc_red = json("/ogc/collections/compounds/items?grade=red&limit=1").await;
    assert_eq!(red, ogc_red["numberMatched"].as_u64().unwrap());
    assert!(red > 0 && red < all);
    let ry = count(
        json(&q(&format!(
            "where={}&returnCountOnly=true",
            common::enc("grade IN ('red','yellow') AND households > 0")
        )))
        .await,
    );
    let ogc_ry = json("/ogc/collections/compounds/items?grade=red,yellow&limit=1").await;
    assert_eq!(ry, ogc_ry["numberMatched"].as_u64().unwrap());
    // An envelope (lon/lat, then the same in Web Mercator) keeps what OGC's bbox keeps.
    let (w, so, e, n) = (120.30, 36.04, 120.42, 36.12);
    let in_box = count(
        json(&q(&format!(
            "geometry={w},{so},{e},{n}&geometryType=esriGeometryEnvelope&spatialRel=esriSpatialRelIntersects&returnCountOnly=true"
        )))
        .await,
    );
    let ogc_box = json(&format!(
        "/ogc/collections/compounds/items?bbox={w},{so},{e},{n}&limit=1"
    ))
    .await;
    assert_eq!(in_box, ogc_box["numberMatched"].as_u64().unwrap());
    let m = |lon: f64, lat: f64| compound_atlas::tile::Grid::WebMercatorQuad.project(lon, lat);
    let ((x0, y0), (x1, y1)) = (m(w, so), m(e, n));
    let env = format!(
        r#"{{"xmin":{x0},"ymin":{y0},"xmax":{x1},"ymax":{y1},"spatialReference":{{"wkid":102100}}}}"#
    );
    let in_merc = count(
        json(&q(&format!(
            "geometry={}&geometryType=esriGeometryEnvelope&returnCountOnly=true",
            common::enc(&env)
        )))
        .await,
    );
    assert_eq!(in_merc, in_box);
    // Paging, fields, geometry in Web Mercator with outer rings clockwise.
    let p1 = json(&q(
        "where=1%3D1&outFields=name,grade&resultOffset=0&resultRecordCount=5&outSR=102100&f=json",
    ))
    .await;
    let p2 = json(&q(
        "where=1%3D1&outFields=name,grade&resultOffset=5&resultRecordCount=5&outSR=102100",
    ))
    .await;
    assert_eq!(p1["features"].as_array().unwrap().len(), 5);
    assert_eq!(p1["exceededTransferLimit"], true);
    assert_eq!(p1["spatialReference"]["latestWkid"], 3857);
    let oid = |v: &Value, i: usize| v["features"][i]["attributes"]["OBJECTID"].as_u64().unwrap();
    assert!(oid(&p1, 4) < oid(&p2, 0), "pages follow each other");
    let attrs = p1["features"][0]["attributes"].as_object().unwrap();
    let keys: Vec<&str> = attrs.keys().map(String::as_str).collect();
    assert_eq!(keys, ["OBJECTID", "name", "grade"]);
    let ring = p1["features"][0]["geometry"]["rings"][0]
        .as_array()
        .unwrap();
    assert!(ring[0][0].as_f64().unwrap() > 1.3e7, "Web Mercator x");
    let area2: f64 = ring
        .windows(2)
        .map(|p| {
            p[0][0].as_f64().unwrap() * p[1][1].as_f64().unwrap()
                - p[1][0].as_f64().unwrap() * p[0][1].as_f64().unwrap()
        })
        .sum();
    assert!(area2 < 0.0, "an outer ring is clockwise in Esri JSON");
    // Ids only, then by ids; without geometry; GeoJSON; pretty JSON.
    let ids = json(&q("where=grade%3D%27red%27&returnIdsOnly=true")).await;
    let oids = ids["objectIds"].as_array().unwrap();
    assert_eq!(oids.len() as u64, red);
    let two = json(&q(&format!(
        "objectIds={},{}&returnGeometry=false&outFields=*",
        oids[0], oids[1]
    )))
    .await;
    let fs = two["features"].as_array().unwrap();
    assert_eq!(fs.len(), 2);
    assert!(fs
        .iter()
        .all(|f| f.get("geometry").is_none() && f["attributes"]["grade"] == "red"));
    let gj = get(&q("where=grade%3D%27red%27&resultRecordCount=3&f=geojson")).await;
    assert_eq!(gj.headers["content-type"], "application/geo+json");
    let gj = gj.json();
    assert_eq!(gj["type"], "FeatureCollection");
    assert_eq!(gj["features"][0]["geometry"]["type"], "MultiPolygon");
    assert!(String::from_utf8(
        get(&q("where=1%3D1&resultRecordCount=1&f=pjson"))
            .await
            .body
    )
    .unwrap()
    .contains("\n  "));
    // What ArcGIS clients add and ArcGIS Server ignores is ignored.
    let extra = count(
        json(&q(
            "where=1%3D1&returnCountOnly=true&returnZ=false&maxAllowableOffset=1&token=",
        ))
        .await,
    );
    assert_eq!(extra, all);
    // Mistakes: Esri's error object with a 4xx, naming the problem.
    for (bad, status, needle) in [
        (q("where=nope%3D1"), 400, "names `nope`"),
        (q("where=grade%20%3D%3D%3D"), 400, "where"),
        (q("outFields=name,nope"), 400, "no field `nope`"),
        (
            q("geometry=1,2,3&geometryType=esriGeometryEnvelope"),
            400,
            "4 numbers",
        ),
        (
            q("geometry=1,2,3,4&geometryType=esriGeometryMultipoint"),
            400,
            "geometryType",
        ),
        (
            q("geometry=1,2,3,4&spatialRel=esriSpatialRelTouches"),
            400,
            "spatialRel",
        ),
        (q("outSR=2000"), 400, "4326, 4490 or 3857"),
        (q("resultOffset=-1"), 400, "resultOffset"),
        (q("returnCountOnly=maybe"), 400, "true or false"),
        (q("f=kmz"), 400, "f `kmz`"),
        (format!("{root}/7/query"), 404, "no layer `7`"),
    ] {
        let r = get(&bad).await;
        assert_eq!(
            r.status,
            status,
            "{bad}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let v = r.json();
        assert_eq!(v["error"]["code"], status, "{bad}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{bad}: {msg}");
    }
}

/// OGC API – Features Part 3: CQL2 `filter` (text and JSON) on items, `queryables`, the
/// conformance classes, the same answers as the other filters, and mistakes as 400s naming
/// them. GDAL's attribute filter gives the same count.
#[tokio::test]
async fn cql2_filters_select_items_as_the_other_filters_do() {
    let items = |q: &str| format!("/ogc/collections/compounds/items?limit=1&{q}");
    let matched = |v: Value| v["numberMatched"].as_u64().unwrap();
    let red = matched(json(&items("grade=red")).await);
    assert!(red > 0);
    assert_eq!(
        matched(json(&items(&format!("filter={}", common::enc("grade = 'red'")))).await),
        red
    );
    let cql_json = r#"{"op":"=","args":[{"property":"grade"},"red"]}"#;
    assert_eq!(
        matched(
            json(&items(&format!(
                "filter={}&filter-lang=cql2-json",
                common::enc(cql_json)
            )))
            .await
        ),
        red
    );
    let ry = matched(json(&items("grade=red,yellow")).await);
    assert_eq!(
        matched(
            json(&items(&format!(
                "filter={}",
                common::enc("grade IN ('red', 'yellow')")
            )))
            .await
        ),
        ry
    );
    assert_eq!(
        matched(
            json(&items(&format!(
                "filter={}",
                common::enc("NOT grade = 'blue' AND grade IS NOT NULL")
            )))
            .await
        ),
        ry
    );
    // BETWEEN and LIKE against what the features say.
    let all = json("/ogc/collections/compounds/items?limit=10000").await;
    let feats = all["features"].as_array().unwrap();
    let between = feats
        .iter()
        .filter(|f| (200..=600).contains(&f["properties"]["households"].as_i64().unwrap()))
        .count() as u64;
    assert_eq!(
        matched(
            json(&items(&format!(
                "filter={}",
                common::enc("households BETWEEN 200 AND 600")
            )))
            .await
        ),
        between
    );
    let first = feats[0]["properties"]["name"].as_str().unwrap();
    let prefix: String = first.chars().take(1).collect();
    let like = feats
        .iter()
        .filter(|f| {
            f["properties"]["name"]
                .as_str()
                .unwrap()
                .starts_with(&prefix)
        })
        .count() as u64;
    assert_eq!(
        matched(
            json(&items(&format!(
                "filter={}",
                common::enc(&format!("name LIKE '{prefix}%'"))
            )))
            .await
        ),
        like
    );
    // A spatial filter keeps what the bbox keeps.
    let boxed = matched(json(&items("bbox=120.30,36.04,120.42,36.12")).await);
    assert_eq!(
        matched(
            json(&items(&format!(
                "filter={}",
                common::enc("S_INTERSECTS(geometry, BBOX(120.30, 36.04, 120.42, 36.12))")
            )))
            .await
        ),
        boxed
    );
    // With the other parameters, on another collection, and paging by the filtered set.
    let both = matched(
        json(&items(&format!(
            "bbox=120.30,36.04,120.42,36.12&filter={}",
            common::enc("grade = 'red'")
        )))
        .await,
    );
    assert!(both <= red.min(boxed));
    let big = matched(
        json(&format!(
            "/ogc/collections/buildings/items?limit=1&filter={}",
            common::enc("floors >= 18")
        ))
        .await,
    );
    assert!(big > 0);
    // Queryables: a JSON Schema of what a filter may name.
    let q = get("/ogc/collections/compounds/queryables").await;
    assert_eq!(q.status, 200);
    assert_eq!(q.headers["content-type"], "application/schema+json");
    let q = q.json();
    assert_eq!(q["type"], "object");
    assert_eq!(q["properties"]["grade"]["type"], "string");
    assert_eq!(q["properties"]["households"]["type"], "integer");
    assert_eq!(q["properties"]["density"]["type"], "number");
    assert!(q["properties"]["geometry"]["$ref"]
        .as_str()
        .unwrap()
        .contains("MultiPolygon"));
    let conf = json("/ogc/conformance").await;
    for c in [
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    ] {
        assert!(
            conf["conformsTo"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x == c),
            "{c}"
        );
    }
    // Mistakes: 400 naming the problem.
    let long = format!(
        "filter={}",
        common::enc(&vec!["grade = 'red'"; 300].join(" OR "))
    );
    let huge = format!(
        "filter={}",
        common::enc(&vec!["grade = 'red'"; 700].join(" OR "))
    );
    for (bad, needle) in [
        (format!("filter={}", common::enc("nope = 1")), "`nope`"),
        (
            format!("filter={}", common::enc("grade = = 'red'")),
            "not CQL2 text",
        ),
        (
            format!("filter={}&filter-lang=sql", common::enc("grade = 'red'")),
            "filter-lang `sql`",
        ),
        (
            format!(
                "filter={}&filter-crs=EPSG:3857",
                common::enc("grade = 'red'")
            ),
            "filter-crs",
        ),
        ("filter-lang=cql2-text".to_string(), "go with a `filter`"),
        (
            "filter=%7Bnot%20json&filter-lang=cql2-json".to_string(),
            "not CQL2 JSON",
        ),
        (long, "terms"),
        (huge, "bytes"),
    ] {
        let r = get(&items(&bad)).await;
        let shown: String = bad.chars().take(120).collect();
        assert_eq!(
            r.status,
            400,
            "{shown}: {}",
            String::from_utf8_lossy(&r.body)
        );
        // OGC API's exception: `code` and `description`, RFC 7807's `status` and `detail`.
        let v = r.json();
        assert_eq!(v["code"], "InvalidParameterValue", "{shown}: {v}");
        assert_eq!(v["status"], 400, "{shown}: {v}");
        let msg = v["description"].as_str().unwrap().to_string();
        assert_eq!(v["detail"], msg.as_str());
        assert!(msg.contains(needle), "{shown}: {msg}");
    }
    let r = get("/ogc/collections/nope/queryables").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], "NotFound");
    // Paths that are not routes at all answer in the same form.
    let r = get("/ogc/collections/compounds/nothing-here").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], "NotFound", "{:?}", r.json());
}

#[test]
fn gdal_attribute_filters_agree_with_the_servers_cql2_filter() {
    let data = common::copy_dir(&common::city(SCALE, SEED));
    let (mut child, url) = common::serve(&["--data", data.to_str().unwrap()]);
    let ds = format!("OAPIF:{url}/ogc");
    let out = tool("ogrinfo")
        .args([
            "-ro",
            "-so",
            "-where",
            "grade = 'red' AND households > 100",
            &ds,
            "compounds",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (_, body) = common::http_get(&format!(
        "{url}/ogc/collections/compounds/items?limit=1&filter={}",
        common::enc("grade = 'red' AND households > 100")
    ));
    let v: Value = serde_json::from_str(&body).unwrap();
    let n = v["numberMatched"].as_u64().unwrap();
    assert!(n > 0, "{body}");
    assert!(
        text.contains(&format!("Feature Count: {n}")),
        "GDAL's -where: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = child.kill();
    let _ = child.wait();
}
