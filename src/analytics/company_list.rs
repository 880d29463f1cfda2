//! The property companies' red and black lists (物业企业红黑名单), quarter by quarter, by a
//! documented rule.
//!
//! Rule `lists-1` (every figure configurable in [`ListRule`], `[company_lists]`):
//! 1. **Judged**: a company managing at least `min_households` (2,000) households; smaller
//!    ones are on no list.
//! 2. **Figures** of a quarter, from its compounds' grades in force that quarter
//!    ([`GradeBook`], overrides applied): the share of its households living in red compounds,
//!    and its rate — its compounds' grade rates weighted by households.
//! 3. **Black**: a red share of at least `black_share` (25%).
//! 4. **Red**: a red share of at least `red_share` (10%), or a rate among the worst
//!    `red_worst` (2%) of the judged companies (ties at the line included).
//! 5. **Cap removal (摘帽)**, as compounds leave red ([`keeps_cap`]): a company on a list keeps
//!    (at least) that list until its figures have qualified it for no list two quarters
//!    running.
//! 6. **Overrides** by authorised users win for their quarter, keep who, when, the standing
//!    they replaced and why, and survive every recomputation; as with grades, the rule's
//!    memory (what was on a list the quarter before) is the computed standing's.

use super::grade::{keeps_cap, latest_by, GradeBook};
use crate::model::company_list::{CompanyOverride, List, ListRule, Standing};
use crate::model::grade::Grade;
use crate::model::Quarter;
use std::collections::HashMap;

/// What the lists need to know of a company: its compounds and their households.
#[derive(Debug, Clone)]
pub struct Managed {
    pub id: i64,
    /// (compound id, households).
    pub compounds: Vec<(i64, i64)>,
}

/// Every company's standing in every graded quarter.
#[derive(Debug, Clone, Default)]
pub struct ListBook {
    pub records: HashMap<(Quarter, i64), Standing>,
    pub periods: Vec<Quarter>,
}

/// What a company carries from one quarter to the next: its computed list, whether its
/// figures were quiet, its list in force and since when.
#[derive(Clone, Copy)]
struct Carried {
    computed: List,
    quiet: bool,
    list: List,
    since: Option<Quarter>,
}

const NEVER: Carried = Carried {
    computed: List::None,
    quiet: true,
    list: List::None,
    since: None,
};

impl ListBook {
    pub fn get(&self, period: Quarter, company: i64) -> Option<&Standing> {
        self.records.get(&(period, company))
    }

    /// A company's standings, oldest first.
    pub fn history(&self, company: i64) -> Vec<&Standing> {
        self.periods
            .iter()
            .filter_map(|p| self.records.get(&(*p, company)))
            .collect()
    }

    /// The companies on a list in a quarter (or those that came off one in it, with
    /// `capped_off`): black first, then by red share and rate, worst first (ties by id).
    pub fn listed(&self, period: Quarter, capped_off: bool) -> Vec<&Standing> {
        let mut v: Vec<&Standing> = self
            .records
            .values()
            .filter(|s| s.period == period && (s.list != List::None || capped_off && s.capped_off))
            .collect();
        v.sort_by(|a, b| {
            b.list
                .cmp(&a.list)
                .then(b.red_share().total_cmp(&a.red_share()))
                .then(b.rate.total_cmp(&a.rate))
                .then(a.company_id.cmp(&b.company_id))
        });
        v
    }

    /// The standings of every graded quarter, oldest first (each quarter's cap removal needs
    /// the quarter before).
    pub fn compute(
        grades: &GradeBook,
        companies: &[Managed],
        rule: &ListRule,
        overrides: &[CompanyOverride],
    ) -> ListBook {
        let latest = latest_by(overrides, |o| ((o.period, o.company_id), o.at));
        let mut book = ListBook {
            periods: grades.periods.clone(),
            ..ListBook::default()
        };
        let mut carried: HashMap<i64, Carried> = HashMap::new();
        for &q in &grades.periods {
            let figures: Vec<Standing> = companies
                .iter()
                .map(|c| figures(grades, q, c, rule))
                .collect();
            let line = worst_line(&figures, rule);
            for mut s in figures {
                s.worst_line = line;
                s.qualified = qualify(&s, rule);
                let was = carried.get(&s.company_id).copied().unwrap_or(NEVER);
                let quiet = s.qualified == List::None;
                s.computed = if keeps_cap(was.computed != List::None, quiet, was.quiet) {
                    s.qualified.max(was.computed)
                } else {
                    s.qualified
                };
                s.held = s.computed > s.qualified;
                s.r#override = latest.get(&(q, s.company_id)).map(|o| (*o).clone());
                s.list = s.r#override.as_ref().map_or(s.computed, |o| o.list);
                s.capped_off = was.list != List::None && s.list == List::None;
                s.since = match (s.list, was.list) {
                    (List::None, _) => None,
                    (_, List::None) => Some(q),
                    _ => was.since,
                };
                carried.insert(
                    s.company_id,
                    Carried {
                        computed: s.computed,
                        quiet,
                        list: s.list,
                        since: s.since,
                    },
                );
                book.records.insert((q, s.company_id), s);
            }
        }
        book
    }
}

