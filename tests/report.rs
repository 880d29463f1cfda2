//! The monthly report (issue 16, part 8): `GET /api/report.pdf?district=&month=` answers a
//! one-to-three-page PDF from both stores — rendered to PNG by poppler's `pdftoppm` (every
//! page drawn, page 1 kept in tests/artifacts/ to look at), its text extracted by `pdftotext`
//! and checked against the JSON API's own answers (the rates of `/api/districts`, the red and
//! yellow compounds of `/api/compounds`, the companies of `/api/companies`, the alerts of
//! `/api/alerts`) — the same text from both stores; kept for a repeated request; bad input
//! refused by name; a district without complaints in the month said so.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the values it computed and takes the defaults its calls need

mod common;

use compound_atlas::analytics::Atlas;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

const SCALE: f64 = 0.1;
const SEED: u64 = 20_230_426;

/// Runs a poppler tool, failing with its message.
fn run(cmd: &str, args: &[&str]) {
    let out = std::process::Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e} (install poppler-utils; scripts/test does)"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The PDF's pages rendered at 60 dpi into `dir` (`page-1.png`…), sorted.
fn pages(pdf: &Path, dir: &Path) -> Vec<std::path::PathBuf> {
    let prefix = dir.join("page");
    run(
        "pdftoppm",
        &[
            "-r",
            "60",
            "-png",
            pdf.to_str().unwrap(),
            prefix.to_str().unwrap(),
        ],
    );
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .collect();
    out.sort();
    out
}

/// The variance of a page's grey levels: a blank page has none.
fn variance(png: &Path) -> f64 {
    let img = image::open(png).unwrap().to_luma8();
    let n = f64::from(img.width() * img.height());
    let mean = img.pixels().map(|p| f64::from(p.0[0])).sum::<f64>() / n;
    img.pixels()
        .map(|p| (f64::from(p.0[0]) - mean).powi(2))
        .sum::<f64>()
        / n
}

/// The report of `uri` from `app`: checked as a PDF of one to three drawn pages, saved with
/// its pages under `dir`; its extracted text.
async fn report(app: &axum::Router, uri: &str, dir: &Path) -> (Vec<u8>, String) {
    let r = common::planner_get(app, uri).await;
    assert_eq!(r.status, 200, "{uri}: {}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.headers["content-type"], "application/pdf", "{uri}");
    let cd = r.headers["content-disposition"].to_str().unwrap();
    assert!(
        cd.starts_with("attachment; filename=\"report-") && cd.ends_with(".pdf\""),
        "{cd}"
    );
    assert!(r.body.starts_with(b"%PDF-"), "{uri}: not a PDF");
    std::fs::create_dir_all(dir).unwrap();
    let pdf = dir.join("report.pdf");
    std::fs::write(&pdf, &r.body).unwrap();
    let pngs = pages(&pdf, dir);
    assert!((1..=3).contains(&pngs.len()), "{uri}: {} pages", pngs.len());
    for p in &pngs {
        let v = variance(p);
        assert!(v > 100.0, "{}: blank (grey variance {v})", p.display());
    }
    (r.body.clone(), common::pdf_text(&r.body))
}

/// A rate as the report writes it: a percentage to one place.
fn percent(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "—".into(), |x| format!("{:.1}%", x * 100.0))
}

