//! The geocoder against the generator's ground truth: at least 99% of complaints on the right
//! compound and 97% on the right building.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the exact values it expects and takes the defaults its calls need

mod common;

#[test]
fn complaints_land_on_the_right_compound_and_building() {
    let acc = compound_atlas::ingest::geocode::evaluate(&common::city(0.1, 5)).unwrap();
    eprintln!("{acc:?}");
    assert!(acc.complaints > 100_000);
    assert!(
        acc.compound_recall() >= 0.99,
        "compound recall {:.4}",
        acc.compound_recall()
    );
    assert!(
        acc.compound_precision() >= 0.995,
        "compound precision {:.4}",
        acc.compound_precision()
    );
    assert!(
        acc.building_recall() >= 0.97,
        "building recall {:.4}",
        acc.building_recall()
    );
}

/// The geocoder on addresses as people write them: every hand-written form of
/// tests/addresses/forms.tsv filled with 40 compounds of the city (with a building and a unit
/// each; phased ones for the forms that leave the phase out or write it in digits), scored for
/// compound precision and recall and building and unit accuracy where the form names them; and
/// the hand-written addresses of tests/addresses/none.txt, which name no compound, must stay
/// unmatched. Goals of issue 15: compound recall ≥ 0.99, building ≥ 0.97, unit ≥ 0.95, false
/// placements ≤ 0.2%.
#[test]
fn addresses_as_people_write_them() {
    let dir = common::city(0.1, 5);
    let m = compound_atlas::io::manifest::Manifest::read(&dir).unwrap();
    let data = compound_atlas::io::dataset::read(&dir, &m).unwrap();
    let s = compound_atlas::ingest::forms::score(
        &data,
        include_str!("addresses/forms.tsv"),
        include_str!("addresses/none.txt"),
    );
    eprintln!(
        "hand-made forms: {} addresses; compound precision {:.4}, recall {:.4}; building {:.4} of {}; \
         unit {:.4} of {}; {} of {} non-addresses placed; false placements {:.4}",
        s.addresses,
        s.compound_precision(),
        s.compound_recall(),
        s.building_accuracy(),
        s.buildings_asked,
        s.unit_accuracy(),
        s.units_asked,
        s.non_addresses_placed,
        s.non_addresses,
        s.false_placements()
    );
    for m in s.misses.iter().take(40) {
        eprintln!("  {m}");
    }
    assert!(s.addresses > 1000, "only {} addresses", s.addresses);
    assert!(
        s.compound_recall() >= 0.99,
        "compound recall {:.4}",
        s.compound_recall()
    );
    assert!(
        s.building_accuracy() >= 0.97,
        "building {:.4}",
        s.building_accuracy()
    );
    assert!(s.unit_accuracy() >= 0.95, "unit {:.4}", s.unit_accuracy());
    assert!(
        s.false_placements() <= 0.002,
        "false placements {:.4}",
        s.false_placements()
    );
}
