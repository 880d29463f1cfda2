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
    /// Each name's sounds as syllable ids of [`Gazetteer::syllables`], for slips.
    sounds: Vec<Vec<u32>>,
    geom: MultiPolygon<f64>,
    buildings: HashMap<u32, usize>,
    all_buildings: Vec<usize>,
}

/// One compound an address may mean, for a dispatcher (no complainant data: the address only).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Candidate {
    pub compound_id: i64,
    pub building_id: Option<i64>,
    pub unit_id: Option<i64>,
    /// Name match (1 exact, less by sound) + district and street agreement + building found +
    /// coordinates inside; higher is likelier.
    pub score: f64,
    /// (part of the address, what it matched).
    pub matched: Vec<(String, String)>,
    /// What the import would place it on.
    pub chosen: bool,
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
    /// Every sound (plain pinyin, or the character itself) in a compound name → its id: names
    /// are compared by sound as runs of ids, each name's read once here rather than per slip.
    syllables: HashMap<String, u32>,
    /// Slips already judged: the same misspelt name comes back with every complaint from its
    /// compound, and judging one compares it with every compound sharing a pair of characters
    /// (a number that grows with the city). Bounded: emptied at `SLIPS_KEPT` entries.
    slips: std::sync::Mutex<HashMap<Slip, Option<usize>, foldhash::fast::RandomState>>,
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
}

/// A slip as judged: the name's characters, and the district and street it was looked for in.
type Slip = (Vec<char>, Option<String>, Option<String>);

/// How many judged slips a gazetteer keeps.
const SLIPS_KEPT: usize = 1 << 18;

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

/// Words people put between a compound's name and its building, or before a number.
const FILLERS: [&str; 4] = ["小区", "社区", "院内", "第"];

fn skip_fillers(mut s: &[char]) -> &[char] {
    loop {
        match FILLERS.iter().find_map(|f| starts_with(s, f)) {
            Some(k) => s = &s[k..],
            None => return s,
        }
    }
}

/// Reads "5号楼2单元301", "5栋2单元", "5#2单元", "2#楼", "5号2单元301室", "5-2-301", "5号楼",
/// "7楼3单元" (building 7), "7号楼1-101" (unit 1, room 101), "小区5号楼", "第5栋第2单元"
/// (after [`normalize`]: Chinese numerals already digits, punctuation gone).
pub fn building_and_unit(rest: &[char]) -> (Option<u32>, Option<u32>) {
    let rest = skip_fillers(rest);
    let Some((b, n)) = leading_number(rest) else {
        return (None, None);
    };
    let mut s = &rest[n..];
    let mut dashed = false;
    for suffix in ["号楼", "#楼", "栋", "幢", "座", "#", "号", "楼", "-"] {
        if let Some(k) = starts_with(s, suffix) {
            dashed = suffix == "-";
            s = &s[k..];
            break;
        }
    }
    let s = skip_fillers(s);
    let Some((u, n)) = leading_number(s) else {
        return (Some(b), None);
    };
    let after = &s[n..];
    let room_follows =
        starts_with(after, "-").is_some() && after.get(1).is_some_and(char::is_ascii_digit);
    if starts_with(after, "单元").is_some()
        || (dashed && starts_with(after, "-").is_some())
        || room_follows
    {
        return (Some(b), Some(u));
    }
    (Some(b), None)
}

