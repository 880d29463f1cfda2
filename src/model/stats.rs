//! Monthly complaint counts per compound (by category), building and unit, and the window
//! arithmetic on top: totals over `from..=to`, density, density class.

use crate::model::clock::{Clock, ClockBuilder, Entry};
use crate::model::handling::{Handled, Rates, Times, TimesBuilder};
use crate::model::repeat::{Place, Repeats, RepeatsBuilder};
use crate::model::{Category, Month};
use serde::Serialize;
use std::collections::HashMap;

/// A complaint reduced to what statistics need.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fact {
    pub month: Month,
    pub category: Category,
    pub compound: Option<i64>,
    pub building: Option<i64>,
    pub unit: Option<i64>,
    /// How the hotline handled it (closed, rated, hours).
    pub handled: Handled,
    /// Its hour of the week as received ([`crate::model::clock::slot`]).
    pub slot: u8,
    /// Its local date received, as days from the common era (for repeats).
    pub day: i32,
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
    /// Complaints closed, rated and rated satisfied in the window.
    pub closed: u64,
    pub rated: u64,
    pub satisfied: u64,
}

impl AreaFigures {
    /// Counts one compound in, with its [closed, rated, satisfied] complaints.
    pub fn add(
        &mut self,
        households: i64,
        complaints: u64,
        grade: Option<super::grade::Grade>,
        handled: [u64; 3],
    ) {
        use super::grade::Grade;
        self.compounds += 1;
        self.households += households;
        self.complaints += complaints;
        self.closed += handled[0];
        self.rated += handled[1];
        self.satisfied += handled[2];
        match grade {
            Some(Grade::Red) => self.red += 1,
            Some(Grade::Yellow) => self.yellow += 1,
            Some(Grade::Blue) => self.blue += 1,
            None => {}
        }
    }
}

impl AreaFigures {
    /// Closed ÷ received.
    pub fn resolved_rate(&self) -> Option<f64> {
        super::handling::rate(self.closed, self.complaints)
    }

    /// Satisfied ÷ rated.
    pub fn satisfied_rate(&self) -> Option<f64> {
        super::handling::rate(self.satisfied, self.rated)
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

/// Monthly counts, materialised: the form tiles and queries read. The tables hold running
/// totals ([`Table`]), so a window's figures cost the same whatever its length.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// First and last month with data.
    pub first: Option<Month>,
    pub last: Option<Month>,
    /// Per compound: per month (from `first`), per category.
    pub compound: Table<10>,
    pub building: Sparse,
    pub unit: Sparse,
    /// Per compound: per month, complaints closed, rated, rated satisfied.
    pub handling: Table<3>,
    /// Per compound, the hours to a first response and to closing of each complaint.
    pub times: Times,
    /// Per compound, each complaint's month, category and hour of the week.
    pub clock: Clock,
    /// Per compound, each placed complaint's month, place, category and days since the one
    /// before of its place and category (repeats).
    pub repeats: Repeats,
    pub total: u64,
    pub unmatched: u64,
}

/// Monthly counts per id as they are gathered (by [`Stats::from_facts`], a store's reader or
/// the statistics file), `K` counts a month (categories for compounds, one for buildings and
/// units); [`Counts::into_table`] turns them into running totals.
#[derive(Debug, Clone)]
pub struct Counts<const K: usize> {
    rows: IdMap<u32>,
    /// Month by month, the counts of every row (month-major).
    months: Vec<Vec<[u32; K]>>,
}

impl<const K: usize> Counts<K> {
    /// Rows of `n` months.
    pub fn new(n: usize) -> Counts<K> {
        Counts {
            rows: IdMap::default(),
            months: vec![Vec::new(); n],
        }
    }

    /// The row of `id`, made (all zeros) when it is new.
    pub fn row(&mut self, id: i64) -> usize {
        let next = u32::try_from(self.rows.len()).unwrap_or(u32::MAX);
        let months = &mut self.months;
        *self.rows.entry(id).or_insert_with(|| {
            for m in months.iter_mut() {
                m.push([0; K]);
            }
            next
        }) as usize
    }

