"""Making the environments a learner names, and describing them in the protocol's terms.

A run's environment name (docs/protocol.md §3.13) is one of:

- a built-in id without a colon (``CartPole-v1``): ``gymnasium.make(id, **arguments)``;
- ``gym:ID``: ``gymnasium.make(ID, **arguments)`` for any registered Gymnasium id (including
  Gymnasium's own ``module:Env-v0`` form, which imports the module first); an Atari game
  (``gym:ALE/Breakout-v5``) comes with the usual preprocessing to stacked 84 × 84 grey frames
  (:mod:`trpo_worker.atari`);
- ``py:MODULE:FACTORY``: ``import MODULE`` (found on PYTHONPATH or in the current directory),
  then ``FACTORY(**arguments)``, where FACTORY (a dotted attribute path) is a ``gymnasium.Env``
  subclass or a function returning a ``gymnasium.Env``.

The arguments are the welcome's JSON text: a JSON object of keyword arguments, or empty.

:class:`EnvironmentAdapter` maps one environment's spaces to what travels on the wire
(§3.14): observations flattened row-major into float64, converted exactly or not at all (or,
for a convolutional policy, uint8 frames kept as bytes: :attr:`EnvironmentAdapter.frame`);
actions as the policy's head gives them (an index, or a real vector clipped to the bounds
before stepping). Observation spaces it accepts:

- ``Box`` of any element type of the protocol's table (float64/32/16, int64…int8,
  uint32…uint8, bool), of rank 1 to 8 (a scalar Box counts as shape (1,));
- ``MultiBinary`` (int8) and ``MultiDiscrete`` (its integer type), their values as they are;
- ``Discrete(n)``: one-hot, as n bools (an index as one number would tell an MLP policy
  nothing useful about unordered states).

Dict, Tuple, Text, Graph and Sequence observations are refused (flatten them with
``gymnasium.wrappers.FlattenObservation``), as are uint64 elements (the protocol has no code
for them). Action spaces: ``Discrete(n)`` starting at 0 with n ≥ 2, and floating ``Box`` of any
shape (flattened row-major). Everything that fails raises :class:`SimulatorError` with a
one-line reason, which the worker sends in its ``leave``.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import re
import sys
from typing import Any, Callable, Optional

import gymnasium
import numpy as np

from .atari import EPISODE_CONTINUES, AtariError, is_atari, make_atari
from .codec import (DEFAULT_LIMITS, MAX_OBSERVATION_RANK, ActionKind, EnvironmentSpec, F64Array, HeadKind,
                    ObservationDType, U8Array)
from .policy import ConvolutionalPolicy, StochasticPolicy
from .snapshot import can_snapshot

EXACT_INTEGER_LIMIT = 2**53  # the largest magnitude below which every integer is a float64
MAX_TIME_LIMIT = 2**32 - 1

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class SimulatorError(Exception):
    """An environment that cannot be made or described, an observation that cannot be carried,
    or a policy that does not fit the environment. The text is one line."""


def one_line(text: str, limit: int = 400) -> str:
    """``text`` without terminal colours, its whitespace (newlines included) collapsed, and at
    most ``limit`` characters long."""
    flat = " ".join(_ANSI.sub("", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _failure(error: BaseException) -> str:
    return one_line(f"{type(error).__name__}: {error}")


def parse_arguments(arguments_json: str) -> dict[str, Any]:
    """The keyword arguments of the welcome's JSON text ("" for none)."""
    if not arguments_json.strip():
        return {}
    try:
        arguments = json.loads(arguments_json)
    except json.JSONDecodeError as error:
        raise SimulatorError(f"the environment arguments are not JSON ({error.msg} at line {error.lineno}, column "
                             f"{error.colno}): {one_line(arguments_json, 200)}") from None
    if not isinstance(arguments, dict):
        raise SimulatorError(f"the environment arguments must be a JSON object of keyword arguments, not a JSON "
                             f"{type(arguments).__name__}: {one_line(arguments_json, 200)}")
    return arguments


def episode_continues(terminated: bool, truncated: bool, info: dict[str, Any]) -> bool:
    """Whether a step that ``terminated`` ended only the trajectory for learning (a lost life
    under ``episodic_life``: ``info[EPISODE_CONTINUES]``): the episode goes on without a reset,
    and its logged return keeps counting. A truncated step always ends the episode."""
    return bool(terminated) and not truncated and info.get(EPISODE_CONTINUES) is True


