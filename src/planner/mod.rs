//! Planner queries: which compounds are near a point, inside an area or along a line, with
//! their figures for a complaint window and grade period; and inspection rounds through
//! them. The spatial part is the store's ([`crate::store::Store::find_compounds`]), the
//! figures come from the tile service's per-window cache, so a query and a tile of the same
//! window always agree.

pub mod companies;
pub mod report;
pub mod route;
pub mod shape;

use crate::analytics::{density, density_class, Grade, Stats};
use crate::error::Error;
use crate::model::Category;
use crate::tile::atlas::{CityIndex, Figures};

/// What compounds must be, besides where.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Any of these grades in the period.
    pub grades: Vec<Grade>,
    /// District code or name.
    pub district: Option<String>,
    /// Street code or name.
    pub street: Option<String>,
    /// Property company id or name.
    pub company: Option<String>,
    /// Compounds with at least one complaint of this category in the window.
    pub category: Option<Category>,
    /// Complaints per 100 households per year, at least.
    pub min_density: Option<f64>,
    /// Name search: part of the name or an alias, or pinyin initials.
    pub name: Option<String>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.grades.is_empty()
            && self.district.is_none()
            && self.street.is_none()
            && self.company.is_none()
            && self.category.is_none()
            && self.min_density.is_none()
            && self.name.is_none()
    }

    /// The compounds passing the filter (ascending ids), or `None` when there is no filter.
    /// A district, street or company that does not exist is an error, not an empty answer.
    pub fn ids(
        &self,
        city: &CityIndex,
        fig: &Figures,
        stats: &Stats,
    ) -> Result<Option<Vec<i64>>, Error> {
        if self.is_empty() {
            return Ok(None);
        }
        let d = &city.data;
        let district = match &self.district {
            None => None,
            Some(x) => Some(crate::error::district_code(d, x)?),
        };
        let street = match &self.street {
            None => None,
            Some(x) => Some(
                d.find_streets(x)
                    .into_iter()
                    .map(|v| v.code.as_str())
                    .collect::<Vec<_>>(),
            )
            .filter(|v| !v.is_empty())
            .map(Some)
            .ok_or_else(|| Error::unknown("street", x))?,
        };
        let company = match &self.company {
            None => None,
            Some(x) => Some(
                d.companies
                    .iter()
                    .find(|v| v.id.to_string() == *x || &v.name == x)
                    .map(|v| v.id)
                    .ok_or_else(|| Error::BadRequest(format!("unknown company `{x}`")))?,
            ),
        };
        let months = fig.window.months();
        let mut ids: Vec<i64> = d
            .compounds
            .iter()
            .enumerate()
            .filter(|(k, _)| {
                self.name
                    .as_ref()
                    .is_none_or(|q| city.compound_named(*k, q))
            })
            .map(|(_, c)| c)
            .filter(|c| district.is_none_or(|x| c.district_code == x))
            .filter(|c| {
                street
                    .as_ref()
                    .is_none_or(|s| s.contains(&c.street_code.as_str()))
            })
            .filter(|c| company.is_none_or(|x| c.company_id == x))
            .filter(|c| {
                let (n, grade) = fig.compound(c.id);
                (self.grades.is_empty() || grade.is_some_and(|g| self.grades.contains(&g)))
                    && self
                        .min_density
                        .is_none_or(|m| density(n, i64::from(c.households), months) >= m)
                    && self
                        .category
                        .is_none_or(|cat| stats.compound_count(c.id, fig.window, Some(cat)) > 0)
            })
            .map(|c| c.id)
            .collect();
        ids.sort_unstable();
        Ok(Some(ids))
    }
}

/// A compound with its figures, as queries answer it.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// Position in the city's compounds.
    pub k: usize,
    pub id: i64,
    pub complaints: u64,
    pub density: f64,
    pub density_class: u8,
    pub grade: Option<Grade>,
    pub distance_m: Option<f64>,
    /// Closed ÷ received and satisfied ÷ rated in the window.
    pub resolved_rate: Option<f64>,
    pub satisfied_rate: Option<f64>,
    /// The category of the compound's strongest early-warning alert in the window's last month.
    pub alert: Option<crate::model::Category>,
    /// Its property company's list standing in the grade quarter (none without a quarter).
    pub company_list: Option<crate::model::company_list::List>,
    /// Repeat complaints in the window.
    pub repeats: u64,
}

