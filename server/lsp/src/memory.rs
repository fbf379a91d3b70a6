//! Gives the system back memory the allocator keeps after the server freed it.
//!
//! glibc's allocator returns freed pages only from the top of each arena, and the
//! analysis threads each allocate from their own arena; so after a large document is
//! closed (its syntax tree is tens of megabytes) the process stays at its peak
//! resident size although nothing references the memory. `malloc_trim(0)` hands the
//! free pages of every arena back. It walks and locks each arena in turn, so it runs
//! on the blocking pool after the work that freed the memory, never on the message
//! loop, and bursts of calls (closing many documents at once) collapse into one.

use std::sync::atomic::{AtomicBool, Ordering};

/// Returns the allocator's free pages to the system; whether anything came back.
/// Elsewhere than glibc (musl, macOS, Windows) it does nothing: those allocators
/// return memory by themselves or have no such call.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn release() -> bool {
    // SAFETY: `malloc_trim` takes no pointers and touches no caller state; glibc
    // serialises it with every other allocator call (it is MT-Safe).
    unsafe { libc::malloc_trim(0) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release() -> bool {
    false
}

/// A trim is queued or running: later requests join it.
static PENDING: AtomicBool = AtomicBool::new(false);

/// Schedules [`release`] on the blocking pool once the current burst of work is over
/// (at most one queued at a time).
pub fn release_soon(tasks: &crate::tasks::Tasks) {
    if PENDING.swap(true, Ordering::AcqRel) {
        return;
    }
    let tasks2 = tasks.clone();
    tasks.spawn(async move {
        // Let the closes of a burst (closing all editors) land first.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let _ = tasks2
            .spawn_blocking(|| {
                PENDING.store(false, Ordering::Release);
                let released = release();
                tracing::debug!(released, "returned free memory to the system");
            })
            .await;
    });
}
