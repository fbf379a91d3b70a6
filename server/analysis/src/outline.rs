//! The structure of a file from its grammar's queries: every definition with its
//! enclosing one (for workspace symbols), the smallest function or class enclosing a
//! selection (LLM context), both from `definitions.scm` (`@definition.KIND` around an
//! `@name`), and the file's import statements (the top-level statements holding an
//! `imports.scm` `@module` capture).

use tree_sitter::{Node, QueryCursor, StreamingIterator, Tree};

use crate::language::{GrammarDef, compiled_query};

/// A function or class: its bytes, kind (`function`, `class`, ...) and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    pub start: usize,
    pub end: usize,
    pub kind: String,
    pub name: String,
}

/// The smallest definition containing `start..end`.
pub fn enclosing(
    grammar: &'static GrammarDef,
    tree: &Tree,
    text: &str,
    start: usize,
    end: usize,
) -> Option<Definition> {
    let query = compiled_query(grammar, "definitions")?;
    let names = query.capture_names();
    let mut best: Option<Definition> = None;
    let mut cursor = QueryCursor::new();
    let mut matches = cursor.matches(&query, tree.root_node(), text.as_bytes());
    while let Some(m) = matches.next() {
        let mut def = None;
        let mut name = String::new();
        for cap in m.captures {
            let cname = names[cap.index as usize];
            if let Some(kind) = cname.strip_prefix("definition.") {
                def = Some((cap.node, kind));
            } else if cname == "name" {
                name = text
                    .get(cap.node.start_byte()..cap.node.end_byte())
                    .unwrap_or("")
                    .to_owned();
            }
        }
        let Some((node, kind)) = def else { continue };
        let (s, e) = (node.start_byte(), node.end_byte());
        if s <= start && end <= e && best.as_ref().is_none_or(|b| e - s < b.end - b.start) {
            best = Some(Definition {
                start: s,
                end: e,
                kind: kind.to_owned(),
                name,
            });
        }
    }
    best
}

/// A definition as a symbol: kind, name, where the name is, and the name of the
/// definition it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    /// The grammar's kind, except that a function directly inside a class, struct,
    /// trait, interface or `impl` is a `method`.
    pub kind: String,
    pub name: String,
    /// Byte range of the name.
    pub name_start: usize,
    pub name_end: usize,
    /// The enclosing definition's name (an `impl` block's type).
    pub container: Option<String>,
}

/// Kinds whose functions are methods.
const TYPE_KINDS: &[&str] = &["class", "struct", "trait", "interface", "impl", "enum"];

/// Every definition in the file, in order. `impl` blocks name the container of their
/// functions and are not symbols themselves.
pub fn symbols(grammar: &'static GrammarDef, tree: &Tree, text: &str) -> Vec<Symbol> {
    let Some(query) = compiled_query(grammar, "definitions") else {
        return Vec::new();
    };
    let names = query.capture_names();
    // (start, end, kind, name, name range)
    let mut defs: Vec<(usize, usize, &str, (usize, usize))> = Vec::new();
    let mut cursor = QueryCursor::new();
    let mut matches = cursor.matches(&query, tree.root_node(), text.as_bytes());
    while let Some(m) = matches.next() {
        let mut def = None;
        let mut name = None;
        for cap in m.captures {
            let cname = names[cap.index as usize];
            if let Some(kind) = cname.strip_prefix("definition.") {
                def = Some((cap.node.start_byte(), cap.node.end_byte(), kind));
            } else if cname == "name" {
                name = Some((cap.node.start_byte(), cap.node.end_byte()));
            }
        }
        if let (Some((s, e, kind)), Some(n)) = (def, name)
            && text.get(n.0..n.1).is_some_and(|t| !t.is_empty())
        {
            defs.push((s, e, kind, n));
        }
    }
    defs.sort_by_key(|d| (d.0, std::cmp::Reverse(d.1), d.3));
    defs.dedup_by_key(|d| d.3);
    let mut out = Vec::new();
    // The definitions enclosing the current one: (end, kind, name).
    let mut stack: Vec<(usize, &str, &str)> = Vec::new();
    for (start, end, kind, (ns, ne)) in defs {
        while stack.last().is_some_and(|top| top.0 <= start) {
            stack.pop();
        }
        let name = &text[ns..ne];
        let parent = stack.last().copied();
        let kind_out = match (kind, parent) {
            ("function", Some((_, pk, _))) if TYPE_KINDS.contains(&pk) => "method",
            _ => kind,
        };
        if kind != "impl" {
            out.push(Symbol {
                kind: kind_out.to_owned(),
                name: name.to_owned(),
                name_start: ns,
                name_end: ne,
                container: parent.map(|p| p.2.to_owned()),
            });
        }
        stack.push((end, kind, name));
    }
    out
}

/// The text of each top-level statement that imports something, in file order.
pub fn import_statements(grammar: &'static GrammarDef, tree: &Tree, text: &str) -> Vec<String> {
    let Some(query) = compiled_query(grammar, "imports") else {
        return Vec::new();
    };
    let root = tree.root_node();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut cursor = QueryCursor::new();
    let mut captures = cursor.captures(&query, root, text.as_bytes());
    while let Some((m, i)) = captures.next() {
        let top = top_level(m.captures[*i].node, root);
        spans.push((top.start_byte(), top.end_byte()));
    }
    spans.sort();
    spans.dedup();
    spans
        .into_iter()
        .filter_map(|(s, e)| text.get(s..e).map(str::to_owned))
        .collect()
}

