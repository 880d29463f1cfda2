//! The statistics of an import that only appends, tabled in Rust and copied in.
//!
//! When no stored complaint of a compound falls in or after the first month an import adds to
//! it (`sql/queries/stored_since.sql`) — the first import, and each month's increment — the
//! months it touches held nothing before it, so their rows in the seven statistics tables are
//! its own complaints' alone. They are counted here, while PostgreSQL inserts the complaints,
//! and copied in sorted by key, instead of re-aggregated in SQL from the stored complaints
//! (`sql/queries/refresh_stats.sql`, which any other import still runs): 23.6 s of the full
//! export's 54 s (2026-12-07, docs/benchmarks.md). Each row is what the SQL gives, column for
//! column; `tests/stores.rs` imports a city whole and in parts out of time order (both ways
//! taken) and compares every table row for row.

use super::copy_text;
use crate::model::{clock, handling, repeat, Category, Complaint, Month};
use chrono::NaiveDate;
use std::collections::HashMap;
use std::fmt::Write;

/// The last stored complaint's day of each place and category (compound, is a unit, unit or
/// building id, category) in the 256 days before the import's first month of its compound.
pub(super) type LastBefore = HashMap<RunKey, NaiveDate>;

/// The first day of a day's month (`Month`'s own).
fn month_of(day: NaiveDate) -> NaiveDate {
    Month::of(day).first_day()
}

/// Each compound's first month among `complaints` (its first day), by compound id.
pub(super) fn first_months(complaints: &[&Complaint]) -> (Vec<i64>, Vec<NaiveDate>) {
    let mut first: HashMap<i64, NaiveDate> = HashMap::new();
    for c in complaints {
        if let Some(id) = c.place.compound_id {
            let m = month_of(c.received_at.date());
            first
                .entry(id)
                .and_modify(|f| *f = (*f).min(m))
                .or_insert(m);
        }
    }
    let mut pairs: Vec<(i64, NaiveDate)> = first.into_iter().collect();
    pairs.sort_unstable();
    pairs.into_iter().unzip()
}

/// Sorted keys counted: each distinct key once, with how many times it came.
fn counted<K: Ord>(mut keys: Vec<K>) -> Vec<(K, u32)> {
    keys.sort_unstable();
    let mut out: Vec<(K, u32)> = Vec::new();
    for k in keys {
        match out.last_mut() {
            Some((last, n)) if *last == k => *n += 1,
            _ => out.push((k, 1)),
        }
    }
    out
}

/// A new complaint placed in a compound, with the compound and the first day of its month.
type Placed<'a> = (&'a Complaint, i64, NaiveDate);

/// Where a complaint's repeats are counted: compound, is a unit, unit or building, category.
type RunKey = (i64, bool, i64, Category);

/// The COPY statement and text of each statistics table for the new, placed `complaints` of
/// an appending import (complaints without a compound count in none, as in the SQL).
pub(super) fn tally(complaints: &[&Complaint], before: &LastBefore) -> Vec<(&'static str, String)> {
    let placed: Vec<Placed> = complaints
        .iter()
        .filter_map(|c| Some((*c, c.place.compound_id?, month_of(c.received_at.date()))))
        .collect();
    vec![
        (
            "COPY stats_compound_month (compound_id, month, category, n) FROM STDIN",
            by_category(&placed),
        ),
        (
            "COPY stats_building_month (building_id, month, n) FROM STDIN",
            place_months(&placed, |c| c.place.building_id),
        ),
        (
            "COPY stats_unit_month (unit_id, month, n) FROM STDIN",
            place_months(&placed, |c| c.place.unit_id),
        ),
        (
            "COPY stats_handling_month (compound_id, month, status, satisfaction, n) FROM STDIN",
            handled(&placed),
        ),
        (
            "COPY stats_complaint_hours (compound_id, month, response_h, closing_h) FROM STDIN",
            hours(&placed),
        ),
        (
            "COPY stats_compound_clock (compound_id, month, category, slot, n) FROM STDIN",
            clock(&placed),
        ),
        (
            "COPY stats_compound_repeats (compound_id, month, category, is_unit, place_id, gap, n) FROM STDIN",
            repeats(&placed, before),
        ),
    ]
}

/// `stats_compound_month`: complaints per compound, month and category.
fn by_category(placed: &[Placed]) -> String {
    let mut text = String::with_capacity(placed.len() * 16);
    for ((id, m, cat), n) in counted(
        placed
            .iter()
            .map(|(c, id, m)| (*id, *m, c.category))
            .collect(),
    ) {
        let _ = writeln!(text, "{id}\t{m}\t{}\t{n}", cat.code());
    }
    text
}

/// `stats_building_month` or `stats_unit_month`: complaints per place and month.
fn place_months(placed: &[Placed], place: fn(&Complaint) -> Option<i64>) -> String {
    let mut text = String::with_capacity(placed.len() * 16);
    let keys = placed
        .iter()
        .filter_map(|(c, _, m)| Some((place(c)?, *m)))
        .collect();
    for ((id, m), n) in counted(keys) {
        let _ = writeln!(text, "{id}\t{m}\t{n}");
    }
    text
}

/// `stats_handling_month`: complaints per compound, month, status and satisfaction.
fn handled(placed: &[Placed]) -> String {
    let mut text = String::with_capacity(placed.len() * 16);
    let keys = placed
        .iter()
        .map(|(c, id, m)| {
            (
                *id,
                *m,
                c.status.as_str(),
                c.satisfaction.as_deref().unwrap_or(""),
            )
        })
        .collect();
    for ((id, m, status, satisfaction), n) in counted(keys) {
        let _ = write!(text, "{id}\t{m}\t");
        copy_text(&mut text, status);
        text.push('\t');
        copy_text(&mut text, satisfaction);
        let _ = writeln!(text, "\t{n}");
    }
    text
}

