//! Every command the UI may call; each takes state and typed arguments, calls one
//! [`crate::core::backend::Backend`] method and maps the error. The list [`NAMES`] is what
//! `build.rs` declares to the ACL and the capability grants.

pub mod app;
pub mod chat;
pub mod dev;
pub mod history;
pub mod update;

/// The app's commands, as `build.rs` and `capabilities/default.json` name them.
pub const NAMES: [&str; 25] = include!("names.rs");
