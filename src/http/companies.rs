//! The property companies over HTTP: `GET /api/companies` (the league table, JSON or CSV) and
//! `GET /api/companies/{id}` (one company, its compounds and monthly series).

use super::export::{self, Format};
use super::request::{Params, Scope};
use super::{AppState, Caller};
use crate::analytics::{density, Window};
use crate::error::Error;
use crate::planner::companies::{league, CompanyFigures, SortBy};
use crate::tile::atlas::{CityIndex, Figures};
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::Json;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// The window, the quarter, the city and the figures of a request, and those of the same
/// window a year before.
struct Ctx {
    scope: Scope,
    city: Arc<CityIndex>,
    fig: Arc<Figures>,
    before: Arc<Figures>,
}

impl Ctx {
    async fn of(state: &AppState, p: &Params) -> Result<Ctx, Error> {
        let scope = Scope::of(state, p).await?;
        let city = state.tiles.city(&state.atlas).await?;
        let w = scope.window;
        let year_before = Window {
            from: w.from.plus(-12),
            to: w.to.plus(-12),
        };
        let (fig, before) = tokio::try_join!(
            state.tiles.figures(&state.atlas, w, scope.period),
            state.tiles.figures(&state.atlas, year_before, scope.period),
        )?;
        Ok(Ctx {
            scope,
            city,
            fig,
            before,
        })
    }

    fn about(&self) -> Map<String, Value> {
        let w = self.scope.window;
        let mut m = Map::new();
        m.insert(
            "window".into(),
            json!({ "from": w.from.to_string(), "to": w.to.to_string() }),
        );
        m.insert(
            "year_before".into(),
            json!({ "from": w.from.plus(-12).to_string(), "to": w.to.plus(-12).to_string() }),
        );
        m.insert(
            "period".into(),
            json!(self.scope.period.map(|q| q.to_string())),
        );
        m
    }

    fn row(&self, c: &CompanyFigures) -> Map<String, Value> {
        let round = |x: f64, places: i32| {
            let k = 10f64.powi(places);
            (x * k).round() / k
        };
        let months = self.scope.window.months();
        let mut m = Map::new();
        m.insert("id".into(), json!(c.id));
        m.insert("name".into(), json!(c.name));
        m.insert("districts".into(), json!(c.districts));
        m.insert("compounds".into(), json!(c.compounds));
        m.insert("households".into(), json!(c.households));
        m.insert("complaints".into(), json!(c.complaints));
        m.insert("density".into(), json!(round(c.density(months), 2)));
        m.insert("red".into(), json!(c.red));
        m.insert("yellow".into(), json!(c.yellow));
        m.insert("blue".into(), json!(c.blue));
        m.insert("red_households".into(), json!(c.red_households));
        m.insert("red_share".into(), json!(round(c.red_share(), 4)));
        m.insert("complaints_year_before".into(), json!(c.year_before));
        m.insert("change".into(), json!(c.change().map(|x| round(x, 4))));
        let stats = &self.scope.stats;
        let rates = crate::model::handling::Rates::new(
            c.complaints,
            c.handled,
            stats.times.spreads(
                c.compound_ids.iter().copied(),
                stats.range(self.scope.window),
            ),
        );
        super::request::insert_rates(&mut m, &rates);
        crate::planner::insert_repeats(&mut m, c.repeats, c.complaints);
        m
    }
}

