//! About 1.1 million hotline complaints, 2018-01 to 2023-07: heavy-tailed over compounds,
//! seasonal, growing with hotline use, falling after the campaign began in late April 2023,
//! with West Coast's half-year figures as the bureau reported them. Written as the hotline's
//! CSV export (addresses as callers say them, fake names and phones), plus a ground-truth file.

use super::city::{DistrictCtx, StreetCtx};
use super::estates::{Estate, Estates};
use super::names;
use crate::model::Category;
use chrono::{Datelike, NaiveDate, NaiveDateTime};
use rand::distributions::WeightedIndex;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_distr::{Distribution, LogNormal, Normal};
use std::io::Write;
use std::path::Path;

pub const COMPLAINTS: f64 = 1_100_000.0;
/// Months from 2018-01 to 2023-07.
pub const MONTHS: usize = 67;
const HUANGDAO: &str = "370211";

/// Column headers of the hotline export.
pub const HEADERS: [&str; 14] = [
    "工单编号",
    "受理时间",
    "诉求类别",
    "来源渠道",
    "诉求地址",
    "经度",
    "纬度",
    "办理状态",
    "满意度",
    "来电人",
    "联系电话",
    "诉求内容",
    "办结时间",
    "首次响应时间",
];

/// Text encoding of the written export.
pub use crate::model::encoding::TextEncoding as Encoding;

fn month_start(m: usize) -> NaiveDate {
    let y = 2018 + (m / 12) as i32;
    NaiveDate::from_ymd_opt(y, (m % 12) as u32 + 1, 1).unwrap_or_default()
}

/// Relative complaint volume per month for a district.
pub fn month_weights(district_code: &str) -> Vec<f64> {
    let mut w: Vec<f64> = (0..MONTHS)
        .map(|m| {
            let month = (m % 12) as f64 + 1.0;
            let growth = 1.10f64.powf(m as f64 / 12.0);
            let season = 1.0 + 0.22 * (2.0 * std::f64::consts::PI * (month - 7.0) / 12.0).cos();
            let campaign = match m {
                63 => 0.92,   // 2023-04: the campaign starts late in the month
                64.. => 0.70, // 2023-05 on
                _ => 1.0,
            };
            growth * season * campaign
        })
        .collect();
    if district_code == HUANGDAO {
        // West Coast: H1 2023 7% below H1 2022 and 27% below H2 2022.
        let sum = |w: &[f64], a: usize, b: usize| w[a..b].iter().sum::<f64>();
        let h1_22 = sum(&w, 48, 54);
        let f2 = (0.93 / 0.73) * h1_22 / sum(&w, 54, 60);
        let f3 = 0.93 * h1_22 / sum(&w, 60, 66);
        w[54..60].iter_mut().for_each(|x| *x *= f2);
        w[60..66].iter_mut().for_each(|x| *x *= f3);
    }
    w
}

const BASE_MIX: [(Category, f64); 10] = [
    (Category::Sanitation, 0.20),
    (Category::Order, 0.16),
    (Category::FireLane, 0.06),
    (Category::FireFacility, 0.05),
    (Category::StairwellClutter, 0.09),
    (Category::FlyingWire, 0.05),
    (Category::Repairs, 0.22),
    (Category::Greening, 0.06),
    (Category::Fees, 0.08),
    (Category::Committee, 0.03),
];

