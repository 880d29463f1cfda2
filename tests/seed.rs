//! `atlas seed`: archives GDAL reads, the same tiles the server serves, and MBTiles seeding
//! that resumes where it stopped.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the exact values it expects and takes the defaults its calls need

mod common;

use std::io::Read;

fn seed(data: &std::path::Path, out: &std::path::Path, maxzoom: u8) -> serde_json::Value {
    let o = common::atlas()
        .args([
            "seed",
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--minzoom",
            "9",
            "--maxzoom",
        ])
        .arg(maxzoom.to_string())
        .args(["--bbox", "120.30,36.03,120.45,36.15"])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[tokio::test]
async fn seeded_archives_hold_the_served_tiles_and_mbtiles_resumes() {
    let data = common::copy_dir(&common::city(0.05, 81));
    // Load the complaints (serve does it on first start; the CLI import does it here).
    let o = common::atlas()
        .args([
            "import",
            data.join("complaints.csv").to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(o.status.success());
    let dir = tempfile::tempdir().unwrap();
    let mb = dir.path().join("atlas.mbtiles");
    let first = seed(&data, &mb, 11);
    assert!(first["tiles_written"].as_u64().unwrap() > 5, "{first}");
    let again = seed(&data, &mb, 12);
    // Empty tiles are not stored, so only the written ones count as already there.
    assert_eq!(
        again["tiles_already_there"], first["tiles_written"],
        "{again}"
    );
    // GDAL reads it as a vector tileset.
    let o = std::process::Command::new("ogrinfo")
        .args(["-ro", "-so", "-oo", "ZOOM_LEVEL=12"])
        .arg(&mb)
        .output()
        .expect("ogrinfo (gdal-bin, installed by scripts/test)");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && text.contains("compounds") && text.contains("districts"),
        "{text}"
    );

    // PMTiles: read back with the pmtiles crate, tile for tile equal to what the server answers.
    let pm = dir.path().join("atlas.pmtiles");
    let r = seed(&data, &pm, 12);
    assert!(r["tiles_written"].as_u64().unwrap() > 10);
    let backend = pmtiles::MmapBackend::try_from(&pm).await.unwrap();
    let reader = pmtiles::AsyncPmTilesReader::try_from_source(backend)
        .await
        .unwrap();
    let store: std::sync::Arc<dyn compound_atlas::store::Store> =
        std::sync::Arc::new(compound_atlas::store::embedded::EmbeddedStore::open(&data).unwrap());
    let app = compound_atlas::app(compound_atlas::AppState::for_store(store));
    use tower::ServiceExt;
    let mut compared = 0;
    for (x, y) in [(3417u32, 1607u32), (3418, 1607), (3417, 1608)] {
        let Some(gz) = reader
            .get_tile(pmtiles::TileCoord::new(12, x, y).unwrap())
            .await
            .unwrap()
        else {
            continue;
        };
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut raw)
            .unwrap();
        let req = axum::http::Request::get(format!("/tiles/atlas/12/{x}/{y}.mvt"))
            .body(axum::body::Body::empty())
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(raw, body.to_vec(), "12/{x}/{y}");
        compared += 1;
    }
    assert!(compared > 0, "no seeded tile to compare");
}

#[tokio::test]
async fn the_server_serves_seeded_archives_as_tilesets() {
    let data = common::imported_city(0.05, 82);
    let dir = tempfile::tempdir().unwrap();
    seed(&data, &dir.path().join("seed-mb.mbtiles"), 12);
    seed(&data, &dir.path().join("seed-pm.pmtiles"), 12);
    let store: std::sync::Arc<dyn compound_atlas::store::Store> =
        std::sync::Arc::new(compound_atlas::store::embedded::EmbeddedStore::open(&data).unwrap());
    let state = compound_atlas::AppState::for_store(store)
        .with_archives(compound_atlas::serving::served::open_dir(dir.path()).await);
    assert_eq!(state.archives.len(), 2);
    let app = compound_atlas::app(state);
    let catalog = common::call(&app, "GET", "/tiles", &[], vec![])
        .await
        .json();
    let ids: Vec<&str> = catalog["tilesets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"seed-mb") && ids.contains(&"seed-pm"),
        "{ids:?}"
    );
    let mut compared = 0;
    for (x, y) in [(3417u32, 1607u32), (3418, 1607), (3417, 1608)] {
        let live = common::call(
            &app,
            "GET",
            &format!("/tiles/atlas/12/{x}/{y}.mvt"),
            &[],
            vec![],
        )
        .await;
        for name in ["seed-mb", "seed-pm"] {
            let plain = common::call(
                &app,
                "GET",
                &format!("/tiles/{name}/12/{x}/{y}.mvt"),
                &[],
                vec![],
            )
            .await;
            assert_eq!(plain.status, live.status, "{name} 12/{x}/{y}");
            if live.status != 200 {
                continue;
            }
            assert_eq!(plain.body, live.body, "{name} 12/{x}/{y} inflated");
            let gz = common::call(
                &app,
                "GET",
                &format!("/tiles/{name}/12/{x}/{y}.mvt"),
                &[("accept-encoding", "gzip")],
                vec![],
            )
            .await;
            assert_eq!(gz.headers["content-encoding"], "gzip");
            let mut raw = Vec::new();
            flate2::read::GzDecoder::new(&gz.body[..])
                .read_to_end(&mut raw)
                .unwrap();
            assert_eq!(raw, live.body, "{name} 12/{x}/{y} as stored");
            compared += 1;
        }
    }
    assert!(compared >= 2);
    let tj = common::call(&app, "GET", "/tiles/seed-pm.json", &[], vec![])
        .await
        .json();
    assert_eq!(tj["maxzoom"], 12);
    assert!(tj["tiles"][0]
        .as_str()
        .unwrap()
        .ends_with("/tiles/seed-pm/{z}/{x}/{y}.mvt"));
    assert_eq!(
        common::call(&app, "GET", "/tiles/seed-mb/14/13670/6429.mvt", &[], vec![])
            .await
            .status,
        204,
        "outside the seeded zooms"
    );
    assert_eq!(
        common::call(&app, "GET", "/tiles/seed-mb/12/3417/1607.png", &[], vec![])
            .await
            .status,
        404
    );
    assert_eq!(
        common::call(
            &app,
            "GET",
            "/tiles/seed-mb/12/3417/1607.mvt?from=2020-01",
            &[],
            vec![]
        )
        .await
        .status,
        400
    );
    assert_eq!(
        common::call(
            &app,
            "GET",
            "/tiles/seed-mb/WorldCRS84Quad/12/3417/1607.mvt",
            &[],
            vec![]
        )
        .await
        .status,
        404
    );
}

/// The building and unit counts in every tile of an MBTiles archive: (counts shown, features
/// withheld).
fn archive_counts(mb: &std::path::Path) -> (Vec<u64>, usize) {
    use geozero::mvt::{Message, Tile};
    let db = rusqlite::Connection::open(mb).unwrap();
    let mut q = db.prepare("SELECT tile_data FROM tiles").unwrap();
    let blobs: Vec<Vec<u8>> = q
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(!blobs.is_empty(), "{} holds no tile", mb.display());
    let (mut shown, mut withheld) = (Vec::new(), 0);
    for gz in blobs {
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut raw)
            .unwrap();
        let tile = Tile::decode(&raw[..]).unwrap();
        for l in tile
            .layers
            .iter()
            .filter(|l| l.name == "buildings" || l.name == "units")
        {
            for f in &l.features {
                for kv in f.tags.chunks(2) {
                    let (k, v) = (&l.keys[kv[0] as usize], &l.values[kv[1] as usize]);
                    match k.as_str() {
                        "complaints" => shown.push(v.uint_value.unwrap()),
                        "suppressed" if v.bool_value == Some(true) => withheld += 1,
                        _ => {}
                    }
                }
            }
        }
    }
    (shown, withheld)
}

