//! `GET /api/report.pdf?district=&month=` (planner): a district's monthly report as a PDF
//! ([`crate::planner::report`]). Every figure comes from the function its JSON endpoint calls
//! — the rates of `/api/districts`, the grades and figures of `/api/compounds`, the table of
//! `/api/companies`, the lists of `/api/companies/lists`, `Atlas::alerts` of `/api/alerts`,
//! `Atlas::repeats` of `/api/repeats`, `Atlas::trend` of `/api/stats/trend`,
//! `Atlas::effect` of `/api/stats/effect` — so the report and the API agree. A made report is
//! kept per (district, month, store version) with the other kept answers.

use super::request::Params;
use super::{AppState, Caller};
use crate::analytics::effect::DEFAULT_START;
use crate::analytics::service::TrendFilter;
use crate::analytics::{density, Window};
use crate::config::Role;
use crate::error::Error;
use crate::model::grade::Grade;
use crate::model::repeat::Place;
use crate::model::Category;
use crate::model::{Month, Quarter};
use crate::planner::companies::{league, SortBy};
use crate::planner::report::{
    self, AlertRow, AlertsFigures, CompanyRow, GradedRow, ListRow, RepeatRow, RepeatsFigures, Top,
};
use crate::tile::atlas::{CityIndex, Figures};
use axum::extract::{RawQuery, State};
use axum::response::Response;
use std::sync::Arc;

/// The map picture's size in pixels (drawn at about 130 dpi over the page's column).
const MAP_SIZE: (u32, u32) = (920, 560);

/// What a report asks: the district's code and the month, each refused by name when wrong.
async fn asked(state: &AppState, p: &Params) -> Result<(Arc<CityIndex>, String, Month), Error> {
    let district = p.get("district").ok_or_else(|| {
        Error::BadRequest("`district` is required: a district's code or name".into())
    })?;
    let month = p
        .get("month")
        .ok_or_else(|| Error::BadRequest("`month` is required, as YYYY-MM".into()))?;
    let month = Month::parse(month).ok_or_else(|| {
        Error::BadRequest(format!("`month` must be a month as YYYY-MM, got `{month}`"))
    })?;
    let stats = state.atlas.store.stats().await?;
    let (Some(first), Some(last)) = (stats.first, stats.last) else {
        return Err(Error::NotFound("no complaints stored yet".into()));
    };
    if month < first || month > last {
        return Err(Error::BadRequest(format!(
            "`month` {month} is outside the data ({first} to {last})"
        )));
    }
    let city = state.tiles.city(&state.atlas).await?;
    let code = crate::error::district_code(&city.data, district)?.to_string();
    Ok((city, code, month))
}

