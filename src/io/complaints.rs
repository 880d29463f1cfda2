//! The embedded store's complaint files: `complaints*.csv` (the public part of each complaint
//! and where it was placed) and `contacts*.csv` (callers' names, phones and free text: written
//! on import, never read by the server).

use super::FormatError;
use crate::analytics::Fact;
use crate::model::{Category, Complaint, ComplaintContact, MatchMethod, Month, Placement};
use std::io::Write;
use std::path::Path;

pub const COMPLAINT_HEADER: [&str; 14] = [
    "ticket_id",
    "received_at",
    "category",
    "channel",
    "address",
    "lon",
    "lat",
    "status",
    "satisfaction",
    "compound_id",
    "building_id",
    "unit_id",
    "match_method",
    "match_note",
];

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// Writes `base` (an existing complaint file, copied as it is) followed by `rows`, through a
/// temporary file that is synced and renamed into place.
pub fn write_complaints(
    path: &Path,
    base: Option<&Path>,
    rows: &[Complaint],
) -> Result<(), FormatError> {
    let err = |e: &dyn std::fmt::Display| FormatError::file(path, format!("cannot write: {e}"));
    let tmp = path.with_extension("csv.tmp");
    let mut file = std::io::BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(&tmp).map_err(|e| err(&e))?,
    );
    match base {
        Some(b) => {
            let mut src = std::fs::File::open(b).map_err(|e| err(&e))?;
            std::io::copy(&mut src, &mut file).map_err(|e| err(&e))?;
        }
        None => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(COMPLAINT_HEADER).map_err(|e| err(&e))?;
            file.write_all(&w.into_inner().map_err(|e| err(&e))?)
                .map_err(|e| err(&e))?;
        }
    }
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(file);
    for c in rows {
        w.write_record([
            c.ticket_id.as_str(),
            &c.received_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            c.category.code(),
            &c.channel,
            &c.address,
            &opt(c.lon),
            &opt(c.lat),
            &c.status,
            c.satisfaction.as_deref().unwrap_or_default(),
            &opt(c.place.compound_id),
            &opt(c.place.building_id),
            &opt(c.place.unit_id),
            c.place.method.code(),
            c.place.note.as_deref().unwrap_or_default(),
        ])
        .map_err(|e| err(&e))?;
    }
    let file = w.into_inner().map_err(|e| err(&e))?;
    let file = file.into_inner().map_err(|e| err(&e))?;
    file.sync_all().map_err(|e| err(&e))?;
    std::fs::rename(&tmp, path).map_err(|e| err(&e))
}

/// Appends contacts to a copy of `base`, like [`write_complaints`].
pub fn write_contacts(
    path: &Path,
    base: Option<&Path>,
    rows: &[ComplaintContact],
) -> Result<(), FormatError> {
    let err = |e: &dyn std::fmt::Display| FormatError::file(path, format!("cannot write: {e}"));
    let tmp = path.with_extension("csv.tmp");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(|e| err(&e))?);
    if let Some(b) = base {
        let mut src = std::fs::File::open(b).map_err(|e| err(&e))?;
        std::io::copy(&mut src, &mut file).map_err(|e| err(&e))?;
    } else {
        file.write_all(b"ticket_id,caller_name,caller_phone,content\n")
            .map_err(|e| err(&e))?;
    }
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(file);
    for c in rows {
        w.write_record([&c.ticket_id, &c.caller_name, &c.caller_phone, &c.content])
            .map_err(|e| err(&e))?;
    }
    let file = w
        .into_inner()
        .map_err(|e| err(&e))?
        .into_inner()
        .map_err(|e| err(&e))?;
    file.sync_all().map_err(|e| err(&e))?;
    std::fs::rename(&tmp, path).map_err(|e| err(&e))
}

fn bad(path: &Path, line: u64, field: &str, msg: impl Into<String>) -> FormatError {
    FormatError {
        file: path.to_path_buf(),
        feature: Some(line as usize),
        id: None,
        field: Some(field.into()),
        message: msg.into(),
    }
}

/// An empty field is `None`; anything else must parse.
fn optional<T: std::str::FromStr>(
    s: &str,
    err: impl FnOnce() -> FormatError,
) -> Result<Option<T>, FormatError> {
    if s.is_empty() {
        Ok(None)
    } else {
        s.parse().map(Some).map_err(|_| err())
    }
}

/// Reads every stored complaint, calling `each` with it.
pub fn read_complaints(path: &Path, mut each: impl FnMut(Complaint)) -> Result<(), FormatError> {
    let mut r = csv::Reader::from_path(path)
        .map_err(|e| FormatError::file(path, format!("cannot open: {e}")))?;
    let mut rec = csv::StringRecord::new();
    loop {
        match r.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                return Err(FormatError::file(
                    path,
                    format!("unreadable (truncated or corrupt?): {e}"),
                ))
            }
        }
        let line = rec.position().map_or(0, |p| p.line());
        if rec.len() != COMPLAINT_HEADER.len() {
            return Err(bad(
                path,
                line,
                "row",
                format!("{} fields, expected {}", rec.len(), COMPLAINT_HEADER.len()),
            ));
        }
        let id = |i: usize, f: &str| optional::<i64>(&rec[i], || bad(path, line, f, "not an id"));
        let num =
            |i: usize, f: &str| optional::<f64>(&rec[i], || bad(path, line, f, "not a number"));
        let received_at = chrono::NaiveDateTime::parse_from_str(&rec[1], "%Y-%m-%d %H:%M:%S")
            .map_err(|_| bad(path, line, "received_at", "not a date and time"))?;
        let category = Category::parse(&rec[2])
            .ok_or_else(|| bad(path, line, "category", "unknown category"))?;
        let method = MatchMethod::parse(&rec[12])
            .ok_or_else(|| bad(path, line, "match_method", "unknown method"))?;
        each(Complaint {
            ticket_id: rec[0].to_string(),
            received_at,
            category,
            channel: rec[3].to_string(),
            address: rec[4].to_string(),
            lon: num(5, "lon")?,
            lat: num(6, "lat")?,
            status: rec[7].to_string(),
            satisfaction: Some(rec[8].to_string()).filter(|s| !s.is_empty()),
            place: Placement {
                compound_id: id(9, "compound_id")?,
                building_id: id(10, "building_id")?,
                unit_id: id(11, "unit_id")?,
                method,
                note: Some(rec[13].to_string()).filter(|s| !s.is_empty()),
            },
        });
    }
    Ok(())
}

/// The statistics' view of a stored complaint.
pub fn fact(c: &Complaint) -> Fact {
    Fact {
        month: Month::of(c.received_at.date()),
        category: c.category,
        compound: c.place.compound_id,
        building: c.place.building_id,
        unit: c.place.unit_id,
    }
}
