//! Risky shell patterns: piping downloads into a shell, `rm -rf /` or an unguarded
//! `rm -rf $VAR/`, world-writable `chmod 777`, `eval` of decoded or downloaded content,
//! disabled TLS verification, and writing to `~/.ssh/authorized_keys`. Checked on every
//! line of shell scripts, Dockerfiles, Makefiles and YAML (CI steps), in the strings
//! passed to a shell from code (`grammars/<lang>/shell_calls.scm`), and, for the
//! code-level forms (`eval(base64...)`, `verify=False`), on every line of code.

use std::sync::LazyLock;

use regex::Regex;
use tree_sitter::{QueryCursor, StreamingIterator, Tree};

use crate::{Finding, FindingKind, Lang, LineIndex, Severity};

#[derive(Clone)]
struct Pattern {
    id: &'static str,
    reason: &'static str,
    regex: Regex,
}

fn p(id: &'static str, reason: &'static str, regex: &str) -> Pattern {
    Pattern {
        id,
        reason,
        regex: Regex::new(regex).expect("shell pattern compiles"),
    }
}

/// The shell check's compiled patterns. Each regular expression keeps a matching cache
/// for every thread that used it, for as long as it lives (about 4 MB after a large
/// workspace scan, `workspace_scan` bench); a clone shares what is compiled and starts
/// with no caches, so a workspace scan works on its own clone and its caches go with
/// it, as the secret rules' do.
#[derive(Clone)]
pub struct Patterns {
    /// For shell command text.
    shell: Vec<Pattern>,
    /// For lines of code (Python, JavaScript/TypeScript, Go, Rust).
    code: Vec<Pattern>,
}

impl Patterns {
    /// The built-in patterns, compiled once.
    pub fn builtin() -> &'static Patterns {
        &BUILTIN
    }
}

static BUILTIN: LazyLock<Patterns> = LazyLock::new(|| Patterns {
    shell: shell_patterns(),
    code: code_patterns(),
});

/// Patterns for shell command text.
fn shell_patterns() -> Vec<Pattern> {
    vec![
        p(
            "shell-pipe-to-shell",
            "runs a downloaded script without checking it; download it, verify its checksum or signature, then run it",
            r"\b(?:curl|wget)\b[^|;&\n]*\|\s*(?:sudo\s+(?:-\S+\s+)*)?(?:ba|z|k|da)?sh\b|\b(?:ba|z)?sh\s+<\(\s*(?:curl|wget)\b",
        ),
        p(
            "shell-rm-rf-root",
            "deletes the root or home directory",
            r#"\brm\s+(?:-[a-zA-Z-]+\s+)*-[a-zA-Z]*[rR][a-zA-Z]*\s+(?:-[a-zA-Z-]+\s+)*(?:/|/\*|~/?|~/\*|\$HOME/?|"\$HOME"/?)(?:\s|$|;|&|\|)"#,
        ),
        p(
            "shell-rm-rf-unguarded-var",
            "deletes from / if the variable is empty or unset; write \"${VAR:?}\"/ so the shell stops instead",
            r#"\brm\s+(?:-[a-zA-Z-]+\s+)*-[a-zA-Z]*[rR][a-zA-Z]*\s+(?:-[a-zA-Z-]+\s+)*"?\$\{?[A-Za-z_][A-Za-z0-9_]*\}?"?/"#,
        ),
        p(
            "shell-chmod-777",
            "makes files world-writable; grant only the permissions needed (e.g. 755 or 644)",
            r"\bchmod\s+(?:-[a-zA-Z]+\s+)*(?:0?777|a\+rwx|ugo\+rwx)\b",
        ),
        p(
            "shell-eval-remote",
            "evaluates downloaded or decoded content; an attacker who controls it controls the shell",
            r"\beval\b[^\n]*(?:\$\(\s*(?:curl|wget)\b|`\s*(?:curl|wget)\b|base64\s+(?:-d|--decode|-D))|base64\s+(?:-d|--decode|-D)[^|\n]*\|\s*(?:ba|z)?sh\b",
        ),
        p(
            "shell-tls-verify-disabled",
            "disables TLS certificate verification, allowing man-in-the-middle attacks",
            r#"\bcurl\b[^\n|;]*\s(?:-[a-zA-Z]*k[a-zA-Z]*|--insecure)(?:\s|$)|\bwget\b[^\n|;]*--no-check-certificate|http\.sslVerify[\s=]+false|GIT_SSL_NO_VERIFY=(?:1|true)|NODE_TLS_REJECT_UNAUTHORIZED=['"]?0|PYTHONHTTPSVERIFY=0|\bstrict-ssl\s+false|\bpip3?\s+install\b[^\n]*--trusted-host"#,
        ),
        p(
            "shell-authorized-keys",
            "adds an SSH key that grants login access to this machine",
            r#"(?:>>?|\btee\b(?:\s+-a)?)\s*["']?(?:~|\$HOME|/root|/home/[^/\s]+)/\.ssh/authorized_keys"#,
        ),
    ]
}

