//! Syntax errors from tree-sitter: ERROR nodes become one "unexpected ..." finding at
//! the first unexpected token, MISSING nodes a `missing ")"` finding at the point the
//! token was expected. Supports incremental re-parsing: apply [`input_edit`]s to the old
//! tree with `Tree::edit`, then [`parse`] with it.

use std::cell::RefCell;
use std::collections::HashMap;

use tree_sitter::{InputEdit, Node, Parser, Point, Tree};

use crate::language::GrammarDef;
use crate::{Finding, FindingKind, LineIndex, Severity};

/// At most this many syntax findings per file; the rest add nothing a person can use.
pub const MAX_ERRORS: usize = 50;

thread_local! {
    static PARSERS: RefCell<HashMap<&'static str, Parser>> = RefCell::new(HashMap::new());
}

/// Drops this thread's parsers: each keeps buffers as large as the largest text it
/// parsed. For threads done with a batch of files (a workspace scan's).
pub fn release_parsers() {
    PARSERS.with(|parsers| parsers.borrow_mut().clear());
}

/// Parses `text`, reusing `old` (already edited with [`input_edit`]s) when given.
/// `None` only if the grammar cannot be loaded (an ABI mismatch).
pub fn parse(grammar: &'static GrammarDef, text: &str, old: Option<&Tree>) -> Option<Tree> {
    with_parser(grammar, |parser| parser.parse(text, old))
}

/// [`parse`] that gives up (returning `None`) as soon as `cancel` is set: a newer
/// version of the document makes this parse useless.
pub fn parse_cancellable(
    grammar: &'static GrammarDef,
    text: &str,
    old: Option<&Tree>,
    cancel: &std::sync::atomic::AtomicBool,
) -> Option<Tree> {
    use std::sync::atomic::Ordering;
    with_parser(grammar, |parser| {
        let bytes = text.as_bytes();
        let mut read = |i: usize, _: Point| bytes.get(i..).unwrap_or_default();
        let mut stop = |_: &tree_sitter::ParseState| cancel.load(Ordering::Relaxed);
        let options = tree_sitter::ParseOptions::new().progress_callback(&mut stop);
        let tree = parser.parse_with_options(&mut read, old, Some(options));
        if tree.is_none() {
            // A cancelled parse would otherwise resume on the next call, with other text.
            parser.reset();
        }
        tree
    })
}

fn with_parser(
    grammar: &'static GrammarDef,
    f: impl FnOnce(&mut Parser) -> Option<Tree>,
) -> Option<Tree> {
    PARSERS.with(|parsers| {
        let mut parsers = parsers.borrow_mut();
        let parser = match parsers.entry(grammar.name) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let mut p = Parser::new();
                p.set_language(&(grammar.language)()).ok()?;
                v.insert(p)
            }
        };
        f(parser)
    })
}

fn point_at(text: &str, byte: usize) -> Point {
    let before = &text.as_bytes()[..byte.min(text.len())];
    let row = memchr::memchr_iter(b'\n', before).count();
    let col = before.len() - memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
    Point { row, column: col }
}

/// The edit replacing `old_text[start..old_end]` with `inserted`, for `Tree::edit`.
pub fn input_edit(old_text: &str, start: usize, old_end: usize, inserted: &str) -> InputEdit {
    input_edit_at(
        (start, point_at(old_text, start)),
        (old_end, point_at(old_text, old_end)),
        inserted,
    )
}

/// [`input_edit`] when the caller already knows the rows and byte columns of the edit's
/// start and old end (it found the bytes by walking lines), so nothing is rescanned.
pub fn input_edit_at(
    (start, start_position): (usize, Point),
    (old_end, old_end_position): (usize, Point),
    inserted: &str,
) -> InputEdit {
    let newlines = memchr::memchr_iter(b'\n', inserted.as_bytes()).count();
    let new_end_position = if newlines == 0 {
        Point {
            row: start_position.row,
            column: start_position.column + inserted.len(),
        }
    } else {
        Point {
            row: start_position.row + newlines,
            column: inserted.len()
                - memchr::memrchr(b'\n', inserted.as_bytes()).map_or(0, |i| i + 1),
        }
    };
    InputEdit {
        start_byte: start,
        old_end_byte: old_end,
        new_end_byte: start + inserted.len(),
        start_position,
        old_end_position,
        new_end_position,
    }
}

