//! The three rates (issue 16, part 1): resolution (closed ÷ received), satisfaction
//! (satisfied ÷ rated) and the hours to a first response and to closing — the same from both
//! stores, equal to what the stored complaints themselves say, in the districts', streets',
//! companies' and compound answers, the tiles' `compounds` layer and OGC API Features; the
//! campaign's story in them; the export's words read through a configurable scale.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the exact values it computed and takes the defaults its calls need

mod common;

use compound_atlas::analytics::{Atlas, Rule};
use compound_atlas::model::handling::Scale;
use compound_atlas::store::{embedded::EmbeddedStore, Store};
use geozero::mvt::{Message, Tile};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

fn app(atlas: Arc<Atlas>) -> axum::Router {
    compound_atlas::app(compound_atlas::AppState::new(
        atlas,
        &common::settings_with_tokens(),
    ))
}

async fn json(app: &axum::Router, uri: &str) -> Value {
    let planner = [("authorization", "Bearer planner-secret")];
    let r = common::call(app, "GET", uri, &planner, Vec::new()).await;
    assert_eq!(r.status, 200, "{uri}: {}", String::from_utf8_lossy(&r.body));
    r.json()
}

const RATE_FIELDS: [&str; 9] = [
    "resolved_rate",
    "satisfied_rate",
    "closed",
    "rated",
    "satisfied",
    "response_hours_median",
    "response_hours_p90",
    "closing_hours_median",
    "closing_hours_p90",
];

fn rates_of(v: &Value) -> Vec<(&'static str, Value)> {
    RATE_FIELDS.iter().map(|k| (*k, v[*k].clone())).collect()
}

/// The nearest-rank percentile of some hours, rounded to 0.1 as the answers give them.
fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    (v[rank] * 10.0).round() / 10.0
}

/// An embedded store on a copy of `city` read through `scale`, its complaints imported:
/// the atlas and the store's directory.
async fn embedded(city: &std::path::Path, scale: Scale) -> (Arc<Atlas>, std::path::PathBuf) {
    let dir = common::copy_dir(city);
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open_with(&dir, scale).unwrap());
    let atlas = Arc::new(Atlas::new(store, Rule::default()));
    let parsed =
        compound_atlas::ingest::complaints::read_file(&dir.join("complaints.csv"), None).unwrap();
    atlas
        .import_complaints(parsed, "complaints.csv")
        .await
        .unwrap();
    (atlas, dir)
}

/// The complaints an embedded store keeps, read from its own file.
fn stored(dir: &std::path::Path) -> Vec<compound_atlas::model::Complaint> {
    let m = compound_atlas::io::manifest::Manifest::read(dir).unwrap();
    let mut rows = Vec::new();
    compound_atlas::io::complaints::read_complaints(&dir.join(m.complaints.unwrap()), |c| {
        rows.push(c);
    })
    .unwrap();
    rows
}

type When = fn(&compound_atlas::model::Complaint) -> Option<chrono::NaiveDateTime>;

/// The figures a district's complaints say, counted here: (received, closed, rated, satisfied,
/// response hours, closing hours).
fn counted(
    mine: &[&compound_atlas::model::Complaint],
    scale: &Scale,
) -> (usize, usize, usize, usize, Vec<f64>, Vec<f64>) {
    let closed = mine.iter().filter(|c| scale.closed(&c.status)).count();
    let rated: Vec<bool> = mine
        .iter()
        .filter_map(|c| scale.rating(c.satisfaction.as_deref()))
        .collect();
    let satisfied = rated.iter().filter(|r| **r).count();
    let hours = |t: When| {
        mine.iter()
            .filter_map(|c| {
                let secs = (t(c)? - c.received_at).num_seconds();
                Some(f64::from((secs as f64 / 3600.0) as f32))
            })
            .collect::<Vec<f64>>()
    };
    (
        mine.len(),
        closed,
        rated.len(),
        satisfied,
        hours(|c| c.responded_at),
        hours(|c| c.closed_at),
    )
}

