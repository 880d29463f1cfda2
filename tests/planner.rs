//! Planner queries checked as a planner would: nearest compounds against PostGIS's own
//! geography distances (computed here, independently), both stores alike, filters that
//! filter, areas that select, pages that cover everything once, exports that read back, routes
//! that are short and whole, and every bad input answered with a JSON 4xx — SQL injection
//! strings included.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the exact values it expects and takes the defaults its calls need

mod common;

use common::{call, Resp};
use compound_atlas::store::{Area, Hit, Store};
use compound_atlas::AppState;
use geo_types::{LineString, MultiLineString, Point};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sqlx::Row;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

const SCALE: f64 = 0.25;
const SEED: u64 = 71;

/// The embedded city with complaints, shared by the HTTP tests of this file.
fn app() -> axum::Router {
    common::shared_app(SCALE, SEED)
}

/// The planner token of `common::settings_with_tokens`: these tests ask as planners (what
/// callers without a token get is tested in tests/roles.rs).
const PLANNER: (&str, &str) = ("authorization", "Bearer planner-secret");

async fn get(uri: &str) -> Resp {
    call(&app(), "GET", uri, &[PLANNER], Vec::new()).await
}

async fn post(uri: &str, body: Value) -> Resp {
    call(
        &app(),
        "POST",
        uri,
        &[("content-type", "application/json"), PLANNER],
        body.to_string().into_bytes(),
    )
    .await
}

fn ok(r: &Resp, what: &str) -> Value {
    assert_eq!(
        r.status,
        200,
        "{what}: {}",
        String::from_utf8_lossy(&r.body[..r.body.len().min(600)])
    );
    r.json()
}

fn ids(v: &Value) -> Vec<i64> {
    v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["id"].as_i64().unwrap())
        .collect()
}

/// Random points over the part of the city where compounds are.
fn points(n: usize, seed: u64, bounds: [f64; 4]) -> Vec<Point<f64>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            Point::new(
                rng.gen_range(bounds[0]..bounds[2]),
                rng.gen_range(bounds[1]..bounds[3]),
            )
        })
        .collect()
}

/// Ours against PostGIS's: same length, distances within 0.5 m rank by rank, and any id that
/// differs is a tie (its distance within 0.5 m of the other's).
fn assert_same_hits(ours: &[Hit], theirs: &[(i64, f64)], what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}: counts");
    let by_id: HashMap<i64, f64> = theirs.iter().copied().collect();
    for (k, (a, (bid, bd))) in ours.iter().zip(theirs).enumerate() {
        let ad = a.distance_m.unwrap();
        assert!(
            (ad - bd).abs() < 0.5,
            "{what}: rank {k}: ours {} at {ad:.3} m, PostGIS {bid} at {bd:.3} m",
            a.id
        );
        if a.id != *bid {
            let d = by_id
                .get(&a.id)
                .copied()
                .unwrap_or(theirs.last().unwrap().1);
            assert!(
                (d - bd).abs() < 0.5,
                "{what}: rank {k}: {} instead of {bid} is not a tie",
                a.id
            );
        }
    }
}

#[tokio::test]
async fn nearest_compounds_match_postgis_geography_in_both_stores() {
    let city = common::city(SCALE, SEED);
    let pg = common::postgis_store(&city, "near").await;
    let emb =
        compound_atlas::store::embedded::EmbeddedStore::open(&common::copy_dir(&city)).unwrap();
    let pool = pg.pool().clone();
    // Urban Qingdao and the West Coast, where the compounds are dense.
    let pts = points(100, 5, [120.05, 35.85, 120.55, 36.35]);
    for (k, p) in pts.iter().enumerate() {
        let rows = sqlx::query(
            "SELECT id, ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography) AS d \
             FROM compounds ORDER BY d, id LIMIT 50",
        )
        .bind(p.x())
        .bind(p.y())
        .fetch_all(&pool)
        .await
        .unwrap();
        let theirs: Vec<(i64, f64)> = rows
            .iter()
            .map(|r| (r.get::<i64, _>("id"), r.get::<f64, _>("d")))
            .filter(|(_, d)| *d <= 50_000.0)
            .collect();
        let area = Area::Near {
            point: *p,
            radius_m: 50_000.0,
        };
        let a = emb.find_compounds(&area, None, 50).await.unwrap();
        let b = pg.find_compounds(&area, None, 50).await.unwrap();
        assert_same_hits(&a, &theirs, &format!("embedded, point {k} {p:?}"));
        assert_same_hits(&b, &theirs, &format!("PostGIS store, point {k} {p:?}"));
        assert!(theirs.len() >= 10, "point {k} has compounds near it");
    }
}

