//! `/api/…`: complaint import, trends, grades and compound detail.

use super::request::{positive_id, Params};
use super::{AppState, Caller};
use crate::analytics::grade::{parse_period, window_of};
use crate::analytics::service::TrendFilter;
use crate::analytics::{density, density_class, Grade, Override, Window};
use crate::config::Role;
use crate::error::Error;
use crate::ingest::complaints::{self, TextEncoding};
use crate::model::Category;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;

fn compound_id(raw: &str) -> Result<i64, Error> {
    positive_id(raw, "compound")
}

/// Writes a request body into a temporary file as its frames arrive (buffered, 1 MiB at a time,
/// through tokio's file, which writes on the blocking pool). 400 for an empty or broken-off
/// body, 413 past `limit` bytes; the file is removed when the value is dropped.
async fn spool_body(
    body: axum::body::Body,
    limit: usize,
    suffix: &'static str,
) -> Result<tempfile::NamedTempFile, Error> {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    let spool = tokio::task::spawn_blocking(move || {
        tempfile::Builder::new()
            .prefix("atlas-upload-")
            .suffix(suffix)
            .tempfile()
    })
    .await
    .map_err(anyhow::Error::from)?
    .map_err(|e| anyhow::anyhow!("cannot make a temporary file for the upload: {e}"))?;
    let file = spool
        .reopen()
        .map_err(|e| anyhow::anyhow!("cannot open the upload's temporary file: {e}"))?;
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, tokio::fs::File::from_std(file));
    let mut stream = body.into_data_stream();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Error::BadRequest(format!("the upload broke off: {e}")))?;
        total += chunk.len();
        if total > limit {
            return Err(Error::TooLarge(format!(
                "the export is larger than {} MiB; split it or use `atlas import`",
                limit >> 20
            )));
        }
        out.write_all(&chunk)
            .await
            .map_err(|e| anyhow::anyhow!("cannot write the upload's temporary file: {e}"))?;
    }
    out.flush()
        .await
        .map_err(|e| anyhow::anyhow!("cannot write the upload's temporary file: {e}"))?;
    if total == 0 {
        return Err(Error::BadRequest(
            "empty body: send the hotline export".into(),
        ));
    }
    Ok(spool)
}

/// `POST /api/complaints`: a hotline export as CSV (`text/csv`, UTF-8 or GBK), JSON lines
/// (`application/x-ndjson`) or a workbook (XLSX, XLS or ODS by its media type; its first sheet,
/// the header found in its first 20 rows). Admin token required. Answers the import report.
///
/// The body is streamed into a temporary file as it arrives (never held in memory whole, at most
/// [`super::MAX_IMPORT_BYTES`]), then decoded and parsed row by row on the blocking pool, as
/// `atlas import` does: a large upload keeps no runtime worker from the other requests.
pub async fn post_complaints(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: axum::body::Body,
) -> Result<Json<Value>, Error> {
    caller.require(Role::Admin)?;
    let params = Params::parse(raw, &["encoding"])?;
    let encoding = match params.get("encoding") {
        None => None,
        Some("utf8" | "utf-8") => Some(TextEncoding::Utf8),
        Some("gbk") => Some(TextEncoding::Gbk),
        Some(other) => {
            return Err(Error::BadRequest(format!(
                "unknown encoding `{other}`; use utf8 or gbk"
            )))
        }
    };
    let ctype = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let (form, suffix) = match ctype.as_str() {
        "text/csv" | "application/csv" => (complaints::ExportForm::Csv, ".csv"),
        "application/x-ndjson" | "application/jsonl" | "application/json-lines" => {
            (complaints::ExportForm::JsonLines, ".jsonl")
        }
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => {
            (complaints::ExportForm::Workbook, ".xlsx")
        }
        "application/vnd.ms-excel" => (complaints::ExportForm::Workbook, ".xls"),
        "application/vnd.oasis.opendocument.spreadsheet" => {
            (complaints::ExportForm::Workbook, ".ods")
        }
        other => {
            return Err(Error::UnsupportedMedia(format!(
                "Content-Type `{other}` is not an export: use text/csv, application/x-ndjson or a workbook's (application/vnd.openxmlformats-officedocument.spreadsheetml.sheet)"
            )))
        }
    };
    let spool = spool_body(body, super::MAX_IMPORT_BYTES, suffix).await?;
    let parsed = tokio::task::spawn_blocking(move || {
        complaints::read_export(
            spool.path(),
            std::path::Path::new("request body"),
            encoding,
            form,
            None,
        )
    })
    .await
    .map_err(anyhow::Error::from)??;
    let report = match state.atlas.import_complaints(parsed, "request body").await {
        Ok(r) => r,
        Err(e) => {
            state.metrics.imports.with_label_values(&["failed"]).inc();
            return Err(e.into());
        }
    };
    state.metrics.imports.with_label_values(&["ok"]).inc();
    state
        .metrics
        .complaints_loaded
        .inc_by(u64::try_from(report.loaded).unwrap_or(0));
    state
        .tiles
        .invalidate_complaints(&state.atlas, &report.touched)
        .await?;
    Ok(Json(
        serde_json::to_value(report).map_err(anyhow::Error::from)?,
    ))
}

