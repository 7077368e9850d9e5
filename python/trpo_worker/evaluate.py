"""``trpo-gym-worker evaluate``: runs a checkpoint's policy on its environment, in Python.

The Swift ``trpo eval`` cannot make external environments (``gym:ID``, ``py:MODULE:FACTORY``);
this does, with :func:`~trpo_worker.environments.make_environment`. It reads the learner's
``checkpoint.json`` (``Sources/Learner/Checkpoint.swift``: a JSON-encoded ``TrainerState``, floats
that are not finite written as the strings ``"inf"``, ``"-inf"`` and ``"nan"``) and uses only
these keys:

- ``configuration.environment``: the environment name;
- ``configuration.environmentArguments``: its keyword arguments as JSON text (absent or null: none);
- ``configuration.modelXML``: must be absent or null (custom MuJoCo models are ``trpo eval``'s);
- ``configuration.normalizeObservations``: whether the policy sees standardised observations;
- ``iteration`` and ``timesteps``: for the report's first line;
- ``policy.head``: ``{"categorical": {"actions": k}}`` or ``{"gaussian": {"dimensions": d}}``
  (Swift's encoding of an enum case with associated values);
- ``policy.network``: an MLP's ``layerSizes``, ``activation`` (``"tanh"`` or ``"relu"``),
  ``parameters`` (the layout of a parameters message, docs/protocol.md §3.3); or, for a
  convolutional policy (recognised by the key ``architecture``, as the Swift ``AnyPolicy``
  decoder recognises it), Swift's ``ConvolutionalNetwork`` form: ``architecture`` (``input``:
  ``height``, ``width``, ``channels``; ``convolutions``: ``[{"filters", "kernel", "stride"}…]``;
  ``hiddenSizes``; ``activation``), ``outputSize`` and ``parameters`` (the layout of
  :mod:`~trpo_worker.convolution`);
- ``policy.logStd``;
- ``normalizer``: ``mean``, ``variance``, ``clip`` (MLP policies only);
- ``configuration.environmentSpec`` (convolutional policies only, when present): its
  ``observationType`` must be ``"uint8"`` and its ``observationShape`` the network's input.

A convolutional policy reads the environment's uint8 frames as p/255 and is never standardised:
the checkpoint's normaliser is ignored for it, as the learner's ``TrainerState.samplingNormalizer``
is nil for it. Its network runs in float32, as the Swift sampling evaluator and the worker run it;
the environment's observations must have the network's input shape (height, width, channels).

Episode k (0, 1, …) starts from ``env.reset(seed=S + k)``; deterministic episodes act with the
policy's mode (argmax or mean), ``--stochastic`` ones sample with a generator seeded by S. The
standard deviation reported is the population one, as ``trpo eval`` reports it.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Any, Callable, Optional, TextIO

import gymnasium
import numpy as np
import numpy.typing as npt

from .codec import Activation, HeadKind
from .convolution import ConvolutionalArchitecture, ConvolutionSpec
from .environments import (EnvironmentAdapter, SimulatorError, check_policy, episode_continues, make_environment,
                           one_line, parse_arguments)
from .policy import AnyPolicy, ConvolutionalPolicy, Policy, PolicyShapeError

CHECKPOINT_FILE = "checkpoint.json"
_NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


class CheckpointError(Exception):
    """A checkpoint that is missing, unreadable or not what the learner writes."""


@dataclass
class SavedPolicy:
    """What evaluation needs from a checkpoint."""

    environment: str
    arguments: str  # JSON text, "" for none
    iteration: int
    timesteps: int
    policy: AnyPolicy  # Policy (an MLP) or ConvolutionalPolicy


@dataclass
class EpisodeResult:
    episode_return: float
    length: int


def load_checkpoint(location: str) -> SavedPolicy:
    """The policy of a run directory's ``checkpoint.json`` (or of that file itself)."""
    path = os.path.join(location, CHECKPOINT_FILE) if os.path.isdir(location) else location
    try:
        with open(path, encoding="utf-8") as f:
            state = json.load(f)
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CheckpointError(f"cannot read checkpoint {path}: {error}") from None
    except json.JSONDecodeError as error:
        raise CheckpointError(f"corrupt checkpoint {path}: not JSON ({error})") from None
    try:
        saved = _saved_policy(state)
    except (KeyError, TypeError, ValueError, PolicyShapeError) as error:
        reason = f"missing field '{error.args[0]}'" if isinstance(error, KeyError) else str(error)
        raise CheckpointError(f"corrupt checkpoint {path}: {reason}") from None
    if state["configuration"].get("modelXML") is not None:
        raise CheckpointError(f"cannot evaluate {path}: the run uses a custom MuJoCo model for {saved.environment}, "
                              f"which only `trpo eval` builds")
    return saved


