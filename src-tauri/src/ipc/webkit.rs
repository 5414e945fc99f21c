//! The Linux startup self-check: WebKitGTK paints a blank (or white, or crashing) window with
//! its DMA-BUF renderer on the NVIDIA proprietary driver and where no usable DRI render node
//! exists (virtual machines, containers, software-only X servers). In those cases, and only
//! when the user has not set it themselves, `WEBKIT_DISABLE_DMABUF_RENDERER=1` is set before
//! the webview starts (WebKitGTK then falls back to its shared-memory path).
//!
//! Invariant: a value the user set is never overridden; the decision is a pure function of a
//! [`GpuProbe`], tested by table.

/// The variable WebKitGTK reads.
pub const DMABUF_ENV: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";

/// What the self-check looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpuProbe {
    /// The user already set [`DMABUF_ENV`].
    pub user_set: bool,
    /// The NVIDIA proprietary driver is loaded (`/proc/driver/nvidia/version` exists).
    pub nvidia: bool,
    /// A DRI render node (`/dev/dri/renderD*`) exists.
    pub render_node: bool,
}

/// Whether the DMA-BUF renderer must be disabled.
pub fn needs_dmabuf_workaround(probe: GpuProbe) -> bool {
    !probe.user_set && (probe.nvidia || !probe.render_node)
}

/// Looks at this machine.
pub fn probe() -> GpuProbe {
    let render_node = std::fs::read_dir("/dev/dri")
        .map(|dir| {
            dir.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
        })
        .unwrap_or(false);
    GpuProbe {
        user_set: std::env::var_os(DMABUF_ENV).is_some(),
        nvidia: std::path::Path::new("/proc/driver/nvidia/version").exists(),
        render_node,
    }
}

/// Applies the workaround when needed; call before any webview (or thread) starts.
pub fn self_check() {
    let probe = probe();
    if needs_dmabuf_workaround(probe) {
        tracing::info!(
            ?probe,
            "disabling the WebKitGTK DMA-BUF renderer to avoid a blank window"
        );
        std::env::set_var(DMABUF_ENV, "1");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workaround_table() {
        let p = |user_set, nvidia, render_node| GpuProbe {
            user_set,
            nvidia,
            render_node,
        };
        assert!(needs_dmabuf_workaround(p(false, true, true)), "nvidia");
        assert!(
            needs_dmabuf_workaround(p(false, false, false)),
            "no render node"
        );
        assert!(
            !needs_dmabuf_workaround(p(false, false, true)),
            "mesa gpu: leave it"
        );
        assert!(
            !needs_dmabuf_workaround(p(true, true, false)),
            "the user's choice wins"
        );
    }
}