    /// Adds `k` to count `slot` of month `i` (an index below `n`) of `id`.
    pub fn add(&mut self, id: i64, i: usize, slot: usize, k: u32) {
        let r = self.row(id);
        let c = &mut self.months[i][r][slot];
        *c = c.saturating_add(k);
    }

    /// Adds `k` to the counts of month `i` (an index below `n`) of `id`.
    pub fn add_all(&mut self, id: i64, i: usize, k: [u32; K]) {
        let r = self.row(id);
        for (c, k) in self.months[i][r].iter_mut().zip(k) {
            *c = c.saturating_add(k);
        }
    }

    /// Sets month `i` of row `r` (from [`Counts::row`]).
    pub fn set(&mut self, r: usize, i: usize, counts: [u32; K]) {
        self.months[i][r] = counts;
    }

    /// The running totals: each month holds the sum of its row up to and including it.
    pub fn into_table(mut self) -> Table<K> {
        for i in 1..self.months.len() {
            let (done, rest) = self.months.split_at_mut(i);
            for (v, b) in rest[0].iter_mut().zip(&done[i - 1]) {
                for (x, y) in v.iter_mut().zip(b) {
                    // Modular: a month is still the exact difference of its neighbours.
                    *x = x.wrapping_add(*y);
                }
            }
        }
        Table {
            rows: self.rows,
            cum: self.months,
        }
    }
}

/// Monthly counts per id kept as running totals (prefix sums over the months): the total of
/// any window is one subtraction, however long it is, and one month is the difference of two
/// neighbours. The totals are kept month by month (a vector of every row's per month), so the
/// figures of a window for every row are two sequential passes ([`Table::window`]).
#[derive(Debug, Clone, Default)]
pub struct Table<const K: usize> {
    rows: IdMap<u32>,
    cum: Vec<Vec<[u32; K]>>,
}

/// No row: what [`Table::row_of`] answers for an id without complaints.
pub const NO_ROW: u32 = u32::MAX;

/// What [`Table`] and [`Sparse`] share: a row for each id with complaints.
pub trait Rowed {
    /// Each id's row.
    fn rows(&self) -> &IdMap<u32>;

    /// How many ids have a row.
    fn len(&self) -> usize {
        self.rows().len()
    }

    fn is_empty(&self) -> bool {
        self.rows().is_empty()
    }

    /// The ids with a row, in no particular order.
    fn ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.rows().keys().copied()
    }

    /// The row of an id, or [`NO_ROW`].
    fn row_of(&self, id: i64) -> u32 {
        self.rows().get(&id).copied().unwrap_or(NO_ROW)
    }
}

impl<const K: usize> Rowed for Table<K> {
    fn rows(&self) -> &IdMap<u32> {
        &self.rows
    }
}

impl Rowed for Sparse {
    fn rows(&self) -> &IdMap<u32> {
        &self.rows
    }
}

impl<const K: usize> Table<K> {
    fn at(&self, r: usize, i: usize) -> [u32; K] {
        self.cum[i][r]
    }

    fn diff(&self, r: usize, months: &std::ops::Range<usize>) -> [u32; K] {
        let mut v = self.at(r, months.end - 1);
        if months.start > 0 {
            for (x, b) in v.iter_mut().zip(self.at(r, months.start - 1)) {
                *x = x.wrapping_sub(b);
            }
        }
        v
    }

    /// The sums of months `r` (indexes into the row; the caller keeps them inside it).
    pub fn sums(&self, id: i64, r: std::ops::Range<usize>) -> [u64; K] {
        let row = self.row_of(id);
        if r.is_empty() || row == NO_ROW {
            return [0; K];
        }
        self.diff(row as usize, &r).map(u64::from)
    }

    /// Every row's total (all `K` counts) over months `r`, by row.
    pub fn window(&self, r: std::ops::Range<usize>) -> Vec<u64> {
        if r.is_empty() {
            return vec![0; self.len()];
        }
        let hi = &self.cum[r.end - 1];
        match r.start.checked_sub(1).map(|i| &self.cum[i]) {
            None => hi
                .iter()
                .map(|v| v.iter().map(|x| u64::from(*x)).sum())
                .collect(),
            Some(lo) => hi
                .iter()
                .zip(lo)
                .map(|(h, l)| {
                    h.iter()
                        .zip(l)
                        .map(|(a, b)| u64::from(a.wrapping_sub(*b)))
                        .sum()
                })
                .collect(),
        }
    }

