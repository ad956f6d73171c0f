#!/usr/bin/env bash
# Re-vendors the front-end assets from npm at their pinned versions and records their
# SHA-256 in SHA256SUMS (web's TestVendoredAssets checks the embedded files against it).
# Building the binary needs none of this: the files are committed and embedded.
set -euo pipefail
cd "$(dirname "$0")"
HTMX=2.0.11
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "htmx.org@$HTMX" >/dev/null && tar xzf "htmx.org-$HTMX.tgz")
cp "$tmp/package/dist/htmx.min.js" "htmx-$HTMX.min.js"
sha256sum htmx-*.min.js > SHA256SUMS
cat SHA256SUMS
