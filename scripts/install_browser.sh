#!/usr/bin/env bash
# Debian's chromium + chromedriver for the dashboard's browser test (tests/dashboard/).
# Idempotent: does nothing when /usr/bin/chromium already exists. Needs root (CI runs as root)
# or sudo; only the Debian package registry is contacted. Selenium drives /usr/bin/chromedriver,
# so Selenium Manager never downloads a browser.
set -euo pipefail
if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
  echo "install_browser: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) already installed"
  exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install_browser: need root or sudo to apt-get install chromium" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium chromium-driver fonts-dejavu-core
/usr/bin/chromium --version
