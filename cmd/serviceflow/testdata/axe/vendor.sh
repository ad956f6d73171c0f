#!/usr/bin/env bash
# Re-vendors axe-core from npm at its pinned version and records its SHA-256 in
# SHA256SUMS. The browser tests inject it into each page they check and fail on any
# serious or critical violation; TestAxeVendored checks the file against SHA256SUMS.
# Only the tests use it: it is not embedded in the binary.
set -euo pipefail
cd "$(dirname "$0")"
AXE=4.14.1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "axe-core@$AXE" >/dev/null && tar xzf "axe-core-$AXE.tgz")
cp "$tmp/package/axe.min.js" "axe-$AXE.min.js"
cp "$tmp/package/LICENSE" LICENSE
sha256sum "axe-$AXE.min.js" > SHA256SUMS
cat SHA256SUMS
