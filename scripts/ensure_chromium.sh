#!/usr/bin/env bash
# Make sure Debian's chromium is on the machine (for tests/handout): installs it with apt when missing.
# Idempotent and quick when chromium is there; apt-get update runs only when an install is needed.
# Usage: scripts/ensure_chromium.sh        (prints the chromium path; exits 1 if it cannot be had)
set -euo pipefail
if ! command -v chromium > /dev/null 2>&1; then
  if ! command -v apt-get > /dev/null 2>&1; then
    echo "chromium is missing and there is no apt-get: install Chromium by hand" >&2; exit 1
  fi
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo > /dev/null 2>&1 || { echo "chromium is missing: run as root or install it (apt-get install chromium)" >&2; exit 1; }
    sudo="sudo -n"
  fi
  echo "installing Debian's chromium (once; takes a minute or two)…" >&2
  export DEBIAN_FRONTEND=noninteractive
  # A lock on the apt/dpkg databases (another install running) is waited for, not treated as a failure.
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
fi
command -v chromium
