//! The structure around a selection, for LLM context: the smallest function or class
//! enclosing it (from the grammar's `definitions.scm`, `@definition.*` captures) and the
//! file's import statements (the top-level statements holding an `imports.scm`
//! `@module` capture).

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
