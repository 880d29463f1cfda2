//! Hot spots on H3 cells (`GET /api/hotspots`), checked against PySAL: esda's Gi* z-scores,
//! scipy's p-values, Benjamini–Hochberg q-values and Kendall's tau on the same cell counts and
//! neighbourhoods, over the demo city; what the endpoint refuses; and the tiles' `hotspots`
//! layer, decoded at every zoom it has from both stores, against the endpoint's answer.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the exact values it expects and takes the defaults its calls need

mod common;

use geozero::mvt::{tile, Message, Tile};
use serde_json::Value;
use std::collections::HashMap;
use std::str::FromStr;

/// esda and scipy on the answer's counts, the neighbourhoods rebuilt from its cells.
fn pysal(features: &[Value], k: u32) -> Value {
    let cells: Vec<h3o::CellIndex> = features
        .iter()
        .map(|f| h3o::CellIndex::from_str(f["properties"]["cell"].as_str().unwrap()).unwrap())
        .collect();
    let at: HashMap<h3o::CellIndex, usize> =
        cells.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    let neighbours: Vec<Vec<usize>> = cells
        .iter()
        .map(|c| {
            c.grid_disk::<Vec<_>>(k)
                .into_iter()
                .filter_map(|d| at.get(&d).copied())
                .collect()
        })
        .collect();
    let input = serde_json::json!({
        "y": features.iter().map(|f| f["properties"]["complaints"].as_u64().unwrap()).collect::<Vec<_>>(),
        "neighbours": neighbours,
        "months": features.iter().map(|f| f["properties"]["gi_z_months"].clone()).collect::<Vec<_>>(),
    });
    common::python_json("esda-check.py", &input)
}

