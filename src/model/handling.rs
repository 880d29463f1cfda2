//! How the hotline handled its tickets — the "three rates" offices are judged by: resolution
//! (closed ÷ received), satisfaction (satisfied ÷ rated) and the hours to a first response and
//! to closing. The export's own words for a status and a rating are read through a [`Scale`]
//! (`[handling]` in the configuration); the hours are kept per complaint ([`Times`]) so that
//! medians and 90th percentiles are exact for any selection and window.

use serde::{Deserialize, Serialize};

/// The export's words for a closed ticket and for its caller's rating. A status is closed when
/// it is one of `closed`; a rating is satisfied when one of `satisfied`, not satisfied when one
/// of `not_satisfied`, and unrated otherwise (empty, `未评价`): unrated tickets are left out of
/// the satisfaction rate. Words are compared after trimming; numeric scales are listed as
/// their digits (`satisfied = ["5", "4"]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scale {
    pub closed: Vec<String>,
    pub satisfied: Vec<String>,
    pub not_satisfied: Vec<String>,
}

impl Default for Scale {
    /// The words of the 12345 hotline exports we have seen (and English ones).
    fn default() -> Scale {
        let words = |w: &[&str]| w.iter().map(ToString::to_string).collect();
        Scale {
            closed: words(&[
                "已办结",
                "办结",
                "已结案",
                "结案",
                "已完成",
                "已回访",
                "closed",
            ]),
            satisfied: words(&["满意", "非常满意", "基本满意", "比较满意", "satisfied"]),
            not_satisfied: words(&[
                "不满意",
                "非常不满意",
                "很不满意",
                "一般",
                "not satisfied",
                "dissatisfied",
            ]),
        }
    }
}

impl Scale {
    /// Whether a ticket of this status is closed.
    pub fn closed(&self, status: &str) -> bool {
        let s = status.trim();
        self.closed.iter().any(|w| w == s)
    }

    /// The caller's rating: satisfied or not, `None` when unrated or a word the scale does not
    /// list.
    pub fn rating(&self, satisfaction: Option<&str>) -> Option<bool> {
        let s = satisfaction?.trim();
        if self.satisfied.iter().any(|w| w == s) {
            Some(true)
        } else if self.not_satisfied.iter().any(|w| w == s) {
            Some(false)
        } else {
            None
        }
    }

    /// A short digest of the scale, so that figures tabled under another scale are not used.
    pub fn fingerprint(&self) -> String {
        let mut all = Vec::new();
        for (tag, words) in [
            ("c", &self.closed),
            ("s", &self.satisfied),
            ("n", &self.not_satisfied),
        ] {
            for w in words {
                all.extend_from_slice(tag.as_bytes());
                all.extend_from_slice(w.trim().as_bytes());
                all.push(0);
            }
        }
        format!("scale:{:08x}", crc32fast::hash(&all))
    }

    /// Checks the scale: no word both satisfied and not.
    pub fn check(&self) -> Result<(), String> {
        match self
            .satisfied
            .iter()
            .find(|w| self.not_satisfied.contains(w))
        {
            Some(w) => Err(format!(
                "[handling]: `{w}` is listed both as satisfied and as not satisfied"
            )),
            None => Ok(()),
        }
    }
}

/// How one complaint was handled, as the statistics need it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Handled {
    pub closed: bool,
    /// Satisfied or not; `None` when unrated.
    pub rating: Option<bool>,
    /// Hours from receiving to the first response, when the export says.
    pub response_h: Option<f32>,
    /// Hours from receiving to closing, when the export says.
    pub closing_h: Option<f32>,
}

impl Handled {
    /// The counts of the handling table: closed, rated, satisfied.
    pub fn counts(&self) -> [u32; 3] {
        [
            u32::from(self.closed),
            u32::from(self.rating.is_some()),
            u32::from(self.rating == Some(true)),
        ]
    }
}

/// Hours between two times (never negative).
pub fn hours(from: chrono::NaiveDateTime, to: Option<chrono::NaiveDateTime>) -> Option<f32> {
    let secs = (to? - from).num_seconds().max(0);
    Some((secs as f64 / 3600.0) as f32)
}

/// The hours of every complaint that has them, per compound, in month order: a selection's
/// and window's median and 90th percentile are read from the entries themselves.
#[derive(Debug, Clone, Default)]
pub struct Times {
    /// Per compound id, its entries' range in `entries`.
    at: super::stats::IdMap<(u32, u32)>,
    /// (month index from the statistics' first month, response hours, closing hours), `NaN`
    /// where the export gave none.
    entries: Vec<(u16, f32, f32)>,
}

