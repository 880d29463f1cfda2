//! MapLibre Tiles: the `atlas` tileset as MLT holds the same layers, features, ids, properties
//! and geometry as its MVT, read back by mlt-core's decoder and by an independent one (PyPI's
//! `maplibre-tiles`); chosen by `.mlt` or by `Accept`; in TileJSON, styles and seeded
//! archives; and smaller than MVT.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the exact values it expects and takes the defaults its calls need

mod common;

use common::Resp;
use compound_atlas::AppState;
use geo::CoordsIter;
use geozero::mvt::{tile, Message, Tile};
use geozero::ToGeo;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The embedded demo city of tests/tiles.rs, shared by this file's tests.
fn app() -> axum::Router {
    common::shared_app(0.25, 61)
}

async fn get(uri: &str, headers: &[(&str, &str)]) -> Resp {
    common::call(&app(), "GET", uri, headers, Vec::new()).await
}

/// One feature as both decoders can tell it: id, non-null properties (numbers as f64), and
/// every vertex in tile coordinates.
#[derive(Debug, PartialEq)]
struct Feat {
    id: Option<u64>,
    props: BTreeMap<String, Value>,
    coords: Vec<(i32, i32)>,
}

fn number(x: f64) -> Value {
    json!(x)
}

fn mvt_value(v: &tile::Value) -> Value {
    if let Some(s) = &v.string_value {
        return json!(s);
    }
    if let Some(b) = v.bool_value {
        return json!(b);
    }
    let x = v
        .double_value
        .or(v.float_value.map(f64::from))
        .or(v.int_value.map(|x| x as f64))
        .or(v.uint_value.map(|x| x as f64))
        .or(v.sint_value.map(|x| x as f64))
        .unwrap();
    number(x)
}

/// Layers of an MVT tile (by geozero), in order.
fn mvt_layers(bytes: &[u8]) -> Vec<(String, u32, Vec<Feat>)> {
    let t = Tile::decode(bytes).unwrap();
    t.layers
        .iter()
        .filter(|l| !l.features.is_empty())
        .map(|l| {
            let feats = l
                .features
                .iter()
                .map(|f| {
                    let props = f
                        .tags
                        .chunks(2)
                        .map(|kv| {
                            (
                                l.keys[kv[0] as usize].clone(),
                                mvt_value(&l.values[kv[1] as usize]),
                            )
                        })
                        .collect();
                    let g = f.to_geo().unwrap();
                    Feat {
                        id: f.id,
                        props,
                        coords: g
                            .coords_iter()
                            .map(|c| (c.x.round() as i32, c.y.round() as i32))
                            .collect(),
                    }
                })
                .collect();
            (l.name.clone(), l.extent.unwrap_or(4096), feats)
        })
        .collect()
}

fn mlt_value(v: &mlt_core::PropValue) -> Option<Value> {
    use mlt_core::PropValue as P;
    Some(match v {
        P::Bool(b) => json!((*b)?),
        P::I8(x) => number(f64::from((*x)?)),
        P::U8(x) => number(f64::from((*x)?)),
        P::I32(x) => number(f64::from((*x)?)),
        P::U32(x) => number(f64::from((*x)?)),
        P::I64(x) => number((*x)? as f64),
        P::U64(x) => number((*x)? as f64),
        P::F32(x) => number(f64::from((*x)?)),
        P::F64(x) => number((*x)?),
        P::Str(s) => json!(s.clone()?),
    })
}

/// Layers of an MLT tile (by mlt-core's decoder), in order.
fn mlt_layers(bytes: &[u8]) -> Vec<(String, u32, Vec<Feat>)> {
    let layers = mlt_core::Parser::default().parse_layers(bytes).unwrap();
    let mut dec = mlt_core::Decoder::default();
    layers
        .into_iter()
        .map(|l| {
            let mlt_core::Layer::Tag01(l) = l else {
                panic!("a layer of an unknown tag")
            };
            let t = l.into_tile(&mut dec).unwrap();
            let names = t.property_names().to_vec();
            let feats = t
                .features()
                .iter()
                .map(|f| Feat {
                    id: f.id(),
                    props: names
                        .iter()
                        .zip(f.properties())
                        .filter_map(|(n, v)| Some((n.clone(), mlt_value(v)?)))
                        .collect(),
                    coords: f.geometry().coords_iter().map(|c| (c.x, c.y)).collect(),
                })
                .collect();
            (t.name().to_string(), t.extent().get(), feats)
        })
        .collect()
}

