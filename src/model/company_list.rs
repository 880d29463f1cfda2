//! The property companies' red and black lists (物业企业红黑名单) as plain values: the two
//! lists, the rule's parameters (`[company_lists]`), a manual override and one company's
//! standing for a quarter. How they are computed is [`crate::analytics::company_list`]'s.

use super::Quarter;
use serde::{Deserialize, Serialize};

/// The list a company stands on in a quarter; `None` is no list. Ordered by weight: black is
/// the heavier list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum List {
    None,
    Red,
    Black,
}

impl List {
    pub const NAMES: [&'static str; 3] = ["black", "red", "none"];

    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            List::None => "none",
            List::Red => "red",
            List::Black => "black",
        }
    }

    /// `black`/`黑`, `red`/`红` or `none`/`无`.
    #[must_use]
    pub fn parse(s: &str) -> Option<List> {
        match s.trim().to_ascii_lowercase().as_str() {
            "black" | "黑" | "黑名单" => Some(List::Black),
            "red" | "红" | "红名单" => Some(List::Red),
            "none" | "无" => Some(List::None),
            _ => None,
        }
    }
}

/// The list rule's parameters (`[company_lists]`; rule `lists-1`, documented in
/// docs/complaints.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListRule {
    pub version: String,
    /// Companies managing fewer households are on no list (too small to judge by shares).
    pub min_households: i64,
    /// Black: at least this share of the company's households live in red compounds.
    pub black_share: f64,
    /// Red: at least this share of its households live in red compounds…
    pub red_share: f64,
    /// …or its rate (households-weighted grade rate of its compounds) is among the worst
    /// `red_worst` fraction of the companies judged (0: no rate criterion).
    pub red_worst: f64,
}

impl Default for ListRule {
    fn default() -> ListRule {
        ListRule {
            version: "lists-1".into(),
            min_households: 2000,
            black_share: 0.25,
            red_share: 0.10,
            red_worst: 0.02,
        }
    }
}

impl ListRule {
    /// A parameter out of range, named.
    pub fn check(&self) -> Result<(), String> {
        let bad = |field: &str, what: &str| Err(format!("[company_lists] {field} must be {what}"));
        if self.min_households < 0 {
            return bad("min_households", "0 or more");
        }
        if !(self.black_share > 0.0 && self.black_share <= 1.0) {
            return bad("black_share", "above 0 and at most 1");
        }
        if !(self.red_share > 0.0 && self.red_share <= self.black_share) {
            return bad("red_share", "above 0 and at most black_share");
        }
        if !(0.0..=0.5).contains(&self.red_worst) {
            return bad("red_worst", "from 0 to 0.5");
        }
        if self.version.trim().is_empty() {
            return bad("version", "a name");
        }
        Ok(())
    }
}

/// A manual list standing for a company and quarter, with who set it, when, why, and the
/// standing it replaced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompanyOverride {
    pub company_id: i64,
    pub period: Quarter,
    /// The standing in force before the override.
    pub from: List,
    pub list: List,
    pub reason: String,
    pub author: String,
    pub at: chrono::NaiveDateTime,
}

/// One company's standing for one quarter, with the figures it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    pub company_id: i64,
    pub period: Quarter,
    /// In force: the override's when there is one, else the computed one.
    pub list: List,
    /// What the rule gives, with the cap-removal rule.
    pub computed: List,
    /// What the quarter's figures alone qualify for.
    pub qualified: List,
    /// Kept on its list by the cap-removal rule (not by this quarter's figures).
    pub held: bool,
    /// Came off a list this quarter (摘帽): on one the quarter before, on none now.
    pub capped_off: bool,
    /// The first quarter of its present unbroken run on a list.
    pub since: Option<Quarter>,
    pub households: i64,
    pub red_households: i64,
    pub compounds: usize,
    pub red_compounds: usize,
    /// Households-weighted grade rate of its compounds (per 100 households a year).
    pub rate: f64,
    /// The rate at and above which a judged company is among the worst `red_worst`
    /// (infinite when the criterion is off or nobody is judged).
    pub worst_line: f64,
    /// Whether it manages enough households to be judged.
    pub judged: bool,
    pub r#override: Option<CompanyOverride>,
}

impl Standing {
    /// The share of its households in red compounds (0 with none).
    #[must_use]
    pub fn red_share(&self) -> f64 {
        share(self.red_households, self.households)
    }
}

/// `part` of `whole` households as a fraction (0 with none): a company's red share.
#[must_use]
pub fn share(part: i64, whole: i64) -> f64 {
    if whole > 0 {
        part as f64 / whole as f64
    } else {
        0.0
    }
}
