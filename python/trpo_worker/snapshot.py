"""Snapshots of an environment's full state, which the vine needs (docs/protocol.md §3.3).

The vine branches K times from every rollout-set state: it snapshots the state on a trunk and,
before every branch, restores it into one of the worker's environment copies (not necessarily
the one that took it). A restored environment must continue **bit-identically** to the original
given the same actions: same observations, rewards, terminations and time limits.

An environment is a chain of layers, the Gymnasium wrappers around its ``unwrapped`` core, and
every layer contributes its own state to a snapshot:

- **A layer that defines** ``snapshot() -> object`` **and** ``restore(state) -> None`` (methods of
  its class, see :class:`Snapshotable`) supplies its state itself. This is how you make your own
  environment snapshotable: define them on your environment class (or on a wrapper of yours
  that keeps state). ``snapshot()`` returns everything its later steps depend on (copies, not
  views of arrays it goes on changing); ``restore(state)`` must accept a state taken from any
  instance made the same way, and must not keep a reference into ``state`` that it later
  mutates (a snapshot is restored many times). They may return any Python object.
- **Gymnasium's own wrappers** that ``gymnasium.make`` adds: ``TimeLimit`` (its step count),
  ``OrderEnforcing`` (its has-reset flag) and ``PassiveEnvChecker`` (which of the first calls
  it has checked).
- **Gymnasium's MuJoCo environments** (``Hopper-v5``, ``HalfCheetah-v5``, …, every environment
  class in ``gymnasium.envs.mujoco``): MuJoCo's complete integration state,
  ``mj_getState(…, mjSTATE_INTEGRATION)`` (time, qpos, qvel, act, actuator history, the
  constraint solver's warm start, controls, applied forces, mocap poses, user data, plugin
  state, …). Quantities MuJoCo derives from that state (body poses, contacts, …) are
  recomputed with ``mj_forward`` and ``mj_rnePostConstraint`` on restore, and, so that the
  original continues exactly as a restored copy does, also when the snapshot is taken: after a
  step Gymnasium leaves them at the last substep's *start*, and some environments (Ant,
  Humanoid, Reacher, Pusher) read them before stepping. The dynamics do not depend on them
  (``mj_step`` recomputes them first), so this changes no trajectory, only such an
  environment's next reward in the last bits. Needs ``mujoco`` ≥ 3.0 (``mj_getState``).
- **Gymnasium's classic-control environments** (``CartPole``, ``Acrobot``, ``MountainCar``,
  ``MountainCarContinuous``, ``Pendulum``): their state attributes (``state``, and CartPole's
  ``steps_beyond_terminated``, Pendulum's ``last_u``).
- Every core that is a ``gymnasium.Env`` also has its ``np_random`` generator's state saved
  and restored (environments that draw from it while stepping, such as a noisy Acrobot, then
  repeat their noise too).

Any other layer (a wrapper or core class this module does not know and that does not define
the two methods) makes the environment not snapshotable: :func:`cannot_snapshot` says why.
Subclasses of the known classes are not trusted either, since they may keep state of their own;
a subclass of ``MujocoEnv`` can define ``snapshot``/``restore`` with :func:`mujoco_snapshot`
and :func:`mujoco_restore` plus its own attributes.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Protocol, Sequence

import gymnasium
import numpy as np
from gymnasium.envs.classic_control import (AcrobotEnv, CartPoleEnv, Continuous_MountainCarEnv, MountainCarEnv,
                                            PendulumEnv)
from gymnasium.wrappers import OrderEnforcing, PassiveEnvChecker, TimeLimit


class Snapshotable(Protocol):
    """What an environment (or wrapper) class defines to be snapshotable by itself."""

    def snapshot(self) -> object:
        """Everything later steps depend on, as an object this instance and its siblings (made
        the same way) can :meth:`restore`."""
        ...

    def restore(self, state: object) -> None:
        """Returns to ``state``, as taken by :meth:`snapshot` of this or a sibling instance."""
        ...


Snapshot = tuple[object, ...]
"""What :meth:`Snapshots.take` returns: one opaque state per layer of the environment."""


class SnapshotError(Exception):
    """The environment cannot snapshot and restore its state; the text says why."""


def defines_snapshot(layer: object) -> bool:
    """True when ``layer``'s class defines ``snapshot`` and ``restore`` (looked up on the class,
    so a wrapper does not seem to define what it would forward)."""
    kind = type(layer)
    return callable(getattr(kind, "snapshot", None)) and callable(getattr(kind, "restore", None))


# ------------------------------------------------------------------- layers

_Take = Callable[[], object]
_Restore = Callable[[object], None]


def _own_methods(layer: Any) -> tuple[_Take, _Restore]:
    return layer.snapshot, layer.restore


def _copied(value: object) -> object:
    """A copy of an attribute's value that later in-place changes cannot reach (arrays copied;
    numbers, tuples and None are immutable)."""
    return value.copy() if isinstance(value, np.ndarray) else value


def _attributes(layer: Any, names: Sequence[str]) -> tuple[_Take, _Restore]:
    def take() -> object:
        return tuple(_copied(getattr(layer, name)) for name in names)

    def restore(state: object) -> None:
        assert isinstance(state, tuple)
        for name, value in zip(names, state):
            setattr(layer, name, _copied(value))

    return take, restore


def _order_enforcing(layer: OrderEnforcing[Any, Any]) -> tuple[_Take, _Restore]:
    return _attributes(layer, ("_has_reset",))


def _time_limit(layer: TimeLimit[Any, Any]) -> tuple[_Take, _Restore]:
    return _attributes(layer, ("_elapsed_steps",))


def _passive_env_checker(layer: PassiveEnvChecker[Any, Any]) -> tuple[_Take, _Restore]:
    # Which first calls it has checked, and what it compares the next call's data with (so a
    # copy restored before it ever stepped runs the same checks as the original would).
    names = ("checked_reset", "checked_step", "checked_render", "checked_data_reuse", "_previous_data")
    return _attributes(layer, tuple(name for name in names if hasattr(layer, name)))


_WRAPPERS: dict[type, Callable[[Any], tuple[_Take, _Restore]]] = {
    TimeLimit: _time_limit,
    OrderEnforcing: _order_enforcing,
    PassiveEnvChecker: _passive_env_checker,
}


# The attributes that hold a classic-control environment's state (everything else is constant).
_CLASSIC_CONTROL: dict[type, tuple[str, ...]] = {
    CartPoleEnv: ("state", "steps_beyond_terminated"),
    AcrobotEnv: ("state",),
    MountainCarEnv: ("state",),
    Continuous_MountainCarEnv: ("state",),
    PendulumEnv: ("state", "last_u"),
}


def _is_gymnasium_mujoco(core: object) -> bool:
    """One of Gymnasium's own MuJoCo environment classes (not a subclass defined elsewhere)."""
    if not type(core).__module__.startswith("gymnasium.envs.mujoco."):
        return False
    try:
        from gymnasium.envs.mujoco.mujoco_env import MujocoEnv
    except ImportError:  # no mujoco package: then no MuJoCo environment exists either
        return False
    return isinstance(core, MujocoEnv)