/// Tiles from the whole city (z8) to a block (z16), around the city's middle.
fn addresses() -> Vec<(u32, u64, u64)> {
    [8, 10, 12, 13, 14, 15, 16]
        .into_iter()
        .map(|z| common::tile_at(120.39, 36.08, z))
        .collect()
}

#[tokio::test]
async fn mlt_tiles_hold_the_same_features_as_mvt() {
    let (mut mvt_bytes, mut mlt_bytes, mut features) = (0, 0, 0);
    for (z, x, y) in addresses() {
        let mvt = get(&format!("/tiles/atlas/{z}/{x}/{y}.mvt"), &[]).await;
        let mlt = get(&format!("/tiles/atlas/{z}/{x}/{y}.mlt"), &[]).await;
        assert_eq!(mvt.status, 200, "{z}/{x}/{y}");
        assert_eq!(mlt.status, 200, "{z}/{x}/{y}");
        assert_eq!(
            mlt.headers["content-type"], "application/vnd.maplibre-tile",
            "{z}/{x}/{y}"
        );
        let a = mvt_layers(&mvt.body);
        let b = mlt_layers(&mlt.body);
        let names =
            |l: &[(String, u32, Vec<Feat>)]| l.iter().map(|l| l.0.clone()).collect::<Vec<_>>();
        assert_eq!(names(&a), names(&b), "{z}/{x}/{y}: layers");
        for ((name, extent, fa), (_, extent_b, fb)) in a.iter().zip(&b) {
            assert_eq!(extent, extent_b, "{z}/{x}/{y} {name}: extent");
            assert_eq!(fa.len(), fb.len(), "{z}/{x}/{y} {name}: features");
            for (i, (p, q)) in fa.iter().zip(fb).enumerate() {
                assert_eq!(p, q, "{z}/{x}/{y} {name}: feature {i}");
            }
            features += fa.len();
        }
        mvt_bytes += mvt.body.len();
        mlt_bytes += mlt.body.len();
    }
    assert!(features > 500, "{features} features compared");
    // The format's promise on our tiles: smaller than MVT (measured ~35–40% here; the figures
    // per zoom are in benches/tiles.sh's output).
    assert!(
        (mlt_bytes as f64) < 0.8 * mvt_bytes as f64,
        "MLT {mlt_bytes} bytes against MVT {mvt_bytes}"
    );
}

#[tokio::test]
async fn accept_chooses_mlt_and_the_answer_varies_by_it() {
    let (z, x, y) = common::tile_at(120.39, 36.08, 14);
    let uri = format!("/tiles/atlas/{z}/{x}/{y}.mvt");
    let mlt = get(&format!("/tiles/atlas/{z}/{x}/{y}.mlt"), &[]).await;
    for accept in [
        "application/vnd.maplibre-tile",
        "application/vnd.maplibre-vector-tile",
        "application/vnd.maplibre-tile, application/vnd.mapbox-vector-tile;q=0.9",
    ] {
        let r = get(&uri, &[("accept", accept)]).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.headers["content-type"], "application/vnd.maplibre-tile",
            "{accept}"
        );
        assert_eq!(r.body, mlt.body, "{accept}");
        assert!(
            r.headers["vary"].to_str().unwrap().contains("accept"),
            "{accept}"
        );
    }
    for accept in [
        "*/*",
        "application/vnd.mapbox-vector-tile",
        "application/x-protobuf, application/vnd.maplibre-tile;q=0.5",
        "application/vnd.maplibre-tile;q=0",
    ] {
        let r = get(&uri, &[("accept", accept)]).await;
        assert_eq!(
            r.headers["content-type"], "application/vnd.mapbox-vector-tile",
            "{accept}"
        );
        Tile::decode(&r.body[..]).unwrap();
    }
    // Compressed like MVT for clients that take it, each coding its own ETag.
    let gz = get(
        &format!("/tiles/atlas/{z}/{x}/{y}.mlt"),
        &[("accept-encoding", "gzip")],
    )
    .await;
    assert_eq!(gz.headers["content-encoding"], "gzip");
    assert_ne!(gz.headers["etag"], mlt.headers["etag"]);
    // Revalidation.
    let etag = mlt.headers["etag"].to_str().unwrap().to_string();
    let again = get(
        &format!("/tiles/atlas/{z}/{x}/{y}.mlt"),
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(again.status, 304);
}

