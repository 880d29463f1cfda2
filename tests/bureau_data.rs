//! A city's own data as a bureau has it: a housing database exported as Shapefiles (GBK
//! attribute tables with `.cpg` and `.prj`) in CGCS2000 Gauss–Krüger zones, with its own field
//! names and a mapping file — made here from a generated city by GDAL's `ogr2ogr`, so that the
//! projection is PROJ's own — imported with `atlas import --mapping`, and found again to within
//! a centimetre. Reprojection is checked point by point against PROJ (`gdaltransform`) in the
//! zones a Chinese bureau uses; bad Shapefiles and mappings are refused with the file and the
//! field named, the store left as it was. And a city that is not Qingdao, end to end.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the exact values it expects and takes the defaults its calls need

mod common;

use compound_atlas::io::crs::Crs;
use compound_atlas::io::manifest::Manifest;
use compound_atlas::model::Dataset;
use geo::CoordsIter;
use std::fmt::Write as _;
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
    let input: String = points.iter().fold(String::new(), |mut s, (x, y)| {
        let _ = writeln!(s, "{x} {y}");
        s
    });
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
    // `--inspect` proposes the mapping from the files' own field names; saved as it is, it is
    // the mapping the import uses.
    let mut proposed = String::new();
    for (file, layer) in [(&xq, "compounds"), (&ld, "buildings"), (&dy, "units")] {
        let o = common::atlas()
            .args(["import", "--inspect", "--layer", layer])
            .arg(file)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let text = String::from_utf8(o.stdout).unwrap();
        let count = match layer {
            "compounds" => original.compounds.len(),
            "buildings" => original.buildings.len(),
            _ => original.units.len(),
        };
        assert!(text.contains(&format!("features: {count} (")), "{text}");
        assert!(text.contains("reprojected to longitude/latitude"), "{text}");
        let west: f64 = text
            .split("extent (lon/lat): ")
            .nth(1)
            .and_then(|t| t.split(',').next())
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("no extent: {text}"));
        assert!((119.0..121.0).contains(&west), "{text}");
        assert!(!text.contains("# not found"), "{text}");
        let at = text.find(&format!("[{layer}]")).unwrap();
        proposed.push_str(&text[at..]);
    }
    for line in [
        "id = \"XQBM\"",
        "name = \"小区名称\"",
        "households = \"HS\"",
        "compound_id = \"SSXQ\"",
        "building_id = \"SSLD\"",
    ] {
        assert!(
            proposed.contains(line),
            "`{line}` not proposed:\n{proposed}"
        );
    }
    std::fs::write(&mapping, &proposed).unwrap();
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
    let before = common::snapshot(&store);
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
            common::snapshot(&store),
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

fn json_of(body: &str) -> serde_json::Value {
    let (a, b) = (body.find('{').unwrap(), body.rfind('}').unwrap());
    serde_json::from_str(&body[a..=b]).unwrap()
}

