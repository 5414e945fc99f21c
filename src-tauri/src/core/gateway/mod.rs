//! The local Behest-compatible gateway (issue 2). Work in progress.
