//! Time patterns (issue 16, part 7): `GET /api/stats/hours` — the complaints a selection
//! received by ISO weekday and hour — from both stores, equal to what PostGIS itself counts
//! over the stored complaints (`extract(isodow …)`, `extract(hour …)`) for a district, a
//! street, a compound, a company, a category and a window; the same after the embedded store
//! reopens from its statistics file, and after it meets a file of the older layout; bad input
//! refused by name.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(clippy::too_many_lines, clippy::default_trait_access)] // a test reads top to bottom and takes the defaults its calls need

mod common;

use compound_atlas::analytics::{Atlas, Rule};
use compound_atlas::store::embedded::EmbeddedStore;
use serde_json::Value;
use std::sync::Arc;

use common::{app_of as app, get, json_ok as json, with_complaints};

use common::Sel;

/// The weekday × hour counts PostGIS gives over the stored complaints of a selection.
async fn counted(pool: &sqlx::PgPool, s: &Sel) -> Vec<Vec<u64>> {
    let rows: Vec<(i32, i32, i64)> = sqlx::query_as(
        "SELECT extract(isodow FROM c.received_at)::int, extract(hour FROM c.received_at)::int, count(*)
         FROM complaints c JOIN compounds k ON k.id = c.compound_id
         WHERE ($1::text IS NULL OR k.district_code = $1)
           AND ($2::text IS NULL OR k.street_code = $2)
           AND ($3::bigint IS NULL OR k.id = $3)
           AND ($4::bigint IS NULL OR k.company_id = $4)
           AND ($5::text IS NULL OR c.category = $5)
           AND c.received_at >= to_date($6, 'YYYY-MM')
           AND c.received_at < to_date($7, 'YYYY-MM') + interval '1 month'
         GROUP BY 1, 2",
    )
    .bind(&s.district)
    .bind(&s.street)
    .bind(s.compound)
    .bind(s.company)
    .bind(s.category)
    .bind(s.from)
    .bind(s.to)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut week = vec![vec![0u64; 24]; 7];
    for (d, h, n) in rows {
        week[(d - 1) as usize][h as usize] = n as u64;
    }
    week
}

fn counts_of(v: &Value) -> Vec<Vec<u64>> {
    v["hours"]["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            d.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap())
                .collect()
        })
        .collect()
}

/// Checks an answer against the week PostGIS counted: the cells, the totals by hour and by
/// weekday, the sum.
fn check(v: &Value, want: &[Vec<u64>], what: &str) {
    let h = &v["hours"];
    assert_eq!(counts_of(v), want, "{what}");
    let total: u64 = want.iter().flatten().sum();
    assert_eq!(h["complaints"].as_u64(), Some(total), "{what}");
    for hour in 0..24 {
        let n: u64 = want.iter().map(|d| d[hour]).sum();
        assert_eq!(h["by_hour"][hour].as_u64(), Some(n), "{what} hour {hour}");
    }
    for (d, row) in want.iter().enumerate() {
        assert_eq!(
            h["by_weekday"][d].as_u64(),
            Some(row.iter().sum::<u64>()),
            "{what} weekday {d}"
        );
    }
    assert_eq!(h["weekdays"][0], "Monday");
    assert_eq!(h["weekdays"][6], "Sunday");
}

