//! Early warning: each month's complaints of a compound and category against that compound's
//! own seasonal baseline — rule `alert-1`, a simplified Farrington scheme (Farrington et al.
//! 1996, as public-health surveillance uses it; [`AlertRule`] holds its figures).
//!
//! For month `t` of compound `c` and category `k`:
//! 1. **Reference months**: the same month and `half_window` months either side, in each of
//!    the `years` years before `t` whose months all lie in the data (5 × 5 months by default).
//!    With fewer than `min_years` such years the month is not tested.
//! 2. **Baseline**: with at least `trend_years` years, a Poisson regression of the reference
//!    counts on time (`ln μ = a + b·years`, iteratively reweighted least squares); its trend is
//!    kept only when clear (`|b / se(b)| > 1.96`, the standard error scaled by the dispersion)
//!    and when its prediction for `t` does not exceed the largest reference count. Otherwise
//!    the baseline is the mean of the reference counts. A baseline with no complaint at all is
//!    taken as half a complaint over the reference months.
//! 3. **Dispersion** `φ = max(1, Pearson χ² / (n − parameters))`.
//! 4. **p-value**: `P(X ≥ observed)` for `X` negative binomial with mean `μ` and variance
//!    `φ·μ` (Poisson when `φ` is within 1e-6 of 1).
//! 5. **Alert** when `p < alpha` (the target false-alarm rate of one test) and the month has at
//!    least `min_observed` complaints.

pub use crate::model::alert::AlertRule;
use crate::model::stats::{Rowed, Stats};
use crate::model::{Category, Month};
use serde::Serialize;

/// The method, as answers state it.
pub const METHOD: &str = "per compound and category: the same month ± half_window in up to `years` earlier years; a Poisson log-linear trend kept when |b/se| > 1.96 and not above the largest reference count, else their mean; dispersion φ = max(1, Pearson χ²/(n − p)); p = P(X ≥ observed), X negative binomial with mean μ and variance φμ; an alert when p < alpha and observed ≥ min_observed";

/// What the reference months say of a month to come.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Baseline {
    /// The count the month is expected to have (μ).
    pub expected: f64,
    /// φ ≥ 1: how much more the reference counts vary than a Poisson count would.
    pub dispersion: f64,
    /// The fitted trend as a factor a year, when one was kept.
    pub trend: Option<f64>,
    /// How many reference months the baseline rests on.
    pub reference_months: usize,
}

/// One month of one compound and category, tested.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Test {
    pub compound: i64,
    pub category: Category,
    pub observed: u32,
    #[serde(flatten)]
    pub baseline: Baseline,
    /// `P(X ≥ observed)` under the baseline.
    pub p: f64,
}

/// The reference months of month `i` (indexes from the first month of the data), year by
/// year back, and how many earlier years they come from: each year whose months all lie in
/// the data, until one does not.
fn reference_months(i: usize, rule: &AlertRule) -> (Vec<usize>, i32) {
    let (hw, i) = (i64::from(rule.half_window), i as i64);
    let mut months = Vec::with_capacity((rule.years * (2 * rule.half_window + 1)) as usize);
    let mut years = 0;
    for j in 1..=i64::from(rule.years) {
        let centre = i - 12 * j;
        if centre - hw < 0 {
            break;
        }
        years += 1;
        months.extend((centre - hw..=centre + hw).map(|m| m as usize));
    }
    (months, years)
}

/// The reference points of month `i`: (years before `i`, as a negative number; count), and
/// how many earlier years they come from.
fn reference(series: &impl Fn(usize) -> u32, i: usize, rule: &AlertRule) -> (Vec<(f64, f64)>, i32) {
    let (months, years) = reference_months(i, rule);
    let pts = months
        .into_iter()
        .map(|m| ((m as f64 - i as f64) / 12.0, f64::from(series(m))))
        .collect();
    (pts, years)
}

