//! The crate error: module errors gathered with `#[from]`, mapped once to HTTP in `http`.

use crate::io::FormatError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("configuration: {0}")]
    Config(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    UnsupportedMedia(String),
    /// A request body over its bound (413).
    #[error("{0}")]
    TooLarge(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl Error {
    /// A query parameter names an area or record that does not exist (`unknown district
    /// `x``): 400, the same from every endpoint that takes one.
    #[must_use]
    pub fn unknown(what: &str, key: impl std::fmt::Display) -> Error {
        Error::BadRequest(format!("unknown {what} `{key}`"))
    }
}

/// The code of the district a query names by code or name, or the one error every endpoint
/// answers for an unknown one.
pub fn district_code<'a>(data: &'a crate::model::Dataset, key: &str) -> Result<&'a str, Error> {
    data.find_district(key)
        .map(|d| d.code.as_str())
        .ok_or_else(|| Error::unknown("district", key))
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