    /// Every row's counts over months `r`, by row, each of the `K` counts apart.
    pub fn window_each(&self, r: std::ops::Range<usize>) -> Vec<[u64; K]> {
        if r.is_empty() {
            return vec![[0; K]; self.len()];
        }
        let hi = &self.cum[r.end - 1];
        let zero = [0u32; K];
        let lo = r.start.checked_sub(1).map(|i| &self.cum[i]);
        hi.iter()
            .enumerate()
            .map(|(row, h)| {
                let l = lo.map_or(&zero, |lo| &lo[row]);
                std::array::from_fn(|c| u64::from(h[c].wrapping_sub(l[c])))
            })
            .collect()
    }

    /// The counts of month `i` of `id` (zeros for an id without a row).
    pub fn month(&self, id: i64, i: usize) -> [u32; K] {
        let row = self.row_of(id);
        if row == NO_ROW {
            return [0; K];
        }
        self.diff(row as usize, &(i..i + 1))
    }

    /// The monthly counts of `id`'s row, from the first month of the tables.
    pub fn monthly(&self, id: i64) -> impl Iterator<Item = [u32; K]> + '_ {
        let row = self.row_of(id);
        let n = if row == NO_ROW { 0 } else { self.cum.len() };
        (0..n).map(move |i| self.diff(row as usize, &(i..i + 1)))
    }
}

/// Monthly counts per id for the finest places (buildings and units): a place has complaints in
/// few of the months, so a row keeps only those months, each with the row's running total up to
/// and including it. A window's total is two lookups in the row's own short run; the table is
/// a fraction of [`Table`]'s (the demo city's 176,001 units with complaints took 47.2 MB of
/// running totals over 67 months of `u32`, and take 6.2 MB so).
#[derive(Debug, Clone, Default)]
pub struct Sparse {
    rows: IdMap<u32>,
    /// Where each row's entries start; one more than the rows, the last the end of all.
    start: Vec<u32>,
    /// Each entry's month index (a month with complaints) ...
    month: Vec<u16>,
    /// ... and the row's running total up to and including it (modular, as [`Table`]'s).
    cum: Vec<u32>,
    /// How many months the tables span.
    months: usize,
}

/// Rows of a [`Sparse`] table pushed one after the other.
pub struct SparseBuilder(Sparse);

impl SparseBuilder {
    /// A table of `months` months.
    pub fn new(months: usize) -> SparseBuilder {
        SparseBuilder(Sparse {
            months,
            ..Sparse::default()
        })
    }

    /// A row for `id` with its counts month by month from the tables' first; an id pushed
    /// twice keeps its first row.
    pub fn push(&mut self, id: i64, counts: impl IntoIterator<Item = u32>) {
        let t = &mut self.0;
        if t.start.is_empty() {
            t.start.push(0);
        }
        if t.rows.contains_key(&id) {
            return;
        }
        t.rows
            .insert(id, u32::try_from(t.rows.len()).unwrap_or(u32::MAX));
        let mut run = 0u32;
        for (i, c) in counts.into_iter().enumerate() {
            if c > 0 {
                run = run.wrapping_add(c);
                t.month.push(u16::try_from(i).unwrap_or(u16::MAX));
                t.cum.push(run);
            }
        }
        t.start
            .push(u32::try_from(t.month.len()).unwrap_or(u32::MAX));
    }

    pub fn build(self) -> Sparse {
        let mut t = self.0;
        t.month.shrink_to_fit();
        t.cum.shrink_to_fit();
        t
    }
}

impl Counts<1> {
    /// The counts as a [`Sparse`] table (rows in the same order).
    pub fn into_sparse(self) -> Sparse {
        let mut ids = vec![0i64; self.rows.len()];
        for (id, r) in &self.rows {
            ids[*r as usize] = *id;
        }
        let mut b = SparseBuilder::new(self.months.len());
        for (r, id) in ids.into_iter().enumerate() {
            b.push(id, self.months.iter().map(|m| m[r][0]));
        }
        b.build()
    }
}

