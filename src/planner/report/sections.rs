//! The report's sections, one function each, taking the figures it shows and laying them out
//! from the document's cursor down (a section that does not fit starts a new page).

use super::charts::{chart, Series};
use super::pdf::{Doc, Rgb, COLUMN, MARGIN, PAGE_H};
use super::{
    AlertsFigures, CompanyRow, GradedRow, Heading, ListRow, RatesFigures, RepeatsFigures, Top,
};
use crate::analytics::effect::Effect;
use crate::model::handling::Rates;
use crate::model::{Month, Quarter};
use tiny_skia::Pixmap;

const INK: Rgb = [0x11, 0x11, 0x11];
const MUTED: Rgb = [0x66, 0x66, 0x66];
const RULE: Rgb = [0xbb, 0xbb, 0xbb];
const BAND: Rgb = [0xf2, 0xf2, 0xf2];
const HEAD: Rgb = [0xe1, 0xe6, 0xee];
const RED: Rgb = [0xd7, 0x30, 0x27];
const YELLOW: Rgb = [0xe0, 0xa8, 0x00];
const BLUE: Rgb = [0x2c, 0x7b, 0xb6];

/// A table's text size and row height.
const SIZE: f32 = 9.0;
const ROW: f32 = 14.0;

/// One column of a table: its heading, width, and whether its cells are numbers.
struct Col {
    head: &'static str,
    width: f32,
    number: bool,
}

const fn col(head: &'static str, width: f32, number: bool) -> Col {
    Col {
        head,
        width,
        number,
    }
}

/// A section's title, kept on one page with the `keep` points that follow it.
fn title(doc: &mut Doc, s: &str, keep: f32) {
    doc.room(26.0 + keep);
    doc.y += 16.0;
    doc.text(MARGIN, doc.y, 12.5, INK, s);
    doc.y += 4.0;
    doc.line(&[(MARGIN, doc.y), (MARGIN + COLUMN, doc.y)], 0.6, RULE);
    doc.y += 6.0;
}

/// A line of plain text.
fn say(doc: &mut Doc, s: &str, c: Rgb) {
    doc.room(ROW);
    doc.y += ROW - 3.0;
    doc.text(MARGIN, doc.y, SIZE, c, s);
    doc.y += 3.0;
}

/// A table: a shaded heading row, then the rows banded; numbers right-aligned.
fn table(doc: &mut Doc, cols: &[Col], rows: &[Vec<String>]) {
    let row = |doc: &mut Doc, cells: &[String], fill: Option<Rgb>| {
        doc.room(ROW);
        if let Some(f) = fill {
            doc.fill(MARGIN, doc.y, COLUMN, ROW, f);
        }
        let base = doc.y + ROW - 4.0;
        let mut x = MARGIN + 4.0;
        for (c, cell) in cols.iter().zip(cells) {
            let s = doc.fit(cell, SIZE, c.width - 8.0);
            if c.number {
                doc.text_right(x + c.width - 8.0, base, SIZE, INK, &s);
            } else {
                doc.text(x, base, SIZE, INK, &s);
            }
            x += c.width;
        }
        doc.y += ROW;
    };
    let heads: Vec<String> = cols.iter().map(|c| c.head.to_string()).collect();
    row(doc, &heads, Some(HEAD));
    for (i, cells) in rows.iter().enumerate() {
        row(doc, cells, (i % 2 == 1).then_some(BAND));
    }
}

/// "and N more" under a table that shows the first rows only.
fn more(doc: &mut Doc, n: usize, what: &str) {
    if n > 0 {
        say(doc, &format!("另有 {n} 个{what}未列出。"), MUTED);
    }
}

fn percent(x: Option<f64>) -> String {
    x.map_or_else(|| "—".into(), |v| format!("{:.1}%", v * 100.0))
}

fn hours(x: Option<f64>) -> String {
    x.map_or_else(|| "—".into(), |v| format!("{v:.1}"))
}

fn density(x: f64) -> String {
    format!("{x:.2}")
}

fn grade_label(g: &str) -> &'static str {
    match g {
        "red" => "红色",
        "yellow" => "黄色",
        _ => "蓝色",
    }
}

