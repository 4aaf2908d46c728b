#!/usr/bin/env bash
# Builds otelbox (the web UI, then the release binary) and installs it into ~/.local/bin (or --prefix DIR/bin).
# Idempotent: running it again rebuilds what changed and replaces the binary. A cold build takes a
# few minutes on 2 cores. Usage: ./install.sh [--prefix DIR] [--service [--root DIR]] [--no-build]
#   --service   also install a systemd system service (as root): user `otelbox`, data in /var/lib/otelbox,
#               pipelines in /etc/otelbox/config.yaml and flags/tokens in /etc/otelbox/otelbox.env (both
#               kept if present), binary in /usr/local/bin
#   --root DIR  write the service's files under DIR instead of / (for packaging and tests)
#   --no-build  install the binary already in target/dist (or --binary FILE: that one)
set -euo pipefail
cd "$(dirname "$0")"

default_prefix="$HOME/.local"
prefix="$default_prefix"
service=no
root=""
build=yes
binary=target/dist/otelbox
while [ $# -gt 0 ]; do
  case "$1" in
    --service) service=yes; shift ;;
    --root) [ $# -ge 2 ] || { echo "install.sh: --root needs a directory" >&2; exit 2; }; root="$2"; shift 2 ;;
    --no-build) build=no; shift ;;
    --binary) [ $# -ge 2 ] || { echo "install.sh: --binary needs a file" >&2; exit 2; }; binary="$2"; build=no; shift 2 ;;
    --prefix) [ $# -ge 2 ] || { echo "install.sh: --prefix needs a directory" >&2; exit 2; }; prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

if [ "$service" = yes ] && [ "$prefix" = "$default_prefix" ]; then
  prefix="$root/usr/local"
fi

if [ "$build" = no ]; then
  [ -x "$binary" ] || { echo "install.sh: --no-build, but $binary does not exist" >&2; exit 1; }
elif ! command -v cargo >/dev/null 2>&1; then
  echo "install.sh: cargo is not installed; install Rust (https://rustup.rs), then run ./install.sh again" >&2
  exit 1
fi

if [ "$build" = yes ]; then
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

# The dist profile (release with one code unit and whole-program LTO): a few more minutes of
# building for a binary that stays under 25 MiB stripped.
echo "install.sh: building otelbox (release, a few minutes)…"
cargo build --profile dist --locked
fi

bindir="$prefix/bin"
mkdir -p "$bindir" || { echo "install.sh: cannot create $bindir; choose another --prefix" >&2; exit 1; }
# The installed binary is stripped (the release build carries debug info: ~130 MiB against ~20);
# its symbols go to $bindir/.debug/otelbox.debug, where gdb and perf look for them by the binary's
# debug link.
if command -v objcopy >/dev/null 2>&1 && objcopy --only-keep-debug "$binary" "$bindir/otelbox.debug.tmp" 2>/dev/null; then
  mkdir -p "$bindir/.debug"
  mv -f "$bindir/otelbox.debug.tmp" "$bindir/.debug/otelbox.debug"
  objcopy --strip-debug --strip-unneeded --add-gnu-debuglink="$bindir/.debug/otelbox.debug" "$binary" "$bindir/otelbox.tmp"
  chmod 0755 "$bindir/otelbox.tmp"
else
  rm -f "$bindir/otelbox.debug.tmp"
  install -m 0755 "$binary" "$bindir/otelbox.tmp"
fi
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

# The systemd service: a dedicated user, a private state directory, settings in /etc/otelbox.
if [ "$service" = yes ]; then
  if [ -z "$root" ] && [ "$(id -u)" != 0 ]; then
    echo "install.sh: --service installs a system service; run it as root (sudo ./install.sh --service)" >&2
    exit 1
  fi
  unit_dir="$root/etc/systemd/system"
  mkdir -p "$unit_dir" "$root/etc/otelbox"
  sed "s#@BINDIR@#${bindir#$root}#" assets/otelbox.service > "$unit_dir/otelbox.service"
  if [ ! -e "$root/etc/otelbox/config.yaml" ]; then
    "$bindir/otelbox" config default > "$root/etc/otelbox/config.yaml"
    chmod 0640 "$root/etc/otelbox/config.yaml"
  else
    "$bindir/otelbox" config validate "$root/etc/otelbox/config.yaml" >/dev/null ||
      echo "install.sh: warning: $root/etc/otelbox/config.yaml has errors (see above); the service will refuse to start" >&2
  fi
  if [ ! -e "$root/etc/otelbox/otelbox.env" ]; then
    install -m 0640 assets/otelbox.env "$root/etc/otelbox/otelbox.env"
  else
    echo "install.sh: kept the existing $root/etc/otelbox/otelbox.env"
  fi
  echo "install.sh: installed $unit_dir/otelbox.service"
  if [ -z "$root" ]; then
    id otelbox >/dev/null 2>&1 || useradd --system --home-dir /var/lib/otelbox --shell /usr/sbin/nologin otelbox
    chgrp otelbox /etc/otelbox/otelbox.env /etc/otelbox/config.yaml
    if [ -d /run/systemd/system ]; then
      systemctl daemon-reload
      systemctl enable otelbox >/dev/null
      systemctl restart otelbox
      echo "install.sh: otelbox.service is enabled and (re)started; status: systemctl status otelbox; logs: journalctl -u otelbox"
    else
      echo "install.sh: systemd is not running here; start it later with: systemctl enable --now otelbox"
    fi
  fi
fi
