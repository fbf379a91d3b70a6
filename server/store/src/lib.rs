//! The SQLite store (rusqlite, WAL). One owner thread holds the connection and runs
//! every read and write in submission order, so state changes are serialized and a
//! query always sees the writes submitted before it. Callers use [`Store::call`]
//! (async, with a result) or [`Store::submit`] (fire and forget, for span events).
//!
//! Invariants: nothing else in warden opens the database; schema changes are numbered
//! migrations (`PRAGMA user_version`); an unusable database file is reported by
//! [`Store::open`] with its path, and callers fall back to [`Store::in_memory`].

pub mod advisories;
pub mod findings;
pub mod llm;
mod migrations;
mod process;
pub mod spans;
pub mod workspaces;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::Connection;

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
        if path.is_some() {
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
                .map_err(classify)?;
            if !mode.eq_ignore_ascii_case("wal") {
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
}
