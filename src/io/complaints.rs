//! The embedded store's complaint files: `complaints*.csv` (the public part of each complaint
//! and where it was placed) and `contacts*.csv` (callers' names, phones and free text: written
//! on import, never read by the server).

use super::FormatError;
use crate::model::handling::{hours, Handled, Scale};
use crate::model::stats::Fact;
use crate::model::{Category, Complaint, ComplaintContact, MatchMethod, Month, Placement};
use std::io::Write;
use std::path::Path;

pub const COMPLAINT_HEADER: [&str; 16] = [
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
    "closed_at",
    "responded_at",
];

/// The columns of complaint files written before `closed_at`, and before `responded_at`
/// (still read: the columns are empty).
const OLD_COLUMNS: [usize; 2] = [14, 15];

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
    if let Some(b) = base {
        let mut src = std::fs::File::open(b).map_err(|e| err(&e))?;
        std::io::copy(&mut src, &mut file).map_err(|e| err(&e))?;
    } else {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(COMPLAINT_HEADER).map_err(|e| err(&e))?;
        file.write_all(&w.into_inner().map_err(|e| err(&e))?)
            .map_err(|e| err(&e))?;
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
            &opt(c.closed_at.map(|t| t.format("%Y-%m-%d %H:%M:%S"))),
            &opt(c.responded_at.map(|t| t.format("%Y-%m-%d %H:%M:%S"))),
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

/// One row of a stored complaint file; its fields are read and checked as they are asked for,
/// and a bad one is named with the file, line and field.
struct Row<'a> {
    rec: &'a csv::ByteRecord,
    path: &'a Path,
    line: u64,
}

impl Row<'_> {
    fn bad(&self, field: &str, msg: &str) -> FormatError {
        bad(self.path, self.line, field, msg)
    }

    fn text(&self, i: usize, field: &str) -> Result<&str, FormatError> {
        std::str::from_utf8(&self.rec[i]).map_err(|_| self.bad(field, "not UTF-8"))
    }

    /// A text field, `None` when empty.
    fn note(&self, i: usize, field: &str) -> Result<Option<String>, FormatError> {
        Ok(Some(self.text(i, field)?.to_string()).filter(|s| !s.is_empty()))
    }

    fn id(&self, i: usize, field: &str) -> Result<Option<i64>, FormatError> {
        optional(self.text(i, field)?, || self.bad(field, "not an id"))
    }

    fn num(&self, i: usize, field: &str) -> Result<Option<f64>, FormatError> {
        optional(self.text(i, field)?, || self.bad(field, "not a number"))
    }

    fn received_at(&self) -> Result<chrono::NaiveDateTime, FormatError> {
        stamp(&self.rec[1]).ok_or_else(|| self.bad("received_at", "not a date and time"))
    }

    /// A later time of the ticket (`closed_at` in column 14, `responded_at` in 15): empty, or
    /// absent from a file written before it was kept.
    fn later(&self, i: usize, field: &str) -> Result<Option<chrono::NaiveDateTime>, FormatError> {
        match self.rec.get(i) {
            None | Some(b"") => Ok(None),
            Some(s) => stamp(s)
                .map(Some)
                .ok_or_else(|| self.bad(field, "not a date and time")),
        }
    }

    fn category(&self) -> Result<Category, FormatError> {
        Category::parse(self.text(2, "category")?)
            .ok_or_else(|| self.bad("category", "unknown category"))
    }

    fn method(&self) -> Result<MatchMethod, FormatError> {
        MatchMethod::parse(self.text(12, "match_method")?)
            .ok_or_else(|| self.bad("match_method", "unknown method"))
    }
}

/// Calls `each` with every row of a stored complaint file, each checked to have every field.
fn each_row(
    path: &Path,
    mut each: impl FnMut(&Row<'_>) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    // Flexible: a store written before a column was added has older rows before newer ones
    // (each row's length is checked below).
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| FormatError::file(path, format!("cannot open: {e}")))?;
    let mut rec = csv::ByteRecord::new();
    loop {
        match r.read_byte_record(&mut rec) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) => {
                return Err(FormatError::file(
                    path,
                    format!("unreadable (truncated or corrupt?): {e}"),
                ))
            }
        }
        let line = rec.position().map_or(0, csv::Position::line);
        if rec.len() != COMPLAINT_HEADER.len() && !OLD_COLUMNS.contains(&rec.len()) {
            return Err(bad(
                path,
                line,
                "row",
                format!("{} fields, expected {}", rec.len(), COMPLAINT_HEADER.len()),
            ));
        }
        each(&Row {
            rec: &rec,
            path,
            line,
        })?;
    }
}