fn top_level<'t>(mut node: Node<'t>, root: Node<'t>) -> Node<'t> {
    while let Some(parent) = node.parent() {
        if parent.id() == root.id() {
            break;
        }
        node = parent;
    }
    node
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::language::Lang;
    use crate::syntax::parse;

    fn listed(lang: &str, text: &str) -> Vec<(String, String, Option<String>)> {
        let g = Lang::by_name(lang).unwrap();
        let tree = parse(g, text, None).unwrap();
        symbols(g, &tree, text)
            .into_iter()
            .map(|s| {
                assert_eq!(&text[s.name_start..s.name_end], s.name);
                (s.kind, s.name, s.container)
            })
            .collect()
    }

    fn sym(kind: &str, name: &str, container: Option<&str>) -> (String, String, Option<String>) {
        (kind.into(), name.into(), container.map(Into::into))
    }

    #[test]
    fn symbols_of_every_grammar_with_their_containers() {
        assert_eq!(
            listed(
                "python",
                "class A:\n    @property\n    def m(self):\n        def inner(): pass\n\ndef f(): pass\n"
            ),
            [
                sym("class", "A", None),
                sym("method", "m", Some("A")),
                sym("function", "inner", Some("m")),
                sym("function", "f", None),
            ]
        );
        assert_eq!(
            listed(
                "rust",
                "struct S;\nimpl<T> Tr for S { fn go(&self) {} }\ntrait Tr { fn go(&self); }\nconst N: u8 = 1;\nmod m { pub fn f() {} }\nmacro_rules! mac { () => {} }\n"
            ),
            [
                sym("struct", "S", None),
                sym("method", "go", Some("S")),
                sym("trait", "Tr", None),
                sym("method", "go", Some("Tr")),
                sym("constant", "N", None),
                sym("module", "m", None),
                sym("function", "f", Some("m")),
                sym("macro", "mac", None),
            ]
        );
        assert_eq!(
            listed(
                "go",
                "package p\nconst Max = 3\ntype T struct{}\ntype I interface{ M() }\ntype N int\nfunc (t T) M() {}\nfunc F() {}\n"
            ),
            [
                sym("constant", "Max", None),
                sym("struct", "T", None),
                sym("interface", "I", None),
                sym("type", "N", None),
                sym("method", "M", None),
                sym("function", "F", None),
            ]
        );
        assert_eq!(
            listed(
                "javascript",
                "class C { #p() {} run() {} }\nconst h = () => 1;\nfunction* g() {}\n"
            ),
            [
                sym("class", "C", None),
                sym("method", "#p", Some("C")),
                sym("method", "run", Some("C")),
                sym("function", "h", None),
                sym("function", "g", None),
            ]
        );
        let ts = "interface I { a(): void }\ntype U = string;\nenum E { A }\nnamespace NS { export function f() {} }\nabstract class B { abstract m(): void; }\n";
        for lang in ["typescript", "tsx"] {
            assert_eq!(
                listed(lang, ts),
                [
                    sym("interface", "I", None),
                    sym("type", "U", None),
                    sym("enum", "E", None),
                    sym("module", "NS", None),
                    sym("function", "f", Some("NS")),
                    sym("class", "B", None),
                    sym("method", "m", Some("B")),
                ],
                "{lang}"
            );
        }
        assert_eq!(
            listed("bash", "f() { :; }\nfunction g { :; }\n"),
            [sym("function", "f", None), sym("function", "g", None)]
        );
    }

    #[test]
    fn finds_the_smallest_enclosing_definition_and_imports() {
        let g = Lang::by_name("python").unwrap();
        let text = "import os\nfrom json import loads\n\nclass A:\n    def m(self):\n        return os.getcwd()\n\nx = 1\n";
        let tree = parse(g, text, None).unwrap();
        let at = text.find("return").unwrap();
        let d = enclosing(g, &tree, text, at, at + 6).unwrap();
        assert_eq!((d.kind.as_str(), d.name.as_str()), ("function", "m"));
        assert!(text[d.start..d.end].starts_with("def m(self):"));
        let at = text.find("def m").unwrap();
        let d = enclosing(g, &tree, text, at - 4, at + 3).unwrap();
        assert_eq!(d.name, "A");
        let at = text.find("x = 1").unwrap();
        assert_eq!(enclosing(g, &tree, text, at, at + 1), None);
        assert_eq!(
            import_statements(g, &tree, text),
            ["import os", "from json import loads"]
        );

        let g = Lang::by_name("javascript").unwrap();
        let text = "const fs = require('fs');\nimport x from 'y';\nfunction f() { return fs; }\n";
        let tree = parse(g, text, None).unwrap();
        assert_eq!(
            import_statements(g, &tree, text),
            ["const fs = require('fs');", "import x from 'y';"]
        );
        let at = text.find("return").unwrap();
        assert_eq!(enclosing(g, &tree, text, at, at).unwrap().name, "f");
    }
}
