//! The demo city meets the figures of DOMAIN.md and looks like a city: compounds inside their
//! street and apart, buildings inside their compound and apart, the named compounds where
//! they really are, complaints shaped as the bureau described them.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the exact values it expects and takes the defaults its calls need

mod common;

use compound_atlas::io::{dataset, manifest::Manifest};
use compound_atlas::model::Dataset;
use geo::{Area, BoundingRect, Contains, Distance, Euclidean, Intersects};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use std::collections::HashMap;

fn load(dir: &std::path::Path) -> Dataset {
    let m = Manifest::read(dir).unwrap();
    let data = dataset::read(dir, &m).unwrap();
    data.check_references().unwrap();
    data
}

fn within(value: f64, target: f64, tolerance: f64) -> bool {
    (value - target).abs() <= target * tolerance
}

#[test]
fn full_scale_city_meets_the_figures_of_the_housing_database() {
    let dir = common::city(1.0, 20_230_426);
    let d = load(&dir);
    assert_eq!(d.districts.len(), 10);
    assert_eq!(d.streets.len(), 134, "the 98 街道 and 36 镇 of 2023");
    assert_eq!(d.companies.len(), 924);
    assert!(
        (4000..=4400).contains(&d.compounds.len()),
        "{} compounds",
        d.compounds.len()
    );
    assert!(
        within(d.buildings.len() as f64, 63_800.0, 0.01),
        "{} buildings",
        d.buildings.len()
    );
    assert!(
        within(d.units.len() as f64, 209_000.0, 0.01),
        "{} units",
        d.units.len()
    );
    let households: i64 = d.compounds.iter().map(|c| i64::from(c.households)).sum();
    assert!(
        within(households as f64, 2_550_000.0, 0.02),
        "{households} households"
    );
    // Households add up the same way at every level.
    let by_units: i64 = d.units.iter().map(|u| i64::from(u.households)).sum();
    let by_buildings: i64 = d.buildings.iter().map(|b| i64::from(b.households)).sum();
    assert_eq!(by_units, households);
    assert_eq!(by_buildings, households);

    let rows = csv::Reader::from_path(dir.join("complaints.csv"))
        .unwrap()
        .records()
        .count();
    assert!(within(rows as f64, 1_100_000.0, 0.02), "{rows} complaints");
}

#[test]
fn most_compounds_are_in_the_urban_districts_and_few_in_pingdu_and_laixi() {
    let d = load(&common::city(1.0, 20_230_426));
    let mut per: HashMap<&str, usize> = HashMap::new();
    for c in &d.compounds {
        *per.entry(c.district_code.as_str()).or_default() += 1;
    }
    let urban: usize = ["370202", "370203", "370211", "370212", "370213", "370214"]
        .iter()
        .map(|c| per[c])
        .sum();
    assert!(
        urban as f64 > 0.7 * d.compounds.len() as f64,
        "urban {urban}"
    );
    assert!(
        per["370283"] < per["370203"] / 3,
        "Pingdu {} vs Shibei {}",
        per["370283"],
        per["370203"]
    );
    assert!(per["370285"] < per["370203"] / 3);
}

#[test]
fn compounds_sit_inside_their_street_and_never_overlap() {
    inside_their_street_and_apart(&load(&common::city(0.25, 7)));
}

/// A city twice the demo's: the old city's streets run out of room, and the compounds that do
/// not fit go to the nearest streets with room — every one placed, none overlapping.
#[test]
fn a_city_twice_the_size_places_every_compound() {
    let dir = tempfile::tempdir().unwrap();
    let summary = compound_atlas::generate::run(&compound_atlas::generate::Options {
        out: dir.path().to_path_buf(),
        scale: 2.0,
        seed: 20_230_426,
        encoding: compound_atlas::generate::Encoding::Utf8,
        progress: false,
    })
    .unwrap();
    assert_eq!(summary.unplaced_compounds, 0, "{summary:?}");
    let d = load(dir.path());
    assert_eq!(d.compounds.len(), summary.compounds);
    let full = load(&common::city(1.0, 20_230_426)).compounds.len();
    assert_eq!(d.compounds.len(), 2 * full, "twice the full city's {full}");
    inside_their_street_and_apart(&d);
}