/// `stats_complaint_hours`: each complaint's hours to a response and to closing, where it
/// has either.
fn hours(placed: &[Placed]) -> String {
    let mut rows: Vec<(i64, NaiveDate, Option<f32>, Option<f32>)> = placed
        .iter()
        .filter(|(c, _, _)| c.responded_at.is_some() || c.closed_at.is_some())
        .map(|(c, id, m)| {
            (
                *id,
                *m,
                handling::hours(c.received_at, c.responded_at),
                handling::hours(c.received_at, c.closed_at),
            )
        })
        .collect();
    rows.sort_unstable_by_key(|&(id, m, _, _)| (id, m));
    let mut text = String::with_capacity(rows.len() * 32);
    let opt = |text: &mut String, h: Option<f32>| match h {
        Some(h) => {
            let _ = write!(text, "{h}");
        }
        None => text.push_str("\\N"),
    };
    for (id, m, response, closing) in rows {
        let _ = write!(text, "{id}\t{m}\t");
        opt(&mut text, response);
        text.push('\t');
        opt(&mut text, closing);
        text.push('\n');
    }
    text
}

/// `stats_compound_clock`: complaints per compound, month, category and hour of the week.
fn clock(placed: &[Placed]) -> String {
    let mut text = String::with_capacity(placed.len() * 24);
    let keys = placed
        .iter()
        .map(|(c, id, m)| (*id, *m, c.category, clock::slot(c.received_at)))
        .collect();
    for ((id, m, cat, slot), n) in counted(keys) {
        let _ = writeln!(text, "{id}\t{m}\t{}\t{slot}\t{n}", cat.code());
    }
    text
}

/// `stats_compound_repeats`: each place and category's complaints in time order, counted by
/// month and gap from the one before (the last stored one, `before`, for the first).
fn repeats(placed: &[Placed], before: &LastBefore) -> String {
    let mut runs: Vec<(RunKey, NaiveDate)> = placed
        .iter()
        .filter_map(|(c, id, _)| {
            let (is_unit, place) = match (c.place.unit_id, c.place.building_id) {
                (Some(u), _) => (true, u),
                (None, Some(b)) => (false, b),
                (None, None) => return None,
            };
            Some(((*id, is_unit, place, c.category), c.received_at.date()))
        })
        .collect();
    runs.sort_unstable();
    let mut gaps = Vec::with_capacity(runs.len());
    let mut previous: Option<(&RunKey, NaiveDate)> = None;
    for (key, day) in &runs {
        let last = match previous {
            Some((k, d)) if k == key => Some(d),
            _ => before.get(key).copied(),
        };
        let gap = last.map_or(repeat::NO_GAP, |d| repeat::gap((*day - d).num_days()));
        let (id, is_unit, place, cat) = *key;
        gaps.push((id, month_of(*day), cat, is_unit, place, gap));
        previous = Some((key, *day));
    }
    let mut text = String::with_capacity(runs.len() * 32);
    for ((id, m, cat, is_unit, place, gap), n) in counted(gaps) {
        let unit = if is_unit { 't' } else { 'f' };
        let _ = writeln!(
            text,
            "{id}\t{m}\t{}\t{unit}\t{place}\t{gap}\t{n}",
            cat.code()
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Placement;

    fn complaint(ticket: &str, at: &str, unit: Option<i64>) -> Complaint {
        Complaint {
            ticket_id: ticket.into(),
            received_at: chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S").unwrap(),
            category: Category::Sanitation,
            channel: String::new(),
            address: "x".into(),
            lon: None,
            lat: None,
            status: "已办结".into(),
            satisfaction: None,
            closed_at: None,
            responded_at: None,
            place: Placement {
                compound_id: Some(7),
                building_id: Some(70),
                unit_id: unit,
                ..Placement::default()
            },
        }
    }

    /// Gaps run from the last stored complaint of the place and category, then from one new
    /// complaint to the next; a building's complaints are a place apart from its units'.
    #[test]
    fn gaps_start_from_the_last_stored_complaint() {
        let new = [
            complaint("a", "2023-07-03 09:00:00", Some(700)),
            complaint("b", "2023-07-01 08:00:00", Some(700)),
            complaint("c", "2023-08-01 08:00:00", None),
        ];
        let refs: Vec<&Complaint> = new.iter().collect();
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let before = LastBefore::from([((7, true, 700, Category::Sanitation), day("2023-06-21"))]);
        let tables = tally(&refs, &before);
        assert_eq!(
            tables[6].1,
            "7\t2023-07-01\tsanitation\tt\t700\t2\t1\n\
             7\t2023-07-01\tsanitation\tt\t700\t10\t1\n\
             7\t2023-08-01\tsanitation\tf\t70\t255\t1\n"
        );
        assert_eq!(
            tables[0].1,
            "7\t2023-07-01\tsanitation\t2\n7\t2023-08-01\tsanitation\t1\n"
        );
        assert_eq!(tables[1].1, "70\t2023-07-01\t2\n70\t2023-08-01\t1\n");
        assert_eq!(tables[2].1, "700\t2023-07-01\t2\n");
        // Neither response nor closing: no hours.
        assert_eq!(tables[4].1, "");
        assert_eq!(first_months(&refs), (vec![7], vec![day("2023-07-01")]));
    }
}
