//! Shared fixtures: a throwaway database per test on the suite's PostGIS, generated demo
//! cities (made once per test binary), and the `atlas` binary.
#![allow(dead_code, clippy::unwrap_used)]

use compound_atlas::generate;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The admin URL of the suite's PostGIS. Fails loudly when there is none: run the suite with
/// `scripts/test`, which starts a throwaway PostGIS, or set DATABASE_URL.
pub fn admin_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "DATABASE_URL is not set: this test needs a real PostGIS. Run the suite with \
             scripts/test (it starts a throwaway PostGIS), or set DATABASE_URL to a database \
             whose user may CREATE DATABASE."
        )
    })
}

fn with_db(url: &str, db: &str) -> String {
    match url.rfind('/') {
        Some(i)
            if url[..i].contains("://") && url[i..].len() > 1
                || url[..i].ends_with(|c: char| c.is_ascii_digit()) =>
        {
            let (base, rest) = url.split_at(i);
            let query = rest.find('?').map(|q| &rest[q..]).unwrap_or("");
            format!("{base}/{db}{query}")
        }
        _ => format!("{url}/{db}"),
    }
}

/// Creates an empty database for one test and returns its URL.
pub async fn fresh_db(tag: &str) -> String {
    use sqlx::Executor;
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let admin = admin_url();
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let name = format!("atlas_{tag}_{}_{n}", std::process::id());
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
        .await
        .expect("connect to the suite's PostGIS (DATABASE_URL)");
    conn.execute(format!("DROP DATABASE IF EXISTS {name}").as_str())
        .await
        .unwrap();
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    with_db(&admin, &name)
}

/// A demo city generated once per test binary for a (scale, seed).
pub fn city(scale: f64, seed: u64) -> PathBuf {
    static CITIES: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let key = format!("{scale}-{seed}");
    let mut map = CITIES
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap();
    map.entry(key.clone())
        .or_insert_with(|| {
            let dir = tempfile::Builder::new()
                .prefix("atlas-city-")
                .tempdir()
                .unwrap()
                .keep();
            generate::run(&generate::Options {
                out: dir.clone(),
                scale,
                seed,
                encoding: generate::Encoding::Utf8,
                progress: false,
            })
            .unwrap();
            dir
        })
        .clone()
}

/// Copies a dataset directory (so a test may write to it).
pub fn copy_dir(from: &Path) -> PathBuf {
    let dir = tempfile::Builder::new()
        .prefix("atlas-copy-")
        .tempdir()
        .unwrap()
        .keep();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    dir
}

/// The `atlas` binary built with this test run.
pub fn atlas() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_atlas"))
}