/// Checks an area's answer against its complaints counted here.
fn check_area(d: &Value, mine: &[&compound_atlas::model::Complaint], scale: &Scale) {
    let (n, closed, rated, satisfied, mut resp, mut close) = counted(mine, scale);
    let name = &d["name"];
    let rate = |a: usize, b: usize| (a as f64 / b as f64 * 10_000.0).round() / 10_000.0;
    assert_eq!(d["complaints"].as_u64(), Some(n as u64), "{name}");
    assert_eq!(d["closed"].as_u64(), Some(closed as u64), "{name}");
    assert_eq!(d["rated"].as_u64(), Some(rated as u64), "{name}");
    assert_eq!(d["satisfied"].as_u64(), Some(satisfied as u64), "{name}");
    assert_eq!(d["resolved_rate"].as_f64(), Some(rate(closed, n)), "{name}");
    assert_eq!(
        d["satisfied_rate"].as_f64(),
        Some(rate(satisfied, rated)),
        "{name}"
    );
    let check = |k: &str, v: &mut [f64], p: f64| {
        assert_eq!(d[k].as_f64(), Some(percentile(v, p)), "{name} {k}");
    };
    check("response_hours_median", &mut resp, 0.5);
    check("response_hours_p90", &mut resp, 0.9);
    check("closing_hours_median", &mut close, 0.5);
    check("closing_hours_p90", &mut close, 0.9);
}

