//! The analytics service shared by the CLI and the HTTP surface: the geocoder's gazetteer and
//! the grade book, cached per store version; complaint imports; trends.

use super::grade::{GradeBook, Graded, Rule};
use super::hotspots::{Ask, Hotspots, Study};
use super::stats::{Stats, Window};
use crate::ingest::complaints::{Parsed, Rejected, Row, TextEncoding};
use crate::ingest::geocode::Gazetteer;
use crate::model::{Category, Dataset, Month};
use crate::store::{blocking, ByVersion, Store, StoreError};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// What an import of a hotline export did, as printed by the CLI and returned by the API.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ComplaintReport {
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<TextEncoding>,
    /// Data rows read.
    pub rows: usize,
    /// New complaints stored.
    pub loaded: usize,
    /// Rows already stored with the same content, or repeated within the file.
    pub unchanged: usize,
    /// Rows refused, each with its line, field and reason.
    pub rejected: Vec<Rejected>,
    /// Stored complaints that could not be placed on a compound.
    pub unmatched: usize,
    /// How the stored complaints were placed: gps, text, fuzzy, unmatched.
    pub by_method: BTreeMap<String, usize>,
    /// Rows whose category the mapping decided, by what decided it (the category table, a
    /// category path, each keyword rule).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub categories_mapped: BTreeMap<String, usize>,
    pub seconds: f64,
    /// The compounds whose complaints changed (for tile invalidation).
    #[serde(skip)]
    pub touched: Vec<i64>,
}

/// One month of a trend.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrendMonth {
    pub month: String,
    pub complaints: u64,
    /// Change against the same month a year before (None when that month had none or no data).
    pub yoy: Option<f64>,
}

/// One half-year of a trend.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrendHalf {
    pub half: String,
    pub complaints: u64,
    /// Whether all six months lie within the data.
    pub complete: bool,
    pub vs_previous_half: Option<f64>,
    pub vs_same_half_last_year: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Trend {
    pub from: String,
    pub to: String,
    pub compounds: usize,
    pub months: Vec<TrendMonth>,
    pub halves: Vec<TrendHalf>,
}

/// What a trend is about.
#[derive(Debug, Clone, Default)]
pub struct TrendFilter {
    pub district: Option<String>,
    pub street: Option<String>,
    pub compound: Option<i64>,
    /// A property company's compounds (by company id).
    pub company: Option<i64>,
    pub category: Option<Category>,
}

impl TrendFilter {
    /// The selection as the key of a kept answer.
    pub fn key(&self) -> String {
        format!(
            "{:?} {:?} {:?} {:?} {:?}",
            self.district,
            self.street,
            self.compound,
            self.company,
            self.category.map(Category::code)
        )
    }
}

pub struct Atlas {
    pub store: Arc<dyn Store>,
    pub rule: Rule,
    /// The early-warning rule (`[alerts]`).
    pub alert_rule: super::alerts::AlertRule,
    gazetteer: ByVersion<Gazetteer>,
    /// The grade book of the store's current version (every tile asks for the latest quarter).
    grades: ByVersion<GradeBook>,
    /// `[company_lists]`: the companies' red and black list rule.
    pub list_rule: crate::model::company_list::ListRule,
    /// The companies' lists of the store's current version.
    company_lists: ByVersion<super::company_list::ListBook>,
    /// Answers costly to make (hot spots, the companies' table), by request, for the store version they were made
    /// from: the most recent [`KEPT_ANSWERS`].
    answers: std::sync::Mutex<Answers>,
    /// `[hotspots]`: the resolution and rings asked when a request does not say (and the
    /// tiles' `hotspots` layer's).
    pub hotspot_defaults: crate::config::HotspotsFile,
    /// Hot-spot statistics made, typed, by store version and ask (the API's answers and the
    /// tiles' layer read the same ones); making one is single flight.
    hotspots: Arc<KeptHotspots>,
}

