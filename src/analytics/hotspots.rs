//! Hot spots that change over time, on H3 cells.
//!
//! Complaints are counted on the H3 cells (resolution 5–11, default 9) of their compounds'
//! inside points; the study area is every cell holding a compound, so a quiet cell counts as
//! a zero. Each cell's neighbourhood is the study cells within `k` rings of it, itself
//! included (binary weights). Getis–Ord Gi* is the z-score of the neighbourhood's sum against
//! the area's mean and variance (Getis & Ord 1992, Ord & Getis 1995 — as PySAL's
//! `esda.G_Local(y, w, transform='B', star=True)` computes it), with a two-sided normal
//! p-value and the Benjamini–Hochberg false-discovery-rate q-value over the cells.
//!
//! Over time, as ArcGIS Pro's Emerging Hot Spot Analysis: Gi* for every month of the window
//! (at least 10 months), a cell being a significant hot (cold) spot in a month when its
//! monthly q-value is below 0.10 (90% confidence, ArcGIS's threshold for time steps); the
//! Mann–Kendall trend of its monthly z-scores (significant at p < 0.05); and the pattern:
//! new, consecutive, intensifying, persistent, diminishing, sporadic, oscillating or
//! historical hot (or cold) spot, as ArcGIS Pro defines them, else none.

use super::stats::{Stats, Window};
use crate::error::Error;
use crate::model::Category;
use geo_types::Point;
use h3o::{CellIndex, LatLng, Resolution};
use serde::Serialize;
use std::collections::HashMap;

/// What a hot-spot analysis is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ask {
    pub res: u8,
    pub k: u32,
    pub window: Window,
    pub category: Option<Category>,
}

/// The fewest months the patterns are read over (ArcGIS asks ten time steps of its cube).
pub const MIN_MONTHS: i32 = 10;
/// A month's significance for the patterns: q below this.
const MONTH_Q: f64 = 0.10;
/// The trend's significance: Mann–Kendall p below this.
const TREND_P: f64 = 0.05;
/// The window's significance for `hot`: q below this.
const WINDOW_Q: f64 = 0.05;

/// One cell of the analysis.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// The H3 index, as hexadecimal text.
    pub cell: String,
    #[serde(skip)]
    pub index: CellIndex,
    pub compounds: usize,
    pub complaints: u64,
    /// Gi* over the window: z-score, two-sided p-value and FDR q-value.
    pub gi_z: Option<f64>,
    pub gi_p: Option<f64>,
    pub gi_q: Option<f64>,
    /// `hot` or `cold` when the window's q-value is below 0.05.
    pub hot: Option<&'static str>,
    /// Gi* z-score of each month of the window.
    pub gi_z_months: Vec<Option<f64>>,
    /// Mann–Kendall on the monthly z-scores: Kendall's tau against time, z and p.
    pub trend_tau: Option<f64>,
    pub trend_z: Option<f64>,
    pub trend_p: Option<f64>,
    pub pattern: &'static str,
}

/// The analysis of a window.
#[derive(Debug, Clone, Serialize)]
pub struct Hotspots {
    pub res: u8,
    pub k: u32,
    pub months: i32,
    pub cells: Vec<Cell>,
}

/// The rule, as the answer states it.
pub const METHOD: &str = "complaints counted on the H3 cells of their compounds' inside points; study area: every cell holding a compound; neighbourhood: the study cells within k rings, the cell itself included (binary weights); Gi* z-scores as PySAL esda G_Local(star=True, transform='B'), two-sided normal p, Benjamini–Hochberg q over the cells; monthly Gi* with a month significant at q < 0.10, Mann–Kendall trend of the monthly z-scores (p < 0.05), patterns as ArcGIS Pro's Emerging Hot Spot Analysis defines them";