/// The report's heading: the district, the month, the graded quarter, when it was made and
/// from what; says so when the district received no complaint in the month.
pub fn heading(doc: &mut Doc, h: &Heading, received: u64) {
    doc.y += 20.0;
    doc.text(
        MARGIN,
        doc.y,
        20.0,
        INK,
        &format!("{}物业投诉月报", h.district),
    );
    doc.y += 18.0;
    let period = h
        .period
        .map_or_else(|| "尚无评级".into(), |q| format!("评级季度 {q}"));
    let line = format!(
        "月份 {}　·　区划代码 {}　·　{period}　·　生成于 {}",
        h.month, h.district_code, h.generated
    );
    doc.text(MARGIN, doc.y, 10.0, INK, &line);
    doc.y += 14.0;
    doc.text(
        MARGIN,
        doc.y,
        8.5,
        MUTED,
        &format!("数据来源：{}", h.source),
    );
    doc.y += 6.0;
    doc.line(&[(MARGIN, doc.y), (MARGIN + COLUMN, doc.y)], 1.2, INK);
    doc.y += 4.0;
    if received == 0 {
        doc.y += 4.0;
        doc.fill(MARGIN, doc.y, COLUMN, ROW + 4.0, [0xfd, 0xec, 0xc8]);
        doc.y += ROW - 1.0;
        let s = format!(
            "{} {} 未收到投诉：本月各项为零或空，走势与成效仍按历史数据列出。",
            h.district, h.month
        );
        doc.text(MARGIN + 6.0, doc.y, SIZE + 0.5, INK, &s);
        doc.y += 5.0;
    }
}

/// The district's map picture: compounds coloured by the quarter's grade.
pub fn map(doc: &mut Doc, pm: &Pixmap, period: Option<Quarter>) {
    let h = COLUMN * pm.height() as f32 / pm.width().max(1) as f32;
    let what = period.map_or_else(|| "辖区地图".into(), |q| format!("辖区地图（{q} 评级）"));
    title(doc, &what, h);
    doc.image(MARGIN, doc.y, COLUMN, h, pm);
    doc.y += h;
}

/// The three rates and the hours of the month against the same month a year before.
pub fn rates(doc: &mut Doc, r: &RatesFigures, month: Month) {
    title(doc, "三率与办理时长", ROW * 7.0);
    let (a, b) = (&r.month, &r.year_before);
    let spread = |x: &Rates, which: u8| {
        let (resp, close) = (x.response_hours, x.closing_hours);
        match which {
            0 => resp.map(|s| s.median),
            1 => close.map(|s| s.median),
            _ => close.map(|s| s.p90),
        }
    };
    let change = |now: Option<f64>, then: Option<f64>, points: bool| match (now, then) {
        (Some(n), Some(t)) if points => format!("{:+.1} 个百分点", (n - t) * 100.0),
        (Some(n), Some(t)) => format!("{:+.1}", n - t),
        _ => "—".into(),
    };
    let received_change = if b.received > 0 {
        format!(
            "{:+.1}%",
            (a.received as f64 / b.received as f64 - 1.0) * 100.0
        )
    } else {
        "—".into()
    };
    let mut rows = vec![
        vec![
            "受理投诉（件）".into(),
            a.received.to_string(),
            b.received.to_string(),
            received_change,
        ],
        vec![
            "办结率".into(),
            percent(a.resolved_rate),
            percent(b.resolved_rate),
            change(a.resolved_rate, b.resolved_rate, true),
        ],
        vec![
            "满意率".into(),
            percent(a.satisfied_rate),
            percent(b.satisfied_rate),
            change(a.satisfied_rate, b.satisfied_rate, true),
        ],
    ];
    for (label, k) in [
        ("首次响应时长中位数（小时）", 0),
        ("办结时长中位数（小时）", 1),
        ("办结时长 90% 分位（小时）", 2),
    ] {
        let (n, t) = (spread(a, k), spread(b, k));
        rows.push(vec![label.into(), hours(n), hours(t), change(n, t, false)]);
    }
    let heads = [
        col("指标", 200.0, false),
        col("本月", 100.0, true),
        col("去年同月", 100.0, true),
        col("变化", COLUMN - 400.0, true),
    ];
    table(doc, &heads, &rows);
    let note = format!(
        "本月 {month}，去年同月 {}。办结率＝办结÷受理，满意率＝满意÷已评价。",
        month.plus(-12)
    );
    say(doc, &note, MUTED);
}

