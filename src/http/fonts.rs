//! `/fonts/{fontstack}/{range}.pbf`: MapLibre glyphs, rendered as signed distance fields from
//! the fonts installed on the machine (pbf_font_tools over FreeType), so that labels work with
//! no internet. Fonts come from the machine (fonts-noto-cjk, fonts-wqy-microhei) or, when it
//! has no CJK font, from the WenQuanYi Micro Hei bundled in `assets/fonts` (Apache-2.0). A
//! fontstack we do not have falls back to the first CJK font found.

use crate::error::Error;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use pbf_font_tools::prost::Message;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

/// Where fonts are looked for, best first.
const FONT_DIRS: [&str; 2] = [
    "/usr/share/fonts/opentype/noto",
    "/usr/share/fonts/truetype/wqy",
];

const BUNDLED: &[u8] = crate::assets::CJK_FONT;

/// Where a face is: a file on the machine, or the bundled font (face index).
#[derive(Clone)]
enum FontRef {
    File(PathBuf, isize),
    Bundled(isize),
}

/// Family + style → face, and the first CJK face as the fallback.
struct FontIndex {
    faces: HashMap<String, FontRef>,
    fallback: Option<FontRef>,
}

fn index() -> &'static FontIndex {
    static INDEX: OnceLock<FontIndex> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut faces = HashMap::new();
        let mut fallback = None;
        let Ok(lib) = pbf_font_tools::freetype::Library::init() else {
            return FontIndex { faces, fallback };
        };
        for dir in FONT_DIRS {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut files: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            files.sort();
            for path in files {
                let ext = path
                    .extension()
                    .and_then(|e| e.to_str())
                    .unwrap_or("")
                    .to_ascii_lowercase();
                if !["ttf", "otf", "ttc"].contains(&ext.as_str()) {
                    continue;
                }
                let Ok(first) = lib.new_face(&path, 0) else {
                    continue;
                };
                for i in 0..first.num_faces() as isize {
                    let Ok(face) = lib.new_face(&path, i) else {
                        continue;
                    };
                    let family = face.family_name().unwrap_or_default();
                    let style = face.style_name().unwrap_or_default();
                    let key = format!("{family} {style}").to_lowercase();
                    // A face that draws 中 is a CJK face.
                    if fallback.is_none()
                        && face.get_char_index('中' as usize).is_some_and(|g| g != 0)
                    {
                        fallback = Some(FontRef::File(path.clone(), i));
                    }
                    faces
                        .entry(key)
                        .or_insert_with(|| FontRef::File(path.clone(), i));
                    faces
                        .entry(family.to_lowercase())
                        .or_insert_with(|| FontRef::File(path.clone(), i));
                }
            }
        }
        if let Ok(first) = lib.new_memory_face(BUNDLED.to_vec(), 0) {
            for i in 0..first.num_faces() as isize {
                let Ok(face) = lib.new_memory_face(BUNDLED.to_vec(), i) else {
                    continue;
                };
                let family = face.family_name().unwrap_or_default();
                let style = face.style_name().unwrap_or_default();
                faces
                    .entry(format!("{family} {style}").to_lowercase())
                    .or_insert(FontRef::Bundled(i));
                faces
                    .entry(family.to_lowercase())
                    .or_insert(FontRef::Bundled(i));
            }
            fallback.get_or_insert(FontRef::Bundled(0));
        }
        FontIndex { faces, fallback }
    })
}

fn rendered() -> &'static Mutex<HashMap<(String, u32), Bytes>> {
    static CACHE: OnceLock<Mutex<HashMap<(String, u32), Bytes>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn render(stack_name: &str, font: &FontRef, start: u32) -> Result<Bytes, String> {
    let lib = pbf_font_tools::freetype::Library::init().map_err(|e| e.to_string())?;
    let face = match font {
        FontRef::File(path, i) => lib.new_face(path, *i),
        FontRef::Bundled(i) => lib.new_memory_face(BUNDLED.to_vec(), *i),
    }
    .map_err(|e| e.to_string())?;
    let mut stack = pbf_font_tools::glyph_range_for_face(&face, start, start + 255, 24, 8, 0.25)
        .map_err(|e| e.to_string())?;
    stack.name = stack_name.to_string();
    let glyphs = pbf_font_tools::Glyphs {
        stacks: vec![stack],
    };
    Ok(Bytes::from(glyphs.encode_to_vec()))
}

/// `GET /fonts/{fontstack}/{start}-{end}.pbf`
pub async fn glyphs(Path((stack, range)): Path<(String, String)>) -> Result<Response, Error> {
    let bad = || {
        Error::BadRequest(format!("`{range}`: a glyph range is {{start}}-{{end}}.pbf, 256 code points from a multiple of 256"))
    };
    let (a, b) = range
        .strip_suffix(".pbf")
        .and_then(|r| r.split_once('-'))
        .ok_or_else(bad)?;
    let (start, end): (u32, u32) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if start % 256 != 0 || end != start + 255 || end > 65535 {
        return Err(bad());
    }
    let key = (stack.clone(), start);
    if let Some(hit) = rendered()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&key)
        .cloned()
    {
        return Ok(pbf(hit));
    }
    let idx = index();
    // The first font of the stack we have, else the CJK fallback.
    let font = stack
        .split(',')
        .map(|s| s.trim().to_lowercase())
        .find_map(|s| idx.faces.get(&s).cloned())
        .or_else(|| idx.fallback.clone())
        .ok_or_else(|| Error::NotFound(format!("no font for `{stack}`")))?;
    let name = stack.clone();
    let bytes = tokio::task::spawn_blocking(move || render(&name, &font, start))
        .await
        .map_err(|e| Error::Other(e.into()))?
        .map_err(|e| Error::Other(anyhow::anyhow!("rendering glyphs: {e}")))?;
    rendered()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(key, bytes.clone());
    Ok(pbf(bytes))
}

fn pbf(bytes: Bytes) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-protobuf"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// This surface's routes: glyphs for map labels.
pub(super) fn routes() -> axum::Router<super::AppState> {
    use axum::routing::get;
    axum::Router::new().route("/fonts/{stack}/{range}", get(glyphs))
}
