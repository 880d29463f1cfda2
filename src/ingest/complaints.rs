//! Hotline exports: CSV (UTF-8 or GBK, Chinese or English headers) or JSON lines, validated row
//! by row. A bad row is rejected with its line number, field and reason; good rows go on.

use crate::io::FormatError;
use crate::model::{Category, Complaint, ComplaintContact, Placement};
use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

/// The columns we read, with the header names we accept for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Field {
    Ticket,
    ReceivedAt,
    Category,
    Channel,
    Address,
    Lon,
    Lat,
    Status,
    Satisfaction,
    CallerName,
    CallerPhone,
    Content,
}

const FIELDS: [(Field, &str, &[&str]); 12] = [
    (
        Field::Ticket,
        "ticket_id",
        &["工单编号", "工单号", "ticket_id", "ticket"],
    ),
    (
        Field::ReceivedAt,
        "received_at",
        &["受理时间", "来电时间", "received_at", "time"],
    ),
    (
        Field::Category,
        "category",
        &["诉求类别", "类别", "category"],
    ),
    (Field::Channel, "channel", &["来源渠道", "渠道", "channel"]),
    (Field::Address, "address", &["诉求地址", "地址", "address"]),
    (Field::Lon, "lon", &["经度", "lon", "longitude"]),
    (Field::Lat, "lat", &["纬度", "lat", "latitude"]),
    (Field::Status, "status", &["办理状态", "状态", "status"]),
    (
        Field::Satisfaction,
        "satisfaction",
        &["满意度", "satisfaction"],
    ),
    (
        Field::CallerName,
        "caller_name",
        &["来电人", "姓名", "caller_name", "name"],
    ),
    (
        Field::CallerPhone,
        "caller_phone",
        &["联系电话", "电话", "caller_phone", "phone"],
    ),
    (Field::Content, "content", &["诉求内容", "内容", "content"]),
];

fn field_name(f: Field) -> &'static str {
    FIELDS
        .iter()
        .find(|(x, _, _)| *x == f)
        .map_or("?", |(_, n, _)| n)
}

/// Text encoding of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TextEncoding {
    Utf8,
    Gbk,
}

impl TextEncoding {
    fn encoding(self) -> &'static encoding_rs::Encoding {
        match self {
            TextEncoding::Utf8 => encoding_rs::UTF_8,
            TextEncoding::Gbk => encoding_rs::GBK,
        }
    }
}

/// The form of an export file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportForm {
    Csv,
    /// One JSON object a line.
    JsonLines,
}

/// One accepted row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub line: usize,
    pub complaint: Complaint,
    pub contact: ComplaintContact,
}

/// One rejected row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejected {
    pub line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<String>,
    pub field: &'static str,
    pub reason: String,
}

/// What a file held.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub rows: Vec<Row>,
    pub rejected: Vec<Rejected>,
    /// Rows repeating an earlier row of the same file exactly (skipped).
    pub repeated: usize,
    pub encoding: Option<TextEncoding>,
}

/// Qingdao's extent with a margin: coordinates outside are someone else's city (or swapped).
const LON: std::ops::RangeInclusive<f64> = 119.3..=121.6;
const LAT: std::ops::RangeInclusive<f64> = 35.3..=37.4;

fn parse_time(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t);
        }
    }
    ["%Y-%m-%d", "%Y/%m/%d"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

/// Decodes an export: UTF-8 when it is valid UTF-8 (with or without BOM), else GBK.
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
        None => match utf8(bytes) {
            Ok(s) => Ok((s, TextEncoding::Utf8)),
            Err(_) => {
                let (text, _, bad) = encoding_rs::GBK.decode(bytes);
                if bad {
                    Err("neither UTF-8 nor GBK text".into())
                } else {
                    Ok((text.into_owned(), TextEncoding::Gbk))
                }
            }
        },
    }
}

struct Validator {
    seen: HashMap<String, (usize, u64)>,
    out: Parsed,
}

fn fingerprint(c: &Complaint) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (
        c.received_at,
        c.category,
        &c.channel,
        &c.address,
        c.lon.map(f64::to_bits),
        c.lat.map(f64::to_bits),
        &c.status,
        &c.satisfaction,
    )
        .hash(&mut h);
    h.finish()
}

impl Validator {
    fn new() -> Validator {
        Validator {
            seen: HashMap::new(),
            out: Parsed::default(),
        }
    }

