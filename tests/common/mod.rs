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
            let query = rest.find('?').map_or("", |q| &rest[q..]);
            format!("{base}/{db}{query}")
        }
        _ => format!("{url}/{db}"),
    }
}

/// Whether a process of this machine is still running (its folder in /proc).
fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// This test process's own folder for generated cities and their copies, under the run's
/// TMPDIR. Test binaries run one after another and each keeps its cities for its whole life
/// (its tests share them), so the first call removes the folders of test processes that have
/// ended: a run holds one binary's cities on disk at a time, not every binary's (the whole
/// suite's filled a CI machine's disk).
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let tmp = std::env::temp_dir();
        for entry in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let pid = entry
                .file_name()
                .to_str()
                .and_then(|n| n.strip_prefix("atlas-run-"))
                .and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|pid| !alive(pid)) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let dir = tmp.join(format!("atlas-run-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

/// Drops the databases that test processes which have ended left on the suite's PostGIS
/// (`atlas_{tag}_{pid}_{n}`), once per process: each holds a city, and a whole run's would
/// fill the disk.
async fn drop_dead_dbs(conn: &mut sqlx::PgConnection) {
    use sqlx::Executor;
    static DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if DONE.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'atlas\\_%'")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
    for name in names {
        let pid = name.rsplit('_').nth(1).and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| !alive(pid)) {
            let _ = conn
                .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
                .await;
        }
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
    drop_dead_dbs(&mut conn).await;
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
                .tempdir_in(scratch())
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
        .tempdir_in(scratch())
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

/// An answer of the router.
pub struct Resp {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body[..self.body.len().min(400)])
            )
        })
    }
}

/// Calls the router without a socket.
pub async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Resp {
    use tower::ServiceExt;
    let mut b = axum::http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let resp = app
        .clone()
        .oneshot(b.body(axum::body::Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Resp {
        status,
        headers,
        body,
    }
}

/// Settings with a planner token (`planner-secret`) and an admin token (`admin-secret`).
pub fn settings_with_tokens() -> compound_atlas::config::Settings {
    use compound_atlas::config::{Role, Settings, StoreArgs, TokenEntry};
    let mut s = Settings::resolve_with(&StoreArgs::default(), None, &Default::default(), |_| None);
    s.tokens = vec![
        TokenEntry {
            token: "planner-secret".into(),
            role: Role::Planner,
            name: "planner".into(),
        },
        TokenEntry {
            token: "admin-secret".into(),
            role: Role::Admin,
            name: "admin".into(),
        },
    ];
    s
}

/// An embedded store on a copy of a generated city, with its complaints imported.
pub async fn embedded_atlas(city: &Path) -> std::sync::Arc<compound_atlas::analytics::Atlas> {
    use compound_atlas::store::{embedded::EmbeddedStore, Store};
    let dir = copy_dir(city);
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(EmbeddedStore::open(&dir).unwrap());
    with_complaints(store, city).await
}

/// A PostGIS store in a fresh database holding a generated city and its complaints.
pub async fn postgis_atlas(
    city: &Path,
    tag: &str,
) -> std::sync::Arc<compound_atlas::analytics::Atlas> {
    let store = postgis_store(city, tag).await;
    with_complaints(std::sync::Arc::new(store), city).await
}

/// A PostGIS store in a fresh database holding a generated city's geography.
pub async fn postgis_store(city: &Path, tag: &str) -> compound_atlas::store::postgis::PostgisStore {
    use compound_atlas::ingest::{self, ImportOptions};
    use compound_atlas::store::{postgis::PostgisStore, Store};
    let url = fresh_db(tag).await;
    let pg = PostgisStore::connect_lazy(&url, &Default::default()).unwrap();
    pg.migrate().await.unwrap();
    pg.import(
        ingest::read_paths(
            std::slice::from_ref(&city.to_path_buf()),
            &ImportOptions::default(),
            false,
        )
        .unwrap(),
    )
    .await
    .unwrap();
    pg
}

/// An atlas over `store` with the city's complaints imported.
pub async fn with_complaints(
    store: std::sync::Arc<dyn compound_atlas::store::Store>,
    city: &Path,
) -> std::sync::Arc<compound_atlas::analytics::Atlas> {
    use compound_atlas::analytics::{Atlas, Rule};
    use compound_atlas::ingest::complaints;
    let atlas = std::sync::Arc::new(Atlas::new(store, Rule::default()));
    atlas
        .import_complaints(
            complaints::read_file(&city.join("complaints.csv"), None).unwrap(),
            "complaints.csv",
        )
        .await
        .unwrap();
    atlas
}

/// Starts `atlas serve` (embedded store; DATABASE_URL removed) on a free port and waits for
/// the line that gives its URL.
pub fn serve(args: &[&str]) -> (std::process::Child, String) {
    serve_env(args, &[])
}

/// [`serve`] with environment variables set for the server.
pub fn serve_env(args: &[&str], envs: &[(&str, &str)]) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = atlas()
        .arg("serve")
        .args(args)
        .args(["--bind", "127.0.0.1:0"])
        .env_remove("DATABASE_URL")
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .trim_end_matches('/')
        .to_string();
    (child, url)
}

/// A router over an embedded copy of a generated city with its complaints, made once per test
/// binary for a (scale, seed) and shared by its tests.
pub fn shared_app(scale: f64, seed: u64) -> axum::Router {
    static APPS: OnceLock<Mutex<HashMap<String, axum::Router>>> = OnceLock::new();
    let key = format!("{scale}-{seed}");
    if let Some(app) = APPS
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap()
        .get(&key)
    {
        return app.clone();
    }
    // Built on a thread of its own: the tests' runtimes cannot block on it.
    let app = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let atlas = embedded_atlas(&city(scale, seed)).await;
            compound_atlas::app(compound_atlas::AppState::new(
                atlas,
                &settings_with_tokens(),
            ))
        })
    })
    .join()
    .unwrap();
    APPS.get()
        .unwrap()
        .lock()
        .unwrap()
        .entry(key)
        .or_insert(app)
        .clone()
}

