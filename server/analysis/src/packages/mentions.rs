//! Packages a piece of generated text would bring in: the imports in its fenced code
//! blocks (parsed with the block's grammar, or the file's when the block has no tag)
//! and the packages named by install commands (`pip install`, `uv add`, `poetry add`,
//! `npm install`, `yarn add`, `pnpm add`, `cargo add`, `go get`). Checked against
//! records that make every version malicious, so an LLM reply that suggests a typosquat
//! is caught before anything is installed.

use std::path::Path;

use super::check::{self, Issue};
use super::requirement::Requirement;
use super::version::Ecosystem;
use crate::language::{GrammarDef, Lang};

/// A package the text names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    pub ecosystem: Ecosystem,
    pub name: String,
    /// Where: `import` or `install command`.
    pub via: &'static str,
}

/// Every package `text` names (deduplicated, in order of appearance).
pub fn mentions(text: &str, default: Option<&'static GrammarDef>) -> Vec<Mention> {
    let mut out: Vec<Mention> = Vec::new();
    let mut push = |m: Mention| {
        if !out
            .iter()
            .any(|o| o.ecosystem == m.ecosystem && o.name == m.name)
        {
            out.push(m);
        }
    };
    for (tag, body) in blocks(text) {
        let grammar = if tag.is_empty() {
            default
        } else {
            Lang::detect(Some(Path::new(&format!("x.{tag}"))), Some(tag)).grammar()
        };
        let Some(g) = grammar else { continue };
        let (Some(def), Some(tree)) = (&g.imports, crate::syntax::parse(g, &body, None)) else {
            continue;
        };
        let Some(eco) = Ecosystem::parse(def.ecosystem) else {
            continue;
        };
        for i in super::imports::imports(g, &tree, &body) {
            push(Mention {
                ecosystem: eco,
                name: i.package,
                via: "import",
            });
        }
    }
    for line in text.lines() {
        for m in install_command(line) {
            push(m);
        }
    }
    out
}

/// `(tag, body)` of each fenced code block.
fn blocks(text: &str) -> Vec<(&str, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        let ticks = t.chars().take_while(|&c| c == '`').count();
        if ticks < 3 {
            continue;
        }
        let tag = t[ticks..].split_whitespace().next().unwrap_or("");
        let mut body = String::new();
        for l in lines.by_ref() {
            if l.trim() == &t[..ticks] {
                break;
            }
            body.push_str(l);
            body.push('\n');
        }
        out.push((tag, body));
    }
    out
}

/// Packages named by an install command on one line (several commands joined with
/// `&&` or `;` are each read).
fn install_command(line: &str) -> Vec<Mention> {
    let mut out = Vec::new();
    let line = line.split('#').next().unwrap_or("");
    for cmd in line.split(['&', ';', '|']) {
        let words: Vec<&str> = cmd
            .split_whitespace()
            .map(|w| w.trim_matches(|c| c == '`' || c == '"' || c == '\''))
            .collect();
        let words: Vec<&str> = words
            .iter()
            .copied()
            .skip_while(|w| matches!(*w, "$" | "!" | "%" | "sudo" | "RUN"))
            .collect();
        let (eco, skip) = match words.as_slice() {
            [p, "install", ..] if p.starts_with("pip") => (Ecosystem::PyPI, 2),
            [py, "-m", "pip", "install", ..] if py.starts_with("python") => (Ecosystem::PyPI, 4),
            ["uv", "pip", "install", ..] => (Ecosystem::PyPI, 3),
            ["uv" | "poetry" | "pipenv", "add" | "install", ..] => (Ecosystem::PyPI, 2),
            ["npm", "install" | "i" | "add", ..] | ["yarn" | "pnpm" | "bun", "add", ..] => {
                (Ecosystem::Npm, 2)
            }
            ["cargo", "add", ..] => (Ecosystem::CratesIo, 2),
            ["go", "get" | "install", ..] => (Ecosystem::Go, 2),
            _ => continue,
        };
        let mut args = words[skip..].iter();
        while let Some(&w) = args.next() {
            if w.starts_with('-') {
                // Options taking a value: skip the value too.
                if matches!(
                    w,
                    "-r" | "-c"
                        | "-e"
                        | "-i"
                        | "--index-url"
                        | "--extra-index-url"
                        | "-f"
                        | "--find-links"
                        | "--registry"
                        | "--features"
                        | "-F"
                        | "--target"
                        | "-t"
                ) {
                    args.next();
                }
                continue;
            }
            if let Some(name) = package_name(eco, w) {
                out.push(Mention {
                    ecosystem: eco,
                    name,
                    via: "install command",
                });
            }
        }
    }
    out
}

