//! Early warning (issue 16, part 4): `GET /api/alerts` follows its documented rule — written
//! again in Python (tools/alerts-check.py: numpy's Poisson regression, scipy's tails) and fed
//! the monthly counts PostGIS itself counts from the stored complaints — the same from both
//! stores; the tiles' `compounds` layer and the planner's answers carry each compound's
//! strongest alert; bad input is refused by name.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the values it computed and takes the defaults its calls need

mod common;

use compound_atlas::analytics::{Atlas, Rule};
use compound_atlas::model::alert::AlertRule;
use compound_atlas::store::Store;
use geozero::mvt::{Message, Tile};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

const SCALE: f64 = 0.1;
const SEED: u64 = 20_230_426;

/// The rule's alerts of month `i` as tools/alerts-check.py computes them from `series`:
/// (tested, (compound, category) → [observed, expected, dispersion, trend, months, p]).
fn oracle(series: &Value, i: usize, alpha: f64) -> (u64, BTreeMap<(i64, String), Vec<Value>>) {
    let input = json!({
        "rule": AlertRule::default(), "alpha": alpha, "month": i, "series": series,
    });
    let v = common::python_json("alerts-check.py", &input);
    let alerts = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let a = a.as_array().unwrap();
            (
                (a[0].as_i64().unwrap(), a[1].as_str().unwrap().to_string()),
                a[2..].to_vec(),
            )
        })
        .collect();
    (v["tested"].as_u64().unwrap(), alerts)
}

/// Every compound's monthly counts by category from the first month of the data, as PostGIS
/// counts them from its stored complaints (zeros included): the oracle's input, and the first
/// month.
async fn counted(pool: &sqlx::PgPool) -> (Value, compound_atlas::model::Month) {
    let first: String = sqlx::query_scalar(
        "SELECT to_char(min(received_at), 'YYYY-MM') FROM complaints WHERE compound_id IS NOT NULL",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let first = compound_atlas::model::Month::parse(&first).unwrap();
    let months: i32 = sqlx::query_scalar(
        "SELECT (extract(year FROM max(received_at)) * 12 + extract(month FROM max(received_at)))::int FROM complaints WHERE compound_id IS NOT NULL",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    // Month(y * 12 + m - 1): the last month's index plus one.
    let n = usize::try_from(months - 1 - first.0 + 1).unwrap();
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM compounds ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap();
    let rows: Vec<(i64, String, i32, i64)> = sqlx::query_as(
        "SELECT compound_id, category,
                (extract(year FROM received_at) * 12 + extract(month FROM received_at))::int - 1,
                count(*)
         FROM complaints WHERE compound_id IS NOT NULL GROUP BY 1, 2, 3",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut series: HashMap<(i64, String), Vec<i64>> = HashMap::new();
    for (id, cat, m, k) in rows {
        series.entry((id, cat)).or_insert_with(|| vec![0; n])
            [usize::try_from(m - first.0).unwrap()] = k;
    }
    let mut out = Vec::new();
    for id in ids {
        for c in compound_atlas::model::Category::ALL {
            let s = series
                .remove(&(id, c.code().to_string()))
                .unwrap_or_else(|| vec![0; n]);
            out.push(json!([id, c.code(), s]));
        }
    }
    (Value::Array(out), first)
}

/// A PostGIS atlas of `city` with its complaints, and its pool for the oracle's counts.
async fn postgis(city: &std::path::Path) -> (Arc<Atlas>, sqlx::PgPool) {
    let store = common::postgis_store(city, "alerts").await;
    let pool = store.pool().clone();
    let atlas = Arc::new(Atlas::new(Arc::new(store), Rule::default()));
    atlas
        .import_complaints(
            compound_atlas::ingest::complaints::read_file(&city.join("complaints.csv"), None)
                .unwrap(),
            "complaints.csv",
        )
        .await
        .unwrap();
    (atlas, pool)
}

/// Checks one answer's alerts against the oracle's, field by field.
fn same_as_oracle(uri: &str, body: &Value, expected: &BTreeMap<(i64, String), Vec<Value>>) {
    let ours: BTreeMap<(i64, String), &Value> = body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                (
                    a["compound_id"].as_i64().unwrap(),
                    a["category"].as_str().unwrap().to_string(),
                ),
                a,
            )
        })
        .collect();
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "{uri}: the alerts differ from the rule's"
    );
    for (key, a) in &ours {
        let e = &expected[key];
        let f = |v: &Value| v.as_f64().unwrap();
        assert_eq!(a["observed"].as_u64(), e[0].as_u64(), "{uri} {key:?}");
        // The answer gives these to four places.
        assert!(
            (f(&a["expected"]) - f(&e[1])).abs() <= 1e-4,
            "{uri} {key:?}: expected {} vs {}",
            a["expected"],
            e[1]
        );
        assert!(
            (f(&a["dispersion"]) - f(&e[2])).abs() <= 1e-4,
            "{uri} {key:?}: dispersion {} vs {}",
            a["dispersion"],
            e[2]
        );
        match (a["trend"].as_f64(), e[3].as_f64()) {
            (None, None) => {}
            (Some(x), Some(y)) => assert!((x - y).abs() <= 1e-4, "{uri} {key:?}: trend {x} vs {y}"),
            other => panic!("{uri} {key:?}: trend {other:?}"),
        }
        assert_eq!(
            a["reference_months"].as_u64(),
            e[4].as_u64(),
            "{uri} {key:?}"
        );
        let (p, q) = (f(&a["p"]), f(&e[5]));
        assert!(
            (p - q).abs() <= 1e-9 * q.max(1e-300) + 1e-15,
            "{uri} {key:?}: p {p} vs scipy's {q}"
        );
    }
    // Smallest p first.
    let ps: Vec<f64> = body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["p"].as_f64().unwrap())
        .collect();
    assert!(ps.windows(2).all(|w| w[0] <= w[1]), "{uri}: not by p");
}

