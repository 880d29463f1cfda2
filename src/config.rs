//! Configuration: one tree, resolved once. Precedence: command-line flags, then environment
//! (`DATABASE_URL`, `ATLAS_*`), then an optional TOML file (`--config`, `ATLAS_CONFIG`, or
//! `./atlas.toml` when present), then defaults.

use crate::model::encoding::TextEncoding as Encoding;
use clap::{Args, Parser, Subcommand};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "atlas",
    version,
    about = "compound-atlas: housing geography, complaints, grades and tiles for Qingdao"
)]
pub struct Cli {
    /// TOML configuration file (default: ./atlas.toml when it exists).
    #[arg(long, env = "ATLAS_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Log filter, e.g. `info` or `compound_atlas=debug`.
    #[arg(long, env = "ATLAS_LOG", global = true)]
    pub log: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve tiles, features and the map (the default command).
    Serve(ServeArgs),
    /// Generate the deterministic demo city of Qingdao.
    Generate(GenerateArgs),
    /// Load geodata (FlatGeobuf, GeoJSON, a generated dataset directory, companies CSV) into a store.
    Import(ImportArgs),
    /// Apply the PostGIS schema migrations.
    Migrate(StoreArgs),
    /// Recompute complaint statistics and red/yellow/blue grades; print a quarter's grades.
    Grade(GradeArgs),
    /// Pre-generate tiles into an MBTiles (resumable) or PMTiles archive.
    Seed(SeedArgs),
}

#[derive(Debug, Args, Clone)]
pub struct SeedArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The tileset (only `atlas`).
    #[arg(long, default_value = "atlas")]
    pub tileset: String,
    /// The archive: FILE.mbtiles or FILE.pmtiles.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 0)]
    pub minzoom: u8,
    #[arg(long, default_value_t = 14)]
    pub maxzoom: u8,
    /// west,south,east,north in WGS84 (default: the city's extent).
    #[arg(long, value_parser = parse_bbox)]
    pub bbox: Option<[f64; 4]>,
    /// Complaint window start, YYYY-MM (default: 11 months before `to`).
    #[arg(long)]
    pub from: Option<String>,
    /// Complaint window end, YYYY-MM (default: the last month of data).
    #[arg(long)]
    pub to: Option<String>,
    /// Grade quarter, YYYYQn (default: the latest).
    #[arg(long)]
    pub period: Option<String>,
    /// Tile encoding: `mvt` (Mapbox Vector Tiles) or `mlt` (MapLibre Tiles; PMTiles tile type
    /// MLT, MBTiles format `mlt`).
    #[arg(long, default_value = "mvt", value_parser = parse_encoding)]
    pub encoding: crate::model::encoding::Encoding,
}

fn parse_encoding(s: &str) -> Result<crate::model::encoding::Encoding, String> {
    crate::model::encoding::Encoding::parse(s)
        .ok_or_else(|| format!("`{s}`: the encoding is mvt or mlt"))
}

#[derive(Debug, Args, Clone)]
pub struct GradeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The quarter to print, as YYYYQn (default: the latest graded quarter).
    #[arg(long)]
    pub period: Option<String>,
}

#[derive(Debug, Args, Default, Clone)]
pub struct StoreArgs {
    /// Embedded data directory (default ./data; env ATLAS_DATA). Beats DATABASE_URL from the
    /// environment: a flag always wins over the environment.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// PostgreSQL/PostGIS URL (env DATABASE_URL); when set, PostGIS is the store.
    #[arg(long)]
    pub database_url: Option<String>,
}

#[derive(Debug, Args, Default, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on (default 127.0.0.1:8080; env ATLAS_BIND).
    #[arg(long)]
    pub bind: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct GenerateArgs {
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Size relative to the real city (1.0 = 4,200 compounds, 1.1 M complaints).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Random seed: the same seed gives the same city.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Text encoding of the complaint CSV (hotline exports are often GBK).
    #[arg(long, value_enum, default_value = "utf8")]
    pub encoding: Encoding,
}

