//! Calendar months and quarters, as complaint windows and grade periods use them.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A calendar month, stored as `year * 12 + (month - 1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Month(pub i32);

impl Month {
    pub fn new(year: i32, month: u32) -> Month {
        Month(year * 12 + month as i32 - 1)
    }
    pub fn of(date: NaiveDate) -> Month {
        Month::new(date.year(), date.month())
    }
    pub fn year(self) -> i32 {
        self.0.div_euclid(12)
    }
    /// 1..=12
    pub fn month(self) -> u32 {
        self.0.rem_euclid(12) as u32 + 1
    }
    #[must_use]
    pub fn plus(self, n: i32) -> Month {
        Month(self.0 + n)
    }
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year(), self.month(), 1).unwrap_or_default()
    }
    pub fn quarter(self) -> Quarter {
        Quarter(self.year() * 4 + (self.month() as i32 - 1) / 3)
    }
    /// Parses `YYYY-MM`.
    pub fn parse(s: &str) -> Option<Month> {
        let (y, m) = s.trim().split_once('-')?;
        if y.len() != 4 || m.is_empty() || m.len() > 2 {
            return None;
        }
        let (y, m): (i32, u32) = (y.parse().ok()?, m.parse().ok()?);
        ((1900..=2100).contains(&y) && (1..=12).contains(&m)).then(|| Month::new(y, m))
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.month())
    }
}

/// A calendar quarter, stored as `year * 4 + (quarter - 1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Quarter(pub i32);

impl Quarter {
    pub fn year(self) -> i32 {
        self.0.div_euclid(4)
    }
    /// 1..=4
    pub fn number(self) -> i32 {
        self.0.rem_euclid(4) + 1
    }
    pub fn first_month(self) -> Month {
        Month::new(self.year(), (self.number() as u32 - 1) * 3 + 1)
    }
    pub fn last_month(self) -> Month {
        self.first_month().plus(2)
    }
    #[must_use]
    pub fn prev(self) -> Quarter {
        Quarter(self.0 - 1)
    }
    /// Parses `YYYYQn`.
    pub fn parse(s: &str) -> Option<Quarter> {
        let s = s.trim().to_ascii_uppercase();
        let (y, q) = s.split_once('Q')?;
        let (y, q): (i32, i32) = (y.parse().ok()?, q.parse().ok()?);
        ((1900..=2100).contains(&y) && (1..=4).contains(&q)).then_some(Quarter(y * 4 + q - 1))
    }
}

impl fmt::Display for Quarter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}Q{}", self.year(), self.number())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_quarters_round_trip() {
        let m = Month::parse("2023-07").unwrap();
        assert_eq!(m.to_string(), "2023-07");
        assert_eq!(m.quarter().to_string(), "2023Q3");
        assert_eq!(
            Quarter::parse("2023q2").unwrap().last_month().to_string(),
            "2023-06"
        );
        assert_eq!(Month::parse("2023-13"), None);
        assert_eq!(Month::parse("23-01"), None);
        assert_eq!(Quarter::parse("2023Q5"), None);
        assert_eq!(Month::new(2023, 1).plus(-1).to_string(), "2022-12");
    }
}
