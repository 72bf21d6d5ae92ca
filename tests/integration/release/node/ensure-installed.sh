#!/usr/bin/env bash
# Installs the pinned reference implementation (package.json + package-lock.json
# beside this script) into a cache directory outside the repository, unless it
# is already there, and prints that directory. Fails loudly when it cannot.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="${CONVEYOR_NPM_ANALYZER_DIR:-${HOME:-/tmp}/.cache/conveyor/npm-analyzer}"
mkdir -p "$dir"
# One installer at a time (the test and the benchmark may start together).
exec 9>"$dir/.install.lock"
flock 9
if [ -d "$dir/node_modules/@semantic-release/commit-analyzer" ] &&
   cmp -s "$here/package.json" "$dir/package.json" &&
   cmp -s "$here/package-lock.json" "$dir/package-lock.json"; then
  echo "$dir"
  exit 0
fi
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "ensure-installed: $tool not found" >&2; exit 1; }
done
cp "$here/package.json" "$here/package-lock.json" "$dir/"
if ! (cd "$dir" && npm ci --legacy-peer-deps --no-audit --no-fund 1>&2); then
  echo "ensure-installed: npm ci failed in $dir" >&2
  exit 1
fi
node -e 'const p=require(process.argv[1]+"/node_modules/@semantic-release/commit-analyzer/package.json"); if(p.version!=="13.0.1"){console.error("unexpected commit-analyzer "+p.version);process.exit(1)}' "$dir"
echo "$dir"
