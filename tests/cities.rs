//! Two cities on one PostGIS (docs/scaling.md, "A province's cities"): each city is a database
//! of its own on the same PostgreSQL server, and each server is pointed at one city. Two
//! servers of the first city and one of the second: each serves only its own city, and an
//! import into the first city reaches its other server and invalidates nothing in the second
//! (change notices are per database).

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(clippy::too_many_lines, clippy::default_trait_access)] // a test reads top to bottom and takes the defaults its calls need

mod common;

use common::call;
use compound_atlas::store::{postgis::PostgisStore, Store};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::postgis_server as server;

/// A city's geography in a database of its own on the suite's PostGIS.
async fn city_db(city: &Path, tag: &str) -> String {
    let url = common::fresh_db(tag).await;
    let seed = PostgisStore::connect_lazy(&url, &Default::default()).unwrap();
    seed.migrate().await.unwrap();
    seed.import(
        compound_atlas::ingest::read_paths(&[city.to_path_buf()], &Default::default(), false)
            .unwrap(),
    )
    .await
    .unwrap();
    url
}

/// The names of every compound a server serves.
async fn names(app: &axum::Router) -> BTreeSet<String> {
    let body = call(app, "GET", "/api/compounds?limit=1000", &[], vec![])
        .await
        .json();
    body["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["name"].as_str().unwrap().to_string())
        .collect()
}

/// The names of a generated city's compounds, from its own files.
fn file_names(city: &Path) -> BTreeSet<String> {
    use compound_atlas::io::{dataset, manifest::Manifest};
    let data = dataset::read(city, &Manifest::read(city).unwrap()).unwrap();
    data.compounds.into_iter().map(|c| c.name).collect()
}

#[tokio::test]
async fn two_cities_on_one_postgis_keep_apart() {
    let first = common::city(0.05, 151);
    let second = common::city(0.02, 152);
    let (first_url, second_url) = (
        city_db(&first, "city1").await,
        city_db(&second, "city2").await,
    );
    // Both databases are on one PostgreSQL server.
    let host = |u: &str| u[..u.rfind('/').unwrap()].to_string();
    assert_eq!(host(&first_url), host(&second_url));
    let (_a_state, a) = server(&first_url).await;
    let (_a2_state, a2) = server(&first_url).await;
    let (b_state, b) = server(&second_url).await;

    // Each server serves its own city, all of it and nothing else.
    let (a_names, b_names) = (names(&a).await, names(&b).await);
    assert_eq!(a_names, file_names(&first));
    assert_eq!(b_names, file_names(&second));
    assert_eq!(names(&a2).await, a_names);
    assert_ne!(a_names, b_names, "the two cities are different cities");

    // Each server caches a tile over the old city (both cities have compounds there).
    let (z, x, y) = common::tile_at(120.38, 36.07, 11);
    let here = format!("/tiles/atlas/{z}/{x}/{y}.mvt");
    let a2_before = call(&a2, "GET", &here, &[], vec![]).await;
    let b_before = call(&b, "GET", &here, &[], vec![]).await;
    assert_eq!((a2_before.status, b_before.status), (200, 200));
    assert_ne!(
        a2_before.body, b_before.body,
        "one tile, two cities, two pictures"
    );
    let b_districts = call(&b, "GET", "/api/districts", &[], vec![]).await.json();

    // The first city's complaints, imported through A.
    let csv = std::fs::read(first.join("complaints.csv")).unwrap();
    let auth = [
        ("authorization", "Bearer admin-secret"),
        ("content-type", "text/csv"),
    ];
    let r = call(&a, "POST", "/api/complaints", &auth, csv).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.json()["loaded"].as_u64().unwrap() > 0);

    // The first city's other server hears of it and redraws its tile…
    let started = Instant::now();
    while call(&a2, "GET", &here, &[], vec![]).await.headers["etag"] == a2_before.headers["etag"] {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the first city's other server still serves the stale tile after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // …and by then the second city's server, had it heard anything, would have too. It did
    // not: its tile comes from its cache, unchanged, and its figures are as before.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let hits = b_state.tiles.cache.stats().2;
    let b_after = call(&b, "GET", &here, &[], vec![]).await;
    assert_eq!(b_after.headers["etag"], b_before.headers["etag"]);
    assert_eq!(b_after.body, b_before.body);
    assert_eq!(
        b_state.tiles.cache.stats().2,
        hits + 1,
        "the second city's tile is still a cache hit"
    );
    assert_eq!(
        call(&b, "GET", "/api/districts", &[], vec![]).await.json(),
        b_districts
    );
    assert_eq!(names(&b).await, b_names);
    // The complaints are the first city's: its districts count them, the second's do not.
    let total = |d: &serde_json::Value| -> u64 {
        d["districts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["complaints"].as_u64().unwrap_or(0))
            .sum()
    };
    let a_districts = call(&a, "GET", "/api/districts", &[], vec![]).await.json();
    assert!(total(&a_districts) > 0, "{a_districts}");
    assert_eq!(total(&b_districts), 0, "{b_districts}");
}