fn inside_their_street_and_apart(d: &Dataset) {
    let streets: HashMap<&str, &compound_atlas::model::Street> =
        d.streets.iter().map(|s| (s.code.as_str(), s)).collect();
    for c in &d.compounds {
        let s = streets[c.street_code.as_str()];
        assert_eq!(
            s.district_code, c.district_code,
            "compound {} street/district mismatch",
            c.id
        );
        assert!(
            s.geom.contains(&c.geom),
            "compound {} {} is not inside street {}",
            c.id,
            c.name,
            s.name
        );
    }
    let tree = RTree::bulk_load(
        d.compounds
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let r = c.geom.bounding_rect().unwrap();
                GeomWithData::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    i,
                )
            })
            .collect(),
    );
    for (i, c) in d.compounds.iter().enumerate() {
        let r = c.geom.bounding_rect().unwrap();
        let env = AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
        for other in tree.locate_in_envelope_intersecting(&env) {
            if other.data != i {
                assert!(
                    !c.geom.intersects(&d.compounds[other.data].geom),
                    "compounds {} and {} overlap",
                    c.id,
                    d.compounds[other.data].id
                );
            }
        }
    }
}

#[test]
fn buildings_sit_inside_their_compound_apart_and_units_at_their_entrances() {
    let d = load(&common::city(0.25, 7));
    let compounds: HashMap<i64, &compound_atlas::model::Compound> =
        d.compounds.iter().map(|c| (c.id, c)).collect();
    let mut by_compound: HashMap<i64, Vec<&compound_atlas::model::Building>> = HashMap::new();
    for b in &d.buildings {
        assert!(
            compounds[&b.compound_id].geom.contains(&b.geom),
            "building {} outside its compound",
            b.id
        );
        by_compound.entry(b.compound_id).or_default().push(b);
    }
    for bs in by_compound.values() {
        for (i, a) in bs.iter().enumerate() {
            for b in &bs[i + 1..] {
                assert!(
                    !a.geom.intersects(&b.geom),
                    "buildings {} and {} overlap",
                    a.id,
                    b.id
                );
            }
        }
    }
    let buildings: HashMap<i64, &compound_atlas::model::Building> =
        d.buildings.iter().map(|b| (b.id, b)).collect();
    for u in &d.units {
        let b = buildings[&u.building_id];
        // Entrances stand just outside the footprint: within 3 m, in degrees (~1e-5 per metre).
        let dist = Euclidean.distance(&u.geom, &b.geom);
        assert!(
            dist > 0.0 && dist < 3.0e-5,
            "unit {} is {dist}° from its building",
            u.id
        );
    }
    // Rows of slabs: most buildings have about 6 floors, a few are towers.
    let six = d
        .buildings
        .iter()
        .filter(|b| (4..=7).contains(&b.floors))
        .count();
    let towers = d.buildings.iter().filter(|b| b.floors >= 18).count();
    assert!(six as f64 > 0.7 * d.buildings.len() as f64);
    assert!(towers > 0);
}

