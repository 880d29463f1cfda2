//! The geocoder on addresses as people write them: hand-written forms (tests/addresses) filled
//! with a city's compounds, scored for compound precision and recall, building and unit
//! accuracy where the form names them, and false placements on addresses that name no compound.
//! Used by `tests/geocode.rs` and `cargo bench --bench geocode`.

use super::geocode::Gazetteer;
use crate::model::Dataset;

/// The city's compounds and their parts, as the hand-made forms need them.
struct Sample {
    name: String,
    base: Option<String>,
    district: String,
    compound: i64,
    building: (u32, i64),
    unit: (u32, i64),
}

fn chinese(n: u32, positional: bool) -> String {
    const D: [char; 10] = ['〇', '一', '二', '三', '四', '五', '六', '七', '八', '九'];
    if !positional || n < 10 {
        return n
            .to_string()
            .chars()
            .map(|c| D[c.to_digit(10).unwrap_or(0) as usize])
            .collect();
    }
    let (t, o) = (n / 10, n % 10);
    let mut s = String::new();
    if t > 1 {
        s.push(D[t as usize]);
    }
    s.push('十');
    if o > 0 {
        s.push(D[o as usize]);
    }
    s
}

/// Traditional forms of the simplified characters these addresses use.
fn traditional(s: &str) -> String {
    const PAIRS: &str = "区區号號楼樓单單园園华華侨僑阳陽东東丽麗广廣场場沧滄门門湾灣崂嶗宝寶龙龍台臺庄莊兰蘭\
        丰豐汇匯滨濱凤鳳兴興鲁魯银銀锦錦绣繡绿綠蓝藍韵韻悦悅荣榮书書云雲万萬达達国國际際馆館层層栋棟\
        乐樂长長阁閣岭嶺岛島涛濤泽澤润潤颐頤荆荊樱櫻尔爾创創宁寧辽遼枣棗红紅胶膠灵靈谐諧联聯榉櫸顺順\
        临臨观觀听聽远遠辉輝莱萊";
    let p: Vec<char> = PAIRS.chars().collect();
    s.chars()
        .map(|c| p.chunks(2).find(|x| x[0] == c).map_or(c, |x| x[1]))
        .collect()
}

fn fill(form: &str, s: &Sample) -> String {
    let phase_ar = s.base.as_ref().map_or(s.name.clone(), |b| {
        let phase = &s.name[b.len()..];
        let n = "一二三四五六七八九十"
            .chars()
            .position(|c| phase.starts_with(c))
            .map_or(1, |p| p + 1);
        format!("{b}{n}期")
    });
    let mut out = form
        .replace("{name}", &s.name)
        .replace("{base}", s.base.as_deref().unwrap_or(&s.name))
        .replace("{phase_ar}", &phase_ar)
        .replace("{district}", &s.district)
        .replace("{b}", &s.building.0.to_string())
        .replace("{u}", &s.unit.0.to_string())
        .replace("{r}", "301")
        .replace("{B}", &chinese(s.building.0, true))
        .replace("{U}", &chinese(s.unit.0, true))
        .replace("{R}", &chinese(301, false));
    while let Some(a) = out.find("{T:") {
        let Some(b) = out[a..].find('}').map(|k| a + k) else {
            break;
        };
        let t = traditional(&out[a + 3..b]);
        out.replace_range(a..=b, &t);
    }
    out
}

/// How the geocoder did on the hand-made forms.
#[derive(Debug, Default)]
pub struct FormScore {
    pub addresses: usize,
    pub placed: usize,
    pub right: usize,
    pub buildings_asked: usize,
    pub buildings_right: usize,
    pub units_asked: usize,
    pub units_right: usize,
    pub non_addresses: usize,
    pub non_addresses_placed: usize,
    /// What went wrong, one line each.
    pub misses: Vec<String>,
}

fn ratio(a: usize, b: usize) -> f64 {
    a as f64 / b.max(1) as f64
}

impl FormScore {
    pub fn compound_precision(&self) -> f64 {
        ratio(self.right, self.placed)
    }
    pub fn compound_recall(&self) -> f64 {
        ratio(self.right, self.addresses)
    }
    pub fn building_accuracy(&self) -> f64 {
        ratio(self.buildings_right, self.buildings_asked)
    }
    pub fn unit_accuracy(&self) -> f64 {
        ratio(self.units_right, self.units_asked)
    }
    /// Wrong compounds and placed non-addresses, among everything asked.
    pub fn false_placements(&self) -> f64 {
        ratio(
            self.non_addresses_placed + self.placed - self.right,
            self.non_addresses + self.addresses,
        )
    }
}

/// A base name that no compound has as its own name: the name less its phase (一期…四期).
fn phase_of(n: &str) -> Option<String> {
    ["一期", "二期", "三期", "四期"]
        .iter()
        .find(|p| n.ends_with(*p))
        .map(|p| n[..n.len() - p.len()].to_string())
}

