//! The property companies' red and black lists (issue 16, part 2): the same from both stores;
//! the rule recomputed from PostGIS's own rows (the grades it stores, the households of its
//! compounds) with SQL; a company comes off its list (摘帽) only after two quiet quarters; an
//! override is audited, survives a restart and reaches the lists, the planner's answers and
//! the tiles in both stores; bad input is refused by name.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    clippy::cast_sign_loss,
    clippy::default_trait_access
)] // a test reads top to bottom and computes its own expectations

mod common;

use compound_atlas::analytics::Atlas;
use compound_atlas::model::company_list::{List, ListRule};
use compound_atlas::model::Quarter;
use compound_atlas::store::Store;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

const SCALE: f64 = 0.1;
const SEED: u64 = 20_230_426;

use common::{app_of as app, get, json_ok as json_of};

async fn post(app: &axum::Router, uri: &str, token: &str, body: &str) -> common::Resp {
    common::call(
        app,
        "POST",
        uri,
        &[
            ("authorization", &format!("Bearer {token}")),
            ("content-type", "application/json"),
        ],
        body.as_bytes().to_vec(),
    )
    .await
}

/// A PostGIS store holding the city and its complaints, and its pool for SQL of our own.
async fn postgis(tag: &str) -> (Arc<Atlas>, sqlx::PgPool) {
    let city = common::city(SCALE, SEED);
    let pg = common::postgis_store(&city, tag).await;
    let pool = pg.pool().clone();
    let atlas = common::with_complaints(Arc::new(pg), &city).await;
    (atlas, pool)
}

/// Every quarter's lists (all three kinds) as both stores answer them.
async fn every_list(app: &axum::Router, periods: &[Quarter]) -> Vec<Value> {
    let mut out = Vec::new();
    for q in periods {
        out.push(json_of(app, &format!("/api/companies/lists?period={q}&list=all")).await);
    }
    out
}

/// One company's figures in a quarter as PostGIS's SQL counts them from its stored grades.
#[derive(Debug, Clone, Copy)]
struct SqlFigures {
    households: i64,
    red_households: i64,
    rate: f64,
}

/// The standings the documented rule gives (`lists-1`, docs/complaints.md), worked out here
/// from the SQL figures alone: (computed list, whether held, whether it came off).
fn by_the_rule(
    figures: &BTreeMap<Quarter, BTreeMap<i64, SqlFigures>>,
    rule: &ListRule,
) -> BTreeMap<(Quarter, i64), (List, bool, bool)> {
    let mut out = BTreeMap::new();
    let mut last: HashMap<i64, (List, bool)> = HashMap::new();
    for (q, companies) in figures {
        let mut rates: Vec<f64> = companies
            .values()
            .filter(|f| f.households >= rule.min_households)
            .map(|f| f.rate)
            .collect();
        rates.sort_by(|a, b| b.total_cmp(a));
        let k = (rule.red_worst * rates.len() as f64).round() as usize;
        let line = if k == 0 || rates[k - 1] <= 0.0 {
            f64::INFINITY
        } else {
            rates[k - 1]
        };
        for (id, f) in companies {
            let share = if f.households > 0 {
                f.red_households as f64 / f.households as f64
            } else {
                0.0
            };
            let qualified = if f.households < rule.min_households {
                List::None
            } else if share >= rule.black_share {
                List::Black
            } else if share >= rule.red_share || f.rate >= line {
                List::Red
            } else {
                List::None
            };
            let (was, was_quiet) = last.get(id).copied().unwrap_or((List::None, true));
            let quiet = qualified == List::None;
            let list = if was != List::None && !(quiet && was_quiet) {
                qualified.max(was)
            } else {
                qualified
            };
            out.insert(
                (*q, *id),
                (
                    list,
                    list > qualified,
                    was != List::None && list == List::None,
                ),
            );
            last.insert(*id, (list, quiet));
        }
    }
    out
}