pub(super) fn trend_filter(p: &Params) -> Result<TrendFilter, Error> {
    Ok(TrendFilter {
        district: p.get("district").map(str::to_string),
        street: p.get("street").map(str::to_string),
        compound: p.get("compound").map(compound_id).transpose()?,
        company: p
            .get("company")
            .map(|c| positive_id(c, "company"))
            .transpose()?,
        category: super::request::category(p)?,
    })
}

/// What a trend, an effect or a time pattern is about, as the answer says it (the company
/// only where it can be asked).
pub(super) fn filter_json(f: &TrendFilter) -> Value {
    let mut v = json!({
        "district": f.district, "street": f.street, "compound": f.compound,
        "category": f.category.map(Category::code),
    });
    if let (Some(c), Value::Object(m)) = (f.company, &mut v) {
        m.insert("company".into(), json!(c));
    }
    v
}

/// `GET /api/stats/trend?district=&street=&compound=&category=&from=&to=`
pub async fn trend(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Error> {
    let p = Params::parse(
        raw,
        &["district", "street", "compound", "category", "from", "to"],
    )?;
    let filter = trend_filter(&p)?;
    let t = state
        .atlas
        .trend(&filter, p.get("from"), p.get("to"))
        .await?;
    Ok(Json(json!({
        "filter": filter_json(&filter),
        "trend": t,
    })))
}

/// `GET /api/stats/effect?district=&street=&compound=&category=&start=&to=&baseline=`: the
/// campaign's effect on a selection, seasonally and trend adjusted, with its 95% interval
/// ([`crate::analytics::effect`]; `start` 2023-05 and `baseline` 12 months by default).
pub async fn effect(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<axum::response::Response, Error> {
    let p = Params::parse(
        raw,
        &[
            "district", "street", "compound", "category", "start", "to", "baseline",
        ],
    )?;
    let filter = trend_filter(&p)?;
    let month = |name: &str| {
        p.get(name)
            .map(|v| {
                crate::model::Month::parse(v).ok_or_else(|| {
                    Error::BadRequest(format!("`{name}` must be a month as YYYY-MM, got `{v}`"))
                })
            })
            .transpose()
    };
    let start = month("start")?.unwrap_or(crate::analytics::effect::DEFAULT_START);
    let to = month("to")?;
    let baseline = match p.get("baseline") {
        None => 12,
        Some(v) => v.parse::<i32>().map_err(|_| {
            Error::BadRequest(format!(
                "`baseline` is a number of months from 1 to 36, got `{v}`"
            ))
        })?,
    };
    // Kept per store version with the other made answers: a repeated request is a lookup.
    let key = format!("effect {} {start} {to:?} {baseline}", filter.key());
    if let Some(body) = state.atlas.remembered(&key) {
        return Ok(super::export::json_bytes(body));
    }
    let v = state.atlas.store.version();
    let e = state.atlas.effect(&filter, start, to, baseline).await?;
    let body = json!({
        "filter": filter_json(&filter),
        "effect": e,
    });
    let body = Bytes::from(body.to_string());
    state.atlas.remember(v, key, body.clone());
    Ok(super::export::json_bytes(body))
}

/// `GET /api/stats/hours?district=&street=&compound=&company=&category=&from=&to=&f=`: the
/// complaints a selection received by ISO weekday and hour of the day over the window (default
/// the last 12 months of data), with the totals by hour and by weekday ([`crate::analytics::
/// hours`]); `f=csv` for a spreadsheet (a row a weekday, a column an hour).
pub async fn hours(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<axum::response::Response, Error> {
    use axum::response::IntoResponse;
    let p = Params::parse(
        raw,
        &[
            "district", "street", "compound", "company", "category", "from", "to", "f",
        ],
    )?;
    let csv = match p.get("f") {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(Error::BadRequest(format!(
                "unknown format f=`{other}`; use json or csv"
            )))
        }
    };
    let filter = trend_filter(&p)?;
    let h = state
        .atlas
        .hours(&filter, p.get("from"), p.get("to"))
        .await?;
    if csv {
        return Ok(super::export::csv_response("hours", hours_csv(&h)));
    }
    Ok(Json(json!({ "filter": filter_json(&filter), "hours": h })).into_response())
}

/// The weekday × hour counts as CSV: `weekday,0,…,23,total`, a row a weekday and a last row
/// of the totals by hour.
fn hours_csv(h: &crate::analytics::hours::Hours) -> String {
    use std::fmt::Write;
    let mut out = String::from("weekday");
    for hour in 0..24 {
        let _ = write!(out, ",{hour}");
    }
    out.push_str(",total\r\n");
    let rows = h.weekdays.iter().zip(&h.counts).zip(&h.by_weekday);
    let total = std::iter::once((("total", &h.by_hour), &h.complaints));
    for ((day, counts), sum) in rows.map(|((d, c), s)| ((*d, c), s)).chain(total) {
        out.push_str(day);
        for n in counts {
            let _ = write!(out, ",{n}");
        }
        let _ = write!(out, ",{sum}\r\n");
    }
    out
}

/// `GET /api/grades?period=&district=`: red/yellow/blue counts per district and the red and
/// yellow compounds with their rates.
pub async fn grades(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Error> {
    let p = Params::parse(raw, &["period", "district"])?;
    let book = state.atlas.grades().await?;
    let period = parse_period(p.get("period"), &book).map_err(Error::BadRequest)?;
    let data = state.atlas.store.geography().await?;
    let district = p
        .get("district")
        .map(|x| crate::error::district_code(&data, x))
        .transpose()?;
    let names: HashMap<i64, &str> = data
        .compounds
        .iter()
        .map(|c| (c.id, c.name.as_str()))
        .collect();
    let districts: Vec<Value> = data
        .districts
        .iter()
        .filter(|d| district.is_none_or(|x| x == d.code))
        .map(|d| {
            let (red, yellow, blue) = book.counts(period, Some(&d.code));
            json!({ "code": d.code, "name": d.name, "red": red, "yellow": yellow, "blue": blue })
        })
        .collect();
    let mut flagged: Vec<_> = book
        .records
        .values()
        .filter(|r| {
            r.period == period
                && r.grade != Grade::Blue
                && district.is_none_or(|d| &*r.district == d)
        })
        .collect();
    flagged.sort_by(|a, b| {
        a.district
            .cmp(&b.district)
            .then(a.grade.cmp(&b.grade))
            .then(a.rank.cmp(&b.rank))
    });
    let flagged: Vec<Value> = flagged
        .iter()
        .map(|r| {
            json!({
                "id": r.compound_id, "name": names.get(&r.compound_id), "district": r.district,
                "grade": r.grade, "computed": r.computed, "rate": r.rate, "rank": r.rank, "of": r.of, "held": r.held,
                "overridden": r.r#override.is_some(),
            })
        })
        .collect();
    Ok(Json(json!({
        "period": period.to_string(),
        "periods": book.periods.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "rule_version": state.atlas.rule.version,
        "districts": districts,
        "compounds": flagged,
    })))
}

fn explanation(r: &crate::analytics::GradeRecord, rule: &crate::analytics::Rule) -> Value {
    let w = window_of(r.period, rule);
    let why = match (r.grade, r.held, &r.r#override) {
        (_, _, Some(o)) => format!("set by {} on {}: {}", o.author, o.at.format("%Y-%m-%d"), o.reason),
        (Grade::Red, true, None) => "held red: it has not yet been below the yellow line for two consecutive quarters".into(),
        (Grade::Red, false, None) => format!("ranked {} of {} in its district with a rate of {:.1}, within the red slots and above the red floor", r.rank, r.of, r.rate),
        (Grade::Yellow, _, None) => format!("ranked {} of {} in its district with a rate of {:.1}, within the yellow slots and above the yellow floor", r.rank, r.of, r.rate),
        (Grade::Blue, _, None) => format!("ranked {} of {} in its district with a rate of {:.1}, below the red and yellow lines", r.rank, r.of, r.rate),
    };
    json!({
        "compound_id": r.compound_id,
        "period": r.period.to_string(),
        "grade": r.grade,
        "computed_grade": r.computed,
        "why": why,
        "rate": r.rate,
        "rate_unit": "severity-weighted complaints per 100 households per year",
        "window": { "from": w.from.to_string(), "to": w.to.to_string() },
        "rank": r.rank,
        "of": r.of,
        "district": r.district,
        "held": r.held,
        "red_line": if r.red_line.is_finite() { json!(r.red_line) } else { Value::Null },
        "yellow_line": if r.yellow_line.is_finite() { json!(r.yellow_line) } else { Value::Null },
        "floors": { "red": rule.red_floor, "yellow": rule.yellow_floor },
        "top_categories": r.top_categories.iter().map(|(c, v)| json!({ "category": c.code(), "label": c.label(), "weighted": v })).collect::<Vec<_>>(),
        "repeats": {
            "count": r.repeats,
            "days": rule.repeats.days,
            "weight": rule.repeats.weight,
            "weighted": r.repeats as f64 * rule.repeats.weight,
            "how": format!("each repeat in the window (the same unit, or building, and category again within {} days) adds {} to the severity-weighted complaints the rate counts", rule.repeats.days, rule.repeats.weight),
        },
        "override": r.r#override,
        "rule_version": r.rule_version,
    })
}

/// `GET /api/compounds/{id}/grade?period=`: the grade and why.
pub async fn explain_grade(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Error> {
    let id = compound_id(&id)?;
    let p = Params::parse(raw, &["period"])?;
    let book = state.atlas.grades().await?;
    let period = parse_period(p.get("period"), &book).map_err(Error::BadRequest)?;
    let r = book
        .get(period, id)
        .ok_or_else(|| Error::NotFound(format!("compound {id}")))?;
    Ok(Json(explanation(r, &state.atlas.rule)))
}

/// `POST /api/compounds/{id}/grade` `{"period":"2023Q2","grade":"yellow","reason":"…"}`: a
/// manual grade (admin token), kept in the audit trail with its author and time.
pub async fn override_grade(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    caller.require(Role::Admin)?;
    let id = compound_id(&id)?;
    let (period, grade, reason) = super::request::override_body(&body, "grade")?;
    let grade = Grade::parse(&grade).ok_or_else(|| {
        Error::BadRequest(format!(
            "`grade` must be red, yellow or blue, got `{grade}`"
        ))
    })?;
    if state.atlas.store.compound(id).await?.is_none() {
        return Err(Error::NotFound(format!("compound {id}")));
    }
    let o = Override {
        compound_id: id,
        period,
        grade,
        reason,
        author: caller.name,
        at: chrono::Local::now().naive_local(),
    };
    state.atlas.store.add_override(o).await?;
    state
        .tiles
        .invalidate_compounds(&state.atlas, &[id])
        .await?;
    let book = state.atlas.grades().await?;
    let r = book.get(period, id).ok_or_else(|| {
        Error::BadRequest(format!(
            "no grades for {period} (graded: {:?})",
            book.periods
                .first()
                .zip(book.periods.last())
                .map(|(a, b)| format!("{a}..{b}"))
        ))
    })?;
    Ok(Json(explanation(r, &state.atlas.rule)))
}

/// `GET /api/geocode?q=&lon=&lat=&limit=`: the ranked candidates for an address as a caller
/// gave it — compound, building, unit, score, which part matched what — for a dispatcher who
/// places a complaint by hand (planner role; the address only, no complainant data).
pub async fn geocode(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Error> {
    caller.require(Role::Planner)?;
    let p = Params::parse(raw, &["q", "lon", "lat", "limit"])?;
    let q = p
        .get("q")
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .ok_or_else(|| Error::BadRequest("`q` is required: the address as written".into()))?
        .to_string();
    if q.chars().count() > 200 {
        return Err(Error::BadRequest(
            "`q` is longer than 200 characters: give the address only".into(),
        ));
    }
    let coord = |k: &str| -> Result<Option<f64>, Error> {
        p.get(k)
            .map(|v| {
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| Error::BadRequest(format!("`{k}` must be a number, got `{v}`")))
            })
            .transpose()
    };
    let (lon, lat) = (coord("lon")?, coord("lat")?);
    if lon.is_some() != lat.is_some() {
        return Err(Error::BadRequest(
            "give both `lon` and `lat`, or neither".into(),
        ));
    }
    let limit = match p.get("limit") {
        None => 10,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=50).contains(n))
            .ok_or_else(|| Error::BadRequest(format!("`limit` must be 1 to 50, got `{v}`")))?,
    };
    let gz = state.atlas.gazetteer().await?;
    let data = state.atlas.store.geography().await?;
    let list = gz.candidates(&q, lon, lat);
    let candidates: Vec<Value> = list
        .iter()
        .take(limit)
        .map(|c| {
            let compound = data.compounds.iter().find(|x| x.id == c.compound_id);
            let building = c
                .building_id
                .and_then(|id| data.buildings.iter().find(|b| b.id == id));
            let unit = c.unit_id.and_then(|id| data.units.iter().find(|u| u.id == id));
            json!({
                "compound": compound.map(|x| json!({ "id": x.id, "name": x.name, "district_code": x.district_code, "street_code": x.street_code })),
                "building": building.map(|b| json!({ "id": b.id, "name": b.name })),
                "unit": unit.map(|u| json!({ "id": u.id, "name": u.name })),
                "score": c.score,
                "chosen": c.chosen,
                "matched": c.matched.iter().map(|(part, what)| json!({ "part": part, "matched": what })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({
        "query": q,
        "candidates": candidates,
        "placed": list.iter().any(|c| c.chosen),
    })))
}

/// `GET /api/compounds/{id}?from=&to=&period=`: one compound with its figures for the window,
/// monthly series, category mix, buildings, grade history and property company. Building
/// counts below the privacy minimum are withheld from public callers.
pub async fn compound(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Error> {
    caller.require(Role::Planner)?;
    let id = compound_id(&id)?;
    let p = Params::parse(raw, &["from", "to", "period"])?;
    let store = &state.atlas.store;
    let c = store
        .compound(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("compound {id}")))?;
    let stats = store.stats().await?;
    let data = store.geography().await?;
    let last = stats.latest_month();
    let w = Window::parse(p.get("from"), p.get("to"), last).map_err(Error::BadRequest)?;
    let total = stats.compound_total(id, w);
    let dens = density(total, i64::from(c.households), w.months());
    let by_cat = stats.compound_by_category(id, w);
    let book = state.atlas.grades().await?;
    let period = match p.get("period") {
        Some(_) => Some(parse_period(p.get("period"), &book).map_err(Error::BadRequest)?),
        None => book.latest(),
    };
    let audience = state.audience(&caller);
    // Unit counts from the city index: one store query per building was an N+1 on PostGIS.
    let city = state.tiles.city(&state.atlas).await?;
    let mut buildings = Vec::new();
    for b in store.buildings_of(id).await? {
        let n = stats.building_total(b.id, w);
        let units = city.units_of(b.id).len();
        let (count, suppressed) = match audience.shown(n) {
            Some(n) => (json!(n), false),
            None => (Value::Null, true),
        };
        let d = density(n, i64::from(b.households), w.months());
        buildings.push(json!({
            "id": b.id, "name": b.name, "floors": b.floors, "units": units, "households": b.households,
            "complaints": count, "suppressed": suppressed,
            "density": if suppressed { Value::Null } else { json!((d * 100.0).round() / 100.0) },
            "density_class": if suppressed { Value::Null } else { json!(density_class(n, d)) },
        }));
    }
    let district = data.districts.iter().find(|d| d.code == c.district_code);
    let street = data.streets.iter().find(|s| s.code == c.street_code);
    let company = data.companies.iter().find(|x| x.id == c.company_id);
    let geometry = geojson::Geometry::from(&c.geom);
    let mut out = json!({
        "id": c.id,
        "name": c.name,
        "aliases": c.aliases,
        "district": district.map(|d| json!({ "code": d.code, "name": d.name })),
        "street": street.map(|s| json!({ "code": s.code, "name": s.name })),
        "company": company.map(|x| json!({ "id": x.id, "name": x.name })),
        "year_built": c.year_built,
        "households": c.households,
        "window": { "from": w.from.to_string(), "to": w.to.to_string() },
        "complaints": total,
        "density": (dens * 100.0).round() / 100.0,
        "density_class": density_class(total, dens),
        "categories": Category::ALL.iter().zip(by_cat.iter()).map(|(c, n)| json!({ "category": c.code(), "label": c.label(), "complaints": n })).collect::<Vec<_>>(),
        "monthly": stats.compound_series(id, w, None).iter().map(|(m, n)| json!({ "month": m.to_string(), "complaints": n })).collect::<Vec<_>>(),
        "grade": period.and_then(|q| book.get(q, id)).map(|r| explanation(r, &state.atlas.rule)),
        "grade_history": book.history(id).iter().map(|r| json!({
            "period": r.period.to_string(), "grade": r.grade, "computed": r.computed, "rate": r.rate,
            "rank": r.rank, "of": r.of, "held": r.held, "override": r.r#override,
        })).collect::<Vec<_>>(),
        "buildings": buildings,
        "geometry": geometry,
    });
    if let Value::Object(m) = &mut out {
        super::request::insert_rates(m, &stats.rates_of(&[id], w));
        let repeats = stats.repeats_of(&[id], w, None, &state.atlas.rule.repeats);
        crate::planner::insert_repeats(m, repeats, total);
    }
    Ok(Json(out))
}

/// This surface's routes: imports, grades, trends, geocoding and compound detail.
pub(super) fn routes() -> axum::Router<super::AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route(
            "/api/complaints",
            axum::routing::post(post_complaints).layer(axum::extract::DefaultBodyLimit::max(
                super::MAX_IMPORT_BYTES,
            )),
        )
        .route("/api/stats/trend", get(trend))
        .route("/api/stats/effect", get(effect))
        .route("/api/stats/hours", get(hours))
        .route("/api/grades", get(grades))
        .route("/api/geocode", get(geocode))
        .route("/api/compounds/{id}", get(compound))
        .route(
            "/api/compounds/{id}/grade",
            get(explain_grade).post(override_grade),
        )
}
