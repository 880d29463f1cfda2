//! When complaints come in (issue 16, part 7): each placed complaint's hour of the week — ISO
//! weekday × hour of the day, local time as the export writes it — kept beside its month and
//! category, per compound in month order. The 7 × 24 counts of any selection, category and
//! window are counted from these entries (4 bytes a complaint, ~4.4 MB for the full city; a
//! table of 168 counts per compound and month would be ~200 MB).

use super::stats::IdMap;
use super::Category;
use chrono::{Datelike, Timelike};

/// Hours in a week: Monday 00h is slot 0, Sunday 23h slot 167.
pub const SLOTS: usize = 168;

/// The ISO weekdays' names, Monday first (the rows of the counts).
pub const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// The hour of the week of a time: `(ISO weekday − 1) × 24 + hour`.
pub fn slot(at: chrono::NaiveDateTime) -> u8 {
    let day = at.weekday().num_days_from_monday();
    // At most 6 × 24 + 23 = 167.
    u8::try_from(day * 24 + at.hour()).unwrap_or(0)
}

/// One complaint: its month (index from the statistics' first month), category (position in
/// [`Category::ALL`]) and hour of the week ([`slot`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Entry {
    pub month: u16,
    pub category: u8,
    pub slot: u8,
}

/// The entries of every placed complaint, per compound, in month order.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Per compound id, its entries' range in `entries`.
    at: IdMap<(u32, u32)>,
    entries: Vec<Entry>,
}

/// Gathers a [`Clock`] as complaints come, in any order.
#[derive(Debug, Default)]
pub struct ClockBuilder {
    rows: Vec<(i64, Entry)>,
}

impl ClockBuilder {
    /// Adds `n` complaints of a compound with the same month, category and hour of the week.
    pub fn add(&mut self, compound: i64, entry: Entry, n: u32) {
        for _ in 0..n {
            self.rows.push((compound, entry));
        }
    }

    pub fn build(mut self) -> Clock {
        // Sorted whole, so that every way of gathering the same complaints gives the same order.
        self.rows.sort_unstable();
        let mut c = Clock::default();
        c.entries.reserve_exact(self.rows.len());
        let mut start = 0u32;
        for (i, (id, e)) in self.rows.iter().enumerate() {
            c.entries.push(*e);
            if self.rows.get(i + 1).map(|n| n.0) != Some(*id) {
                let end = u32::try_from(i + 1).unwrap_or(u32::MAX);
                c.at.insert(*id, (start, end));
                start = end;
            }
        }
        c
    }
}

/// Complaints by ISO weekday (rows, Monday first) and hour of the day (columns, 0–23).
pub type Week = [[u64; 24]; 7];

impl Clock {
    /// Appends a compound's entries (in month order; an id already there is replaced).
    pub fn push(&mut self, id: i64, entries: impl IntoIterator<Item = Entry>) {
        let start = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        self.entries.extend(entries);
        let end = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        self.at.insert(id, (start, end));
    }

    /// An empty clock with room for `n` entries (a reader that knows how many follow).
    pub fn with_capacity(n: usize) -> Clock {
        Clock {
            at: IdMap::default(),
            entries: Vec::with_capacity(n),
        }
    }

    /// Gives back the room the entries grew into (a reader that pushed compound by compound).
    pub fn shrink_to_fit(&mut self) {
        self.entries.shrink_to_fit();
        self.at.shrink_to_fit();
    }

    /// A compound's entries, in month order.
    pub fn entries_of(&self, id: i64) -> &[Entry] {
        self.at
            .get(&id)
            .map_or(&[], |&(a, b)| &self.entries[a as usize..b as usize])
    }

    pub fn ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.at.keys().copied()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The bytes the entries and their index take (the heap they hold).
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.at.capacity() * (std::mem::size_of::<(i64, (u32, u32))>() + 1)
    }

    /// The complaints of compounds `ids` in months `r` (indexes from the statistics' first
    /// month), of one category or all, by weekday and hour.
    pub fn week(
        &self,
        ids: impl IntoIterator<Item = i64>,
        r: std::ops::Range<usize>,
        category: Option<Category>,
    ) -> Week {
        let mut slots = [0u64; SLOTS];
        let cat = category.and_then(|c| Category::ALL.iter().position(|x| *x == c));
        for id in ids {
            let e = self.entries_of(id);
            // Entries are in month order: the window is one contiguous run.
            let a = e.partition_point(|x| usize::from(x.month) < r.start);
            let b = e.partition_point(|x| usize::from(x.month) < r.end);
            for x in &e[a..b] {
                if cat.is_none_or(|c| usize::from(x.category) == c) {
                    slots[usize::from(x.slot) % SLOTS] += 1;
                }
            }
        }
        std::array::from_fn(|d| std::array::from_fn(|h| slots[d * 24 + h]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_iso_weekday_and_hour() {
        let at = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        // 2023-05-01 was a Monday, 2023-05-07 a Sunday.
        assert_eq!(slot(at("2023-05-01 00:00:00")), 0);
        assert_eq!(slot(at("2023-05-01 09:59:59")), 9);
        assert_eq!(slot(at("2023-05-03 13:00:00")), 2 * 24 + 13);
        assert_eq!(slot(at("2023-05-07 23:30:00")), 167);
    }

    #[test]
    fn a_week_counts_the_window_category_and_selection() {
        let mut b = ClockBuilder::default();
        let e = |month, category, slot| Entry {
            month,
            category,
            slot,
        };
        b.add(2, e(3, 1, 167), 2);
        b.add(1, e(5, 0, 9), 3);
        b.add(1, e(0, 6, 9), 1);
        b.add(1, e(5, 6, 24), 1);
        let c = b.build();
        assert_eq!(c.len(), 7);
        assert!(c.entries_of(1).windows(2).all(|w| w[0].month <= w[1].month));
        let all = c.week([1, 2], 0..10, None);
        assert_eq!((all[0][9], all[1][0], all[6][23]), (4, 1, 2));
        assert_eq!(all.iter().flatten().sum::<u64>(), 7);
        let repairs = c.week([1, 2], 0..10, Some(Category::Repairs));
        assert_eq!((repairs[0][9], repairs[1][0]), (1, 1));
        assert_eq!(c.week([1], 4..6, None)[0][9], 3, "month 0 is outside 4..6");
        assert_eq!(c.week([2], 0..3, None)[6][23], 0, "month 3 is outside 0..3");
        assert_eq!(c.week([7], 0..10, None), [[0; 24]; 7]);
    }
}