/// Reads every stored complaint, calling `each` with it.
pub fn read_complaints(path: &Path, mut each: impl FnMut(Complaint)) -> Result<(), FormatError> {
    each_row(path, |r| {
        let method = r.method()?;
        each(Complaint {
            ticket_id: r.text(0, "ticket_id")?.to_string(),
            received_at: r.received_at()?,
            category: r.category()?,
            channel: r.text(3, "channel")?.to_string(),
            address: r.text(4, "address")?.to_string(),
            lon: r.num(5, "lon")?,
            lat: r.num(6, "lat")?,
            status: r.text(7, "status")?.to_string(),
            satisfaction: r.note(8, "satisfaction")?,
            closed_at: r.later(14, "closed_at")?,
            responded_at: r.later(15, "responded_at")?,
            place: Placement {
                compound_id: r.id(9, "compound_id")?,
                building_id: r.id(10, "building_id")?,
                unit_id: r.id(11, "unit_id")?,
                method,
                note: r.note(13, "note")?,
            },
        });
        Ok(())
    })
}

/// `received_at` as stored, `YYYY-MM-DD HH:MM:SS` (read by hand: chrono's format
/// interpreter was a fifth of loading a store); anything else goes to chrono, so what it
/// accepts is unchanged.
fn stamp(s: &[u8]) -> Option<chrono::NaiveDateTime> {
    let fixed = || {
        let shape = s.len() == 19
            && s[4] == b'-'
            && s[7] == b'-'
            && s[10] == b' '
            && s[13] == b':'
            && s[16] == b':';
        if !shape {
            return None;
        }
        let n = |a: usize, b: usize| {
            s[a..b].iter().try_fold(0u32, |acc, c| {
                c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
            })
        };
        let year = i32::try_from(n(0, 4)?).ok()?;
        chrono::NaiveDate::from_ymd_opt(year, n(5, 7)?, n(8, 10)?)?.and_hms_opt(
            n(11, 13)?,
            n(14, 16)?,
            n(17, 19)?,
        )
    };
    fixed().or_else(|| {
        let text = std::str::from_utf8(s).ok()?;
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok()
    })
}

/// Reads the statistics' view of every stored complaint (what loading a store needs): the
/// structured fields are parsed and checked as [`read_complaints`] does, the free-text ones
/// (ticket, channel, address, note) are neither copied nor checked; the status and the
/// rating are read through `scale`.
pub fn read_facts(
    path: &Path,
    scale: &Scale,
    mut each: impl FnMut(Fact),
) -> Result<(), FormatError> {
    each_row(path, |r| {
        r.method()?;
        let received_at = r.received_at()?;
        let category = r.category()?;
        r.num(5, "lon")?;
        r.num(6, "lat")?;
        let satisfaction = std::str::from_utf8(&r.rec[8]).ok();
        each(Fact {
            month: Month::of(received_at.date()),
            category,
            compound: r.id(9, "compound_id")?,
            building: r.id(10, "building_id")?,
            unit: r.id(11, "unit_id")?,
            handled: Handled {
                closed: scale.closed(r.text(7, "status")?),
                rating: scale.rating(satisfaction.filter(|s| !s.is_empty())),
                response_h: hours(received_at, r.later(15, "responded_at")?),
                closing_h: hours(received_at, r.later(14, "closed_at")?),
            },
            slot: crate::model::clock::slot(received_at),
            day: chrono::Datelike::num_days_from_ce(&received_at.date()),
        });
        Ok(())
    })
}

/// The statistics' view of a stored complaint, its handling read through `scale`.
pub fn fact(c: &Complaint, scale: &Scale) -> Fact {
    Fact {
        month: Month::of(c.received_at.date()),
        category: c.category,
        compound: c.place.compound_id,
        building: c.place.building_id,
        unit: c.place.unit_id,
        handled: handled(c, scale),
        slot: crate::model::clock::slot(c.received_at),
        day: chrono::Datelike::num_days_from_ce(&c.received_at.date()),
    }
}

