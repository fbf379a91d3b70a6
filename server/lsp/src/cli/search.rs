//! `warden search QUERY [--regex] [--glob G] [--limit N] [--context N] [--json]
//! [--workspace NAME]`: full-text search over a workspace's files through the search
//! index the editor keeps (FTS5 trigram over secret-masked text). The index is first
//! brought up to date with the disk (only files changed since they were indexed are
//! read), so the command works without an editor. Prints `path:line:column: text`
//! lines (ripgrep's form) or JSON lines; exits 0 with matches, 1 without, 2 on error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use serde_json::json;

use crate::search;

/// `warden search`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Options {
    pub query: String,
    /// QUERY is a regular expression (Rust regex syntax); else a literal. Either way
    /// case-insensitive unless it has an upper-case letter.
    #[arg(long, short = 'e')]
    pub regex: bool,
    /// Only paths (relative to the repository root) matching this glob.
    #[arg(long, short = 'g', value_name = "GLOB")]
    pub glob: Option<String>,
    #[arg(long, default_value_t = 200)]
    pub limit: usize,
    /// Lines of context before and after each match.
    #[arg(long, short = 'C', default_value_t = 0)]
    pub context: usize,
    #[arg(long)]
    pub json: bool,
    /// A workspace by name (default: the current directory's repository).
    #[arg(long, value_name = "NAME")]
    pub workspace: Option<String>,
}

pub async fn run(db: Option<PathBuf>, opts: Options) -> ExitCode {
    match search_cli(db, opts).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("warden: {e}");
            ExitCode::from(2)
        }
    }
}

async fn search_cli(db: Option<PathBuf>, opts: Options) -> Result<bool, String> {
    let (store, _tracer) = super::open_store(db)?;
    let row = super::command_workspace(&store, opts.workspace.clone()).await?;
    let root = row
        .root
        .clone()
        .map(PathBuf::from)
        .ok_or_else(|| format!("workspace {} has no folder on this machine", row.name))?;
    let cfg = super::load_trusted_root(&store, &root).await.scan();
    let (id, started) = (row.id, Instant::now());
    let files = warden_workspace::list_files(&root)?;
    let stats = {
        let (store, cfg) = (store.clone(), cfg.clone());
        tokio::task::spawn_blocking(move || {
            search::update(
                &store,
                id,
                &cfg,
                &files,
                &Default::default(),
                &|| false,
                &|_| {},
            )
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?
    };
    if stats.indexed + stats.removed > 0 {
        eprintln!(
            "warden: indexed {} of {} files ({} removed) in {} ms",
            stats.indexed, stats.files, stats.removed, stats.elapsed_ms
        );
    }
    let query = search::Query {
        text: opts.query,
        regex: opts.regex,
        glob: opts.glob,
        limit: opts.limit.max(1),
        context: opts.context,
    };
    let searched = Instant::now();
    let found = search::search(&store, vec![id], &query).await?;
    let any = !found.hits.is_empty();
    for h in &found.hits {
        let column = h
            .matches
            .first()
            .map_or(0, |m| h.text[..m.0].chars().count())
            + 1;
        if opts.json {
            println!(
                "{}",
                json!({
                    "path": h.path,
                    "line": h.line + 1,
                    "column": column,
                    "text": h.text,
                    "before": h.before,
                    "after": h.after,
                })
            );
            continue;
        }
        let first = h.line as usize + 1 - h.before.len();
        for (i, l) in h.before.iter().enumerate() {
            println!("{}-{}-{l}", h.path, first + i);
        }
        println!("{}:{}:{column}:{}", h.path, h.line + 1, h.text);
        for (i, l) in h.after.iter().enumerate() {
            println!("{}-{}-{l}", h.path, h.line as usize + 2 + i);
        }
    }
    let (files, symbols) = search::counts(&store, id).unwrap_or_default();
    eprintln!(
        "warden: {} matching lines{} in {} files searched ({} files, {} symbols indexed) in {:.1} ms{}",
        found.hits.len(),
        if found.truncated {
            " (limit reached)"
        } else {
            ""
        },
        found.files_searched,
        files,
        symbols,
        searched.elapsed().as_secs_f64() * 1000.0,
        if started.elapsed().as_millis() > 1000 {
            format!(
                " ({} ms with the index update)",
                started.elapsed().as_millis()
            )
        } else {
            String::new()
        }
    );
    Ok(any)
}
