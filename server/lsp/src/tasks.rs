//! Supervised background work. Every task the server starts (analyses, scans, imports,
//! LLM actions' helpers, runs, questions to the user) is spawned through [`Tasks`], on
//! one `TaskTracker`, so shutdown can cancel them all and wait for them with a deadline
//! instead of leaving fire-and-forget work behind. Cancellable work registers its
//! `CancellationToken` under the keys clients cancel it by (a `$/progress` token, an LLM
//! request id, a run id) through a [`TaskGuard`], which unregisters them when the work
//! ends however it ends (an aborted future included).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Default)]
struct Inner {
    tokens: Mutex<HashMap<String, CancellationToken>>,
    tracker: TaskTracker,
    /// Cancelled at shutdown: loops that run for the whole session end on it.
    stopping: CancellationToken,
}

/// The server's background work (cheap to clone: one shared registry).
#[derive(Clone, Default)]
pub struct Tasks(Arc<Inner>);

/// Keeps keys registered while the work runs; unregisters them when dropped.
#[must_use = "the keys are unregistered when the guard drops"]
pub struct TaskGuard {
    tasks: Tasks,
    keys: Vec<String>,
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        let mut tokens = self.tasks.0.tokens.lock();
        for k in &self.keys {
            tokens.remove(k);
        }
    }
}

impl Tasks {
    /// Runs `fut` as a tracked task.
    pub fn spawn<F>(&self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.tracker.spawn(fut)
    }

    /// Runs blocking `f` on the blocking pool as a tracked task.
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.0.tracker.spawn_blocking(f)
    }

    /// Runs CPU-bound `f` on the background pool (rayon's global pool, whose threads
    /// run at a lower priority, see [`background_pool`]) and resolves with its result
    /// (an error if `f` panicked). Shutdown waits for it like for any tracked task.
    pub fn spawn_background<F, R>(&self, f: F) -> oneshot::Receiver<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let token = self.0.tracker.token();
        rayon::spawn(move || {
            let _token = token;
            let _ = tx.send(f());
        });
        rx
    }

    /// Registers `token` under each key until the returned guard drops.
    pub fn register(&self, keys: Vec<String>, token: &CancellationToken) -> TaskGuard {
        {
            let mut tokens = self.0.tokens.lock();
            for k in &keys {
                tokens.insert(k.clone(), token.clone());
            }
        }
        TaskGuard {
            tasks: self.clone(),
            keys,
        }
    }

    /// The key map itself, for callers that register and remove keys by hand (run-all
    /// batches register one key per member script up front).
    pub fn lock(&self) -> parking_lot::MutexGuard<'_, HashMap<String, CancellationToken>> {
        self.0.tokens.lock()
    }

    /// The token registered under `key`.
    pub fn token(&self, key: &str) -> Option<CancellationToken> {
        self.0.tokens.lock().get(key).cloned()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.tokens.lock().contains_key(key)
    }

    /// Cancels the work registered under `key`; false when there is none.
    pub fn cancel(&self, key: &str) -> bool {
        match self.token(key) {
            Some(t) => {
                t.cancel();
                true
            }
            None => false,
        }
    }

    pub fn cancel_all(&self) {
        for t in self.0.tokens.lock().values() {
            t.cancel();
        }
    }

    /// Cancelled when the server shuts down (for loops that live as long as it does).
    pub fn stopping(&self) -> CancellationToken {
        self.0.stopping.clone()
    }

    /// Cancels everything, stops taking new tasks, and waits for those running, at most
    /// `deadline`. Returns how many were still running then.
    pub async fn shutdown(&self, deadline: Duration) -> usize {
        self.0.stopping.cancel();
        self.cancel_all();
        self.0.tracker.close();
        match tokio::time::timeout(deadline, self.0.tracker.wait()).await {
            Ok(()) => 0,
            Err(_) => self.0.tracker.len(),
        }
    }
}

/// Sets up rayon's global pool as the server's background pool: re-parses after edits
/// and workspace scans run there. Its threads run at a lower priority (Linux: nice +10
/// for each thread), so that on a busy machine the editor, and this server's message
/// loop and output, preempt them at once: on two cores a re-parse running beside the
/// editor otherwise delays the editor reading the diagnostics it waits for by
/// milliseconds. Call once, before anything uses the pool.
pub fn background_pool() {
    let built = rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("warden-bg-{i}"))
        .start_handler(|_| lower_this_thread())
        .build_global();
    if let Err(e) = built {
        tracing::warn!("background pool: {e}");
    }
}

/// Lowers the calling thread's scheduling priority. On Linux the nice value belongs to
/// the thread, not the process.
fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    {
        /// How much lower than the rest of the server (a nice value).
        const BACKGROUND_NICENESS: i32 = 10;
        // SAFETY: plain syscalls on the calling thread; no memory is shared.
        #[allow(unsafe_code)]
        let failed = unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, BACKGROUND_NICENESS) != 0
        };
        if failed {
            tracing::debug!("background thread keeps its priority");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn guards_unregister_and_shutdown_waits_with_a_deadline() {
        let tasks = Tasks::default();
        let token = CancellationToken::new();
        let guard = tasks.register(vec!["a".into(), "b".into()], &token);
        assert!(tasks.contains("a") && tasks.contains("b"));
        // Cancelled work ends; shutdown waits for it.
        let t = token.clone();
        tasks.spawn(async move {
            t.cancelled().await;
            drop(guard);
        });
        // A session-long loop ends on `stopping`.
        let stopping = tasks.stopping();
        tasks.spawn(async move { stopping.cancelled().await });
        // Work that ignores cancellation is waited for only until the deadline.
        tasks.spawn(tokio::time::sleep(Duration::from_secs(60)));
        let left = tasks.shutdown(Duration::from_millis(200)).await;
        assert_eq!(left, 1, "the sleeper is still running");
        assert!(token.is_cancelled());
        assert!(!tasks.contains("a") && !tasks.contains("b"));
        assert!(!tasks.cancel("a"));
    }
}
