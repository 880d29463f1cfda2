//! `atlas serve` as an operator meets it: on an empty data directory it generates the demo city
//! and serves it; SIGTERM stops it gracefully; a corrupt data file stops it at start with a
//! message naming the file.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message

mod common;

use common::serve as start;
use std::time::{Duration, Instant};

/// A minimal HTTP/1.1 GET over a TCP socket (keeps the test free of an HTTP client crate).
fn get(url: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let status = buf.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn json_body(body: &str) -> serde_json::Value {
    // The body may be chunked: take the JSON object inside.
    let start = body.find('{').unwrap();
    let end = body.rfind('}').unwrap();
    serde_json::from_str(&body[start..=end]).unwrap()
}

#[test]
fn an_empty_data_directory_gets_the_demo_city_and_sigterm_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = dir.path().join("atlas.toml");
    std::fs::write(&cfg, "[demo]\nscale = 0.02\n").unwrap();
    let (mut child, url) = start(&[
        "--config",
        cfg.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    let (status, body) = get(&format!("{url}/health"));
    assert_eq!(status, 200, "{body}");
    let health = json_body(&body);
    assert_eq!(health["store"], "embedded");
    let m = compound_atlas::io::manifest::Manifest::read(&data).unwrap();
    let generated = compound_atlas::io::dataset::read(&data, &m).unwrap();
    assert_eq!(health["counts"]["compounds"], generated.compounds.len());
    assert!(
        (80..=90).contains(&generated.compounds.len()),
        "scale 0.02 is about 84 compounds"
    );
    assert_eq!(health["counts"]["districts"], 10);
    assert!(data.join("manifest.json").exists() && data.join("complaints.csv").exists());

    let (status, body) = get(&format!("{url}/no/such/thing"));
    assert_eq!(status, 404);
    assert_eq!(json_body(&body)["error"]["code"], "not_found");

    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "graceful shutdown exits 0, got {status}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `atlas serve` on a data directory that must refuse to start; returns its stderr.
fn serve_fails(data: &std::path::Path) -> String {
    let out = common::atlas()
        .args([
            "serve",
            "--data",
            data.to_str().unwrap(),
            "--bind",
            "127.0.0.1:0",
        ])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn a_corrupt_data_file_stops_the_server_at_start_naming_the_file() {
    let data = common::copy_dir(&common::city(0.02, 31));
    let f = data.join("buildings.fgb");
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() / 3]).unwrap();
    let err = serve_fails(&data);
    assert!(
        err.contains("buildings.fgb") && !err.contains("panicked"),
        "{err}"
    );

    std::fs::write(data.join("manifest.json"), "{ not json").unwrap();
    let err = serve_fails(&data);
    assert!(
        err.contains("manifest.json") && err.contains("not a valid manifest"),
        "{err}"
    );
}
