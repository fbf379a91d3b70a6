"""The PyPI oracle of warden's differential test (server/analysis/tests/oracles.rs).

Generates (specifier set, version) cases and PEP 508 requirement lines
deterministically and has `packaging` judge them:

- specifier sets: ``SpecifierSet(spec).contains(version, prereleases=P)`` where P is
  True when ``SpecifierSet(spec).prereleases`` is True (a specifier other than ``!=`` and
  ``==X.*`` names a pre-release) and False otherwise. That is PEP 440's default as pip
  applies it when released versions exist; packaging 26's plain ``contains(version)``
  would admit a lone pre-release, since a single version has no alternative.
  An invalid specifier set is recorded as expected null.
- PEP 508 lines: ``Requirement(line)`` gives the name and the specifier set, judged the
  same way (the line is invalid: null).

Usage: python3 tests/oracles/pypi.py OUT.json (with `packaging` importable).
"""

import json
import os
import sys

import packaging
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet

VERSIONS = [
    "0", "0.0", "0.dev0", "0+local", "0.9", "1.0", "1.0.0", "v1.0", "1.0a1", "1.0a2",
    "1.0b2", "1.0rc1", "1.0.dev0", "1.0a1.post1", "1.0.post1", "1.0.post1.dev0",
    "1.0_post2", "1.0+local", "1.0+abc.5", "1.0.post1+x", "1.0.1", "1.4", "1.5", "1.5.0",
    "1.5+x", "1.5.post1", "1.5a1", "1.5.1", "1.6", "2.0", "2.0rc1", "2.0rc2", "2.0.dev0",
    "2.0.post1", "2.0+local", "2.5", "2.28.1", "2.29", "2.30.0", "2.31.0", "3.0",
    "1!1.0", "1!2.0", "1!2.0.0", "1!2.0.5", "1!2.5", "1!3.0", "2!0.1",
]

ATOMS = [
    "0", "0.0", "1", "1.0", "1.0.0", "1.5", "2", "2.0", "2.28", "2.28.1", "1.0a1",
    "1.0rc1", "2.0rc2", "1.0.dev0", "1.0.post1", "1.0.post1.dev0", "1!2.0", "1!2",
    "1.5+x", "v1.0", "1.0-1",
]
OPERATORS = ["==", "!=", "~=", ">=", "<=", ">", "<"]
WILDCARDS = ["1.*", "1.0.*", "1!2.*", "1!2.0.*", "1.5.*", "2.*", "0.*"]


def specs():
    out = []
    seen = set()

    def add(s):
        if s not in seen:
            seen.add(s)
            out.append(s)

    add("")
    for op in OPERATORS:
        for a in ATOMS:
            add(op + a)
            add(f"{op} {a}")
        if op in ("==", "!="):
            for w in WILDCARDS:
                add(op + w)
    for lo in [">=1.0", ">=1.0a1", ">1.0", "~=1.0", ">=1!1.0", ">=0"]:
        for hi in ["<2.0", "<=1.5", "<1.5.post1", "!=1.5", "!=1.5.*", "<2.0rc2", "!=1.0+local"]:
            add(f"{lo},{hi}")
            add(f"{lo}, {hi}")
    add(">=1.0,!=1.5,<2.0")
    add(">=1.0, !=1.5.*, <2")
    add("~=2.28,!=2.29")
    add("<0")
    add("<=0.0")
    add(">2,<1")
    add("==1.0,==2.0")
    # Invalid ones: warden must not read these as requirements.
    for bad in ["1.0", ">=1.*", "~=1", ">=1.0+local", "=>1.0", "==1.0.*.*", ">=", "~=1.*", "== 1 .0"]:
        add(bad)
    return out


REQUIREMENT_LINES = [
    "name (>=1.0,<2)",
    "name(>=1.0,<2)",
    "name ( >=1.0 , <2 )",
    "name (==1.0.*)",
    "name (!=1.5,>=1.0)",
    "name[extra] (>=1.0) ; python_version > '3'",
    "name>=1.0,<2",
    "Name_With.Dots (~=2.28)",
    "name (~=1!2.0)",
    "name (>1.0)",
    "name",
    "name ; python_version < '3.8'",
    "name (>=1.0a1,<2.0)",
]


def judge(spec_set, version):
    return spec_set.contains(version, prereleases=spec_set.prereleases is True)


def main():
    out = sys.argv[1]
    cases = []
    for spec in specs():
        try:
            spec_set = SpecifierSet(spec)
        except InvalidSpecifier:
            spec_set = None
        for v in VERSIONS:
            cases.append([spec, v, None if spec_set is None else judge(spec_set, v), "specifier"])
    requirements = []
    for line in REQUIREMENT_LINES:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            req = None
        requirements.append({
            "line": line,
            "name": None if req is None else req.name,
            "cases": [[v, None if req is None else judge(req.specifier, v)] for v in VERSIONS],
        })
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump({
            "ecosystem": "PyPI",
            "oracle": f"packaging {packaging.__version__}: SpecifierSet(spec).contains(version, "
                      "prereleases=SpecifierSet(spec).prereleases is True); "
                      "Requirement(line).name and .specifier; null: invalid",
            "generator": "tests/oracles/pypi.py",
            "cases": cases,
            "requirements": requirements,
        }, f)
    n = len(cases) + sum(len(r["cases"]) for r in requirements)
    print(f"PyPI oracle: packaging {packaging.__version__}, {len(cases)} specifier cases, "
          f"{len(requirements)} PEP 508 lines, {n} cases -> {out}")


if __name__ == "__main__":
    main()
