//! All behaviour of Behest Desktop. Nothing below this module names `tauri`.
//!
//! The client side (`auth`, `session`, `chat`) and the server side (`gateway`) both stand on
//! `protocol` and `keys`, and never on each other; `retry` (when to send a request again) is
//! shared by `auth` and `chat`.

pub mod auth;
pub mod backend;
pub mod chat;
pub mod check;
pub mod config;
pub mod error;
pub mod gateway;
pub mod history;
pub mod http;
pub mod keys;
pub mod logging;
pub mod markdown;
pub mod memory;
pub mod protocol;
pub mod redact;
pub mod retry;
pub mod secrets;
pub mod session;
pub mod token;

pub use error::{Error, HttpFailure, Result};
