#!/usr/bin/env bash
# Runs every test: the Swift suites (`swift test`, whose protocol conformance test drives a
# Python worker written from docs/protocol.md), then the Python ones (the trpo-worker package
# against a real learner, and TensorBoard's own reader on a real run). Needs what
# scripts/setup.sh installs; TRPO_PYTHON overrides the .venv interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${TRPO_PYTHON:-.venv/bin/python}
if ! "$python" -c 'import zmq, numpy, gymnasium, pytest, tensorboard, trpo_worker' 2>/dev/null; then
    echo "error: $python lacks the test environment (pyzmq, numpy, gymnasium, pytest, tensorboard, trpo-worker): run scripts/setup.sh first, or set TRPO_PYTHON" >&2
    exit 2
fi
export TRPO_CONFORMANCE_PYTHON=$python
swift test
swift build -c release
TRPO_BIN=$PWD/.build/release/trpo "$python" -m pytest -q python/tests Tests/TensorBoardReader
