//! compound-atlas: a map server for property-management complaint work.
//!
//! Data walks one way: [`ingest`] → [`store`] → analytics → tiles / queries → [`http`].
//! [`model`] holds the plain types, [`io`] the file formats, [`generate`] the demo city.
#![forbid(unsafe_code)]
#![recursion_limit = "256"]

pub mod analytics;
pub mod assets;
pub mod config;
pub mod error;
pub mod filter;
pub mod generate;
pub mod geodesy;
pub mod http;
pub mod ingest;
pub mod io;
pub mod model;
pub mod planner;
pub mod serving;
pub mod store;
pub mod tile;

pub use http::{app, AppState};

use config::{Settings, StoreChoice};
use std::sync::Arc;
use store::{embedded::EmbeddedStore, postgis::PostgisStore, Store, StoreError};

/// Opens the configured store: the only place that connects to anything. For PostGIS the
/// migrations are applied; when the database is away, the store still opens (lazily) and
/// answers "unavailable" until it is back.
pub async fn open_store(settings: &Settings) -> Result<Arc<dyn Store>, StoreError> {
    let started = std::time::Instant::now();
    let store = open_chosen_store(settings).await?;
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "store opened");
    Ok(store)
}

async fn open_chosen_store(settings: &Settings) -> Result<Arc<dyn Store>, StoreError> {
    match &settings.store {
        StoreChoice::Embedded(dir) => {
            let (dir, scale) = (dir.clone(), settings.handling.clone());
            let store = tokio::task::spawn_blocking(move || EmbeddedStore::open_with(&dir, scale))
                .await
                .map_err(|e| StoreError::Io(std::io::Error::other(e)))??;
            Ok(Arc::new(store))
        }
        StoreChoice::Postgis(url) => {
            let store = PostgisStore::connect_lazy(url, &settings.pool)?
                .with_scale(settings.handling.clone());
            store.migrate().await?;
            Ok(Arc::new(store))
        }
    }
}