/// Syntax findings of a parsed tree, confirmed by the language's own parser where
/// warden has one and the grammar is known to reject valid code.
///
/// Rust: tree-sitter-rust 0.24 (the newest) rejects code rustc accepts: macros named
/// like primitive types (`str![[...]]` snapshot macros), `try!` in 2015-edition crates,
/// `$ name` and `~` in `macro_rules!` patterns, negative const generic arguments and
/// more (309 false errors in 38 files of the cargo registry's crate sources). `syn`,
/// the parser of Rust's procedural macros, judges: a file it accepts has no syntax
/// error. Only files tree-sitter flags are judged (at most [`JUDGED_MAX`] bytes).
///
/// Python: Ruff's parser judges. tree-sitter-python 0.25 rejects a few valid files of
/// CPython's own library (2 of 11,659, among them a star import from `__future__`) and
/// accepts some broken ones (`bench/syntax/run.py --mutants`); Ruff accepts the syntax
/// of every Python version, where the interpreter on the machine knows only its own.
///
/// JavaScript and TypeScript: oxc's parser judges (see [`oxc_accepts`]).
pub fn checked_errors(
    grammar: &GrammarDef,
    tree: &Tree,
    text: &str,
    index: &LineIndex,
) -> Vec<Finding> {
    let found = errors(tree, text, index);
    if found.is_empty() {
        return found;
    }
    let valid = match grammar.name {
        "rust" => text.len() <= JUDGED_MAX && syn::parse_file(text).is_ok(),
        "python" => ruff_python_parser::parse_module(text).is_ok(),
        name => oxc_kinds(name).is_some_and(|kinds| oxc_accepts(text, kinds)),
    };
    if valid { Vec::new() } else { found }
}

/// How oxc reads a file of each JavaScript-family grammar (a declaration file allows
/// what a `.ts` file does not, and the other way round); `None` for other languages.
fn oxc_kinds(grammar: &str) -> Option<&'static [oxc_span::SourceType]> {
    use oxc_span::SourceType;
    const JS: &[SourceType] = &[SourceType::unambiguous().with_jsx(true)];
    const TS: &[SourceType] = &[SourceType::ts(), SourceType::d_ts()];
    const TSX: &[SourceType] = &[SourceType::tsx()];
    match grammar {
        "javascript" => Some(JS),
        "typescript" => Some(TS),
        "tsx" => Some(TSX),
        _ => None,
    }
}

/// The largest JavaScript/TypeScript text oxc judges: it reads about 140 MB/s, so about
/// 7 ms at most.
const OXC_JUDGED_MAX: usize = 1 << 20;

/// Whether oxc's parser, the judge for JavaScript and TypeScript, accepts `text` as
/// any of `kinds` (a declaration file allows what a `.ts` file does not, and the
/// other way round). tree-sitter-typescript 0.23 rejects valid declaration files:
/// `import("x").T` type queries, `export type * from`, `global` blocks inside
/// `declare module` (112 false errors in 36 of the VS Code extension's `node_modules`
/// files, `bench/syntax/run.py`).
fn oxc_accepts(text: &str, kinds: &[oxc_span::SourceType]) -> bool {
    text.len() <= OXC_JUDGED_MAX
        && kinds.iter().any(|&kind| {
            let allocator = oxc_allocator::Allocator::default();
            let parsed = oxc_parser::Parser::new(&allocator, text, kind).parse();
            parsed.diagnostics.is_empty() && !parsed.panicked
        })
}

