//! The embedded store: the data directory's FlatGeobuf layers held in memory with R-tree
//! indexes, and the complaints reduced to monthly statistics. Reads take a snapshot (`Arc`)
//! and never wait for a writer; every write makes new files under a new generation, renames
//! the manifest into place last, and then swaps the snapshot in.

use super::{sort_hits, Area, Bbox, ComplaintImport, Hit, ImportReport, Store, StoreError};
use crate::io::{self, manifest::Manifest, Record};
use crate::model::company_list::CompanyOverride;
use crate::model::grade::Override;
use crate::model::handling::Scale;
use crate::model::stats::Stats;
use crate::model::{Building, Complaint, ComplaintContact, Compound, Counts, Dataset, Layer, Unit};
use async_trait::async_trait;
use geo::BoundingRect;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

type BoxTree = RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>;

/// One consistent state of the store.
struct Snapshot {
    manifest: Manifest,
    data: Arc<Dataset>,
    compound_index: HashMap<i64, usize>,
    compound_tree: BoxTree,
    buildings_by_compound: HashMap<i64, Vec<usize>>,
    units_by_building: HashMap<i64, Vec<usize>>,
    stats: Arc<Stats>,
    overrides: Arc<Overrides>,
}

/// The two audit trails: grade overrides and company list overrides.
#[derive(Default, Clone)]
struct Overrides {
    grades: Vec<Override>,
    companies: Vec<CompanyOverride>,
}

impl Snapshot {
    fn build(
        manifest: Manifest,
        data: Arc<Dataset>,
        stats: Arc<Stats>,
        overrides: Arc<Overrides>,
    ) -> Snapshot {
        let compound_index = data
            .compounds
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id, i))
            .collect();
        let boxes = data
            .compounds
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let r = c.geom.bounding_rect()?;
                Some(GeomWithData::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    i,
                ))
            })
            .collect();
        let mut buildings_by_compound: HashMap<i64, Vec<usize>> = HashMap::new();
        for (i, b) in data.buildings.iter().enumerate() {
            buildings_by_compound
                .entry(b.compound_id)
                .or_default()
                .push(i);
        }
        let mut units_by_building: HashMap<i64, Vec<usize>> = HashMap::new();
        for (i, u) in data.units.iter().enumerate() {
            units_by_building.entry(u.building_id).or_default().push(i);
        }
        Snapshot {
            manifest,
            compound_tree: RTree::bulk_load(boxes),
            compound_index,
            buildings_by_compound,
            units_by_building,
            data,
            stats,
            overrides,
        }
    }
}

pub struct EmbeddedStore {
    dir: PathBuf,
    snapshot: RwLock<Arc<Snapshot>>,
    writer: tokio::sync::Mutex<()>,
    versions: super::Versions,
    /// The export's words for closed and for each rating.
    scale: Scale,
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn read_overrides<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, StoreError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| corrupt(format!("{}: cannot read: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        corrupt(format!(
            "{}: not a valid override list: {e}",
            path.display()
        ))
    })
}

/// The monthly tables of the stored complaints: from the statistics file while the complaints
/// file still has the digest it was tabled from, else tabled from the complaints themselves.
fn read_stats(dir: &Path, m: &Manifest, scale: &Scale) -> Result<Stats, StoreError> {
    let started = std::time::Instant::now();
    let Some(complaints) = &m.complaints else {
        return Ok(Stats::default());
    };
    let complaints = dir.join(complaints);
    // The complaints file's digest, read once: to check the statistics file, and to write it
    // anew when it does not hold.
    let now = m.stats.as_ref().map(|_| {
        io::stats::source(&complaints, scale)
            .map_err(|e| format!("{}: cannot read: {e}", complaints.display()))
    });
    if let (Some(f), Some(now)) = (&m.stats, &now) {
        let kept = io::stats::read(&dir.join(f)).and_then(|(stats, source)| {
            let now = now.as_ref().map_err(Clone::clone)?;
            if *now == source {
                Ok(stats)
            } else {
                Err(format!(
                    "{} (or the handling scale) changed since its statistics were tabled",
                    complaints.display()
                ))
            }
        });
        match kept {
            Ok(stats) => {
                tracing::debug!(
                    ms = started.elapsed().as_millis() as u64,
                    clock_bytes = stats.clock.heap_bytes(),
                    rss_mb = crate::io::resident_mb(),
                    "statistics read"
                );
                return Ok(stats);
            }
            Err(e) => tracing::warn!("{e}: tabling the statistics from the complaints again"),
        }
    }
    let mut facts = Vec::new();
    io::complaints::read_facts(&complaints, scale, |x| facts.push(x)).map_err(corrupt)?;
    let stats = Stats::from_facts(&facts);
    tracing::debug!(
        facts = facts.len(),
        ms = started.elapsed().as_millis() as u64,
        clock_bytes = stats.clock.heap_bytes(),
        "statistics tabled from the complaints"
    );
    // Kept for the next open (the manifest already names the file; it is replaced whole, by a
    // rename). A store on a read-only disk tables again at each open, and says so.
    if let (Some(f), Some(now)) = (&m.stats, &now) {
        let written = now.as_ref().map_err(Clone::clone).and_then(|source| {
            io::stats::write(&dir.join(f), &stats, source).map_err(|e| e.to_string())
        });
        if let Err(e) = written {
            tracing::warn!(
                "{}: cannot keep the statistics tabled again ({e}): the next open tables them again",
                dir.join(f).display()
            );
        }
    }
    Ok(stats)
}

