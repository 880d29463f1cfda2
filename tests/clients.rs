//! The clients GIS offices use, pointed at a running `atlas serve` as a new user points them,
//! each judged by what it fetched or drew: OWSLib (OGC API – Features and WMTS); OpenLayers in
//! Chromium (OGC vector tiles, WMTS from the capabilities, OGC map tiles, the CGCS2000Quad WMTS
//! layer beside Tianditu's "c" layout); the ArcGIS Maps SDK for JavaScript in Chromium (the
//! VectorTileServer, the MapServer, a FeatureLayer on the FeatureServer); QGIS headless (the
//! vector tiles with our style through the XYZ and the ArcGIS connections, the OAPIF layer, the
//! WMTS layer). scripts/test installs them from their usual registries (PyPI, npm, Debian).
//! Pictures land in tests/artifacts/clients/.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the exact values it expects and takes the defaults its calls need

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const SCALE: f64 = 0.25;
const SEED: u64 = 121;

/// The city every client reads, imported once per test binary; each test serves it itself.
fn city() -> &'static Path {
    static CITY: OnceLock<PathBuf> = OnceLock::new();
    CITY.get_or_init(|| common::imported_city(SCALE, SEED))
}

struct Server {
    child: std::process::Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve() -> Server {
    let (child, url) = common::serve(&["--data", city().to_str().unwrap()]);
    Server { child, url }
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn artifacts(name: &str) -> PathBuf {
    let d = root().join("tests/artifacts/clients").join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A point inside a red compound (else any compound) of the city.
fn a_compound_point(url: &str) -> (f64, f64) {
    let (status, body) =
        common::http_get(&format!("{url}/ogc/collections/compounds/items?limit=200"));
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let feats = v["features"].as_array().unwrap();
    let f = feats
        .iter()
        .find(|f| f["properties"]["grade"] == "red")
        .unwrap_or(&feats[0]);
    // The mean of the outer ring's vertices: inside a compound's block-like outline.
    let mut ring = &f["geometry"]["coordinates"];
    while ring[0][0].is_array() {
        ring = &ring[0];
    }
    let pts: Vec<(f64, f64)> = ring
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
        .collect();
    let n = (pts.len() - 1) as f64;
    let (x, y) = pts[1..]
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    (x / n, y / n)
}

/// Pixels of a picture in the grade colours, counted per grade (red, yellow, blue), by hue so
/// that fills drawn with an opacity over a background count too: bright (max channel > 150),
/// saturated (> 25%) pixels with a hue near the styles' red (8°), yellow (45°) or blue (210°).
fn grade_pixels(img: &image::RgbaImage) -> [usize; 3] {
    let mut n = [0; 3];
    for p in img.pixels() {
        if p[3] < 128 {
            continue;
        }
        let [r, g, b] = [p[0], p[1], p[2]].map(f64::from);
        let (max, min) = (r.max(g).max(b), r.min(g).min(b));
        if max <= 150.0 || (max - min) / max <= 0.25 {
            continue;
        }
        let d = max - min;
        let hue = if max == r {
            (60.0 * (g - b) / d).rem_euclid(360.0)
        } else if max == g {
            60.0 * (b - r) / d + 120.0
        } else {
            60.0 * (r - g) / d + 240.0
        };
        match hue {
            h if !(20.0..=340.0).contains(&h) => n[0] += 1,
            h if (35.0..=60.0).contains(&h) => n[1] += 1,
            h if (190.0..=230.0).contains(&h) => n[2] += 1,
            _ => {}
        }
    }
    n
}

/// Runs a client's script and answers what it printed; a failure shows it all.
fn run(what: &str, cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{log}");
    assert!(out.status.success(), "{what} failed:\n{log}");
    log
}

fn python() -> PathBuf {
    let py = root().join("tools/venv/bin/python");
    assert!(
        py.exists(),
        "tools/venv is missing: run scripts/test, which installs OWSLib there"
    );
    py
}

#[test]
fn owslib_reads_the_features_and_the_wmts() {
    let server = serve();
    let (lon, lat) = a_compound_point(&server.url);
    let out_dir = artifacts("owslib");
    run(
        "OWSLib",
        Command::new(python())
            .arg(root().join("tools/owslib-test.py"))
            .arg(&server.url)
            .arg(&out_dir)
            .arg(lon.to_string())
            .arg(lat.to_string()),
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("summary.json")).unwrap()).unwrap();
    // What OWSLib read equals what the server holds.
    let (_, body) = common::http_get(&format!(
        "{}/ogc/collections/compounds/items?limit=1&bbox={},{},{},{}",
        server.url,
        lon - 0.02,
        lat - 0.02,
        lon + 0.02,
        lat + 0.02
    ));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(summary["number_matched_in_box"], v["numberMatched"]);
    // The grade tile OWSLib fetched shows graded compounds.
    let img = image::open(out_dir.join("wmts-grade.png"))
        .unwrap()
        .to_rgba8();
    let n = grade_pixels(&img);
    assert!(
        n.iter().sum::<usize>() > 500,
        "the WMTS grade tile shows {n:?} red/yellow/blue pixels"
    );
}

fn chromium() -> &'static str {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or_else(|| panic!("no Chromium: scripts/test installs Debian's `chromium`"))
}

/// Runs one web client's pages (tools/clients-test.js) against a fresh server centred on a red
/// compound: (what each page drew, where its screenshots are). Every page must have drawn with
/// no console error and no request leaving the machine.
fn web_client(name: &str, modules: &[&str]) -> (Vec<serde_json::Value>, PathBuf) {
    let node_modules = root().join("tools/node_modules");
    for m in modules.iter().chain(&["playwright-core", "esbuild"]) {
        assert!(
            node_modules.join(m).exists(),
            "{m} is missing: run scripts/test, which installs it (npm ci in tools/)"
        );
    }
    let server = serve();
    let (lon, lat) = a_compound_point(&server.url);
    let out_dir = artifacts(name);
    run(
        &format!("the {name} pages"),
        Command::new("node")
            .arg(root().join("tools/clients-test.js"))
            .arg(&server.url)
            .arg(&out_dir)
            .arg(lon.to_string())
            .arg(lat.to_string())
            .env("CHROMIUM", chromium())
            .env("CLIENTS", name),
    );
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("results.json")).unwrap()).unwrap();
    let results = results.as_array().unwrap().clone();
    for r in &results {
        let kind = r["kind"].as_str().unwrap();
        assert_eq!(
            r["errors"],
            serde_json::json!([]),
            "{name} {kind}: console errors"
        );
        assert_eq!(
            r["external"],
            serde_json::json!([]),
            "{name} {kind}: requests left"
        );
        let drawn = &r["drawn"];
        assert!(
            drawn["tilesLoaded"].as_u64().unwrap() > 0,
            "{name} {kind}: {drawn}"
        );
        assert_eq!(drawn["tileErrors"], 0, "{name} {kind}: {drawn}");
        let img = image::open(out_dir.join(r["screenshot"].as_str().unwrap()))
            .unwrap()
            .to_rgba8();
        let n = grade_pixels(&img);
        // The map is centred on a red compound: red is drawn, with other grades around it
        // (except where a filter keeps the red ones only: the test of that client judges).
        assert!(n[0] > 200, "{name} {kind}: red/yellow/blue pixels {n:?}");
        if kind != "featurelayer" {
            assert!(
                n[1] + n[2] > 200,
                "{name} {kind}: red/yellow/blue pixels {n:?}"
            );
        }
    }
    (results, out_dir)
}