/// Another city, end to end: the demo city moved 3° west (towards Jinan), its every layer a
/// Shapefile in CGCS2000 3° Gauss–Krüger CM 117°E (EPSG:4548) with the truncated field names a
/// `.dbf` gives and Chinese names, an export whose coordinates are there — then the walk-through
/// of docs/import.md run as written (its mapping and configuration files, its commands):
/// imported into an empty store, graded, served with `[city] name = "济南市"`: every complaint accepted,
/// the tiles, TileJSON, the map page's centre and every title follow the data and the setting,
/// and nothing says Qingdao.
#[test]
fn the_walk_through_of_docs_import_md_runs_as_written() {
    use geo::MapCoordsInPlace;
    const WEST: f64 = 3.0;
    let city = common::city(0.02, 29);
    let mut data = read_city(&city);
    let shift = |c: geo_types::Coord<f64>| geo_types::Coord {
        x: c.x - WEST,
        y: c.y,
    };
    data.districts
        .iter_mut()
        .for_each(|d| d.geom.map_coords_in_place(shift));
    data.streets
        .iter_mut()
        .for_each(|d| d.geom.map_coords_in_place(shift));
    data.compounds
        .iter_mut()
        .for_each(|d| d.geom.map_coords_in_place(shift));
    data.buildings
        .iter_mut()
        .for_each(|d| d.geom.map_coords_in_place(shift));
    data.units
        .iter_mut()
        .for_each(|d| d.geom.map_coords_in_place(shift));
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    use compound_atlas::io::fgb::write_layer;
    write_layer(&src.join("districts.fgb"), &data.districts).unwrap();
    write_layer(&src.join("streets.fgb"), &data.streets).unwrap();
    write_layer(&src.join("compounds.fgb"), &data.compounds).unwrap();
    write_layer(&src.join("buildings.fgb"), &data.buildings).unwrap();
    write_layer(&src.join("units.fgb"), &data.units).unwrap();
    let shp = work.path().join("shp");
    std::fs::create_dir_all(&shp).unwrap();
    for layer in ["districts", "streets", "buildings", "units"] {
        to_shapefile(
            &src.join(format!("{layer}.fgb")),
            &shp.join(format!("{layer}.shp")),
            "EPSG:4548",
            "GBK",
            &format!("SELECT * FROM {layer}"),
        );
    }
    to_shapefile(
        &src.join("compounds.fgb"),
        &shp.join("compounds.shp"),
        "EPSG:4548",
        "GBK",
        "SELECT id AS \"编号\", name AS \"小区名称\", aliases AS \"别名\", \
         district_code AS \"区县代码\", street_code AS \"街道代码\", company_id AS \"物业企业\", \
         year_built AS \"建成年份\", households AS \"户数\" FROM compounds",
    );
    std::fs::copy(city.join("companies.csv"), shp.join("companies.csv")).unwrap();
    // The export, its coordinates moved with the city.
    let export = work.path().join("hotline.csv");
    {
        let mut r = csv::Reader::from_path(city.join("complaints.csv")).unwrap();
        let headers = r.headers().unwrap().clone();
        let lon = headers.iter().position(|h| h == "经度").unwrap();
        let mut w = csv::Writer::from_path(&export).unwrap();
        w.write_record(&headers).unwrap();
        for rec in r.records() {
            let rec = rec.unwrap();
            let row: Vec<String> = rec
                .iter()
                .enumerate()
                .map(|(i, v)| match (i == lon, v.parse::<f64>()) {
                    (true, Ok(x)) => format!("{:.6}", x - WEST),
                    _ => v.to_string(),
                })
                .collect();
            w.write_record(&row).unwrap();
        }
        w.flush().unwrap();
    }
    // docs/import.md's walk-through, as written: its files, then its commands.
    let (mut child, url) = walk_through(work.path());
    let (s, body) = common::http_get(&format!("{url}/tiles/atlas.json"));
    assert_eq!(s, 200, "{body}");
    let tj = json_of(&body);
    let b: Vec<f64> = tj["bounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let moved = data.extent().unwrap();
    for (got, want) in b.iter().zip(moved) {
        assert!(
            (got - want).abs() < 1e-6,
            "TileJSON bounds {b:?}, the data's {moved:?}"
        );
    }
    let (cx, cy) = (
        tj["center"][0].as_f64().unwrap(),
        tj["center"][1].as_f64().unwrap(),
    );
    assert!(
        cx > b[0] && cx < b[2] && cy > b[1] && cy < b[3],
        "centre {cx},{cy} outside {b:?}"
    );
    let (_, meta) = common::http_get(&format!("{url}/api/meta"));
    let meta = json_of(&meta);
    assert_eq!(
        meta["center"][0].as_f64().unwrap(),
        cx,
        "the map page starts at the centre"
    );
    assert_eq!(meta["city"], "济南市");
    // A tile at the centre holds the moved compounds, graded.
    let (z, x, y) = common::tile_at(cx, cy, 13);
    let (s, _) = common::http_get(&format!("{url}/tiles/atlas/{z}/{x}/{y}.mvt"));
    assert!(s == 200, "the tile at the centre: {s}");
    let (_, nearby) = common::http_get(&format!(
        "{url}/api/compounds/nearby?lon={cx}&lat={cy}&radius_m=5000&limit=3"
    ));
    let nearby = json_of(&nearby);
    assert!(
        !nearby["features"].as_array().unwrap().is_empty(),
        "no compound near the centre: {nearby}"
    );
    for path in [
        "/tiles/atlas.json",
        "/tiles",
        "/ogc",
        "/ogc/collections/atlas",
        "/openapi.json",
        "/wmts/1.0.0/WMTSCapabilities.xml",
    ] {
        let (s, body) = common::http_get(&format!("{url}{path}"));
        assert_eq!(s, 200, "{path}");
        assert!(
            !body.contains("Qingdao") && !body.contains("青岛"),
            "{path} names Qingdao"
        );
        assert!(
            body.contains("济南市"),
            "{path} does not name the city: {}",
            &body[..body.len().min(400)]
        );
    }
    child.kill().unwrap();
    let _ = child.wait();
}

/// The walk-through of docs/import.md, between its markers: each ```toml block whose first line
/// is `# NAME` written to NAME in `dir`, each `atlas …` line of its ```sh blocks run (paths
/// taken in `dir`), and the server its last command starts, with its URL.
fn walk_through(dir: &Path) -> (std::process::Child, String) {
    let doc = include_str!("../docs/import.md");
    let start = doc
        .find("<!-- walk-through:")
        .expect("docs/import.md has its walk-through");
    let end = doc[start..]
        .find("<!-- end of the walk-through -->")
        .unwrap()
        + start;
    let mut blocks = Vec::new();
    let mut rest = &doc[start..end];
    while let Some(open) = rest.find("```") {
        let after = &rest[open + 3..];
        let (kind, body) = after.split_once('\n').unwrap();
        let close = body.find("```").unwrap();
        blocks.push((kind.trim().to_string(), body[..close].to_string()));
        rest = &body[close + 3..];
    }
    let mut commands = Vec::new();
    for (kind, body) in &blocks {
        match kind.as_str() {
            "toml" => {
                let name = body.lines().next().unwrap().trim_start_matches('#').trim();
                std::fs::write(dir.join(name), body).unwrap();
            }
            "sh" => commands.extend(
                body.lines()
                    .filter(|l| l.starts_with("atlas "))
                    .map(str::to_string),
            ),
            other => panic!("a ```{other} block in the walk-through"),
        }
    }
    assert!(commands.len() >= 5, "{commands:?}");
    let mut served = None;
    for line in &commands {
        let words: Vec<&str> = line.split_whitespace().skip(1).collect();
        let mut args: Vec<String> = Vec::new();
        for (k, w) in words.iter().enumerate() {
            let local = dir.join(w);
            let path =
                !w.starts_with('-') && (local.exists() || (k > 0 && words[k - 1] == "--data"));
            args.push(if path {
                local.to_string_lossy().to_string()
            } else {
                (*w).to_string()
            });
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        if args[0] == "serve" {
            served = Some(common::serve(&args[1..]));
            continue;
        }
        let o = common::atlas()
            .args(&args)
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        if line.contains("hotline") {
            let report = json_of(&out);
            assert_eq!(
                report["rejected"].as_array().map_or(0, Vec::len),
                0,
                "complaints refused: {}",
                &out[..out.len().min(800)]
            );
            assert!(report["loaded"].as_u64().unwrap() > 100, "{report}");
        }
        if line.contains("--inspect") {
            assert!(
                out.contains("小区名称") && out.contains("CGCS2000_3_Degree_GK_CM_117E"),
                "{out}"
            );
        }
    }
    served.expect("the walk-through ends by serving the city")
}

/// A hotline export as an Excel workbook with the hotline's own headers, date forms and
/// category tree: read through the mapping's `[complaints]` (headers, a category table, the
/// last part of a category path, keyword rules for rows that say only 物业管理), each rule's
/// hits in the report; an unknown category and an unreadable date refused by line and field;
/// a workbook without a ticket column, and a mapping naming a header the export lacks, refused
/// whole with the store as it was.
#[test]
fn a_hotline_workbook_with_its_own_headers_and_categories_imports() {
    let city = common::city(0.02, 23);
    let data = read_city(&city);
    let names: Vec<&str> = data
        .compounds
        .iter()
        .take(4)
        .map(|c| c.name.as_str())
        .collect();
    let work = tempfile::tempdir().unwrap();
    let csv = work.path().join("export.csv");
    let rows = [
        (
            "RX-1",
            "2023年5月1日 10时",
            "城乡建设-物业管理-消防通道",
            names[0],
            "楼下消防通道被占",
        ),
        (
            "RX-2",
            "2023/5/2 9:30",
            "城乡建设-物业管理-飞线充电",
            names[1],
            "电动车充电",
        ),
        (
            "RX-3",
            "2023-05-03 08:00:00",
            "物业管理",
            names[2],
            "楼道里有人飞线给电瓶车充电",
        ),
        (
            "RX-4",
            "2023年05月04日14时30分",
            "城乡建设-物业管理-楼道杂物",
            names[3],
            "楼道堆物",
        ),
        (
            "RX-5",
            "2023-05-05 08:00:00",
            "物业管理-噪音",
            names[0],
            "装修噪音",
        ),
        (
            "RX-6",
            "去年五月",
            "城乡建设-物业管理-消防通道",
            names[1],
            "通道",
        ),
    ];
    let mut text = String::from("工单号,来电时间,问题分类,事发地址,诉求描述\n");
    for (t, at, cat, addr, body) in rows {
        let _ = writeln!(text, "{t},{at},{cat},{addr}1号楼,{body}");
    }
    std::fs::write(&csv, text).unwrap();
    let xlsx = work.path().join("hotline.xlsx");
    let o = Command::new("ogr2ogr")
        .args(["-f", "XLSX"])
        .arg(&xlsx)
        .arg(&csv)
        .output()
        .expect("ogr2ogr");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mapping = work.path().join("hotline.toml");
    std::fs::write(
        &mapping,
        "[complaints]\nticket_id = \"工单号\"\nreceived_at = \"来电时间\"\ncategory = \"问题分类\"\n\
         address = \"事发地址\"\ncontent = \"诉求描述\"\n\
         [complaints.categories]\n\"城乡建设-物业管理-消防通道\" = \"fire_lane\"\n\
         [[complaints.rules]]\nwhen = \"物业管理\"\nkeywords = [\"飞线\", \"充电\"]\ncategory = \"flying_wire\"\n",
    )
    .unwrap();
    let store = common::copy_dir(&city);
    let d = store.to_str().unwrap();
    let (ok, out, err) = import(&[
        xlsx.to_str().unwrap(),
        "--mapping",
        mapping.to_str().unwrap(),
        "--data",
        d,
    ]);
    assert!(ok, "{err}");
    let report: serde_json::Value = {
        let (a, b) = (out.find('{').unwrap(), out.rfind('}').unwrap());
        serde_json::from_str(&out[a..=b]).unwrap()
    };
    assert_eq!(report["rows"], 6, "{report}");
    assert_eq!(report["loaded"], 4, "{report}");
    let rejected: Vec<(u64, &str)> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["field"].as_str().unwrap()))
        .collect();
    // Sheet rows: the header is row 1, RX-5 row 6, RX-6 row 7.
    assert_eq!(
        rejected,
        vec![(6, "category"), (7, "received_at")],
        "{report}"
    );
    let mapped = &report["categories_mapped"];
    assert_eq!(mapped["category table"], 1, "{report}");
    assert_eq!(mapped["category path"], 2, "{report}");
    assert_eq!(mapped["rule 飞线/充电 -> flying_wire"], 1, "{report}");

    // Refused whole: a workbook with no ticket column, a mapping naming a header not there.
    let before = common::snapshot(&store);
    let other = work.path().join("other.xlsx");
    let o = Command::new("ogr2ogr")
        .args(["-f", "XLSX"])
        .arg(&other)
        .arg(city.join("companies.csv"))
        .output()
        .unwrap();
    assert!(o.status.success());
    let (ok, _, err) = import(&[other.to_str().unwrap(), "--data", d]);
    assert!(
        !ok && err.contains("other.xlsx") && err.contains("no header row with a ticket column"),
        "{err}"
    );
    let wrong = work.path().join("wrong.toml");
    std::fs::write(
        &wrong,
        "[complaints]\nticket_id = \"工单号\"\naddress = \"详细地址\"\n",
    )
    .unwrap();
    let (ok, _, err) = import(&[
        xlsx.to_str().unwrap(),
        "--mapping",
        wrong.to_str().unwrap(),
        "--data",
        d,
    ]);
    assert!(
        !ok && err.contains("hotline.xlsx") && err.contains("详细地址"),
        "{err}"
    );
    let bad = work.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[complaints]\nticket_id = \"工单号\"\n[complaints.categories]\n\"消防\" = \"fire\"\n",
    )
    .unwrap();
    let (ok, _, err) = import(&[
        xlsx.to_str().unwrap(),
        "--mapping",
        bad.to_str().unwrap(),
        "--data",
        d,
    ]);
    assert!(
        !ok && err.contains("bad.toml") && err.contains("`fire` is not one of our categories"),
        "{err}"
    );
    assert_eq!(
        common::snapshot(&store),
        before,
        "a refused export changed the store"
    );
}