impl Row {
    pub fn new(city: &CityIndex, fig: &Figures, id: i64, distance_m: Option<f64>) -> Option<Row> {
        let (k, c) = city.compound(id)?;
        let (n, grade) = fig.compound(id);
        let dens = density(n, i64::from(c.households), fig.window.months());
        let (resolved_rate, satisfied_rate) = fig.rates_at(k);
        Some(Row {
            k,
            id,
            complaints: n,
            density: dens,
            density_class: density_class(n, dens),
            grade,
            distance_m,
            resolved_rate,
            satisfied_rate,
            alert: fig.alert(id),
            company_list: fig.company_list(id),
            repeats: fig.repeats(id),
        })
    }

    /// The properties every compound answer carries (tiles' `compounds` layer, plus codes).
    pub fn properties(&self, city: &CityIndex) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::json;
        let c = &city.data.compounds[self.k];
        let mut m = serde_json::Map::new();
        m.insert("id".into(), json!(c.id));
        m.insert("name".into(), json!(c.name));
        m.insert(
            "district".into(),
            json!(city.district_name(&c.district_code)),
        );
        m.insert("district_code".into(), json!(c.district_code));
        m.insert("street".into(), json!(city.street_name(&c.street_code)));
        m.insert("street_code".into(), json!(c.street_code));
        m.insert("company".into(), json!(city.company_name(c.company_id)));
        m.insert("company_id".into(), json!(c.company_id));
        m.insert("households".into(), json!(c.households));
        m.insert("buildings".into(), json!(city.buildings_of(c.id).len()));
        m.insert("complaints".into(), json!(self.complaints));
        m.insert(
            "density".into(),
            json!((self.density * 100.0).round() / 100.0),
        );
        m.insert("density_class".into(), json!(self.density_class));
        m.insert("grade".into(), json!(self.grade.map(Grade::code)));
        m.insert("resolved_rate".into(), json!(self.resolved_rate));
        m.insert("satisfied_rate".into(), json!(self.satisfied_rate));
        m.insert(
            "alert".into(),
            json!(self.alert.map(crate::model::Category::code)),
        );
        m.insert(
            "company_list".into(),
            json!(self
                .company_list
                .map(crate::model::company_list::List::code)),
        );
        insert_repeats(&mut m, self.repeats, self.complaints);
        if let Some(d) = self.distance_m {
            m.insert("distance_m".into(), json!((d * 100.0).round() / 100.0));
        }
        m
    }
}

/// Puts a compound's or company's repeat complaints and repeat rate (repeats ÷ complaints)
/// into a JSON object.
pub fn insert_repeats(
    m: &mut serde_json::Map<String, serde_json::Value>,
    repeats: u64,
    complaints: u64,
) {
    m.insert("repeats".into(), serde_json::json!(repeats));
    m.insert(
        "repeat_rate".into(),
        serde_json::json!(crate::model::handling::rate(repeats, complaints)),
    );
}

/// How a list of compounds is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Nearest first (point or line searches).
    Distance,
    /// Highest density first.
    Density,
    /// Most complaints first.
    Complaints,
    /// By name (Unicode order).
    Name,
    /// By id.
    Id,
    /// Best name match first (searches by name).
    Relevance,
}

impl Sort {
    pub fn parse(s: &str) -> Option<Sort> {
        Some(match s {
            "distance" => Sort::Distance,
            "density" => Sort::Density,
            "complaints" => Sort::Complaints,
            "name" => Sort::Name,
            "id" => Sort::Id,
            "relevance" => Sort::Relevance,
            _ => return None,
        })
    }
}

/// Orders rows; ties go by id so pages are stable. `Relevance` ranks by the name search `q`
/// (then shorter names, then by name).
pub fn sort_rows(rows: &mut [Row], sort: Sort, city: &CityIndex, q: Option<&str>) {
    let d = &city.data.compounds;
    rows.sort_by(|a, b| {
        let by = match sort {
            Sort::Relevance => {
                let rank = |r: &Row| q.map_or(0, |q| city.compound_rank(r.k, q));
                rank(a)
                    .cmp(&rank(b))
                    .then(
                        d[a.k]
                            .name
                            .chars()
                            .count()
                            .cmp(&d[b.k].name.chars().count()),
                    )
                    .then(d[a.k].name.cmp(&d[b.k].name))
            }
            Sort::Distance => a
                .distance_m
                .unwrap_or(0.0)
                .total_cmp(&b.distance_m.unwrap_or(0.0)),
            Sort::Density => b.density.total_cmp(&a.density),
            Sort::Complaints => b.complaints.cmp(&a.complaints),
            Sort::Name => d[a.k].name.cmp(&d[b.k].name),
            Sort::Id => std::cmp::Ordering::Equal,
        };
        by.then(a.id.cmp(&b.id))
    });
}
