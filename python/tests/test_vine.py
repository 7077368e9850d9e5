"""The vine sampler: chunk content, determinism, common random numbers, the worker's vine
conversation and, with a trpo binary, a vine run of the real learner with Python workers."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import gymnasium
import numpy as np
import pytest

from trpo_worker import codec
from trpo_worker.codec import HeadKind, VineSettings
from trpo_worker.environments import SimulatorError
from trpo_worker.policy import Policy
from trpo_worker.snapshot import Snapshots
from trpo_worker.vine import ENUMERATED_ACTIONS, IMPORTANCE_SAMPLED, VineData, VineSampler

import test_snapshot  # noqa: F401  (registers NoisyWalk-v0 and Opaque-v0)
from test_conversation import SESSION, FakeLearner, finish, learner, register  # noqa: F401  (fixture)
from test_end_to_end import TRPO_BIN, free_port, progress, stop_all

TESTS = Path(__file__).resolve().parent
GRID = "py:external_envs:make_snapshot_grid"  # tests/external_envs.py, snapshotable

SHAPES = {"CartPole-v1": (4, 2, HeadKind.CATEGORICAL), "Pendulum-v1": (3, 1, HeadKind.GAUSSIAN),
          "Hopper-v5": (11, 3, HeadKind.GAUSSIAN), "NoisyWalk-v0": (2, 1, HeadKind.GAUSSIAN),
          "Opaque-v0": (2, 1, HeadKind.GAUSSIAN), GRID: (6, 4, HeadKind.GAUSSIAN),
          "py:external_envs:make_grid": (6, 4, HeadKind.GAUSSIAN)}


def policy_for(env_id: str, log_std: float = 0.0, seed: int = 0) -> Policy:
    inputs, outputs, head = SHAPES[env_id]
    sizes = [inputs, 16, outputs]
    count = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    theta = np.random.default_rng(seed).normal(size=count) * 0.3
    return Policy(sizes, theta, head, [log_std] * (outputs if head == HeadKind.GAUSSIAN else 0))


def settings(trunk: int = 30, k: int = 4, length: int = 20, crn: bool = True, gamma: float = 0.99) -> VineSettings:
    return VineSettings(gamma=gamma, trunk_steps=trunk, rollout_states=10, actions_per_state=k,
                        rollout_length=length, common_random_numbers=crn)


def sampler_for(env_id: str, copies: int = 3, seed: int = 1, stream: int = 0, collection: int = 0,
                vine: VineSettings = settings(), log_std: float = 0.0) -> VineSampler:
    sampler = VineSampler(env_id, copies, seed, stream, vine)
    sampler.load(policy_for(env_id, log_std), collection)
    return sampler


def chunk_of(data: VineData) -> codec.VineChunk:
    return codec.VineChunk(worker_nonce=1, session=2, version=3, sequence=4, worker_id=5,
                           actions_per_state=data.actions_per_state, estimator=data.estimator, states=data.states,
                           actions=data.actions, branch_returns=data.branch_returns,
                           log_probabilities=data.log_probabilities, branch_lengths=data.branch_lengths,
                           branch_ends=data.branch_ends, cut_observations=data.cut_observations, trunks=data.trunks)


def collect(sampler: VineSampler, states: int) -> VineData:
    data = sampler.collect(states)
    assert data is not None
    return data


# ------------------------------------------------------------------ chunk content


@pytest.mark.parametrize("env_id,k,estimator", [("CartPole-v1", 2, ENUMERATED_ACTIONS),
                                                ("Pendulum-v1", 4, IMPORTANCE_SAMPLED),
                                                ("Hopper-v5", 4, IMPORTANCE_SAMPLED),
                                                ("NoisyWalk-v0", 4, IMPORTANCE_SAMPLED)])
def test_vine_chunk_round_trips_and_follows_the_rules(env_id: str, k: int, estimator: int) -> None:
    vine = settings(trunk=40, length=25)
    sampler = sampler_for(env_id, copies=3, vine=vine, log_std=1.0)
    data = collect(sampler, 50)
    n, obs_size = 50, SHAPES[env_id][0]
    width = 1 if SHAPES[env_id][2] == HeadKind.CATEGORICAL else SHAPES[env_id][1]
    decoded = codec.decode(codec.encode(chunk_of(data)))  # the decoder checks §3.9's rules
    assert isinstance(decoded, codec.VineChunk)
    for field in ("states", "actions", "branch_returns", "log_probabilities", "branch_lengths", "branch_ends",
                  "cut_observations"):
        np.testing.assert_array_equal(getattr(decoded, field), getattr(data, field))
    for field in ("observations", "actions", "rewards", "ends", "bootstrap_rows", "bootstrap_observations",
                  "episode_returns", "episode_lengths"):
        np.testing.assert_array_equal(getattr(decoded.trunks, field), getattr(data.trunks, field))
    assert (decoded.trunk_steps, decoded.branch_steps) == (data.trunk_steps, data.branch_steps)
    assert (decoded.actions_per_state, decoded.estimator) == (k, estimator)
    assert data.states.shape == (n, obs_size) and data.actions.shape == (n * k, width)
    assert data.branch_returns.shape == data.log_probabilities.shape == data.branch_lengths.shape == (n * k,)
    for array in (data.states, data.actions, data.branch_returns, data.log_probabilities, data.episode_returns,
                  data.cut_observations, data.trunks.observations, data.trunks.rewards):
        assert np.isfinite(array).all()
    if estimator == ENUMERATED_ACTIONS:
        np.testing.assert_array_equal(data.actions[:, 0], np.tile(np.arange(k), n))
    else:
        assert np.abs(data.actions).max() > 1.0  # unclipped draws (log-std 1)
    # log π_old of each branch's first action, recomputed from the states.
    outputs = np.repeat(sampler.policy.forward(data.states), k, axis=0)  # type: ignore[union-attr]
    np.testing.assert_allclose(data.log_probabilities,
                               sampler.policy.log_probabilities(outputs, data.actions),  # type: ignore[union-attr]
                               rtol=0, atol=1e-12)
    # Costs: E·L trunk steps; every branch takes 1 … T steps.
    assert data.trunk_steps == 3 * 40
    assert n * k <= data.branch_steps <= n * k * vine.rollout_length
    assert (data.episode_lengths >= 1).all() and data.episode_lengths.sum() <= data.trunk_steps
    # Branch ends: a branch shorter than T that was not cut by the time limit terminated.
    assert set(data.branch_ends.tolist()) <= {codec.End.TERMINATED, codec.End.TRUNCATED}
    assert data.cut_observations.shape == (int((data.branch_ends == codec.End.TRUNCATED).sum()), obs_size)
    assert (data.branch_lengths[data.branch_ends == codec.End.TERMINATED] <= vine.rollout_length).all()
    # The trunks: E·L rows copy after copy, each copy's last row ending its trajectory.
    assert data.trunks.rows == 3 * 40 and (data.trunks.ends[39::40] != 0).all()
    assert data.trunks.observations.shape == (120, obs_size) and data.trunks.actions.shape == (120, width)
    # The states are distinct trunk states (drawn without replacement).
    assert len({row.tobytes() for row in data.states}) == n
    if env_id == "CartPole-v1":  # reward 1 per step: 1 ≤ Q̂ ≤ Σ_{t<T} γᵗ
        assert (data.branch_returns >= 1).all()
        assert (data.branch_returns <= sum(0.99 ** t for t in range(vine.rollout_length)) + 1e-9).all()
        # Σ_{t<L} γᵗ over each branch's length: the lengths are the steps each took.
        np.testing.assert_allclose(data.branch_returns, (1 - 0.99 ** data.branch_lengths.astype(np.float64)) / 0.01,
                                   rtol=1e-12)


def test_every_trunk_state_and_the_limits() -> None:
    sampler = sampler_for("Pendulum-v1", copies=2, vine=settings(trunk=5, length=3))
    assert sampler.maximum_states == 10
    data = collect(sampler, 10)
    assert data.state_count == 10 and data.branch_steps == 10 * 4 * 3  # Pendulum never ends early here
    with pytest.raises(ValueError):
        sampler.collect(11)
    with pytest.raises(ValueError):
        sampler.collect(0)


def test_one_step_branches_are_the_first_reward() -> None:
    sampler = sampler_for("CartPole-v1", vine=settings(length=1))
    data = collect(sampler, 10)
    np.testing.assert_array_equal(data.branch_returns, np.ones(20))
    assert data.branch_steps == 20
    # T = 1 cuts every branch that did not terminate at once, at the observation after its step.
    assert (data.branch_lengths == 1).all()
    assert data.cut_observations.shape == (int((data.branch_ends == codec.End.TRUNCATED).sum()), 4)


def test_external_environment_with_arguments_through_the_adapter() -> None:
    """The vine's copies are made like single path's: a py: factory with the welcome's arguments,
    (2, 3) int64 observations flattened exactly, (2, 2) float32 actions clipped to the bounds (the
    environment asserts both) while the chunk carries the unclipped draws."""
    vine = settings(trunk=6, k=3, length=4)
    sampler = VineSampler(GRID, 2, 1, 0, vine, '{"offset": 42, "length": 3}')
    sampler.load(policy_for(GRID, log_std=1.0), 0)
    data = collect(sampler, 12)
    assert data.states.shape == (12, 6) and data.states.dtype == np.float64
    assert set(data.states[:, 0].tolist()) == {42.0}  # row 0 is (offset, step, episode)
    assert set(data.states[:, 1].tolist()) <= {0.0, 1.0, 2.0}  # length 3: steps 0 … 2 before the reset
    assert np.abs(data.actions).max() > 1.0
    assert data.episode_lengths.tolist() == [3] * 4  # two 6-step trunks: two episodes each
    assert codec.decode(codec.encode(chunk_of(data))) is not None
    with pytest.raises(SimulatorError, match=r"external_envs.make_grid\(\*\*\{\"legs\": 2\}\) raised TypeError"):
        VineSampler(GRID.replace("snapshot_grid", "grid"), 2, 1, 0, vine, '{"legs": 2}')


def test_non_finite_rewards_are_refused() -> None:
    sampler = VineSampler(GRID, 2, 1, 0, settings(trunk=6, k=2, length=4), '{"reward": 1e999}')
    sampler.load(policy_for(GRID), 0)
    # The trunks' rewards travel too (for the learner's value function) and are checked first.
    with pytest.raises(SimulatorError, match=rf"^{GRID} returned the reward inf: rewards must be finite$"):
        sampler.collect(4)


# ------------------------------------------------------------------ determinism and streams


def chunk_bytes(sampler: VineSampler, states: int = 20) -> bytes:
    return b"".join(codec.encode(chunk_of(collect(sampler, states))))


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1", "Hopper-v5"])
def test_same_seed_stream_and_collection_give_the_same_bytes(env_id: str) -> None:
    first = chunk_bytes(sampler_for(env_id, seed=4, stream=2, collection=7))
    assert chunk_bytes(sampler_for(env_id, seed=4, stream=2, collection=7)) == first
    assert chunk_bytes(sampler_for(env_id, seed=4, stream=3, collection=7)) != first
    assert chunk_bytes(sampler_for(env_id, seed=5, stream=2, collection=7)) != first
    assert chunk_bytes(sampler_for(env_id, seed=4, stream=2, collection=8)) != first


def test_collection_index_advances_by_two_to_the_32() -> None:
    """The k-th collection after a load has index collection + k·2³² (mod 2⁶⁴), whatever the
    sampler did before; an abandoned collection uses up its index too."""
    start = 2**64 - 3
    a = sampler_for("Pendulum-v1", collection=start)
    assert a.collect(20, interrupt=lambda: True, interrupt_every=1) is None
    second = chunk_bytes(a)
    b = sampler_for("Pendulum-v1", collection=(start + 2**32) % 2**64)
    chunk_bytes(b)  # a collection with another index in between, then a reload
    b.load(policy_for("Pendulum-v1"), (start + 2**32) % 2**64)
    assert chunk_bytes(b) == second


# ------------------------------------------------------------------ common random numbers


def branch_q(env_id: str, copies: int, crn: bool, same_first_action: bool, length: int = 60) -> np.ndarray:
    """Q̂ of K = 4 branches from one mid-episode state, with first actions chosen by the test."""
    sampler = sampler_for(env_id, copies=copies, vine=settings(length=length, crn=crn), log_std=-0.5)
    env = gymnasium.make(env_id)
    env.reset(seed=11)
    shape = env.action_space.shape
    assert shape is not None
    for action in np.random.default_rng(12).uniform(-0.5, 0.5, size=(15,) + shape):
        env.step(action.astype(env.action_space.dtype))
    snapshot = Snapshots(env).take()
    width = shape[0]
    actions = (np.full((4, width), 0.3) if same_first_action
               else np.linspace(-0.9, 0.9, 4 * width).reshape(4, width))
    result = sampler.branches(collection=3, snapshots=[snapshot], actions=actions)
    assert result is not None
    return result.returns


@pytest.mark.parametrize("env_id", ["Pendulum-v1", "Hopper-v5"])
def test_common_random_numbers(env_id: str) -> None:
    # With CRN the branches of a state differ only through their first action: the same first
    # action gives the same branch, bit for bit, even run on different copies side by side.
    q = branch_q(env_id, copies=3, crn=True, same_first_action=True)
    assert len({value.tobytes() for value in q}) == 1, q
    # Without CRN each branch has its own noise.
    q = branch_q(env_id, copies=3, crn=False, same_first_action=True)
    assert len({value.tobytes() for value in q}) == 4, q
    # Different first actions, different branches.
    q = branch_q(env_id, copies=3, crn=True, same_first_action=False)
    assert len({value.tobytes() for value in q}) == 4, q


@pytest.mark.parametrize("crn", [True, False])
def test_branches_do_not_depend_on_the_number_of_copies(crn: bool) -> None:
    """A branch's forward passes are row by row, so which branches share its batch (and on which
    copy it runs) changes nothing."""
    runs = [branch_q("Hopper-v5", copies=e, crn=crn, same_first_action=False) for e in (1, 2, 5)]
    for q in runs[1:]:
        np.testing.assert_array_equal(q, runs[0])


# ------------------------------------------------------------------ the worker


def start_worker_with_test_environments(endpoint: str) -> subprocess.Popen[str]:
    """A worker process that knows the test's own environments (registered by test_snapshot)."""
    code = (f"import sys; sys.path.insert(0, {str(TESTS)!r}); import test_snapshot; "
            f"from trpo_worker.cli import main; sys.exit(main(sys.argv[1:]))")
    return subprocess.Popen([sys.executable, "-c", code, "--connect", endpoint],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def vine_parameters(env_id: str, quota: int, chunk_steps: int, version: int = 1) -> codec.Parameters:
    p = policy_for(env_id)
    inputs, outputs, head = SHAPES[env_id]
    return codec.Parameters(
        session=SESSION, version=version, seed=1, environment_id=env_id, simulator_count=4, chunk_steps=chunk_steps,
        quota=quota, layer_sizes=p.layer_sizes, parameters=np.concatenate([np.concatenate([w.ravel(), b])
                                                                           for w, b in p.weights]),
        head=head, head_size=outputs, log_std=p.log_std, vine=settings(trunk=10, length=10), stream=3,
        collection=version)


@pytest.mark.parametrize("env_id", ["CartPole-v1", "NoisyWalk-v0"])
def test_worker_sends_vine_chunks_up_to_its_quota(learner: FakeLearner, env_id: str) -> None:
    worker = start_worker_with_test_environments(learner.endpoint)
    try:
        rid, hello = register(learner, environment=env_id)
        learner.send(rid, vine_parameters(env_id, quota=70, chunk_steps=30))
        states = []
        for sequence in range(3):
            _, chunk = learner.recv_kind(codec.VineChunk, timeout=30)
            assert isinstance(chunk, codec.VineChunk)
            assert (chunk.worker_id, chunk.worker_nonce, chunk.version, chunk.sequence) == (7, hello.nonce, 1, sequence)
            assert chunk.trunk_steps == 4 * 10  # four copies' trunks of 10 steps per collection
            states.append(chunk.states.shape[0])
        assert states == [30, 30, 10]
        # A larger quota (a top-up) resumes it; more than E·L = 40 states a collection cannot give.
        learner.send(rid, vine_parameters(env_id, quota=120, chunk_steps=45))
        _, chunk = learner.recv_kind(codec.VineChunk, timeout=30)
        assert isinstance(chunk, codec.VineChunk) and chunk.states.shape[0] == 40
        learner.send(rid, codec.Stop(session=SESSION, reason=codec.StopReason.FINISHED))
        code, out = finish(worker)
        assert code == 0, out
        assert "the vine" in out
    finally:
        if worker.poll() is None:
            worker.kill()


def test_worker_leaves_a_vine_run_it_cannot_snapshot(learner: FakeLearner) -> None:
    worker = start_worker_with_test_environments(learner.endpoint)
    try:
        rid, _ = register(learner, environment="Opaque-v0")
        learner.send(rid, vine_parameters("Opaque-v0", quota=10, chunk_steps=10))
        _, leave = learner.recv_kind(codec.Leave)
        assert isinstance(leave, codec.Leave) and leave.reason == codec.LeaveReason.INCOMPATIBLE
        assert leave.message.startswith("the vine needs an environment that can snapshot and restore its state; "
                                        "Opaque-v0 cannot (")
        assert "Opaque" in leave.message and "\n" not in leave.message
        code, out = finish(worker)
        assert code == 2, out
    finally:
        if worker.poll() is None:
            worker.kill()


def test_worker_samples_the_vine_of_an_external_environment(learner: FakeLearner) -> None:
    """The welcome's name and arguments make the probe copy (its spec says it can snapshot) and
    the vine's copies."""
    worker = start_worker_with_test_environments(learner.endpoint)
    try:
        rid, _ = register(learner, environment=GRID, arguments='{"offset": 42}', spec_required=True)
        _, spec = learner.recv_kind(codec.EnvironmentSpecMessage)
        assert isinstance(spec, codec.EnvironmentSpecMessage) and spec.spec.can_snapshot
        assert spec.spec.observation_shape == (2, 3) and spec.spec.action_size == 4
        learner.send(rid, vine_parameters(GRID, quota=20, chunk_steps=20))
        _, chunk = learner.recv_kind(codec.VineChunk, skip=(codec.Heartbeat, codec.RequestParameters))
        assert isinstance(chunk, codec.VineChunk) and chunk.states.shape == (20, 6)
        assert set(chunk.states[:, 0].tolist()) == {42.0}
        learner.send(rid, codec.Stop(session=SESSION, reason=codec.StopReason.FINISHED))
        code, out = finish(worker)
        assert code == 0, out
    finally:
        if worker.poll() is None:
            worker.kill()


def test_worker_leaves_a_vine_run_of_an_external_environment_it_cannot_snapshot(learner: FakeLearner) -> None:
    """The learner refuses such a spec in a vine run (§4.2); a learner that sent vine parameters
    anyway gets the worker's leave with the reason."""
    worker = start_worker_with_test_environments(learner.endpoint)
    try:
        rid, _ = register(learner, environment="py:external_envs:make_grid", spec_required=True)
        _, spec = learner.recv_kind(codec.EnvironmentSpecMessage)
        assert isinstance(spec, codec.EnvironmentSpecMessage) and not spec.spec.can_snapshot
        learner.send(rid, vine_parameters("py:external_envs:make_grid", quota=10, chunk_steps=10))
        _, leave = learner.recv_kind(codec.Leave, skip=(codec.Heartbeat, codec.RequestParameters))
        assert isinstance(leave, codec.Leave) and leave.reason == codec.LeaveReason.INCOMPATIBLE
        assert leave.message == ("the vine needs an environment that can snapshot and restore its state; "
                                 "py:external_envs:make_grid cannot (Grid defines no snapshot()/restore() and is "
                                 "not an environment this worker knows how to snapshot; implement "
                                 "snapshot()/restore(), see docs/environments.md)")
        code, out = finish(worker)
        assert code == 2 and leave.message in out, out
    finally:
        if worker.poll() is None:
            worker.kill()


def test_sampler_refuses_an_environment_without_snapshots() -> None:
    with pytest.raises(SimulatorError, match="Opaque-v0 cannot"):
        VineSampler("Opaque-v0", 2, 1, 0, settings())


# ------------------------------------------------------------------ the real learner

needs_trpo = pytest.mark.skipif(not TRPO_BIN.is_file(), reason=f"no trpo binary at {TRPO_BIN}")


def vine_run(tmp_path: Path, env_id: str, steps: int, name: str) -> list[dict[str, str]]:
    """A deterministic vine run of ``trpo learner`` with two Python workers (ids 0 and 1)."""
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    out = tmp_path / name
    learner = subprocess.Popen([str(TRPO_BIN), "learner", "--bind", endpoint, "--env", env_id, "--sampler", "vine",
                                "--steps", str(steps), "--seed", "3", "--workers", "2", "--deterministic",
                                "--no-tensorboard", "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    logs = [tmp_path / f"{name}-worker{i}.log" for i in range(2)]
    workers = [subprocess.Popen([sys.executable, "-m", "trpo_worker.cli", "--connect", endpoint, "--worker-id", str(i)],
                                stdout=open(logs[i], "w"), stderr=subprocess.STDOUT, text=True) for i in range(2)]
    try:
        output, _ = learner.communicate(timeout=600)
        assert learner.returncode == 0, output
        for w, log in zip(workers, logs):
            assert w.wait(timeout=30) == 0, log.read_text()
            assert "the vine" in log.read_text()
        return progress(out)
    finally:
        stop_all([learner, *workers])


@needs_trpo
def test_learner_trains_cartpole_with_python_vine_workers(tmp_path: Path) -> None:
    started = time.monotonic()
    rows = vine_run(tmp_path, "CartPole-v1", 90_000, "a")
    wall = time.monotonic() - started
    assert all(int(r["vine_states"]) > 0 and int(r["vine_branches"]) == 2 * int(r["vine_states"]) for r in rows)
    assert all(int(r["rejected_messages"]) == 0 and int(r["stale_samples_dropped"]) == 0 for r in rows)
    returns = [float(r["episode_return_mean"]) for r in rows]
    assert returns[-1] > 2 * returns[0], returns
    # Deterministic: a second run repeats every number but the timings.
    again = vine_run(tmp_path, "CartPole-v1", 90_000, "b")
    for column in ("timesteps", "episode_return_mean", "kl", "surrogate_after", "vine_branch_steps", "vine_q_spread"):
        assert [r[column] for r in again] == [r[column] for r in rows], column
    print(f"\nCartPole-v1 vine, 2 Python workers: returns {[round(r, 1) for r in returns]}, {wall:.1f} s wall")


@needs_trpo
def test_learner_takes_gaussian_vine_chunks_from_python_workers(tmp_path: Path) -> None:
    rows = vine_run(tmp_path, "Pendulum-v1", 1000, "pendulum")
    assert len(rows) == 1
    row = rows[0]
    assert int(row["vine_branches"]) == 4 * int(row["vine_states"]) and int(row["rejected_messages"]) == 0
    assert float(row["kl"]) > 0 and row["accepted"] == "1"
