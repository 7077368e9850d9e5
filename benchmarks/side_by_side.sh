#!/usr/bin/env bash
# Our TRPO update, value fit and CartPole sampling beside sb3-contrib's on this machine, same
# batch sizes, network (11 inputs, 3 Gaussian actions, 64x64 tanh) and CG settings (10
# iterations, damping 0.1), one thread each. Installs sb3-contrib into a throw-away venv
# outside the repository (benchmarks/sb3_contrib/setup.sh) and prints both sets of figures.
#   benchmarks/side_by_side.sh            # about 5-10 minutes on an idle 2-core machine
set -euo pipefail
cd "$(dirname "$0")/.."
bash benchmarks/sb3_contrib/setup.sh > /dev/null
python=${SB3_VENV:-/tmp/trpo-sb3-venv}/bin/python
[[ -x .build/release/trpo ]] || swift build -c release > /dev/null
out=$(mktemp -d)
echo "== sb3-contrib TRPO.train() on 32,768 and 50,000 samples, 1 thread, CG 10, Fisher on all samples =="
"$python" benchmarks/sb3_contrib/trpo_update_bench.py --samples 32768 50000 --threads 1 --cg-steps 10 \
    --sub-sampling 1 --cg-mode full --repeats 3 --no-crosscheck --json "$out/sb3.json"
echo
echo "== trpo (this project), same shapes and CG settings =="
.build/release/trpo bench --only policy --repeats 5                          # default: Float products
.build/release/trpo bench --only value --repeats 5
TRPO_BENCH_PRECISION=double .build/release/trpo bench --only policy --repeats 5  # all-Double, same binary
TRPO_BENCH_PRECISION=double .build/release/trpo bench --only value --repeats 5
echo
echo "== CartPole-v1 sampling: Gymnasium's bare env, sb3-contrib's rollout, trpo's sampler =="
"$python" benchmarks/sb3_contrib/cartpole_bench.py --parts env rollout --json "$out/cartpole.json" || true
.build/release/trpo bench --only sampling --repeats 3
rm -rf "$out"