/// Seeded archives are public: they withhold small counts under the configured
/// `[privacy] min_count`, not a minimum of their own.
#[test]
fn seeding_withholds_small_counts_under_the_configured_minimum() {
    let data = common::imported_city(0.05, 81);
    let dir = tempfile::tempdir().unwrap();
    let seed_with = |min_count: Option<u64>, name: &str| {
        let config = dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &config,
            min_count.map_or(String::new(), |n| format!("[privacy]\nmin_count = {n}\n")),
        )
        .unwrap();
        let out = dir.path().join(format!("{name}.mbtiles"));
        let o = common::atlas()
            .args(["--config", config.to_str().unwrap(), "seed", "--data"])
            .arg(&data)
            .arg("--out")
            .arg(&out)
            .args(["--minzoom", "14", "--maxzoom", "16"])
            .args(["--bbox", "120.33,36.05,120.42,36.12"])
            .args(["--from", "2023-01", "--to", "2023-06"])
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        archive_counts(&out)
    };
    // The default minimum (3) shows counts of 3 and 4 here: the case below is not vacuous.
    let (shown, withheld) = seed_with(None, "default");
    assert!(withheld > 0, "no small count at all in the default archive");
    assert!(
        shown.iter().all(|n| *n == 0 || *n >= 3),
        "default archive shows a count under 3"
    );
    assert!(
        shown.iter().any(|n| (3..5).contains(n)),
        "the default archive has no count of 3 or 4 to withhold at 5: {:?}",
        &shown[..shown.len().min(40)]
    );
    let (shown5, withheld5) = seed_with(Some(5), "five");
    let small: Vec<_> = shown5.iter().filter(|n| (1..5).contains(*n)).collect();
    assert!(
        small.is_empty(),
        "min_count = 5, yet the archive shows {} counts between 1 and 4",
        small.len()
    );
    assert!(
        withheld5 > withheld,
        "{withheld5} withheld at 5, {withheld} at 3"
    );
}