impl Sparse {
    /// Row `r`'s entries: months and running totals.
    fn entries(&self, r: usize) -> (&[u16], &[u32]) {
        let (a, b) = (self.start[r] as usize, self.start[r + 1] as usize);
        (&self.month[a..b], &self.cum[a..b])
    }

    /// Row `r`'s running total up to and including month `i`.
    fn upto(&self, r: usize, i: usize) -> u32 {
        let (months, cum) = self.entries(r);
        match months.partition_point(|&m| usize::from(m) <= i) {
            0 => 0,
            k => cum[k - 1],
        }
    }

    fn diff(&self, r: usize, months: &std::ops::Range<usize>) -> u32 {
        let hi = self.upto(r, months.end - 1);
        match months.start.checked_sub(1) {
            Some(i) => hi.wrapping_sub(self.upto(r, i)),
            None => hi,
        }
    }

    /// The sum of months `r` of `id` (as [`Table::sums`]).
    pub fn sums(&self, id: i64, r: std::ops::Range<usize>) -> [u64; 1] {
        let row = self.row_of(id);
        if r.is_empty() || row == NO_ROW {
            return [0];
        }
        [u64::from(self.diff(row as usize, &r))]
    }

    /// Every row's total over months `r`, by row.
    pub fn window(&self, r: std::ops::Range<usize>) -> Vec<u64> {
        if r.is_empty() {
            return vec![0; self.len()];
        }
        (0..self.len())
            .map(|row| u64::from(self.diff(row, &r)))
            .collect()
    }

    /// The monthly counts of `id`'s row, from the first month of the tables (nothing for an
    /// id without a row).
    pub fn monthly(&self, id: i64) -> impl Iterator<Item = [u32; 1]> + '_ {
        let row = self.row_of(id);
        let (months, cum) = if row == NO_ROW {
            (&[][..], &[][..])
        } else {
            self.entries(row as usize)
        };
        let n = if row == NO_ROW { 0 } else { self.months };
        let mut k = 0;
        let mut before = 0u32;
        (0..n).map(move |i| {
            if k < months.len() && usize::from(months[k]) == i {
                let v = cum[k].wrapping_sub(before);
                before = cum[k];
                k += 1;
                [v]
            } else {
                [0]
            }
        })
    }

    /// The bytes its vectors take (the id map aside).
    pub fn heap_bytes(&self) -> usize {
        self.start.capacity() * 4 + self.month.capacity() * 2 + self.cum.capacity() * 4
    }
}

/// Two tables are equal when they hold the same ids with the same counts, whatever order
/// their rows were made in.
impl PartialEq for Sparse {
    fn eq(&self, other: &Self) -> bool {
        self.months == other.months
            && self.len() == other.len()
            && self.ids().all(|id| self.monthly(id).eq(other.monthly(id)))
    }
}

/// Two tables are equal when they hold the same ids with the same counts, whatever order
/// their rows were made in.
impl<const K: usize> PartialEq for Table<K> {
    fn eq(&self, other: &Self) -> bool {
        self.cum.len() == other.cum.len()
            && self.len() == other.len()
            && self.ids().all(|id| self.monthly(id).eq(other.monthly(id)))
    }
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

    /// Empty counts for tables of these months.
    pub fn counts<const K: usize>(&self) -> Counts<K> {
        Counts::new(self.n)
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
        table: &mut Counts<10>,
        id: i64,
        m: Month,
        cat: Category,
        k: u32,
    ) {
        if let Some(i) = self.slot(m) {
            table.add(id, i, cat_index(cat), k);
        }
    }

    /// Counts one complaint's handling in month `m` into a compound's handling row and times;
    /// a month outside the tables is ignored.
    pub fn add_handled(
        &self,
        table: &mut Counts<3>,
        times: &mut TimesBuilder,
        id: i64,
        m: Month,
        h: &Handled,
    ) {
        if let Some(i) = self.slot(m) {
            table.add_all(id, i, h.counts());
            times.add(
                id,
                u16::try_from(i).unwrap_or(u16::MAX),
                h.response_h,
                h.closing_h,
            );
        }
    }

    /// Adds counts `k` in month `m` to a row; a month outside the tables is ignored.
    pub fn add_counts<const K: usize>(
        &self,
        table: &mut Counts<K>,
        id: i64,
        m: Month,
        k: [u32; K],
    ) {
        if let Some(i) = self.slot(m) {
            table.add_all(id, i, k);
        }
    }

