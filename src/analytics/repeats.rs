//! Repeat hot spots (issue 16, part 3): the places — units, and buildings where the unit is
//! not known — whose complaints came back, of the same category, within `[repeats] days`, over
//! a window and selection, worst first. Counts only: what is kept per complaint is its month,
//! place, category and the days since the one before ([`crate::model::repeat`]).

use super::stats::{Stats, Window};
use crate::error::Error;
use crate::model::repeat::{Place, RepeatRule};
use crate::model::Category;

/// One place whose complaints repeated in the window.
#[derive(Debug, Clone, PartialEq)]
pub struct Spot {
    pub compound: i64,
    pub place: Place,
    /// The place's complaints in the window (of the category asked, when one is).
    pub complaints: u64,
    /// Those of them that were repeats.
    pub repeats: u64,
    /// Repeats by category (positions of [`Category::ALL`]).
    pub by_category: [u64; 10],
}

/// A selection's repeats over a window: totals and the worst places.
#[derive(Debug, Clone, PartialEq)]
pub struct HotSpots {
    pub window: Window,
    /// The months of the window the data hold (what was counted).
    pub data: Window,
    pub compounds: usize,
    /// The selection's complaints in the window (placed on a unit, a building or only a
    /// compound).
    pub complaints: u64,
    pub repeats: u64,
    /// Places with at least one repeat (all of them, before `limit`).
    pub places: usize,
    /// The worst places, most repeats first (then most complaints, then by compound and place).
    pub spots: Vec<Spot>,
    /// Why the answer is empty, when it is.
    pub note: Option<String>,
}

/// The repeat hot spots of compounds `ids` (of one category or all) over `window`, the
/// `limit` worst. A window wholly outside the data is refused naming the data's months; an
/// empty answer says why.
pub fn hot_spots(
    stats: &Stats,
    ids: &[i64],
    category: Option<Category>,
    window: Window,
    rule: &RepeatRule,
    limit: usize,
) -> Result<HotSpots, Error> {
    let (first, last) = super::hours::data_months(stats, window)?;
    let r = stats.range(window);
    let mut spots = Vec::new();
    for id in ids {
        for (place, t) in stats.repeats.places(*id, &r, category, rule) {
            if t.repeats > 0 {
                spots.push(Spot {
                    compound: *id,
                    place,
                    complaints: t.complaints,
                    repeats: t.repeats,
                    by_category: t.by_category,
                });
            }
        }
    }
    spots.sort_by(|a, b| {
        b.repeats
            .cmp(&a.repeats)
            .then(b.complaints.cmp(&a.complaints))
            .then(a.compound.cmp(&b.compound))
            .then(a.place.cmp(&b.place))
    });
    let places = spots.len();
    let repeats: u64 = spots.iter().map(|s| s.repeats).sum();
    spots.truncate(limit);
    let complaints = stats.count_of(ids, window, category);
    let data = Window {
        from: window.from.max(first),
        to: window.to.min(last),
    };
    let note = (repeats == 0).then(|| why_empty(ids.len(), complaints, category, data, rule));
    Ok(HotSpots {
        window,
        data,
        compounds: ids.len(),
        complaints,
        repeats,
        places,
        spots,
        note,
    })
}

/// Why a selection has no repeats.
fn why_empty(
    compounds: usize,
    complaints: u64,
    category: Option<Category>,
    data: Window,
    rule: &RepeatRule,
) -> String {
    let what = category.map_or(String::from("complaints"), |c| {
        format!("complaints of category {}", c.code())
    });
    let s = if compounds == 1 { "" } else { "s" };
    if compounds == 0 {
        "the selection holds no compound".into()
    } else if complaints == 0 {
        format!(
            "no {what} in the selection's {compounds} compound{s} from {} to {}",
            data.from, data.to
        )
    } else {
        format!(
            "none of the selection's {complaints} {what} from {} to {} came again from the same unit or building within {} days",
            data.from, data.to, rule.days
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::handling::Handled;
    use crate::model::stats::Fact;
    use crate::model::Month;

    #[test]
    fn places_are_ranked_and_empty_answers_say_why() {
        let m = |s: &str| Month::parse(s).unwrap();
        let fact = |month: &str, day: i32, unit: Option<i64>, cat: usize| Fact {
            month: m(month),
            category: Category::ALL[cat],
            compound: Some(1),
            building: Some(10),
            unit,
            handled: Handled::default(),
            slot: 0,
            day,
        };
        let facts = vec![
            fact("2023-01", 738_900, Some(100), 0),
            fact("2023-02", 738_920, Some(100), 0),
            fact("2023-02", 738_925, Some(100), 0),
            fact("2023-02", 738_925, None, 0),
            fact("2023-02", 738_926, None, 0),
            fact("2023-03", 738_990, Some(100), 1),
        ];
        let s = Stats::from_facts(&facts);
        let w = Window {
            from: m("2023-02"),
            to: m("2023-03"),
        };
        let rule = RepeatRule::default();
        let h = hot_spots(&s, &[1], None, w, &rule, 10).unwrap();
        assert_eq!((h.complaints, h.repeats, h.places), (5, 3, 2));
        assert_eq!(h.spots[0].place, Place::Unit(100));
        assert_eq!((h.spots[0].complaints, h.spots[0].repeats), (3, 2));
        assert_eq!(h.spots[1].place, Place::Building(10));
        assert!(h.note.is_none());
        let one = hot_spots(&s, &[1], None, w, &rule, 1).unwrap();
        assert_eq!((one.spots.len(), one.places, one.repeats), (1, 2, 3));
        let none = hot_spots(&s, &[1], Some(Category::ALL[1]), w, &rule, 10).unwrap();
        assert!(none.note.unwrap().contains("came again"));
        assert!(hot_spots(&s, &[2], None, w, &rule, 10)
            .unwrap()
            .note
            .unwrap()
            .contains("no complaints"));
        let outside = Window {
            from: m("2024-01"),
            to: m("2024-02"),
        };
        let e = hot_spots(&s, &[1], None, outside, &rule, 10).unwrap_err();
        assert!(e.to_string().contains("outside the data"), "{e}");
    }
}