def make_environment(name: str, arguments_json: str = "") -> gymnasium.Env[Any, Any]:
    """One copy of the environment ``name`` made with the keyword arguments ``arguments_json``
    (module docstring). Raises SimulatorError with the reason when it cannot be made."""
    arguments = parse_arguments(arguments_json)
    if name.startswith("gym:"):
        return _make_gymnasium(name, name[len("gym:"):], arguments)
    if name.startswith("py:"):
        return _make_python(name, name[len("py:"):], arguments)
    if ":" in name:
        raise SimulatorError(f"unknown kind of environment name {name!r}: expected a built-in id (CartPole-v1), "
                             f"gym:ID or py:MODULE:FACTORY")
    return _make_gymnasium(name, name, arguments)


def _make_gymnasium(name: str, gym_id: str, arguments: dict[str, Any]) -> gymnasium.Env[Any, Any]:
    if not gym_id:
        raise SimulatorError(f"{name!r} names no Gymnasium id (expected gym:ID, e.g. gym:Hopper-v5)")
    try:
        if is_atari(gym_id):
            return make_atari(gym_id, arguments)
        return gymnasium.make(gym_id, **arguments)
    except AtariError as error:
        raise SimulatorError(f"cannot make {gym_id!r}: {error}") from None
    except Exception as error:  # gymnasium raises many kinds (NameNotFound, DependencyNotInstalled, TypeError, …)
        raise SimulatorError(f"cannot make Gymnasium environment {gym_id!r}: {one_line(str(error))}") from None


def _make_python(name: str, target: str, arguments: dict[str, Any]) -> gymnasium.Env[Any, Any]:
    module_name, _, factory_path = target.partition(":")
    if not module_name or not factory_path:
        raise SimulatorError(f"{name!r} is not of the form py:MODULE:FACTORY (e.g. py:mylab.envs:make_arm)")
    _put_working_directory_on_path()
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        hint = ""
        if isinstance(error, ModuleNotFoundError) and error.name == module_name.split(".")[0]:
            hint = (f" (looked in {os.getcwd()} and on sys.path: run from the directory that holds it, or add "
                    f"that directory to PYTHONPATH)")
        raise SimulatorError(f"cannot import module {module_name!r} for {name}: {_failure(error)}{hint}") from None
    factory: Any = module
    for part in factory_path.split("."):
        try:
            factory = getattr(factory, part)
        except AttributeError:
            where = getattr(module, "__file__", None) or module_name
            raise SimulatorError(f"module {module_name!r} ({where}) has no attribute {factory_path!r} for "
                                 f"{name}") from None
    if not callable(factory):
        raise SimulatorError(f"{module_name}.{factory_path} is a {type(factory).__name__}, not a gymnasium.Env "
                             f"subclass or a function for {name}")
    try:
        env = factory(**arguments)
    except Exception as error:
        raise SimulatorError(f"{module_name}.{factory_path}(**{one_line(json.dumps(arguments), 200)}) raised "
                             f"{_failure(error)}") from None
    if not isinstance(env, gymnasium.Env):
        raise SimulatorError(f"{module_name}.{factory_path}(…) returned a {type(env).__name__}, not a gymnasium.Env")
    return env


def _put_working_directory_on_path() -> None:
    """Makes a module in the current directory importable, as ``python -m`` does (a console
    script's sys.path starts with its bin directory instead)."""
    cwd = os.getcwd()
    if "" not in sys.path and cwd not in sys.path:
        sys.path.insert(0, cwd)


def environment_spec(env: gymnasium.Env[Any, Any]) -> EnvironmentSpec:
    """The spec a worker sends for ``env`` (§3.14); its snapshot flag says whether the vine's
    :class:`~trpo_worker.snapshot.Snapshots` can snapshot and restore ``env``. Raises
    SimulatorError for spaces the protocol cannot carry."""
    return EnvironmentAdapter(env).spec


class EnvironmentAdapter:
    """One environment's spaces in the protocol's terms: ``spec``, its :class:`EnvironmentSpec`;
    ``observation(o)``, an observation as the wire carries it (flat float64, converted exactly,
    SimulatorError otherwise; NaN and ±∞ pass: the sampler refuses them chunk by chunk);
    ``actions(rows)``, the environment's actions for the rows ``[n × actionWidth]`` of the
    policy's actions (int indices, or the vectors clipped to the bounds, in the space's shape and
    type), converted as one batch (a conversion per row costs several times as much);
    :meth:`action` for one row. ``frame(o)``, for an environment whose observations are uint8
    (None otherwise): an observation as a pixel chunk carries it, flat uint8 (a private copy)."""

    def __init__(self, env: gymnasium.Env[Any, Any]) -> None:
        self.observation: Callable[[Any], F64Array]
        self.actions: Callable[[F64Array], list[Any]]
        shape, dtype, self.observation = _observation_conversion(env.observation_space)
        self.frame: Optional[Callable[[Any], U8Array]] = _frame_conversion(shape) if dtype == ObservationDType.UINT8 \
            else None
        kind, size, low, high, self.actions = _action_conversion(env.action_space)
        limit = _time_limit(env)
        if not 0 <= limit <= MAX_TIME_LIMIT:
            raise SimulatorError(f"time limit of {limit} steps: the protocol carries 0 … {MAX_TIME_LIMIT}")
        self.spec = EnvironmentSpec(observation_shape=shape, observation_dtype=dtype, action_kind=kind,
                                    action_size=size, action_low=low, action_high=high, time_limit=limit,
                                    can_snapshot=can_snapshot(env))

    def action(self, row: F64Array) -> Any:
        """The environment's action for one row of the policy's actions (see :attr:`actions`)."""
        return self.actions(row[None, :])[0]


