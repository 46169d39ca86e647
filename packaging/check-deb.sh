#!/usr/bin/env bash
# The Debian package test, run by CI after the test suite (README, "The two commands"):
# builds the package and checks what an admin installs, with dpkg-deb (-I, -c, -x). Each
# check below fails the run when it does not hold, and prints what it found:
#   * metadata: name, version (Cargo.toml's), architecture, libc dependency, section,
#     ca-certificates recommended;
#   * files and modes: the binary, the unit, the config and the env file (0600, secrets)
#     as conffiles, README, CHANGELOG, copyright and examples as documentation, bash, zsh
#     and fish completions, a man page for parleyd and one per visible subcommand;
#   * maintainer scripts: valid sh; a fresh install neither enables nor starts the
#     service; an upgrade restarts it only if it runs; removal stops it; purge deletes the
#     store;
#   * in the unpacked tree: the binary runs and is stripped, the unit starts the packaged
#     binary, the packaged config with the packaged env file passes check-config, bash
#     completes a command and a flag, the pages are roff with their sections, the hidden generator
#     command shows in neither, and the CHANGELOG has an entry for this version.
set -euo pipefail
cd "$(dirname "$0")/.."

packaging/install-cargo-deb.sh
command -v dpkg-deb >/dev/null || { echo "package check: dpkg-deb is missing (Debian's dpkg)"; exit 1; }

# Packaged from the binary that `cargo test` builds for the integration tests, so the
# package costs seconds instead of a multi-minute release build: what is checked here
# (files, modes, scripts, metadata, pages) is the same for every profile, and --strip has
# cargo-deb strip the binary as release's `strip = true` does. `cargo test --no-run` makes
# sure that binary is current, and is a no-op right after the test suite; a plain `cargo
# build` would not be, since it builds tokio without the dev-dependencies' features.
# cargo-deb is meant for releases and warns about `dev` (--quiet hides that warning;
# its errors still print).
cargo test --locked --no-run --test integration
deb=target/debian/parleyd-check.deb
rm -f "$deb"
packaging/build-deb.sh --profile dev --no-build --strip --fast --quiet --output "$deb"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
contents=$(dpkg-deb -c "$deb")
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok: $1"; }
fail() { failed=$((failed + 1)); echo "FAILED: $1"; }
# check WHAT COMMAND…: the check holds when the command succeeds.
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then pass "$what"; else fail "$what"; fi; }

field() { dpkg-deb -f "$deb" "$1"; }
check "Package is parleyd" test "$(field Package)" = parleyd
check "Version is Cargo.toml's $version, revision 1" test "$(field Version)" = "$version-1"
check "Architecture is this machine's" test "$(field Architecture)" = "$(dpkg --print-architecture)"
check "Depends names libc6" grep -q 'libc6' <<<"$(field Depends)"
check "Recommends ca-certificates" grep -q 'ca-certificates' <<<"$(field Recommends)"
check "Section is net" test "$(field Section)" = net

# has MODE PATH: the archive holds PATH with exactly these permissions.
has() { grep -qE "^$1 [^ ]+ +[0-9]+ [0-9-]+ [0-9:]+ \./$2\$" <<<"$contents"; }
check "binary /usr/bin/parleyd, 755" has -rwxr-xr-x usr/bin/parleyd
check "unit in /usr/lib/systemd/system, 644" has -rw-r--r-- usr/lib/systemd/system/parleyd.service
check "config /etc/parleyd/parleyd.toml, 644" has -rw-r--r-- etc/parleyd/parleyd.toml
check "env file /etc/parleyd/parleyd.env, 600" has -rw------- etc/parleyd/parleyd.env
for doc in README.md CHANGELOG.md copyright examples/parleyd.toml examples/parleyd.env; do
  check "doc /usr/share/doc/parleyd/$doc" has -rw-r--r-- "usr/share/doc/parleyd/$doc"
done
check "bash completion" has -rw-r--r-- usr/share/bash-completion/completions/parleyd
check "zsh completion" has -rw-r--r-- usr/share/zsh/vendor-completions/_parleyd
check "fish completion" has -rw-r--r-- usr/share/fish/vendor_completions.d/parleyd.fish
pages=$(ls target/debug/assets/man)
missing=""
for page in $pages; do has -rw-r--r-- "usr/share/man/man1/$page" || missing="$missing $page"; done
if [ -z "$missing" ] && [ "$(wc -w <<<"$pages")" -ge 17 ]; then
  pass "$(wc -w <<<"$pages") man pages, gzipped, parleyd.1 and one per subcommand"
else
  fail "man pages missing from the package:${missing:- (only $(wc -w <<<"$pages") generated)}"