/// The red and yellow compounds of the quarter, red first, then by density.
pub fn graded(doc: &mut Doc, g: &Top<GradedRow>, period: Option<Quarter>) {
    let Some(q) = period else {
        return;
    };
    title(doc, &format!("红色、黄色小区（{q}）"), ROW * 3.0);
    if g.rows.is_empty() {
        say(doc, &format!("{q} 本区没有红色或黄色小区。"), INK);
        return;
    }
    let rows: Vec<Vec<String>> = g
        .rows
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.street.clone(),
                grade_label(r.grade).into(),
                r.complaints.to_string(),
                density(r.density),
            ]
        })
        .collect();
    let heads = [
        col("小区", 190.0, false),
        col("街道", 130.0, false),
        col("评级", 50.0, false),
        col("本月投诉", 65.0, true),
        col("密度", COLUMN - 435.0, true),
    ];
    table(doc, &heads, &rows);
    more(doc, g.more, "红色或黄色小区");
    say(doc, "密度：本月投诉折合每百户每年件数。", MUTED);
}

/// The property companies worst by density in the month.
pub fn companies(doc: &mut Doc, c: &Top<CompanyRow>) {
    if c.rows.is_empty() {
        return;
    }
    title(doc, "物业公司（按本月投诉密度，最高在前）", ROW * 3.0);
    let rows: Vec<Vec<String>> = c
        .rows
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.compounds.to_string(),
                r.red.to_string(),
                r.yellow.to_string(),
                r.complaints.to_string(),
                density(r.density),
            ]
        })
        .collect();
    let heads = [
        col("物业公司", 215.0, false),
        col("小区", 50.0, true),
        col("红色", 50.0, true),
        col("黄色", 50.0, true),
        col("本月投诉", 70.0, true),
        col("密度", COLUMN - 435.0, true),
    ];
    table(doc, &heads, &rows);
    more(doc, c.more, "物业公司");
}

/// The companies working in the district on the quarter's black and red lists, and those that
/// came off one in it (摘帽).
pub fn lists(doc: &mut Doc, l: &Top<ListRow>, period: Quarter) {
    title(doc, &format!("物业公司红黑名单（{period}）"), ROW * 3.0);
    if l.rows.is_empty() {
        say(
            doc,
            "本季度辖区内没有物业公司在红名单或黑名单上，也没有摘帽的。",
            INK,
        );
        return;
    }
    let rows: Vec<Vec<String>> = l
        .rows
        .iter()
        .map(|r| {
            let list = match (r.list, r.held && !r.overridden) {
                ("black", false) => "黑名单",
                ("black", true) => "黑名单（未满两个季度）",
                ("red", false) => "红名单",
                ("red", true) => "红名单（未满两个季度）",
                _ => "摘帽",
            };
            vec![
                r.name.clone(),
                list.to_string(),
                percent(Some(r.red_share)),
                r.since.map_or_else(|| "—".into(), |q| q.to_string()),
            ]
        })
        .collect();
    let heads = [
        col("物业公司", 215.0, false),
        col("名单", 130.0, false),
        col("红色小区户数占比", 90.0, true),
        col("上榜起", COLUMN - 435.0, true),
    ];
    table(doc, &heads, &rows);
    more(doc, l.more, "物业公司");
}

/// The month's repeat complaints: how many, and the places with the most.
pub fn repeats(doc: &mut Doc, r: &RepeatsFigures) {
    title(
        doc,
        &format!("重复投诉（{} 天内同一单元同类再次投诉）", r.days),
        ROW * 3.0,
    );
    let share = (r.complaints > 0).then(|| r.repeats as f64 / r.complaints as f64);
    say(
        doc,
        &format!(
            "本月 {} 件投诉中 {} 件为重复投诉（{}），涉及 {} 个单元或楼栋。",
            r.complaints,
            r.repeats,
            percent(share),
            r.places
        ),
        INK,
    );
    if r.rows.is_empty() {
        return;
    }
    let rows: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|x| {
            vec![
                x.compound.clone(),
                x.place.clone(),
                x.complaints.to_string(),
                x.repeats.to_string(),
                x.category.to_string(),
            ]
        })
        .collect();
    let heads = [
        col("小区", 160.0, false),
        col("单元或楼栋", 115.0, false),
        col("本月投诉", 60.0, true),
        col("重复", 50.0, true),
        col("主要类别", COLUMN - 385.0, false),
    ];
    table(doc, &heads, &rows);
    more(doc, r.places.saturating_sub(r.rows.len()), "单元或楼栋");
}

