//! Several servers over one PostGIS: a complaint import or a grade override through one
//! server drops the other's cached tiles of that area (LISTEN/NOTIFY), and the other's figures
//! follow; tiles elsewhere stay cached.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the exact values it expects and takes the defaults its calls need

mod common;

use common::call;
use compound_atlas::store::{postgis::PostgisStore, Store};
use std::time::{Duration, Instant};

use common::postgis_server as server;

#[tokio::test]
async fn an_import_through_one_server_refreshes_the_other() {
    let city = common::city(0.05, 121);
    let url = common::fresh_db("scale").await;
    // The city in the shared database.
    let seed = PostgisStore::connect_lazy(&url, &Default::default()).unwrap();
    seed.migrate().await.unwrap();
    seed.import(
        compound_atlas::ingest::read_paths(std::slice::from_ref(&city), &Default::default(), false)
            .unwrap(),
    )
    .await
    .unwrap();
    let (_a_state, a) = server(&url).await;
    let (b_state, b) = server(&url).await;
    // The city's complaints, half through A now; the rest later.
    let text = std::fs::read_to_string(city.join("complaints.csv")).unwrap();
    let mut lines = text.lines();
    let head = lines.next().unwrap().to_string();
    let rows: Vec<&str> = lines.collect();
    let (first, second) = rows.split_at(rows.len() / 2);
    let body = |rows: &[&str]| format!("{head}\n{}\n", rows.join("\n")).into_bytes();
    let auth = [
        ("authorization", "Bearer admin-secret"),
        ("content-type", "text/csv"),
    ];
    let r = call(&a, "POST", "/api/complaints", &auth, body(first)).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // B serves (and caches) a tile over the old city, and one far away in the countryside.
    let (z, x, y) = common::tile_at(120.38, 36.07, 11);
    let here = format!("/tiles/atlas/{z}/{x}/{y}.mvt");
    let before = call(&b, "GET", &here, &[], vec![]).await;
    assert_eq!(before.status, 200);
    let etag = before.headers["etag"].clone();
    let hits_before = b_state.tiles.cache.stats().2;
    assert_eq!(
        call(&b, "GET", &here, &[], vec![]).await.headers["etag"],
        etag
    );
    assert_eq!(
        b_state.tiles.cache.stats().2,
        hits_before + 1,
        "B caches the tile"
    );
    // The rest of the complaints through A: B hears of it and drops the tile.
    let r = call(&a, "POST", "/api/complaints", &auth, body(second)).await;
    assert_eq!(r.status, 200);
    assert!(r.json()["loaded"].as_u64().unwrap() > 0);
    let started = Instant::now();
    loop {
        let now = call(&b, "GET", &here, &[], vec![]).await;
        if now.headers["etag"] != etag {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "B still serves the stale tile after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // B's figures follow the database: its district totals equal A's.
    let da = call(&a, "GET", "/api/districts", &[], vec![]).await.json();
    let db = call(&b, "GET", "/api/districts", &[], vec![]).await.json();
    assert_eq!(da["districts"], db["districts"]);
    // A grade override through A reaches B's grades.
    let id = da["districts"][0]["code"].as_str().unwrap().to_string();
    let some = call(
        &b,
        "GET",
        &format!("/api/compounds?district={id}&limit=1"),
        &[],
        vec![],
    )
    .await
    .json();
    let cid = some["features"][0]["id"].as_i64().unwrap();
    let period = some["period"].as_str().unwrap().to_string();
    let body = serde_json::json!({"period": period, "grade": "red", "reason": "site visit found blocked fire lanes"});
    let r = call(
        &a,
        "POST",
        &format!("/api/compounds/{cid}/grade"),
        &[("authorization", "Bearer admin-secret")],
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let started = Instant::now();
    loop {
        let g = call(
            &b,
            "GET",
            &format!("/api/compounds/{cid}/grade"),
            &[],
            vec![],
        )
        .await
        .json();
        if g["grade"] == "red" {
            assert!(g["override"]["reason"]
                .as_str()
                .unwrap()
                .contains("fire lanes"));
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "B does not see the override after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