/// What a fast parser made of a text it accepted in full.
pub enum Fast {
    /// Python: Ruff's syntax tree, which also lists the imports
    /// ([`crate::packages::imports::python_modules`]).
    Python(ruff_python_ast::ModModule),
    /// Accepted; the tree is not kept.
    Accepted,
}

/// Reads `text` with a fast parser of the language, when it has one: `Some` when it
/// accepts the text in full, so that tree-sitter need not parse it to look for syntax
/// errors (a scan of files nobody has open). `None` for a text it rejects and for
/// languages without one: their text is parsed. A text the fast parser rejects is
/// parsed by tree-sitter and judged as before ([`checked_errors`]), so the errors
/// reported and their positions do not depend on it; what it could change is only an
/// error it wrongly accepts (shown once the file is opened: the editor parses open
/// files with tree-sitter as before). `bench/syntax/run.py --mutants` measures that.
///
/// - Rust: rust-analyzer's parser (`ra_ap_parser`), about 75 MB/s where tree-sitter-rust
///   reads about 8.5, in editions 2021, 2024 and 2015 (a file valid in any of them). Of
///   5,115 mutants of the cargo registry's crate sources that `syn` rejects (one
///   punctuation byte deleted), it accepted 3.
/// - Python: Ruff's parser (`ruff_python_parser`), about 60 MB/s where
///   tree-sitter-python reads about 10; it accepts the syntax of every Python version it
///   knows. Of 3,000 mutants of CPython's library that `ast.parse` rejects, it accepted
///   none.
/// - JavaScript and TypeScript: oxc, their judge (a file it accepts has no reported
///   error either way), at about 140 MB/s.
pub fn fast_parse(grammar: &GrammarDef, text: &str) -> Option<Fast> {
    let accepted = match grammar.name {
        "rust" => {
            use ra_ap_edition::Edition;
            [
                Edition::Edition2021,
                Edition::Edition2024,
                Edition::Edition2015,
            ]
            .into_iter()
            .any(|edition| {
                let lexed = ra_ap_parser::LexedStr::new(edition, text);
                if lexed.errors().next().is_some() {
                    return false;
                }
                let input = lexed.to_input(edition);
                let output = ra_ap_parser::TopEntryPoint::SourceFile.parse(&input);
                !output
                    .iter()
                    .any(|step| matches!(step, ra_ap_parser::Step::Error { .. }))
            })
        }
        "python" => {
            return ruff_python_parser::parse_module(text)
                .ok()
                .map(|parsed| Fast::Python(parsed.into_syntax()));
        }
        name => oxc_kinds(name).is_some_and(|kinds| oxc_accepts(text, kinds)),
    };
    accepted.then_some(Fast::Accepted)
}

/// The largest Rust text `syn` judges (see [`checked_errors`]): it reads about 8 MB/s,
/// so 16 ms at most, and only while tree-sitter sees an error.
pub const JUDGED_MAX: usize = 128 << 10;

/// Drops from `findings` (of `text`) the syntax errors that `before` (those of
/// `before_text`, the file's committed version) already has: same rule, same message,
/// same text on its line (trimmed), each at most as often as it was there. An error
/// keeps its identity when lines above it move; once its line is edited it counts as
/// the user's.
pub fn drop_pre_existing(
    findings: &mut Vec<Finding>,
    text: &str,
    before: &[Finding],
    before_text: &str,
) {
    let key = |f: &Finding, text: &str| {
        let line = crate::lines::line_around(text, f.start.min(text.len()));
        (
            f.rule.clone(),
            f.message.clone(),
            text[line].trim().to_owned(),
        )
    };
    let mut committed: HashMap<(String, String, String), usize> = HashMap::new();
    for f in before.iter().filter(|f| f.kind == FindingKind::Syntax) {
        *committed.entry(key(f, before_text)).or_default() += 1;
    }
    findings.retain(|f| {
        if f.kind != FindingKind::Syntax {
            return true;
        }
        match committed.get_mut(&key(f, text)) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        }
    });
}