/// The month's early-warning alerts, smallest p first.
pub fn alerts(doc: &mut Doc, a: &AlertsFigures) {
    title(doc, &format!("本月预警（{} 条）", a.total), ROW * 3.0);
    if a.rows.is_empty() {
        let why = a
            .note
            .as_deref()
            .unwrap_or("本月没有小区的投诉明显高于其季节基线。");
        say(doc, &format!("本月无预警：{why}"), INK);
        return;
    }
    let rows: Vec<Vec<String>> = a
        .rows
        .iter()
        .map(|r| {
            vec![
                r.compound.clone(),
                r.category.clone(),
                r.observed.to_string(),
                format!("{:.1}", r.expected),
            ]
        })
        .collect();
    let heads = [
        col("小区", 215.0, false),
        col("类别", 150.0, false),
        col("本月投诉", 70.0, true),
        col("预期", COLUMN - 435.0, true),
    ];
    table(doc, &heads, &rows);
    more(doc, a.total.saturating_sub(a.rows.len()), "预警");
}

/// Month labels as the charts write them: `2024-03`.
fn labels(months: impl Iterator<Item = String>) -> Vec<String> {
    months.collect()
}

/// Monthly complaints, the 24 months to the report's.
pub fn trend(doc: &mut Doc, t: &[(Month, u64)]) {
    if t.is_empty() {
        return;
    }
    let h = 170.0;
    title(
        doc,
        &format!("投诉走势（{} 至 {}）", t[0].0, t[t.len() - 1].0),
        h,
    );
    let values: Vec<f64> = t.iter().map(|(_, n)| *n as f64).collect();
    let series = [Series {
        label: "每月投诉（件）",
        values: &values,
        color: BLUE,
        bars: true,
        dashed: false,
    }];
    chart(
        doc,
        (MARGIN, doc.y, COLUMN, h),
        &labels(t.iter().map(|(m, _)| m.to_string())),
        &series,
    );
    doc.y += h;
}

/// The campaign's effect: the figures, and each month observed against expected.
pub fn effect(doc: &mut Doc, e: &Effect) {
    let h = 160.0;
    title(
        doc,
        &format!("整治成效（{} 至 {}）", e.start, e.to),
        h + ROW * 2.0,
    );
    let line = match (e.expected, e.change, e.change_low, e.change_high) {
        (Some(x), Some(c), Some(lo), Some(hi)) => format!(
            "实际 {} 件，按去年同期与此前走势预期 {x:.0} 件，变化 {:+.1}%（95% 区间 {:+.1}% 至 {:+.1}%）。",
            e.after, c * 100.0, lo * 100.0, hi * 100.0
        ),
        _ => format!(
            "实际 {} 件；{}",
            e.after,
            e.note.as_deref().unwrap_or("数据不足，无法估计成效。")
        ),
    };
    say(doc, &line, INK);
    // The last 24 months of the window at most.
    let skip = e.series.len().saturating_sub(24);
    let shown = &e.series[skip..];
    let observed: Vec<f64> = shown.iter().map(|m| m.complaints as f64).collect();
    let year_before: Vec<f64> = shown.iter().map(|m| m.year_before as f64).collect();
    // Expected only where every month has one (its trend needs the baseline's year before).
    let expected: Option<Vec<f64>> = shown.iter().map(|m| m.expected).collect();
    let mut series = vec![
        line_of("实际", &observed, RED, false),
        line_of("去年同月", &year_before, YELLOW, false),
    ];
    if let Some(x) = &expected {
        series.push(line_of("预期", x, BLUE, true));
    }
    doc.y += 4.0;
    chart(
        doc,
        (MARGIN, doc.y, COLUMN, h),
        &labels(shown.iter().map(|m| m.month.clone())),
        &series,
    );
    doc.y += h;
}

/// A series drawn as a line.
fn line_of<'a>(label: &'a str, values: &'a [f64], color: Rgb, dashed: bool) -> Series<'a> {
    Series {
        label,
        values,
        color,
        bars: false,
        dashed,
    }
}

/// Every page's footer: what the report is, and the page's number.
pub fn footer(doc: &mut Doc, h: &Heading) {
    let what = format!("{} {} 物业投诉月报", h.district, h.month);
    doc.each_page(|doc, k, n| {
        let y = PAGE_H - MARGIN + 18.0;
        doc.text(MARGIN, y, 8.0, MUTED, &what);
        doc.text_right(
            MARGIN + COLUMN,
            y,
            8.0,
            MUTED,
            &format!("第 {k} 页，共 {n} 页"),
        );
    });
}