/// Traditional characters of addresses and their simplified forms (the demo's and Qingdao's
/// place words, building words and common surnames): `嶗山區寶龍雅居5號樓` reads as
/// `崂山区宝龙雅居5号楼`.
const TRADITIONAL: &str =
    "區区號号樓楼單单園园華华僑侨陽阳東东麗丽廣广場场滄沧門门灣湾嶼屿嶗崂寶宝龍龙臺台莊庄蘭兰\
開开發发豐丰匯汇濱滨鳳凤亞亚興兴齊齐魯鲁銀银錦锦繡绣綠绿藍蓝韻韵悅悦榮荣畫画書书雲云萬万達达恆恒\
國国際际貿贸經经濟济館馆們们學学層层戶户棟栋間间廳厅衛卫電电車车縣县鎮镇鄉乡與与後后裡里裏里樂乐\
陳陈劉刘張张趙赵黃黄吳吴孫孙鄭郑勝胜實实長长閣阁軒轩嶺岭島岛濤涛瀾澜灘滩澤泽潤润壽寿頤颐薈荟築筑\
億亿荊荆櫻樱楓枫爾尔創创寧宁遼辽棗枣紅红膠胶靈灵諧谐聯联櫸榉順顺臨临觀观聽听遠远輝辉萊莱蘆芦\
嶗崂滬沪門门號号莊庄灣湾圓圆線线處处區区橋桥廠厂倉仓舊旧幣币賓宾館馆會会雜杂務务業业費费委委";

fn simplified(c: char) -> char {
    static TABLE: std::sync::OnceLock<HashMap<char, char>> = std::sync::OnceLock::new();
    if c.is_ascii() {
        return c;
    }
    let t = TABLE.get_or_init(|| {
        let v: Vec<char> = TRADITIONAL.chars().collect();
        v.chunks(2).map(|p| (p[0], p[1])).collect()
    });
    t.get(&c).copied().unwrap_or(c)
}

/// Punctuation people put between an address's parts: dropped.
const PUNCTUATION: &str = "【】[]（）()《》<>〈〉「」『』“”\"'‘’:：,，、/\\;；·.。!！?？~～|";

