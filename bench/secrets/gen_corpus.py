#!/usr/bin/env python3
"""Generates a large, realistic source tree for secret-scanner benchmarks: Python, JS,
TypeScript, Go, shell, YAML, JSON and Markdown files built from templates with random
identifiers, comments, and many lines that mention tokens, passwords and keys without
being secrets (to stress keyword prefilters), plus sparse real-format fake secrets
copied from fixtures/secrets/positives. Deterministic for a given --seed.
Usage: gen_corpus.py OUT_DIR [--size-mb 100] [--seed 7]"""
import argparse
import os
import random
import string

WORDS = ("user account order invoice payment session request response client server cache "
         "config handler router service model record batch queue event stream token secret "
         "password key auth header retry timeout limit buffer parser writer reader index "
         "report metric trace span worker job task schedule deploy build release").split()


def ident(rng, parts=2):
    return "_".join(rng.choice(WORDS) for _ in range(parts))


def camel(rng):
    a, b = rng.choice(WORDS), rng.choice(WORDS)
    return a + b.capitalize()


def py_block(rng):
    f, a, b = ident(rng), ident(rng, 1), ident(rng, 1)
    return f'''

def {f}({a}, {b}=None):
    """Return the {rng.choice(WORDS)} for a {rng.choice(WORDS)} ({rng.randint(1, 999)})."""
    token = request.headers.get("X-{rng.choice(WORDS).title()}-Token")
    if {b} is None:
        {b} = settings.{ident(rng).upper()}
    password_hash = hashlib.sha256({a}.encode()).hexdigest()
    result = [{a} * i for i in range({rng.randint(2, 50)})]
    log.info("{f}: %s items, key=%s", len(result), {b})
    return {{"{rng.choice(WORDS)}": result, "secret_ref": "{ident(rng)}"}}
'''


def js_block(rng):
    f, a = camel(rng), camel(rng)
    return f'''
// {rng.choice(WORDS)} helpers: keep the {rng.choice(WORDS)} token out of logs.
export async function {f}({a}, options = {{}}) {{
  const apiKey = process.env.{ident(rng).upper()};
  const res = await fetch(`/api/{rng.choice(WORDS)}/${{{a}.id}}`, {{ headers: {{ Authorization: `Bearer ${{apiKey}}` }} }});
  if (!res.ok) throw new Error("{f} failed: " + res.status);
  const body = await res.json();
  return body.items.filter((x) => x.{rng.choice(WORDS)} > {rng.randint(0, 100)}).map((x) => ({{ ...x, secret: undefined }}));
}}
'''


def go_block(rng):
    f = camel(rng).capitalize()
    return f'''
// {f} loads the {rng.choice(WORDS)} configuration; the password comes from the environment.
func {f}(ctx context.Context, key string) (*Config, error) {{
	token := os.Getenv("{ident(rng).upper()}")
	if token == "" {{
		return nil, fmt.Errorf("{f}: missing token for %s", key)
	}}
	return &Config{{Name: "{ident(rng)}", Retries: {rng.randint(1, 9)}, Secret: token}}, nil
}}
'''


def yaml_block(rng):
    return f'''
{ident(rng)}:
  enabled: {rng.choice(["true", "false"])}
  replicas: {rng.randint(1, 12)}
  password_secret_ref: {ident(rng)}-{rng.randint(1, 99)}
  token_env: {ident(rng).upper()}
  image: registry.example.invalid/{rng.choice(WORDS)}:{rng.randint(1, 9)}.{rng.randint(0, 20)}
'''


def sh_block(rng):
    return f'''
# {rng.choice(WORDS)} step {rng.randint(1, 99)}
: "${{{ident(rng).upper()}:?set the token}}"
mkdir -p "$OUT/{rng.choice(WORDS)}"
grep -c "{rng.choice(WORDS)}" "$LOG" || true
curl -fsS -H "Authorization: Bearer ${{DEPLOY_TOKEN}}" "https://{rng.choice(WORDS)}.example.invalid/v{rng.randint(1, 3)}/status"
'''


def json_block(rng):
    return (f'  "{ident(rng)}": {{"id": "{"".join(rng.choice(string.hexdigits.lower()) for _ in range(32))}", '
            f'"token_field": "{rng.choice(WORDS)}", "count": {rng.randint(0, 10**6)}}},\n')


def md_block(rng):
    return (f"\n## {rng.choice(WORDS).title()} {rng.choice(WORDS)}\n\nSet `{ident(rng).upper()}` to your API key before "
            f"running `make {rng.choice(WORDS)}`. The password is read from the secret store; never commit a token.\n")


KINDS = [(".py", py_block, "import hashlib\nimport logging\n"), (".js", js_block, "'use strict';\n"),
         (".ts", js_block, "import { log } from './log';\n"), (".go", go_block, "package main\n\nimport (\n\t\"context\"\n\t\"fmt\"\n\t\"os\"\n)\n"),
         (".yaml", yaml_block, "version: 2\n"), (".sh", sh_block, "#!/bin/sh\nset -eu\n"),
         (".json", json_block, "{\n"), (".md", md_block, "# Notes\n")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--size-mb", type=float, default=100)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    here = os.path.dirname(os.path.abspath(__file__))
    pos_dir = os.path.join(here, "..", "..", "fixtures", "secrets", "positives")
    secret_lines = []
    for name in sorted(os.listdir(pos_dir)):
        with open(os.path.join(pos_dir, name)) as f:
            text = f.read()
        if "-----BEGIN" not in text:
            secret_lines.extend(l for l in text.splitlines() if l.strip())
    target = int(args.size_mb * 1024 * 1024)
    os.makedirs(args.out, exist_ok=True)
    total, n, planted = 0, 0, 0
    while total < target:
        ext, block, header = KINDS[n % len(KINDS)]
        d = os.path.join(args.out, f"pkg{n // 200:03d}", rng.choice(WORDS))
        os.makedirs(d, exist_ok=True)
        parts = [header]
        size = len(header)
        file_target = rng.randint(8_000, 40_000)
        while size < file_target:
            b = block(rng)
            parts.append(b)
            size += len(b)
            if rng.random() < 0.004:  # about one secret per 250 blocks
                parts.append(rng.choice(secret_lines) + "\n")
                planted += 1
        if ext == ".json":
            parts.append('  "end": true\n}\n')
        data = "".join(parts)
        with open(os.path.join(d, f"{ident(rng)}_{n}{ext}"), "w") as f:
            f.write(data)
        total += len(data)
        n += 1
    print(f"{n} files, {total / 1e6:.1f} MB, {planted} planted secrets in {args.out}")


if __name__ == "__main__":
    main()