/// Patterns for lines of code (Python, JavaScript/TypeScript, Go, Rust).
fn code_patterns() -> Vec<Pattern> {
    vec![
        p(
            "code-eval-remote",
            "evaluates downloaded or decoded content; whoever controls it runs code here",
            r"\b(?:eval|exec)\s*\(\s*(?:base64\.b64decode|codecs\.decode|zlib\.decompress|marshal\.loads|requests\.get|urllib\.request\.urlopen|atob|Buffer\.from|await\s+fetch)",
        ),
        p(
            "code-tls-verify-disabled",
            "disables TLS certificate verification, allowing man-in-the-middle attacks",
            r#"\bverify\s*=\s*False\b|\bssl\._create_unverified_context\b|\bssl\.CERT_NONE\b|\brejectUnauthorized\s*:\s*false\b|NODE_TLS_REJECT_UNAUTHORIZED\s*=\s*['"]0|\bInsecureSkipVerify\s*:\s*true\b|\bdanger_accept_invalid_certs\s*\(\s*true\s*\)"#,
        ),
    ]
}

fn check(patterns: &[Pattern], text: &str, base: usize, index: &LineIndex, out: &mut Vec<Finding>) {
    for pat in patterns {
        for m in pat.regex.find_iter(text) {
            out.push(Finding::at(
                index,
                FindingKind::Shell,
                pat.id,
                Severity::Warning,
                format!("Risky: {}", pat.reason),
                base + m.start(),
                base + m.end(),
            ));
        }
    }
}

fn is_comment(line: &str, lang: Lang) -> bool {
    let t = line.trim_start();
    match lang.line_comment() {
        Some(c) => t.starts_with(c) && !(c == "#" && t.starts_with("#!")),
        None => false,
    }
}

