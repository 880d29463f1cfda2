//! Names that read like Qingdao's: compounds, companies, callers. Word lists, not data.

use rand::seq::SliceRandom;
use rand::Rng;
use std::collections::HashSet;

const PREFIXES: &[&str] = &[
    "金秋", "银海", "海信", "海尔", "鲁商", "华润", "万科", "绿城", "中海", "保利", "融创", "青特",
    "君峰", "福林", "东方", "阳光", "丽景", "锦绣", "翠湖", "碧水", "蓝湾", "海逸", "海景", "山海",
    "浮山", "崂山", "太平", "湛山", "八大", "金湖", "燕儿", "宁夏", "延安", "辽阳", "台东", "兴隆",
    "洛阳", "四方", "沧口", "李村", "九水", "楼山", "世园", "书院", "枣山", "夏庄", "流亭", "城阳",
    "红岛", "胶州", "即墨", "灵山", "黄岛", "薛家", "唐岛", "凤凰", "长江", "嘉陵", "珠江", "香江",
    "滨海", "星光", "银河", "新都", "盛世", "和谐", "幸福", "康乐", "怡和", "雅园", "清华", "紫荆",
    "玉兰", "桂花", "海棠", "丁香", "樱花", "芳草", "绿洲", "天泰", "天一", "中联", "中南", "正阳",
    "泰和", "瑞源", "宝龙", "新城", "恒大", "万达", "鲁信", "青岛", "国信", "颐和", "金帝", "金沙",
    "海天", "东海", "南山", "北岭", "西岭", "东岭", "榉林", "华侨", "振华", "兴华", "永平", "安顺",
    "长乐", "福临", "龙湖", "鑫江", "汇泉", "观海", "望海", "听涛", "海湾", "海岸", "海韵", "海悦",
    "春和", "秋实", "锦城", "富丽", "朝阳", "晨光", "明珠", "华府", "东城", "西城", "南城", "北城",
    "御景", "荣盛", "碧桂", "旭辉", "首创", "远洋", "招商", "金地",
];

const SUFFIXES: &[&str] = &[
    "花园", "家园", "小区", "苑", "雅苑", "新村", "公寓", "嘉园", "名邸", "华庭", "山庄", "国际",
    "世家", "丽园", "雅居", "府", "湾", "城", "庭院", "新苑", "名苑", "佳园", "雅筑", "尚城", "里",
    "公馆", "广场", "御园",
];

const PHASES: &[&str] = &["一期", "二期", "三期", "四期"];

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗", "于", "姜", "曲", "隋", "宋", "董", "崔", "袁", "邵", "葛",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "霞", "平", "刚", "桂英", "建国", "志强", "玉兰", "海燕", "红", "波", "鑫", "浩",
];

const COMPANY_BRANDS: &[&str] = &[
    "海信", "鲁商", "万科", "绿城", "保利", "中海", "华润", "青特", "城发", "国信", "海尔", "德润",
    "瑞源", "诚信", "安居", "和美", "鑫源", "嘉和", "盛安", "宏达", "恒信", "金鼎", "福瑞", "天泰",
    "佳美", "东方", "泰和", "华信", "广厦", "星河", "润泽", "景和", "同创", "正泰", "宜居", "百合",
];
const COMPANY_SUFFIXES: &[&str] = &[
    "物业管理有限公司",
    "物业服务有限公司",
    "物业有限公司",
    "物业管理服务有限公司",
];

/// Produces unique compound names.
pub struct NameBook {
    used: HashSet<String>,
}

impl NameBook {
    pub fn new(reserved: impl IntoIterator<Item = String>) -> NameBook {
        NameBook {
            used: reserved.into_iter().collect(),
        }
    }

