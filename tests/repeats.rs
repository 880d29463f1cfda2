//! Repeat complaints (issue 16, part 3): `GET /api/repeats` — the units and buildings whose
//! complaints came back of the same category within `[repeats] days` — from both stores,
//! equal to what PostGIS's own window functions say over the stored complaints (`lag` of the
//! date received over each unit, or building where the unit is not known, and category) for
//! several selections and windows; the complaints imported in two parts, so that a repeat
//! whose earlier complaint came in the first import and an earlier month still counts; the
//! compound detail, the companies' table, the tiles' `compounds` layer and OGC features; the
//! grade's repeat weight moving grades as documented; bad input refused by name.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the exact values it computed and takes the defaults its calls need

mod common;

use compound_atlas::analytics::{Atlas, Rule};
use compound_atlas::model::repeat::RepeatRule;
use compound_atlas::model::Category;
use compound_atlas::store::{embedded::EmbeddedStore, Store};
use geozero::mvt::{Message, Tile};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

fn app(atlas: Arc<Atlas>) -> axum::Router {
    compound_atlas::app(compound_atlas::AppState::new(
        atlas,
        &common::settings_with_tokens(),
    ))
}

const PLANNER: [(&str, &str); 1] = [("authorization", "Bearer planner-secret")];

async fn json(app: &axum::Router, uri: &str) -> Value {
    let r = common::call(app, "GET", uri, &PLANNER, Vec::new()).await;
    assert_eq!(r.status, 200, "{uri}: {}", String::from_utf8_lossy(&r.body));
    r.json()
}

/// The complaints imported in two parts: those received before `split`, then the rest.
async fn imported_in_two(store: Arc<dyn Store>, city: &std::path::Path, split: &str) -> Arc<Atlas> {
    use compound_atlas::ingest::complaints::read_file;
    let atlas = Arc::new(Atlas::new(store, Rule::default()));
    let all = read_file(&city.join("complaints.csv"), None).unwrap();
    let split = chrono::NaiveDate::parse_from_str(&format!("{split}-01"), "%Y-%m-%d").unwrap();
    let (early, late): (Vec<_>, Vec<_>) = all
        .rows
        .iter()
        .cloned()
        .partition(|r| r.complaint.received_at.date() < split);
    assert!(!early.is_empty() && !late.is_empty());
    for rows in [early, late] {
        let part = compound_atlas::ingest::complaints::Parsed {
            rows,
            rejected: Vec::new(),
            repeated: 0,
            encoding: all.encoding,
            category_hits: Default::default(),
        };
        atlas
            .import_complaints(part, "complaints.csv")
            .await
            .unwrap();
    }
    atlas
}

use common::Sel;

/// A place as PostGIS counted it: kind, id and compound; its complaints, repeats and repeats
/// by category code.
type Counted = BTreeMap<(String, i64, i64), (u64, u64, BTreeMap<String, u64>)>;

const SELECTION: &str = "($1::text IS NULL OR k.district_code = $1)
           AND ($2::text IS NULL OR k.street_code = $2)
           AND ($3::bigint IS NULL OR k.id = $3)
           AND ($4::bigint IS NULL OR k.company_id = $4)
           AND ($5::text IS NULL OR c.category = $5)
           AND c.received_at >= to_date($6, 'YYYY-MM')
           AND c.received_at < to_date($7, 'YYYY-MM') + interval '1 month'";