#[derive(Debug, Args, Clone)]
pub struct ImportArgs {
    /// Files or dataset directories to load.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// The layer these files hold, when their names do not say it.
    #[arg(long, value_parser = parse_layer)]
    pub layer: Option<crate::model::Layer>,
    /// Re-wind polygon rings to RFC 7946 order instead of rejecting clockwise exteriors.
    #[arg(long)]
    pub reorient: bool,
    /// The CRS of the files (`EPSG:4549`, or `4549`), over what they declare: for a Shapefile
    /// without a `.prj` or with a wrong one, a FlatGeobuf file without a CRS. Coordinates in any
    /// CRS with an EPSG code are reprojected to longitude/latitude.
    #[arg(long, value_parser = parse_crs)]
    pub crs: Option<i32>,
    /// A field mapping (TOML: per layer, our field = the source field); see docs/import.md.
    #[arg(long)]
    pub mapping: Option<PathBuf>,
    /// Import nothing: print each file's layer, geometry, CRS, extent, count and fields with
    /// samples, and a proposed mapping to save and edit.
    #[arg(long)]
    pub inspect: bool,
    /// Text encoding of hotline exports and CSV geography tables (default: detected, UTF-8 or
    /// GBK).
    #[arg(long, value_enum)]
    pub encoding: Option<Encoding>,
    /// The datum of the files' coordinates: `gcj02` for coordinates taken from AMap or Tencent
    /// maps, `bd09` from Baidu; shifted back to WGS84 / CGCS2000 on import (default `wgs84`).
    #[arg(long, value_parser = parse_datum, default_value = "wgs84")]
    pub datum: crate::model::Datum,
    /// How far (metres) a unit point outside every building may be from the building it is
    /// linked to, when the source gives no building id.
    #[arg(long, default_value_t = 30.0, value_parser = parse_distance)]
    pub unit_distance: f64,
}

fn parse_datum(s: &str) -> Result<crate::model::Datum, String> {
    crate::model::Datum::parse(s)
        .ok_or_else(|| format!("`{s}` is not a datum: use wgs84 (or cgcs2000), gcj02 or bd09"))
}

fn parse_distance(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|d| d.is_finite() && (0.0..=1000.0).contains(d))
        .ok_or_else(|| format!("`{s}` is not a distance in metres from 0 to 1000"))
}

fn parse_crs(s: &str) -> Result<i32, String> {
    let code = crate::model::epsg_code(s)?;
    i32::try_from(code).map_err(|_| format!("`{s}` is not an EPSG code"))
}

fn parse_bbox(s: &str) -> Result<[f64; 4], String> {
    let v: Vec<f64> = s
        .split(',')
        .map(|x| {
            x.trim()
                .parse::<f64>()
                .map_err(|_| format!("`{x}` is not a number"))
        })
        .collect::<Result<_, _>>()?;
    match v.as_slice() {
        [w, s, e, n]
            if w < e
                && s < n
                && (-180.0..=180.0).contains(w)
                && (-180.0..=180.0).contains(e)
                && (-90.0..=90.0).contains(s)
                && (-90.0..=90.0).contains(n) =>
        {
            Ok([*w, *s, *e, *n])
        }
        [_, _, _, _] => Err(
            "expected west,south,east,north in degrees with west < east and south < north".into(),
        ),
        _ => Err(format!(
            "expected 4 numbers west,south,east,north, got {}",
            v.len()
        )),
    }
}

fn parse_layer(s: &str) -> Result<crate::model::Layer, String> {
    crate::model::Layer::from_name(s).ok_or_else(|| {
        "expected one of districts, streets, companies, compounds, buildings, units".to_string()
    })
}

pub const DEFAULT_SEED: u64 = 20_230_426;