#[tokio::test]
async fn corridors_and_polygons_select_what_postgis_selects() {
    let city = common::city(SCALE, SEED);
    let pg = common::postgis_store(&city, "areas").await;
    let emb =
        compound_atlas::store::embedded::EmbeddedStore::open(&common::copy_dir(&city)).unwrap();
    let pool = pg.pool().clone();
    // A patrol path across the old city, and a polygon over Licang.
    let line = MultiLineString(vec![LineString::from(vec![
        (120.31, 36.06),
        (120.36, 36.08),
        (120.40, 36.10),
        (120.44, 36.16),
    ])]);
    let wkt = "LINESTRING(120.31 36.06, 120.36 36.08, 120.40 36.10, 120.44 36.16)";
    for within in [50.0, 300.0, 1_500.0] {
        let rows = sqlx::query(
            "SELECT id, ST_Distance(geom::geography, ST_GeomFromText($1, 4326)::geography) AS d FROM compounds \
             WHERE ST_DWithin(geom::geography, ST_GeomFromText($1, 4326)::geography, $2) ORDER BY d, id",
        )
        .bind(wkt)
        .bind(within)
        .fetch_all(&pool)
        .await
        .unwrap();
        let theirs: Vec<(i64, f64)> = rows.iter().map(|r| (r.get("id"), r.get("d"))).collect();
        let area = Area::Corridor {
            line: line.clone(),
            distance_m: within,
        };
        let a = emb.find_compounds(&area, None, usize::MAX).await.unwrap();
        let b = pg.find_compounds(&area, None, usize::MAX).await.unwrap();
        assert!(
            !theirs.is_empty(),
            "the path passes compounds within {within} m"
        );
        assert_same_hits(&a, &theirs, &format!("embedded corridor {within} m"));
        assert_same_hits(&b, &theirs, &format!("PostGIS corridor {within} m"));
    }
    let poly = "POLYGON((120.38 36.14, 120.48 36.14, 120.47 36.22, 120.40 36.20, 120.38 36.14))";
    let rows = sqlx::query(
        "SELECT id FROM compounds WHERE ST_Intersects(geom, ST_GeomFromText($1, 4326)) ORDER BY id",
    )
    .bind(poly)
    .fetch_all(&pool)
    .await
    .unwrap();
    let theirs: Vec<i64> = rows.iter().map(|r| r.get("id")).collect();
    let mp =
        compound_atlas::planner::shape::polygon(poly, compound_atlas::tile::Datum::Wgs84).unwrap();
    let area = Area::Polygon(mp);
    let a: Vec<i64> = emb
        .find_compounds(&area, None, usize::MAX)
        .await
        .unwrap()
        .iter()
        .map(|h| h.id)
        .collect();
    let b: Vec<i64> = pg
        .find_compounds(&area, None, usize::MAX)
        .await
        .unwrap()
        .iter()
        .map(|h| h.id)
        .collect();
    assert!(theirs.len() > 20);
    assert_eq!(a, theirs, "embedded polygon");
    assert_eq!(b, theirs, "PostGIS polygon");
    // `only` restricts, and the limit cuts.
    let only: Vec<i64> = theirs.iter().copied().step_by(3).collect();
    let c = pg.find_compounds(&area, Some(&only), 5).await.unwrap();
    assert_eq!(
        c.iter().map(|h| h.id).collect::<Vec<_>>(),
        only[..5.min(only.len())].to_vec()
    );
}

#[tokio::test]
async fn both_stores_answer_the_planner_alike() {
    let city = common::city(0.05, 72);
    let settings = common::settings_with_tokens();
    let e = compound_atlas::app(AppState::new(
        common::embedded_atlas(&city).await,
        &settings,
    ));
    let p = compound_atlas::app(AppState::new(
        common::postgis_atlas(&city, "plan").await,
        &settings,
    ));
    let uris = [
        "/api/compounds/nearby?lon=120.38&lat=36.07&radius_m=5000&limit=40".to_string(),
        "/api/compounds/nearby?lon=120.42&lat=36.16&radius_m=8000&grade=red,yellow".to_string(),
        "/api/compounds?bbox=120.30,36.04,120.42,36.12&sort=density&limit=30".to_string(),
        format!(
            "/api/compounds?line={}&within_m=400",
            common::enc("LINESTRING(120.31 36.06, 120.40 36.10)")
        ),
        "/api/compounds?district=370203&sort=complaints&from=2022-01&to=2022-12".to_string(),
        "/api/districts".to_string(),
        "/api/streets?district=370211".to_string(),
        "/api/companies".to_string(),
        "/api/companies?district=370211&sort=red_share&from=2022-01&to=2022-12".to_string(),
        "/ogc/collections/compounds/items?bbox=120.30,36.04,120.42,36.12&limit=50".to_string(),
        "/ogc/collections/buildings/items?bbox=120.30,36.04,120.42,36.12&limit=50".to_string(),
    ];
    for uri in uris {
        let a = ok(&call(&e, "GET", &uri, &[PLANNER], vec![]).await, &uri);
        let b = ok(&call(&p, "GET", &uri, &[PLANNER], vec![]).await, &uri);
        let strip = |mut v: Value| {
            v.as_object_mut().unwrap().remove("timeStamp");
            v
        };
        let (a, b) = (strip(a), strip(b));
        if let (Some(fa), Some(fb)) = (a["features"].as_array(), b["features"].as_array()) {
            assert!(!fa.is_empty(), "{uri} finds something");
            assert_eq!(fa.len(), fb.len(), "{uri}");
            for (x, y) in fa.iter().zip(fb) {
                assert_eq!(x["id"], y["id"], "{uri}");
                let (mut px, mut py) = (x["properties"].clone(), y["properties"].clone());
                if let (Some(dx), Some(dy)) = (px["distance_m"].as_f64(), py["distance_m"].as_f64())
                {
                    assert!((dx - dy).abs() < 0.5, "{uri}: {dx} vs {dy}");
                    px["distance_m"] = json!(0);
                    py["distance_m"] = json!(0);
                }
                assert_eq!(px, py, "{uri}");
            }
        } else {
            assert_eq!(a, b, "{uri}");
        }
    }
    let body = json!({"start": [120.38, 36.07], "select": {"grade": "red,yellow", "limit": 12}});
    let a = ok(
        &call(
            &e,
            "POST",
            "/api/plan/route",
            &[PLANNER],
            body.to_string().into_bytes(),
        )
        .await,
        "route",
    );
    let b = ok(
        &call(
            &p,
            "POST",
            "/api/plan/route",
            &[PLANNER],
            body.to_string().into_bytes(),
        )
        .await,
        "route",
    );
    assert_eq!(a["rounds"], b["rounds"]);
}

