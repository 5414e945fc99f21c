//! Gives the C allocator's free memory back to the system once the app goes quiet.
//!
//! glibc keeps what a thread freed in that thread's arena and returns only the top of each
//! heap, so after a run of chats (every request carries the whole conversation, and in demo mode
//! the in-process gateway parses it again) the app process stays at its high-water mark. Measured
//! on 500 turns of one conversation: the app process held 79 MB anonymous memory, 52 MB after
//! one `malloc_trim(0)` (BENCHMARKS.md, "After heavy use"). [`IdleTrim`] trims once the app has
//! had no chat for [`QUIET`], on a blocking thread (a trim walks and locks every arena in turn).
//!
//! No maintained crate wraps `malloc_trim` or `mallopt` (glibc extensions that `libc` declares),
//! hence the two `unsafe` calls below. The allocators of musl, macOS and Windows return memory
//! themselves and have no such call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long the app must be quiet (no chat running, no new poke) before a trim.
pub const QUIET: Duration = Duration::from_secs(2);

/// Returns the allocator's free pages to the system; whether any were returned.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn release_free_memory() -> bool {
    // SAFETY: `malloc_trim` takes no pointer and has no precondition; glibc locks each arena
    // while it walks it, so other threads may allocate and free meanwhile.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Returns the allocator's free pages to the system; nothing to do off glibc.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free_memory() -> bool {
    false
}

/// How many glibc malloc arenas the desktop app uses: [`limit_arenas`].
pub const DESKTOP_ARENAS: i32 = 1;

/// Caps the number of glibc malloc arenas; call before any thread starts. Whether it took.
///
/// glibc gives threads their own arenas (up to 8 per core), and `malloc_trim` can only return
/// whole free pages: after a long chat the app process kept two arenas of ~7 MB each that were
/// mostly free space around a few live chunks (release build, 400 turns of one conversation,
/// `/proc/<pid>/smaps` 5 s after the last answer: +14 MB anonymous over idle with the default,
/// +9.7 MB with 2 arenas, +5.4 MB with 1; BENCHMARKS.md "After heavy use"). The desktop app's
/// threads allocate little at once (each has its own tcache for small blocks), so one arena
/// costs no measurable speed there (chunk delivery, same file); the headless gateway, which
/// serves up to a thousand streams at once, keeps glibc's default.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn limit_arenas(arenas: i32) -> bool {
    // SAFETY: `mallopt` takes two integers; M_ARENA_MAX only caps arenas created from now on.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, arenas) == 1 }
}

/// Caps the number of malloc arenas; nothing to do off glibc.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn limit_arenas(_arenas: i32) -> bool {
    false
}

type Trim = Box<dyn Fn() -> bool + Send + Sync>;

/// Runs a trim once things have been quiet for a while: every [`IdleTrim::poke`] restarts the
/// wait, and when it ends the trim runs unless `busy` says work is still going on (that work
/// pokes again when it ends).
pub struct IdleTrim {
    generation: AtomicU64,
    trims: AtomicU64,
    quiet: Duration,
    trim: Trim,
}

impl IdleTrim {
    /// Trims with [`release_free_memory`] after [`QUIET`].
    pub fn new() -> Arc<Self> {
        IdleTrim::with(QUIET, Box::new(release_free_memory))
    }

    /// Trims with `trim` after `quiet` (tests count the calls).
    pub fn with(quiet: Duration, trim: Trim) -> Arc<Self> {
        Arc::new(IdleTrim {
            generation: AtomicU64::new(0),
            trims: AtomicU64::new(0),
            quiet,
            trim,
        })
    }

    /// Something that allocates a lot just ended: trim after the quiet period, unless another
    /// poke comes first or `busy()` is true then. `release` runs first, on the same blocking
    /// thread (caches let go of what they hold, so the trim can return it). Outside a Tokio
    /// runtime nothing is scheduled.
    pub fn poke(
        self: &Arc<Self>,
        busy: impl FnOnce() -> bool + Send + 'static,
        release: impl FnOnce() + Send + 'static,
    ) {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let this = Arc::clone(self);
        runtime.spawn(async move {
            tokio::time::sleep(this.quiet).await;
            if this.generation.load(Ordering::SeqCst) != generation || busy() {
                return;
            }
            let worker = Arc::clone(&this);
            let released = tokio::task::spawn_blocking(move || {
                release();
                (worker.trim)()
            })
            .await;
            this.trims.fetch_add(1, Ordering::SeqCst);
            tracing::debug!(released = released.unwrap_or(false), "allocator trimmed");
        });
    }

    /// How many trims have run.
    pub fn trims(&self) -> u64 {
        self.trims.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn glibc_accepts_the_arena_cap() {
        // mallopt answers 0 for a parameter it does not know.
        assert!(limit_arenas(DESKTOP_ARENAS));
    }

    fn counting() -> (Arc<IdleTrim>, Arc<AtomicU64>) {
        let calls = Arc::new(AtomicU64::new(0));
        let seen = Arc::clone(&calls);
        let trim = IdleTrim::with(
            Duration::from_secs(2),
            Box::new(move || {
                seen.fetch_add(1, Ordering::SeqCst);
                true
            }),
        );
        (trim, calls)
    }

    async fn settle(seconds: u64) {
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        // Let the blocking trim finish and its task record it.
        for _ in 0..50 {
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn pokes_close_together_make_one_trim_after_the_quiet_period() {
        let (trim, calls) = counting();
        trim.poke(|| false, || {});
        settle(1).await;
        trim.poke(|| false, || {});
        settle(1).await;
        assert_eq!(
            calls.load(Ordering::SeqCst),
            0,
            "the second poke restarted the wait"
        );
        settle(2).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(trim.trims(), 1);
        trim.poke(|| false, || {});
        settle(3).await;
        assert_eq!(calls.load(Ordering::SeqCst), 2, "a later poke trims again");
    }

    #[tokio::test(start_paused = true)]
    async fn no_trim_while_busy() {
        let (trim, calls) = counting();
        let busy = Arc::new(AtomicBool::new(true));
        let flag = Arc::clone(&busy);
        trim.poke(move || flag.load(Ordering::SeqCst), || {});
        settle(3).await;
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        busy.store(false, Ordering::SeqCst);
        trim.poke(|| false, || {});
        settle(3).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_release_runs_just_before_the_trim_and_only_with_it() {
        let (trim, calls) = counting();
        // Trims counted when the release ran, plus one (0: it never ran).
        let seen_at_release = Arc::new(AtomicU64::new(0));
        let (seen, count) = (Arc::clone(&seen_at_release), Arc::clone(&calls));
        trim.poke(
            || false,
            move || seen.store(count.load(Ordering::SeqCst) + 1, Ordering::SeqCst),
        );
        settle(3).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(
            seen_at_release.load(Ordering::SeqCst),
            1,
            "released before the trim"
        );
        let busy_release = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&busy_release);
        trim.poke(|| true, move || flag.store(true, Ordering::SeqCst));
        settle(3).await;
        assert!(
            !busy_release.load(Ordering::SeqCst),
            "no release while busy"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn outside_a_runtime_a_poke_schedules_nothing() {
        let (trim, calls) = counting();
        trim.poke(|| false, || {});
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        assert_eq!(trim.trims(), 0);
    }
}