#[tokio::test]
async fn tilejson_styles_and_catalog_offer_mlt_and_bad_encodings_get_a_400() {
    let j = get(
        "/tiles/atlas.json?encoding=mlt&from=2022-01&to=2022-12",
        &[("host", "maps.example")],
    )
    .await
    .json();
    assert_eq!(j["encoding"], "mlt");
    assert_eq!(
        j["tiles"][0],
        "http://maps.example/tiles/atlas/{z}/{x}/{y}.mlt?from=2022-01&to=2022-12"
    );
    let plain = get("/tiles/atlas.json", &[]).await.json();
    assert_eq!(plain["encoding"], "mvt");
    let s = get(
        "/styles/grade.json?encoding=mlt&from=2022-01",
        &[("host", "maps.example")],
    )
    .await
    .json();
    assert_eq!(s["sources"]["atlas"]["encoding"], "mlt");
    assert_eq!(
        s["sources"]["atlas"]["url"],
        "http://maps.example/tiles/atlas.json?encoding=mlt&from=2022-01"
    );
    let s = get("/styles/density.json", &[]).await.json();
    assert!(s["sources"]["atlas"].get("encoding").is_none());
    let c = get("/tiles", &[]).await.json();
    assert!(c["tilesets"][0]["mlt"]["tiles"]
        .as_str()
        .unwrap()
        .ends_with("{y}.mlt"));
    for uri in [
        "/tiles/atlas.json?encoding=webp",
        "/tiles/atlas.json?encoding=mlt&encoding=mvt",
        "/tiles/grade.json?encoding=mlt",
        "/styles/grade.json?encoding=geojson",
    ] {
        let r = get(uri, &[]).await;
        assert_eq!(r.status, 400, "{uri}");
        assert!(
            r.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains("encoding"),
            "{uri}"
        );
    }
    let r = get("/tiles/grade/12/3400/1550.mlt", &[]).await;
    assert_eq!(r.status, 404);
    assert!(String::from_utf8_lossy(&r.body).contains(".png"));
}

/// PyPI's `maplibre-tiles` (installed into tools/venv by scripts/test) reads our MLT tiles
/// back with the same layers, ids, properties and vertex bounds as the MVT tiles hold.
#[tokio::test]
async fn an_independent_decoder_reads_the_mlt_tiles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let py = root.join("tools/venv/bin/python");
    assert!(
        py.exists(),
        "tools/venv is missing: run scripts/test, which installs maplibre-tiles there"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let mut expected = Vec::new();
    for (z, x, y) in addresses() {
        let mlt = get(&format!("/tiles/atlas/{z}/{x}/{y}.mlt"), &[]).await;
        let mvt = get(&format!("/tiles/atlas/{z}/{x}/{y}.mvt"), &[]).await;
        let f = dir.path().join(format!("{z}-{x}-{y}.mlt"));
        std::fs::write(&f, &mlt.body).unwrap();
        files.push(f);
        expected.push(mvt_layers(&mvt.body));
    }
    let out = std::process::Command::new(&py)
        .arg(root.join("tools/mlt-decode.py"))
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "maplibre-tiles failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut compared = 0;
    for (doc, want) in docs.as_array().unwrap().iter().zip(&expected) {
        let got = doc["layers"].as_array().unwrap();
        let file = doc["file"].as_str().unwrap();
        assert_eq!(got.len(), want.len(), "{file}: layers");
        for (g, (name, extent, feats)) in got.iter().zip(want) {
            assert_eq!(g["name"], json!(name), "{file}");
            assert_eq!(g["extent"], json!(extent), "{file} {name}");
            let gf = g["features"].as_array().unwrap();
            assert_eq!(gf.len(), feats.len(), "{file} {name}: features");
            for (i, (a, b)) in gf.iter().zip(feats).enumerate() {
                assert_eq!(a["id"], json!(b.id), "{file} {name} {i}: id");
                let props: BTreeMap<String, Value> = a["properties"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| {
                        let v = v.as_f64().map_or_else(|| v.clone(), number);
                        (k.clone(), v)
                    })
                    .collect();
                // Numbers within a unit or two in the last place: the decoder prints each
                // double exactly (Python's shortest repr), but serde_json (built without
                // `float_roundtrip`) may read one back a unit off — the hot-spot cells' full
                // doubles (gi_z, gi_p, gi_q) show it.
                let same = |x: &Value, y: &Value| match (x.as_f64(), y.as_f64()) {
                    (Some(x), Some(y)) => {
                        (x - y).abs() <= 4.0 * f64::EPSILON * x.abs().max(y.abs())
                    }
                    _ => x == y,
                };
                assert!(
                    props.len() == b.props.len()
                        && props
                            .iter()
                            .all(|(k, v)| b.props.get(k).is_some_and(|w| same(v, w))),
                    "{file} {name} {i}: properties {props:?} against {:?}",
                    b.props
                );
                assert_eq!(
                    a["vertices"],
                    json!(b.coords.len()),
                    "{file} {name} {i}: vertices"
                );
                let xs = b.coords.iter().map(|c| f64::from(c.0));
                let ys = b.coords.iter().map(|c| f64::from(c.1));
                let bounds = json!([
                    xs.clone().fold(f64::INFINITY, f64::min),
                    ys.clone().fold(f64::INFINITY, f64::min),
                    xs.fold(f64::NEG_INFINITY, f64::max),
                    ys.fold(f64::NEG_INFINITY, f64::max)
                ]);
                assert_eq!(a["bounds"], bounds, "{file} {name} {i}: bounds");
                compared += 1;
            }
        }
    }
    assert!(compared > 500, "{compared} features compared");
}

