//! `check_for_update`: asks the release endpoint (`plugins.updater` in `tauri.conf.json`) whether
//! a newer signed build exists, and installs it only once the user has said yes.
//!
//! The UI asks: a call without `install` only reports; the UI shows the offered version and its
//! notes, and calls again with `install` set to that exact version when the user agrees. If the
//! endpoint now offers anything else, nothing is installed (`notFound`).
//!
//! `BEHEST_UPDATE_URL` replaces the configured endpoint (a company mirror, or a local server in
//! the end-to-end test): `https`, or `http` to loopback only (and release builds of the updater
//! refuse plain `http` outright). `restart_app` restarts into the installed version.
//!
//! Invariants: the update replaces the app itself and nothing else; the history database in the
//! data dir is never touched here (the new version migrates it when it opens it). The updater's
//! signature check (the public key in the config) runs before anything is installed. Without the
//! updater plugin (mock-runtime tests, mobile) the command answers `internal`, never panics.

use serde::Serialize;
use tauri::{AppHandle, Manager, Runtime};

use crate::core::config::origin::check_update_url;
use crate::ipc::state::AppState;

use crate::ipc::args::Arg;
use crate::ipc::error::{CommandError, ErrorKind};

/// What the release endpoint offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateStatus {
    /// The running version.
    pub current_version: String,
    /// The newer version on offer, if any.
    pub available: Option<String>,
    /// The release notes of that version.
    pub notes: Option<String>,
    /// True once the offered version was downloaded, verified and installed (restart to use it;
    /// on Windows the installer has already closed the app).
    pub installed: bool,
}

/// The variable that replaces the configured update endpoint.
pub const UPDATE_URL_ENV: &str = "BEHEST_UPDATE_URL";

/// The endpoint `BEHEST_UPDATE_URL` names, if set (and non-empty); a bad value is an
/// `invalidSettings` error naming the variable.
pub fn endpoint_override(value: Option<&str>) -> Result<Option<url::Url>, CommandError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(raw) => Ok(Some(check_update_url(UPDATE_URL_ENV, raw)?)),
    }
}

/// Restarts the app (into the version just installed). Running answers are stopped first;
/// their partial text is saved.
#[tauri::command]
pub fn restart_app<R: Runtime>(app: AppHandle<R>) {
    if let Some(state) = app.try_state::<AppState>() {
        state.backend.cancel_all_chats();
    }
    app.restart()
}

/// Marks the app as built with the updater plugin (added by [`register`]).
struct UpdaterRegistered;

/// Adds the updater plugin (configured from `plugins.updater`) to a real app's builder.
#[cfg(any(target_os = "linux", target_os = "macos", windows))]
pub fn register<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder
        .plugin(tauri_plugin_updater::Builder::new().build())
        .manage(UpdaterRegistered)
}

/// Reports whether a newer version exists; with `install` equal to the offered version (the one
/// the user agreed to), downloads, verifies and installs it.
#[tauri::command]
pub async fn check_for_update<R: Runtime>(
    app: AppHandle<R>,
    install: Arg<Option<String>>,
) -> Result<UpdateStatus, CommandError> {
    let install = install.get("install")?;
    let endpoint = endpoint_override(std::env::var(UPDATE_URL_ENV).ok().as_deref())?;
    let current_version = app.package_info().version.to_string();
    if app.try_state::<UpdaterRegistered>().is_none() {
        return Err(CommandError::new(
            ErrorKind::Internal,
            "updates are not available in this build",
        ));
    }
    #[cfg(any(target_os = "linux", target_os = "macos", windows))]
    {
        desktop::check(&app, endpoint, current_version, install).await
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    {
        let _ = (endpoint, current_version, install); // unreachable: no plugin is registered here
        Err(CommandError::new(
            ErrorKind::Internal,
            "updates are not available on this platform",
        ))
    }
}

#[cfg(any(target_os = "linux", target_os = "macos", windows))]
mod desktop {
    use tauri::{AppHandle, Runtime};
    use tauri_plugin_updater::{Error as UpdaterError, UpdaterExt};

    use super::UpdateStatus;
    use crate::ipc::error::{CommandError, ErrorKind};

    /// Asks the endpoint; installs only the version the user agreed to.
    pub(super) async fn check<R: Runtime>(
        app: &AppHandle<R>,
        endpoint: Option<url::Url>,
        current_version: String,
        install: Option<String>,
    ) -> Result<UpdateStatus, CommandError> {
        let updater = match endpoint {
            None => app.updater(),
            Some(url) => app
                .updater_builder()
                .endpoints(vec![url])
                .and_then(|b| b.build()),
        };
        let update = updater.map_err(map)?.check().await.map_err(map)?;
        let Some(update) = update else {
            if install.is_some() {
                return Err(CommandError::new(
                    ErrorKind::NotFound,
                    "no update is on offer any more",
                ));
            }
            return Ok(UpdateStatus {
                current_version,
                available: None,
                notes: None,
                installed: false,
            });
        };
        let mut status = UpdateStatus {
            current_version,
            available: Some(update.version.clone()),
            notes: update.body.clone(),
            installed: false,
        };
        match install {
            None => Ok(status),
            Some(agreed) if agreed == update.version => {
                tracing::info!(version = %update.version, "installing the update the user agreed to");
                update
                    .download_and_install(|_, _| {}, || {})
                    .await
                    .map_err(map)?;
                status.installed = true;
                Ok(status)
            }
            Some(agreed) => Err(CommandError::new(
                ErrorKind::NotFound,
                format!(
                    "version {agreed} is not on offer (the endpoint offers {})",
                    update.version
                ),
            )),
        }
    }

    /// The updater's error as a command error kind the UI already knows.
    fn map(error: UpdaterError) -> CommandError {
        let kind = match &error {
            UpdaterError::Reqwest(_) | UpdaterError::Network(_) => ErrorKind::Network,
            UpdaterError::Minisign(_)
            | UpdaterError::Base64(_)
            | UpdaterError::SignatureUtf8(_) => ErrorKind::Crypto,
            UpdaterError::ReleaseNotFound
            | UpdaterError::TargetNotFound(_)
            | UpdaterError::TargetsNotFound(_) => ErrorKind::NotFound,
            UpdaterError::Io(_) => ErrorKind::Storage,
            UpdaterError::Serialization(_) | UpdaterError::Semver(_) => ErrorKind::Protocol,
            _ => ErrorKind::Upstream,
        };
        if kind == ErrorKind::Crypto {
            return CommandError::new(
                kind,
                format!("update: the download's signature does not verify ({error}); nothing was installed"),
            );
        }
        CommandError::new(kind, format!("update: {error}"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_override_is_https_or_loopback_http() {
        assert_eq!(endpoint_override(None).unwrap(), None);
        assert_eq!(endpoint_override(Some("  ")).unwrap(), None);
        let url = endpoint_override(Some("https://updates.example.com/latest.json")).unwrap();
        assert_eq!(url.unwrap().host_str(), Some("updates.example.com"));
        assert!(endpoint_override(Some("http://127.0.0.1:9/latest.json"))
            .unwrap()
            .is_some());
        for bad in [
            "http://updates.example.com/latest.json",
            "ftp://x/latest.json",
            "not a url",
        ] {
            let error = endpoint_override(Some(bad)).unwrap_err();
            assert_eq!(error.kind, ErrorKind::InvalidSettings, "{bad}");
            assert!(error.message.contains(UPDATE_URL_ENV), "{}", error.message);
        }
    }
}
