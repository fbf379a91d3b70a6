//! `warden run PATH [--input FILE] [-- ARGS...]`: runs a script in the same sandbox as
//! the editor, streaming its output as it comes (stdout to stdout, stderr to stderr),
//! then a summary line and the script lines a failure points at; the run is stored
//! like the editor's. `warden runs` lists the history. The input must be a regular file
//! of at most `run.limits.inputMb`. Exit codes: 0 succeeded, 1 the script failed (or
//! timed out, ran out of memory, was cancelled), 2 usage, IO (a refused input) or
//! engine errors.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tokio_util::sync::CancellationToken;
use warden_sandbox::{Event, Status, Stream};

use crate::registry::Registry;
use crate::runs::{self, Engine, Job};

pub async fn run(
    db: Option<PathBuf>,
    path: &Path,
    input: Option<&Path>,
    args: Vec<String>,
    json: bool,
) -> ExitCode {
    let (store, tracer) = match super::open_store(db) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let code = run_in(&store, &tracer, path, input, args, json).await;
    let _ = store.end_session().await;
    code
}

/// A script run to its end: the run, its spec (for the lines a failure blames) and the
/// script's repository-relative path.
pub struct Done {
    pub finished: runs::Finished,
    pub spec: warden_sandbox::RunSpec,
    pub rel: String,
}