/// The hot-spot statistics made last, by store version and ask: the most recent
/// [`KEPT_HOTSPOTS`] of the current version.
#[derive(Default)]
struct KeptHotspots {
    kept: std::sync::Mutex<std::collections::VecDeque<(u64, Ask, Arc<Hotspots>)>>,
    making: tokio::sync::Mutex<()>,
    /// The study areas made last, by a digest of the places they were made of (the same
    /// geography gives the same places) — the most recent [`KEPT_STUDIES`].
    studies: std::sync::Mutex<std::collections::VecDeque<(u64, Arc<Study>)>>,
}

/// How many study areas [`KeptHotspots`] keeps (one per resolution and rings asked).
const KEPT_STUDIES: usize = 3;

/// A digest of the places a study area is made of: their ids and points, in order.
fn places_digest(places: &[(i64, geo_types::Point<f64>)]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (id, p) in places {
        (id, p.x().to_bits(), p.y().to_bits()).hash(&mut h);
    }
    h.finish()
}

impl KeptHotspots {
    fn find(&self, v: u64, ask: &Ask) -> Option<Arc<Hotspots>> {
        self.kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find(|(at, a, _)| *at == v && a == ask)
            .map(|(_, _, h)| Arc::clone(h))
    }

    /// The study area of `ask`'s resolution and rings over `places`: kept, or made and kept.
    fn study(
        &self,
        places: &[(i64, geo_types::Point<f64>)],
        ask: &Ask,
        res: h3o::Resolution,
    ) -> Arc<Study> {
        let digest = places_digest(places);
        let mut kept = self
            .studies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, s)) = kept.iter().find(|(d, s)| *d == digest && s.fits(ask)) {
            return Arc::clone(s);
        }
        let s = Arc::new(Study::new(places.iter().copied(), res, ask.k));
        if kept.len() >= KEPT_STUDIES {
            kept.pop_front();
        }
        kept.push_back((digest, Arc::clone(&s)));
        s
    }

    fn keep(&self, v: u64, ask: Ask, h: Arc<Hotspots>) {
        let mut kept = self
            .kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        kept.retain(|(at, _, _)| *at == v);
        if kept.len() >= KEPT_HOTSPOTS {
            kept.pop_front();
        }
        kept.push_back((v, ask, h));
    }
}

/// How many hot-spot analyses [`Atlas::hotspots`] keeps (each holds every study cell with its
/// monthly z-scores: 4,029 cells at resolution 9 on the demo city).
const KEPT_HOTSPOTS: usize = 4;

/// Made answers by store version and request, the most recent last.
#[derive(Default)]
pub struct Answers {
    kept: std::collections::VecDeque<(u64, String, bytes::Bytes)>,
    bytes: usize,
}

impl Answers {
    /// The answer made for request `key` from store version `v`.
    pub fn find(&self, v: u64, key: &str) -> Option<bytes::Bytes> {
        self.kept
            .iter()
            .find(|(at, k, _)| *at == v && k == key)
            .map(|(_, _, body)| body.clone())
    }

    /// Keeps an answer made from store version `v` for request `key`: the oldest go when
    /// [`KEPT_ANSWERS`] or [`KEPT_BYTES`] would be passed, and every one of an older version;
    /// an answer larger than [`KEPT_BYTES`] is not kept.
    pub fn keep(&mut self, v: u64, key: String, body: bytes::Bytes) {
        self.kept.retain(|(at, k, _)| *at == v && *k != key);
        self.bytes = self.kept.iter().map(|(_, _, b)| b.len()).sum();
        if body.len() > KEPT_BYTES {
            return;
        }
        while self.kept.len() >= KEPT_ANSWERS || self.bytes + body.len() > KEPT_BYTES {
            let Some((_, _, gone)) = self.kept.pop_front() else {
                break;
            };
            self.bytes -= gone.len();
        }
        self.bytes += body.len();
        self.kept.push_back((v, key, body));
    }

