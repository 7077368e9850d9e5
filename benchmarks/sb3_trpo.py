#!/usr/bin/env python3
"""sb3-contrib's TRPO with RL-Zoo's settings on one Gymnasium environment and seed (issue 12).

Trains ``sb3_contrib.TRPO`` for ``--steps`` environment steps, then plays ``--episodes``
deterministic episodes with the VecNormalize statistics frozen (as RL-Zoo's ``enjoy.py``
evaluates), and writes one JSON object (one line) to ``--out``: the environment, seed, steps,
wall and CPU seconds (``model.learn()`` alone; start-up plus training; evaluation; the whole
script), the evaluation returns
(mean, standard deviation over episodes, each episode), the torch threads used, the
hyperparameters and the library versions. The harness that runs it beside our ``trpo train``
is ``benchmarks/compare_sb3.sh``; it needs a venv outside the repository with
``sb3-contrib "gymnasium[mujoco]"`` (and optionally ``rl_zoo3``, for the check below).

    python benchmarks/sb3_trpo.py --env Hopper-v5 --seed 1 --steps 1000000 --out r.json

Hyperparameters (RL-Zoo's)
--------------------------
Transcribed from RL-Zoo's ``hyperparams/trpo.yml`` as shipped in the ``rl_zoo3`` 2.9.2 wheel
on PyPI (``rl_zoo3/hyperparams/trpo.yml``, the same file as ``hyperparams/trpo.yml`` of the
DLR-RM/rl-baselines3-zoo repository). Its MuJoCo entries are ``Hopper-v4`` and
``HalfCheetah-v4`` (``&mujoco-defaults``, which merges ``&pybullet-defaults``); the file has
no ``-v5`` entries (``rl_zoo3 train --env Hopper-v5`` would fall back to its ``default``
entry, i.e. untuned sb3 defaults without normalisation), so the ``-v4`` settings are applied
to the ``-v5`` environments, exactly as the issue's "RL-Zoo's settings" means them::

    Ant-v4: &mujoco-defaults  (<<: *pybullet-defaults)
      normalize: true          # VecNormalize(norm_obs=True, norm_reward=True, gamma=0.99)
      n_envs: 2
      n_timesteps: 1e6
      policy: MlpPolicy        # no policy_kwargs: pi/vf 64x64 tanh, ortho init, log_std_init 0
      batch_size: 128          # critic minibatch
      n_steps: 1024            # per env: 2 x 1024 = 2048 steps per update
      gamma: 0.99
      gae_lambda: 0.95
      sub_sampling_factor: 1
      cg_max_steps: 25
      cg_damping: 0.1
      n_critic_updates: 20
      learning_rate: 1e-3      # critic Adam
    HalfCheetah-v4: {<<: *mujoco-defaults, target_kl: 0.04}
    Hopper-v4:      {<<: *mujoco-defaults}           # target_kl: sb3-contrib's default 0.01

Everything else is sb3-contrib's default (line search x0.8 up to 10 times, advantage
normalisation on). As RL-Zoo's ExperimentManager does: ``set_random_seed(seed)``,
``make_vec_env(env_id, n_envs, seed=seed)`` (DummyVecEnv, Monitor), ``VecNormalize`` with
the algorithm's gamma, ``TRPO(..., seed=seed)``. Not copied from RL-Zoo: its EvalCallback
during training (5 episodes every 25,000 steps; our ``trpo train`` evaluates nothing during
the run either, so neither side's training time includes evaluations) and its model saving.
When ``rl_zoo3`` is importable the script re-reads the installed ``trpo.yml`` and records
whether it still says the above (``rlzoo_check`` in the JSON); a mismatch is printed.

Evaluation
----------
RL-Zoo's way: the training VecNormalize is saved and loaded onto a fresh one-env DummyVecEnv
with ``training=False, norm_reward=False``; actions are ``model.predict(obs,
deterministic=True)`` (the Gaussian's mean, clipped to the action box). Episode ``k`` starts
from ``reset(seed=eval_seed + k)`` (default 12345), the same initial states as
``trpo eval --deterministic`` (``trpo-gym-worker evaluate``) uses. Returns are the raw
environment rewards (Monitor); the standard deviation is over episodes (numpy, ddof 0, as
``trpo eval`` computes it).

Threads
-------
``torch.set_num_threads(1)`` by default (``--threads``): one core per run, and RL-Zoo's own
advice for CPU ("setting num threads to 1 makes things run faster on cpu"); on this 2-core
machine two torch threads also slow the critic's 128-row minibatches down (see
benchmarks/README.md). The number actually used is recorded as ``torch_threads``.
"""
import time

