//! The `atlas` vector tiles, decoded and checked: layers by zoom with their attributes,
//! geometry within extent and buffer and wound for MVT, empty tiles 204, datums, both tile
//! matrix sets, heat cells that add up, labels never repeated, caching headers, withheld small
//! counts, both stores alike, and precise invalidation.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the exact values it expects and takes the defaults its calls need

mod common;

use common::Resp;
use compound_atlas::analytics::{Rule, Window};
use compound_atlas::config::Settings;
use compound_atlas::ingest::{self, complaints, ImportOptions};
use compound_atlas::store::{postgis::PostgisStore, Store};
use compound_atlas::{analytics::Atlas, AppState};
use geozero::mvt::{tile, Message, Tile};
use geozero::ToGeo;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

/// One embedded city with its complaints, shared by the tests of this file.
fn app() -> axum::Router {
    static APP: OnceLock<axum::Router> = OnceLock::new();
    APP.get_or_init(|| {
        // Built on a thread of its own: the tests' runtimes cannot block on it.
        std::thread::spawn(|| {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                let atlas = embedded(&common::city(0.25, 61)).await;
                compound_atlas::app(AppState::new(atlas, &settings()))
            })
        })
        .join()
        .unwrap()
    })
    .clone()
}

fn settings() -> Settings {
    common::settings_with_tokens()
}

async fn embedded(city: &std::path::Path) -> Arc<Atlas> {
    common::embedded_atlas(city).await
}

async fn get_with(app: &axum::Router, uri: &str, headers: &[(&str, &str)]) -> Resp {
    common::call(app, "GET", uri, headers, Vec::new()).await
}

async fn get(uri: &str) -> Resp {
    get_with(&app(), uri, &[]).await
}

fn decode(bytes: &[u8]) -> Tile {
    Tile::decode(bytes).unwrap()
}

fn layer<'a>(t: &'a Tile, name: &str) -> Option<&'a tile::Layer> {
    t.layers.iter().find(|l| l.name == name)
}

fn props(l: &tile::Layer, f: &tile::Feature) -> HashMap<String, tile::Value> {
    f.tags
        .chunks(2)
        .map(|kv| {
            (
                l.keys[kv[0] as usize].clone(),
                l.values[kv[1] as usize].clone(),
            )
        })
        .collect()
}

fn num(v: &tile::Value) -> f64 {
    v.double_value
        .or(v.float_value.map(f64::from))
        .or(v.int_value.map(|x| x as f64))
        .or(v.uint_value.map(|x| x as f64))
        .or(v.sint_value.map(|x| x as f64))
        .unwrap_or(f64::NAN)
}

/// The tile of a zoom that holds a longitude/latitude (WebMercatorQuad).
/// Inside 海信慧园二期 (市南区 湛山街道), a named compound every demo city has.
fn center() -> (f64, f64) {
    static C: OnceLock<(f64, f64)> = OnceLock::new();
    *C.get_or_init(|| {
        let dir = common::city(0.25, 61);
        let m = compound_atlas::io::manifest::Manifest::read(&dir).unwrap();
        let d = compound_atlas::io::dataset::read(&dir, &m).unwrap();
        let c = d
            .compounds
            .iter()
            .find(|c| c.name == "海信慧园二期")
            .unwrap();
        let b = d.buildings.iter().find(|b| b.compound_id == c.id).unwrap();
        use geo::Centroid;
        let p = b.geom.centroid().unwrap();
        (p.x(), p.y())
    })
}

#[tokio::test]
async fn tiles_carry_the_layers_of_their_zoom_with_their_attributes() {
    let want: [(u32, &[&str]); 4] = [
        (8, &["districts", "heat"]),
        (
            11,
            &[
                "districts",
                "streets",
                "heat",
                "compounds",
                "hotspots",
                "labels",
            ],
        ),
        (
            14,
            &[
                "districts",
                "streets",
                "heat",
                "compounds",
                "hotspots",
                "buildings",
                "labels",
            ],
        ),
        (
            16,
            &[
                "districts",
                "streets",
                "compounds",
                "buildings",
                "units",
                "labels",
            ],
        ),
    ];
    for (z, layers) in want {
        let (z, x, y) = common::tile_at(center().0, center().1, z);
        let r = get(&format!("/tiles/atlas/{z}/{x}/{y}.mvt")).await;
        assert_eq!(r.status, 200, "{z}/{x}/{y}");
        assert_eq!(
            r.headers["content-type"],
            "application/vnd.mapbox-vector-tile"
        );
        let t = decode(&r.body);
        let names: HashSet<&str> = t.layers.iter().map(|l| l.name.as_str()).collect();
        for l in layers {
            assert!(names.contains(l), "z{z} lacks {l}: {names:?}");
        }
        assert!(!names.contains("units") || z >= 16);
        assert_eq!(
            names.contains("hotspots"),
            (9..=15).contains(&z),
            "z{z}: the hot-spot cells are in z9-z15 tiles of a 12-month window"
        );
        for l in &t.layers {
            assert_eq!((l.version, l.extent), (2, Some(4096)));
        }
        if let Some(c) = layer(&t, "compounds") {
            for f in &c.features {
                let p = props(c, f);
                for k in [
                    "id",
                    "name",
                    "district",
                    "street",
                    "company",
                    "households",
                    "buildings",
                    "complaints",
                    "density",
                    "density_class",
                    "grade",
                ] {
                    assert!(p.contains_key(k), "compound without `{k}`: {p:?}");
                }
                assert!((0.0..=5.0).contains(&num(&p["density_class"])));
                assert!(["red", "yellow", "blue"]
                    .contains(&p["grade"].string_value.as_deref().unwrap()));
            }
        }
        if let Some(d) = layer(&t, "districts") {
            let p = props(d, &d.features[0]);
            for k in [
                "code",
                "name",
                "compounds",
                "households",
                "complaints",
                "density",
                "red",
                "yellow",
                "blue",
            ] {
                assert!(p.contains_key(k), "district without `{k}`");
            }
        }
    }
}

