//! Hot spots on H3 cells (`GET /api/hotspots`), checked against PySAL: esda's Gi* z-scores,
//! scipy's p-values, Benjamini–Hochberg q-values and Kendall's tau on the same cell counts and
//! neighbourhoods, over the demo city; and what the endpoint refuses.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the exact values it expects and takes the defaults its calls need

mod common;

use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::str::FromStr;

fn python() -> std::path::PathBuf {
    let py = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/venv/bin/python");
    assert!(
        py.exists(),
        "tools/venv is missing: run scripts/test, which installs esda there"
    );
    py
}

/// esda and scipy on the answer's counts, the neighbourhoods rebuilt from its cells.
fn pysal(features: &[Value], k: u32) -> Value {
    let cells: Vec<h3o::CellIndex> = features
        .iter()
        .map(|f| h3o::CellIndex::from_str(f["properties"]["cell"].as_str().unwrap()).unwrap())
        .collect();
    let at: HashMap<h3o::CellIndex, usize> =
        cells.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    let neighbours: Vec<Vec<usize>> = cells
        .iter()
        .map(|c| {
            c.grid_disk::<Vec<_>>(k)
                .into_iter()
                .filter_map(|d| at.get(&d).copied())
                .collect()
        })
        .collect();
    let input = serde_json::json!({
        "y": features.iter().map(|f| f["properties"]["complaints"].as_u64().unwrap()).collect::<Vec<_>>(),
        "neighbours": neighbours,
        "months": features.iter().map(|f| f["properties"]["gi_z_months"].clone()).collect::<Vec<_>>(),
    });
    let mut child = Command::new(python())
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/esda-check.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "esda-check.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn gi_star_fdr_and_trends_agree_with_pysal_on_the_demo_city() {
    let app = common::shared_app(1.0, 20_230_426);
    for (res, k) in [(9, 1), (8, 2)] {
        let uri = format!("/api/hotspots?res={res}&k={k}&from=2022-08&to=2023-07");
        let r = common::call(&app, "GET", &uri, &[], vec![]).await;
        assert_eq!(r.status, 200, "{uri}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.headers["content-type"], "application/geo+json");
        let body = r.json();
        let features = body["features"].as_array().unwrap();
        assert!(features.len() > 300, "{uri}: {} cells", features.len());
        assert_eq!(body["months"], 12);
        let py = pysal(features, k);
        let close = |a: &Value, b: &Value, eps: f64, what: &str, i: usize| {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!(
                (a - b).abs() <= eps,
                "{uri}: {what} of cell {i}: ours {a}, PySAL {b}"
            );
        };
        for (i, f) in features.iter().enumerate() {
            let p = &f["properties"];
            close(&p["gi_z"], &py["z"][i], 1e-6, "Gi* z", i);
            close(&p["gi_p"], &py["p"][i], 1e-9, "p", i);
            close(&p["gi_q"], &py["q"][i], 1e-9, "q", i);
            if !py["tau"][i].is_null() {
                close(&p["trend_tau"], &py["tau"][i], 1e-9, "Kendall's tau", i);
            }
            assert_eq!(f["geometry"]["type"], "Polygon");
            assert!(p["pattern"].is_string());
        }
        // The city's complaints cluster: the analysis finds hot spots, and names patterns.
        assert!(body["hot"].as_u64().unwrap() > 0, "{uri}");
        let patterns: std::collections::BTreeSet<&str> = features
            .iter()
            .map(|f| f["properties"]["pattern"].as_str().unwrap())
            .collect();
        assert!(
            patterns.iter().any(|p| p.ends_with("_hot")),
            "{uri}: {patterns:?}"
        );
        let total: u64 = features
            .iter()
            .map(|f| f["properties"]["complaints"].as_u64().unwrap())
            .sum();
        let districts = common::call(
            &app,
            "GET",
            "/api/districts?from=2022-08&to=2023-07",
            &[],
            vec![],
        )
        .await
        .json();
        let placed: u64 = districts["districts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["complaints"].as_u64().unwrap())
            .sum();
        assert_eq!(total, placed, "{uri}: every placed complaint is in a cell");
    }
}

#[tokio::test]
async fn what_the_hot_spots_refuse_is_said_by_name() {
    let app = common::shared_app(0.05, 7);
    for (uri, said) in [
        ("/api/hotspots?res=12", "`res`"),
        ("/api/hotspots?res=4", "`res`"),
        ("/api/hotspots?res=nine", "`res`"),
        ("/api/hotspots?k=0", "`k`"),
        ("/api/hotspots?k=4", "`k`"),
        (
            "/api/hotspots?from=2023-01&to=2023-06",
            "at least 10 months",
        ),
        ("/api/hotspots?from=2030-01&to=2030-12", "outside the data"),
        ("/api/hotspots?category=nothing", "category"),
        ("/api/hotspots?colour=red", "unknown parameter"),
    ] {
        let r = common::call(&app, "GET", uri, &[], vec![]).await;
        assert_eq!(r.status, 400, "{uri}: {}", String::from_utf8_lossy(&r.body));
        let m = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(m.contains(said), "{uri}: {m}");
    }
    let ok = common::call(&app, "GET", "/api/hotspots?category=fees", &[], vec![]).await;
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    assert_eq!(ok.json()["category"], "fees");
    // A repeated request is answered from what was made; another category is not.
    let again = common::call(&app, "GET", "/api/hotspots?category=fees", &[], vec![]).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, ok.body);
    let other = common::call(&app, "GET", "/api/hotspots?category=repairs", &[], vec![]).await;
    assert_eq!(other.json()["category"], "repairs");
    let coarser = common::call(
        &app,
        "GET",
        "/api/hotspots?category=fees&res=8",
        &[],
        vec![],
    )
    .await;
    assert_eq!(coarser.json()["res"], 8);
}