#[tokio::test]
async fn the_report_shows_the_apis_figures_from_both_stores() {
    let city = common::city(SCALE, SEED);
    let embedded = common::app_of(common::embedded_atlas(&city).await);
    let pg = common::app_of(common::postgis_atlas(&city, "report").await);
    // The district with the most complaints, in the data's last month.
    let last = common::planner_json(&embedded, "/api/alerts").await["month"]
        .as_str()
        .unwrap()
        .to_string();
    let ds =
        common::planner_json(&embedded, &format!("/api/districts?from={last}&to={last}")).await;
    let d = ds["districts"]
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|d| d["complaints"].as_u64().unwrap())
        .unwrap()
        .clone();
    let (code, name) = (d["code"].as_str().unwrap(), d["name"].as_str().unwrap());
    let uri = format!("/api/report.pdf?district={code}&month={last}");
    let tmp = tempfile::tempdir().unwrap();
    let (pdf_e, text_e) = report(&embedded, &uri, &tmp.path().join("embedded")).await;
    let (_, text_p) = report(&pg, &uri, &tmp.path().join("postgis")).await;
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    for k in 1..=3 {
        let page = tmp.path().join(format!("embedded/page-{k}.png"));
        if page.exists() {
            std::fs::copy(&page, artifacts.join(format!("report-page-{k}.png"))).unwrap();
        }
    }
    // The same text from both stores.
    assert_eq!(text_e, text_p, "the stores' reports differ");
    let text = &text_e;
    assert!(text.contains(&format!("{name}物业投诉月报")), "{text}");
    assert!(text.contains(&format!("月份 {last}")), "{text}");
    // The rates of /api/districts for the month and the same month a year before.
    let ago = {
        let (y, m) = last.split_once('-').unwrap();
        format!("{}-{m}", y.parse::<i32>().unwrap() - 1)
    };
    let before = common::planner_json(&pg, &format!("/api/districts?from={ago}&to={ago}")).await;
    let b = before["districts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["code"] == code)
        .unwrap()
        .clone();
    let row = |label: &str| {
        text.lines()
            .find(|l| l.contains(label))
            .unwrap_or_else(|| panic!("no `{label}` line: {text}"))
            .to_string()
    };
    let received = row("受理投诉（件）");
    assert!(
        received.contains(&format!(" {} ", d["complaints"]))
            && received.contains(&format!(" {} ", b["complaints"])),
        "{received} vs {} and {}",
        d["complaints"],
        b["complaints"]
    );
    for (label, key) in [("办结率", "resolved_rate"), ("满意率", "satisfied_rate")] {
        let l = row(&format!("{label} "));
        assert!(
            l.contains(&percent(&d[key])) && l.contains(&percent(&b[key])),
            "{l}: {} {}",
            d[key],
            b[key]
        );
    }
    let closing = row("办结时长中位数");
    let h = d["closing_hours_median"].as_f64().unwrap();
    assert!(closing.contains(&format!("{h:.1}")), "{closing} vs {h}");
    // The red and yellow compounds of /api/compounds: red first, then the densest.
    let period = text
        .split("评级季度 ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let graded = common::planner_json(
        &pg,
        &format!("/api/compounds?district={code}&grade=red,yellow&from={last}&to={last}&period={period}&limit=1000"),
    )
    .await;
    let mut rows: Vec<(bool, f64, String)> = graded["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = &f["properties"];
            (
                p["grade"] != "red",
                -p["density"].as_f64().unwrap(),
                p["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(!rows.is_empty(), "the district has red or yellow compounds");
    rows.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let shown = rows.len().min(compound_atlas::planner::report::GRADED_ROWS);
    for (_, _, n) in &rows[..shown] {
        assert!(
            text.contains(n.as_str()),
            "red/yellow `{n}` missing: {text}"
        );
    }
    if rows.len() > shown {
        assert!(
            text.contains(&format!(
                "另有 {} 个红色或黄色小区未列出",
                rows.len() - shown
            )),
            "{text}"
        );
    }
    // The companies of /api/companies, worst by density.
    let companies = common::planner_json(
        &embedded,
        &format!("/api/companies?district={code}&from={last}&to={last}&period={period}"),
    )
    .await;
    for c in companies["companies"].as_array().unwrap().iter().take(3) {
        let n = c["name"].as_str().unwrap();
        let l = row(n);
        assert!(
            l.contains(&format!("{:.2}", c["density"].as_f64().unwrap())),
            "{l} vs {c}"
        );
    }
    // The alerts of /api/alerts.
    let alerts =
        common::planner_json(&pg, &format!("/api/alerts?month={last}&district={code}")).await;
    let n = alerts["numberReturned"].as_u64().unwrap();
    assert!(
        text.contains(&format!("本月预警（{n} 条）")),
        "{n} alerts: {text}"
    );
    for a in alerts["alerts"].as_array().unwrap().iter().take(3) {
        assert!(text.contains(a["name"].as_str().unwrap()), "{a}: {text}");
    }
    lists_and_repeats(&pg, text, code, &last, &period).await;
    // The trend of /api/stats/trend: its months are the chart's labels.
    assert!(text.contains("投诉走势"), "{text}");
    // A repeated request: the same bytes (from the kept answers; how fast is measured by
    // benches/report.sh, not here).
    let again = common::planner_get(&embedded, &uri).await;
    assert_eq!(again.body, pdf_e, "a repeated request's report differs");
    // By name too: the same report.
    let by_name = common::planner_get(
        &embedded,
        &format!(
            "/api/report.pdf?district={}&month={last}",
            common::enc(name)
        ),
    )
    .await;
    assert_eq!(by_name.body, pdf_e);
}

/// The quarter's listed companies of `/api/companies/lists` working in the district, and the
/// month's repeats of `/api/repeats`, as the report's text says them.
async fn lists_and_repeats(app: &axum::Router, text: &str, code: &str, month: &str, period: &str) {
    let lists = common::planner_json(
        app,
        &format!("/api/companies/lists?period={period}&district={code}&list=all"),
    )
    .await;
    assert!(
        text.contains(&format!("物业公司红黑名单（{period}）")),
        "{text}"
    );
    let listed = lists["companies"].as_array().unwrap();
    if listed.is_empty() {
        assert!(
            text.contains("本季度辖区内没有物业公司在红名单或黑名单上"),
            "{text}"
        );
    }
    for c in listed.iter().take(3) {
        let name = c["name"].as_str().unwrap();
        let line = text.lines().find(|l| l.contains(name)).unwrap_or_default();
        let said = match c["list"].as_str().unwrap() {
            "black" => "黑名单",
            "red" => "红名单",
            _ => "摘帽",
        };
        assert!(
            line.contains(said) && line.contains(&percent(&c["red_share"])),
            "{line} vs {c}"
        );
    }
    let r = common::planner_json(
        app,
        &format!("/api/repeats?district={code}&from={month}&to={month}"),
    )
    .await;
    assert!(
        text.contains(&format!(
            "本月 {} 件投诉中 {} 件为重复投诉",
            r["complaints"], r["repeats"]
        )),
        "{r}: {text}"
    );
    assert!(
        text.contains(&format!("涉及 {} 个单元或楼栋", r["places"])),
        "{text}"
    );
    for h in r["hot_spots"].as_array().unwrap().iter().take(3) {
        let compound = h["compound"].as_str().unwrap();
        assert!(
            text.lines()
                .any(|l| l.contains(compound) && l.contains(&format!(" {} ", h["repeats"]))),
            "{h}: {text}"
        );
    }
}

#[tokio::test]
async fn bad_requests_are_refused_by_name() {
    let city = common::city(SCALE, SEED);
    let atlas = common::embedded_atlas(&city).await;
    let app = common::app_of(atlas);
    let last = common::planner_json(&app, "/api/alerts").await["month"]
        .as_str()
        .unwrap()
        .to_string();
    let public = common::call(
        &app,
        "GET",
        &format!("/api/report.pdf?district=370202&month={last}"),
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(
        public.status,
        401,
        "{}",
        String::from_utf8_lossy(&public.body)
    );
    assert!(common::error_message(&public.json())
        .unwrap()
        .contains("planner token"));
    for (uri, said) in [
        (
            format!("/api/report.pdf?month={last}"),
            "`district` is required",
        ),
        (
            "/api/report.pdf?district=370202".to_string(),
            "`month` is required",
        ),
        (
            format!("/api/report.pdf?district=nowhere&month={last}"),
            "unknown district `nowhere`",
        ),
        (
            "/api/report.pdf?district=370202&month=2024-13".to_string(),
            "`month` must be a month as YYYY-MM",
        ),
        (
            "/api/report.pdf?district=370202&month=last".to_string(),
            "`month` must be a month as YYYY-MM",
        ),
        (
            "/api/report.pdf?district=370202&month=1999-01".to_string(),
            "is outside the data",
        ),
        (
            "/api/report.pdf?district=370202&month=2099-01".to_string(),
            "is outside the data",
        ),
        (
            format!("/api/report.pdf?district=370202&month={last}&lang=en"),
            "unknown parameter `lang`",
        ),
    ] {
        let r = common::planner_get(&app, &uri).await;
        assert_eq!(r.status, 400, "{uri}: {}", String::from_utf8_lossy(&r.body));
        let msg = common::error_message(&r.json()).unwrap().to_string();
        assert!(msg.contains(said), "{uri}: {msg}");
    }
}

#[tokio::test]
async fn a_district_without_complaints_in_the_month_gets_a_report_that_says_so() {
    use compound_atlas::store::Store;
    let city = common::city(SCALE, SEED);
    // Where PostGIS placed each complaint: the tickets of the quietest district in the data's
    // last month are left out of a second import.
    let store = common::postgis_store(&city, "report_empty").await;
    let pool = store.pool().clone();
    let pg = Arc::new(Atlas::new(
        Arc::new(store),
        compound_atlas::analytics::Rule::default(),
    ));
    let read = || {
        compound_atlas::ingest::complaints::read_file(&city.join("complaints.csv"), None).unwrap()
    };
    pg.import_complaints(read(), "complaints.csv")
        .await
        .unwrap();
    let (code, month): (String, String) = sqlx::query_as(
        "WITH last AS (SELECT to_char(max(received_at), 'YYYY-MM') AS m FROM complaints)
         SELECT k.district_code, last.m FROM complaints c JOIN compounds k ON k.id = c.compound_id, last
         GROUP BY 1, 2 ORDER BY count(*), 1 LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let gone: std::collections::HashSet<String> = sqlx::query_scalar(
        "SELECT c.ticket_id FROM complaints c JOIN compounds k ON k.id = c.compound_id
         WHERE k.district_code = $1 AND to_char(c.received_at, 'YYYY-MM') = $2",
    )
    .bind(&code)
    .bind(&month)
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    assert!(!gone.is_empty());
    let tmp = tempfile::tempdir().unwrap();
    let kept = tmp.path().join("complaints.csv");
    let mut r = csv::Reader::from_path(city.join("complaints.csv")).unwrap();
    let mut w = csv::Writer::from_path(&kept).unwrap();
    w.write_record(r.headers().unwrap()).unwrap();
    for rec in r.records() {
        let rec = rec.unwrap();
        if !gone.contains(&rec[0]) {
            w.write_record(&rec).unwrap();
        }
    }
    w.flush().unwrap();
    let dir = common::copy_dir(&city);
    let store: Arc<dyn Store> =
        Arc::new(compound_atlas::store::embedded::EmbeddedStore::open(&dir).unwrap());
    let atlas = Arc::new(Atlas::new(
        store,
        compound_atlas::analytics::Rule::default(),
    ));
    let parsed = compound_atlas::ingest::complaints::read_file(&kept, None).unwrap();
    atlas
        .import_complaints(parsed, "complaints.csv")
        .await
        .unwrap();
    let app = common::app_of(atlas);
    let ds = common::planner_json(&app, &format!("/api/districts?from={month}&to={month}")).await;
    let d = ds["districts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == code.as_str())
        .unwrap()
        .clone();
    assert_eq!(d["complaints"], 0, "{d}");
    let name = d["name"].as_str().unwrap();
    let (_, text) = report(
        &app,
        &format!("/api/report.pdf?district={code}&month={month}"),
        &tmp.path().join("pages"),
    )
    .await;
    assert!(
        text.contains(&format!("{name} {month} 未收到投诉")),
        "{text}"
    );
    assert!(text.contains("受理投诉（件）"), "{text}");
}