/// `atlas serve` on an embedded copy of a generated city whose complaints were imported with
/// `atlas import` first: (the server, its URL).
pub fn serve_city(scale: f64, seed: u64) -> (std::process::Child, String) {
    serve_city_env(scale, seed, &[])
}

/// [`serve_city`] with environment variables set for the server (tokens, limits).
pub fn serve_city_env(
    scale: f64,
    seed: u64,
    envs: &[(&str, &str)],
) -> (std::process::Child, String) {
    let data = imported_city(scale, seed);
    serve_env(&["--data", data.to_str().unwrap()], envs)
}

/// A copy of a generated city whose complaints were imported with `atlas import`.
pub fn imported_city(scale: f64, seed: u64) -> PathBuf {
    let data = copy_dir(&city(scale, seed));
    let out = atlas()
        .arg("import")
        .arg(data.join("complaints.csv"))
        .args(["--data", data.to_str().unwrap()])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    data
}

/// A string as one URL query value.
pub fn enc(s: &str) -> String {
    serde_urlencoded::to_string([("", s)]).unwrap()[1..].to_string()
}

/// The WebMercatorQuad tile (z, x, y) holding a point.
pub fn tile_at(lon: f64, lat: f64, z: u32) -> (u32, u64, u64) {
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n) as u64;
    let y = ((1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n) as u64;
    (z, x, y)
}