    /// Adds `n` complaints of a compound in month `m`, of category `cat`, received in hour of
    /// the week `slot`; a month outside the tables is ignored.
    pub fn add_clock(
        &self,
        clock: &mut ClockBuilder,
        id: i64,
        m: Month,
        cat: Category,
        slot: u8,
        n: u32,
    ) {
        if let Some(i) = self.slot(m) {
            let entry = Entry {
                month: u16::try_from(i).unwrap_or(u16::MAX),
                category: u8::try_from(cat_index(cat)).unwrap_or(0),
                slot,
            };
            clock.add(id, entry, n);
        }
    }

    /// The index of month `m` in the tables, when it is one of theirs.
    pub fn index(&self, m: Month) -> Option<usize> {
        self.slot(m)
    }

    /// Whether month `m` is one of the tables'.
    pub fn holds(&self, m: Month) -> bool {
        self.slot(m).is_some()
    }

    /// Adds `k` complaints in month `m` to a building's or unit's row.
    pub fn add(&self, table: &mut Counts<1>, id: i64, m: Month, k: u32) {
        if let Some(i) = self.slot(m) {
            table.add(id, i, 0, k);
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

    /// Months per row of the tables.
    pub fn months(&self) -> usize {
        Months::new(self.first, self.last).map_or(0, |m| m.n)
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
        let Some(months) = Months::new(first, last) else {
            return s;
        };
        let (mut compound, mut building, mut unit) = (
            months.counts::<10>(),
            months.counts::<1>(),
            months.counts::<1>(),
        );
        let mut handling = months.counts::<3>();
        let mut times = TimesBuilder::default();
        let mut clock = ClockBuilder::default();
        let mut placed = Vec::new();
        for f in facts {
            s.total += 1;
            let Some(c) = f.compound else {
                s.unmatched += 1;
                continue;
            };
            months.add_by_category(&mut compound, c, f.month, f.category, 1);
            months.add_handled(&mut handling, &mut times, c, f.month, &f.handled);
            months.add_clock(&mut clock, c, f.month, f.category, f.slot, 1);
            if let (Some(p), Some(i)) = (Place::of(f.building, f.unit), months.slot(f.month)) {
                let cat = u8::try_from(cat_index(f.category)).unwrap_or(0);
                placed.push((c, p, cat, f.day, u16::try_from(i).unwrap_or(u16::MAX)));
            }
            if let Some(b) = f.building {
                months.add(&mut building, b, f.month, 1);
            }
            if let Some(u) = f.unit {
                months.add(&mut unit, u, f.month, 1);
            }
        }
        s.compound = compound.into_table();
        s.building = building.into_sparse();
        s.unit = unit.into_sparse();
        s.handling = handling.into_table();
        s.times = times.build();
        s.clock = clock.build();
        let mut repeats = RepeatsBuilder::default();
        repeats.add_days(placed);
        s.repeats = repeats.build();
        s
    }

    /// The month range of a window that falls inside the data, as indexes into the tables.
    pub fn range(&self, w: Window) -> std::ops::Range<usize> {
        let (Some(first), Some(last)) = (self.first, self.last) else {
            return 0..0;
        };
        let a = (w.from.0.max(first.0) - first.0).max(0) as usize;
        let b = (w.to.0.min(last.0) - first.0 + 1).max(0) as usize;
        a..b.max(a)
    }

    pub fn compound_by_category(&self, id: i64, w: Window) -> [u64; 10] {
        self.compound.sums(id, self.range(w))
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

    /// Complaints of one category (or all) in the window, summed over a selection.
    pub fn count_of(&self, ids: &[i64], w: Window, category: Option<Category>) -> u64 {
        ids.iter()
            .map(|id| self.compound_count(*id, w, category))
            .sum()
    }

    /// Repeat complaints of compounds `ids` over a window under `rule`, of one category or all.
    pub fn repeats_of(
        &self,
        ids: &[i64],
        w: Window,
        category: Option<Category>,
        rule: &crate::model::repeat::RepeatRule,
    ) -> u64 {
        let r = self.range(w);
        ids.iter()
            .map(|id| self.repeats.count(*id, &r, category, rule))
            .sum()
    }

    /// The three rates and the hours of compounds `ids` over a window (all categories).
    pub fn rates_of(&self, ids: &[i64], w: Window) -> Rates {
        let r = self.range(w);
        let (mut received, mut counts) = (0u64, [0u64; 3]);
        for id in ids {
            received += self.compound.sums(*id, r.clone()).iter().sum::<u64>();
            let h = self.handling.sums(*id, r.clone());
            for (c, v) in counts.iter_mut().zip(h) {
                *c += v;
            }
        }
        Rates::new(received, counts, self.times.spreads(ids.iter().copied(), r))
    }

    pub fn building_total(&self, id: i64, w: Window) -> u64 {
        self.building.sums(id, self.range(w))[0]
    }

    pub fn unit_total(&self, id: i64, w: Window) -> u64 {
        self.unit.sums(id, self.range(w))[0]
    }

    /// Adds one compound's monthly counts over a window (of one category, or all) into `out`,
    /// one slot per month of the window from its first; months outside the data add nothing.
    pub fn add_series(&self, id: i64, w: Window, category: Option<Category>, out: &mut [u64]) {
        let Some(first) = self.first else { return };
        for i in self.range(w) {
            // Data month `i` is the window's month `first + i - from` (never before its first:
            // the range starts inside the window).
            let at = usize::try_from(first.0 + i as i32 - w.from.0).unwrap_or(usize::MAX);
            let Some(slot) = out.get_mut(at) else {
                break;
            };
            let row = self.compound.month(id, i);
            *slot += match category {
                Some(c) => u64::from(row[cat_index(c)]),
                None => row.iter().map(|v| u64::from(*v)).sum(),
            };
        }
    }

    /// The monthly counts of a selection of compounds summed over a window (all months of the
    /// window, zeros included).
    pub fn series_of(&self, ids: &[i64], w: Window, category: Option<Category>) -> Vec<u64> {
        let mut out = vec![0; usize::try_from(w.months()).unwrap_or(0)];
        for id in ids {
            self.add_series(*id, w, category, &mut out);
        }
        out
    }

    /// Monthly counts of one compound over a window (all months of the window, zeros included).
    pub fn compound_series(
        &self,
        id: i64,
        w: Window,
        category: Option<Category>,
    ) -> Vec<(Month, u64)> {
        self.series_of(&[id], w, category)
            .into_iter()
            .enumerate()
            .map(|(k, v)| (w.from.plus(k as i32), v))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_tables_answer_as_the_dense_ones() {
        let n = 30;
        let mut counts = Counts::<1>::new(n);
        // A few rows with complaints in scattered months, one in every month, one with a
        // count near the top of u32 (the running totals wrap; differences stay exact).
        let mut x = 7u64;
        for id in [5i64, -3, 1_000_000_007, 42] {
            for _ in 0..12 {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                counts.add(id, (x >> 33) as usize % n, 0, 1 + (x >> 60) as u32);
            }
        }
        for i in 0..n {
            counts.add(9, i, 0, 3);
        }
        counts.add(11, 4, 0, u32::MAX - 2);
        counts.add(11, 20, 0, 9);
        let dense = counts.clone().into_table();
        let sparse = counts.into_sparse();
        assert_eq!(sparse.len(), dense.len());
        for a in 0..n {
            for b in a..=n {
                assert_eq!(sparse.window(a..b), dense.window(a..b), "{a}..{b}");
                for id in dense.ids().chain([77]) {
                    assert_eq!(sparse.sums(id, a..b), dense.sums(id, a..b), "{id} {a}..{b}");
                }
            }
        }
        for id in dense.ids() {
            assert!(sparse.monthly(id).eq(dense.monthly(id)), "{id}");
            assert_eq!(sparse.row_of(id), dense.row_of(id));
        }
        assert_eq!(sparse.monthly(77).count(), 0);
        assert_eq!(sparse.row_of(77), NO_ROW);
        assert!(sparse.heap_bytes() < 4 * n * dense.len());
        let mut again = SparseBuilder::new(n);
        for id in [9, 11] {
            again.push(id, sparse.monthly(id).map(|[c]| c));
        }
        again.push(9, [1, 2, 3]);
        assert_eq!(again.build().sums(9, 0..n), [3 * n as u64]);
    }

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

    /// Running totals answer every window as the plain monthly sums do, for every row and
    /// category, and the monthly counts come back as they went in.
    #[test]
    fn running_totals_equal_plain_sums_for_every_window() {
        let n = 14;
        let mut plain = vec![vec![[0u32; 3]; n]; 5];
        let mut counts = Counts::<3>::new(n);
        for k in 0..400u32 {
            let (id, i, slot) = (
                (k * 7) % 5,
                ((k * 13) % n as u32) as usize,
                (k % 3) as usize,
            );
            plain[id as usize][i][slot] += k % 4;
            counts.add(i64::from(id) + 100, i, slot, k % 4);
        }
        let t = counts.into_table();
        assert_eq!(t.len(), 5);
        for a in 0..n {
            for b in a..=n {
                let all = t.window(a..b);
                for (id, months) in plain.iter().enumerate() {
                    let want: [u64; 3] =
                        std::array::from_fn(|c| months[a..b].iter().map(|m| u64::from(m[c])).sum());
                    assert_eq!(t.sums(id as i64 + 100, a..b), want, "row {id}, {a}..{b}");
                    let r = t.row_of(id as i64 + 100) as usize;
                    assert_eq!(all[r], want.iter().sum::<u64>());
                }
            }
        }
        for (id, months) in plain.iter().enumerate() {
            assert!(t.monthly(id as i64 + 100).eq(months.iter().copied()));
        }
        assert_eq!(t.sums(7, 0..n), [0; 3]);
        assert_eq!(t.row_of(7), NO_ROW);
        assert_eq!(t.monthly(7).count(), 0);
    }

    /// Counts near `u32::MAX` still come back exactly month by month.
    #[test]
    fn huge_counts_wrap_but_months_stay_exact() {
        let mut counts = Counts::<1>::new(3);
        for i in 0..3 {
            counts.add(1, i, 0, u32::MAX - 1);
        }
        let t = counts.into_table();
        assert!(t.monthly(1).all(|m| m == [u32::MAX - 1]));
        assert_eq!(t.sums(1, 1..2), [u64::from(u32::MAX - 1)]);
    }

    #[test]
    #[allow(clippy::too_many_lines)] // the facts written out one by one, then every total
    fn window_totals_add_up() {
        let m = |s| Month::parse(s).unwrap();
        let facts = vec![
            Fact {
                month: m("2023-01"),
                category: Category::FireLane,
                compound: Some(1),
                building: Some(10),
                unit: Some(100),
                handled: crate::model::handling::Handled::default(),
                slot: 0,
                day: 0,
            },
            Fact {
                month: m("2023-02"),
                category: Category::Repairs,
                compound: Some(1),
                building: Some(10),
                unit: None,
                handled: crate::model::handling::Handled::default(),
                slot: 0,
                day: 0,
            },
            Fact {
                month: m("2023-03"),
                category: Category::Repairs,
                compound: Some(2),
                building: None,
                unit: None,
                handled: crate::model::handling::Handled::default(),
                slot: 0,
                day: 0,
            },
            Fact {
                month: m("2023-03"),
                category: Category::Repairs,
                compound: None,
                building: None,
                unit: None,
                handled: crate::model::handling::Handled::default(),
                slot: 0,
                day: 0,
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
        // A window reaching past both ends of the data, summed over a selection.
        let wide = Window {
            from: m("2022-11"),
            to: m("2023-04"),
        };
        assert_eq!(s.series_of(&[1, 2, 9], wide, None), vec![0, 0, 1, 1, 1, 0]);
        assert_eq!(
            s.series_of(&[1, 2], wide, Some(Category::Repairs)),
            vec![0, 0, 0, 1, 1, 0]
        );
        assert_eq!(s.count_of(&[1, 2], wide, Some(Category::Repairs)), 2);
        // A window after the data.
        let late = Window {
            from: m("2023-05"),
            to: m("2023-06"),
        };
        assert_eq!(s.series_of(&[1, 2], late, None), vec![0, 0]);
        assert_eq!(s.compound_total(1, late), 0);
    }
}
