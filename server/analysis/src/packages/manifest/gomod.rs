//! `go.mod`: `module`, `require` lines and blocks (with `// indirect`), and `replace`
//! directives: a dependency replaced by another module version is judged as that
//! version (its version is edited in the replace line); one replaced by a local
//! directory is not a registry package and is skipped.

use std::collections::HashMap;

use super::{Dependency, Manifest, whole_lines};
use crate::packages::Ecosystem;

/// A token of a line with its byte offsets in the text.
type Token<'a> = (&'a str, usize, usize);

fn tokens(line: &str, offset: usize) -> Vec<Token<'_>> {
    let code = line.find("//").map_or(line, |i| &line[..i]);
    let mut out = Vec::new();
    let mut rest = code;
    let mut at = offset;
    while let Some(i) = rest.find(|c: char| !c.is_whitespace()) {
        rest = &rest[i..];
        at += i;
        let len = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = rest[..len].trim_matches('"');
        out.push((word, at, at + len));
        rest = &rest[len..];
        at += len;
    }
    out
}

struct Replace {
    /// The replacement module and its version token, or `None` for a directory.
    with: Option<(String, usize, usize, String)>,
    /// Only this version of the original, when given.
    only: Option<String>,
}

pub(super) fn parse(text: &str) -> Manifest {
    let mut m = Manifest::default();
    let mut requires: Vec<(Vec<Token<'_>>, bool)> = Vec::new();
    let mut replaces: HashMap<String, Replace> = HashMap::new();
    let mut block: Option<(&str, usize, usize)> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let toks = tokens(line.trim_end_matches(['\n', '\r']), offset);
        let indirect = line.contains("// indirect");
        offset += line.len();
        let Some(&(first, s, e)) = toks.first() else {
            continue;
        };
        let (verb, args) = match block {
            Some(_) if first == ")" => {
                block = None;
                continue;
            }
            Some((verb, _, _)) => (verb, &toks[..]),
            None if toks.get(1).map(|t| t.0) == Some("(") => {
                block = Some((first, s, e));
                continue;
            }
            None => (first, &toks[1..]),
        };
        match verb {
            "module" => m.package = args.first().map(|t| t.0.to_owned()),
            "require" => requires.push((args.to_vec(), indirect)),
            "replace" => match args.iter().position(|t| t.0 == "=>") {
                Some(arrow) => {
                    let (old, new) = (&args[..arrow], &args[arrow + 1..]);
                    let with = match new {
                        [(path, ..), (v, vs, ve)] => {
                            Some((path.to_string(), *vs, *ve, v.to_string()))
                        }
                        _ => None,
                    };
                    if let Some((path, ..)) = old.first() {
                        replaces.insert(
                            path.to_string(),
                            Replace {
                                with,
                                only: old.get(1).map(|t| t.0.to_owned()),
                            },
                        );
                    }
                }
                None => m.errors.push(("replace needs `=>`".into(), s, offset)),
            },
            _ => {}
        }
    }
    if let Some((verb, s, e)) = block {
        m.errors.push((format!("`{verb} (` is never closed"), s, e));
    }
    for (args, indirect) in requires {
        let [(path, ps, _), (version, vs, ve)] = args[..] else {
            if let (Some(first), Some(last)) = (args.first(), args.last()) {
                m.errors
                    .push(("expected `module/path vX.Y.Z`".into(), first.1, last.2));
            }
            continue;
        };
        let (name, spec, spec_range) = match replaces.get(path) {
            Some(r) if r.only.as_deref().is_none_or(|o| o == version) => match &r.with {
                Some((with, s, e, v)) => (with.clone(), v.clone(), Some((*s, *e))),
                None => continue, // a local directory
            },
            _ => (path.to_owned(), version.to_owned(), Some((vs, ve))),
        };
        m.dependencies.push(Dependency {
            ecosystem: Ecosystem::Go,
            name,
            spec,
            start: ps,
            end: ve,
            spec_range,
            section: Some(
                if indirect {
                    "require (indirect)"
                } else {
                    "require"
                }
                .into(),
            ),
            removal: whole_lines(text, ps, ve),
        });
    }
    m
}

#[cfg(test)]
mod tests {
    use super::super::tests::deps;
    use super::super::{Kind, parse};

    const TEXT: &str = "module example.com/app\n\ngo 1.22\n\nrequire golang.org/x/net v0.5.0\n\nrequire (\n\tgithub.com/gin-gonic/gin v1.9.0 // web\n\tgolang.org/x/text v0.3.7 // indirect\n\texample.com/local v1.0.0\n\tgithub.com/old/thing v1.0.0\n)\n\nreplace example.com/local => ../local\nreplace github.com/old/thing v1.0.0 => github.com/new/thing v1.2.0\n";

    #[test]
    fn require_lines_blocks_and_replace() {
        let d = deps(Kind::GoMod, TEXT);
        let got: Vec<(&str, &str, &str)> = d
            .iter()
            .map(|(n, s, r)| (n.as_str(), s.as_str(), r.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("golang.org/x/net", "v0.5.0", "golang.org/x/net v0.5.0"),
                (
                    "github.com/gin-gonic/gin",
                    "v1.9.0",
                    "github.com/gin-gonic/gin v1.9.0"
                ),
                ("golang.org/x/text", "v0.3.7", "golang.org/x/text v0.3.7"),
                (
                    "github.com/new/thing",
                    "v1.2.0",
                    "github.com/old/thing v1.0.0"
                ),
            ]
        );
        let m = parse(Kind::GoMod, TEXT);
        assert_eq!(m.package.as_deref(), Some("example.com/app"));
        let spec = |i: usize| {
            m.dependencies[i]
                .spec_range
                .map(|(s, e)| &TEXT[s..e])
                .unwrap()
        };
        assert_eq!(spec(0), "v0.5.0");
        assert_eq!(
            spec(3),
            "v1.2.0",
            "a replaced version is edited in the replace line"
        );
        assert_eq!(
            m.dependencies[2].section.as_deref(),
            Some("require (indirect)")
        );
        let (s, e) = m.dependencies[1].removal;
        assert_eq!(&TEXT[s..e], "\tgithub.com/gin-gonic/gin v1.9.0 // web\n");
    }

    #[test]
    fn malformed_go_mod_reports_the_line() {
        let m = parse(Kind::GoMod, "module x\nrequire (\n\tgolang.org/x/net\n");
        assert_eq!(m.errors.len(), 2, "{:?}", m.errors);
        assert!(m.errors.iter().any(|e| e.0.contains("never closed")));
        assert!(m.errors.iter().any(|e| e.0.contains("module/path")));
    }
}
