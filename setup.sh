#!/usr/bin/env bash
# Set up sisessions in ./.venv on Debian or Ubuntu (Python 3.11+). Installs from Debian's
# packages only what is missing (as root, or through sudo), then the package itself.
#   bash setup.sh          the program and its voices
#   bash setup.sh --test   also what the tests use: PulseAudio, cron, espeak-ng, sox, ffmpeg
set -euo pipefail
cd "$(dirname "$0")"
mode=${1:-}

debs=()
python3 -c 'import venv, ensurepip' 2>/dev/null || debs+=(python3-venv)
if [ "$mode" = "--test" ]; then
  for p in pulseaudio pulseaudio-utils cron espeak-ng sox ffmpeg libasound2-dev gcc python3-dev; do
    dpkg -s "$p" >/dev/null 2>&1 || debs+=("$p")
  done
fi
if [ ${#debs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
    echo "setup.sh: please install these Debian packages first: ${debs[*]}" >&2; exit 1; fi
  echo "Installing from Debian: ${debs[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${debs[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
extra=""
[ "$mode" = "--test" ] && extra="[test]"
.venv/bin/python -m pip install -q -e ".$extra" 2>&1 | grep -v '^WARNING: Location' || true
.venv/bin/sisessions --version >/dev/null
echo "sisessions is ready: .venv/bin/sisessions --help"
