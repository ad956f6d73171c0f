#!/usr/bin/env bash
# Re-vendors the front-end assets from npm at their pinned versions and records their
# SHA-256 in SHA256SUMS (web's TestVendoredAssets checks the embedded files against it).
# Building the binary needs none of this: the files are committed and embedded.
#   htmx: the pages' partial updates and boosted links.
#   chartist: the survey cycle page's charts (SVG), with its stylesheet and licence.
set -euo pipefail
cd "$(dirname "$0")"
HTMX=2.0.11
CHARTIST=1.5.0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "htmx.org@$HTMX" >/dev/null && tar xzf "htmx.org-$HTMX.tgz")
cp "$tmp/package/dist/htmx.min.js" "htmx-$HTMX.min.js"
rm -rf "$tmp/package"
(cd "$tmp" && npm pack --silent "chartist@$CHARTIST" >/dev/null && tar xzf "chartist-$CHARTIST.tgz")
cp "$tmp/package/dist/index.umd.js" "chartist-$CHARTIST.umd.js"
cp "$tmp/package/dist/index.css" "chartist-$CHARTIST.css"
cp "$tmp/package/LICENSE-MIT" "chartist-$CHARTIST.LICENSE-MIT.txt"
sha256sum htmx-*.min.js chartist-* > SHA256SUMS
cat SHA256SUMS
