//! An export as a file on disk: the name suggested for it and the atomic write that puts it
//! there (the app's save dialog and `history export --output` both end here).
//!
//! Invariants: a suggested name is a plain file name on every OS (no separator, no reserved
//! character or device name, not hidden, at most [`MAX_STEM_CHARS`] characters before the
//! extension); a write either replaces the target whole or leaves it, and its folder, as they
//! were: the bytes go to a temporary file beside the target, are synced, then renamed over it,
//! and the temporary file is removed on every failure. Export text is never logged.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::export::ExportFormat;
use super::History;
use crate::core::{Error, Result};

/// The longest suggested file name, in characters, before the extension.
pub const MAX_STEM_CHARS: usize = 80;

/// An export ready to be saved: its text and the file name to suggest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportDocument {
    /// The Markdown or JSON text.
    pub text: String,
    /// A safe file name with the format's extension, e.g. `Trip to Lisbon.md`.
    pub file_name: String,
}

/// Where an export was saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedExport {
    /// The file written.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
}

impl ExportFormat {
    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Md => "md",
            ExportFormat::Json => "json",
        }
    }

    /// The format's name for people (a save dialog's filter).
    pub fn label(self) -> &'static str {
        match self {
            ExportFormat::Md => "Markdown",
            ExportFormat::Json => "JSON",
        }
    }
}

/// A file name for `title` in `format`: characters no file system takes become `-`, runs of
/// white space one space, leading dots and trailing dots or spaces are dropped, Windows device
/// names get a `_`; an empty result becomes `conversation`.
pub fn suggested_file_name(title: &str, format: ExportFormat) -> String {
    let mut stem = String::new();
    for c in title.chars() {
        let c = match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '-',
            c if c.is_control() || c.is_whitespace() => ' ',
            c => c,
        };
        if c == ' ' && (stem.is_empty() || stem.ends_with(' ')) {
            continue;
        }
        stem.push(c);
    }
    let mut stem: String = stem
        .trim_start_matches(['.', ' '])
        .chars()
        .take(MAX_STEM_CHARS)
        .collect();
    stem.truncate(stem.trim_end_matches(['.', ' ']).len());
    if stem.is_empty() {
        stem.push_str("conversation");
    }
    const DEVICES: [&str; 22] = [
        "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
        "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
    ];
    if DEVICES.iter().any(|d| d.eq_ignore_ascii_case(&stem)) {
        stem.push('_');
    }
    format!("{stem}.{}", format.extension())
}

impl History {
    /// One conversation (`Some(id)`) or all of them in `format`, with the file name to suggest:
    /// the conversation's title, or `behest-history-<UTC date>` for all of them.
    pub fn export_document(
        &self,
        conversation: Option<&str>,
        format: ExportFormat,
    ) -> Result<ExportDocument> {
        let title = match conversation {
            Some(id) => self.get_conversation(id)?.conversation.title,
            None => format!("behest-history-{}", time::OffsetDateTime::now_utc().date()),
        };
        Ok(ExportDocument {
            text: self.export(conversation, format)?,
            file_name: suggested_file_name(&title, format),
        })
    }
}

/// Saves `text` at `path` atomically (see [`write_atomically`]) and reports its size.
pub fn save_export(path: PathBuf, text: &str) -> Result<SavedExport> {
    write_atomically(&path, text.as_bytes())?;
    Ok(SavedExport {
        path,
        bytes: text.len() as u64,
    })
}

/// Writes `bytes` to a temporary file in `path`'s folder, syncs it, renames it over `path`, then
/// syncs the folder (on Unix) so the rename itself survives a crash.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| Error::InvalidInput {
        what: "output".into(),
        reason: format!("{} is not a file path", path.display()),
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
    let tmp = dir.join(tmp_name);
    let result = (|| -> Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    })();
    if result.is_err() {
        // Best effort: the temporary file is garbage once the write failed (and may not exist).
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    #[cfg(unix)]
    if let Err(error) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
        // The file is complete and in place; only its durability across a power cut is unsure.
        tracing::warn!(%error, "could not sync the export's folder");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_become_safe_file_names() {
        let md = ExportFormat::Md;
        assert_eq!(
            suggested_file_name("Trip to Lisbon", md),
            "Trip to Lisbon.md"
        );
        assert_eq!(
            suggested_file_name("a/b\\c:d*e?f\"g<h>i|j", ExportFormat::Json),
            "a-b-c-d-e-f-g-h-i-j.json"
        );
        assert_eq!(suggested_file_name("  two\n\tlines  ", md), "two lines.md");
        assert_eq!(
            suggested_file_name("../../etc/passwd", md),
            "-..-etc-passwd.md"
        );
        assert_eq!(suggested_file_name(".hidden.", md), "hidden.md");
        assert_eq!(suggested_file_name("...", md), "conversation.md");
        assert_eq!(suggested_file_name("", md), "conversation.md");
        assert_eq!(suggested_file_name("nul", md), "nul_.md");
        assert_eq!(suggested_file_name("Ünïcødé 🦘", md), "Ünïcødé 🦘.md");
        let long = suggested_file_name(&"é".repeat(200), md);
        assert_eq!(long.chars().count(), MAX_STEM_CHARS + 3);
    }
}
