//! Settings and the SDK's environment variables (issue 3). Work in progress.