_PROCESS_START = time.perf_counter()  # before the heavy imports: total wall includes them

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

# The RL-Zoo settings above, as keyword arguments of sb3_contrib.TRPO. Keys: the RL-Zoo entry.
MUJOCO_DEFAULTS = {
    "n_steps": 1024,
    "batch_size": 128,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "sub_sampling_factor": 1,
    "cg_max_steps": 25,
    "cg_damping": 0.1,
    "n_critic_updates": 20,
    "learning_rate": 1e-3,
}
RLZOO = {
    "Hopper-v4": {"n_envs": 2, "normalize": True, "policy": "MlpPolicy", "n_timesteps": 1e6,
                  "model": dict(MUJOCO_DEFAULTS)},
    "HalfCheetah-v4": {"n_envs": 2, "normalize": True, "policy": "MlpPolicy", "n_timesteps": 1e6,
                       "model": dict(MUJOCO_DEFAULTS, target_kl=0.04)},
}
RLZOO_SOURCE = "rl_zoo3 2.9.2 (PyPI), rl_zoo3/hyperparams/trpo.yml"


def rlzoo_key(env_id):
    """The RL-Zoo entry for a Gymnasium id: Hopper-v5 -> Hopper-v4 (trpo.yml has no -v5)."""
    name, _, version = env_id.rpartition("-v")
    key = f"{name}-v4" if version else env_id
    if key not in RLZOO:
        raise SystemExit(f"sb3_trpo.py: no RL-Zoo TRPO settings transcribed for {env_id} "
                         f"(have: {', '.join(sorted(RLZOO))})")
    return key


def rlzoo_check(key):
    """Compare the transcription with the installed rl_zoo3's trpo.yml, if there is one."""
    try:
        import rl_zoo3
        import yaml
    except ImportError:
        return "rl_zoo3 not installed: transcription not re-checked"
    path = os.path.join(os.path.dirname(rl_zoo3.__file__), "hyperparams", "trpo.yml")
    with open(path) as f:
        entry = dict(yaml.safe_load(f)[key])
    want = RLZOO[key]
    expected = dict(want["model"], n_envs=want["n_envs"], normalize=want["normalize"],
                    policy=want["policy"], n_timesteps=want["n_timesteps"])
    # sb3-contrib's default target_kl (0.01) applies when the entry names none.
    entry.setdefault("target_kl", 0.01)
    expected.setdefault("target_kl", 0.01)
    diffs = {k: (entry.get(k), expected.get(k)) for k in set(entry) | set(expected)
             if entry.get(k) != expected.get(k)}
    version = getattr(rl_zoo3, "__version__", "?")
    if diffs:
        return f"MISMATCH with rl_zoo3 {version} {path} [{key}]: (yml, ours) {diffs}"
    return f"matches rl_zoo3 {version} hyperparams/trpo.yml [{key}]"