def _time_limit(env: gymnasium.Env[Any, Any]) -> int:
    """Gymnasium's ``max_episode_steps``: from the environment's spec (``gymnasium.make`` sets
    it), else from the ``TimeLimit`` wrappers around an environment made without the registry
    (the tightest; TimeLimit keeps its limit in ``_max_episode_steps``); 0 for none."""
    spec = env.spec
    if spec is not None and spec.max_episode_steps is not None:
        return int(spec.max_episode_steps)
    limits = []
    layer: Any = env
    while isinstance(layer, gymnasium.Wrapper):
        if isinstance(layer, gymnasium.wrappers.TimeLimit):
            limits.append(int(layer._max_episode_steps))
        layer = layer.env
    return min(limits, default=0)


def _observation_conversion(space: gymnasium.Space[Any]
                            ) -> tuple[tuple[int, ...], ObservationDType, Callable[[Any], F64Array]]:
    """(wire shape, element type, conversion) for an observation space."""
    if isinstance(space, gymnasium.spaces.Discrete):
        n, start = int(space.n), int(space.start)
        _check_width("observations", n, f"one-hot observations of {space}")

        def one_hot(observation: Any) -> F64Array:
            index = int(observation) - start
            if not 0 <= index < n:
                raise SimulatorError(f"observation {observation} is outside {space}")
            row = np.zeros(n)
            row[index] = 1.0
            return row
        return (n,), ObservationDType.BOOL, one_hot
    if isinstance(space, (gymnasium.spaces.Box, gymnasium.spaces.MultiBinary, gymnasium.spaces.MultiDiscrete)):
        assert space.shape is not None
        shape = tuple(int(d) for d in space.shape) or (1,)
        dtype = ObservationDType.of(space.dtype) if space.dtype is not None else None
        if dtype is None:
            raise SimulatorError(f"observation space {one_line(str(space), 200)} has elements of type {space.dtype}, "
                                 f"for which the protocol has no code (it carries float64/32/16, int64/32/16/8, "
                                 f"uint32/16/8 and bool)")
        if len(shape) > MAX_OBSERVATION_RANK:
            raise SimulatorError(f"observations of rank {len(shape)} (shape {shape}): the protocol carries at most "
                                 f"{MAX_OBSERVATION_RANK} dimensions")
        size = math.prod(shape)
        _check_width("observations", size, f"observations of shape {shape}")
        expected = tuple(int(d) for d in space.shape)

        def convert(observation: Any) -> F64Array:
            array = np.asarray(observation)
            if array.shape != expected:
                raise SimulatorError(f"an observation of shape {array.shape}; the observation space says {expected}")
            return _exact_f64(array.reshape(size))
        return shape, dtype, convert
    raise SimulatorError(f"observation space {one_line(str(space), 200)} cannot be carried: the protocol carries one "
                         f"array of numbers per observation (a Box, MultiBinary, MultiDiscrete or Discrete space; "
                         f"flatten Dict and Tuple spaces with gymnasium.wrappers.FlattenObservation)")


def _frame_conversion(shape: tuple[int, ...]) -> Callable[[Any], U8Array]:
    """The conversion of a uint8 observation space's observations to flat uint8 frames (the
    values exactly, or SimulatorError)."""
    size = math.prod(shape)

    def frame(observation: Any) -> U8Array:
        array = np.asarray(observation)
        if array.size != size:
            raise SimulatorError(f"an observation of shape {array.shape}; the observation space says {shape}")
        flat = array.reshape(size)
        if flat.dtype == np.uint8:
            result: U8Array = flat.copy()
            return result
        with np.errstate(invalid="ignore"):
            converted = flat.astype(np.uint8)
        if not (converted == flat).all():
            raise SimulatorError(f"observation elements of type {flat.dtype} outside 0 … 255 in a uint8 observation "
                                 f"space")
        return converted
    return frame