/// `GET /api/companies?from=&to=&period=&district=&sort=&f=`: every property company managing
/// a compound (of the district), with its compounds, households, complaints, density, red /
/// yellow / blue compounds, the share of its households in red ones, and the change against
/// the same window a year before; `f=csv` (planner) for a spreadsheet.
pub async fn companies(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, Error> {
    let p = Params::parse(raw, &["from", "to", "period", "district", "sort", "f"])?;
    let format = Format::parse_for(p.get("f"), &caller)?;
    if format == Format::FlatGeobuf {
        return Err(Error::BadRequest(
            "companies have no geometry: use f=json or f=csv".into(),
        ));
    }
    let sort = SortBy::parse(p.get("sort"))?;
    // The version first: an answer is never kept as newer than the statistics it came from.
    let v = state.atlas.store.version();
    let key = format!(
        "companies {:?} {:?} {:?} {:?} {}",
        p.get("from"),
        p.get("to"),
        p.get("period"),
        p.get("district"),
        sort.name()
    );
    if let Some(kept) = export::kept(&state.atlas, &key, format) {
        return Ok(kept);
    }
    let ctx = Ctx::of(&state, &p).await?;
    let district = p
        .get("district")
        .map(|d| crate::error::district_code(&ctx.city.data, d).map(str::to_string))
        .transpose()?;
    let rows: Vec<Map<String, Value>> =
        league(&ctx.city, &ctx.fig, &ctx.before, district.as_deref(), sort)
            .iter()
            .map(|c| ctx.row(c))
            .collect();
    if format == Format::Csv {
        return export::table_csv("companies", &rows);
    }
    let mut out = ctx.about();
    out.insert("district".into(), json!(district));
    out.insert("sort".into(), json!(sort.name()));
    out.insert("numberReturned".into(), json!(rows.len()));
    out.insert(
        "companies".into(),
        Value::Array(rows.into_iter().map(Value::Object).collect()),
    );
    // Writing a JSON value cannot fail (its keys are strings).
    let body = bytes::Bytes::from(serde_json::to_vec(&Value::Object(out)).unwrap_or_default());
    state.atlas.remember(v, key, body.clone());
    Ok(export::json_bytes(body))
}

/// `GET /api/companies/{id}?from=&to=&period=`: one company's figures, every compound it
/// manages with its complaints, density and grade (most complaints first), and the monthly
/// complaints over its compounds.
pub async fn company(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Error> {
    let id = super::request::positive_id(&id, "company")?;
    let p = Params::parse(raw, &["from", "to", "period"])?;
    let ctx = Ctx::of(&state, &p).await?;
    let d = &ctx.city.data;
    let known = d.companies.iter().any(|c| c.id == id);
    let figures = league(&ctx.city, &ctx.fig, &ctx.before, None, SortBy::Name)
        .into_iter()
        .find(|c| c.id == id);
    let figures = match (figures, known) {
        (Some(f), _) => f,
        (None, true) => CompanyFigures {
            id,
            name: d
                .companies
                .iter()
                .find(|c| c.id == id)
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            ..CompanyFigures::default()
        },
        (None, false) => return Err(Error::NotFound(format!("company {id}"))),
    };
    let w = ctx.scope.window;
    let stats = &ctx.scope.stats;
    let mut compounds: Vec<(u64, Value)> = Vec::new();
    let mut monthly = vec![0u64; usize::try_from(w.months()).unwrap_or(0)];
    for c in d.compounds.iter().filter(|c| c.company_id == id) {
        let (n, grade) = ctx.fig.compound(c.id);
        let dens = density(n, i64::from(c.households), w.months());
        compounds.push((
            n,
            json!({
                "id": c.id, "name": c.name, "district_code": c.district_code,
                "street_code": c.street_code, "households": c.households, "complaints": n,
                "density": (dens * 100.0).round() / 100.0, "grade": grade,
                "repeats": ctx.fig.repeats(c.id),
            }),
        ));
        stats.add_series(c.id, w, None, &mut monthly);
    }
    compounds.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(a.1["id"].as_i64().cmp(&b.1["id"].as_i64()))
    });
    let mut out = ctx.about();
    out.extend(ctx.row(&figures));
    out.insert(
        "compound_list".into(),
        Value::Array(compounds.into_iter().map(|(_, v)| v).collect()),
    );
    out.insert(
        "monthly".into(),
        monthly
            .iter()
            .enumerate()
            .map(|(k, n)| json!({ "month": w.from.plus(k as i32).to_string(), "complaints": n }))
            .collect(),
    );
    Ok(Json(Value::Object(out)))
}

/// This surface's routes: the property companies' table and one company.
pub(super) fn routes() -> axum::Router<super::AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/api/companies", get(companies))
        .route("/api/companies/{id}", get(company))
}