fn content<R: Rng>(rng: &mut R, c: Category) -> &'static str {
    let options: &[&str] = match c {
        Category::Sanitation => &[
            "小区垃圾桶满溢无人清运，气味很大。",
            "楼下垃圾堆放多日，物业不处理。",
            "小区卫生差，保洁不到位。",
        ],
        Category::Order => &[
            "小区停车混乱，车辆乱停乱放。",
            "外来车辆随意进出，门岗不管。",
            "地下车库管理混乱。",
        ],
        Category::FireLane => &[
            "消防通道被划成停车位，消防车进不来。",
            "消防通道长期被车辆占用。",
            "物业在消防通道上画车位收费。",
        ],
        Category::FireFacility => &[
            "楼道灭火器过期，消火栓没有水。",
            "消防设施损坏无人维修。",
            "烟感报警器失灵。",
        ],
        Category::StairwellClutter => &[
            "楼道里堆满杂物，影响通行。",
            "邻居在楼道堆放纸箱旧家具。",
            "楼道杂物多年未清理，存在隐患。",
        ],
        Category::FlyingWire => &[
            "有人从窗户拉线给电动车充电。",
            "楼下飞线充电，很危险。",
            "电动车在楼道充电，物业不管。",
        ],
        Category::Repairs => &[
            "楼道灯坏了很久没人修。",
            "雨水管漏水，墙面渗水。",
            "小区道路破损，井盖松动。",
            "单元门禁坏了。",
        ],
        Category::Greening => &[
            "小区绿化带被毁，种菜现象严重。",
            "树木遮挡采光，物业不修剪。",
            "绿地长期无人养护。",
        ],
        Category::Fees => &[
            "物业费收支不公开。",
            "物业乱收费，停车费上涨。",
            "公共收益去向不明，要求公示。",
        ],
        Category::Committee => &[
            "业委会选举不公开。",
            "业委会长期不开会，账目不透明。",
            "要求成立业主委员会，街道不回应。",
        ],
    };
    options.choose(rng).copied().unwrap_or("反映物业问题。")
}

/// One complaint before it is written: indexes into the estates, compact.
struct Draft {
    at: NaiveDateTime,
    estate: u32,
    unit: u32,
    category: Category,
}

pub struct Summary {
    pub complaints: usize,
    pub with_gps: usize,
}

/// What every draft is drawn from: how likely each estate, month, category and unit is.
struct Pickers {
    estate: WeightedIndex<f64>,
    /// Per district: the months, seasonal and growing.
    month: Vec<WeightedIndex<f64>>,
    /// Per estate: its category mix.
    category: Vec<WeightedIndex<f64>>,
    /// Per estate: its first unit and how likely each of its units is (by households).
    unit: Vec<(usize, WeightedIndex<f64>)>,
}

impl Pickers {
    fn new<R: Rng>(
        rng: &mut R,
        districts: &[DistrictCtx],
        estates: &Estates,
    ) -> anyhow::Result<Pickers> {
        let lognormal = LogNormal::new(0.0, 0.8)?;
        let noise = LogNormal::new(0.0, 0.35)?;
        let weights: Vec<f64> = estates
            .estates
            .iter()
            .map(|e| {
                let luck = lognormal.sample(rng);
                f64::from(e.compound.households.max(1)) * if e.named { 1.0 } else { luck } * e.hot
            })
            .collect();
        let month = districts
            .iter()
            .map(|d| WeightedIndex::new(month_weights(&d.district.code)))
            .collect::<Result<_, _>>()?;
        let mut category = Vec::with_capacity(estates.estates.len());
        let mut unit = Vec::with_capacity(estates.estates.len());
        for e in &estates.estates {
            let w: Vec<f64> = BASE_MIX
                .iter()
                .map(|(c, w)| {
                    let boost = e
                        .boosts
                        .iter()
                        .find(|(b, _)| b == c)
                        .map_or(1.0, |(_, f)| *f);
                    w * noise.sample(rng) * boost
                })
                .collect();
            category.push(WeightedIndex::new(&w)?);
            let first = estates.unit_start[e.buildings.start];
            let last = estates.unit_start[e.buildings.end];
            let uw: Vec<f64> = (first..last)
                .map(|u| f64::from(estates.units[u].households.max(1)))
                .collect();
            unit.push((first, WeightedIndex::new(&uw)?));
        }
        Ok(Pickers {
            estate: WeightedIndex::new(&weights)?,
            month,
            category,
            unit,
        })
    }

