"""Making environments from their names (built-in ids, gym:ID, py:MODULE:FACTORY) and describing
them in the protocol's terms (docs/protocol.md §3.13, §3.14)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces

from trpo_worker import codec
from trpo_worker.codec import ActionKind, HeadKind, ObservationDType
from trpo_worker.environments import (EnvironmentAdapter, SimulatorError, check_policy, environment_spec,
                                      make_environment, one_line, parse_arguments)
from trpo_worker.policy import Policy
from trpo_worker.snapshot import can_snapshot

from doc_examples import worked_examples

TESTS = Path(__file__).resolve().parent


def reason(name: str, arguments: str = "") -> str:
    with pytest.raises(SimulatorError) as info:
        make_environment(name, arguments)
    text = str(info.value)
    assert "\n" not in text and "\x1b" not in text, text
    return text


# ------------------------------------------------------------------ names


def test_built_in_ids_and_gym_names_with_arguments() -> None:
    assert make_environment("CartPole-v1").spec.id == "CartPole-v1"  # type: ignore[union-attr]
    pendulum = make_environment("gym:Pendulum-v1", '{"g": 9.81}')
    assert pendulum.spec is not None and pendulum.spec.id == "Pendulum-v1"
    assert pendulum.unwrapped.g == 9.81  # type: ignore[attr-defined]
    assert make_environment("Pendulum-v1", "").unwrapped.g == 10.0  # type: ignore[attr-defined]
    assert make_environment("gym:Pendulum-v1", "  ").unwrapped.g == 10.0  # type: ignore[attr-defined]


def test_gym_errors_are_gymnasiums_condensed() -> None:
    assert "cannot make Gymnasium environment 'NoSuchEnv-v0'" in reason("gym:NoSuchEnv-v0")
    assert "doesn't exist" in reason("NoSuchEnv-v0")
    assert "provides versioned environments" in reason("gym:CartPole-v9")
    assert "unexpected keyword argument 'gravity'" in reason("gym:CartPole-v1", '{"gravity": 1}')
    assert "names no Gymnasium id" in reason("gym:")


@pytest.mark.parametrize("arguments, expected", [
    ("[1, 2]", "must be a JSON object of keyword arguments, not a JSON list"),
    ("42", "not a JSON int"),
    ('{"g": 9.81', "not JSON (Expecting ',' delimiter at line 1, column 11)"),
    ("{'g': 1}", "not JSON"),
])
def test_arguments_must_be_a_json_object(arguments: str, expected: str) -> None:
    assert expected in reason("gym:Pendulum-v1", arguments)


def test_parse_arguments() -> None:
    assert parse_arguments("") == {} and parse_arguments("{}") == {}
    assert parse_arguments('{"continuous": true, "n": [1, 2]}') == {"continuous": True, "n": [1, 2]}


def test_unknown_kind_of_name() -> None:
    assert "unknown kind of environment name 'mujoco:Hopper'" in reason("mujoco:Hopper")
    assert "not of the form py:MODULE:FACTORY" in reason("py:only_a_module")
    assert "not of the form py:MODULE:FACTORY" in reason("py::Factory")


@pytest.fixture
def user_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding the user's modules, which is not on sys.path (as for a
    console script, whose sys.path starts with its bin directory)."""
    (tmp_path / "my_envs.py").write_text(textwrap.dedent('''
        import gymnasium
        from gymnasium import spaces
        import numpy as np

        class Walker(gymnasium.Env):
            observation_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
            action_space = spaces.Discrete(3)

            def __init__(self, speed=1):
                self.speed = speed

        def make(speed=1, wrap=False):
            env = Walker(speed)
            return gymnasium.wrappers.TimeLimit(env, 7) if wrap else env

        def explode(**kwargs):
            raise ValueError(f"no walker today\\n(asked {kwargs})")

        def not_an_env():
            return 42

        class Nested:
            make = staticmethod(make)

        constant = 3
    '''))
    (tmp_path / "broken_envs.py").write_text("import no_such_dependency_xyz\n")
    (tmp_path / "syntax_envs.py").write_text("def broken(:\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path), os.getcwd())])
    for name in ("my_envs", "broken_envs", "syntax_envs"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return tmp_path


def test_python_factories_from_the_working_directory(user_directory: Path) -> None:
    env = make_environment("py:my_envs:Walker", '{"speed": 3}')
    assert type(env).__name__ == "Walker" and env.speed == 3  # type: ignore[attr-defined]
    assert sys.path[0] == str(user_directory)
    wrapped = make_environment("py:my_envs:make", '{"wrap": true}')
    assert isinstance(wrapped, gymnasium.wrappers.TimeLimit)
    assert type(make_environment("py:my_envs:Nested.make").unwrapped).__name__ == "Walker"


def test_python_factory_errors(user_directory: Path) -> None:
    text = reason("py:no_such_module_abc:make")
    assert "cannot import module 'no_such_module_abc' for py:no_such_module_abc:make: ModuleNotFoundError" in text
    assert f"looked in {user_directory}" in text and "PYTHONPATH" in text
    text = reason("py:broken_envs:make")
    assert "cannot import module 'broken_envs'" in text and "No module named 'no_such_dependency_xyz'" in text
    assert "looked in" not in text  # the module itself was found
    assert "cannot import module 'syntax_envs'" in reason("py:syntax_envs:make") and "SyntaxError" in reason(
        "py:syntax_envs:make")
    assert "module 'my_envs' (" in reason("py:my_envs:Runner") and "has no attribute 'Runner'" in reason(
        "py:my_envs:Runner")
    assert "my_envs.constant is a int, not a gymnasium.Env subclass or a function" in reason("py:my_envs:constant")
    text = reason("py:my_envs:explode", '{"legs": 2}')
    assert text.startswith('my_envs.explode(**{"legs": 2}) raised ValueError: no walker today (asked')
    assert "my_envs.not_an_env(…) returned a int, not a gymnasium.Env" in reason("py:my_envs:not_an_env")
    assert "unexpected keyword argument 'legs'" in reason("py:my_envs:Walker", '{"legs": 2}')


def test_python_factories_on_pythonpath(tmp_path: Path) -> None:
    """PYTHONPATH works, and so does the working directory of a console script."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "path_envs.py").write_text("from external_envs import Counter as Make\n")
    script = ("import sys\nfrom trpo_worker.environments import make_environment, environment_spec\n"
              "print(environment_spec(make_environment(sys.argv[1])).action_size)\n")
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "lib"), str(TESTS)]))
    result = subprocess.run([sys.executable, "-c", script, "py:path_envs:Make"], cwd="/", env=environment,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "3", result.stderr


def test_one_line() -> None:
    assert one_line("\x1b[33mWARN: a\n  b\x1b[0m") == "WARN: a b"
    assert one_line("x" * 500, limit=10) == "x" * 9 + "…"


# ------------------------------------------------------------------ specs


def test_pendulum_spec_is_the_worked_example() -> None:
    """Worked example 7.12, snapshot flag included: snapshot.py snapshots Pendulum (its state
    attributes, the wrappers gymnasium.make adds, np_random)."""
    spec = environment_spec(make_environment("gym:Pendulum-v1", '{"g": 9.81}'))
    assert spec == codec.EnvironmentSpec(observation_shape=(3,), observation_dtype=ObservationDType.FLOAT32,
                                         action_kind=ActionKind.BOX, action_size=1, action_low=(-2.0,),
                                         action_high=(2.0,), time_limit=200, can_snapshot=True)
    example = codec.decode(worked_examples()["7.12"])
    assert isinstance(example, codec.EnvironmentSpecMessage) and example.spec == spec
    assert environment_spec(gymnasium.make("Pendulum-v1")).can_snapshot


def test_cartpole_and_hopper_specs() -> None:
    cartpole = environment_spec(make_environment("CartPole-v1"))
    assert (cartpole.observation_shape, cartpole.action_kind, cartpole.action_size, cartpole.time_limit) == (
        (4,), ActionKind.DISCRETE, 2, 500)
    assert cartpole.action_low == () and cartpole.action_width == 1
    hopper = environment_spec(make_environment("gym:Hopper-v5"))
    assert (hopper.observation_shape, hopper.observation_dtype, hopper.action_size, hopper.time_limit) == (
        (11,), ObservationDType.FLOAT64, 3, 1000)
    assert hopper.action_low == (-1.0,) * 3 and hopper.action_high == (1.0,) * 3


class Spaces(gymnasium.Env[Any, Any]):
    """An environment with the given spaces and nothing else."""

    def __init__(self, observation: gymnasium.Space[Any],
                 action: gymnasium.Space[Any] = spaces.Discrete(2)) -> None:
        self.observation_space = observation
        self.action_space = action


class Snapshots(Spaces):
    def __init__(self) -> None:
        super().__init__(spaces.Box(0, 1, (1,)))

    def snapshot(self) -> int:
        return 0

    def restore(self, snapshot: int) -> None:
        pass


@pytest.mark.parametrize("space, shape, dtype", [
    (spaces.Box(0, 255, (2, 3, 4), dtype=np.uint8), (2, 3, 4), ObservationDType.UINT8),
    (spaces.Box(-1, 1, (), dtype=np.float16), (1,), ObservationDType.FLOAT16),
    (spaces.Box(-5, 5, (3,), dtype=np.int64), (3,), ObservationDType.INT64),
    (spaces.Box(0, 1, (1,) * 8, dtype=np.bool_), (1,) * 8, ObservationDType.BOOL),
    (spaces.MultiBinary((2, 2)), (2, 2), ObservationDType.INT8),
    (spaces.MultiDiscrete([3, 4, 5]), (3,), ObservationDType.INT64),
    (spaces.Discrete(5, start=-2), (5,), ObservationDType.BOOL),
])
def test_observation_spaces(space: gymnasium.Space[Any], shape: tuple[int, ...], dtype: ObservationDType) -> None:
    spec = environment_spec(Spaces(space))
    assert (spec.observation_shape, spec.observation_dtype) == (shape, dtype)
    # Whatever the space holds travels as flat float64, in row-major order.
    sample = space.sample()
    converted = EnvironmentAdapter(Spaces(space)).observation(sample)
    assert converted.dtype == np.float64 and converted.shape == (spec.observation_size,)
    if isinstance(space, spaces.Discrete):
        assert converted.tolist() == [1.0 if i == sample - space.start else 0.0 for i in range(5)]
    else:
        assert converted.tolist() == np.asarray(sample).astype(np.float64).reshape(-1).tolist()


@pytest.mark.parametrize("space, expected", [
    (spaces.Dict({"a": spaces.Box(0, 1, (2,))}), "flatten Dict and Tuple spaces with "
                                                 "gymnasium.wrappers.FlattenObservation"),
    (spaces.Tuple((spaces.Discrete(2), spaces.Discrete(3))), "cannot be carried"),
    (spaces.Text(5), "cannot be carried"),
    (spaces.Box(0, 10, (2,), dtype=np.uint64), "elements of type uint64, for which the protocol has no code"),
    (spaces.Box(0, 1, (1,) * 9), "observations of rank 9"),
    (spaces.Box(0, 1, (256, 257)), "observations of shape (256, 257): the protocol carries 1 … 65536"),
    (spaces.Box(0, 1, (0,)), "observations of shape (0,)"),
])
def test_observation_spaces_refused(space: gymnasium.Space[Any], expected: str) -> None:
    with pytest.raises(SimulatorError) as info:
        environment_spec(Spaces(space))
    assert expected in str(info.value)


@pytest.mark.parametrize("space, expected", [
    (spaces.Discrete(3, start=1), "starts at 1: the protocol's discrete actions are 0 … n−1"),
    (spaces.Discrete(1), "has a single action"),
    (spaces.MultiDiscrete([2, 2]), "cannot be carried: the protocol's actions are Discrete (an index) or a Box"),
    (spaces.MultiBinary(3), "cannot be carried"),
    (spaces.Box(-3, 3, (2,), dtype=np.int64), "holds int64 values: a Gaussian policy's box actions are real"),
    (spaces.Discrete(70000), "70000 discrete actions: the protocol carries 1 … 65536"),
])
def test_action_spaces_refused(space: gymnasium.Space[Any], expected: str) -> None:
    with pytest.raises(SimulatorError) as info:
        environment_spec(Spaces(spaces.Box(0, 1, (2,)), space))
    assert expected in str(info.value)


def test_box_actions_of_any_shape_are_flattened_and_clipped() -> None:
    space = spaces.Box(low=np.array([[-1, -2], [-3, -np.inf]], dtype=np.float32),
                       high=np.array([[1, 2], [3, 4]], dtype=np.float32), dtype=np.float32)
    adapter = EnvironmentAdapter(Spaces(spaces.Box(0, 1, (2,)), space))
    spec = adapter.spec
    assert (spec.action_kind, spec.action_size) == (ActionKind.BOX, 4)
    assert spec.action_low == (-1.0, -2.0, -3.0, -np.inf) and spec.action_high == (1.0, 2.0, 3.0, 4.0)
    action = adapter.action(np.array([5.0, -5.0, 0.25, -1e9]))
    assert action.dtype == np.float32 and action.tolist() == [[1.0, -2.0], [0.25, -1e9]]
    assert EnvironmentAdapter(Spaces(spaces.Box(0, 1, (2,)), spaces.Discrete(3))).action(np.array([2.0])) == 2


def test_time_limit_and_snapshot_flag() -> None:
    assert environment_spec(Spaces(spaces.Box(0, 1, (1,)))).time_limit == 0
    assert not can_snapshot(Spaces(spaces.Box(0, 1, (1,))))
    assert not environment_spec(Spaces(spaces.Box(0, 1, (1,)))).can_snapshot
    assert can_snapshot(Snapshots())
    wrapped = gymnasium.wrappers.TimeLimit(Snapshots(), 9)
    assert can_snapshot(wrapped) and environment_spec(wrapped).can_snapshot
    # A wrapper snapshot.py does not know may keep state: the flag follows snapshot.py, not the core.
    clipped = gymnasium.wrappers.ClipReward(Snapshots(), -1.0, 1.0)
    assert not can_snapshot(clipped) and not environment_spec(clipped).can_snapshot
    # An environment made without the registry: its TimeLimit wrappers' limit, the tightest.
    assert environment_spec(wrapped).time_limit == 9
    inner = gymnasium.wrappers.TimeLimit(Snapshots(), 4)
    twice = gymnasium.wrappers.TimeLimit(gymnasium.wrappers.ClipReward(inner, -1.0, 1.0), 30)
    assert environment_spec(twice).time_limit == 4
    assert environment_spec(make_environment("CartPole-v1")).time_limit == 500
    assert environment_spec(gymnasium.make("CartPole-v1", max_episode_steps=20)).time_limit == 20


def test_observations_are_carried_exactly_or_not_at_all() -> None:
    adapter = EnvironmentAdapter(Spaces(spaces.Box(-2**62, 2**62, (3,), dtype=np.int64)))
    edge = np.array([2**53, -2**53, 7], dtype=np.int64)
    assert adapter.observation(edge).tolist() == [2.0**53, -2.0**53, 7.0]
    for bad, index in ((np.array([1, 2**53 + 1, 0], dtype=np.int64), 1),
                       (np.array([-2**53 - 1, 0, 0], dtype=np.int64), 0),
                       (np.array([0, 0, 2**64 - 1], dtype=np.uint64), 2)):
        with pytest.raises(SimulatorError, match=rf"observation element {index} is -?\d+, beyond ±2\*\*53"):
            adapter.observation(bad)
    with pytest.raises(SimulatorError, match=r"an observation of shape \(2,\); the observation space says \(3,\)"):
        adapter.observation(np.zeros(2, dtype=np.int64))
    with pytest.raises(SimulatorError, match="cannot be carried exactly"):
        adapter.observation(np.array(["a", "b", "c"]))
    with pytest.raises(SimulatorError, match=r"observation 7 is outside Discrete\(3\)"):
        EnvironmentAdapter(Spaces(spaces.Discrete(3))).observation(7)


def test_check_policy() -> None:
    spec = environment_spec(make_environment("CartPole-v1"))
    check_policy(spec, Policy([4, 2], np.zeros(10), HeadKind.CATEGORICAL), "CartPole-v1")
    cases: list[tuple[Policy, str]] = [
        (Policy([3, 2], np.zeros(8), HeadKind.CATEGORICAL), "the policy takes 3 inputs but CartPole-v1 observes 4"),
        (Policy([4, 3], np.zeros(15), HeadKind.CATEGORICAL), "has 2 discrete actions; the policy has a categorical "
                                                              "head of 3"),
        (Policy([4, 2], np.zeros(10), HeadKind.GAUSSIAN, [0.0, 0.0]), "the policy has a gaussian head of 2"),
    ]
    for policy, expected in cases:
        with pytest.raises(SimulatorError, match=expected):
            check_policy(spec, policy, "CartPole-v1")
    box = environment_spec(make_environment("Pendulum-v1"))
    with pytest.raises(SimulatorError, match="has a 1-dimensional box action; the policy has a categorical head of 2"):
        check_policy(box, Policy([3, 2], np.zeros(8), HeadKind.CATEGORICAL), "Pendulum-v1")

