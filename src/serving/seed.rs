//! `atlas seed`: every tile of a zoom range over a box, built like served tiles and written to
//! an MBTiles (resumable) or PMTiles archive.

use super::archive::{self, Kind, Meta, TileXyz};
use super::service::{TileRequest, TileService};
use crate::analytics::{Atlas, Window};
use crate::model::Quarter;
use crate::tile::atlas::Audience;
use crate::tile::layers::TileLayer;
use crate::tile::mlt::Encoding;
use crate::tile::{Datum, Grid};
use futures_util::StreamExt;
use std::collections::HashSet;
use std::path::Path;

/// What to seed.
pub struct SeedPlan {
    pub minzoom: u8,
    pub maxzoom: u8,
    /// west, south, east, north (WGS84); default the city's extent.
    pub bbox: Option<[f64; 4]>,
    /// The complaint window (`YYYY-MM`); by default the last 12 months of data.
    pub from: Option<String>,
    pub to: Option<String>,
    /// The grade quarter (`YYYYQn`); by default the latest graded.
    pub period: Option<String>,
    /// Archives are public: small counts withheld under the configured `[privacy] min_count`.
    pub audience: Audience,
    /// MVT or MLT tiles.
    pub encoding: Encoding,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct SeedReport {
    pub tiles_considered: usize,
    pub tiles_written: usize,
    pub tiles_empty: usize,
    pub tiles_already_there: usize,
    pub bytes: usize,
    pub seconds: f64,
    pub tiles_per_second: f64,
}

fn tile_of(lon: f64, lat: f64, z: u8) -> (u64, u64) {
    let n = (1u64 << z) as f64;
    let lat = lat.clamp(-85.05, 85.05).to_radians();
    let x = ((lon + 180.0) / 360.0 * n).floor().clamp(0.0, n - 1.0) as u64;
    let y = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n)
        .floor()
        .clamp(0.0, n - 1.0) as u64;
    (x, y)
}

/// Every tile meeting `bounds` from `minzoom` to `maxzoom`.
fn tiles_over(bounds: [f64; 4], minzoom: u8, maxzoom: u8) -> Vec<(u8, u64, u64)> {
    let mut coords = Vec::new();
    for z in minzoom..=maxzoom {
        let (x0, y0) = tile_of(bounds[0], bounds[3], z);
        let (x1, y1) = tile_of(bounds[2], bounds[1], z);
        for x in x0..=x1 {
            for y in y0..=y1 {
                coords.push((z, x, y));
            }
        }
    }
    coords
}

/// The archive's metadata: what it holds, where, at which zooms, with its layers' fields.
fn meta(plan: &SeedPlan, bounds: [f64; 4], window: Window, period: Option<Quarter>) -> Meta {
    Meta {
        name: "atlas".into(),
        description: format!(
            "compound-atlas tiles, complaints {}..{}, grades {}",
            window.from,
            window.to,
            period.map(|q| q.to_string()).unwrap_or_default()
        ),
        attribution: "compound-atlas demo data".into(),
        bounds,
        center: [
            f64::midpoint(bounds[0], bounds[2]),
            f64::midpoint(bounds[1], bounds[3]),
            f64::from(plan.minzoom.max(10).min(plan.maxzoom)),
        ],
        minzoom: plan.minzoom,
        maxzoom: plan.maxzoom,
        encoding: plan.encoding,
        vector_layers: TileLayer::vector_layers(crate::tile::grid::MAX_ZOOM),
    }
}

/// Where seeded tiles go: an open MBTiles, or PMTiles tiles held until the end.
struct Sink {
    mb: Option<archive::MbTiles>,
    pm: Vec<(TileXyz, Vec<u8>)>,
}

impl Sink {
    /// Opens the archive `out`, with the tiles an existing MBTiles already holds.
    fn open(kind: Kind, out: &Path, meta: &Meta) -> anyhow::Result<(Sink, HashSet<TileXyz>)> {
        let (mb, have) = match kind {
            Kind::MbTiles => {
                let (m, have) = archive::MbTiles::open(out, meta)?;
                (Some(m), have)
            }
            Kind::PmTiles => (None, std::collections::HashSet::default()),
        };
        Ok((Sink { mb, pm: Vec::new() }, have))
    }

    /// Adds one gzipped tile.
    fn add(&mut self, (z, x, y): TileXyz, gz: Vec<u8>) -> anyhow::Result<()> {
        match self.mb.as_mut() {
            Some(m) => m.add(z, x, y, &gz)?,
            None => self.pm.push(((z, x, y), gz)),
        }
        Ok(())
    }

    /// Commits the MBTiles, or writes the PMTiles with every tile gathered.
    fn finish(self, out: &Path, meta: &Meta) -> anyhow::Result<()> {
        match self.mb {
            Some(m) => m.finish()?,
            None => archive::write_pmtiles(out, meta, self.pm)?,
        }
        Ok(())
    }
}

