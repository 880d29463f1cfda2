//! Red / yellow / blue grades per compound per quarter (红黄蓝三级), by a documented rule.
//!
//! Rule `rygb-1` (all figures configurable in [`Rule`]):
//! 1. **Rate**: severity-weighted complaints over the 12 months ending with the quarter, per 100
//!    households per year. Fire lanes, fire facilities and flying-wire charging weigh 3,
//!    stairwell clutter 1.5, everything else 1.
//! 2. **Rank** the compounds of each district by rate (ties by id).
//! 3. **Slots**: red takes round(1.5%) of the district's compounds, yellow round(3.5%).
//! 4. **Floors**: red needs a rate of at least 25, yellow at least 12: a quiet district gets no
//!    red (and maybe no yellow) whatever the ranking.
//! 5. **Cap removal (摘帽)**: a red compound stays red until it has been below the yellow line
//!    (the rate of the last yellow slot, or the yellow floor) for two consecutive quarters.
//!    Held compounds take red slots first; the best-ranked others fill the rest.
//! 6. **Repeats** (`[repeats]`): each repeat complaint in the window (the same unit, or
//!    building, and category again within `days` days) adds `weight` to the severity-weighted
//!    complaints of step 1 — 0 by default, so repeats are shown beside the grade but do not
//!    move it unless configured.
//! 7. **Overrides** by authorised users win over the computed grade for their quarter and are
//!    never dropped by a recomputation; the computed grade is kept beside them.

pub use crate::model::grade::{Grade, GradeRecord, Override, Rule};
use crate::model::stats::{Stats, Window};
use crate::model::{Category, Month, Quarter};
use std::collections::{HashMap, HashSet};

/// What grading needs to know of a compound.
#[derive(Debug, Clone)]
pub struct Graded {
    pub id: i64,
    pub district: String,
    pub households: i64,
}

/// All grades of all quarters.
#[derive(Debug, Clone, Default)]
pub struct GradeBook {
    pub records: HashMap<(Quarter, i64), GradeRecord>,
    pub periods: Vec<Quarter>,
}

impl GradeBook {
    pub fn latest(&self) -> Option<Quarter> {
        self.periods.last().copied()
    }
    pub fn get(&self, period: Quarter, compound: i64) -> Option<&GradeRecord> {
        self.records.get(&(period, compound))
    }
    /// A compound's grades, oldest first.
    pub fn history(&self, compound: i64) -> Vec<&GradeRecord> {
        self.periods
            .iter()
            .filter_map(|p| self.records.get(&(*p, compound)))
            .collect()
    }
    /// Red/yellow/blue counts of a district (or the city) in a quarter.
    pub fn counts(&self, period: Quarter, district: Option<&str>) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for r in self
            .records
            .values()
            .filter(|r| r.period == period && district.is_none_or(|d| &*r.district == d))
        {
            match r.grade {
                Grade::Red => c.0 += 1,
                Grade::Yellow => c.1 += 1,
                Grade::Blue => c.2 += 1,
            }
        }
        c
    }

    /// Grades every quarter whose trailing window lies inside the data.
    pub fn compute(
        stats: &Stats,
        compounds: &[Graded],
        rule: &Rule,
        overrides: &[Override],
    ) -> GradeBook {
        let mut book = GradeBook::default();
        let (Some(first), Some(last)) = (stats.first, stats.last) else {
            return book;
        };
        let (mut q, last_q) = graded_quarters(first, last, rule);
        let mut by_district: HashMap<&str, Vec<&Graded>> = HashMap::new();
        for c in compounds {
            by_district.entry(c.district.as_str()).or_default().push(c);
        }
        let latest_override = latest_overrides(overrides);
        let codes: HashMap<&str, std::sync::Arc<str>> = by_district
            .keys()
            .map(|d| (*d, std::sync::Arc::from(*d)))
            .collect();
        let version: std::sync::Arc<str> = std::sync::Arc::from(rule.version.as_str());
        let mut prev_red: HashSet<i64> = HashSet::new();
        let mut prev_below: HashSet<i64> = HashSet::new();
        while q <= last_q {
            let w = Window {
                from: q.last_month().plus(1 - rule.window_months),
                to: q.last_month(),
            };
            let mut red_now = HashSet::new();
            let mut below_now = HashSet::new();
            for (district, members) in &by_district {
                let district_code = &codes[district];
                let rated = rate(stats, members, rule, w);
                let dq = DistrictQuarter::new(&rated, rule, &prev_red, &prev_below);
                for (rank, (rate, c, weighted, repeats)) in rated.iter().enumerate() {
                    let computed = dq.grade(c.id);
                    let ov = latest_override.get(&(q, c.id)).map(|o| (*o).clone());
                    book.records.insert(
                        (q, c.id),
                        GradeRecord {
                            compound_id: c.id,
                            period: q,
                            grade: ov.as_ref().map_or(computed, |o| o.grade),
                            computed,
                            rate: (*rate * 100.0).round() / 100.0,
                            rank: rank + 1,
                            of: rated.len(),
                            district: std::sync::Arc::clone(district_code),
                            // Held: red only by the cap-removal rule, not by its rank.
                            held: dq.held.contains(&c.id)
                                && computed == Grade::Red
                                && !(rank < dq.red_slots && *rate >= rule.red_floor),
                            red_line: dq.red_line,
                            yellow_line: dq.yellow_line,
                            top_categories: top_categories(weighted),
                            repeats: *repeats,
                            r#override: ov.map(Box::new),
                            rule_version: std::sync::Arc::clone(&version),
                        },
                    );
                }
                red_now.extend(dq.red);
                below_now.extend(dq.below);
            }
            book.periods.push(q);
            prev_red = red_now;
            prev_below = below_now;
            q = Quarter(q.0 + 1);
        }
        book
    }
}

