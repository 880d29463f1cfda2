//! What runs around every request: the request layer ([`track`]: request ids, rate limits,
//! the concurrency bound, time limits, logging and metrics) and CORS ([`cors`]), with their
//! own small settings ([`crate::config::Limits`], `[http] cors_origins`, `[http] rate_limit`).

pub(super) mod cors;
mod track;

pub use track::{Failure, RateLimit, Track};