#[tokio::test]
async fn geometry_stays_in_extent_and_buffer_and_rings_are_wound_for_mvt() {
    use geo::{Validation, Winding};
    let mut polygons = 0;
    let mut tiles = Vec::new();
    for z in [11, 13, 14, 15, 16] {
        let (z, x, y) = common::tile_at(center().0, center().1, z);
        // The tile and its neighbours: shapes cut by tile edges on every side.
        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1), (-1, -1)] {
            tiles.push((z, x.wrapping_add_signed(dx), y.wrapping_add_signed(dy)));
        }
    }
    for (z, x, y) in tiles {
        let r = get(&format!("/tiles/atlas/{z}/{x}/{y}.mvt")).await;
        if r.status == 204 {
            continue;
        }
        let t = decode(&r.body);
        for l in &t.layers {
            for f in &l.features {
                let g = f.to_geo().unwrap_or_else(|e| {
                    panic!(
                        "{} feature {:?} at z{z}: {e}: {:?}",
                        l.name, f.id, f.geometry
                    )
                });
                use geo::CoordsIter;
                for c in g.coords_iter() {
                    assert!(
                        (-64.0..=4160.0).contains(&c.x) && (-64.0..=4160.0).contains(&c.y),
                        "{} at z{z}: {c:?}",
                        l.name
                    );
                }
                let polys = match &g {
                    geo_types::Geometry::Polygon(p) => vec![p.clone()],
                    geo_types::Geometry::MultiPolygon(mp) => mp.0.clone(),
                    _ => vec![],
                };
                for p in polys {
                    // Read back in tile coordinates (y down): exterior rings have positive area.
                    assert!(
                        p.exterior().is_ccw(),
                        "{} exterior wound the wrong way",
                        l.name
                    );
                    assert!(p.exterior().0.len() >= 4);
                    // A valid polygon (OGC simple features) after clipping and snapping.
                    if let Err(e) = p.check_validation() {
                        panic!("{} feature {:?} at {z}/{x}/{y}: {e}", l.name, f.id);
                    }
                    polygons += 1;
                }
            }
        }
    }
    assert!(polygons > 1000, "only {polygons} polygons checked");
}

#[tokio::test]
async fn an_empty_tile_answers_204() {
    let r = get("/tiles/atlas/14/0/0.mvt").await;
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
}

#[tokio::test]
async fn bad_tile_requests_get_a_json_4xx_naming_the_problem() {
    for (uri, status, word) in [
        ("/tiles/atlas/23/0/0.mvt", 400, "zoom"),
        ("/tiles/atlas/3/8/0.mvt", 400, "outside"),
        ("/tiles/atlas/a/0/0.mvt", 400, "z must"),
        ("/tiles/atlas/3/0/x.mvt", 400, "y must"),
        ("/tiles/atlas/3/0/0", 400, "{y}.mvt"),
        ("/tiles/atlas/3/0/0.png", 404, ".png"),
        ("/tiles/nope/3/0/0.mvt", 404, "nope"),
        ("/tiles/atlas/Mercator/3/0/0.mvt", 404, "Mercator"),
        ("/tiles/atlas/3/0/0.mvt?from=2023-13", 400, "from"),
        (
            "/tiles/atlas/3/0/0.mvt?from=2023-06&to=2023-01",
            400,
            "after",
        ),
        ("/tiles/atlas/3/0/0.mvt?period=2023Q7", 400, "period"),
        ("/tiles/atlas/3/0/0.mvt?period=2010Q1", 400, "no grades"),
        ("/tiles/atlas/3/0/0.mvt?datum=osgb36", 400, "datum"),
        ("/tiles/atlas/3/0/0.mvt?zoom=3", 400, "unknown parameter"),
        ("/tiles/nope.json", 404, "nope"),
    ] {
        let r = get(uri).await;
        assert_eq!(r.status, status, "{uri}");
        let j: serde_json::Value =
            serde_json::from_slice(&r.body).unwrap_or_else(|_| panic!("{uri}: not JSON"));
        let m = j["error"]["message"].as_str().unwrap();
        assert!(m.contains(word), "{uri}: {m}");
    }
}

fn compound_xs(t: &Tile) -> HashMap<u64, f64> {
    let Some(l) = layer(t, "compounds") else {
        return HashMap::new();
    };
    l.features
        .iter()
        .filter_map(|f| {
            use geo::{BoundingRect, Centroid};
            let g = f.to_geo().unwrap();
            let b = g.bounding_rect()?;
            // Only whole compounds: a clipped one's centroid moves with the clip.
            let whole =
                b.min().x > 0.0 && b.max().x < 4096.0 && b.min().y > 0.0 && b.max().y < 4096.0;
            whole.then(|| (f.id.unwrap(), g.centroid().unwrap().x()))
        })
        .collect()
}

#[tokio::test]
async fn gcj02_and_bd09_shift_geometry_as_the_basemaps_do() {
    let (z, x, y) = common::tile_at(center().0, center().1, 14);
    let wgs = compound_xs(&decode(
        &get(&format!("/tiles/atlas/{z}/{x}/{y}.mvt")).await.body,
    ));
    let gcj = compound_xs(&decode(
        &get(&format!("/tiles/atlas/{z}/{x}/{y}.mvt?datum=gcj02"))
            .await
            .body,
    ));
    let shifts: Vec<f64> = wgs
        .iter()
        .filter_map(|(id, x)| gcj.get(id).map(|g| g - x))
        .collect();
    assert!(!shifts.is_empty());
    // GCJ-02 moves Qingdao 410–470 m east; a z14 tile unit is about 0.6 m there.
    // Web Mercator metres per tile unit at z14, times cos(latitude) for metres on the ground.
    let ground =
        |units: f64| units * 40_075_016.686 / 16384.0 / 4096.0 * center().1.to_radians().cos();
    for s in &shifts {
        let m = ground(*s);
        assert!((380.0..=520.0).contains(&m), "GCJ-02 shift of {m:.0} m");
    }
    let bd = get(&format!("/tiles/atlas/{z}/{x}/{y}.mvt?datum=bd09")).await;
    assert_eq!(bd.status, 200);
}