/// A Poisson regression `ln μ = a + b·x` by iteratively reweighted least squares: `(a, b, v)`
/// with `v` the unscaled variance of `b` (`(XᵀWX)⁻¹` at the estimate); `None` when it does not
/// converge.
pub fn poisson_trend(pts: &[(f64, f64)]) -> Option<(f64, f64, f64)> {
    let n = pts.len() as f64;
    let mean = pts.iter().map(|p| p.1).sum::<f64>() / n;
    if mean <= 0.0 || pts.len() < 3 {
        return None;
    }
    let sums = |a: f64, b: f64| {
        let mut s = [0.0f64; 5];
        for &(x, y) in pts {
            let eta = a + b * x;
            let mu = eta.exp();
            let (w, z) = (mu, eta + (y - mu) / mu);
            s[0] += w;
            s[1] += w * x;
            s[2] += w * x * x;
            s[3] += w * z;
            s[4] += w * x * z;
        }
        s
    };
    let (mut a, mut b) = (mean.ln(), 0.0);
    for _ in 0..100 {
        let s = sums(a, b);
        let det = s[0] * s[2] - s[1] * s[1];
        if !(det.is_finite() && det > 0.0) {
            return None;
        }
        let na = (s[2] * s[3] - s[1] * s[4]) / det;
        let nb = (s[0] * s[4] - s[1] * s[3]) / det;
        if !(na.is_finite() && nb.is_finite()) || nb.abs() > 50.0 {
            return None;
        }
        let step = (na - a).abs() + (nb - b).abs();
        (a, b) = (na, nb);
        if step < 1e-12 {
            let s = sums(a, b);
            let det = s[0] * s[2] - s[1] * s[1];
            return (det > 0.0).then(|| (a, b, s[0] / det));
        }
    }
    None
}

/// The Pearson dispersion of counts against their expectations, at least 1.
fn dispersion(pts: &[(f64, f64)], mu: impl Fn(f64) -> f64, params: usize) -> f64 {
    let chi2: f64 = pts
        .iter()
        .map(|&(x, y)| {
            let m = mu(x);
            (y - m) * (y - m) / m
        })
        .sum();
    let df = pts.len().saturating_sub(params).max(1) as f64;
    (chi2 / df).max(1.0)
}

/// The baseline of month `i` of a monthly series (index 0 the first month of the data), or
/// `None` when the data hold fewer than `min_years` years before it.
pub fn baseline(series: &impl Fn(usize) -> u32, i: usize, rule: &AlertRule) -> Option<Baseline> {
    let (pts, years) = reference(series, i, rule);
    if years < rule.min_years || pts.is_empty() {
        return None;
    }
    let n = pts.len();
    let max = pts.iter().map(|p| p.1).fold(0.0, f64::max);
    if years >= rule.trend_years {
        if let Some((a, b, v)) = poisson_trend(&pts) {
            let phi = dispersion(&pts, |x| (a + b * x).exp(), 2);
            let clear = b.abs() / (phi * v).sqrt() > 1.96;
            if clear && a.exp() <= max {
                return Some(Baseline {
                    expected: a.exp(),
                    dispersion: phi,
                    trend: Some(b.exp()),
                    reference_months: n,
                });
            }
        }
    }
    let mean = pts.iter().map(|p| p.1).sum::<f64>() / n as f64;
    if mean <= 0.0 {
        return Some(Baseline {
            expected: 0.5 / n as f64,
            dispersion: 1.0,
            trend: None,
            reference_months: n,
        });
    }
    Some(Baseline {
        expected: mean,
        dispersion: dispersion(&pts, |_| mean, 1),
        trend: None,
        reference_months: n,
    })
}

