//! The "upgrade to the lowest fixed version" edit: a new version requirement, written
//! the way the user wrote the old one. The version of the clause that sets the lower
//! bound is replaced and its operator kept (`==2.30.0` → `==2.31.0`, `^4.17.0` →
//! `^4.17.21`, `>=2.3, <3` → `>=2.31.0, <3`, `v0.5.0` → `v0.7.0`); when that would not
//! allow the safe version (an upper bound below it, `||` alternatives) the requirement
//! becomes the ecosystem's plain form of "at least the safe version".

use std::sync::LazyLock;

use regex::Regex;

use super::manifest::Syntax;

/// An operator and version: `>= 1.2`, `^1.2.3`, `v0.5.0`, `1.2.*`.
static CLAUSE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(===|==|~=|!=|>=|<=|\^|~|>|<|=)?\s*(v?\d[0-9A-Za-z.+\-*]*)").expect("valid regex")
});

/// The requirement text that replaces `written` so the safe version is allowed and
/// nothing below it is, or `None` when `safe` is not a version of this ecosystem.
pub fn upgraded(syntax: Syntax, written: &str, safe: &str) -> Option<String> {
    let safe_v = match syntax {
        Syntax::Go => format!("v{}", safe.trim_start_matches('v')),
        _ => safe.to_owned(),
    };
    let plain = match syntax {
        Syntax::Pep440 if written.trim_start().starts_with("==") => format!("=={safe_v}"),
        Syntax::Pep440 => format!(">={safe_v}"),
        Syntax::Poetry | Syntax::Npm => format!("^{safe_v}"),
        Syntax::Cargo | Syntax::Go => safe_v.clone(),
    };
    let allows = |candidate: &str| {
        let req = syntax.requirement(candidate);
        let v = super::Ecosystem::from(syntax).parse_version(safe)?;
        Some(req.allows(&v))
    };
    allows(&plain)?;
    if written.trim().is_empty() || written.contains("||") {
        return Some(plain);
    }
    let lower = CLAUSE.captures_iter(written).find(|c| {
        let op = c.get(1).map_or("", |m| m.as_str());
        let after_hyphen = written[..c.get(0).map_or(0, |m| m.start())]
            .trim_end()
            .ends_with(" -");
        !matches!(op, "<" | "<=" | "!=") && !after_hyphen
    });
    let candidate = match lower {
        Some(c) => {
            let op = c.get(1).map_or("", |m| m.as_str());
            let version = c.get(2).expect("group 2 always matches");
            let op_start = c.get(1).map_or(version.start(), |m| m.start());
            let new_op = if op == ">" { ">=" } else { op };
            let gap = &written[c.get(1).map_or(version.start(), |m| m.end())..version.start()];
            format!(
                "{}{new_op}{gap}{safe_v}{}",
                &written[..op_start],
                &written[version.end()..]
            )
        }
        // Only upper bounds (`<5`) or a wildcard: add the lower bound in front.
        None if CLAUSE.is_match(written) => match syntax {
            Syntax::Pep440 => format!(">={safe_v},{written}"),
            Syntax::Cargo => format!(">={safe_v}, {written}"),
            Syntax::Npm | Syntax::Poetry => format!(">={safe_v} {written}"),
            Syntax::Go => plain.clone(),
        },
        None => plain.clone(),
    };
    Some(if allows(&candidate) == Some(true) {
        candidate
    } else {
        plain
    })
}

impl From<Syntax> for super::Ecosystem {
    fn from(s: Syntax) -> Self {
        match s {
            Syntax::Pep440 | Syntax::Poetry => super::Ecosystem::PyPI,
            Syntax::Npm => super::Ecosystem::Npm,
            Syntax::Cargo => super::Ecosystem::CratesIo,
            Syntax::Go => super::Ecosystem::Go,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_operator_style() {
        let cases = [
            (Syntax::Pep440, "==2.30.0", "2.31.0", "==2.31.0"),
            (Syntax::Pep440, ">= 2.3, <3", "2.31.0", ">= 2.31.0, <3"),
            (Syntax::Pep440, ">2.3", "2.31.0", ">=2.31.0"),
            (Syntax::Pep440, "~=2.30", "2.31.0", "~=2.31.0"),
            (Syntax::Pep440, "", "2.31.0", ">=2.31.0"),
            (Syntax::Pep440, "<3", "2.31.0", ">=2.31.0,<3"),
            (Syntax::Pep440, "!=2.29,>=2.0,<2.30", "2.31.0", ">=2.31.0"),
            (Syntax::Poetry, "^2.30.0", "2.31.0", "^2.31.0"),
            (Syntax::Poetry, "2.30.0", "2.31.0", "2.31.0"),
            (Syntax::Npm, "^4.17.0", "4.17.21", "^4.17.21"),
            (Syntax::Npm, "~4.17.0", "4.17.21", "~4.17.21"),
            (Syntax::Npm, "4.17.11", "4.17.21", "4.17.21"),
            (Syntax::Npm, ">=4.0.0 <4.17.5", "4.17.21", "^4.17.21"),
            (
                Syntax::Npm,
                "4.17.0 - 4.17.30",
                "4.17.21",
                "4.17.21 - 4.17.30",
            ),
            (Syntax::Npm, "^3.0.0 || ^4.0.0", "4.17.21", "^4.17.21"),
            (Syntax::Npm, "*", "4.17.21", "^4.17.21"),
            (Syntax::Npm, "latest", "4.17.21", "^4.17.21"),
            (Syntax::Cargo, "0.1.42", "0.2.23", "0.2.23"),
            (Syntax::Cargo, "=1.6.0", "1.6.1", "=1.6.1"),
            (Syntax::Cargo, ">=1.0, <1.6.1", "1.6.1", "1.6.1"),
            (Syntax::Go, "v0.5.0", "0.7.0", "v0.7.0"),
        ];
        for (syntax, written, safe, want) in cases {
            assert_eq!(
                upgraded(syntax, written, safe).as_deref(),
                Some(want),
                "{syntax:?} {written:?} -> {safe}"
            );
            let req = syntax.requirement(want);
            let safe_v = super::super::Ecosystem::from(syntax)
                .parse_version(safe)
                .unwrap();
            assert!(req.allows(&safe_v), "{want} allows {safe}");
        }
        assert_eq!(upgraded(Syntax::Npm, "^1", "not a version"), None);
    }
}