/// `GET /api/report.pdf?district=&month=YYYY-MM`: the district's monthly report.
pub async fn report_pdf(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, Error> {
    caller.require(Role::Planner)?;
    let p = Params::parse(raw, &["district", "month"])?;
    // The version first: a report is never kept as newer than the figures it came from.
    let v = state.atlas.store.version();
    let (city, code, month) = asked(&state, &p).await?;
    // Kept per audience (small counts are withheld from public callers) and per day (the
    // report says when it was made).
    let key = format!(
        "report.pdf {code} {month} {} {}",
        state.audience(&caller).sees_small_counts,
        chrono::Local::now().format("%Y-%m-%d")
    );
    let name = format!("report-{code}-{month}.pdf");
    if let Some(body) = state.atlas.remembered(&key) {
        return Ok(pdf_response(&body, &name));
    }
    let r = gather(&state, &caller, city, &code, month).await?;
    let body = tokio::task::spawn_blocking(move || report::render(&r))
        .await
        .map_err(|e| Error::Other(anyhow::anyhow!(e)))?
        .map_err(|e| Error::Other(anyhow::anyhow!(e)))?;
    let body = bytes::Bytes::from(body);
    state.atlas.remember(v, key, body.clone());
    Ok(pdf_response(&body, &name))
}

fn pdf_response(body: &[u8], name: &str) -> Response {
    super::export::with_type(body.to_vec(), "application/pdf", Some(name))
}

/// The quarter whose grades a month's report shows: the month's own when it is graded, else
/// the latest graded before it.
fn period_of(book: &crate::analytics::grade::GradeBook, month: Month) -> Option<Quarter> {
    let q = month.quarter();
    book.periods.iter().rev().find(|p| **p <= q).copied()
}

/// Every figure of the report, from the functions the JSON endpoints call.
async fn gather(
    state: &AppState,
    caller: &Caller,
    city: Arc<CityIndex>,
    code: &str,
    month: Month,
) -> Result<report::Report, Error> {
    let (stats, book) = tokio::try_join!(state.atlas.store.stats(), state.atlas.grades())?;
    let period = period_of(&book, month);
    let w = Window {
        from: month,
        to: month,
    };
    let before = Window {
        from: month.plus(-12),
        to: month.plus(-12),
    };
    let (fig, fig_before) = tokio::try_join!(
        state.tiles.figures(&state.atlas, w, period),
        state.tiles.figures(&state.atlas, before, period),
    )?;
    let ids: Vec<i64> = city
        .data
        .compounds
        .iter()
        .filter(|c| c.district_code == code)
        .map(|c| c.id)
        .collect();
    let rates = report::RatesFigures {
        month: super::request::area_rates(&stats, &fig.district(code), &ids, w),
        year_before: super::request::area_rates(&stats, &fig_before.district(code), &ids, before),
    };
    let filter = TrendFilter {
        district: Some(code.to_string()),
        ..TrendFilter::default()
    };
    let (alerts, lists, repeats) = tokio::try_join!(
        alerts(state, &city, &filter, month),
        lists(state, &city, code, period),
        repeats(state, caller, &city, &filter, month),
    )?;
    let first = stats.first.unwrap_or(month).max(month.plus(-23));
    let trend = state
        .atlas
        .trend(&filter, Some(&first.to_string()), Some(&month.to_string()))
        .await?;
    let effect = match state
        .atlas
        .effect(&filter, DEFAULT_START, Some(month), 12)
        .await
    {
        Ok(e) => Some(e),
        // A month before the campaign, or too little data before it: no section.
        Err(Error::BadRequest(_)) => None,
        Err(e) => return Err(e),
    };
    let map = map(state, caller, &city, &fig, code).await?;
    let district = city.district_name(code).to_string();
    Ok(report::Report {
        heading: report::Heading {
            district,
            district_code: code.to_string(),
            month,
            period,
            generated: chrono::Local::now().format("%Y-%m-%d").to_string(),
            source: "12345 热线投诉工单（compound-atlas 统计）".into(),
        },
        map,
        rates,
        graded: graded(&city, &fig, code),
        companies: companies(&city, &fig, &fig_before, code),
        lists,
        alerts,
        repeats,
        trend: trend
            .months
            .iter()
            .filter_map(|m| Some((Month::parse(&m.month)?, m.complaints)))
            .collect(),
        effect,
    })
}

/// The district's red and yellow compounds of the period: red first, then the densest.
fn graded(city: &CityIndex, fig: &Figures, code: &str) -> Top<GradedRow> {
    let months = fig.window.months();
    let mut rows: Vec<GradedRow> = city
        .data
        .compounds
        .iter()
        .filter(|c| c.district_code == code)
        .filter_map(|c| {
            let (n, grade) = fig.compound(c.id);
            let grade = match grade? {
                Grade::Red => "red",
                Grade::Yellow => "yellow",
                Grade::Blue => return None,
            };
            Some(GradedRow {
                name: c.name.clone(),
                street: city.street_name(&c.street_code).to_string(),
                grade,
                complaints: n,
                density: density(n, i64::from(c.households), months),
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        (a.grade != "red")
            .cmp(&(b.grade != "red"))
            .then(b.density.total_cmp(&a.density))
            .then(a.name.cmp(&b.name))
    });
    Top::of(rows, report::GRADED_ROWS)
}

/// The district's companies, worst by density (the table `/api/companies` answers).
fn companies(city: &CityIndex, fig: &Figures, before: &Figures, code: &str) -> Top<CompanyRow> {
    let months = fig.window.months();
    let rows = league(city, fig, before, Some(code), SortBy::Density)
        .into_iter()
        .map(|c| CompanyRow {
            density: c.density(months),
            name: c.name,
            compounds: c.compounds,
            red: c.red,
            yellow: c.yellow,
            complaints: c.complaints,
        })
        .collect();
    Top::of(rows, report::COMPANY_ROWS)
}

/// The companies working in the district on the period's black and red lists and those that
/// came off one in it (what `/api/companies/lists?period=&district=` answers); none without a
/// graded period.
async fn lists(
    state: &AppState,
    city: &CityIndex,
    code: &str,
    period: Option<Quarter>,
) -> Result<Option<Top<ListRow>>, Error> {
    let Some(q) = period else {
        return Ok(None);
    };
    let book = state.atlas.company_lists().await?;
    let working = super::company_lists::in_district(city, Some(code)).unwrap_or_default();
    let rows = book
        .listed(q, true)
        .into_iter()
        .filter(|s| working.binary_search(&s.company_id).is_ok())
        .map(|s| ListRow {
            name: city.company_name(s.company_id).to_string(),
            list: s.list.code(),
            held: s.held,
            overridden: s.r#override.is_some(),
            red_share: s.red_share(),
            since: s.since,
        })
        .collect();
    Ok(Some(Top::of(rows, report::LIST_ROWS)))
}

/// The month's repeat hot spots in the district (what `/api/repeats?district=&from=&to=`
/// answers for the month).
async fn repeats(
    state: &AppState,
    caller: &Caller,
    city: &CityIndex,
    filter: &TrendFilter,
    month: Month,
) -> Result<RepeatsFigures, Error> {
    let audience = state.audience(caller);
    let m = month.to_string();
    let found = state
        .atlas
        .repeats(filter, Some(&m), Some(&m), report::REPEAT_ROWS)
        .await?;
    // A place whose complaints this caller may not see (the privacy rule's small counts) is
    // left out of the table.
    let rows = found
        .spots
        .iter()
        .filter(|s| !audience.withholds(s.complaints))
        .map(|s| {
            let place = match s.place {
                Place::Unit(u) => city.unit(u).map(|u| {
                    let b = city.building(u.building_id).map_or("", |b| b.name.as_str());
                    format!("{b} {}", u.name)
                }),
                Place::Building(b) => city.building(b).map(|b| b.name.clone()),
            };
            let most = (0..Category::ALL.len()).max_by_key(|&i| (s.by_category[i], usize::MAX - i));
            RepeatRow {
                compound: city
                    .compound(s.compound)
                    .map_or_else(String::new, |(_, c)| c.name.clone()),
                place: place.unwrap_or_default(),
                complaints: s.complaints,
                repeats: s.repeats,
                category: most.map_or("", |i| Category::ALL[i].label()),
            }
        })
        .collect();
    Ok(RepeatsFigures {
        days: state.atlas.rule.repeats.days,
        complaints: found.complaints,
        repeats: found.repeats,
        places: found.places,
        rows,
    })
}

/// The month's alerts in the district (what `/api/alerts?month=&district=` answers).
async fn alerts(
    state: &AppState,
    city: &CityIndex,
    filter: &TrendFilter,
    month: Month,
) -> Result<AlertsFigures, Error> {
    let rule = state.atlas.alert_rule.clone();
    let (_, ids, found) = state
        .atlas
        .alerts(filter, Some(month), rule.clone())
        .await?;
    let note = if ids.is_empty() {
        Some("本区没有小区。".to_string())
    } else if found.tested == 0 {
        Some(format!(
            "{month} 之前不足 {} 年的数据，无法检验。",
            rule.min_years
        ))
    } else {
        None
    };
    let rows = found
        .alerts
        .iter()
        .take(report::ALERT_ROWS)
        .map(|t| AlertRow {
            compound: city
                .compound(t.compound)
                .map_or_else(String::new, |(_, c)| c.name.clone()),
            category: t.category.label().to_string(),
            observed: u64::from(t.observed),
            expected: t.baseline.expected,
        })
        .collect();
    Ok(AlertsFigures {
        rows,
        total: found.alerts.len(),
        note,
    })
}

/// The district's map picture: its box, compounds by the period's grade, its outline.
async fn map(
    state: &AppState,
    caller: &Caller,
    city: &Arc<CityIndex>,
    fig: &Arc<Figures>,
    code: &str,
) -> Result<Option<tiny_skia::Pixmap>, Error> {
    use crate::tile::raster::{self, Style, View};
    use geo::BoundingRect;
    let Some(d) = city.data.districts.iter().find(|d| d.code == code) else {
        return Ok(None);
    };
    let Some(r) = d.geom.bounding_rect() else {
        return Ok(None);
    };
    let (dx, dy) = (r.width() * 0.03, r.height() * 0.03);
    let bbox = [
        r.min().x - dx,
        r.min().y - dy,
        r.max().x + dx,
        r.max().y + dy,
    ];
    let view = View::fit(bbox, MAP_SIZE.0, MAP_SIZE.1, crate::tile::Datum::Wgs84);
    let picture = crate::tile::report::ReportMap {
        view,
        bbox,
        style: Style::Grade,
        compound: None,
        window: fig.window,
        audience: state.audience(caller),
        zh: true,
    };
    let (city, fig, outline) = (Arc::clone(city), Arc::clone(fig), d.geom.clone());
    tokio::task::spawn_blocking(move || {
        let mut pm = picture.draw(&city, &fig)?;
        raster::outline(&mut pm, &view, &outline, [0x20, 0x20, 0x60], 2.0);
        Some(pm)
    })
    .await
    .map_err(|e| Error::Other(anyhow::anyhow!(e)))
}

/// This surface's routes: the monthly report.
pub(super) fn routes() -> axum::Router<super::AppState> {
    axum::Router::new().route("/api/report.pdf", axum::routing::get(report_pdf))
}
