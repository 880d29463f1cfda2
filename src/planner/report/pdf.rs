//! A small PDF writer for the monthly report: A4 pages laid top to bottom, text in the bundled
//! CJK font, lines, boxes and pictures. pdf-writer writes the objects; the font is embedded as
//! a subset (subsetter, cut down to the glyphs the text used) CIDFontType2 under a Type0 font
//! (Identity-H: a glyph's new id is its CID), with a ToUnicode CMap so that every viewer can
//! copy, search and extract the text. Positions are in points from the page's top-left corner.

use ab_glyph::{Font, FontRef};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use std::collections::BTreeMap;
use std::io::Write;
use subsetter::GlyphRemapper;
use tiny_skia::Pixmap;

/// An A4 page's width and height in points.
pub const PAGE_W: f32 = 595.28;
pub const PAGE_H: f32 = 841.89;
/// The margin on every side.
pub const MARGIN: f32 = 40.0;
/// What the text column spans.
pub const COLUMN: f32 = PAGE_W - 2.0 * MARGIN;

/// The font resource's name in every page.
const FONT: Name<'static> = Name(b"F1");
/// The embedded font's PostScript name, with the six-letter tag a subset carries.
const FONT_NAME: Name<'static> = Name(b"ATLASR+WenQuanYiMicroHei");

/// An RGB colour from 0 to 255 a channel.
pub type Rgb = [u8; 3];

fn rgb(c: Rgb) -> (f32, f32, f32) {
    let f = |x: u8| f32::from(x) / 255.0;
    (f(c[0]), f(c[1]), f(c[2]))
}

/// A picture on a page: where, and its RGB samples deflated.
struct Image {
    page: usize,
    size: (u32, u32),
    samples: Vec<u8>,
}

/// A document being laid out.
pub struct Doc {
    font: FontRef<'static>,
    units_per_em: f32,
    glyphs: GlyphRemapper,
    /// Per new glyph id: the character it shows and its advance in thousandths of an em.
    used: BTreeMap<u16, (char, f32)>,
    pages: Vec<Content>,
    images: Vec<Image>,
    /// The page drawn on: the last, but for [`Doc::each_page`].
    current: usize,
    /// Where the next block starts, from the current page's top.
    pub y: f32,
}

/// Deflates `data` (zlib, as PDF's FlateDecode reads it), quickly: the pictures are large.
fn deflate(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = z.write_all(data);
    z.finish().unwrap_or_default()
}

impl Doc {
    /// A document with one empty page; `None` when the bundled font cannot be read.
    pub fn new() -> Option<Doc> {
        let font = FontRef::try_from_slice_and_index(crate::assets::CJK_FONT, 0).ok()?;
        let units_per_em = font.units_per_em()?;
        let mut glyphs = GlyphRemapper::new();
        glyphs.remap(0);
        Some(Doc {
            font,
            units_per_em,
            glyphs,
            used: BTreeMap::new(),
            pages: vec![Content::new()],
            images: Vec::new(),
            current: 0,
            y: MARGIN,
        })
    }

    /// How many pages the document has.
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// Starts a new page; the next block goes at its top.
    pub fn new_page(&mut self) {
        self.pages.push(Content::new());
        self.current = self.pages.len() - 1;
        self.y = MARGIN;
    }

    /// Draws `f(doc, page, pages)` on every page in turn (page numbers, running footers).
    pub fn each_page(&mut self, mut f: impl FnMut(&mut Doc, usize, usize)) {
        let n = self.pages.len();
        for k in 0..n {
            self.current = k;
            f(self, k + 1, n);
        }
        self.current = n - 1;
    }

    /// Makes sure `h` points are left on the page for the next block, starting a new page
    /// when they are not.
    pub fn room(&mut self, h: f32) {
        if self.y + h > PAGE_H - MARGIN {
            self.new_page();
        }
    }

    fn content(&mut self) -> &mut Content {
        &mut self.pages[self.current]
    }

    /// The width of `s` at `size` points.
    pub fn width(&self, s: &str, size: f32) -> f32 {
        s.chars()
            .map(|c| self.font.h_advance_unscaled(self.font.glyph_id(c)))
            .sum::<f32>()
            * size
            / self.units_per_em
    }