    /// How many bytes the kept answers hold.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// How many made answers [`Atlas::remembered`] keeps.
const KEPT_ANSWERS: usize = 32;

/// How many bytes of made answers [`Atlas::remembered`] keeps at most (a hot-spot answer of the
/// demo city at resolution 9 is about 3.6 MB: eight of them).
const KEPT_BYTES: usize = 32 << 20;

fn change(now: u64, before: u64) -> Option<f64> {
    (before > 0).then(|| ((now as f64 / before as f64 - 1.0) * 10_000.0).round() / 10_000.0)
}

/// Places every row's complaint with the gazetteer, on every core.
async fn geocode_rows(gz: Arc<Gazetteer>, mut rows: Vec<Row>) -> Result<Vec<Row>, StoreError> {
    tokio::task::spawn_blocking(move || {
        let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let chunk = rows.len().div_ceil(threads).max(1);
        std::thread::scope(|s| {
            for part in rows.chunks_mut(chunk) {
                let gz = &gz;
                s.spawn(move || {
                    for r in part {
                        let c = &mut r.complaint;
                        c.place = gz.place(&c.address, c.lon, c.lat);
                    }
                });
            }
        });
        rows
    })
    .await
    .map_err(|e| StoreError::Io(std::io::Error::other(e)))
}

impl Atlas {
    /// An answer made for the same request (`key`) from the store's current version.
    pub fn remembered(&self, key: &str) -> Option<bytes::Bytes> {
        let v = self.store.version();
        let kept = self
            .answers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        kept.find(v, key)
    }

    /// Keeps an answer made from store version `v` for request `key` (see [`Answers::keep`]).
    pub fn remember(&self, v: u64, key: String, body: bytes::Bytes) {
        self.answers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keep(v, key, body);
    }

    pub fn new(store: Arc<dyn Store>, rule: Rule) -> Atlas {
        Atlas {
            store,
            rule,
            alert_rule: super::alerts::AlertRule::default(),
            gazetteer: ByVersion::default(),
            grades: ByVersion::default(),
            list_rule: crate::model::company_list::ListRule::default(),
            company_lists: ByVersion::default(),
            answers: std::sync::Mutex::default(),
            hotspot_defaults: crate::config::HotspotsFile::default(),
            hotspots: Arc::default(),
        }
    }

    /// The same service with another early-warning rule.
    #[must_use]
    pub fn with_alerts(mut self, rule: super::alerts::AlertRule) -> Atlas {
        self.alert_rule = rule;
        self
    }

    /// The early-warning tests of `month` (default: the data's last) over the compounds a
    /// filter names, under `rule` (the configured one, or one a request loosened): the month,
    /// the compounds, and what the rule found. A month outside the data is refused naming the
    /// data's months.
    pub async fn alerts(
        &self,
        filter: &TrendFilter,
        month: Option<Month>,
        rule: super::alerts::AlertRule,
    ) -> Result<(Month, Vec<i64>, super::alerts::MonthAlerts), crate::error::Error> {
        use crate::error::Error;
        let stats = self.store.stats().await?;
        let data = self.store.geography().await?;
        let (Some(first), Some(last)) = (stats.first, stats.last) else {
            return Err(Error::NotFound("no complaints stored yet".into()));
        };
        let month = month.unwrap_or(last);
        if month < first || month > last {
            return Err(Error::BadRequest(format!(
                "`month` {month} is outside the data ({first} to {last})"
            )));
        }
        let ids = select_compounds(&data, filter)?;
        let category = filter.category;
        let (ids, found) = blocking("alerts tested", move || {
            let found = super::alerts::month_alerts(&stats, &ids, month, category, &rule);
            (ids, found)
        })
        .await?;
        Ok((month, ids, found))
    }

    /// The same service with another company list rule (`[company_lists]`).
    #[must_use]
    pub fn with_company_lists(mut self, rule: crate::model::company_list::ListRule) -> Atlas {
        self.list_rule = rule;
        self
    }

