"""What scripts/gymnasium_fixtures.py and scripts/mujoco_fixtures.py share: the record of a
step, the thinning of long segments, and writing one fixture file per environment to
Tests/SimulatorsTests/Fixtures/<id>.json (floats written with repr, so they round-trip
exactly)."""

import json
import pathlib

import gymnasium as gym
import numpy as np

OUT_DIR = pathlib.Path(__file__).resolve().parent.parent / "Tests" / "SimulatorsTests" / "Fixtures"

# Segments longer than SPARSE_ABOVE steps keep records only for the first `full_record`
# steps, every SPARSE_EVERY-th step and the last TAIL_RECORD steps.
SPARSE_ABOVE = 150
SPARSE_EVERY = 25
TAIL_RECORD = 5


def floats(values):
    return [float(v) for v in values]


def step_record(t, obs, reward, terminated, truncated, state):
    """One step as Gymnasium returned it, with the environment's state after it."""
    return {
        "t": t,
        "obs": floats(obs),
        "reward": float(reward),
        "terminated": bool(terminated),
        "truncated": bool(truncated),
        "state": floats(state),
    }


def segment(name, state, actions, records, full_record):
    """A segment's document, its records thinned when it is long (the actions stay complete)."""
    n = len(records)
    if n > SPARSE_ABOVE:
        records = [r for r in records
                   if r["t"] < full_record or r["t"] % SPARSE_EVERY == 0 or r["t"] >= n - TAIL_RECORD]
    return {"name": name, "state": floats(state), "actions": actions, "steps": records}


def summary(segment):
    last = segment["steps"][-1]
    return (f'{segment["name"]}: {len(segment["actions"])} steps, '
            f'terminated={last["terminated"]} truncated={last["truncated"]}')


def write_fixtures(makers, versions):
    """Writes the fixture of every `make() -> (env_id, segments)` in `makers`, each naming the
    library `versions` (name → version) it was recorded with, and prints what it wrote."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for make in makers:
        env_id, segments = make()
        spec = gym.spec(env_id)
        document = {
            **versions,
            "numpy": np.__version__,
            "env": env_id,
            "max_episode_steps": spec.max_episode_steps,
            "segments": segments,
        }
        path = OUT_DIR / f"{env_id}.json"
        path.write_text(json.dumps(document, separators=(",", ":")) + "\n")
        recorded = sum(len(s["steps"]) for s in segments)
        stepped = sum(len(s["actions"]) for s in segments)
        print(f"{path.name}: {len(segments)} segments, {stepped} steps, {recorded} recorded, "
              f"{path.stat().st_size // 1024} KiB")
        for s in segments:
            print("   ", summary(s))