impl EmbeddedStore {
    /// Opens a data directory with the default handling scale (see [`EmbeddedStore::open_with`]).
    pub fn open(dir: &Path) -> Result<EmbeddedStore, StoreError> {
        EmbeddedStore::open_with(dir, Scale::default())
    }

    /// Opens a data directory, reading the complaints' handling through `scale`. A missing or
    /// unreadable manifest or layer is an error naming the file; an empty directory is an
    /// empty store (a manifest is written on first import).
    pub fn open_with(dir: &Path, scale: Scale) -> Result<EmbeddedStore, StoreError> {
        std::fs::create_dir_all(dir)?;
        let (manifest, data, stats, overrides) = if Manifest::exists(dir) {
            let m = Manifest::read(dir).map_err(StoreError::Corrupt)?;
            let (data, stats) = std::thread::scope(|scope| {
                let stats = scope.spawn(|| read_stats(dir, &m, &scale));
                let data = io::dataset::read(dir, &m).map_err(corrupt);
                (
                    data,
                    stats
                        .join()
                        .unwrap_or_else(|_| Err(corrupt("statistics reader panicked"))),
                )
            });
            let data = data?;
            data.check_references()
                .map_err(|e| StoreError::Corrupt(format!("{}: {e}", dir.display())))?;
            let overrides = Overrides {
                grades: match &m.overrides {
                    Some(f) => read_overrides(&dir.join(f))?,
                    None => Vec::new(),
                },
                companies: match &m.company_overrides {
                    Some(f) => read_overrides(&dir.join(f))?,
                    None => Vec::new(),
                },
            };
            (m, data, stats?, overrides)
        } else {
            (
                Manifest {
                    format: 1,
                    ..Manifest::default()
                },
                Dataset::default(),
                Stats::default(),
                Overrides::default(),
            )
        };
        Ok(EmbeddedStore {
            dir: dir.to_path_buf(),
            snapshot: RwLock::new(Arc::new(Snapshot::build(
                manifest,
                Arc::new(data),
                Arc::new(stats),
                Arc::new(overrides),
            ))),
            writer: tokio::sync::Mutex::new(()),
            versions: super::Versions::default(),
            scale,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn snap(&self) -> Arc<Snapshot> {
        match self.snapshot.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Makes `next` current: the manifest is renamed into place (the commit point), files of
    /// the old generation that the new manifest no longer names are removed, the snapshot swapped.
    /// `geography`: whether the layers changed (else only complaints or overrides did).
    fn commit(&self, old: &Manifest, next: Snapshot, geography: bool) -> Result<(), StoreError> {
        next.manifest.write(&self.dir)?;
        let names = |m: &Manifest| -> Vec<String> {
            m.layers
                .values()
                .cloned()
                .chain(m.complaints.clone())
                .chain(m.contacts.clone())
                .chain(m.overrides.clone())
                .chain(m.company_overrides.clone())
                .chain(m.stats.clone())
                .collect()
        };
        let keep = names(&next.manifest);
        for f in names(old).into_iter().filter(|f| !keep.contains(f)) {
            let _ = std::fs::remove_file(self.dir.join(f));
        }
        let next = Arc::new(next);
        match self.snapshot.write() {
            Ok(mut g) => *g = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
        if geography {
            self.versions.geography_changed();
        } else {
            self.versions.facts_changed();
        }
        Ok(())
    }
}

/// Upserts `incoming` into `base` by key, keeping the base order and appending new records.
/// Returns (records offered, records inserted or changed).
fn merge<T: PartialEq>(
    base: &mut Vec<T>,
    incoming: Vec<T>,
    key: impl Fn(&T) -> String,
) -> (usize, usize) {
    let n = incoming.len();
    let mut changed = 0;
    let mut at: HashMap<String, usize> =
        base.iter().enumerate().map(|(i, r)| (key(r), i)).collect();
    for rec in incoming {
        let k = key(&rec);
        if let Some(&i) = at.get(&k) {
            if base[i] != rec {
                base[i] = rec;
                changed += 1;
            }
        } else {
            at.insert(k, base.len());
            base.push(rec);
            changed += 1;
        }
    }
    (n, changed)
}

fn same_content(a: &Complaint, b: &Complaint) -> bool {
    a.received_at == b.received_at
        && a.category == b.category
        && a.channel == b.channel
        && a.address == b.address
        && a.lon == b.lon
        && a.lat == b.lat
        && a.status == b.status
        && a.satisfaction == b.satisfaction
        && a.closed_at == b.closed_at
        && a.responded_at == b.responded_at
}

#[async_trait]
impl Store for EmbeddedStore {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    fn version(&self) -> u64 {
        self.versions.data()
    }

    fn geography_version(&self) -> u64 {
        self.versions.geography()
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        let s = self.snap();
        let d = &s.data;
        Ok(Counts {
            districts: d.districts.len() as i64,
            streets: d.streets.len() as i64,
            companies: d.companies.len() as i64,
            compounds: d.compounds.len() as i64,
            buildings: d.buildings.len() as i64,
            units: d.units.len() as i64,
            households: d.compounds.iter().map(|c| i64::from(c.households)).sum(),
            complaints: s.stats.total as i64,
        })
    }

    async fn import(&self, incoming: Dataset) -> Result<ImportReport, StoreError> {
        let _guard = self.writer.lock().await;
        let current = self.snap();
        let mut data = (*current.data).clone();
        let mut report = ImportReport::default();
        let mut put = |layer: Layer, (read, changed): (usize, usize)| {
            if read > 0 {
                report.read.insert(layer, read);
                report.changed.insert(layer, changed);
            }
        };
        put(
            Layer::Districts,
            merge(&mut data.districts, incoming.districts, Record::key),
        );
        put(
            Layer::Streets,
            merge(&mut data.streets, incoming.streets, Record::key),
        );
        put(
            Layer::Companies,
            merge(&mut data.companies, incoming.companies, |c| {
                c.id.to_string()
            }),
        );
        put(
            Layer::Compounds,
            merge(&mut data.compounds, incoming.compounds, Record::key),
        );
        put(
            Layer::Buildings,
            merge(&mut data.buildings, incoming.buildings, Record::key),
        );
        put(
            Layer::Units,
            merge(&mut data.units, incoming.units, Record::key),
        );
        data.check_references().map_err(StoreError::Rejected)?;
        if report.changed.values().all(|n| *n == 0) {
            return Ok(report);
        }
        let dir = self.dir.clone();
        let generation = current.manifest.generation.max(1) + 1;
        let old = current.manifest.clone();
        let (data, manifest) =
            tokio::task::spawn_blocking(move || -> Result<(Dataset, Manifest), StoreError> {
                let written = io::dataset::write(&dir, &data, generation).map_err(corrupt)?;
                let mut m = old;
                m.format = 1;
                m.generation = generation;
                m.layers = written.layers;
                m.checked = written.checked;
                Ok((data, m))
            })
            .await
            .map_err(|e| StoreError::Io(std::io::Error::other(e)))??;
        let next = Snapshot::build(
            manifest,
            Arc::new(data),
            Arc::clone(&current.stats),
            Arc::clone(&current.overrides),
        );
        self.commit(&current.manifest, next, true)?;
        Ok(report)
    }

    async fn compound(&self, id: i64) -> Result<Option<Compound>, StoreError> {
        let s = self.snap();
        Ok(s.compound_index
            .get(&id)
            .map(|&i| s.data.compounds[i].clone()))
    }

    async fn compounds_in_bbox(
        &self,
        bbox: Bbox,
        limit: usize,
    ) -> Result<Vec<Compound>, StoreError> {
        let s = self.snap();
        let env = AABB::from_corners([bbox[0], bbox[1]], [bbox[2], bbox[3]]);
        let mut hits: Vec<&Compound> = s
            .compound_tree
            .locate_in_envelope_intersecting(&env)
            .map(|g| &s.data.compounds[g.data])
            .collect();
        hits.sort_by_key(|c| c.id);
        Ok(hits.into_iter().take(limit).cloned().collect())
    }

    async fn find_compounds(
        &self,
        area: &Area,
        only: Option<&[i64]>,
        limit: usize,
    ) -> Result<Vec<Hit>, StoreError> {
        use crate::geodesy;
        use geo::Intersects;
        let s = self.snap();
        let only: Option<std::collections::HashSet<i64>> =
            only.map(|v| v.iter().copied().collect());
        let rect = match area {
            Area::Near { point, radius_m } => Some(geodesy::search_box(*point, *radius_m)),
            Area::Bbox(b) => Some(geo_types::Rect::new(
                geo_types::coord! { x: b[0], y: b[1] },
                geo_types::coord! { x: b[2], y: b[3] },
            )),
            Area::Polygon(mp) => mp.bounding_rect(),
            Area::Corridor { line, distance_m } => {
                line.bounding_rect().map(|r| geodesy::grow(r, *distance_m))
            }
        };
        let Some(rect) = rect else {
            return Ok(Vec::new());
        };
        let env = AABB::from_corners([rect.min().x, rect.min().y], [rect.max().x, rect.max().y]);
        let mut hits = Vec::new();
        for g in s.compound_tree.locate_in_envelope_intersecting(&env) {
            let c = &s.data.compounds[g.data];
            if only.as_ref().is_some_and(|o| !o.contains(&c.id)) {
                continue;
            }
            let found = match area {
                Area::Near { point, radius_m } => {
                    let d = geodesy::point_to_polygon(*point, &c.geom);
                    (d <= *radius_m).then_some(Some(d))
                }
                Area::Bbox(_) => rect.intersects(&c.geom).then_some(None),
                Area::Polygon(mp) => mp.intersects(&c.geom).then_some(None),
                Area::Corridor { line, distance_m } => {
                    let d = geodesy::polygon_to_line(&c.geom, line);
                    (d <= *distance_m).then_some(Some(d))
                }
            };
            if let Some(distance_m) = found {
                hits.push(Hit {
                    id: c.id,
                    distance_m,
                });
            }
        }
        sort_hits(&mut hits, limit);
        Ok(hits)
    }

    async fn buildings_of(&self, compound_id: i64) -> Result<Vec<Building>, StoreError> {
        let s = self.snap();
        let mut out: Vec<Building> = s
            .buildings_by_compound
            .get(&compound_id)
            .map(|v| v.iter().map(|&i| s.data.buildings[i].clone()).collect())
            .unwrap_or_default();
        out.sort_by_key(|b| b.id);
        Ok(out)
    }

    async fn units_of(&self, building_id: i64) -> Result<Vec<Unit>, StoreError> {
        let s = self.snap();
        let mut out: Vec<Unit> = s
            .units_by_building
            .get(&building_id)
            .map(|v| v.iter().map(|&i| s.data.units[i].clone()).collect())
            .unwrap_or_default();
        out.sort_by_key(|u| u.id);
        Ok(out)
    }

    async fn geography(&self) -> Result<Arc<Dataset>, StoreError> {
        Ok(Arc::clone(&self.snap().data))
    }

    async fn import_complaints(
        &self,
        rows: Vec<(Complaint, ComplaintContact)>,
    ) -> Result<ComplaintImport, StoreError> {
        let _guard = self.writer.lock().await;
        let current = self.snap();
        let dir = self.dir.clone();
        let old = current.manifest.clone();
        let scale = self.scale.clone();
        type Outcome = (Option<Manifest>, Stats, ComplaintImport);
        let (manifest, stats, report) =
            tokio::task::spawn_blocking(move || -> Result<Outcome, StoreError> {
                // What is stored already of the tickets offered, to tell repeats from
                // conflicts (only those kept: every stored complaint by ticket was a tenth of
                // a month's import into the full city).
                let offered: std::collections::HashSet<&str> =
                    rows.iter().map(|(c, _)| c.ticket_id.as_str()).collect();
                let mut stored: HashMap<String, Complaint> = HashMap::new();
                let mut facts = Vec::new();
                if let Some(f) = &old.complaints {
                    io::complaints::read_complaints(&dir.join(f), |c| {
                        facts.push(io::complaints::fact(&c, &scale));
                        if offered.contains(c.ticket_id.as_str()) {
                            stored.insert(c.ticket_id.clone(), c);
                        }
                    })
                    .map_err(corrupt)?;
                }
                drop(offered);
                let mut report = ComplaintImport::default();
                let mut new_rows = Vec::new();
                let mut new_contacts = Vec::new();
                for (c, contact) in rows {
                    match stored.get(&c.ticket_id) {
                        Some(s) if same_content(s, &c) => report.unchanged += 1,
                        Some(_) => report.conflicts.push(c.ticket_id.clone()),
                        None => {
                            facts.push(io::complaints::fact(&c, &scale));
                            new_rows.push(c);
                            new_contacts.push(contact);
                        }
                    }
                }
                report.new = new_rows.len();
                if new_rows.is_empty() {
                    return Ok((None, Stats::default(), report));
                }
                let generation = old.generation.max(1) + 1;
                let cfile = format!("complaints.{generation}.csv");
                let pfile = format!("contacts.{generation}.csv");
                io::complaints::write_complaints(
                    &dir.join(&cfile),
                    old.complaints.as_ref().map(|f| dir.join(f)).as_deref(),
                    &new_rows,
                )
                .map_err(corrupt)?;
                io::complaints::write_contacts(
                    &dir.join(&pfile),
                    old.contacts.as_ref().map(|f| dir.join(f)).as_deref(),
                    &new_contacts,
                )
                .map_err(corrupt)?;
                let stats = Stats::from_facts(&facts);
                let sfile = format!("stats.{generation}.bin");
                let source = io::stats::source(&dir.join(&cfile), &scale)?;
                io::stats::write(&dir.join(&sfile), &stats, &source)?;
                let mut m = old;
                m.format = 1;
                m.generation = generation;
                m.complaints = Some(cfile);
                m.contacts = Some(pfile);
                m.stats = Some(sfile);
                Ok((Some(m), stats, report))
            })
            .await
            .map_err(|e| StoreError::Io(std::io::Error::other(e)))??;
        let Some(manifest) = manifest else {
            return Ok(report);
        };
        let next = Snapshot::build(
            manifest,
            Arc::clone(&current.data),
            Arc::new(stats),
            Arc::clone(&current.overrides),
        );
        self.commit(&current.manifest, next, false)?;
        Ok(report)
    }

    async fn stats(&self) -> Result<Arc<Stats>, StoreError> {
        Ok(Arc::clone(&self.snap().stats))
    }

    async fn overrides(&self) -> Result<Vec<Override>, StoreError> {
        Ok(self.snap().overrides.grades.clone())
    }

    async fn add_override(&self, o: Override) -> Result<(), StoreError> {
        let _guard = self.writer.lock().await;
        let current = self.snap();
        if !current.compound_index.contains_key(&o.compound_id) {
            return Err(StoreError::Rejected(format!(
                "compound {} does not exist",
                o.compound_id
            )));
        }
        let mut all = (*current.overrides).clone();
        all.grades.push(o);
        self.write_overrides(&current, all, false)
    }

    async fn company_overrides(&self) -> Result<Vec<CompanyOverride>, StoreError> {
        Ok(self.snap().overrides.companies.clone())
    }

    async fn add_company_override(&self, o: CompanyOverride) -> Result<(), StoreError> {
        let _guard = self.writer.lock().await;
        let current = self.snap();
        if !current.data.companies.iter().any(|c| c.id == o.company_id) {
            return Err(StoreError::Rejected(format!(
                "company {} does not exist",
                o.company_id
            )));
        }
        let mut all = (*current.overrides).clone();
        all.companies.push(o);
        self.write_overrides(&current, all, true)
    }
}

impl EmbeddedStore {
    /// Makes `all` the store's overrides: the trail that changed (the companies' or the
    /// grades') is written under a new generation's file name, named in a new manifest and
    /// committed.
    fn write_overrides(
        &self,
        current: &Snapshot,
        all: Overrides,
        companies: bool,
    ) -> Result<(), StoreError> {
        let generation = current.manifest.generation.max(1) + 1;
        let (stem, text) = if companies {
            (
                "company_overrides",
                serde_json::to_string_pretty(&all.companies),
            )
        } else {
            ("overrides", serde_json::to_string_pretty(&all.grades))
        };
        let text = text.map_err(std::io::Error::other)?;
        let file = format!("{stem}.{generation}.json");
        let tmp = self.dir.join(format!("{file}.tmp"));
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, self.dir.join(&file))?;
        let mut m = current.manifest.clone();
        m.format = 1;
        m.generation = generation;
        if companies {
            m.company_overrides = Some(file);
        } else {
            m.overrides = Some(file);
        }
        let next = Snapshot::build(
            m,
            Arc::clone(&current.data),
            Arc::clone(&current.stats),
            Arc::new(all),
        );
        self.commit(&current.manifest, next, false)
    }
}
