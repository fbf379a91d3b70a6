//! `warden trust [PATH] [--revoke | --show]`: records that the user trusts the current
//! content of a repository's `.warden.toml` (by SHA-256; any later change is untrusted
//! again), revokes it, or shows what the file holds back. The editors' *Trust this
//! configuration* and this command write the same decision. Exit codes: 0 done, 2 usage
//! or IO error (no such file, no database).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::root_config::{Extras, Trust};

pub async fn run(db: Option<PathBuf>, path: Option<&Path>, revoke: bool, show: bool) -> ExitCode {
    let fail = |m: String| {
        eprintln!("warden: {m}");
        ExitCode::from(2)
    };
    let given = path.unwrap_or(Path::new("."));
    let abs = match std::fs::canonicalize(given) {
        Ok(p) => p,
        Err(e) => return fail(format!("{}: {e}", given.display())),
    };
    let dir = if abs.is_dir() {
        abs.clone()
    } else {
        abs.parent().map(Path::to_path_buf).unwrap_or(abs.clone())
    };
    let root = warden_workspace::repo_root(&dir).unwrap_or(dir);
    let (store, _) = match super::open_store(db) {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    let key = root.display().to_string();
    let stored = {
        let key = key.clone();
        store
            .call(move |c| warden_store::trust::get(c, &key))
            .await
            .ok()
            .flatten()
    };
    let cfg = crate::root_config::build(
        &root,
        &Default::default(),
        Trust::Stored(stored.as_deref()),
        crate::root_config::Stamp::of(&root, 0, 0),
        Extras::default(),
    );
    let Some(file) = cfg.file.as_ref() else {
        if revoke {
            let _ = store
                .call(move |c| warden_store::trust::revoke(c, &key))
                .await;
            println!(
                "{}: no {}; nothing trusted",
                root.display(),
                warden_config::FILE_NAME
            );
            return ExitCode::SUCCESS;
        }
        return fail(format!(
            "{} has no {}",
            root.display(),
            warden_config::FILE_NAME
        ));
    };
    // What the file would change (under the trust rules, whatever the decision).
    let untrusted = crate::root_config::build(
        &root,
        &Default::default(),
        Trust::Stored(None),
        cfg.stamp.clone(),
        Extras::default(),
    );
    let held = untrusted.file.map(|f| f.held).unwrap_or_default();
    println!("{} (sha256 {})", file.path.display(), &file.sha256[..16]);
    if held.is_empty() {
        println!("  sets only keys that apply without trust");
    }
    for h in &held {
        println!("  {}: changes {}", h.key, h.reason);
    }
    let code = if show {
        println!(
            "  {}",
            if file.trusted {
                "trusted"
            } else {
                "not trusted: these keys are ignored"
            }
        );
        ExitCode::SUCCESS
    } else if revoke {
        match store
            .call(move |c| warden_store::trust::revoke(c, &key))
            .await
        {
            Ok(true) => println!("  trust revoked: these keys are ignored again"),
            Ok(false) => println!("  was not trusted"),
            Err(e) => return fail(e.to_string()),
        }
        ExitCode::SUCCESS
    } else {
        let (sha, at) = (file.sha256.clone(), warden_trace::now_rfc3339());
        match store
            .call(move |c| warden_store::trust::set(c, &key, &sha, &at))
            .await
        {
            Ok(()) => println!("  trusted: these keys apply until the file changes"),
            Err(e) => return fail(e.to_string()),
        }
        ExitCode::SUCCESS
    };
    for w in &cfg.warnings {
        eprintln!("warden: warning: {w}");
    }
    let _ = store.end_session().await;
    code
}
