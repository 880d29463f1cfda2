//! The early-warning rule's backtest over the demo city's months (issue 16, part 4):
//!   cargo bench --bench alerts [-- SCALE]      (default 1.0: the full city, 2018-01 to 2023-07)
//! Generates the city, imports its complaints into an embedded store, then tests every month
//! the rule can (two years of history first) under the default rule (`[alerts]`): prints the
//! tests and alerts per month against the target false-alarm rate, and, for the compounds
//! that turned red in a quarter (red then, not red the quarter before), how many had an alert
//! in the three months before the quarter and in its own months — beside the same shares for
//! the compounds that did not turn red, the base the warning must beat.

use compound_atlas::analytics::alerts::{self, AlertRule};
use compound_atlas::analytics::{Atlas, Grade, Rule};
use compound_atlas::model::{Category, Month, Quarter};
use compound_atlas::store::{embedded::EmbeddedStore, Store};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let scale: f64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1.0);
    let dir = tempfile::tempdir()?;
    compound_atlas::generate::run(&compound_atlas::generate::Options {
        out: dir.path().to_path_buf(),
        scale,
        seed: compound_atlas::config::DEFAULT_SEED,
        encoding: compound_atlas::generate::Encoding::Utf8,
        progress: false,
    })?;
    let rt = tokio::runtime::Runtime::new()?;
    let (stats, book, ids, data) = rt.block_on(async {
        let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path())?);
        let atlas = Atlas::new(store, Rule::default());
        let rows = compound_atlas::ingest::complaints::read_file(
            &dir.path().join("complaints.csv"),
            None,
        )?;
        atlas.import_complaints(rows, "complaints.csv").await?;
        let stats = atlas.store.stats().await?;
        let book = atlas.grades().await?;
        let data = atlas.store.geography().await?;
        let ids: Vec<i64> = data.compounds.iter().map(|c| c.id).collect();
        anyhow::Ok((stats, book, ids, data))
    })?;
    let rule = AlertRule::default();
    let first = stats
        .first
        .ok_or_else(|| anyhow::anyhow!("no complaints"))?;
    let started = Instant::now();
    let (tested, alerts_n, alerted) = backtest(&stats, &ids, &rule);
    let secs = started.elapsed().as_secs_f64();
    print_months(
        (scale, ids.len(), &rule, secs),
        first,
        (&tested, &alerts_n, &alerted),
    );
    print_turned_red(&book, &ids, (&alerted, &tested), first);
    print_window_cost(&data, &stats, &book, &rule);
    Ok(())
}

