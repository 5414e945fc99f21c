//! Full-text search over message text (SQLite FTS5), ranked by bm25, with highlighted snippets.
//!
//! Invariants: user input is never FTS5 syntax. Each whitespace-separated term becomes a quoted
//! string (inner quotes doubled), the terms are ANDed, and the last term matches as a prefix
//! while it is being typed (two characters or more, no space after it), so results follow typing. So no input can be an
//! FTS syntax error or reach operators like `NEAR` or column filters. Control characters (NUL
//! included) count as spaces. Empty input returns nothing.

use serde::{Deserialize, Serialize};

use super::record::Role;
use super::History;
use crate::core::Result;

/// Marks the start of a highlighted term inside SQLite's snippet (a private-use character).
const OPEN: char = '\u{E000}';
/// Marks the end of a highlighted term.
const CLOSE: char = '\u{E001}';

/// The most hits a search returns unless asked for fewer.
pub const DEFAULT_LIMIT: usize = 50;

/// A run of snippet text, highlighted when it matched the query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnippetPart {
    /// The text.
    pub text: String,
    /// Whether it matched.
    pub highlight: bool,
}

/// One message that matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    /// The message.
    pub message_id: String,
    /// Its conversation.
    pub conversation_id: String,
    /// The conversation's title.
    pub conversation_title: String,
    /// Who wrote the message.
    pub role: Role,
    /// When, Unix ms.
    pub created_at: i64,
    /// bm25 score: lower is a better match.
    pub rank: f64,
    /// The matching part of the text, about 16 tokens.
    pub snippet: Vec<SnippetPart>,
}

impl SearchHit {
    /// The snippet as plain text with matches wrapped in `open`/`close` (e.g. `**`).
    pub fn snippet_marked(&self, open: &str, close: &str) -> String {
        self.snippet
            .iter()
            .map(|p| {
                if p.highlight {
                    format!("{open}{}{close}", p.text)
                } else {
                    p.text.clone()
                }
            })
            .collect()
    }
}

/// Turns user input into a safe FTS5 query; `None` when it holds no term.
pub fn fts_query(input: &str) -> Option<String> {
    // SQLite reads the query as a C string: a NUL would end it mid-quote.
    let cleaned: String = input
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let terms: Vec<&str> = cleaned.split_whitespace().collect();
    let last = terms.len().checked_sub(1)?;
    // A word still being typed (no space after it yet) matches as a prefix, from two characters
    // on (the index keeps 2-, 3- and 4-character prefixes; one character would scan it all).
    let typing = !cleaned.ends_with(char::is_whitespace)
        && terms.get(last).is_some_and(|t| t.chars().count() >= 2);
    let quoted: Vec<String> = terms
        .iter()
        .enumerate()
        .map(|(i, term)| {
            let escaped = term.replace('"', "\"\"");
            if i == last && typing {
                format!("\"{escaped}\"*")
            } else {
                format!("\"{escaped}\"")
            }
        })
        .collect();
    Some(quoted.join(" "))
}

/// Splits SQLite's marked snippet into parts.
fn split_snippet(marked: &str) -> Vec<SnippetPart> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut highlight = false;
    for ch in marked.chars() {
        if ch == OPEN || ch == CLOSE {
            if !current.is_empty() {
                parts.push(SnippetPart {
                    text: std::mem::take(&mut current),
                    highlight,
                });
            }
            highlight = ch == OPEN;
        } else {
            current.push(ch);
        }
    }
    if !current.is_empty() {
        parts.push(SnippetPart {
            text: current,
            highlight,
        });
    }
    parts
}

impl History {
    /// Messages matching `query`, best first, at most `limit`.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let Some(fts) = fts_query(query) else {
            return Ok(Vec::new());
        };
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT m.id, m.conversation_id, c.title, m.role, m.created_at, h.rank, h.snip \
             FROM (SELECT rowid, rank, \
                          snippet(messages_fts, 0, char(57344), char(57345), '…', 16) AS snip \
                   FROM messages_fts WHERE messages_fts MATCH ?1 ORDER BY rank LIMIT ?2) h \
             JOIN messages m ON m.seq = h.rowid \
             JOIN conversations c ON c.id = m.conversation_id \
             ORDER BY h.rank",
        )?;
        let rows = stmt.query_map(rusqlite::params![fts, limit as i64], |row| {
            let role: String = row.get(3)?;
            let snip: String = row.get(6)?;
            Ok(SearchHit {
                message_id: row.get(0)?,
                conversation_id: row.get(1)?,
                conversation_title: row.get(2)?,
                role: Role::parse(&role).unwrap_or(Role::Assistant),
                created_at: row.get(4)?,
                rank: row.get(5)?,
                snippet: split_snippet(&snip),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn user_terms_are_quoted_and_anded() {
        assert_eq!(fts_query("  "), None);
        assert_eq!(
            fts_query("rust sqlite").as_deref(),
            Some("\"rust\" \"sqlite\"*")
        );
        assert_eq!(
            fts_query("rust sqlite ").as_deref(),
            Some("\"rust\" \"sqlite\"")
        );
        assert_eq!(fts_query("rust s").as_deref(), Some("\"rust\" \"s\""));
        assert_eq!(
            fts_query("say \"hi\" NEAR(").as_deref(),
            Some("\"say\" \"\"\"hi\"\"\" \"NEAR(\"*")
        );
    }

    #[test]
    fn snippet_parts_follow_markers() {
        let parts = split_snippet("a \u{E000}b\u{E001} c");
        assert_eq!(
            parts,
            vec![
                SnippetPart {
                    text: "a ".into(),
                    highlight: false
                },
                SnippetPart {
                    text: "b".into(),
                    highlight: true
                },
                SnippetPart {
                    text: " c".into(),
                    highlight: false
                },
            ]
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod index_tests {
    use super::super::{ChatParams, HistoryOptions, HistoryPaths, Metrics, Outcome};
    use super::*;

    fn integrity_check(history: &History) {
        history
            .lock()
            .execute(
                "INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')",
                [],
            )
            .unwrap();
    }

    #[test]
    fn the_index_follows_every_kind_of_write() {
        let dir = tempfile::tempdir().unwrap();
        let history =
            History::open(HistoryPaths::in_dir(dir.path()), HistoryOptions::default()).unwrap();
        let mut w = history
            .begin_exchange_blocking(None, "alpha beta", &ChatParams::default())
            .unwrap();
        w.append("gamma ").unwrap();
        w.flush().unwrap();
        assert!(
            history.search("gamma", 5).unwrap().is_empty(),
            "streaming text is not indexed"
        );
        let m = w.finish(Outcome::Complete(Metrics::default())).unwrap();
        assert_eq!(history.search("gamma", 5).unwrap().len(), 1);
        integrity_check(&history);
        history
            .lock()
            .execute(
                "UPDATE messages SET content = 'delta alpha' WHERE id = ?1",
                [&m.id],
            )
            .unwrap();
        assert!(history.search("gamma", 5).unwrap().is_empty());
        assert_eq!(history.search("alpha", 5).unwrap().len(), 2);
        integrity_check(&history);
        history.delete_conversation(&m.conversation_id).unwrap();
        assert!(history.search("alpha", 5).unwrap().is_empty());
        integrity_check(&history);
    }
}
