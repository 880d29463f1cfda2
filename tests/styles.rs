//! The MapLibre styles: valid by the style specification's own validator (gl-style-validate
//! from npm, installed by scripts/test into tools/), pointing at this server, and using only
//! layers and fields the tileset has.

#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the exact values it expects and takes the defaults its calls need

mod common;

use compound_atlas::store::{embedded::EmbeddedStore, Store};
use std::sync::Arc;
use tower::ServiceExt;

async fn get(app: &axum::Router, uri: &str) -> (u16, serde_json::Value) {
    let req = axum::http::Request::get(uri)
        .header("host", "atlas.test:9000")
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

fn fields_used(expr: &serde_json::Value, out: &mut Vec<String>) {
    match expr {
        serde_json::Value::Array(a) => {
            if a.first().and_then(|v| v.as_str()) == Some("get") {
                if let Some(f) = a.get(1).and_then(|v| v.as_str()) {
                    out.push(f.to_string());
                }
            }
            for x in a {
                fields_used(x, out);
            }
        }
        serde_json::Value::Object(o) => o.values().for_each(|x| fields_used(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn styles_pass_the_maplibre_validator_and_match_the_tileset() {
    let validator = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tools/node_modules/.bin/gl-style-validate");
    assert!(
        validator.exists(),
        "{} is missing: run scripts/test, which installs it (npm ci in tools/)",
        validator.display()
    );
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&common::city(0.02, 71)).unwrap());
    let app = compound_atlas::app(compound_atlas::AppState::for_store(store));
    let (_, tilejson) = get(&app, "/tiles/atlas.json").await;
    let fields: std::collections::HashMap<String, Vec<String>> = tilejson["vector_layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["id"].as_str().unwrap().to_string(),
                l["fields"].as_object().unwrap().keys().cloned().collect(),
            )
        })
        .collect();
    // Each layer's zooms in the tiles (TileJSON caps them at its own maxzoom; a layer that
    // ends there is overzoomed beyond it, one that ends below it is simply absent).
    let zooms: std::collections::HashMap<String, (u64, u64)> = tilejson["vector_layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["id"].as_str().unwrap().to_string(),
                (
                    l["minzoom"].as_u64().unwrap(),
                    l["maxzoom"].as_u64().unwrap(),
                ),
            )
        })
        .collect();
    let tile_max = tilejson["maxzoom"].as_u64().unwrap();
    for name in ["grade", "density", "company"] {
        let (status, style) = get(
            &app,
            &format!("/styles/{name}.json?from=2022-01&to=2022-12"),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            style["sources"]["atlas"]["url"],
            "http://atlas.test:9000/tiles/atlas.json?from=2022-01&to=2022-12"
        );
        assert!(style["glyphs"]
            .as_str()
            .unwrap()
            .starts_with("http://atlas.test:9000/"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_string_pretty(&style).unwrap()).unwrap();
        let out = std::process::Command::new(&validator)
            .arg(&path)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && text.trim().is_empty(),
            "{name}: {text}"
        );
        for layer in style["layers"].as_array().unwrap() {
            let Some(src) = layer["source-layer"].as_str() else {
                continue;
            };
            let known = fields.get(src).unwrap_or_else(|| {
                panic!(
                    "{name}: layer {} uses unknown source-layer {src}",
                    layer["id"]
                )
            });
            // Drawn only at zooms whose tiles hold the layer: from its first zoom, and (for a
            // layer that ends below the tileset's last zoom) not past its last (a style
            // layer's maxzoom is exclusive).
            let (lo, hi) = zooms[src];
            let min = layer["minzoom"].as_f64().unwrap_or(0.0);
            let max = layer["maxzoom"].as_f64().unwrap_or(24.0);
            assert!(
                min >= lo as f64,
                "{name}: layer {} starts at zoom {min}, but {src} begins at {lo}",
                layer["id"]
            );
            assert!(
                hi >= tile_max || max <= (hi + 1) as f64,
                "{name}: layer {} runs to zoom {max}, but {src} ends at {hi}",
                layer["id"]
            );
            let mut used = Vec::new();
            fields_used(layer, &mut used);
            for f in used {
                assert!(
                    known.contains(&f),
                    "{name}: layer {} reads `{f}`, which {src} does not carry",
                    layer["id"]
                );
            }
        }
    }
    let (status, err) = get(&app, "/styles/satellite.json").await;
    assert_eq!(status, 404);
    assert!(err["error"]["message"].as_str().unwrap().contains("grade"));
    hot_spots_are_in_both_styles_coloured_by_pattern(&app).await;
}

