//! Conversations in SQLite (issue 5). Work in progress.
