//! `package.json`: `dependencies`, `devDependencies`, `optionalDependencies` and
//! `peerDependencies`, each entry with its exact byte range, found by a small offset-
//! tracking walk over text that serde has already checked is valid JSON.

use super::{Dependency, Manifest};
use crate::LineIndex;
use crate::packages::Ecosystem;

const SECTIONS: [&str; 4] = [
    "dependencies",
    "devDependencies",
    "optionalDependencies",
    "peerDependencies",
];

pub(super) fn parse(text: &str) -> Manifest {
    let mut m = Manifest::default();
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
        let index = LineIndex::new(text);
        let line = e.line().saturating_sub(1);
        let start = index
            .line_range(line, text)
            .map_or(0, |r| (r.start + e.column().saturating_sub(1)).min(r.end));
        let end = index
            .line_range(line, text)
            .map_or(text.len(), |r| r.end.max(start));
        m.errors
            .push((format!("package.json is not valid JSON: {e}"), start, end));
        return m;
    }
    let mut p = Spans {
        text: text.as_bytes(),
        i: 0,
    };
    p.ws();
    if !p.eat(b'{') {
        m.errors.push((
            "package.json must be a JSON object".into(),
            0,
            text.len().min(1),
        ));
        return m;
    }
    loop {
        p.ws();
        if p.eat(b'}') || p.i >= text.len() {
            break;
        }
        let Some((key, _, _)) = p.string() else { break };
        p.ws();
        p.eat(b':');
        p.ws();
        if SECTIONS.contains(&key.as_str()) && p.peek() == Some(b'{') {
            p.eat(b'{');
            let open_end = p.i;
            let mut items = Vec::new();
            let first = m.dependencies.len();
            loop {
                p.ws();
                let close = p.i;
                if p.eat(b'}') || p.i >= text.len() {
                    let removals = super::list_removals(&items, open_end, close);
                    for (dep, removal) in m.dependencies[first..].iter_mut().zip(removals) {
                        dep.removal = removal;
                    }
                    break;
                }
                let Some((name, ns, _)) = p.string() else {
                    break;
                };
                p.ws();
                p.eat(b':');
                p.ws();
                if p.peek() == Some(b'"') {
                    let Some((spec, ss, se)) = p.string() else {
                        break;
                    };
                    items.push((ns, se));
                    m.dependencies.push(Dependency {
                        ecosystem: Ecosystem::Npm,
                        name,
                        spec,
                        start: ns,
                        end: se,
                        spec_range: Some((ss + 1, se - 1)),
                        section: Some(key.clone()),
                        removal: (ns, se),
                    });
                } else {
                    p.value();
                }
                p.ws();
                p.eat(b',');
            }
        } else if key == "name" && p.peek() == Some(b'"') {
            m.package = p.string().map(|(name, _, _)| name);
        } else {
            p.value();
        }
        p.ws();
        p.eat(b',');
    }
    m
}

/// A minimal JSON walker over text already known to be valid JSON, tracking offsets.
struct Spans<'a> {
    text: &'a [u8],
    i: usize,
}

impl Spans<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// A string: (decoded value, start of the opening quote, end after the closing one).
    fn string(&mut self) -> Option<(String, usize, usize)> {
        let start = self.i;
        if !self.eat(b'"') {
            return None;
        }
        while let Some(b) = self.peek() {
            self.i += 1;
            match b {
                b'\\' => self.i += 1,
                b'"' => {
                    let raw = std::str::from_utf8(&self.text[start..self.i]).ok()?;
                    let value: String = serde_json::from_str(raw).ok()?;
                    return Some((value, start, self.i));
                }
                _ => {}
            }
        }
        None
    }

    /// Skips any value.
    fn value(&mut self) {
        match self.peek() {
            Some(b'"') => {
                self.string();
            }
            Some(open @ (b'{' | b'[')) => {
                let close = if open == b'{' { b'}' } else { b']' };
                self.i += 1;
                loop {
                    self.ws();
                    if self.eat(close) || self.i >= self.text.len() {
                        break;
                    }
                    self.value();
                    self.ws();
                    if self.eat(b':') {
                        self.ws();
                        self.value();
                        self.ws();
                    }
                    self.eat(b',');
                }
            }
            _ => {
                while let Some(b) = self.peek() {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                        break;
                    }
                    self.i += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::deps;
    use super::super::{Kind, parse};

    #[test]
    fn package_json_sections_with_exact_ranges() {
        let text = "{\n  \"name\": \"app\",\n  \"scripts\": {\"dependencies\": \"not a section\"},\n  \"dependencies\": {\n    \"chalk\": \"5.6.1\",\n    \"lodash\": \"^4.17.0\"\n  },\n  \"devDependencies\": {\"@types/node\": \"^20\", \"weird\\\"name\": \"1.0.0\"},\n  \"peerDependencies\": {}\n}\n";
        let d = deps(Kind::PackageJson, text);
        assert_eq!(d.len(), 4);
        assert_eq!(
            d[0],
            (
                "chalk".into(),
                "5.6.1".into(),
                "\"chalk\": \"5.6.1\"".into()
            )
        );
        assert_eq!(d[1].2, "\"lodash\": \"^4.17.0\"");
        assert_eq!(d[2].0, "@types/node");
        assert_eq!(d[3].0, "weird\"name");
        let m = parse(Kind::PackageJson, text);
        assert_eq!(m.package.as_deref(), Some("app"));
        let (s, e) = m.dependencies[1].spec_range.unwrap();
        assert_eq!(&text[s..e], "^4.17.0");
        assert_eq!(
            m.dependencies[2].section.as_deref(),
            Some("devDependencies")
        );
        // Removing an entry keeps the object valid JSON.
        for dep in &m.dependencies {
            let (s, e) = dep.removal;
            let rest = format!("{}{}", &text[..s], &text[e..]);
            let v: serde_json::Value = serde_json::from_str(&rest).expect(&rest);
            let section = &v[dep.section.as_deref().unwrap()];
            assert!(section.get(&dep.name).is_none(), "{rest}");
        }
        let broken = parse(
            Kind::PackageJson,
            "{\n  \"dependencies\": {\n    \"a\": \"1\"\n    \"b\": \"2\"\n}\n",
        );
        assert_eq!(broken.errors.len(), 1);
        assert!(broken.errors[0].0.contains("line 4"), "{:?}", broken.errors);
        assert!(
            parse(Kind::PackageJson, "[1,2]").errors[0]
                .0
                .contains("object")
        );
    }
}