    /// `n` drafts in the order they were received.
    fn drafts<R: Rng>(&self, rng: &mut R, n: usize, estates: &Estates) -> Vec<Draft> {
        let mut drafts = Vec::with_capacity(n);
        for _ in 0..n {
            let ei = self.estate.sample(rng);
            let e = &estates.estates[ei];
            let m = self.month[e.district_idx].sample(rng);
            let start = month_start(m);
            let days = month_start(m + 1)
                .signed_duration_since(start)
                .num_days()
                .max(1);
            let day = start + chrono::Duration::days(rng.gen_range(0..days));
            let hour = *[
                7, 8, 8, 9, 9, 10, 10, 11, 13, 14, 14, 15, 16, 17, 18, 19, 20, 21, 22,
            ]
            .choose(rng)
            .unwrap_or(&9);
            let at = day
                .and_hms_opt(hour, rng.gen_range(0..60), rng.gen_range(0..60))
                .unwrap_or_default();
            let (first, up) = &self.unit[ei];
            drafts.push(Draft {
                at,
                estate: ei as u32,
                unit: (first + up.sample(rng)) as u32,
                category: BASE_MIX[self.category[ei].sample(rng)].0,
            });
        }
        drafts.sort_by_key(|d| d.at);
        drafts
    }
}

/// The export written in chunks of about 4 MB, each re-encoded when the export is GBK.
struct ExportWriter {
    out: std::io::BufWriter<std::fs::File>,
    chunk: csv::Writer<Vec<u8>>,
    encoding: Encoding,
}

impl ExportWriter {
    const CHUNK: usize = 4 << 20;

    fn create(path: &Path, encoding: Encoding) -> anyhow::Result<ExportWriter> {
        let mut w = ExportWriter {
            out: std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?),
            chunk: Self::new_chunk(),
            encoding,
        };
        w.chunk.write_record(HEADERS)?;
        Ok(w)
    }

    fn new_chunk() -> csv::Writer<Vec<u8>> {
        csv::WriterBuilder::new().from_writer(Vec::with_capacity(Self::CHUNK))
    }

    fn write(&mut self, record: &[&str]) -> anyhow::Result<()> {
        self.chunk.write_record(record)?;
        if self.chunk.get_ref().len() > Self::CHUNK - 4096 {
            self.flush_chunk()?;
        }
        Ok(())
    }

    fn flush_chunk(&mut self) -> anyhow::Result<()> {
        let buf = std::mem::replace(&mut self.chunk, Self::new_chunk())
            .into_inner()
            .map_err(|e| anyhow::anyhow!("csv buffer: {e}"))?;
        match self.encoding {
            Encoding::Utf8 => self.out.write_all(&buf)?,
            Encoding::Gbk => {
                let text = String::from_utf8(buf)?;
                let (bytes, _, _) = encoding_rs::GBK.encode(&text);
                self.out.write_all(&bytes)?;
            }
        }
        Ok(())
    }

    fn finish(mut self) -> anyhow::Result<()> {
        self.flush_chunk()?;
        self.out.flush()?;
        Ok(())
    }
}

/// The parts of an address a caller may say.
struct Place<'a> {
    district: &'a str,
    street: &'a str,
    compound: String,
    building: &'a str,
    unit: &'a str,
    room: String,
}

impl Place<'_> {
    /// The address as a caller says it, and which of the forms it is (for the truth file).
    fn spoken(&self, roll: f64, compound_level: bool) -> (String, &'static str) {
        let Place {
            district,
            street,
            compound: cname,
            building: bno,
            unit: uno,
            room,
        } = self;
        if compound_level {
            (format!("青岛市{district}{street}{cname}"), "compound")
        } else if roll < 0.30 {
            (
                format!("青岛市{district}{street}{cname}{bno}号楼{uno}单元{room}"),
                "full",
            )
        } else if roll < 0.50 {
            (format!("{street}{cname}{bno}号楼{uno}单元{room}"), "street")
        } else if roll < 0.70 {
            (format!("{cname}{bno}-{uno}-{room}"), "short")
        } else if roll < 0.80 {
            (format!("{district}{cname}{bno}栋{uno}单元{room}"), "dong")
        } else if roll < 0.87 {
            (format!("{cname}{bno}#{uno}单元"), "hash")
        } else if roll < 0.94 {
            (format!("{district}{cname}{bno}号楼"), "building")
        } else {
            (format!("{cname}{bno}号{uno}单元{room}室"), "hao")
        }
    }
}