/// What the alerts add to a never-seen window: the figures of 24 twelve-month windows made
/// without them and then their alerts, side by side (the medians, and their ratio).
fn print_window_cost(
    data: &Arc<compound_atlas::model::Dataset>,
    stats: &compound_atlas::analytics::Stats,
    book: &compound_atlas::analytics::GradeBook,
    rule: &AlertRule,
) {
    use compound_atlas::analytics::Window;
    use compound_atlas::tile::atlas::{CityIndex, Figures, Rows};
    let city = CityIndex::new(Arc::clone(data));
    let rows = Rows::new(&city, stats);
    let Some(last) = stats.last else { return };
    let (mut plain, mut with) = (Vec::new(), Vec::new());
    for k in 0..24 {
        let to = last.plus(-k);
        let window = Window {
            from: to.plus(-11),
            to,
        };
        let t = Instant::now();
        let fig = Figures::new(&city, (stats, &rows), book, window, book.latest());
        plain.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let fig = fig.with_alerts(&city, stats, rule);
        with.push(t.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(fig);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (p, w) = (median(&mut plain), median(&mut with));
    println!();
    println!(
        "A never-seen window's figures (24 twelve-month windows, medians): {p:.2} ms without the alerts, then {w:.2} ms for its last month's alerts — {:.2}× the figures' cost.",
        w / p
    );
}

/// Per month: the tests, the alerts, and the compounds alerted — every compound and category
/// of every month the rule can test.
fn backtest(
    stats: &compound_atlas::analytics::Stats,
    ids: &[i64],
    rule: &AlertRule,
) -> (Vec<usize>, Vec<usize>, Vec<HashSet<i64>>) {
    let n = stats.months();
    let mut tested = vec![0usize; n];
    let mut alerted: Vec<HashSet<i64>> = vec![HashSet::new(); n];
    let mut alerts_n = vec![0usize; n];
    for &id in ids {
        let rows: Vec<[u32; 10]> = stats.compound.monthly(id).collect();
        for k in 0..Category::ALL.len() {
            let series = |m: usize| rows.get(m).map_or(0, |r| r[k]);
            for i in 0..n {
                if !alerts::testable(i, rule) {
                    continue;
                }
                tested[i] += 1;
                let Some((_, p)) = alerts::test(&series, i, rule) else {
                    continue;
                };
                if p < rule.alpha {
                    alerts_n[i] += 1;
                    alerted[i].insert(id);
                }
            }
        }
    }
    (tested, alerts_n, alerted)
}

/// The table of months and the totals.
fn print_months(
    (scale, compounds, rule, secs): (f64, usize, &AlertRule, f64),
    first: Month,
    (tested, alerts_n, alerted): (&[usize], &[usize], &[HashSet<i64>]),
) {
    let month = |i: usize| first.plus(i as i32);
    println!(
        "## Early warning backtest — scale {scale}, {compounds} compounds, rule {} (alpha {}, min_observed {}, {} years × {} months)",
        rule.version,
        rule.alpha,
        rule.min_observed,
        rule.years,
        2 * rule.half_window + 1
    );
    println!();
    println!("| month | tests | alerts | alerts ÷ tests | compounds alerted |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let (mut all_tests, mut all_alerts, mut months_tested) = (0usize, 0usize, 0usize);
    for i in 0..tested.len() {
        if tested[i] == 0 {
            continue;
        }
        months_tested += 1;
        all_tests += tested[i];
        all_alerts += alerts_n[i];
        println!(
            "| {} | {} | {} | {:.5} | {} |",
            month(i),
            tested[i],
            alerts_n[i],
            alerts_n[i] as f64 / tested[i] as f64,
            alerted[i].len()
        );
    }
    println!();
    println!(
        "{months_tested} months tested, {all_tests} tests, {all_alerts} alerts: {:.1} a month, a rate of {:.5} against the target {} ({secs:.2} s for every test of every month).",
        all_alerts as f64 / months_tested.max(1) as f64,
        all_alerts as f64 / all_tests.max(1) as f64,
        rule.alpha,
    );
}

/// For each quarter: the compounds that turned red, and how many of them (and of the others)
/// had an alert in the three months before the quarter and in its own three months.
fn print_turned_red(
    book: &compound_atlas::analytics::GradeBook,
    ids: &[i64],
    (alerted, tested): (&[HashSet<i64>], &[usize]),
    first: Month,
) {
    let n = tested.len();
    let red = |q: Quarter, id: i64| book.get(q, id).is_some_and(|r| r.grade == Grade::Red);
    let had = |id: i64, months: std::ops::Range<i32>| {
        months.into_iter().any(|m| {
            usize::try_from(m - first.0)
                .ok()
                .filter(|i| *i < n)
                .is_some_and(|i| alerted[i].contains(&id))
        })
    };
    // Per quarter: (turned red, of them alerted before, alerted during, others, of them
    // alerted before, alerted during).
    let mut rows: BTreeMap<Quarter, [usize; 6]> = BTreeMap::new();
    for w in book.periods.windows(2) {
        let (prev, q) = (w[0], w[1]);
        let start = q.first_month().0;
        let before = start - 3..start;
        let during = start..start + 3;
        // Only quarters whose three months before were all tested.
        let all_tested = before.clone().all(|m| {
            usize::try_from(m - first.0)
                .ok()
                .and_then(|i| tested.get(i))
                .is_some_and(|t| *t > 0)
        });
        if !all_tested {
            continue;
        }
        let r = rows.entry(q).or_default();
        for &id in ids {
            let turned = red(q, id) && !red(prev, id);
            let base = if turned { 0 } else { 3 };
            r[base] += 1;
            r[base + 1] += usize::from(had(id, before.clone()));
            r[base + 2] += usize::from(had(id, during.clone()));
        }
    }
    println!();
    println!("| quarter | turned red | alert 1–3 months before | alert in the quarter | others: alert before | others: alert in the quarter |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let mut sum = [0usize; 6];
    for (q, r) in &rows {
        for (s, v) in sum.iter_mut().zip(r) {
            *s += v;
        }
        let pct = |a: usize, b: usize| {
            if b == 0 {
                "—".to_string()
            } else {
                format!("{a} ({:.0}%)", 100.0 * a as f64 / b as f64)
            }
        };
        println!(
            "| {q} | {} | {} | {} | {} | {} |",
            r[0],
            pct(r[1], r[0]),
            pct(r[2], r[0]),
            pct(r[4], r[3]),
            pct(r[5], r[3])
        );
    }
    let share = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
    println!();
    println!(
        "Of {} compounds that turned red, {:.0}% had an alert in the three months before (others: {:.1}%), {:.0}% in the quarter itself (others: {:.1}%).",
        sum[0],
        share(sum[1], sum[0]),
        share(sum[4], sum[3]),
        share(sum[2], sum[0]),
        share(sum[5], sum[3])
    );
}
