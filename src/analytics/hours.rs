//! Time patterns (issue 16, part 7): the complaints a selection received by ISO weekday and
//! hour of the day (local time as the export writes it) over a window, counted from each
//! complaint's hour of the week ([`crate::model::clock`]), with the totals by hour and by
//! weekday.

use super::stats::{Stats, Window};
use crate::error::Error;
use crate::model::clock::{Week, WEEKDAYS};
use crate::model::Category;
use serde::Serialize;

/// A selection's complaints by weekday and hour over a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hours {
    /// The window asked for.
    pub from: String,
    pub to: String,
    /// The months of it the data hold (what was counted).
    pub data_from: String,
    pub data_to: String,
    /// Compounds in the selection.
    pub compounds: usize,
    /// Complaints counted: the sum of `counts`.
    pub complaints: u64,
    /// The rows' weekdays, Monday first (ISO).
    pub weekdays: [&'static str; 7],
    /// Complaints by weekday (rows, Monday first) and hour of the day (columns, 0–23).
    pub counts: Week,
    /// Complaints by hour of the day, every weekday together.
    pub by_hour: [u64; 24],
    /// Complaints by weekday, Monday first.
    pub by_weekday: [u64; 7],
    /// Why the answer is empty, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The data's first and last months, when `window` meets them: a store without complaints is
/// a 404, a window wholly outside the data a 400 naming the data's months.
pub fn data_months(
    stats: &Stats,
    window: Window,
) -> Result<(crate::model::Month, crate::model::Month), Error> {
    let (Some(first), Some(last)) = (stats.first, stats.last) else {
        return Err(Error::NotFound("no complaints stored yet".into()));
    };
    if window.to < first || window.from > last {
        return Err(Error::BadRequest(format!(
            "the window {} to {} is outside the data ({first} to {last})",
            window.from, window.to
        )));
    }
    Ok((first, last))
}

/// The weekday × hour counts of compounds `ids` (of one category or all) over `window`. A
/// window wholly outside the data is refused by name; a selection without complaints in it
/// answers zeros and says why.
pub fn hours_of(
    stats: &Stats,
    ids: &[i64],
    category: Option<Category>,
    window: Window,
) -> Result<Hours, Error> {
    let (first, last) = data_months(stats, window)?;
    let counts = stats
        .clock
        .week(ids.iter().copied(), stats.range(window), category);
    let by_hour: [u64; 24] = std::array::from_fn(|h| counts.iter().map(|d| d[h]).sum());
    let by_weekday: [u64; 7] = counts.map(|d| d.iter().sum());
    let complaints: u64 = by_weekday.iter().sum();
    let (data_from, data_to) = (window.from.max(first), window.to.min(last));
    let note = (complaints == 0).then(|| {
        let what = category.map_or(String::from("no complaints"), |c| {
            format!("no complaints of category {}", c.code())
        });
        if ids.is_empty() {
            "the selection holds no compound".to_string()
        } else {
            format!(
                "{what} in the selection's {} compound{} from {data_from} to {data_to}",
                ids.len(),
                if ids.len() == 1 { "" } else { "s" }
            )
        }
    });
    Ok(Hours {
        from: window.from.to_string(),
        to: window.to.to_string(),
        data_from: data_from.to_string(),
        data_to: data_to.to_string(),
        compounds: ids.len(),
        complaints,
        weekdays: WEEKDAYS,
        counts,
        by_hour,
        by_weekday,
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::handling::Handled;
    use crate::model::stats::Fact;
    use crate::model::Month;

    fn stats() -> Stats {
        let facts: Vec<Fact> = (0..500u32)
            .map(|i| Fact {
                month: Month::new(2022, 1).plus((i % 12) as i32),
                category: Category::ALL[(i % 10) as usize],
                compound: Some(i64::from(i % 4) + 1),
                building: None,
                unit: None,
                handled: Handled::default(),
                slot: (i * 7 % 168) as u8,
                day: 0,
            })
            .collect();
        Stats::from_facts(&facts)
    }

    #[test]
    fn totals_add_up_and_windows_outside_the_data_are_refused() {
        let s = stats();
        let w = |a: &str, b: &str| Window {
            from: Month::parse(a).unwrap(),
            to: Month::parse(b).unwrap(),
        };
        let h = hours_of(&s, &[1, 2, 3, 4], None, w("2021-06", "2022-12")).unwrap();
        assert_eq!(h.complaints, 500);
        assert_eq!(
            (h.data_from.as_str(), h.data_to.as_str()),
            ("2022-01", "2022-12")
        );
        assert_eq!(h.by_hour.iter().sum::<u64>(), 500);
        // Slot i·7 mod 168: weekday and hour as the facts gave them.
        let want = (0..500u32).filter(|i| i * 7 % 168 == 24 + 5).count() as u64;
        assert_eq!(h.counts[1][5], want);
        let one = hours_of(&s, &[2], Some(Category::Order), w("2022-01", "2022-12")).unwrap();
        let want = (0..500u32).filter(|i| i % 4 == 1 && i % 10 == 1).count() as u64;
        assert_eq!(one.complaints, want);
        let e = hours_of(&s, &[1], None, w("2024-01", "2024-03")).unwrap_err();
        assert!(
            e.to_string()
                .contains("outside the data (2022-01 to 2022-12)"),
            "{e}"
        );
        let none = hours_of(&s, &[9], None, w("2022-01", "2022-03")).unwrap();
        assert_eq!(none.complaints, 0);
        assert!(none
            .note
            .unwrap()
            .contains("no complaints in the selection's 1 compound"));
        assert!(hours_of(&s, &[], None, w("2022-01", "2022-03"))
            .unwrap()
            .note
            .unwrap()
            .contains("no compound"));
    }
}
