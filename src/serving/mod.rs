//! Serving tiles: the async tile service (the city index and each window's figures behind
//! lock-free swaps, made once on a miss), the in-memory tile cache, `atlas seed` and the
//! seeded archives (MBTiles, PMTiles) read back as tilesets. What a tile *is* —
//! grids, layers, encodings, pictures — is [`crate::tile`]'s, pure and synchronous.

pub mod archive;
pub mod cache;
pub mod seed;
pub mod served;
pub mod service;
