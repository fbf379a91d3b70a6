//! `requirements*.txt`: one PEP 508 requirement per logical line (backslash
//! continuations joined), with comments, `-r`/`-c` includes, `--hash` and other options,
//! extras, markers and `name @ URL` direct references. Also the PEP 508 reader that
//! `pyproject.toml` shares.

use super::{Dependency, Manifest};
use crate::packages::Ecosystem;

/// A PEP 508 requirement read from a string, offsets local to it.
pub(super) struct Pep508 {
    pub name: (usize, usize),
    /// The version specifier, trimmed, spaces kept; empty range (at the insertion point
    /// after the name and extras) when there is none; `None` for `@ URL` references.
    pub spec: Option<(usize, usize)>,
    /// Where the requirement text ends (before markers and options).
    pub end: usize,
}

/// Reads `name [extras] (specifier | @ url) [; markers]`.
pub(super) fn pep508(body: &str) -> Result<Pep508, String> {
    let name_len = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .unwrap_or(body.len());
    if name_len == 0 || !body.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(format!(
            "cannot read this requirement: {:?}",
            truncate(body)
        ));
    }
    let mut pos = name_len;
    let skip_ws = |pos: &mut usize| {
        *pos += body[*pos..].len() - body[*pos..].trim_start().len();
    };
    skip_ws(&mut pos);
    if body[pos..].starts_with('[') {
        match body[pos..].find(']') {
            Some(close) => pos += close + 1,
            None => return Err("unclosed extras `[`".into()),
        }
    }
    let insert_at = pos;
    skip_ws(&mut pos);
    let rest = &body[pos..];
    let spec_end = [rest.find(';'), rest.find(" --"), rest.find("\t--")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(rest.len());
    let spec = rest[..spec_end].trim_end();
    Ok(if spec.starts_with('@') {
        Pep508 {
            name: (0, name_len),
            spec: None,
            end: pos + spec.len(),
        }
    } else if spec.is_empty() {
        Pep508 {
            name: (0, name_len),
            spec: Some((insert_at, insert_at)),
            end: insert_at,
        }
    } else {
        Pep508 {
            name: (0, name_len),
            spec: Some((pos, pos + spec.len())),
            end: pos + spec.len(),
        }
    })
}

pub(super) fn truncate(s: &str) -> String {
    s.chars().take(60).collect()
}

pub(super) fn parse(text: &str) -> Manifest {
    let mut m = Manifest::default();
    let mut offset = 0;
    let mut logical = String::new();
    // (offset in `logical`, offset in `text`) at the start of each physical piece.
    let mut map: Vec<(usize, usize)> = Vec::new();
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        if logical.is_empty() {
            map.clear();
        }
        map.push((logical.len(), offset));
        offset += line.len();
        if let Some(stripped) = content.strip_suffix('\\') {
            logical.push_str(stripped);
            logical.push(' ');
        } else {
            logical.push_str(content);
            requirement_line(&logical, &map, offset, &mut m);
            logical.clear();
        }
    }
    if !logical.is_empty() {
        requirement_line(&logical, &map, offset, &mut m);
    }
    m
}

/// Maps an offset in a logical (continued) line to the text.
fn to_text(map: &[(usize, usize)], at: usize) -> usize {
    let (l, t) = map
        .iter()
        .rev()
        .find(|(l, _)| *l <= at)
        .copied()
        .unwrap_or((0, 0));
    t + (at - l)
}

/// One logical line; `line_end` is the text offset after its last newline.
fn requirement_line(line: &str, map: &[(usize, usize)], line_end: usize, m: &mut Manifest) {
    // Comments: a `#` at the start or after whitespace.
    let code_end = line
        .char_indices()
        .find(|&(i, c)| c == '#' && (i == 0 || line[..i].ends_with([' ', '\t'])))
        .map_or(line.len(), |(i, _)| i);
    let code = &line[..code_end];
    let lead = code.len() - code.trim_start().len();
    let body = code.trim();
    if body.is_empty() {
        return;
    }
    let at = |i: usize| to_text(map, lead + i);
    if let Some((skip, file)) = ["-r ", "--requirement ", "-c ", "--constraint ", "-r", "-c"]
        .iter()
        .find_map(|p| {
            body.strip_prefix(p)
                .map(|r| (body.len() - r.len(), r.trim()))
        })
    {
        m.includes.push((
            file.split_whitespace().next().unwrap_or("").to_owned(),
            at(skip),
            at(body.len()),
        ));
        return;
    }
    if body.starts_with('-') {
        return; // -e, --index-url, --hash and other options
    }
    match pep508(body) {
        Ok(p) => {
            let spec_text = match p.spec {
                Some((s, e)) => body[s..e].replace(' ', ""),
                None => body[p.name.1..p.end].trim().to_owned(),
            };
            m.dependencies.push(Dependency {
                ecosystem: Ecosystem::PyPI,
                name: body[p.name.0..p.name.1].to_owned(),
                spec: spec_text,
                start: at(0),
                end: at(p.end),
                spec_range: p.spec.map(|(s, e)| (at(s), at(e))),
                section: None,
                removal: (map[0].1, line_end),
            })
        }
        Err(message) => m.errors.push((message, at(0), at(body.len()))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::deps;
    use super::super::{Kind, parse};

    #[test]
    fn requirements_lines_with_exact_ranges() {
        let text = "# pinned\nrequests==2.30.0\nDjango >= 4.2, <5  # web\npilllow\nuvicorn[standard]~=0.29 ; python_version >= \"3.8\"\nflask==3.0.0 \\\n    --hash=sha256:abc\n-r dev-requirements.txt\n-e .\n--index-url https://pypi.example.invalid/simple\nmypkg @ https://example.invalid/mypkg-1.0.whl\n";
        let d = deps(Kind::Requirements, text);
        let expect: [(&str, &str, &str); 6] = [
            ("requests", "==2.30.0", "requests==2.30.0"),
            ("Django", ">=4.2,<5", "Django >= 4.2, <5"),
            ("pilllow", "", "pilllow"),
            ("uvicorn", "~=0.29", "uvicorn[standard]~=0.29"),
            ("flask", "==3.0.0", "flask==3.0.0"),
            (
                "mypkg",
                "@ https://example.invalid/mypkg-1.0.whl",
                "mypkg @ https://example.invalid/mypkg-1.0.whl",
            ),
        ];
        assert_eq!(d, expect.map(|(a, b, c)| (a.into(), b.into(), c.into())));
        let m = parse(Kind::Requirements, text);
        assert_eq!(m.includes[0].0, "dev-requirements.txt");
        let spec = m.dependencies[0].spec_range.unwrap();
        assert_eq!(&text[spec.0..spec.1], "==2.30.0");
        // No specifier: an empty range where one would go (after the extras).
        let p = &m.dependencies[2];
        assert_eq!(p.spec_range, Some((p.end, p.end)));
        // Removal takes the whole logical line, continuation included.
        let (s, e) = m.dependencies[4].removal;
        assert_eq!(&text[s..e], "flask==3.0.0 \\\n    --hash=sha256:abc\n");
        let bad = parse(Kind::Requirements, "ok==1\n!!nonsense\nextras[oops==1\n");
        assert_eq!(bad.errors.len(), 2);
        assert_eq!(bad.dependencies.len(), 1);
    }
}
