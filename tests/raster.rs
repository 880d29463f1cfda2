//! Pictures for GIS tools and reports, decoded and checked: PNG tiles of `grade` and
//! `density` in both tile matrix sets at 256 and 512 pixels, without seams; WMTS read by
//! GDAL; the Esri VectorTileServer against Esri's published shapes; static maps and legends;
//! and bad input answered with a JSON 4xx.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the exact values it expects and takes the defaults its calls need

mod common;

use common::{call, Resp};
use image::RgbaImage;
use serde_json::Value;
use std::process::Command;

fn app() -> axum::Router {
    common::shared_app(0.25, 101)
}

async fn get(uri: &str) -> Resp {
    call(&app(), "GET", uri, &[], Vec::new()).await
}

fn png(r: &Resp, what: &str) -> RgbaImage {
    assert_eq!(
        r.status,
        200,
        "{what}: {}",
        String::from_utf8_lossy(&r.body[..r.body.len().min(300)])
    );
    assert_eq!(r.headers["content-type"], "image/png", "{what}");
    image::load_from_memory_with_format(&r.body, image::ImageFormat::Png)
        .unwrap()
        .to_rgba8()
}

/// WebMercator tile of a point.
fn visible(img: &RgbaImage) -> usize {
    img.pixels().filter(|p| p[3] > 0).count()
}

#[tokio::test]
async fn grade_tiles_show_compounds_in_their_grade_colours() {
    let (z, x, y) = common::tile_at(120.43, 36.165, 12);
    let img = png(
        &get(&format!("/tiles/grade/{z}/{x}/{y}.png")).await,
        "grade",
    );
    assert_eq!(img.dimensions(), (256, 256));
    let near = |p: &image::Rgba<u8>, c: [u8; 3]| {
        p[3] > 180 && (0..3).all(|i| (i32::from(p[i]) - i32::from(c[i])).abs() < 40)
    };
    let blue = img.pixels().filter(|p| near(p, [0x6f, 0xa8, 0xdc])).count();
    let red = img.pixels().filter(|p| near(p, [0xd7, 0x30, 0x1f])).count();
    assert!(blue > 200, "blue compounds: {blue} pixels");
    assert!(red > 0, "a red compound in Licang: {red} pixels");
    let big = png(
        &get(&format!("/tiles/grade/{z}/{x}/{y}@2x.png")).await,
        "grade@2x",
    );
    assert_eq!(big.dimensions(), (512, 512));
    let (z, x, y) = common::tile_at(121.2, 35.6, 12); // the Yellow Sea
    let sea = png(&get(&format!("/tiles/grade/{z}/{x}/{y}.png")).await, "sea");
    assert_eq!(visible(&sea), 0, "an empty tile is a transparent picture");
    // The geographic grid serves the same city.
    let crs84 = png(
        &get("/tiles/grade/WorldCRS84Quad/11/3418/612.png").await,
        "crs84",
    );
    assert!(visible(&crs84) > 1000);
}

