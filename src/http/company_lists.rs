//! The property companies' red and black lists over HTTP (rule `lists-1`,
//! `analytics::company_list`): `GET /api/companies/lists` (a quarter's lists, JSON or CSV),
//! `GET /api/companies/lists/overrides` (the audit trail), and `GET`/`POST
//! /api/companies/{id}/list` (one company's standing quarter by quarter; an override, admin).

use super::export::{self, Format};
use super::request::{positive_id, Params};
use super::{AppState, Caller};
use crate::analytics::company_list::{parse_period, ListBook};
use crate::config::Role;
use crate::error::Error;
use crate::model::company_list::{CompanyOverride, List, ListRule, Standing};
use crate::model::Quarter;
use crate::tile::atlas::CityIndex;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::Json;
use serde_json::{json, Map, Value};

/// Rounds to `places` decimals.
fn round(x: f64, places: i32) -> f64 {
    let k = 10f64.powi(places);
    (x * k).round() / k
}

/// Why a company stands where it does, its figures against the rule.
fn why(s: &Standing, rule: &ListRule) -> String {
    let share = format!(
        "{:.1}% of its {} households live in red compounds ({} of {} compounds)",
        s.red_share() * 100.0,
        s.households,
        s.red_compounds,
        s.compounds
    );
    if let Some(o) = &s.r#override {
        return format!(
            "set to {} by {} on {} (was {}): {}",
            o.list.code(),
            o.author,
            o.at.format("%Y-%m-%d"),
            o.from.code(),
            o.reason
        );
    }
    let worst = if s.worst_line.is_finite() && s.rate >= s.worst_line {
        format!(
            "; its rate {:.2} is among the worst {:.0}% of judged companies (line {:.2})",
            s.rate,
            rule.red_worst * 100.0,
            s.worst_line
        )
    } else {
        String::new()
    };
    match (s.list, s.held, s.judged) {
        (_, _, false) => format!(
            "manages {} households, fewer than the {} judged",
            s.households, rule.min_households
        ),
        (List::Black, false, _) => {
            format!("{share}: at least {:.0}%{worst}", rule.black_share * 100.0)
        }
        (List::Red, false, _) => format!(
            "{share} (red at {:.0}%, black at {:.0}%){worst}",
            rule.red_share * 100.0,
            rule.black_share * 100.0
        ),
        (l, true, _) => format!(
            "held on the {} list (摘帽 needs two quiet quarters running); now {share}{worst}",
            l.code()
        ),
        (List::None, _, _) if s.capped_off => {
            format!("off its list (摘帽) after two quiet quarters: {share}")
        }
        (List::None, _, _) => format!("{share}{worst}: below the lines"),
    }
}

/// An override as the API writes it.
fn override_json(o: &CompanyOverride, city: &CityIndex) -> Value {
    json!({
        "company_id": o.company_id,
        "company": city.company_name(o.company_id),
        "period": o.period.to_string(),
        "from": o.from,
        "to": o.list,
        "reason": o.reason,
        "author": o.author,
        "at": o.at.format("%Y-%m-%dT%H:%M:%S").to_string(),
    })
}

/// One company's standing as a row (flat, for the CSV too).
fn row(s: &Standing, city: &CityIndex, rule: &ListRule) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(s.company_id));
    m.insert("name".into(), json!(city.company_name(s.company_id)));
    m.insert("period".into(), json!(s.period.to_string()));
    m.insert("list".into(), json!(s.list));
    m.insert("computed".into(), json!(s.computed));
    m.insert("qualified".into(), json!(s.qualified));
    m.insert("held".into(), json!(s.held));
    m.insert("capped_off".into(), json!(s.capped_off));
    m.insert("since".into(), json!(s.since.map(|q| q.to_string())));
    m.insert("households".into(), json!(s.households));
    m.insert("red_households".into(), json!(s.red_households));
    m.insert("red_share".into(), json!(round(s.red_share(), 4)));
    m.insert("compounds".into(), json!(s.compounds));
    m.insert("red_compounds".into(), json!(s.red_compounds));
    m.insert("rate".into(), json!(round(s.rate, 2)));
    m.insert("judged".into(), json!(s.judged));
    m.insert("why".into(), json!(why(s, rule)));
    let o = s.r#override.as_ref();
    m.insert("overridden".into(), json!(o.is_some()));
    m.insert("override_from".into(), json!(o.map(|o| o.from)));
    m.insert("override_author".into(), json!(o.map(|o| &o.author)));
    m.insert(
        "override_at".into(),
        json!(o.map(|o| o.at.format("%Y-%m-%dT%H:%M:%S").to_string())),
    );
    m.insert("override_reason".into(), json!(o.map(|o| &o.reason)));
    m
}