    /// The service with `[hotspots]`' defaults.
    #[must_use]
    pub fn with_hotspots(mut self, defaults: crate::config::HotspotsFile) -> Atlas {
        self.hotspot_defaults = defaults;
        self
    }

    /// The hot-spot statistics of `ask` over the compounds at `places` (id and inside point:
    /// the city index's), made once per store version and ask and kept (the most recent
    /// [`KEPT_HOTSPOTS`]); a caller asking while they are being made waits for them. What
    /// [`super::hotspots::check`] refuses is a 400 naming it.
    pub async fn hotspots(
        &self,
        ask: Ask,
        places: Vec<(i64, geo_types::Point<f64>)>,
    ) -> Result<Arc<Hotspots>, crate::error::Error> {
        // The version first: statistics are never kept as newer than what they came from.
        let v = self.store.version();
        if let Some(h) = self.hotspots.find(v, &ask) {
            return Ok(h);
        }
        // What is refused is said at once, without waiting for another analysis being made.
        let stats = self.store.stats().await?;
        let res = super::hotspots::check(&ask, &stats)?;
        let _making = self.hotspots.making.lock().await;
        if let Some(h) = self.hotspots.find(v, &ask) {
            return Ok(h);
        }
        let h = blocking("hot spots computed", {
            let kept = Arc::clone(&self.hotspots);
            move || {
                let study = kept.study(&places, &ask, res);
                super::hotspots::analyse(&stats, &study, &ask)
            }
        })
        .await??;
        let h = Arc::new(h);
        self.hotspots.keep(v, ask, Arc::clone(&h));
        Ok(h)
    }

    /// The gazetteer of the store's current geography.
    pub async fn gazetteer(&self) -> Result<Arc<Gazetteer>, StoreError> {
        let make = async {
            let data = self.store.geography().await?;
            blocking("gazetteer made", move || Gazetteer::new(&data)).await
        };
        self.gazetteer
            .get_or_make(self.store.geography_version(), make)
            .await
    }

    /// All grades, computed from the store's statistics with overrides applied.
    pub async fn grades(&self) -> Result<Arc<GradeBook>, StoreError> {
        let make = async {
            let (stats, data, overrides) = tokio::try_join!(
                self.store.stats(),
                self.store.geography(),
                self.store.overrides()
            )?;
            let rule = self.rule.clone();
            blocking("grades computed", move || {
                let compounds: Vec<Graded> = data
                    .compounds
                    .iter()
                    .map(|c| Graded {
                        id: c.id,
                        district: c.district_code.clone(),
                        households: i64::from(c.households),
                    })
                    .collect();
                GradeBook::compute(&stats, &compounds, &rule, &overrides)
            })
            .await
        };
        self.grades.get_or_make(self.store.version(), make).await
    }

    /// Every company's red / black list standing in every graded quarter, from the grades in
    /// force and the company overrides (`analytics::company_list`), made once per store
    /// version.
    pub async fn company_lists(&self) -> Result<Arc<super::company_list::ListBook>, StoreError> {
        use super::company_list::{ListBook, Managed};
        let make = async {
            let (grades, data, overrides) = tokio::try_join!(
                self.grades(),
                self.store.geography(),
                self.store.company_overrides()
            )?;
            let rule = self.list_rule.clone();
            blocking("company lists computed", move || {
                let mut by: BTreeMap<i64, Managed> = BTreeMap::new();
                for c in &data.compounds {
                    by.entry(c.company_id)
                        .or_insert_with(|| Managed {
                            id: c.company_id,
                            compounds: Vec::new(),
                        })
                        .compounds
                        .push((c.id, i64::from(c.households)));
                }
                let managed: Vec<Managed> = by.into_values().collect();
                ListBook::compute(&grades, &managed, &rule, &overrides)
            })
            .await
        };
        self.company_lists
            .get_or_make(self.store.version(), make)
            .await
    }