/// One seeding run's settings, shared by every tile it builds.
struct Seeding<'a> {
    atlas: &'a Atlas,
    service: &'a TileService,
    plan: &'a SeedPlan,
    window: Window,
    period: Option<Quarter>,
}

impl Seeding<'_> {
    /// The request for the tile at `z/x/y`.
    fn request(&self, (z, x, y): TileXyz) -> TileRequest {
        TileRequest {
            grid: Grid::WebMercatorQuad,
            z,
            x,
            y,
            window: self.window,
            period: self.period,
            datum: Datum::Wgs84,
            audience: self.plan.audience,
            encoding: self.plan.encoding,
            filter: None,
        }
    }

    /// Builds one tile and gzips it; `None` for an empty tile.
    async fn build(&self, (z, x, y): TileXyz) -> anyhow::Result<(u8, u64, u64, Option<Vec<u8>>)> {
        let req = self.request((z, x, y));
        // Compressed on the blocking pool too, beside the next tiles being built.
        let gz = match self.service.tile(self.atlas, &req).await? {
            Some(t) => Some(
                tokio::task::spawn_blocking(move || archive::gzip(&t.bytes))
                    .await
                    .map_err(std::io::Error::other)??,
            ),
            None => None,
        };
        anyhow::Ok((z, x, y, gz))
    }

    /// Builds the `todo` tiles four at a time into `sink`, counting them in `report`.
    async fn write(
        &self,
        todo: Vec<TileXyz>,
        sink: &mut Sink,
        report: &mut SeedReport,
        progress: bool,
    ) -> anyhow::Result<()> {
        let bar = if progress {
            indicatif::ProgressBar::new(todo.len() as u64)
        } else {
            indicatif::ProgressBar::hidden()
        };
        let mut stream =
            futures_util::stream::iter(todo.into_iter().map(|c| self.build(c))).buffer_unordered(4);
        while let Some(tile) = stream.next().await {
            bar.inc(1);
            let (z, x, y, Some(gz)) = tile? else {
                report.tiles_empty += 1;
                continue;
            };
            report.bytes += gz.len();
            report.tiles_written += 1;
            sink.add((z, x, y), gz)?;
        }
        bar.finish_and_clear();
        Ok(())
    }
}

/// The complaint window and grade quarter asked for, and the box to seed.
async fn resolve(
    atlas: &Atlas,
    service: &TileService,
    plan: &SeedPlan,
) -> anyhow::Result<(Window, Option<Quarter>, [f64; 4])> {
    // The city's index and the grades at once (each loads what it needs from the store, once).
    let (city, book, stats) =
        tokio::try_join!(service.city(atlas), atlas.grades(), atlas.store.stats())?;
    let window = Window::parse(
        plan.from.as_deref(),
        plan.to.as_deref(),
        stats.latest_month(),
    )
    .map_err(anyhow::Error::msg)?;
    let period = match &plan.period {
        Some(p) => Some(
            crate::analytics::grade::parse_period(Some(p), &book).map_err(anyhow::Error::msg)?,
        ),
        None => book.latest(),
    };
    let bounds = plan
        .bbox
        .or_else(|| city.bounds())
        .unwrap_or(crate::tile::grid::WORLD_BOUNDS);
    if !(bounds[0] < bounds[2] && bounds[1] < bounds[3]) {
        anyhow::bail!("--bbox must be west,south,east,north with west < east and south < north");
    }
    Ok((window, period, bounds))
}

/// Seeds `out`; `progress` shows a bar.
pub async fn seed(
    atlas: &Atlas,
    out: &Path,
    plan: &SeedPlan,
    progress: bool,
) -> anyhow::Result<SeedReport> {
    let kind = Kind::of(out)?;
    if plan.minzoom > plan.maxzoom || plan.maxzoom > 20 {
        anyhow::bail!(
            "zooms must satisfy minzoom <= maxzoom <= 20 (got {}..{})",
            plan.minzoom,
            plan.maxzoom
        );
    }
    let started = std::time::Instant::now();
    // Tiles are built on the blocking pool, four at a time, whatever their zoom.
    let service = TileService::batch();
    let (window, period, bounds) = resolve(atlas, &service, plan).await?;
    let coords = tiles_over(bounds, plan.minzoom, plan.maxzoom);
    let meta = meta(plan, bounds, window, period);
    let mut report = SeedReport {
        tiles_considered: coords.len(),
        ..SeedReport::default()
    };
    let (mut sink, have) = Sink::open(kind, out, &meta)?;
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "seeding starts");
    let todo: Vec<_> = coords.into_iter().filter(|c| !have.contains(c)).collect();
    report.tiles_already_there = report.tiles_considered - todo.len();
    let seeding = Seeding {
        atlas,
        service: &service,
        plan,
        window,
        period,
    };
    seeding
        .write(todo, &mut sink, &mut report, progress)
        .await?;
    sink.finish(out, &meta)?;
    report.seconds = started.elapsed().as_secs_f64();
    report.tiles_per_second =
        (report.tiles_written + report.tiles_empty) as f64 / report.seconds.max(1e-9);
    Ok(report)
}