#[tokio::test]
async fn nearby_is_nearest_first_within_the_radius_and_filters_filter() {
    let v = ok(
        &get("/api/compounds/nearby?lon=120.38&lat=36.07&radius_m=3000&limit=25").await,
        "nearby",
    );
    assert_eq!(v["type"], "FeatureCollection");
    let f = v["features"].as_array().unwrap();
    assert_eq!(f.len(), 25);
    let d: Vec<f64> = f
        .iter()
        .map(|x| x["properties"]["distance_m"].as_f64().unwrap())
        .collect();
    assert!(d.windows(2).all(|w| w[0] <= w[1]), "nearest first: {d:?}");
    assert!(d.iter().all(|x| *x <= 3000.0));
    for x in f {
        let p = &x["properties"];
        for k in [
            "id",
            "name",
            "district",
            "street",
            "company",
            "households",
            "complaints",
            "density",
            "density_class",
            "grade",
        ] {
            assert!(!p[k].is_null(), "{k} in {p}");
        }
        assert_eq!(x["geometry"]["type"], "MultiPolygon");
    }
    // A point inside a compound is 0 m from it.
    let inside = &f[3];
    let ring = &inside["geometry"]["coordinates"][0][0];
    let (lon, lat) = (
        ring.as_array()
            .unwrap()
            .iter()
            .take(3)
            .map(|c| c[0].as_f64().unwrap())
            .sum::<f64>()
            / 3.0,
        ring.as_array()
            .unwrap()
            .iter()
            .take(3)
            .map(|c| c[1].as_f64().unwrap())
            .sum::<f64>()
            / 3.0,
    );
    let v = ok(
        &get(&format!(
            "/api/compounds/nearby?lon={lon}&lat={lat}&radius_m=100"
        ))
        .await,
        "inside",
    );
    let first = &v["features"][0]["properties"];
    if first["id"] == inside["properties"]["id"] {
        assert_eq!(first["distance_m"], 0.0);
    }
    // Filters: grade, district, category, min_density.
    let v = ok(
        &get("/api/compounds/nearby?lon=120.40&lat=36.15&radius_m=20000&limit=500&grade=red").await,
        "red",
    );
    assert!(!ids(&v).is_empty());
    assert!(v["features"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["properties"]["grade"] == "red"));
    let v = ok(
        &get(&format!(
            "/api/compounds/nearby?lon=120.40&lat=36.15&radius_m=20000&limit=500&district={}",
            common::enc("李沧区")
        ))
        .await,
        "district",
    );
    assert!(v["features"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["properties"]["district"] == "李沧区"));
    let v = ok(
        &get("/api/compounds/nearby?lon=120.40&lat=36.15&radius_m=20000&limit=500&min_density=20")
            .await,
        "density",
    );
    assert!(v["features"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["properties"]["density"].as_f64().unwrap() >= 20.0));
    let v = ok(
        &get(
            "/api/compounds/nearby?lon=120.40&lat=36.15&radius_m=5000&limit=30&category=fire_lane",
        )
        .await,
        "category",
    );
    for id in ids(&v).iter().take(10) {
        let c = ok(&get(&format!("/api/compounds/{id}")).await, "compound");
        let n = c["categories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["category"] == "fire_lane")
            .unwrap()["complaints"]
            .as_u64()
            .unwrap();
        assert!(
            n > 0,
            "compound {id} has fire-lane complaints in the window"
        );
    }
    // GCJ-02 in, GCJ-02 out: the same compounds as the WGS84 question.
    let (glon, glat) = compound_atlas::tile::Datum::Gcj02.from_wgs84(120.38, 36.07);
    let w = ok(
        &get("/api/compounds/nearby?lon=120.38&lat=36.07&radius_m=2000&limit=10").await,
        "wgs84",
    );
    let g = ok(
        &get(&format!(
            "/api/compounds/nearby?lon={glon}&lat={glat}&radius_m=2000&limit=10&datum=gcj02"
        ))
        .await,
        "gcj02",
    );
    assert_eq!(ids(&w), ids(&g));
    let (wx, gx) = (
        w["features"][0]["geometry"]["coordinates"][0][0][0][0]
            .as_f64()
            .unwrap(),
        g["features"][0]["geometry"]["coordinates"][0][0][0][0]
            .as_f64()
            .unwrap(),
    );
    assert!((gx - wx).abs() > 0.003, "geometry shifted to GCJ-02");
}

#[tokio::test]
async fn searches_by_box_polygon_and_line_page_sort_and_export() {
    let bbox = "120.30,36.04,120.42,36.12";
    let all = ok(
        &get(&format!("/api/compounds?bbox={bbox}&limit=1000")).await,
        "bbox",
    );
    let n = all["numberMatched"].as_u64().unwrap() as usize;
    assert!(n > 30);
    // The same box as a polygon, in WKT and in GeoJSON, GET and POST.
    let wkt = "POLYGON((120.30 36.04, 120.42 36.04, 120.42 36.12, 120.30 36.12, 120.30 36.04))";
    let by_wkt = ok(
        &get(&format!(
            "/api/compounds?polygon={}&limit=1000",
            common::enc(wkt)
        ))
        .await,
        "wkt",
    );
    assert_eq!(ids(&by_wkt), ids(&all));
    let gj = json!({"type": "Polygon", "coordinates": [[[120.30, 36.04], [120.42, 36.04], [120.42, 36.12], [120.30, 36.12], [120.30, 36.04]]]});
    let by_post = ok(
        &post("/api/compounds", json!({"polygon": gj, "limit": 1000})).await,
        "post",
    );
    assert_eq!(ids(&by_post), ids(&all));
    // Pages of 7 by the next links cover every compound once.
    let mut seen = Vec::new();
    let mut next = Some(format!("/api/compounds?bbox={bbox}&limit=7&sort=name"));
    while let Some(uri) = next {
        let v = ok(&get(&uri).await, &uri);
        seen.extend(ids(&v));
        next = v["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
            .map(|l| {
                let href = l["href"].as_str().unwrap();
                href[href.find("/api/").unwrap()..].to_string()
            });
    }
    assert_eq!(seen.len(), n);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), n);
    // Sorted by density, highest first.
    let v = ok(
        &get(&format!("/api/compounds?bbox={bbox}&sort=density&limit=50")).await,
        "sort",
    );
    let d: Vec<f64> = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["properties"]["density"].as_f64().unwrap())
        .collect();
    assert!(d.windows(2).all(|w| w[0] >= w[1]));
    // Along a line: nearest first, all within the distance.
    let line = common::enc("LINESTRING(120.31 36.06, 120.36 36.08, 120.40 36.10)");
    let v = ok(
        &get(&format!("/api/compounds?line={line}&within_m=250")).await,
        "line",
    );
    let d: Vec<f64> = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["properties"]["distance_m"].as_f64().unwrap())
        .collect();
    assert!(!d.is_empty() && d.iter().all(|x| *x <= 250.0) && d.windows(2).all(|w| w[0] <= w[1]));
    // CSV: a header and a row per compound, Chinese names intact.
    let r = get(&format!("/api/compounds?bbox={bbox}&f=csv&limit=10000")).await;
    assert_eq!(r.status, 200);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = String::from_utf8(r.body).unwrap();
    let mut rd = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let head = rd.headers().unwrap().clone();
    assert!(head.iter().any(|h| h == "grade") && head.iter().any(|h| h == "lon"));
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), n);
    let name_col = head.iter().position(|h| h == "name").unwrap();
    assert!(rows.iter().all(|r| r[name_col]
        .chars()
        .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))));
    // FlatGeobuf: read back with the flatgeobuf reader.
    let r = get(&format!("/api/compounds?bbox={bbox}&f=fgb&limit=10000")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], "application/flatgeobuf");
    let mut cursor = std::io::Cursor::new(r.body);
    let fgb = flatgeobuf::FgbReader::open(&mut cursor).unwrap();
    assert_eq!(fgb.header().features_count() as usize, n);
}