/// `P(X ≥ y)` for `X` negative binomial with mean `mu` and variance `phi·mu` (Poisson when
/// `phi` is 1), summed from `y` up; meant for `y` above the mean, where the terms only fall.
pub fn upper_tail(y: u32, mu: f64, phi: f64) -> f64 {
    if y == 0 {
        return 1.0;
    }
    let yf = f64::from(y);
    // Within 1e-6 of 1 the negative binomial is the Poisson to that precision, and its
    // r = μ/(φ − 1) would be too large for lgamma to keep the difference exact.
    let poisson = phi <= 1.0 + 1e-6;
    let (r, q) = (mu / (phi - 1.0), 1.0 / phi);
    let ln_pmf = if poisson {
        -mu + yf * mu.ln() - libm::lgamma(yf + 1.0)
    } else {
        libm::lgamma(yf + r) - libm::lgamma(r) - libm::lgamma(yf + 1.0)
            + r * q.ln()
            + yf * (1.0 - q).ln()
    };
    let ratio = |x: f64| {
        if poisson {
            mu / (x + 1.0)
        } else {
            (x + r) / (x + 1.0) * (1.0 - q)
        }
    };
    let mut term = ln_pmf.exp();
    let mut total = term;
    let mut x = yf;
    for _ in 0..1_000_000 {
        let k = ratio(x);
        term *= k;
        x += 1.0;
        total += term;
        if k < 1.0 && term <= total * 1e-17 {
            break;
        }
    }
    total.min(1.0)
}

/// Whether the data hold the `min_years` earlier years month `i` needs to be tested (the same
/// for every series: it depends on the month only).
pub fn testable(i: usize, rule: &AlertRule) -> bool {
    let need = 12 * i64::from(rule.min_years) + i64::from(rule.half_window);
    i as i64 >= need
}

/// The test of month `i` of one series where it could alert: its baseline and p-value (1 for a
/// count at or below the baseline). `None` where the month cannot be tested ([`testable`]) or
/// holds fewer than `min_observed` complaints — never an alert, so no baseline is fitted (most
/// series of most months: that keeps a month of the whole city to a few milliseconds).
pub fn test(series: &impl Fn(usize) -> u32, i: usize, rule: &AlertRule) -> Option<(Baseline, f64)> {
    let y = series(i);
    if y < rule.min_observed || !testable(i, rule) {
        return None;
    }
    let b = baseline(series, i, rule)?;
    let p = if f64::from(y) > b.expected {
        upper_tail(y, b.expected, b.dispersion)
    } else {
        1.0
    };
    Some((b, p))
}

/// The month's alerts among compounds `ids` (of one category, or of every one): how many
/// compound-category months the data let be tested, and the alerts, smallest p first.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MonthAlerts {
    pub tested: usize,
    pub alerts: Vec<Test>,
}

/// The months the test of month `i` reads (the month and its reference months), as indexes
/// from the first month of the data.
fn months_read(i: usize, rule: &AlertRule) -> Vec<usize> {
    let mut out = vec![i];
    out.extend(reference_months(i, rule).0);
    out
}

/// Tests month `month` of every compound of `ids` in every category (or one).
///
/// Only the months the test reads are taken from the running totals, each for every compound
/// in one sequential pass (not each compound's whole series); a compound-category with fewer
/// than `min_observed` complaints in the month is never fitted.
pub fn month_alerts(
    stats: &Stats,
    ids: &[i64],
    month: Month,
    category: Option<Category>,
    rule: &AlertRule,
) -> MonthAlerts {
    let mut out = MonthAlerts::default();
    let Some(first) = stats.first else {
        return out;
    };
    let Ok(i) = usize::try_from(month.0 - first.0) else {
        return out;
    };
    if i >= stats.months() || !testable(i, rule) {
        return out;
    }
    let categories = if category.is_some() {
        1
    } else {
        Category::ALL.len()
    };
    out.tested = ids.len() * categories;
    let read = months_read(i, rule);
    let mut at = vec![usize::MAX; i + 1];
    for (k, m) in read.iter().enumerate() {
        at[*m] = k;
    }
    let columns: Vec<Vec<[u64; 10]>> = read
        .iter()
        .map(|m| stats.compound.window_each(*m..*m + 1))
        .collect();
    for &id in ids {
        let row = stats.compound.row_of(id);
        if row == crate::model::stats::NO_ROW {
            continue;
        }
        let row = row as usize;
        let now = columns[0][row];
        for (k, c) in Category::ALL.iter().enumerate() {
            if category.is_some_and(|x| x != *c) || now[k] < u64::from(rule.min_observed) {
                continue;
            }
            let series = |m: usize| u32::try_from(columns[at[m]][row][k]).unwrap_or(u32::MAX);
            let Some((baseline, p)) = test(&series, i, rule) else {
                continue;
            };
            if p < rule.alpha {
                out.alerts.push(Test {
                    compound: id,
                    category: *c,
                    observed: series(i),
                    baseline,
                    p,
                });
            }
        }
    }
    out.alerts.sort_by(|a, b| {
        a.p.total_cmp(&b.p)
            .then(a.compound.cmp(&b.compound))
            .then(a.category.cmp(&b.category))
    });
    out
}