    /// `s` cut (with an ellipsis) to at most `w` points at `size`.
    pub fn fit(&self, s: &str, size: f32, w: f32) -> String {
        if self.width(s, size) <= w {
            return s.to_string();
        }
        let mut out = String::new();
        for c in s.chars() {
            let next = format!("{out}{c}…");
            if self.width(&next, size) > w {
                break;
            }
            out.push(c);
        }
        out.push('…');
        out
    }

    /// Writes `s` with its baseline at `y` from `x`, in `size` points and colour `c`.
    pub fn text(&mut self, x: f32, y: f32, size: f32, c: Rgb, s: &str) {
        let mut encoded = Vec::with_capacity(s.len() * 2);
        for ch in s.chars() {
            let id = self.font.glyph_id(ch);
            let new = self.glyphs.remap(id.0);
            let advance = self.font.h_advance_unscaled(id) * 1000.0 / self.units_per_em;
            self.used.entry(new).or_insert((ch, advance));
            encoded.extend_from_slice(&new.to_be_bytes());
        }
        let (r, g, b) = rgb(c);
        self.content()
            .begin_text()
            .set_fill_rgb(r, g, b)
            .set_font(FONT, size)
            .set_text_matrix([1.0, 0.0, 0.0, 1.0, x, PAGE_H - y])
            .show(Str(&encoded))
            .end_text();
    }

    /// Writes `s` so that it ends at `x` (numbers in a table's column).
    pub fn text_right(&mut self, x: f32, y: f32, size: f32, c: Rgb, s: &str) {
        let w = self.width(s, size);
        self.text(x - w, y, size, c, s);
    }

    /// A filled box, its top-left corner at `(x, y)`.
    pub fn fill(&mut self, x: f32, y: f32, w: f32, h: f32, c: Rgb) {
        let (r, g, b) = rgb(c);
        self.content()
            .set_fill_rgb(r, g, b)
            .rect(x, PAGE_H - y - h, w, h)
            .fill_nonzero();
    }

    /// A line through `points`, `width` points thick.
    pub fn line(&mut self, points: &[(f32, f32)], width: f32, c: Rgb) {
        let Some((&(x0, y0), rest)) = points.split_first() else {
            return;
        };
        let (r, g, b) = rgb(c);
        let content = self.content();
        content
            .set_stroke_rgb(r, g, b)
            .set_line_width(width)
            .move_to(x0, PAGE_H - y0);
        for &(x, y) in rest {
            content.line_to(x, PAGE_H - y);
        }
        content.stroke();
    }

    /// A dashed line through `points`.
    pub fn dashed(&mut self, points: &[(f32, f32)], width: f32, c: Rgb) {
        self.content()
            .save_state()
            .set_dash_pattern([3.0, 2.0], 0.0);
        self.line(points, width, c);
        self.content().restore_state();
    }

    /// A picture (opaque: its alpha is dropped) in the box `w × h` at `(x, y)`.
    pub fn image(&mut self, x: f32, y: f32, w: f32, h: f32, pm: &Pixmap) {
        let mut rgb = Vec::with_capacity(pm.data().len() / 4 * 3);
        for px in pm.data().chunks_exact(4) {
            rgb.extend_from_slice(&px[..3]);
        }
        let name = format!("Im{}", self.images.len());
        self.images.push(Image {
            page: self.current,
            size: (pm.width(), pm.height()),
            samples: deflate(&rgb),
        });
        self.content()
            .save_state()
            .transform([w, 0.0, 0.0, h, x, PAGE_H - y - h])
            .x_object(Name(name.as_bytes()))
            .restore_state();
    }

