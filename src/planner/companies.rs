//! The property companies' league table: for a window and a grading quarter, every company that
//! manages a compound (in a district, when asked): compounds and households managed,
//! complaints and their density, red / yellow / blue compounds and the share of its households
//! that live in red ones, and the change against the same window a year before.
//!
//! Computed from the figures the tiles use ([`Figures`]), so that a company's complaints are
//! the sum of its compounds' on the map, from either store alike.

use crate::analytics::{density, Grade};
use crate::error::Error;
use crate::tile::atlas::{CityIndex, Figures};
use std::collections::BTreeMap;

/// One company's figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompanyFigures {
    pub id: i64,
    pub name: String,
    pub compounds: u64,
    pub households: i64,
    pub complaints: u64,
    /// Complaints in the same window a year before.
    pub year_before: u64,
    pub red: u64,
    pub yellow: u64,
    pub blue: u64,
    /// Households in its red compounds.
    pub red_households: i64,
    /// The districts it works in, by code.
    pub districts: Vec<String>,
    /// Its complaints of the window closed, rated and rated satisfied.
    pub handled: [u64; 3],
    /// Its compounds' ids, ascending.
    pub compound_ids: Vec<i64>,
    /// Its repeat complaints in the window (the same unit, or building, and category again
    /// within `[repeats] days`).
    pub repeats: u64,
}

impl CompanyFigures {
    /// Complaints per 100 households a year, over `months`.
    #[must_use]
    pub fn density(&self, months: i32) -> f64 {
        density(self.complaints, self.households, months)
    }

    /// The share of its households in red compounds (0 with no households).
    #[must_use]
    pub fn red_share(&self) -> f64 {
        crate::model::company_list::share(self.red_households, self.households)
    }

    /// Repeats ÷ complaints (`None` without complaints).
    #[must_use]
    pub fn repeat_rate(&self) -> Option<f64> {
        crate::model::handling::rate(self.repeats, self.complaints)
    }

    /// Complaints against the same window a year before, as a fraction (`None` when there were
    /// none then).
    #[must_use]
    pub fn change(&self) -> Option<f64> {
        (self.year_before > 0).then(|| self.complaints as f64 / self.year_before as f64 - 1.0)
    }
}

/// How the table is ordered (`sort=`): numbers largest first, the name in collation order;
/// `unresolved` is the share of complaints not closed and `dissatisfied` the share of rated
/// ones not satisfied (the worst first; companies with nothing received or rated last).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    #[default]
    Density,
    Complaints,
    Red,
    RedShare,
    Change,
    Households,
    Compounds,
    Unresolved,
    Dissatisfied,
    Name,
}

impl SortBy {
    pub const NAMES: [&'static str; 10] = [
        "density",
        "complaints",
        "red",
        "red_share",
        "change",
        "households",
        "compounds",
        "unresolved",
        "dissatisfied",
        "name",
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            SortBy::Density => "density",
            SortBy::Complaints => "complaints",
            SortBy::Red => "red",
            SortBy::RedShare => "red_share",
            SortBy::Change => "change",
            SortBy::Households => "households",
            SortBy::Compounds => "compounds",
            SortBy::Unresolved => "unresolved",
            SortBy::Dissatisfied => "dissatisfied",
            SortBy::Name => "name",
        }
    }

    pub fn parse(s: Option<&str>) -> Result<SortBy, Error> {
        const ALL: [SortBy; 10] = [
            SortBy::Density,
            SortBy::Complaints,
            SortBy::Red,
            SortBy::RedShare,
            SortBy::Change,
            SortBy::Households,
            SortBy::Compounds,
            SortBy::Unresolved,
            SortBy::Dissatisfied,
            SortBy::Name,
        ];
        let Some(s) = s else {
            return Ok(SortBy::Density);
        };
        ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            Error::BadRequest(format!(
                "unknown sort `{s}`; use one of {}",
                SortBy::NAMES.join(", ")
            ))
        })
    }
}

/// Every company managing a compound (of `district`, when given), with its figures in `fig`'s
/// window and quarter and `before`'s complaints (the same window a year before), ordered by
/// `sort` (ties by id).
#[must_use]
pub fn league(
    city: &CityIndex,
    fig: &Figures,
    before: &Figures,
    district: Option<&str>,
    sort: SortBy,
) -> Vec<CompanyFigures> {
    let d = &city.data;
    let names: BTreeMap<i64, &str> = d
        .companies
        .iter()
        .map(|c| (c.id, c.name.as_str()))
        .collect();
    let mut table: BTreeMap<i64, CompanyFigures> = BTreeMap::new();
    for c in &d.compounds {
        if district.is_some_and(|code| c.district_code != code) {
            continue;
        }
        let (n, grade) = fig.compound(c.id);
        let row = table.entry(c.company_id).or_insert_with(|| CompanyFigures {
            id: c.company_id,
            name: names
                .get(&c.company_id)
                .copied()
                .unwrap_or_default()
                .to_string(),
            ..CompanyFigures::default()
        });
        row.compounds += 1;
        row.households += i64::from(c.households);
        row.complaints += n;
        row.repeats += fig.repeats(c.id);
        row.year_before += before.compound(c.id).0;
        for (t, v) in row.handled.iter_mut().zip(fig.handled(c.id)) {
            *t += v;
        }
        row.compound_ids.push(c.id);
        match grade {
            Some(Grade::Red) => {
                row.red += 1;
                row.red_households += i64::from(c.households);
            }
            Some(Grade::Yellow) => row.yellow += 1,
            Some(Grade::Blue) => row.blue += 1,
            None => {}
        }
        if !row.districts.contains(&c.district_code) {
            row.districts.push(c.district_code.clone());
        }
    }
    let months = fig.window.months();
    let mut rows: Vec<CompanyFigures> = table.into_values().collect();
    for r in &mut rows {
        r.districts.sort();
        r.compound_ids.sort_unstable();
    }
    use crate::model::handling::rate;
    let key = |r: &CompanyFigures| -> f64 {
        match sort {
            SortBy::Density => r.density(months),
            SortBy::Complaints => r.complaints as f64,
            SortBy::Red => r.red as f64,
            SortBy::RedShare => r.red_share(),
            SortBy::Change => r.change().unwrap_or(f64::NEG_INFINITY),
            SortBy::Households => r.households as f64,
            SortBy::Compounds => r.compounds as f64,
            SortBy::Unresolved => {
                rate(r.handled[0], r.complaints).map_or(f64::NEG_INFINITY, |x| 1.0 - x)
            }
            SortBy::Dissatisfied => {
                rate(r.handled[2], r.handled[1]).map_or(f64::NEG_INFINITY, |x| 1.0 - x)
            }
            SortBy::Name => 0.0,
        }
    };
    if sort == SortBy::Name {
        rows.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    } else {
        rows.sort_by(|a, b| key(b).total_cmp(&key(a)).then(a.id.cmp(&b.id)));
    }
    rows
}