def _saved_policy(state: Any) -> SavedPolicy:
    configuration = _object(state, "configuration")
    environment = _field(configuration, "environment", str, "configuration")
    arguments = configuration.get("environmentArguments")
    if arguments is not None and not isinstance(arguments, str):
        raise TypeError("configuration.environmentArguments is not a string of JSON text")
    normalize = _field(configuration, "normalizeObservations", bool, "configuration")
    policy = _object(state, "policy")
    network = _object(policy, "network", "policy")
    head_kind, head_size = _head(_object(policy, "head", "policy"))
    saved_policy: AnyPolicy
    if "architecture" in network:  # as Swift's AnyPolicy decoder tells the trunks apart
        saved_policy = _convolutional_policy(configuration, policy, network, head_kind, head_size)
    else:
        saved_policy = _dense_policy(state, policy, network, head_kind, head_size, normalize)
    return SavedPolicy(
        environment=environment, arguments=arguments or "",
        iteration=_field(state, "iteration", int), timesteps=_field(state, "timesteps", int), policy=saved_policy)


def _dense_policy(state: dict[str, Any], policy: dict[str, Any], network: dict[str, Any], head_kind: HeadKind,
                  head_size: int, normalize: bool) -> Policy:
    layer_sizes = _field(network, "layerSizes", list, "policy.network")
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in layer_sizes):
        raise TypeError("policy.network.layerSizes holds non-integers")
    if not layer_sizes or layer_sizes[-1] != head_size:
        raise ValueError(f"the network's outputs {layer_sizes[-1:]} do not fit the head's {head_size}")
    activation = _activation(network, "policy.network")
    parameters = _finite_numbers(network, "parameters", "policy.network")
    log_std = _finite_numbers(policy, "logStd", "policy")
    mean: Optional[list[float]] = None
    variance: Optional[list[float]] = None
    clip = 10.0
    if normalize:
        normalizer = _object(state, "normalizer")
        mean = _finite_numbers(normalizer, "mean", "normalizer")
        variance = _finite_numbers(normalizer, "variance", "normalizer")
        clip = _number(_field(normalizer, "clip", (int, float, str), "normalizer"), "normalizer.clip")
        if any(v < 0 for v in variance) or not clip > 0:
            raise ValueError("the normaliser holds a negative variance or a clip that is not positive")
    return Policy(layer_sizes, parameters, head_kind, log_std, activation, mean, variance, clip)


