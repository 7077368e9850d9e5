"""Lives in training (atari.py ``AtariLives``): ``fire_reset`` and ``episodic_life``, as OpenAI
Baselines' ``wrap_deepmind`` treats them, on the real emulator.

The reference is the worker's plain game (itself checked step for step against Gymnasium's
wrappers, test_atari.py) driven by hand: FIRE and action 2 after a reset and after each lost
life. The samplers and the evaluation keep whole games as the logged episodes."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

pytest.importorskip("ale_py")
pytest.importorskip("cv2")

from trpo_worker.atari import EPISODE_CONTINUES, AtariLives, make_atari  # noqa: E402
from trpo_worker.codec import HeadKind  # noqa: E402
from trpo_worker.convolution import CNN_SMALL  # noqa: E402
from trpo_worker.environments import SimulatorError, make_environment  # noqa: E402
from trpo_worker.policy import ConvolutionalPolicy  # noqa: E402
from trpo_worker.codec import End  # noqa: E402
from trpo_worker.sampler import SinglePathSampler  # noqa: E402
from trpo_worker.snapshot import Snapshots, cannot_snapshot  # noqa: E402

BREAKOUT = "gym:ALE/Breakout-v5"
LIVES = json.dumps({"episodic_life": True, "fire_reset": True})


def test_fire_and_lives_step_for_step_against_the_plain_game_driven_by_hand() -> None:
    ours, plain = make_environment(BREAKOUT, LIVES), make_environment(BREAKOUT)
    o, _ = ours.reset(seed=4)
    plain.reset(seed=4)
    for action in (1, 2):  # fire_reset: FIRE, then 2
        p, _, _, _, info = plain.step(action)
    # The same newest frame; the stack of a reset repeats it (FrameStackObservation's padding),
    # where the plain game's holds the frames before FIRE.
    np.testing.assert_array_equal(o[..., -1], p[..., -1])
    lives = int(info["lives"])
    assert lives == 5
    rng = np.random.default_rng(9)
    lost = 0
    for step in range(20_000):
        action = int(rng.integers(0, 4))
        o, reward, terminated, truncated, info = ours.step(action)
        p, expected, game_over, cut, plain_info = plain.step(action)
        if 0 < int(plain_info["lives"]) < lives and not (game_over or cut):
            # A lost life: the trajectory ends for learning, FIRE and 2 are pressed, the game goes on.
            for fire in (1, 2):
                p, more, game_over, cut, plain_info = plain.step(fire)
                expected += more
            assert terminated and info[EPISODE_CONTINUES] is True and not truncated
            lost += 1
        else:
            assert (terminated, truncated) == (game_over, cut) and EPISODE_CONTINUES not in info
        lives = int(plain_info["lives"])
        # The newest frame (a lost life's stack holds one frame where the plain game's holds three).
        np.testing.assert_array_equal(o[..., -1], p[..., -1])
        assert reward == expected
        if game_over or cut:
            break
    assert game_over and lost == 4 and lives == 0  # five lives, the fifth ends the game


def test_without_episodic_life_fire_reset_fires_once_per_game() -> None:
    ours = make_environment(BREAKOUT, json.dumps({"fire_reset": True}))
    plain = make_environment(BREAKOUT)
    o, _ = ours.reset(seed=2)
    plain.reset(seed=2)
    plain.step(1)
    p, *_ = plain.step(2)
    np.testing.assert_array_equal(o[..., -1], p[..., -1])
    for step, action in enumerate(np.random.default_rng(3).integers(0, 4, 400)):
        o, reward, terminated, truncated, info = ours.step(int(action))
        p, expected, game_over, cut, _ = plain.step(int(action))
        np.testing.assert_array_equal(o if step >= 3 else o[..., -1], p if step >= 3 else p[..., -1])
        assert (reward, terminated, truncated) == (expected, game_over, cut) and EPISODE_CONTINUES not in info


def noop_policy(actions: int = 4) -> ConvolutionalPolicy:
    """A policy that (almost surely) plays NOOP: the ball goes out at every life."""
    theta = np.zeros(CNN_SMALL.parameter_count(actions))
    theta[-actions] = 50.0  # the output layer's bias of action 0
    return ConvolutionalPolicy(CNN_SMALL, theta, HeadKind.CATEGORICAL, actions)


def test_the_sampler_ends_trajectories_at_lost_lives_and_logs_whole_games() -> None:
    sampler = SinglePathSampler(BREAKOUT, 2, seed=5, stream=0, arguments_json=LIVES)
    try:
        sampler.load(noop_policy())
        data = sampler.collect(2 * 1200)
    finally:
        sampler.close()
    assert data is not None
    per_copy = len(data.ends) // 2
    games = 0
    for e in range(2):
        ends = data.ends[e * per_copy:(e + 1) * per_copy]
        rewards = data.rewards[e * per_copy:(e + 1) * per_copy]
        terminal = np.flatnonzero(ends == End.TERMINATED)
        # Every life is a trajectory: four lost lives, then the game over, per game.
        assert len(terminal) >= 5
        games += len(terminal) // 5
        assert ends[-1] in (End.TERMINATED, End.TRUNCATED)
        assert float(rewards.sum()) >= 0
    # The logged episodes are the whole games (five trajectories each), not the lives.
    assert len(data.episode_returns) == games >= 2
    assert all(length >= 5 * 20 for length in data.episode_lengths)  # a NOOP life lasts ~23 steps


def test_evaluation_plays_whole_games(tmp_path: Any) -> None:
    from trpo_worker.evaluate import EpisodeResult, SavedPolicy, run_episodes
    saved = SavedPolicy(environment=BREAKOUT, arguments=LIVES, policy=noop_policy(), iteration=1, timesteps=1)
    [result] = run_episodes(saved, 1, seed=3, stochastic=False)
    plain = make_environment(BREAKOUT, LIVES)
    plain.reset(seed=3)
    score, length, lives_lost = 0.0, 0, 0
    while True:
        _, reward, terminated, truncated, info = plain.step(0)
        score += float(reward)
        length += 1
        if truncated or (terminated and not info.get(EPISODE_CONTINUES)):
            break
        lives_lost += int(terminated)
    assert result == EpisodeResult(score, length) and lives_lost == 4


def test_snapshots_keep_the_lives() -> None:
    env = make_atari("ALE/Breakout-v5", {"episodic_life": True, "fire_reset": True})
    assert cannot_snapshot(env) is None
    snapshots = Snapshots(env)
    env.reset(seed=1)
    rng = np.random.default_rng(2)

    def play(actions: Any) -> list[tuple[bytes, float, bool, bool, bool]]:
        """Steps until the actions run out or the game is over."""
        out = []
        for a in actions:
            o, r, terminated, truncated, info = env.step(int(a))
            out.append((o.tobytes(), float(r), terminated, truncated, bool(info.get(EPISODE_CONTINUES))))
            if truncated or (terminated and not info.get(EPISODE_CONTINUES)):
                break
        return out

    play([0] * 30)  # NOOPs: a life lasts ~23 steps
    assert env.get_wrapper_attr("lives") == 4
    snapshot = snapshots.take()
    actions = rng.integers(0, 4, 300)
    first = play(actions)
    assert sum(step[4] for step in first) >= 1  # lives were lost after the snapshot
    snapshots.restore(snapshot)
    assert env.get_wrapper_attr("lives") == 4
    assert play(actions) == first


@pytest.mark.parametrize("arguments, reason", [
    ('{"episodic_life": 1}', "'episodic_life' must be true or false"),
    ('{"fire_reset": "yes"}', "'fire_reset' must be true or false"),
    ('{"episodic_life": true, "terminal_on_life_loss": true}', "choose one"),
])
def test_bad_options_are_one_line_reasons(arguments: str, reason: str) -> None:
    with pytest.raises(SimulatorError, match=reason) as error:
        make_environment(BREAKOUT, arguments)
    assert "\n" not in str(error.value)


def test_fire_reset_needs_a_fire_button() -> None:
    with pytest.raises(SimulatorError, match="'fire_reset' needs a game whose action 1 is FIRE") as error:
        make_environment("gym:ALE/Freeway-v5", '{"fire_reset": true}')
    assert "Freeway" in str(error.value) and "\n" not in str(error.value)
    assert isinstance(make_atari("ALE/Pong-v5", {"fire_reset": True}).env.env, AtariLives)


def test_vine_trunks_end_at_lost_lives_and_branches_stop_there() -> None:
    from trpo_worker.codec import VineSettings
    from trpo_worker.vine import VineSampler
    sampler = VineSampler(BREAKOUT, 1, seed=3, stream=0, arguments_json=LIVES, settings=VineSettings(
        gamma=0.99, trunk_steps=150, rollout_states=4, actions_per_state=4, rollout_length=40,
        common_random_numbers=True))
    try:
        sampler.load(noop_policy(), 0)
        data = sampler.collect(4)
    finally:
        sampler.close()
    assert data is not None
    trunks = data.trunks
    # NOOP lives of ~23 steps: the 150-step trunk ends a trajectory at every lost life, and
    # logs a game only when its fifth life is gone, with the whole game's length.
    terminal = np.flatnonzero(trunks.ends == End.TERMINATED)
    assert len(terminal) >= 5
    assert len(trunks.episode_lengths) == len(terminal) // 5
    assert all(length >= 5 * 20 for length in trunks.episode_lengths)
    # Branches of up to 40 steps from states of ~23-step lives: some end at a lost life (1), not cut.
    assert (data.branch_ends == End.TERMINATED).any()
    assert (data.branch_lengths[data.branch_ends == End.TERMINATED] < 40).all()
