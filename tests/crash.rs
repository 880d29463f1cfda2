//! kill -9 in the middle of an import leaves either the store as it was or the whole import,
//! never a part, in both stores.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the exact values it expects and takes the defaults its calls need

mod common;

use compound_atlas::store::{embedded::EmbeddedStore, postgis::PostgisStore, Store};
use std::time::Duration;

/// Runs `atlas import` and kills it with SIGKILL after `after`; returns whether it had finished.
fn import_killed(args: &[&str], after: Duration) -> bool {
    let mut child = common::atlas()
        .arg("import")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    let finished = child.try_wait().unwrap().is_some();
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    finished
}

#[tokio::test]
async fn kill_9_during_a_complaint_import_leaves_all_or_nothing() {
    let city = common::city(0.25, 51);
    let export = city.join("complaints.csv");
    let total = csv::Reader::from_path(&export).unwrap().records().count() as i64;
    let url = common::fresh_db("crash").await;
    let (ok, err) = {
        let out = common::atlas()
            .args(["import", city.to_str().unwrap(), "--database-url", &url])
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    assert!(ok, "{err}");
    let mut saw_partial_kill = 0;
    for ms in [150u64, 400, 700, 1000, 1500, 2500] {
        // Embedded: a fresh copy each time.
        let dir = common::copy_dir(&city);
        let finished = import_killed(
            &[export.to_str().unwrap(), "--data", dir.to_str().unwrap()],
            Duration::from_millis(ms),
        );
        let n = EmbeddedStore::open(&dir)
            .unwrap()
            .counts()
            .await
            .unwrap()
            .complaints;
        assert!(
            n == 0 || n == total,
            "embedded after kill at {ms} ms: {n} of {total}"
        );
        if !finished && n == 0 {
            saw_partial_kill += 1;
        }
        // PostGIS: empty the complaints first.
        let pg = PostgisStore::connect_lazy(&url, &Default::default()).unwrap();
        sqlx::query("TRUNCATE complaints, private.complaint_contacts, stats_compound_month, stats_building_month, stats_unit_month")
            .execute(pg.pool())
            .await
            .unwrap();
        import_killed(
            &[export.to_str().unwrap(), "--database-url", &url],
            Duration::from_millis(ms),
        );
        let n = pg.counts().await.unwrap().complaints;
        assert!(
            n == 0 || n == total,
            "postgis after kill at {ms} ms: {n} of {total}"
        );
    }
    assert!(
        saw_partial_kill > 0,
        "no kill landed mid-import; the test proved nothing"
    );
}