    fn row(&mut self, line: usize, get: impl Fn(Field) -> Option<String>) {
        let ticket = get(Field::Ticket).filter(|t| !t.is_empty());
        let reject = |field: Field, reason: String| Rejected {
            line,
            ticket_id: ticket.clone(),
            field: field_name(field),
            reason,
        };
        let result = (|| {
            let ticket_id = ticket
                .clone()
                .ok_or_else(|| reject(Field::Ticket, "empty ticket id".into()))?;
            if ticket_id.len() > 64 {
                return Err(reject(
                    Field::Ticket,
                    "ticket id longer than 64 characters".into(),
                ));
            }
            let raw_time = get(Field::ReceivedAt).unwrap_or_default();
            let received_at = parse_time(&raw_time)
                .filter(|t| (2000..=2100).contains(&chrono::Datelike::year(t)))
                .ok_or_else(|| {
                    reject(
                        Field::ReceivedAt,
                        format!("cannot read `{raw_time}` as a date and time"),
                    )
                })?;
            let raw_cat = get(Field::Category).unwrap_or_default();
            let category = Category::parse(&raw_cat)
                .ok_or_else(|| reject(Field::Category, format!("unknown category `{raw_cat}`")))?;
            let address = get(Field::Address).unwrap_or_default();
            if address.is_empty() {
                return Err(reject(Field::Address, "empty address".into()));
            }
            let coord = |f: Field| -> Result<Option<f64>, Rejected> {
                match get(f).filter(|s| !s.is_empty()) {
                    None => Ok(None),
                    Some(s) => s
                        .parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite())
                        .map(Some)
                        .ok_or_else(|| reject(f, format!("`{s}` is not a number"))),
                }
            };
            let (lon, lat) = (coord(Field::Lon)?, coord(Field::Lat)?);
            match (lon, lat) {
                (Some(x), Some(y)) => {
                    if !LON.contains(&x) || !LAT.contains(&y) {
                        return Err(reject(
                            Field::Lon,
                            format!("coordinates ({x}, {y}) are outside Qingdao"),
                        ));
                    }
                }
                (None, None) => {}
                (Some(_), None) => {
                    return Err(reject(
                        Field::Lat,
                        "longitude given without latitude".into(),
                    ))
                }
                (None, Some(_)) => {
                    return Err(reject(
                        Field::Lon,
                        "latitude given without longitude".into(),
                    ))
                }
            }
            let complaint = Complaint {
                ticket_id,
                received_at,
                category,
                channel: get(Field::Channel).unwrap_or_default(),
                address,
                lon,
                lat,
                status: get(Field::Status).unwrap_or_default(),
                satisfaction: get(Field::Satisfaction).filter(|s| !s.is_empty()),
                place: Placement::default(),
            };
            Ok(complaint)
        })();
        match result {
            Err(r) => self.out.rejected.push(r),
            Ok(complaint) => {
                let fp = fingerprint(&complaint);
                if let Some((first, seen)) = self.seen.get(&complaint.ticket_id) {
                    if *seen == fp {
                        self.out.repeated += 1;
                    } else {
                        self.out.rejected.push(reject(
                            Field::Ticket,
                            format!(
                                "duplicate ticket with different content (first at line {first})"
                            ),
                        ));
                    }
                    return;
                }
                self.seen.insert(complaint.ticket_id.clone(), (line, fp));
                let contact = ComplaintContact {
                    ticket_id: complaint.ticket_id.clone(),
                    caller_name: get(Field::CallerName).unwrap_or_default(),
                    caller_phone: get(Field::CallerPhone).unwrap_or_default(),
                    content: get(Field::Content).unwrap_or_default(),
                };
                self.out.rows.push(Row {
                    line,
                    complaint,
                    contact,
                });
            }
        }
    }
}

/// Reads a CSV export (text already decoded).
pub fn parse_csv(text: &str, source: &Path) -> Result<Parsed, FormatError> {
    parse_csv_from(text.as_bytes(), source)
}

/// Reads a CSV export from a reader of UTF-8 text, row by row (the text is never held whole).
pub fn parse_csv_from(text: impl std::io::Read, source: &Path) -> Result<Parsed, FormatError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text);
    let headers = reader
        .headers()
        .map_err(|e| FormatError::file(source, format!("cannot read the header line: {e}")))?
        .clone();
    let mut columns: HashMap<Field, usize> = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.trim().trim_start_matches('\u{feff}');
        if let Some((f, _, _)) = FIELDS.iter().find(|(_, _, names)| names.contains(&h)) {
            columns.entry(*f).or_insert(i);
        }
    }
    for required in [
        Field::Ticket,
        Field::ReceivedAt,
        Field::Category,
        Field::Address,
    ] {
        if !columns.contains_key(&required) {
            let names = FIELDS
                .iter()
                .find(|(f, _, _)| *f == required)
                .map(|x| x.2.join(" / "))
                .unwrap_or_default();
            return Err(FormatError {
                file: source.to_path_buf(),
                feature: Some(1),
                id: None,
                field: Some(field_name(required).into()),
                message: format!("missing column (expected a header named {names})"),
            });
        }
    }
    let mut v = Validator::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line() as usize);
                v.row(line, |f| {
                    columns
                        .get(&f)
                        .and_then(|i| record.get(*i))
                        .map(|s| s.trim().to_string())
                });
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                v.out.rejected.push(Rejected {
                    line,
                    ticket_id: None,
                    field: "row",
                    reason: format!("unreadable row: {e}"),
                });
            }
        }
    }
    Ok(v.out)
}

