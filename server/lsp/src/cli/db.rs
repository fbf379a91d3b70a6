//! `warden db import PATH...`, `warden db update [ECOSYSTEM...]` and `warden db stats`:
//! load OSV records into the store (from files, or from a mirror) and show what is
//! loaded and how current it is. Import reads regular files only, each record (JSON file or zip
//! entry) up to 64 MiB; what it refuses is named on stderr and makes the exit code 2,
//! after the other files were imported.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use warden_store::advisories;

use crate::DbCommand;

pub async fn run(db: Option<PathBuf>, command: DbCommand) -> ExitCode {
    let (store, tracer) = match super::open_store(db) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let code = match command {
        DbCommand::Import { paths, json } => {
            let started = Instant::now();
            match crate::osv_import::import(&store, &paths).await {
                Ok(report) => {
                    if json {
                        println!("{}", serde_json::to_string(&report).unwrap_or_default());
                    } else {
                        for (eco, c) in &report.by_ecosystem {
                            println!(
                                "{eco:<10} {:>6} added {:>6} updated {:>6} unchanged",
                                c.added, c.updated, c.unchanged
                            );
                        }
                        println!(
                            "{} files in {} ms; skipped {} withdrawn, {} for other ecosystems, {} invalid; {} refused",
                            report.files,
                            started.elapsed().as_millis(),
                            report.withdrawn,
                            report.unsupported,
                            report.invalid,
                            report.refused
                        );
                        for p in &report.problems {
                            eprintln!("warden: {p}");
                        }
                    }
                    if report.refused > 0 {
                        eprintln!(
                            "warden: {} paths, files or entries refused (only regular files, records up to {} MiB)",
                            report.refused,
                            crate::osv_import::MAX_RECORD_BYTES >> 20
                        );
                        ExitCode::from(2)
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                Err(e) => {
                    eprintln!("warden: {e}");
                    ExitCode::from(2)
                }
            }
        }
        DbCommand::Update {
            ecosystems,
            mirror,
            full,
            timeout,
            max_mb,
            json,
        } => {
            update(
                &store, &tracer, ecosystems, mirror, full, timeout, max_mb, json,
            )
            .await
        }
        DbCommand::Stats { json } => match store.call(|c| advisories::stats(c)).await {
            Ok(stats) if json => {
                for s in stats {
                    println!("{}", serde_json::to_string(&s).unwrap_or_default());
                }
                ExitCode::SUCCESS
            }
            Ok(stats) if stats.is_empty() => {
                println!("no advisories loaded; import some with `warden db import PATH`");
                ExitCode::SUCCESS
            }
            Ok(stats) => {
                println!(
                    "{:<10} {:>10} {:>10} {:>9}  {:<24}  {:<24}  SOURCE",
                    "ECOSYSTEM", "ADVISORIES", "MALICIOUS", "PACKAGES", "NEWEST", "CURRENT AS OF"
                );
                for s in stats {
                    println!(
                        "{:<10} {:>10} {:>10} {:>9}  {:<24}  {:<24}  {}",
                        s.ecosystem,
                        s.advisories,
                        s.malicious,
                        s.packages,
                        s.newest_modified.unwrap_or_default(),
                        s.current_as_of.unwrap_or_default(),
                        s.mirror.as_deref().unwrap_or("imported files")
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("warden: {e}");
                ExitCode::from(2)
            }
        },
    };
    let _ = store.end_session().await;
    code
}

/// `warden db update`: exit code 0 when every ecosystem was updated (or was current),
/// 1 when some failed (their previous data kept), 2 for bad arguments.
#[allow(clippy::too_many_arguments)]
async fn update(
    store: &warden_store::Store,
    tracer: &warden_trace::Tracer,
    ecosystems: Vec<String>,
    mirror: Option<String>,
    full: bool,
    timeout: u64,
    max_mb: u64,
    json: bool,
) -> ExitCode {
    use std::io::{IsTerminal, Write};
    use warden_analysis::packages::Ecosystem;
    if warden_config::offline() {
        eprintln!("warden: WARDEN_OFFLINE is set; nothing downloaded");
        return ExitCode::from(2);
    }
    let mut asked = Vec::new();
    for name in &ecosystems {
        match Ecosystem::ALL
            .into_iter()
            .find(|e| e.as_str().eq_ignore_ascii_case(name))
        {
            Some(e) => asked.push(e),
            None => {
                eprintln!(
                    "warden: unknown ecosystem {name:?}; one of: {}",
                    Ecosystem::ALL.map(|e| e.as_str()).join(", ")
                );
                return ExitCode::from(2);
            }
        }
    }
    if asked.is_empty() {
        let known = store
            .call(|c| advisories::sources(c))
            .await
            .unwrap_or_default();
        asked = known
            .iter()
            .filter_map(|s| Ecosystem::parse(&s.ecosystem))
            .collect();
    }
    if asked.is_empty() {
        let cwd = std::env::current_dir().unwrap_or_default();
        let root = warden_workspace::repo_root(&cwd).unwrap_or(cwd);
        asked = tokio::task::spawn_blocking(move || {
            crate::osv_update::manifest_ecosystems(&root, 200_000)
        })
        .await
        .unwrap_or_default();
    }
    if asked.is_empty() {
        eprintln!(
            "warden: no ecosystem named and no manifest found here; name some: {}",
            Ecosystem::ALL.map(|e| e.as_str()).join(", ")
        );
        return ExitCode::from(2);
    }
    asked.sort();
    asked.dedup();
    let settings = warden_config::PackagesSettings {
        osv_mirror: mirror,
        ..Default::default()
    };
    let opts = crate::osv_update::Options {
        mirror: settings.mirror(),
        ecosystems: asked,
        max_download_bytes: max_mb.saturating_mul(1 << 20),
        timeout: std::time::Duration::from_secs(timeout.max(1)),
        cache_dir: crate::osv_update::cache_dir(store),
        full,
    };
    let terminal = std::io::stderr().is_terminal() && !json;
    let progress = move |p: crate::osv_update::Progress| {
        if !terminal {
            return;
        }
        let line = match p.total {
            Some(t) if t > 0 && p.message.contains("downloading") => format!(
                "{} {:.1}/{:.1} MiB ({}%)",
                p.message,
                p.done as f64 / 1048576.0,
                t as f64 / 1048576.0,
                p.done * 100 / t
            ),
            Some(t) => format!("{} {}/{t}", p.message, p.done),
            None if p.done > 0 => format!("{} {:.1} MiB", p.message, p.done as f64 / 1048576.0),
            None => p.message,
        };
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[K{line}");
        let _ = err.flush();
    };
    let cancel = tokio_util::sync::CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.cancel();
        }
    });
    let started = Instant::now();
    let report = crate::osv_update::update_traced(store, tracer, &opts, &progress, &cancel).await;
    if terminal {
        eprint!("\r\x1b[K");
    }
    if json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        println!("mirror {}", report.mirror);
        for e in &report.ecosystems {
            match &e.error {
                Some(err) => println!("{:<10} failed: {err} (previous data kept)", e.ecosystem),
                None => println!(
                    "{:<10} {:<11} {:>7} added {:>7} updated {:>6} withdrawn {:>8} records  {:.1} MiB",
                    e.ecosystem,
                    e.mode,
                    e.added,
                    e.updated,
                    e.withdrawn,
                    e.records,
                    e.bytes as f64 / 1048576.0
                ),
            }
        }
        println!("in {} ms", started.elapsed().as_millis());
    }
    if report.failed().next().is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
