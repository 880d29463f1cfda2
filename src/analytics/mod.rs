//! Complaint statistics, density and grades, computed the same way whatever the store: the
//! stores deliver complaint facts (or their monthly counts), this module does the arithmetic.

pub mod alerts;
pub mod company_list;
pub mod effect;
pub mod grade;
pub mod hotspots;
pub mod hours;
pub mod repeats;
pub mod service;
/// The monthly tables are plain values ([`crate::model::stats`]), read here as ever.
pub use crate::model::stats;

pub use grade::{Grade, GradeBook, GradeRecord, Override, Rule};
pub use service::Atlas;

/// The month the city's campaign began (late April 2023): trends mark it.
pub const CAMPAIGN_START: &str = "2023-04";
pub use stats::{density, density_class, AreaFigures, Fact, Stats, Window};
