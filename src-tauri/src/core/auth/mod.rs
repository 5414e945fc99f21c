//! Obtaining tokens in every auth mode (issue 3). Work in progress.