#[tokio::test]
async fn alerts_follow_the_documented_rule_from_both_stores() {
    let city = common::city(SCALE, SEED);
    let embedded = common::embedded_atlas(&city).await;
    let (pg, pool) = postgis(&city).await;
    let (series, first) = counted(&pool).await;
    let (e, p) = (common::app_of(embedded), common::app_of(pg));
    let rule = AlertRule::default();
    let mut alerted_somewhere = 0;
    for (month, alpha) in [("2023-07", 0.2), ("2021-03", 0.2), ("2022-11", rule.alpha)] {
        let i = usize::try_from(compound_atlas::model::Month::parse(month).unwrap().0 - first.0)
            .unwrap();
        let (tested, expected) = oracle(&series, i, alpha);
        let uri = format!("/api/alerts?month={month}&alpha={alpha}");
        let a = common::planner_json(&e, &uri).await;
        let b = common::planner_json(&p, &uri).await;
        assert_eq!(a, b, "{uri}: the stores differ");
        assert_eq!(a["month"], month);
        assert_eq!(a["tested"].as_u64(), Some(tested), "{uri}");
        assert_eq!(a["compounds"].as_u64().unwrap() * 10, tested, "{uri}");
        same_as_oracle(&uri, &a, &expected);
        alerted_somewhere += expected.len();
        // Looser alpha, more alerts: at 0.2 a tenth of the city's tests at least would be many.
        if alpha > 0.1 {
            assert!(expected.len() > 20, "{uri}: only {} alerts", expected.len());
        }
    }
    assert!(alerted_somewhere > 0);

    // A district's alerts are the city's within it; a category's, the city's of it.
    let all = common::planner_json(&e, "/api/alerts?month=2023-07&alpha=0.2").await;
    let district = all["alerts"][0]["district"].as_str().unwrap().to_string();
    let d = common::planner_json(
        &e,
        &format!(
            "/api/alerts?month=2023-07&alpha=0.2&district={}",
            common::enc(&district)
        ),
    )
    .await;
    let within: Vec<&Value> = all["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["district"] == district.as_str())
        .collect();
    assert_eq!(
        d["alerts"].as_array().unwrap().iter().collect::<Vec<_>>(),
        within
    );
    let c = common::planner_json(&e, "/api/alerts?month=2023-07&alpha=0.2&category=repairs").await;
    let repairs: Vec<&Value> = all["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["category"] == "repairs")
        .collect();
    assert_eq!(
        c["alerts"].as_array().unwrap().iter().collect::<Vec<_>>(),
        repairs
    );
    assert_eq!(
        c["tested"].as_u64().unwrap() * 10,
        all["tested"].as_u64().unwrap()
    );

    // CSV for planners: one row per alert, the same alerts.
    let r = common::planner_get(&e, "/api/alerts?month=2023-07&alpha=0.2&f=csv").await;
    assert_eq!(r.status, 200);
    let text = String::from_utf8(r.body).unwrap();
    // A byte-order mark first, for Excel.
    let header = text.trim_start_matches('\u{feff}').lines().next().unwrap();
    for col in [
        "compound_id",
        "name",
        "category",
        "observed",
        "expected",
        "p",
    ] {
        assert!(header.split(',').any(|c| c == col), "{header}");
    }
    assert_eq!(
        text.lines().count(),
        all["alerts"].as_array().unwrap().len() + 1
    );
}

#[tokio::test]
async fn tiles_and_planner_answers_carry_each_compounds_strongest_alert() {
    use compound_atlas::store::embedded::EmbeddedStore;
    let city = common::city(SCALE, SEED);
    // A configured rule (`[alerts] alpha = 0.02`), looser than the default, so that the small
    // city has alerts enough to look for; the tiles and the answers follow the configuration.
    let loose = AlertRule {
        alpha: 0.02,
        ..AlertRule::default()
    };
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&common::copy_dir(&city)).unwrap());
    let atlas = Arc::new(Atlas::new(store, Rule::default()).with_alerts(loose));
    atlas
        .import_complaints(
            compound_atlas::ingest::complaints::read_file(&city.join("complaints.csv"), None)
                .unwrap(),
            "complaints.csv",
        )
        .await
        .unwrap();
    let e = common::app_of(atlas);
    // The configured rule's alerts of a window's last month.
    let month = "2023-07";
    let body = common::planner_json(&e, &format!("/api/alerts?month={month}")).await;
    assert_eq!(body["rule"]["alpha"], 0.02);
    let mut strongest: HashMap<i64, String> = HashMap::new();
    for a in body["alerts"].as_array().unwrap() {
        strongest
            .entry(a["compound_id"].as_i64().unwrap())
            .or_insert_with(|| a["category"].as_str().unwrap().to_string());
    }
    assert!(
        !strongest.is_empty(),
        "no alert in {month} to look for: {body}"
    );
    let window = format!("from=2022-08&to={month}");
    let mut seen_with = 0;
    for a in body["alerts"].as_array().unwrap().iter().take(5) {
        let (lon, lat) = (a["lon"].as_f64().unwrap(), a["lat"].as_f64().unwrap());
        let (z, x, y) = common::tile_at(lon, lat, 14);
        let uri = format!("/tiles/atlas/{z}/{x}/{y}.mvt?{window}");
        let t = common::planner_get(&e, &uri).await;
        assert_eq!(t.status, 200, "{uri}");
        let tile = Tile::decode(&t.body[..]).unwrap();
        let l = tile.layers.iter().find(|l| l.name == "compounds").unwrap();
        for f in &l.features {
            let props: HashMap<&str, &geozero::mvt::tile::Value> = f
                .tags
                .chunks(2)
                .map(|kv| (l.keys[kv[0] as usize].as_str(), &l.values[kv[1] as usize]))
                .collect();
            let id = i64::try_from(f.id.unwrap()).unwrap();
            let alert = props.get("alert").and_then(|v| v.string_value.clone());
            assert_eq!(alert.as_ref(), strongest.get(&id), "{uri}: compound {id}");
            seen_with += usize::from(alert.is_some());
        }
        // The planner's answer about the same compound says the same.
        let id = a["compound_id"].as_i64().unwrap();
        let near = common::planner_json(
            &e,
            &format!("/api/compounds/nearby?lon={lon}&lat={lat}&radius_m=1&{window}"),
        )
        .await;
        let hit = near["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["properties"]["id"] == id)
            .unwrap();
        assert_eq!(
            hit["properties"]["alert"].as_str(),
            strongest.get(&id).map(String::as_str)
        );
    }
    assert!(seen_with > 0);
    // A window ending a month earlier: that month's alerts, not these.
    let earlier = common::planner_json(&e, "/api/alerts?month=2023-06").await;
    let ids_06: std::collections::HashSet<i64> = earlier["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["compound_id"].as_i64().unwrap())
        .collect();
    let a = &body["alerts"][0];
    let (z, x, y) = common::tile_at(a["lon"].as_f64().unwrap(), a["lat"].as_f64().unwrap(), 14);
    let t = common::planner_get(
        &e,
        &format!("/tiles/atlas/{z}/{x}/{y}.mvt?from=2022-07&to=2023-06"),
    )
    .await;
    let tile = Tile::decode(&t.body[..]).unwrap();
    let l = tile.layers.iter().find(|l| l.name == "compounds").unwrap();
    for f in &l.features {
        let has = f.tags.chunks(2).any(|kv| l.keys[kv[0] as usize] == "alert");
        assert_eq!(has, ids_06.contains(&i64::try_from(f.id.unwrap()).unwrap()));
    }
    // TileJSON lists the field.
    let tj = common::planner_json(&e, "/tiles/atlas.json").await;
    let layer = tj["vector_layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == "compounds")
        .unwrap();
    assert!(layer["fields"]["alert"].is_string(), "{layer}");
}

#[tokio::test]
async fn bad_alert_requests_are_refused_by_name_and_short_history_says_why() {
    let e = common::shared_app(SCALE, SEED);
    for (uri, needle) in [
        ("/api/alerts?month=2030-01", "outside the data"),
        ("/api/alerts?month=2017-12", "outside the data"),
        ("/api/alerts?month=July", "YYYY-MM"),
        ("/api/alerts?alpha=0", "alpha"),
        ("/api/alerts?alpha=0.7", "alpha"),
        ("/api/alerts?alpha=many", "alpha"),
        ("/api/alerts?district=nowhere", "nowhere"),
        ("/api/alerts?compound=abc", "compound"),
        ("/api/alerts?category=noise", "noise"),
        ("/api/alerts?f=fgb", "f=json or f=csv"),
        ("/api/alerts?colour=red", "colour"),
    ] {
        let r = common::planner_get(&e, uri).await;
        assert_eq!(r.status, 400, "{uri}: {}", String::from_utf8_lossy(&r.body));
        let msg = common::error_message(&r.json()).unwrap().to_string();
        assert!(msg.contains(needle), "{uri}: {msg}");
    }
    // Less than two years of data before the month: nothing tested, and the answer says why.
    let v = common::planner_json(&e, "/api/alerts?month=2019-06").await;
    assert_eq!(v["tested"], 0);
    assert_eq!(v["alerts"], json!([]));
    assert!(v["note"].as_str().unwrap().contains("2 years"), "{v}");
    // A repeated request is the same answer.
    let a = common::planner_get(&e, "/api/alerts?month=2023-07").await;
    let b = common::planner_get(&e, "/api/alerts?month=2023-07").await;
    assert_eq!(a.body, b.body);
}