/// The optional TOML file. Every field is optional; unknown fields are an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Address to listen on.
    pub bind: Option<String>,
    /// Embedded data directory.
    pub data: Option<PathBuf>,
    /// PostGIS URL.
    pub database_url: Option<String>,
    /// Log filter.
    pub log: Option<String>,
    #[serde(default)]
    pub postgis: PostgisFile,
    #[serde(default)]
    pub demo: DemoFile,
    /// The grading rule (see analytics::grade); every field optional.
    #[serde(default)]
    pub grading: Option<crate::model::grade::Rule>,
    /// The early-warning rule (see analytics::alerts); every field optional.
    #[serde(default)]
    pub alerts: crate::model::alert::AlertRule,
    /// The property companies' red and black list rule (see analytics::company_list).
    #[serde(default)]
    pub company_lists: crate::model::company_list::ListRule,
    /// Repeat complaints: their window in days and their weight in the grade.
    #[serde(default)]
    pub repeats: crate::model::repeat::RepeatRule,
    #[serde(default)]
    pub auth: AuthFile,
    #[serde(default)]
    pub privacy: PrivacyFile,
    #[serde(default)]
    pub tiles: TilesFile,
    #[serde(default)]
    pub basemap: BasemapFile,
    #[serde(default)]
    pub http: HttpFile,
    #[serde(default)]
    pub city: CityFile,
    /// The export's words for a closed ticket and for each rating (see model::handling).
    #[serde(default)]
    pub handling: crate::model::handling::Scale,
    /// The hot-spot statistics' default H3 resolution and rings.
    #[serde(default)]
    pub hotspots: HotspotsFile,
}

/// `[hotspots]`: the H3 resolution (5–11) and the rings of a cell's neighbourhood (1–3) that
/// `GET /api/hotspots` takes when not given and the tiles' `hotspots` layer is made at.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct HotspotsFile {
    pub res: u8,
    pub k: u32,
}

impl Default for HotspotsFile {
    fn default() -> Self {
        HotspotsFile { res: 9, k: 1 }
    }
}

impl HotspotsFile {
    /// A resolution or ring count out of range, named.
    pub fn check(&self) -> Result<(), String> {
        if !(5..=11).contains(&self.res) {
            return Err(format!(
                "[hotspots] res is an H3 resolution from 5 to 11, got {}",
                self.res
            ));
        }
        if !(1..=3).contains(&self.k) {
            return Err(format!(
                "[hotspots] k is a number of rings from 1 to 3, got {}",
                self.k
            ));
        }
        Ok(())
    }
}

/// The city served, as titles and the map name it (its extent and centre come from its data
/// unless given here).
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct CityFile {
    /// Its name in titles (`青岛市`, `Qingdao`); none: titles name no city.
    pub name: Option<String>,
    /// The map's starting centre, longitude and latitude (default: the median of the
    /// compounds' positions).
    pub center: Option<[f64; 2]>,
    /// Who the data is from, in TileJSON's attribution.
    pub attribution: Option<String>,
}

/// How the server protects itself and whom browsers may let call it.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct HttpFile {
    /// Requests answered at once (default 512); more wait up to 2 s, then get 503.
    pub max_concurrency: Option<usize>,
    /// The longest a request may take, in milliseconds (default 30000), then 503.
    pub request_timeout_ms: Option<u64>,
    /// Origins browsers may call this server from (CORS): `["*"]` (the default: the data is
    /// public map data), a list of origins, or `[]` for none.
    pub cors_origins: Option<Vec<String>>,
    /// Requests per second allowed to one client address (bursts of twice that); 0 or absent:
    /// no limit.
    pub rate_limit_per_second: Option<u32>,
    /// Take the client address from `X-Forwarded-For` (behind a trusted proxy).
    pub trust_forwarded_for: Option<bool>,
}

