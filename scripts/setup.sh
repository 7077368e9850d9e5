#!/usr/bin/env bash
# Sets up everything trpo needs on Debian 12 and builds it; safe to rerun:
#  - from Debian's packages: the C libraries it links (OpenBLAS, ZeroMQ, MuJoCo, EGL's headers),
#    what `trpo render` and `trpo plot --out FILE.png` run (ffmpeg, Mesa's EGL driver, librsvg),
#    python3-venv, and curl (the metrics tests scrape `trpo learner --metrics` with it);
#  - .venv: a Python environment with the trpo-worker package (python/, the workers of
#    gym:ID and py:MODULE:FACTORY environments, with ale-py and OpenCV for Atari games),
#    Gymnasium with its MuJoCo extra, the test tools and TensorBoard (to look at runs, and for
#    the tests);
#  - the release binary .build/release/trpo.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(libopenblas-dev libzmq3-dev libmujoco-dev libegl-dev
          ffmpeg libegl1 libegl-mesa0 libgl1-mesa-dri librsvg2-bin python3-venv curl)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    sudo=""
    [[ $(id -u) -ne 0 ]] && sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
fi
# pip's output only when it fails (setuptools warns about every editable install).
if ! log=$(.venv/bin/pip install -q --upgrade pip 2>&1 && .venv/bin/pip install -q -e './python[test,atari,render]' 'gymnasium[mujoco]' tensorboard 2>&1); then
    echo "$log" >&2
    echo "error: could not install the Python environment in .venv (above)" >&2
    exit 1
fi
swift build -c release
