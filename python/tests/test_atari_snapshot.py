"""Snapshots of Atari games (snapshot.py): a copy restored from another copy's snapshot continues
bit for bit as the original does, v5's sticky actions included, on the real emulator."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import pytest

pytest.importorskip("ale_py")
pytest.importorskip("cv2")

from trpo_worker.atari import make_atari  # noqa: E402
from trpo_worker.snapshot import (SnapshotError, Snapshots, StickyActions, ale_random_state,  # noqa: E402
                                  cannot_snapshot, sticky_actions, with_ale_random_state)

GAMES = ["ALE/Pong-v5", "ALE/Breakout-v5"]
Step = tuple[bytes, float, bool, bool, int, int]


def made(game: str, **arguments: Any) -> tuple[gymnasium.Env[Any, Any], Snapshots]:
    """A game as the worker makes it (sticky actions on, v5's default), with its Snapshots
    built before its first step."""
    env = make_atari(game, arguments)
    return env, Snapshots(env)


def action_count(env: gymnasium.Env[Any, Any]) -> int:
    space = env.action_space
    assert isinstance(space, gymnasium.spaces.Discrete)
    return int(space.n)


def play(env: gymnasium.Env[Any, Any], steps: int, seed: int) -> None:
    """Random steps, resetting when an episode ends."""
    for action in np.random.default_rng(seed).integers(0, action_count(env), steps):
        _, _, terminated, truncated, _ = env.step(int(action))
        if terminated or truncated:
            env.reset()


def run(env: gymnasium.Env[Any, Any], actions: Any) -> list[Step]:
    """Each step as exact bytes and values, until the actions run out or the episode ends."""
    out = []
    for action in actions:
        observation, reward, terminated, truncated, info = env.step(int(action))
        assert observation.dtype == np.uint8 and observation.shape == (84, 84, 4)
        out.append((observation.tobytes(), float(reward), bool(terminated), bool(truncated), int(info["lives"]),
                    int(info["episode_frame_number"])))
        if terminated or truncated:
            break
    return out


@pytest.mark.parametrize("game", GAMES)
def test_the_worker_s_atari_environments_can_snapshot(game: str) -> None:
    assert cannot_snapshot(make_atari(game, {})) is None
    assert cannot_snapshot(make_atari(game, {"preprocessing": False})) is None  # gymnasium.make's own layers
    assert cannot_snapshot(make_atari(game, {"frame_stack": 2, "noop_max": 0, "repeat_action_probability": 0.0})) \
        is None
    # A wrapper this module does not know still makes it refuse.
    clipped = gymnasium.wrappers.ClipReward(make_atari(game, {}), -1.0, 1.0)
    assert cannot_snapshot(clipped) == "its wrapper ClipReward may keep state and defines no snapshot()/restore()"


@pytest.mark.parametrize("game", GAMES)
def test_restore_continues_bit_for_bit(game: str) -> None:
    """Snapshots at several points of a game; each restored into another copy (at another point
    of its own game) and into the original, which then replay the original's continuation."""
    original, snapshots = made(game)
    other, restorer = made(game)
    original.reset(seed=1)
    other.reset(seed=2)
    play(original, 200, seed=3)
    play(other, 137, seed=4)
    tracker = sticky_actions(other.unwrapped)
    for round in range(6):
        snapshot = snapshots.take()
        actions = np.random.default_rng(10 + round).integers(0, action_count(original), 40)
        expected = run(original, actions)
        assert len(expected) > 10
        for _ in range(2):  # a snapshot restores any number of times
            restorer.restore(snapshot)
            assert run(other, actions) == expected
        snapshots.restore(snapshot)
        assert run(original, actions) == expected
        play(original, 25, seed=20 + round)  # on to other points, each copy its own way
        play(other, 31, seed=30 + round)
    # Some restore found the copy applying another action than the snapshot's, where the first
    # frame would repeat it: without StickyActions that continuation would differ (next test).
    assert tracker.primings > 0


def test_taking_snapshots_changes_no_trajectory() -> None:
    plain, _ = made("ALE/Breakout-v5")
    watched, snapshots = made("ALE/Breakout-v5")
    actions = np.random.default_rng(8).integers(0, 4, 80)
    plain.reset(seed=6)
    watched.reset(seed=6)
    expected = run(plain, actions)
    got = []
    for action in actions[:len(expected)]:
        snapshots.take()
        got += run(watched, [action])
    assert got == expected


def test_ale_s_own_state_leaves_the_sticky_action_out() -> None:
    """Why StickyActions exists: restoring ALE's cloneState(include_rng=True) alone into another
    emulator leaves that emulator's last applied action, which a sticky frame repeats."""
    import ale_py
    gymnasium.register_envs(ale_py)
    first: Any
    second: Any
    first, second = (gymnasium.make("ALE/Breakout-v5", frameskip=1).unwrapped for _ in range(2))
    first.reset(seed=1)
    second.reset(seed=2)
    differing = 0
    for trial in range(40):
        for _ in range(3):  # the two emulators' last actions differ: RIGHT and LEFT
            first.ale.act(ale_py.Action.RIGHT)
            second.ale.act(ale_py.Action.LEFT)
        state = first.ale.cloneState(include_rng=True)
        rams = []
        for ale in (first.ale, second.ale):
            ale.restoreState(state)
            for _ in range(8):
                ale.act(ale_py.Action.NOOP)
            rams.append(ale.getRAM().tobytes())
        differing += rams[0] != rams[1]
        first.ale.restoreState(state)
        second.ale.restoreState(state)
    assert 0 < differing < 40  # roughly the quarter of snapshots whose first frame repeats


@pytest.mark.parametrize("game", GAMES)
def test_common_random_numbers_come_with_the_snapshot(game: str) -> None:
    """Restores followed by the same actions are identical (ALE's generator, so the sticky
    repeats, comes with the snapshot); a different first action is the only difference, and
    a reseed gives other sticky repeats."""
    env, snapshots = made(game)
    copies = [made(game) for _ in range(2)]
    env.reset(seed=5)
    play(env, 150, seed=6)
    for e, (copy, _) in enumerate(copies):
        copy.reset(seed=40 + e)
        play(copy, 20 + 7 * e, seed=50 + e)
    snapshot = snapshots.take()
    rest = list(np.random.default_rng(7).integers(0, action_count(env), 30))

    def branch(index: int, first: int, reseed: int = -1) -> list[Step]:
        copy, restorer = copies[index]
        restorer.restore(snapshot)
        if reseed >= 0:
            restorer.reseed(np.random.SeedSequence(reseed))
        return run(copy, [first] + rest)

    right, left = 2, 3  # both games' minimal action sets: NOOP, FIRE, RIGHT, LEFT, …
    same = branch(0, right)
    assert branch(1, right) == same and branch(0, right) == same and len(same) == 31
    other = branch(1, left)
    assert other != same  # the paddle moved the other way
    # Reseeded: the same first action and the same seed agree; another seed repeats other frames.
    assert branch(0, right, reseed=1) == branch(1, right, reseed=1)
    assert branch(0, right, reseed=1) != branch(0, right, reseed=2)


def test_a_game_stepped_before_the_first_look_refuses_until_a_fresh_action() -> None:
    env = make_atari("ALE/Pong-v5", {})
    env.reset(seed=3)
    play(env, 5, seed=4)
    snapshots = Snapshots(env)  # puts StickyActions in front of the emulator only now
    tracker = sticky_actions(env.unwrapped)
    assert isinstance(env.unwrapped.ale, StickyActions) and tracker.applied is None
    with pytest.raises(SnapshotError, match="the action a sticky frame would repeat is unknown"):
        snapshots.take()
    env.step(0)  # four frames: one takes a fresh action unless all four repeat (this seed: one does)
    assert tracker.applied == (0, 1.0)
    snapshots.take()
    env.reset()
    assert tracker.applied == (0, 1.0)  # a reset applies NOOP


def test_ale_random_state_round_trip() -> None:
    """The generator's text in ALE's serialized state, read and replaced (for reseeding)."""
    import ale_py
    env = make_atari("ALE/Breakout-v5", {})
    env.reset(seed=9)
    ale: Any = env.unwrapped.ale
    serialized = ale.cloneState(include_rng=True).serialize()
    key, position = ale_random_state(serialized)
    assert key.dtype == np.uint32 and key.shape == (624,) and 1 <= position <= 624
    assert with_ale_random_state(serialized, key, position) == serialized
    fresh = np.random.MT19937(np.random.SeedSequence(1)).state["state"]
    replaced = with_ale_random_state(serialized, fresh["key"], fresh["pos"])
    ale.restoreState(ale_py.ALEState(replaced))
    key2, position2 = ale_random_state(ale.cloneState(include_rng=True).serialize())
    np.testing.assert_array_equal(key2, fresh["key"])
    assert position2 == fresh["pos"]
    with pytest.raises(SnapshotError):
        ale_random_state(ale.cloneState(include_rng=False).serialize())
