//! Bad input to `atlas import`: every malformed file gets an error naming the file, the feature
//! and the field, the command fails, and the store (embedded or PostGIS) is left exactly as it
//! was. Fixtures are made here from a generated compound, then broken one way each.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the exact values it expects and takes the defaults its calls need

mod common;

use compound_atlas::io::manifest::Manifest;
use compound_atlas::model::Compound;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn a_compound(dir: &Path) -> Compound {
    let m = Manifest::read(dir).unwrap();
    compound_atlas::io::dataset::read(dir, &m)
        .unwrap()
        .compounds
        .remove(0)
}

/// A compound as a GeoJSON feature, with a new id so that a successful import would add it.
fn feature(c: &Compound) -> Value {
    let ring: Vec<Vec<f64>> = c.geom.0[0]
        .exterior()
        .0
        .iter()
        .map(|p| vec![p.x, p.y])
        .collect();
    json!({
        "type": "Feature",
        "properties": {
            "id": 900_001, "name": "测试小区", "aliases": "", "district_code": c.district_code,
            "street_code": c.street_code, "company_id": c.company_id, "year_built": 2001, "households": 300
        },
        "geometry": { "type": "Polygon", "coordinates": [ring] }
    })
}

fn write_fc(dir: &Path, name: &str, features: Vec<Value>, extra: Option<(&str, Value)>) -> PathBuf {
    let mut fc = json!({ "type": "FeatureCollection", "features": features });
    if let Some((k, v)) = extra {
        fc[k] = v;
    }
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string(&fc).unwrap()).unwrap();
    path
}