/// The compound's name as a caller says it: now and then an alias, now and then with a slip.
fn spoken_name<R: Rng>(rng: &mut R, compound: &crate::model::Compound) -> String {
    let cname = if !compound.aliases.is_empty() && rng.gen_bool(0.15) {
        compound.aliases.choose(rng).cloned().unwrap_or_default()
    } else {
        compound.name.clone()
    };
    if rng.gen_bool(0.05) {
        names::typo(rng, &cname)
    } else {
        cname
    }
}

/// A ticket number: the date and the day's sequence, as the hotline numbers them.
struct Tickets(NaiveDate, u32);

impl Tickets {
    fn next(&mut self, date: NaiveDate) -> String {
        *self = if self.0 == date {
            Tickets(date, self.1 + 1)
        } else {
            Tickets(date, 1)
        };
        format!(
            "{:04}{:02}{:02}{:05}",
            date.year(),
            date.month(),
            date.day(),
            self.1
        )
    }
}

const CHANNELS: [(&str, u32); 5] = [
    ("12345热线", 70),
    ("微信", 12),
    ("网站", 8),
    ("APP", 8),
    ("信件", 2),
];
const SATISFACTION: [(&str, u32); 4] = [
    ("满意", 55),
    ("基本满意", 25),
    ("不满意", 12),
    ("未评价", 8),
];

/// What every record is written with: the city, and the pickers that stay the same per draft.
struct Records<'a> {
    districts: &'a [DistrictCtx],
    streets: &'a [StreetCtx],
    estates: &'a Estates,
    /// Building index per unit, for the truth file and addresses.
    unit_building: Vec<usize>,
    gps_noise: Normal<f64>,
    channel_pick: WeightedIndex<u32>,
    sat_pick: WeightedIndex<u32>,
    close: NaiveDate,
    /// The hours to a first response and to closing, before any compound's or the
    /// campaign's factor.
    response_hours: LogNormal<f64>,
    closing_hours: LogNormal<f64>,
}

/// When the export was taken: tickets not closed by then are still open.
fn export_time() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2023, 8, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

/// When the campaign began (late April 2023): handling got quicker and callers happier.
fn campaign_start() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2023, 4, 25)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

/// A ticket's handling as the export says it: status, rating, closing and first response.
struct Handling {
    status: &'static str,
    satisfaction: &'static str,
    closed_at: Option<NaiveDateTime>,
    responded_at: Option<NaiveDateTime>,
}

