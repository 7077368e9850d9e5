"""The single-path sampler: chunk layout, ends, bootstrap rows and episode accounting."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from trpo_worker import codec
from trpo_worker.codec import End, HeadKind
from trpo_worker.environments import SimulatorError
from trpo_worker.policy import Policy
from trpo_worker.sampler import SinglePathSampler


def linear_policy(inputs: int, outputs: int, head: HeadKind, log_std: float = 0.0, scale: float = 0.0) -> Policy:
    rng = np.random.default_rng(5)
    theta = rng.normal(size=inputs * outputs + outputs) * scale
    return Policy([inputs, outputs], theta, head, [log_std] * (outputs if head == HeadKind.GAUSSIAN else 0))


def check_chunk_rules(data: object, sampler: SinglePathSampler) -> codec.Chunk:
    """Encodes the rows as a chunk and decodes them: the codec checks the document's rules."""
    from trpo_worker.sampler import ChunkData
    assert isinstance(data, ChunkData)
    chunk = codec.Chunk(worker_nonce=1, session=2, version=3, sequence=0, simulator_steps=data.rows, worker_id=0,
                        observations=data.observations, actions=data.actions, rewards=data.rewards,
                        ends=data.ends, bootstrap_rows=data.bootstrap_rows,
                        bootstrap_observations=data.bootstrap_observations,
                        episode_returns=data.episode_returns, episode_lengths=data.episode_lengths)
    decoded = codec.decode(codec.encode(chunk))
    assert isinstance(decoded, codec.Chunk)
    return decoded


def test_pendulum_time_limit_is_truncation_with_the_final_observation() -> None:
    sampler = SinglePathSampler("Pendulum-v1", 2, seed=1, stream=0)
    sampler.load(linear_policy(3, 1, HeadKind.GAUSSIAN, log_std=2.0))
    data = sampler.collect(450)  # 225 steps per copy: one 200-step episode each, then 25 steps
    assert data is not None
    chunk = check_chunk_rules(data, sampler)
    assert chunk.rows == 450
    ends = chunk.ends.tolist()
    assert [i for i, e in enumerate(ends) if e != End.CONTINUES] == [199, 224, 424, 449]
    assert all(e == End.TRUNCATED for e in ends if e)  # Pendulum never terminates
    assert chunk.episode_lengths.tolist() == [200, 200]
    copy0 = slice(0, 200)
    assert chunk.episode_returns[0] == pytest.approx(chunk.rewards[copy0].sum())
    # Within a trajectory each row's observation is the previous row's next observation; the
    # bootstrap row of the time limit carries the final observation, not the reset one.
    boot = dict(zip(chunk.bootstrap_rows.tolist(), chunk.bootstrap_observations))
    assert not np.allclose(boot[199], chunk.observations[200])
    # The chunk's last rows bootstrap from where the next chunk starts.
    np.testing.assert_array_equal(boot[224], sampler.observations[0])
    np.testing.assert_array_equal(boot[449], sampler.observations[1])
    # Actions travel unclipped (log-std 2: many fall outside the box [-2, 2]).
    assert np.abs(chunk.actions).max() > 2.0
    nxt = sampler.collect(4)
    assert nxt is not None
    np.testing.assert_array_equal(nxt.observations[0], boot[224])


def test_cartpole_terminations_and_uneven_split() -> None:
    sampler = SinglePathSampler("CartPole-v1", 3, seed=2, stream=7)
    sampler.load(linear_policy(4, 2, HeadKind.CATEGORICAL))  # uniform over both actions
    data = sampler.collect(301)  # 101 + 100 + 100 rows
    assert data is not None
    chunk = check_chunk_rules(data, sampler)
    ends = chunk.ends
    assert ends[100] != End.CONTINUES and ends[200] != End.CONTINUES and ends[300] != End.CONTINUES
    assert (ends == End.TERMINATED).sum() >= 3  # a random policy drops the pole within ~20 steps
    assert chunk.episode_lengths.size == (ends == End.TERMINATED).sum()
    assert set(np.unique(chunk.actions)) <= {0.0, 1.0}
    assert chunk.rewards.sum() == 301.0
    # Rows of one copy continue: the next observation of a continuing row is the next row's.
    for row in range(300):
        if ends[row] == End.CONTINUES:
            assert not np.array_equal(chunk.observations[row], chunk.observations[row + 1])


def test_fewer_rows_than_copies() -> None:
    sampler = SinglePathSampler("CartPole-v1", 8, seed=2, stream=0)
    sampler.load(linear_policy(4, 2, HeadKind.CATEGORICAL))
    data = sampler.collect(3)
    assert data is not None and data.rows == 3 and data.ends.tolist() == [2, 2, 2]


