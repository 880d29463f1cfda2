//! Complaints end to end: hotline exports imported into both stores (placed, idempotent,
//! conflicts refused with their line), the same statistics, grades and trends from both, the
//! grading story of 李沧区, the West Coast figures, the import endpoint's roles, and no
//! complainant's name or phone in any response.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the exact values it expects and takes the defaults its calls need

mod common;

use compound_atlas::analytics::service::TrendFilter;
use compound_atlas::analytics::{Atlas, Grade, Rule, Window};
use compound_atlas::config::{Role, Settings, StoreArgs, TokenEntry};
use compound_atlas::ingest::{self, complaints, ImportOptions};
use compound_atlas::model::stats::Rowed;
use compound_atlas::model::Quarter;
use compound_atlas::store::{embedded::EmbeddedStore, postgis::PostgisStore, Store};
use std::path::Path;
use std::sync::Arc;
use tower::ServiceExt;

async fn embedded_with_complaints(city: &Path) -> Arc<Atlas> {
    let dir = common::copy_dir(city);
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&dir).unwrap());
    let atlas = Arc::new(Atlas::new(store, Rule::default()));
    let parsed = complaints::read_file(&dir.join("complaints.csv"), None).unwrap();
    let report = atlas
        .import_complaints(parsed, "complaints.csv")
        .await
        .unwrap();
    assert!(
        report.rejected.is_empty(),
        "{:?}",
        &report.rejected[..report.rejected.len().min(5)]
    );
    atlas
}

async fn postgis_with_complaints(city: &Path, tag: &str) -> Arc<Atlas> {
    let url = common::fresh_db(tag).await;
    let pg = PostgisStore::connect_lazy(&url, &Default::default()).unwrap();
    pg.migrate().await.unwrap();
    pg.import(ingest::read_paths(&[city.to_path_buf()], &ImportOptions::default(), false).unwrap())
        .await
        .unwrap();
    let atlas = Arc::new(Atlas::new(Arc::new(pg), Rule::default()));
    let parsed = complaints::read_file(&city.join("complaints.csv"), None).unwrap();
    atlas
        .import_complaints(parsed, "complaints.csv")
        .await
        .unwrap();
    atlas
}

#[tokio::test]
async fn both_stores_give_the_same_statistics_grades_and_trends() {
    let city = common::city(0.05, 41);
    let e = embedded_with_complaints(&city).await;
    let p = postgis_with_complaints(&city, "cstats").await;
    assert_eq!(
        e.store.counts().await.unwrap(),
        p.store.counts().await.unwrap()
    );
    let (se, sp) = (
        e.store.stats().await.unwrap(),
        p.store.stats().await.unwrap(),
    );
    assert_eq!(
        (se.first, se.last, se.total, se.unmatched),
        (sp.first, sp.last, sp.total, sp.unmatched)
    );
    assert_eq!(se.last.unwrap().to_string(), "2023-07");
    // The whole monthly tables, not only the totals read from them below.
    assert!(se.compound == sp.compound, "compound tables differ");
    assert!(se.building == sp.building, "building tables differ");
    assert!(se.unit == sp.unit, "unit tables differ");
    let data = e.store.geography().await.unwrap();
    for w in [
        Window::parse(None, None, se.last.unwrap()).unwrap(),
        Window::parse(Some("2018-01"), Some("2023-07"), se.last.unwrap()).unwrap(),
    ] {
        for c in &data.compounds {
            assert_eq!(
                se.compound_by_category(c.id, w),
                sp.compound_by_category(c.id, w),
                "compound {} in {w:?}",
                c.id
            );
        }
        for b in data.buildings.iter().step_by(5) {
            assert_eq!(se.building_total(b.id, w), sp.building_total(b.id, w));
        }
        for u in data.units.iter().step_by(11) {
            assert_eq!(se.unit_total(u.id, w), sp.unit_total(u.id, w));
        }
    }
    let (ge, gp) = (e.grades().await.unwrap(), p.grades().await.unwrap());
    assert_eq!(ge.periods, gp.periods);
    assert_eq!(ge.records.len(), gp.records.len());
    for (k, r) in &ge.records {
        let o = &gp.records[k];
        assert_eq!(
            (r.grade, r.rank, r.held),
            (o.grade, o.rank, o.held),
            "{k:?}"
        );
    }
    let f = TrendFilter {
        district: Some("370211".into()),
        ..TrendFilter::default()
    };
    assert_eq!(
        e.trend(&f, Some("2022-01"), Some("2023-07")).await.unwrap(),
        p.trend(&f, Some("2022-01"), Some("2023-07")).await.unwrap()
    );
}

