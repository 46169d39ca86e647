#!/usr/bin/env bash
# Installs the pinned cargo-deb from crates.io unless it is already there (about 3 minutes
# on 2 cores, once per machine). Pinned so that a new cargo-deb cannot change the package
# under a green CI: bump CARGO_DEB_VERSION on purpose, and run packaging/check-deb.sh.
set -euo pipefail
CARGO_DEB_VERSION=3.8.0
if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $CARGO_DEB_VERSION" ]; then
  cargo install cargo-deb --locked --version "$CARGO_DEB_VERSION"
fi
