//! Hotline exports: CSV (UTF-8 or GBK, Chinese or English headers) or JSON lines, validated row
//! by row. A bad row is rejected with its line number, field and reason; good rows go on.

pub use crate::io::text::{decode, TextEncoding};
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
    ClosedAt,
    RespondedAt,
    CallerName,
    CallerPhone,
    Content,
}

const FIELDS: [(Field, &str, &[&str]); 14] = [
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
        Field::ClosedAt,
        "closed_at",
        &["办结时间", "结案时间", "办结日期", "完成时间", "closed_at"],
    ),
    (
        Field::RespondedAt,
        "responded_at",
        &[
            "首次响应时间",
            "响应时间",
            "首次联系时间",
            "签收时间",
            "responded_at",
        ],
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

/// The form of an export file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportForm {
    Csv,
    /// One JSON object a line.
    JsonLines,
    /// A spreadsheet workbook (XLSX, XLS, XLSB, ODS), its first sheet, read by calamine.
    Workbook,
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
    /// How many rows the mapping's category table, category paths and keyword rules placed,
    /// by what placed them.
    pub category_hits: std::collections::BTreeMap<String, usize>,
}

/// How a hotline's own export reads: the `[complaints]` table of a mapping file.
///
/// ```toml
/// [complaints]
/// ticket_id = "工单号"              # our field = the export's header
/// received_at = "来电时间"
/// category = "问题分类"
/// address = "事发地址"
/// [complaints.categories]          # the hotline's category → ours
/// "城乡建设-物业管理-消防通道" = "fire_lane"
/// [[complaints.rules]]             # a category that says only 物业管理: the text decides
/// when = "物业管理"
/// keywords = ["飞线", "充电"]
/// category = "flying_wire"
/// ```
#[derive(Debug, Clone, Default)]
pub struct ExportMapping {
    headers: HashMap<Field, String>,
    categories: HashMap<String, Category>,
    rules: Vec<CategoryRule>,
}

#[derive(Debug, Clone)]
struct CategoryRule {
    /// The export's category this rule applies to (None: any that nothing else maps).
    when: Option<String>,
    keywords: Vec<String>,
    category: Category,
}

/// A mapping file's error at `field`.
fn mapping_error(file: &Path, field: String, message: String) -> FormatError {
    let mut e = FormatError::file(file, message);
    e.field = Some(field);
    e
}