/// Each place's complaints and repeats in a selection, counted by PostGIS over the stored
/// complaints: the days since the previous complaint of the same unit (or building, where
/// the unit is not known) and category, by `lag` over all of them, whatever the window.
async fn counted(pool: &sqlx::PgPool, s: &Sel, days: i32) -> Counted {
    let sql = format!(
        "WITH c AS (
           SELECT compound_id, unit_id, building_id, category, received_at,
                  received_at::date - lag(received_at::date) OVER (
                      PARTITION BY unit_id IS NULL, coalesce(unit_id, building_id), category
                      ORDER BY received_at, ticket_id) AS gap
           FROM complaints
           WHERE compound_id IS NOT NULL AND coalesce(unit_id, building_id) IS NOT NULL)
         SELECT CASE WHEN c.unit_id IS NULL THEN 'building' ELSE 'unit' END,
                coalesce(c.unit_id, c.building_id), c.compound_id, c.category,
                count(*), count(*) FILTER (WHERE c.gap <= $8)
         FROM c JOIN compounds k ON k.id = c.compound_id
         WHERE {SELECTION}
         GROUP BY 1, 2, 3, 4"
    );
    let rows: Vec<(String, i64, i64, String, i64, i64)> = sqlx::query_as(&sql)
        .bind(&s.district)
        .bind(&s.street)
        .bind(s.compound)
        .bind(s.company)
        .bind(s.category)
        .bind(s.from)
        .bind(s.to)
        .bind(days)
        .fetch_all(pool)
        .await
        .unwrap();
    let mut out = Counted::new();
    for (kind, id, compound, cat, n, r) in rows {
        let e = out.entry((kind, id, compound)).or_default();
        e.0 += n as u64;
        e.1 += r as u64;
        if r > 0 {
            e.2.insert(cat, r as u64);
        }
    }
    out
}

/// Every complaint of a selection in its window (placed on a unit, a building or a compound).
async fn complaints_of(pool: &sqlx::PgPool, s: &Sel) -> u64 {
    let sql = format!(
        "SELECT count(*) FROM complaints c JOIN compounds k ON k.id = c.compound_id WHERE {SELECTION}"
    );
    let n: i64 = sqlx::query_scalar(&sql)
        .bind(&s.district)
        .bind(&s.street)
        .bind(s.compound)
        .bind(s.company)
        .bind(s.category)
        .bind(s.from)
        .bind(s.to)
        .fetch_one(pool)
        .await
        .unwrap();
    n as u64
}