/// Gi* z-scores of `y` with the neighbourhoods `nbrs` (each cell's own index among them);
/// `None` where the area has no variance.
pub fn gi_star(y: &[f64], nbrs: &[Vec<usize>]) -> Vec<Option<f64>> {
    let n = y.len() as f64;
    let sum: f64 = y.iter().sum();
    let mean = sum / n;
    let variance = y.iter().map(|v| v * v).sum::<f64>() / n - mean * mean;
    nbrs.iter()
        .map(|nb| {
            if n < 2.0 || sum <= 0.0 || variance <= 0.0 {
                return None;
            }
            let card = nb.len() as f64;
            let g = nb.iter().map(|&j| y[j]).sum::<f64>() / sum;
            let expected = card / n;
            let var = card * (n - card) / (n - 1.0) / (n * n) * variance / (mean * mean);
            (var > 0.0).then(|| (g - expected) / var.sqrt())
        })
        .collect()
}

/// The two-sided normal p-value of a z-score.
pub fn two_sided_p(z: f64) -> f64 {
    libm::erfc(z.abs() / std::f64::consts::SQRT_2)
}

/// Benjamini–Hochberg q-values of `p` (`None` stays `None` and does not count).
pub fn fdr(p: &[Option<f64>]) -> Vec<Option<f64>> {
    let mut order: Vec<usize> = (0..p.len()).filter(|&i| p[i].is_some()).collect();
    order.sort_by(|&a, &b| p[a].unwrap_or(1.0).total_cmp(&p[b].unwrap_or(1.0)));
    let m = order.len() as f64;
    let mut q = vec![None; p.len()];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        let v = (p[i].unwrap_or(1.0) * m / (rank as f64 + 1.0)).min(1.0);
        running = running.min(v);
        q[i] = Some(running);
    }
    q
}

/// Mann–Kendall on a series: Kendall's tau against time, the z-score (continuity corrected,
/// no ties) and its two-sided p-value; `None` with fewer than three values.
pub fn mann_kendall(series: &[f64]) -> Option<(f64, f64, f64)> {
    let n = series.len();
    if n < 3 {
        return None;
    }
    let mut s = 0i64;
    for i in 0..n {
        for j in i + 1..n {
            s += match series[j].partial_cmp(&series[i]) {
                Some(std::cmp::Ordering::Greater) => 1,
                Some(std::cmp::Ordering::Less) => -1,
                _ => 0,
            };
        }
    }
    let nf = n as f64;
    let var = nf * (nf - 1.0) * (2.0 * nf + 5.0) / 18.0;
    let z = match s.signum() {
        1 => (s as f64 - 1.0) / var.sqrt(),
        -1 => (s as f64 + 1.0) / var.sqrt(),
        _ => 0.0,
    };
    let tau = s as f64 / (nf * (nf - 1.0) / 2.0);
    Some((tau, z, two_sided_p(z)))
}

/// Which months a cell was a significant hot spot (`sign` 1) or cold spot (`sign` −1).
fn significant(z: &[Option<f64>], q: &[Option<f64>], sign: f64) -> Vec<bool> {
    z.iter()
        .zip(q)
        .map(|(z, q)| matches!((z, q), (Some(z), Some(q)) if z * sign > 0.0 && *q < MONTH_Q))
        .collect()
}

/// The emerging pattern of one kind (hot or cold): `this` the months it was that kind of
/// spot, `other` the months it was the opposite, `trend` the Mann–Kendall z and p.
fn pattern_of(this: &[bool], other: &[bool], trend: Option<(f64, f64)>) -> Option<&'static str> {
    let n = this.len();
    let last = *this.last()?;
    let count = this.iter().filter(|b| **b).count();
    let most = count as f64 >= 0.9 * n as f64;
    if !last {
        return most.then_some("historical");
    }
    if count == 1 {
        return Some("new");
    }
    let run = this.iter().rev().take_while(|b| **b).count();
    if !most && run >= 2 && run == count {
        return Some("consecutive");
    }
    if most {
        return Some(match trend {
            Some((z, p)) if p < TREND_P && z > 0.0 => "intensifying",
            Some((z, p)) if p < TREND_P && z < 0.0 => "diminishing",
            _ => "persistent",
        });
    }
    Some(if other.iter().any(|b| *b) {
        "oscillating"
    } else {
        "sporadic"
    })
}

