//! Repeat complaints (issue 16, part 3). A complaint is a *repeat* when the same place — its
//! unit, or its building where the unit is not known — had a complaint of the same category
//! at most `days` days before (by the local date received; `[repeats] days`, 30 by default).
//! Complaints placed only on a compound have no place and are never repeats.
//!
//! What is kept, per compound in month order, is each placed complaint's month, place,
//! category and *gap*: the days since the previous complaint of its place and category (255
//! for none or 255 days and more). Whether a complaint is a repeat is read at query time
//! (`gap <= days`), so a change of `days` needs no new tables, and every complaint's gap is
//! computed over all the place's complaints, whatever month or import they came in (a repeat
//! across a month boundary or across two imports counts). 6 bytes a complaint.

use super::stats::IdMap;
use super::Category;
use serde::{Deserialize, Serialize};

/// The gap of a complaint with no earlier one of its place and category (or one 255 days
/// before or more).
pub const NO_GAP: u8 = u8::MAX;

/// The largest `days` the stored gaps can answer for.
pub const MAX_DAYS: u16 = 254;

/// `[repeats]`: the repeat window and the weight of repeats in the grade.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RepeatRule {
    /// A complaint is a repeat when its place had one of the same category at most this many
    /// days before (1–254).
    pub days: u16,
    /// What each repeat in a grade's window adds to the compound's severity-weighted
    /// complaints (0: repeats do not weigh in the grade).
    pub weight: f64,
}

impl Default for RepeatRule {
    fn default() -> RepeatRule {
        RepeatRule {
            days: 30,
            weight: 0.0,
        }
    }
}

impl RepeatRule {
    /// Checks the values, naming the first that is out of range.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=MAX_DAYS).contains(&self.days) {
            return Err(format!("[repeats] days must be from 1 to {MAX_DAYS}"));
        }
        if !(self.weight.is_finite() && (0.0..=10.0).contains(&self.weight)) {
            return Err("[repeats] weight must be from 0 to 10".into());
        }
        Ok(())
    }

    /// Whether a complaint of gap `gap` is a repeat.
    pub fn is_repeat(&self, gap: u8) -> bool {
        gap != NO_GAP && u16::from(gap) <= self.days
    }
}

/// The days between two dates as a stored gap.
pub fn gap(days: i64) -> u8 {
    u8::try_from(days.max(0)).unwrap_or(NO_GAP)
}

/// Where a complaint was placed, for repeats: its unit, else its building.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
pub enum Place {
    Building(i64),
    Unit(i64),
}

impl Place {
    /// The unit, or the building where the unit is not known; none without either.
    pub fn of(building: Option<i64>, unit: Option<i64>) -> Option<Place> {
        unit.map(Place::Unit).or(building.map(Place::Building))
    }
}

/// One placed complaint: its month (index from the statistics' first month), place (index
/// into its compound's places), category (position in [`Category::ALL`]) and gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Entry {
    pub month: u16,
    pub place: u16,
    pub category: u8,
    pub gap: u8,
}

/// A compound's places and entries: ranges into [`Repeats`]' vectors.
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    places: (u32, u32),
    entries: (u32, u32),
}

/// The entries of every placed complaint, per compound, in month order.
#[derive(Debug, Clone, Default)]
pub struct Repeats {
    at: IdMap<Span>,
    places: Vec<Place>,
    entries: Vec<Entry>,
}

/// Gathers [`Repeats`] as complaints come, in any order.
#[derive(Debug, Default)]
pub struct RepeatsBuilder {
    /// Compound, month, place, category, gap.
    rows: Vec<(i64, u16, Place, u8, u8)>,
}

/// The complaints and repeats of a place (or selection) over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub complaints: u64,
    pub repeats: u64,
    /// Repeats by category (positions of [`Category::ALL`]).
    pub by_category: [u64; 10],
}

impl RepeatsBuilder {
    /// Adds `n` complaints of a compound with the same month, place, category and gap.
    pub fn add(&mut self, compound: i64, place: Place, e: (u16, u8, u8), n: u32) {
        for _ in 0..n {
            self.rows.push((compound, e.0, place, e.1, e.2));
        }
    }

