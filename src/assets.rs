//! Files built into the binary.

/// WenQuanYi Micro Hei (Apache-2.0; see assets/fonts/README.md): glyphs for map labels when
/// the machine has no CJK font, and the text of rendered pictures.
pub const CJK_FONT: &[u8] = include_bytes!("../assets/fonts/wqy-microhei.ttc");
