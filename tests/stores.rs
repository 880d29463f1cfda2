//! Both stores, loaded from the same generated files, hold the same data: same counts, same
//! features; imports are idempotent and all-or-nothing. PostGIS here is the suite's real one.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the exact values it expects and takes the defaults its calls need

mod common;

use compound_atlas::config::{Settings, StoreArgs};
use compound_atlas::ingest::{self, ImportOptions};
use compound_atlas::model::Layer;
use compound_atlas::store::{embedded::EmbeddedStore, postgis::PostgisStore, Store, StoreError};
use std::sync::Arc;

async fn postgis(tag: &str) -> PostgisStore {
    let url = common::fresh_db(tag).await;
    let s = PostgisStore::connect_lazy(&url, &Default::default()).unwrap();
    s.migrate().await.unwrap();
    s
}

/// Bounding boxes over the old city, Licang, the West Coast and a rural corner.
const BOXES: [[f64; 4]; 5] = [
    [120.30, 36.04, 120.42, 36.12],
    [120.38, 36.14, 120.48, 36.22],
    [120.10, 35.90, 120.25, 36.02],
    [119.60, 36.60, 120.10, 37.00],
    [119.0, 35.0, 122.0, 38.0],
];

async fn assert_same(a: &dyn Store, b: &dyn Store) {
    assert_eq!(a.counts().await.unwrap(), b.counts().await.unwrap());
    for bbox in BOXES {
        let ca = a.compounds_in_bbox(bbox, 10_000).await.unwrap();
        let cb = b.compounds_in_bbox(bbox, 10_000).await.unwrap();
        assert_eq!(ca.len(), cb.len(), "compounds in {bbox:?}");
        assert_eq!(ca, cb, "compounds in {bbox:?} differ");
    }
    let sample = a.compounds_in_bbox(BOXES[4], 10_000).await.unwrap();
    for c in sample.iter().step_by(7) {
        assert_eq!(
            a.compound(c.id).await.unwrap(),
            b.compound(c.id).await.unwrap()
        );
        let ba = a.buildings_of(c.id).await.unwrap();
        assert_eq!(
            ba,
            b.buildings_of(c.id).await.unwrap(),
            "buildings of {}",
            c.id
        );
        for bld in ba.iter().take(3) {
            assert_eq!(
                a.units_of(bld.id).await.unwrap(),
                b.units_of(bld.id).await.unwrap()
            );
        }
    }
}

#[tokio::test]
async fn both_stores_report_the_same_counts_and_return_the_same_features() {
    let dir = common::city(0.05, 11);
    let embedded = EmbeddedStore::open(&dir).unwrap();
    let pg = postgis("same").await;
    let data =
        ingest::read_paths(std::slice::from_ref(&dir), &ImportOptions::default(), false).unwrap();
    let report = pg.import(data).await.unwrap();
    assert_eq!(
        report.changed[&Layer::Units],
        embedded.counts().await.unwrap().units as usize
    );
    let counts = pg.counts().await.unwrap();
    assert!(
        counts.compounds > 150 && counts.buildings > 3000,
        "{counts:?}"
    );
    assert_same(&embedded, &pg).await;
    assert!(pg.compound(999_999).await.unwrap().is_none());
    assert!(embedded.compound(999_999).await.unwrap().is_none());
}