/// Keys of online basemaps for the map page. Without one the page draws a plain offline
/// background and no request leaves this server.
#[derive(Debug, Default, Deserialize, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct BasemapFile {
    /// Tianditu (天地图) browser key: vector basemap in WGS 84 / CGCS2000.
    pub tianditu_key: Option<String>,
    /// AMap (高德) key: its tiles are in GCJ-02, so the page asks for `datum=gcj02`.
    pub amap_key: Option<String>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct TilesFile {
    /// Size bound of the in-memory tile cache in MiB (default 256; 0 turns it off).
    pub cache_mb: Option<usize>,
    /// Where seeded archives (*.mbtiles, *.pmtiles) are served from (default `./tiles`).
    pub archive_dir: Option<PathBuf>,
}

/// Bearer tokens and their roles.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct AuthFile {
    #[serde(default)]
    pub tokens: Vec<TokenEntry>,
    /// Whether callers without a token may use the planner tools (compound detail, exports,
    /// route planning) — still with public privacy: small counts withheld. Default: open when
    /// no token is configured (the demo), closed as soon as one is.
    pub open_planner: Option<bool>,
}

#[derive(Debug, Deserialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    pub token: String,
    /// `planner` or `admin`.
    pub role: Role,
    /// Who holds it (recorded as the author of grade overrides).
    pub name: String,
}

/// What a caller may do: public (no token), planner (detail, exports, routes), admin (imports,
/// grade overrides). Each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Public,
    Planner,
    Admin,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyFile {
    /// Building- and unit-level counts below this are suppressed in public outputs (default 3).
    pub min_count: u64,
}

impl Default for PrivacyFile {
    fn default() -> Self {
        PrivacyFile { min_count: 3 }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgisFile {
    /// Pool size (default 16).
    pub max_connections: Option<u32>,
    /// How long a request waits for a connection, ms (default 3000).
    pub acquire_timeout_ms: Option<u64>,
    /// Statement timeout on every connection, ms (default 10000).
    pub statement_timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoFile {
    /// Scale of the demo city generated when the data directory is empty (default 1.0).
    pub scale: Option<f64>,
    /// Seed of the demo city.
    pub seed: Option<u64>,
}

impl FileConfig {
    /// Loads the file named by `--config`, or ./atlas.toml when it exists, or nothing.
    pub fn load(explicit: Option<&Path>) -> Result<FileConfig, String> {
        let path = if let Some(p) = explicit {
            p.to_path_buf()
        } else {
            let p = PathBuf::from("atlas.toml");
            if !p.exists() {
                return Ok(FileConfig::default());
            }
            p
        };
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let file: FileConfig =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        file.handling
            .check()
            .and_then(|()| file.hotspots.check())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        file.alerts
            .check()
            .and_then(|()| file.company_lists.check())
            .and_then(|()| file.repeats.check())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(file)
    }
}

/// Where the data lives.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreChoice {
    Embedded(PathBuf),
    Postgis(String),
}

/// Everything resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: String,
    pub store: StoreChoice,
    pub pool: PoolSettings,
    pub demo_scale: f64,
    pub demo_seed: u64,
    pub rule: crate::model::grade::Rule,
    /// `[alerts]`: the early-warning rule.
    pub alerts: crate::model::alert::AlertRule,
    /// `[handling]`: the export's words for closed and for each rating.
    pub handling: crate::model::handling::Scale,
    /// `[hotspots]`: the hot-spot statistics' default resolution and rings.
    pub hotspots: HotspotsFile,
    /// `[company_lists]`: the companies' red and black list rule.
    pub company_lists: crate::model::company_list::ListRule,
    pub tokens: Vec<TokenEntry>,
    /// `[auth] open_planner` (`ATLAS_OPEN_PLANNER`); None: open when no token is configured.
    pub open_planner: Option<bool>,
    pub min_count: u64,
    /// The city's name, centre and attribution (`[city]`).
    pub city: CityFile,
    /// Bound of the tile cache in bytes (0: no cache).
    pub tile_cache_bytes: usize,
    /// Online basemap keys for the map page (`ATLAS_TIANDITU_KEY`, `ATLAS_AMAP_KEY`).
    pub basemap: BasemapFile,
    /// Concurrency and time limits of requests.
    pub limits: Limits,
    /// CORS origins (`*` for any).
    pub cors_origins: Vec<String>,
    /// The directory of seeded archives to serve as tilesets.
    pub archive_dir: PathBuf,
    /// Requests per second per client address (0: no limit), and whether to trust
    /// `X-Forwarded-For` for the address.
    pub rate_limit: u32,
    pub trust_forwarded_for: bool,
}

impl Settings {
    /// Resolves flags > environment > file > defaults, reading the environment itself.
    pub fn resolve(args: &StoreArgs, bind: Option<&str>, file: &FileConfig) -> Settings {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Settings::resolve_with(args, bind, file, env)
    }

