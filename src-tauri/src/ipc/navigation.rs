//! The navigation guard: the webview may show only the app's own pages. Any other navigation
//! is refused; `http`/`https` links are handed to the system browser instead.

use tauri::plugin::TauriPlugin;
use tauri::Runtime;
use tauri_plugin_opener::OpenerExt;

/// Whether `url` is one of the app's own pages (the embedded UI, on every platform's origin).
pub fn is_app_page(url: &url::Url) -> bool {
    match url.scheme() {
        "tauri" => url.host_str() == Some("localhost"),
        "http" | "https" => url.host_str() == Some("tauri.localhost") && url.port().is_none(),
        _ => false,
    }
}

/// Whether a refused navigation should open in the system browser.
pub fn opens_externally(url: &url::Url) -> bool {
    matches!(url.scheme(), "http" | "https") && !is_app_page(url)
}

/// A plugin that applies the guard to every webview.
pub fn guard<R: Runtime>() -> TauriPlugin<R> {
    tauri::plugin::Builder::new("navigation-guard")
        .on_navigation(|webview, url| {
            if is_app_page(url) {
                return true;
            }
            if opens_externally(url) {
                if let Err(error) = webview.opener().open_url(url.as_str(), None::<&str>) {
                    tracing::warn!(%error, "could not open a link in the browser");
                }
            } else {
                tracing::warn!(
                    scheme = url.scheme(),
                    "refused a navigation away from the app"
                );
            }
            false
        })
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> url::Url {
        url::Url::parse(s).unwrap_or_else(|_| {
            url::Url::parse("data:,unparsable").unwrap_or_else(|_| unreachable!())
        })
    }

    #[test]
    fn only_the_app_origin_is_allowed() {
        for ok in [
            "tauri://localhost/",
            "tauri://localhost/index.html",
            "http://tauri.localhost/",
            "https://tauri.localhost/x",
        ] {
            assert!(is_app_page(&parse(ok)), "{ok}");
        }
        for bad in [
            "https://evil.example/",
            "http://app.evil.com/",
            "file:///etc/passwd",
            "data:text/html,<script>alert(1)</script>",
            "javascript:alert(1)",
            "http://tauri.evil.tld/",
            "http://tauri.localhost.evil.tld/",
            "http://tauri.localhost:8080/",
            "tauri://evil.example/",
            "about:blank",
        ] {
            assert!(!is_app_page(&parse(bad)), "{bad}");
        }
    }

    #[test]
    fn only_web_links_open_externally() {
        assert!(opens_externally(&parse("https://example.com/docs")));
        assert!(opens_externally(&parse("http://example.com/")));
        assert!(!opens_externally(&parse("file:///etc/passwd")));
        assert!(!opens_externally(&parse("javascript:alert(1)")));
        assert!(!opens_externally(&parse("tauri://localhost/")));
    }
}