#[test]
fn openlayers_draws_the_vector_tiles_the_wmts_and_the_map_tiles() {
    let (results, _) = web_client("openlayers", &["ol"]);
    let kinds: Vec<&str> = results
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["vector", "wmts", "map", "tianditu"]);
    let vector = &results[0]["drawn"]["compounds"];
    assert!(
        vector["red"].as_u64().unwrap_or(0) > 0 && vector.as_object().unwrap().len() >= 2,
        "compounds the vector tiles styled by grade: {vector}"
    );
    let wmts = &results[1]["drawn"]["layers"];
    assert!(
        wmts.as_array().unwrap().iter().any(|l| l == "grade"),
        "{wmts}"
    );
    // Our CGCS2000Quad layer from the capabilities asks for exactly the tiles a source laid out
    // as Tianditu's "c" matrix set asks for, at Tianditu's level 14: they overlay level for level.
    let t = &results[3]["drawn"];
    assert_eq!(t["projection"], "EPSG:4490", "{t}");
    let ours = t["ours"].as_array().unwrap();
    assert!(!ours.is_empty(), "{t}");
    assert_eq!(t["ours"], t["tianditu"], "{t}");
    assert!(
        ours.iter().all(|k| k.as_str().unwrap().starts_with("14/")),
        "{t}"
    );
}

/// The ArcGIS Maps SDK for JavaScript 4.34 (npm `@arcgis/core`): a VectorTileLayer on the
/// VectorTileServer reads the service JSON (no tile map: a wrong one made it stop at level 1),
/// asks for tiles of the level it draws and styles the compounds by grade from `root.json`; a
/// TileLayer on the grade MapServer draws its PNG tiles; a FeatureLayer on the FeatureServer's
/// compounds with a `where` draws the red ones by the service's renderer.
#[test]
fn the_arcgis_maps_sdk_draws_the_vector_tile_server_map_server_and_feature_server() {
    arcgis_sdk("arcgis", "@arcgis/core");
}

