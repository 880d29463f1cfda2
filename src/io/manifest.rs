//! The data directory's table of contents. A directory is a dataset when it holds
//! `manifest.json`; every change writes new files first and renames a new manifest into place
//! last, so a crash leaves either the old dataset or the new one, never a mix.

use crate::model::Layer;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const FILE: &str = "manifest.json";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    /// Increases with every write; new files carry it in their name.
    pub generation: u64,
    /// Layer → file name inside the directory.
    pub layers: BTreeMap<Layer, String>,
    /// The hotline export and its ground truth, when the directory was generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complaints_csv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complaints_truth: Option<String>,
    /// Stored complaints (public part and placement) and, apart, their callers' contacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complaints: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<String>,
    /// The monthly tables tabled from `complaints` (`io::stats`), so that opening the store
    /// need not read every complaint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<String>,
    /// Manual grade overrides (the audit trail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<String>,
    /// Manual company list overrides (their audit trail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_overrides: Option<String>,
    /// File name → digest (`io::digest`) of files whose records passed every check when they
    /// were written: while a file still has its digest, reading it skips the costly checks.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checked: BTreeMap<String, String>,
    /// How the dataset was generated (seed, scale), if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<serde_json::Value>,
}

impl Manifest {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(FILE)
    }

    pub fn exists(dir: &Path) -> bool {
        Manifest::path(dir).is_file()
    }

    pub fn read(dir: &Path) -> Result<Manifest, String> {
        let path = Manifest::path(dir);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a valid manifest: {e}", path.display()))
    }

    /// Writes the manifest atomically (temporary file, fsync, rename, fsync of the directory).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let tmp = dir.join("manifest.json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, Manifest::path(dir))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// The file a layer lives in.
    pub fn layer_file(&self, dir: &Path, layer: Layer) -> Option<PathBuf> {
        self.layers.get(&layer).map(|f| dir.join(f))
    }
}