/// Every file of a directory with its bytes, sorted: to find a store exactly as it was.
pub fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// A minimal HTTP/1.1 GET over a socket, the body read whole: (status, body as text, lossy).
pub fn http_get(url: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The message of an error answer: our `{"error":{"message"}}`, or on `/ogc/…` OGC API's
/// exception `{"code","description"}`.
pub fn error_message(v: &serde_json::Value) -> Option<&str> {
    v["error"]["message"]
        .as_str()
        .or_else(|| v["description"].as_str())
}

/// Runs `tools/SCRIPT` with the test tools' Python (tools/venv: scipy, esda, libpysal), `input`
/// as JSON on its standard input, and reads its JSON answer.
pub fn python_json(script: &str, input: &serde_json::Value) -> serde_json::Value {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let py = root.join("tools/venv/bin/python");
    assert!(
        py.exists(),
        "tools/venv is missing: run scripts/test, which installs scipy, esda and libpysal there"
    );
    let mut child = Command::new(py)
        .arg(root.join("tools").join(script))
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
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The text of a PDF as poppler's `pdftotext -layout` extracts it (poppler-utils; scripts/test
/// installs it).
pub fn pdf_text(pdf: &[u8]) -> String {
    use std::io::Write;
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(f.path())
        .arg("-")
        .output()
        .expect("pdftotext (install poppler-utils; scripts/test does)");
    assert!(
        out.status.success(),
        "pdftotext: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The router over an atlas, with the tokens of [`settings_with_tokens`].
pub fn app_of(atlas: std::sync::Arc<compound_atlas::analytics::Atlas>) -> axum::Router {
    compound_atlas::app(compound_atlas::AppState::new(
        atlas,
        &settings_with_tokens(),
    ))
}

/// A GET without a token.
pub async fn get(app: &axum::Router, uri: &str) -> Resp {
    call(app, "GET", uri, &[], Vec::new()).await
}

/// A GET with the planner token of [`settings_with_tokens`].
pub async fn planner_get(app: &axum::Router, uri: &str) -> Resp {
    let planner = [("authorization", "Bearer planner-secret")];
    call(app, "GET", uri, &planner, Vec::new()).await
}

/// A GET's JSON, which must answer 200.
fn ok_json(r: &Resp, uri: &str) -> serde_json::Value {
    assert_eq!(r.status, 200, "{uri}: {}", String::from_utf8_lossy(&r.body));
    r.json()
}

/// A GET without a token that must answer 200, as JSON.
pub async fn json_ok(app: &axum::Router, uri: &str) -> serde_json::Value {
    ok_json(&get(app, uri).await, uri)
}

/// A planner's GET that must answer 200: its JSON.
pub async fn planner_json(app: &axum::Router, uri: &str) -> serde_json::Value {
    ok_json(&planner_get(app, uri).await, uri)
}

/// What a selection asks (district, street, compound, company, category, window), in the
/// API's query terms and as PostGIS parameters (tests/hours.rs, tests/repeats.rs).
#[derive(Default, Clone)]
pub struct Sel {
    pub district: Option<String>,
    pub street: Option<String>,
    pub compound: Option<i64>,
    pub company: Option<i64>,
    pub category: Option<&'static str>,
    pub from: &'static str,
    pub to: &'static str,
}

impl Sel {
    pub fn query(&self) -> String {
        let mut q = vec![format!("from={}", self.from), format!("to={}", self.to)];
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                q.push(format!("{k}={}", enc(&v)));
            }
        };
        put("district", self.district.clone());
        put("street", self.street.clone());
        put("compound", self.compound.map(|x| x.to_string()));
        put("company", self.company.map(|x| x.to_string()));
        put("category", self.category.map(str::to_string));
        q.join("&")
    }
}

/// A server over a PostGIS database, listening for other servers' changes (as `atlas serve`
/// does): its state, to look at its caches, and its router.
pub async fn postgis_server(url: &str) -> (compound_atlas::AppState, axum::Router) {
    use compound_atlas::store::{postgis::PostgisStore, Store};
    let store = PostgisStore::connect_lazy(url, &Default::default()).unwrap();
    let atlas = std::sync::Arc::new(compound_atlas::analytics::Atlas::new(
        std::sync::Arc::new(store) as std::sync::Arc<dyn Store>,
        compound_atlas::analytics::Rule::default(),
    ));
    let state = compound_atlas::AppState::new(atlas, &settings_with_tokens());
    compound_atlas::http::watch_changes(&state).await;
    (state.clone(), compound_atlas::app(state))
}
