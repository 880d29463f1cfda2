//! `atlas import --inspect FILE…`: what a bureau's file holds, before importing it — its layer,
//! geometry type, CRS, extent (longitude/latitude, after reprojection), feature count, fields
//! with their types and a few sample values — and a proposed field mapping, recognising the
//! Chinese and pinyin names housing databases use, ready to save and edit.

use crate::io::crs::Crs;
use crate::io::{mapping, FormatError, RawFeature};
use crate::model::Layer;
use std::fmt::Write as _;
use std::path::Path;

/// Names a bureau's field may have for each of our fields (compared without case; our own
/// names, and the 10-byte names a `.dbf` truncates them to, always count).
fn synonyms(layer: Layer, field: &str) -> &'static [&'static str] {
    match (layer, field) {
        (Layer::Compounds, "id") => &[
            "XQBM",
            "XQDM",
            "XQID",
            "小区编码",
            "小区编号",
            "小区代码",
            "项目编号",
            "编号",
            "编码",
        ],
        (Layer::Compounds, "name") => &[
            "XQMC",
            "小区名称",
            "小区名",
            "项目名称",
            "名称",
            "MC",
            "NAME",
        ],
        (Layer::Compounds, "aliases") => &["BM", "别名", "俗称", "曾用名"],
        (Layer::Compounds | Layer::Streets, "district_code") => &[
            "QXDM",
            "QXBM",
            "XZQDM",
            "区县代码",
            "区县编码",
            "区代码",
            "所属区县",
        ],
        (Layer::Compounds, "street_code") => &["JDDM", "JDBM", "街道代码", "街道编码", "所属街道"],
        (Layer::Compounds, "company_id") => &[
            "WYGS",
            "WYQY",
            "WYQYBM",
            "物业企业",
            "物业公司",
            "物业企业编码",
            "物业公司编号",
        ],
        (Layer::Compounds, "year_built") => {
            &["JCNF", "JSND", "JCND", "建成年份", "建成年代", "竣工年份"]
        }
        (Layer::Compounds | Layer::Buildings | Layer::Units, "households") => {
            &["HS", "ZHS", "户数", "总户数", "住户数"]
        }
        (Layer::Buildings, "id") => &[
            "LDBM",
            "LDDM",
            "LDID",
            "楼栋编码",
            "楼栋编号",
            "编号",
            "编码",
        ],
        (Layer::Buildings, "compound_id") => &["SSXQ", "XQBM", "所属小区", "小区编码", "小区编号"],
        (Layer::Buildings, "name") => {
            &["LDH", "LDMC", "楼栋号", "楼号", "楼栋名称", "名称", "NAME"]
        }
        (Layer::Buildings, "floors") => &["CS", "LC", "ZCS", "层数", "楼层数", "地上层数"],
        (Layer::Units, "id") => &["DYBM", "DYDM", "单元编码", "单元编号", "编号", "编码"],
        (Layer::Units, "building_id") => &["SSLD", "LDBM", "所属楼栋", "楼栋编码", "楼栋编号"],
        (Layer::Units, "name") => &["DYH", "DYMC", "单元号", "单元名称", "名称", "NAME"],
        (Layer::Districts, "code") => &[
            "QXDM",
            "XZQDM",
            "ADCODE",
            "区县代码",
            "行政区代码",
            "代码",
            "CODE",
        ],
        (Layer::Districts, "name") => &["QXMC", "XZQMC", "区县名称", "行政区名称", "名称", "NAME"],
        (Layer::Districts, "name_en") => &["英文名", "ENAME", "NAME_EN"],
        (Layer::Streets, "code") => &["JDDM", "XZDM", "街道代码", "乡镇代码", "代码", "CODE"],
        (Layer::Streets, "name") => &["JDMC", "XZMC", "街道名称", "乡镇名称", "名称", "NAME"],
        (Layer::Streets, "kind") => &["LX", "类型", "类别"],
        _ => &[],
    }
}

/// The source field that most likely fills `field`: our own name (or its `.dbf` truncation)
/// first, then the synonyms in order.
fn propose(layer: Layer, field: &str, fields: &[String]) -> Option<String> {
    let truncated: String = field.chars().take(10).collect();
    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    fields
        .iter()
        .find(|f| same(f, field) || same(f, &truncated))
        .or_else(|| {
            synonyms(layer, field)
                .iter()
                .find_map(|s| fields.iter().find(|f| same(f, s)))
        })
        .cloned()
}