impl<'a> Records<'a> {
    /// The fixed context for writing the records of this city.
    fn new(
        districts: &'a [DistrictCtx],
        streets: &'a [StreetCtx],
        estates: &'a Estates,
    ) -> anyhow::Result<Records<'a>> {
        let mut unit_building = vec![0usize; estates.units.len()];
        for b in 0..estates.buildings.len() {
            unit_building[estates.unit_start[b]..estates.unit_start[b + 1]].fill(b);
        }
        Ok(Records {
            districts,
            streets,
            estates,
            unit_building,
            gps_noise: Normal::new(0.0, 15.0)?,
            channel_pick: WeightedIndex::new(CHANNELS.iter().map(|c| c.1))?,
            sat_pick: WeightedIndex::new(SATISFACTION.iter().map(|c| c.1))?,
            close: NaiveDate::from_ymd_opt(2023, 7, 20).unwrap_or_default(),
            response_hours: LogNormal::new(2.0f64.ln(), 0.8)?,
            closing_hours: LogNormal::new(60.0f64.ln(), 0.9)?,
        })
    }

    /// Writes one draft's export row and truth row; returns whether the caller gave a GPS fix.
    /// `side` draws the handling's times and adjustments, so that `rng` draws what it drew
    /// before the times were written (a seed writes the same addresses as before).
    fn write<R: Rng>(
        &self,
        rng: &mut R,
        side: &mut impl Rng,
        d: &Draft,
        ticket: &str,
        export: &mut ExportWriter,
        truth: &mut csv::Writer<std::fs::File>,
    ) -> anyhow::Result<bool> {
        let e = &self.estates.estates[d.estate as usize];
        let unit = &self.estates.units[d.unit as usize];
        let building = &self.estates.buildings[self.unit_building[d.unit as usize]];
        // The draws keep their order, so that a seed writes the same city as before.
        let (address, form, compound_level) = self.address(rng, d, e, building);
        let gps = self.gps(rng, unit);
        let with_gps = gps.is_some();
        let (lon, lat) = gps.unwrap_or_default();
        let (status, sat) = self.status(rng, d.at.date());
        let h = self.handling(side, d.at, e, status, sat);
        let (caller, phone, text) = said(rng, d.category);
        let stamp = |t: Option<NaiveDateTime>| {
            t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default()
        };
        export.write(&[
            ticket,
            &d.at.format("%Y-%m-%d %H:%M:%S").to_string(),
            d.category.label(),
            CHANNELS[self.channel_pick.sample(rng)].0,
            &address,
            &lon,
            &lat,
            h.status,
            h.satisfaction,
            &caller,
            &phone,
            &text,
            &stamp(h.closed_at),
            &stamp(h.responded_at),
        ])?;
        let (building_id, unit_id) = if compound_level {
            (String::new(), String::new())
        } else {
            (building.id.to_string(), unit.id.to_string())
        };
        truth.write_record([
            ticket,
            &e.compound.id.to_string(),
            &building_id,
            &unit_id,
            form,
        ])?;
        Ok(with_gps)
    }

    /// The address as the caller says it, its form, and whether it names only the compound.
    fn address<R: Rng>(
        &self,
        rng: &mut R,
        d: &Draft,
        e: &Estate,
        building: &crate::model::Building,
    ) -> (String, &'static str, bool) {
        let unit = &self.estates.units[d.unit as usize];
        let shape = self.estates.unit_shapes[d.unit as usize];
        let floor = rng.gen_range(1..=shape.floors.max(1));
        let room = format!("{}{:02}", floor, rng.gen_range(1..=shape.per_floor.max(1)));
        let place = Place {
            district: &self.districts[e.district_idx].district.name,
            street: &self.streets[e.street_idx].street.name,
            compound: spoken_name(rng, &e.compound),
            building: building.name.trim_end_matches("号楼"),
            unit: unit.name.trim_end_matches("单元"),
            room,
        };
        let roll: f64 = rng.gen();
        let compound_level = matches!(
            d.category,
            Category::Order | Category::Fees | Category::Committee | Category::Greening
        ) && rng.gen_bool(0.05);
        let (address, form) = place.spoken(roll, compound_level);
        (address, form, compound_level)
    }

    /// One time in five a GPS fix near the unit: longitude and latitude as written.
    fn gps<R: Rng>(&self, rng: &mut R, unit: &crate::model::Unit) -> Option<(String, String)> {
        if rng.gen_bool(0.2) {
            let dx = self.gps_noise.sample(rng) / (111_320.0 * unit.geom.y().to_radians().cos());
            let dy = self.gps_noise.sample(rng) / 110_574.0;
            Some((
                format!("{:.6}", unit.geom.x() + dx),
                format!("{:.6}", unit.geom.y() + dy),
            ))
        } else {
            None
        }
    }

    /// The ticket's status and satisfaction: closed or returned before the export date, open after.
    fn status<R: Rng>(&self, rng: &mut R, date: NaiveDate) -> (&'static str, &'static str) {
        if date < self.close {
            if rng.gen_bool(0.97) {
                ("已办结", SATISFACTION[self.sat_pick.sample(rng)].0)
            } else {
                ("已退回", "")
            }
        } else {
            ("办理中", "")
        }
    }
}