#[tokio::test]
async fn gi_star_fdr_and_trends_agree_with_pysal_on_the_demo_city() {
    let app = common::shared_app(1.0, 20_230_426);
    for (res, k) in [(9, 1), (8, 2)] {
        let uri = format!("/api/hotspots?res={res}&k={k}&from=2022-08&to=2023-07");
        let r = common::call(&app, "GET", &uri, &[], vec![]).await;
        assert_eq!(r.status, 200, "{uri}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.headers["content-type"], "application/geo+json");
        let body = r.json();
        let features = body["features"].as_array().unwrap();
        assert!(features.len() > 300, "{uri}: {} cells", features.len());
        assert_eq!(body["months"], 12);
        let py = pysal(features, k);
        let close = |a: &Value, b: &Value, eps: f64, what: &str, i: usize| {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!(
                (a - b).abs() <= eps,
                "{uri}: {what} of cell {i}: ours {a}, PySAL {b}"
            );
        };
        for (i, f) in features.iter().enumerate() {
            let p = &f["properties"];
            close(&p["gi_z"], &py["z"][i], 1e-6, "Gi* z", i);
            close(&p["gi_p"], &py["p"][i], 1e-9, "p", i);
            close(&p["gi_q"], &py["q"][i], 1e-9, "q", i);
            if !py["tau"][i].is_null() {
                close(&p["trend_tau"], &py["tau"][i], 1e-9, "Kendall's tau", i);
            }
            assert_eq!(f["geometry"]["type"], "Polygon");
            assert!(p["pattern"].is_string());
        }
        // The city's complaints cluster: the analysis finds hot spots, and names patterns.
        assert!(body["hot"].as_u64().unwrap() > 0, "{uri}");
        let patterns: std::collections::BTreeSet<&str> = features
            .iter()
            .map(|f| f["properties"]["pattern"].as_str().unwrap())
            .collect();
        assert!(
            patterns.iter().any(|p| p.ends_with("_hot")),
            "{uri}: {patterns:?}"
        );
        let total: u64 = features
            .iter()
            .map(|f| f["properties"]["complaints"].as_u64().unwrap())
            .sum();
        let districts = common::call(
            &app,
            "GET",
            "/api/districts?from=2022-08&to=2023-07",
            &[],
            vec![],
        )
        .await
        .json();
        let placed: u64 = districts["districts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["complaints"].as_u64().unwrap())
            .sum();
        assert_eq!(total, placed, "{uri}: every placed complaint is in a cell");
    }
}

#[tokio::test]
async fn what_the_hot_spots_refuse_is_said_by_name() {
    let app = common::shared_app(0.05, 7);
    for (uri, said) in [
        ("/api/hotspots?res=12", "`res`"),
        ("/api/hotspots?res=4", "`res`"),
        ("/api/hotspots?res=nine", "`res`"),
        ("/api/hotspots?k=0", "`k`"),
        ("/api/hotspots?k=4", "`k`"),
        (
            "/api/hotspots?from=2023-01&to=2023-06",
            "at least 10 months",
        ),
        ("/api/hotspots?from=2030-01&to=2030-12", "outside the data"),
        ("/api/hotspots?category=nothing", "category"),
        ("/api/hotspots?colour=red", "unknown parameter"),
    ] {
        let r = common::call(&app, "GET", uri, &[], vec![]).await;
        assert_eq!(r.status, 400, "{uri}: {}", String::from_utf8_lossy(&r.body));
        let m = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(m.contains(said), "{uri}: {m}");
    }
    let ok = common::call(&app, "GET", "/api/hotspots?category=fees", &[], vec![]).await;
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    assert_eq!(ok.json()["category"], "fees");
    // A repeated request is answered from what was made; another category is not.
    let again = common::call(&app, "GET", "/api/hotspots?category=fees", &[], vec![]).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, ok.body);
    let other = common::call(&app, "GET", "/api/hotspots?category=repairs", &[], vec![]).await;
    assert_eq!(other.json()["category"], "repairs");
    let coarser = common::call(
        &app,
        "GET",
        "/api/hotspots?category=fees&res=8",
        &[],
        vec![],
    )
    .await;
    assert_eq!(coarser.json()["res"], 8);
}

/// The `hotspots` layer of one decoded tile: each cell's attributes and outline (tile
/// coordinates), by cell; `None` when the tile has no such layer.
type TileCells = HashMap<String, (HashMap<String, tile::Value>, geo_types::Geometry<f64>)>;

fn hot_layer(body: &[u8]) -> Option<TileCells> {
    use geozero::ToGeo;
    let t = Tile::decode(body).unwrap();
    let l = t.layers.iter().find(|l| l.name == "hotspots")?;
    let mut out = HashMap::new();
    for f in &l.features {
        let props: HashMap<String, tile::Value> = f
            .tags
            .chunks(2)
            .map(|kv| {
                (
                    l.keys[kv[0] as usize].clone(),
                    l.values[kv[1] as usize].clone(),
                )
            })
            .collect();
        let cell = props["cell"].string_value.clone().unwrap();
        let geom = f.to_geo().unwrap();
        assert!(
            out.insert(cell.clone(), (props, geom)).is_none(),
            "cell {cell} twice in one tile"
        );
    }
    Some(out)
}

/// Where a longitude/latitude falls in tile `z/x/y`, in its 4096-unit coordinates (Web
/// Mercator, worked out here rather than by the server's code).
fn in_tile(lon: f64, lat: f64, (z, x, y): (u32, u64, u64)) -> geo_types::Point<f64> {
    let n = f64::from(1u32 << z);
    let fx = (lon + 180.0) / 360.0 * n;
    let fy = (1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n;
    geo_types::Point::new((fx - x as f64) * 4096.0, (fy - y as f64) * 4096.0)
}

/// The tiles' `hotspots` layer holds, at every zoom from 9 to 15 and from both stores, the
/// cells `/api/hotspots` answers for the same window with the same complaints, Gi* z, p and q
/// (stored as MVT doubles: equal, checked within 1e-6), `hot` and pattern, each outline
/// around its H3 centre; no tile below z9 or above z15 has it, nor a window shorter than the
/// statistics need or outside the data; the tiles' filter leaves it whole; and a complaint
/// import refreshes it everywhere, not only where the complaint lies.
#[tokio::test]
async fn the_hotspots_layer_carries_the_apis_cells_at_zooms_9_to_15_from_both_stores() {
    use compound_atlas::AppState;
    use geo::Contains;
    let city = common::city(0.05, 62);
    let window = "from=2022-08&to=2023-07";
    let embedded = common::embedded_atlas(&city).await;
    let postgis = common::postgis_atlas(&city, "hottiles").await;
    let mut answers = Vec::new();
    for (store, atlas) in [("embedded", embedded), ("PostGIS", postgis)] {
        let app = compound_atlas::app(AppState::new(atlas, &common::settings_with_tokens()));
        let api = common::call(&app, "GET", &format!("/api/hotspots?{window}"), &[], vec![])
            .await
            .json();
        let cells: HashMap<String, Value> = api["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["properties"]["cell"].as_str().unwrap().to_string(),
                    f["properties"].clone(),
                )
            })
            .collect();
        assert!(cells.len() > 50, "{store}: {} cells", cells.len());
        let centre = |cell: &str| {
            let ll = h3o::LatLng::from(h3o::CellIndex::from_str(cell).unwrap());
            (ll.lng(), ll.lat())
        };
        let (mut compared, mut worst) = (0usize, 0.0f64);
        for z in 9..=15u32 {
            // Every cell is in the tile that holds its centre.
            let mut tiles: HashMap<(u32, u64, u64), Vec<&String>> = HashMap::new();
            for cell in cells.keys() {
                let (lon, lat) = centre(cell.as_str());
                tiles
                    .entry(common::tile_at(lon, lat, z))
                    .or_default()
                    .push(cell);
            }
            for (&(z, x, y), mine) in &tiles {
                let uri = format!("/tiles/atlas/{z}/{x}/{y}.mvt?{window}");
                let r = common::call(&app, "GET", &uri, &[], vec![]).await;
                assert_eq!(r.status, 200, "{store} {uri}");
                let layer = hot_layer(&r.body)
                    .unwrap_or_else(|| panic!("{store} {uri}: no hotspots layer"));
                for cell in mine {
                    let (_, geom) = layer
                        .get(*cell)
                        .unwrap_or_else(|| panic!("{store} {uri}: cell {cell} missing"));
                    let (lon, lat) = centre(cell.as_str());
                    if z >= 12 {
                        // A res-9 cell is a few tile units across below z12.
                        let at = in_tile(lon, lat, (z, x, y));
                        let inside = match geom {
                            geo_types::Geometry::Polygon(p) => p.contains(&at),
                            geo_types::Geometry::MultiPolygon(m) => m.contains(&at),
                            _ => false,
                        };
                        assert!(
                            inside,
                            "{store} {uri}: cell {cell}'s outline misses its centre"
                        );
                    }
                }
                for (cell, (p, _)) in &layer {
                    let a = cells
                        .get(cell)
                        .unwrap_or_else(|| panic!("{store} {uri}: cell {cell} is not the API's"));
                    assert_eq!(
                        p["complaints"].uint_value,
                        a["complaints"].as_u64(),
                        "{cell}"
                    );
                    assert_eq!(p["pattern"].string_value.as_deref(), a["pattern"].as_str());
                    assert_eq!(
                        p.get("hot").and_then(|v| v.string_value.as_deref()),
                        a["hot"].as_str(),
                        "{cell}"
                    );
                    for k in ["gi_z", "gi_p", "gi_q"] {
                        let ours = p.get(k).and_then(|v| v.double_value);
                        match (ours, a[k].as_f64()) {
                            (Some(t), Some(want)) => {
                                worst = worst.max((t - want).abs());
                                assert!(
                                    (t - want).abs() <= 1e-6,
                                    "{store} {uri} {cell} {k}: {t} against {want}"
                                );
                            }
                            (None, None) => {}
                            (t, want) => panic!("{store} {uri} {cell} {k}: {t:?} against {want:?}"),
                        }
                    }
                    compared += 1;
                }
            }
        }
        println!("{store}: {compared} cells compared, largest difference from the API {worst:e}");
        assert!(compared >= 7 * cells.len());
        // Below z9, above z15, too short a window, a window outside the data: no layer, the
        // rest of the tile served.
        let (lon, lat) = centre(cells.keys().next().unwrap().as_str());
        for (z, w) in [
            (8, window),
            (16, window),
            (12, "from=2023-01&to=2023-06"),
            (12, "from=2030-01&to=2030-12"),
        ] {
            let (z, x, y) = common::tile_at(lon, lat, z);
            let uri = format!("/tiles/atlas/{z}/{x}/{y}.mvt?{w}");
            let r = common::call(&app, "GET", &uri, &[], vec![]).await;
            assert_eq!(r.status, 200, "{store} {uri}");
            assert!(
                hot_layer(&r.body).is_none(),
                "{store} {uri}: a hotspots layer"
            );
            let t = Tile::decode(&r.body[..]).unwrap();
            assert!(
                t.layers.iter().any(|l| l.name == "districts"),
                "{store} {uri}"
            );
        }
        // The tiles' filter is read on the compounds, never on the hot-spot cells; one naming
        // only the cells' attributes is refused.
        let (z, x, y) = common::tile_at(lon, lat, 12);
        let plain = common::call(
            &app,
            "GET",
            &format!("/tiles/atlas/{z}/{x}/{y}.mvt?{window}"),
            &[],
            vec![],
        )
        .await;
        let filter = common::enc("complaints > 1000000");
        let filtered = common::call(
            &app,
            "GET",
            &format!("/tiles/atlas/{z}/{x}/{y}.mvt?{window}&filter={filter}"),
            &[],
            vec![],
        )
        .await;
        let (a, b) = (
            hot_layer(&plain.body).unwrap(),
            hot_layer(&filtered.body).unwrap(),
        );
        let keys = |m: &TileCells| m.keys().cloned().collect::<std::collections::BTreeSet<_>>();
        assert_eq!(
            keys(&a),
            keys(&b),
            "{store}: the filter left the cells whole"
        );
        let only = common::enc("pattern = 'persistent_hot'");
        let r = common::call(
            &app,
            "GET",
            &format!("/tiles/atlas/{z}/{x}/{y}.mvt?filter={only}"),
            &[],
            vec![],
        )
        .await;
        assert_eq!(r.status, 400, "{store}");
        // Another window of the same cells (their outlines made once, shared): at z14, each
        // cell in its centre's tile, around its centre, with that window's figures.
        let other = "from=2021-01&to=2022-06";
        let api2 = common::call(&app, "GET", &format!("/api/hotspots?{other}"), &[], vec![])
            .await
            .json();
        let mut seen = 0;
        for f in api2["features"].as_array().unwrap() {
            let a = &f["properties"];
            let cell = a["cell"].as_str().unwrap();
            let (lon, lat) = centre(cell);
            let (z, x, y) = common::tile_at(lon, lat, 14);
            let uri = format!("/tiles/atlas/{z}/{x}/{y}.mvt?{other}");
            let layer = hot_layer(&common::call(&app, "GET", &uri, &[], vec![]).await.body)
                .unwrap_or_else(|| panic!("{store} {uri}: no hotspots layer"));
            let (p, geom) = &layer[cell];
            assert_eq!(p["pattern"].string_value.as_deref(), a["pattern"].as_str());
            assert_eq!(p["complaints"].uint_value, a["complaints"].as_u64());
            if let (Some(t), Some(want)) = (
                p.get("gi_z").and_then(|v| v.double_value),
                a["gi_z"].as_f64(),
            ) {
                assert!(
                    (t - want).abs() <= 1e-6,
                    "{store} {uri} {cell}: {t} against {want}"
                );
            }
            let at = in_tile(lon, lat, (z, x, y));
            let inside = match geom {
                geo_types::Geometry::Polygon(p) => p.contains(&at),
                geo_types::Geometry::MultiPolygon(m) => m.contains(&at),
                _ => false,
            };
            assert!(
                inside,
                "{store} {uri}: cell {cell}'s outline misses its centre"
            );
            seen += 1;
        }
        assert_eq!(
            seen,
            cells.len(),
            "{store}: the same study cells in both windows"
        );
        answers.push(api);
    }
    assert_eq!(
        answers[0]["features"], answers[1]["features"],
        "both stores answer the same cells"
    );
}