/// The pattern name of a cell: a hot pattern first, else a cold one, else `none`.
fn pattern(hot: &[bool], cold: &[bool], trend: Option<(f64, f64)>) -> &'static str {
    let flip = trend.map(|(z, p)| (-z, p));
    match (pattern_of(hot, cold, trend), pattern_of(cold, hot, flip)) {
        (Some(p), _) => HOT[PATTERNS.iter().position(|x| *x == p).unwrap_or(0)],
        (None, Some(p)) => COLD[PATTERNS.iter().position(|x| *x == p).unwrap_or(0)],
        (None, None) => "none",
    }
}

const PATTERNS: [&str; 8] = [
    "new",
    "consecutive",
    "intensifying",
    "persistent",
    "diminishing",
    "sporadic",
    "oscillating",
    "historical",
];
const HOT: [&str; 8] = [
    "new_hot",
    "consecutive_hot",
    "intensifying_hot",
    "persistent_hot",
    "diminishing_hot",
    "sporadic_hot",
    "oscillating_hot",
    "historical_hot",
];
const COLD: [&str; 8] = [
    "new_cold",
    "consecutive_cold",
    "intensifying_cold",
    "persistent_cold",
    "diminishing_cold",
    "sporadic_cold",
    "oscillating_cold",
    "historical_cold",
];

/// The study area at one resolution and number of rings: the cells holding a compound (in H3
/// order), the compounds in each and each cell's neighbourhood. It is the geography's, the
/// same for every window and category, so it is made once and kept by the service
/// ([`super::service::Atlas::hotspots`]); making it (an H3 cell per compound, a disk of cells
/// per cell) was most of a new window's analysis.
pub struct Study {
    res: Resolution,
    k: u32,
    cells: Vec<CellIndex>,
    members: Vec<Vec<i64>>,
    nbrs: Vec<Vec<usize>>,
}

impl Study {
    /// The study area of the compounds at `places` (id and inside point).
    pub fn new(places: impl Iterator<Item = (i64, Point<f64>)>, res: Resolution, k: u32) -> Study {
        let (cells, members) = study_cells(places, res);
        let nbrs = neighbourhoods(&cells, k);
        Study {
            res,
            k,
            cells,
            members,
            nbrs,
        }
    }

    /// Whether this is the study area `ask` is analysed on.
    #[must_use]
    pub fn fits(&self, ask: &Ask) -> bool {
        u8::from(self.res) == ask.res && self.k == ask.k
    }
}

/// The study cells: each compound's cell, the cells in H3 order, and who is in which.
fn study_cells(
    places: impl Iterator<Item = (i64, Point<f64>)>,
    res: Resolution,
) -> (Vec<CellIndex>, Vec<Vec<i64>>) {
    let mut by_cell: HashMap<CellIndex, Vec<i64>> = HashMap::new();
    for (id, p) in places {
        if let Ok(ll) = LatLng::new(p.y(), p.x()) {
            by_cell.entry(ll.to_cell(res)).or_default().push(id);
        }
    }
    let mut cells: Vec<CellIndex> = by_cell.keys().copied().collect();
    cells.sort_unstable();
    let members = cells.iter().map(|c| by_cell[c].clone()).collect();
    (cells, members)
}

/// Each cell's neighbourhood among the study cells: within `k` rings, itself included.
fn neighbourhoods(cells: &[CellIndex], k: u32) -> Vec<Vec<usize>> {
    let at: HashMap<CellIndex, usize> = cells.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    cells
        .iter()
        .map(|c| {
            let mut nb: Vec<usize> = c
                .grid_disk::<Vec<_>>(k)
                .into_iter()
                .filter_map(|d| at.get(&d).copied())
                .collect();
            nb.sort_unstable();
            nb
        })
        .collect()
}