#[tokio::test]
async fn importing_an_export_twice_changes_nothing_and_conflicts_are_refused_by_line() {
    let city = common::city(0.02, 42);
    for atlas in [
        embedded_with_complaints(&city).await,
        postgis_with_complaints(&city, "ctwice").await,
    ] {
        let kind = atlas.store.kind();
        let before = atlas.store.counts().await.unwrap();
        let again = atlas
            .import_complaints(
                complaints::read_file(&city.join("complaints.csv"), None).unwrap(),
                "again",
            )
            .await
            .unwrap();
        assert_eq!(again.loaded, 0, "{kind}");
        assert_eq!(again.unchanged as i64, before.complaints, "{kind}");
        assert_eq!(atlas.store.counts().await.unwrap(), before);

        // The first data row again, with another category; and a new good row.
        let text = std::fs::read_to_string(city.join("complaints.csv")).unwrap();
        let mut lines = text.lines();
        let header = lines.next().unwrap();
        let first: Vec<&str> = lines.next().unwrap().split(',').collect();
        let mut changed = first.clone();
        changed[2] = if first[2] == "绿化" {
            "环境卫生"
        } else {
            "绿化"
        };
        let mut fresh = first.clone();
        fresh[0] = "NEW-0001";
        let body = format!("{header}\n{}\n{}\n", changed.join(","), fresh.join(","));
        let parsed = complaints::parse_csv(&body, Path::new("x.csv")).unwrap();
        let r = atlas.import_complaints(parsed, "x.csv").await.unwrap();
        assert_eq!((r.loaded, r.rejected.len()), (1, 1), "{kind}: {r:?}");
        assert_eq!(
            (r.rejected[0].line, r.rejected[0].field),
            (2, "ticket_id"),
            "{kind}"
        );
        assert!(r.rejected[0].reason.contains("already stored"));
        assert_eq!(
            atlas.store.counts().await.unwrap().complaints,
            before.complaints + 1,
            "{kind}"
        );
    }
}

#[tokio::test]
async fn licang_has_six_red_and_thirteen_yellow_in_2023q2_and_jinqiu_guiyuan_is_red() {
    let city = common::city(1.0, 20_230_426);
    let atlas = embedded_with_complaints(&city).await;
    let book = atlas.grades().await.unwrap();
    let q = Quarter::parse("2023Q2").unwrap();
    assert_eq!(book.counts(q, Some("370213")), (6, 13, 380 - 19));
    let data = atlas.store.geography().await.unwrap();
    let jq = data
        .compounds
        .iter()
        .find(|c| c.name == "金秋桂园")
        .unwrap();
    let r = book.get(q, jq.id).unwrap();
    assert_eq!(r.grade, Grade::Red, "{r:?}");
    assert_eq!(
        r.top_categories[0].0,
        compound_atlas::model::Category::FireLane,
        "fire lanes weigh most: {r:?}"
    );
    // Every district's red list is about 1.5% of its compounds.
    for d in &data.districts {
        let n = data
            .compounds
            .iter()
            .filter(|c| c.district_code == d.code)
            .count();
        let (red, _, _) = book.counts(q, Some(&d.code));
        assert!(
            red as f64 <= (0.015 * n as f64).round() + 3.0,
            "{}: {red} red of {n}",
            d.name
        );
    }

    // West Coast through the trend: H1 2023 about 7% below H1 2022 and 27% below H2 2022.
    let f = TrendFilter {
        district: Some("黄岛区".into()),
        ..TrendFilter::default()
    };
    let t = atlas
        .trend(&f, Some("2022-01"), Some("2023-06"))
        .await
        .unwrap();
    let h = |name: &str| t.halves.iter().find(|h| h.half == name).unwrap().clone();
    let h1 = h("2023H1");
    assert!(
        (h1.vs_same_half_last_year.unwrap() + 0.07).abs() < 0.025,
        "{h1:?}"
    );
    assert!(
        (h1.vs_previous_half.unwrap() + 0.27).abs() < 0.025,
        "{h1:?}"
    );
    assert_eq!(t.months.len(), 18);
    assert!(t.months[12].yoy.is_some());

    // The same halves through the campaign's effect: its plain changes are the trend's (which
    // rounds to four decimals).
    let month = compound_atlas::model::Month::new;
    let e = atlas
        .effect(&f, month(2023, 1), Some(month(2023, 6)), 12)
        .await
        .unwrap();
    let close = |a: Option<f64>, b: Option<f64>| (a.unwrap() - b.unwrap()).abs() <= 5.01e-5;
    assert!(close(e.vs_year_before, h1.vs_same_half_last_year), "{e:?}");
    assert!(close(e.vs_months_before, h1.vs_previous_half), "{e:?}");
    assert_eq!(e.series.len(), 6);
    assert_eq!(
        e.series.iter().map(|m| m.complaints).sum::<u64>(),
        e.after,
        "{e:?}"
    );
    // Since May 2023 the city's complaints fall below what season and trend expect, and the
    // interval says it is no accident.
    let city_wide = atlas
        .effect(&TrendFilter::default(), month(2023, 5), None, 12)
        .await
        .unwrap();
    let change = city_wide.change.unwrap();
    assert!(
        change < 0.0 && city_wide.change_high.unwrap() < 0.0,
        "{city_wide:?}"
    );
    assert!(city_wide.change_low.unwrap() < change);

    // Over HTTP: the defaults, and windows the data cannot hold refused by name.
    let app = compound_atlas::app(compound_atlas::AppState::new(
        Arc::clone(&atlas),
        &settings_with_tokens(),
    ));
    let (status, body, _) = call(&app, get("/api/stats/effect?district=370211")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["effect"]["start"], "2023-05");
    assert_eq!(body["effect"]["baseline_months"], 12);
    assert!(body["effect"]["method"]
        .as_str()
        .unwrap()
        .contains("Poisson"));
    for (uri, said) in [
        ("/api/stats/effect?start=2018-06", "needs 24 months"),
        ("/api/stats/effect?start=2031-01", "outside the data"),
        ("/api/stats/effect?start=2023-05&to=2023-02", "`to`"),
        ("/api/stats/effect?baseline=40", "baseline"),
        ("/api/stats/effect?baseline=many", "baseline"),
        ("/api/stats/effect?start=May", "YYYY-MM"),
        ("/api/stats/effect?category=nothing", "category"),
    ] {
        let (status, body, _) = call(&app, get(uri)).await;
        assert_eq!(status, 400, "{uri}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(said),
            "{uri}: {body}"
        );
    }
    let (status, body, _) = call(&app, get("/api/stats/effect?district=nowhere")).await;
    let (trend_status, trend_body, _) = call(&app, get("/api/stats/trend?district=nowhere")).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (trend_status, &trend_body["error"]["code"])
    );
}