/// Both styles have the `hotspots` layer, hidden until shown: every hot pattern a red, every
/// cold one a blue, and no pattern transparent.
async fn hot_spots_are_in_both_styles_coloured_by_pattern(app: &axum::Router) {
    let hex = |c: &str| {
        let c = c.trim_start_matches('#');
        let v = |i: usize| u8::from_str_radix(&c[i..i + 2], 16).unwrap();
        (v(0), v(2), v(4))
    };
    for name in ["grade", "density", "company"] {
        let (_, style) = get(app, &format!("/styles/{name}.json")).await;
        let layer = style["layers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["source-layer"] == "hotspots")
            .unwrap_or_else(|| panic!("{name} has no hotspots layer"));
        assert_eq!(layer["layout"]["visibility"], "none", "{name}");
        let m = layer["paint"]["fill-color"].as_array().unwrap();
        assert_eq!(m[0], "match");
        assert_eq!(m[1], serde_json::json!(["get", "pattern"]));
        assert!(
            m.last().unwrap().as_str().unwrap().ends_with(", 0)"),
            "{name}: none is transparent"
        );
        let pairs: Vec<(&str, &str)> = m[2..m.len() - 1]
            .chunks(2)
            .map(|p| (p[0].as_str().unwrap(), p[1].as_str().unwrap()))
            .collect();
        assert_eq!(pairs.len(), 16, "{name}: eight hot and eight cold patterns");
        for (pattern, colour) in pairs {
            let (r, _, b) = hex(colour);
            if pattern.ends_with("_hot") {
                assert!(r > b, "{name}: {pattern} is {colour}, not a red");
            } else {
                assert!(
                    pattern.ends_with("_cold") && b > r,
                    "{name}: {pattern} is {colour}"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_styles_fonts_are_served_as_glyphs_offline() {
    use pbf_font_tools::prost::Message;
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&common::city(0.02, 71)).unwrap());
    let app = compound_atlas::app(compound_atlas::AppState::for_store(store));
    let (_, style) = get(&app, "/styles/grade.json").await;
    let font = style["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|l| l["layout"]["text-font"][0].as_str())
        .unwrap()
        .to_string();
    for (range, code) in [("19968-20223", 0x4E2D_u32), ("0-255", u32::from('A'))] {
        let uri = format!("/fonts/{}/{range}.pbf", font.replace(' ', "%20"));
        let req = axum::http::Request::get(&uri)
            .body(axum::body::Body::empty())
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), 200, "{uri}");
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        let glyphs = pbf_font_tools::Glyphs::decode(&body[..]).unwrap();
        let stack = &glyphs.stacks[0];
        assert_eq!(stack.name, font);
        let g = stack
            .glyphs
            .iter()
            .find(|g| g.id == code)
            .unwrap_or_else(|| panic!("no glyph {code:#x} in {range}"));
        assert!(
            g.bitmap.as_ref().is_some_and(|b| !b.is_empty()) && g.width > 0,
            "glyph {code:#x} is empty"
        );
    }
    let (status, err) = get(&app, "/fonts/x/1-300.pbf").await;
    assert_eq!(status, 400);
    assert!(err["error"]["message"].as_str().unwrap().contains("256"));
}