#[tokio::test]
async fn both_stores_give_the_rates_the_stored_complaints_say() {
    let city = common::city(0.05, 41);
    let (e, dir) = embedded(&city, Scale::default()).await;
    let p = common::postgis_atlas(&city, "rates").await;
    let (se, sp) = (
        e.store.stats().await.unwrap(),
        p.store.stats().await.unwrap(),
    );
    assert!(se.handling == sp.handling, "handling tables differ");
    assert_eq!(se.times.len(), sp.times.len());
    assert!(se.times.len() > 40_000, "{}", se.times.len());
    let (ae, ap) = (app(Arc::clone(&e)), app(Arc::clone(&p)));
    let window = "from=2022-01&to=2022-12";
    for (path, list) in [
        (format!("/api/districts?{window}"), "districts"),
        (format!("/api/streets?{window}"), "streets"),
        (format!("/api/companies?{window}"), "companies"),
        (
            "/api/districts?from=2023-05&to=2023-07".to_string(),
            "districts",
        ),
    ] {
        let (je, jp) = (json(&ae, &path).await, json(&ap, &path).await);
        let (le, lp) = (je[list].as_array().unwrap(), jp[list].as_array().unwrap());
        assert!(!le.is_empty());
        assert_eq!(le.len(), lp.len());
        for (a, b) in le.iter().zip(lp) {
            assert_eq!(rates_of(a), rates_of(b), "{path}: {}", a["name"]);
        }
    }

    // What the stored complaints say, counted here from the embedded store's own file.
    let data = e.store.geography().await.unwrap();
    let district_of: HashMap<i64, &str> = data
        .compounds
        .iter()
        .map(|c| (c.id, c.district_code.as_str()))
        .collect();
    let stored = stored(&dir);
    let scale = Scale::default();
    let districts = json(&ae, &format!("/api/districts?{window}")).await;
    let mut checked = 0;
    for d in districts["districts"].as_array().unwrap() {
        let code = d["code"].as_str().unwrap();
        let mine: Vec<_> = stored
            .iter()
            .filter(|c| {
                chrono::Datelike::year(&c.received_at) == 2022
                    && c.place
                        .compound_id
                        .is_some_and(|id| district_of.get(&id) == Some(&code))
            })
            .collect();
        if !mine.is_empty() {
            check_area(d, &mine, &scale);
            checked += 1;
        }
    }
    assert!(checked >= 8, "{checked} districts with complaints");

    // A compound's answer, its tile feature and its OGC feature say the same, both stores.
    let w = compound_atlas::analytics::Window::parse(
        Some("2022-01"),
        Some("2022-12"),
        se.latest_month(),
    )
    .unwrap();
    let busiest = data
        .compounds
        .iter()
        .max_by_key(|c| se.compound_total(c.id, w))
        .unwrap();
    for a in [&ae, &ap] {
        let detail = json(a, &format!("/api/compounds/{}?{window}", busiest.id)).await;
        let r = detail["resolved_rate"].as_f64().unwrap();
        let s = detail["satisfied_rate"].as_f64().unwrap();
        assert!(
            (0.5..=1.0).contains(&r) && (0.3..=1.0).contains(&s),
            "{r} {s}"
        );
        assert!(
            detail["closing_hours_median"].as_f64().unwrap()
                > detail["response_hours_median"].as_f64().unwrap()
        );
        let feature = json(
            a,
            &format!("/ogc/collections/compounds/items/{}?{window}", busiest.id),
        )
        .await;
        assert_eq!(feature["properties"]["resolved_rate"].as_f64(), Some(r));
        assert_eq!(feature["properties"]["satisfied_rate"].as_f64(), Some(s));
        let pt = {
            use geo::InteriorPoint;
            busiest.geom.interior_point().unwrap()
        };
        let (z, x, y) = common::tile_at(pt.x(), pt.y(), 14);
        let uri = format!("/tiles/atlas/{z}/{x}/{y}.mvt?{window}");
        let t = common::call(a, "GET", &uri, &[], Vec::new()).await;
        assert_eq!(t.status, 200, "{uri}");
        let tile = Tile::decode(&t.body[..]).unwrap();
        let l = tile.layers.iter().find(|l| l.name == "compounds").unwrap();
        let f = l
            .features
            .iter()
            .find(|f| f.id == u64::try_from(busiest.id).ok())
            .unwrap();
        let props: HashMap<&str, &geozero::mvt::tile::Value> = f
            .tags
            .chunks(2)
            .map(|kv| (l.keys[kv[0] as usize].as_str(), &l.values[kv[1] as usize]))
            .collect();
        let num = |k: &str| {
            let v = props[k];
            v.double_value.or(v.float_value.map(f64::from)).unwrap()
        };
        assert!(
            (num("resolved_rate") - r).abs() < 1e-6,
            "{}",
            num("resolved_rate")
        );
        assert!((num("satisfied_rate") - s).abs() < 1e-6);
    }
}