def _convolutional_policy(configuration: dict[str, Any], policy: dict[str, Any], network: dict[str, Any],
                          head_kind: HeadKind, head_size: int) -> ConvolutionalPolicy:
    """Swift's ``ConvolutionalPolicy``: ``network`` is a ``ConvolutionalNetwork``. The normaliser
    is not read: frames are never standardised."""
    where = "policy.network.architecture"
    architecture = _object(network, "architecture", "policy.network")
    image = _object(architecture, "input", where)
    height, width, channels = (_positive(image, key, f"{where}.input") for key in ("height", "width", "channels"))
    convolutions = _field(architecture, "convolutions", list, where)
    if not convolutions:
        raise ValueError(f"{where}.convolutions is empty (a convolutional network has at least one)")
    specs = []
    for index, convolution in enumerate(convolutions):
        name = f"{where}.convolutions[{index}]"
        if not isinstance(convolution, dict):
            raise TypeError(f"{name} is not a JSON object")
        specs.append(ConvolutionSpec(*(_positive(convolution, key, name) for key in ("filters", "kernel", "stride"))))
    hidden_sizes = _field(architecture, "hiddenSizes", list, where)
    if not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in hidden_sizes):
        raise ValueError(f"{where}.hiddenSizes holds sizes that are not positive integers")
    shape = (height, width, channels)
    built = ConvolutionalArchitecture(shape, tuple(specs), tuple(hidden_sizes), _activation(architecture, where))
    map_height, map_width = height, width
    for index, spec in enumerate(specs):
        if spec.kernel > map_height or spec.kernel > map_width:
            raise ValueError(f"convolution {index + 1} ({_kernel(spec)}) does not fit the {map_height}×{map_width} "
                             f"feature map it slides over, in the convolutional network {_describe(built)}")
        map_height = (map_height - spec.kernel) // spec.stride + 1
        map_width = (map_width - spec.kernel) // spec.stride + 1
    output_size = _positive(network, "outputSize", "policy.network")
    if output_size != head_size:
        raise ValueError(f"the network's {output_size} outputs do not fit the head's {head_size}")
    parameters = _finite_numbers(network, "parameters", "policy.network")
    expected = built.parameter_count(output_size)
    if len(parameters) != expected:
        raise ValueError(f"{len(parameters)} parameters for the convolutional network {_describe(built)} with "
                         f"{output_size} outputs (expected {expected})")
    spec_of_run = configuration.get("environmentSpec")
    if spec_of_run is not None:
        environment_spec = _object(configuration, "environmentSpec", "configuration")
        observed = _field(environment_spec, "observationShape", list, "configuration.environmentSpec")
        kind = _field(environment_spec, "observationType", str, "configuration.environmentSpec")
        if kind != "uint8" or observed != list(shape):
            raise ValueError(f"the policy is convolutional, on {_frames(shape)}, but the run's environment observes "
                             f"{kind} [{'×'.join(str(d) for d in observed)}] (configuration.environmentSpec)")
    log_std = _finite_numbers(policy, "logStd", "policy")
    return ConvolutionalPolicy(built, parameters, head_kind, output_size, log_std)


def _positive(container: dict[str, Any], key: str, where: str) -> int:
    value: int = _field(container, key, int, where)
    if value < 1:
        raise ValueError(f"{where}.{key} is {value} (expected a positive integer)")
    return value


def _activation(container: dict[str, Any], where: str) -> Activation:
    name = _field(container, "activation", str, where)
    if name not in ("tanh", "relu"):
        raise ValueError(f"{where}.activation is {name!r} (expected tanh or relu)")
    return Activation[name.upper()]


def _frames(shape: tuple[int, int, int]) -> str:
    return f"{shape[0]}×{shape[1]}×{shape[2]} uint8 frames"


def _kernel(spec: ConvolutionSpec) -> str:
    return f"{spec.filters} filters {spec.kernel}×{spec.kernel} stride {spec.stride}"


def _describe(architecture: ConvolutionalArchitecture) -> str:
    """E.g. ``on 84×84×4 frames: 8 filters 8×8 stride 4, 16 filters 4×4 stride 2, dense [128], relu``."""
    h, w, c = architecture.input
    layers = ", ".join(_kernel(spec) for spec in architecture.convolutions)
    return (f"on {h}×{w}×{c} frames: {layers}, dense {list(architecture.hidden_sizes)}, "
            f"{architecture.activation.name.lower()}")


def _field(container: dict[str, Any], key: str, kind: Any, where: str = "") -> Any:
    name = f"{where}.{key}" if where else key
    if key not in container:
        raise KeyError(name)
    value = container[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"{name} has the wrong type ({type(value).__name__})")
    return value


def _object(container: Any, key: str, where: str = "") -> dict[str, Any]:
    if not isinstance(container, dict):
        raise TypeError(f"{where or 'the checkpoint'} is not a JSON object")
    value: dict[str, Any] = _field(container, key, dict, where)
    return value


def _head(head: dict[str, Any]) -> tuple[HeadKind, int]:
    """Swift's encoding of ``PolicyHead``: one key naming the case, holding its labelled values."""
    if list(head) == ["categorical"]:
        return HeadKind.CATEGORICAL, _field(_object(head, "categorical", "policy.head"), "actions", int,
                                            "policy.head.categorical")
    if list(head) == ["gaussian"]:
        return HeadKind.GAUSSIAN, _field(_object(head, "gaussian", "policy.head"), "dimensions", int,
                                         "policy.head.gaussian")
    raise ValueError(f"policy.head is neither categorical nor gaussian: {one_line(json.dumps(head), 100)}")


def _number(value: Any, name: str) -> float:
    if isinstance(value, str):
        if value not in _NON_FINITE:
            raise ValueError(f"{name} holds the string {value!r}")
        return _NON_FINITE[value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} holds a {type(value).__name__}")
    return float(value)