/// The same pages on the ArcGIS Maps SDK 5.1 (npm `@arcgis/core@5`, installed as
/// `@arcgis/core-5`), the release offices move to next.
#[test]
fn the_arcgis_maps_sdk_5_draws_the_vector_tile_server_map_server_and_feature_server() {
    arcgis_sdk("arcgis5", "@arcgis/core-5");
}

fn arcgis_sdk(name: &str, module: &str) {
    let (results, out_dir) = web_client(name, &[module]);
    let kinds: Vec<&str> = results
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["vectortileserver", "mapserver", "featurelayer"]);
    // The FeatureLayer on the compounds with `grade = 'red'`: the SDK queried the FeatureServer,
    // got red compounds only, and drew them with the service's renderer.
    let fl = &results[2]["drawn"];
    assert!(fl["queries"].as_u64().unwrap() > 0, "{fl}");
    assert!(fl["features"].as_u64().unwrap() > 0, "{fl}");
    assert_eq!(fl["grades"], serde_json::json!(["red"]), "{fl}");
    let img = image::open(out_dir.join(format!("{name}-featurelayer.png")))
        .unwrap()
        .to_rgba8();
    let n = grade_pixels(&img);
    assert!(n[1] + n[2] < 50, "only red compounds drawn: {n:?}");
    for r in &results[..2] {
        let drawn = &r["drawn"];
        assert_eq!(drawn["layerLoaded"], true, "{drawn}");
        let levels: Vec<u64> = drawn["levels"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.parse().unwrap())
            .collect();
        assert!(
            !levels.is_empty() && levels.iter().all(|l| *l >= 13),
            "{}: the SDK asked for tiles of levels {levels:?}, not those of the zoom it draws",
            r["kind"]
        );
    }
}

#[test]
fn qgis_draws_the_vector_tiles_with_our_style_the_oapif_and_the_wmts_layers() {
    let py = "/usr/bin/python3";
    let has_qgis = Command::new(py)
        .args(["-c", "import qgis.core"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_qgis,
        "QGIS's Python bindings are missing: scripts/test installs Debian's qgis and python3-qgis"
    );
    let server = serve();
    let (lon, lat) = a_compound_point(&server.url);
    let out_dir = artifacts("qgis");
    // Qt wants a runtime directory of the user's own (mode 0700).
    let runtime = tempfile::tempdir().unwrap();
    run(
        "QGIS",
        Command::new(py)
            .arg(root().join("tools/qgis-test.py"))
            .arg(&server.url)
            .arg(&out_dir)
            .arg(lon.to_string())
            .arg(lat.to_string())
            .env("QT_QPA_PLATFORM", "offscreen")
            .env("XDG_RUNTIME_DIR", runtime.path()),
    );
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("results.json")).unwrap()).unwrap();
    let picture = |name: &str| {
        image::open(out_dir.join(format!("{name}.png")))
            .unwrap()
            .to_rgba8()
    };
    // Vector tiles, through the XYZ connection with styleUrl and the ArcGIS connection with its
    // root.json: the style converts (QGIS 3.22 reads one-item match labels), so the compounds
    // have their grade colours, the red one at the centre among others — not all grey.
    for name in ["vector-xyz", "vector-arcgis"] {
        assert_eq!(r[name]["style_loaded"], true, "{name}: {}", r[name]);
        assert_eq!(r[name]["render_errors"], serde_json::json!([]), "{name}");
        let n = grade_pixels(&picture(name));
        assert!(n[0] > 500, "{name}: red/yellow/blue pixels {n:?}");
        assert!(n[1] + n[2] > 500, "{name}: red/yellow/blue pixels {n:?}");
    }
    // OGC API – Features: every compound, with its fields, drawn.
    let (_, body) = common::http_get(&format!(
        "{}/ogc/collections/compounds/items?limit=1",
        server.url
    ));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(r["oapif-compounds"]["feature_count"], v["numberMatched"]);
    let fields = r["oapif-compounds"]["fields"].as_array().unwrap();
    for f in ["grade", "complaints", "density", "name"] {
        assert!(fields.iter().any(|x| x == f), "OAPIF fields: {fields:?}");
    }
    let drawn = picture("oapif-compounds")
        .pixels()
        .filter(|p| p[3] > 0 && (p[0], p[1], p[2]) != (255, 255, 255))
        .count();
    assert!(drawn > 5_000, "OAPIF layer: {drawn} pixels drawn");
    // WMTS from the capabilities: the grade picture.
    assert_eq!(r["wmts-grade"]["render_errors"], serde_json::json!([]));
    let n = grade_pixels(&picture("wmts-grade"));
    assert!(
        n[0] > 500 && n[1] + n[2] > 500,
        "WMTS: red/yellow/blue pixels {n:?}"
    );
}