/// The rule as the answers state it, with the quarter's rate line.
fn rule_json(rule: &ListRule, worst_line: Option<f64>) -> Value {
    json!({
        "version": rule.version,
        "min_households": rule.min_households,
        "black_share": rule.black_share,
        "red_share": rule.red_share,
        "red_worst": rule.red_worst,
        "worst_line": worst_line.filter(|x| x.is_finite()).map(|x| round(x, 2)),
    })
}

/// Which standings `list=` keeps: black, red, capped_off (came off this quarter), or all
/// three (the default).
fn keeps(list: Option<&str>) -> Result<impl Fn(&Standing) -> bool, Error> {
    let want = match list {
        None | Some("all") => None,
        Some("capped_off") => Some(None),
        Some(l) => Some(Some(
            List::parse(l).filter(|l| *l != List::None).ok_or_else(|| {
                Error::BadRequest(format!(
                    "unknown list `{l}`; use black, red, capped_off or all"
                ))
            })?,
        )),
    };
    Ok(move |s: &Standing| match want {
        None => true,
        Some(None) => s.capped_off,
        Some(Some(l)) => s.list == l,
    })
}

/// The company ids working in a district (none asked: every company).
pub(super) fn in_district(city: &CityIndex, district: Option<&str>) -> Option<Vec<i64>> {
    district.map(|d| {
        let mut ids: Vec<i64> = city
            .data
            .compounds
            .iter()
            .filter(|c| c.district_code == d)
            .map(|c| c.company_id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    })
}

/// `GET /api/companies/lists?period=&district=&list=&f=`: the companies on the black and red
/// lists in a quarter (default the latest graded) and those that came off one in it (摘帽),
/// black first then worst first, each with why (its figures against the rule), since which
/// quarter, and any override; `district=` keeps the companies working in it; `f=csv`
/// (planner) for a spreadsheet.
pub async fn lists(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, Error> {
    let p = Params::parse(raw, &["period", "district", "list", "f"])?;
    let format = Format::parse_for(p.get("f"), &caller)?;
    if format == Format::FlatGeobuf {
        return Err(Error::BadRequest(
            "company lists have no geometry: use f=json or f=csv".into(),
        ));
    }
    let keep = keeps(p.get("list"))?;
    let v = state.atlas.store.version();
    let key = format!(
        "company lists {:?} {:?} {:?}",
        p.get("period"),
        p.get("district"),
        p.get("list")
    );
    if format != Format::Csv {
        if let Some(body) = state.atlas.remembered(&key) {
            return Ok(export::json_bytes(body));
        }
    }
    let (book, city) =
        tokio::try_join!(state.atlas.company_lists(), state.tiles.city(&state.atlas))?;
    let period = parse_period(p.get("period"), &book).map_err(Error::BadRequest)?;
    let district = p
        .get("district")
        .map(|d| crate::error::district_code(&city.data, d).map(str::to_string))
        .transpose()?;
    let only = in_district(&city, district.as_deref());
    let rule = &state.atlas.list_rule;
    let listed: Vec<&Standing> = book
        .listed(period, true)
        .into_iter()
        .filter(|s| {
            only.as_ref()
                .is_none_or(|ids| ids.binary_search(&s.company_id).is_ok())
        })
        .filter(|s| keep(s))
        .collect();
    let rows: Vec<Map<String, Value>> = listed.iter().map(|s| row(s, &city, rule)).collect();
    if format == Format::Csv {
        return export::table_csv("company_lists", &rows);
    }
    let out = lists_answer(&book, period, district.as_deref(), rule, rows);
    let body = bytes::Bytes::from(serde_json::to_vec(&out).unwrap_or_default());
    state.atlas.remember(v, key, body.clone());
    Ok(export::json_bytes(body))
}

/// The JSON answer of [`lists`]: the quarter, the rule, the counts and the rows, with a note
/// saying why when there are none.
fn lists_answer(
    book: &ListBook,
    period: Quarter,
    district: Option<&str>,
    rule: &ListRule,
    rows: Vec<Map<String, Value>>,
) -> Value {
    let count = |f: &dyn Fn(&Map<String, Value>) -> bool| rows.iter().filter(|r| f(r)).count();
    let worst_line = book
        .records
        .values()
        .find(|s| s.period == period)
        .map(|s| s.worst_line);
    let note = rows.is_empty().then(|| {
        format!(
            "no company{} is on a list or came off one in {period} under rule {}",
            district.map_or(String::new(), |d| format!(" working in district {d}")),
            rule.version
        )
    });
    json!({
        "period": period.to_string(),
        "periods": { "first": book.periods.first().map(ToString::to_string), "last": book.periods.last().map(ToString::to_string) },
        "district": district,
        "rule": rule_json(rule, worst_line),
        "black": count(&|r| r["list"] == "black"),
        "red": count(&|r| r["list"] == "red"),
        "capped_off": count(&|r| r["capped_off"] == true),
        "numberReturned": rows.len(),
        "note": note,
        "companies": rows,
    })
}

/// `GET /api/companies/lists/overrides`: every company list override ever made (who, when,
/// from, to, why), newest first.
pub async fn audit(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Error> {
    Params::parse(raw, &[])?;
    let (all, city) = tokio::try_join!(
        state.atlas.store.company_overrides(),
        state.tiles.city(&state.atlas)
    )?;
    let items: Vec<Value> = all.iter().rev().map(|o| override_json(o, &city)).collect();
    Ok(Json(
        json!({ "numberReturned": items.len(), "overrides": items }),
    ))
}

/// The company a path names, known to the city (404 otherwise).
fn company_id(raw: &str, city: &CityIndex) -> Result<i64, Error> {
    let id = positive_id(raw, "company")?;
    if city.data.companies.iter().any(|c| c.id == id) {
        Ok(id)
    } else {
        Err(Error::NotFound(format!("company {id}")))
    }
}

/// One company's standing in `period` with its history and overrides.
fn standing_answer(
    book: &ListBook,
    id: i64,
    period: Quarter,
    city: &CityIndex,
    rule: &ListRule,
    overrides: &[CompanyOverride],
) -> Value {
    let history: Vec<Value> = book
        .history(id)
        .iter()
        .map(|s| {
            json!({
                "period": s.period.to_string(), "list": s.list, "computed": s.computed,
                "held": s.held, "capped_off": s.capped_off, "red_share": round(s.red_share(), 4),
                "rate": round(s.rate, 2), "overridden": s.r#override.is_some(),
            })
        })
        .collect();
    let standing = book
        .get(period, id)
        .map(|s| Value::Object(row(s, city, rule)));
    json!({
        "id": id,
        "name": city.company_name(id),
        "period": period.to_string(),
        "rule": rule_json(rule, book.get(period, id).map(|s| s.worst_line)),
        "standing": standing,
        "note": standing.is_none().then(|| format!("company {id} manages no compound: it is on no list")),
        "history": history,
        "overrides": overrides.iter().rev().filter(|o| o.company_id == id).map(|o| override_json(o, city)).collect::<Vec<_>>(),
    })
}

/// `GET /api/companies/{id}/list?period=`: a company's list standing in the quarter (default
/// the latest graded), why, its standing in every quarter and its overrides, newest first.
pub async fn standing(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Error> {
    let p = Params::parse(raw, &["period"])?;
    let city = state.tiles.city(&state.atlas).await?;
    let id = company_id(&id, &city)?;
    let (book, overrides) = tokio::try_join!(
        state.atlas.company_lists(),
        state.atlas.store.company_overrides()
    )?;
    let period = parse_period(p.get("period"), &book).map_err(Error::BadRequest)?;
    let rule = &state.atlas.list_rule;
    Ok(Json(standing_answer(
        &book, id, period, &city, rule, &overrides,
    )))
}

/// `POST /api/companies/{id}/list` `{"period":"2023Q2","list":"none","reason":"…"}` (admin
/// token): sets a company's standing for a quarter, kept in the audit trail with its author,
/// time and the standing it replaced; the company's compounds' tiles are made again.
pub async fn override_list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    caller.require(Role::Admin)?;
    let city = state.tiles.city(&state.atlas).await?;
    let id = company_id(&id, &city)?;
    let (period, list, reason) = super::request::override_body(&body, "list")?;
    let list = List::parse(&list).ok_or_else(|| {
        Error::BadRequest(format!("`list` must be black, red or none, got `{list}`"))
    })?;
    let book = state.atlas.company_lists().await?;
    let period = parse_period(Some(&period.to_string()), &book).map_err(Error::BadRequest)?;
    let from = book.get(period, id).map_or(List::None, |s| s.list);
    let o = CompanyOverride {
        company_id: id,
        period,
        from,
        list,
        reason,
        author: caller.name,
        at: chrono::Local::now().naive_local(),
    };
    state.atlas.store.add_company_override(o).await?;
    let compounds: Vec<i64> = city
        .data
        .compounds
        .iter()
        .filter(|c| c.company_id == id)
        .map(|c| c.id)
        .collect();
    state
        .tiles
        .invalidate_compounds(&state.atlas, &compounds)
        .await?;
    let (book, overrides) = tokio::try_join!(
        state.atlas.company_lists(),
        state.atlas.store.company_overrides()
    )?;
    let rule = &state.atlas.list_rule;
    Ok(Json(standing_answer(
        &book, id, period, &city, rule, &overrides,
    )))
}

/// This surface's routes: the companies' lists, their audit trail, one company's standing.
pub(super) fn routes() -> axum::Router<super::AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/api/companies/lists", get(lists))
        .route("/api/companies/lists/overrides", get(audit))
        .route(
            "/api/companies/{id}/list",
            get(standing).post(override_list),
        )
}