/// Up to 40 compounds to fill the forms with (a numbered building of two units or more, its
/// last unit), and up to 40 phases whose base name, district and building number decide
/// which phase is meant.
fn samples(data: &Dataset) -> (Vec<Sample>, Vec<Sample>) {
    let district_name = |code: &str| {
        data.districts
            .iter()
            .find(|d| d.code == code)
            .map(|d| d.name.clone())
            .unwrap_or_default()
    };
    let mut samples: Vec<Sample> = Vec::new();
    let mut phased: Vec<Sample> = Vec::new();
    for c in &data.compounds {
        let Some(b) = data.buildings.iter().find(|b| {
            b.compound_id == c.id
                && b.name.ends_with("号楼")
                && data.units.iter().filter(|u| u.building_id == b.id).count() >= 2
        }) else {
            continue;
        };
        let Ok(bn) = b.name.trim_end_matches("号楼").parse::<u32>() else {
            continue;
        };
        let Some(u) = data
            .units
            .iter()
            .filter(|u| u.building_id == b.id)
            .max_by_key(|u| u.name.clone())
        else {
            continue;
        };
        let Ok(un) = u.name.trim_end_matches("单元").parse::<u32>() else {
            continue;
        };
        let s = Sample {
            name: c.name.clone(),
            base: phase_of(&c.name),
            district: district_name(&c.district_code),
            compound: c.id,
            building: (bn, b.id),
            unit: (un, u.id),
        };
        // The building number must be the phase's own among same-named phases (else the
        // address is ambiguous, and unmatched is right).
        let decidable = s.base.as_ref().is_some_and(|base| {
            !data.compounds.iter().any(|o| &o.name == base)
                && data
                    .compounds
                    .iter()
                    .filter(|o| o.id != c.id && phase_of(&o.name).as_ref() == Some(base))
                    .filter(|o| o.district_code == c.district_code)
                    .all(|o| {
                        !data
                            .buildings
                            .iter()
                            .any(|x| x.compound_id == o.id && x.name == b.name)
                    })
        });
        if decidable && phased.len() < 40 {
            phased.push(s);
        } else if s.base.is_none() && samples.len() < 40 {
            samples.push(s);
        }
    }
    (samples, phased)
}

/// The lines of a list that are not comments or blank.
fn entries(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
}

impl FormScore {
    /// One filled form: the compound, then (when the form says it finds them) the building
    /// and the unit.
    fn add(&mut self, data: &Dataset, gz: &Gazetteer, address: &str, s: &Sample, finds: &str) {
        let p = gz.place(address, None, None);
        self.addresses += 1;
        if p.compound_id.is_some() {
            self.placed += 1;
        }
        if p.compound_id != Some(s.compound) {
            let name_of = |id: Option<i64>| {
                id.and_then(|id| data.compounds.iter().find(|c| c.id == id))
                    .map(|c| format!("{} ({})", c.name, c.district_code))
            };
            self.misses.push(format!(
                "{address}: placed on {:?}, not {:?} ({:?})",
                name_of(p.compound_id),
                name_of(Some(s.compound)),
                p.note
            ));
            return;
        }
        self.right += 1;
        if finds.contains('b') {
            self.buildings_asked += 1;
            if p.building_id == Some(s.building.1) {
                self.buildings_right += 1;
            } else {
                self.misses
                    .push(format!("{address}: building {:?}", p.building_id));
            }
        }
        if finds.contains('u') {
            self.units_asked += 1;
            if p.unit_id == Some(s.unit.1) {
                self.units_right += 1;
            } else {
                self.misses.push(format!("{address}: unit {:?}", p.unit_id));
            }
        }
    }
}

/// Scores the geocoder of `data` on `forms` (form TAB finds, one a line) filled with up to 40
/// compounds each, and on `none` (addresses that name no compound, one a line).
#[must_use]
pub fn score(data: &Dataset, forms: &str, none: &str) -> FormScore {
    let gz = Gazetteer::new(data);
    let (samples, phased) = samples(data);
    let mut score = FormScore::default();
    for line in entries(forms) {
        let Some((form, finds)) = line.split_once('\t') else {
            continue;
        };
        let pool = if form.contains("{base}") || form.contains("{phase_ar}") {
            &phased
        } else {
            &samples
        };
        for s in pool {
            score.add(data, &gz, &fill(form, s), s, finds);
        }
    }
    for address in entries(none) {
        score.non_addresses += 1;
        let p = gz.place(address, None, None);
        if p.compound_id.is_some() {
            score.non_addresses_placed += 1;
            score.misses.push(format!(
                "{address}: placed on {:?}, names no compound",
                p.compound_id
            ));
        }
    }
    score
}
