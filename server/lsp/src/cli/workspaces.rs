//! `warden workspaces [PATH...] [--json]`: registers folders (as an editor opening them
//! would, traced as an `index` span) and prints every workspace.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::Value;

use crate::lsp_ext::WorkspaceInfo;
use crate::registry::Registry;

pub async fn run(db: Option<PathBuf>, paths: &[PathBuf], json: bool) -> ExitCode {
    let (store, tracer) = match super::open_store(db) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut reg = match Registry::new(store.clone()).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("warden: {e}");
            return ExitCode::from(2);
        }
    };
    let mut code = ExitCode::SUCCESS;
    if !paths.is_empty() {
        let (dirs, missing): (Vec<PathBuf>, Vec<PathBuf>) =
            paths.iter().cloned().partition(|p| p.is_dir());
        let change = reg.change_folders(&tracer, &dirs, &[]).await;
        for w in &change.warnings {
            eprintln!("warden: warning: {w}");
        }
        let errors = missing
            .iter()
            .map(|p| format!("{}: not a directory", p.display()))
            .chain(change.errors);
        for e in errors {
            eprintln!("warden: {e}");
            code = ExitCode::from(2);
        }
    }
    let list = match reg.list(&Value::Null).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("warden: {e}");
            return ExitCode::from(2);
        }
    };
    if json {
        for w in &list {
            println!("{}", serde_json::to_string(w).unwrap_or_default());
        }
    } else {
        print!("{}", table(&list));
    }
    let _ = store.end_session().await;
    code
}

fn table(list: &[WorkspaceInfo]) -> String {
    let rows: Vec<[String; 5]> = list
        .iter()
        .map(|w| {
            let mut flags = Vec::new();
            if w.open {
                flags.push("open");
            }
            if w.archived {
                flags.push("archived");
            }
            if w.system_prompt.is_some() {
                flags.push("prompt");
            }
            [
                w.name.clone(),
                w.branch.clone().unwrap_or_else(|| "-".into()),
                w.head
                    .as_deref()
                    .map(|h| h[..h.len().min(10)].to_owned())
                    .unwrap_or_else(|| "-".into()),
                flags.join(","),
                w.root.as_deref().map(shorten).unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let header = ["NAME", "BRANCH", "HEAD", "FLAGS", "ROOT"].map(String::from);
    let widths: Vec<usize> = (0..5)
        .map(|i| {
            rows.iter()
                .chain([&header])
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in [&header].into_iter().chain(rows.iter()) {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn shorten(root: &str) -> String {
    match std::env::var_os("HOME") {
        Some(home) if !home.is_empty() => match Path::new(root).strip_prefix(&home) {
            Ok(rest) => format!("~/{}", rest.display()),
            Err(_) => root.to_owned(),
        },
        _ => root.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let w = |name: &str, open: bool| WorkspaceInfo {
            name: name.into(),
            root: Some("/r".into()),
            remote: None,
            branch: Some("main".into()),
            head: Some("0123456789abcdef".into()),
            active: false,
            archived: !open,
            open,
            system_prompt: None,
            system_prompt_source: None,
            created_at: "t".into(),
        };
        let t = table(&[w("a", true), w("longer-name", false)]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("NAME         BRANCH"));
        assert!(lines[1].contains("0123456789 ") && lines[1].contains("open"));
        assert!(lines[2].contains("archived"));
    }
}