/// Runs a script as `warden run` does (its workspace registered, its repository's
/// trusted settings, the sandbox), sending its events to `events`. The use case the
/// command line and `warden mcp` share.
pub async fn execute(
    store: &warden_store::Store,
    tracer: &warden_trace::Tracer,
    path: &Path,
    input: Option<&Path>,
    args: Vec<String>,
    events: tokio::sync::mpsc::UnboundedSender<Event>,
    cancel: CancellationToken,
) -> Result<Done, String> {
    let path = match std::fs::canonicalize(path) {
        Ok(p) if p.is_file() => p,
        Ok(p) => return Err(format!("{} is not a file", p.display())),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let text = runs::read_script(&path)?;
    let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let mut reg = Registry::new(store.clone())
        .await
        .map_err(|e| e.to_string())?;
    let row = reg
        .add_folder(&dir)
        .await
        .map_err(|e| e.to_string())?
        .workspace;
    let root = row.root.clone().map(PathBuf::from).unwrap_or(dir);
    let cfg = super::load_trusted_root(store, &root).await;
    // Checked and read before the engine is contacted: a FIFO, a device or a file
    // over run.limits.inputMb is refused (exit 2) instead of read whole.
    let input = input
        .map(|i| runs::read_input(&cfg.settings.run.limits, i))
        .transpose()?;
    let (rel, spec) = runs::prepare(&cfg.settings.run, &root, &path, &text, input, args)?;
    let job = Job {
        run_id: warden_trace::new_span_id(),
        batch_id: None,
        workspace: row.as_ref(),
        rel: rel.clone(),
        uri: Some(format!("file://{}", path.display())),
        root,
        spec: spec.clone(),
        engine: cfg.settings.run.engine.clone(),
    };
    let engine = Engine::default();
    let finished = runs::execute(
        runs::Env {
            engine: &engine,
            warm_pool: 0,
            tracer,
            store: Some(store),
        },
        None,
        job,
        events,
        cancel,
    )
    .await;
    Ok(Done {
        finished,
        spec,
        rel,
    })
}

async fn run_in(
    store: &warden_store::Store,
    tracer: &warden_trace::Tracer,
    path: &Path,
    input: Option<&Path>,
    args: Vec<String>,
    json: bool,
) -> ExitCode {
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.cancel();
        }
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let printer = tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            if let Event::Output { stream, chunk, .. } = e {
                let _ = match stream {
                    Stream::Stdout => {
                        let mut o = std::io::stdout().lock();
                        o.write_all(chunk.as_bytes()).and_then(|()| o.flush())
                    }
                    Stream::Stderr => {
                        let mut o = std::io::stderr().lock();
                        o.write_all(chunk.as_bytes()).and_then(|()| o.flush())
                    }
                };
            }
        }
    });
    let Done {
        finished: done,
        spec,
        rel,
    } = match execute(store, tracer, path, input, args, tx, cancel).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("warden: {e}");
            return ExitCode::from(2);
        }
    };
    let _ = printer.await;
    let o = &done.outcome;
    if json {
        println!(
            "{}",
            serde_json::to_string(&done.record).unwrap_or_default()
        );
    }
    let mut summary = format!(
        "warden: {rel}: {} in {} ms",
        o.status.as_str(),
        o.duration.as_millis()
    );
    if let Some(c) = o.exit_code {
        summary.push_str(&format!(", exit code {c}"));
    }
    if let Some(m) = &o.message {
        summary.push_str(&format!(": {m}"));
    }
    if o.stdout_truncated || o.stderr_truncated {
        summary.push_str(&format!(
            " (output truncated: {} bytes of stdout, {} of stderr written)",
            o.stdout_total, o.stderr_total
        ));
    }
    if !o.artifacts.is_empty() {
        summary.push_str(&format!(
            "; artifacts: {}",
            o.artifacts
                .iter()
                .map(|a| format!("{} ({} B)", a.path, a.size))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    eprintln!("{summary}");
    for f in runs::findings(&spec, o) {
        eprintln!(
            "{rel}:{}:{}: error[warden-run]: {}",
            f.line,
            f.column.unwrap_or(1),
            f.message
        );
    }
    eprintln!(
        "warden: run {} (warden runs; warden traces --kind run)",
        done.record.run_id
    );
    match o.status {
        Status::Succeeded => ExitCode::SUCCESS,
        Status::Error => ExitCode::from(2),
        _ => ExitCode::from(1),
    }
}

/// `warden runs [--workspace NAME] [--status S] [--limit N] [--json]`.
pub async fn list(
    db: Option<PathBuf>,
    workspace: Option<String>,
    status: Option<String>,
    limit: usize,
    json: bool,
) -> ExitCode {
    let (store, _) = match super::open_store(db) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let result = store
        .call(move |c| {
            let workspace_id = workspace
                .as_deref()
                .map(|name| warden_store::workspaces::require(c, name).map(|w| w.id))
                .transpose()?;
            let f = warden_store::runs::Filter {
                workspace_id,
                status,
                ..Default::default()
            };
            warden_store::runs::page(c, &f, None, limit.clamp(1, 500))
        })
        .await;
    let _ = store.end_session().await;
    let runs = match result {
        Ok((r, _)) => r,
        Err(e) => {
            eprintln!("warden: {e}");
            return ExitCode::from(2);
        }
    };
    if json {
        for r in &runs {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
        }
        return ExitCode::SUCCESS;
    }
    if runs.is_empty() {
        println!("no runs yet (warden run PATH, or warden.run from an editor)");
        return ExitCode::SUCCESS;
    }
    let rows: Vec<[String; 7]> = runs
        .iter()
        .map(|r| {
            [
                r.started_at
                    .get(..19)
                    .unwrap_or(&r.started_at)
                    .replace('T', " "),
                r.workspace.clone(),
                r.path.clone(),
                r.status.clone(),
                r.exit_code.map_or("-".into(), |c| c.to_string()),
                format!("{} ms", r.duration_ms),
                match &r.head {
                    Some(h) => format!(
                        "{}{}",
                        h.get(..8).unwrap_or(h),
                        if r.dirty { "+dirty" } else { "" }
                    ),
                    None => "-".into(),
                },
            ]
        })
        .collect();
    let header = [
        "started",
        "workspace",
        "script",
        "status",
        "exit",
        "time",
        "version",
    ];
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    println!("{}", line(&header.map(String::from)));
    for r in &rows {
        println!("{}", line(r));
    }
    ExitCode::SUCCESS
}