/// Gathers [`Times`] as complaints come, in any order.
#[derive(Debug, Default)]
pub struct TimesBuilder {
    rows: Vec<(i64, u16, f32, f32)>,
}

impl TimesBuilder {
    /// Adds one complaint's hours (nothing when it has neither).
    pub fn add(&mut self, compound: i64, month: u16, response: Option<f32>, closing: Option<f32>) {
        if response.is_some() || closing.is_some() {
            self.rows.push((
                compound,
                month,
                response.unwrap_or(f32::NAN),
                closing.unwrap_or(f32::NAN),
            ));
        }
    }

    pub fn build(mut self) -> Times {
        self.rows
            .sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)).then(a.2.total_cmp(&b.2)));
        let mut t = Times::default();
        t.entries.reserve_exact(self.rows.len());
        let mut start = 0u32;
        for (i, r) in self.rows.iter().enumerate() {
            let next = self.rows.get(i + 1).map(|n| n.0);
            t.entries.push((r.1, r.2, r.3));
            if next != Some(r.0) {
                let end = u32::try_from(i + 1).unwrap_or(u32::MAX);
                t.at.insert(r.0, (start, end));
                start = end;
            }
        }
        t
    }
}

/// The median and 90th percentile of some hours, and how many there were.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    pub median: f64,
    pub p90: f64,
    pub n: u64,
}

impl Spread {
    /// Of `v` (reordered); `None` when empty. A percentile is the value at rank
    /// ⌈p·n⌉ (the nearest-rank definition): always one of the values.
    pub fn of(v: &mut [f32]) -> Option<Spread> {
        let n = v.len();
        if n == 0 {
            return None;
        }
        let mut at = |p: f64| {
            let rank = ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
            let (_, x, _) = v.select_nth_unstable_by(rank, f32::total_cmp);
            (f64::from(*x) * 10.0).round() / 10.0
        };
        Some(Spread {
            median: at(0.5),
            p90: at(0.9),
            n: n as u64,
        })
    }
}

impl Times {
    /// Appends a compound's entries (in month order; an id already there is replaced).
    pub fn push(&mut self, id: i64, entries: impl IntoIterator<Item = (u16, f32, f32)>) {
        let start = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        self.entries.extend(entries);
        let end = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        self.at.insert(id, (start, end));
    }

    /// Every compound's entries in the same order, for comparing stores and files.
    pub fn entries_of(&self, id: i64) -> &[(u16, f32, f32)] {
        self.at
            .get(&id)
            .map_or(&[], |&(a, b)| &self.entries[a as usize..b as usize])
    }

    pub fn ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.at.keys().copied()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The response and closing hours' spreads over compounds `ids` in months `r` (indexes
    /// from the statistics' first month).
    pub fn spreads(
        &self,
        ids: impl IntoIterator<Item = i64>,
        r: std::ops::Range<usize>,
    ) -> (Option<Spread>, Option<Spread>) {
        let (mut response, mut closing) = (Vec::new(), Vec::new());
        for id in ids {
            let e = self.entries_of(id);
            // Entries are in month order: the window is one contiguous run.
            let a = e.partition_point(|x| usize::from(x.0) < r.start);
            let b = e.partition_point(|x| usize::from(x.0) < r.end);
            for &(_, resp, close) in &e[a..b] {
                if !resp.is_nan() {
                    response.push(resp);
                }
                if !close.is_nan() {
                    closing.push(close);
                }
            }
        }
        (Spread::of(&mut response), Spread::of(&mut closing))
    }
}

/// Resolution and satisfaction rates and the hours of a selection over a window.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Rates {
    /// Closed ÷ received; `None` with nothing received.
    pub resolved_rate: Option<f64>,
    /// Satisfied ÷ rated; `None` with nothing rated.
    pub satisfied_rate: Option<f64>,
    pub received: u64,
    pub closed: u64,
    pub rated: u64,
    pub satisfied: u64,
    /// Hours to the first response: median, 90th percentile, how many tickets said.
    pub response_hours: Option<Spread>,
    /// Hours to closing.
    pub closing_hours: Option<Spread>,
}

/// A share rounded to four places; `None` when nothing is counted.
pub fn rate(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0)
}