/// Reads JSON lines: one object a line, keys as the CSV headers (English or Chinese).
pub fn parse_json_lines(text: &str) -> Parsed {
    parse_json_lines_from(text.as_bytes(), Path::new("JSON lines"))
        .expect("reading a string fails only on invalid UTF-8, which a &str is not")
}

/// Reads JSON lines from a reader of UTF-8 text, line by line.
pub fn parse_json_lines_from(
    text: impl std::io::BufRead,
    source: &Path,
) -> Result<Parsed, FormatError> {
    let mut v = Validator::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.map_err(|e| {
            let mut err = FormatError::file(source, format!("cannot read: {e}"));
            err.feature = Some(i + 1);
            err
        })?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&line) {
            Ok(obj) => v.row(i + 1, |f| {
                let names = FIELDS
                    .iter()
                    .find(|(x, _, _)| *x == f)
                    .map(|x| x.2)
                    .unwrap_or(&[]);
                names
                    .iter()
                    .find_map(|n| obj.get(*n))
                    .and_then(|val| match val {
                        serde_json::Value::Null => None,
                        serde_json::Value::String(s) => Some(s.trim().to_string()),
                        other => Some(other.to_string()),
                    })
            }),
            Err(e) => v.out.rejected.push(Rejected {
                line: i + 1,
                ticket_id: None,
                field: "row",
                reason: format!("not a JSON object: {e}"),
            }),
        }
    }
    Ok(v.out)
}

/// Reads an export file, detecting its encoding unless one is forced.
pub fn read_file(path: &Path, forced: Option<TextEncoding>) -> Result<Parsed, FormatError> {
    read_export(path, path, forced, ExportForm::Csv)
}

/// Reads an export file in a streaming way, as the CLI and `POST /api/complaints` (which spools
/// the upload to a file first) both do: one pass checks the encoding strictly (UTF-8 when the
/// whole file is valid UTF-8, with or without BOM, else GBK when it is valid GBK), a second
/// decodes it on the fly into the row reader. Memory stays that of the rows, not of the text.
/// `source` names the file in errors (`request body` for an upload).
pub fn read_export(
    path: &Path,
    source: &Path,
    forced: Option<TextEncoding>,
    form: ExportForm,
) -> Result<Parsed, FormatError> {
    let open = || {
        std::fs::File::open(path)
            .map(|f| std::io::BufReader::with_capacity(1 << 16, f))
            .map_err(|e| FormatError::file(source, format!("cannot read: {e}")))
    };
    let enc = match forced {
        Some(e) => {
            if let Some(at) = first_malformed(open()?, e, source)? {
                let hint = match e {
                    TextEncoding::Utf8 => "; try --encoding gbk",
                    TextEncoding::Gbk => "",
                };
                return Err(FormatError::file(
                    source,
                    format!("not valid {} (at byte {at}){hint}", e.encoding().name()),
                ));
            }
            e
        }
        None => {
            if first_malformed(open()?, TextEncoding::Utf8, source)?.is_none() {
                TextEncoding::Utf8
            } else if first_malformed(open()?, TextEncoding::Gbk, source)?.is_none() {
                TextEncoding::Gbk
            } else {
                return Err(FormatError::file(source, "neither UTF-8 nor GBK text"));
            }
        }
    };
    let text = std::io::BufReader::with_capacity(
        1 << 16,
        encoding_rs_io::DecodeReaderBytesBuilder::new()
            .encoding(Some(enc.encoding()))
            .strip_bom(true)
            .build(open()?),
    );
    let mut parsed = match form {
        ExportForm::Csv => parse_csv_from(text, source)?,
        ExportForm::JsonLines => parse_json_lines_from(text, source)?,
    };
    parsed.encoding = Some(enc);
    Ok(parsed)
}

