//! Geocoder accuracy and speed against the generator's ground truth, and on the hand-made
//! address forms of tests/addresses (addresses as people write them, not as the generator does).
//!   cargo bench --bench geocode [-- SCALE]      (default 1.0: the full 1.1 M complaints)
//! Prints precision, recall and the unmatched share, and complaints placed per second; then the
//! hand-made forms' compound precision and recall, building and unit accuracy, and false
//! placements.

use compound_atlas::generate;
use compound_atlas::ingest::geocode;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let scale: f64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1.0);
    let dir = tempfile::tempdir()?;
    generate::run(&generate::Options {
        out: dir.path().to_path_buf(),
        scale,
        seed: compound_atlas::config::DEFAULT_SEED,
        encoding: generate::Encoding::Utf8,
        progress: false,
    })?;
    let started = Instant::now();
    let acc = geocode::evaluate(dir.path())?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "## Geocoder against ground truth — scale {scale}, {} complaints",
        acc.complaints
    );
    println!();
    println!("| measure | value |");
    println!("| --- | ---: |");
    println!(
        "| compound precision (right among placed) | {:.4} |",
        acc.compound_precision()
    );
    println!(
        "| compound recall (right among all) | {:.4} |",
        acc.compound_recall()
    );
    println!(
        "| building recall (right among those with a building) | {:.4} |",
        acc.building_recall()
    );
    println!(
        "| unit recall (right among those with a unit) | {:.4} |",
        acc.unit_recall()
    );
    println!("| unmatched share | {:.4} |", acc.unmatched_share());
    println!("| complaints read + placed per second (one thread, incl. gazetteer build and CSV read) | {:.0} |", acc.complaints as f64 / secs);
    let m = compound_atlas::io::manifest::Manifest::read(dir.path()).map_err(anyhow::Error::msg)?;
    let data = compound_atlas::io::dataset::read(dir.path(), &m)?;
    let f = compound_atlas::ingest::forms::score(
        &data,
        include_str!("../tests/addresses/forms.tsv"),
        include_str!("../tests/addresses/none.txt"),
    );
    println!();
    println!(
        "## Geocoder on hand-made address forms — scale {scale}, {} addresses, {} that name no compound",
        f.addresses, f.non_addresses
    );
    println!();
    println!("| measure | value |");
    println!("| --- | ---: |");
    println!("| compound precision | {:.4} |", f.compound_precision());
    println!("| compound recall | {:.4} |", f.compound_recall());
    println!(
        "| building accuracy (forms naming one, {}) | {:.4} |",
        f.buildings_asked,
        f.building_accuracy()
    );
    println!(
        "| unit accuracy (forms naming one, {}) | {:.4} |",
        f.units_asked,
        f.unit_accuracy()
    );
    println!("| false placements | {:.4} |", f.false_placements());
    for miss in f.misses.iter().take(10) {
        println!("- {miss}");
    }
    Ok(())
}
