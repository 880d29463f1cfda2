//! Monthly complaint counts per compound (by category), building and unit, and the window
//! arithmetic on top: totals over `from..=to`, density, density class.

use crate::model::{Category, Month};
use serde::Serialize;
use std::collections::HashMap;

/// A complaint reduced to what statistics need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fact {
    pub month: Month,
    pub category: Category,
    pub compound: Option<i64>,
    pub building: Option<i64>,
    pub unit: Option<i64>,
}

/// A complaint window: months `from..=to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Window {
    pub from: Month,
    pub to: Month,
}

impl Window {
    pub fn months(&self) -> i32 {
        self.to.0 - self.from.0 + 1
    }

    /// Parses `from`/`to` (`YYYY-MM`); by default the last 12 months of data.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        last_of_data: Month,
    ) -> Result<Window, String> {
        let parse = |name: &str, v: &str| {
            Month::parse(v).ok_or_else(|| format!("`{name}` must be a month as YYYY-MM, got `{v}`"))
        };
        let to = match to {
            Some(v) => parse("to", v)?,
            None => last_of_data,
        };
        let from = match from {
            Some(v) => parse("from", v)?,
            None => to.plus(-11),
        };
        if from > to {
            return Err(format!("`from` ({from}) is after `to` ({to})"));
        }
        if to.0 - from.0 >= 12 * 50 {
            return Err("the window may span at most 50 years".into());
        }
        Ok(Window { from, to })
    }

    pub fn contains(&self, m: Month) -> bool {
        self.from <= m && m <= self.to
    }
}

/// Figures of an area (district or street) for one window and grade period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AreaFigures {
    pub compounds: u64,
    pub households: i64,
    pub complaints: u64,
    pub red: u64,
    pub yellow: u64,
    pub blue: u64,
}

impl AreaFigures {
    /// Counts one compound in.
    pub fn add(&mut self, households: i64, complaints: u64, grade: Option<super::grade::Grade>) {
        use super::grade::Grade;
        self.compounds += 1;
        self.households += households;
        self.complaints += complaints;
        match grade {
            Some(Grade::Red) => self.red += 1,
            Some(Grade::Yellow) => self.yellow += 1,
            Some(Grade::Blue) => self.blue += 1,
            None => {}
        }
    }
}

/// Complaints per 100 households per year over a window.
pub fn density(complaints: u64, households: i64, months: i32) -> f64 {
    if households <= 0 || months <= 0 {
        return 0.0;
    }
    complaints as f64 / households as f64 * 100.0 * 12.0 / f64::from(months)
}

/// The breaks of `density_class` (complaints per 100 households per year): 0 is no complaint
/// at all; 1 below 3; 2 from 3; 3 from 6; 4 from 12; 5 from 24. The city average of the demo
/// data is about 8.
pub const DENSITY_BREAKS: [f64; 4] = [3.0, 6.0, 12.0, 24.0];

pub fn density_class(complaints: u64, density: f64) -> u8 {
    if complaints == 0 {
        return 0;
    }
    1 + DENSITY_BREAKS.iter().filter(|b| density >= **b).count() as u8
}

/// Tables by feature id, hashed with foldhash (SipHash was most of building the tables from
/// a store's 1.1 million complaints).
pub type IdMap<V> = HashMap<i64, V, foldhash::fast::RandomState>;

/// Monthly counts, materialised: the form tiles and queries read.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// First and last month with data.
    pub first: Option<Month>,
    pub last: Option<Month>,
    /// Per compound: per month (from `first`), per category.
    pub compound: IdMap<Vec<[u32; 10]>>,
    pub building: IdMap<Vec<u32>>,
    pub unit: IdMap<Vec<u32>>,
    pub total: u64,
    pub unmatched: u64,
}

/// The months of the tables (`first..=last`), for filling them from monthly counts as PostGIS
/// keeps them, table by table.
#[derive(Debug, Clone, Copy)]
pub struct Months {
    first: Month,
    n: usize,
}