#[tokio::test]
async fn importing_the_same_files_twice_changes_nothing_in_either_store() {
    let src = common::city(0.02, 12);
    let dir = common::copy_dir(&src);
    let empty = tempfile::tempdir().unwrap();
    let embedded = EmbeddedStore::open(empty.path()).unwrap();
    let pg = postgis("twice").await;
    for store in [&embedded as &dyn Store, &pg as &dyn Store] {
        let data = ingest::read_paths(std::slice::from_ref(&dir), &ImportOptions::default(), false)
            .unwrap();
        let first = store.import(data.clone()).await.unwrap();
        let counts = store.counts().await.unwrap();
        let second = store.import(data).await.unwrap();
        assert!(first.changed.values().all(|n| *n > 0), "{first:?}");
        assert!(
            second.changed.values().all(|n| *n == 0),
            "{} rewrote rows: {second:?}",
            store.kind()
        );
        assert_eq!(store.counts().await.unwrap(), counts);
    }
    assert_same(&embedded, &pg).await;
    // The embedded store wrote its own dataset, readable again from disk, with the digest of
    // every layer file it wrote (and of no other file).
    let m = compound_atlas::io::manifest::Manifest::read(empty.path()).unwrap();
    let fgb: Vec<&String> = m
        .layers
        .values()
        .filter(|f| f.rsplit('.').next() == Some("fgb"))
        .collect();
    assert_eq!(m.checked.len(), fgb.len(), "{:?}", m.checked);
    for f in fgb {
        assert_eq!(
            m.checked[f],
            compound_atlas::io::digest::of_file(&empty.path().join(f)).unwrap()
        );
    }
    let reopened = EmbeddedStore::open(empty.path()).unwrap();
    assert_same(&reopened, &pg).await;
}

#[tokio::test]
async fn an_import_that_breaks_a_reference_leaves_both_stores_as_they_were() {
    let dir = common::city(0.02, 13);
    let copy = common::copy_dir(&dir);
    let embedded = EmbeddedStore::open(&copy).unwrap();
    let pg = postgis("atomic").await;
    pg.import(
        ingest::read_paths(std::slice::from_ref(&dir), &ImportOptions::default(), false).unwrap(),
    )
    .await
    .unwrap();
    let before_manifest = std::fs::read(copy.join("manifest.json")).unwrap();

    // A valid change to one compound and a building that points at no compound, in one import.
    let mut bad =
        ingest::read_paths(std::slice::from_ref(&dir), &ImportOptions::default(), false).unwrap();
    bad.districts.clear();
    bad.streets.clear();
    bad.companies.clear();
    bad.units.clear();
    bad.compounds.truncate(1);
    bad.compounds[0].name = "改名小区".into();
    bad.buildings.truncate(2);
    bad.buildings[1].compound_id = 987_654;
    for store in [&embedded as &dyn Store, &pg as &dyn Store] {
        let before = store.counts().await.unwrap();
        let err = store.import(bad.clone()).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Rejected(_)),
            "{}: {err}",
            store.kind()
        );
        assert!(
            err.to_string().contains("987654"),
            "{}: the error names the missing compound: {err}",
            store.kind()
        );
        assert_eq!(store.counts().await.unwrap(), before);
        let c = store.compound(bad.compounds[0].id).await.unwrap().unwrap();
        assert_ne!(
            c.name,
            "改名小区",
            "{}: half of the import landed",
            store.kind()
        );
    }
    assert_eq!(
        std::fs::read(copy.join("manifest.json")).unwrap(),
        before_manifest
    );
    assert_same(&embedded, &pg).await;
}

#[tokio::test]
async fn health_reports_counts_from_either_store() {
    use tower::ServiceExt;
    let dir = common::city(0.02, 14);
    let pg = postgis("health").await;
    pg.import(
        ingest::read_paths(std::slice::from_ref(&dir), &ImportOptions::default(), false).unwrap(),
    )
    .await
    .unwrap();
    let stores: [Arc<dyn Store>; 2] = [Arc::new(EmbeddedStore::open(&dir).unwrap()), Arc::new(pg)];
    for store in stores {
        let kind = store.kind();
        let app = compound_atlas::app(compound_atlas::AppState::for_store(store));
        let resp = app
            .oneshot(
                axum::http::Request::get("/health")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["status"], "ok");
        assert_eq!(json["store"], kind);
        assert_eq!(json["counts"]["districts"], 10);
        assert_eq!(json["counts"]["streets"], 134);
        assert!(json["counts"]["compounds"].as_i64().unwrap() >= 84);
    }
}

#[tokio::test]
async fn health_answers_503_when_postgis_is_unreachable() {
    use tower::ServiceExt;
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = Settings::resolve(
        &StoreArgs {
            data: None,
            database_url: Some(format!("postgres://postgres@127.0.0.1:{port}/x")),
        },
        None,
        &Default::default(),
    );
    let compound_atlas::config::StoreChoice::Postgis(url) = &settings.store else {
        panic!()
    };
    let mut pool = settings.pool.clone();
    pool.acquire_timeout = std::time::Duration::from_millis(500);
    let store = PostgisStore::connect_lazy(url, &pool).unwrap();
    let app = compound_atlas::app(compound_atlas::AppState::for_store(Arc::new(store)));
    let resp = app
        .oneshot(
            axum::http::Request::get("/health")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["status"], "unavailable");
    assert_eq!(json["store"], "postgis");
}

