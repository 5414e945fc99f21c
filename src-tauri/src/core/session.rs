//! The token cache with refresh ahead of expiry (issue 3). Work in progress.