impl Months {
    /// `None` when there is no data (no first or last month).
    pub fn new(first: Option<Month>, last: Option<Month>) -> Option<Months> {
        let (first, last) = (first?, last?);
        let n = usize::try_from(last.0 - first.0 + 1).ok()?;
        Some(Months { first, n })
    }

    fn slot(&self, m: Month) -> Option<usize> {
        usize::try_from(m.0 - self.first.0)
            .ok()
            .filter(|i| *i < self.n)
    }

    /// Adds `k` complaints of category `cat` in month `m` to a compound's row; a month outside
    /// the tables is ignored.
    pub fn add_by_category(
        &self,
        table: &mut IdMap<Vec<[u32; 10]>>,
        id: i64,
        m: Month,
        cat: Category,
        k: u32,
    ) {
        if let Some(i) = self.slot(m) {
            table.entry(id).or_insert_with(|| vec![[0; 10]; self.n])[i][cat_index(cat)] += k;
        }
    }

    /// Adds `k` complaints in month `m` to a building's or unit's row.
    pub fn add(&self, table: &mut IdMap<Vec<u32>>, id: i64, m: Month, k: u32) {
        if let Some(i) = self.slot(m) {
            table.entry(id).or_insert_with(|| vec![0; self.n])[i] += k;
        }
    }
}

fn cat_index(c: Category) -> usize {
    Category::ALL.iter().position(|x| *x == c).unwrap_or(0)
}

impl Stats {
    /// The month windows end at when a request names none: the last month with a complaint, or
    /// before any complaint is imported, the current month.
    #[must_use]
    pub fn latest_month(&self) -> Month {
        self.last
            .unwrap_or_else(|| Month::of(chrono::Utc::now().date_naive()))
    }