/// How a complaint was handled, its status and rating read through `scale`.
pub fn handled(c: &Complaint, scale: &Scale) -> Handled {
    Handled {
        closed: scale.closed(&c.status),
        rating: scale.rating(c.satisfaction.as_deref()),
        response_h: hours(c.received_at, c.responded_at),
        closing_h: hours(c.received_at, c.closed_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The hand-read stamp agrees with chrono's `%Y-%m-%d %H:%M:%S` on every kind of input.
    #[test]
    fn stamps_read_as_chrono_reads_them() {
        let chrono = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok();
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut valid = 0;
        for _ in 0..20_000 {
            let s = format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                rng.gen_range(1990..2040),
                rng.gen_range(0..14),
                rng.gen_range(0..33),
                rng.gen_range(0..26),
                rng.gen_range(0..61),
                rng.gen_range(0..61)
            );
            assert_eq!(stamp(s.as_bytes()), chrono(&s), "{s}");
            valid += usize::from(chrono(&s).is_some());
        }
        assert!(valid > 10_000, "{valid}");
        for s in [
            "",
            "2023-07-01",
            "2023-07-01T08:00:00",
            "2023-7-1 8:00:00",
            "2023-02-29 10:00:00",
            "2024-02-29 10:00:00",
            "2023-07-01 08:00:0x",
            "２０２３-07-01 08:00:00",
            "2023-07-01 08:00:00 ",
        ] {
            assert_eq!(stamp(s.as_bytes()), chrono(s), "{s:?}");
        }
    }

    /// Loading a store reads its facts without the text; they are the facts of the complaints.
    #[test]
    #[allow(clippy::too_many_lines)] // one story: write, read both ways, damage, old files
    fn facts_are_read_as_the_complaints_give_them() {
        let dir = tempfile::tempdir().unwrap();
        crate::generate::run(&crate::generate::Options {
            out: dir.path().to_path_buf(),
            scale: 0.02,
            seed: 3,
            encoding: crate::generate::Encoding::Utf8,
            progress: false,
        })
        .unwrap();
        // The demo's hotline export, placed at random, stored as the store stores it.
        let export = std::fs::read_to_string(dir.path().join("complaints.csv")).unwrap();
        let parsed =
            crate::ingest::complaints::parse_csv(&export, Path::new("complaints.csv")).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let rows: Vec<Complaint> = parsed
            .rows
            .into_iter()
            .map(|r| {
                let mut c = r.complaint;
                let id = |rng: &mut rand::rngs::StdRng| {
                    rng.gen_bool(0.8).then(|| rng.gen_range(1..100_000))
                };
                c.place.compound_id = id(&mut rng);
                c.place.building_id = id(&mut rng);
                c.place.unit_id = id(&mut rng);
                c.place.method =
                    [MatchMethod::Gps, MatchMethod::Text, MatchMethod::Fuzzy][rng.gen_range(0..3)];
                c
            })
            .collect();
        let path = dir.path().join("stored.csv");
        write_complaints(&path, None, &rows).unwrap();
        let (mut full, mut fast) = (Vec::new(), Vec::new());
        let scale = Scale::default();
        read_complaints(&path, |c| full.push(fact(&c, &scale))).unwrap();
        read_facts(&path, &scale, |f| fast.push(f)).unwrap();
        assert!(full.len() > 1000, "{}", full.len());
        assert_eq!(format!("{full:?}"), format!("{fast:?}"));
        // The demo export says how each ticket was handled: most closed and rated, with hours.
        let share = |f: &dyn Fn(&Fact) -> bool| {
            fast.iter().filter(|x| f(x)).count() as f64 / fast.len() as f64
        };
        assert!(share(&|f| f.handled.closed) > 0.9);
        assert!(share(&|f| f.handled.rating.is_some()) > 0.8);
        assert!(share(&|f| f.handled.closing_h.is_some()) > 0.9);
        assert!(share(&|f| f.handled.response_h.is_some()) > 0.9);
        // A file written before `closed_at` and `responded_at` were kept, with newer rows
        // appended: every row is read, the older ones without times.
        let old = dir.path().join("old.csv");
        {
            let mut r = csv::Reader::from_path(&path).unwrap();
            let mut w = csv::WriterBuilder::new()
                .flexible(true)
                .from_path(&old)
                .unwrap();
            w.write_record(r.headers().unwrap().iter().take(14))
                .unwrap();
            for (k, rec) in r.records().take(10).enumerate() {
                let rec = rec.unwrap();
                w.write_record(rec.iter().take([14, 15, 16][k % 3]))
                    .unwrap();
            }
            w.flush().unwrap();
        }
        let mut back = Vec::new();
        read_complaints(&old, |c| back.push(c)).unwrap();
        assert_eq!(back.len(), 10);
        assert!(back[0].closed_at.is_none() && back[1].responded_at.is_none());
        assert_eq!(back[2].responded_at, rows[2].responded_at);
        // A corrupt category, id or date names its line and field, as the full reader does.
        let bad = dir.path().join("bad.csv");
        let mut r = csv::Reader::from_path(&path).unwrap();
        let mut w = csv::Writer::from_path(&bad).unwrap();
        w.write_record(r.headers().unwrap()).unwrap();
        for (k, rec) in r.records().enumerate() {
            let mut rec: Vec<String> = rec.unwrap().iter().map(str::to_string).collect();
            if k == 2 {
                rec[9] = "x9".into();
            }
            w.write_record(&rec).unwrap();
        }
        w.flush().unwrap();
        let e = read_facts(&bad, &scale, |_| {}).unwrap_err();
        let full_e = read_complaints(&bad, |_| {}).unwrap_err();
        assert_eq!(e.to_string(), full_e.to_string());
        assert!(e.to_string().contains("compound_id"), "{e}");
    }
}
