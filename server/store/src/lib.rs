//! The SQLite store (rusqlite, WAL). One owner thread holds the read-write connection
//! and runs every write (and the queries that must follow them) in submission order, so
//! state changes are serialized and such a query sees the writes submitted before it.
//! Callers use [`Store::call`] (async, with a result) or [`Store::submit`] (fire and
//! forget, for span events). Long read-only queries (run history, output search) use
//! [`Store::read`] instead: read-only connections on their own threads ([`readers`]),
//! which see every committed write and neither wait for nor delay the owner thread.
//!
//! Invariants: nothing else in warden opens the database; only the owner thread
//! writes; schema changes are numbered migrations (`PRAGMA user_version`); an unusable
//! database file is reported by [`Store::open`] with its path, and callers fall back
//! to [`Store::in_memory`].

pub mod advisories;
pub mod findings;
pub mod fixes;
pub mod llm;
pub mod metadata;
mod migrations;
mod process;
mod readers;
pub mod runs;
pub mod scanned;
pub mod search;
pub mod spans;
pub mod trust;
pub mod workspaces;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The connection store closures get (`Store::call`, `Store::call_blocking`).
pub use rusqlite::Connection;

pub use spans::{SpanPage, SpanQuery, StoreSink};
pub use workspaces::{RepoRecord, WorkspaceRow};

/// Everything that can go wrong in the store, phrased for a person.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the database directory {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the database {path} is corrupt or not a warden database ({detail}); move it away to start afresh"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "the database {path} has schema version {found}, newer than this warden knows ({known}); upgrade warden"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the store has shut down")]
    Closed,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Handle to the owner thread. Cheap to clone; the thread ends when the last handle drops.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    tx: mpsc::Sender<Job>,
    location: String,
    session_id: i64,
    /// The database file, when reads may use connections of their own (a file in WAL
    /// mode; an in-memory database has only the owner's connection).
    read_path: Option<PathBuf>,
    /// The read path, opened on the first [`Store::read`]; `None`: reads use the owner.
    readers: OnceLock<Option<readers::Readers>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.inner.location)
            .finish()
    }
}

/// The default database path: `$XDG_DATA_HOME/warden/warden.db`.
pub fn default_path(data_dir: Option<PathBuf>) -> PathBuf {
    data_dir
        .unwrap_or_else(|| PathBuf::from(".local/share"))
        .join("warden")
        .join("warden.db")
}