/// Checks an answer against PostGIS's count: totals, how many places repeated, and the
/// listed places in the documented order with their counts and categories.
fn check(v: &Value, want: &Counted, complaints: u64, what: &str) {
    let mut places: Vec<_> = want.iter().filter(|(_, x)| x.1 > 0).collect();
    // Most repeats first, then most complaints, then by compound, buildings before units, id.
    places.sort_by(|a, b| {
        (b.1 .1, b.1 .0)
            .cmp(&(a.1 .1, a.1 .0))
            .then(a.0 .2.cmp(&b.0 .2))
            .then(a.0 .0.cmp(&b.0 .0))
            .then(a.0 .1.cmp(&b.0 .1))
    });
    let repeats: u64 = places.iter().map(|p| p.1 .1).sum();
    assert_eq!(v["complaints"].as_u64(), Some(complaints), "{what}");
    assert_eq!(v["repeats"].as_u64(), Some(repeats), "{what}");
    assert_eq!(v["places"].as_u64(), Some(places.len() as u64), "{what}");
    let rows = v["hot_spots"].as_array().unwrap();
    assert_eq!(rows.len(), places.len().min(5_000), "{what}");
    for (row, ((kind, id, compound), (n, r, cats))) in rows.iter().zip(&places) {
        assert_eq!(row["kind"], kind.as_str(), "{what}");
        let id_field = if kind == "unit" {
            "unit_id"
        } else {
            "building_id"
        };
        assert_eq!(row[id_field].as_i64(), Some(*id), "{what}");
        assert_eq!(row["compound_id"].as_i64(), Some(*compound), "{what}");
        assert_eq!(
            (row["complaints"].as_u64(), row["repeats"].as_u64()),
            (Some(*n), Some(*r)),
            "{what} {kind} {id}"
        );
        let want_cats: Vec<String> = Category::ALL
            .iter()
            .filter_map(|c| cats.get(c.code()).map(|k| format!("{}:{k}", c.code())))
            .collect();
        let got: Vec<String> = row["categories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, want_cats, "{what} {kind} {id}");
    }
}

#[tokio::test]
async fn both_stores_find_the_repeats_postgis_finds_over_the_stored_complaints() {
    let city = common::city(0.05, 41);
    let dir = common::copy_dir(&city);
    // Imported in two parts, split at 2023-03: a repeat early in March whose earlier
    // complaint came in February arrived in another import.
    let e = imported_in_two(
        Arc::new(EmbeddedStore::open(&dir).unwrap()),
        &city,
        "2023-03",
    )
    .await;
    let pg = common::postgis_store(&city, "repeats").await;
    let pool = pg.pool().clone();
    let p = imported_in_two(Arc::new(pg), &city, "2023-03").await;
    let (se, sp) = (
        e.store.stats().await.unwrap(),
        p.store.stats().await.unwrap(),
    );
    assert!(se.repeats.len() > 40_000, "{}", se.repeats.len());
    assert_eq!(se.repeats.len(), sp.repeats.len());
    for id in se.repeats.ids() {
        assert_eq!(se.repeats.of(id), sp.repeats.of(id), "compound {id}");
    }

    let (compound, company, street): (i64, i64, String) = sqlx::query_as(
        "SELECT k.id, k.company_id, k.street_code FROM complaints c JOIN compounds k ON k.id = c.compound_id
         WHERE k.district_code = '370211' GROUP BY 1, 2, 3 ORDER BY count(*) DESC, 1 LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let year = Sel {
        from: "2022-01",
        to: "2022-12",
        ..Sel::default()
    };
    let cases = [
        ("the city", year.clone()),
        (
            "a district",
            Sel {
                district: Some("370211".into()),
                ..year.clone()
            },
        ),
        (
            "a street",
            Sel {
                street: Some(street.clone()),
                from: "2021-01",
                to: "2023-12",
                ..Sel::default()
            },
        ),
        (
            "a compound",
            Sel {
                compound: Some(compound),
                from: "2018-01",
                to: "2023-12",
                ..Sel::default()
            },
        ),
        (
            "a company",
            Sel {
                company: Some(company),
                ..year.clone()
            },
        ),
        (
            "a category in a district",
            Sel {
                district: Some("370212".into()),
                category: Some("repairs"),
                ..year.clone()
            },
        ),
        (
            "the month of the second import",
            Sel {
                district: Some("370211".into()),
                from: "2023-03",
                to: "2023-03",
                ..Sel::default()
            },
        ),
    ];
    let (ae, ap) = (app(Arc::clone(&e)), app(Arc::clone(&p)));
    for (what, s) in &cases {
        let want = counted(&pool, s, 30).await;
        assert!(
            want.values().map(|x| x.1).sum::<u64>() > 0,
            "{what}: no repeats"
        );
        let uri = format!("/api/repeats?{}&limit=5000", s.query());
        let (je, jp) = (json(&ae, &uri).await, json(&ap, &uri).await);
        let n = complaints_of(&pool, s).await;
        check(&je, &want, n, &format!("embedded, {what}"));
        check(&jp, &want, n, &format!("postgis, {what}"));
        assert_eq!(je, jp, "{what}");
        assert_eq!(je["days"], 30);
        assert!(je["note"].is_null(), "{what}");
        // Asked again: the kept answer, the same.
        assert_eq!(json(&ae, &uri).await, je, "{what}, again");
    }

    // The month boundary: March 2023's repeats include some whose earlier complaint was in
    // February, imported apart; the city's March answer counts them.
    let across: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (
           SELECT received_at, received_at::date - lag(received_at::date) OVER (
                      PARTITION BY unit_id IS NULL, coalesce(unit_id, building_id), category
                      ORDER BY received_at, ticket_id) AS gap
           FROM complaints WHERE compound_id IS NOT NULL AND coalesce(unit_id, building_id) IS NOT NULL) g
         WHERE received_at >= '2023-03-01' AND received_at < '2023-04-01' AND gap <= 30
           AND received_at::date - gap < '2023-03-01'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(across > 0, "no repeat across the boundary");
    let march = Sel {
        from: "2023-03",
        to: "2023-03",
        ..Sel::default()
    };
    let want = counted(&pool, &march, 30).await;
    for a in [&ae, &ap] {
        let v = json(a, &format!("/api/repeats?{}&limit=5000", march.query())).await;
        check(&v, &want, complaints_of(&pool, &march).await, "March 2023");
    }

    // The compound detail, the companies' table, OGC features and the tiles say the same.
    let s = &cases[3].1;
    let want: u64 = counted(&pool, s, 30).await.values().map(|x| x.1).sum();
    let window = format!("from={}&to={}", s.from, s.to);
    for a in [&ae, &ap] {
        let detail = json(a, &format!("/api/compounds/{compound}?{window}")).await;
        assert_eq!(detail["repeats"].as_u64(), Some(want));
        let rate = (want as f64 / detail["complaints"].as_f64().unwrap() * 1e4).round() / 1e4;
        assert_eq!(detail["repeat_rate"].as_f64(), Some(rate));
        let feature = json(
            a,
            &format!("/ogc/collections/compounds/items/{compound}?{window}"),
        )
        .await;
        assert_eq!(feature["properties"]["repeats"].as_u64(), Some(want));
        assert_eq!(feature["properties"]["repeat_rate"].as_f64(), Some(rate));
        let geography = e.store.geography().await.unwrap();
        let c = geography
            .compounds
            .iter()
            .find(|c| c.id == compound)
            .unwrap();
        let pt = {
            use geo::InteriorPoint;
            c.geom.interior_point().unwrap()
        };
        let (z, x, y) = common::tile_at(pt.x(), pt.y(), 14);
        let t = common::call(
            a,
            "GET",
            &format!("/tiles/atlas/{z}/{x}/{y}.mvt?{window}"),
            &[],
            Vec::new(),
        )
        .await;
        assert_eq!(t.status, 200);
        let tile = Tile::decode(&t.body[..]).unwrap();
        let l = tile.layers.iter().find(|l| l.name == "compounds").unwrap();
        let f = l
            .features
            .iter()
            .find(|f| f.id == u64::try_from(compound).ok())
            .unwrap();
        let prop = |name: &str| {
            f.tags
                .chunks(2)
                .find(|kv| l.keys[kv[0] as usize] == name)
                .map(|kv| l.values[kv[1] as usize].clone())
                .unwrap()
        };
        let got = prop("repeats");
        assert_eq!(
            got.uint_value.or(got.int_value.map(|x| x as u64)),
            Some(want)
        );
        assert_eq!(prop("repeat_rate").double_value, Some(rate));
    }
    let year_sel = Sel {
        company: Some(company),
        ..year.clone()
    };
    let want: u64 = counted(&pool, &year_sel, 30)
        .await
        .values()
        .map(|x| x.1)
        .sum();
    for a in [&ae, &ap] {
        let table = json(a, "/api/companies?from=2022-01&to=2022-12").await;
        let row = table["companies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == company)
            .unwrap()
            .clone();
        assert_eq!(row["repeats"].as_u64(), Some(want));
        let one = json(
            a,
            &format!("/api/companies/{company}?from=2022-01&to=2022-12"),
        )
        .await;
        assert_eq!(one["repeats"].as_u64(), Some(want));
        let listed: u64 = one["compound_list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["repeats"].as_u64().unwrap())
            .sum();
        assert_eq!(listed, want);
    }

    // CSV: the same rows, starting with the BOM.
    let uri = format!("/api/repeats?{}&limit=20&f=csv", cases[1].1.query());
    let r = common::call(&ap, "GET", &uri, &PLANNER, Vec::new()).await;
    assert_eq!(r.status, 200);
    let text = String::from_utf8(r.body).unwrap();
    assert!(text.starts_with('\u{feff}'), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 21, "{text}");
    assert!(lines[0].contains("repeats") && lines[0].contains("unit_id"));
    let top = json(
        &ap,
        &format!("/api/repeats?{}&limit=20", cases[1].1.query()),
    )
    .await;
    assert!(lines[1].contains(&format!(
        ",{},",
        top["hot_spots"][0]["repeats"].as_u64().unwrap()
    )));

    // The embedded store reopened reads the repeats from its statistics file, the same.
    let uri = format!("/api/repeats?{}", cases[0].1.query());
    let before = json(&ae, &uri).await;
    drop(ae);
    drop(e);
    let reopened = app(Arc::new(Atlas::new(
        Arc::new(EmbeddedStore::open(&dir).unwrap()),
        Rule::default(),
    )));
    assert_eq!(
        json(&reopened, &uri).await,
        before,
        "from the statistics file"
    );

    // Another `days`: the same tables read with a shorter repeat window.
    let week = Rule {
        repeats: RepeatRule {
            days: 7,
            weight: 0.0,
        },
        ..Rule::default()
    };
    let short = app(Arc::new(Atlas::new(Arc::clone(&p.store), week)));
    for (what, s) in &cases[..3] {
        let v = json(&short, &format!("/api/repeats?{}&limit=5000", s.query())).await;
        let want = counted(&pool, s, 7).await;
        check(
            &v,
            &want,
            complaints_of(&pool, s).await,
            &format!("7 days, {what}"),
        );
        assert_eq!(v["days"], 7);
    }
}

#[tokio::test]
async fn the_repeat_weight_moves_grades_as_documented() {
    let city = common::city(0.05, 41);
    let plain = common::embedded_atlas(&city).await;
    let p = common::postgis_atlas(&city, "repeat_weight").await;
    let weight = 2.0;
    let rule = Rule {
        repeats: RepeatRule { days: 30, weight },
        ..Rule::default()
    };
    let weighed_e = Arc::new(Atlas::new(Arc::clone(&plain.store), rule.clone()));
    let weighed_p = Arc::new(Atlas::new(Arc::clone(&p.store), rule));
    let (b0, be, bp) = (
        plain.grades().await.unwrap(),
        weighed_e.grades().await.unwrap(),
        weighed_p.grades().await.unwrap(),
    );
    let q = b0.latest().unwrap();
    let data = plain.store.geography().await.unwrap();
    let mut moved = Vec::new();
    for c in &data.compounds {
        let (Some(a), Some(b), Some(c2)) = (b0.get(q, c.id), be.get(q, c.id), bp.get(q, c.id))
        else {
            continue;
        };
        assert_eq!(b, c2, "compound {}: both stores", c.id);
        assert_eq!(a.repeats, b.repeats);
        // Each repeat adds `weight` to the severity-weighted complaints of the 12 months.
        let want = a.rate + weight * b.repeats as f64 * 100.0 / f64::from(c.households);
        assert!(
            (b.rate - want).abs() <= 0.011,
            "{}: {} vs {want}",
            c.id,
            b.rate
        );
        if a.grade != b.grade {
            moved.push((c.id, a.grade, b.grade));
        }
    }
    assert!(!moved.is_empty(), "a weight of {weight} moved no grade");
    // Compounds ranked up by their repeats: some yellow or blue one turned red or yellow.
    assert!(moved.iter().any(|(_, a, b)| b < a), "{moved:?}");

    // The explanation says what the repeats added, and the compound's detail the same count.
    let (id, _, _) = moved[0];
    let w = compound_atlas::analytics::grade::window_of(q, &Rule::default());
    let a = app(Arc::clone(&weighed_p));
    let ex = json(&a, &format!("/api/compounds/{id}/grade?period={q}")).await;
    let r = &ex["repeats"];
    assert_eq!(r["weight"].as_f64(), Some(weight));
    assert_eq!(r["days"], 30);
    let n = r["count"].as_u64().unwrap();
    assert_eq!(r["weighted"].as_f64(), Some(weight * n as f64));
    assert!(r["how"].as_str().unwrap().contains("within 30 days"));
    assert_eq!(ex["grade"], be.get(q, id).unwrap().grade.code());
    let window = format!("from={}&to={}", w.from, w.to);
    let detail = json(&a, &format!("/api/compounds/{id}?{window}")).await;
    assert_eq!(detail["repeats"].as_u64(), Some(n));
    // With the default weight (0) the explanation shows the repeats but the rate is unmoved.
    let ex0 = json(
        &app(Arc::clone(&plain)),
        &format!("/api/compounds/{id}/grade?period={q}"),
    )
    .await;
    assert_eq!(ex0["repeats"]["count"].as_u64(), Some(n));
    assert_eq!(ex0["repeats"]["weighted"].as_f64(), Some(0.0));
}

#[tokio::test]
async fn bad_input_is_refused_by_name_and_empty_answers_say_why() {
    let city = common::city(0.02, 44);
    let e = common::embedded_atlas(&city).await;
    let a = app(Arc::clone(&e));
    let stats = e.store.stats().await.unwrap();
    let (first, last) = (stats.first.unwrap(), stats.last.unwrap());
    let bad = [
        ("from=2031-01&to=2031-03", "outside the data"),
        ("from=2020-13", "`from` must be a month"),
        ("from=2023-05&to=2023-01", "is after"),
        ("district=nowhere", "nowhere"),
        ("street=nowhere", "nowhere"),
        ("compound=-3", "compound"),
        ("category=weather", "unknown category `weather`"),
        ("limit=0", "`limit` must be 1 to 5000"),
        ("limit=many", "`limit` must be 1 to 5000"),
        ("f=fgb", "use f=json or f=csv"),
        ("f=xml", "unknown format"),
        ("days=7", "unknown parameter `days`"),
    ];
    for (q, says) in bad {
        let r = common::call(
            &a,
            "GET",
            &format!("/api/repeats?{q}"),
            &PLANNER,
            Vec::new(),
        )
        .await;
        assert!((400..500).contains(&r.status), "{q}: {}", r.status);
        let v = r.json();
        let m = common::error_message(&v).unwrap_or_default().to_string();
        assert!(m.contains(says), "{q}: {m}");
    }
    let outside = common::call(
        &a,
        "GET",
        "/api/repeats?from=2031-01&to=2031-03",
        &PLANNER,
        Vec::new(),
    )
    .await
    .json();
    let m = common::error_message(&outside).unwrap().to_string();
    assert!(m.contains(&format!("({first} to {last})")), "{m}");
    // Planners only: a caller without a token is refused.
    let r = common::call(&a, "GET", "/api/repeats", &[], Vec::new()).await;
    assert_eq!(r.status, 401);

    // A compound without complaints of a category: an empty list that says why.
    let data = e.store.geography().await.unwrap();
    let w = compound_atlas::analytics::Window::parse(None, None, last).unwrap();
    let quiet = data
        .compounds
        .iter()
        .find(|c| stats.compound_count(c.id, w, Some(Category::Committee)) == 0)
        .unwrap();
    let v = json(
        &a,
        &format!("/api/repeats?compound={}&category=committee", quiet.id),
    )
    .await;
    assert_eq!(v["hot_spots"].as_array().unwrap().len(), 0);
    assert_eq!(v["repeats"], 0);
    let note = v["note"].as_str().unwrap();
    assert!(
        note.contains("no complaints of category committee"),
        "{note}"
    );
    assert_eq!(v["repeat_rate"], Value::Null);
    // A compound with complaints but no repeat in a short window: the note says so.
    let lone = data
        .compounds
        .iter()
        .find(|c| {
            stats.compound_count(c.id, w, None) > 0
                && stats.repeats_of(&[c.id], w, None, &RepeatRule::default()) == 0
        })
        .unwrap();
    let v = json(&a, &format!("/api/repeats?compound={}", lone.id)).await;
    assert!(
        v["note"].as_str().unwrap().contains("within 30 days"),
        "{v}"
    );
    assert_eq!(v["window"]["to"], last.to_string());
}