/// A database error the driver reports keeps the driver's error as its source and names its
/// SQLSTATE: what an operator needs from the log, not only "database error".
#[tokio::test]
async fn a_database_error_keeps_its_source_and_sqlstate() {
    let url = common::fresh_db("sqlerr").await;
    let s = PostgisStore::connect_lazy(&url, &Default::default()).unwrap();
    s.migrate().await.unwrap();
    let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    sqlx::query("DROP TABLE stats_compound_month CASCADE")
        .execute(&mut c)
        .await
        .unwrap();
    let e = s.stats().await.unwrap_err();
    assert!(matches!(e, StoreError::Sql { .. }), "{e:?}");
    assert!(e.to_string().contains("SQLSTATE 42P01"), "{e}");
    let source = std::error::Error::source(&e).expect("the driver's error as the source");
    assert!(
        source.to_string().contains("stats_compound_month"),
        "{source}"
    );
}

/// Every statistics table of a PostGIS store, each as its rows' text in order.
async fn stats_tables(pool: &sqlx::PgPool) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for table in [
        "stats_compound_month",
        "stats_building_month",
        "stats_unit_month",
        "stats_handling_month",
        "stats_complaint_hours",
        "stats_compound_clock",
        "stats_compound_repeats",
    ] {
        let text: Option<String> = sqlx::query_scalar(&format!(
            "SELECT string_agg(t::text, E'\\n' ORDER BY t::text) FROM {table} t"
        ))
        .fetch_one(pool)
        .await
        .unwrap();
        out.push((table.to_string(), text.unwrap_or_default()));
    }
    out
}

/// A month's import re-tables only the months it touches (and the repeats of the eight after
/// them): the complaints imported in four parts out of time order — two years on even days,
/// the years after, the years before (their repeats change the gaps of the next year's), then
/// the odd days into months that already hold complaints — give every statistics table, row
/// for row, what one import of them all gives. The whole import and the first two parts only
/// append (their statistics counted in Rust, the second's gaps starting from stored
/// complaints), the last two do not (re-tabled in SQL), so each way is checked against the
/// other.
#[tokio::test]
async fn imports_in_any_order_table_the_same_statistics_as_one() {
    use compound_atlas::analytics::{Atlas, Rule};
    use compound_atlas::ingest::complaints::{read_file, Parsed};
    let city = common::city(0.05, 41);
    let whole = common::postgis_store(&city, "order_whole").await;
    let whole_pool = whole.pool().clone();
    common::with_complaints(Arc::new(whole), &city).await;
    let parts = common::postgis_store(&city, "order_parts").await;
    let parts_pool = parts.pool().clone();
    let parts = Arc::new(Atlas::new(Arc::new(parts), Rule::default()));
    let all = read_file(&city.join("complaints.csv"), None).unwrap();
    let year =
        |r: &ingest::complaints::Row| chrono::Datelike::year(&r.complaint.received_at.date());
    let even = |r: &ingest::complaints::Row| {
        chrono::Datelike::day(&r.complaint.received_at.date()).is_multiple_of(2)
    };
    let steps: [&dyn Fn(&ingest::complaints::Row) -> bool; 4] = [
        &|r| (2020..=2021).contains(&year(r)) && even(r),
        &|r| year(r) >= 2022,
        &|r| year(r) < 2020,
        &|r| (2020..=2021).contains(&year(r)) && !even(r),
    ];
    let mut loaded = 0;
    for step in steps {
        let rows: Vec<_> = all.rows.iter().filter(|r| step(r)).cloned().collect();
        assert!(!rows.is_empty());
        loaded += rows.len();
        let part = Parsed {
            rows,
            rejected: Vec::new(),
            repeated: 0,
            encoding: all.encoding,
            category_hits: Default::default(),
        };
        parts
            .import_complaints(part, "complaints.csv")
            .await
            .unwrap();
    }
    assert_eq!(loaded, all.rows.len());
    let (want, got) = (
        stats_tables(&whole_pool).await,
        stats_tables(&parts_pool).await,
    );
    for ((table, w), (_, g)) in want.iter().zip(&got) {
        assert!(!w.is_empty(), "{table} is empty");
        assert!(
            w == g,
            "{table}: four imports out of order differ from one import"
        );
    }
}