/// `atlas seed --encoding mlt`: a PMTiles archive of tile type MLT and an MBTiles of format
/// `mlt`, served as `.mlt` tilesets with the same bytes the server makes live.
#[tokio::test]
async fn seeded_mlt_archives_hold_the_served_tiles() {
    let data = common::imported_city(0.05, 63);
    let dir = tempfile::tempdir().unwrap();
    for file in ["mlt-pm.pmtiles", "mlt-mb.mbtiles"] {
        let o = common::atlas()
            .args(["seed", "--data", data.to_str().unwrap(), "--out"])
            .arg(dir.path().join(file))
            .args(["--minzoom", "10", "--maxzoom", "12", "--encoding", "mlt"])
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let bad = common::atlas()
        .args(["seed", "--data", data.to_str().unwrap(), "--out"])
        .arg(dir.path().join("x.pmtiles"))
        .args(["--encoding", "webp"])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("mvt or mlt"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );

    let pm = dir.path().join("mlt-pm.pmtiles");
    let backend = pmtiles::MmapBackend::try_from(&pm).await.unwrap();
    let reader = pmtiles::AsyncPmTilesReader::try_from_source(backend)
        .await
        .unwrap();
    assert_eq!(reader.get_header().tile_type, pmtiles::TileType::Mlt);

    let store: std::sync::Arc<dyn compound_atlas::store::Store> =
        std::sync::Arc::new(compound_atlas::store::embedded::EmbeddedStore::open(&data).unwrap());
    let state = AppState::for_store(store)
        .with_archives(compound_atlas::serving::served::open_dir(dir.path()).await);
    assert_eq!(state.archives.len(), 2);
    let app = compound_atlas::app(state);
    let call = |uri: String| {
        let app = app.clone();
        async move { common::call(&app, "GET", &uri, &[], vec![]).await }
    };
    let mut compared = 0;
    for name in ["mlt-pm", "mlt-mb"] {
        let tj = call(format!("/tiles/{name}.json")).await.json();
        assert_eq!(tj["encoding"], "mlt", "{name}");
        assert!(
            tj["tiles"][0].as_str().unwrap().ends_with("{y}.mlt"),
            "{name}"
        );
        for z in [10, 11, 12] {
            let (z, x, y) = common::tile_at(120.39, 36.08, z);
            let live = call(format!("/tiles/atlas/{z}/{x}/{y}.mlt")).await;
            let got = call(format!("/tiles/{name}/{z}/{x}/{y}.mlt")).await;
            assert_eq!(got.status, 200, "{name} {z}/{x}/{y}");
            assert_eq!(got.headers["content-type"], "application/vnd.maplibre-tile");
            assert_eq!(
                got.body, live.body,
                "{name} {z}/{x}/{y}: the seeded tile is the live one"
            );
            compared += 1;
        }
        let (z, x, y) = common::tile_at(120.39, 36.08, 12);
        let r = call(format!("/tiles/{name}/{z}/{x}/{y}.mvt")).await;
        assert_eq!(r.status, 404);
        assert!(String::from_utf8_lossy(&r.body).contains(".mlt"));
    }
    assert_eq!(compared, 6);
}