fi
check "README.md is the repository's" cmp README.md "$root/usr/share/doc/parleyd/README.md"
check "config is the repository's config/parleyd.toml" cmp config/parleyd.toml "$root/etc/parleyd/parleyd.toml"

control=$(mktemp -d -p "$root")
dpkg-deb -e "$deb" "$control"
check "conffiles: the config and the env file" test "$(sort "$control/conffiles")" = "$(printf '/etc/parleyd/parleyd.env\n/etc/parleyd/parleyd.toml')"
for script in postinst prerm postrm; do
  check "$script exists and is valid sh" sh -n "$control/$script"
done
check "postinst never starts the service on a fresh install" bash -c "! grep -q 'deb-systemd-invoke start' '$control/postinst'"
check "postinst enables only a unit that was enabled before" grep -q 'was-enabled parleyd.service' "$control/postinst"
check "postinst restarts a running daemon on upgrade (try-restart)" grep -q 'try-restart' "$control/postinst"
check "prerm stops the service on removal" grep -q 'deb-systemd-invoke stop' "$control/prerm"
check "postrm deletes the store on purge" grep -q 'rm -rf /var/lib/private/parleyd /var/lib/parleyd' "$control/postrm"
check "postrm purges the unit's state" grep -q 'deb-systemd-helper purge' "$control/postrm"

bin=$root/usr/bin/parleyd
check "the binary runs: parleyd $version" test "$("$bin" --version)" = "parleyd $version"
# (.debug_gdb_scripts, a few bytes naming gdb's pretty-printers for Rust, stays.)
check "the binary has no debug info and no symbol table" bash -c "! readelf -S -W '$bin' | grep -qE '\.debug_(info|line|str|abbrev|ranges)|\.symtab'"
unit=$root/usr/lib/systemd/system/parleyd.service
check "the unit starts the packaged /usr/bin/parleyd" grep -qx 'ExecStart=/usr/bin/parleyd --config /etc/parleyd/parleyd.toml run' "$unit"
check "the unit names no other binary path" bash -c "! grep -E '^Exec' '$unit' | grep -v '/usr/bin/parleyd\|/bin/kill'"
# The config names its secret as ${PARLEYD_SLACK_WEBHOOK}; the env file sets it (to a
# placeholder, which check-config warns about and accepts).
check "packaged config + env file pass check-config" env -i PATH="$PATH" bash -c \
  "set -a; . '$root/etc/parleyd/parleyd.env'; '$bin' --config '$root/etc/parleyd/parleyd.toml' check-config"
# complete: what bash offers after `parleyd WORDS…` (the last word being typed).
complete_bash() {
  bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1));
           _parleyd parleyd "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}";
           echo "${COMPREPLY[*]}"' _ "$root/usr/share/bash-completion/completions/parleyd" parleyd "$@"
}
check "bash completes 'parleyd che' to check-config" test "$(complete_bash che)" = check-config
check "bash completes 'parleyd alerts retry --a' to --all-dead" test "$(complete_bash alerts retry --a)" = --all-dead
check "zsh completion is a #compdef for parleyd" grep -q '^#compdef parleyd' "$root/usr/share/zsh/vendor-completions/_parleyd"
check "fish completion completes check-config" grep -q 'check-config' "$root/usr/share/fish/vendor_completions.d/parleyd.fish"
man1=$root/usr/share/man/man1
check "parleyd.1 is a section-1 page" bash -c "zcat '$man1/parleyd.1.gz' | grep -q '^\.TH parleyd 1'"
check "parleyd.1 lists the subcommands' pages" bash -c "zcat '$man1/parleyd.1.gz' | grep -q 'parleyd\\\\-alerts(1)'"
check "parleyd.1 has EXIT STATUS and FILES" bash -c "zcat '$man1/parleyd.1.gz' | grep -q '^\.SH \"EXIT STATUS\"' && zcat '$man1/parleyd.1.gz' | grep -q '^\.SH FILES'"
check "parleyd-alerts-retry.1 documents --all-dead" bash -c "zcat '$man1/parleyd-alerts-retry.1.gz' | grep -q 'all\\\\-dead'"
check "the hidden generate-assets shows in no page or completion" bash -c \
  "! { zcat '$man1'/*.gz; cat '$root'/usr/share/bash-completion/completions/parleyd '$root'/usr/share/zsh/vendor-completions/_parleyd '$root'/usr/share/fish/vendor_completions.d/parleyd.fish; } | grep -q 'generate.assets'"
check "CHANGELOG.md has an entry for $version" grep -q "^## $version" "$root/usr/share/doc/parleyd/CHANGELOG.md"

echo "package check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
