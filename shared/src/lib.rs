//! Types shared by the lifeguard backend and its browser console.
//!
//! This crate compiles for `wasm32-unknown-unknown` and the host alike, so it holds only plain data,
//! validated newtypes and pure rules: no tokio, no database, no HTTP.
//!
//! Layout:
//! - [`error`]: the `{code, message}` body of every API error.
//! - [`health`]: the console's liveness answer and what it measured of its target.

pub mod error;
pub mod health;