def versions():
    out = {"python": platform.python_version()}
    for module in ("torch", "stable_baselines3", "sb3_contrib", "gymnasium", "mujoco", "numpy", "rl_zoo3"):
        try:
            out[module] = __import__(module).__version__
        except Exception:  # noqa: BLE001 - absent or without a version
            out[module] = None
    return out


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", required=True, help="Gymnasium id, e.g. Hopper-v5")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--steps", type=int, default=1_000_000,
                        help="environment steps (sb3 rounds up to whole 2 x 1024-step rollouts)")
    parser.add_argument("--episodes", type=int, default=10, help="deterministic evaluation episodes")
    parser.add_argument("--eval-seed", type=int, default=12345,
                        help="episode k starts from reset(seed=EVAL_SEED + k) (trpo eval's default)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--save", help="directory for the model and vecnormalize.pkl (default: a temporary one)")
    parser.add_argument("--out", required=True, help="JSON file to write (one line)")
    args = parser.parse_args()

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)  # explicit: one core per run unless told otherwise

    import gymnasium  # noqa: F401 - registers the MuJoCo environments
    from sb3_contrib import TRPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.utils import set_random_seed
    from stable_baselines3.common.vec_env import VecNormalize

    key = rlzoo_key(args.env)
    settings = RLZOO[key]
    check = rlzoo_check(key)
    if check.startswith("MISMATCH"):
        print(f"sb3_trpo.py: warning: {check}", file=sys.stderr)

    # --- training, as RL-Zoo's ExperimentManager sets it up -------------------------------
    set_random_seed(args.seed)
    env = make_vec_env(args.env, n_envs=settings["n_envs"], seed=args.seed)
    if settings["normalize"]:
        env = VecNormalize(env, gamma=settings["model"]["gamma"])
    model = TRPO(settings["policy"], env, seed=args.seed, verbose=0, device="cpu", **settings["model"])
    load_start = loadavg()
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    model.learn(total_timesteps=args.steps)
    train_wall, train_cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    # As `trpo train` measured from outside: start-up (imports, envs, model) plus training.
    process_wall, process_cpu = time.perf_counter() - _PROCESS_START, cpu_seconds()
    load_end = loadavg()

    # --- deterministic evaluation with frozen statistics (RL-Zoo's enjoy.py) ---------------
    t1 = time.perf_counter()
    save_dir = args.save or tempfile.mkdtemp(prefix="sb3-trpo-")
    os.makedirs(save_dir, exist_ok=True)
    model.save(os.path.join(save_dir, "model.zip"))
    stats_path = os.path.join(save_dir, "vecnormalize.pkl")
    eval_env = make_vec_env(args.env, n_envs=1, seed=args.eval_seed)
    if settings["normalize"]:
        env.save(stats_path)
        eval_env = VecNormalize.load(stats_path, eval_env)
        eval_env.training = False
        eval_env.norm_reward = False
    returns, lengths = [], []
    for k in range(args.episodes):
        eval_env.seed(args.eval_seed + k)  # used by the next reset only
        obs = eval_env.reset()
        while True:
            action, _ = model.predict(obs, deterministic=True)
            obs, _, done, info = eval_env.step(action)
            if done[0]:
                returns.append(float(info[0]["episode"]["r"]))  # Monitor: raw rewards
                lengths.append(int(info[0]["episode"]["l"]))
                break
    eval_wall = time.perf_counter() - t1

    record = {
        "impl": "sb3",                                   # sb3-contrib's TRPO
        "env": args.env,
        "seed": args.seed,
        "steps": args.steps,
        "steps_done": int(model.num_timesteps),
        "wall_seconds": round(train_wall, 3),            # model.learn() only
        "learn_cpu_seconds": round(train_cpu, 3),
        "steps_per_second": round(model.num_timesteps / train_wall, 1),
        "process_wall_seconds": round(process_wall, 3),  # script start (imports) to the end of training
        "process_cpu_seconds": round(process_cpu, 3),    # user+sys, the same span
        "eval_wall_seconds": round(eval_wall, 3),
        "total_wall_seconds": round(time.perf_counter() - _PROCESS_START, 3),  # evaluation too
        "eval_episodes": args.episodes,
        "eval_seed": args.eval_seed,
        "eval_deterministic": True,
        "eval_return_mean": float(np.mean(returns)),
        "eval_return_std": float(np.std(returns)),
        "eval_returns": returns,
        "eval_lengths": lengths,
        "torch_threads": torch.get_num_threads(),
        "loadavg_start": load_start,
        "loadavg_end": load_end,
        "rlzoo_entry": key,
        "rlzoo_source": RLZOO_SOURCE,
        "rlzoo_check": check,
        "hyperparameters": dict(settings["model"], n_envs=settings["n_envs"], normalize=settings["normalize"],
                                policy=settings["policy"], target_kl=model.target_kl),
        "versions": versions(),
        "command": " ".join([sys.executable] + sys.argv),
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(record) + "\n")
    os.replace(tmp, args.out)  # a result file exists only when complete (the harness resumes on it)
    print(f"sb3-contrib TRPO {args.env} seed {args.seed}: {model.num_timesteps:,} steps in {train_wall:.1f} s "
          f"({model.num_timesteps / train_wall:,.0f} steps/s, {torch.get_num_threads()} torch thread(s)); "
          f"{args.episodes} deterministic episodes: return {record['eval_return_mean']:.2f} "
          f"± {record['eval_return_std']:.2f}")


if __name__ == "__main__":
    main()