def _finite_numbers(container: dict[str, Any], key: str, where: str) -> list[float]:
    name = f"{where}.{key}"
    values = [_number(v, name) for v in _field(container, key, list, where)]
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{name} holds non-finite values")
    return values


def run_episodes(saved: SavedPolicy, episodes: int, seed: int, stochastic: bool,
                 max_steps: Optional[int] = None, render: bool = False,
                 watch: Optional[Callable[[gymnasium.Env[Any, Any], int], None]] = None) -> list[EpisodeResult]:
    """Plays ``episodes`` episodes of the saved policy on a fresh copy of its environment, each
    to its end or ``max_steps`` steps. With ``render`` the copy is made with
    ``render_mode="rgb_array"``. ``watch(env, step)`` is called after each reset (step 0) and
    after each step (1, 2, …), e.g. to render the frame."""
    arguments = saved.arguments
    if render:
        keywords = parse_arguments(saved.arguments)
        keywords["render_mode"] = "rgb_array"
        arguments = json.dumps(keywords)
    env = make_environment(saved.environment, arguments)
    try:
        adapter = EnvironmentAdapter(env)
        check_policy(adapter.spec, saved.policy, saved.environment)
        policy_input = _policy_input(adapter, saved.policy, saved.environment)
        rng = np.random.default_rng(seed)
        results = []
        for k in range(episodes):
            observation, _ = env.reset(seed=seed + k)
            if watch:
                watch(env, 0)
            total, length, done = 0.0, 0, False
            while not done and (max_steps is None or length < max_steps):
                row = policy_input(observation)[None, :]
                action = saved.policy.sample(row, rng, deterministic=not stochastic)[0]
                observation, reward, terminated, truncated, info = env.step(adapter.action(action))
                total += float(reward)
                length += 1
                done = bool(terminated or truncated) and not episode_continues(terminated, truncated, info)
                if watch:
                    watch(env, length)
            results.append(EpisodeResult(total, length))
        return results
    finally:
        env.close()


def _policy_input(adapter: EnvironmentAdapter, policy: AnyPolicy, name: str) -> Callable[[Any], npt.NDArray[Any]]:
    """The conversion of the environment's observations to a row of the policy's inputs: flat
    float64 for an MLP (standardised by the policy itself), flat uint8 frames, as they are, for a
    convolutional policy, whose input shape must be the observations' (``check_policy`` has
    checked the element type and the size). SimulatorError otherwise."""
    if not isinstance(policy, ConvolutionalPolicy):
        return adapter.observation
    shape = adapter.spec.observation_shape
    frame = adapter.frame
    if shape != policy.architecture.input or frame is None:
        raise SimulatorError(f"the policy is convolutional, on {_frames(policy.architecture.input)}, but {name} "
                             f"observes {adapter.spec.observation_dtype.name.lower()} "
                             f"[{'×'.join(str(d) for d in shape)}]")
    return frame


def evaluate(checkpoint: str, episodes: int, seed: int, stochastic: bool, out: TextIO, as_json: bool = False) -> None:
    """``trpo-gym-worker evaluate``: prints each episode's return and their mean ± standard
    deviation, or with ``as_json`` one line ``{"returns": [...], "lengths": [...]}``. Raises
    CheckpointError or SimulatorError with the reason."""
    saved = load_checkpoint(checkpoint)
    if as_json:
        results = run_episodes(saved, episodes, seed, stochastic)
        print(json.dumps({"returns": [r.episode_return for r in results], "lengths": [r.length for r in results]}),
              file=out, flush=True)
        return
    arguments = f" {saved.arguments}" if saved.arguments else ""
    kind = "stochastic" if stochastic else "deterministic"
    print(f"{saved.environment}{arguments} iteration {saved.iteration} ({saved.timesteps:,} steps), {episodes} "
          f"{kind} episode{'' if episodes == 1 else 's'} (seeds {seed} … {seed + episodes - 1})", file=out, flush=True)
    results = run_episodes(saved, episodes, seed, stochastic)
    for k, result in enumerate(results, start=1):
        print(f"episode {k}: return {result.episode_return:.2f} ({result.length} steps)", file=out)
    returns = np.array([r.episode_return for r in results])
    print(f"return {returns.mean():.2f} ± {returns.std():.2f} over {len(results)} episodes "
          f"(min {returns.min():.2f}, max {returns.max():.2f})", file=out, flush=True)