/// The demo's story: after the campaign began callers were answered and served sooner and
/// more often satisfied, and the compounds that draw many complaints are served worse.
#[tokio::test]
async fn the_campaign_and_the_hot_compounds_show_in_the_rates() {
    let a = common::shared_app(0.05, 41);
    let city = |v: &Value| {
        let list = v["districts"].as_array().unwrap();
        let sum = |k: &str| list.iter().map(|d| d[k].as_u64().unwrap()).sum::<u64>();
        sum("satisfied") as f64 / sum("rated") as f64
    };
    let before = json(&a, "/api/districts?from=2022-05&to=2022-07").await;
    let after = json(&a, "/api/districts?from=2023-05&to=2023-07").await;
    assert!(
        city(&after) > city(&before) + 0.03,
        "{} → {}",
        city(&before),
        city(&after)
    );
    for (b, n) in before["districts"]
        .as_array()
        .unwrap()
        .iter()
        .zip(after["districts"].as_array().unwrap())
    {
        assert!(
            n["closing_hours_median"].as_f64() < b["closing_hours_median"].as_f64(),
            "{}: {} → {}",
            b["name"],
            b["closing_hours_median"],
            n["closing_hours_median"]
        );
    }
    // Tickets of the last weeks before the export are still open.
    let recent = json(&a, "/api/districts?from=2023-07&to=2023-07").await;
    for d in recent["districts"].as_array().unwrap() {
        assert!(d["resolved_rate"].as_f64().unwrap() < 0.9, "{}", d["name"]);
    }
    // The busiest companies (by density) are served slower than the quietest.
    let uri = "/api/companies?from=2022-01&to=2022-12&sort=density";
    let league = json(&a, uri).await;
    // The same table asked again is the kept answer, byte for byte; another sort is not.
    let (first, again) = (
        common::call(&a, "GET", uri, &[], Vec::new()).await,
        common::call(&a, "GET", uri, &[], Vec::new()).await,
    );
    assert_eq!(first.body, again.body);
    assert_eq!(
        serde_json::from_slice::<Value>(&first.body).unwrap(),
        league
    );
    let by_name = json(&a, "/api/companies?from=2022-01&to=2022-12&sort=name").await;
    assert_ne!(by_name["companies"][0], league["companies"][0]);
    assert_eq!(by_name["sort"], "name");
    // Ordered by the share not satisfied, the worst first.
    let worst = json(
        &a,
        "/api/companies?from=2022-01&to=2022-12&sort=dissatisfied",
    )
    .await;
    let sat: Vec<f64> = worst["companies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["satisfied_rate"].as_f64())
        .collect();
    assert!(
        sat.len() > 10 && sat.windows(2).all(|w| w[0] <= w[1]),
        "{:?}",
        &sat[..5]
    );
    let unresolved = json(&a, "/api/companies?from=2022-01&to=2022-12&sort=unresolved").await;
    let res: Vec<f64> = unresolved["companies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["resolved_rate"].as_f64())
        .collect();
    assert!(res.windows(2).all(|w| w[0] <= w[1]));
    let rows: Vec<&Value> = league["companies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["complaints"].as_u64().unwrap() >= 20)
        .collect();
    let tenth = rows.len() / 10;
    let mean = |s: &[&Value], k: &str| {
        s.iter().map(|c| c[k].as_f64().unwrap()).sum::<f64>() / s.len() as f64
    };
    let (top, bottom) = (&rows[..tenth], &rows[rows.len() - tenth..]);
    assert!(
        mean(top, "closing_hours_median") > mean(bottom, "closing_hours_median"),
        "{} vs {}",
        mean(top, "closing_hours_median"),
        mean(bottom, "closing_hours_median")
    );
    assert!(mean(top, "satisfied_rate") < mean(bottom, "satisfied_rate"));
    // A company with its rates in the CSV a planner downloads.
    let csv = common::call(
        &a,
        "GET",
        "/api/companies?f=csv",
        &[("authorization", "Bearer planner-secret")],
        Vec::new(),
    )
    .await;
    assert_eq!(csv.status, 200);
    let head = String::from_utf8_lossy(&csv.body);
    let header = head.lines().next().unwrap();
    for k in RATE_FIELDS {
        assert!(header.split(',').any(|h| h == k), "{k} in {header}");
    }
}

/// A bureau whose export rates on its own words: the scale of `[handling]` is what counts,
/// in both stores, and figures tabled under another scale are not reused.
#[tokio::test]
async fn the_exports_rating_words_come_from_the_configuration() {
    let city = common::city(0.05, 41);
    let strict = Scale {
        satisfied: vec!["满意".into()],
        not_satisfied: vec!["基本满意".into(), "不满意".into()],
        ..Scale::default()
    };
    let (plain, _) = embedded(&city, Scale::default()).await;
    let (own, dir) = embedded(&city, strict.clone()).await;
    let uri = "/api/districts?from=2022-01&to=2022-12";
    let (jp, jo) = (
        json(&app(plain), uri).await,
        json(&app(Arc::clone(&own)), uri).await,
    );
    let stored = stored(&dir);
    let data = own.store.geography().await.unwrap();
    for (p, o) in jp["districts"]
        .as_array()
        .unwrap()
        .iter()
        .zip(jo["districts"].as_array().unwrap())
    {
        if p["complaints"].as_u64() == Some(0) {
            continue;
        }
        assert!(
            o["satisfied_rate"].as_f64() < p["satisfied_rate"].as_f64(),
            "{}",
            p["name"]
        );
        let code = o["code"].as_str().unwrap();
        let ids: Vec<i64> = data
            .compounds
            .iter()
            .filter(|c| c.district_code == code)
            .map(|c| c.id)
            .collect();
        let mine: Vec<_> = stored
            .iter()
            .filter(|c| {
                chrono::Datelike::year(&c.received_at) == 2022
                    && c.place.compound_id.is_some_and(|id| ids.contains(&id))
            })
            .collect();
        check_area(o, &mine, &strict);
    }
    // Opened again with the default scale, the store does not trust the statistics file
    // tabled under the strict one: its figures are the default's again.
    drop(own);
    let again: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&dir).unwrap());
    let ja = json(&app(Arc::new(Atlas::new(again, Rule::default()))), uri).await;
    assert_eq!(ja["districts"], jp["districts"]);
    // PostGIS reads its stored words through the same scale.
    let store = common::postgis_store(&city, "rates_scale")
        .await
        .with_scale(strict);
    let pg = Arc::new(Atlas::new(Arc::new(store), Rule::default()));
    pg.import_complaints(
        compound_atlas::ingest::complaints::read_file(&city.join("complaints.csv"), None).unwrap(),
        "complaints.csv",
    )
    .await
    .unwrap();
    let jg = json(&app(pg), uri).await;
    for (g, o) in jg["districts"]
        .as_array()
        .unwrap()
        .iter()
        .zip(jo["districts"].as_array().unwrap())
    {
        assert_eq!(rates_of(g), rates_of(o), "{}", g["name"]);
    }
    // A scale that says a word is both satisfied and not is refused by name.
    let work = tempfile::tempdir().unwrap();
    let toml = work.path().join("atlas.toml");
    std::fs::write(
        &toml,
        "[handling]\nsatisfied = [\"满意\", \"一般\"]\nnot_satisfied = [\"一般\"]\n",
    )
    .unwrap();
    let e = compound_atlas::config::FileConfig::load(Some(&toml)).unwrap_err();
    assert!(e.contains("atlas.toml") && e.contains("一般"), "{e}");
    std::fs::write(&toml, "[handling]\nsatisfied_words = [\"满意\"]\n").unwrap();
    let e = compound_atlas::config::FileConfig::load(Some(&toml)).unwrap_err();
    assert!(e.contains("satisfied_words"), "{e}");
}

/// A first-response time before the ticket was received is refused with its line and field;
/// the export's own header names are read.
#[tokio::test]
async fn a_response_before_the_call_is_refused_by_line_and_field() {
    let text = "工单编号,受理时间,诉求类别,来源渠道,诉求地址,经度,纬度,办理状态,满意度,办结时间,首次响应时间\n\
        R-1,2023-05-02 09:00:00,设施维修,12345热线,青岛市市南区八大关街道某小区,,,已办结,满意,2023-05-03 10:00:00,2023-05-02 09:30:00\n\
        R-2,2023-05-02 09:00:00,设施维修,12345热线,青岛市市南区八大关街道某小区,,,已办结,满意,2023-05-03 10:00:00,2023-05-01 09:30:00\n";
    let parsed =
        compound_atlas::ingest::complaints::parse_csv(text, std::path::Path::new("r.csv")).unwrap();
    assert_eq!(parsed.rows.len(), 1);
    let c = &parsed.rows[0].complaint;
    assert_eq!(
        c.responded_at.map(|t| t.to_string()),
        Some("2023-05-02 09:30:00".into())
    );
    let r = &parsed.rejected[0];
    assert_eq!((r.line, r.field), (3, "responded_at"), "{r:?}");
}