    /// [`Settings::resolve`] with the environment given (for tests).
    pub fn resolve_with(
        args: &StoreArgs,
        bind: Option<&str>,
        file: &FileConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> Settings {
        let store = Settings::resolve_store(args, file, &env);
        Settings {
            bind: bind
                .map(str::to_string)
                .or_else(|| env("ATLAS_BIND"))
                .or_else(|| file.bind.clone())
                .unwrap_or_else(|| "127.0.0.1:8080".into()),
            store,
            pool: Settings::resolve_pool(&file.postgis),
            demo_scale: file.demo.scale.unwrap_or(1.0),
            demo_seed: file.demo.seed.unwrap_or(DEFAULT_SEED),
            rule: file
                .grading
                .clone()
                .unwrap_or_default()
                .with_repeats(file.repeats),
            alerts: file.alerts.clone(),
            handling: file.handling.clone(),
            hotspots: file.hotspots,
            company_lists: file.company_lists.clone(),
            tokens: Settings::resolve_tokens(&file.auth, &env),
            open_planner: env("ATLAS_OPEN_PLANNER")
                .and_then(|v| match v.to_ascii_lowercase().as_str() {
                    "1" | "true" | "yes" | "on" => Some(true),
                    "0" | "false" | "no" | "off" => Some(false),
                    _ => None,
                })
                .or(file.auth.open_planner),
            min_count: file.privacy.min_count,
            city: file.city.clone(),
            tile_cache_bytes: env("ATLAS_TILE_CACHE_MB")
                .and_then(|v| v.parse().ok())
                .or(file.tiles.cache_mb)
                .unwrap_or(256)
                * 1024
                * 1024,
            basemap: BasemapFile {
                tianditu_key: env("ATLAS_TIANDITU_KEY")
                    .or_else(|| file.basemap.tianditu_key.clone()),
                amap_key: env("ATLAS_AMAP_KEY").or_else(|| file.basemap.amap_key.clone()),
            },
            limits: Settings::resolve_limits(&file.http),
            cors_origins: file
                .http
                .cors_origins
                .clone()
                .unwrap_or_else(|| vec!["*".into()]),
            archive_dir: file
                .tiles
                .archive_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("tiles")),
            rate_limit: file.http.rate_limit_per_second.unwrap_or(0),
            trust_forwarded_for: file.http.trust_forwarded_for.unwrap_or(false),
        }
    }

    /// The store: a flag of either kind beats the environment, which beats the file.
    fn resolve_store(
        args: &StoreArgs,
        file: &FileConfig,
        env: &impl Fn(&str) -> Option<String>,
    ) -> StoreChoice {
        if let Some(u) = &args.database_url {
            StoreChoice::Postgis(u.clone())
        } else if let Some(d) = &args.data {
            StoreChoice::Embedded(d.clone())
        } else if let Some(u) = env("DATABASE_URL") {
            StoreChoice::Postgis(u)
        } else if let Some(d) = env("ATLAS_DATA") {
            StoreChoice::Embedded(PathBuf::from(d))
        } else if let Some(u) = file.database_url.clone().filter(|u| !u.is_empty()) {
            StoreChoice::Postgis(u)
        } else {
            StoreChoice::Embedded(file.data.clone().unwrap_or_else(|| PathBuf::from("data")))
        }
    }