    /// A fresh compound name, e.g. "锦绣华庭" or "浮山新村二期".
    pub fn compound<R: Rng>(&mut self, rng: &mut R) -> String {
        for attempt in 0.. {
            let p = PREFIXES.choose(rng).copied().unwrap_or("金秋");
            let s = SUFFIXES.choose(rng).copied().unwrap_or("花园");
            let mut name = format!("{p}{s}");
            if attempt > 20 || rng.gen_bool(0.08) {
                name.push_str(PHASES.choose(rng).copied().unwrap_or("二期"));
            }
            if attempt > 200 {
                name = format!("{p}{s}{}区", attempt - 200);
            }
            if self.used.insert(name.clone()) {
                return name;
            }
        }
        unreachable!("the loop only ends by returning")
    }
}

impl NameBook {
    /// Other names callers use: the prefix with "小区" or "花园", when no other compound has
    /// that name or alias already (a shared alias would be a name no one could place).
    pub fn aliases<R: Rng>(&mut self, rng: &mut R, name: &str) -> Vec<String> {
        let chars: Vec<char> = name.chars().collect();
        let mut out = Vec::new();
        if chars.len() >= 4 && rng.gen_bool(0.45) {
            let prefix: String = chars[..2].iter().collect();
            for alias in [
                format!("{prefix}小区"),
                format!("{prefix}花园"),
                format!("{prefix}家园"),
            ] {
                if alias != name && self.used.insert(alias.clone()) {
                    out.push(alias);
                    break;
                }
            }
        }
        out
    }
}

/// A caller's fake name.
pub fn person<R: Rng>(rng: &mut R) -> String {
    format!(
        "{}{}",
        SURNAMES.choose(rng).copied().unwrap_or("王"),
        GIVEN.choose(rng).copied().unwrap_or("伟")
    )
}

/// A fake mobile number (11 digits).
pub fn phone<R: Rng>(rng: &mut R) -> String {
    let second = ['3', '5', '7', '8', '9']
        .choose(rng)
        .copied()
        .unwrap_or('3');
    format!("1{second}{:09}", rng.gen_range(0..1_000_000_000u32))
}

/// `n` unique property-company names.
pub fn companies<R: Rng>(rng: &mut R, n: usize) -> Vec<String> {
    let mut used = HashSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let brand = COMPANY_BRANDS.choose(rng).copied().unwrap_or("海信");
        let second = PREFIXES.choose(rng).copied().unwrap_or("金秋");
        let suffix = COMPANY_SUFFIXES
            .choose(rng)
            .copied()
            .unwrap_or("物业有限公司");
        let name = if rng.gen_bool(0.3) {
            format!("青岛{brand}{suffix}")
        } else if rng.gen_bool(0.2) {
            format!("山东{brand}{second}{suffix}")
        } else {
            format!("青岛{brand}{second}{suffix}")
        };
        if used.insert(name.clone()) {
            out.push(name);
        }
    }
    out
}

/// Common slips when a caller's words are typed: a homophone or a dropped character.
pub fn typo<R: Rng>(rng: &mut R, name: &str) -> String {
    const SWAPS: &[(char, char)] = &[
        ('园', '圆'),
        ('苑', '院'),
        ('花', '华'),
        ('金', '今'),
        ('秋', '丘'),
        ('海', '每'),
        ('锦', '景'),
        ('雅', '亚'),
        ('居', '局'),
        ('庭', '亭'),
        ('城', '成'),
        ('湾', '弯'),
        ('桂', '贵'),
        ('家', '佳'),
    ];
    let chars: Vec<char> = name.chars().collect();
    let swappable: Vec<usize> = (0..chars.len())
        .filter(|i| SWAPS.iter().any(|(a, _)| *a == chars[*i]))
        .collect();
    if let Some(&i) = swappable.choose(rng) {
        let mut c = chars.clone();
        c[i] = SWAPS
            .iter()
            .find(|(a, _)| *a == c[i])
            .map_or(c[i], |(_, b)| *b);
        return c.into_iter().collect();
    }
    if chars.len() >= 4 {
        let i = rng.gen_range(1..chars.len() - 1);
        return chars
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, c)| *c)
            .collect();
    }
    name.to_string()
}
