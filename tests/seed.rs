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