#[tokio::test]
async fn worldcrs84quad_tiles_serve_the_same_city() {
    // Zoom 13 of the geographic grid: 2^14 × 2^13 tiles over the world.
    let (lon, lat) = center();
    let x = ((lon + 180.0) / 360.0 * 16384.0) as u64;
    let y = ((90.0 - lat) / 180.0 * 8192.0) as u64;
    let r = get(&format!("/tiles/atlas/WorldCRS84Quad/13/{x}/{y}.mvt")).await;
    assert_eq!(r.status, 200);
    let t = decode(&r.body);
    assert!(layer(&t, "compounds").is_some_and(|l| !l.features.is_empty()));
    let same = get(&format!("/tiles/atlas/worldcrs84quad/13/{x}/{y}.mvt")).await;
    assert_eq!(same.body, r.body);
    // CGCS2000Quad (EPSG:4490 as Tianditu's "c" numbers it, also by that name): its level 14
    // is this tile, the same bytes, vector and PNG; there is no level 0.
    for tms in ["CGCS2000Quad", "c"] {
        let c = get(&format!("/tiles/atlas/{tms}/14/{x}/{y}.mvt")).await;
        assert_eq!((c.status, &c.body), (200, &r.body), "{tms}");
    }
    let png84 = get(&format!("/tiles/grade/WorldCRS84Quad/13/{x}/{y}.png")).await;
    let png = get(&format!("/tiles/grade/CGCS2000Quad/14/{x}/{y}.png")).await;
    assert_eq!((png.status, &png.body), (200, &png84.body));
    let zero = get("/tiles/atlas/CGCS2000Quad/0/0/0.mvt").await;
    assert_eq!(zero.status, 400);
    assert!(String::from_utf8_lossy(&zero.body).contains("numbered from level 1"));
    assert_eq!(get("/tiles/atlas/CGCS2000Quad/1/2/0.mvt").await.status, 400);
    // OGC API – Tiles: the definition and the tileset say EPSG:4490 and levels from 1.
    let def = get("/ogc/tileMatrixSets/CGCS2000Quad").await.json();
    assert_eq!(def["crs"], "http://www.opengis.net/def/crs/EPSG/0/4490");
    assert_eq!(def["tileMatrices"][0]["id"], "1");
    assert_eq!(def["tileMatrices"][0]["matrixWidth"], 2);
    let ts = get("/ogc/collections/atlas/tiles/CGCS2000Quad")
        .await
        .json();
    let limits = ts["tileMatrixSetLimits"].as_array().unwrap();
    assert_eq!(limits[0]["tileMatrix"], "1");
    let l14 = limits.iter().find(|l| l["tileMatrix"] == "14").unwrap();
    assert!(
        l14["minTileCol"].as_u64().unwrap() <= x && x <= l14["maxTileCol"].as_u64().unwrap(),
        "{l14}"
    );
    let via_ogc = get(&format!(
        "/ogc/collections/atlas/tiles/CGCS2000Quad/14/{y}/{x}"
    ))
    .await;
    assert_eq!(via_ogc.body, r.body);
}

#[tokio::test]
async fn heat_cells_add_up_to_the_complaints_in_the_window() {
    // Every tile of zoom 7 over Qingdao.
    let (_, x0, y0) = common::tile_at(119.4, 37.3, 7);
    let (_, x1, y1) = common::tile_at(121.5, 35.4, 7);
    let mut sum = 0.0;
    for x in x0..=x1 {
        for y in y0..=y1 {
            let r = get(&format!(
                "/tiles/atlas/7/{x}/{y}.mvt?from=2022-01&to=2022-12"
            ))
            .await;
            if r.status == 204 {
                continue;
            }
            let t = decode(&r.body);
            if let Some(h) = layer(&t, "heat") {
                for f in &h.features {
                    sum += num(&props(h, f)["complaints"]);
                }
            }
        }
    }
    let r = get("/api/stats/trend?from=2022-01&to=2022-12").await;
    let j: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let placed: f64 = j["trend"]["months"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["complaints"].as_f64().unwrap())
        .sum();
    assert!(placed > 1000.0);
    assert_eq!(
        sum, placed,
        "heat cells {sum} vs complaints placed in 2022 {placed}"
    );
}