impl Store {
    /// Opens (creating if needed) the database at `path`, migrates it, registers this
    /// process as a session and marks spans left unfinished by dead processes
    /// `interrupted`.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        Self::start(conn, path.display().to_string(), Some(path))
    }

    /// A private in-memory database: everything works, nothing outlives the process.
    pub fn in_memory() -> Store {
        let conn = Connection::open_in_memory().expect("sqlite can always open :memory:");
        Self::start(conn, ":memory:".into(), None).expect("in-memory database initializes")
    }

    fn start(mut conn: Connection, location: String, path: Option<&Path>) -> Result<Store> {
        let classify = |e: rusqlite::Error| -> StoreError {
            let p = path.map(Path::to_owned).unwrap_or_default();
            match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::NotADatabase)
                | Some(rusqlite::ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
                    path: p,
                    detail: e.to_string(),
                },
                _ => StoreError::Open { path: p, source: e },
            }
        };
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(classify)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(classify)?;
        let mut read_path = None;
        if let Some(path) = path {
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
                .map_err(classify)?;
            if mode.eq_ignore_ascii_case("wal") {
                read_path = Some(path.to_owned());
            } else {
                tracing::warn!("database {location} is in {mode} mode, not WAL");
            }
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(classify)?;
        }
        migrations::migrate(&mut conn).map_err(|e| match e {
            StoreError::Sqlite(e) => classify(e),
            StoreError::TooNew { found, known, .. } => StoreError::TooNew {
                path: path.map(Path::to_owned).unwrap_or_default(),
                found,
                known,
            },
            other => other,
        })?;
        let session_id = process::register_session(&mut conn).map_err(|e| match e {
            StoreError::Sqlite(e) => classify(e),
            other => other,
        })?;
        let interrupted = process::reap_dead_sessions(&mut conn)?;
        if interrupted > 0 {
            tracing::info!("marked {interrupted} unfinished spans of dead processes interrupted");
        }

        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("warden-store".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job(&mut conn);
                }
                let _ = process::end_session(&mut conn, session_id);
            })
            .map_err(|source| StoreError::Dir {
                path: PathBuf::from(&location),
                source,
            })?;
        Ok(Store {
            inner: Arc::new(Inner {
                tx,
                location,
                session_id,
                read_path,
                readers: OnceLock::new(),
            }),
        })
    }

    /// Where the data lives: a file path, or `:memory:`.
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    pub fn is_persistent(&self) -> bool {
        self.inner.location != ":memory:"
    }

    /// This process's session row id (spans record it to detect crashed owners).
    pub fn session_id(&self) -> i64 {
        self.inner.session_id
    }

    /// Marks this process's unfinished spans `interrupted` and removes its session row:
    /// call on a clean exit. Also waits for every job queued before it.
    pub async fn end_session(&self) -> Result<()> {
        let id = self.session_id();
        self.call(move |c| process::end_session(c, id)).await
    }

    /// Runs `f` on the owner thread and returns its result.
    pub async fn call<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.inner
            .tx
            .send(Box::new(move |conn| {
                let _ = tx.send(f(conn));
            }))
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` on the owner thread and waits for it from synchronous code.
    pub fn call_blocking<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        self.inner
            .tx
            .send(Box::new(move |conn| {
                let _ = tx.send(f(conn));
            }))
            .map_err(|_| StoreError::Closed)?;
        rx.recv().map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` on a read-only connection beside the owner thread, so a long query does
    /// not hold up writes and span events (nor they it). `f` sees every write committed
    /// before it runs, but not writes still queued on the owner thread ([`Store::submit`]):
    /// await those ([`Store::call`]) first when it matters. An in-memory store (one
    /// connection) or one whose read path cannot open runs `f` on the owner thread.
    pub async fn read<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: readers::ReadJob = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        let job = match self.readers() {
            Some(r) => r.send(job).err(),
            None => Some(job),
        };
        if let Some(job) = job {
            self.inner
                .tx
                .send(Box::new(move |conn| job(conn)))
                .map_err(|_| StoreError::Closed)?;
        }
        rx.await.map_err(|_| StoreError::Closed)?
    }

    fn readers(&self) -> Option<&readers::Readers> {
        self.inner
            .readers
            .get_or_init(|| {
                let path = self.inner.read_path.as_deref()?;
                readers::Readers::open(path, readers::THREADS)
                    .inspect_err(|e| {
                        tracing::warn!(
                            "store: no read-only connection, reads share the writer's: {e}"
                        )
                    })
                    .ok()
            })
            .as_ref()
    }

    /// Queues `f` on the owner thread without waiting; errors are logged.
    pub fn submit<F>(&self, what: &'static str, f: F)
    where
        F: FnOnce(&mut Connection) -> Result<()> + Send + 'static,
    {
        let _ = self.inner.tx.send(Box::new(move |conn| {
            if let Err(e) = f(conn) {
                tracing::warn!("store: {what} failed: {e}");
            }
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_file_in_wal_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/warden.db");
        let store = Store::open(&path).unwrap();
        let mode: String = store
            .call_blocking(|c| Ok(c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(store);
        let again = Store::open(&path).unwrap();
        assert!(again.is_persistent());
    }

    #[test]
    fn corrupt_file_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("warden.db");
        std::fs::write(&path, vec![0x42u8; 8192]).unwrap();
        let err = Store::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
        assert!(err.to_string().contains(&path.display().to_string()));
    }

    #[test]
    fn unwritable_location_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain-file");
        std::fs::write(&file, "x").unwrap();
        // A path below a regular file can never be created.
        let err = Store::open(&file.join("sub/warden.db")).unwrap_err();
        assert!(matches!(err, StoreError::Dir { .. }), "{err:?}");
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("warden.db");
        {
            let c = Connection::open(&path).unwrap();
            c.pragma_update(None, "user_version", 9999).unwrap();
        }
        let err = Store::open(&path).unwrap_err();
        assert!(
            matches!(err, StoreError::TooNew { found: 9999, .. }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn jobs_run_in_submission_order() {
        let store = Store::in_memory();
        store
            .call(|c| Ok(c.execute_batch("CREATE TABLE t(v INTEGER)")?))
            .await
            .unwrap();
        for i in 0..50 {
            store.submit("insert", move |c| {
                c.execute("INSERT INTO t VALUES (?1)", [i])?;
                Ok(())
            });
        }
        let n: i64 = store
            .call(|c| Ok(c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(n, 50);
    }

    fn count(c: &Connection) -> Result<i64> {
        Ok(c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))?)
    }

    #[tokio::test]
    async fn a_long_read_does_not_block_a_write_and_sees_it_once_committed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("warden.db")).unwrap();
        store
            .call(|c| Ok(c.execute_batch("CREATE TABLE t(v INTEGER); INSERT INTO t VALUES (1)")?))
            .await
            .unwrap();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        // The read counts, says it is under way, then holds its connection (as a long
        // search does) until released, and counts again.
        let read = store.read(move |c| {
            let before = count(c)?;
            started_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            Ok((before, count(c)?))
        });
        let write = async {
            started_rx.await.unwrap();
            let (done_tx, done_rx) = mpsc::channel();
            let writer = store.clone();
            std::thread::spawn(move || {
                let r = writer.call_blocking(|c| {
                    c.execute("INSERT INTO t VALUES (2)", [])?;
                    Ok(())
                });
                let _ = done_tx.send(r);
            });
            // Not a timing assertion: the limit only turns a deadlock into a failure.
            let done = done_rx.recv_timeout(Duration::from_secs(60));
            release_tx.send(()).unwrap();
            done.expect("the write finished while the read held its connection")
                .unwrap();
        };
        let (read, ()) = tokio::join!(read, write);
        assert_eq!(read.unwrap(), (1, 2), "the read sees the committed write");
        let n = store.read(count).await.unwrap();
        assert_eq!(n, 2);
    }

    #[tokio::test]
    async fn the_read_path_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("warden.db")).unwrap();
        store
            .call(|c| Ok(c.execute_batch("CREATE TABLE t(v INTEGER)")?))
            .await
            .unwrap();
        let err = store
            .read(|c| Ok(c.execute("INSERT INTO t VALUES (1)", [])?))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("readonly"), "{err}");
        assert_eq!(store.read(count).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn in_memory_reads_use_the_owner_connection() {
        let store = Store::in_memory();
        store
            .call(|c| Ok(c.execute_batch("CREATE TABLE t(v INTEGER); INSERT INTO t VALUES (7)")?))
            .await
            .unwrap();
        assert_eq!(store.read(count).await.unwrap(), 1);
        let v: i64 = store
            .read(|c| Ok(c.query_row("SELECT v FROM t", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(v, 7);
    }
}
