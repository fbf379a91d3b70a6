#!/usr/bin/env bash
# Materializes the fixture workspaces in DEST: alpha, beta and gamma become git repositories
# (one commit, an origin remote), notes stays a plain folder. Replaces DEST.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:?usage: scripts/fixtures.sh DEST}"
rm -rf "$dest"
mkdir -p "$dest"
cp -R "$here/fixtures/workspaces/." "$dest/"
for repo in alpha beta gamma; do
  (
    cd "$dest/$repo"
    export GIT_CONFIG_GLOBAL=/dev/null GIT_AUTHOR_NAME=warden GIT_AUTHOR_EMAIL=demo@example.invalid \
      GIT_COMMITTER_NAME=warden GIT_COMMITTER_EMAIL=demo@example.invalid
    git init -q -b main
    git remote add origin "https://example.invalid/fixtures/$repo.git"
    git add -A
    git commit -q -m "fixture $repo"
  )
done
echo "fixtures ready in $dest"
