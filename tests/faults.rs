//! PostGIS stopped and started again under load: while it is away `atlas serve` answers 503
//! with Retry-After (and /health says so), never crashes or hangs, and serves normally again
//! within 5 s of the database's return. The test runs its own throwaway cluster (started with
//! scripts/postgis.sh) so that it may stop it.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the exact values it expects and takes the defaults its calls need

mod common;

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Cluster {
    tmp: String,
    url: String,
}

fn sh(script: &str) -> String {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -euo pipefail; cd {}; . scripts/postgis.sh; {script}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

impl Cluster {
    fn start() -> Cluster {
        let out = sh(
            "ensure_postgis >/dev/null; start_cluster 2>/dev/null; echo \"$PG_TMP $DATABASE_URL\"",
        );
        let mut it = out.split_whitespace();
        Cluster {
            tmp: it.next().unwrap().to_string(),
            url: it.next().unwrap().to_string(),
        }
    }
    fn ctl(&self, action: &str) {
        let port = self
            .url
            .rsplit(':')
            .next()
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_string();
        sh(&format!(
            "bin=$(pg_bindir); runas=(); [ \"$(id -u)\" = 0 ] && runas=(runuser -u postgres --); \
             \"${{runas[@]}}\" \"$bin/pg_ctl\" -D {tmp}/data -l {tmp}/log -w -t 60 -m fast {action} \
             -o \"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off\" >/dev/null",
            tmp = self.tmp
        ));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "cd {}; . scripts/postgis.sh; PG_TMP={} stop_cluster",
                env!("CARGO_MANIFEST_DIR"),
                self.tmp
            ))
            .status();
    }
}

/// One HTTP/1.1 GET with a deadline: (status, Retry-After present, body).
fn get(host: &str, path: &str, deadline: Duration) -> Option<(u16, bool, String)> {
    let mut s = std::net::TcpStream::connect(host).ok()?;
    s.set_read_timeout(Some(deadline)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    // Tiles are binary: the head is text, the body need not be.
    let buf = String::from_utf8_lossy(&raw).to_string();
    let status = buf.split_whitespace().nth(1)?.parse().ok()?;
    let retry = buf.to_ascii_lowercase().contains("\r\nretry-after:");
    Some((
        status,
        retry,
        buf.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default(),
    ))
}

#[test]
fn postgis_away_and_back_under_load() {
    let cluster = Cluster::start();
    let city = common::city(0.05, 131);
    let st = common::atlas()
        .arg("import")
        .arg(&city)
        .args(["--database-url", &cluster.url])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("atlas.toml");
    std::fs::write(
        &config,
        "[postgis]\nacquire_timeout_ms = 1000\nstatement_timeout_ms = 5000\n",
    )
    .unwrap();
    let mut child: Child = common::atlas()
        .args([
            "serve",
            "--database-url",
            &cluster.url,
            "--bind",
            "127.0.0.1:0",
        ])
        .env("ATLAS_CONFIG", &config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let host = url.trim_start_matches("http://").to_string();
    let nearby = "/api/compounds/nearby?lon=120.38&lat=36.07&radius_m=3000";
    assert_eq!(get(&host, nearby, Duration::from_secs(30)).unwrap().0, 200);

    // Load: four clients asking nearby, tiles and health in a loop, all the while.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, unavailable, other, slow) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let seen: Arc<std::sync::Mutex<Vec<String>>> = Arc::new(std::sync::Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..4)
        .map(|k| {
            let seen = Arc::clone(&seen);
            let (stop, ok, unavailable, other, slow, host) = (
                Arc::clone(&stop),
                Arc::clone(&ok),
                Arc::clone(&unavailable),
                Arc::clone(&other),
                Arc::clone(&slow),
                host.clone(),
            );
            std::thread::spawn(move || {
                let paths = [
                    nearby,
                    "/health",
                    "/tiles/atlas/12/3418/1607.mvt",
                    "/api/compounds/nearby?lon=120.42&lat=36.16&radius_m=2000",
                ];
                let mut i = k;
                while !stop.load(Ordering::SeqCst) {
                    let started = Instant::now();
                    let path = paths[i % paths.len()];
                    match get(&host, path, Duration::from_secs(20)) {
                        Some((200 | 204, _, _)) => ok.fetch_add(1, Ordering::SeqCst),
                        Some((503, true, _)) => unavailable.fetch_add(1, Ordering::SeqCst),
                        r => {
                            let mut s = seen.lock().unwrap();
                            if s.len() < 5 {
                                s.push(format!("{path}: {r:?}"));
                            }
                            other.fetch_add(1, Ordering::SeqCst)
                        }
                    };
                    if started.elapsed() > Duration::from_secs(10) {
                        slow.fetch_add(1, Ordering::SeqCst);
                    }
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    cluster.ctl("stop");
    // While it is away: /health says so, nearby answers 503 with Retry-After, quickly.
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    let (status, retry, body) = get(&host, "/health", Duration::from_secs(10)).unwrap();
    assert_eq!((status, retry), (503, true), "{body}");
    assert!(body.contains("unavailable"));
    let (status, retry, body) = get(&host, nearby, Duration::from_secs(10)).unwrap();
    assert_eq!((status, retry), (503, true), "{body}");
    assert!(body.contains("\"store_unavailable\""), "{body}");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "answers come quickly while the database is away"
    );
    std::thread::sleep(Duration::from_secs(2));
    // Back: serving normally within 5 s.
    cluster.ctl("start");
    let back = Instant::now();
    loop {
        if let Some((200, _, _)) = get(&host, nearby, Duration::from_secs(5)) {
            if get(&host, "/health", Duration::from_secs(5)).is_some_and(|r| r.0 == 200) {
                break;
            }
        }
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "not serving again 5 s after the database came back"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the server is still running"
    );
    let (ok, unavailable, other, slow) = (
        ok.load(Ordering::SeqCst),
        unavailable.load(Ordering::SeqCst),
        other.load(Ordering::SeqCst),
        slow.load(Ordering::SeqCst),
    );
    assert!(ok > 20 && unavailable > 0, "ok {ok}, 503 {unavailable}");
    assert_eq!(
        other,
        0,
        "every answer was 200/204 or 503 with Retry-After (ok {ok}, 503 {unavailable}): {:?}",
        seen.lock().unwrap()
    );
    assert_eq!(slow, 0, "no request hung");
    let _ = child.kill();
    let _ = child.wait();
}