    /// Places and stores the rows of a parsed export.
    pub async fn import_complaints(
        &self,
        parsed: Parsed,
        source: &str,
    ) -> Result<ComplaintReport, StoreError> {
        let started = std::time::Instant::now();
        let gz = self.gazetteer().await?;
        let mut report = ComplaintReport {
            source: source.to_string(),
            encoding: parsed.encoding,
            rows: parsed.rows.len() + parsed.rejected.len() + parsed.repeated,
            unchanged: parsed.repeated,
            rejected: parsed.rejected,
            categories_mapped: parsed.category_hits,
            ..ComplaintReport::default()
        };
        let mut rows = parsed.rows;
        self.refuse_outside_city(&mut rows, &mut report.rejected)
            .await?;
        let rows = geocode_rows(gz, rows).await?;
        let lines: std::collections::HashMap<String, usize> = rows
            .iter()
            .map(|r| (r.complaint.ticket_id.clone(), r.line))
            .collect();
        let mut methods: BTreeMap<String, usize> = BTreeMap::new();
        let mut placed = Vec::with_capacity(rows.len());
        for r in rows {
            *methods
                .entry(r.complaint.place.method.code().to_string())
                .or_default() += 1;
            placed.push((r.complaint, r.contact));
        }
        let unmatched_tickets: HashSet<String> = placed
            .iter()
            .filter(|(c, _)| c.place.compound_id.is_none())
            .map(|(c, _)| c.ticket_id.clone())
            .collect();
        let touched_all: HashSet<i64> = placed
            .iter()
            .filter_map(|(c, _)| c.place.compound_id)
            .collect();
        let stored = self.store.import_complaints(placed).await?;
        if stored.new > 0 {
            report.touched = touched_all.into_iter().collect();
        }
        report.loaded = stored.new;
        report.unchanged += stored.unchanged;
        let conflicts: HashSet<&String> = stored.conflicts.iter().collect();
        for t in &stored.conflicts {
            report.rejected.push(Rejected {
                line: lines.get(t).copied().unwrap_or(0),
                ticket_id: Some(t.clone()),
                field: "ticket_id",
                reason: "duplicate ticket with different content (already stored)".into(),
            });
        }
        report.rejected.sort_by_key(|r| r.line);
        report.unmatched = unmatched_tickets
            .iter()
            .filter(|t| !conflicts.contains(t))
            .count();
        if stored.new > 0 || stored.unchanged > 0 {
            report.by_method = methods;
        }
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// Refuses, by line, rows whose coordinates lie far outside the city (its extent from its
    /// data, with a margin of about 20 km): someone else's city, or longitude and latitude
    /// swapped.
    async fn refuse_outside_city(
        &self,
        rows: &mut Vec<Row>,
        rejected: &mut Vec<Rejected>,
    ) -> Result<(), StoreError> {
        if let Some([w, s, e, n]) = self.store.geography().await?.extent() {
            const MARGIN: f64 = 0.2;
            let (w, s, e, n) = (w - MARGIN, s - MARGIN, e + MARGIN, n + MARGIN);
            rows.retain(|r| match (r.complaint.lon, r.complaint.lat) {
                (Some(x), Some(y)) if !(w..=e).contains(&x) || !(s..=n).contains(&y) => {
                    rejected.push(Rejected {
                        line: r.line,
                        ticket_id: Some(r.complaint.ticket_id.clone()),
                        field: "lon",
                        reason: format!(
                            "coordinates ({x}, {y}) are outside the city (its extent {w:.2},{s:.2},{e:.2},{n:.2} with the margin)"
                        ),
                    });
                    false
                }
                _ => true,
            });
        }
        Ok(())
    }

    /// Monthly complaints of the compounds a filter selects, with year-on-year and
    /// half-on-half changes.
    /// The campaign's effect on a selection, from `start` to `to` (default: the last month),
    /// its trend from the `baseline` months before ([`super::effect`]).
    pub async fn effect(
        &self,
        filter: &TrendFilter,
        start: Month,
        to: Option<Month>,
        baseline: i32,
    ) -> Result<super::effect::Effect, crate::error::Error> {
        let stats = self.store.stats().await?;
        let data = self.store.geography().await?;
        let ids = select_compounds(&data, filter)?;
        super::effect::effect_of(&stats, &ids, filter.category, start, to, baseline)
    }

    /// The complaints of the compounds a filter selects by weekday and hour over the window
    /// `from..=to` (default: the last 12 months of data) ([`super::hours`]).
    pub async fn hours(
        &self,
        filter: &TrendFilter,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<super::hours::Hours, crate::error::Error> {
        let (stats, window, ids) = self.selection(filter, from, to).await?;
        super::hours::hours_of(&stats, &ids, filter.category, window)
    }

    /// The repeat hot spots of the compounds a filter selects over the window `from..=to`
    /// (default: the last 12 months of data), the `limit` worst ([`super::repeats`]).
    pub async fn repeats(
        &self,
        filter: &TrendFilter,
        from: Option<&str>,
        to: Option<&str>,
        limit: usize,
    ) -> Result<super::repeats::HotSpots, crate::error::Error> {
        let (stats, window, ids) = self.selection(filter, from, to).await?;
        super::repeats::hot_spots(
            &stats,
            &ids,
            filter.category,
            window,
            &self.rule.repeats,
            limit,
        )
    }

    /// The statistics, the window `from..=to` (default: the last 12 months of data) and the
    /// compounds a filter names — what a trend and the hours read alike.
    async fn selection(
        &self,
        filter: &TrendFilter,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<(Arc<Stats>, Window, Vec<i64>), crate::error::Error> {
        let stats = self.store.stats().await?;
        let data = self.store.geography().await?;
        let last = stats
            .last
            .ok_or_else(|| crate::error::Error::NotFound("no complaints stored yet".into()))?;
        let window = Window::parse(from, to, last).map_err(crate::error::Error::BadRequest)?;
        let ids = select_compounds(&data, filter)?;
        Ok((stats, window, ids))
    }

    pub async fn trend(
        &self,
        filter: &TrendFilter,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Trend, crate::error::Error> {
        let (stats, window, ids) = self.selection(filter, from, to).await?;
        Ok(trend_of(&stats, &ids, filter.category, window))
    }
}

/// The compounds a filter names; an unknown district, street or compound is an error.
pub fn select_compounds(data: &Dataset, f: &TrendFilter) -> Result<Vec<i64>, crate::error::Error> {
    use crate::error::Error;
    let district_code = f
        .district
        .as_ref()
        .map(|d| crate::error::district_code(data, d).map(str::to_string))
        .transpose()?;
    let street_codes: Option<HashSet<String>> = f
        .street
        .as_ref()
        .map(|s| {
            let found: HashSet<String> = data
                .find_streets(s)
                .iter()
                .map(|x| x.code.clone())
                .collect();
            if found.is_empty() {
                Err(Error::unknown("street", s))
            } else {
                Ok(found)
            }
        })
        .transpose()?;
    if let Some(c) = f.compound {
        if !data.compounds.iter().any(|x| x.id == c) {
            return Err(Error::NotFound(format!("compound {c}")));
        }
    }
    if let Some(c) = f.company {
        if !data.companies.iter().any(|x| x.id == c) {
            return Err(Error::NotFound(format!("company {c}")));
        }
    }
    Ok(data
        .compounds
        .iter()
        .filter(|c| district_code.as_ref().is_none_or(|d| &c.district_code == d))
        .filter(|c| {
            street_codes
                .as_ref()
                .is_none_or(|s| s.contains(&c.street_code))
        })
        .filter(|c| f.compound.is_none_or(|id| c.id == id))
        .filter(|c| f.company.is_none_or(|id| c.company_id == id))
        .map(|c| c.id)
        .collect())
}

/// The trend arithmetic, on statistics already loaded.
pub fn trend_of(stats: &Stats, ids: &[i64], category: Option<Category>, window: Window) -> Trend {
    let (Some(first), Some(last)) = (stats.first, stats.last) else {
        return Trend {
            from: window.from.to_string(),
            to: window.to.to_string(),
            compounds: ids.len(),
            months: vec![],
            halves: vec![],
        };
    };
    // Sum the selected compounds over every month of the data (and the window).
    let lo = first.min(window.from.plus(-12));
    let hi = last.max(window.to);
    let all = Window { from: lo, to: hi };
    let sums = stats.series_of(ids, all, category);
    let get = |m: Month| {
        usize::try_from(m.0 - all.from.0)
            .ok()
            .and_then(|k| sums.get(k))
            .copied()
            .unwrap_or(0)
    };
    let in_data = |m: Month| first <= m && m <= last;
    let months = (window.from.0..=window.to.0)
        .map(Month)
        .map(|m| TrendMonth {
            month: m.to_string(),
            complaints: get(m),
            yoy: if in_data(m.plus(-12)) {
                change(get(m), get(m.plus(-12)))
            } else {
                None
            },
        })
        .collect();
    let half_of = |m: Month| m.year() * 2 + i32::from(m.month() > 6);
    let half_total = |h: i32| -> (u64, bool) {
        let start = Month::new(h.div_euclid(2), if h.rem_euclid(2) == 0 { 1 } else { 7 });
        let total = (0..6).map(|k| get(start.plus(k))).sum();
        let complete = (0..6).all(|k| in_data(start.plus(k)));
        (total, complete)
    };
    let halves = (half_of(window.from)..=half_of(window.to))
        .map(|h| {
            let (n, complete) = half_total(h);
            let (prev, prev_ok) = half_total(h - 1);
            let (year, year_ok) = half_total(h - 2);
            TrendHalf {
                half: format!("{}H{}", h.div_euclid(2), h.rem_euclid(2) + 1),
                complaints: n,
                complete,
                vs_previous_half: if complete && prev_ok {
                    change(n, prev)
                } else {
                    None
                },
                vs_same_half_last_year: if complete && year_ok {
                    change(n, year)
                } else {
                    None
                },
            }
        })
        .collect();
    Trend {
        from: window.from.to_string(),
        to: window.to.to_string(),
        compounds: ids.len(),
        months,
        halves,
    }
}

#[cfg(test)]
mod tests {
    use super::{Answers, KEPT_ANSWERS, KEPT_BYTES};

    fn body(n: usize) -> bytes::Bytes {
        bytes::Bytes::from(vec![b'x'; n])
    }

    #[test]
    fn answers_are_kept_by_version_count_and_bytes() {
        let mut a = Answers::default();
        a.keep(1, "a".into(), body(10));
        assert_eq!(a.find(1, "a").map(|b| b.len()), Some(10));
        assert!(a.find(2, "a").is_none(), "another store version");
        assert!(a.find(1, "b").is_none(), "another request");
        // A newer version drops every older answer.
        a.keep(2, "b".into(), body(5));
        assert!(a.find(1, "a").is_none());
        assert_eq!(a.bytes(), 5);
        // No more than KEPT_ANSWERS, the oldest going first.
        for i in 0..=KEPT_ANSWERS {
            a.keep(2, format!("k{i}"), body(1));
        }
        assert!(a.find(2, "b").is_none() && a.find(2, "k0").is_none());
        assert!(a.find(2, &format!("k{KEPT_ANSWERS}")).is_some());
        // No more than KEPT_BYTES: a large answer pushes the others out.
        a.keep(2, "big".into(), body(KEPT_BYTES - 3));
        a.keep(2, "small".into(), body(4));
        assert!(
            a.find(2, "big").is_none(),
            "over the byte budget, the oldest goes"
        );
        assert!(a.bytes() <= KEPT_BYTES);
        assert_eq!(a.bytes(), 4, "the big one and the ones before it went");
        // An answer larger than the budget is not kept at all.
        a.keep(2, "huge".into(), body(KEPT_BYTES + 1));
        assert!(a.find(2, "huge").is_none());
    }
}
