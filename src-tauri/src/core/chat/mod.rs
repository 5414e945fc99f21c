//! The chat client and stream driver (issue 3). Work in progress.
