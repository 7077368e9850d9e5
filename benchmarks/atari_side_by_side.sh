#!/usr/bin/env bash
# trpo's TRPO policy step on an Atari-sized batch beside sb3-contrib's CnnPolicy, in one run, one
# thread each: N random 84x84x4 uint8 frames (default 10,000), 6 actions, Baselines' cnn_small
# policy network on both sides (170,910 parameters), CG 10, damping 0.1. trpo: float32 products,
# Fisher product on 10 % (the paper) and on 100 %; sb3-contrib: sub_sampling_factor 1 (all on
# the whole batch, like-for-like with trpo's 100 %) and 10 (sb3 subsamples the whole update).
# Also each process's peak RSS. Installs sb3-contrib in a throw-away venv outside the
# repository (benchmarks/sb3_contrib/setup.sh).
#   benchmarks/atari_side_by_side.sh                 # ~20 minutes on an idle 2-core machine
#   FRAMES=1000 REPEATS=1 benchmarks/atari_side_by_side.sh   # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
frames=${FRAMES:-10000}
repeats=${REPEATS:-3}
out=${OUT:-benchmarks/results/atari}
bash benchmarks/sb3_contrib/setup.sh > /dev/null
python=${SB3_VENV:-/tmp/trpo-sb3-venv}/bin/python
[[ -x .build/release/trpo ]] || swift build -c release > /dev/null
mkdir -p "$out"
scale=$(python3 -c "print($frames / 10000)")
echo "== trpo bench --only atari: $frames frames, 1 thread, $repeats repeats after a warm-up =="
.build/release/trpo bench --only atari --scale "$scale" --repeats "$repeats" --json "$out/trpo.json"
echo
echo "== sb3-contrib TRPO CnnPolicy (cnn_small extractor), same frames count, 1 thread =="
"$python" benchmarks/sb3_contrib/cnn_update_bench.py --frames "$frames" --repeats "$repeats" --json "$out/sb3.json" 2>/dev/null
echo
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
trpo = json.load(open(f"{out}/trpo.json"))
sb3 = json.load(open(f"{out}/sb3.json"))
steps = [r for r in trpo if r["name"] == "conv_policy_step"]
ours = {("10 %" if "Fisher on 10 %" in r["setting"] else "100 %"): r["value"] for r in steps}
theirs = {r["sub_sampling_factor"]: r["median_s"] for r in sb3["results"]}
rss = next(r["value"] for r in trpo if r["name"] == "peak_rss")
lines = ["| policy step, cnn_small, 1 thread | trpo (s) | sb3-contrib (s) | sb3 / trpo |", "|---|---|---|---|",
         f"| Fisher on the whole batch (sb3 sub_sampling_factor 1) | {ours['100 %']:.2f} | {theirs[1]:.2f} | {theirs[1] / ours['100 %']:.1f}× |",
         f"| trpo: Fisher on 10 % (gradient on all); sb3: factor 10 (all on 10 %) | {ours['10 %']:.2f} | {theirs[10]:.2f} | {theirs[10] / ours['10 %']:.1f}× |",
         f"| peak RSS of the process | {rss:.0f} MB | {sb3['peak_rss_mb']:.0f} MB | |"]
text = "\n".join(lines)
print(text)
open(f"{out}/table.md", "w").write(text + "\n")
PY