#[tokio::test]
async fn density_tiles_follow_the_window_and_have_no_seams() {
    let (z, x, y) = common::tile_at(120.40, 36.10, 13);
    let a = png(
        &get(&format!("/tiles/density/{z}/{x}/{y}.png")).await,
        "density",
    );
    assert!(
        visible(&a) > 5000,
        "a heatmap over the city: {} pixels",
        visible(&a)
    );
    let b = png(
        &get(&format!(
            "/tiles/density/{z}/{x}/{y}.png?from=2018-01&to=2018-06"
        ))
        .await,
        "window",
    );
    let diff = a.pixels().zip(b.pixels()).filter(|(p, q)| p != q).count();
    assert!(
        diff > 1000,
        "another window draws another heatmap ({diff} pixels differ)"
    );
    // Edges: the last column of a tile and the first of its right neighbour nearly agree;
    // far more than two columns 128 pixels apart.
    let right = png(
        &get(&format!("/tiles/density/{z}/{}/{y}.png", x + 1)).await,
        "right",
    );
    let below = png(
        &get(&format!("/tiles/density/{z}/{x}/{}.png", y + 1)).await,
        "below",
    );
    let col = |img: &RgbaImage, c: u32| (0..256).map(|r| *img.get_pixel(c, r)).collect::<Vec<_>>();
    let row = |img: &RgbaImage, r: u32| (0..256).map(|c| *img.get_pixel(c, r)).collect::<Vec<_>>();
    let dist = |u: &[image::Rgba<u8>], v: &[image::Rgba<u8>]| -> f64 {
        u.iter()
            .zip(v)
            .map(|(p, q)| {
                (0..4)
                    .map(|i| (f64::from(p[i]) - f64::from(q[i])).abs())
                    .sum::<f64>()
            })
            .sum::<f64>()
            / u.len() as f64
    };
    // Neighbouring columns inside a tile differ by this much on average: a seam may not
    // stand out from it.
    let inside = (1..255)
        .map(|c| dist(&col(&a, c - 1), &col(&a, c)))
        .sum::<f64>()
        / 254.0;
    let seam = dist(&col(&a, 255), &col(&right, 0));
    let apart = dist(&col(&a, 127), &col(&a, 255));
    assert!(
        seam < 3.0 * inside + 3.0 && seam * 10.0 < apart,
        "seam {seam:.2}, neighbouring columns {inside:.2}, columns apart {apart:.2}"
    );
    let inside_v = (1..255)
        .map(|r| dist(&row(&a, r - 1), &row(&a, r)))
        .sum::<f64>()
        / 254.0;
    let seam_v = dist(&row(&a, 255), &row(&below, 0));
    assert!(
        seam_v < 3.0 * inside_v + 3.0,
        "horizontal seam {seam_v:.2}, neighbouring rows {inside_v:.2}"
    );
    // GCJ-02 moves the picture.
    let g = png(
        &get(&format!("/tiles/density/{z}/{x}/{y}.png?datum=gcj02")).await,
        "gcj02",
    );
    assert!(a.pixels().zip(g.pixels()).filter(|(p, q)| p != q).count() > 1000);
}

