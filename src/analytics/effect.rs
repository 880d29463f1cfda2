//! The campaign's effect: the complaints of the months from a start against what the same
//! months would have had without it.
//!
//! The rule (documented in the answer's `method`): the *after* window is `start..=to`; the
//! same months a year before give its season (`after_year_before`); the `baseline` months
//! just before the start, against their own year before, give how the selection was already
//! moving (`trend = before / before_year_before`: the hotline's growth, a street's decline).
//! The expected count is `after_year_before × trend`, and the effect is `after / expected − 1`
//! — a ratio of ratios, a difference in differences on the log scale, so a season and a
//! steady trend cancel. Its 95% interval treats the four counts as Poisson:
//! `exp(ln ratio ± 1.96 √(1/a + 1/b + 1/c + 1/d)) − 1`. The plain changes are given beside it:
//! on the same months a year before (the bureau's "year on year") and on the same number of
//! months just before the start (its "on the half before" for a six-month window).

use super::stats::{Stats, Window};
use crate::error::Error;
use crate::model::{Category, Month};
use serde::Serialize;

/// The campaign's effect on a selection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Effect {
    pub start: String,
    pub to: String,
    /// Months in the after window.
    pub months: i32,
    /// Months before the start that give the trend.
    pub baseline_months: i32,
    pub compounds: usize,
    pub after: u64,
    pub after_year_before: u64,
    pub before: u64,
    pub before_year_before: u64,
    /// `before / before_year_before`, when the year before had complaints.
    pub trend: Option<f64>,
    /// The after window's count had the selection gone on as before.
    pub expected: Option<f64>,
    /// `after / expected − 1`, with its 95% interval.
    pub change: Option<f64>,
    pub change_low: Option<f64>,
    pub change_high: Option<f64>,
    /// `after / after_year_before − 1`: year on year, not adjusted for the trend.
    pub vs_year_before: Option<f64>,
    /// Against the same number of months just before the start (not seasonally adjusted).
    pub vs_months_before: Option<f64>,
    pub months_before: u64,
    /// Each month of the after window: observed, the year before and expected.
    pub series: Vec<EffectMonth>,
    pub method: &'static str,
    /// Why a figure is missing, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One month of the after window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EffectMonth {
    pub month: String,
    pub complaints: u64,
    pub year_before: u64,
    pub expected: Option<f64>,
}

/// The method, as the answer states it.
pub const METHOD: &str = "after / (same months a year before × (baseline months before the start / the same months a year before)) − 1; 95% interval from Poisson counts on the log scale";

/// Months of data before the start the rule needs: the baseline and a year before it.
fn months_needed(baseline: i32) -> i32 {
    baseline + 12
}

/// The default start: May 2023, the first whole month of the campaign (late April 2023).
pub const DEFAULT_START: Month = Month(2023 * 12 + 4);

fn ratio_change(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64 - 1.0)
}

/// The first month of data and the end of the after window, once the window, its year
/// before and the baseline's year before are all in the data.
fn check(
    stats: &Stats,
    start: Month,
    to: Option<Month>,
    baseline: i32,
) -> Result<(Month, Month), Error> {
    let (Some(first), Some(last)) = (stats.first, stats.last) else {
        return Err(Error::NotFound("no complaints stored yet".into()));
    };
    if !(1..=36).contains(&baseline) {
        return Err(Error::BadRequest(format!(
            "`baseline` is a number of months from 1 to 36, got {baseline}"
        )));
    }
    let to = to.unwrap_or(last);
    if start < first || start > last {
        return Err(Error::BadRequest(format!(
            "`start` {start} is outside the data ({first} to {last})"
        )));
    }
    if to < start || to > last {
        return Err(Error::BadRequest(format!(
            "`to` {to} must be from `start` ({start}) to the last month of data ({last})"
        )));
    }
    let earliest = start.plus(-months_needed(baseline));
    if earliest < first {
        return Err(Error::BadRequest(format!(
            "`start` {start} needs {} months of data before it (from {earliest}), and the data begin in {first}: start later or shorten `baseline`",
            months_needed(baseline)
        )));
    }
    Ok((first, to))
}

/// The effect and its 95% interval from the four counts, or why there is none.
fn interval(counts: [u64; 4], expected: Option<f64>) -> Interval {
    if counts.contains(&0) {
        return (
            None,
            None,
            None,
            Some("a window without complaints: the effect needs complaints in the after window, its year before, the baseline and its year before".to_string()),
        );
    }
    let ratio = counts[0] as f64 / expected.unwrap_or(f64::NAN);
    let se = counts.iter().map(|c| 1.0 / *c as f64).sum::<f64>().sqrt();
    (
        Some(ratio - 1.0),
        Some((ratio.ln() - 1.96 * se).exp() - 1.0),
        Some((ratio.ln() + 1.96 * se).exp() - 1.0),
        None,
    )
}

/// The change, its low and high ends, and a note when there is none.
type Interval = (Option<f64>, Option<f64>, Option<f64>, Option<String>);

