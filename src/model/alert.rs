//! The early-warning rule's parameters (`[alerts]` in the configuration file); the rule itself
//! is `analytics::alerts`.

use serde::{Deserialize, Serialize};

/// Rule `alert-1`: each month's count of a compound and category against its own seasonal
/// baseline (the same month and its neighbours in earlier years, with a trend where one is
/// clear), an overdispersed Poisson upper tail, a target false-alarm rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertRule {
    pub version: String,
    /// Earlier years whose same months make the baseline (at most).
    pub years: i32,
    /// Months either side of the same month that join the baseline (`2`: five months a year).
    pub half_window: i32,
    /// Fewest earlier years the baseline needs; with fewer the month is not tested.
    pub min_years: i32,
    /// Fewest earlier years for a trend to be fitted at all.
    pub trend_years: i32,
    /// The target false-alarm rate: an alert when the upper tail's p-value is below it.
    pub alpha: f64,
    /// Fewest complaints in the month for an alert (two complaints are never a warning).
    pub min_observed: u32,
}

impl Default for AlertRule {
    fn default() -> AlertRule {
        AlertRule {
            version: "alert-1".into(),
            years: 5,
            half_window: 2,
            min_years: 2,
            trend_years: 3,
            alpha: 0.001,
            min_observed: 3,
        }
    }
}

impl AlertRule {
    /// Checks the values, naming the first that is out of range.
    pub fn check(&self) -> Result<(), String> {
        let bad = |field: &str, what: &str| Err(format!("[alerts] {field} must be {what}"));
        if !(1..=10).contains(&self.years) {
            return bad("years", "from 1 to 10");
        }
        if !(0..=5).contains(&self.half_window) {
            return bad("half_window", "from 0 to 5");
        }
        if !(1..=self.years).contains(&self.min_years) {
            return bad("min_years", "from 1 to `years`");
        }
        if self.trend_years < 2 {
            return bad("trend_years", "2 or more");
        }
        if !(self.alpha > 0.0 && self.alpha < 0.5) {
            return bad("alpha", "above 0 and below 0.5");
        }
        if self.min_observed == 0 {
            return bad("min_observed", "1 or more");
        }
        Ok(())
    }
}