/// Checks what is asked: the resolution, the rings, the window's length and that it meets
/// the data (a window wholly outside it has nothing to analyse).
pub fn check(ask: &Ask, stats: &Stats) -> Result<Resolution, Error> {
    if !(5..=11).contains(&ask.res) {
        return Err(Error::BadRequest(format!(
            "`res` is an H3 resolution from 5 to 11, got {}",
            ask.res
        )));
    }
    if !(1..=3).contains(&ask.k) {
        return Err(Error::BadRequest(format!(
            "`k` is a number of rings from 1 to 3, got {}",
            ask.k
        )));
    }
    if ask.window.months() < MIN_MONTHS {
        return Err(Error::BadRequest(format!(
            "the hot-spot patterns need a window of at least {MIN_MONTHS} months; {} to {} is {}",
            ask.window.from,
            ask.window.to,
            ask.window.months()
        )));
    }
    if let (Some(first), Some(last)) = (stats.first, stats.last) {
        if ask.window.to < first || ask.window.from > last {
            return Err(Error::BadRequest(format!(
                "the window {} to {} is outside the data ({first} to {last})",
                ask.window.from, ask.window.to
            )));
        }
    }
    Resolution::try_from(ask.res).map_err(|e| Error::BadRequest(format!("`res` {}: {e}", ask.res)))
}

/// The analysis over the compounds at `places` (id and inside point).
pub fn hotspots(
    stats: &Stats,
    places: impl Iterator<Item = (i64, Point<f64>)>,
    ask: &Ask,
) -> Result<Hotspots, Error> {
    let res = check(ask, stats)?;
    analyse(stats, &Study::new(places, res, ask.k), ask)
}