/// A complaint imported after a later one of the same unit and category changes that one's
/// gap, nine months on: 2023-01-31 is 254 days before 2023-10-12, so the October complaint is
/// a repeat of the January one (gap 254) once January's comes, though it came first (255:
/// none before it).
#[tokio::test]
async fn an_earlier_complaint_changes_the_gap_of_one_nine_months_on() {
    use compound_atlas::analytics::{Atlas, Rule};
    use compound_atlas::ingest::complaints::{read_file, Parsed};
    let city = common::city(0.02, 43);
    let store = common::postgis_store(&city, "gap_nine").await;
    let pool = store.pool().clone();
    let atlas = Arc::new(Atlas::new(Arc::new(store), Rule::default()));
    let all = read_file(&city.join("complaints.csv"), None).unwrap();
    // A complaint whose address names its unit (three parts: building, entrance, room).
    let model = all
        .rows
        .iter()
        .find(|r| r.complaint.lon.is_none() && r.complaint.address.matches('-').count() == 2)
        .or_else(|| all.rows.iter().find(|r| r.complaint.lon.is_none()))
        .unwrap()
        .clone();
    let at = |ticket: &str, day: &str| {
        let mut r = model.clone();
        r.complaint.ticket_id = ticket.to_string();
        r.contact.ticket_id = ticket.to_string();
        r.complaint.received_at =
            chrono::NaiveDateTime::parse_from_str(&format!("{day} 10:00:00"), "%Y-%m-%d %H:%M:%S")
                .unwrap();
        r.complaint.closed_at = None;
        r.complaint.responded_at = None;
        Parsed {
            rows: vec![r],
            rejected: Vec::new(),
            repeated: 0,
            encoding: all.encoding,
            category_hits: Default::default(),
        }
    };
    for (ticket, day) in [("GAP-LATER", "2023-10-12"), ("GAP-EARLIER", "2023-01-31")] {
        let report = atlas
            .import_complaints(at(ticket, day), "gaps.csv")
            .await
            .unwrap();
        assert_eq!(report.loaded, 1, "{report:?}");
    }
    let rows: Vec<(String, i16, i32)> = sqlx::query_as(
        "SELECT to_char(month, 'YYYY-MM'), gap, n FROM stats_compound_repeats ORDER BY month",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            ("2023-01".to_string(), 255, 1),
            ("2023-10".to_string(), 254, 1)
        ]
    );
}

/// A complaint placed in a unit the geography does not hold is refused by the PostGIS store in
/// one check of the whole import, naming the complaint and the unit, and nothing of the
/// import is kept.
#[tokio::test]
async fn a_complaint_in_a_place_the_geography_lacks_is_refused_by_name() {
    use compound_atlas::ingest::complaints::read_file;
    let city = common::city(0.02, 43);
    let store = common::postgis_store(&city, "missing_place").await;
    let all = read_file(&city.join("complaints.csv"), None).unwrap();
    let mut rows: Vec<_> = all
        .rows
        .iter()
        .take(50)
        .map(|r| (r.complaint.clone(), r.contact.clone()))
        .collect();
    for (c, _) in &mut rows {
        c.place.compound_id = Some(
            store
                .compounds_in_bbox([119.0, 35.0, 122.0, 38.0], 1)
                .await
                .unwrap()[0]
                .id,
        );
    }
    rows[17].0.place.unit_id = Some(987_654_321);
    let ticket = rows[17].0.ticket_id.clone();
    match store.import_complaints(rows).await {
        Err(StoreError::Rejected(m)) => {
            assert!(m.contains(&ticket) && m.contains("unit 987654321"), "{m}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM complaints")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(kept, 0);
}