#[test]
fn named_compounds_stand_in_their_real_district_and_street() {
    let d = load(&common::city(0.02, 1));
    let street_name: HashMap<&str, &str> = d
        .streets
        .iter()
        .map(|s| (s.code.as_str(), s.name.as_str()))
        .collect();
    let find = |name: &str| {
        d.compounds
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    let jq = find("金秋桂园");
    assert_eq!(
        (
            jq.district_code.as_str(),
            street_name[jq.street_code.as_str()]
        ),
        ("370213", "虎山路街道")
    );
    let hx = find("海信慧园二期");
    assert_eq!(
        (
            hx.district_code.as_str(),
            street_name[hx.street_code.as_str()]
        ),
        ("370202", "湛山街道")
    );
    assert_eq!(find("碧海花园").district_code, "370211");
    let jg = find("金光丽园");
    assert_eq!(jg.district_code, "370212");
    assert!(
        jg.households > 6000,
        "金光丽园 has {} households",
        jg.households
    );
    // About 200,000 m²: area in degrees² times metres per degree at 36.1°N.
    let m2 = jg.geom.unsigned_area() * 111_320.0 * 36.1f64.to_radians().cos() * 110_574.0;
    assert!(
        (170_000.0..=240_000.0).contains(&m2),
        "金光丽园 covers {m2} m²"
    );
    for hot in ["海延雅居", "海岸馨园", "华易春之都", "温哥华小区"] {
        find(hot);
    }
}

#[test]
fn the_same_seed_gives_the_same_city_and_another_seed_another() {
    let a = common::city(0.01, 42);
    let dir = tempfile::tempdir().unwrap();
    compound_atlas::generate::run(&compound_atlas::generate::Options {
        out: dir.path().to_path_buf(),
        scale: 0.01,
        seed: 42,
        encoding: compound_atlas::generate::Encoding::Utf8,
        progress: false,
    })
    .unwrap();
    for f in [
        "compounds.fgb",
        "buildings.fgb",
        "units.fgb",
        "streets.fgb",
        "complaints.csv",
        "complaints_truth.csv",
    ] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(dir.path().join(f)).unwrap(),
            "{f} differs"
        );
    }
    let b = common::city(0.01, 43);
    assert_ne!(
        std::fs::read(a.join("compounds.fgb")).unwrap(),
        std::fs::read(b.join("compounds.fgb")).unwrap()
    );
}

#[test]
fn gbk_export_holds_the_same_rows_as_utf8() {
    let utf8 = common::city(0.01, 42);
    let dir = tempfile::tempdir().unwrap();
    compound_atlas::generate::run(&compound_atlas::generate::Options {
        out: dir.path().to_path_buf(),
        scale: 0.01,
        seed: 42,
        encoding: compound_atlas::generate::Encoding::Gbk,
        progress: false,
    })
    .unwrap();
    let gbk = std::fs::read(dir.path().join("complaints.gbk.csv")).unwrap();
    assert!(
        std::str::from_utf8(&gbk).is_err(),
        "a GBK file is not UTF-8"
    );
    let (decoded, _, had_errors) = encoding_rs::GBK.decode(&gbk);
    assert!(!had_errors);
    assert_eq!(
        decoded,
        std::fs::read_to_string(utf8.join("complaints.csv")).unwrap()
    );
}

/// Complaint counts by district and half-year, from the export and its ground truth.
fn halves(dir: &std::path::Path, district: &str) -> HashMap<String, usize> {
    let d = load(dir);
    let district_of: HashMap<String, &str> = d
        .compounds
        .iter()
        .map(|c| (c.id.to_string(), c.district_code.as_str()))
        .collect();
    let mut truth = csv::Reader::from_path(dir.join("complaints_truth.csv")).unwrap();
    let mut export = csv::Reader::from_path(dir.join("complaints.csv")).unwrap();
    let mut out = HashMap::new();
    for (t, e) in truth.records().zip(export.records()) {
        let (t, e) = (t.unwrap(), e.unwrap());
        assert_eq!(&t[0], &e[0], "truth and export are in the same order");
        if district_of[&t[1]] != district {
            continue;
        }
        let when = &e[1];
        let half = format!("{}H{}", &when[..4], if &when[5..7] <= "06" { 1 } else { 2 });
        *out.entry(half).or_default() += 1;
    }
    out
}

