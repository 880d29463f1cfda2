//! Complaint categories seen in the hotline records (see DOMAIN.md).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A complaint topic. The Chinese label is what the hotline export carries; the code is what
/// our APIs and tiles use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Sanitation,
    Order,
    FireLane,
    FireFacility,
    StairwellClutter,
    FlyingWire,
    Repairs,
    Greening,
    Fees,
    Committee,
}

impl Category {
    pub const ALL: [Category; 10] = [
        Category::Sanitation,
        Category::Order,
        Category::FireLane,
        Category::FireFacility,
        Category::StairwellClutter,
        Category::FlyingWire,
        Category::Repairs,
        Category::Greening,
        Category::Fees,
        Category::Committee,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Category::Sanitation => "sanitation",
            Category::Order => "order",
            Category::FireLane => "fire_lane",
            Category::FireFacility => "fire_facility",
            Category::StairwellClutter => "stairwell_clutter",
            Category::FlyingWire => "flying_wire",
            Category::Repairs => "repairs",
            Category::Greening => "greening",
            Category::Fees => "fees",
            Category::Committee => "committee",
        }
    }

    /// The label used in hotline exports.
    pub fn label(self) -> &'static str {
        match self {
            Category::Sanitation => "环境卫生",
            Category::Order => "小区秩序",
            Category::FireLane => "消防通道",
            Category::FireFacility => "消防设施",
            Category::StairwellClutter => "楼道杂物",
            Category::FlyingWire => "飞线充电",
            Category::Repairs => "设施维修",
            Category::Greening => "绿化",
            Category::Fees => "收费与三公开",
            Category::Committee => "业委会",
        }
    }

    /// Parses either the code or the Chinese label.
    pub fn parse(s: &str) -> Option<Category> {
        let s = s.trim();
        Category::ALL
            .into_iter()
            .find(|c| c.code() == s || c.label() == s)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codes_and_labels() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.code()), Some(c));
            assert_eq!(Category::parse(c.label()), Some(c));
        }
        assert_eq!(Category::parse("噪音"), None);
    }
}