/// The figures of every company and quarter, counted by SQL over the `grades` table PostGIS
/// holds (written by `atlas grade`'s `save_grades`) and its compounds' households.
async fn sql_figures(pool: &sqlx::PgPool) -> BTreeMap<Quarter, BTreeMap<i64, SqlFigures>> {
    let rows: Vec<(String, i64, i64, i64, f64)> = sqlx::query_as(
        "SELECT g.period, c.company_id, sum(c.households)::bigint, \
                coalesce(sum(c.households) FILTER (WHERE g.grade = 'red'), 0)::bigint, \
                CASE WHEN sum(c.households) > 0 \
                     THEN sum(g.rate * c.households) / sum(c.households) ELSE 0 END \
         FROM grades g JOIN compounds c ON c.id = g.compound_id \
         GROUP BY g.period, c.company_id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut out: BTreeMap<Quarter, BTreeMap<i64, SqlFigures>> = BTreeMap::new();
    for (period, company, households, red_households, rate) in rows {
        out.entry(Quarter::parse(&period).unwrap())
            .or_default()
            .insert(
                company,
                SqlFigures {
                    households,
                    red_households,
                    rate,
                },
            );
    }
    out
}

#[tokio::test]
async fn the_lists_are_the_same_from_both_stores_and_follow_the_rule_as_sql_counts_it() {
    let city = common::city(SCALE, SEED);
    let embedded = common::embedded_atlas(&city).await;
    let (pg, pool) = postgis("lists").await;
    let book = pg.company_lists().await.unwrap();
    let periods = book.periods.clone();
    assert!(periods.len() >= 8, "{periods:?}");
    // Both stores answer every quarter's lists alike.
    let (e, p) = (app(Arc::clone(&embedded)), app(Arc::clone(&pg)));
    let (from_e, from_p) = (
        every_list(&e, &periods).await,
        every_list(&p, &periods).await,
    );
    assert_eq!(from_e, from_p);
    let latest = &from_p[periods.len() - 1];
    let (black, red) = (
        latest["black"].as_u64().unwrap(),
        latest["red"].as_u64().unwrap(),
    );
    eprintln!(
        "{}: {black} black, {red} red, {} off their list, of {} companies",
        latest["period"],
        latest["capped_off"],
        city_companies(&pg).await
    );
    assert!(black + red > 0, "{latest}");

    // The rule, worked out again from what PostGIS holds.
    let grades = pg.grades().await.unwrap();
    pg.store
        .save_grades(&grades.records.values().collect::<Vec<_>>())
        .await
        .unwrap();
    let figures = sql_figures(&pool).await;
    let expected = by_the_rule(&figures, &ListRule::default());
    let mut listed = 0;
    for ((q, id), (list, held, off)) in &expected {
        let s = book.get(*q, *id).unwrap();
        let f = figures[q][id];
        assert_eq!(
            (s.households, s.red_households),
            (f.households, f.red_households),
            "{q} company {id}"
        );
        assert!(
            (s.rate - f.rate).abs() < 1e-6,
            "{q} company {id}: {} vs {}",
            s.rate,
            f.rate
        );
        assert_eq!(
            (s.list, s.held, s.capped_off),
            (*list, *held, *off),
            "{q} company {id}"
        );
        listed += usize::from(*list != List::None);
    }
    assert_eq!(expected.len(), book.records.len());
    // The answer lists exactly the companies on a list or come off one, black first.
    for (k, q) in periods.iter().enumerate() {
        let rows = from_p[k]["companies"].as_array().unwrap();
        let want = expected
            .iter()
            .filter(|((p, _), (l, _, off))| p == q && (*l != List::None || *off))
            .count();
        assert_eq!(rows.len(), want, "{q}");
        let lists: Vec<&str> = rows.iter().map(|r| r["list"].as_str().unwrap()).collect();
        let mut sorted = lists.clone();
        sorted.sort_by_key(|l| match *l {
            "black" => 0,
            "red" => 1,
            _ => 2,
        });
        assert_eq!(lists, sorted, "{q}");
        for r in rows {
            assert!(!r["why"].as_str().unwrap().is_empty());
            if r["list"] != "none" {
                assert!(r["since"].as_str().unwrap() <= &*q.to_string(), "{r}");
            }
        }
    }
    assert!(listed > 0);

    // CSV for planners: a BOM, a header, one line per company listed.
    let csv = common::call(
        &p,
        "GET",
        &format!(
            "/api/companies/lists?period={}&f=csv",
            periods[periods.len() - 1]
        ),
        &[("authorization", "Bearer planner-secret")],
        Vec::new(),
    )
    .await;
    assert_eq!(csv.status, 200);
    let text = String::from_utf8(csv.body).unwrap();
    assert!(text.starts_with('\u{feff}'), "{text}");
    let header = text.lines().next().unwrap();
    for col in [
        "id",
        "name",
        "list",
        "since",
        "capped_off",
        "red_share",
        "why",
        "override_author",
    ] {
        assert!(
            header
                .split(',')
                .any(|h| h.trim_start_matches('\u{feff}') == col),
            "{header}"
        );
    }
    assert_eq!(
        text.lines().count() - 1,
        latest["numberReturned"].as_u64().unwrap() as usize
    );
    // A repeated answer comes from the cache.
    let t = std::time::Instant::now();
    get(&p, "/api/companies/lists?list=all").await;
    let first = t.elapsed();
    let t = std::time::Instant::now();
    get(&p, "/api/companies/lists?list=all").await;
    eprintln!("lists: first {first:?}, repeated {:?}", t.elapsed());
}

async fn city_companies(atlas: &Atlas) -> usize {
    atlas.store.geography().await.unwrap().companies.len()
}

/// A company on no list in five quarters running and quiet in the last four, managing at least 2,000 households with
/// one compound holding a quarter of them or more: (company, that compound, the first quarter).
fn quiet_company(
    atlas_book: &compound_atlas::analytics::company_list::ListBook,
    data: &compound_atlas::model::Dataset,
) -> (i64, i64, Quarter) {
    let mut by: BTreeMap<i64, Vec<(i64, i64)>> = BTreeMap::new();
    for c in &data.compounds {
        by.entry(c.company_id)
            .or_default()
            .push((i64::from(c.households), c.id));
    }
    let periods = &atlas_book.periods;
    for (company, mut compounds) in by {
        let total: i64 = compounds.iter().map(|c| c.0).sum();
        compounds.sort_unstable();
        let (biggest, id) = *compounds.last().unwrap();
        if total < 2000 || biggest * 4 < total {
            continue;
        }
        // On no list the quarter before, and quiet and on no list in the four.
        for w in periods.windows(5).rev() {
            let s = |q: &Quarter| atlas_book.get(*q, company).unwrap();
            if s(&w[0]).list == List::None
                && w[1..]
                    .iter()
                    .all(|q| s(q).qualified == List::None && s(q).list == List::None)
            {
                return (company, id, w[1]);
            }
        }
    }
    panic!("no quiet company to test with");
}

#[tokio::test]
async fn a_company_comes_off_its_list_only_after_two_quiet_quarters() {
    let city = common::city(SCALE, SEED);
    let embedded = common::embedded_atlas(&city).await;
    let (pg, _) = postgis("capoff").await;
    let data = pg.store.geography().await.unwrap();
    let (company, compound, q1) = quiet_company(&pg.company_lists().await.unwrap(), &data);
    let (q2, q3, q4) = (Quarter(q1.0 + 1), Quarter(q1.0 + 2), Quarter(q1.0 + 3));
    let mut seen = Vec::new();
    for atlas in [embedded, pg] {
        let kind = atlas.store.kind();
        let a = app(Arc::clone(&atlas));
        // Its biggest compound graded red in q1 only: a quarter of its households in red.
        let r = post(
            &a,
            &format!("/api/compounds/{compound}/grade"),
            "admin-secret",
            &format!(r#"{{"period":"{q1}","grade":"red","reason":"暗访发现消防通道堵塞"}}"#),
        )
        .await;
        assert_eq!(
            r.status,
            200,
            "{kind}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let s = json_of(&a, &format!("/api/companies/{company}/list")).await;
        let at = |q: Quarter| {
            s["history"]
                .as_array()
                .unwrap()
                .iter()
                .find(|h| h["period"] == q.to_string())
                .unwrap()
                .clone()
        };
        let standing = |q: Quarter| {
            let h = at(q);
            (
                h["list"].as_str().unwrap().to_string(),
                h["held"].as_bool().unwrap(),
                h["capped_off"].as_bool().unwrap(),
            )
        };
        assert_eq!(standing(q1), ("black".into(), false, false), "{kind}: {s}");
        // One quiet quarter: still black, held by the cap-removal rule.
        assert_eq!(standing(q2), ("black".into(), true, false), "{kind}: {s}");
        // The second quiet quarter running: off (摘帽), and it says so.
        assert_eq!(standing(q3), ("none".into(), false, true), "{kind}: {s}");
        assert_eq!(standing(q4), ("none".into(), false, false), "{kind}: {s}");
        let l = json_of(
            &a,
            &format!("/api/companies/lists?period={q3}&list=capped_off"),
        )
        .await;
        assert!(
            l["companies"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["id"] == company && r["why"].as_str().unwrap().contains("摘帽")),
            "{kind}: {l}"
        );
        let held = json_of(&a, &format!("/api/companies/lists?period={q2}&list=black")).await;
        let row = held["companies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == company)
            .unwrap()
            .clone();
        assert_eq!(
            (row["held"].as_bool(), row["since"].as_str()),
            (Some(true), Some(&*q1.to_string()))
        );
        seen.push(s["history"].clone());
    }
    assert_eq!(seen[0], seen[1]);
}

#[tokio::test]
async fn an_override_is_audited_and_reaches_the_lists_answers_and_tiles_in_both_stores() {
    let city = common::city(SCALE, SEED);
    let embedded = common::embedded_atlas(&city).await;
    let (pg, _) = postgis("override").await;
    let mut audits = Vec::new();
    for atlas in [embedded, pg] {
        let kind = atlas.store.kind();
        let a = app(Arc::clone(&atlas));
        let book = atlas.company_lists().await.unwrap();
        let q = *book.periods.last().unwrap();
        // A company on no list, with compounds: put on the black list by hand.
        let s = book.listed(q, false).first().map(|s| s.company_id).unwrap();
        let target = book
            .records
            .values()
            .filter(|r| r.period == q && r.list == List::None && r.compounds > 0)
            .map(|r| r.company_id)
            .min()
            .unwrap();
        assert_ne!(s, target);
        let body = format!(
            r#"{{"period":"{q}","list":"black","reason":"拒不整改，区住建局决定列入黑名单"}}"#
        );
        let uri = format!("/api/companies/{target}/list");
        assert_eq!(
            post(&a, &uri, "planner-secret", &body).await.status,
            403,
            "{kind}"
        );
        let r = post(&a, &uri, "admin-secret", &body).await;
        assert_eq!(
            r.status,
            200,
            "{kind}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let after = r.json();
        assert_eq!(after["standing"]["list"], "black", "{kind}: {after}");
        assert_eq!(after["standing"]["computed"], "none", "{kind}");
        assert_eq!(after["standing"]["override_author"], "admin", "{kind}");
        // The audit trail: who, when, from, to, why.
        let audit = json_of(&a, "/api/companies/lists/overrides").await;
        let o = &audit["overrides"][0];
        assert_eq!(
            (
                o["company_id"].as_i64(),
                o["from"].as_str(),
                o["to"].as_str(),
                o["author"].as_str()
            ),
            (Some(target), Some("none"), Some("black"), Some("admin")),
            "{kind}: {audit}"
        );
        assert!(o["reason"].as_str().unwrap().contains("拒不整改"));
        assert!(o["at"].as_str().unwrap().len() >= 19);
        // The lists carry it, with the override.
        let l = json_of(&a, &format!("/api/companies/lists?period={q}&list=black")).await;
        let row = l["companies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == target)
            .unwrap_or_else(|| panic!("{kind}: {l}"))
            .clone();
        assert_eq!(
            (row["overridden"].as_bool(), row["override_from"].as_str()),
            (Some(true), Some("none"))
        );
        assert!(row["why"].as_str().unwrap().contains("拒不整改"));
        // The planner's answers and the tiles of its compounds say black.
        let data = atlas.store.geography().await.unwrap();
        let theirs: Vec<&compound_atlas::model::Compound> = data
            .compounds
            .iter()
            .filter(|c| c.company_id == target)
            .collect();
        let fc = common::call(
            &a,
            "GET",
            &format!("/api/compounds?company={target}&period={q}&limit=1000"),
            &[("authorization", "Bearer planner-secret")],
            Vec::new(),
        )
        .await
        .json();
        let feats = fc["features"].as_array().unwrap();
        assert_eq!(feats.len(), theirs.len(), "{kind}");
        assert!(
            feats
                .iter()
                .all(|f| f["properties"]["company_list"] == "black"),
            "{kind}"
        );
        use geo::Centroid;
        let p = theirs[0].geom.centroid().unwrap();
        let (z, x, y) = common::tile_at(p.x(), p.y(), 14);
        let t = get(&a, &format!("/tiles/atlas/{z}/{x}/{y}.mvt?period={q}")).await;
        assert_eq!(t.status, 200, "{kind}");
        let lists = tile_lists(&t.body);
        assert_eq!(
            lists.get(&theirs[0].id).map(String::as_str),
            Some("black"),
            "{kind}"
        );
        assert!(lists
            .values()
            .all(|l| ["black", "red", "none"].contains(&l.as_str())));
        audits.push(
            atlas
                .store
                .company_overrides()
                .await
                .unwrap()
                .into_iter()
                .map(|o| (o.company_id, o.period, o.from, o.list, o.reason, o.author))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(audits[0], audits[1]);
}

/// The compounds of a tile and their `company_list`.
fn tile_lists(body: &[u8]) -> HashMap<i64, String> {
    use geozero::mvt::{Message, Tile};
    let tile = Tile::decode(body).unwrap();
    let l = tile.layers.iter().find(|l| l.name == "compounds").unwrap();
    l.features
        .iter()
        .map(|f| {
            let list = f
                .tags
                .chunks(2)
                .find(|kv| l.keys[kv[0] as usize] == "company_list")
                .and_then(|kv| l.values[kv[1] as usize].string_value.clone())
                .unwrap();
            (i64::try_from(f.id.unwrap()).unwrap(), list)
        })
        .collect()
}

#[tokio::test]
async fn the_embedded_store_keeps_company_overrides_across_a_restart() {
    use compound_atlas::store::embedded::EmbeddedStore;
    let dir = common::imported_city(0.02, 44);
    let store = EmbeddedStore::open(&dir).unwrap();
    let company = store.geography().await.unwrap().companies[0].id;
    let o = compound_atlas::model::company_list::CompanyOverride {
        company_id: company,
        period: Quarter::parse("2023Q2").unwrap(),
        from: List::None,
        list: List::Red,
        reason: "投诉集中".into(),
        author: "admin".into(),
        at: chrono::NaiveDate::from_ymd_opt(2023, 7, 3)
            .unwrap()
            .and_hms_opt(9, 30, 0)
            .unwrap(),
    };
    store.add_company_override(o.clone()).await.unwrap();
    drop(store);
    let again = EmbeddedStore::open(&dir).unwrap();
    assert_eq!(again.company_overrides().await.unwrap(), vec![o.clone()]);
    // A company that does not exist is refused.
    let err = again
        .add_company_override(compound_atlas::model::company_list::CompanyOverride {
            company_id: 99_999_999,
            ..o
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("company 99999999"), "{err}");
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_problem() {
    let a = common::shared_app(SCALE, SEED);
    for (uri, status, says) in [
        ("/api/companies/99999999/list", 404, "company 99999999"),
        ("/api/companies/abc/list", 400, "positive integer"),
        (
            "/api/companies/lists?period=2031Q1",
            400,
            "no grades for 2031Q1",
        ),
        ("/api/companies/lists?period=2023Q7", 400, "YYYYQn"),
        (
            "/api/companies/lists?list=purple",
            400,
            "unknown list `purple`",
        ),
        (
            "/api/companies/lists?district=nowhere",
            400,
            "unknown district",
        ),
        (
            "/api/companies/lists?colour=red",
            400,
            "unknown parameter `colour`",
        ),
        (
            "/api/companies/lists/overrides?x=1",
            400,
            "unknown parameter",
        ),
        (
            "/api/companies/1/list?period=1999Q1",
            400,
            "no grades for 1999Q1",
        ),
    ] {
        let r = get(&a, uri).await;
        assert_eq!(
            r.status,
            status,
            "{uri}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let msg = common::error_message(&r.json()).unwrap().to_string();
        assert!(msg.contains(says), "{uri}: {msg}");
    }
    // CSV is for planners; lists have no geometry to give as FlatGeobuf.
    assert_eq!(get(&a, "/api/companies/lists?f=csv").await.status, 401);
    let fgb = common::call(
        &a,
        "GET",
        "/api/companies/lists?f=fgb",
        &[("authorization", "Bearer planner-secret")],
        Vec::new(),
    )
    .await;
    assert_eq!(fgb.status, 400);
    assert!(common::error_message(&fgb.json())
        .unwrap()
        .contains("no geometry"));
    let data_company = json_of(&a, "/api/companies").await["companies"][0]["id"]
        .as_i64()
        .unwrap();
    let uri = format!("/api/companies/{data_company}/list");
    for (body, says) in [
        (
            r#"{"period":"2023Q2","list":"purple","reason":"x"}"#,
            "`list` must be black, red or none",
        ),
        (
            r#"{"period":"2023Q2","list":"red"}"#,
            "`reason` must say why",
        ),
        (
            r#"{"period":"2031Q1","list":"red","reason":"x"}"#,
            "no grades for 2031Q1",
        ),
        (
            r#"{"period":"2023Q2","list":"red","reason":"x","colour":1}"#,
            "unknown member `colour`",
        ),
        ("not json", "not JSON"),
    ] {
        let r = post(&a, &uri, "admin-secret", body).await;
        assert_eq!(
            r.status,
            400,
            "{body}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let msg = common::error_message(&r.json()).unwrap().to_string();
        assert!(msg.contains(says), "{body}: {msg}");
    }
    let r = post(
        &a,
        "/api/companies/99999999/list",
        "admin-secret",
        r#"{"period":"2023Q2","list":"red","reason":"x"}"#,
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        common::call(&a, "POST", &uri, &[], br"{}".to_vec())
            .await
            .status,
        401
    );
    // An empty answer says why: nobody comes off a list in the first quarter listed.
    let first = json_of(&a, "/api/companies/lists").await["periods"]["first"].clone();
    let quiet = json_of(
        &a,
        &format!(
            "/api/companies/lists?list=capped_off&period={}",
            first.as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(quiet["numberReturned"], 0, "{quiet}");
    assert!(
        quiet["note"].as_str().unwrap().contains("no company"),
        "{quiet}"
    );
    // The company style paints compounds by their company's list.
    let style = json_of(&a, "/styles/company.json").await;
    let fill = style["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == "compounds-fill")
        .unwrap()["paint"]["fill-color"]
        .clone();
    assert_eq!(
        fill[1],
        serde_json::json!(["get", "company_list"]),
        "{fill}"
    );
}