/// What identifies a compound or building of the generated city when the source gives no id.
fn compound_key(c: &compound_atlas::model::Compound) -> (String, i32, i32, i64) {
    (c.name.clone(), c.households, c.year_built, c.company_id)
}

/// The nearest of `items` to `p` by `at`, and how far it is in metres.
fn nearest<T>(items: &[T], p: (f64, f64), at: impl Fn(&T) -> (f64, f64)) -> (&T, f64) {
    items
        .iter()
        .map(|t| (t, metres(p, at(t))))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap()
}

fn first_vertex(b: &compound_atlas::model::Building) -> (f64, f64) {
    let c = b.geom.exterior().0[0];
    (c.x, c.y)
}

/// A housing database that carries no ids and no links — compounds without street or district
/// codes, buildings without their compound, unit points (a CSV of x/y) without their building —
/// gets every link from where things are, the same links the generator drew, and ids that are
/// the same when the same files are imported again (nothing changes the second time). Units
/// given in GCJ-02 (`--datum gcj02`, a WKT column) land back where they are.
#[test]
fn links_and_ids_a_source_leaves_out_are_derived_from_where_things_are() {
    let city = common::city(0.02, 29);
    let original = read_city(&city);
    let work = tempfile::tempdir().unwrap();
    let xq = work.path().join("xiaoqu.shp");
    to_shapefile(
        &city.join("compounds.fgb"),
        &xq,
        "EPSG:4549",
        "GBK",
        "SELECT name AS XQMC, company_id AS WYGS, year_built AS JCNF, households AS HS FROM compounds",
    );
    let ld = work.path().join("loudong.shp");
    to_shapefile(
        &city.join("buildings.fgb"),
        &ld,
        "EPSG:4549",
        "GBK",
        "SELECT name AS LDH, floors AS CS, households AS HS FROM buildings",
    );
    let dy = work.path().join("danyuan.csv");
    let o = Command::new("ogr2ogr")
        .args(["-f", "CSV", "-lco", "GEOMETRY=AS_XY"])
        .arg(&dy)
        .arg(city.join("units.fgb"))
        .args(["-sql", "SELECT name AS DYH, households AS HS FROM units"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mapping = work.path().join("housing.toml");
    std::fs::write(
        &mapping,
        "[compounds]\nname = \"XQMC\"\ncompany_id = \"WYGS\"\nyear_built = \"JCNF\"\nhouseholds = \"HS\"\n\
         [buildings]\nname = \"LDH\"\nfloors = \"CS\"\nhouseholds = \"HS\"\n\
         [units]\nname = \"DYH\"\nhouseholds = \"HS\"\n",
    )
    .unwrap();
    let store = work.path().join("store");
    let s = store.to_str().unwrap();
    let (ok, _, err) = import(&[
        city.join("districts.fgb").to_str().unwrap(),
        city.join("streets.fgb").to_str().unwrap(),
        city.join("companies.csv").to_str().unwrap(),
        "--data",
        s,
    ]);
    assert!(ok, "{err}");
    let housing = [
        xq.to_str().unwrap(),
        "--layer",
        "compounds",
        ld.to_str().unwrap(),
        dy.to_str().unwrap(),
    ];
    let run = |files: &[&str]| {
        let mut args = files.to_vec();
        args.extend(["--mapping", mapping.to_str().unwrap(), "--data", s]);
        let (ok, out, err) = import(&args);
        assert!(ok, "{files:?}: {err}");
        serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()
    };
    // One import per file, the layer named for the first (its name says no layer).
    let mut reports = vec![run(&housing[..3])];
    reports.push(run(&[housing[3], "--layer", "buildings"]));
    // The store before any unit, for the GCJ-02 units below.
    let no_units = common::copy_dir(&store);
    reports.push(run(&[housing[4], "--layer", "units"]));
    let links = |k: usize| &reports[k]["links"];
    assert_eq!(
        links(0)["generated_ids"]["compounds"].as_u64(),
        Some(original.compounds.len() as u64),
        "{}",
        reports[0]
    );
    let derived = |k: usize, field: &str| -> u64 {
        links(k)["derived"][field].as_object().map_or(0, |m| {
            m.values().filter_map(serde_json::Value::as_u64).sum()
        })
    };
    assert_eq!(
        derived(0, "compounds.street_code"),
        original.compounds.len() as u64
    );
    assert_eq!(
        derived(0, "compounds.district_code"),
        original.compounds.len() as u64
    );
    assert_eq!(
        derived(1, "buildings.compound_id"),
        original.buildings.len() as u64
    );
    assert_eq!(derived(2, "units.building_id"), original.units.len() as u64);

    let back = read_city(&store);
    assert_eq!(back.compounds.len(), original.compounds.len());
    // Compounds: the street and district the generator gave them.
    let by_key: std::collections::HashMap<_, _> = back
        .compounds
        .iter()
        .map(|c| (compound_key(c), c))
        .collect();
    let by_id: std::collections::HashMap<i64, _> =
        back.compounds.iter().map(|c| (c.id, c)).collect();
    let mut checked = 0;
    for c in &original.compounds {
        let Some(n) = by_key.get(&compound_key(c)) else {
            continue;
        };
        assert_eq!(
            (&n.street_code, &n.district_code),
            (&c.street_code, &c.district_code),
            "compound {}",
            c.name
        );
        assert!((1 << 40..1 << 53).contains(&n.id), "generated id {}", n.id);
        checked += 1;
    }
    assert!(
        checked * 10 >= original.compounds.len() * 9,
        "{checked} compounds told apart"
    );
    // Buildings: in the compound the generator put them in; units: in their building.
    let old_compound: std::collections::HashMap<i64, _> =
        original.compounds.iter().map(|c| (c.id, c)).collect();
    for b in &original.buildings {
        let (n, d) = nearest(&back.buildings, first_vertex(b), first_vertex);
        assert!(d < 0.01, "building {} not found ({d} m)", b.id);
        assert_eq!(
            compound_key(by_id[&n.compound_id]),
            compound_key(old_compound[&b.compound_id]),
            "building {} ({}) in another compound",
            b.id,
            b.name
        );
    }
    let old_building: std::collections::HashMap<i64, _> =
        original.buildings.iter().map(|b| (b.id, b)).collect();
    let new_building: std::collections::HashMap<i64, _> =
        back.buildings.iter().map(|b| (b.id, b)).collect();
    for u in &original.units {
        let (n, d) = nearest(&back.units, (u.geom.x(), u.geom.y()), |x| {
            (x.geom.x(), x.geom.y())
        });
        assert!(d < 0.01, "unit {} not found ({d} m)", u.id);
        let there = metres(
            first_vertex(new_building[&n.building_id]),
            first_vertex(old_building[&u.building_id]),
        );
        assert!(
            there < 0.01,
            "unit {} ({}) in another building",
            u.id,
            u.name
        );
    }

    // The same files again: the same ids, so nothing changes.
    let again = [
        run(&housing[..3]),
        run(&[housing[3], "--layer", "buildings"]),
        run(&[housing[4], "--layer", "units"]),
    ];
    for r in &again {
        let changed: u64 = r["changed"]
            .as_object()
            .unwrap()
            .values()
            .filter_map(serde_json::Value::as_u64)
            .sum();
        assert_eq!(changed, 0, "a second import changed records: {r}");
    }
    assert_eq!(read_city(&store).units.len(), original.units.len());

    // Units as AMap gives them: GCJ-02, in a WKT column; shifted back on import.
    let gcj = work.path().join("units_amap.csv");
    let mut text = String::from("名称,户数,WKT\n");
    for u in original.units.iter().take(50) {
        let (x, y) = compound_atlas::tile::datum::wgs84_to_gcj02(u.geom.x(), u.geom.y());
        let _ = writeln!(text, "{},{},POINT ({x:.9} {y:.9})", u.name, u.households);
    }
    std::fs::write(&gcj, text).unwrap();
    std::fs::write(
        &mapping,
        "[units]\nname = \"名称\"\nhouseholds = \"户数\"\n",
    )
    .unwrap();
    let amap = common::copy_dir(&no_units);
    let (ok, _, err) = import(&[
        gcj.to_str().unwrap(),
        "--datum",
        "gcj02",
        "--mapping",
        mapping.to_str().unwrap(),
        "--data",
        amap.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let added = |dir: &Path| read_city(dir).units;
    let shifted = added(&amap);
    assert_eq!(shifted.len(), 50);
    for u in original.units.iter().take(50) {
        let (_, d) = nearest(&shifted, (u.geom.x(), u.geom.y()), |x| {
            (x.geom.x(), x.geom.y())
        });
        assert!(d < 0.01, "a GCJ-02 unit landed {d} m away");
    }
    // The same rows read as WGS84: hundreds of metres off (the shift is real).
    let wrong = common::copy_dir(&no_units);
    let (ok, _, err) = import(&[
        gcj.to_str().unwrap(),
        "--mapping",
        mapping.to_str().unwrap(),
        "--unit-distance",
        "1000",
        "--data",
        wrong.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let u = &original.units[0];
    let (_, d) = nearest(&added(&wrong), (u.geom.x(), u.geom.y()), |x| {
        (x.geom.x(), x.geom.y())
    });
    assert!(d > 100.0, "without --datum the unit is {d} m off");
    for dir in [amap, wrong, no_units] {
        std::fs::remove_dir_all(dir).ok();
    }

    // A unit no building contains or neighbours: named by file, line and field; nothing lands.
    let far = work.path().join("units_far.csv");
    let u = &original.units[0];
    std::fs::write(
        &far,
        format!(
            "DYH,HS,x,y\n1单元,12,{},{}\n2单元,12,{},{}\n",
            u.geom.x(),
            u.geom.y(),
            u.geom.x() + 0.02,
            u.geom.y()
        ),
    )
    .unwrap();
    std::fs::write(&mapping, "[units]\nname = \"DYH\"\nhouseholds = \"HS\"\n").unwrap();
    let before = common::snapshot(&store);
    let (ok, _, err) = import(&[
        far.to_str().unwrap(),
        "--mapping",
        mapping.to_str().unwrap(),
        "--data",
        s,
    ]);
    assert!(!ok);
    for want in [
        "units_far.csv",
        "feature 3",
        "field `building_id`",
        "2单元",
        "30 m",
    ] {
        assert!(err.contains(want), "expected `{want}` in: {err}");
    }
    assert!(common::snapshot(&store) == before, "the store changed");
}
