//! `GET /api/alerts`: early warning — the compounds whose complaints of a category in a month
//! stand out against their own seasonal baseline ([`crate::analytics::alerts`]).

use super::export::{self, Format};
use super::request::Params;
use super::{AppState, Caller};
use crate::analytics::alerts::{self, MonthAlerts, Test};
use crate::analytics::service::TrendFilter;
use crate::error::Error;
use crate::model::{Category, Month};
use crate::tile::atlas::CityIndex;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde_json::{json, Map, Value};

fn round(x: f64, places: i32) -> f64 {
    let k = 10f64.powi(places);
    (x * k).round() / k
}

/// One alert as a row: the compound where it is, the category, observed and expected.
fn row(city: &CityIndex, grade: Option<&str>, t: &Test) -> Map<String, Value> {
    let mut m = Map::new();
    let found = city.compound(t.compound);
    let (name, district, street, company, at) = found.map_or(Default::default(), |(k, c)| {
        let p = city.compound_label(k);
        (
            c.name.as_str(),
            city.district_name(&c.district_code),
            city.street_name(&c.street_code),
            city.company_name(c.company_id),
            Some([round(p.x(), 6), round(p.y(), 6)]),
        )
    });
    m.insert("compound_id".into(), json!(t.compound));
    m.insert("name".into(), json!(name));
    m.insert("district".into(), json!(district));
    m.insert("street".into(), json!(street));
    m.insert("company".into(), json!(company));
    m.insert("grade".into(), json!(grade));
    m.insert("category".into(), json!(t.category.code()));
    m.insert("category_label".into(), json!(t.category.label()));
    m.insert("observed".into(), json!(t.observed));
    m.insert("expected".into(), json!(round(t.baseline.expected, 4)));
    m.insert("dispersion".into(), json!(round(t.baseline.dispersion, 4)));
    m.insert("trend".into(), json!(t.baseline.trend.map(|x| round(x, 4))));
    m.insert(
        "reference_months".into(),
        json!(t.baseline.reference_months),
    );
    m.insert("p".into(), json!(t.p));
    m.insert("lon".into(), json!(at.map(|a| a[0])));
    m.insert("lat".into(), json!(at.map(|a| a[1])));
    m
}

/// Why an answer is empty, when it is.
fn note(found: &MonthAlerts, month: Month, rule: &alerts::AlertRule, compounds: usize) -> Value {
    if compounds == 0 {
        json!("the selection holds no compound")
    } else if found.tested == 0 {
        json!(format!(
            "nothing could be tested: the rule needs {} years of data before {month}",
            rule.min_years
        ))
    } else if found.alerts.is_empty() {
        json!("no compound stood out this month")
    } else {
        Value::Null
    }
}

/// What an alerts request asks: the month (default: the data's last), the selection and the
/// rule (the configured one, `alpha` loosened or tightened), each refused by name when wrong.
fn asked(
    p: &Params,
    configured: &alerts::AlertRule,
) -> Result<(Option<Month>, TrendFilter, alerts::AlertRule), Error> {
    let month = p
        .get("month")
        .map(|v| {
            Month::parse(v).ok_or_else(|| {
                Error::BadRequest(format!("`month` must be a month as YYYY-MM, got `{v}`"))
            })
        })
        .transpose()?;
    let id = |name: &str| {
        p.get(name)
            .map(|c| super::request::positive_id(c, name))
            .transpose()
    };
    let filter = TrendFilter {
        district: p.get("district").map(str::to_string),
        street: p.get("street").map(str::to_string),
        compound: id("compound")?,
        company: id("company")?,
        category: super::request::category(p)?,
    };
    let mut rule = configured.clone();
    if let Some(a) = p.get("alpha") {
        rule.alpha = a
            .parse::<f64>()
            .ok()
            .filter(|x| *x > 0.0 && *x < 0.5)
            .ok_or_else(|| {
                Error::BadRequest(format!(
                    "`alpha` is a false-alarm rate above 0 and below 0.5, got `{a}`"
                ))
            })?;
    }
    Ok((month, filter, rule))
}

/// `GET /api/alerts?month=&district=&street=&compound=&company=&category=&alpha=&f=`: the
/// month's alerts (default the data's last month), smallest p first, with the rule and how
/// many compound-category months it tested; `f=csv` for a spreadsheet.
pub async fn alerts_of_month(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, Error> {
    let p = Params::parse(
        raw,
        &[
            "month", "district", "street", "compound", "company", "category", "alpha", "f",
        ],
    )?;
    let format = Format::parse_for(p.get("f"), &caller)?;
    if format == Format::FlatGeobuf {
        return Err(Error::BadRequest(
            "alerts are a table: use f=json or f=csv".into(),
        ));
    }
    let (month, filter, rule) = asked(&p, &state.atlas.alert_rule)?;
    let v = state.atlas.store.version();
    let key = format!("alerts {month:?} {} {}", rule.alpha, filter.key());
    if let Some(kept) = export::kept(&state.atlas, &key, format) {
        return Ok(kept);
    }
    let (month, ids, found) = state.atlas.alerts(&filter, month, rule.clone()).await?;
    let (city, book) = tokio::try_join!(state.tiles.city(&state.atlas), state.atlas.grades())?;
    let rows: Vec<Map<String, Value>> = found
        .alerts
        .iter()
        .map(|t| {
            let grade = book
                .get(month.quarter(), t.compound)
                .map(|r| r.grade.code());
            row(&city, grade, t)
        })
        .collect();
    if format == Format::Csv {
        return export::table_csv("alerts", &rows);
    }
    let alerted: std::collections::HashSet<i64> = found.alerts.iter().map(|t| t.compound).collect();
    let body = json!({
        "month": month.to_string(),
        "filter": {
            "district": filter.district, "street": filter.street, "compound": filter.compound,
            "company": filter.company, "category": filter.category.map(Category::code),
        },
        "rule": rule,
        "method": alerts::METHOD,
        "compounds": ids.len(),
        "tested": found.tested,
        "expected_false_alarms": round(found.tested as f64 * rule.alpha, 2),
        "compounds_alerted": alerted.len(),
        "numberReturned": rows.len(),
        "note": note(&found, month, &rule, ids.len()),
        "alerts": rows,
    });
    let body = bytes::Bytes::from(body.to_string());
    state.atlas.remember(v, key, body.clone());
    Ok(export::json_bytes(body))
}

/// This surface's routes: alerts.
pub(super) fn routes() -> axum::Router<super::AppState> {
    axum::Router::new().route("/api/alerts", axum::routing::get(alerts_of_month))
}