/// A company's figures for a quarter, its standing not yet decided.
fn figures(grades: &GradeBook, q: Quarter, c: &Managed, rule: &ListRule) -> Standing {
    let mut s = Standing {
        company_id: c.id,
        period: q,
        list: List::None,
        computed: List::None,
        qualified: List::None,
        held: false,
        capped_off: false,
        since: None,
        households: 0,
        red_households: 0,
        compounds: c.compounds.len(),
        red_compounds: 0,
        rate: 0.0,
        worst_line: f64::INFINITY,
        judged: false,
        r#override: None,
    };
    let mut weighted = 0.0;
    for &(id, households) in &c.compounds {
        s.households += households;
        if let Some(r) = grades.get(q, id) {
            weighted += r.rate * households as f64;
            if r.grade == Grade::Red {
                s.red_households += households;
                s.red_compounds += 1;
            }
        }
    }
    if s.households > 0 {
        s.rate = weighted / s.households as f64;
    }
    s.judged = s.households >= rule.min_households;
    s
}

/// The rate at and above which a judged company is among the worst `red_worst` of them
/// (infinite when the criterion is off, nobody is judged, or the line would be no rate at all).
fn worst_line(figures: &[Standing], rule: &ListRule) -> f64 {
    let mut rates: Vec<f64> = figures
        .iter()
        .filter(|s| s.judged)
        .map(|s| s.rate)
        .collect();
    rates.sort_by(|a, b| b.total_cmp(a));
    let k = (rule.red_worst * rates.len() as f64).round() as usize;
    match k.checked_sub(1).and_then(|i| rates.get(i)) {
        Some(&line) if line > 0.0 => line,
        _ => f64::INFINITY,
    }
}

/// The list a quarter's figures alone qualify a company for.
fn qualify(s: &Standing, rule: &ListRule) -> List {
    if !s.judged {
        List::None
    } else if s.red_share() >= rule.black_share {
        List::Black
    } else if s.red_share() >= rule.red_share || s.rate >= s.worst_line {
        List::Red
    } else {
        List::None
    }
}

/// The quarter a `period` parameter names, or the latest listed one.
pub fn parse_period(period: Option<&str>, book: &ListBook) -> Result<Quarter, String> {
    let graded = GradeBook {
        periods: book.periods.clone(),
        ..GradeBook::default()
    };
    super::grade::parse_period(period, &graded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::grade::GradeRecord;

    /// A grade book of quarters 2022Q1.. where compound `c` is red in the quarters `red[c]`
    /// marks, every compound rated 10.
    fn book(red: &[&[bool]]) -> GradeBook {
        let first = Quarter::parse("2022Q1").unwrap().0;
        let mut b = GradeBook::default();
        for k in 0..red[0].len() {
            let q = Quarter(first + k as i32);
            b.periods.push(q);
            for (c, marks) in red.iter().enumerate() {
                let grade = if marks[k] { Grade::Red } else { Grade::Blue };
                b.records.insert(
                    (q, c as i64 + 1),
                    GradeRecord {
                        compound_id: c as i64 + 1,
                        period: q,
                        grade,
                        computed: grade,
                        rate: 10.0,
                        rank: 1,
                        of: 1,
                        district: "370213".into(),
                        held: false,
                        red_line: 25.0,
                        yellow_line: 12.0,
                        top_categories: Vec::new(),
                        repeats: 0,
                        r#override: None,
                        rule_version: "rygb-1".into(),
                    },
                );
            }
        }
        b
    }

    #[test]
    fn a_company_comes_off_its_list_only_after_two_quiet_quarters() {
        // Company 1 manages compounds 1 (1,000 households) and 2 (3,000): red while compound 1
        // is red (25% of its households: black), then quiet, quiet.
        let grades = book(&[&[true, false, true, false, false, false], &[false; 6]]);
        let managed = [Managed {
            id: 1,
            compounds: vec![(1, 1000), (2, 3000)],
        }];
        let rule = ListRule {
            red_worst: 0.0,
            ..ListRule::default()
        };
        let b = ListBook::compute(&grades, &managed, &rule, &[]);
        let h: Vec<(List, List, bool, bool)> = b
            .history(1)
            .iter()
            .map(|s| (s.list, s.qualified, s.held, s.capped_off))
            .collect();
        use List::{Black, None as No};
        assert_eq!(
            h,
            vec![
                (Black, Black, false, false),
                (Black, No, true, false), // one quiet quarter: held
                (Black, Black, false, false),
                (Black, No, true, false),
                (No, No, false, true), // the second quiet quarter running: 摘帽
                (No, No, false, false),
            ]
        );
        assert_eq!(
            b.history(1)[3].since,
            Some(Quarter::parse("2022Q1").unwrap())
        );
    }
}