#[tokio::test]
async fn both_stores_count_weekdays_and_hours_as_postgis_does_over_the_stored_complaints() {
    let city = common::city(0.05, 41);
    let dir = common::copy_dir(&city);
    let e = with_complaints(Arc::new(EmbeddedStore::open(&dir).unwrap()), &city).await;
    let pg = common::postgis_store(&city, "hours").await;
    let pool = pg.pool().clone();
    let p = with_complaints(Arc::new(pg), &city).await;
    let (se, sp) = (
        e.store.stats().await.unwrap(),
        p.store.stats().await.unwrap(),
    );
    assert!(se.clock.len() > 40_000, "{}", se.clock.len());
    assert_eq!(se.clock.len(), sp.clock.len());
    for id in se.clock.ids() {
        assert_eq!(
            se.clock.entries_of(id),
            sp.clock.entries_of(id),
            "compound {id}"
        );
    }

    // Selections drawn from the stored geography: the compound and company with the most
    // complaints, a street of the district.
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
                ..year.clone()
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
                district: Some("370211".into()),
                category: Some("repairs"),
                ..year.clone()
            },
        ),
        (
            "a short window after the campaign",
            Sel {
                district: Some("370212".into()),
                from: "2023-05",
                to: "2023-07",
                ..Sel::default()
            },
        ),
    ];
    let (ae, ap) = (app(Arc::clone(&e)), app(Arc::clone(&p)));
    for (what, s) in &cases {
        let want = counted(&pool, s).await;
        assert!(
            want.iter().flatten().sum::<u64>() > 0,
            "{what}: no complaints"
        );
        let uri = format!("/api/stats/hours?{}", s.query());
        let (je, jp) = (json(&ae, &uri).await, json(&ap, &uri).await);
        check(&je, &want, &format!("embedded, {what}"));
        check(&jp, &want, &format!("postgis, {what}"));
        assert_eq!(je, jp, "{what}");
        assert_eq!(je["hours"]["from"], s.from);
        assert_eq!(je["filter"]["category"].as_str(), s.category);
        assert!(je["hours"].get("note").is_none());
    }
    // A district by its name is the district by its code.
    let by_name = json(
        &ae,
        &format!(
            "/api/stats/hours?district={}&from=2022-01&to=2022-12",
            common::enc("市南区")
        ),
    )
    .await;
    let by_code = json(
        &ae,
        "/api/stats/hours?district=370202&from=2022-01&to=2022-12",
    )
    .await;
    assert_eq!(by_name["hours"], by_code["hours"]);

    // The cells add up to the compound's complaints of the window in its own answer.
    let detail = common::call(
        &ae,
        "GET",
        &format!("/api/compounds/{compound}?from=2022-01&to=2022-12"),
        &[("authorization", "Bearer planner-secret")],
        Vec::new(),
    )
    .await
    .json();
    let mine = json(
        &ae,
        &format!("/api/stats/hours?compound={compound}&from=2022-01&to=2022-12"),
    )
    .await;
    assert_eq!(mine["hours"]["complaints"], detail["complaints"]);

    // The default window is the last 12 months of data.
    let last = se.last.unwrap();
    let default = json(&ap, "/api/stats/hours").await;
    assert_eq!(default["hours"]["to"], last.to_string());
    assert_eq!(default["hours"]["from"], last.plus(-11).to_string());

    // CSV: a row a weekday, a column an hour, the totals last; the same numbers as JSON.
    let r = get(
        &ap,
        &format!("/api/stats/hours?{}&f=csv", cases[1].1.query()),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = String::from_utf8(r.body).unwrap();
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(lines.len(), 9, "{text}");
    assert_eq!(lines[0][0], "weekday");
    assert_eq!(
        (lines[0][1], lines[0][24], lines[0][25]),
        ("0", "23", "total")
    );
    let want = counted(&pool, &cases[1].1).await;
    for (d, row) in want.iter().enumerate() {
        let got: Vec<u64> = lines[d + 1][1..25]
            .iter()
            .map(|x| x.parse().unwrap())
            .collect();
        assert_eq!(&got, row, "CSV weekday {d}");
        assert_eq!(
            lines[d + 1][25].parse::<u64>().unwrap(),
            row.iter().sum::<u64>()
        );
    }
    assert_eq!(lines[8][0], "total");
    assert_eq!(
        lines[8][25].parse::<u64>().unwrap(),
        want.iter().flatten().sum::<u64>()
    );

    // The embedded store reopened reads its statistics file (ATLSTAT5) and answers the same;
    // with a file of the older layout in its place it tables the complaints again, the same,
    // and writes the file anew.
    let uri = format!("/api/stats/hours?{}", cases[5].1.query());
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
    let m = compound_atlas::io::manifest::Manifest::read(&dir).unwrap();
    let file = dir.join(m.stats.unwrap());
    let mut bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[..8], b"ATLSTAT5");
    bytes[..8].copy_from_slice(b"ATLSTAT2");
    std::fs::write(&file, bytes).unwrap();
    let err = compound_atlas::io::stats::read(&file).unwrap_err();
    assert!(err.contains("older layout (ATLSTAT2"), "{err}");
    let retabled = app(Arc::new(Atlas::new(
        Arc::new(EmbeddedStore::open(&dir).unwrap()),
        Rule::default(),
    )));
    assert_eq!(json(&retabled, &uri).await, before, "tabled again");
    // …and kept: the file is of today's layout again, and the next open reads it.
    let (_, source) = compound_atlas::io::stats::read(&file).unwrap();
    assert!(!source.is_empty());
    assert_eq!(&std::fs::read(&file).unwrap()[..8], b"ATLSTAT5");
}

