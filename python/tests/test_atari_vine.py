"""The vine on an Atari game's frames: a convolutional policy (Baselines' cnn_small, random
parameters) on ``gym:ALE/Pong-v5`` with sticky actions, frames kept as uint8 end to end and sent
as a pixel vine chunk (docs/protocol.md §3.9 flag bit 0), and common random numbers across the
emulator copies."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ale_py")
pytest.importorskip("cv2")

from trpo_worker import codec  # noqa: E402
from trpo_worker.codec import HeadKind, VineSettings  # noqa: E402
from trpo_worker.convolution import CNN_SMALL  # noqa: E402
from trpo_worker.environments import make_environment  # noqa: E402
from trpo_worker.policy import ConvolutionalPolicy  # noqa: E402
from trpo_worker.snapshot import Snapshots  # noqa: E402
from trpo_worker.vine import ENUMERATED_ACTIONS, VineData, VineSampler  # noqa: E402

PONG = "gym:ALE/Pong-v5"
FRAME = 84 * 84 * 4  # 28,224 bytes


def cnn_small(seed: int = 0, scale: float = 0.05) -> ConvolutionalPolicy:
    """cnn_small (8 × 8×8 stride 4, 16 × 4×4 stride 2, 128 hidden) on 84×84×4 frames, 6 actions,
    float32 as the worker samples."""
    theta = np.random.default_rng(seed).normal(size=CNN_SMALL.parameter_count(6)) * scale
    return ConvolutionalPolicy(CNN_SMALL, theta, HeadKind.CATEGORICAL, 6)


def pong_vine(copies: int = 2, trunk: int = 60, k: int = 6, length: int = 10, crn: bool = True,
              seed: int = 1) -> VineSampler:
    sampler = VineSampler(PONG, copies, seed=seed, stream=0, settings=VineSettings(
        gamma=0.99, trunk_steps=trunk, rollout_states=6, actions_per_state=k, rollout_length=length,
        common_random_numbers=crn))
    sampler.load(cnn_small(), 0)
    return sampler


def chunk_of(data: VineData) -> codec.VineChunk:
    return codec.VineChunk(worker_nonce=1, session=2, version=3, sequence=4, worker_id=5,
                           actions_per_state=data.actions_per_state, estimator=data.estimator, states=data.states,
                           actions=data.actions, branch_returns=data.branch_returns,
                           log_probabilities=data.log_probabilities, branch_lengths=data.branch_lengths,
                           branch_ends=data.branch_ends, cut_observations=data.cut_observations, trunks=data.trunks)


@pytest.mark.slow
def test_a_pong_vine_collection_is_a_pixel_vine_chunk() -> None:
    """2 copies, trunks of 60 steps, N = 6 states, K = 6 (all of Pong's actions), T = 10."""
    sampler = pong_vine()
    try:
        assert sampler.pixels and sampler.observations.dtype == np.uint8
        assert (sampler.actions_per_state, sampler.estimator) == (6, ENUMERATED_ACTIONS)
        data = sampler.collect(6)
        assert data is not None and data.pixels
        n, k, e, length = 6, 6, 2, 60
        # Frames end to end, never widened.
        for array in (data.states, data.cut_observations, data.trunks.observations,
                      data.trunks.bootstrap_observations):
            assert array.dtype == np.uint8 and array.shape[1:] == (FRAME,)
        assert data.states.shape == (n, FRAME) and data.trunks.observations.shape == (e * length, FRAME)
        # The states are trunk states: each one's bytes appear among the trunk observations.
        trunk_rows = {row.tobytes() for row in data.trunks.observations}
        assert all(state.tobytes() in trunk_rows for state in data.states)
        assert len({state.tobytes() for state in data.states}) == n
        # Every state's branches take the actions 0 … K − 1, log π_old from the network in float64.
        np.testing.assert_array_equal(data.actions[:, 0], np.tile(np.arange(k), n))
        exact = cnn_small().in_double_precision()
        assert exact.dtype == np.float64
        outputs = np.repeat(exact.forward(data.states), k, axis=0)
        np.testing.assert_array_equal(data.log_probabilities, exact.log_probabilities(outputs, data.actions))
        assert ((data.branch_lengths >= 1) & (data.branch_lengths <= 10)).all()
        cut = int((data.branch_ends == codec.End.TRUNCATED).sum())
        assert data.cut_observations.shape == (cut, FRAME)
        assert data.trunk_steps == e * length and data.branch_steps == int(data.branch_lengths.sum())
        # The chunk: flag bit 0, frames 1, 7, 8 and 13 one byte per value, decoded back equal.
        chunk = chunk_of(data)
        frames = codec.encode(chunk)
        assert frames[0][7] == codec.PIXELS
        boot = len(data.trunks.bootstrap_rows)
        assert boot >= e  # each trunk's last row is cut (Pong's episodes outlast 60 steps)
        assert [len(frames[i]) for i in (1, 7, 8, 13)] == [n * FRAME, cut * FRAME, e * length * FRAME, boot * FRAME]
        assert [len(frames[i]) for i in (2, 3, 4, 5, 6)] == [8 * n * k, 8 * n * k, 8 * n * k, 4 * n * k, n * k]
        decoded = codec.decode(frames)
        assert isinstance(decoded, codec.VineChunk) and decoded.pixels
        for name in ("states", "actions", "branch_returns", "log_probabilities", "branch_lengths", "branch_ends",
                     "cut_observations"):
            assert getattr(decoded, name).dtype == getattr(chunk, name).dtype
            np.testing.assert_array_equal(getattr(decoded, name), getattr(chunk, name))
        for name in ("observations", "actions", "rewards", "ends", "bootstrap_rows", "bootstrap_observations",
                     "episode_returns", "episode_lengths"):
            np.testing.assert_array_equal(getattr(decoded.trunks, name), getattr(chunk.trunks, name))
        assert codec.encode(decoded) == frames
    finally:
        sampler.close()


def branch_frames(crn: bool, first: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Six branches of T = 10 from one mid-rally state of Pong (snapshotted on a copy of its own),
    with the first actions ``first``, run on 2 copies side by side: their returns and cut
    observations (all cut: Pong does not end in 10 steps)."""
    sampler = pong_vine(crn=crn)
    env = make_environment(PONG)
    try:
        snapshots = Snapshots(env)  # before the first step, so that it follows the sticky actions
        env.reset(seed=11)
        for action in np.random.default_rng(12).integers(0, 6, 70):
            env.step(int(action))
        result = sampler.branches(collection=3, snapshots=[snapshots.take()],
                                  actions=np.asarray(first, dtype=np.float64).reshape(6, 1))
        assert result is not None
        assert (result.lengths == 10).all() and result.cut_observations.shape == (6, FRAME)
        assert result.cut_observations.dtype == np.uint8
        return result.returns, result.cut_observations
    finally:
        env.close()
        sampler.close()


@pytest.mark.slow
def test_common_random_numbers_on_frames() -> None:
    """With CRN a state's branches differ only through their first action: two branches with
    the same first action — run on different copies at the same time, so the other copy's
    sticky action and the batch differ — end on the same frame with the same return; the
    policy's noise, ALE's sticky-action draws and the per-frame network evaluations agree."""
    right, left = 2, 3
    returns, frames = branch_frames(crn=True, first=[right, right, left, left, right, left])
    for group in ([0, 1, 4], [2, 3, 5]):
        assert len({frames[b].tobytes() for b in group}) == 1
        assert len({returns[b] for b in group}) == 1
    assert frames[0].tobytes() != frames[2].tobytes()  # the first action shows
    # Without CRN each branch has its own policy noise and sticky-action draws.
    _, frames = branch_frames(crn=False, first=[right] * 6)
    assert len({row.tobytes() for row in frames}) > 1


def test_same_seed_same_pixel_vine_chunk() -> None:
    def chunk_bytes() -> bytes:
        sampler = pong_vine(trunk=15, k=2, length=4)
        try:
            data = sampler.collect(3)
            assert data is not None and data.pixels and data.estimator == 1  # K = 2 of 6 actions: drawn
            return b"".join(codec.encode(chunk_of(data)))
        finally:
            sampler.close()
    assert chunk_bytes() == chunk_bytes()