/// Each compound's alert of `month` (in `ids`' order): the category with the smallest p-value
/// among its alerts, if any — the tiles' `alert`.
pub fn flags(stats: &Stats, ids: &[i64], month: Month, rule: &AlertRule) -> Vec<Option<Category>> {
    let found = month_alerts(stats, ids, month, None, rule);
    let mut worst: std::collections::HashMap<i64, Category> = std::collections::HashMap::new();
    for t in &found.alerts {
        worst.entry(t.compound).or_insert(t.category);
    }
    ids.iter().map(|id| worst.get(id).copied()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_tail_matches_its_sum_from_zero() {
        // P(X ≥ 5) for Poisson(1.2), against 1 − Σ_{x<5} e^−μ μ^x / x!.
        let mu: f64 = 1.2;
        let mut below = 0.0;
        let mut term = (-mu).exp();
        for x in 0..5 {
            below += term;
            term *= mu / f64::from(x + 1);
        }
        assert!((upper_tail(5, mu, 1.0) - (1.0 - below)).abs() < 1e-14);
    }

    #[test]
    fn negative_binomial_tail_is_wider_than_poissons() {
        let (p, nb) = (upper_tail(8, 2.0, 1.0), upper_tail(8, 2.0, 2.5));
        assert!(nb > p && nb < 1.0, "{p} {nb}");
        // Near φ = 1 the negative binomial tends to the Poisson.
        assert!((upper_tail(8, 2.0, 1.000_01) - p).abs() < 1e-6);
    }

    #[test]
    fn a_steady_series_with_a_spike_alerts_only_on_the_spike() {
        let rule = AlertRule::default();
        let mut s = vec![2u32; 72];
        for (m, v) in s.iter_mut().enumerate() {
            *v += u32::from(m % 3 == 0);
        }
        s[70] = 14;
        let series = |m: usize| s[m];
        let (b, p) = test(&series, 70, &rule).unwrap();
        assert!(p < rule.alpha, "{b:?} {p}");
        assert!((b.expected - 2.0).abs() < 1.0);
        let quiet = test(&series, 69, &rule).map_or(1.0, |t| t.1);
        assert!(quiet >= rule.alpha);
        // Too little history: no test at all.
        assert!(!testable(20, &rule) && testable(26, &rule));
        assert!(test(&series, 20, &rule).is_none());
    }

    #[test]
    fn a_clear_falling_trend_lowers_the_expectation_and_a_rising_one_is_not_extrapolated() {
        let rule = AlertRule::default();
        // Halving every year from 200 a month.
        let s: Vec<u32> = (0..72)
            .map(|m| (200.0 * 0.5f64.powf(f64::from(m) / 12.0)).round() as u32)
            .collect();
        let series = |m: usize| s[m];
        let b = baseline(&series, 71, &rule).unwrap();
        let t = b.trend.expect("a clear trend");
        assert!((t - 0.5).abs() < 0.05, "{b:?}");
        assert!(b.expected < 6.0, "{b:?}");
        // Doubling every year: the fitted prediction is above every reference count, so the
        // rule keeps the plain mean (Farrington's condition).
        let up: Vec<u32> = (0..72)
            .map(|m| (2.0 * 2f64.powf(f64::from(m) / 12.0)).round() as u32)
            .collect();
        let series = |m: usize| up[m];
        let b = baseline(&series, 71, &rule).unwrap();
        assert_eq!(b.trend, None, "{b:?}");
    }
}
