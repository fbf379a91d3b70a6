//! The headless CLI: `warden --version`, `warden workspaces PATH...`, `warden traces`.

use std::process::Command;

use serde_json::Value;

use crate::support::*;

fn warden(db: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(warden_bin())
        .args(args)
        .env("WARDEN_DB", db)
        .output()
        .expect("run warden");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn version_prints_the_crate_version() {
    let (code, out, _) = warden(std::path::Path::new("/nonexistent"), &["--version"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), format!("warden {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn workspaces_registers_folders_and_traces_show_the_span() {
    let tmp = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(tmp.path()).unwrap();
    let a = repo(&root, "app");
    let b = repo(&root.join("other"), "app");
    let db = root.join("w.db");

    let (code, out, err) = warden(
        &db,
        &["workspaces", a.to_str().unwrap(), b.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{out}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("app ") && l.contains("main")),
        "{out}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("app-2 ")),
        "same directory name gets a suffix: {out}"
    );

    let (code, out, _) = warden(&db, &["workspaces", "--json"]);
    assert_eq!(code, 0);
    let rows: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(by_name(&rows, "app")["head"], head(&a));
    assert_eq!(
        by_name(&rows, "app")["open"],
        false,
        "nothing is open after the command"
    );

    let (code, out, _) = warden(&db, &["traces"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("workspace.folders") && out.contains("█") && out.contains(" ok"),
        "{out}"
    );

    let (code, out, _) = warden(
        &db,
        &["traces", "--json", "--kind", "index", "--limit", "1"],
    );
    assert_eq!(code, 0);
    let span: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(span["kind"], "index");
    assert_eq!(
        span["output"]["workspaces"],
        serde_json::json!(["app", "app-2"])
    );

    let (code, _, err) = warden(&db, &["traces", "--workspace", "ghost"]);
    assert_eq!(code, 2);
    assert!(err.contains("no workspace named"), "{err}");
    let (code, _, err) = warden(&db, &["workspaces", root.join("missing").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("not a directory"), "{err}");
}

#[test]
fn unusable_database_exits_2_with_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("db");
    std::fs::write(&bad, b"not sqlite at all, definitely not, padding padding padding padding padding padding padding").unwrap();
    let (code, _, err) = warden(&bad, &["workspaces"]);
    assert_eq!(code, 2);
    assert!(err.contains(&bad.display().to_string()), "{err}");
}