    /// The PostGIS pool settings of `[postgis]`, defaults filling what it leaves out.
    fn resolve_pool(postgis: &PostgisFile) -> PoolSettings {
        let defaults = PoolSettings::default();
        PoolSettings {
            max_connections: postgis.max_connections.unwrap_or(defaults.max_connections),
            acquire_timeout: postgis
                .acquire_timeout_ms
                .map_or(defaults.acquire_timeout, Duration::from_millis),
            statement_timeout: postgis
                .statement_timeout_ms
                .map_or(defaults.statement_timeout, Duration::from_millis),
        }
    }

    /// The tokens of `[auth]`, then the admin and planner tokens of the environment.
    fn resolve_tokens(auth: &AuthFile, env: &impl Fn(&str) -> Option<String>) -> Vec<TokenEntry> {
        let mut t = auth.tokens.clone();
        if let Some(token) = env("ATLAS_ADMIN_TOKEN") {
            t.push(TokenEntry {
                token,
                role: Role::Admin,
                name: "admin".into(),
            });
        }
        if let Some(token) = env("ATLAS_PLANNER_TOKEN") {
            t.push(TokenEntry {
                token,
                role: Role::Planner,
                name: "planner".into(),
            });
        }
        t
    }

    /// The request limits of `[http]`, defaults filling what it leaves out.
    fn resolve_limits(http: &HttpFile) -> Limits {
        let d = Limits::default();
        Limits {
            max_concurrency: http.max_concurrency.unwrap_or(d.max_concurrency).max(1),
            queue_wait: d.queue_wait,
            request_timeout: http
                .request_timeout_ms
                .map_or(d.request_timeout, Duration::from_millis),
        }
    }
}

/// The PostGIS store's connection settings.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: std::time::Duration,
    pub statement_timeout: std::time::Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 16,
            acquire_timeout: std::time::Duration::from_secs(3),
            statement_timeout: std::time::Duration::from_secs(10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_environment_which_beats_the_file() {
        let file: FileConfig = toml::from_str(
            "bind = \"0.0.0.0:9\"\ndata = \"/srv/a\"\ndatabase_url = \"postgres://file\"\n[postgis]\nmax_connections = 4",
        )
        .unwrap();
        let no_env = |_: &str| None;
        let pg_env = |k: &str| (k == "DATABASE_URL").then(|| "postgres://env".to_string());
        let data_flag = StoreArgs {
            data: Some("/x".into()),
            database_url: None,
        };
        let s = Settings::resolve_with(&data_flag, None, &file, pg_env);
        assert_eq!(
            s.store,
            StoreChoice::Embedded("/x".into()),
            "--data beats DATABASE_URL"
        );
        assert_eq!(s.bind, "0.0.0.0:9");
        assert_eq!(s.pool.max_connections, 4);
        let s = Settings::resolve_with(&StoreArgs::default(), None, &file, pg_env);
        assert_eq!(
            s.store,
            StoreChoice::Postgis("postgres://env".into()),
            "env beats the file"
        );
        let s = Settings::resolve_with(&StoreArgs::default(), Some("127.0.0.1:1"), &file, no_env);
        assert_eq!(s.bind, "127.0.0.1:1");
        assert_eq!(s.store, StoreChoice::Postgis("postgres://file".into()));
        let s = Settings::resolve_with(&StoreArgs::default(), None, &FileConfig::default(), no_env);
        assert_eq!(s.store, StoreChoice::Embedded("data".into()));
        assert_eq!(s.bind, "127.0.0.1:8080");
        let admin = |k: &str| (k == "ATLAS_ADMIN_TOKEN").then(|| "s3cret".to_string());
        let s = Settings::resolve_with(&StoreArgs::default(), None, &FileConfig::default(), admin);
        assert_eq!(s.tokens.len(), 1);
        assert_eq!(s.tokens[0].role, Role::Admin);
    }

    /// Repeats that weigh in the grade are named in the rule's version; at weight 0 (the
    /// default) the version is the grading rule's own.
    #[test]
    fn the_rule_version_names_weighted_repeats() {
        let no_env = |_: &str| None;
        let rule = |text: &str| {
            let file: FileConfig = toml::from_str(text).unwrap();
            Settings::resolve_with(&StoreArgs::default(), None, &file, no_env).rule
        };
        assert_eq!(rule("").version, "rygb-1");
        assert_eq!(rule("[repeats]\ndays = 14").version, "rygb-1");
        let weighted = rule("[grading]\nversion = \"city-2\"\n[repeats]\ndays = 14\nweight = 0.5");
        assert_eq!(weighted.version, "city-2+repeats-14d-0.5");
        assert_eq!(weighted.repeats.days, 14);
        assert!((weighted.repeats.weight - 0.5).abs() < 1e-12);
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(toml::from_str::<FileConfig>("bnid = \"x\"").is_err());
        assert!(toml::from_str::<FileConfig>("[hotspots]\nrings = 2").is_err());
    }

    /// `[hotspots]` fills what it leaves out with 9 and 1, reaches the settings, and a value
    /// out of range is refused by name at load.
    #[test]
    fn hotspot_defaults_come_from_the_file_and_are_checked() {
        let file: FileConfig = toml::from_str("[hotspots]\nk = 2").unwrap();
        let s = Settings::resolve_with(&StoreArgs::default(), None, &file, |_| None);
        assert_eq!(s.hotspots, HotspotsFile { res: 9, k: 2 });
        let dir = tempfile::tempdir().unwrap();
        for (text, said) in [("[hotspots]\nres = 12", "res"), ("[hotspots]\nk = 0", "k")] {
            let path = dir.path().join("atlas.toml");
            std::fs::write(&path, text).unwrap();
            let e = FileConfig::load(Some(&path)).unwrap_err();
            assert!(e.contains(&format!("[hotspots] {said}")), "{e}");
        }
    }

    /// `[company_lists]` fills what it leaves out with the defaults, reaches the settings, and
    /// a value out of range is refused by name at load.
    #[test]
    fn company_list_rule_comes_from_the_file_and_is_checked() {
        let file: FileConfig = toml::from_str(
            "[company_lists]
min_households = 5000",
        )
        .unwrap();
        let s = Settings::resolve_with(&StoreArgs::default(), None, &file, |_| None);
        assert_eq!(
            s.company_lists,
            crate::model::company_list::ListRule {
                min_households: 5000,
                ..Default::default()
            }
        );
        assert!(toml::from_str::<FileConfig>(
            "[company_lists]
black = 0.3"
        )
        .is_err());
        let dir = tempfile::tempdir().unwrap();
        for (text, said) in [
            (
                "[company_lists]
red_share = 0.5",
                "red_share",
            ),
            (
                "[company_lists]
black_share = 0",
                "black_share",
            ),
            (
                "[company_lists]
red_worst = 0.9",
                "red_worst",
            ),
            (
                "[company_lists]
min_households = -1",
                "min_households",
            ),
        ] {
            let path = dir.path().join("atlas.toml");
            std::fs::write(&path, text).unwrap();
            let e = FileConfig::load(Some(&path)).unwrap_err();
            assert!(e.contains(&format!("[company_lists] {said}")), "{e}");
        }
    }
}

/// Limits a server sets on its own work.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Requests answered at once; more wait up to `queue_wait`, then get 503.
    pub max_concurrency: usize,
    pub queue_wait: Duration,
    /// The longest a request may take before it is answered 503.
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_concurrency: 512,
            queue_wait: Duration::from_secs(2),
            request_timeout: Duration::from_secs(30),
        }
    }
}