fn kind_of(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        serde_json::Value::Number(_) => "real",
        serde_json::Value::String(_) => "text",
        _ => "json",
    }
}

fn geometry_kind(g: &geo_types::Geometry<f64>) -> &'static str {
    match g {
        geo_types::Geometry::Point(_) => "Point",
        geo_types::Geometry::MultiPoint(_) => "MultiPoint",
        geo_types::Geometry::LineString(_) | geo_types::Geometry::Line(_) => "LineString",
        geo_types::Geometry::MultiLineString(_) => "MultiLineString",
        geo_types::Geometry::Polygon(_)
        | geo_types::Geometry::Rect(_)
        | geo_types::Geometry::Triangle(_) => "Polygon",
        geo_types::Geometry::MultiPolygon(_) => "MultiPolygon",
        geo_types::Geometry::GeometryCollection(_) => "GeometryCollection",
    }
}

/// A file's features, its declared CRS and its field names, whatever its format.
type Read = (Vec<RawFeature>, Option<Crs>, Vec<String>);

fn read_any(path: &Path, ext: &str, layer: Option<Layer>) -> Result<Read, FormatError> {
    match ext {
        "shp" => {
            let s = crate::io::shp::read(path)?;
            Ok((s.features, s.crs, s.fields))
        }
        "gpkg" => {
            let g = crate::io::gpkg::read(path, layer.map_or("", Layer::name))?;
            Ok((g.features, Some(g.crs), g.fields))
        }
        "fgb" => {
            let r = crate::io::fgb::read_raw(path)?;
            let crs = r
                .crs
                .map(Crs::from_epsg)
                .transpose()
                .map_err(|m| FormatError::file(path, m))?;
            Ok((r.features, crs, r.fields))
        }
        "geojson" | "json" => read_geojson(path),
        other => Err(FormatError::file(
            path,
            format!(
                "`--inspect` reads Shapefiles, GeoPackages, FlatGeobuf and GeoJSON, not `.{other}`"
            ),
        )),
    }
}

fn read_geojson(path: &Path) -> Result<Read, FormatError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| FormatError::file(path, format!("cannot read: {e}")))?;
    let fc: geojson::FeatureCollection = text
        .parse::<geojson::GeoJson>()
        .ok()
        .and_then(|g| g.try_into().ok())
        .ok_or_else(|| FormatError::file(path, "not a GeoJSON FeatureCollection"))?;
    let features: Vec<RawFeature> = fc
        .features
        .into_iter()
        .enumerate()
        .map(|(i, f)| RawFeature {
            number: i + 1,
            geom: f
                .geometry
                .and_then(|g| geo_types::Geometry::try_from(g).ok()),
            props: f.properties.unwrap_or_default().into_iter().collect(),
        })
        .collect();
    let mut fields: Vec<String> = Vec::new();
    for f in &features {
        for k in f.props.keys() {
            if !fields.contains(k) {
                fields.push(k.clone());
            }
        }
    }
    Ok((features, Some(Crs::lonlat()), fields))
}

/// The lines on the CRS and, when there is one, the extent after reprojection.
fn write_crs_and_extent(out: &mut String, crs: Option<&Crs>, features: &[RawFeature]) {
    let _ = writeln!(
        out,
        "  CRS: {}",
        crs.map_or(
            "none declared: give it with --crs EPSG:N".to_string(),
            |c| {
                if c.is_lonlat() {
                    format!("{} (longitude/latitude)", c.label)
                } else {
                    format!("{} (reprojected to longitude/latitude on import)", c.label)
                }
            }
        )
    );
    let Some(c) = crs else { return };
    let mut b = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    let mut failed = None;
    for f in features {
        let Some(g) = &f.geom else { continue };
        let mut g = g.clone();
        if let Err(e) = c.to_lonlat(&mut g) {
            failed.get_or_insert(e);
            continue;
        }
        use geo::BoundingRect;
        if let Some(r) = g.bounding_rect() {
            b = [
                b[0].min(r.min().x),
                b[1].min(r.min().y),
                b[2].max(r.max().x),
                b[3].max(r.max().y),
            ];
        }
    }
    if b[0].is_finite() {
        let _ = writeln!(
            out,
            "  extent (lon/lat): {:.5},{:.5},{:.5},{:.5}",
            b[0], b[1], b[2], b[3]
        );
    }
    if let Some(e) = failed {
        let _ = writeln!(out, "  reprojection fails: {e}");
    }
}

