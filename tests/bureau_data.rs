//! A city's own data as a bureau has it: a housing database exported as Shapefiles (GBK
//! attribute tables with `.cpg` and `.prj`) in CGCS2000 Gauss–Krüger zones, with its own field
//! names and a mapping file — made here from a generated city by GDAL's `ogr2ogr`, so that the
//! projection is PROJ's own — imported with `atlas import --mapping`, and found again to within
//! a centimetre. Reprojection is checked point by point against PROJ (`gdaltransform`) in the
//! zones a Chinese bureau uses; bad Shapefiles and mappings are refused with the file and the
//! field named, the store left as it was.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message

mod common;

use compound_atlas::io::crs::Crs;
use compound_atlas::io::manifest::Manifest;
use compound_atlas::model::Dataset;
use geo::CoordsIter;
use std::path::{Path, PathBuf};
use std::process::Command;

fn read_city(dir: &Path) -> Dataset {
    let m = Manifest::read(dir).unwrap();
    compound_atlas::io::dataset::read(dir, &m).unwrap()
}

/// `ogr2ogr` a layer of the generated city into a Shapefile with GDAL's own reprojection.
fn to_shapefile(src: &Path, out: &Path, srs: &str, encoding: &str, sql: &str) {
    let o = Command::new("ogr2ogr")
        .args(["-f", "ESRI Shapefile", "-t_srs", srs])
        .args(["-lco", &format!("ENCODING={encoding}")])
        .arg(out)
        .arg(src)
        .args(["-sql", sql])
        .output()
        .expect("ogr2ogr (gdal-bin, installed by scripts/test)");
    assert!(
        o.status.success(),
        "ogr2ogr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn import(args: &[&str]) -> (bool, String, String) {
    let o = common::atlas()
        .arg("import")
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

/// Metres between two longitude/latitude positions this close together.
fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
    let dy = (a.1 - b.1) * 111_320.0;
    let dx = (a.0 - b.0) * 111_320.0 * a.1.to_radians().cos();
    dx.hypot(dy)
}

/// Our inverse projection against PROJ's forward one, in every kind of zone a bureau's file
/// may be in: CGCS2000 3° Gauss–Krüger with and without the zone prefix, 6° zones, UTM on
/// WGS 84, Web Mercator. Under a centimetre everywhere over the city.
#[test]
fn reprojection_agrees_with_proj_to_under_a_centimetre() {
    let mut points = Vec::new();
    for i in 0..12 {
        for j in 0..8 {
            points.push((119.6 + f64::from(i) * 0.13, 35.6 + f64::from(j) * 0.19));
        }
    }
    let input: String = points.iter().map(|(x, y)| format!("{x} {y}\n")).collect();
    for code in [4528, 4549, 4490, 4498, 4502, 32650, 32651, 3857, 4548, 4550] {
        let mut child = Command::new("gdaltransform")
            .args(["-s_srs", "EPSG:4326", "-t_srs", &format!("EPSG:{code}")])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("gdaltransform (gdal-bin, installed by scripts/test)");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let crs = Crs::from_epsg(code).unwrap();
        let mut worst: f64 = 0.0;
        for (line, &(lon, lat)) in text.lines().zip(&points) {
            let v: Vec<f64> = line
                .split_whitespace()
                .map(|t| t.parse().unwrap())
                .collect();
            let back = crs
                .coord(geo_types::Coord { x: v[0], y: v[1] })
                .unwrap_or_else(|e| panic!("EPSG:{code}: {e}"));
            worst = worst.max(metres((lon, lat), (back.x, back.y)));
        }
        assert_eq!(text.lines().count(), points.len(), "EPSG:{code}");
        assert!(
            worst < 0.01,
            "EPSG:{code}: {worst:.4} m from PROJ's position"
        );
    }
}

/// Shapefiles in EPSG:4549 (and 4528, with the zone prefix) with GBK tables, Chinese and
/// pinyin field names and a mapping: imported, then found again vertex for vertex.
#[test]
fn a_bureaus_shapefiles_in_a_gauss_kruger_zone_import_with_a_mapping() {
    let city = common::city(0.02, 23);
    let original = read_city(&city);
    let work = tempfile::tempdir().unwrap();
    let xq = work.path().join("xiaoqu.shp");
    to_shapefile(
        &city.join("compounds.fgb"),
        &xq,
        "EPSG:4549",
        "GBK",
        "SELECT id AS XQBM, name AS \"小区名称\", aliases AS BM, district_code AS QXDM, \
         street_code AS JDDM, company_id AS WYGS, year_built AS JCNF, households AS HS \
         FROM compounds",
    );
    let ld = work.path().join("loudong.shp");
    to_shapefile(
        &city.join("buildings.fgb"),
        &ld,
        "EPSG:4528",
        "GBK",
        "SELECT id AS LDBM, compound_id AS SSXQ, name AS LDH, floors AS CS, households AS HS \
         FROM buildings",
    );
    // The units as a GeoPackage in the same zone.
    let dy = work.path().join("danyuan.gpkg");
    let o = Command::new("ogr2ogr")
        .args(["-f", "GPKG", "-t_srs", "EPSG:4549", "-nln", "danyuan"])
        .arg(&dy)
        .arg(city.join("units.fgb"))
        .args([
            "-sql",
            "SELECT id AS DYBM, building_id AS SSLD, name AS DYH, households AS HS FROM units",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in ["xiaoqu.cpg", "xiaoqu.prj", "xiaoqu.shx", "xiaoqu.dbf"] {
        assert!(work.path().join(f).exists(), "ogr2ogr wrote no {f}");
    }
    let mapping = work.path().join("housing.toml");
    std::fs::write(
        &mapping,
        "[compounds]\nid = \"XQBM\"\nname = \"小区名称\"\naliases = \"BM\"\ndistrict_code = \"QXDM\"\n\
         street_code = \"JDDM\"\ncompany_id = \"WYGS\"\nyear_built = \"JCNF\"\nhouseholds = \"HS\"\n\
         [buildings]\nid = \"LDBM\"\ncompound_id = \"SSXQ\"\nname = \"LDH\"\nfloors = \"CS\"\nhouseholds = \"HS\"\n\
         [units]\nid = \"DYBM\"\nbuilding_id = \"SSLD\"\nname = \"DYH\"\nhouseholds = \"HS\"\n",
    )
    .unwrap();
    // Into a copy of the city's store: every record is upserted by its key.
    let store = common::copy_dir(&city);
    for (file, layer) in [(&xq, "compounds"), (&ld, "buildings"), (&dy, "units")] {
        let (ok, out, err) = import(&[
            file.to_str().unwrap(),
            "--layer",
            layer,
            "--mapping",
            mapping.to_str().unwrap(),
            "--data",
            store.to_str().unwrap(),
        ]);
        assert!(ok, "{}: {err}", file.display());
        let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(
            report["read"][layer].as_u64().unwrap() as usize,
            match layer {
                "compounds" => original.compounds.len(),
                "buildings" => original.buildings.len(),
                _ => original.units.len(),
            },
            "{report}"
        );
    }
    let back = read_city(&store);
    assert_eq!(back.compounds.len(), original.compounds.len());
    let mut worst: f64 = 0.0;
    for c in &original.compounds {
        let b = back.compounds.iter().find(|b| b.id == c.id).unwrap();
        assert_eq!(
            (&b.name, &b.aliases, &b.district_code, &b.street_code),
            (&c.name, &c.aliases, &c.district_code, &c.street_code),
            "GBK text and codes survive"
        );
        assert_eq!(
            (b.households, b.year_built, b.company_id),
            (c.households, c.year_built, c.company_id)
        );
        let (p, q): (Vec<_>, Vec<_>) = (
            c.geom.coords_iter().collect(),
            b.geom.coords_iter().collect(),
        );
        assert_eq!(p.len(), q.len(), "compound {}: vertices", c.id);
        // Rings may start elsewhere after re-winding: compare each vertex with the nearest.
        for a in &p {
            let d = q
                .iter()
                .map(|z| metres((a.x, a.y), (z.x, z.y)))
                .fold(f64::INFINITY, f64::min);
            worst = worst.max(d);
        }
    }
    assert!(worst < 0.01, "a compound vertex moved {worst:.4} m");
    let mut worst: f64 = 0.0;
    for b in &original.buildings {
        let n = back.buildings.iter().find(|x| x.id == b.id).unwrap();
        assert_eq!(
            (&n.name, n.compound_id, n.floors),
            (&b.name, b.compound_id, b.floors)
        );
        for a in b.geom.coords_iter() {
            let d = n
                .geom
                .coords_iter()
                .map(|z| metres((a.x, a.y), (z.x, z.y)))
                .fold(f64::INFINITY, f64::min);
            worst = worst.max(d);
        }
    }
    assert!(
        worst < 0.01,
        "a building vertex moved {worst:.4} m (zone prefix)"
    );
    let mut worst: f64 = 0.0;
    for u in &original.units {
        let n = back.units.iter().find(|x| x.id == u.id).unwrap();
        assert_eq!(
            (&n.name, n.building_id, n.households),
            (&u.name, u.building_id, u.households)
        );
        worst = worst.max(metres((u.geom.x(), u.geom.y()), (n.geom.x(), n.geom.y())));
    }
    assert!(worst < 0.01, "a unit moved {worst:.4} m (GeoPackage)");
}

/// Every bad Shapefile or mapping: the file and the field named, the store byte for byte as it
/// was.
#[test]
fn bad_shapefiles_and_mappings_are_named_and_change_nothing() {
    let city = common::city(0.02, 23);
    let work = tempfile::tempdir().unwrap();
    let make = |name: &str| -> PathBuf {
        let p = work.path().join(format!("{name}.shp"));
        to_shapefile(
            &city.join("compounds.fgb"),
            &p,
            "EPSG:4549",
            "UTF-8",
            // A .dbf's field names have at most 10 bytes: the codes get short names.
            "SELECT id, name AS XQMC, aliases, district_code AS QXDM, street_code AS JDDM, \
             company_id, year_built, households FROM compounds",
        );
        p
    };
    let mapping = work.path().join("m.toml");
    let base = "[compounds]\ndistrict_code = \"QXDM\"\nstreet_code = \"JDDM\"\n";
    std::fs::write(&mapping, format!("{base}name = \"XQMC\"\n")).unwrap();
    let wrong = work.path().join("wrong.toml");
    std::fs::write(&wrong, format!("{base}name = \"小区名称\"\n")).unwrap();
    let typed = work.path().join("typed.toml");
    std::fs::write(
        &typed,
        format!("{base}name = \"XQMC\"\nhouseholds = \"XQMC\"\n"),
    )
    .unwrap();

    let no_shx = make("no_shx");
    std::fs::remove_file(no_shx.with_extension("shx")).unwrap();
    let no_dbf = make("no_dbf");
    std::fs::remove_file(no_dbf.with_extension("dbf")).unwrap();
    let bad_prj = make("bad_prj");
    std::fs::write(bad_prj.with_extension("prj"), "PROJCS[\"broken\",GEOGCS[").unwrap();
    let no_prj = make("no_prj");
    std::fs::remove_file(no_prj.with_extension("prj")).unwrap();
    let fine = make("fine");

    let store = common::copy_dir(&city);
    let snapshot = |dir: &Path| -> Vec<(String, Vec<u8>)> {
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
    };
    let before = snapshot(&store);
    let cases: Vec<(&Path, &Path, &[&str], &[&str])> = vec![
        (&no_shx, &mapping, &[], &["no_shx.shp", ".shx", "missing"]),
        (&no_dbf, &mapping, &[], &["no_dbf.shp", ".dbf", "missing"]),
        (&bad_prj, &mapping, &[], &["bad_prj.prj", "--crs"]),
        (&no_prj, &mapping, &[], &["no_prj.shp", "no .prj", "--crs"]),
        (
            &fine,
            &wrong,
            &[],
            &["fine.shp", "field `小区名称`", "does not have"],
        ),
        (
            &fine,
            &typed,
            &[],
            &[
                "fine.shp",
                "feature 1",
                "field `households`",
                "expected an integer",
            ],
        ),
        (
            &fine,
            &mapping,
            &["--crs", "EPSG:99999"],
            &["EPSG:99999", "not a CRS"],
        ),
        (&fine, &mapping, &["--crs", "GK40"], &["GK40", "EPSG:4549"]),
    ];
    for (file, map, extra, expect) in cases {
        let mut args = vec![
            file.to_str().unwrap(),
            "--layer",
            "compounds",
            "--mapping",
            map.to_str().unwrap(),
            "--data",
            store.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let (ok, _, err) = import(&args);
        assert!(!ok, "{}: import succeeded", file.display());
        for e in expect {
            assert!(err.contains(e), "{}: `{e}` not in: {err}", file.display());
        }
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(
            snapshot(&store),
            before,
            "{}: the store changed",
            file.display()
        );
    }
    // A mapping that names no layer we have, or a field we do not have.
    let bad = work.path().join("bad.toml");
    std::fs::write(&bad, "[compounds]\nhouseholdz = \"HS\"\n").unwrap();
    let (ok, _, err) = import(&[
        fine.to_str().unwrap(),
        "--layer",
        "compounds",
        "--mapping",
        bad.to_str().unwrap(),
        "--data",
        store.to_str().unwrap(),
    ]);
    assert!(
        !ok && err.contains("bad.toml") && err.contains("householdz"),
        "{err}"
    );
    // --crs over a missing .prj makes the same file import.
    let (ok, _, err) = import(&[
        no_prj.to_str().unwrap(),
        "--layer",
        "compounds",
        "--crs",
        "EPSG:4549",
        "--mapping",
        mapping.to_str().unwrap(),
        "--data",
        store.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
}
