#!/usr/bin/env bash
# Creates a throw-away virtualenv OUTSIDE the repository with the Python peer
# (sb3-contrib's TRPO) and its dependencies, installed from PyPI.
#
#   SB3_VENV      venv location            (default /tmp/trpo-sb3-venv)
#   PYTHON        interpreter for the venv (default python3)
#   SB3_VERSION   pin for stable-baselines3 / sb3-contrib (default: newest)
#   SB3_MUJOCO=1  also gymnasium[mujoco] and rl_zoo3 (benchmarks/compare_sb3.sh needs them)
#
# Torch: PyPI's default Linux torch wheel depends on ~3 GB of nvidia-* CUDA
# wheels. We want a CPU-only torch. PyPI itself publishes no "+cpu" build, so:
#   1. if pip's configured --find-links directories (pip config) already hold a
#      torch-*+cpu wheel, install that one (no CUDA dependencies);
#   2. otherwise install PyPI's default torch (works on CPU, just large).
# Idempotent: if everything imports already, nothing is installed.
set -euo pipefail

VENV="${SB3_VENV:-/tmp/trpo-sb3-venv}"
PY="${PYTHON:-python3}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

case "$(realpath -m "$VENV")/" in
  "$REPO"/*) echo "setup.sh: refusing to create the venv inside the repository ($VENV)" >&2; exit 2 ;;
esac

print_versions() {
  "$VENV/bin/python" - <<'PY'
import sys, platform
import torch, gymnasium, stable_baselines3, sb3_contrib, numpy
print(f"python            {platform.python_version()}")
print(f"torch             {torch.__version__} (cuda build: {torch.version.cuda})")
print(f"stable-baselines3 {stable_baselines3.__version__}")
print(f"sb3-contrib       {sb3_contrib.__version__}")
print(f"gymnasium         {gymnasium.__version__}")
print(f"numpy             {numpy.__version__}")
PY
}

imports='import torch, gymnasium, stable_baselines3, sb3_contrib'
extras=()
if [ "${SB3_MUJOCO:-0}" = 1 ]; then
  imports="$imports, mujoco, rl_zoo3"
  extras=("gymnasium[mujoco]" rl_zoo3)
fi

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "$imports" 2>/dev/null; then
  echo "setup.sh: venv $VENV already complete, skipping install"
  print_versions
  exit 0
fi

echo "setup.sh: creating venv $VENV"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
"${PIP[@]}" install --quiet --upgrade pip setuptools wheel

# Look for a local CPU-only torch wheel in pip's find-links directories.
cpu_wheel=""
pyver="$("$VENV/bin/python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
links="$("${PIP[@]}" config get global.find-links 2>/dev/null || true) ${PIP_FIND_LINKS:-}"
for d in $links; do
  d="${d#file://}"
  [ -d "$d" ] || continue
  w="$(ls -1 "$d"/torch-*+cpu-"$pyver"-*x86_64*.whl 2>/dev/null | sort -V | tail -n1 || true)"
  [ -n "$w" ] && cpu_wheel="$w"
done

if [ -n "$cpu_wheel" ]; then
  echo "setup.sh: installing CPU-only torch from $cpu_wheel"
  "${PIP[@]}" install --quiet "$cpu_wheel"
else
  echo "setup.sh: no +cpu torch wheel found locally; installing PyPI's default torch (pulls CUDA wheels, large)"
  "${PIP[@]}" install --quiet torch
fi

if [ -n "${SB3_VERSION:-}" ]; then
  sb3="stable-baselines3==$SB3_VERSION"; contrib="sb3-contrib==$SB3_VERSION"
else
  sb3="stable-baselines3"; contrib="sb3-contrib"
fi
# torch is already satisfied, so pip keeps the CPU build.
"${PIP[@]}" install --quiet "$sb3" "$contrib" gymnasium "${extras[@]}"
print_versions