    /// Builds the monthly tables from complaint facts.
    pub fn from_facts<'a>(facts: impl IntoIterator<Item = &'a Fact> + Clone) -> Stats {
        let (mut first, mut last) = (None::<Month>, None::<Month>);
        for f in facts.clone() {
            first = Some(first.map_or(f.month, |m| m.min(f.month)));
            last = Some(last.map_or(f.month, |m| m.max(f.month)));
        }
        let mut s = Stats {
            first,
            last,
            ..Stats::default()
        };
        let (Some(first), Some(last)) = (first, last) else {
            return s;
        };
        let n = (last.0 - first.0 + 1) as usize;
        for f in facts {
            s.total += 1;
            let i = (f.month.0 - first.0) as usize;
            let Some(c) = f.compound else {
                s.unmatched += 1;
                continue;
            };
            s.compound.entry(c).or_insert_with(|| vec![[0; 10]; n])[i][cat_index(f.category)] += 1;
            if let Some(b) = f.building {
                s.building.entry(b).or_insert_with(|| vec![0; n])[i] += 1;
            }
            if let Some(u) = f.unit {
                s.unit.entry(u).or_insert_with(|| vec![0; n])[i] += 1;
            }
        }
        s
    }

    /// The month range of a window that falls inside the data, as indexes.
    fn range(&self, w: Window) -> std::ops::Range<usize> {
        let (Some(first), Some(last)) = (self.first, self.last) else {
            return 0..0;
        };
        let a = (w.from.0.max(first.0) - first.0).max(0) as usize;
        let b = (w.to.0.min(last.0) - first.0 + 1).max(0) as usize;
        a..b.max(a)
    }

    pub fn compound_by_category(&self, id: i64, w: Window) -> [u64; 10] {
        let mut out = [0u64; 10];
        if let Some(series) = self.compound.get(&id) {
            for month in &series[self.range(w)] {
                for (o, v) in out.iter_mut().zip(month) {
                    *o += u64::from(*v);
                }
            }
        }
        out
    }

    pub fn compound_total(&self, id: i64, w: Window) -> u64 {
        self.compound_by_category(id, w).iter().sum()
    }

    /// Complaints of one category (or all) in the window.
    pub fn compound_count(&self, id: i64, w: Window, category: Option<Category>) -> u64 {
        let by = self.compound_by_category(id, w);
        match category {
            Some(c) => by[cat_index(c)],
            None => by.iter().sum(),
        }
    }

    pub fn building_total(&self, id: i64, w: Window) -> u64 {
        self.building
            .get(&id)
            .map_or(0, |s| s[self.range(w)].iter().map(|v| u64::from(*v)).sum())
    }

    pub fn unit_total(&self, id: i64, w: Window) -> u64 {
        self.unit
            .get(&id)
            .map_or(0, |s| s[self.range(w)].iter().map(|v| u64::from(*v)).sum())
    }

    /// Monthly counts of one compound over a window (all months of the window, zeros included).
    pub fn compound_series(
        &self,
        id: i64,
        w: Window,
        category: Option<Category>,
    ) -> Vec<(Month, u64)> {
        let series = self.compound.get(&id);
        (w.from.0..=w.to.0)
            .map(|m| {
                let month = Month(m);
                let v = series
                    .and_then(|s| {
                        let i = usize::try_from(m - self.first?.0).ok()?;
                        s.get(i)
                    })
                    .map_or(0, |row| match category {
                        Some(c) => u64::from(row[cat_index(c)]),
                        None => row.iter().map(|v| u64::from(*v)).sum(),
                    });
                (month, v)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn density_classes_follow_the_breaks() {
        assert_eq!(density_class(0, 0.0), 0);
        assert_eq!(density_class(1, 2.9), 1);
        assert_eq!(density_class(1, 3.0), 2);
        assert_eq!(density_class(5, 30.0), 5);
        assert!((density(12, 100, 12) - 12.0).abs() < 1e-9);
        assert!((density(6, 100, 6) - 12.0).abs() < 1e-9);
    }

    #[test]
    fn windows_default_to_the_last_twelve_months_of_data() {
        let last = Month::parse("2023-07").unwrap();
        let w = Window::parse(None, None, last).unwrap();
        assert_eq!(
            (w.from.to_string(), w.to.to_string(), w.months()),
            ("2022-08".into(), "2023-07".into(), 12)
        );
        assert!(Window::parse(Some("2023-05"), Some("2023-01"), last).is_err());
        assert!(Window::parse(Some("2023-5x"), None, last)
            .unwrap_err()
            .contains("from"));
    }

    #[test]
    fn window_totals_add_up() {
        let m = |s| Month::parse(s).unwrap();
        let facts = vec![
            Fact {
                month: m("2023-01"),
                category: Category::FireLane,
                compound: Some(1),
                building: Some(10),
                unit: Some(100),
            },
            Fact {
                month: m("2023-02"),
                category: Category::Repairs,
                compound: Some(1),
                building: Some(10),
                unit: None,
            },
            Fact {
                month: m("2023-03"),
                category: Category::Repairs,
                compound: Some(2),
                building: None,
                unit: None,
            },
            Fact {
                month: m("2023-03"),
                category: Category::Repairs,
                compound: None,
                building: None,
                unit: None,
            },
        ];
        let s = Stats::from_facts(&facts);
        let all = Window {
            from: m("2022-01"),
            to: m("2024-01"),
        };
        assert_eq!(s.compound_total(1, all), 2);
        assert_eq!(
            s.compound_total(
                1,
                Window {
                    from: m("2023-02"),
                    to: m("2023-02")
                }
            ),
            1
        );
        assert_eq!(s.compound_count(1, all, Some(Category::FireLane)), 1);
        assert_eq!(s.building_total(10, all), 2);
        assert_eq!(s.unit_total(100, all), 1);
        assert_eq!((s.total, s.unmatched), (4, 1));
        let series = s.compound_series(
            1,
            Window {
                from: m("2022-12"),
                to: m("2023-02"),
            },
            None,
        );
        assert_eq!(
            series.iter().map(|x| x.1).collect::<Vec<_>>(),
            vec![0, 1, 1]
        );
    }
}