fn chinese_digit(c: char) -> Option<u32> {
    Some(match c {
        '〇' | '零' | 'O' => 0,
        '一' => 1,
        '二' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

/// The value of a Chinese numeral: positional with 十/百 (十二 12, 二十三 23, 一百零一 101),
/// else digit by digit (二〇一 201).
fn chinese_number(run: &[char]) -> Option<u32> {
    if run.iter().any(|c| *c == '十' || *c == '百') {
        let (mut total, mut digit) = (0u32, None::<u32>);
        for &c in run {
            match c {
                '百' => {
                    total += digit.unwrap_or(1) * 100;
                    digit = None;
                }
                '十' => {
                    total += digit.unwrap_or(1) * 10;
                    digit = None;
                }
                c => digit = Some(chinese_digit(c)?),
            }
        }
        Some(total + digit.unwrap_or(0))
    } else {
        run.iter()
            .try_fold(0u32, |v, c| Some(v.checked_mul(10)? + chinese_digit(*c)?))
    }
}

/// What a number before which is a building, unit or room number, not part of a name.
const NUMBER_WORDS: [&str; 11] = [
    "号", "栋", "幢", "座", "单元", "室", "楼", "#", "户", "层", "门",
];

/// Chinese numerals before a building, unit or room word become digits (五号楼 → 5号楼,
/// 二单元 → 2单元, 二〇一室 → 201室); Arabic phase numbers become Chinese, as compound names
/// write them (华侨新村1期 → 华侨新村一期).
fn numerals(text: Vec<char>) -> Vec<char> {
    const PHASE: [&str; 10] = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"];
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        let is_cn = |c: char| chinese_digit(c).is_some() || c == '十' || c == '百';
        if is_cn(c) {
            let j = (i..text.len())
                .find(|&k| !is_cn(text[k]))
                .unwrap_or(text.len());
            let followed = NUMBER_WORDS
                .iter()
                .any(|w| starts_with(&text[j..], w).is_some());
            if followed {
                if let Some(v) = chinese_number(&text[i..j]) {
                    out.extend(v.to_string().chars());
                    i = j;
                    continue;
                }
            }
            out.extend_from_slice(&text[i..j]);
            i = j;
            continue;
        }
        if c.is_ascii_digit() {
            let j = (i..text.len())
                .find(|&k| !text[k].is_ascii_digit())
                .unwrap_or(text.len());
            if text.get(j) == Some(&'期') {
                let v: usize = text[i..j].iter().collect::<String>().parse().unwrap_or(0);
                if (1..=10).contains(&v) {
                    out.extend(PHASE[v - 1].chars());
                    i = j;
                    continue;
                }
            }
            out.extend_from_slice(&text[i..j]);
            i = j;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// An address as the gazetteer reads it: no spaces or punctuation between its parts, ASCII
/// digits and letters, simplified characters, building and unit numbers in digits and phase
/// numbers in Chinese, no province in front.
fn normalize(address: &str) -> Vec<char> {
    let mut out: Vec<char> = address
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '—' | '–' | '~' => '-',
            c => simplified(c),
        })
        .filter(|c| !PUNCTUATION.contains(*c))
        .collect();
    // A province in front (山东省…): nothing the gazetteer knows.
    if let Some(p) = out.iter().take(6).position(|c| *c == '省') {
        if p >= 2 {
            out.drain(..=p);
        }
    }
    numerals(out)
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

/// A character's sound (plain pinyin), or the character itself when it has none.
fn sound(c: char) -> String {
    use pinyin::ToPinyin;
    c.to_pinyin()
        .map_or_else(|| c.to_string(), |p| p.plain().to_string())
}

/// Each character's sound.
fn sounds(chars: &[char]) -> Vec<String> {
    chars.iter().map(|c| sound(*c)).collect()
}

/// Numbers every sound of the compounds' names and writes each name's as ids.
fn syllables(compounds: &mut [GCompound]) -> HashMap<String, u32> {
    let mut ids: HashMap<String, u32> = HashMap::new();
    for c in compounds.iter_mut() {
        c.sounds = c
            .names
            .iter()
            .map(|n| {
                n.iter()
                    .map(|ch| {
                        let next = ids.len() as u32;
                        *ids.entry(sound(*ch)).or_insert(next)
                    })
                    .collect()
            })
            .collect();
    }
    ids
}

fn number_of(name: &str, suffix: &str) -> Option<u32> {
    name.strip_suffix(suffix)?.parse().ok()
}

/// The compounds and buildings as the gazetteer reads them: names normalised, buildings and
/// units by number.
fn homes(data: &Dataset) -> (Vec<GCompound>, Vec<GBuilding>) {
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
            // Read as addresses are (brackets, traditional characters, phase numbers).
            names: std::iter::once(&c.name)
                .chain(c.aliases.iter())
                .map(|n| normalize(n))
                .filter(|n| !n.is_empty())
                .collect(),
            sounds: Vec::new(),
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
    (compounds, buildings)
}

/// Names, and who carries each, with a name's two-character pieces for slips.
type Names = (
    AhoCorasick,
    Vec<Vec<usize>>,
    HashMap<(char, char), Vec<usize>>,
);

/// Every compound name and alias as one automaton (a phase's base name too), who carries
/// each, and which compounds each pair of characters occurs in.
fn names(data: &Dataset, compounds: &[GCompound]) -> Names {
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
    // A phase left out (东方丽园 for 东方丽园二期): the base name is a name of every phase
    // that carries it, unless a compound of its own has it; the district, the coordinates or
    // the building number then settle which phase is meant, or the address stays unmatched
    // as ambiguous.
    let mut bases: HashMap<String, Vec<usize>> = HashMap::new();
    for (ci, c) in compounds.iter().enumerate() {
        for name in &c.names {
            let s: String = name.iter().collect();
            for phase in [
                "一期", "二期", "三期", "四期", "五期", "六期", "七期", "八期", "九期", "十期",
            ] {
                if let Some(base) = s.strip_suffix(phase) {
                    if base.chars().count() >= 2 {
                        bases.entry(base.to_string()).or_default().push(ci);
                    }
                }
            }
        }
    }
    let mut bases: Vec<(String, Vec<usize>)> = bases.into_iter().collect();
    bases.sort();
    let own_names: HashSet<String> = data.compounds.iter().map(|c| c.name.clone()).collect();
    for (base, owners) in bases {
        if own_names.contains(&base) {
            continue; // a compound of its own is called so
        }
        // Another compound's alias (海逸家园 called 海逸小区): its phases share it.
        if let Some(&k) = at.get(&base) {
            for ci in owners {
                if !name_owners[k].contains(&ci) {
                    name_owners[k].push(ci);
                }
            }
        } else {
            at.insert(base.clone(), patterns.len());
            patterns.push(base);
            name_owners.push(owners);
        }
    }
    (automaton(&patterns), name_owners, bigrams)
}

/// District and street names (and 西海岸新区) as one automaton, with their codes.
fn places(data: &Dataset) -> (AhoCorasick, Vec<(String, Option<String>)>) {
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
    // Qingdao's West Coast New Area is 黄岛区's other name.
    if data.districts.iter().any(|d| d.code == "370211") {
        place_patterns.push("西海岸新区".into());
        place_codes.push(("370211".into(), None));
    }
    for s in &data.streets {
        place_patterns.push(s.name.clone());
        place_codes.push((s.district_code.clone(), Some(s.code.clone())));
    }
    (automaton(&place_patterns), place_codes)
}

/// Leftmost-longest matching over the patterns (an empty automaton if they cannot build).
fn automaton(patterns: &[String]) -> AhoCorasick {
    AhoCorasickBuilder::new()
        .match_kind(MatchKind::LeftmostLongest)
        .build(patterns)
        .unwrap_or_else(|_| AhoCorasick::new(Vec::<String>::new()).expect("empty automaton"))
}

/// An address made ready for matching.
struct Address {
    /// Its normalised characters.
    text: Vec<char>,
    /// The same characters as a string, for the automata.
    s: String,
    /// The complaint's coordinates, when it has them.
    gps: Option<Point<f64>>,
}

/// The compound chosen so far (with where its name ends), how, and what could not be told.
struct Choice {
    chosen: Option<(usize, usize)>,
    method: MatchMethod,
    note: Option<String>,
}

/// The run of the text from `from` (chars) up to the first digit: where a name is.
fn name_segment(text: &[char], from: usize) -> Vec<char> {
    text[from.min(text.len())..]
        .iter()
        .take_while(|c| !c.is_ascii_digit())
        .copied()
        .collect()
}

impl Gazetteer {
    /// Builds the gazetteer from the geography of a store.
    pub fn new(data: &Dataset) -> Gazetteer {
        let (mut compounds, buildings) = homes(data);
        let syllables = syllables(&mut compounds);
        let (names, name_owners, bigrams) = names(data, &compounds);
        let (places, place_codes) = places(data);
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
            syllables,
            slips: std::sync::Mutex::default(),
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
        let key: Slip = (
            segment.to_vec(),
            district.map(str::to_string),
            street.map(str::to_string),
        );
        // A poisoned lock only means another thread panicked mid-insert: judge afresh.
        if let Some(known) = self.slips.lock().ok().and_then(|m| m.get(&key).copied()) {
            return known;
        }
        let judged = match self.fuzzy_ranked(segment, district, street).as_slice() {
            [(s, ci)] if *s >= 0.6 => Some(*ci),
            [(s, ci), (s2, _), ..] if *s >= 0.6 && *s > *s2 => Some(*ci),
            _ => None,
        };
        if let Ok(mut m) = self.slips.lock() {
            if m.len() >= SLIPS_KEPT {
                m.clear();
            }
            m.insert(key, judged);
        }
        judged
    }

    /// The compounds sharing a bigram with `segment`, best sound-alike first (score 0..1).
    fn fuzzy_ranked(
        &self,
        segment: &[char],
        district: Option<&str>,
        street: Option<&str>,
    ) -> Vec<(f64, usize)> {
        if segment.len() < 2 {
            return Vec::new();
        }
        let mut candidates: HashSet<usize, foldhash::fast::RandomState> = HashSet::default();
        for w in segment.windows(2) {
            if let Some(v) = self.bigrams.get(&(w[0], w[1])) {
                candidates.extend(v.iter().copied());
            }
        }
        // A sound no name has gets an id no name's sound equals.
        let sound: Vec<u32> = segment
            .iter()
            .map(|c| self.syllables.get(&sound(*c)).copied().unwrap_or(u32::MAX))
            .collect();
        let written = segment.to_vec();
        let mut scored: Vec<(f64, usize)> = candidates
            .into_iter()
            .filter(|&ci| {
                let c = &self.compounds[ci];
                district.is_none_or(|d| c.district == d) && street.is_none_or(|s| c.street == s)
            })
            .map(|ci| {
                // By sound first; the written characters break ties (佳园 / 家园 / 嘉园).
                let c = &self.compounds[ci];
                let best = c
                    .names
                    .iter()
                    .zip(&c.sounds)
                    .map(|(n, heard)| {
                        let len = n.len().max(segment.len()) as f64;
                        let by_sound = strsim::generic_levenshtein(heard, &sound) as f64;
                        let by_char = strsim::generic_levenshtein(n, &written) as f64;
                        (1.0 - by_sound / len) + 0.01 * (1.0 - by_char / len)
                    })
                    .fold(0.0, f64::max);
                (best, ci)
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored
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

    /// The text without a city name in front (`青岛市市南区…`): a leading `…市` of two to four
    /// characters that is not one of the city's own places (胶州市 is a district here).
    fn without_city(&self, mut text: Vec<char>) -> Vec<char> {
        if let Some(p) = text.iter().take(5).position(|c| *c == '市') {
            if p >= 2 {
                let head: String = text[..=p].iter().collect();
                let known = self
                    .places
                    .find(&head)
                    .is_some_and(|m| m.start() == 0 && m.end() == head.len());
                if !known {
                    text.drain(..=p);
                }
            }
        }
        text
    }

    /// An address as the matchers read it: normalised, without a city name in front.
    fn address(&self, address: &str, lon: Option<f64>, lat: Option<f64>) -> Address {
        let text = self.without_city(normalize(address));
        let s: String = text.iter().collect();
        let gps = lon.zip(lat).map(|(x, y)| Point::new(x, y));
        Address { text, s, gps }
    }

    /// Places one complaint.
    pub fn place(&self, address: &str, lon: Option<f64>, lat: Option<f64>) -> Placement {
        let a = self.address(address, lon, lat);
        let exact = self.exact(&a.s, &a.text, a.gps);
        let ambiguous = exact.is_err();
        let mut choice = Choice {
            chosen: exact.unwrap_or(None),
            method: MatchMethod::Text,
            note: None,
        };
        self.by_gps_inside(&a, &mut choice);
        if choice.chosen.is_none() && !ambiguous {
            self.by_slip(&a, &mut choice);
        }
        if choice.chosen.is_none() {
            self.by_gps_near(&a, &mut choice);
        }
        let Some((ci, end)) = choice.chosen else {
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
        self.placed(&a, ci, end, choice)
    }

    /// Coordinates inside a compound decide when the text names none; when the text names
    /// another compound, the address decides (phone GPS drifts across a fence).
    fn by_gps_inside(&self, a: &Address, choice: &mut Choice) {
        if let Some(ci) = a.gps.and_then(|p| self.compound_at(p)) {
            match choice.chosen {
                None => {
                    choice.method = MatchMethod::Gps;
                    let end = self
                        .name_end(&a.text, ci)
                        .unwrap_or_else(|| self.hints(&a.s, usize::MAX).2);
                    choice.chosen = Some((ci, end));
                }
                Some((c, _)) if c == ci => choice.method = MatchMethod::Gps,
                Some(_) => {
                    choice.note = Some(
                        "coordinates fall in another compound; the address decides".to_string(),
                    );
                }
            }
        }
    }

    /// A slip in the name: first within the district/street the address names, then
    /// anywhere. (A name that several compounds carry is not a slip: it stays unmatched as
    /// ambiguous rather than a guess.)
    fn by_slip(&self, a: &Address, choice: &mut Choice) {
        let text = &a.text;
        let (district, street, prefix_end) = self.hints(&a.s, usize::MAX);
        let near = name_segment(text, prefix_end);
        if let Some(ci) = self.fuzzy(&near, district.as_deref(), street.as_deref()) {
            choice.chosen = Some((ci, prefix_end + near.len()));
        } else {
            let whole = name_segment(text, 0);
            if let Some(ci) = self.fuzzy(&whole, None, None) {
                choice.chosen = Some((ci, whole.len()));
            }
        }
        if choice.chosen.is_some() {
            choice.method = MatchMethod::Fuzzy;
        }
    }

    /// Coordinates just outside a compound, when nothing else placed the address.
    fn by_gps_near(&self, a: &Address, choice: &mut Choice) {
        if let Some(ci) = a.gps.and_then(|p| self.nearest_compound(p, 0.0004)) {
            choice.method = MatchMethod::Gps;
            choice.note = Some("coordinates just outside the compound".into());
            choice.chosen = Some((ci, self.hints(&a.s, usize::MAX).2));
        }
    }

    /// The placement in compound `ci`, with the building and unit the address names after
    /// `end` (or, without a number, the ones nearest its coordinates).
    fn placed(&self, a: &Address, ci: usize, end: usize, choice: Choice) -> Placement {
        let (text, gps) = (&a.text, a.gps);
        let Choice {
            method, mut note, ..
        } = choice;
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

    /// The ranked candidates for an address, for a dispatcher who places it by hand: every
    /// compound whose name or alias the address carries (or, when none, the nearest misses by
    /// sound), each with the building and unit the address names in it, a score, and which part
    /// of the address matched what. The one [`Gazetteer::place`] chooses comes first, marked.
    pub fn candidates(&self, address: &str, lon: Option<f64>, lat: Option<f64>) -> Vec<Candidate> {
        let a = self.address(address, lon, lat);
        let chosen = self.place(address, lon, lat);
        let hints = self.hints(&a.s, usize::MAX);
        let found = self.found(&a, hints.2);
        let mut out: Vec<Candidate> = Vec::new();
        for f in found {
            if out.iter().any(|c| c.compound_id == self.compounds[f.0].id) {
                continue;
            }
            out.push(self.candidate(&a, &hints, f, &chosen));
        }
        out.sort_by(|a, b| b.chosen.cmp(&a.chosen).then(b.score.total_cmp(&a.score)));
        out
    }

    /// The compounds an address may mean, as (compound, start, end, name score): those it
    /// names, else its nearest misses by sound, and the one its coordinates fall in.
    fn found(&self, a: &Address, prefix_end: usize) -> Vec<(usize, usize, usize, f64)> {
        let (text, s) = (&a.text, &a.s);
        let mut found: Vec<(usize, usize, usize, f64)> = Vec::new(); // (compound, start, end, name score)
        for m in self.names.find_iter(s) {
            let start = s[..m.start()].chars().count();
            let end = s[..m.end()].chars().count();
            for &ci in &self.name_owners[m.pattern().as_usize()] {
                found.push((ci, start, end, 1.0));
            }
        }
        if found.is_empty() {
            let segment = name_segment(text, prefix_end);
            for (score, ci) in self
                .fuzzy_ranked(&segment, None, None)
                .into_iter()
                .filter(|(s, _)| *s >= 0.4)
                .take(5)
            {
                found.push((ci, prefix_end, prefix_end + segment.len(), score));
            }
        }
        if let Some(ci) = a.gps.and_then(|p| self.compound_at(p)) {
            if !found.iter().any(|f| f.0 == ci) {
                let end = self.name_end(text, ci).unwrap_or(prefix_end);
                found.push((ci, end, end, 0.0));
            }
        }
        found
    }

    /// One candidate, scored by its name match, the district and street `hints`, the
    /// coordinates, and the building and unit the address names in it.
    fn candidate(
        &self,
        a: &Address,
        hints: &(Option<String>, Option<String>, usize),
        (ci, start, end, name_score): (usize, usize, usize, f64),
        chosen: &Placement,
    ) -> Candidate {
        let (text, gps) = (&a.text, a.gps);
        let (district, street, prefix_end) = (&hints.0, &hints.1, hints.2);
        let part = |a: usize, b: usize| -> String {
            text[a.min(text.len())..b.min(text.len())].iter().collect()
        };
        let c = &self.compounds[ci];
        let mut matched = Vec::new();
        let mut score = name_score;
        if name_score > 0.0 {
            let how = if name_score >= 1.0 {
                "compound name or alias"
            } else {
                "compound name, by sound"
            };
            matched.push((part(start, end), how.to_string()));
        }
        if let Some(d) = district {
            if *d == c.district {
                score += 0.2;
                matched.push((part(0, prefix_end), format!("district {d}")));
            } else {
                score -= 0.3;
            }
        }
        if street.as_ref().is_some_and(|st| *st == c.street) {
            score += 0.1;
        }
        if gps.is_some_and(|p| c.geom.contains(&p)) {
            score += 0.5;
            matched.push(("lon/lat".into(), "inside the compound".into()));
        }
        let rest = &text[end.min(text.len())..];
        let (b, u) = building_and_unit(rest);
        let building = b.and_then(|b| c.buildings.get(&b).copied());
        if let (Some(b), Some(_)) = (b, building) {
            score += 0.2;
            matched.push((format!("{b}"), format!("building {b}")));
        }
        let unit = building.zip(u).and_then(|(bi, u)| {
            self.buildings[bi]
                .units
                .iter()
                .find(|(n, _, _)| *n == u)
                .map(|x| x.1)
        });
        if let (Some(u), Some(_)) = (u, unit) {
            matched.push((format!("{u}"), format!("unit {u}")));
        }
        Candidate {
            compound_id: c.id,
            building_id: building.map(|bi| self.buildings[bi].id),
            unit_id: unit,
            score: (score * 100.0).round() / 100.0,
            matched,
            chosen: chosen.compound_id == Some(c.id),
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
    fn full_width_digits_province_punctuation_numerals_and_traditional_are_normalised() {
        assert_eq!(normalize("山东省 金秋桂园５号楼"), chars("金秋桂园5号楼"));
        assert_eq!(normalize("【城阳华庭】11号楼"), chars("城阳华庭11号楼"));
        assert_eq!(
            normalize("清华新村一期,2号楼,4单元301"),
            chars("清华新村一期2号楼4单元301")
        );
        assert_eq!(
            normalize("九水世家五号楼二单元二〇一室"),
            chars("九水世家5号楼2单元201室")
        );
        assert_eq!(normalize("华侨新村1期4号楼"), chars("华侨新村一期4号楼"));
        assert_eq!(
            normalize("嶗山區寶龍雅居5號樓"),
            chars("崂山区宝龙雅居5号楼")
        );
        assert_eq!(normalize("十二号楼二十三单元"), chars("12号楼23单元"));
        // A numeral that is part of a name stays.
        assert_eq!(normalize("九水世家"), chars("九水世家"));
        for (s, want) in [
            ("7楼3单元", (Some(7), Some(3))),
            ("2#楼", (Some(2), None)),
            ("7号楼1-101", (Some(7), Some(1))),
            ("小区5号楼", (Some(5), None)),
            ("第5栋第2单元", (Some(5), Some(2))),
        ] {
            assert_eq!(building_and_unit(&chars(s)), want, "{s}");
        }
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
