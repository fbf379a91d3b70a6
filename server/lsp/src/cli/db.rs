//! `warden db import PATH...` and `warden db stats`: load OSV records into the store and
//! show what is loaded. Import reads regular files only, each record (JSON file or zip
//! entry) up to 64 MiB; what it refuses is named on stderr and makes the exit code 2,
//! after the other files were imported.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use warden_store::advisories;

use crate::DbCommand;

pub async fn run(db: Option<PathBuf>, command: DbCommand) -> ExitCode {
    let (store, _) = match super::open_store(db) {
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
                    "{:<10} {:>10} {:>10} {:>9}  NEWEST",
                    "ECOSYSTEM", "ADVISORIES", "MALICIOUS", "PACKAGES"
                );
                for s in stats {
                    println!(
                        "{:<10} {:>10} {:>10} {:>9}  {}",
                        s.ecosystem,
                        s.advisories,
                        s.malicious,
                        s.packages,
                        s.newest_modified.unwrap_or_default()
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