    /// Adds complaints known by their day: per compound, place and category, each one's gap is
    /// the days since the one before (`rows`: compound, place, category, day, month index).
    pub fn add_days(&mut self, mut rows: Vec<(i64, Place, u8, i32, u16)>) {
        rows.sort_unstable();
        let mut prev: Option<(i64, Place, u8, i32)> = None;
        for (c, p, cat, day, month) in rows {
            let g = match prev {
                Some((pc, pp, pcat, pday)) if (pc, pp, pcat) == (c, p, cat) => {
                    gap(i64::from(day) - i64::from(pday))
                }
                _ => NO_GAP,
            };
            self.rows.push((c, month, p, cat, g));
            prev = Some((c, p, cat, day));
        }
    }

    pub fn build(mut self) -> Repeats {
        self.rows.sort_unstable();
        let mut r = Repeats::default();
        r.entries.reserve_exact(self.rows.len());
        let mut start = 0;
        while start < self.rows.len() {
            let id = self.rows[start].0;
            let end = start + self.rows[start..].partition_point(|x| x.0 == id);
            let mut places: Vec<Place> = self.rows[start..end].iter().map(|x| x.2).collect();
            places.sort_unstable();
            places.dedup();
            let entries: Vec<Entry> = self.rows[start..end]
                .iter()
                .map(|x| Entry {
                    month: x.1,
                    place: u16::try_from(places.binary_search(&x.2).unwrap_or(0)).unwrap_or(0),
                    category: x.3,
                    gap: x.4,
                })
                .collect();
            r.push(id, places, entries);
            start = end;
        }
        r
    }
}