/// The package in an install argument (`requests==2.0`, `@scope/pkg@1`, `x/y@v1`).
fn package_name(eco: Ecosystem, arg: &str) -> Option<String> {
    if arg.contains("://") || arg.starts_with('.') || arg.starts_with('/') || arg.ends_with(".txt")
    {
        return None;
    }
    let name = match eco {
        Ecosystem::PyPI => arg
            .split(['=', '<', '>', '!', '~', '[', ';', '@', ' '])
            .next()?,
        Ecosystem::Npm => match arg.strip_prefix('@') {
            Some(rest) => {
                let end = rest.find('@').map_or(arg.len(), |i| i + 1);
                &arg[..end]
            }
            None => arg.split('@').next()?,
        },
        _ => arg.split('@').next()?,
    };
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./@".contains(c));
    ok.then(|| name.to_owned())
}

/// The mentioned packages that advisory records make malicious in every version.
pub fn malicious(mentions: &[Mention], lookup: crate::Lookup<'_>) -> Vec<(Mention, Issue)> {
    mentions
        .iter()
        .filter_map(|m| {
            let records = lookup(m.ecosystem, &m.ecosystem.normalize_name(&m.name));
            let issue = check::check(m.ecosystem, &m.name, &Requirement::unknown(), &records)?;
            let malicious = issue.advisories.iter().any(|a| a.id.starts_with("MAL-"));
            malicious.then(|| (m.clone(), issue))
        })
        .collect()
}

/// `mentions` but those in `bad`: a malicious package (its registry has usually removed
/// it) is reported once, as malicious, not also as unknown.
pub fn excluding(mentions: &[Mention], bad: &[(Mention, Issue)]) -> Vec<Mention> {
    mentions
        .iter()
        .filter(|m| {
            !bad.iter()
                .any(|(b, _)| b.ecosystem == m.ecosystem && b.name == m.name)
        })
        .cloned()
        .collect()
}

/// [`malicious`]'s verdicts one line each: `name (ecosystem via, advisory ids)`.
pub fn describe(bad: &[(Mention, Issue)]) -> Vec<String> {
    bad.iter()
        .map(|(m, issue)| {
            let ids: Vec<&str> = issue.advisories.iter().map(|a| a.id.as_str()).collect();
            format!(
                "{} ({} {}, {})",
                m.name,
                m.ecosystem.as_str(),
                m.via,
                ids.join(", ")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<(String, &'static str)> {
        mentions(text, Lang::by_name("python"))
            .into_iter()
            .map(|m| (format!("{}:{}", m.ecosystem.as_str(), m.name), m.via))
            .collect()
    }

    #[test]
    fn imports_in_code_blocks_and_install_commands() {
        let reply = "Use this:\n```python\nimport tensorfllow as tf\nfrom requests import get\nimport os\n```\nThen run `pip install tensorfllow==2.1 -r req.txt requests[socks]` and\n```sh\nnpm i --save @evil/pkg@1.0.0 lodash && cargo add serde --features derive\n```\n```js\nconst x = require('chalk');\n```\n";
        assert_eq!(
            names(reply),
            [
                ("PyPI:tensorfllow".to_owned(), "import"),
                ("PyPI:requests".to_owned(), "import"),
                ("npm:chalk".to_owned(), "import"),
                ("npm:@evil/pkg".to_owned(), "install command"),
                ("npm:lodash".to_owned(), "install command"),
                ("crates.io:serde".to_owned(), "install command"),
            ]
        );
        // An untagged block uses the file's language; prose is not code.
        assert_eq!(
            names("```\nimport numpy\n```\nimport this is prose"),
            [("PyPI:numpy".to_owned(), "import")]
        );
        assert!(names("pip install ./local https://x.invalid/a.whl -e .").is_empty());
        assert_eq!(
            names("python3 -m pip install 'Django>=4' ; go get golang.org/x/net@v0.5.0"),
            [
                ("PyPI:Django".to_owned(), "install command"),
                ("Go:golang.org/x/net".to_owned(), "install command"),
            ]
        );
    }
}
