//! Text files as Chinese offices write them: UTF-8 (with or without a byte-order mark) or GBK.

pub use crate::model::encoding::TextEncoding;

impl TextEncoding {
    pub fn encoding(self) -> &'static encoding_rs::Encoding {
        match self {
            TextEncoding::Utf8 => encoding_rs::UTF_8,
            TextEncoding::Gbk => encoding_rs::GBK,
        }
    }
}

/// Decodes a CSV file: UTF-8 when it is valid UTF-8 (with or without BOM), else GBK.
pub fn decode(
    bytes: &[u8],
    forced: Option<TextEncoding>,
) -> Result<(String, TextEncoding), String> {
    let utf8 = |b: &[u8]| {
        std::str::from_utf8(b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b)).map(str::to_string)
    };
    match forced {
        Some(TextEncoding::Utf8) => utf8(bytes)
            .map(|s| (s, TextEncoding::Utf8))
            .map_err(|e| format!("not valid UTF-8 ({e}); try --encoding gbk")),
        Some(TextEncoding::Gbk) => {
            let (text, _, bad) = encoding_rs::GBK.decode(bytes);
            if bad {
                return Err("not valid GBK".into());
            }
            Ok((text.into_owned(), TextEncoding::Gbk))
        }
        None => {
            if let Ok(s) = utf8(bytes) {
                Ok((s, TextEncoding::Utf8))
            } else {
                let (text, _, bad) = encoding_rs::GBK.decode(bytes);
                if bad {
                    Err("neither UTF-8 nor GBK text".into())
                } else {
                    Ok((text.into_owned(), TextEncoding::Gbk))
                }
            }
        }
    }
}
