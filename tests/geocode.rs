//! The geocoder against the generator's ground truth: at least 99% of complaints on the right
//! compound and 97% on the right building.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message

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