/// Syntax findings of a parsed tree, as tree-sitter sees them.
pub fn errors(tree: &Tree, text: &str, index: &LineIndex) -> Vec<Finding> {
    let mut out = Vec::new();
    if !tree.root_node().has_error() {
        return out;
    }
    collect(tree.root_node(), text, index, &mut out);
    out
}

fn collect(node: Node<'_>, text: &str, index: &LineIndex, out: &mut Vec<Finding>) {
    if out.len() >= MAX_ERRORS || !node.has_error() {
        return;
    }
    if node.is_missing() {
        let at = node.start_byte();
        let what = if node.kind().is_empty() {
            "token"
        } else {
            node.kind()
        };
        out.push(Finding::at(
            index,
            FindingKind::Syntax,
            "syntax-missing",
            Severity::Error,
            format!("missing {what:?}"),
            at,
            at,
        ));
        return;
    }
    if node.is_error() {
        let token = first_leaf(node);
        let (start, end) = (token.start_byte(), token.end_byte());
        let snippet: String = text
            .get(start..end)
            .unwrap_or("")
            .chars()
            .take(24)
            .collect::<String>();
        let message = if snippet.trim().is_empty() {
            "syntax error".to_owned()
        } else {
            format!("unexpected {:?}", snippet.trim())
        };
        out.push(Finding::at(
            index,
            FindingKind::Syntax,
            "syntax-error",
            Severity::Error,
            message,
            start,
            end,
        ));
        // MISSING tokens inside an ERROR add nothing the first report did not say.
        return;
    }
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        collect(child, text, index, out);
    }
}