#[tokio::test]
async fn district_and_street_summaries_add_up() {
    let d = ok(&get("/api/districts").await, "districts");
    let list = d["districts"].as_array().unwrap();
    assert_eq!(list.len(), 10);
    let all = ok(&get("/api/compounds?limit=1000").await, "all");
    assert_eq!(
        all["numberMatched"].as_u64().unwrap(),
        list.iter()
            .map(|x| x["compounds"].as_u64().unwrap())
            .sum::<u64>()
    );
    let total: u64 = all["features"].as_array().map_or(0, |f| f.len() as u64);
    assert!(total > 0);
    for x in list {
        let code = x["code"].as_str().unwrap();
        let s = ok(
            &get(&format!("/api/streets?district={code}")).await,
            "streets",
        );
        let streets = s["streets"].as_array().unwrap();
        for k in [
            "compounds",
            "households",
            "complaints",
            "red",
            "yellow",
            "blue",
        ] {
            let sum: i64 = streets.iter().map(|s| s[k].as_i64().unwrap()).sum();
            assert_eq!(sum, x[k].as_i64().unwrap(), "{code} {k}");
        }
        let grades = ok(
            &get(&format!("/api/grades?district={code}")).await,
            "grades",
        );
        assert_eq!(grades["districts"][0]["red"], x["red"], "{code} red");
    }
}

fn legs_sum(stops: &[Value]) -> f64 {
    stops.iter().map(|s| s["leg_m"].as_f64().unwrap()).sum()
}

