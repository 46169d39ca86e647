#!/usr/bin/env bash
# Builds the Debian package with cargo-deb (README.md, "Installing"):
#
#   packaging/build-deb.sh                    # target/debian/parleyd_VERSION-1_ARCH.deb
#   packaging/build-deb.sh --profile NAME [--no-build] …
#                                             # another Cargo profile; the rest goes to cargo deb
#
# Three steps: build the binary; have it write the shell completions and man pages from
# its own clap definitions (`parleyd generate-assets`, hidden) into the profile's folder,
# where the asset list in Cargo.toml expects them (pages gzipped); then package without building again.
# cargo-deb itself: packaging/install-cargo-deb.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
build=yes
while [ $# -gt 0 ]; do
  case $1 in
    --profile) profile=$2; shift 2 ;;
    # Package the binary already in the profile's folder (check-deb.sh: the test build).
    --no-build) build=no; shift ;;
    *) break ;;
  esac
done
# Cargo's `dev` profile writes into target/debug; every other profile into its own name.
out_dir=target/$([ "$profile" = dev ] && echo debug || echo "$profile")

if [ "$build" = yes ]; then
  cargo build --locked --profile "$profile" --bin parleyd
fi
rm -rf "$out_dir/assets"
"$out_dir/parleyd" generate-assets "$out_dir/assets"
# Debian policy: man pages gzipped, reproducibly (-n: no name or time stamp). cargo-deb
# compresses pages itself only when they are not build outputs, which these are.
gzip -9n "$out_dir"/assets/man/*.1
cargo deb --no-build --profile "$profile" "$@"