impl Rates {
    /// From received complaints and the [closed, rated, satisfied] counts.
    pub fn new(
        received: u64,
        counts: [u64; 3],
        spreads: (Option<Spread>, Option<Spread>),
    ) -> Rates {
        let [closed, rated, satisfied] = counts;
        Rates {
            resolved_rate: rate(closed, received),
            satisfied_rate: rate(satisfied, rated),
            received,
            closed,
            rated,
            satisfied,
            response_hours: spreads.0,
            closing_hours: spreads.1,
        }
    }
}

impl Rates {
    /// The rates and hours as flat named values (JSON members, CSV columns): the rates, the
    /// counts behind them, and the hours' median and 90th percentile (`None`: no ticket said).
    pub fn fields(&self) -> [(&'static str, Option<f64>); 9] {
        let spread = |s: Option<Spread>, p90: bool| s.map(|s| if p90 { s.p90 } else { s.median });
        [
            ("resolved_rate", self.resolved_rate),
            ("satisfied_rate", self.satisfied_rate),
            ("closed", Some(self.closed as f64)),
            ("rated", Some(self.rated as f64)),
            ("satisfied", Some(self.satisfied as f64)),
            ("response_hours_median", spread(self.response_hours, false)),
            ("response_hours_p90", spread(self.response_hours, true)),
            ("closing_hours_median", spread(self.closing_hours, false)),
            ("closing_hours_p90", spread(self.closing_hours, true)),
        ]
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // the spreads are values given, compared exactly
mod tests {
    use super::*;

    #[test]
    fn the_scale_reads_the_exports_words() {
        let s = Scale::default();
        assert!(s.closed("已办结") && s.closed(" 已办结 ") && !s.closed("办理中"));
        assert!(!s.closed("已退回"), "returned is not resolved");
        assert_eq!(s.rating(Some("满意")), Some(true));
        assert_eq!(s.rating(Some("基本满意")), Some(true));
        assert_eq!(s.rating(Some("不满意")), Some(false));
        assert_eq!(s.rating(Some("未评价")), None);
        assert_eq!(s.rating(None), None);
        let five = Scale {
            satisfied: vec!["5".into(), "4".into()],
            not_satisfied: vec!["1".into(), "2".into(), "3".into()],
            ..Scale::default()
        };
        assert_eq!(five.rating(Some("4")), Some(true));
        assert_eq!(five.rating(Some("3")), Some(false));
        assert_ne!(five.fingerprint(), s.fingerprint());
        assert!(Scale {
            not_satisfied: vec!["满意".into()],
            ..Scale::default()
        }
        .check()
        .unwrap_err()
        .contains("满意"));
    }

    #[test]
    fn spreads_are_nearest_rank_over_the_window() {
        let mut b = TimesBuilder::default();
        // Compound 1: months 0..10, response = month, closing = 10 × month; month 5 has none.
        for m in 0..10u16 {
            let v = f32::from(m);
            if m == 5 {
                b.add(1, m, None, None);
            } else {
                b.add(1, m, Some(v), Some(v * 10.0));
            }
        }
        b.add(2, 3, Some(100.0), None);
        let t = b.build();
        assert_eq!(t.len(), 10);
        let (resp, close) = t.spreads([1], 0..10);
        let (resp, close) = (resp.unwrap(), close.unwrap());
        // 0,1,2,3,4,6,7,8,9: median at rank 5 = 4, p90 at rank ⌈8.1⌉ = 9 → 9.
        assert_eq!((resp.median, resp.p90, resp.n), (4.0, 9.0, 9));
        assert_eq!((close.median, close.p90), (40.0, 90.0));
        let (resp, close) = t.spreads([1, 2], 2..4);
        assert_eq!(resp.unwrap().n, 3, "months 2 and 3 of 1, month 3 of 2");
        assert_eq!(resp.unwrap().p90, 100.0);
        assert_eq!(close.unwrap().n, 2, "compound 2 gave no closing time");
        assert_eq!(t.spreads([3], 0..10), (None, None));
        assert_eq!(t.spreads([1], 10..12), (None, None));
    }

    #[test]
    fn rates_round_and_say_nothing_of_nothing() {
        let r = Rates::new(3, [2, 0, 0], (None, None));
        assert_eq!(r.resolved_rate, Some(0.6667));
        assert_eq!(r.satisfied_rate, None);
        assert_eq!(Rates::new(0, [0; 3], (None, None)).resolved_rate, None);
    }
}