    /// The finished file, its document information titled `title`.
    pub fn finish(self, title: &str) -> Result<Vec<u8>, String> {
        let mut pdf = Pdf::new();
        let mut next = 0;
        let mut id = || {
            next += 1;
            Ref::new(next)
        };
        let (catalog, tree, info, font) = (id(), id(), id(), id());
        let pages: Vec<(Ref, Ref)> = self.pages.iter().map(|_| (id(), id())).collect();
        let images: Vec<Ref> = self.images.iter().map(|_| id()).collect();
        let font_parts = [id(), id(), id(), id()];
        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree)
            .kids(pages.iter().map(|p| p.0))
            .count(i32::try_from(pages.len()).unwrap_or(i32::MAX));
        pdf.document_info(info)
            .title(TextStr(title))
            .producer(TextStr("compound-atlas"));
        for (k, ((page, contents), content)) in pages.iter().zip(self.pages).enumerate() {
            let mut p = pdf.page(*page);
            p.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
                .parent(tree)
                .contents(*contents);
            let mut res = p.resources();
            res.fonts().pair(FONT, font);
            let mut xs = res.x_objects();
            for (i, (im, r)) in self.images.iter().zip(&images).enumerate() {
                if im.page == k {
                    xs.pair(Name(format!("Im{i}").as_bytes()), *r);
                }
            }
            xs.finish();
            res.finish();
            p.finish();
            pdf.stream(*contents, &deflate(&content.finish()))
                .filter(Filter::FlateDecode);
        }
        for (im, r) in self.images.iter().zip(&images) {
            let mut x = pdf.image_xobject(*r, &im.samples);
            x.filter(Filter::FlateDecode);
            x.width(i32::try_from(im.size.0).unwrap_or(1))
                .height(i32::try_from(im.size.1).unwrap_or(1))
                .bits_per_component(8);
            x.color_space().device_rgb();
        }
        embed_font(
            &mut pdf,
            font,
            font_parts,
            &self.glyphs,
            &self.used,
            &self.font,
        )?;
        Ok(pdf.finish())
    }
}

/// Writes the Type0 font `font` and its parts: the CID font, its descriptor, the subset font
/// file and the ToUnicode CMap.
fn embed_font(
    pdf: &mut Pdf,
    font: Ref,
    [cid, descriptor, file, to_unicode]: [Ref; 4],
    glyphs: &GlyphRemapper,
    used: &BTreeMap<u16, (char, f32)>,
    face: &FontRef<'static>,
) -> Result<(), String> {
    use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
    let system = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };
    pdf.type0_font(font)
        .base_font(FONT_NAME)
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid)
        .to_unicode(to_unicode);
    let upem = face.units_per_em().unwrap_or(1000.0);
    let scale = |v: f32| v * 1000.0 / upem;
    // Every new id from 0 in order: .notdef's advance, then each used glyph's.
    let widths: Vec<f32> = (0..glyphs.num_gids())
        .map(|g| {
            used.get(&g).map_or_else(
                || scale(face.h_advance_unscaled(ab_glyph::GlyphId(0))),
                |u| u.1,
            )
        })
        .collect();
    let mut c = pdf.cid_font(cid);
    c.subtype(CidFontType::Type2)
        .base_font(FONT_NAME)
        .system_info(system)
        .font_descriptor(descriptor)
        .default_width(1000.0)
        .cid_to_gid_map_predefined(Name(b"Identity"));
    c.widths().consecutive(0, widths);
    c.finish();
    let (ascent, descent) = (
        scale(face.ascent_unscaled()),
        scale(face.descent_unscaled()),
    );
    pdf.font_descriptor(descriptor)
        .name(FONT_NAME)
        .flags(FontFlags::SYMBOLIC)
        .bbox(Rect::new(0.0, descent, 1000.0, ascent))
        .italic_angle(0.0)
        .ascent(ascent)
        .descent(descent)
        .cap_height(ascent * 0.8)
        .stem_v(80.0)
        .font_file2(file);
    let subset = subsetter::subset(crate::assets::CJK_FONT, 0, glyphs)
        .map_err(|e| format!("the bundled font cannot be subset: {e}"))?;
    pdf.stream(file, &deflate(&subset))
        .filter(Filter::FlateDecode)
        .pair(
            Name(b"Length1"),
            i32::try_from(subset.len()).unwrap_or(i32::MAX),
        );
    let mut cmap = UnicodeCmap::new(Name(b"Custom"), system);
    for (g, (ch, _)) in used {
        cmap.pair(*g, *ch);
    }
    pdf.stream(to_unicode, &deflate(&cmap.finish()))
        .filter(Filter::FlateDecode);
    Ok(())
}
