//! The privacy rule for small counts, in one place: building- and unit-level complaint counts
//! from 1 to `min_count - 1` are withheld from public callers (tiles, pictures, features, the
//! API and seeded archives alike), so that a single household's complaints cannot be read off a
//! map. Zero is shown (it says nothing about anyone); planners see every count.

/// Who is asking, as the privacy rule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Audience {
    /// Counts from 1 to `min_count - 1` are withheld (`[privacy] min_count`, default 3).
    pub min_count: u64,
    /// Planners and admins see small counts.
    pub sees_small_counts: bool,
}

impl Audience {
    /// A public caller under the configured minimum (seeded archives are public).
    #[must_use]
    pub fn public(min_count: u64) -> Audience {
        Audience {
            min_count,
            sees_small_counts: false,
        }
    }

    /// Whether the count `n` of one building or unit is withheld from this audience.
    #[must_use]
    pub fn withholds(&self, n: u64) -> bool {
        n > 0 && n < self.min_count && !self.sees_small_counts
    }

    /// The count as this audience may see it: `None` when withheld.
    #[must_use]
    pub fn shown(&self, n: u64) -> Option<u64> {
        (!self.withholds(n)).then_some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::Audience;

    #[test]
    fn small_counts_are_withheld_from_the_public_only() {
        let public = Audience::public(5);
        assert_eq!(public.shown(0), Some(0));
        for n in 1..5 {
            assert_eq!(public.shown(n), None, "{n}");
        }
        assert_eq!(public.shown(5), Some(5));
        let planner = Audience {
            sees_small_counts: true,
            ..public
        };
        assert!((0..10).all(|n| planner.shown(n) == Some(n)));
        // A minimum of 0 or 1 withholds nothing.
        assert!((0..10).all(|n| Audience::public(1).shown(n) == Some(n)));
    }
}