/// Runs `atlas import` and returns (success, stderr).
fn import(paths: &[&Path], store: &[&str]) -> (bool, String) {
    let out = common::atlas()
        .arg("import")
        .args(paths)
        .args(store)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

struct Case {
    name: &'static str,
    file: PathBuf,
    /// Fragments the error message must hold (besides the file name).
    expect: Vec<&'static str>,
}

fn cases(work: &Path, city: &Path) -> Vec<Case> {
    let c = a_compound(city);
    let good = feature(&c);
    let mut cases = Vec::new();

    let text = serde_json::to_string(
        &json!({"type": "FeatureCollection", "features": [good.clone(), good.clone()]}),
    )
    .unwrap();
    let p = work.join("compounds_truncated.geojson");
    std::fs::write(&p, &text[..text.len() / 2]).unwrap();
    cases.push(Case {
        name: "truncated GeoJSON",
        file: p,
        expect: vec!["not valid GeoJSON"],
    });

    let p = work.join("compounds_truncated.fgb");
    let bytes = std::fs::read(city.join("compounds.fgb")).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() * 6 / 10]).unwrap();
    cases.push(Case {
        name: "truncated FlatGeobuf",
        file: p,
        expect: vec!["truncated"],
    });

    let p = work.join("compounds_garbage.fgb");
    std::fs::write(&p, b"this is not a flatgeobuf file at all").unwrap();
    cases.push(Case {
        name: "not a FlatGeobuf",
        file: p,
        expect: vec!["not a readable FlatGeobuf"],
    });

    let mut f = good.clone();
    let (x, y) = (c.geom.0[0].exterior().0[0].x, c.geom.0[0].exterior().0[0].y);
    f["geometry"]["coordinates"] = json!([[
        [x, y],
        [x + 0.001, y + 0.001],
        [x + 0.001, y],
        [x, y + 0.001],
        [x, y]
    ]]);
    cases.push(Case {
        name: "self-intersecting polygon",
        file: write_fc(
            work,
            "compounds_bowtie.geojson",
            vec![good.clone(), f],
            None,
        ),
        expect: vec!["feature 2", "field `geometry`", "self-intersection"],
    });

    let mut f = good.clone();
    f["geometry"]["coordinates"] = json!([[
        [x, y],
        [x + 0.001, y],
        [x + 0.001, y + 0.001],
        [x, y + 0.001]
    ]]);
    cases.push(Case {
        name: "unclosed ring",
        file: write_fc(work, "compounds_unclosed.geojson", vec![f], None),
        expect: vec!["feature 1", "field `geometry`", "not closed"],
    });

    let mut f = good.clone();
    f["geometry"]["coordinates"] = json!([[
        [x, y],
        [x, y + 0.001],
        [x + 0.001, y + 0.001],
        [x + 0.001, y],
        [x, y]
    ]]);
    cases.push(Case {
        name: "clockwise exterior ring",
        file: write_fc(work, "compounds_clockwise.geojson", vec![f], None),
        expect: vec!["field `geometry`", "clockwise", "--reorient"],
    });

    let mut f = good.clone();
    f["geometry"]["coordinates"] = json!([]);
    cases.push(Case {
        name: "empty geometry",
        file: write_fc(work, "compounds_empty.geojson", vec![f], None),
        expect: vec!["field `geometry`", "empty"],
    });

    let mut f = good.clone();
    f["geometry"] = Value::Null;
    cases.push(Case {
        name: "missing geometry",
        file: write_fc(work, "compounds_nogeom.geojson", vec![f], None),
        expect: vec!["field `geometry`", "missing geometry"],
    });

    cases.push(Case {
        name: "foreign CRS in GeoJSON",
        file: write_fc(
            work,
            "compounds_3857.geojson",
            vec![good.clone()],
            Some((
                "crs",
                json!({"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}),
            )),
        ),
        expect: vec!["EPSG::3857", "ogr2ogr"],
    });

    let mut f = good.clone();
    f["geometry"]["coordinates"] = json!([[
        [13_400_000.0, 4_300_000.0],
        [13_400_100.0, 4_300_000.0],
        [13_400_100.0, 4_300_100.0],
        [13_400_000.0, 4_300_000.0]
    ]]);
    cases.push(Case {
        name: "projected coordinates",
        file: write_fc(work, "compounds_projected.geojson", vec![f], None),
        expect: vec!["field `geometry`", "projected CRS"],
    });

    let mut f = good.clone();
    f["properties"]
        .as_object_mut()
        .unwrap()
        .remove("households");
    cases.push(Case {
        name: "missing required property",
        file: write_fc(
            work,
            "compounds_nohouseholds.geojson",
            vec![good.clone(), f],
            None,
        ),
        expect: vec![
            "feature 2",
            "id 900001",
            "field `households`",
            "missing required property",
        ],
    });

    let mut f = good.clone();
    f["properties"]["year_built"] = json!("long ago");
    cases.push(Case {
        name: "property of the wrong type",
        file: write_fc(work, "compounds_badyear.geojson", vec![f], None),
        expect: vec!["field `year_built`", "expected an integer"],
    });

    for (name, crs, expect) in [
        ("compounds_nocrs.fgb", 0, "declares no CRS"),
        (
            "compounds_unknown_crs.fgb",
            99_999,
            "EPSG:99999 is not a CRS this server knows",
        ),
    ] {
        let p = work.join(name);
        write_fgb_with_crs(&p, &c, crs);
        cases.push(Case {
            name: "FlatGeobuf CRS",
            file: p,
            expect: vec![expect],
        });
    }

    // A unit point without its building, 10 km from every building: not linked by a guess.
    let p = work.join("units_nowhere.csv");
    std::fs::write(&p, "name,households,lon,lat\n1单元,12,120.9,35.7\n").unwrap();
    cases.push(Case {
        name: "a unit no building contains or neighbours",
        file: p,
        expect: vec!["feature 2", "field `building_id`", "no building contains"],
    });

    let p = work.join("companies_bad.csv");
    std::fs::write(&p, "id,name\n1,青岛好物业有限公司\nx,坏行\n").unwrap();
    cases.push(Case {
        name: "bad company row",
        file: p,
        expect: vec!["feature 3", "field `id`"],
    });
    cases
}

fn write_fgb_with_crs(path: &Path, c: &Compound, code: i32) {
    use flatgeobuf::{ColumnType, FgbCrs, FgbWriter, FgbWriterOptions, GeometryType};
    use geozero::{ColumnValue, PropertyProcessor};
    let mut fgb = FgbWriter::create_with_options(
        "compounds",
        GeometryType::MultiPolygon,
        FgbWriterOptions {
            crs: FgbCrs {
                code,
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .unwrap();
    fgb.add_column("id", ColumnType::Long, |_, _| {});
    fgb.add_feature_geom(geo_types::Geometry::MultiPolygon(c.geom.clone()), |f| {
        f.property(0, "id", &ColumnValue::Long(900_001)).unwrap();
    })
    .unwrap();
    let mut out = std::fs::File::create(path).unwrap();
    fgb.write(&mut out).unwrap();
}

#[test]
fn every_bad_file_is_named_and_the_embedded_store_is_left_as_it_was() {
    let city = common::city(0.02, 21);
    let store = common::copy_dir(&city);
    let work = tempfile::tempdir().unwrap();
    let before = common::snapshot(&store);
    for case in cases(work.path(), &city) {
        let (ok, err) = import(&[&case.file], &["--data", store.to_str().unwrap()]);
        assert!(!ok, "{}: import succeeded", case.name);
        let file = case.file.file_name().unwrap().to_str().unwrap();
        assert!(
            err.contains(file),
            "{}: the error does not name the file: {err}",
            case.name
        );
        for e in &case.expect {
            assert!(err.contains(e), "{}: expected `{e}` in: {err}", case.name);
        }
        assert!(!err.contains("panicked"), "{}: {err}", case.name);
    }
    // Not a byte changed, no file added or removed.
    assert!(common::snapshot(&store) == before, "the store changed");
}

#[tokio::test]
async fn every_bad_file_leaves_postgis_as_it_was() {
    let city = common::city(0.02, 21);
    let url = common::fresh_db("bad").await;
    let (ok, err) = import(&[&city], &["--database-url", &url]);
    assert!(ok, "{err}");
    let count = || async {
        let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM compounds")
            .fetch_one(&mut c)
            .await
            .unwrap()
    };
    let before = count().await;
    let work = tempfile::tempdir().unwrap();
    let good = write_fc(
        work.path(),
        "compounds_good.geojson",
        vec![feature(&a_compound(&city))],
        None,
    );
    for case in cases(work.path(), &city) {
        // A good file first: it must not land when a later file of the same import is bad.
        let (ok, err) = import(&[&good, &case.file], &["--database-url", &url]);
        assert!(!ok, "{}: import succeeded", case.name);
        assert!(
            err.contains(case.file.file_name().unwrap().to_str().unwrap()),
            "{}: {err}",
            case.name
        );
        assert_eq!(count().await, before, "{}: rows landed", case.name);
    }
    // The good file alone lands, and the --reorient switch repairs a clockwise ring.
    let (ok, err) = import(&[&good], &["--database-url", &url]);
    assert!(ok, "{err}");
    assert_eq!(count().await, before + 1);
    let cw = work.path().join("compounds_clockwise.geojson");
    let (ok, err) = import(&[&cw], &["--database-url", &url, "--reorient"]);
    assert!(ok, "--reorient: {err}");
}

#[test]
fn a_reference_to_nothing_names_the_record_and_field() {
    let city = common::city(0.02, 21);
    let store = common::copy_dir(&city);
    let work = tempfile::tempdir().unwrap();
    let mut f = feature(&a_compound(&city));
    f["properties"]["company_id"] = json!(777_777);
    let p = write_fc(work.path(), "compounds_orphan.geojson", vec![f], None);
    let (ok, err) = import(&[&p], &["--data", store.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("company_id") && err.contains("777777"),
        "{err}"
    );
}
