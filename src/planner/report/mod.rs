//! The monthly report of a district (`GET /api/report.pdf`): one to three A4 pages in
//! Chinese — the heading, the district's map picture, the three rates and the hours against
//! the same month a year before, the red and yellow compounds, the companies worst by
//! density and those on the quarter's red and black lists, the month's alerts and repeat
//! hot spots, the 24-month trend and the campaign's effect.
//!
//! Pure and synchronous: the handler (`http::report`) reads every figure from the functions
//! the JSON endpoints call and fills a [`Report`]; [`render`] lays it out. Each section is one
//! function of [`sections`] taking the figures it shows, called in order by [`render`]; a new
//! section is a field of [`Report`] and one more call (a section with nothing to show is left
//! out, never an empty heading).

pub mod charts;
pub mod pdf;
pub mod sections;

use crate::analytics::effect::Effect;
use crate::model::handling::Rates;
use crate::model::{Month, Quarter};
use tiny_skia::Pixmap;

/// What the heading says.
#[derive(Debug, Clone)]
pub struct Heading {
    pub district: String,
    pub district_code: String,
    pub month: Month,
    /// The quarter whose grades the report shows, when one is graded.
    pub period: Option<Quarter>,
    /// When the report was made (`YYYY-MM-DD`).
    pub generated: String,
    /// Where the figures come from.
    pub source: String,
}

/// The month's rates and hours and those of the same month a year before.
#[derive(Debug, Clone)]
pub struct RatesFigures {
    pub month: Rates,
    pub year_before: Rates,
}

/// One red or yellow compound.
#[derive(Debug, Clone)]
pub struct GradedRow {
    pub name: String,
    pub street: String,
    /// `red` or `yellow`.
    pub grade: &'static str,
    pub complaints: u64,
    /// Complaints per 100 households per year, over the month.
    pub density: f64,
}

/// One property company of the league table.
#[derive(Debug, Clone)]
pub struct CompanyRow {
    pub name: String,
    pub compounds: u64,
    pub red: u64,
    pub yellow: u64,
    pub complaints: u64,
    pub density: f64,
}

/// One early-warning alert.
#[derive(Debug, Clone)]
pub struct AlertRow {
    pub compound: String,
    pub category: String,
    pub observed: u64,
    pub expected: f64,
}

/// The month's alerts: those shown (smallest p first), how many in all, why none.
#[derive(Debug, Clone)]
pub struct AlertsFigures {
    pub rows: Vec<AlertRow>,
    pub total: usize,
    pub note: Option<String>,
}

/// One property company on a list of the quarter, or off one in it (摘帽).
#[derive(Debug, Clone)]
pub struct ListRow {
    pub name: String,
    /// `black` or `red`; `none` for a company that came off its list this quarter.
    pub list: &'static str,
    /// Kept on its list by the cap-removal rule, not by the quarter's figures.
    pub held: bool,
    /// Its list this quarter is an override's.
    pub overridden: bool,
    /// The share of its households in red compounds.
    pub red_share: f64,
    /// The first quarter of its present run on a list.
    pub since: Option<Quarter>,
}

/// One place (a unit, or a building where the unit is not known) of repeat complaints.
#[derive(Debug, Clone)]
pub struct RepeatRow {
    pub compound: String,
    /// `3号楼 2单元`, or the building alone.
    pub place: String,
    pub complaints: u64,
    pub repeats: u64,
    /// The category with the most repeats there.
    pub category: &'static str,
}

/// The month's repeat complaints in the district: totals and the worst places.
#[derive(Debug, Clone)]
pub struct RepeatsFigures {
    /// What a repeat is: the same place and category again within this many days.
    pub days: u16,
    pub complaints: u64,
    pub repeats: u64,
    /// Places with a repeat.
    pub places: usize,
    pub rows: Vec<RepeatRow>,
}

/// A table's first rows and how many more there are.
#[derive(Debug, Clone)]
pub struct Top<T> {
    pub rows: Vec<T>,
    pub more: usize,
}

impl<T> Top<T> {
    /// The first `n` of `all`.
    pub fn of(mut all: Vec<T>, n: usize) -> Top<T> {
        let more = all.len().saturating_sub(n);
        all.truncate(n);
        Top { rows: all, more }
    }
}

/// Everything a report shows.
pub struct Report {
    pub heading: Heading,
    /// The district's map picture (grades of the period, complaints of the month).
    pub map: Option<Pixmap>,
    pub rates: RatesFigures,
    pub graded: Top<GradedRow>,
    pub companies: Top<CompanyRow>,
    /// The companies working in the district on the quarter's lists (none without a quarter).
    pub lists: Option<Top<ListRow>>,
    pub alerts: AlertsFigures,
    pub repeats: RepeatsFigures,
    /// Complaints per month, the 24 months to the report's (from the data's first).
    pub trend: Vec<(Month, u64)>,
    /// The campaign's effect to the report's month, when the data allow one.
    pub effect: Option<Effect>,
}

/// How many rows each table shows at most (the rest is "and N more").
pub const GRADED_ROWS: usize = 14;
pub const COMPANY_ROWS: usize = 8;
pub const ALERT_ROWS: usize = 8;
pub const LIST_ROWS: usize = 10;
pub const REPEAT_ROWS: usize = 8;

/// The PDF of a report.
pub fn render(r: &Report) -> Result<Vec<u8>, String> {
    let mut doc = pdf::Doc::new().ok_or("the bundled font cannot be read")?;
    sections::heading(&mut doc, &r.heading, r.rates.month.received);
    if let Some(pm) = &r.map {
        sections::map(&mut doc, pm, r.heading.period);
    }
    sections::rates(&mut doc, &r.rates, r.heading.month);
    sections::graded(&mut doc, &r.graded, r.heading.period);
    sections::companies(&mut doc, &r.companies);
    if let (Some(l), Some(q)) = (&r.lists, r.heading.period) {
        sections::lists(&mut doc, l, q);
    }
    sections::alerts(&mut doc, &r.alerts);
    sections::repeats(&mut doc, &r.repeats);
    sections::trend(&mut doc, &r.trend);
    if let Some(e) = &r.effect {
        sections::effect(&mut doc, e);
    }
    sections::footer(&mut doc, &r.heading);
    let title = format!("{} {} 物业投诉月报", r.heading.district, r.heading.month);
    doc.finish(&title)
}
