//! Numbered schema migrations. `PRAGMA user_version` records how many have run; each
//! runs in an IMMEDIATE transaction that re-reads the version, so two processes
//! opening one fresh database migrate it exactly once.

use rusqlite::{Connection, TransactionBehavior};

use crate::{Result, StoreError};

/// Migration N (1-based) is `MIGRATIONS[N - 1]`. Never edit a released entry; append.
const MIGRATIONS: &[&str] = &[
    // 1: workspaces, spans, sessions.
    r#"
    CREATE TABLE workspaces (
        id            INTEGER PRIMARY KEY,
        key           TEXT NOT NULL UNIQUE,
        name          TEXT NOT NULL UNIQUE,
        root          TEXT,
        remote        TEXT,
        branch        TEXT,
        head          TEXT,
        system_prompt TEXT,
        archived      INTEGER NOT NULL DEFAULT 0,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL
    );
    INSERT INTO workspaces (key, name, created_at, updated_at)
        VALUES ('default', 'default', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

    CREATE TABLE sessions (
        id          INTEGER PRIMARY KEY,
        pid         INTEGER NOT NULL,
        start_ticks INTEGER,
        started_at  TEXT NOT NULL
    );

    CREATE TABLE spans (
        id               TEXT PRIMARY KEY,
        parent_id        TEXT,
        workspace_id     INTEGER REFERENCES workspaces(id) ON DELETE CASCADE,
        session_id       INTEGER,
        kind             TEXT NOT NULL,
        name             TEXT NOT NULL,
        uri              TEXT,
        input            TEXT,
        output           TEXT,
        started_at       TEXT NOT NULL,
        finished_at      TEXT,
        latency_ms       INTEGER,
        outcome          TEXT,
        error            TEXT,
        tokens_input     INTEGER NOT NULL DEFAULT 0,
        tokens_output    INTEGER NOT NULL DEFAULT 0,
        tokens_cached    INTEGER NOT NULL DEFAULT 0,
        tokens_reasoning INTEGER NOT NULL DEFAULT 0,
        cost_usd         REAL NOT NULL DEFAULT 0
    );
    CREATE INDEX spans_workspace ON spans(workspace_id, id);
    CREATE INDEX spans_kind ON spans(kind, id);
    CREATE INDEX spans_parent ON spans(parent_id);
    CREATE INDEX spans_uri ON spans(uri, id);
    CREATE INDEX spans_unfinished ON spans(session_id) WHERE finished_at IS NULL;
    "#,
    // 2: current findings per workspace file (never the secret: only its hash).
    r#"
    CREATE TABLE findings (
        id           INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        path         TEXT NOT NULL,
        kind         TEXT NOT NULL,
        rule         TEXT NOT NULL,
        severity     TEXT NOT NULL,
        message      TEXT NOT NULL,
        start_line   INTEGER NOT NULL,
        start_col    INTEGER NOT NULL,
        end_line     INTEGER NOT NULL,
        end_col      INTEGER NOT NULL,
        fingerprint  TEXT,
        updated_at   TEXT NOT NULL
    );
    CREATE INDEX findings_path ON findings(workspace_id, path);
    "#,
    // 3: the OSV package database: one row per advisory (the record as JSON), indexed
    // by ecosystem and normalized package name.
    r#"
    CREATE TABLE advisories (
        id          TEXT PRIMARY KEY,
        modified    TEXT NOT NULL,
        malicious   INTEGER NOT NULL DEFAULT 0,
        summary     TEXT,
        record      TEXT NOT NULL,
        imported_at TEXT NOT NULL
    );
    CREATE TABLE advisory_packages (
        advisory_id TEXT NOT NULL REFERENCES advisories(id) ON DELETE CASCADE,
        ecosystem   TEXT NOT NULL,
        name        TEXT NOT NULL,
        PRIMARY KEY (advisory_id, ecosystem, name)
    );
    CREATE INDEX advisory_packages_name ON advisory_packages(ecosystem, name);
    "#,
    // 4: LLM interactions (redacted prompt and reply, usage, cost, timings) per
    // workspace, and the response cache (redacted replies by request hash).
    r#"
    CREATE TABLE llm_interactions (
        id               INTEGER PRIMARY KEY,
        workspace_id     INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        request_id       TEXT NOT NULL,
        span_id          TEXT,
        action           TEXT NOT NULL,
        uri              TEXT,
        provider         TEXT NOT NULL,
        model            TEXT NOT NULL,
        prompt           TEXT NOT NULL,
        response         TEXT,
        tokens_input     INTEGER NOT NULL DEFAULT 0,
        tokens_output    INTEGER NOT NULL DEFAULT 0,
        tokens_cached    INTEGER NOT NULL DEFAULT 0,
        tokens_reasoning INTEGER NOT NULL DEFAULT 0,
        cost_usd         REAL NOT NULL DEFAULT 0,
        latency_ms       INTEGER,
        ttft_ms          INTEGER,
        cache_hit        INTEGER NOT NULL DEFAULT 0,
        outcome          TEXT NOT NULL,
        error            TEXT,
        head             TEXT,
        file_hash        TEXT,
        created_at       TEXT NOT NULL
    );
    CREATE INDEX llm_interactions_workspace ON llm_interactions(workspace_id, id);
    CREATE TABLE llm_cache (
        key        TEXT PRIMARY KEY,
        provider   TEXT NOT NULL,
        model      TEXT NOT NULL,
        response   TEXT NOT NULL,
        usage      TEXT NOT NULL,
        created_at TEXT NOT NULL,
        hits       INTEGER NOT NULL DEFAULT 0
    );
    "#,
    // 5: sandboxed script runs per workspace (what ran: path, git HEAD, content hash,
    // image, limits; how it ended; capped output) and their artifacts.
    r#"
    CREATE TABLE runs (
        id              INTEGER PRIMARY KEY,
        run_id          TEXT NOT NULL UNIQUE,
        workspace_id    INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        span_id         TEXT,
        batch_id        TEXT,
        path            TEXT NOT NULL,
        uri             TEXT,
        head            TEXT,
        dirty           INTEGER NOT NULL DEFAULT 0,
        content_hash    TEXT NOT NULL,
        image           TEXT NOT NULL,
        command         TEXT NOT NULL,
        limits          TEXT NOT NULL,
        input           TEXT,
        status          TEXT NOT NULL,
        exit_code       INTEGER,
        message         TEXT,
        started_at      TEXT NOT NULL,
        finished_at     TEXT NOT NULL,
        duration_ms     INTEGER NOT NULL,
        first_output_ms INTEGER,
        stdout          TEXT NOT NULL,
        stderr          TEXT NOT NULL,
        stdout_bytes    INTEGER NOT NULL,
        stderr_bytes    INTEGER NOT NULL,
        truncated       INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX runs_workspace ON runs(workspace_id, id);
    CREATE INDEX runs_path ON runs(workspace_id, path, id);
    CREATE TABLE run_artifacts (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        path   TEXT NOT NULL,
        size   INTEGER NOT NULL,
        data   BLOB NOT NULL,
        PRIMARY KEY (run_id, path)
    );
    "#,
    // 6: which repository configuration files the user trusts, by root and content.
    r#"
    CREATE TABLE config_trust (
        root       TEXT PRIMARY KEY,
        sha256     TEXT NOT NULL,
        trusted_at TEXT NOT NULL
    );
    "#,
    // 7: what the last workspace scan found clean, per file, so that the next start-up
    // re-reads only what changed (`scanned.rs`).
    r#"
    CREATE TABLE scanned_files (
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        path         TEXT NOT NULL,
        key          TEXT NOT NULL,
        size         INTEGER NOT NULL,
        mtime_ns     INTEGER NOT NULL,
        ctime_ns     INTEGER NOT NULL,
        inode        INTEGER NOT NULL,
        skipped      TEXT,
        long_lines   INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (workspace_id, path)
    ) WITHOUT ROWID;
    "#,
    // 8: where each ecosystem's advisories were downloaded from and how far they are
    // current (`advisories::Source`), for `warden db update` and the background update;
    // when each ecosystem's records were last imported; large archives staged before
    // they are merged in one transaction; package metadata from a registry API
    // (`metadata`).
    r#"
    CREATE TABLE advisory_sources (
        ecosystem     TEXT PRIMARY KEY,
        base_url      TEXT NOT NULL,
        zip_etag      TEXT,
        zip_modified  TEXT,
        csv_etag      TEXT,
        csv_modified  TEXT,
        cursor        TEXT,
        full_at       TEXT,
        checked_at    TEXT NOT NULL,
        records       INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE advisory_imports (
        ecosystem   TEXT PRIMARY KEY,
        imported_at TEXT NOT NULL
    );
    CREATE TABLE advisory_stage (
        stage     TEXT NOT NULL,
        id        TEXT NOT NULL,
        modified  TEXT NOT NULL,
        malicious INTEGER NOT NULL,
        summary   TEXT,
        record    TEXT NOT NULL,
        packages  TEXT NOT NULL,
        withdrawn INTEGER NOT NULL
    );
    CREATE INDEX advisory_stage_stage ON advisory_stage(stage);
    CREATE TABLE package_metadata (
        ecosystem  TEXT NOT NULL,
        name       TEXT NOT NULL,
        fetched_at TEXT NOT NULL,
        body       TEXT NOT NULL,
        PRIMARY KEY (ecosystem, name)
    ) WITHOUT ROWID;
    INSERT INTO advisory_imports (ecosystem, imported_at)
      SELECT p.ecosystem, MAX(a.imported_at) FROM advisory_packages p
        JOIN advisories a ON a.id = p.advisory_id GROUP BY p.ecosystem;
    "#,
    // 9: each span's W3C trace id (its root span's id as 32 hex digits, or a
    // TRACEPARENT's trace) and, for roots continuing a trace from outside, the remote
    // parent span id, so an export (live or `warden traces export`) names the same
    // trace every time. Existing spans get their root's id.
    r#"
    ALTER TABLE spans ADD COLUMN trace_id TEXT;
    ALTER TABLE spans ADD COLUMN remote_parent TEXT;
    CREATE TEMP TABLE span_roots AS
      WITH RECURSIVE up(id, root) AS (
        SELECT id, id FROM spans WHERE parent_id IS NULL
        UNION ALL
        SELECT s.id, up.root FROM spans s JOIN up ON s.parent_id = up.id
      )
      SELECT id, root FROM up;
    CREATE INDEX temp.span_roots_id ON span_roots(id);
    UPDATE spans SET trace_id =
      (SELECT lower(replace(r.root, '-', '')) FROM span_roots r WHERE r.id = spans.id);
    DROP TABLE span_roots;
    "#,
    // 10: the workspace search index: one row per indexed file (its disk identity when
    // it came from disk, none for an open buffer's text), its redacted text in an FTS5
    // trigram table (rowid = file id), and the definitions the grammars' queries find.
    r#"
    CREATE TABLE search_files (
      id INTEGER PRIMARY KEY,
      workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
      path TEXT NOT NULL,
      size INTEGER,
      mtime_ns INTEGER,
      ctime_ns INTEGER,
      inode INTEGER,
      key TEXT NOT NULL,
      UNIQUE (workspace_id, path)
    );
    CREATE VIRTUAL TABLE search_text USING fts5(body, tokenize = 'trigram');
    CREATE TABLE search_symbols (
      file_id INTEGER NOT NULL REFERENCES search_files(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      kind TEXT NOT NULL,
      container TEXT,
      line INTEGER NOT NULL,
      col8 INTEGER NOT NULL,
      col16 INTEGER NOT NULL
    );
    CREATE INDEX search_symbols_file ON search_symbols(file_id);
    CREATE TRIGGER search_files_gone AFTER DELETE ON search_files BEGIN
      DELETE FROM search_text WHERE rowid = old.id;
    END;
    "#,
    // 11: fix-until-green rounds by the hash of what they started from (prompt version,
    // model, file text, failure): the fixed text (secrets as placeholders) and how its
    // run went, so the same loop replays instead of asking and running again.
    r#"
    CREATE TABLE fix_rounds (
      key TEXT PRIMARY KEY,
      workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
      created_at TEXT NOT NULL,
      round TEXT NOT NULL
    );
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub fn migrate(conn: &mut Connection) -> Result<()> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: Default::default(),
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        if version == SCHEMA_VERSION {
            tx.commit()?;
            return Ok(());
        }
        tx.execute_batch(MIGRATIONS[version as usize])?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
        tracing::info!("database migrated to schema {}", version + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_is_idempotent() {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        migrate(&mut c).unwrap();
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let n: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM workspaces WHERE key = 'default'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1);
    }
}