def _mujoco_problem() -> Optional[str]:
    import mujoco
    if not hasattr(mujoco, "mj_getState"):
        return f"MuJoCo {mujoco.__version__} has no mj_getState (needs mujoco >= 3.0)"
    return None


def mujoco_snapshot(model: Any, data: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
    """MuJoCo's integration state of ``data`` (``mj_getState`` with ``mjSTATE_INTEGRATION``),
    after bringing its derived quantities up to date (``mj_forward``, ``mj_rnePostConstraint``)
    so that ``data`` continues exactly as a copy restored with :func:`mujoco_restore` does."""
    import mujoco
    mujoco.mj_forward(model, data)
    mujoco.mj_rnePostConstraint(model, data)
    spec = mujoco.mjtState.mjSTATE_INTEGRATION
    state = np.empty(mujoco.mj_stateSize(model, spec))
    mujoco.mj_getState(model, data, state, spec)
    return state


def mujoco_restore(model: Any, data: Any, state: np.ndarray[Any, np.dtype[np.float64]]) -> None:
    """Sets ``data`` to a state from :func:`mujoco_snapshot` (of any data of the same model)
    and recomputes the quantities derived from it."""
    import mujoco
    mujoco.mj_setState(model, data, state, mujoco.mjtState.mjSTATE_INTEGRATION)
    mujoco.mj_forward(model, data)
    mujoco.mj_rnePostConstraint(model, data)


def _mujoco(core: Any) -> tuple[_Take, _Restore]:
    model, data = core.model, core.data

    def take() -> object:
        return mujoco_snapshot(model, data)

    def restore(state: object) -> None:
        assert isinstance(state, np.ndarray)
        mujoco_restore(model, data, state)

    return take, restore


def _core(core: Any) -> tuple[_Take, _Restore] | str:
    """The core's own state (its methods, or a known class's), or why it has none."""
    name = type(core).__name__
    if defines_snapshot(core):
        return _own_methods(core)
    classic = _CLASSIC_CONTROL.get(type(core))
    if classic is not None:
        return _attributes(core, classic)
    if _is_gymnasium_mujoco(core):
        problem = _mujoco_problem()
        return problem if problem is not None else _mujoco(core)
    return f"{name} defines no snapshot()/restore() and is not an environment this worker knows how to snapshot"


def _generator(core: gymnasium.Env[Any, Any]) -> tuple[_Take, _Restore]:
    def take() -> object:
        return core.np_random.bit_generator.state

    def restore(state: object) -> None:
        assert isinstance(state, dict)
        core.np_random.bit_generator.state = state

    return take, restore


def _layers(env: Any) -> list[tuple[_Take, _Restore]] | str:
    layers: list[tuple[_Take, _Restore]] = []
    layer = env
    while isinstance(layer, gymnasium.Wrapper):
        if defines_snapshot(layer):
            layers.append(_own_methods(layer))
        else:
            known = _WRAPPERS.get(type(layer))
            if known is None:
                return (f"its wrapper {type(layer).__name__} may keep state and defines no snapshot()/restore()")
            layers.append(known(layer))
        layer = layer.env
    core = _core(layer)
    if isinstance(core, str):
        return core
    layers.append(core)
    if isinstance(layer, gymnasium.Env):
        layers.append(_generator(layer))
    return layers


# ------------------------------------------------------------------- API

def cannot_snapshot(env: object) -> Optional[str]:
    """Why ``env`` cannot snapshot and restore its state, or None when it can."""
    layers = _layers(env)
    return layers if isinstance(layers, str) else None


def can_snapshot(env: object) -> bool:
    """True when :class:`Snapshots` can snapshot and restore ``env`` (see the module's text)."""
    return cannot_snapshot(env) is None


class Snapshots:
    """Snapshots of one environment, and restores into it.

    Built once per environment (it looks up every layer's state once); :meth:`take` returns an
    opaque snapshot that :meth:`restore` of this or a sibling's ``Snapshots`` (same factory,
    same wrappers) accepts any number of times.
    """

    def __init__(self, env: object) -> None:
        layers = _layers(env)
        if isinstance(layers, str):
            raise SnapshotError(layers)
        self._take = [take for take, _ in layers]
        self._restore = [restore for _, restore in layers]

    def take(self) -> Snapshot:
        """The environment's state now."""
        return tuple(take() for take in self._take)

    def restore(self, snapshot: Snapshot) -> None:
        """Returns the environment to ``snapshot``."""
        if len(snapshot) != len(self._restore):
            raise SnapshotError(f"a snapshot of {len(snapshot)} layers for an environment of {len(self._restore)}")
        for restore, state in zip(self._restore, snapshot):
            restore(state)
