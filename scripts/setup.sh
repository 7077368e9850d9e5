#!/usr/bin/env bash
# Installs the C libraries trpo links (Debian packages) and builds the release binary
# .build/release/trpo. Safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(libopenblas-dev libzmq3-dev libmujoco-dev)
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
swift build -c release
