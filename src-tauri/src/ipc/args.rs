//! [`Arg`]: a command argument whose absence or malformation becomes a typed
//! [`CommandError`] (`invalidArgument`) inside the command, instead of Tauri's untyped string;
//! [`ChannelArg`] does the same for a `Channel`.
//!
//! Invariant: deserializing an [`Arg`] never fails for a JSON payload (a missing key, `null`,
//! a wrong type, deep nesting Tauri already accepted); the error surfaces when the command
//! calls [`Arg::get`].

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use super::error::CommandError;

/// A command argument, parsed lazily into `T`.
#[derive(Debug)]
pub struct Arg<T>(Result<T, String>);

impl<T> Arg<T> {
    /// The argument, or `invalidArgument` naming it.
    pub fn get(self, name: &str) -> Result<T, CommandError> {
        self.0
            .map_err(|detail| CommandError::invalid_argument(name, detail))
    }

    /// An argument holding `value` (for tests and direct calls).
    pub fn of(value: T) -> Self {
        Arg(Ok(value))
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Arg<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // `Option` makes Tauri hand over a missing key as `None` rather than failing.
        let value = Option::<serde_json::Value>::deserialize(deserializer)?;
        let parsed =
            serde_json::from_value(value.unwrap_or(serde_json::Value::Null)).map_err(|e| {
                let text = e.to_string();
                // serde quotes the offending value; keep only what it expected.
                match text.find(", expected") {
                    Some(at) => format!("expected{}", &text[at + ", expected".len()..]),
                    None => text,
                }
            });
        Ok(Arg(parsed))
    }
}

/// A `Channel` argument whose absence or malformation becomes `invalidArgument` inside the
/// command (Tauri's own `Channel` argument would fail the call with an untyped string).
pub struct ChannelArg<T>(Result<tauri::ipc::Channel<T>, String>);

impl<T> ChannelArg<T> {
    /// The channel, or `invalidArgument` naming it.
    pub fn get(self, name: &str) -> Result<tauri::ipc::Channel<T>, CommandError> {
        self.0.map_err(|_| {
            CommandError::invalid_argument(name, "expected a Channel (`__CHANNEL__:<id>`)")
        })
    }

    /// An argument holding `channel` (for direct calls).
    pub fn of(channel: tauri::ipc::Channel<T>) -> Self {
        ChannelArg(Ok(channel))
    }
}

impl<T> std::fmt::Debug for ChannelArg<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_ok() {
            "ChannelArg(Ok)"
        } else {
            "ChannelArg(Err)"
        })
    }
}

impl<'de, R: tauri::Runtime, T> tauri::ipc::CommandArg<'de, R> for ChannelArg<T> {
    fn from_command(
        command: tauri::ipc::CommandItem<'de, R>,
    ) -> Result<Self, tauri::ipc::InvokeError> {
        Ok(ChannelArg(
            tauri::ipc::Channel::from_command(command).map_err(|e| format!("{e:?}")),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Two {
        a: u32,
    }

    fn parse<T: DeserializeOwned>(json: &str) -> Arg<T> {
        serde_json::from_str(json).unwrap_or(Arg(Err("unparsable test json".into())))
    }

    #[test]
    fn good_values_pass_and_bad_ones_become_invalid_argument() {
        assert_eq!(parse::<Two>(r#"{"a":1}"#).get("x").ok(), Some(Two { a: 1 }));
        let e = parse::<Two>(r#"{"a":"SENTINEL_TOK_1"}"#).get("x").err();
        let e = e
            .map(|e| (e.kind, e.message))
            .unwrap_or((super::super::error::ErrorKind::Internal, String::new()));
        assert_eq!(e.0, super::super::error::ErrorKind::InvalidArgument);
        assert!(!e.1.contains("SENTINEL"), "{}", e.1);
        assert!(parse::<String>("null").get("x").is_err());
        assert_eq!(parse::<Option<String>>("null").get("x").ok(), Some(None));
    }
}