/// Each field with its type and three sample values.
fn write_fields(out: &mut String, fields: &[String], features: &[RawFeature]) {
    let _ = writeln!(out, "  fields:");
    for name in fields {
        let values: Vec<&serde_json::Value> = features
            .iter()
            .filter_map(|f| f.props.get(name))
            .filter(|v| !v.is_null())
            .collect();
        let kind = values
            .iter()
            .map(|v| kind_of(v))
            .find(|k| !k.is_empty())
            .unwrap_or("empty");
        let samples: Vec<String> = values
            .iter()
            .take(3)
            .map(|v| match v {
                serde_json::Value::String(s) => s.chars().take(24).collect(),
                other => other.to_string(),
            })
            .collect();
        let _ = writeln!(out, "    {name:<14} {kind:<8} {}", samples.join(" | "));
    }
}

/// The proposed mapping section for a layer: each of our fields the source names otherwise,
/// and a comment on those not found.
fn proposal(path: &Path, layer: Option<Layer>, fields: &[String]) -> String {
    let mut proposal = String::new();
    let Some(l) = layer else { return proposal };
    let ours = mapping::fields_of(l);
    let _ = writeln!(proposal, "[{}]", l.name());
    let mut missing = Vec::new();
    for f in &ours {
        match propose(l, f, fields) {
            Some(src) if src != *f => {
                let _ = writeln!(proposal, "{f} = \"{src}\"");
            }
            Some(_) => {}
            None => missing.push(*f),
        }
    }
    if !missing.is_empty() {
        let _ = writeln!(
            proposal,
            "# not found in {}: {} (name the source field here)",
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default(),
            missing.join(", ")
        );
    }
    proposal
}

/// The report on one file, and its proposed mapping section.
pub fn inspect(
    path: &Path,
    layer: Option<Layer>,
    crs: Option<u32>,
) -> Result<(String, String), FormatError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_lowercase();
    let layer = layer.or_else(|| {
        let stem = path.file_name()?.to_str()?.to_lowercase();
        Layer::ALL.into_iter().find(|l| stem.starts_with(l.name()))
    });
    let (features, declared, fields) = read_any(path, &ext, layer)?;
    let crs = match crs {
        Some(c) => Some(Crs::from_epsg(c).map_err(|m| FormatError::file(path, m))?),
        None => declared,
    };
    let mut out = String::new();
    let _ = writeln!(out, "{}", path.display());
    let _ = writeln!(
        out,
        "  layer: {}",
        layer.map_or(
            "unknown (name the file after its layer or pass --layer)".to_string(),
            |l| l.name().to_string()
        )
    );
    let mut kinds: Vec<&str> = features
        .iter()
        .filter_map(|f| f.geom.as_ref().map(geometry_kind))
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    let _ = writeln!(
        out,
        "  features: {} ({})",
        features.len(),
        if kinds.is_empty() {
            "no geometry".into()
        } else {
            kinds.join(", ")
        }
    );
    write_crs_and_extent(&mut out, crs.as_ref(), &features);
    write_fields(&mut out, &fields, &features);
    Ok((out, proposal(path, layer, &fields)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_and_pinyin_names_are_proposed() {
        let fields: Vec<String> = ["XQBM", "小区名称", "户数", "district_c", "JDDM"]
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            propose(Layer::Compounds, "id", &fields).as_deref(),
            Some("XQBM")
        );
        assert_eq!(
            propose(Layer::Compounds, "name", &fields).as_deref(),
            Some("小区名称")
        );
        assert_eq!(
            propose(Layer::Compounds, "households", &fields).as_deref(),
            Some("户数")
        );
        assert_eq!(
            propose(Layer::Compounds, "district_code", &fields).as_deref(),
            Some("district_c")
        );
        assert_eq!(
            propose(Layer::Compounds, "street_code", &fields).as_deref(),
            Some("JDDM")
        );
        assert_eq!(propose(Layer::Compounds, "company_id", &fields), None);
    }
}
