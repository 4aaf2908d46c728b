#!/usr/bin/env bash
# Builds otelbox in release mode and installs the binary into ~/.local/bin (or --prefix DIR/bin).
# Idempotent: running it again rebuilds what changed and replaces the binary. A cold build takes a
# few minutes on 2 cores. Usage: ./install.sh [--prefix DIR]
set -euo pipefail
cd "$(dirname "$0")"

default_prefix="$HOME/.local"
prefix="$default_prefix"
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || { echo "install.sh: --prefix needs a directory" >&2; exit 2; }; prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    -h|--help) sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

if ! command -v cargo >/dev/null 2>&1; then
  echo "install.sh: cargo is not installed; install Rust (https://rustup.rs), then run ./install.sh again" >&2
  exit 1
fi

# The web UI is built first (wasm; scripts/build-ui) so the release binary embeds it. Its one
# non-Rust tool, binaryen's wasm-opt, comes from npm.
if ! command -v npm >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "install.sh: installing Node.js and npm (Debian packages) to build the UI…"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  else
    echo "install.sh: npm is needed to build the web UI; install Node.js and npm, then run ./install.sh again" >&2
    exit 1
  fi
fi
echo "install.sh: building the web UI…"
scripts/build-ui

echo "install.sh: building otelbox (release)…"
cargo build --release --locked

bindir="$prefix/bin"
mkdir -p "$bindir" || { echo "install.sh: cannot create $bindir; choose another --prefix" >&2; exit 1; }
install -m 0755 target/release/otelbox "$bindir/otelbox.tmp"
mv -f "$bindir/otelbox.tmp" "$bindir/otelbox"
echo "install.sh: installed $bindir/otelbox ($("$bindir/otelbox" --version))"

# Make `./install.sh && otelbox up` work in this shell: with the default prefix, link into a
# directory already on PATH; with an explicit --prefix, only say what to do.
case ":$PATH:" in
  *":$bindir:"*) ;;
  *)
    if [ "$prefix" = "$default_prefix" ] && [ -w /usr/local/bin ] && case ":$PATH:" in *":/usr/local/bin:"*) true ;; *) false ;; esac; then
      ln -sf "$bindir/otelbox" /usr/local/bin/otelbox
      echo "install.sh: $bindir is not on PATH; linked /usr/local/bin/otelbox to it"
    else
      echo "install.sh: add $bindir to your PATH, e.g.: export PATH=\"$bindir:\$PATH\""
    fi
    ;;
esac
