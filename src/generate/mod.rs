//! `atlas generate`: the deterministic demo city of Qingdao.
//!
//! 1. the 10 real districts and their real streets (areas as Voronoi cells, [`city`]);
//! 2. compounds, buildings and units calibrated to the city's totals ([`estates`]);
//! 3. property companies ([`names`]);
//! 4. ~1.1 M hotline complaints with a ground-truth file ([`complaints`]);
//! 5. FlatGeobuf layers, the company CSV and the manifest, written last.

mod city;
pub mod complaints;
mod estates;
mod frame;
mod names;

pub use complaints::Encoding;

use crate::io;
use crate::model::{Company, Dataset};
use rand::SeedableRng;
use std::path::PathBuf;
use std::time::Instant;

/// What `atlas generate` takes.
#[derive(Debug, Clone)]
pub struct Options {
    pub out: PathBuf,
    pub scale: f64,
    pub seed: u64,
    pub encoding: Encoding,
    pub progress: bool,
}

/// What was generated.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub districts: usize,
    pub streets: usize,
    pub companies: usize,
    pub compounds: usize,
    pub buildings: usize,
    pub units: usize,
    pub households: i64,
    pub complaints: usize,
    pub complaints_with_gps: usize,
    pub unplaced_compounds: usize,
    pub seconds: f64,
}

fn bar(show: bool, msg: &'static str) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(0);
    pb.set_style(
        indicatif::ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(msg);
    pb
}

/// Generates the demo city into `opts.out`.
pub fn run(opts: &Options) -> anyhow::Result<Summary> {
    if !(opts.scale > 0.0 && opts.scale <= 2.0) {
        anyhow::bail!("--scale must be in (0, 2], got {}", opts.scale);
    }
    let started = Instant::now();
    std::fs::create_dir_all(&opts.out)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(opts.seed);

    let districts = city::districts()?;
    let streets = city::streets(&mut rng, &districts)?;
    let n_companies = ((estates::COMPANIES * opts.scale).round() as usize).max(5);
    let pb = bar(opts.progress, "compounds");
    let est = estates::generate(&mut rng, opts.scale, &districts, &streets, n_companies, &pb)?;
    pb.finish();
    let companies: Vec<Company> = names::companies(&mut rng, n_companies)
        .into_iter()
        .enumerate()
        .map(|(i, name)| Company {
            id: i as i64 + 1,
            name,
        })
        .collect();

    let pb = bar(opts.progress, "complaints");
    let cs = complaints::generate(
        &mut rng,
        opts.scale,
        &districts,
        &streets,
        &est,
        &opts.out,
        opts.encoding,
        &pb,
    )?;
    pb.finish();

    let data = Dataset {
        districts: districts.iter().map(|d| d.district.clone()).collect(),
        streets: streets.iter().map(|s| s.street.clone()).collect(),
        companies,
        compounds: est.estates.iter().map(|e| e.compound.clone()).collect(),
        buildings: est.buildings,
        units: est.units,
    };
    let summary = Summary {
        districts: data.districts.len(),
        streets: data.streets.len(),
        companies: data.companies.len(),
        compounds: data.compounds.len(),
        buildings: data.buildings.len(),
        units: data.units.len(),
        households: data.compounds.iter().map(|c| i64::from(c.households)).sum(),
        complaints: cs.complaints,
        complaints_with_gps: cs.with_gps,
        unplaced_compounds: est.unplaced,
        seconds: 0.0,
    };
    let mut manifest = io::dataset::write(&opts.out, &data, 1)?;
    // The layers' digests vouch that their records passed the readers' checks: read what was
    // written back with every check (no digests yet) before the manifest says so.
    let checked = std::mem::take(&mut manifest.checked);
    io::dataset::read(&opts.out, &manifest)?;
    manifest.checked = checked;
    let suffix = if opts.encoding == Encoding::Gbk {
        ".gbk"
    } else {
        ""
    };
    manifest.complaints_csv = Some(format!("complaints{suffix}.csv"));
    manifest.complaints_truth = Some("complaints_truth.csv".into());
    manifest.generator = Some(serde_json::json!({
        "seed": opts.seed, "scale": opts.scale, "encoding": format!("{:?}", opts.encoding).to_lowercase(),
    }));
    manifest.write(&opts.out)?;
    Ok(Summary {
        seconds: started.elapsed().as_secs_f64(),
        ..summary
    })
}