fn settings_with_tokens() -> Settings {
    let mut s = Settings::resolve_with(&StoreArgs::default(), None, &Default::default(), |_| None);
    s.tokens = vec![
        TokenEntry {
            token: "admin-secret".into(),
            role: Role::Admin,
            name: "licang-admin".into(),
        },
        TokenEntry {
            token: "planner-secret".into(),
            role: Role::Planner,
            name: "planner".into(),
        },
    ];
    s
}

async fn call(
    app: &axum::Router,
    req: axum::http::Request<axum::body::Body>,
) -> (u16, serde_json::Value, String) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    let text = String::from_utf8_lossy(&body).to_string();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        text,
    )
}

fn get(uri: &str) -> axum::http::Request<axum::body::Body> {
    axum::http::Request::get(uri)
        .body(axum::body::Body::empty())
        .unwrap()
}

/// A GET with the planner token of `settings_with_tokens`.
fn planner_get(uri: &str) -> axum::http::Request<axum::body::Body> {
    axum::http::Request::get(uri)
        .header("authorization", "Bearer planner-secret")
        .body(axum::body::Body::empty())
        .unwrap()
}

#[tokio::test]
async fn the_import_endpoint_wants_an_admin_token_and_reports_rows() {
    let city = common::city(0.02, 43);
    let dir = common::copy_dir(&city);
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&dir).unwrap());
    let atlas = Arc::new(Atlas::new(store, Rule::default()));
    let app = compound_atlas::app(compound_atlas::AppState::new(
        Arc::clone(&atlas),
        &settings_with_tokens(),
    ));
    let csv = std::fs::read(city.join("complaints.csv")).unwrap();
    let post = |token: Option<&str>, ctype: &str, body: Vec<u8>| {
        let mut b = axum::http::Request::post("/api/complaints").header("content-type", ctype);
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        b.body(axum::body::Body::from(body)).unwrap()
    };
    let (s, j, _) = call(&app, post(None, "text/csv", csv.clone())).await;
    assert_eq!(
        (s, j["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (s, _, _) = call(&app, post(Some("wrong"), "text/csv", csv.clone())).await;
    assert_eq!(s, 401);
    let (s, j, _) = call(&app, post(Some("planner-secret"), "text/csv", csv.clone())).await;
    assert_eq!((s, j["error"]["code"].as_str()), (403, Some("forbidden")));
    let (s, j, _) = call(
        &app,
        post(Some("admin-secret"), "application/pdf", csv.clone()),
    )
    .await;
    assert_eq!(
        (s, j["error"]["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    assert_eq!(atlas.store.counts().await.unwrap().complaints, 0);

    // GBK, as real exports often are: detected.
    let (gbk, _, _) = encoding_rs::GBK.encode(std::str::from_utf8(&csv).unwrap());
    let (s, j, text) = call(
        &app,
        post(
            Some("admin-secret"),
            "text/csv; charset=gbk",
            gbk.into_owned(),
        ),
    )
    .await;
    assert_eq!(s, 200, "{text}");
    assert_eq!(j["encoding"], "gbk");
    let rows = j["rows"].as_u64().unwrap();
    assert_eq!(
        j["loaded"].as_u64().unwrap() + j["rejected"].as_array().unwrap().len() as u64,
        rows
    );
    assert_eq!(
        atlas.store.counts().await.unwrap().complaints as u64,
        j["loaded"].as_u64().unwrap()
    );

    let lines = "{\"ticket_id\":\"J1\",\"received_at\":\"2023-07-01 09:00:00\",\"category\":\"fire_lane\",\"address\":\"金秋桂园1号楼1单元101\"}\n{\"ticket_id\":\"J2\",\"received_at\":\"someday\",\"category\":\"fire_lane\",\"address\":\"x\"}\n";
    let (s, j, text) = call(
        &app,
        post(
            Some("admin-secret"),
            "application/x-ndjson",
            lines.as_bytes().to_vec(),
        ),
    )
    .await;
    assert_eq!(s, 200, "{text}");
    assert_eq!(j["loaded"], 1);
    assert_eq!(j["rejected"][0]["line"], 2);
    assert_eq!(j["rejected"][0]["field"], "received_at");
}

#[tokio::test]
async fn no_response_carries_a_complainants_name_phone_or_words() {
    let city = common::city(0.02, 44);
    let atlas = embedded_with_complaints(&city).await;
    let settings = settings_with_tokens();
    let app = compound_atlas::app(compound_atlas::AppState::new(Arc::clone(&atlas), &settings));
    // The personal data of the export.
    let mut needles = std::collections::HashSet::new();
    let mut r = csv::Reader::from_path(city.join("complaints.csv")).unwrap();
    for rec in r.records() {
        let rec = rec.unwrap();
        needles.insert(rec[10].to_string()); // phone
        if rec[9].chars().count() >= 3 {
            needles.insert(rec[9].to_string()); // three-character names (two-character ones occur in place names)
        }
        needles.insert(rec[11].to_string()); // free text
    }
    let data = atlas.store.geography().await.unwrap();
    let some = &data.compounds[..5];
    let mut uris = vec![
        "/health".to_string(),
        "/api/grades".into(),
        "/api/grades?period=2023Q2&district=370213".into(),
        "/api/stats/trend".into(),
        "/api/stats/trend?district=370213&category=fire_lane".into(),
        "/tiles".into(),
        "/tiles/atlas.json".into(),
        "/styles/grade.json".into(),
        "/styles/density.json".into(),
        "/ogc".into(),
        "/ogc/conformance".into(),
        "/ogc/tileMatrixSets".into(),
        "/ogc/tiles".into(),
        "/ogc/collections/atlas/tiles/WebMercatorQuad".into(),
        "/".into(),
        "/web/app.js".into(),
        "/api/meta".into(),
        "/api/districts".into(),
        "/api/streets".into(),
        "/api/compounds?limit=1000".into(),
        "/api/compounds?limit=10000&f=csv".into(),
        "/api/compounds?limit=10000&f=fgb".into(),
        "/api/compounds/nearby?lon=120.38&lat=36.07&radius_m=50000&limit=500".into(),
        "/ogc/collections".into(),
        "/ogc/collections/districts/items".into(),
        "/ogc/collections/streets/items?limit=10000".into(),
        "/ogc/collections/compounds/items?limit=10000".into(),
        "/ogc/collections/buildings/items?limit=10000&f=csv".into(),
        "/ogc/collections/units/items?limit=10000".into(),
        "/openapi.json".into(),
        "/metrics".into(),
        "/ready".into(),
        "/tiles/grade.json".into(),
        "/wmts/1.0.0/WMTSCapabilities.xml".into(),
        "/arcgis/rest/services/atlas/VectorTileServer".into(),
        "/arcgis/rest/services/atlas/VectorTileServer/resources/styles/root.json".into(),
        "/styles/grade/legend.json".into(),
        "/api/alerts?alpha=0.2".into(),
        "/api/alerts?alpha=0.2&f=csv".into(),
        "/api/stats/hours".into(),
        "/api/stats/hours?f=csv".into(),
        "/api/hotspots?res=8".into(),
        "/api/companies/lists?list=all".into(),
        "/api/companies/lists?f=csv".into(),
        "/api/companies/lists/overrides".into(),
        "/styles/company.json".into(),
        "/api/repeats?limit=5000".into(),
        "/api/repeats?limit=5000&f=csv".into(),
    ];
    for c in some {
        uris.push(format!("/api/compounds/{}", c.id));
        uris.push(format!("/api/compounds/{}/grade", c.id));
        uris.push(format!("/api/companies/{}/list", c.company_id));
        uris.push(format!("/api/stats/trend?compound={}", c.id));
        uris.push(format!("/api/stats/hours?compound={}", c.id));
        uris.push(format!("/api/alerts?compound={}&alpha=0.3", c.id));
        uris.push(format!("/api/repeats?compound={}", c.id));
        uris.push(format!("/ogc/collections/compounds/items/{}", c.id));
        uris.push(format!(
            "/ogc/collections/buildings/items?compound_id={}",
            c.id
        ));
        // Every layer's tiles over the compound, from the district view down to units.
        use geo::Centroid;
        let p = c.geom.centroid().unwrap();
        for z in [8u32, 11, 14, 16] {
            let n = f64::from(1u32 << z);
            let x = ((p.x() + 180.0) / 360.0 * n) as u64;
            let lat = p.y().to_radians();
            let y = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n)
                as u64;
            uris.push(format!("/tiles/atlas/{z}/{x}/{y}.mvt"));
        }
    }
    for uri in &uris {
        for token in [None, Some("planner-secret"), Some("admin-secret")] {
            let mut req = axum::http::Request::get(uri.as_str());
            if let Some(t) = token {
                req = req.header("authorization", format!("Bearer {t}"));
            }
            let (s, _, text) = call(&app, req.body(axum::body::Body::empty()).unwrap()).await;
            // Compound detail is for planners: 401 without a token (and nothing leaks then).
            let planners_only = (uri.starts_with("/api/compounds/") && !uri.ends_with("/grade"))
                || uri.starts_with("/api/repeats")
                || uri.contains("f=csv")
                || uri.contains("f=fgb");
            assert!(
                s == 200 || s == 204 || (s == 401 && token.is_none() && planners_only),
                "{uri}: {s} {text}"
            );
            for n in &needles {
                assert!(!text.contains(n.as_str()), "{uri} leaks `{n}`");
            }
        }
    }
    // The monthly report of every district, as a PDF: its text as pdftotext extracts it.
    let last = atlas.store.stats().await.unwrap().last.unwrap();
    for d in &data.districts {
        let uri = format!("/api/report.pdf?district={}&month={last}", d.code);
        let public = common::call(&app, "GET", &uri, &[], Vec::new()).await;
        assert_eq!(public.status, 401, "{uri}: planners only");
        for t in ["Bearer planner-secret", "Bearer admin-secret"] {
            let r = common::call(&app, "GET", &uri, &[("authorization", t)], Vec::new()).await;
            assert_eq!(r.status, 200, "{uri}: {}", String::from_utf8_lossy(&r.body));
            let text = common::pdf_text(&r.body);
            assert!(text.contains(&d.name), "{uri}: {text}");
            for n in &needles {
                assert!(!text.contains(n.as_str()), "{uri} leaks `{n}`");
            }
        }
    }
}

#[tokio::test]
async fn small_building_counts_are_withheld_from_the_public_but_not_from_planners() {
    let city = common::city(0.02, 44);
    let atlas = embedded_with_complaints(&city).await;
    // The planner tools open to callers without a token: they still see public figures.
    let mut settings = settings_with_tokens();
    settings.open_planner = Some(true);
    let app = compound_atlas::app(compound_atlas::AppState::new(Arc::clone(&atlas), &settings));
    let stats = atlas.store.stats().await.unwrap();
    let w = Window::parse(None, None, stats.last.unwrap()).unwrap();
    let data = atlas.store.geography().await.unwrap();
    let b = data
        .buildings
        .iter()
        .find(|b| (1..3).contains(&stats.building_total(b.id, w)))
        .expect("a building with 1-2 complaints");
    let (s, public, _) = call(&app, get(&format!("/api/compounds/{}", b.compound_id))).await;
    assert_eq!(s, 200);
    let entry = public["buildings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == b.id)
        .unwrap()
        .clone();
    assert_eq!(
        (entry["complaints"].clone(), entry["suppressed"].clone()),
        (serde_json::Value::Null, serde_json::json!(true))
    );
    let req = axum::http::Request::get(format!("/api/compounds/{}", b.compound_id))
        .header("authorization", "Bearer planner-secret")
        .body(axum::body::Body::empty())
        .unwrap();
    let (_, planner, _) = call(&app, req).await;
    let entry = planner["buildings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == b.id)
        .unwrap()
        .clone();
    assert_eq!(entry["complaints"], stats.building_total(b.id, w));
}

#[tokio::test]
async fn grades_explain_themselves_and_overrides_are_kept_with_their_author() {
    let city = common::city(0.05, 45);
    for atlas in [
        embedded_with_complaints(&city).await,
        postgis_with_complaints(&city, "cover").await,
    ] {
        let kind = atlas.store.kind();
        let state = compound_atlas::AppState::new(Arc::clone(&atlas), &settings_with_tokens());
        let app = compound_atlas::app(state.clone());
        // What is made from the geography alone, before the override and the import below.
        let geography = atlas.store.geography().await.unwrap();
        let city_index = state.tiles.city(&atlas).await.unwrap();
        let gazetteer = atlas.gazetteer().await.unwrap();
        let (versions, grades_before) = (
            (atlas.store.version(), atlas.store.geography_version()),
            atlas.grades().await.unwrap(),
        );
        let (s, g, _) = call(&app, get("/api/grades?period=2023Q2")).await;
        assert_eq!(s, 200);
        let red = g["compounds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["grade"] == "red")
            .expect("a red compound")
            .clone();
        let id = red["id"].as_i64().unwrap();
        let (s, e, _) = call(
            &app,
            get(&format!("/api/compounds/{id}/grade?period=2023Q2")),
        )
        .await;
        assert_eq!(s, 200);
        assert!(
            e["why"].as_str().unwrap().contains("rank") || e["held"] == true,
            "{e}"
        );
        assert_eq!(e["rule_version"], "rygb-1");
        assert!(!e["top_categories"].as_array().unwrap().is_empty());

        let body = r#"{"period":"2023Q2","grade":"yellow","reason":"整改到位, 区里决定降级"}"#;
        let req = |token: &str| {
            axum::http::Request::post(format!("/api/compounds/{id}/grade"))
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::from(body))
                .unwrap()
        };
        let (s, _, _) = call(&app, req("planner-secret")).await;
        assert_eq!(s, 403, "{kind}");
        let (s, o, text) = call(&app, req("admin-secret")).await;
        assert_eq!(s, 200, "{kind}: {text}");
        assert_eq!(
            (o["grade"].as_str(), o["computed_grade"].as_str()),
            (Some("yellow"), Some("red"))
        );
        assert_eq!(o["override"]["author"], "licang-admin");
        // The override moved the data's version, not the geography's: the grades are made
        // again, the geography, the city index and the gazetteer are the same values.
        assert!(atlas.store.version() > versions.0, "{kind}");
        assert_eq!(atlas.store.geography_version(), versions.1, "{kind}");
        assert!(!Arc::ptr_eq(&atlas.grades().await.unwrap(), &grades_before));
        assert!(
            Arc::ptr_eq(&atlas.store.geography().await.unwrap(), &geography),
            "{kind}: an override read the geography again"
        );
        assert!(
            Arc::ptr_eq(&state.tiles.city(&atlas).await.unwrap(), &city_index),
            "{kind}: an override made the city index again"
        );
        assert!(
            Arc::ptr_eq(&atlas.gazetteer().await.unwrap(), &gazetteer),
            "{kind}: an override made the gazetteer again"
        );
        // A recomputation (a new import) keeps it.
        let parsed = complaints::parse_csv(
            "工单编号,受理时间,诉求类别,诉求地址\nX-1,2023-07-02 10:00:00,绿化,不存在的地方\n",
            Path::new("x.csv"),
        )
        .unwrap();
        atlas.import_complaints(parsed, "x").await.unwrap();
        // Nor does a complaint import.
        assert_eq!(atlas.store.geography_version(), versions.1, "{kind}");
        assert!(
            Arc::ptr_eq(&state.tiles.city(&atlas).await.unwrap(), &city_index),
            "{kind}: a complaint import made the city index again"
        );
        let (_, e, _) = call(&app, planner_get(&format!("/api/compounds/{id}"))).await;
        let h = e["grade_history"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["period"] == "2023Q2")
            .unwrap()
            .clone();
        assert_eq!(h["grade"], "yellow", "{kind}: {h}");
        assert_eq!(h["override"]["reason"], "整改到位, 区里决定降级");

        for (uri, code) in [
            ("/api/grades?period=2023Q9", 400),
            ("/api/grades?period=2031Q1", 400),
            ("/api/compounds/abc", 400),
            ("/api/compounds/99999999", 404),
            ("/api/stats/trend?district=999999", 400),
            ("/api/stats/trend?from=2023-13", 400),
            ("/api/stats/trend?from=2023-05&to=2023-01", 400),
            ("/api/stats/trend?category=noise", 400),
            ("/api/stats/trend?colour=red", 400),
        ] {
            let (s, j, text) = call(&app, planner_get(uri)).await;
            assert_eq!(s, code, "{kind} {uri}: {text}");
            assert!(
                j["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty()),
                "{uri}: {text}"
            );
        }
    }
}

#[tokio::test]
async fn the_embedded_store_keeps_its_statistics_and_layer_digests_and_trusts_neither_once_changed()
{
    use compound_atlas::analytics::stats::Stats;
    use compound_atlas::io::{self, digest, manifest::Manifest, GeometryRules};
    use compound_atlas::model::{Compound, Layer};
    let city = common::city(0.05, 41);
    // The generator's layers carry the digests of what it read back with every check.
    let m = Manifest::read(&city).unwrap();
    for file in m
        .layers
        .values()
        .filter(|f| f.rsplit('.').next() == Some("fgb"))
    {
        assert_eq!(
            m.checked.get(file),
            Some(&digest::of_file(&city.join(file)).unwrap()),
            "{file}"
        );
    }
    let dir = common::copy_dir(&city);
    let atlas = Atlas::new(
        Arc::new(EmbeddedStore::open(&dir).unwrap()),
        Rule::default(),
    );
    let parsed = complaints::read_file(&dir.join("complaints.csv"), None).unwrap();
    atlas
        .import_complaints(parsed, "complaints.csv")
        .await
        .unwrap();
    let imported = atlas.store.stats().await.unwrap();
    assert!(imported.total > 1_000 && !imported.unit.is_empty());
    let m = Manifest::read(&dir).unwrap();
    let stats_file = dir.join(
        m.stats
            .clone()
            .expect("a statistics file beside the complaints"),
    );
    let complaints_file = dir.join(m.complaints.clone().unwrap());
    let reopened = || async { EmbeddedStore::open(&dir).unwrap().stats().await.unwrap() };
    let same = |s: &Stats, why: &str| {
        assert_eq!(
            (s.first, s.last, s.total, s.unmatched),
            (
                imported.first,
                imported.last,
                imported.total,
                imported.unmatched
            ),
            "{why}"
        );
        assert!(s.compound == imported.compound, "{why}: compound table");
        assert!(s.building == imported.building, "{why}: building table");
        assert!(s.unit == imported.unit, "{why}: unit table");
        assert!(s.handling == imported.handling, "{why}: handling table");
        assert_eq!(s.times.len(), imported.times.len(), "{why}: hours");
    };
    same(&*reopened().await, "read from the statistics file");
    let kept = std::fs::read(&stats_file).unwrap();
    // The file is what is read: one with other figures for the same complaints is believed.
    let source = io::stats::source(
        &complaints_file,
        &compound_atlas::model::handling::Scale::default(),
    )
    .unwrap();
    let mut other = (*imported).clone();
    other.total += 1_000;
    io::stats::write(&stats_file, &other, &source).unwrap();
    assert_eq!(reopened().await.total, imported.total + 1_000);
    // A damaged statistics file: tabled from the complaints again, to the same figures.
    let mut damaged = kept.clone();
    damaged[kept.len() / 2] ^= 0x10;
    std::fs::write(&stats_file, &damaged).unwrap();
    same(&*reopened().await, "statistics file damaged");
    std::fs::remove_file(&stats_file).unwrap();
    same(&*reopened().await, "statistics file gone");
    // The complaints changed under an intact statistics file: the figures follow the
    // complaints (one fewer), not the file tabled from what they were.
    std::fs::write(&stats_file, &kept).unwrap();
    same(&*reopened().await, "statistics file put back");
    let text = std::fs::read_to_string(&complaints_file).unwrap();
    let body = text.trim_end_matches('\n');
    let cut = body.rfind('\n').unwrap();
    std::fs::write(&complaints_file, format!("{}\n", &body[..cut])).unwrap();
    assert_eq!(reopened().await.total, imported.total - 1);
    // A layer replaced since its digest was recorded is checked in full again: two overlapping
    // parts of one compound are refused, naming the file.
    let path = dir.join(&m.layers[&Layer::Compounds]);
    let mut compounds: Vec<Compound> =
        io::fgb::read_layer(&path, GeometryRules::default(), None).unwrap();
    let part = compounds[0].geom.0[0].clone();
    let mut shifted = part.clone();
    use geo::MapCoordsInPlace;
    shifted.map_coords_in_place(|c| geo::coord! { x: c.x + 1e-5, y: c.y + 1e-5 });
    compounds[0].geom = geo::MultiPolygon(vec![part, shifted]);
    io::fgb::write_layer(&path, &compounds).unwrap();
    let e = EmbeddedStore::open(&dir)
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("compounds") && e.contains("overlap"), "{e}");
}

/// The coordinate check follows the city's own extent (from its data), not a box of its own:
/// a complaint placed in Beijing is refused by line and field from a Qingdao store; one inside
/// the city is placed.
#[tokio::test]
async fn coordinates_are_checked_against_the_citys_own_extent() {
    let city = common::city(0.02, 21);
    let dir = common::copy_dir(&city);
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&dir).unwrap());
    let atlas = Atlas::new(store, Rule::default());
    let data = atlas.store.geography().await.unwrap();
    let [w, s, e, n] = data.extent().unwrap();
    let (x, y) = (f64::midpoint(w, e), f64::midpoint(s, n));
    let text = format!(
        "工单编号,受理时间,诉求类别,诉求地址,经度,纬度\n\
         B-1,2023-05-01 10:00:00,绿化,某小区,116.4,39.9\n\
         B-2,2023-05-01 10:00:00,绿化,某小区,{x},{y}\n"
    );
    let parsed = complaints::parse_csv(&text, Path::new("x.csv")).unwrap();
    let report = atlas.import_complaints(parsed, "x.csv").await.unwrap();
    let r: Vec<_> = report
        .rejected
        .iter()
        .map(|r| (r.line, r.field, r.reason.as_str()))
        .collect();
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!((r[0].0, r[0].1), (2, "lon"));
    assert!(r[0].2.contains("outside the city"), "{r:?}");
    assert_eq!(report.loaded, 1);
}

/// An export's handling status, satisfaction and closing time are kept, in both stores; a
/// workbook uploads to `POST /api/complaints` by its media type; a closing time that reads as
/// nothing, or one before the call, is refused by line and field.
#[tokio::test]
async fn closing_time_status_and_satisfaction_are_kept_and_a_workbook_uploads() {
    let city = common::city(0.02, 44);
    let data = compound_atlas::io::dataset::read(
        &city,
        &compound_atlas::io::manifest::Manifest::read(&city).unwrap(),
    )
    .unwrap();
    let name = |k: usize| data.compounds[k].name.clone();
    let work = tempfile::tempdir().unwrap();
    let csv = work.path().join("closed.csv");
    std::fs::write(
        &csv,
        format!(
            "工单编号,受理时间,诉求类别,诉求地址,办理状态,满意度,办结时间\n\
             CL-1,2023-05-01 10:00:00,消防通道,{}1号楼,已办结,满意,2023-05-03 16:30:00\n\
             CL-2,2023-05-02 09:00:00,环境卫生,{}2号楼,办理中,,\n\
             CL-3,2023-05-02 09:00:00,环境卫生,{}2号楼,已办结,不满意,上周\n\
             CL-4,2023-05-04 09:00:00,环境卫生,{}2号楼,已办结,基本满意,2023-05-01 09:00:00\n",
            name(0),
            name(1),
            name(1),
            name(2)
        ),
    )
    .unwrap();
    let xlsx = work.path().join("closed.xlsx");
    let o = std::process::Command::new("ogr2ogr")
        .args(["-f", "XLSX", "-oo", "AUTODETECT_TYPE=NO"])
        .arg(&xlsx)
        .arg(&csv)
        .output()
        .expect("ogr2ogr (gdal-bin, installed by scripts/test)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let check = |j: &serde_json::Value| {
        assert_eq!(j["loaded"], 2, "{j}");
        let rejected = j["rejected"].as_array().unwrap();
        assert_eq!(rejected.len(), 2, "{j}");
        for (r, line) in rejected.iter().zip([4, 5]) {
            assert_eq!(
                (r["line"].as_u64(), r["field"].as_str()),
                (Some(line), Some("closed_at")),
                "{r}"
            );
        }
    };
    let when = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();

    // The embedded store, through the endpoint.
    let dir = common::copy_dir(&city);
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&dir).unwrap());
    let atlas = Arc::new(Atlas::new(store, Rule::default()));
    let app = compound_atlas::app(compound_atlas::AppState::new(
        Arc::clone(&atlas),
        &settings_with_tokens(),
    ));
    let req = axum::http::Request::post("/api/complaints")
        .header(
            "content-type",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        .header("authorization", "Bearer admin-secret")
        .body(axum::body::Body::from(std::fs::read(&xlsx).unwrap()))
        .unwrap();
    let (s, j, text) = call(&app, req).await;
    assert_eq!(s, 200, "{text}");
    check(&j);
    let m = compound_atlas::io::manifest::Manifest::read(&dir).unwrap();
    let mut kept = Vec::new();
    compound_atlas::io::complaints::read_complaints(&dir.join(m.complaints.unwrap()), |c| {
        kept.push(c);
    })
    .unwrap();
    kept.sort_by(|a, b| a.ticket_id.cmp(&b.ticket_id));
    let got: Vec<_> = kept
        .iter()
        .map(|c| {
            (
                c.ticket_id.as_str(),
                c.status.as_str(),
                c.satisfaction.as_deref(),
                c.closed_at,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "CL-1",
                "已办结",
                Some("满意"),
                Some(when("2023-05-03 16:30:00"))
            ),
            ("CL-2", "办理中", None, None),
        ]
    );

    // PostGIS, from the same workbook read as `atlas import` reads it.
    let url = common::fresh_db("closed").await;
    let pg = PostgisStore::connect_lazy(&url, &Default::default()).unwrap();
    pg.migrate().await.unwrap();
    pg.import(
        ingest::read_paths(
            std::slice::from_ref(&city),
            &ImportOptions::default(),
            false,
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let patlas = Atlas::new(Arc::new(pg), Rule::default());
    let parsed = complaints::read_file(&xlsx, None).unwrap();
    let report = patlas
        .import_complaints(parsed, "closed.xlsx")
        .await
        .unwrap();
    check(&serde_json::to_value(&report).unwrap());
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let rows: Vec<(
        String,
        String,
        Option<String>,
        Option<chrono::NaiveDateTime>,
    )> = sqlx::query_as(
        "SELECT ticket_id, status, satisfaction, closed_at FROM complaints ORDER BY ticket_id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let rows: Vec<_> = rows
        .iter()
        .map(|(t, s, f, c)| (t.as_str(), s.as_str(), f.as_deref(), *c))
        .collect();
    assert_eq!(rows, got, "PostGIS keeps what the embedded store keeps");
}
