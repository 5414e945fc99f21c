//! The secret store over the OS keyring (issue 3). Work in progress.
