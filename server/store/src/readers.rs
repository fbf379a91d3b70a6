//! The read path behind [`crate::Store::read`]: a few threads, each owning its own
//! read-only connection (`SQLITE_OPEN_READ_ONLY`) to the database file, taking jobs
//! from one shared queue. In WAL mode readers and the writer do not block each other,
//! so a long history query or output search runs beside span events and writes instead
//! of queueing ahead of them on the owner thread.
//!
//! Invariants: these connections can never write; each statement sees the database as
//! committed when it starts (not writes merely queued on the owner thread); the
//! threads end when the last [`crate::Store`] handle drops.

use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::Result;

/// How many reads may run at once.
pub(crate) const THREADS: usize = 2;

pub(crate) type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

/// The queue of the reader threads.
pub(crate) struct Readers {
    tx: mpsc::Sender<ReadJob>,
}

impl Readers {
    /// Opens `threads` read-only connections to the (already migrated) database at
    /// `path`, each on its own thread.
    pub(crate) fn open(path: &Path, threads: usize) -> Result<Readers> {
        let mut conns = Vec::with_capacity(threads);
        for _ in 0..threads.max(1) {
            conns.push(open_read_only(path)?);
        }
        let (tx, rx) = mpsc::channel::<ReadJob>();
        let rx = Arc::new(Mutex::new(rx));
        for (i, conn) in conns.into_iter().enumerate() {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("warden-store-read-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => break,
                        };
                        match job {
                            // A panicking job loses its answer (the caller sees the
                            // store closed), not the thread.
                            Ok(job) => {
                                let run = std::panic::AssertUnwindSafe(|| job(&conn));
                                if std::panic::catch_unwind(run).is_err() {
                                    tracing::error!("store: a read panicked");
                                }
                            }
                            Err(_) => break,
                        }
                    }
                })
                .map_err(|e| crate::StoreError::Invalid(format!("cannot start a reader: {e}")))?;
        }
        Ok(Readers { tx })
    }

    /// Queues `job`; gives it back when the threads are gone.
    pub(crate) fn send(&self, job: ReadJob) -> std::result::Result<(), ReadJob> {
        self.tx.send(job).map_err(|e| e.0)
    }
}

fn open_read_only(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // SQLite opens files lazily: touch the schema now, so a failure shows here.
    conn.query_row("PRAGMA schema_version", [], |r| r.get::<_, i64>(0))?;
    Ok(conn)
}
