//! `core::memory::release_free_memory` really gives freed heap back to the system (glibc only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use behest_desktop::core::memory::release_free_memory;

/// Resident set size of this process in bytes, from `/proc/self/statm`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn freed_small_allocations_below_a_live_one_are_returned() {
    // 64 MiB in 4 KiB pieces (below glibc's mmap threshold, so they live in the heap), then
    // one allocation above them that stays: free() alone cannot shrink the heap below it. The
    // pin is 96 KiB (still below the mmap threshold) so that no free chunk left over from
    // earlier can serve it: it comes from the heap's top, above the pieces.
    let pieces: Vec<Vec<u8>> = (0..16_384).map(|i| vec![(i % 251) as u8; 4096]).collect();
    let pin = vec![1u8; 96 << 10];
    let touched: u64 = pieces.iter().map(|p| u64::from(p[0])).sum();
    assert!(touched > 0);
    drop(pieces);
    let before = resident_bytes();
    assert!(release_free_memory(), "glibc reported nothing to release");
    let after = resident_bytes();
    assert!(
        before.saturating_sub(after) >= 32 << 20,
        "resident {before} -> {after} bytes: under 32 MiB returned"
    );
    assert_eq!(pin[0], 1);
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
#[test]
fn off_glibc_there_is_nothing_to_release() {
    assert!(!release_free_memory());
}