/// The effect on the compounds `ids` (one category, or all) of a campaign from `start`, up to
/// `to` (default: the last month of data), its trend from the `baseline` months before.
pub fn effect_of(
    stats: &Stats,
    ids: &[i64],
    category: Option<Category>,
    start: Month,
    to: Option<Month>,
    baseline: i32,
) -> Result<Effect, Error> {
    let (first, to) = check(stats, start, to, baseline)?;
    let n = to.0 - start.0 + 1;
    let after_w = Window { from: start, to };
    let shift = |w: Window, k: i32| Window {
        from: w.from.plus(k),
        to: w.to.plus(k),
    };
    let before_w = Window {
        from: start.plus(-baseline),
        to: start.plus(-1),
    };
    let after_m = stats.series_of(ids, after_w, category);
    let after_yb_m = stats.series_of(ids, shift(after_w, -12), category);
    let after: u64 = after_m.iter().sum();
    let after_year_before: u64 = after_yb_m.iter().sum();
    let before: u64 = stats.count_of(ids, before_w, category);
    let before_year_before: u64 = stats.count_of(ids, shift(before_w, -12), category);
    // The months just before, as many as after (they may reach before the data: then none).
    let months_before_w = Window {
        from: start.plus(-n),
        to: start.plus(-1),
    };
    let has_months_before = months_before_w.from >= first;
    let months_before: u64 = if has_months_before {
        stats.count_of(ids, months_before_w, category)
    } else {
        0
    };
    let trend = (before_year_before > 0).then(|| before as f64 / before_year_before as f64);
    let expected = trend.map(|g| after_year_before as f64 * g);
    let counts = [after, after_year_before, before, before_year_before];
    let (change, change_low, change_high, note) = interval(counts, expected);
    let series = after_m
        .iter()
        .zip(&after_yb_m)
        .enumerate()
        .map(|(k, (a, b))| EffectMonth {
            month: start.plus(k as i32).to_string(),
            complaints: *a,
            year_before: *b,
            expected: trend.map(|g| *b as f64 * g),
        })
        .collect();
    Ok(Effect {
        start: start.to_string(),
        to: to.to_string(),
        months: n,
        baseline_months: baseline,
        compounds: ids.len(),
        after,
        after_year_before,
        before,
        before_year_before,
        trend,
        expected,
        change,
        change_low,
        change_high,
        vs_year_before: ratio_change(after, after_year_before),
        vs_months_before: has_months_before
            .then(|| ratio_change(after, months_before))
            .flatten(),
        months_before,
        series,
        method: METHOD,
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::stats::Fact;

    /// A city of one compound whose complaints grow 10% a year, with a season, and fall by
    /// a quarter from the start.
    fn stats(drop: f64) -> Stats {
        let mut facts = Vec::new();
        for m in Month::new(2019, 1).0..=Month::new(2023, 6).0 {
            let month = Month(m);
            let years = f64::from(m - Month::new(2019, 1).0) / 12.0;
            let season = if (6..=8).contains(&month.month()) {
                1.5
            } else {
                1.0
            };
            let campaign = if month >= Month::new(2023, 1) {
                1.0 - drop
            } else {
                1.0
            };
            let n = (400.0 * 1.1f64.powf(years) * season * campaign).round() as usize;
            for _ in 0..n {
                facts.push(Fact {
                    month,
                    category: Category::Repairs,
                    compound: Some(1),
                    building: None,
                    unit: None,
                    handled: crate::model::handling::Handled::default(),
                    slot: 0,
                    day: 0,
                });
            }
        }
        Stats::from_facts(&facts)
    }

    #[test]
    fn a_season_and_a_steady_trend_cancel_and_the_drop_remains() {
        let s = stats(0.25);
        let e = effect_of(&s, &[1], None, Month::new(2023, 1), None, 12).unwrap();
        assert_eq!(e.months, 6);
        let change = e.change.unwrap();
        assert!((change + 0.25).abs() < 0.02, "{e:?}");
        assert!(e.change_low.unwrap() < change && change < e.change_high.unwrap());
        // Year on year alone mistakes the growth for part of the effect.
        assert!(e.vs_year_before.unwrap() > change);
        let none = effect_of(&stats(0.0), &[1], None, Month::new(2023, 1), None, 12).unwrap();
        let (lo, hi) = (none.change_low.unwrap(), none.change_high.unwrap());
        assert!(lo < 0.0 && 0.0 < hi, "{none:?}");
    }

    #[test]
    fn windows_the_data_cannot_hold_are_refused_by_name() {
        let s = stats(0.25);
        let early = effect_of(&s, &[1], None, Month::new(2019, 6), None, 12).unwrap_err();
        assert!(early.to_string().contains("needs 24 months"), "{early}");
        let late = effect_of(&s, &[1], None, Month::new(2024, 1), None, 12).unwrap_err();
        assert!(late.to_string().contains("outside the data"), "{late}");
        let baseline = effect_of(&s, &[1], None, Month::new(2023, 1), None, 0).unwrap_err();
        assert!(baseline.to_string().contains("baseline"), "{baseline}");
        let empty = effect_of(&s, &[], None, Month::new(2023, 1), None, 12).unwrap();
        assert!(empty.change.is_none() && empty.note.is_some());
    }
}
