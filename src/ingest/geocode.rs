//! Placing complaints on a compound, building and unit: by coordinates inside a compound, by
//! the compound's name (or alias) in the address, or by a near-miss of it, then the building
//! and unit numbers in their written forms (5号楼 / 5栋 / 5# / 5号 / 5-2-301).
//!
//! The gazetteer is built from the store's geography; names are found with aho-corasick,
//! slips scored with strsim's Levenshtein distance.

use crate::model::{Dataset, MatchMethod, Placement};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use geo::{BoundingRect, Contains, Distance, Euclidean};
use geo_types::{MultiPolygon, Point, Polygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use std::collections::{HashMap, HashSet};

struct GBuilding {
    id: i64,
    geom: Polygon<f64>,
    units: Vec<(u32, i64, Point<f64>)>,
}

struct GCompound {
    id: i64,
    district: String,
    street: String,
    names: Vec<Vec<char>>,
    geom: MultiPolygon<f64>,
    buildings: HashMap<u32, usize>,
    all_buildings: Vec<usize>,
}

/// Everything the geocoder knows of the city.
pub struct Gazetteer {
    compounds: Vec<GCompound>,
    buildings: Vec<GBuilding>,
    names: AhoCorasick,
    /// Pattern → compounds carrying that name or alias.
    name_owners: Vec<Vec<usize>>,
    places: AhoCorasick,
    /// Pattern → (district code, street code if a street).
    place_codes: Vec<(String, Option<String>)>,
    bigrams: HashMap<(char, char), Vec<usize>>,
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
}

/// A number followed by one of the suffixes, e.g. "5号楼" → 5.
fn leading_number(s: &[char]) -> Option<(u32, usize)> {
    let n = s.iter().take_while(|c| c.is_ascii_digit()).count();
    if n == 0 || n > 6 {
        return None;
    }
    let v: String = s[..n].iter().collect();
    v.parse().ok().map(|v| (v, n))
}

fn starts_with(s: &[char], p: &str) -> Option<usize> {
    let p: Vec<char> = p.chars().collect();
    (s.len() >= p.len() && s[..p.len()] == p[..]).then_some(p.len())
}

/// Reads "5号楼2单元301", "5栋2单元", "5#2单元", "5号2单元301室", "5-2-301", "5号楼".
pub fn building_and_unit(rest: &[char]) -> (Option<u32>, Option<u32>) {
    let Some((b, n)) = leading_number(rest) else {
        return (None, None);
    };
    let mut s = &rest[n..];
    let mut dashed = false;
    for suffix in ["号楼", "栋", "幢", "座", "#", "号", "-"] {
        if let Some(k) = starts_with(s, suffix) {
            dashed = suffix == "-";
            s = &s[k..];
            break;
        }
    }
    let Some((u, n)) = leading_number(s) else {
        return (Some(b), None);
    };
    let after = &s[n..];
    if starts_with(after, "单元").is_some() || (dashed && starts_with(after, "-").is_some()) {
        return (Some(b), Some(u));
    }
    (Some(b), None)
}

fn normalize(address: &str) -> Vec<char> {
    let mut out: Vec<char> = address
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '—' => '-',
            c => c,
        })
        .collect();
    for prefix in ["山东省", "青岛市"] {
        if let Some(k) = starts_with(&out, prefix) {
            out.drain(..k);
        }
    }
    out
}