def _exact_f64(values: np.ndarray[Any, Any]) -> F64Array:
    """``values`` as float64 if every element converts exactly; SimulatorError otherwise."""
    kind, width = values.dtype.kind, values.dtype.itemsize
    if width == 8 and kind in "iu":
        beyond = np.flatnonzero(values > np.uint64(EXACT_INTEGER_LIMIT)) if kind == "u" else np.flatnonzero(
            (values > EXACT_INTEGER_LIMIT) | (values < -EXACT_INTEGER_LIMIT))
        if beyond.size:
            index = int(beyond[0])
            raise SimulatorError(f"observation element {index} is {int(values[index])}, beyond ±2**53: float64 "
                                 f"cannot carry it exactly")
    elif not (kind in "iub" or (kind == "f" and width <= 8)):
        raise SimulatorError(f"observation elements of type {values.dtype} cannot be carried exactly as float64")
    result: F64Array = values.astype(np.float64)
    return result


def _action_conversion(space: gymnasium.Space[Any]) -> tuple[ActionKind, int, tuple[float, ...], tuple[float, ...],
                                                              Callable[[F64Array], list[Any]]]:
    """(kind, size, low, high, conversion of a batch of rows) for an action space."""
    if isinstance(space, gymnasium.spaces.Discrete):
        n, start = int(space.n), int(space.start)
        if start != 0:
            raise SimulatorError(f"action space {space} starts at {start}: the protocol's discrete actions are "
                                 f"0 … n−1 (shift them with a gymnasium.ActionWrapper)")
        if n < 2:
            raise SimulatorError(f"action space {space} has a single action: there is nothing to learn")
        _check_width("actions", n, f"{n} discrete actions")

        def indices(rows: F64Array) -> list[Any]:
            result: list[Any] = rows[:, 0].astype(np.int64).tolist()
            return result
        return ActionKind.DISCRETE, n, (), (), indices
    if isinstance(space, gymnasium.spaces.Box):
        if space.dtype is None or np.dtype(space.dtype).kind != "f":
            raise SimulatorError(f"action space {one_line(str(space), 200)} holds {space.dtype} values: a Gaussian "
                                 f"policy's box actions are real numbers (a floating-point Box)")
        shape = tuple(int(d) for d in space.shape)
        size = math.prod(shape)
        _check_width("actions", size, f"box actions of shape {shape}")
        low = np.asarray(space.low, dtype=np.float64).reshape(size)
        high = np.asarray(space.high, dtype=np.float64).reshape(size)
        if np.isnan(low).any() or np.isnan(high).any() or (low > high).any():
            raise SimulatorError(f"action space {one_line(str(space), 200)} has NaN or inverted bounds")
        dtype = space.dtype

        def clipped(rows: F64Array) -> list[Any]:
            return list(np.clip(rows, low, high).astype(dtype).reshape((rows.shape[0],) + shape))
        return ActionKind.BOX, size, tuple(low.tolist()), tuple(high.tolist()), clipped
    raise SimulatorError(f"action space {one_line(str(space), 200)} cannot be carried: the protocol's actions are "
                         f"Discrete (an index) or a Box (a real vector)")


def _check_width(what: str, size: int, description: str) -> None:
    if not 1 <= size <= DEFAULT_LIMITS.max_width:
        raise SimulatorError(f"{description}: the protocol carries 1 … {DEFAULT_LIMITS.max_width} numbers of {what}")


def check_policy(spec: EnvironmentSpec, policy: StochasticPolicy, name: str) -> None:
    """Raises SimulatorError when ``policy`` does not take the observations or give the actions
    of the environment ``name`` that ``spec`` describes. A convolutional policy takes uint8
    observations of its frames' size (height × width × channels values, flattened)."""
    if isinstance(policy, ConvolutionalPolicy):
        h, w, c = policy.architecture.input
        frames = f"{h}×{w}×{c} uint8 frames"
        shape = "×".join(str(d) for d in spec.observation_shape)
        if spec.observation_dtype != ObservationDType.UINT8:
            raise SimulatorError(f"the policy is convolutional, on {frames}, but {name} observes "
                                 f"{spec.observation_dtype.name.lower()} [{shape}]")
        if policy.input_size != spec.observation_size:
            raise SimulatorError(f"the policy is convolutional, on {frames} ({policy.input_size} values), but {name} "
                                 f"observes uint8 [{shape}] ({spec.observation_size} values)")
    if policy.input_size != spec.observation_size:
        raise SimulatorError(f"the policy takes {policy.input_size} inputs but {name} observes "
                             f"{spec.observation_size}")
    if spec.action_kind == ActionKind.DISCRETE:
        if policy.head != HeadKind.CATEGORICAL or policy.output_size != spec.action_size:
            raise SimulatorError(f"{name} has {spec.action_size} discrete actions; the policy has a "
                                 f"{policy.head.name.lower()} head of {policy.output_size}")
    elif policy.head != HeadKind.GAUSSIAN or policy.output_size != spec.action_size:
        raise SimulatorError(f"{name} has a {spec.action_size}-dimensional box action; the policy has a "
                             f"{policy.head.name.lower()} head of {policy.output_size}")