#[tokio::test]
async fn routes_are_exact_for_a_few_stops_and_whole_for_many() {
    let near = ok(
        &get("/api/compounds/nearby?lon=120.38&lat=36.07&radius_m=5000&limit=60").await,
        "nearby",
    );
    let pick = ids(&near);
    // Seven stops: exact, and no order of them is shorter (checked by trying them all).
    let seven = &pick[..7];
    let v = ok(
        &post(
            "/api/plan/route",
            json!({"start": [120.38, 36.07], "end": [120.40, 36.10], "compounds": seven}),
        )
        .await,
        "route",
    );
    let r = &v["rounds"][0];
    assert_eq!(r["method"], "exact");
    let stops = r["stops"].as_array().unwrap();
    assert_eq!(stops.len(), 7);
    let visited: HashSet<i64> = stops.iter().map(|s| s["id"].as_i64().unwrap()).collect();
    assert_eq!(visited, seven.iter().copied().collect());
    let total = r["total_m"].as_f64().unwrap();
    assert!((legs_sum(stops) + r["end_leg_m"].as_f64().unwrap() - total).abs() < 1.0);
    assert_eq!(
        r["route"]["geometry"]["coordinates"]
            .as_array()
            .unwrap()
            .len(),
        9
    );
    assert!(v["note"].as_str().unwrap().contains("no road network"));
    let pts: Vec<Point<f64>> = stops
        .iter()
        .map(|s| Point::new(s["lon"].as_f64().unwrap(), s["lat"].as_f64().unwrap()))
        .collect();
    let hav = |a: Point<f64>, b: Point<f64>| compound_atlas::planner::route::metres(a, b);
    let (start, end) = (Point::new(120.38, 36.07), Point::new(120.40, 36.10));
    let mut best = f64::INFINITY;
    let mut perm: Vec<usize> = (0..7).collect();
    permute(&mut perm, 0, &mut |p| {
        let mut t = hav(start, pts[p[0]]) + hav(pts[p[6]], end);
        for w in p.windows(2) {
            t += hav(pts[w[0]], pts[w[1]]);
        }
        best = best.min(t);
    });
    assert!(total <= best + 1.0, "exact: {total} vs brute force {best}");
    // Fifty stops: every compound once, legs adding up, shorter than visiting by id.
    let fifty = &pick[..50];
    let v = ok(
        &post(
            "/api/plan/route",
            json!({"start": [120.38, 36.07], "compounds": fifty}),
        )
        .await,
        "route 50",
    );
    let r = &v["rounds"][0];
    assert_eq!(r["method"], "nearest_neighbour_2opt");
    let stops = r["stops"].as_array().unwrap();
    assert_eq!(
        stops
            .iter()
            .map(|s| s["id"].as_i64().unwrap())
            .collect::<HashSet<_>>(),
        fifty.iter().copied().collect()
    );
    assert!((legs_sum(stops) - r["total_m"].as_f64().unwrap()).abs() < 1.0);
    let by_id = {
        let mut order: Vec<&Value> = stops.iter().collect();
        order.sort_by_key(|s| s["id"].as_i64().unwrap());
        let mut t = 0.0;
        let mut at = start;
        for s in order {
            let p = Point::new(s["lon"].as_f64().unwrap(), s["lat"].as_f64().unwrap());
            t += hav(at, p);
            at = p;
        }
        t
    };
    assert!(r["total_m"].as_f64().unwrap() < 0.5 * by_id);
    // Three rounds of at most ten from a selection.
    let v = ok(&post("/api/plan/route", json!({"start": [120.38, 36.07], "select": {"district": "市北区", "limit": 28}, "rounds": 3, "max_stops": 10})).await, "rounds");
    let rounds = v["rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), 3);
    assert!(rounds
        .iter()
        .all(|r| r["stops"].as_array().unwrap().len() <= 10));
    let visited: Vec<i64> = rounds
        .iter()
        .flat_map(|r| {
            r["stops"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(visited.len(), 28);
    assert_eq!(visited.iter().collect::<HashSet<_>>().len(), 28);
    let sum: f64 = rounds.iter().map(|r| r["total_m"].as_f64().unwrap()).sum();
    assert!((sum - v["total_m"].as_f64().unwrap()).abs() < 1.0);
}

fn permute(p: &mut Vec<usize>, k: usize, f: &mut impl FnMut(&[usize])) {
    if k == p.len() {
        f(p);
        return;
    }
    for i in k..p.len() {
        p.swap(k, i);
        permute(p, k + 1, f);
        p.swap(k, i);
    }
}

#[tokio::test]
async fn bad_planner_input_gets_a_json_4xx_naming_the_problem() {
    let bowtie =
        common::enc("POLYGON((120.3 36.0, 120.4 36.1, 120.4 36.0, 120.3 36.1, 120.3 36.0))");
    let cases: Vec<(String, u16, &str)> = vec![
        (
            "/api/compounds/nearby?lon=200&lat=36".into(),
            400,
            "longitude",
        ),
        (
            "/api/compounds/nearby?lon=120.3&lat=-91".into(),
            400,
            "latitude",
        ),
        ("/api/compounds/nearby?lon=abc&lat=36".into(), 400, "`lon`"),
        ("/api/compounds/nearby?lat=36".into(), 400, "required"),
        (
            "/api/compounds/nearby?lon=120.3&lat=36&radius_m=0".into(),
            400,
            "radius_m",
        ),
        (
            "/api/compounds/nearby?lon=120.3&lat=36&radius_m=-5".into(),
            400,
            "radius_m",
        ),
        (
            "/api/compounds/nearby?lon=120.3&lat=36&radius_m=50001".into(),
            400,
            "radius_m",
        ),
        (
            "/api/compounds/nearby?lon=120.3&lat=36&limit=501".into(),
            400,
            "limit",
        ),
        (
            "/api/compounds/nearby?lon=120.3&lat=36&limit=0".into(),
            400,
            "limit",
        ),
        (
            "/api/compounds/nearby?lon=120.3&lat=36&grade=purple".into(),
            400,
            "grade",
        ),
        (
            "/api/compounds/nearby?lon=120.3&lat=36&district=Atlantis".into(),
            400,
            "district",
        ),
        (
            "/api/compounds/nearby?lon=120.3&lat=36&category=noise_of_the_sea".into(),
            400,
            "category",
        ),
        (
            "/api/compounds/nearby?lon=120.3&lat=36&datum=mars".into(),
            400,
            "datum",
        ),
        (
            "/api/compounds/nearby?lon=120.3&lat=36&nope=1".into(),
            400,
            "nope",
        ),
        (
            "/api/compounds?polygon=POLYGON((120.3%2036.0,%20120.4".into(),
            400,
            "malformed WKT",
        ),
        (
            format!(
                "/api/compounds?polygon={}",
                common::enc("{\"type\":\"Polygon\",")
            ),
            400,
            "malformed GeoJSON",
        ),
        (
            format!("/api/compounds?polygon={bowtie}"),
            400,
            "invalid polygon",
        ),
        (
            format!(
                "/api/compounds?polygon={}",
                common::enc("POINT(120.3 36.0)")
            ),
            400,
            "Polygon",
        ),
        (
            format!(
                "/api/compounds?line={}",
                common::enc("LINESTRING(120.3 36.0)")
            ),
            400,
            "line",
        ),
        (
            format!(
                "/api/compounds?line={}&within_m=0",
                common::enc("LINESTRING(120.3 36.0, 120.4 36.1)")
            ),
            400,
            "within_m",
        ),
        ("/api/compounds?bbox=1,2,3".into(), 400, "bbox"),
        (
            "/api/compounds?bbox=120.5,36,120.3,36.1".into(),
            400,
            "bbox",
        ),
        (
            "/api/compounds?bbox=120.3,36,120.4,36.1&polygon=x".into(),
            400,
            "one area",
        ),
        (
            "/api/compounds?bbox=120.3,36,120.4,36.1&sort=distance".into(),
            400,
            "sort=distance",
        ),
        ("/api/compounds?sort=height".into(), 400, "sort"),
        ("/api/compounds?limit=1001".into(), 400, "limit"),
        ("/api/compounds?f=shp".into(), 400, "format"),
        ("/api/compounds?from=2023-13".into(), 400, "from"),
        ("/api/compounds/999999999".into(), 404, "compound"),
        ("/api/streets?district=Atlantis".into(), 400, "district"),
        ("/ogc/collections/parcels/items".into(), 404, "parcels"),
        (
            "/ogc/collections/compounds/items?limit=-1".into(),
            400,
            "limit",
        ),
        (
            "/ogc/collections/compounds/items?datetime=yesterday".into(),
            400,
            "datetime",
        ),
        (
            "/ogc/collections/compounds/items?bbox-crs=EPSG:3857".into(),
            400,
            "bbox-crs",
        ),
        (
            "/ogc/collections/compounds/items/999999999".into(),
            404,
            "999999999",
        ),
        (
            "/ogc/collections/buildings/items?compound_id=x".into(),
            400,
            "compound_id",
        ),
    ];
    for (uri, status, needle) in cases {
        let r = get(&uri).await;
        assert_eq!(
            r.status,
            status,
            "{uri}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let v = r.json();
        // Our error object, or OGC API's exception on `/ogc/…`.
        let msg = v["error"]["message"]
            .as_str()
            .or_else(|| {
                v["description"]
                    .as_str()
                    .filter(|_| uri.starts_with("/ogc/"))
            })
            .unwrap_or_else(|| panic!("{uri}: {v}"));
        assert!(
            msg.contains(needle),
            "{uri}: `{msg}` should name `{needle}`"
        );
    }
    let bodies: Vec<(Value, u16, &str)> = vec![
        (json!({"compounds": [1]}), 400, "start"),
        (json!({"start": [120.38, 36.07]}), 400, "compounds"),
        (
            json!({"start": [120.38, 96.07], "compounds": [1]}),
            400,
            "latitude",
        ),
        (json!({"start": [120.38], "compounds": [1]}), 400, "start"),
        (
            json!({"start": [120.38, 36.07], "compounds": [999_999_999]}),
            404,
            "999999999",
        ),
        (
            json!({"start": [120.38, 36.07], "compounds": ["x"]}),
            400,
            "compounds",
        ),
        (
            json!({"start": [120.38, 36.07], "select": {"min_density": 1e9}}),
            400,
            "matches no compound",
        ),
        (
            json!({"start": [120.38, 36.07], "select": {"district": "Atlantis"}}),
            400,
            "district",
        ),
        (
            json!({"start": [120.38, 36.07], "select": {"limit": 30}, "rounds": 2, "max_stops": 10}),
            400,
            "do not fit",
        ),
        (
            json!({"start": [120.38, 36.07], "select": {"limit": 501}}),
            400,
            "limit",
        ),
        (
            json!({"start": [120.38, 36.07], "select": {"height": 3}}),
            400,
            "height",
        ),
        (
            json!({"start": [120.38, 36.07], "compounds": [1], "select": {}}),
            400,
            "not both",
        ),
        (json!([1, 2]), 400, "object"),
    ];
    for (body, status, needle) in bodies {
        let r = post("/api/plan/route", body.clone()).await;
        assert_eq!(
            r.status,
            status,
            "{body}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(
            msg.contains(needle),
            "{body}: `{msg}` should name `{needle}`"
        );
    }
    let r = call(
        &app(),
        "POST",
        "/api/plan/route",
        &[PLANNER],
        b"{not json".to_vec(),
    )
    .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn injection_strings_in_every_parameter_break_nothing_and_leak_nothing() {
    let city = common::city(0.05, 73);
    let atlas = common::postgis_atlas(&city, "inject").await;
    let store = Arc::clone(&atlas.store);
    let app = compound_atlas::app(AppState::new(atlas, &common::settings_with_tokens()));
    let before = store.counts().await.unwrap();
    let evil = [
        "'; DROP TABLE compounds; --",
        "1 OR 1=1",
        "1); DELETE FROM complaints; --",
        "' UNION SELECT caller_phone FROM private.complaint_contacts --",
        "$1",
        "\\x00",
        "%00",
        "120.3'--",
        "POLYGON((120.3 36.0, 120.4 36.0, 120.4 36.1, 120.3 36.0)); DROP TABLE units; --",
    ];
    let params = [
        "lon",
        "lat",
        "radius_m",
        "limit",
        "offset",
        "grade",
        "district",
        "street",
        "company",
        "category",
        "min_density",
        "from",
        "to",
        "period",
        "datum",
        "bbox",
        "polygon",
        "line",
        "within_m",
        "sort",
        "f",
    ];
    let mut tried = 0;
    for e in evil {
        for p in params {
            for path in [
                "/api/compounds/nearby?lon=120.38&lat=36.07&",
                "/api/compounds?",
                "/ogc/collections/compounds/items?",
            ] {
                let uri = format!("{path}{p}={}", common::enc(e));
                let r = call(&app, "GET", &uri, &[PLANNER], vec![]).await;
                tried += 1;
                assert!(r.status < 500, "{uri}: {}", r.status);
                let text = String::from_utf8_lossy(&r.body).to_lowercase();
                // Error messages may quote the input back; anything else is a leak.
                let quoted = e.to_lowercase();
                for leak in [
                    "syntax error",
                    "postgres",
                    "sqlx",
                    "caller_phone",
                    "complaint_contacts",
                    "panicked",
                ] {
                    if !quoted.contains(leak) {
                        assert!(!text.contains(leak), "{uri} leaks `{leak}`: {text}");
                    }
                }
            }
        }
        let body =
            json!({"start": [120.38, 36.07], "select": {"district": e, "street": e, "company": e}});
        let r = call(
            &app,
            "POST",
            "/api/plan/route",
            &[PLANNER],
            body.to_string().into_bytes(),
        )
        .await;
        assert!(r.status < 500);
        let r = call(
            &app,
            "GET",
            &format!("/api/compounds/{}", common::enc(e)),
            &[PLANNER],
            vec![],
        )
        .await;
        assert!(r.status < 500);
    }
    assert!(tried > 500);
    assert_eq!(
        store.counts().await.unwrap(),
        before,
        "nothing was dropped or deleted"
    );
}

/// One resolver for a district named in a query (by code or name): every endpoint that takes
/// `district` answers an unknown one alike — 400, code `bad_request`, naming it — and knows a
/// known one by its code and by its name.
#[tokio::test]
async fn an_unknown_district_is_the_same_error_everywhere() {
    let endpoints = [
        "/api/stats/trend",
        "/api/grades",
        "/api/streets",
        "/api/compounds",
        "/api/compounds/nearby?lon=120.38&lat=36.07&radius_m=2000",
        "/ogc/collections/compounds/items",
        "/ogc/collections/streets/items",
        "/api/compounds?f=csv",
        "/api/companies",
        "/api/companies?f=csv",
    ];
    let with = |uri: &str, d: &str| {
        let sep = if uri.contains('?') { '&' } else { '?' };
        format!("{uri}{sep}district={}", common::enc(d))
    };
    let d = ok(&get("/api/districts").await, "districts");
    let first = &d["districts"][0];
    let (code, name) = (
        first["code"].as_str().unwrap(),
        first["name"].as_str().unwrap(),
    );
    for uri in endpoints {
        for bad in ["999999", "不存在区"] {
            let r = get(&with(uri, bad)).await;
            let text = String::from_utf8_lossy(&r.body).to_string();
            assert_eq!(r.status, 400, "{uri} district={bad}: {text}");
            let j = r.json();
            // The same message everywhere; on `/ogc/…` in OGC API's exception form.
            let (code, message) = if uri.starts_with("/ogc/") {
                (&j["code"], &j["description"])
            } else {
                (&j["error"]["code"], &j["error"]["message"])
            };
            let want = if uri.starts_with("/ogc/") {
                "InvalidParameterValue"
            } else {
                "bad_request"
            };
            assert_eq!(code, want, "{uri}: {text}");
            assert_eq!(
                message,
                &format!("unknown district `{bad}`"),
                "{uri}: {text}"
            );
        }
        for good in [code, name] {
            let r = get(&with(uri, good)).await;
            assert_eq!(
                r.status,
                200,
                "{uri} district={good}: {}",
                String::from_utf8_lossy(&r.body[..r.body.len().min(300)])
            );
        }
    }
}

/// `GET /api/geocode` gives a dispatcher the ranked candidates of an address, the import's
/// choice first, with what matched; an ambiguous name lists its owners with none chosen; bad
/// input is a 400 naming the parameter; callers without a planner token are refused.
#[tokio::test]
async fn geocode_ranks_candidates_for_dispatchers() {
    let d = ok(&get("/api/compounds?limit=5").await, "compounds");
    let first = &d["features"][0]["properties"];
    let (id, name) = (
        first["id"].as_i64().unwrap(),
        first["name"].as_str().unwrap(),
    );
    let r = ok(
        &get(&format!(
            "/api/geocode?q={}",
            common::enc(&format!("【{name}】1号楼2单元301"))
        ))
        .await,
        "geocode",
    );
    let c = &r["candidates"][0];
    assert_eq!(c["compound"]["id"], id, "{r}");
    assert_eq!(c["chosen"], true, "{r}");
    assert_eq!(r["placed"], true);
    assert!(
        c["matched"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["part"] == name),
        "{r}"
    );
    // Nothing recognisable: no candidate chosen.
    let r = ok(
        &get(&format!("/api/geocode?q={}", common::enc("不知道在哪"))).await,
        "geocode",
    );
    assert_eq!(r["placed"], false, "{r}");
    for (uri, needle) in [
        ("/api/geocode", "`q`"),
        ("/api/geocode?q=x&lon=120", "`lat`"),
        ("/api/geocode?q=x&lon=abc&lat=1", "`lon`"),
        ("/api/geocode?q=x&limit=0", "`limit`"),
    ] {
        let r = get(uri).await;
        assert_eq!(r.status, 400, "{uri}");
        assert!(String::from_utf8_lossy(&r.body).contains(needle), "{uri}");
    }
    let r = call(&app(), "GET", "/api/geocode?q=x", &[], Vec::new()).await;
    assert_eq!(r.status, 401);
}

/// The property companies' league table adds up to the districts' figures, its year-before
/// column is the table of the window a year earlier, a district filter keeps that district's
/// compounds, the sorts sort, the CSV reads back, and one company's page adds up to its row.
#[tokio::test]
async fn the_company_league_table_adds_up_and_compares_a_year_before() {
    let t = ok(&get("/api/companies").await, "companies");
    let rows = t["companies"].as_array().unwrap();
    assert!(rows.len() > 20, "{} companies", rows.len());
    let d = ok(&get("/api/districts").await, "districts");
    let districts = d["districts"].as_array().unwrap();
    for k in [
        "compounds",
        "households",
        "complaints",
        "red",
        "yellow",
        "blue",
    ] {
        let a: i64 = rows.iter().map(|r| r[k].as_i64().unwrap()).sum();
        let b: i64 = districts.iter().map(|r| r[k].as_i64().unwrap()).sum();
        assert_eq!(a, b, "{k}: companies against districts");
    }
    let dens: Vec<f64> = rows
        .iter()
        .map(|r| r["density"].as_f64().unwrap())
        .collect();
    assert!(
        dens.windows(2).all(|w| w[0] >= w[1]),
        "density, largest first"
    );
    for r in rows {
        let share =
            r["red_households"].as_f64().unwrap() / r["households"].as_f64().unwrap().max(1.0);
        assert!(
            (share - r["red_share"].as_f64().unwrap()).abs() < 1e-4,
            "{r}"
        );
    }

    // The year-before column is the table of that window.
    let yb = &t["year_before"];
    let earlier = ok(
        &get(&format!(
            "/api/companies?from={}&to={}",
            yb["from"].as_str().unwrap(),
            yb["to"].as_str().unwrap()
        ))
        .await,
        "a year before",
    );
    let then: HashMap<i64, u64> = earlier["companies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_i64().unwrap(), r["complaints"].as_u64().unwrap()))
        .collect();
    let mut changed = 0;
    for r in rows {
        let id = r["id"].as_i64().unwrap();
        let before = then.get(&id).copied().unwrap_or(0);
        assert_eq!(
            r["complaints_year_before"].as_u64(),
            Some(before),
            "company {id}"
        );
        if before > 0 {
            let want = r["complaints"].as_f64().unwrap() / before as f64 - 1.0;
            assert!((r["change"].as_f64().unwrap() - want).abs() < 1e-4, "{r}");
            changed += 1;
        } else {
            assert!(r["change"].is_null());
        }
    }
    assert!(changed > 0, "no company had complaints a year before");

    // One district: its compounds only.
    let code = "370211";
    let one = ok(
        &get(&format!("/api/companies?district={code}&sort=name")).await,
        "district",
    );
    let list = one["companies"].as_array().unwrap();
    let want = districts.iter().find(|x| x["code"] == code).unwrap();
    for k in ["compounds", "complaints", "households"] {
        let sum: i64 = list.iter().map(|r| r[k].as_i64().unwrap()).sum();
        assert_eq!(sum, want[k].as_i64().unwrap(), "{code} {k}");
    }
    assert!(list.iter().all(|r| r["districts"] == json!([code])));
    let names: Vec<&str> = list.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]), "sort=name");
    let by_red = ok(&get("/api/companies?sort=red").await, "sort=red");
    let reds: Vec<u64> = by_red["companies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["red"].as_u64().unwrap())
        .collect();
    assert!(reds.windows(2).all(|w| w[0] >= w[1]), "sort=red");

    // The spreadsheet: every company, a header, UTF-8 with its byte-order mark.
    let r = get("/api/companies?f=csv").await;
    assert_eq!(r.status, 200);
    let text = String::from_utf8(r.body.clone()).unwrap();
    let text = text.strip_prefix('\u{feff}').expect("a byte-order mark");
    let mut csv = csv::Reader::from_reader(text.as_bytes());
    let head = csv.headers().unwrap().clone();
    assert!(head.iter().any(|h| h == "red_share"), "{head:?}");
    assert_eq!(csv.records().count(), rows.len());
    let anonymous = call(&app(), "GET", "/api/companies?f=csv", &[], vec![]).await;
    assert!(
        matches!(anonymous.status, 401 | 403),
        "{}",
        anonymous.status
    );

    // One company: its row, its compounds and its months add up.
    let top = &rows[0];
    let id = top["id"].as_i64().unwrap();
    let c = ok(&get(&format!("/api/companies/{id}")).await, "a company");
    assert_eq!(c["complaints"], top["complaints"]);
    let compounds = c["compound_list"].as_array().unwrap();
    assert_eq!(compounds.len() as u64, top["compounds"].as_u64().unwrap());
    let sum = |v: &Value| -> u64 {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x["complaints"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(
        sum(&c["compound_list"]),
        top["complaints"].as_u64().unwrap()
    );
    assert_eq!(sum(&c["monthly"]), top["complaints"].as_u64().unwrap());
    assert_eq!(
        c["monthly"].as_array().unwrap().len(),
        12,
        "a year's months by default"
    );

    // Bad input: a JSON 4xx naming the problem.
    for (uri, status, needle) in [
        ("/api/companies?sort=bogus", 400, "bogus"),
        ("/api/companies?district=nowhere", 400, "nowhere"),
        ("/api/companies?f=fgb", 400, "geometry"),
        ("/api/companies/abc", 400, "abc"),
        ("/api/companies/999999999", 404, "999999999"),
    ] {
        let r = get(uri).await;
        assert_eq!(r.status, status, "{uri}");
        let body = String::from_utf8_lossy(&r.body);
        assert!(body.contains(needle), "{uri}: {body}");
        assert!(r.json()["error"]["code"].is_string(), "{uri}: {body}");
    }
}
