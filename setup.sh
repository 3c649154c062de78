#!/usr/bin/env bash
# Set up sisessions in ./.venv on Debian or Ubuntu (Python 3.11+). Installs from Debian's
# packages only what is missing (as root, or through sudo), then the package itself.
#   bash setup.sh          the program and its voices
#   bash setup.sh --test   also what the tests use: PulseAudio, D-Bus and playerctl, cron, espeak-ng, sox, ffmpeg,
#                          Chromium and its driver (the companion page), and axe-core from the npm registry
#                          (the page's accessibility test), NSS's certutil and iproute2
#                          (the page over HTTPS in a network namespace)
set -euo pipefail
cd "$(dirname "$0")"
mode=${1:-}

debs=()
# Debian's python3 needs python3-venv to make a virtual environment with pip in it.
if [ ! -x .venv/bin/python ] && ! python3 -m venv .venv >/dev/null 2>&1; then
  rm -rf .venv
  debs+=(python3-venv)
fi
if [ "$mode" = "--test" ]; then
  for p in pulseaudio pulseaudio-utils dbus playerctl cron espeak-ng sox ffmpeg libasound2-dev gcc python3-dev chromium chromium-driver libnss3-tools iproute2; do
    dpkg -s "$p" >/dev/null 2>&1 || debs+=("$p")
  done
  command -v npm >/dev/null || debs+=(npm)  # Node's own packages bring npm too
fi
if [ ${#debs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
    echo "setup.sh: please install these Debian packages first: ${debs[*]}" >&2; exit 1; fi
  echo "Installing from Debian: ${debs[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${debs[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
pip_install() {  # quiet when it works; pip's own words (less this machine's index notes) when not
  local out
  out=$(.venv/bin/python -m pip install -q "$@" 2>&1) || {
    echo "$out" | grep -v '^WARNING: Location' >&2; echo "setup.sh: pip install $* failed" >&2; exit 1; }
}
pip_install --upgrade pip
extra=""
[ "$mode" = "--test" ] && extra="[test]"
pip_install -e ".$extra"
if [ "$mode" = "--test" ] && [ ! -s .venv/share/axe-core/axe.min.js ]; then
  # axe-core, which the page's accessibility test injects into Chromium: its one file, kept in
  # .venv (nothing fetched while the tests run)
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "axe-core@^4.14" >/dev/null && tar -xzf axe-core-*.tgz package/axe.min.js package/LICENSE) || {
    rm -rf "$tmp"; echo "setup.sh: npm pack axe-core failed" >&2; exit 1; }
  mkdir -p .venv/share/axe-core
  mv "$tmp/package/axe.min.js" "$tmp/package/LICENSE" .venv/share/axe-core/
  rm -rf "$tmp"
fi
.venv/bin/sisessions --version >/dev/null
echo "sisessions is ready: .venv/bin/sisessions --help"
