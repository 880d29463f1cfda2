//! Configuration: one tree, resolved once. Precedence: command-line flags, then environment
//! (`DATABASE_URL`, `ATLAS_*`), then an optional TOML file (`--config`, `ATLAS_CONFIG`, or
//! `./atlas.toml` when present), then defaults.

use crate::generate::Encoding;
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
    /// EPSG code to assume for FlatGeobuf files without a CRS (4326 or 4490).
    #[arg(long)]
    pub crs: Option<i32>,
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
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => {
                let p = PathBuf::from("atlas.toml");
                if !p.exists() {
                    return Ok(FileConfig::default());
                }
                p
            }
        };
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
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
    pub pool: crate::store::postgis::PoolSettings,
    pub demo_scale: f64,
    pub demo_seed: u64,
}

impl Settings {
    pub fn resolve(args: &StoreArgs, bind: Option<&str>, file: &FileConfig) -> Settings {
        let url = args
            .database_url
            .clone()
            .or_else(|| file.database_url.clone())
            .filter(|u| !u.is_empty());
        let data = args
            .data
            .clone()
            .or_else(|| file.data.clone())
            .unwrap_or_else(|| PathBuf::from("data"));
        let defaults = crate::store::postgis::PoolSettings::default();
        Settings {
            bind: bind
                .map(str::to_string)
                .or_else(|| file.bind.clone())
                .unwrap_or_else(|| "127.0.0.1:8080".into()),
            store: match url {
                Some(u) => StoreChoice::Postgis(u),
                None => StoreChoice::Embedded(data),
            },
            pool: crate::store::postgis::PoolSettings {
                max_connections: file
                    .postgis
                    .max_connections
                    .unwrap_or(defaults.max_connections),
                acquire_timeout: file
                    .postgis
                    .acquire_timeout_ms
                    .map_or(defaults.acquire_timeout, Duration::from_millis),
                statement_timeout: file
                    .postgis
                    .statement_timeout_ms
                    .map_or(defaults.statement_timeout, Duration::from_millis),
            },
            demo_scale: file.demo.scale.unwrap_or(1.0),
            demo_seed: file.demo.seed.unwrap_or(DEFAULT_SEED),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file() {
        let file: FileConfig = toml::from_str(
            "bind = \"0.0.0.0:9\"\ndata = \"/srv/a\"\n[postgis]\nmax_connections = 4",
        )
        .unwrap();
        let s = Settings::resolve(
            &StoreArgs {
                data: Some("/x".into()),
                database_url: None,
            },
            None,
            &file,
        );
        assert_eq!(s.store, StoreChoice::Embedded("/x".into()));
        assert_eq!(s.bind, "0.0.0.0:9");
        assert_eq!(s.pool.max_connections, 4);
        let s = Settings::resolve(&StoreArgs::default(), Some("127.0.0.1:1"), &file);
        assert_eq!(s.bind, "127.0.0.1:1");
        assert_eq!(s.store, StoreChoice::Embedded("/srv/a".into()));
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(toml::from_str::<FileConfig>("bnid = \"x\"").is_err());
    }
}