/// The analysis of `ask` on a study area made for its resolution and rings.
pub fn analyse(stats: &Stats, study: &Study, ask: &Ask) -> Result<Hotspots, Error> {
    check(ask, stats)?;
    if !study.fits(ask) {
        return Err(Error::Other(anyhow::anyhow!(
            "hot spots asked at resolution {} with {} rings, on a study area of {} with {}",
            ask.res,
            ask.k,
            u8::from(study.res),
            study.k
        )));
    }
    let (cells, members, nbrs) = (&study.cells, &study.members, &study.nbrs);
    let months = ask.window.months() as usize;
    // Counts per cell and month.
    let mut y = vec![vec![0.0f64; cells.len()]; months];
    let mut totals = vec![0u64; cells.len()];
    for (i, ids) in members.iter().enumerate() {
        for (m, v) in stats
            .series_of(ids, ask.window, ask.category)
            .into_iter()
            .enumerate()
        {
            y[m][i] = v as f64;
            totals[i] += v;
        }
    }
    let total: Vec<f64> = totals.iter().map(|v| *v as f64).collect();
    let z = gi_star(&total, nbrs);
    let p: Vec<Option<f64>> = z.iter().map(|z| z.map(two_sided_p)).collect();
    let q = fdr(&p);
    let monthly: Vec<Vec<Option<f64>>> = y.iter().map(|ym| gi_star(ym, nbrs)).collect();
    let monthly_q: Vec<Vec<Option<f64>>> = monthly
        .iter()
        .map(|zm| fdr(&zm.iter().map(|z| z.map(two_sided_p)).collect::<Vec<_>>()))
        .collect();
    let out = (0..cells.len())
        .map(|i| {
            let zs: Vec<Option<f64>> = monthly.iter().map(|zm| zm[i]).collect();
            let qs: Vec<Option<f64>> = monthly_q.iter().map(|qm| qm[i]).collect();
            let known: Vec<f64> = zs.iter().flatten().copied().collect();
            let mk = (known.len() == zs.len())
                .then(|| mann_kendall(&known))
                .flatten();
            let hot = significant(&zs, &qs, 1.0);
            let cold = significant(&zs, &qs, -1.0);
            Cell {
                cell: cells[i].to_string(),
                index: cells[i],
                compounds: members[i].len(),
                complaints: totals[i],
                gi_z: z[i],
                gi_p: p[i],
                gi_q: q[i],
                hot: match (z[i], q[i]) {
                    (Some(z), Some(q)) if q < WINDOW_Q => {
                        Some(if z > 0.0 { "hot" } else { "cold" })
                    }
                    _ => None,
                },
                gi_z_months: zs,
                trend_tau: mk.map(|m| m.0),
                trend_z: mk.map(|m| m.1),
                trend_p: mk.map(|m| m.2),
                pattern: pattern(&hot, &cold, mk.map(|m| (m.1, m.2))),
            }
        })
        .collect();
    Ok(Hotspots {
        res: ask.res,
        k: ask.k,
        months: ask.window.months(),
        cells: out,
    })
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // tests compare the exact values they expect
mod tests {
    use super::*;

    #[test]
    fn gi_star_matches_esdas_documented_example() {
        // esda's G_Local docstring: points (10,10) (20,10) (40,10) (15,20) (30,20) (30,30),
        // DistanceBand threshold 15, y = 2 3 3.2 5 8 7, transform 'B', star=True.
        let y = [2.0, 3.0, 3.2, 5.0, 8.0, 7.0];
        let pts = [
            (10., 10.),
            (20., 10.),
            (40., 10.),
            (15., 20.),
            (30., 20.),
            (30., 30.),
        ];
        let nbrs: Vec<Vec<usize>> = pts
            .iter()
            .map(|a: &(f64, f64)| {
                (0..pts.len())
                    .filter(|&j| {
                        ((a.0 - pts[j].0).powi(2) + (a.1 - pts[j].1).powi(2)).sqrt() <= 15.0
                    })
                    .collect()
            })
            .collect();
        let z = gi_star(&y, &nbrs);
        let esda = [
            -1.397_276_26,
            -0.289_177_62,
            0.650_649_64,
            -0.289_177_62,
            1.234_520_88,
            2.024_243_31,
        ];
        for (a, b) in z.iter().zip(esda) {
            assert!((a.unwrap() - b).abs() < 1e-7, "{z:?}");
        }
    }

    #[test]
    fn fdr_and_mann_kendall_follow_their_definitions() {
        let q = fdr(&[Some(0.01), Some(0.04), Some(0.03), None, Some(0.2)]);
        // m = 4: 0.01·4/1, 0.03·4/2, 0.04·4/3, 0.2·4/4, made monotone.
        assert_eq!(q[3], None);
        assert!((q[0].unwrap() - 0.04).abs() < 1e-12);
        assert!((q[2].unwrap() - 0.053_333_333_333_333_33).abs() < 1e-12);
        assert!((q[1].unwrap() - 0.053_333_333_333_333_33).abs() < 1e-12);
        assert!((q[4].unwrap() - 0.2).abs() < 1e-12);
        let (tau, z, p) =
            mann_kendall(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]).unwrap();
        assert_eq!(tau, 1.0);
        assert!(z > 3.0 && p < 0.01);
        assert!(mann_kendall(&[1.0, 2.0]).is_none());
    }

    #[test]
    fn patterns_read_as_arcgis_defines_them() {
        let t = true;
        let f = false;
        let none = [f; 12];
        let mut last = none;
        last[11] = t;
        assert_eq!(pattern(&last, &none, None), "new_hot");
        let mut tail = none;
        tail[9..].fill(t);
        assert_eq!(pattern(&tail, &none, None), "consecutive_hot");
        let all = [t; 12];
        assert_eq!(pattern(&all, &none, Some((3.0, 0.001))), "intensifying_hot");
        assert_eq!(pattern(&all, &none, Some((-3.0, 0.001))), "diminishing_hot");
        assert_eq!(pattern(&all, &none, Some((1.0, 0.3))), "persistent_hot");
        let on_off = [t, f, t, f, f, t, f, t, f, f, f, t];
        assert_eq!(pattern(&on_off, &none, None), "sporadic_hot");
        let mut cold = none;
        cold[1] = t;
        assert_eq!(pattern(&on_off, &cold, None), "oscillating_hot");
        let mut was = all;
        was[11] = f;
        assert_eq!(pattern(&was, &none, None), "historical_hot");
        assert_eq!(pattern(&none, &last, None), "new_cold");
        assert_eq!(pattern(&none, &none, None), "none");
    }
}