def test_same_seed_and_stream_repeat_and_streams_differ() -> None:
    def rows(stream: int) -> np.ndarray:
        s = SinglePathSampler("CartPole-v1", 2, seed=3, stream=stream)
        s.load(linear_policy(4, 2, HeadKind.CATEGORICAL, scale=1.0))
        data = s.collect(64)
        assert data is not None
        return np.concatenate([data.observations.ravel(), data.actions.ravel()])
    np.testing.assert_array_equal(rows(1), rows(1))
    assert not np.array_equal(rows(1), rows(2))


def test_interrupt_abandons_the_chunk() -> None:
    sampler = SinglePathSampler("CartPole-v1", 2, seed=2, stream=0)
    sampler.load(linear_policy(4, 2, HeadKind.CATEGORICAL))
    assert sampler.collect(200, interrupt=lambda: True, interrupt_every=4) is None


def test_policy_that_does_not_fit() -> None:
    sampler = SinglePathSampler("CartPole-v1", 1, seed=1, stream=0)
    with pytest.raises(SimulatorError):
        sampler.load(linear_policy(3, 2, HeadKind.CATEGORICAL))
    with pytest.raises(SimulatorError):
        sampler.load(linear_policy(4, 1, HeadKind.GAUSSIAN))
    with pytest.raises(SimulatorError):
        SinglePathSampler("NoSuchEnvironment-v9", 1, seed=1, stream=0)


def test_external_environment_observations_flattened_and_actions_clipped(monkeypatch: pytest.MonkeyPatch) -> None:
    """A py: environment with (2, 3) int64 observations and (2, 2) box actions: rows carry the
    observations row-major and the sampled (unclipped) actions; the environment got them clipped."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    sampler = SinglePathSampler("py:external_envs:make_grid", 2, seed=1, stream=0, arguments_json='{"offset": 9}')
    assert sampler.observation_size == 6 and sampler.action_width == 4
    sampler.load(linear_policy(6, 4, HeadKind.GAUSSIAN, log_std=1.5))
    data = sampler.collect(8)
    assert data is not None
    chunk = check_chunk_rules(data, sampler)
    # Copy 0: steps 0, 1, 2 (the time limit truncates), then a new episode's first step.
    assert chunk.ends.tolist()[:4] == [0, 0, 2, 2] and chunk.episode_lengths.tolist() == [3, 3]
    np.testing.assert_array_equal(chunk.observations[:4, :3], [[9, 0, 0], [9, 1, 0], [9, 2, 0], [9, 0, 1]])
    assert chunk.bootstrap_observations[0, :3].tolist() == [9, 3, 0]  # the final observation of the episode
    # Row t + 1's second observation row is action t's first row, clipped (×1000) by the sampler.
    clipped = np.clip(chunk.actions[:2, :2], -1.0, 1.0)
    np.testing.assert_allclose(chunk.observations[1:3, 3:5], np.round(clipped.astype(np.float32) * 1000), atol=0.5)
    assert np.abs(chunk.actions).max() > 1.0  # the chunk carries them unclipped


def test_discrete_observations_one_hot_and_discrete_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    sampler = SinglePathSampler("py:external_envs:Counter", 1, seed=1, stream=0)
    sampler.load(linear_policy(4, 3, HeadKind.CATEGORICAL))
    data = sampler.collect(6)
    assert data is not None
    assert data.observations.tolist() == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0],
                                          [0, 1, 0, 0]]
    np.testing.assert_array_equal(data.rewards, data.actions[:, 0])  # the reward is the action received


def test_observations_beyond_two_to_the_53_and_failing_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    with pytest.raises(SimulatorError, match=r"observation element 0 is 9007199254740993, beyond ±2\*\*53"):
        SinglePathSampler("py:external_envs:Grid", 1, seed=1, stream=0, arguments_json=f'{{"offset": {2**53 + 1}}}')
    sampler = SinglePathSampler("py:external_envs:Exploding", 1, seed=1, stream=0)
    sampler.load(linear_policy(6, 4, HeadKind.GAUSSIAN))
    with pytest.raises(SimulatorError, match="py:external_envs:Exploding: step raised RuntimeError: the simulator "
                                             "blew up"):
        sampler.collect(2)


def test_non_finite_observations_and_rewards_are_refused_per_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    sampler = SinglePathSampler("Pendulum-v1", 2, seed=1, stream=0)
    sampler.load(linear_policy(3, 1, HeadKind.GAUSSIAN))
    original = sampler._step

    def step(e: int, action: object) -> tuple[object, float, bool, bool, bool]:
        observation, reward, terminated, truncated, continues = original(e, action)
        return observation, (math.nan if e == 1 else reward), terminated, truncated, continues
    monkeypatch.setattr(sampler, "_step", step)
    with pytest.raises(SimulatorError, match=r"Pendulum-v1 returned the reward nan: rewards must be finite"):
        sampler.collect(4)
    sampler.observations[0, 1] = math.inf  # as if the environment had returned it
    monkeypatch.setattr(sampler, "_step", original)
    with pytest.raises(SimulatorError, match=r"the observation \[.*, inf, .*\]: observations must be finite"), \
            np.errstate(invalid="ignore"):  # the policy's products of ∞
        sampler.collect(4)