fn first_leaf(node: Node<'_>) -> Node<'_> {
    let mut n = node;
    while let Some(child) = n.child(0) {
        n = child;
    }
    // Stop at the first token of the error, not a zero-width node.
    if n.start_byte() == n.end_byte() {
        node
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Lang;

    fn grammar(name: &str) -> &'static GrammarDef {
        Lang::by_name(name).unwrap()
    }

    fn check(lang: &str, text: &str) -> Vec<(String, String, u32)> {
        let tree = parse(grammar(lang), text, None).unwrap();
        errors(&tree, text, &LineIndex::new(text))
            .into_iter()
            .map(|f| (f.rule, f.message, f.range.start.line))
            .collect()
    }

    #[test]
    fn the_fast_rust_parser_accepts_valid_code_in_any_edition_and_nothing_broken() {
        let rust = grammar("rust");
        for valid in [
            "fn main() { let v = vec![1, 2]; println!(\"{v:?}\"); }\n",
            // `async` is an identifier in 2015, `gen` a keyword only in 2024.
            "fn async() {}\nfn main() { async(); }\n",
            "async fn f() { let x = async { 1 }.await; }\n",
            // What tree-sitter-rust rejects: a snapshot macro named like a type.
            "fn t() { let s = str![[r#\"ok\"#]]; }\n",
        ] {
            assert!(fast_parse(rust, valid).is_some(), "{valid}");
        }
        for broken in [
            "fn main() { let x = ; }\n",
            "fn f( {}\n",
            "struct S { a: u8,, }\n",
            "fn f() { \"unterminated }\n",
            "impl X for { }\n",
        ] {
            assert!(fast_parse(rust, broken).is_none(), "{broken}");
            assert!(
                !check("rust", broken).is_empty(),
                "tree-sitter reports: {broken}"
            );
        }
        assert!(
            fast_parse(grammar("bash"), "x=1\n").is_none(),
            "no fast parser"
        );
    }

    #[test]
    fn ruff_judges_python_errors() {
        let g = grammar("python");
        let judged = |text: &str| {
            let tree = parse(g, text, None).unwrap();
            (
                errors(&tree, text, &LineIndex::new(text)).len(),
                checked_errors(g, &tree, text, &LineIndex::new(text)).len(),
            )
        };
        // tree-sitter-python rejects a star import from `__future__`; CPython's parser
        // accepts it (test_future_stmt), and so does Ruff's.
        let valid = "\"\"\"Doc.\"\"\"\n\nfrom __future__ import *\n\nprint(1)\n";
        let (seen, kept) = judged(valid);
        assert!(seen > 0 && kept == 0, "{seen} {kept}");
        let broken = "from __future__ import *\ndef f(:\n    pass\n";
        assert!(judged(broken).1 > 0);
    }

    #[test]
    fn oxc_judges_javascript_and_typescript_errors() {
        let judged = |lang: &str, text: &str| {
            let g = grammar(lang);
            let tree = parse(g, text, None).unwrap();
            let raw = errors(&tree, text, &LineIndex::new(text)).len();
            (
                raw,
                checked_errors(g, &tree, text, &LineIndex::new(text)).len(),
            )
        };
        // Valid declaration-file syntax tree-sitter-typescript 0.23 rejects.
        for valid in [
            "export type * from \"./types\";\n",
            "declare module \"m\" {\n  global {\n    interface Window { x: number }\n  }\n}\n",
            "export declare const y: import(\"x\").T<string>;\n",
        ] {
            let (raw, checked) = judged("typescript", valid);
            assert!(
                raw > 0,
                "tree-sitter accepts it now: drop the example: {valid}"
            );
            assert_eq!(checked, 0, "{valid}");
        }
        for (lang, broken) in [
            (
                "typescript",
                "export type * from \"./types\";\nlet x: = 1;\n",
            ),
            ("javascript", "function f( {\n"),
            ("tsx", "const a = <div>;\n"),
        ] {
            let (raw, checked) = judged(lang, broken);
            assert!(raw > 0 && checked == raw, "{lang}: {broken}");
        }
    }

    #[test]
    fn a_cancelled_parse_gives_up_and_the_next_one_starts_fresh() {
        use std::sync::atomic::AtomicBool;
        let g = grammar("python");
        let big = "def f(x):\n    return x + 1\n".repeat(20_000);
        assert!(parse_cancellable(g, &big, None, &AtomicBool::new(true)).is_none());
        // The next parse, of other text, is not a resumption of the cancelled one.
        let small = "x = (\n";
        let tree = parse_cancellable(g, small, None, &AtomicBool::new(false)).unwrap();
        assert_eq!(tree.root_node().end_byte(), small.len());
        assert_eq!(check("python", small).len(), 1);
        let whole = parse_cancellable(g, &big, None, &AtomicBool::new(false)).unwrap();
        assert!(!whole.root_node().has_error());
    }

    #[test]
    fn clean_code_has_no_errors_in_every_language() {
        for (lang, text) in [
            ("python", "def f(x):\n    return x + 1\n"),
            ("javascript", "function f(x) { return x + 1; }\n"),
            (
                "typescript",
                "function f(x: number): number { return x + 1; }\n",
            ),
            ("tsx", "const A = () => <div>hi</div>;\n"),
            ("rust", "fn f(x: i32) -> i32 { x + 1 }\n"),
            ("go", "package main\nfunc f(x int) int { return x + 1 }\n"),
            ("bash", "f() { echo \"$1\"; }\nf hi\n"),
        ] {
            assert_eq!(check(lang, text), vec![], "{lang}");
        }
    }

    #[test]
    fn missing_and_unexpected_tokens_are_one_finding_each() {
        let f = check("python", "print(\"hi\"\nx = 1\n");
        assert_eq!(f.len(), 1, "{f:?}");
        let f = check("javascript", "function f( { return 1 }\n");
        assert!(!f.is_empty() && f.len() <= 2, "{f:?}");
        let f = check("rust", "fn main() { let x = ; }\n");
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].1.starts_with("unexpected") || f[0].1.starts_with("missing"),
            "{f:?}"
        );
        let f = check("go", "package main\nfunc main() {\n\tx := \n}\n");
        assert!(!f.is_empty());
        let f = check("javascript", "let a = [1, 2;\n");
        assert!(
            f.iter()
                .any(|(_, m, _)| m.contains("missing") || m.contains("unexpected")),
            "{f:?}"
        );
    }

    /// Valid Rust that tree-sitter-rust 0.24 rejects (shapes found in the cargo
    /// registry's crate sources): `syn` accepts the file, so nothing is reported; a
    /// real error in the same file still is.
    #[test]
    fn rust_the_grammar_rejects_but_rustc_accepts_is_no_error() {
        let g = grammar("rust");
        let valid = r####"
macro_rules! m {
    ($ name : ty) => {};
    (~ $($fuel:tt)*) => {};
}
fn t() {
    let expected = str![[r#"
hello
"#]];
    let line = try!(read());
    let _: Ranged<-5, 5> = Ranged::<-5, 5>::new();
}
"####;
        let tree = parse(g, valid, None).unwrap();
        let index = LineIndex::new(valid);
        assert!(
            !errors(&tree, valid, &index).is_empty(),
            "the grammar's gap"
        );
        assert!(checked_errors(g, &tree, valid, &index).is_empty());
        let broken = format!("{valid}\nfn broken( {{\n");
        let tree = parse(g, &broken, None).unwrap();
        let found = checked_errors(g, &tree, &broken, &LineIndex::new(&broken));
        assert!(!found.is_empty());
    }

    #[test]
    fn errors_already_committed_are_dropped_new_ones_stay() {
        let g = grammar("python");
        let all = |text: &str| {
            let tree = parse(g, text, None).unwrap();
            errors(&tree, text, &LineIndex::new(text))
        };
        let committed = "def f(:\n    pass\n\nx = 1\n";
        let before = all(committed);
        assert_eq!(before.len(), 1);
        // Lines added above: the old error moved but is the same one.
        let moved = format!("import os\n\n{committed}");
        let mut found = all(&moved);
        drop_pre_existing(&mut found, &moved, &before, committed);
        assert!(found.is_empty(), "{found:?}");
        // A new error the user typed stays; the old one still goes.
        let typed = format!("{moved}print(\n");
        let mut found = all(&typed);
        assert_eq!(found.len(), 2);
        drop_pre_existing(&mut found, &typed, &before, committed);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].range.start.line, 6, "{found:?}");
    }

    #[test]
    fn garbage_is_capped() {
        let text = ")".repeat(10_000);
        let tree = parse(grammar("python"), &text, None).unwrap();
        assert!(errors(&tree, &text, &LineIndex::new(&text)).len() <= MAX_ERRORS);
    }

    #[test]
    fn incremental_reparse_matches_a_fresh_parse() {
        let g = grammar("python");
        let old = "def f(x):\n    return x\n";
        let mut tree = parse(g, old, None).unwrap();
        // Replace "x\n" on line 2 with "(x\n" to break it, then fix it again.
        let start = old.rfind('x').unwrap();
        let new = format!("{}(x{}", &old[..start], &old[start + 1..]);
        tree.edit(&input_edit(old, start, start + 1, "(x"));
        let tree = parse(g, &new, Some(&tree)).unwrap();
        let fresh = parse(g, &new, None).unwrap();
        assert_eq!(tree.root_node().to_sexp(), fresh.root_node().to_sexp());
        assert!(tree.root_node().has_error());
        let edit = input_edit("ab\ncd", 1, 4, "X\nYZ\n");
        assert_eq!(
            (edit.new_end_position.row, edit.new_end_position.column),
            (2, 0)
        );
        assert_eq!(
            (edit.old_end_position.row, edit.old_end_position.column),
            (1, 1)
        );
    }
}