#[tokio::test]
async fn raster_tilesets_have_tilejson_and_are_in_the_catalog() {
    let c = get("/tiles").await.json();
    let ids: Vec<&str> = c["tilesets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["atlas", "grade", "density"]);
    for s in ["grade", "density"] {
        let tj = get(&format!("/tiles/{s}.json?from=2022-01&to=2022-12"))
            .await
            .json();
        assert_eq!(tj["tilejson"], "3.0.0");
        assert_eq!(tj["format"], "png");
        let url = tj["tiles"][0].as_str().unwrap();
        assert!(
            url.ends_with(&format!(
                "/tiles/{s}/{{z}}/{{x}}/{{y}}.png?from=2022-01&to=2022-12"
            )),
            "{url}"
        );
        let leg = get(&format!("/styles/{s}/legend.json")).await.json();
        assert!(leg["items"].as_array().unwrap().len() >= 3);
        let img = png(
            &get(&format!("/styles/{s}/legend.png?lang=en")).await,
            "legend",
        );
        assert!(img.width() > 50 && img.height() > 50);
    }
}

#[tokio::test]
async fn wmts_capabilities_and_tiles_rest_and_kvp() {
    let r = get("/wmts/1.0.0/WMTSCapabilities.xml").await;
    assert_eq!(r.status, 200);
    let xml = String::from_utf8(r.body).unwrap();
    for needle in [
        "<ows:Identifier>grade</ows:Identifier>",
        "<ows:Identifier>density</ows:Identifier>",
        "<ows:Identifier>atlas</ows:Identifier>",
        "<Format>application/vnd.mapbox-vector-tile</Format>",
        "<ows:Identifier>WebMercatorQuad</ows:Identifier>",
        "<ows:Identifier>WorldCRS84Quad</ows:Identifier>",
        "urn:ogc:def:crs:EPSG::3857",
        "<TopLeftCorner>-180.0 90.0</TopLeftCorner>",
        // CGCS2000Quad: EPSG:4490 latitude first, levels from 1 as Tianditu's "c".
        "<ows:Identifier>CGCS2000Quad</ows:Identifier><ows:SupportedCRS>urn:ogc:def:crs:EPSG::4490</ows:SupportedCRS>",
        "<TileMatrix><ows:Identifier>1</ows:Identifier><ScaleDenominator>279541132.014358</ScaleDenominator><TopLeftCorner>90.0 -180.0</TopLeftCorner>",
    ] {
        assert!(xml.contains(needle), "{needle}");
    }
    assert_eq!(xml.matches("<TileMatrix>").count(), 3 * 19);
    let kvp = get("/wmts?service=WMTS&request=GetCapabilities").await;
    assert_eq!(String::from_utf8(kvp.body).unwrap(), xml);
    let (z, x, y) = common::tile_at(120.43, 36.165, 13);
    let xyz = get(&format!("/tiles/grade/{z}/{x}/{y}.png")).await;
    let rest = get(&format!(
        "/wmts/1.0.0/grade/default/WebMercatorQuad/{z}/{y}/{x}.png"
    ))
    .await;
    let kvp = get(&format!("/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=grade&STYLE=default&FORMAT=image/png&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}")).await;
    assert_eq!(xyz.body, rest.body);
    assert_eq!(xyz.body, kvp.body);
    let mvt = get(&format!(
        "/wmts/1.0.0/atlas/default/WebMercatorQuad/{z}/{y}/{x}.mvt"
    ))
    .await;
    assert_eq!(
        mvt.body,
        get(&format!("/tiles/atlas/{z}/{x}/{y}.mvt")).await.body
    );
    for (uri, status) in [
        ("/wmts?REQUEST=GetMap", 400),
        ("/wmts?SERVICE=WMS&REQUEST=GetCapabilities", 400),
        ("/wmts?REQUEST=GetTile&LAYER=grade&FORMAT=image/png&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX=3&TILEROW=0", 400),
        ("/wmts?REQUEST=GetTile&LAYER=grade&FORMAT=image/jpeg&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX=3&TILEROW=0&TILECOL=0", 400),
        ("/wmts?REQUEST=GetTile&LAYER=roads&FORMAT=image/png&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX=3&TILEROW=0&TILECOL=0", 404),
        ("/wmts?REQUEST=GetTile&LAYER=grade&FORMAT=image/png&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX=3&TILEROW=99&TILECOL=0", 400),
        ("/wmts/1.0.0/grade/fancy/WebMercatorQuad/3/0/0.png", 400),
        ("/wmts/1.0.0/grade/default/Nope/3/0/0.png", 404),
        ("/wmts/1.0.0/atlas/default/WebMercatorQuad/3/0/0.png", 400),
    ] {
        let r = get(uri).await;
        assert_eq!(r.status, status, "{uri}: {}", String::from_utf8_lossy(&r.body));
        assert!(r.json()["error"]["message"].is_string(), "{uri}");
    }
}

#[test]
fn gdal_opens_the_wmts_and_fetches_tiles() {
    let (mut child, url) = common::serve_city(0.25, 101);
    let caps = format!("WMTS:{url}/wmts/1.0.0/WMTSCapabilities.xml");
    let out = Command::new("gdalinfo").arg(&caps).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Three layers in three tile matrix sets.
    assert_eq!(text.matches("_NAME=WMTS:").count(), 9, "{text}");
    // CGCS2000Quad is EPSG:4490 to GDAL, Tianditu's numbering.
    let out = Command::new("gdalinfo")
        .arg(format!("{caps},layer=grade,tilematrixset=CGCS2000Quad"))
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && info.contains("ID[\"EPSG\",4490]"),
        "{info}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    for (layer, tms, win) in [
        (
            "grade",
            "WebMercatorQuad",
            ["13404000", "4326000", "13410000", "4320000"],
        ),
        (
            "density",
            "WorldCRS84Quad",
            ["120.40", "36.18", "120.46", "36.14"],
        ),
        (
            "grade",
            "CGCS2000Quad",
            ["120.40", "36.18", "120.46", "36.14"],
        ),
    ] {
        let out_png = dir.path().join(format!("{layer}-{tms}.png"));
        let st = Command::new("gdal_translate")
            .args(["-q", "-of", "PNG", "-outsize", "256", "256", "-projwin"])
            .args(win)
            .arg(format!("{caps},layer={layer},tilematrixset={tms}"))
            .arg(&out_png)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        let img = image::open(&out_png).unwrap().to_rgba8();
        assert!(
            visible(&img) > 2000,
            "{layer} in {tms}: {} visible pixels",
            visible(&img)
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn the_vector_tile_server_answers_as_esri_publishes_it() {
    let root = "/arcgis/rest/services/atlas/VectorTileServer";
    let s = get(&format!("{root}?f=json")).await.json();
    assert!(s["currentVersion"].is_number());
    assert_eq!(s["capabilities"], "TilesOnly");
    assert_eq!(s["type"], "indexedVector");
    // No tile map: the SDK reads a `[1]` root as "the data ends at level 1".
    assert!(s.get("tileMap").is_none(), "{s}");
    assert_eq!(get(&format!("{root}/tilemap")).await.status, 404);
    assert_eq!(s["defaultStyles"], "resources/styles");
    assert_eq!(s["tiles"], serde_json::json!(["tile/{z}/{y}/{x}.pbf"]));
    for k in ["initialExtent", "fullExtent"] {
        let e = &s[k];
        assert!(e["xmin"].as_f64().unwrap() < e["xmax"].as_f64().unwrap());
        assert_eq!(e["spatialReference"]["wkid"], 102_100);
    }
    let ti = &s["tileInfo"];
    assert_eq!(
        (
            ti["rows"].as_u64(),
            ti["cols"].as_u64(),
            ti["format"].as_str()
        ),
        (Some(512), Some(512), Some("pbf"))
    );
    assert_eq!(ti["spatialReference"]["latestWkid"], 3857);
    let lods = ti["lods"].as_array().unwrap();
    assert_eq!(lods.len(), 19);
    for w in lods.windows(2) {
        let (a, b) = (
            w[0]["resolution"].as_f64().unwrap(),
            w[1]["resolution"].as_f64().unwrap(),
        );
        assert!((a / b - 2.0).abs() < 1e-9);
    }
    assert!((lods[0]["scale"].as_f64().unwrap() - 295_828_763.795_777_5).abs() < 1.0);
    // Tiles: row before column, the same bytes as the XYZ path.
    let (z, x, y) = common::tile_at(120.43, 36.165, 14);
    let esri = get(&format!("{root}/tile/{z}/{y}/{x}.pbf")).await;
    assert_eq!(esri.status, 200);
    assert_eq!(
        esri.body,
        get(&format!("/tiles/atlas/{z}/{x}/{y}.mvt")).await.body
    );
    // The style: Esri's relative source and glyphs, valid by the style specification.
    let st = get(&format!("{root}/resources/styles/root.json"))
        .await
        .json();
    assert_eq!(st["sources"]["esri"]["url"], "../../");
    assert_eq!(st["glyphs"], "../fonts/{fontstack}/{range}.pbf");
    assert!(st["layers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l.get("source").is_none_or(|s| s == "esri")));
    let glyphs = get(&format!(
        "{root}/resources/fonts/Noto%20Sans%20CJK%20SC%20Regular/0-255.pbf"
    ))
    .await;
    assert_eq!(glyphs.status, 200);
    let validator = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tools/node_modules/.bin/gl-style-validate");
    assert!(
        validator.exists(),
        "gl-style-validate is missing: run scripts/test (npm ci in tools/)"
    );
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("root.json");
    std::fs::write(&f, serde_json::to_vec(&st).unwrap()).unwrap();
    let out = Command::new(&validator).arg(&f).output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let tm = get(&format!("{root}/tilemap/3/0/0/4/2")).await.json();
    assert_eq!(tm["data"].as_array().unwrap().len(), 8);
    assert_eq!(get(&format!("{root}/tilemap/3/0/0/x/2")).await.status, 400);
    assert_eq!(
        get(&format!("{root}/resources/info")).await.json()["styleVersion"],
        8
    );
}

/// The grade and density maps as Esri tiled MapServers: service JSON with `tileInfo` as ArcGIS
/// Server writes it, tiles row before column with the bytes of the XYZ path.
#[tokio::test]
async fn the_map_servers_answer_as_esri_publishes_them() {
    for style in ["grade", "density"] {
        let root = format!("/arcgis/rest/services/{style}/MapServer");
        let s = get(&format!("{root}?f=json")).await.json();
        assert_eq!(s["singleFusedMapCache"], true);
        assert_eq!(s["spatialReference"]["latestWkid"], 3857);
        let ti = &s["tileInfo"];
        assert_eq!(
            (ti["rows"].as_u64(), ti["cols"].as_u64()),
            (Some(256), Some(256))
        );
        assert_eq!(ti["format"], "PNG32");
        let lods = ti["lods"].as_array().unwrap();
        assert_eq!(lods.len(), 20);
        assert!((lods[0]["resolution"].as_f64().unwrap() - 156_543.033_928).abs() < 1e-3);
        for w in lods.windows(2) {
            let (a, b) = (
                w[0]["scale"].as_f64().unwrap(),
                w[1]["scale"].as_f64().unwrap(),
            );
            assert!((a / b - 2.0).abs() < 1e-9);
        }
        let e = &s["fullExtent"];
        assert!(e["xmin"].as_f64().unwrap() < e["xmax"].as_f64().unwrap());
        let (z, x, y) = common::tile_at(120.43, 36.165, 14);
        let esri = get(&format!("{root}/tile/{z}/{y}/{x}")).await;
        assert_eq!(esri.status, 200);
        assert_eq!(esri.headers["content-type"], "image/png");
        assert_eq!(
            esri.body,
            get(&format!("/tiles/{style}/{z}/{x}/{y}.png")).await.body
        );
        // What ArcGIS clients add (and ArcGIS Server ignores) is ignored; our parameters hold.
        let with_esri = get(&format!("{root}/tile/{z}/{y}/{x}?blankTile=false&f=image")).await;
        assert_eq!(with_esri.body, esri.body);
        assert_eq!(
            get(&format!("{root}/tile/{z}/{y}/{x}?color=red"))
                .await
                .status,
            400
        );
    }
    let none = get("/arcgis/rest/services/roads/MapServer").await;
    assert_eq!(none.status, 404);
    // Esri's error object on the Esri paths: a numeric code and details.
    assert_eq!(none.json()["error"]["code"], 404);
    assert!(none.json()["error"]["details"].is_array());
    assert!(String::from_utf8_lossy(&none.body).contains("grade/MapServer"));
    assert_eq!(
        get("/arcgis/rest/services/grade/MapServer/tile/30/0/0")
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn static_maps_draw_an_area_or_a_compound_with_legend_and_scale() {
    let img = png(
        &get("/api/map.png?bbox=120.38,36.14,120.48,36.22&width=640&height=480").await,
        "bbox",
    );
    assert_eq!(img.dimensions(), (640, 480));
    assert!(
        img.pixels().all(|p| p[3] == 255),
        "a report picture is opaque"
    );
    let colours: std::collections::HashSet<[u8; 3]> = img
        .pixels()
        .map(|p| [p[0] / 32, p[1] / 32, p[2] / 32])
        .collect();
    assert!(
        colours.len() > 10,
        "grades, outlines, legend and text: {} colours",
        colours.len()
    );
    let fc = get("/api/compounds?q=%E9%87%91%E7%A7%8B%E6%A1%82%E5%9B%AD&limit=1")
        .await
        .json();
    let id = fc["features"][0]["id"].as_i64().unwrap();
    let img = png(
        &get(&format!(
            "/api/map.png?compound={id}&style=density&width=500&height=400&lang=en"
        ))
        .await,
        "compound",
    );
    assert_eq!(img.dimensions(), (500, 400));
    let dark_red = img
        .pixels()
        .filter(|p| p[0] > 120 && p[1] < 40 && p[2] < 40)
        .count();
    assert!(
        dark_red > 50,
        "金秋桂园's buildings in the top density class: {dark_red} pixels"
    );
    for (uri, status) in [
        ("/api/map.png?bbox=120.3,36.0,120.4,36.1&width=5000", 400),
        ("/api/map.png?bbox=120.3,36.0,120.4,36.1&height=10", 400),
        (
            "/api/map.png?bbox=120.3,36.0,120.4,36.1&style=satellite",
            400,
        ),
        ("/api/map.png?bbox=120.3,36.0,120.4", 400),
        ("/api/map.png?bbox=120.4,36.0,120.3,36.1", 400),
        ("/api/map.png?bbox=100,20,120,40", 400),
        ("/api/map.png", 400),
        ("/api/map.png?compound=999999999", 404),
        ("/api/map.png?compound=1&bbox=120.3,36.0,120.4,36.1", 400),
        ("/api/map.png?compound=abc", 400),
        ("/styles/satellite/legend.png", 404),
        ("/styles/grade/legend.svg", 404),
        ("/tiles/grade/3/99/0.png", 400),
        ("/tiles/grade/3/0/0.jpg", 404),
        ("/tiles/grade/3/0/0@3x.png", 400),
        ("/tiles/roads/3/0/0.png", 404),
        ("/tiles/grade/3/0/0.png?from=2023-99", 400),
    ] {
        let r = get(uri).await;
        assert_eq!(
            r.status,
            status,
            "{uri}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let v: Value = r.json();
        assert!(v["error"]["message"].is_string(), "{uri}");
    }
}