#[test]
fn west_coast_complaints_fell_as_the_bureau_reported() {
    let h = halves(&common::city(1.0, 20_230_426), "370211");
    let yoy = h["2023H1"] as f64 / h["2022H1"] as f64 - 1.0;
    let hoh = h["2023H1"] as f64 / h["2022H2"] as f64 - 1.0;
    assert!(
        (yoy - -0.07).abs() < 0.03,
        "first-half 2023 vs 2022: {yoy:+.3}"
    );
    assert!(
        (hoh - -0.27).abs() < 0.03,
        "first-half 2023 vs second-half 2022: {hoh:+.3}"
    );
}

#[test]
fn complaints_are_heavy_tailed_seasonal_and_fall_after_the_campaign() {
    let dir = common::city(0.25, 7);
    let mut per_compound: HashMap<String, usize> = HashMap::new();
    let mut truth = csv::Reader::from_path(dir.join("complaints_truth.csv")).unwrap();
    for t in truth.records() {
        *per_compound.entry(t.unwrap()[1].to_string()).or_default() += 1;
    }
    let mut counts: Vec<usize> = per_compound.values().copied().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let total: usize = counts.iter().sum();
    let top = counts.len() / 10;
    let top_share = counts[..top].iter().sum::<usize>() as f64 / total as f64;
    assert!(
        top_share > 0.3,
        "the hottest 10% of compounds carry {top_share:.2} of complaints"
    );

    let mut export = csv::Reader::from_path(dir.join("complaints.csv")).unwrap();
    let mut month: HashMap<String, usize> = HashMap::new();
    let mut gps = 0;
    let mut n = 0;
    for e in export.records() {
        let e = e.unwrap();
        n += 1;
        if !e[5].is_empty() {
            gps += 1;
        }
        *month.entry(e[1][..7].to_string()).or_default() += 1;
    }
    assert!(
        (f64::from(gps) / f64::from(n) - 0.2).abs() < 0.02,
        "GPS share {}",
        f64::from(gps) / f64::from(n)
    );
    assert!(
        month["2022-07"] > month["2022-01"],
        "summer is busier than winter"
    );
    assert!(
        (month["2023-06"] as f64) < 0.85 * month["2022-06"] as f64,
        "the campaign lowered June 2023"
    );
    assert_eq!(month.keys().min().unwrap(), "2018-01");
    assert_eq!(month.keys().max().unwrap(), "2023-07");
}

#[test]
fn every_address_names_the_compound_and_callers_carry_fake_contacts() {
    let dir = common::city(0.02, 1);
    let d = load(&dir);
    let names: HashMap<String, &compound_atlas::model::Compound> =
        d.compounds.iter().map(|c| (c.id.to_string(), c)).collect();
    let mut truth = csv::Reader::from_path(dir.join("complaints_truth.csv")).unwrap();
    let mut export = csv::Reader::from_path(dir.join("complaints.csv")).unwrap();
    let mut forms: HashMap<String, usize> = HashMap::new();
    let (mut named, mut n) = (0, 0);
    for (t, e) in truth.records().zip(export.records()) {
        let (t, e) = (t.unwrap(), e.unwrap());
        n += 1;
        let c = names[&t[1]];
        if e[4].contains(&c.name) || c.aliases.iter().any(|a| e[4].contains(a.as_str())) {
            named += 1;
        }
        *forms.entry(t[4].to_string()).or_default() += 1;
        assert!(
            !e[9].is_empty() && e[10].len() == 11,
            "caller name and 11-digit phone"
        );
    }
    // Typos aside (about 5%), the address names the compound or one of its aliases.
    assert!(f64::from(named) > 0.9 * f64::from(n), "{named} of {n}");
    for form in [
        "full", "short", "street", "dong", "hash", "building", "hao", "compound",
    ] {
        assert!(
            forms.get(form).copied().unwrap_or(0) > 0,
            "no `{form}` addresses"
        );
    }
}