#[tokio::test]
async fn bad_selections_and_windows_are_refused_by_name_and_empty_ones_say_why() {
    let city = common::city(0.05, 41);
    let e = common::embedded_atlas(&city).await;
    let a = app(Arc::clone(&e));
    let stats = e.store.stats().await.unwrap();
    let (first, last) = (stats.first.unwrap(), stats.last.unwrap());
    for (query, status, says) in [
        ("district=nowhere", 400, "unknown district `nowhere`"),
        ("street=nowhere", 400, "unknown street `nowhere`"),
        ("compound=999999999", 404, "compound 999999999"),
        ("compound=abc", 400, "compound"),
        ("company=999999999", 404, "company 999999999"),
        ("company=-3", 400, "company"),
        ("category=weather", 400, "unknown category `weather`"),
        ("from=2023-13", 400, "`from` must be a month"),
        ("from=2023-06&to=2023-01", 400, "is after"),
        ("from=2031-01&to=2031-06", 400, "outside the data"),
        ("from=2001-01&to=2001-12", 400, "outside the data"),
        ("f=xml", 400, "f=`xml`"),
        ("month=2023-01", 400, "month"),
    ] {
        let r = get(&a, &format!("/api/stats/hours?{query}")).await;
        assert_eq!(
            r.status,
            status,
            "{query}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let v = r.json();
        let msg = common::error_message(&v).unwrap_or_default();
        assert!(msg.contains(says), "{query}: {msg}");
    }
    let r = get(&a, "/api/stats/hours?from=2031-01&to=2031-06").await;
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains(&format!("({first} to {last})")),
        "names the data's months: {msg}"
    );

    // A compound without complaints in the window: zeros, and why.
    let data = e.store.geography().await.unwrap();
    let w = compound_atlas::analytics::Window {
        from: last.plus(-2),
        to: last,
    };
    let quiet = data
        .compounds
        .iter()
        .find(|c| stats.compound_total(c.id, w) == 0)
        .expect("a compound without complaints in three months");
    let v = json(
        &a,
        &format!(
            "/api/stats/hours?compound={}&from={}&to={}",
            quiet.id, w.from, w.to
        ),
    )
    .await;
    assert_eq!(v["hours"]["complaints"], 0);
    assert!(counts_of(&v).iter().flatten().all(|n| *n == 0));
    let note = v["hours"]["note"].as_str().unwrap();
    assert!(
        note.contains("no complaints in the selection's 1 compound"),
        "{note}"
    );
    // A window reaching past the data counts the months it holds, and says which.
    let v = json(
        &a,
        &format!(
            "/api/stats/hours?from={}&to={}",
            last.plus(-1),
            last.plus(6)
        ),
    )
    .await;
    assert_eq!(v["hours"]["data_to"], last.to_string());
    assert!(v["hours"]["complaints"].as_u64().unwrap() > 0);
}