/// The first quarter with a full trailing window and the last quarter whose months all have
/// data (a partial quarter would grade on a window with missing months).
fn graded_quarters(first: Month, last: Month, rule: &Rule) -> (Quarter, Quarter) {
    let mut q = first.plus(rule.window_months - 1).quarter();
    if q.last_month() < first.plus(rule.window_months - 1) {
        q = Quarter(q.0 + 1);
    }
    let last_q = if last == last.quarter().last_month() {
        last.quarter()
    } else {
        last.quarter().prev()
    };
    (q, last_q)
}

/// The override that counts for each compound and quarter: the latest one made.
fn latest_overrides(overrides: &[Override]) -> HashMap<(Quarter, i64), &Override> {
    latest_by(overrides, |o| ((o.period, o.compound_id), o.at))
}

/// The item that counts for each key (an override's quarter and subject): the latest made,
/// the later given on a tie. `key_at` gives an item's key and time.
pub fn latest_by<T, K: std::hash::Hash + Eq>(
    items: &[T],
    key_at: impl Fn(&T) -> (K, chrono::NaiveDateTime),
) -> HashMap<K, &T> {
    let mut m: HashMap<K, (&T, chrono::NaiveDateTime)> = HashMap::new();
    for o in items {
        let (k, at) = key_at(o);
        let e = m.entry(k).or_insert((o, at));
        if at >= e.1 {
            *e = (o, at);
        }
    }
    m.into_iter().map(|(k, (o, _))| (k, o)).collect()
}

/// The cap-removal rule (摘帽), shared by compounds' grades and companies' lists: what was on
/// a list (red; black or red) keeps its place unless it has been quiet (below the lower line;
/// on no list by its figures) this quarter and the quarter before.
#[must_use]
pub fn keeps_cap(was_on: bool, quiet_now: bool, quiet_before: bool) -> bool {
    was_on && !(quiet_now && quiet_before)
}

/// A compound's rate, the compound, its severity-weighted complaints by category and its
/// repeats.
type Rated<'a> = (f64, &'a Graded, [f64; 10], u64);

/// A district's compounds rated over the window, highest rate first (ties by id).
fn rate<'a>(stats: &Stats, members: &[&'a Graded], rule: &Rule, w: Window) -> Vec<Rated<'a>> {
    let months = stats.range(w);
    let mut rated: Vec<Rated<'a>> = members
        .iter()
        .map(|c| {
            let by = stats.compound_by_category(c.id, w);
            let repeats = stats.repeats.count(c.id, &months, None, &rule.repeats);
            let mut weighted = [0.0; 10];
            for (i, cat) in Category::ALL.iter().enumerate() {
                weighted[i] = by[i] as f64 * rule.weights.get(cat).copied().unwrap_or(1.0);
            }
            let sum = weighted.iter().sum::<f64>() + repeats as f64 * rule.repeats.weight;
            let rate = if c.households > 0 {
                sum / c.households as f64 * 100.0 * 12.0 / f64::from(w.months())
            } else {
                0.0
            };
            (rate, *c, weighted, repeats)
        })
        .collect();
    rated.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.id.cmp(&b.1.id)));
    rated
}

