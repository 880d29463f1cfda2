//! The report's charts, drawn as vectors in the PDF: axes with round ticks, month labels, bars
//! or lines per series, and a legend.

use super::pdf::{Doc, Rgb};

/// One series of a chart.
pub struct Series<'a> {
    pub label: &'a str,
    pub values: &'a [f64],
    pub color: Rgb,
    /// Drawn as bars (else as a line).
    pub bars: bool,
    /// A dashed line.
    pub dashed: bool,
}

const AXIS: Rgb = [0x55, 0x55, 0x55];
const GRID: Rgb = [0xdd, 0xdd, 0xdd];
const LABEL: Rgb = [0x33, 0x33, 0x33];

/// A round step for about four ticks up to `max`.
fn step_of(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let raw = max / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|k| k * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

/// A tick's label: whole numbers without decimals.
fn tick_label(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Draws `series` over the months `labels` in the box `w × h` at `(x, y)` (top-left).
pub fn chart(
    doc: &mut Doc,
    (x, y, w, h): (f32, f32, f32, f32),
    labels: &[String],
    series: &[Series],
) {
    let n = labels.len().max(1);
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0, f64::max);
    let step = step_of(max);
    let ticks = (max / step).ceil().max(1.0) as usize;
    let top = step * ticks as f64;
    // The plot area: room for the tick labels on the left, the months below, the legend above.
    let (px, py, pw, ph) = (x + 40.0, y + 16.0, w - 46.0, h - 34.0);
    let band = pw / n as f32;
    let at_x = |i: usize| px + band * (i as f32 + 0.5);
    let at_y = |v: f64| py + ph - (v / top) as f32 * ph;
    for t in 0..=ticks {
        let v = step * t as f64;
        let ty = at_y(v);
        doc.line(&[(px, ty), (px + pw, ty)], 0.4, GRID);
        doc.text_right(px - 4.0, ty + 3.0, 7.5, LABEL, &tick_label(v));
    }
    doc.line(&[(px, py), (px, py + ph), (px + pw, py + ph)], 0.8, AXIS);
    let every = n.div_ceil(8);
    for (i, l) in labels.iter().enumerate() {
        if i % every == 0 || i + 1 == n {
            let lw = doc.width(l, 7.0);
            doc.text(at_x(i) - lw / 2.0, py + ph + 11.0, 7.0, LABEL, l);
            doc.line(&[(at_x(i), py + ph), (at_x(i), py + ph + 3.0)], 0.6, AXIS);
        }
    }
    for s in series {
        let points: Vec<(f32, f32)> = s
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| (at_x(i), at_y(*v)))
            .collect();
        if s.bars {
            for &(cx, cy) in &points {
                doc.fill(cx - band * 0.35, cy, band * 0.7, py + ph - cy, s.color);
            }
        } else if s.dashed {
            doc.dashed(&points, 1.2, s.color);
        } else {
            doc.line(&points, 1.4, s.color);
        }
    }
    legend(doc, x + w, y, series);
}

/// The series' swatches and labels, right-aligned at `(right, y)`.
fn legend(doc: &mut Doc, right: f32, y: f32, series: &[Series]) {
    let mut at = right;
    for s in series.iter().rev() {
        let lw = doc.width(s.label, 8.0);
        at -= lw;
        doc.text(at, y + 8.0, 8.0, LABEL, s.label);
        at -= 16.0;
        if s.bars {
            doc.fill(at, y + 2.0, 12.0, 7.0, s.color);
        } else if s.dashed {
            doc.dashed(&[(at, y + 5.5), (at + 12.0, y + 5.5)], 1.2, s.color);
        } else {
            doc.line(&[(at, y + 5.5), (at + 12.0, y + 5.5)], 1.4, s.color);
        }
        at -= 12.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert!((step_of(0.0) - 1.0).abs() < 1e-12);
        assert!((step_of(37.0) - 10.0).abs() < 1e-12);
        assert!((step_of(412.0) - 200.0).abs() < 1e-12);
        assert!((step_of(9.0) - 2.5).abs() < 1e-12);
        assert_eq!(tick_label(250.0), "250");
        assert_eq!(tick_label(2.5), "2.5");
    }
}