/// TileJSON lists the layer at zooms 9–15 with its attributes, as the catalog does.
#[tokio::test]
async fn tilejson_lists_the_hotspots_layer_and_its_fields() {
    let app = common::shared_app(0.05, 7);
    let j = common::call(&app, "GET", "/tiles/atlas.json", &[], vec![])
        .await
        .json();
    let l = j["vector_layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == "hotspots")
        .expect("a hotspots layer in TileJSON");
    assert_eq!(
        (l["minzoom"].as_u64(), l["maxzoom"].as_u64()),
        (Some(9), Some(15))
    );
    let fields: std::collections::BTreeSet<&str> = l["fields"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        [
            "cell",
            "complaints",
            "gi_p",
            "gi_q",
            "gi_z",
            "hot",
            "pattern"
        ]
        .into(),
    );
    let c = common::call(&app, "GET", "/tiles", &[], vec![])
        .await
        .json();
    assert!(c["tilesets"][0]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["id"] == "hotspots" && l["minzoom"] == 9 && l["maxzoom"] == 15));
}

/// A complaint import refreshes the layer everywhere: the statistics are the whole city's,
/// so a cached tile far from the new complaint is dropped too, and serves the new figures.
#[tokio::test]
async fn an_import_refreshes_the_hotspots_layer_everywhere() {
    use compound_atlas::AppState;
    let city = common::city(0.05, 63);
    let atlas = common::embedded_atlas(&city).await;
    let app = compound_atlas::app(AppState::new(
        std::sync::Arc::clone(&atlas),
        &common::settings_with_tokens(),
    ));
    let data = atlas.store.geography().await.unwrap();
    let near = data
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
    let fp = far.geom.centroid().unwrap();
    let (z, x, y) = common::tile_at(fp.x(), fp.y(), 12);
    let window = "from=2022-08&to=2023-07";
    let uri = format!("/tiles/atlas/{z}/{x}/{y}.mvt?{window}");
    let before = common::call(&app, "GET", &uri, &[], vec![]).await;
    let cells_before = hot_layer(&before.body).unwrap();
    // Many complaints at one compound in 李沧区, far from the tile.
    let mut body = String::from("工单编号,受理时间,诉求类别,诉求地址\n");
    for i in 0..200 {
        use std::fmt::Write;
        writeln!(
            body,
            "T-HOT-{i},2023-07-{:02} 10:00:00,绿化,{}1号楼1单元101",
            1 + i % 28,
            near.name
        )
        .unwrap();
    }
    let r = common::call(
        &app,
        "POST",
        "/api/complaints",
        &[
            ("authorization", "Bearer admin-secret"),
            ("content-type", "text/csv"),
        ],
        body.into_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let after = common::call(&app, "GET", &uri, &[], vec![]).await;
    assert_ne!(
        before.headers["etag"], after.headers["etag"],
        "the far tile was made again"
    );
    let cells_after = hot_layer(&after.body).unwrap();
    let api = common::call(&app, "GET", &format!("/api/hotspots?{window}"), &[], vec![])
        .await
        .json();
    let z_of: HashMap<&str, f64> = api["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| {
            Some((
                f["properties"]["cell"].as_str()?,
                f["properties"]["gi_z"].as_f64()?,
            ))
        })
        .collect();
    let mut moved = 0;
    for (cell, (p, _)) in &cells_after {
        let z = p["gi_z"].double_value.unwrap();
        // serde_json reads a number back to within a unit in the last place.
        let want = z_of[cell.as_str()];
        assert!(
            (z - want).abs() <= 1e-12,
            "{cell}: the tile has the new figures: {z} against {want}"
        );
        if cells_before[cell].0["gi_z"].double_value != Some(z) {
            moved += 1;
        }
    }
    assert!(
        moved > 0,
        "the far cells' z-scores moved with the city's counts"
    );
}
