//! The map page end to end in a real headless browser: Debian's Chromium driven by
//! playwright-core (tools/web-test.js), against `atlas serve` on a generated city with its
//! complaints. Screenshots are saved in tests/artifacts/web/.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the exact values it expects and takes the defaults its calls need

mod common;

use std::path::Path;
use std::process::Command;

#[test]
fn the_map_page_works_as_a_planner_uses_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let driver = root.join("tools/node_modules/playwright-core");
    assert!(
        driver.exists(),
        "playwright-core is missing: run scripts/test, which installs it (npm ci in tools/)"
    );
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or_else(|| panic!("no Chromium: scripts/test installs Debian's `chromium`"));
    let (mut child, url) = common::serve_city(0.25, 91);
    // The same city behind a planner token: the page must ask for it.
    let (mut guarded, guarded_url) =
        common::serve_city_env(0.25, 91, &[("ATLAS_PLANNER_TOKEN", "web-planner-secret")]);
    let out_dir = root.join("tests/artifacts/web");
    let out = Command::new("node")
        .arg(root.join("tools/web-test.js"))
        .arg(&url)
        .arg(&out_dir)
        .arg(&guarded_url)
        .env("CHROMIUM", chromium)
        .env("PLANNER_TOKEN", "web-planner-secret")
        .output()
        .unwrap();
    for c in [&mut child, &mut guarded] {
        let _ = c.kill();
        let _ = c.wait();
    }
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{log}");
    assert!(out.status.success(), "the page failed checks:\n{log}");
    assert!(out_dir.join("compound-panel.png").exists());
}