/// The byte offset of the first malformed sequence of `enc` in the text, if any; read through
/// once in blocks, a UTF-8 byte-order mark allowed.
fn first_malformed(
    mut r: impl std::io::Read,
    enc: TextEncoding,
    source: &Path,
) -> Result<Option<u64>, FormatError> {
    use encoding_rs::DecoderResult;
    let mut decoder = enc.encoding().new_decoder_with_bom_removal();
    let mut buf = vec![0u8; 1 << 16];
    let mut out = vec![0u8; 3 * buf.len() + 16];
    let mut offset = 0u64;
    loop {
        let n = r
            .read(&mut buf)
            .map_err(|e| FormatError::file(source, format!("cannot read: {e}")))?;
        let last = n == 0;
        let mut src = &buf[..n];
        loop {
            let (result, read, _) = decoder.decode_to_utf8_without_replacement(src, &mut out, last);
            match result {
                DecoderResult::InputEmpty => break,
                DecoderResult::OutputFull => src = &src[read..],
                DecoderResult::Malformed(bad, after) => {
                    let at = offset + (n - src.len() + read) as u64;
                    return Ok(Some(at.saturating_sub(u64::from(bad) + u64::from(after))));
                }
            }
        }
        if last {
            return Ok(None);
        }
        offset += n as u64;
    }
}

/// Does this CSV look like a hotline export (by its header)?
pub fn looks_like_export(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path).map(|b| b.into_iter().take(4096).collect::<Vec<u8>>())
    else {
        return false;
    };
    let head = match std::str::from_utf8(&bytes) {
        Ok(s) => s.to_string(),
        Err(e) => {
            let valid = &bytes[..e.valid_up_to()];
            if e.error_len().is_none() {
                String::from_utf8_lossy(valid).into_owned()
            } else {
                encoding_rs::GBK.decode(&bytes).0.into_owned()
            }
        }
    };
    let first = head.lines().next().unwrap_or_default();
    FIELDS[0].2.iter().any(|n| {
        first
            .split(',')
            .any(|h| h.trim().trim_start_matches('\u{feff}') == *n)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "工单编号,受理时间,诉求类别,来源渠道,诉求地址,经度,纬度,办理状态,满意度,来电人,联系电话,诉求内容\n";

    #[test]
    fn bad_rows_are_rejected_with_line_field_and_reason_and_good_rows_kept() {
        let text = format!(
            "{HEAD}\
             1,2023-05-01 10:00:00,消防通道,12345热线,金秋桂园5号楼,,,已办结,满意,王伟,13800000000,占用\n\
             2,yesterday,消防通道,12345热线,金秋桂园5号楼,,,已办结,,王伟,1,x\n\
             3,2023-05-01 10:00:00,噪音,12345热线,金秋桂园5号楼,,,已办结,,王伟,1,x\n\
             4,2023-05-01 10:00:00,绿化,12345热线,,,,已办结,,王伟,1,x\n\
             5,2023-05-01 10:00:00,绿化,12345热线,某小区,116.4,39.9,已办结,,王伟,1,x\n\
             1,2023-05-01 10:00:00,消防通道,12345热线,金秋桂园5号楼,,,已办结,满意,王伟,13800000000,占用\n\
             1,2023-06-01 10:00:00,消防通道,12345热线,金秋桂园6号楼,,,已办结,满意,王伟,13800000000,占用\n"
        );
        let p = parse_csv(&text, Path::new("x.csv")).unwrap();
        assert_eq!(p.rows.len(), 1);
        assert_eq!(p.repeated, 1);
        let r: Vec<(usize, &str)> = p.rejected.iter().map(|r| (r.line, r.field)).collect();
        assert_eq!(
            r,
            vec![
                (3, "received_at"),
                (4, "category"),
                (5, "address"),
                (6, "lon"),
                (8, "ticket_id")
            ]
        );
        assert!(p.rejected[4].reason.contains("line 2"));
        assert_eq!(p.rows[0].contact.caller_phone, "13800000000");
    }

    #[test]
    fn gbk_is_detected() {
        let text = format!("{HEAD}1,2023-05-01 10:00,绿化,微信,金秋桂园,,,已办结,,李,1,x\n");
        let (bytes, _, _) = encoding_rs::GBK.encode(&text);
        let (decoded, enc) = decode(&bytes, None).unwrap();
        assert_eq!(enc, TextEncoding::Gbk);
        assert_eq!(decoded, text);
    }

    #[test]
    fn json_lines_take_english_keys() {
        let p = parse_json_lines(
            r#"{"ticket_id":"a1","received_at":"2023-01-02 03:04:05","category":"fire_lane","address":"金秋桂园","lon":120.4,"lat":36.2}
not json"#,
        );
        assert_eq!(p.rows.len(), 1);
        assert_eq!(p.rows[0].complaint.lon, Some(120.4));
        assert_eq!(p.rejected[0].line, 2);
    }
}
