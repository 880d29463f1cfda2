//! Grades as plain values: the three grades, the grading rule's parameters, a manual override
//! and one compound's grade for a quarter. How they are computed is
//! [`crate::analytics::grade`]'s.

use super::{Category, Quarter};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Grade {
    Red,
    Yellow,
    Blue,
}

impl Grade {
    pub fn code(self) -> &'static str {
        match self {
            Grade::Red => "red",
            Grade::Yellow => "yellow",
            Grade::Blue => "blue",
        }
    }
    pub fn parse(s: &str) -> Option<Grade> {
        match s.trim().to_ascii_lowercase().as_str() {
            "red" | "红" => Some(Grade::Red),
            "yellow" | "黄" => Some(Grade::Yellow),
            "blue" | "蓝" => Some(Grade::Blue),
            _ => None,
        }
    }
}

/// The grading rule's parameters.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rule {
    pub version: String,
    /// Weight per category, by category code.
    pub weights: HashMap<Category, f64>,
    pub red_share: f64,
    pub yellow_share: f64,
    pub red_floor: f64,
    pub yellow_floor: f64,
    pub window_months: i32,
    /// `[repeats]` (not `[grading]`): what a repeat is, and what each repeat in the window
    /// adds to a compound's severity-weighted complaints.
    #[serde(skip)]
    pub repeats: super::repeat::RepeatRule,
}

impl Default for Rule {
    fn default() -> Rule {
        Rule {
            version: "rygb-1".into(),
            weights: Category::ALL
                .iter()
                .map(|c| {
                    let w = match c {
                        Category::FireLane | Category::FireFacility | Category::FlyingWire => 3.0,
                        Category::StairwellClutter => 1.5,
                        _ => 1.0,
                    };
                    (*c, w)
                })
                .collect(),
            red_share: 0.015,
            yellow_share: 0.035,
            red_floor: 25.0,
            yellow_floor: 12.0,
            window_months: 12,
            repeats: super::repeat::RepeatRule::default(),
        }
    }
}

impl Rule {
    /// This rule with `[repeats]`. Repeats that weigh in the grade (a weight above 0) change
    /// what the rule computes, so its version names them (`rygb-1+repeats-30d-0.5`): a grade
    /// kept or exported says which rule made it.
    #[must_use]
    pub fn with_repeats(self, repeats: super::repeat::RepeatRule) -> Rule {
        let version = if repeats.weight > 0.0 {
            format!(
                "{}+repeats-{}d-{}",
                self.version, repeats.days, repeats.weight
            )
        } else {
            self.version
        };
        Rule {
            version,
            repeats,
            ..self
        }
    }
}

/// A manual grade, with who set it, when and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Override {
    pub compound_id: i64,
    pub period: Quarter,
    pub grade: Grade,
    pub reason: String,
    pub author: String,
    pub at: chrono::NaiveDateTime,
}

/// One compound's grade for one quarter, with what it came from. A grade book holds one per
/// compound and quarter (79,800 on the demo city: 4,200 × 19 quarters), so what they share is
/// shared: the district code and the rule's version are one string each, an override is boxed
/// (most have none).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GradeRecord {
    pub compound_id: i64,
    pub period: Quarter,
    /// The grade in force: the override's when there is one, else the computed one.
    pub grade: Grade,
    pub computed: Grade,
    pub rate: f64,
    pub rank: usize,
    pub of: usize,
    pub district: std::sync::Arc<str>,
    /// Held red by the cap-removal rule (not by rank).
    pub held: bool,
    pub red_line: f64,
    pub yellow_line: f64,
    /// Categories by weighted count in the window, largest first.
    pub top_categories: Vec<(Category, f64)>,
    /// Repeat complaints in the window (`[repeats]`); each adds the rule's repeat weight to
    /// the severity-weighted complaints the rate counts.
    pub repeats: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#override: Option<Box<Override>>,
    pub rule_version: std::sync::Arc<str>,
}