fn index(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Repeats {
    /// Appends a compound's places (sorted) and entries (in month order); an id already there
    /// is replaced. A compound with more than 65,536 places keeps its first 65,536.
    pub fn push(
        &mut self,
        id: i64,
        places: impl IntoIterator<Item = Place>,
        entries: impl IntoIterator<Item = Entry>,
    ) {
        let p0 = index(self.places.len());
        self.places.extend(places.into_iter().take(1 << 16));
        let e0 = index(self.entries.len());
        self.entries.extend(entries);
        let span = Span {
            places: (p0, index(self.places.len())),
            entries: (e0, index(self.entries.len())),
        };
        self.at.insert(id, span);
    }

    /// Empty, with room for `places` places and `entries` entries (a reader that knows how
    /// many follow).
    pub fn with_capacity(places: usize, entries: usize) -> Repeats {
        Repeats {
            at: IdMap::default(),
            places: Vec::with_capacity(places),
            entries: Vec::with_capacity(entries),
        }
    }

    /// Gives back the room the vectors grew into (a reader that pushed compound by compound).
    pub fn shrink_to_fit(&mut self) {
        self.entries.shrink_to_fit();
        self.places.shrink_to_fit();
        self.at.shrink_to_fit();
    }

    /// A compound's places (sorted) and entries (in month order).
    pub fn of(&self, id: i64) -> (&[Place], &[Entry]) {
        self.at.get(&id).map_or((&[], &[]), |s| {
            (
                &self.places[s.places.0 as usize..s.places.1 as usize],
                &self.entries[s.entries.0 as usize..s.entries.1 as usize],
            )
        })
    }

    pub fn ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.at.keys().copied()
    }

    /// Placed complaints kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The bytes the entries, places and index take (the heap they hold).
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.places.capacity() * std::mem::size_of::<Place>()
            + self.at.capacity() * (std::mem::size_of::<(i64, Span)>() + 1)
    }

    /// A compound's entries in months `r` (indexes from the statistics' first month).
    fn window(&self, id: i64, r: &std::ops::Range<usize>) -> (&[Place], &[Entry]) {
        let (p, e) = self.of(id);
        // Entries are in month order: the window is one contiguous run.
        let a = e.partition_point(|x| usize::from(x.month) < r.start);
        let b = e.partition_point(|x| usize::from(x.month) < r.end);
        (p, &e[a..b])
    }

    /// A compound's repeats in months `r` under `rule`, of one category or all.
    pub fn count(
        &self,
        id: i64,
        r: &std::ops::Range<usize>,
        category: Option<Category>,
        rule: &RepeatRule,
    ) -> u64 {
        let cat = category.and_then(|c| Category::ALL.iter().position(|x| *x == c));
        let (_, e) = self.window(id, r);
        e.iter()
            .filter(|x| rule.is_repeat(x.gap) && cat.is_none_or(|c| usize::from(x.category) == c))
            .count() as u64
    }

    /// A compound's places with complaints in months `r` (of one category or all): each
    /// place's complaints and repeats under `rule`.
    pub fn places(
        &self,
        id: i64,
        r: &std::ops::Range<usize>,
        category: Option<Category>,
        rule: &RepeatRule,
    ) -> Vec<(Place, Tally)> {
        let cat = category.and_then(|c| Category::ALL.iter().position(|x| *x == c));
        let (p, e) = self.window(id, r);
        let mut t = vec![Tally::default(); p.len()];
        for x in e {
            if cat.is_some_and(|c| usize::from(x.category) != c) {
                continue;
            }
            let Some(s) = t.get_mut(usize::from(x.place)) else {
                continue;
            };
            s.complaints += 1;
            if rule.is_repeat(x.gap) {
                s.repeats += 1;
                s.by_category[usize::from(x.category) % 10] += 1;
            }
        }
        p.iter()
            .copied()
            .zip(t)
            .filter(|(_, s)| s.complaints > 0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_follow_each_place_and_category_across_months() {
        let mut b = RepeatsBuilder::default();
        let (u, bl) = (Place::Unit(7), Place::Building(3));
        // Unit 7, category 0: days 100, 120 (gap 20), 200 (gap 80); category 1 on day 125.
        // Building 3, category 0: days 110 and 110 (gap 0).
        b.add_days(vec![
            (1, u, 0, 120, 1),
            (1, u, 0, 100, 0),
            (1, u, 1, 125, 1),
            (1, bl, 0, 110, 0),
            (1, u, 0, 200, 3),
            (1, bl, 0, 110, 0),
            (2, u, 0, 101, 0),
        ]);
        let r = b.build();
        assert_eq!(r.len(), 7);
        let rule = RepeatRule::default();
        assert_eq!(
            r.count(1, &(0..4), None, &rule),
            2,
            "day 120 and the same-day one"
        );
        assert_eq!(
            r.count(1, &(1..4), None, &rule),
            1,
            "the gap reaches into month 0"
        );
        assert_eq!(
            r.count(2, &(0..4), None, &rule),
            0,
            "another compound's unit 7"
        );
        let wide = RepeatRule {
            days: 80,
            weight: 0.0,
        };
        assert_eq!(r.count(1, &(0..4), None, &wide), 3);
        assert_eq!(r.count(1, &(0..4), Some(Category::ALL[1]), &wide), 0);
        let places = r.places(1, &(0..4), None, &rule);
        assert_eq!(places.len(), 2);
        assert_eq!(places[0].0, bl);
        assert_eq!((places[0].1.complaints, places[0].1.repeats), (2, 1));
        assert_eq!((places[1].1.complaints, places[1].1.repeats), (4, 1));
        assert_eq!(places[1].1.by_category[0], 1);
    }

    #[test]
    fn gaps_are_capped_and_rules_checked() {
        assert_eq!(gap(0), 0);
        assert_eq!(gap(254), 254);
        assert_eq!(gap(400), NO_GAP);
        assert!(!RepeatRule::default().is_repeat(NO_GAP));
        assert!(RepeatRule::default().check().is_ok());
        let bad = RepeatRule {
            days: 0,
            weight: 0.0,
        };
        assert!(bad.check().unwrap_err().contains("days"));
        let bad = RepeatRule {
            days: 30,
            weight: -1.0,
        };
        assert!(bad.check().unwrap_err().contains("weight"));
    }
}