/// The pinyin initials of a name (金秋桂园 → `jqgy`); characters without a sound stay as
/// they are, lower-cased (5号楼 → `5hl`).
pub fn initials(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    sounds(&chars)
        .iter()
        .filter_map(|s| s.chars().next())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Each character's sound (plain pinyin), or the character itself when it has none.
fn sounds(chars: &[char]) -> Vec<String> {
    use pinyin::ToPinyin;
    chars
        .iter()
        .map(|c| {
            c.to_pinyin()
                .map_or_else(|| c.to_string(), |p| p.plain().to_string())
        })
        .collect()
}

fn number_of(name: &str, suffix: &str) -> Option<u32> {
    name.strip_suffix(suffix)?.parse().ok()
}

impl Gazetteer {
    /// Builds the gazetteer from the geography of a store.
    pub fn new(data: &Dataset) -> Gazetteer {
        let mut buildings: Vec<GBuilding> = Vec::with_capacity(data.buildings.len());
        let mut building_index: HashMap<i64, usize> = HashMap::with_capacity(data.buildings.len());
        for b in &data.buildings {
            building_index.insert(b.id, buildings.len());
            buildings.push(GBuilding {
                id: b.id,
                geom: b.geom.clone(),
                units: Vec::new(),
            });
        }
        for u in &data.units {
            if let (Some(&bi), Some(n)) = (
                building_index.get(&u.building_id),
                number_of(&u.name, "单元"),
            ) {
                buildings[bi].units.push((n, u.id, u.geom));
            }
        }
        let mut compounds: Vec<GCompound> = data
            .compounds
            .iter()
            .map(|c| GCompound {
                id: c.id,
                district: c.district_code.clone(),
                street: c.street_code.clone(),
                names: std::iter::once(&c.name)
                    .chain(c.aliases.iter())
                    .map(|n| n.chars().collect())
                    .collect(),
                geom: c.geom.clone(),
                buildings: HashMap::new(),
                all_buildings: Vec::new(),
            })
            .collect();
        let compound_index: HashMap<i64, usize> = compounds
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id, i))
            .collect();
        for b in &data.buildings {
            if let Some(&ci) = compound_index.get(&b.compound_id) {
                let bi = building_index[&b.id];
                compounds[ci].all_buildings.push(bi);
                if let Some(n) = number_of(&b.name, "号楼") {
                    compounds[ci].buildings.insert(n, bi);
                }
            }
        }
        let mut patterns: Vec<String> = Vec::new();
        let mut name_owners: Vec<Vec<usize>> = Vec::new();
        let mut at: HashMap<String, usize> = HashMap::new();
        let mut bigrams: HashMap<(char, char), Vec<usize>> = HashMap::new();
        for (ci, c) in compounds.iter().enumerate() {
            for name in &c.names {
                let s: String = name.iter().collect();
                let k = *at.entry(s.clone()).or_insert_with(|| {
                    patterns.push(s);
                    name_owners.push(Vec::new());
                    name_owners.len() - 1
                });
                if !name_owners[k].contains(&ci) {
                    name_owners[k].push(ci);
                }
                for w in name.windows(2) {
                    let e = bigrams.entry((w[0], w[1])).or_default();
                    if e.last() != Some(&ci) {
                        e.push(ci);
                    }
                }
            }
        }
        let names = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .unwrap_or_else(|_| AhoCorasick::new(Vec::<String>::new()).expect("empty automaton"));
        let mut place_patterns = Vec::new();
        let mut place_codes = Vec::new();
        for d in &data.districts {
            for p in [
                d.name.clone(),
                d.name.trim_end_matches(['区', '市']).to_string(),
            ] {
                if p.chars().count() >= 2 {
                    place_patterns.push(p);
                    place_codes.push((d.code.clone(), None));
                }
            }
        }
        place_patterns.push("西海岸新区".into());
        place_codes.push(("370211".into(), None));
        for s in &data.streets {
            place_patterns.push(s.name.clone());
            place_codes.push((s.district_code.clone(), Some(s.code.clone())));
        }
        let places = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&place_patterns)
            .unwrap_or_else(|_| AhoCorasick::new(Vec::<String>::new()).expect("empty automaton"));
        let tree = RTree::bulk_load(
            compounds
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    let r = c.geom.bounding_rect()?;
                    Some(GeomWithData::new(
                        Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                        i,
                    ))
                })
                .collect(),
        );
        Gazetteer {
            compounds,
            buildings,
            names,
            name_owners,
            places,
            place_codes,
            bigrams,
            tree,
        }
    }

    fn compound_at(&self, p: Point<f64>) -> Option<usize> {
        let env = AABB::from_point([p.x(), p.y()]);
        self.tree
            .locate_in_envelope_intersecting(&env)
            .map(|g| g.data)
            .find(|&i| self.compounds[i].geom.contains(&p))
    }

    fn nearest_compound(&self, p: Point<f64>, max_deg: f64) -> Option<usize> {
        let env = AABB::from_corners(
            [p.x() - max_deg, p.y() - max_deg],
            [p.x() + max_deg, p.y() + max_deg],
        );
        self.tree
            .locate_in_envelope_intersecting(&env)
            .map(|g| (g.data, Euclidean.distance(&p, &self.compounds[g.data].geom)))
            .filter(|(_, d)| *d <= max_deg)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i)
    }

    /// Best near-miss of a name among the compounds of the hinted district/street, compared by
    /// sound (plain pinyin, so 城/成 and 苑/院 are no slip at all) with Levenshtein distance.
    fn fuzzy(
        &self,
        segment: &[char],
        district: Option<&str>,
        street: Option<&str>,
    ) -> Option<usize> {
        if segment.len() < 2 {
            return None;
        }
        let mut candidates: HashSet<usize> = HashSet::new();
        for w in segment.windows(2) {
            if let Some(v) = self.bigrams.get(&(w[0], w[1])) {
                candidates.extend(v.iter().copied());
            }
        }
        let sound = sounds(segment);
        let mut scored: Vec<(f64, usize)> = candidates
            .into_iter()
            .filter(|&ci| {
                let c = &self.compounds[ci];
                district.is_none_or(|d| c.district == d) && street.is_none_or(|s| c.street == s)
            })
            .map(|ci| {
                // By sound first; the written characters break ties (佳园 / 家园 / 嘉园).
                let best = self.compounds[ci]
                    .names
                    .iter()
                    .map(|n| {
                        let len = n.len().max(segment.len()) as f64;
                        let by_sound = strsim::generic_levenshtein(&sounds(n), &sound) as f64;
                        let by_char = strsim::generic_levenshtein(n, &segment.to_vec()) as f64;
                        (1.0 - by_sound / len) + 0.01 * (1.0 - by_char / len)
                    })
                    .fold(0.0, f64::max);
                (best, ci)
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        match scored.as_slice() {
            [(s, ci)] if *s >= 0.6 => Some(*ci),
            [(s, ci), (s2, _), ..] if *s >= 0.6 && *s > *s2 => Some(*ci),
            _ => None,
        }
    }

    /// District and street codes named by place names that end at or before `before` (chars),
    /// and where the run of place names from the start of the text ends.
    fn hints(&self, s: &str, before: usize) -> (Option<String>, Option<String>, usize) {
        let (mut district, mut street, mut prefix_end) = (None, None, 0usize);
        for m in self.places.find_iter(s) {
            let start = s[..m.start()].chars().count();
            let end = s[..m.end()].chars().count();
            if end > before || start > prefix_end + 1 {
                break;
            }
            let (d, st) = &self.place_codes[m.pattern().as_usize()];
            district.get_or_insert_with(|| d.clone());
            if let Some(st) = st {
                street.get_or_insert_with(|| st.clone());
            }
            prefix_end = end;
        }
        (district, street, prefix_end)
    }

    /// The compound an address names exactly (name or alias), with where the name ends.
    fn exact(
        &self,
        s: &str,
        text: &[char],
        gps: Option<Point<f64>>,
    ) -> Result<Option<(usize, usize)>, ()> {
        let mut ambiguous = false;
        for m in self.names.find_iter(s) {
            let owners = &self.name_owners[m.pattern().as_usize()];
            let start = s[..m.start()].chars().count();
            let end = s[..m.end()].chars().count();
            let (district, street, _) = self.hints(s, start);
            let fit: Vec<usize> = owners
                .iter()
                .copied()
                .filter(|&ci| {
                    district
                        .as_deref()
                        .is_none_or(|d| self.compounds[ci].district == d)
                })
                .filter(|&ci| {
                    street
                        .as_deref()
                        .is_none_or(|st| self.compounds[ci].street == st)
                })
                .collect();
            // Hints that fit no owner were not hints (a name like 胶州花园 in another district).
            let fit = if fit.is_empty() { owners.clone() } else { fit };
            if let [one] = fit.as_slice() {
                return Ok(Some((*one, end)));
            }
            // One alias for several compounds: the coordinates, or the building number, decide.
            if let Some(ci) = gps
                .and_then(|p| self.compound_at(p))
                .filter(|ci| fit.contains(ci))
            {
                return Ok(Some((ci, end)));
            }
            let (b, _) = building_and_unit(&text[end..]);
            let by_building: Vec<usize> = fit
                .iter()
                .copied()
                .filter(|ci| b.is_some_and(|b| self.compounds[*ci].buildings.contains_key(&b)))
                .collect();
            if let [one] = by_building.as_slice() {
                return Ok(Some((*one, end)));
            }
            ambiguous = true;
        }
        if ambiguous {
            Err(())
        } else {
            Ok(None)
        }
    }

    /// Places one complaint.
    pub fn place(&self, address: &str, lon: Option<f64>, lat: Option<f64>) -> Placement {
        let text = normalize(address);
        let s: String = text.iter().collect();
        let gps = lon.zip(lat).map(|(x, y)| Point::new(x, y));
        let exact = self.exact(&s, &text, gps);
        let ambiguous = exact.is_err();
        let mut chosen = exact.unwrap_or(None);
        let mut method = MatchMethod::Text;
        let mut note = None;

        // Coordinates inside a compound decide when the text names none; when the text names
        // another compound, the address decides (phone GPS drifts across a fence).
        if let Some(ci) = gps.and_then(|p| self.compound_at(p)) {
            match chosen {
                None => {
                    method = MatchMethod::Gps;
                    let end = self
                        .name_end(&text, ci)
                        .unwrap_or_else(|| self.hints(&s, usize::MAX).2);
                    chosen = Some((ci, end));
                }
                Some((c, _)) if c == ci => method = MatchMethod::Gps,
                Some(_) => {
                    note = Some(
                        "coordinates fall in another compound; the address decides".to_string(),
                    )
                }
            }
        }
        if chosen.is_none() {
            // A slip in the name: first within the district/street the address names, then anywhere.
            let (district, street, prefix_end) = self.hints(&s, usize::MAX);
            let segment = |from: usize| -> Vec<char> {
                text[from.min(text.len())..]
                    .iter()
                    .take_while(|c| !c.is_ascii_digit())
                    .copied()
                    .collect()
            };
            let near = segment(prefix_end);
            if let Some(ci) = self.fuzzy(&near, district.as_deref(), street.as_deref()) {
                chosen = Some((ci, prefix_end + near.len()));
            } else {
                let whole = segment(0);
                if let Some(ci) = self.fuzzy(&whole, None, None) {
                    chosen = Some((ci, whole.len()));
                }
            }
            if chosen.is_some() {
                method = MatchMethod::Fuzzy;
            }
        }
        if chosen.is_none() {
            if let Some(ci) = gps.and_then(|p| self.nearest_compound(p, 0.0004)) {
                method = MatchMethod::Gps;
                note = Some("coordinates just outside the compound".into());
                chosen = Some((ci, self.hints(&s, usize::MAX).2));
            }
        }
        let Some((ci, end)) = chosen else {
            return Placement {
                method: MatchMethod::Unmatched,
                note: Some(
                    if ambiguous {
                        "ambiguous compound name"
                    } else {
                        "no compound name recognised"
                    }
                    .into(),
                ),
                ..Placement::default()
            };
        };
        let c = &self.compounds[ci];
        let (b, u) = building_and_unit(&text[end.min(text.len())..]);
        let mut building = b.and_then(|b| c.buildings.get(&b).copied());
        if building.is_none() && b.is_some() {
            note = Some(format!(
                "building {} not found in the compound",
                b.unwrap_or_default()
            ));
        }
        if building.is_none() && b.is_none() {
            if let Some(p) = gps {
                building = c.all_buildings.iter().copied().min_by(|x, y| {
                    Euclidean
                        .distance(&p, &self.buildings[*x].geom)
                        .total_cmp(&Euclidean.distance(&p, &self.buildings[*y].geom))
                });
            }
        }
        let unit = building.and_then(|bi| {
            let bl = &self.buildings[bi];
            match u {
                Some(u) => bl.units.iter().find(|(n, _, _)| *n == u).map(|x| x.1),
                None if bl.units.len() == 1 => Some(bl.units[0].1),
                None => gps.and_then(|p| {
                    bl.units
                        .iter()
                        .min_by(|a, b| {
                            Euclidean
                                .distance(&p, &a.2)
                                .total_cmp(&Euclidean.distance(&p, &b.2))
                        })
                        .map(|x| x.1)
                }),
            }
        });
        Placement {
            compound_id: Some(c.id),
            building_id: building.map(|bi| self.buildings[bi].id),
            unit_id: unit,
            method,
            note,
        }
    }

    /// Where the compound's name ends in the text, if it is there.
    fn name_end(&self, text: &[char], ci: usize) -> Option<usize> {
        self.compounds[ci].names.iter().find_map(|n| {
            text.windows(n.len())
                .position(|w| w == n.as_slice())
                .map(|p| p + n.len())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn building_and_unit_in_every_written_form() {
        for (s, want) in [
            ("5号楼2单元301", (Some(5), Some(2))),
            ("5栋2单元", (Some(5), Some(2))),
            ("5#2单元", (Some(5), Some(2))),
            ("5号2单元301室", (Some(5), Some(2))),
            ("5-2-301", (Some(5), Some(2))),
            ("5号楼", (Some(5), None)),
            ("12", (Some(12), None)),
            ("", (None, None)),
        ] {
            assert_eq!(building_and_unit(&chars(s)), want, "{s}");
        }
    }

    #[test]
    fn full_width_digits_and_city_prefix_are_normalised() {
        assert_eq!(normalize("青岛市 金秋桂园５号楼"), chars("金秋桂园5号楼"));
    }
}

/// How a geocoder did against a ground truth.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Accuracy {
    pub complaints: usize,
    pub matched: usize,
    pub compound_correct: usize,
    /// Complaints whose truth names a building.
    pub with_building: usize,
    pub building_correct: usize,
    pub with_unit: usize,
    pub unit_correct: usize,
}

impl Accuracy {
    pub fn add(
        &mut self,
        got: &Placement,
        compound: i64,
        building: Option<i64>,
        unit: Option<i64>,
    ) {
        self.complaints += 1;
        if got.compound_id.is_some() {
            self.matched += 1;
        }
        if got.compound_id == Some(compound) {
            self.compound_correct += 1;
        }
        if let Some(b) = building {
            self.with_building += 1;
            if got.building_id == Some(b) {
                self.building_correct += 1;
            }
        }
        if let Some(u) = unit {
            self.with_unit += 1;
            if got.unit_id == Some(u) {
                self.unit_correct += 1;
            }
        }
    }
    fn ratio(a: usize, b: usize) -> f64 {
        if b == 0 {
            0.0
        } else {
            a as f64 / b as f64
        }
    }
    /// Right compounds among the matched.
    pub fn compound_precision(&self) -> f64 {
        Self::ratio(self.compound_correct, self.matched)
    }
    /// Right compounds among all complaints.
    pub fn compound_recall(&self) -> f64 {
        Self::ratio(self.compound_correct, self.complaints)
    }
    pub fn building_recall(&self) -> f64 {
        Self::ratio(self.building_correct, self.with_building)
    }
    pub fn unit_recall(&self) -> f64 {
        Self::ratio(self.unit_correct, self.with_unit)
    }
    pub fn unmatched_share(&self) -> f64 {
        Self::ratio(self.complaints - self.matched, self.complaints)
    }
}

/// Measures the geocoder on a generated dataset directory (export + ground truth).
pub fn evaluate(dir: &std::path::Path) -> anyhow::Result<Accuracy> {
    let m = crate::io::manifest::Manifest::read(dir).map_err(anyhow::Error::msg)?;
    let data = crate::io::dataset::read(dir, &m)?;
    let gz = Gazetteer::new(&data);
    let export = dir.join(m.complaints_csv.as_deref().unwrap_or("complaints.csv"));
    let truth = dir.join(
        m.complaints_truth
            .as_deref()
            .unwrap_or("complaints_truth.csv"),
    );
    let parsed = super::complaints::read_file(&export, None)?;
    let mut t = csv::Reader::from_path(&truth)?;
    let mut answers: HashMap<String, (i64, Option<i64>, Option<i64>)> = HashMap::new();
    for r in t.records() {
        let r = r?;
        let opt = |s: &str| s.parse::<i64>().ok();
        answers.insert(r[0].to_string(), (r[1].parse()?, opt(&r[2]), opt(&r[3])));
    }
    let mut acc = Accuracy::default();
    for row in &parsed.rows {
        let c = &row.complaint;
        let got = gz.place(&c.address, c.lon, c.lat);
        if let Some((compound, building, unit)) = answers.get(&c.ticket_id) {
            acc.add(&got, *compound, *building, *unit);
        }
    }
    Ok(acc)
}
