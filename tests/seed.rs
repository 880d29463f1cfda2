//! `atlas seed`: archives GDAL reads, the same tiles the server serves, and MBTiles seeding
//! that resumes where it stopped.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message

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
        .with_archives(compound_atlas::tile::served::open_dir(dir.path()).await);
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
