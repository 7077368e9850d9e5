#!/usr/bin/env bash
# deploy/k8s: every manifest validated offline against the Kubernetes schema (strict: unknown
# fields fail), the kustomization rendered when kubectl is here, the learner's Prometheus
# annotations checked against its ports and arguments, and the containers' shell commands run
# on this machine (paths and the Service name mapped to a temporary directory and 127.0.0.1):
# a learner, scraped with curl on its metrics port, and two workers to the end of a short run.
#
#   k8s.sh TRPO_BINARY VALIDATOR
#
# VALIDATOR is kubernetes-validate (PyPI), from a virtual environment whose python has PyYAML.
# What this does not exercise: a cluster (scheduling, the Service's DNS name, the volume, the
# Secrets' mounts, the security context), and the image, which cannot be built here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
source "$here/common.sh"
trpo=$(realpath "$1")
validator=$2
python=$(dirname "$validator")/python
manifests=$repo/deploy/k8s

begin_test k8s

echo "== schema"
# The Kustomization is kubectl's own file, not a cluster resource: it has no schema.
objects=()
for f in "$manifests"/*.yaml; do [[ $(basename "$f") != kustomization.yaml ]] && objects+=("$f"); done
"$validator" --strict --quiet "${objects[@]}"
echo "ok: ${#objects[@]} files valid against the Kubernetes $("$validator" --help | grep -o 'Defaults to [0-9.]*' | cut -d' ' -f3) schema"
# The validator must reject what a cluster would, or it proves nothing.
sed 's/containerPort: 5555/containerPort: 5555\n          containerPorts: 5555/' "$manifests/learner.yaml" >"$work/broken.yaml"
if "$validator" --strict --quiet "$work/broken.yaml" >/dev/null 2>&1; then
    echo "FAIL: the validator accepted an unknown field" >&2; exit 1
fi
if command -v kubectl >/dev/null; then
    kubectl kustomize "$manifests" >"$work/rendered.yaml"
    "$validator" --strict --quiet "$work/rendered.yaml"
    echo "ok: kubectl kustomize renders $(grep -c '^kind:' "$work/rendered.yaml") objects, all valid"
else
    echo "note: kubectl is not installed; the kustomization was not rendered"
fi

echo "== Prometheus"
# The pod template's annotations name the port of the container's `metrics` port, which the
# learner's --metrics binds and the Service forwards.
"$python" - "$manifests/learner.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
deployment = next(d for d in docs if d["kind"] == "Deployment")
service = next(d for d in docs if d["kind"] == "Service")
template = deployment["spec"]["template"]
annotations = template["metadata"]["annotations"]
container = template["spec"]["containers"][0]
ports = {p["name"]: p["containerPort"] for p in container["ports"]}
port = ports["metrics"]
assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": "/metrics"}, annotations
assert f"--metrics tcp://0.0.0.0:{port}" in container["args"][0], "the learner does not serve its metrics on the annotated port"
assert any(p.get("targetPort") == "metrics" and p["port"] == port for p in service["spec"]["ports"]), service["spec"]["ports"]
print(f"ok: scrape annotations on the learner's pod point at its metrics port {port}, which it serves and its Service forwards")
PY

echo "== the containers' commands"
# container_script FILE: the shell script of FILE's container (command sh -c, args[0]).
container_script() {
    "$python" -c '
import sys, yaml
for doc in yaml.safe_load_all(open(sys.argv[1])):
    if doc and doc["kind"] == "Deployment":
        print(doc["spec"]["template"]["spec"]["containers"][0]["args"][0])' "$1"
}
port=$(free_port)
metrics_port=$(free_port)
while [[ $metrics_port == "$port" ]]; do metrics_port=$(free_port); done
# start NAME FILE VAR=VALUE...: runs the container's script here, as the container would with
# the given environment, its paths and the learner's Service name mapped to this machine.
start() {
    local name=$1 file=$2; shift 2
    local script
    script=$(container_script "$manifests/$file" | sed -e "s|/runs/|$work/runs/|g" -e "s|tcp://0.0.0.0:5555|tcp://127.0.0.1:$port|" \
        -e "s|tcp://0.0.0.0:9100|tcp://127.0.0.1:$metrics_port|" \
        -e "s|tcp://trpo-learner:5555|tcp://127.0.0.1:$port|" -e "s|^\( *\)\(exec \)\{0,1\}trpo |\1\2\"\$TRPO_BIN\" |")
    env TRPO_BIN="$trpo" TRPO_CURVE=off "$@" sh -c "$script" >"$work/$name.log" 2>&1 &
}
mkdir -p "$work/runs"
started=$SECONDS
start learner learner.yaml TRPO_ENV=CartPole-v1 TRPO_STEPS=4096 TRPO_LEARNER_ARGS="--batch-steps 1024"
learner=$!
# Scraped as Prometheus would, before any worker: it cannot finish the run without one.
metrics=""
for _ in $(seq 300); do metrics=$(curl -sf --max-time 5 "http://127.0.0.1:$metrics_port/metrics") && break; sleep 0.1; done
[[ -n $metrics ]] || { echo "FAIL: the learner served no metrics on port $metrics_port" >&2; exit 1; }
grep -qx 'trpo_workers_alive 0.0' <<<"$metrics" || { echo "FAIL: metrics without trpo_workers_alive 0:" >&2; echo "$metrics" >&2; exit 1; }
grep -q '^trpo_run_info{environment="CartPole-v1",' <<<"$metrics" || { echo "FAIL: metrics without trpo_run_info" >&2; exit 1; }
echo "ok: the learner serves $(grep -c '^# TYPE' <<<"$metrics") metrics at :$metrics_port/metrics"
start worker-a workers.yaml POD_NAME=trpo-worker-7d9f8-abcde TRPO_WORKER_ARGS=
start worker-b workers.yaml POD_NAME=trpo-worker-7d9f8-fghij TRPO_WORKER_ARGS=
# The learner idles after a finished run instead of exiting, so wait for its message.
for _ in $(seq 600); do grep -qs 'the run is finished' "$work/learner.log" && break; sleep 0.1; done
grep -q 'the run is finished' "$work/learner.log" || { echo "FAIL: the learner did not finish" >&2; exit 1; }
echo "run finished in $((SECONDS - started)) s"
expect_steps "$work/runs/run" 4096
workers=$(last_progress "$work/runs/run" workers_alive)
[[ $workers == 2 ]] || { echo "FAIL: $workers workers alive at the end, expected 2 (distinct ids from the pod names)" >&2; exit 1; }
kill_marked
# A restarted pod finds the checkpoint and resumes the finished run instead of starting over:
# with no worker running, only a resumed run can finish, and without a single iteration.
start learner-again learner.yaml TRPO_ENV=CartPole-v1 TRPO_STEPS=4096 TRPO_LEARNER_ARGS=
for _ in $(seq 300); do grep -qs 'the run is finished' "$work/learner-again.log" && break; sleep 0.1; done
grep -q 'the run is finished' "$work/learner-again.log" || { echo "FAIL: the restarted learner did not resume the finished run" >&2; exit 1; }
if grep -q '^iter ' "$work/learner-again.log"; then echo "FAIL: the restarted learner ran iterations" >&2; exit 1; fi
rows=$(($(wc -l <"$work/runs/run/progress.csv") - 1))
((rows == 4)) || { echo "FAIL: progress.csv has $rows rows after the restart, expected 4" >&2; exit 1; }
echo "ok: learner and worker commands ran the run; a restarted learner resumed it"
echo "PASS: Kubernetes manifests"