/// Our category named by a mapping value at `at`.
fn mapped_category(v: &toml::Value, at: String, file: &Path) -> Result<Category, FormatError> {
    let s = v.as_str().unwrap_or_default();
    Category::parse(s).ok_or_else(|| {
        mapping_error(
            file,
            at,
            format!(
                "`{s}` is not one of our categories ({})",
                Category::ALL
                    .iter()
                    .map(|c| c.code())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })
}

/// The `i`th entry of `[[complaints.rules]]`.
fn mapped_rule(r: &toml::Value, i: usize, file: &Path) -> Result<CategoryRule, FormatError> {
    let err = |field: String, message: String| mapping_error(file, field, message);
    let at = format!("complaints.rules[{i}]");
    let t = r.as_table().ok_or_else(|| {
        err(
            at.clone(),
            "a rule is a table: keywords = [...], category = \"...\"".into(),
        )
    })?;
    let keywords: Vec<String> = t
        .get("keywords")
        .and_then(toml::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if keywords.is_empty() {
        return Err(err(at, "a rule needs keywords = [\"…\", …]".into()));
    }
    let c = t
        .get("category")
        .ok_or_else(|| err(at.clone(), "a rule needs a category".into()))?;
    Ok(CategoryRule {
        when: t
            .get("when")
            .and_then(toml::Value::as_str)
            .map(str::to_string),
        keywords,
        category: mapped_category(c, at, file)?,
    })
}

/// Our field named by the key `ours` of `[complaints]`.
fn mapped_field(ours: &str, file: &Path) -> Result<Field, FormatError> {
    let (f, _, _) = FIELDS.iter().find(|(_, n, _)| *n == ours).ok_or_else(|| {
        mapping_error(
            file,
            format!("complaints.{ours}"),
            format!(
                "`{ours}` is not a field of complaints (its fields: {}, and the tables categories and rules)",
                FIELDS.iter().map(|x| x.1).collect::<Vec<_>>().join(", ")
            ),
        )
    })?;
    Ok(*f)
}

impl ExportMapping {
    /// Reads the `[complaints]` table of a mapping file (`file` names it in errors).
    pub fn from_table(table: &toml::Table, file: &Path) -> Result<ExportMapping, FormatError> {
        let mut m = ExportMapping::default();
        for (key, value) in table {
            match (key.as_str(), value) {
                ("categories", toml::Value::Table(t)) => {
                    for (theirs, ours) in t {
                        let at = format!("complaints.categories.{theirs}");
                        let c = mapped_category(ours, at, file)?;
                        m.categories.insert(theirs.trim().to_string(), c);
                    }
                }
                ("rules", toml::Value::Array(rules)) => {
                    for (i, r) in rules.iter().enumerate() {
                        m.rules.push(mapped_rule(r, i, file)?);
                    }
                }
                (ours, toml::Value::String(header)) => {
                    let f = mapped_field(ours, file)?;
                    m.headers.insert(f, header.trim().to_string());
                }
                (other, _) => {
                    return Err(mapping_error(
                        file,
                        format!("complaints.{other}"),
                        "expected a header name in quotes, or the tables categories and rules"
                            .into(),
                    ))
                }
            }
        }
        Ok(m)
    }

    /// Our category for the export's own, and what decided it (for the report): the table,
    /// our own names, the last part of a category path (`城乡建设-物业管理-消防通道`), then the
    /// rules over the complaint's text.
    fn category(&self, raw: &str, text: &str) -> Option<(Category, Option<String>)> {
        let raw = raw.trim();
        if let Some(c) = self.categories.get(raw) {
            return Some((*c, Some("category table".into())));
        }
        if let Some(c) = Category::parse(raw) {
            return Some((c, None));
        }
        if let Some(c) = raw
            .rsplit(['-', '/', '>', '|'])
            .next()
            .and_then(Category::parse)
        {
            return Some((c, Some("category path".into())));
        }
        self.rules
            .iter()
            .find(|r| {
                r.when.as_deref().is_none_or(|w| w.trim() == raw)
                    && r.keywords.iter().any(|k| text.contains(k.as_str()))
            })
            .map(|r| {
                (
                    r.category,
                    Some(format!(
                        "rule {} -> {}",
                        r.keywords.join("/"),
                        r.category.code()
                    )),
                )
            })
    }

    /// The export's header for one of our fields, if the mapping names one.
    fn header(&self, f: Field) -> Option<&str> {
        self.headers.get(&f).map(String::as_str)
    }
}

/// Longitude and latitude at all (the city's own extent is checked at import, from its data:
/// `Atlas::import_complaints`).
const LON: std::ops::RangeInclusive<f64> = -180.0..=180.0;
const LAT: std::ops::RangeInclusive<f64> = -90.0..=90.0;

/// `YYYY-MM-DD HH:MM:SS`, the form of nearly every export's times, read without a format
/// string (chrono's parser reads its format string anew for each value: a tenth of a 1.1 M-row
/// import's time); anything else is left to [`parse_time`]'s forms.
fn iso_seconds(s: &str) -> Option<NaiveDateTime> {
    let b = s.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let n = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |a, &d| {
            d.is_ascii_digit().then(|| a * 10 + u32::from(d - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(i32::try_from(n(0..4)?).ok()?, n(5..7)?, n(8..10)?)?.and_hms_opt(
        n(11..13)?,
        n(14..16)?,
        n(17..19)?,
    )
}

fn parse_time(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    if let Some(t) = iso_seconds(s) {
        return Some(t);
    }
    // An Excel serial date (days since 1899-12-30, the fraction the time of day), as a
    // workbook's date cell or a CSV saved from one gives it.
    if let Ok(serial) = s.parse::<f64>() {
        if (20_000.0..80_000.0).contains(&serial) {
            let secs = (serial * 86_400.0).round() as i64;
            return NaiveDate::from_ymd_opt(1899, 12, 30)?
                .and_hms_opt(0, 0, 0)?
                .checked_add_signed(chrono::Duration::seconds(secs));
        }
        return None;
    }
    // Chinese forms: 2023年5月1日 10时, 2023年5月1日 10:00, 2023年05月01日10时30分.
    if s.contains('年') {
        let t = s
            .replace(['年', '月'], "-")
            .replace('日', " ")
            .replace(['时', '分'], ":")
            .replace('秒', "");
        let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
        let t = t.trim_end_matches(':');
        let full = match t.matches(':').count() {
            0 if t.contains(' ') => format!("{t}:00:00"),
            1 => format!("{t}:00"),
            _ => t.to_string(),
        };
        if let Ok(v) = NaiveDateTime::parse_from_str(&full, "%Y-%m-%d %H:%M:%S") {
            return Some(v);
        }
        return NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0));
    }
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

struct Validator<'m> {
    seen: HashMap<String, (usize, u64)>,
    out: Parsed,
    mapping: Option<&'m ExportMapping>,
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
        c.closed_at,
        c.responded_at,
    )
        .hash(&mut h);
    h.finish()
}

/// Longitude and latitude, both or neither, each a number in range.
fn coordinates(
    get: &impl Fn(Field) -> Option<String>,
    reject: &impl Fn(Field, String) -> Rejected,
) -> Result<(Option<f64>, Option<f64>), Rejected> {
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
                    format!("coordinates ({x}, {y}) are not longitude/latitude"),
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
    Ok((lon, lat))
}

/// A closing time is optional; one that reads as nothing is refused like any date.
/// A later time of the ticket (`field`: closed or first responded), at or after receiving.
fn later_time(
    field: Field,
    get: &impl Fn(Field) -> Option<String>,
    reject: &impl Fn(Field, String) -> Rejected,
    received_at: NaiveDateTime,
) -> Result<Option<NaiveDateTime>, Rejected> {
    Ok(match get(field).filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => Some(
            parse_time(&raw)
                .filter(|t| *t >= received_at)
                .ok_or_else(|| {
                    reject(
                        field,
                        format!(
                            "cannot read `{raw}` as a date and time at or after the time received"
                        ),
                    )
                })?,
        ),
    })
}

impl<'m> Validator<'m> {
    fn new(mapping: Option<&'m ExportMapping>) -> Validator<'m> {
        Validator {
            seen: HashMap::new(),
            out: Parsed::default(),
            mapping,
        }
    }

    /// A row's complaint, with how its category was decided, or why it is refused.
    fn complaint(
        &self,
        get: &impl Fn(Field) -> Option<String>,
        reject: &impl Fn(Field, String) -> Rejected,
        ticket: Option<String>,
    ) -> Result<(Complaint, Option<String>), Rejected> {
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
        let closed_at = later_time(Field::ClosedAt, get, reject, received_at)?;
        let responded_at = later_time(Field::RespondedAt, get, reject, received_at)?;
        let raw_cat = get(Field::Category).unwrap_or_default();
        let (category, decided) = match self.mapping {
            Some(m) => m.category(&raw_cat, &get(Field::Content).unwrap_or_default()),
            None => Category::parse(&raw_cat).map(|c| (c, None)),
        }
        .ok_or_else(|| reject(Field::Category, format!("unknown category `{raw_cat}`")))?;
        let address = get(Field::Address).unwrap_or_default();
        if address.is_empty() {
            return Err(reject(Field::Address, "empty address".into()));
        }
        let (lon, lat) = coordinates(get, reject)?;
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
            closed_at,
            responded_at,
            place: Placement::default(),
        };
        Ok((complaint, decided))
    }

    fn row(&mut self, line: usize, get: impl Fn(Field) -> Option<String>) {
        let ticket = get(Field::Ticket).filter(|t| !t.is_empty());
        let reject = |field: Field, reason: String| Rejected {
            line,
            ticket_id: ticket.clone(),
            field: field_name(field),
            reason,
        };
        let result = self.complaint(&get, &reject, ticket.clone());
        match result {
            Err(r) => self.out.rejected.push(r),
            Ok((complaint, decided)) => {
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
                if let Some(d) = decided {
                    *self.out.category_hits.entry(d).or_default() += 1;
                }
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
    parse_csv_from(text.as_bytes(), source, None)
}

/// Which column holds each of our fields: the mapping's header first, else our own names.
/// `line` is the header's line (a workbook's header may sit below a title).
fn columns_of(
    headers: &[String],
    mapping: Option<&ExportMapping>,
    source: &Path,
    line: usize,
) -> Result<HashMap<Field, usize>, FormatError> {
    let clean = |h: &str| h.trim().trim_start_matches('\u{feff}').to_string();
    let headers: Vec<String> = headers.iter().map(|h| clean(h)).collect();
    let mut columns: HashMap<Field, usize> = HashMap::new();
    if let Some(m) = mapping {
        for (f, ours, _) in FIELDS {
            if let Some(h) = m.header(f) {
                let i = headers.iter().position(|x| x == h).ok_or_else(|| FormatError {
                    file: source.to_path_buf(),
                    feature: Some(line),
                    id: None,
                    field: Some(h.to_string()),
                    message: format!(
                        "the mapping reads `{ours}` from `{h}`, which the export does not have (its headers: {})",
                        headers.join(", ")
                    ),
                })?;
                columns.insert(f, i);
            }
        }
    }
    for (i, h) in headers.iter().enumerate() {
        if let Some((f, _, _)) = FIELDS
            .iter()
            .find(|(_, _, names)| names.contains(&h.as_str()))
        {
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
                feature: Some(line),
                id: None,
                field: Some(field_name(required).into()),
                message: format!(
                    "missing column (expected a header named {names}, or one the mapping's [complaints] names)"
                ),
            });
        }
    }
    Ok(columns)
}

/// Reads a CSV export from a reader of UTF-8 text, row by row (the text is never held whole).
pub fn parse_csv_from(
    text: impl std::io::Read,
    source: &Path,
    mapping: Option<&ExportMapping>,
) -> Result<Parsed, FormatError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| FormatError::file(source, format!("cannot read the header line: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    let columns = columns_of(&headers, mapping, source, 1)?;
    let mut v = Validator::new(mapping);
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
///
/// # Panics
/// Never: reading fails only on invalid UTF-8, which a `&str` is not.
pub fn parse_json_lines(text: &str) -> Parsed {
    parse_json_lines_from(text.as_bytes(), Path::new("JSON lines"))
        .expect("reading a string fails only on invalid UTF-8, which a &str is not")
}

/// Reads JSON lines from a reader of UTF-8 text, line by line.
pub fn parse_json_lines_from(
    text: impl std::io::BufRead,
    source: &Path,
) -> Result<Parsed, FormatError> {
    let mut v = Validator::new(None);
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
                    .map_or(&[][..], |x| x.2);
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
    read_file_mapped(path, forced, None)
}

/// Whether a file is a spreadsheet workbook (read by calamine).
fn is_workbook(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        ["xlsx", "xlsm", "xlsb", "xls", "ods"].contains(&e.to_ascii_lowercase().as_str())
    })
}

/// Reads an export — CSV (UTF-8, GBK or GB18030) or a workbook — with the headers, category
/// table and rules of a mapping file's `[complaints]`.
pub fn read_file_mapped(
    path: &Path,
    forced: Option<TextEncoding>,
    mapping: Option<&ExportMapping>,
) -> Result<Parsed, FormatError> {
    if is_workbook(path) {
        read_workbook(path, path, mapping)
    } else {
        read_export(path, path, forced, ExportForm::Csv, mapping)
    }
}

/// A workbook cell as text: dates as their Excel serial (read by [`parse_time`]), whole numbers
/// without a fraction.
fn cell_text(d: &calamine::Data) -> String {
    use calamine::Data;
    match d {
        Data::Empty | Data::Error(_) => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.trim().to_string(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(t) => t.as_f64().to_string(),
    }
}

/// Reads the first sheet of a workbook: its header is the first of its first 20 rows that has
/// a ticket column (ours, or the mapping's), so title rows above it are passed over; line
/// numbers are the sheet's row numbers.
/// `source` names the workbook in errors (`path` may be an upload's temporary file, named by
/// its extension).
fn read_workbook(
    file: &Path,
    path: &Path,
    mapping: Option<&ExportMapping>,
) -> Result<Parsed, FormatError> {
    use calamine::Reader;
    let mut wb = calamine::open_workbook_auto(file)
        .map_err(|e| FormatError::file(path, format!("not a readable workbook: {e}")))?;
    let names = wb.sheet_names();
    let sheet = names
        .first()
        .ok_or_else(|| FormatError::file(path, "the workbook has no sheet"))?;
    let range = wb
        .worksheet_range(sheet)
        .map_err(|e| FormatError::file(path, format!("sheet `{sheet}` cannot be read: {e}")))?;
    if range.is_empty() {
        return Err(FormatError::file(path, format!("sheet `{sheet}` is empty")));
    }
    let first_row = range.start().map_or(0, |(r, _)| r as usize);
    let ticket_names: Vec<&str> = FIELDS[0]
        .2
        .iter()
        .copied()
        .chain(mapping.and_then(|m| m.header(Field::Ticket)))
        .collect();
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| r.iter().map(cell_text).collect())
        .collect();
    let header_at = rows
        .iter()
        .take(20)
        .position(|r| r.iter().any(|c| ticket_names.contains(&c.as_str())))
        .ok_or_else(|| {
            FormatError::file(
                path,
                format!(
                    "sheet `{sheet}`: no header row with a ticket column ({}) in its first 20 rows",
                    ticket_names.join(" / ")
                ),
            )
        })?;
    let line_of = |i: usize| first_row + i + 1;
    let columns = columns_of(&rows[header_at], mapping, path, line_of(header_at))?;
    let mut v = Validator::new(mapping);
    for (i, r) in rows.iter().enumerate().skip(header_at + 1) {
        if r.iter().all(String::is_empty) {
            continue;
        }
        v.row(line_of(i), |f| {
            columns
                .get(&f)
                .and_then(|c| r.get(*c))
                .map(|s| s.trim().to_string())
        });
    }
    Ok(v.out)
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
    mapping: Option<&ExportMapping>,
) -> Result<Parsed, FormatError> {
    let json = match form {
        ExportForm::Workbook => return read_workbook(path, source, mapping),
        ExportForm::Csv => false,
        ExportForm::JsonLines => true,
    };
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
    let mut parsed = if json {
        parse_json_lines_from(text, source)?
    } else {
        parse_csv_from(text, source, mapping)?
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

/// Does this file look like a hotline export: a workbook, or a CSV whose header has a ticket
/// column (ours, or `ticket`, the mapping's)?
pub fn looks_like_export_with(path: &Path, ticket: Option<&str>) -> bool {
    if is_workbook(path) {
        return true;
    }
    let Some(ticket) = ticket else {
        return looks_like_export(path);
    };
    looks_like_export(path)
        || head_of(path).is_some_and(|head| {
            let text = String::from_utf8(head.clone())
                .unwrap_or_else(|_| encoding_rs::GBK.decode(&head).0.into_owned());
            text.lines().next().is_some_and(|l| {
                l.split(',')
                    .any(|h| h.trim().trim_start_matches('\u{feff}') == ticket)
            })
        })
}

/// The ticket header a mapping names, if any.
#[must_use]
pub fn ticket_header(mapping: &ExportMapping) -> Option<&str> {
    mapping.header(Field::Ticket)
}

/// The first 4 KiB of a file (where its header is), without reading the rest.
fn head_of(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(4096);
    std::fs::File::open(path)
        .and_then(|f| f.take(4096).read_to_end(&mut head))
        .ok()?;
    Some(head)
}

/// Does this CSV look like a hotline export (by its header)?
pub fn looks_like_export(path: &Path) -> bool {
    let Some(bytes) = head_of(path) else {
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

    /// The fast reading of `YYYY-MM-DD HH:MM:SS` gives what chrono's does, and leaves what it
    /// cannot read (other forms, impossible dates, a leap second) to the general path.
    #[test]
    fn iso_times_read_as_chrono_reads_them() {
        for s in [
            "2023-07-01 08:05:09",
            "2020-02-29 23:59:59",
            "2021-02-29 10:00:00",
            "2023-13-01 10:00:00",
            "2023-07-01 24:00:00",
            "2023-07-01 23:59:60",
            "2023-07-01T08:05:09",
            "2023-7-01 08:05:09",
            "2023-07-01 08:05:0x",
            "２０２３-07-01 08:05:09",
        ] {
            let fast = super::iso_seconds(s);
            if fast.is_some() {
                assert_eq!(
                    fast,
                    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok(),
                    "{s}"
                );
            }
            assert_eq!(
                fast.is_some(),
                ["2023-07-01 08:05:09", "2020-02-29 23:59:59"].contains(&s),
                "{s}"
            );
        }
    }
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
             5,2023-05-01 10:00:00,绿化,12345热线,某小区,39.9,116.4,已办结,,王伟,1,x\n\
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

    #[test]
    fn dates_in_the_forms_exports_use() {
        let at = |y, m, d, h, mi| {
            NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .and_hms_opt(h, mi, 0)
                .unwrap()
        };
        for (text, want) in [
            ("2023-05-01 10:00:00", at(2023, 5, 1, 10, 0)),
            ("2023/5/1 10:00", at(2023, 5, 1, 10, 0)),
            ("2023年5月1日 10时", at(2023, 5, 1, 10, 0)),
            ("2023年05月01日10时30分", at(2023, 5, 1, 10, 30)),
            ("2023年5月1日 10:30", at(2023, 5, 1, 10, 30)),
            ("2023年5月1日", at(2023, 5, 1, 0, 0)),
            // Excel serials: 45047 is 2023-05-01; .4375 is 10:30.
            ("45047.4375", at(2023, 5, 1, 10, 30)),
            ("45047", at(2023, 5, 1, 0, 0)),
        ] {
            assert_eq!(parse_time(text), Some(want), "{text}");
        }
        for bad in ["去年五月", "12", "2023年13月1日", ""] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_export_mapping_maps_headers_paths_tables_and_rules() {
        let table: toml::Table = toml::from_str(
            "ticket_id = \"工单号\"\nreceived_at = \"来电时间\"\ncategory = \"问题分类\"\naddress = \"事发地址\"\ncontent = \"诉求描述\"\n\
             [categories]\n\"城乡建设-物业管理-消防通道\" = \"fire_lane\"\n\
             [[rules]]\nwhen = \"物业管理\"\nkeywords = [\"飞线\"]\ncategory = \"flying_wire\"\n",
        )
        .unwrap();
        let m = ExportMapping::from_table(&table, Path::new("m.toml")).unwrap();
        let text = "工单号,来电时间,问题分类,事发地址,诉求描述\n\
                    a,2023/5/1 10:00,城乡建设-物业管理-消防通道,金秋桂园,x\n\
                    b,2023/5/1 10:00,城乡建设-物业管理-绿化,金秋桂园,x\n\
                    c,2023/5/1 10:00,物业管理,金秋桂园,有人飞线充电\n\
                    d,2023/5/1 10:00,物业管理,金秋桂园,别的事\n";
        let p = parse_csv_from(text.as_bytes(), Path::new("x.csv"), Some(&m)).unwrap();
        let cats: Vec<Category> = p.rows.iter().map(|r| r.complaint.category).collect();
        assert_eq!(
            cats,
            vec![Category::FireLane, Category::Greening, Category::FlyingWire]
        );
        assert_eq!(p.rejected.len(), 1);
        assert_eq!((p.rejected[0].line, p.rejected[0].field), (5, "category"));
        assert_eq!(p.category_hits.values().sum::<usize>(), 3);
        // A mapped header the export lacks is named.
        let e = parse_csv_from("工单号,来电时间\n".as_bytes(), Path::new("x.csv"), Some(&m))
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("问题分类"), "{e}");
        let bad: toml::Table = toml::from_str("ticket = \"工单号\"").unwrap();
        assert!(ExportMapping::from_table(&bad, Path::new("m.toml")).is_err());
    }
}