#[tokio::test]
async fn labels_appear_once_and_inside_their_tile() {
    let (z, cx, cy) = common::tile_at(center().0, center().1, 13);
    let mut seen: HashMap<String, u32> = HashMap::new();
    for x in cx - 1..=cx + 1 {
        for y in cy - 1..=cy + 1 {
            let r = get(&format!("/tiles/atlas/{z}/{x}/{y}.mvt")).await;
            if r.status == 204 {
                continue;
            }
            let t = decode(&r.body);
            let Some(l) = layer(&t, "labels") else {
                continue;
            };
            for f in &l.features {
                let p = props(l, f);
                let g = f.to_geo().unwrap();
                use geo::CoordsIter;
                let c = g.coords_iter().next().unwrap();
                assert!(
                    (0.0..4096.0).contains(&c.x) && (0.0..4096.0).contains(&c.y),
                    "label in the buffer"
                );
                let key = format!(
                    "{}:{}",
                    p["kind"].string_value.as_deref().unwrap(),
                    p["id"].string_value.as_deref().unwrap()
                );
                *seen.entry(key).or_default() += 1;
            }
        }
    }
    assert!(seen.keys().filter(|k| k.starts_with("compound:")).count() > 10);
    assert!(
        seen.values().all(|n| *n == 1),
        "a label repeated: {:?}",
        seen.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn tiles_carry_etags_revalidate_and_compress() {
    let (z, x, y) = common::tile_at(center().0, center().1, 14);
    let uri = format!("/tiles/atlas/{z}/{x}/{y}.mvt");
    let r = get(&uri).await;
    let etag = r.headers["etag"].to_str().unwrap().to_string();
    assert!(r.headers["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    let again = get_with(&app(), &uri, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, 304);
    assert_eq!(again.headers["etag"].to_str().unwrap(), etag);
    assert!(again.body.is_empty());
    // A list of tags, a weak one (the weak comparison), or `*` (RFC 9110 §13.1.2).
    for inm in [
        format!("\"other\", {etag}"),
        format!("W/{etag}"),
        "*".to_string(),
    ] {
        let r2 = get_with(&app(), &uri, &[("if-none-match", &inm)]).await;
        assert_eq!(r2.status, 304, "If-None-Match: {inm}");
    }
    let stale = get_with(&app(), &uri, &[("if-none-match", "\"other\"")]).await;
    assert_eq!(stale.status, 200);
    assert_eq!(stale.body, r.body);
    let gz = get_with(&app(), &uri, &[("accept-encoding", "gzip")]).await;
    assert_eq!(gz.headers["content-encoding"], "gzip");
    assert!(gz.body.len() < r.body.len());
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz.body[..]), &mut plain)
        .unwrap();
    assert_eq!(plain, r.body, "gzip inflates to the same tile");
    let br = get_with(&app(), &uri, &[("accept-encoding", "gzip, deflate, br")]).await;
    assert_eq!(br.headers["content-encoding"], "br", "brotli preferred");
    let mut plain = Vec::new();
    std::io::Read::read_to_end(
        &mut brotli::Decompressor::new(&br.body[..], 4096),
        &mut plain,
    )
    .unwrap();
    assert_eq!(plain, r.body, "brotli decodes to the same tile");
    // Each coding is its own representation: its own ETag, revalidated on its own.
    let tags = [&r, &gz, &br].map(|x| x.headers["etag"].to_str().unwrap().to_string());
    assert!(
        tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2],
        "{tags:?}"
    );
    let again = get_with(
        &app(),
        &uri,
        &[("accept-encoding", "gzip"), ("if-none-match", &tags[1])],
    )
    .await;
    assert_eq!(again.status, 304);
    for x in [&r, &gz, &br] {
        // The .mvt path also answers MLT to an Accept that prefers it.
        assert_eq!(x.headers["vary"], "accept, accept-encoding");
    }
    // Refused codings are not used: q=0, or nothing acceptable.
    let none = get_with(&app(), &uri, &[("accept-encoding", "br;q=0, gzip;q=0")]).await;
    assert!(none.headers.get("content-encoding").is_none());
    assert_eq!(none.body, r.body);
    let star = get_with(&app(), &uri, &[("accept-encoding", "*")]).await;
    assert_eq!(star.headers["content-encoding"], "gzip");
}

#[tokio::test]
async fn small_counts_are_withheld_from_public_tiles_only() {
    let (z, x, y) = common::tile_at(center().0, center().1, 16);
    let uri = format!("/tiles/atlas/{z}/{x}/{y}.mvt?from=2023-07&to=2023-07");
    let public = decode(&get(&uri).await.body);
    let planner = decode(
        &get_with(&app(), &uri, &[("authorization", "Bearer planner-secret")])
            .await
            .body,
    );
    let b = layer(&public, "buildings").unwrap();
    let withheld: Vec<u64> = b
        .features
        .iter()
        .filter(|f| {
            props(b, f)
                .get("suppressed")
                .is_some_and(|v| v.bool_value == Some(true))
        })
        .map(|f| f.id.unwrap())
        .collect();
    for f in &b.features {
        let p = props(b, f);
        if let Some(n) = p.get("complaints") {
            assert!(
                num(n) == 0.0 || num(n) >= 3.0,
                "a public count below 3: {p:?}"
            );
        }
    }
    let pb = layer(&planner, "buildings").unwrap();
    for f in pb
        .features
        .iter()
        .filter(|f| withheld.contains(&f.id.unwrap()))
    {
        let n = num(&props(pb, f)["complaints"]);
        assert!((1.0..3.0).contains(&n), "planners see the small count");
    }
}

#[tokio::test]
async fn tilejson_and_catalog_describe_the_tileset() {
    let r = get_with(
        &app(),
        "/tiles/atlas.json?from=2022-01&to=2022-12",
        &[("host", "maps.example:8080")],
    )
    .await;
    assert_eq!(r.status, 200);
    let j: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(j["tilejson"], "3.0.0");
    assert_eq!(
        j["tiles"][0],
        "http://maps.example:8080/tiles/atlas/{z}/{x}/{y}.mvt?from=2022-01&to=2022-12"
    );
    let layers: Vec<&str> = j["vector_layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        layers,
        [
            "districts",
            "streets",
            "heat",
            "compounds",
            "hotspots",
            "buildings",
            "units",
            "labels"
        ]
    );
    assert!(j["vector_layers"][3]["fields"]["grade"].is_string());
    let b = j["bounds"].as_array().unwrap();
    assert!(b[0].as_f64().unwrap() > 119.0 && b[2].as_f64().unwrap() < 122.0);
    let c: serde_json::Value = serde_json::from_slice(&get("/tiles").await.body).unwrap();
    assert_eq!(c["tilesets"][0]["id"], "atlas");
}

#[tokio::test]
async fn both_stores_serve_the_same_tiles() {
    let city = common::city(0.05, 62);
    let e = embedded(&city).await;
    let url = common::fresh_db("tiles").await;
    let pg = PostgisStore::connect_lazy(&url, &Default::default()).unwrap();
    pg.migrate().await.unwrap();
    pg.import(
        ingest::read_paths(
            std::slice::from_ref(&city),
            &ImportOptions::default(),
            false,
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let p = Arc::new(Atlas::new(Arc::new(pg), Rule::default()));
    p.import_complaints(
        complaints::read_file(&city.join("complaints.csv"), None).unwrap(),
        "x",
    )
    .await
    .unwrap();
    let (ae, ap) = (
        compound_atlas::app(AppState::new(e, &settings())),
        compound_atlas::app(AppState::new(p, &settings())),
    );
    let mut compared = 0;
    for z in [6, 9, 11, 12, 14, 16] {
        let (z, cx, cy) = common::tile_at(center().0, center().1, z);
        for (x, y) in [(cx, cy), (cx + 1, cy), (cx, cy + 1)] {
            for q in ["", "?datum=gcj02", "?from=2021-01&to=2021-12&period=2021Q4"] {
                let uri = format!("/tiles/atlas/{z}/{x}/{y}.mvt{q}");
                let (a, b) = (
                    get_with(&ae, &uri, &[]).await,
                    get_with(&ap, &uri, &[]).await,
                );
                assert_eq!(a.status, b.status, "{uri}");
                if a.status == 200 {
                    assert_eq!(decode(&a.body), decode(&b.body), "{uri}");
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 20);
    let _ = Window::parse(None, None, compound_atlas::model::Month::new(2023, 7));
}

#[tokio::test]
async fn an_import_drops_only_the_tiles_it_touches() {
    let city = common::city(0.05, 63);
    let atlas = embedded(&city).await;
    let app = compound_atlas::app(AppState::new(Arc::clone(&atlas), &settings()));
    let data = atlas.store.geography().await.unwrap();
    // A compound in 李沧区 and a tile far from 李沧区 (in 黄岛区).
    let c = data
        .compounds
        .iter()
        .find(|c| c.district_code == "370213")
        .unwrap();
    let far = data
        .compounds
        .iter()
        .find(|c| c.district_code == "370211")
        .unwrap();
    use geo::Centroid;
    let (cp, fp) = (c.geom.centroid().unwrap(), far.geom.centroid().unwrap());
    let (z, x, y) = common::tile_at(cp.x(), cp.y(), 14);
    let (fz, fx, fy) = common::tile_at(fp.x(), fp.y(), 14);
    let near_uri = format!("/tiles/atlas/{z}/{x}/{y}.mvt?from=2023-07&to=2023-07");
    let far_uri = format!("/tiles/atlas/{fz}/{fx}/{fy}.mvt?from=2023-07&to=2023-07");
    let before_near = get_with(&app, &near_uri, &[]).await;
    let before_far = get_with(&app, &far_uri, &[]).await;
    let body = format!(
        "工单编号,受理时间,诉求类别,诉求地址\nT-NEW,2023-07-15 10:00:00,绿化,{}1号楼1单元101\n",
        c.name
    );
    let req = axum::http::Request::post("/api/complaints")
        .header("authorization", "Bearer admin-secret")
        .header("content-type", "text/csv")
        .body(axum::body::Body::from(body))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let after_near = get_with(&app, &near_uri, &[]).await;
    let after_far = get_with(&app, &far_uri, &[]).await;
    assert_ne!(
        before_near.headers["etag"], after_near.headers["etag"],
        "the touched tile changed"
    );
    assert_eq!(
        before_far.headers["etag"], after_far.headers["etag"],
        "the far tile kept its bytes"
    );
    let t = decode(&after_near.body);
    let l = layer(&t, "compounds").unwrap();
    let f = l
        .features
        .iter()
        .find(|f| f.id == Some(c.id as u64))
        .unwrap();
    let before = decode(&before_near.body);
    let lb = layer(&before, "compounds").unwrap();
    let fb = lb
        .features
        .iter()
        .find(|f| f.id == Some(c.id as u64))
        .unwrap();
    assert_eq!(
        num(&props(l, f)["complaints"]),
        num(&props(lb, fb)["complaints"]) + 1.0
    );
}

#[tokio::test]
async fn ogc_api_tiles_describes_the_tilesets_and_serves_the_same_tiles_by_row_and_column() {
    let (z, x, y) = common::tile_at(center().0, center().1, 14);
    let xyz = get(&format!("/tiles/atlas/{z}/{x}/{y}.mvt")).await;
    for uri in [
        format!("/ogc/tiles/WebMercatorQuad/{z}/{y}/{x}"),
        format!("/ogc/collections/atlas/tiles/WebMercatorQuad/{z}/{y}/{x}"),
    ] {
        let r = get(&uri).await;
        assert_eq!(r.status, 200, "{uri}");
        assert_eq!(r.body, xyz.body, "{uri}: row is y, column is x");
    }
    let conf: serde_json::Value =
        serde_json::from_slice(&get("/ogc/conformance").await.body).unwrap();
    assert!(conf["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core"));
    let sets: serde_json::Value =
        serde_json::from_slice(&get("/ogc/tileMatrixSets").await.body).unwrap();
    let ids: Vec<&str> = sets["tileMatrixSets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["WebMercatorQuad", "WorldCRS84Quad", "CGCS2000Quad"]);
    let def: serde_json::Value =
        serde_json::from_slice(&get("/ogc/tileMatrixSets/WorldCRS84Quad").await.body).unwrap();
    assert_eq!(def["tileMatrices"][0]["matrixWidth"], 2);
    let ts: serde_json::Value = serde_json::from_slice(
        &get("/ogc/collections/atlas/tiles/WebMercatorQuad")
            .await
            .body,
    )
    .unwrap();
    assert_eq!(ts["dataType"], "vector");
    assert!(ts["links"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["rel"] == "item"
            && l["href"]
                .as_str()
                .unwrap()
                .ends_with("/{tileMatrix}/{tileRow}/{tileCol}")));
    assert_eq!(get("/ogc/collections/nope/tiles").await.status, 404);
    assert_eq!(get("/ogc/tileMatrixSets/Nope").await.status, 404);

    // Where the city's tiles are, per tile matrix: the tile asked for above is inside.
    let limits = ts["tileMatrixSetLimits"].as_array().unwrap();
    assert_eq!(limits.len(), 19, "tile matrices 0-18");
    let l14 = limits.iter().find(|l| l["tileMatrix"] == "14").unwrap();
    let inside = |v: u64, lo: &str, hi: &str| {
        l14[lo].as_u64().unwrap() <= v && v <= l14[hi].as_u64().unwrap()
    };
    assert!(
        inside(x, "minTileCol", "maxTileCol") && inside(y, "minTileRow", "maxTileRow"),
        "{l14}"
    );
    assert_eq!(limits[0]["maxTileCol"], 0, "one tile at zoom 0");

    // Map tiles of the collection (tilesets-map): the grade map by default, density by style,
    // the same PNGs as /tiles/{style}/…, row before column.
    let coll: serde_json::Value =
        serde_json::from_slice(&get("/ogc/collections/atlas").await.body).unwrap();
    let maps: Vec<&str> = coll["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/tilesets-map")
        .map(|l| l["href"].as_str().unwrap())
        .collect();
    assert_eq!(maps.len(), 2, "{coll}");
    assert!(conf["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/png"));
    for (list, style) in [
        ("/ogc/collections/atlas/map/tiles", "grade"),
        ("/ogc/collections/atlas/styles/density/map/tiles", "density"),
    ] {
        let sets: serde_json::Value = serde_json::from_slice(&get(list).await.body).unwrap();
        let wm = sets["tilesets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| {
                t["tileMatrixSetURI"]
                    .as_str()
                    .unwrap()
                    .ends_with("WebMercatorQuad")
            })
            .unwrap();
        assert_eq!(wm["dataType"], "map");
        assert_eq!(wm["style"]["id"], style);
        let item = wm["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "item")
            .unwrap();
        assert_eq!(item["type"], "image/png");
        let href = item["href"].as_str().unwrap();
        let tile = href[href.find("/ogc/").unwrap()..]
            .replace("{tileMatrix}", &z.to_string())
            .replace("{tileRow}", &y.to_string())
            .replace("{tileCol}", &x.to_string());
        let png = get(&tile).await;
        assert_eq!(png.status, 200, "{tile}");
        assert_eq!(png.headers["content-type"], "image/png");
        assert_eq!(
            png.body,
            get(&format!("/tiles/{style}/{z}/{x}/{y}.png")).await.body,
            "{tile}"
        );
        let self_href = wm["links"][0]["href"].as_str().unwrap();
        let doc = get(&self_href[self_href.find("/ogc/").unwrap()..]).await;
        assert_eq!(doc.status, 200);
    }
    for (uri, status) in [
        ("/ogc/collections/compounds/map/tiles", 404),
        ("/ogc/collections/atlas/styles/plain/map/tiles", 404),
        ("/ogc/collections/atlas/map/tiles/Nope", 404),
        (
            "/ogc/collections/atlas/map/tiles/WebMercatorQuad/3/9/0",
            400,
        ),
        (
            "/ogc/collections/atlas/map/tiles/WebMercatorQuad/x/0/0",
            400,
        ),
    ] {
        let r = get(uri).await;
        assert_eq!(r.status, status, "{uri}");
        let v = r.json();
        assert!(common::error_message(&v).is_some(), "{uri}: {v}");
        assert_eq!(v["status"], status, "{uri}: OGC API's exception: {v}");
    }
}

/// `DELETE /api/cache`: an administrator drops cached tiles by tileset, box and zoom range and
/// is told how many; the count is in /metrics; bad parameters are 400s, other roles refused.
#[tokio::test]
async fn an_admin_purges_cached_tiles_by_tileset_box_and_zoom() {
    // A router of its own: the shared one's cache is other tests' business.
    let app = compound_atlas::app(AppState::new(
        embedded(&common::city(0.25, 61)).await,
        &settings(),
    ));
    let (lon, lat) = center();
    for z in [12, 13, 14] {
        let (z, x, y) = common::tile_at(lon, lat, z);
        let r = get_with(&app, &format!("/tiles/atlas/{z}/{x}/{y}.mvt"), &[]).await;
        assert_eq!(r.status, 200, "z{z}");
    }
    let (z, x, y) = common::tile_at(lon, lat, 14);
    let png = get_with(&app, &format!("/tiles/grade/{z}/{x}/{y}.png"), &[]).await;
    assert_eq!(png.status, 200);
    let admin = [("authorization", "Bearer admin-secret")];
    let delete = |q: &str, h: &'static [(&'static str, &'static str)]| {
        let app = app.clone();
        let uri = format!("/api/cache{q}");
        async move { common::call(&app, "DELETE", &uri, h, Vec::new()).await }
    };
    const ADMIN: &[(&str, &str)] = &[("authorization", "Bearer admin-secret")];
    const PLANNER: &[(&str, &str)] = &[("authorization", "Bearer planner-secret")];
    assert_eq!(delete("", &[]).await.status, 401);
    assert_eq!(delete("", PLANNER).await.status, 403);
    for bad in [
        "?tileset=roads",
        "?minzoom=9&maxzoom=3",
        "?maxzoom=31",
        "?bbox=1,2,3",
        "?bbox=120,36,119,37",
        "?zoom=3",
    ] {
        let r = delete(bad, ADMIN).await;
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.json()["error"]["message"].is_string(), "{bad}");
    }
    let dropped = |r: Resp| {
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        r.json()["dropped"].as_u64().unwrap()
    };
    assert_eq!(dropped(delete("?tileset=density", ADMIN).await), 0);
    assert_eq!(dropped(delete("?tileset=grade", ADMIN).await), 1);
    let b = format!(
        "?tileset=atlas&minzoom=14&bbox={},{},{},{}",
        lon - 1e-4,
        lat - 1e-4,
        lon + 1e-4,
        lat + 1e-4
    );
    assert_eq!(
        dropped(common::call(&app, "DELETE", &format!("/api/cache{b}"), &admin, vec![]).await),
        1
    );
    assert_eq!(dropped(delete("?maxzoom=12", ADMIN).await), 1);
    let last = delete("", ADMIN).await;
    assert_eq!(last.status, 200);
    let v = last.json();
    assert_eq!(
        (v["dropped"].as_u64(), v["tiles_left"].as_u64()),
        (Some(1), Some(0))
    );
    let m = String::from_utf8(get_with(&app, "/metrics", &[]).await.body).unwrap();
    assert!(
        m.lines().any(|l| l == "atlas_tile_cache_purged_total 4"),
        "{m}"
    );
    // A purged tile is made again on the next request, the same bytes.
    let again = get_with(&app, &format!("/tiles/grade/{z}/{x}/{y}.png"), &[]).await;
    assert_eq!((again.status, again.body.len()), (200, png.body.len()));
}

/// Every feature of a layer, by id (labels by kind and id), with its attributes.
fn features_of(t: &Tile, name: &str) -> Vec<(String, HashMap<String, tile::Value>)> {
    let Some(l) = layer(t, name) else {
        return Vec::new();
    };
    let mut v: Vec<_> = l
        .features
        .iter()
        .map(|f| {
            let p = props(l, f);
            let key = match (f.id, p.get("kind")) {
                (Some(id), _) => id.to_string(),
                (None, Some(k)) => format!(
                    "{}/{}",
                    k.string_value.clone().unwrap_or_default(),
                    p["id"].string_value.clone().unwrap_or_default()
                ),
                _ => format!("{:?}", f.geometry),
            };
            (key, p)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn ids(v: &[(String, HashMap<String, tile::Value>)]) -> Vec<String> {
    v.iter().map(|(k, _)| k.clone()).collect()
}

/// `filter=` (CQL2 text or JSON) on the atlas tiles: read on each layer that has every property
/// it names, the others served whole, labels following their features, cached under its one
/// spelling; the grade picture filtered on its compounds; mistakes as 400s naming them.
#[tokio::test]
async fn a_cql2_filter_keeps_the_features_it_names_on_the_layers_that_have_them() {
    // z12 for the grades (more compounds than one z14 tile of the demo city holds), z14 for
    // the buildings.
    let (z, x, y) = common::tile_at(center().0, center().1, 12);
    let base = format!("/tiles/atlas/{z}/{x}/{y}.mvt");
    let plain_bytes = get(&base).await.body;
    let plain = decode(&plain_bytes);
    let filtered = |base: &str, f: &str| {
        let uri = format!("{base}?filter={}", common::enc(f));
        async move {
            let r = get(&uri).await;
            assert_eq!(r.status, 200, "{uri}: {}", String::from_utf8_lossy(&r.body));
            r
        }
    };

    // A property only compounds have: the other layers stay whole, compound labels follow.
    let compounds = features_of(&plain, "compounds");
    let grade =
        |p: &HashMap<String, tile::Value>| p.get("grade").and_then(|g| g.string_value.clone());
    let g = compounds
        .iter()
        .find_map(|(_, p)| grade(p))
        .expect("a graded compound in the tile");
    let keep: Vec<String> = compounds
        .iter()
        .filter(|(_, p)| grade(p).as_deref() == Some(g.as_str()))
        .map(|(k, _)| k.clone())
        .collect();
    assert!(
        !keep.is_empty() && keep.len() < compounds.len(),
        "the tile has compounds of grade {g} and others: {} of {}",
        keep.len(),
        compounds.len()
    );
    let by_grade = filtered(&base, &format!("grade = '{g}'")).await;
    let t = decode(&by_grade.body);
    assert_eq!(ids(&features_of(&t, "compounds")), keep);
    for l in ["districts", "streets", "heat"] {
        assert_eq!(
            ids(&features_of(&t, l)),
            ids(&features_of(&plain, l)),
            "{l} carry no grade and are served whole"
        );
    }
    let labels = |t: &Tile, kind: &str| -> Vec<String> {
        ids(&features_of(t, "labels"))
            .into_iter()
            .filter(|k| k.starts_with(kind))
            .collect()
    };
    assert_eq!(labels(&t, "district/"), labels(&plain, "district/"));
    assert_eq!(labels(&t, "street/"), labels(&plain, "street/"));
    let kept_labels: Vec<String> = labels(&plain, "compound/")
        .into_iter()
        .filter(|k| keep.contains(&k["compound/".len()..].to_string()))
        .collect();
    assert_eq!(
        labels(&t, "compound/"),
        kept_labels,
        "labels follow their compounds"
    );

    // The same filter as CQL2 JSON, spelt otherwise: the same tile, one cache entry.
    let json = format!(r#"{{"op":"=","args":[{{"property":"grade"}},"{g}"]}}"#);
    let uri = format!("{base}?filter={}&filter-lang=cql2-json", common::enc(&json));
    let as_json = get(&uri).await;
    assert_eq!(as_json.status, 200);
    assert_eq!(as_json.body, by_grade.body);
    assert_eq!(as_json.headers["etag"], by_grade.headers["etag"]);
    let spaced = filtered(&base, &format!("  GRADE='{g}'").replace("GRADE", "grade")).await;
    assert_eq!(spaced.body, by_grade.body);
    // The unfiltered tile is still itself.
    assert_eq!(get(&base).await.body, plain_bytes);

    // A property every feature layer has: each layer keeps exactly what passes.
    let (z, x, y) = common::tile_at(center().0, center().1, 14);
    let base = format!("/tiles/atlas/{z}/{x}/{y}.mvt");
    let plain = decode(&get(&base).await.body);
    let compounds = features_of(&plain, "compounds");
    let mut counts: Vec<f64> = compounds
        .iter()
        .map(|(_, p)| num(&p["complaints"]))
        .collect();
    counts.sort_by(f64::total_cmp);
    let cut = counts[counts.len() / 2];
    let t = decode(
        &filtered(
            &base,
            &format!("complaints >= {cut} AND NOT households < 0"),
        )
        .await
        .body,
    );
    for l in ["districts", "streets", "compounds", "buildings"] {
        let want: Vec<String> = features_of(&plain, l)
            .into_iter()
            .filter(|(_, p)| p.get("complaints").is_some_and(|n| num(n) >= cut))
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            ids(&features_of(&t, l)),
            want,
            "{l} where complaints >= {cut}: {:?} / {:?}",
            features_of(&plain, l)
                .iter()
                .map(|(k, p)| (k.clone(), p.get("complaints").map(num)))
                .collect::<Vec<_>>(),
            features_of(&t, l)
                .iter()
                .map(|(k, p)| (k.clone(), p.get("complaints").map(num)))
                .collect::<Vec<_>>()
        );
    }
    assert!(!features_of(&t, "compounds").is_empty());

    // A spatial filter: a small box around 海信慧园二期 keeps it and drops the far ones.
    let (lon, lat) = center();
    let d = 0.0005;
    let spatial = format!(
        "S_INTERSECTS(geometry, POLYGON(({a} {b}, {c} {b}, {c} {e}, {a} {e}, {a} {b})))",
        a = lon - d,
        b = lat - d,
        c = lon + d,
        e = lat + d
    );
    let t = decode(&filtered(&base, &spatial).await.body);
    let near = features_of(&t, "compounds");
    assert!(
        near.iter()
            .any(|(_, p)| p["name"].string_value.as_deref() == Some("海信慧园二期")),
        "{:?}",
        ids(&near)
    );
    assert!(near.len() < compounds.len());
    assert!(features_of(&t, "buildings").len() < features_of(&plain, "buildings").len());

    // MLT under the same filter holds the same compounds.
    let mlt = get(&format!(
        "/tiles/atlas/{z}/{x}/{y}.mlt?filter={}",
        common::enc(&format!("grade = '{g}'"))
    ))
    .await;
    assert_eq!(mlt.status, 200);
    assert_eq!(mlt.headers["content-type"], "application/vnd.maplibre-tile");

    // The grade picture draws only the compounds kept: every one of them is the picture itself,
    // none leaves only the district outlines.
    let png = format!("/tiles/grade/{z}/{x}/{y}.png");
    let whole = get(&png).await.body;
    let all = get(&format!("{png}?filter={}", common::enc("id > 0"))).await;
    assert_eq!(all.status, 200);
    assert_eq!(
        all.body, whole,
        "a filter every compound passes draws the same picture"
    );
    let none = get(&format!("{png}?filter={}", common::enc("id < 0"))).await;
    assert_eq!(none.status, 200);
    assert_ne!(none.body, whole);

    // TileJSON carries the filter on to its tile URLs.
    let tj = get(&format!(
        "/tiles/atlas.json?filter={}",
        common::enc("grade = 'red'")
    ))
    .await;
    assert_eq!(tj.status, 200);
    assert!(
        tj.json()["tiles"][0]
            .as_str()
            .unwrap()
            .contains("filter=grade"),
        "{}",
        tj.json()["tiles"]
    );

    // So does a style, to its source's TileJSON.
    let st = get(&format!(
        "/styles/grade.json?filter={}",
        common::enc("grade = 'red'")
    ))
    .await;
    assert_eq!(st.status, 200, "{}", String::from_utf8_lossy(&st.body));
    assert!(
        st.json()["sources"]["atlas"]["url"]
            .as_str()
            .unwrap()
            .contains("filter=grade"),
        "{}",
        st.json()["sources"]["atlas"]
    );

    // /api/compounds takes the same filter.
    let r = get(&format!(
        "/api/compounds?limit=1000&filter={}",
        common::enc(&format!("grade = '{g}' AND households > 100"))
    ))
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    let fs = v["features"].as_array().unwrap();
    assert!(!fs.is_empty());
    assert!(fs.iter().all(|f| f["properties"]["grade"] == g.as_str()
        && f["properties"]["households"].as_f64().unwrap() > 100.0));
    let all_g = get(&format!(
        "/api/compounds?limit=1000&filter={}",
        common::enc(&format!("grade = '{g}'"))
    ))
    .await
    .json();
    assert!(all_g["numberMatched"].as_u64() >= v["numberMatched"].as_u64());

    // Mistakes: 400s naming them.
    for (uri, needle) in [
        (
            format!("{base}?filter={}", common::enc("height > 3")),
            "height",
        ),
        (
            format!("{base}?filter={}", common::enc("name > 5")),
            "`name`, a string",
        ),
        (format!("{base}?filter={}", common::enc("grade = ")), "CQL2"),
        (
            format!("{base}?filter-lang=cql2-json"),
            "go with a `filter`",
        ),
        (
            format!(
                "{base}?filter={}&filter-crs=EPSG:3857",
                common::enc("id > 1")
            ),
            "filter-crs",
        ),
        (
            format!(
                "/tiles/density/{z}/{x}/{y}.png?filter={}",
                common::enc("id > 1")
            ),
            "density picture",
        ),
        (
            format!("{png}?filter={}", common::enc("floors > 3")),
            "grade picture",
        ),
        (
            format!("/tiles/atlas.json?filter={}", common::enc("nosuch = 1")),
            "nosuch",
        ),
        (
            format!("/api/compounds?filter={}", common::enc("nosuch = 1")),
            "nosuch",
        ),
        (
            format!(
                "/api/compounds?filter={}",
                common::enc("households = 'many'")
            ),
            "households",
        ),
    ] {
        let r = get(&uri).await;
        assert_eq!(r.status, 400, "{uri}: {}", String::from_utf8_lossy(&r.body));
        let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(
            msg.contains(needle),
            "{uri}: `{msg}` should name `{needle}`"
        );
    }
}