/// The (at most three) categories that weigh most in a compound's rate, heaviest first.
fn top_categories(weighted: &[f64; 10]) -> Vec<(Category, f64)> {
    let mut top: Vec<(Category, f64)> = Category::ALL
        .iter()
        .zip(weighted.iter())
        .filter(|(_, v)| **v > 0.0)
        .map(|(c, v)| (*c, *v))
        .collect();
    top.sort_by(|a, b| b.1.total_cmp(&a.1));
    top.truncate(3);
    top.shrink_to_fit();
    top
}

/// One district's grading in one quarter: its red slots and lines, and which compounds are
/// red, yellow, held red by the cap-removal rule, or below the yellow line.
struct DistrictQuarter {
    red_slots: usize,
    red_line: f64,
    yellow_line: f64,
    below: HashSet<i64>,
    held: HashSet<i64>,
    red: HashSet<i64>,
    yellow: HashSet<i64>,
}

impl DistrictQuarter {
    /// Grades a district's rated compounds, given last quarter's red and below-the-line ones.
    fn new(
        rated: &[Rated],
        rule: &Rule,
        prev_red: &HashSet<i64>,
        prev_below: &HashSet<i64>,
    ) -> DistrictQuarter {
        let n = rated.len();
        let red_slots = (rule.red_share * n as f64).round() as usize;
        let yellow_slots = (rule.yellow_share * n as f64).round() as usize;
        let line_at = |k: usize| {
            rated
                .get(k.saturating_sub(1))
                .map_or(f64::INFINITY, |r| r.0)
        };
        let yellow_line = line_at(red_slots + yellow_slots).max(rule.yellow_floor);
        let red_line = line_at(red_slots).max(rule.red_floor);
        let below: HashSet<i64> = rated
            .iter()
            .filter(|r| r.0 < yellow_line)
            .map(|r| r.1.id)
            .collect();
        let held: HashSet<i64> = rated
            .iter()
            .map(|r| r.1.id)
            .filter(|id| {
                keeps_cap(
                    prev_red.contains(id),
                    below.contains(id),
                    prev_below.contains(id),
                )
            })
            .collect();
        let mut red: HashSet<i64> = held.clone();
        for r in rated {
            if red.len() >= red_slots.max(held.len()) || r.0 < rule.red_floor {
                break;
            }
            red.insert(r.1.id);
        }
        let mut yellow: HashSet<i64> = HashSet::new();
        for r in rated.iter().filter(|r| !red.contains(&r.1.id)) {
            if yellow.len() >= yellow_slots || r.0 < rule.yellow_floor {
                break;
            }
            yellow.insert(r.1.id);
        }
        DistrictQuarter {
            red_slots,
            red_line,
            yellow_line,
            below,
            held,
            red,
            yellow,
        }
    }

    /// The grade the rule gives a compound of the district.
    fn grade(&self, id: i64) -> Grade {
        if self.red.contains(&id) {
            Grade::Red
        } else if self.yellow.contains(&id) {
            Grade::Yellow
        } else {
            Grade::Blue
        }
    }
}

/// The quarter a `period` parameter names, or the latest graded one.
pub fn parse_period(period: Option<&str>, book: &GradeBook) -> Result<Quarter, String> {
    match period {
        None => book
            .latest()
            .ok_or_else(|| "no graded quarter yet: import complaints first".to_string()),
        Some(p) => {
            let q = Quarter::parse(p)
                .ok_or_else(|| format!("`period` must be a quarter as YYYYQn, got `{p}`"))?;
            if !book.periods.contains(&q) {
                let range = match (book.periods.first(), book.periods.last()) {
                    (Some(a), Some(b)) => format!("{a}..{b}"),
                    _ => "none".into(),
                };
                return Err(format!("no grades for {q}: graded quarters are {range}"));
            }
            Ok(q)
        }
    }
}