/// Risky shell patterns in `text`, matched with `patterns`. `tree` gives the file's parse tree (when it has a
/// grammar), used to find strings passed to a shell; it is called only when a shell
/// pattern matches somewhere in code that has a shell-call query, so most files are
/// never parsed for this check.
pub fn scan<'t>(
    patterns: &Patterns,
    text: &str,
    lang: Lang,
    tree: impl FnOnce() -> Option<&'t Tree>,
    index: &LineIndex,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let line_based = lang.is_shell_like() || matches!(lang, Lang::Yaml);
    let code = matches!(
        lang.name(),
        "python" | "javascript" | "typescript" | "tsx" | "go" | "rust"
    );
    // Each pattern runs once over the whole text; matches on comment lines are dropped.
    let mut whole = Vec::new();
    if line_based {
        check(&patterns.shell, text, 0, index, &mut whole);
    }
    if code {
        check(&patterns.code, text, 0, index, &mut whole);
    }
    out.extend(whole.into_iter().filter(|f| {
        index
            .line_range(f.range.start.line as usize, text)
            .is_none_or(|r| !is_comment(&text[r], lang))
    }));
    let query = lang
        .grammar()
        .and_then(|g| crate::language::compiled_query(g, "shell_calls"));
    // A string passed to a shell matters only if a shell pattern matches inside it:
    // find candidate matches first, then run the query on just their lines.
    let mut candidates = Vec::new();
    if query.is_some() && !line_based {
        check(&patterns.shell, text, 0, index, &mut candidates);
    }
    let tree = (!candidates.is_empty()).then(tree).flatten();
    if let (Some(query), Some(tree)) = (query, tree) {
        let command = query.capture_index_for_name("command");
        let mut cursor = QueryCursor::new();
        for c in candidates {
            let Some(line) = index.line_range(c.range.start.line as usize, text) else {
                continue;
            };
            cursor.set_byte_range(line.start..line.end.max(c.end));
            let mut matches = cursor.matches(&query, tree.root_node(), text.as_bytes());
            let mut inside = false;
            while let Some(m) = matches.next() {
                inside |= m.captures.iter().any(|cap| {
                    Some(cap.index) == command
                        && cap.node.start_byte() <= c.start
                        && c.end <= cap.node.end_byte()
                });
            }
            if inside {
                out.push(c);
            }
        }
    }
    out.sort_by_key(|f| (f.start, f.end));
    out.dedup_by(|a, b| a.start == b.start && a.rule == b.rule);
    out.retain(|f| {
        index
            .line_range(f.range.start.line as usize, text)
            .is_none_or(|r| !crate::secrets::filters::suppressed(&text[r]))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn rules(path: &str, text: &str) -> Vec<String> {
        let lang = Lang::detect(Some(Path::new(path)), None);
        let tree = lang
            .grammar()
            .and_then(|g| crate::syntax::parse(g, text, None));
        scan(
            Patterns::builtin(),
            text,
            lang,
            || tree.as_ref(),
            &LineIndex::new(text),
        )
        .into_iter()
        .map(|f| f.rule)
        .collect()
    }

    #[test]
    fn shell_scripts() {
        for (line, rule) in [
            (
                "curl -fsSL https://get.example.invalid/install.sh | sh",
                "shell-pipe-to-shell",
            ),
            (
                "wget -qO- https://x.invalid/i | sudo bash",
                "shell-pipe-to-shell",
            ),
            ("bash <(curl -s https://x.invalid/i)", "shell-pipe-to-shell"),
            ("rm -rf /", "shell-rm-rf-root"),
            ("sudo rm -rf --no-preserve-root /", "shell-rm-rf-root"),
            ("rm -rf \"$BUILD_DIR\"/", "shell-rm-rf-unguarded-var"),
            ("rm -fr $TMP/*", "shell-rm-rf-unguarded-var"),
            ("chmod -R 777 /srv/app", "shell-chmod-777"),
            (
                "eval \"$(curl -s https://x.invalid/env)\"",
                "shell-eval-remote",
            ),
            ("echo aGk= | base64 -d | bash", "shell-eval-remote"),
            (
                "curl -k https://internal.invalid/api",
                "shell-tls-verify-disabled",
            ),
            (
                "git config --global http.sslVerify false",
                "shell-tls-verify-disabled",
            ),
            (
                "echo $KEY >> ~/.ssh/authorized_keys",
                "shell-authorized-keys",
            ),
        ] {
            assert_eq!(rules("run.sh", line), vec![rule.to_string()], "{line}");
        }
    }

    #[test]
    fn safe_forms_are_not_flagged() {
        for line in [
            "rm -rf \"${BUILD_DIR:?}\"/",
            "rm -rf ./build",
            "chmod 755 bin/tool",
            "curl -fsSLo install.sh https://x.invalid/i && sha256sum -c install.sha256",
            "# curl https://x.invalid | sh   (documented, commented out)",
            "eval \"$(ssh-agent -s)\"",
        ] {
            assert!(
                rules("run.sh", line).is_empty(),
                "{line}: {:?}",
                rules("run.sh", line)
            );
        }
    }

    #[test]
    fn dockerfiles_makefiles_and_ci_yaml() {
        assert_eq!(
            rules(
                "Dockerfile",
                "RUN curl -sL https://x.invalid/setup | bash -\n"
            ),
            ["shell-pipe-to-shell"]
        );
        assert_eq!(
            rules("Makefile", "clean:\n\trm -rf ~/\n"),
            ["shell-rm-rf-root"]
        );
        assert_eq!(
            rules(".github/workflows/ci.yml", "  - run: chmod 777 out\n"),
            ["shell-chmod-777"]
        );
    }

    #[test]
    fn strings_passed_to_a_shell_from_code() {
        let py = "import os, subprocess\nos.system(\"curl https://x.invalid/a | sh\")\nsubprocess.run(\"rm -rf $DIR/\", shell=True)\nprint(\"curl https://x.invalid | sh\")\n";
        assert_eq!(
            rules("a.py", py),
            ["shell-pipe-to-shell", "shell-rm-rf-unguarded-var"]
        );
        let js = "const cp = require('child_process');\ncp.exec(`chmod 777 ${dir}`);\nconsole.log('rm -rf /');\n";
        assert_eq!(rules("a.js", js), ["shell-chmod-777"]);
        let ts = "import { execSync } from 'child_process';\nexecSync(\"wget -qO- https://x.invalid | sh\");\n";
        assert_eq!(rules("a.ts", ts), ["shell-pipe-to-shell"]);
    }

    #[test]
    fn code_level_patterns() {
        assert_eq!(
            rules("a.py", "requests.get(url, verify=False)\n"),
            ["code-tls-verify-disabled"]
        );
        assert_eq!(
            rules("a.py", "exec(base64.b64decode(blob))\n"),
            ["code-eval-remote"]
        );
        assert_eq!(
            rules("a.js", "https.request({ rejectUnauthorized: false })\n"),
            ["code-tls-verify-disabled"]
        );
        assert_eq!(
            rules("a.go", "cfg := &tls.Config{InsecureSkipVerify: true}\n"),
            ["code-tls-verify-disabled"]
        );
        assert!(rules("a.py", "# verify=False is bad\n").is_empty());
        assert!(rules("a.py", "requests.get(u, verify=False)  # warden:allow\n").is_empty());
    }
}
