//! The embedded store: the data directory's FlatGeobuf layers held in memory with R-tree
//! indexes. Reads take a snapshot (`Arc`) and never wait for a writer; an import builds a new
//! snapshot, writes its files under a new generation, renames the manifest into place last,
//! and then swaps the snapshot in.

use super::{Bbox, ImportReport, Store, StoreError};
use crate::io::{self, manifest::Manifest, Record};
use crate::model::{Building, Compound, Counts, Dataset, Layer, Unit};
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
    generation: u64,
    data: Dataset,
    compound_index: HashMap<i64, usize>,
    compound_tree: BoxTree,
    buildings_by_compound: HashMap<i64, Vec<usize>>,
    units_by_building: HashMap<i64, Vec<usize>>,
}

impl Snapshot {
    fn build(generation: u64, data: Dataset) -> Snapshot {
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
            generation,
            compound_tree: RTree::bulk_load(boxes),
            compound_index,
            buildings_by_compound,
            units_by_building,
            data,
        }
    }
}

pub struct EmbeddedStore {
    dir: PathBuf,
    snapshot: RwLock<Arc<Snapshot>>,
    writer: tokio::sync::Mutex<()>,
}

impl EmbeddedStore {
    /// Opens a data directory. A missing or unreadable manifest or layer is an error naming the
    /// file; an empty directory is an empty store (a manifest is written on first import).
    pub fn open(dir: &Path) -> Result<EmbeddedStore, StoreError> {
        std::fs::create_dir_all(dir)?;
        let (generation, data) = if Manifest::exists(dir) {
            let m = Manifest::read(dir).map_err(StoreError::Corrupt)?;
            let data =
                io::dataset::read(dir, &m).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            data.check_references()
                .map_err(|e| StoreError::Corrupt(format!("{}: {e}", dir.display())))?;
            (m.generation, data)
        } else {
            (0, Dataset::default())
        };
        Ok(EmbeddedStore {
            dir: dir.to_path_buf(),
            snapshot: RwLock::new(Arc::new(Snapshot::build(generation, data))),
            writer: tokio::sync::Mutex::new(()),
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
        match at.get(&k) {
            Some(&i) => {
                if base[i] != rec {
                    base[i] = rec;
                    changed += 1;
                }
            }
            None => {
                at.insert(k, base.len());
                base.push(rec);
                changed += 1;
            }
        }
    }
    (n, changed)
}

#[async_trait]
impl Store for EmbeddedStore {
    fn kind(&self) -> &'static str {
        "embedded"
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
            complaints: 0,
        })
    }

    async fn import(&self, incoming: Dataset) -> Result<ImportReport, StoreError> {
        let _guard = self.writer.lock().await;
        let current = self.snap();
        let mut data = current.data.clone();
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
        let generation = current.generation + 1;
        let (data, old) = tokio::task::spawn_blocking(
            move || -> Result<(Dataset, Option<Manifest>), StoreError> {
                let old = Manifest::read(&dir).ok();
                let mut m = io::dataset::write(&dir, &data, generation.max(2))
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                if let Some(o) = &old {
                    m.complaints_csv.clone_from(&o.complaints_csv);
                    m.complaints_truth.clone_from(&o.complaints_truth);
                    m.generator.clone_from(&o.generator);
                }
                m.write(&dir)?;
                Ok((data, old))
            },
        )
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(e)))??;
        // The new manifest is in place: the old generation's files are garbage now.
        if let (Some(old), Ok(new)) = (old, Manifest::read(&self.dir)) {
            for f in old
                .layers
                .values()
                .filter(|f| !new.layers.values().any(|x| x == *f))
            {
                let _ = std::fs::remove_file(self.dir.join(f));
            }
        }
        let snap = Arc::new(Snapshot::build(generation.max(2), data));
        match self.snapshot.write() {
            Ok(mut g) => *g = snap,
            Err(poisoned) => *poisoned.into_inner() = snap,
        }
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
}