/// The month a quarter's window ends (for explanations).
pub fn window_of(q: Quarter, rule: &Rule) -> Window {
    Window {
        from: q.last_month().plus(1 - rule.window_months),
        to: q.last_month(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::stats::Fact;

    /// A district of 100 compounds of 100 households; compound 1 is loud until `quiet_from`.
    fn district(loud_until: &str) -> (Stats, Vec<Graded>) {
        let m = |s: &str| Month::parse(s).unwrap();
        let mut facts = Vec::new();
        for month in m("2021-01").0..=m("2023-06").0 {
            for c in 1..=100i64 {
                let n = if c == 1 {
                    if Month(month) <= m(loud_until) {
                        10
                    } else {
                        0
                    }
                } else if c <= 6 {
                    3
                } else {
                    usize::from(month % 7 == 0 && c % 3 == 0)
                };
                for _ in 0..n {
                    facts.push(Fact {
                        month: Month(month),
                        category: Category::FireLane,
                        compound: Some(c),
                        building: None,
                        unit: None,
                        handled: crate::model::handling::Handled::default(),
                        slot: 0,
                        day: 0,
                    });
                }
            }
        }
        let compounds = (1..=100)
            .map(|id| Graded {
                id,
                district: "370213".into(),
                households: 100,
            })
            .collect();
        (Stats::from_facts(&facts), compounds)
    }

    #[test]
    fn red_compound_stays_red_until_two_quiet_quarters() {
        let (stats, compounds) = district("2022-03");
        let book = GradeBook::compute(&stats, &compounds, &Rule::default(), &[]);
        let g = |q: &str| book.get(Quarter::parse(q).unwrap(), 1).unwrap().clone();
        assert_eq!(g("2022Q1").grade, Grade::Red);
        // Its 12-month rate stays high for a while after it quietens, then falls below the line.
        let history: Vec<(String, Grade, bool)> = book
            .history(1)
            .iter()
            .map(|r| (r.period.to_string(), r.grade, r.held))
            .collect();
        let first_blue = history.iter().position(|h| h.1 != Grade::Red).unwrap();
        // Before leaving red it was held at least once (below the line, not yet two quarters).
        assert!(history[..first_blue].iter().any(|h| h.2), "{history:?}");
        assert!(
            history[first_blue..].iter().all(|h| h.1 != Grade::Red),
            "{history:?}"
        );
    }

    #[test]
    fn a_quiet_district_gets_no_red() {
        let m = |s: &str| Month::parse(s).unwrap();
        let facts: Vec<Fact> = (m("2022-01").0..=m("2023-06").0)
            .flat_map(|month| {
                (1..=50i64).map(move |c| Fact {
                    month: Month(month),
                    category: Category::Greening,
                    compound: Some(c),
                    building: None,
                    unit: None,
                    handled: crate::model::handling::Handled::default(),
                    slot: 0,
                    day: 0,
                })
            })
            .collect();
        let compounds: Vec<Graded> = (1..=50)
            .map(|id| Graded {
                id,
                district: "370283".into(),
                households: 1000,
            })
            .collect();
        let book = GradeBook::compute(
            &Stats::from_facts(&facts),
            &compounds,
            &Rule::default(),
            &[],
        );
        let q = Quarter::parse("2023Q2").unwrap();
        assert_eq!(book.counts(q, None), (0, 0, 50));
    }

    #[test]
    fn overrides_win_and_survive_recomputation() {
        let (stats, compounds) = district("2023-06");
        let q = Quarter::parse("2023Q2").unwrap();
        let o = Override {
            compound_id: 1,
            period: q,
            grade: Grade::Yellow,
            reason: "remediation agreed".into(),
            author: "licang-admin".into(),
            at: chrono::NaiveDate::from_ymd_opt(2023, 7, 1)
                .unwrap()
                .and_hms_opt(9, 0, 0)
                .unwrap(),
        };
        for _ in 0..2 {
            let book = GradeBook::compute(
                &stats,
                &compounds,
                &Rule::default(),
                std::slice::from_ref(&o),
            );
            let r = book.get(q, 1).unwrap();
            assert_eq!((r.grade, r.computed), (Grade::Yellow, Grade::Red));
            assert_eq!(r.r#override.as_ref().unwrap().author, "licang-admin");
        }
    }
}
