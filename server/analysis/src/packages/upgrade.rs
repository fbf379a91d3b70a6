//! The "upgrade to the lowest fixed version" edit: a new version requirement, written
//! the way the user wrote the old one. The version of the clause that sets the lower
//! bound is replaced and its operator kept (`==2.30.0` → `==2.31.0`, `^4.17.0` →
//! `^4.17.21`, `>=2.3, <3` → `>=2.31.0, <3`, `v0.5.0` → `v0.7.0`); when that would not
//! allow the safe version (an upper bound below it, `||` alternatives) the requirement
//! becomes the ecosystem's plain form of "at least the safe version".
//!
//! An edit is offered only when it is sound: the new requirement allows the version it
//! names, its lowest allowed version is not below the old one's (an upgrade never lowers
//! the floor), the version is not a pre-release unless the old requirement names one,
//! and it is not a PEP 440 local version. Whether the new requirement still allows an
//! affected version is the caller's check (`manifest::check`).

use std::sync::LazyLock;

use regex::Regex;

use super::manifest::Syntax;
use super::requirement::{Requirement, lower_bound_below};
use super::version::Version;

/// An operator and version: `>= 1.2`, `^1.2.3`, `v0.5.0`, `1.2.*`, `1!2.0`, `1.0_post1`.
static CLAUSE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(===|==|~=|!=|>=|<=|\^|~>|~|>|<|=)?\s*(v?\d[0-9A-Za-z.+\-*!_]*)")
        .expect("valid regex")
});

/// The requirement text that replaces `written` so the safe version is allowed and
/// nothing below the old requirement's floor is, or `None` when no sound edit exists
/// (see the module documentation) or `safe` is not a version of this ecosystem.
pub fn upgraded(syntax: Syntax, written: &str, safe: &str) -> Option<String> {
    let eco = super::Ecosystem::from(syntax);
    let safe_v = eco.parse_version(safe)?;
    let old = syntax.requirement(written);
    if matches!(&safe_v, Version::Pep440(p) if !p.local.is_empty())
        || (safe_v.is_prerelease() && !old.names_prerelease())
    {
        return None;
    }
    // The version as the requirement syntax writes it: SemVer without build metadata
    // and with all three parts (npm's `1.2` is a range).
    let safe_text = match &safe_v {
        Version::Semver(s) => {
            let full = super::version::Semver::new(s.major, s.minor, s.patch, s.pre.clone()).text;
            if syntax == Syntax::Go {
                format!("v{full}")
            } else {
                full
            }
        }
        Version::Pep440(p) => p.text.clone(),
    };
    let sound = |candidate: &str| {
        let new: Requirement = syntax.requirement(candidate);
        new.is_known()
            && new.allows(&safe_v)
            && !(old.is_known() && lower_bound_below(&new.floor(), &old.floor()))
    };
    let plain = match syntax {
        Syntax::Pep440 if written.trim_start().starts_with("==") => format!("=={safe_text}"),
        Syntax::Pep440 => format!(">={safe_text}"),
        Syntax::Poetry | Syntax::Npm => format!("^{safe_text}"),
        Syntax::Cargo | Syntax::Go => safe_text.clone(),
    };
    let plain = Some(plain).filter(|p| sound(p));
    if written.trim().is_empty() || written.contains("||") {
        return plain;
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
                "{}{new_op}{gap}{safe_text}{}",
                &written[..op_start],
                &written[version.end()..]
            )
        }
        // Only upper bounds (`<5`) or a wildcard: add the lower bound in front.
        None if CLAUSE.is_match(written) => match syntax {
            Syntax::Pep440 => format!(">={safe_text},{written}"),
            Syntax::Cargo => format!(">={safe_text}, {written}"),
            Syntax::Npm | Syntax::Poetry => format!(">={safe_text} {written}"),
            Syntax::Go => return plain,
        },
        None => return plain,
    };
    if sound(&candidate) {
        Some(candidate)
    } else {
        plain
    }
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

    /// `(syntax, written, safe, the edit or None)`: the bugs of issue 19.
    const SOUNDNESS: &[(Syntax, &str, &str, Option<&str>)] = &[
        // Never below the old floor.
        (Syntax::Cargo, "~0.4", "0.0.9", None),
        (Syntax::Cargo, "~0.4", "0.4.5", Some("~0.4.5")),
        (Syntax::Npm, "~1.3.9-alpha", "1.1.0", None),
        (Syntax::Npm, "~1.3.9-alpha", "1.3.9", Some("~1.3.9")),
        (Syntax::Pep440, "==2.30.0", "2.29.0", None),
        (Syntax::Pep440, ">=2.0,<3", "1.9", None),
        // No pre-release unless the requirement names one.
        (Syntax::Npm, "^1.10.0", "1.10.2-pre", None),
        (Syntax::Pep440, ">=1.10", "1.10.2rc1", None),
        (
            Syntax::Npm,
            "^1.10.2-alpha",
            "1.10.2-pre",
            Some("^1.10.2-pre"),
        ),
        (Syntax::Pep440, ">=2.0b1", "2.0rc1", Some(">=2.0rc1")),
        // No local versions in `>=`/`~=` (nor anywhere: no index serves them).
        (Syntax::Pep440, ">=1.0", "1.5+local", None),
        (Syntax::Pep440, "~=1.0", "1.5+ubuntu1", None),
        // Versions with `!` and `_` are kept whole.
        (Syntax::Pep440, ">=1!1.0", "1!2.0", Some(">=1!2.0")),
        (Syntax::Pep440, ">=1.0_post1, <2", "1.5", Some(">=1.5, <2")),
        (
            Syntax::Pep440,
            "==1.0_post1",
            "1.0.post2",
            Some("==1.0.post2"),
        ),
        (Syntax::Pep440, "~=1!1.0", "1!1.5", Some("~=1!1.5")),
        // PEP 508's parenthesised form.
        (Syntax::Pep440, "(>=1.0,<2)", "1.5", Some("(>=1.5,<2)")),
        // Build metadata is not written; partial versions are completed.
        (Syntax::Npm, "4.17.11", "4.17.21+build.1", Some("4.17.21")),
        (Syntax::Cargo, "=1.6.0", "1.6.1+meta", Some("=1.6.1")),
    ];

    #[test]
    fn an_upgrade_is_sound_or_not_offered() {
        for &(syntax, written, safe, want) in SOUNDNESS {
            let got = upgraded(syntax, written, safe);
            assert_eq!(got.as_deref(), want, "{syntax:?} {written:?} -> {safe}");
        }
        // Whatever is offered allows the version it names and keeps the floor.
        let all = SOUNDNESS
            .iter()
            .map(|&(syntax, written, safe, _)| (syntax, written, safe))
            .chain([
                (Syntax::Npm, "^4.17.0", "4.17.21"),
                (Syntax::Cargo, "0.1.42", "0.2.23"),
                (Syntax::Pep440, "<3", "2.31.0"),
                (Syntax::Npm, "*", "4.17.21"),
            ]);
        for (syntax, written, safe) in all {
            let Some(new) = upgraded(syntax, written, safe) else {
                continue;
            };
            let eco = super::super::Ecosystem::from(syntax);
            let (old, new_req) = (syntax.requirement(written), syntax.requirement(&new));
            assert!(
                new_req.allows(&eco.parse_version(safe).unwrap()),
                "{new} allows {safe}"
            );
            assert!(
                !lower_bound_below(&new_req.floor(), &old.floor()),
                "{new} keeps the floor of {written}"
            );
        }
    }
}