impl Records<'_> {
    /// The ticket's handling: hours to a first response and to closing drawn log-normally
    /// (medians 2 h and 60 h), slower in compounds that draw many complaints (up to 2.5× in
    /// the hottest) and quicker from the campaign's start (×0.6); a ticket not closed by the
    /// export's time is still open, and so are 1–3% of older ones (more in hot compounds);
    /// callers of hot compounds are less often satisfied, and more often after the campaign.
    fn handling(
        &self,
        side: &mut impl Rng,
        at: NaiveDateTime,
        e: &Estate,
        status: &'static str,
        satisfaction: &'static str,
    ) -> Handling {
        let heat = (e.hot.max(1.0).ln() / 9.0f64.ln()).clamp(0.0, 1.0);
        let after = at >= campaign_start();
        let pace = (1.0 + 1.5 * heat) * if after { 0.6 } else { 1.0 };
        let hours = |h: f64| chrono::Duration::seconds((h * 3600.0).round() as i64);
        let response = self.response_hours.sample(side) * pace;
        let closing = response + self.closing_hours.sample(side) * pace;
        let export = export_time();
        let responded_at = Some(at + hours(response)).filter(|t| *t < export);
        let closed = at + hours(closing);
        let stuck = side.gen_bool(0.01 + 0.02 * heat);
        if status != "已办结" || closed >= export || stuck {
            let status = if status == "已退回" {
                status
            } else {
                "办理中"
            };
            return Handling {
                status,
                satisfaction: "",
                closed_at: None,
                responded_at,
            };
        }
        let satisfaction = match satisfaction {
            "满意" | "基本满意" if side.gen_bool(if after { 0.1 } else { 0.35 } * heat) => {
                "不满意"
            }
            "不满意" if after && side.gen_bool(0.4) => "满意",
            s => s,
        };
        Handling {
            status,
            satisfaction,
            closed_at: Some(closed),
            responded_at,
        }
    }
}

/// The caller's name and phone, and what they said (now and then with the name and phone in it).
fn said<R: Rng>(rng: &mut R, category: Category) -> (String, String, String) {
    let caller = names::person(rng);
    let phone = names::phone(rng);
    let text = content(rng, category);
    let text = if rng.gen_bool(0.1) {
        format!("我是{caller}，电话{phone}，{text}")
    } else {
        text.to_string()
    };
    (caller, phone, text)
}

/// The export (re-encoded when GBK) and the truth file, each with its header row.
fn create_outputs(
    out_dir: &Path,
    encoding: Encoding,
) -> anyhow::Result<(ExportWriter, csv::Writer<std::fs::File>)> {
    let suffix = if encoding == Encoding::Gbk {
        ".gbk"
    } else {
        ""
    };
    let export = ExportWriter::create(&out_dir.join(format!("complaints{suffix}.csv")), encoding)?;
    let mut truth = csv::Writer::from_path(out_dir.join("complaints_truth.csv"))?;
    truth.write_record([
        "ticket_id",
        "compound_id",
        "building_id",
        "unit_id",
        "address_form",
    ])?;
    Ok((export, truth))
}

#[allow(clippy::too_many_arguments)]
pub fn generate<R: Rng>(
    rng: &mut R,
    scale: f64,
    districts: &[DistrictCtx],
    streets: &[StreetCtx],
    estates: &Estates,
    out_dir: &Path,
    encoding: Encoding,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Summary> {
    let n = (COMPLAINTS * scale).round() as usize;
    let drafts = Pickers::new(rng, districts, estates)?.drafts(rng, n, estates);
    progress.set_length(n as u64);

    let (mut export, mut truth) = create_outputs(out_dir, encoding)?;
    let records = Records::new(districts, streets, estates)?;
    // The handling's own draws (see `Records::write`), seeded from the number of complaints
    // (not from `rng`, whose draws stay as they were).
    let mut side = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(
        0x4841_4E44 ^ (n as u64).rotate_left(17),
    );
    let mut with_gps = 0;
    let mut tickets = Tickets(NaiveDate::MIN, 0);
    for (i, d) in drafts.iter().enumerate() {
        if i % 8192 == 0 {
            progress.set_position(i as u64);
        }
        let ticket = tickets.next(d.at.date());
        if records.write(rng, &mut side, d, &ticket, &mut export, &mut truth)? {
            with_gps += 1;
        }
    }
    export.finish()?;
    truth.flush()?;
    progress.set_position(n as u64);
    Ok(Summary {
        complaints: n,
        with_gps,
    })
}
