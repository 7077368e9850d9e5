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
- **Atari games** as :func:`trpo_worker.atari.make_atari` makes them (``gym:ALE/…``), layer by
  layer:

  - the core, ale-py's ``AtariEnv``: the emulator's state with ALE's random generator
    (``ale.cloneState(include_rng=True)``: the console — CPU, RAM, TIA, RIOT, cartridge bank —,
    the game's score, lives and terminal flag, the frame counters that the episode's frame
    limit counts, the paddles, and the Mersenne twister that draws v5's sticky actions), plus
    what ALE's own state leaves out: the action the emulator applied last, which a sticky
    action repeats. ale-py keeps that one in C++ only, so the first look at a core (this
    module's, :func:`cannot_snapshot` included) puts :class:`StickyActions` in front of its
    ``ale``: it follows every ``act`` with a replica of ALE's generator, and a restore whose
    first frame would repeat the applied action first makes the copy apply the snapshot's one
    (see the class). The Python side of ``AtariEnv`` keeps nothing else that steps read but its
    ``np_random`` (a stochastic frame skip), saved as every core's;
  - ``AtariPreprocessing`` (and its subclass :class:`trpo_worker.atari.AtariFrameSkip`): its two frame buffers (max-pooled into the next observation, and
    what a step that ends early returns), ``lives`` and ``game_over``;
  - ``FrameStackObservation`` (any environment's): its queue of the last frames and its padding;
  - ``AtariLives`` (:mod:`trpo_worker.atari`): the lives it saw last;
  - ``ChannelsLast`` (:mod:`trpo_worker.atari`), which keeps nothing.

  A restored copy continues as the original does: the same frames, rewards, terminations,
  truncations and ``info`` (lives, frame numbers) for the same actions, sticky repeats included
  (the snapshot carries ALE's generator, so the branches of a state repeat the same frames: common
  random numbers). A core that was stepped before this module first saw it (not the vine's
  copies, which it sees when they are made) cannot say which action it applied last until a
  frame draws a fresh one (three in four frames with v5's 0.25), and refuses a snapshot until
  then.
- Every core that is a ``gymnasium.Env`` also has its ``np_random`` generator's state saved
  and restored (environments that draw from it while stepping, such as a noisy Acrobot, then
  repeat their noise too).

:meth:`Snapshots.reseed` gives an environment fresh random numbers instead (the vine without
common random numbers): a new ``np_random`` for its core, and for an Atari core a new state of
ALE's generator too.

Any other layer (a wrapper or core class this module does not know and that does not define
the two methods) makes the environment not snapshotable: :func:`cannot_snapshot` says why.
Subclasses of the known classes are not trusted either, since they may keep state of their own;
a subclass of ``MujocoEnv`` can define ``snapshot``/``restore`` with :func:`mujoco_snapshot`
and :func:`mujoco_restore` plus its own attributes.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Optional, Protocol, Sequence

import gymnasium
import numpy as np
from gymnasium.envs.classic_control import (AcrobotEnv, CartPoleEnv, Continuous_MountainCarEnv, MountainCarEnv,
                                            PendulumEnv)
from gymnasium.wrappers import (AtariPreprocessing, FrameStackObservation, OrderEnforcing, PassiveEnvChecker,
                                TimeLimit)

from .atari import AtariFrameSkip, AtariLives, ChannelsLast


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


def _atari_preprocessing(layer: AtariPreprocessing) -> tuple[_Take, _Restore]:
    # Its two frame buffers (the last two frames of a step, max-pooled into the observation; a
    # step that ends early returns what they held), written in place by ALE, so restored in place.
    take_attributes, restore_attributes = _attributes(layer, ("lives", "game_over"))

    def take() -> object:
        return tuple(buffer.copy() for buffer in layer.obs_buffer), take_attributes()

    def restore(state: object) -> None:
        assert isinstance(state, tuple)
        buffers, attributes = state
        for buffer, saved in zip(layer.obs_buffer, buffers):
            np.copyto(buffer, saved)
        restore_attributes(attributes)

    return take, restore


def _frame_stack(layer: FrameStackObservation[Any, Any, Any]) -> tuple[_Take, _Restore]:
    # The queue of the last frames (a fresh deque on restore: the wrapper appends to it) and the
    # padding a reset repeats ("reset" padding: the last reset's observation).
    def take() -> object:
        return tuple(_copied(frame) for frame in layer.obs_queue), _copied(layer.padding_value)

    def restore(state: object) -> None:
        assert isinstance(state, tuple)
        frames, padding = state
        layer.obs_queue = deque((_copied(frame) for frame in frames), maxlen=layer.stack_size)
        layer.padding_value = _copied(padding)

    return take, restore


def _stateless(layer: object) -> tuple[_Take, _Restore]:
    return _attributes(layer, ())


_WRAPPERS: dict[type, Callable[[Any], tuple[_Take, _Restore]]] = {
    TimeLimit: _time_limit,
    OrderEnforcing: _order_enforcing,
    PassiveEnvChecker: _passive_env_checker,
    AtariPreprocessing: _atari_preprocessing,
    AtariFrameSkip: _atari_preprocessing,
    FrameStackObservation: _frame_stack,
    AtariLives: lambda layer: _attributes(layer, ("lives",)),
    ChannelsLast: _stateless,
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


# ------------------------------------------------------------------- the Arcade Learning Environment

_ALE_TRUE = b"\xb2\xfa\xb1\xfa"  # how ALE's serializer writes true (0xFAB1FAB2, little-endian)
_MT_WORDS = 624  # std::mt19937's state: 624 words and a position
PRIMING_LIMIT = 10_000  # frames a restore may take to make a copy apply an action (each: ≥ 3 in 4 with p = 0.25)


def _is_ale(core: object) -> bool:
    """ale-py's own ``AtariEnv`` (not a subclass defined elsewhere)."""
    if type(core).__module__ != "ale_py.env":
        return False
    try:
        from ale_py.env import AtariEnv
    except ImportError:
        return False
    return type(core) is AtariEnv


def _ale_layout(serialized: bytes) -> tuple[int, int]:
    """Where ALE's random generator sits in a serialized ``ALEState`` (include_rng=True): the
    offsets of its length field and of the end of its text. ``ALEState.serialize()`` is six
    ints, the emulator's state as a string (an int length, then bytes) and two ints; the
    emulator's state ends with a bool (true: a generator follows) and the generator as a string,
    ``std::mt19937``'s text: 624 words and the position, separated by spaces."""
    if len(serialized) < 36:
        raise SnapshotError("ale-py's state is too short to hold a random generator")
    inner = int.from_bytes(serialized[24:28], "little")
    end = 28 + inner
    if end + 8 != len(serialized):
        raise SnapshotError("ale-py's state has a layout this worker does not know")
    run = end - len(serialized[28:end].rstrip(b"0123456789 ")) - 28  # digits and spaces at the end
    for length in range(run, max(run - 4, -1), -1):  # the text, perhaps minus length bytes that look like digits
        start = end - length
        if start - 8 >= 28 and int.from_bytes(serialized[start - 4:start], "little") == length \
                and serialized[start - 8:start - 4] == _ALE_TRUE:
            return start - 4, end
    raise SnapshotError("ale-py's state holds no random generator this worker can read")


def ale_random_state(serialized: bytes) -> tuple[np.ndarray[Any, np.dtype[np.uint32]], int]:
    """ALE's random generator in a serialized ``ALEState``: the Mersenne twister's 624 words and
    its position (the state NumPy's ``MT19937`` takes)."""
    start, end = _ale_layout(serialized)
    numbers = np.fromstring(serialized[start + 4:end], dtype=np.uint64, sep=" ")  # text mode: not deprecated
    if numbers.size != _MT_WORDS + 1 or numbers.max(initial=0) >= 2**32:
        raise SnapshotError(f"ale-py's random generator is not {_MT_WORDS} words and a position")
    return numbers[:_MT_WORDS].astype(np.uint32), int(numbers[_MT_WORDS])


def with_ale_random_state(serialized: bytes, key: np.ndarray[Any, Any], position: int) -> bytes:
    """A serialized ``ALEState`` with its random generator replaced by (``key``, ``position``)."""
    start, end = _ale_layout(serialized)
    text = (" ".join(str(int(word)) for word in key) + f" {int(position)}").encode("ascii")
    inner = serialized[28:start] + len(text).to_bytes(4, "little") + text
    return serialized[:24] + len(inner).to_bytes(4, "little") + inner + serialized[end:]


def _action_number(action: Any) -> int:
    """An ALE action (ale-py's ``Action`` enum, or its number) as its number."""
    return int(getattr(action, "value", action))


def _mt_state(key: np.ndarray[Any, Any], position: int) -> Any:
    """NumPy's ``MT19937.state`` for a Mersenne twister's words and position."""
    return {"bit_generator": "MT19937", "state": {"key": key, "pos": position}}


AleSnapshot = tuple[Any, np.ndarray[Any, np.dtype[np.uint32]], int, tuple[int, float], bool]
"""An Atari core's snapshot: ALE's state (with its generator), that generator's words and
position, the action (and paddle strength) the emulator applied last, and whether the first
frame after it repeats that action."""


class StickyActions:
    """Stands in for an ``AtariEnv``'s ``ale`` (ale-py's ``ALEInterface``, to which it forwards
    everything) and knows what ALE's own snapshots leave out.

    With sticky actions (v5: ``repeat_action_probability`` 0.25) every emulated frame draws a
    uniform from ALE's random generator and, when it is below the probability, repeats the
    action the emulator applied at the frame before instead of taking the new one. That
    applied action lives in ALE's C++ environment only: ``cloneState`` does not save it and
    ``restoreState`` leaves the copy's own, so a copy restored from another's snapshot would
    repeat *its* last action where the original repeats the original's.

    This class keeps it: every ``act`` advances a replica of ALE's generator (NumPy's
    ``MT19937``, synchronised from the serialized state, two draws per frame as ALE draws them:
    player A's, then player B's) and records the action when player A's draw takes it;
    ``reset_game`` and ``loadROM`` set it to NOOP as ALE does. :meth:`take` saves it with the
    state; :meth:`restore` — when the snapshot's first frame would repeat it and the copy's
    applied action differs — restores the state and acts the snapshot's action until a frame
    takes it, then restores the state again (the emulator and the generator come back, the
    applied action stays). :meth:`take` checks the replica against ALE's real generator, so a
    future ale-py that draws differently fails loudly instead of restoring wrongly.
    """

    def __init__(self, ale: Any) -> None:
        import ale_py
        self._ale = ale
        self._noop = _action_number(ale_py.Action.NOOP)
        self._bits = np.random.MT19937(0)
        self._scratch = np.random.MT19937(0)
        #: The action (an ALE action number) and paddle strength the emulator applied last; None
        #: while unknown (installed after steps, until a frame takes a fresh action).
        self.applied: Optional[tuple[int, float]] = (
            (self._noop, 1.0) if ale.getEpisodeFrameNumber() == 0 else None)
        self.primings = 0  #: restores that had to make the emulator apply the snapshot's action
        self._loaded()

    def __getattr__(self, name: str) -> Any:  # everything else is the ALEInterface's
        ale = self.__dict__.get("_ale")
        if ale is None:
            raise AttributeError(name)
        return getattr(ale, name)

    def _loaded(self) -> None:
        """Reads the settings a loaded ROM's environment took, and ALE's generator."""
        self._probability = float(self._ale.getFloat("repeat_action_probability"))
        self._threshold = self._probability * 2.0**32  # draw / 2³² ≥ p, in integers
        self._frames = max(1, int(self._ale.getInt("frame_skip")))
        self._sync()

    def _sync(self) -> None:
        key, position = ale_random_state(self._ale.cloneState(include_rng=True).serialize())
        self._bits.state = _mt_state(key, position)

    def _action(self, action: Any, strength: float) -> tuple[int, float]:
        number = _action_number(action)
        # NOOP moves nothing whatever its strength (only paddles read one).
        return (number, 1.0) if number == self._noop else (number, float(np.float32(strength)))

    # ALEInterface's methods that change what this class follows.

    def act(self, action: Any, paddle_strength: float = 1.0) -> Any:
        reward = self._ale.act(action, paddle_strength)
        draws = self._bits.random_raw(2 * self._frames)
        if any(int(draw) >= self._threshold for draw in draws[::2]):
            self.applied = self._action(action, paddle_strength)
        return reward

    def reset_game(self) -> None:
        self._ale.reset_game()
        self.applied = (self._noop, 1.0)

    def loadROM(self, rom: Any) -> None:  # noqa: N802 (ALE's name)
        self._ale.loadROM(rom)
        self.applied = (self._noop, 1.0)
        self._loaded()

    def restoreState(self, state: Any) -> None:  # noqa: N802
        self._ale.restoreState(state)
        self._sync()

    def restoreSystemState(self, state: Any) -> None:  # noqa: N802
        self._ale.restoreSystemState(state)
        self._sync()

    # Snapshots.

    def _restore(self, state: Any, key: np.ndarray[Any, Any], position: int) -> None:
        self._ale.restoreState(state)
        self._bits.state = _mt_state(key, position)

    def take(self) -> AleSnapshot:
        """The emulator's state, its generator and the action it applied last."""
        applied = self.applied
        if applied is None:
            raise SnapshotError("the Atari environment was stepped before the worker could follow its sticky actions, "
                                "and no frame has taken a fresh action since: the action a sticky frame would repeat "
                                "is unknown")
        state = self._ale.cloneState(include_rng=True)
        key, position = ale_random_state(state.serialize())
        replica = self._bits.state["state"]
        if replica["pos"] != position or not np.array_equal(replica["key"], key):
            raise SnapshotError("ALE's random generator is not where this worker's replica of it is: this ale-py "
                                "draws its sticky actions differently from 0.12's two draws per frame")
        self._scratch.state = _mt_state(key, position)
        repeats = int(self._scratch.random_raw()) < self._threshold
        return state, key, position, applied, repeats

    def restore(self, snapshot: AleSnapshot) -> None:
        """Returns to ``snapshot`` (taken by this or a sibling's :meth:`take`)."""
        state, key, position, applied, repeats = snapshot
        if repeats and self.applied != applied:
            self.primings += 1
            self._restore(state, key, position)
            for _ in range(PRIMING_LIMIT):
                self.act(applied[0], applied[1])
                if self.applied == applied:
                    break
            else:
                raise SnapshotError(f"ALE took no fresh action in {PRIMING_LIMIT} frames")
        self._restore(state, key, position)

    def reseed(self, seed: np.random.SeedSequence) -> None:
        """Gives ALE's generator a fresh state drawn from ``seed`` (the emulator stays)."""
        import ale_py
        fresh = np.random.MT19937(seed).state["state"]
        serialized = with_ale_random_state(self._ale.cloneState(include_rng=True).serialize(), fresh["key"],
                                           fresh["pos"])
        self._restore(ale_py.ALEState(serialized), fresh["key"], fresh["pos"])


def sticky_actions(core: Any) -> StickyActions:
    """The :class:`StickyActions` in front of an ``AtariEnv``'s ``ale``, put there if need be."""
    ale = core.ale
    if not isinstance(ale, StickyActions):
        ale = core.ale = StickyActions(ale)
    return ale


def _atari(core: Any) -> tuple[_Take, _Restore]:
    tracker = sticky_actions(core)

    def restore(state: object) -> None:
        assert isinstance(state, tuple)
        tracker.restore(state)

    return tracker.take, restore


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
    if _is_ale(core):
        return _atari(core)
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
        core = env
        while isinstance(core, gymnasium.Wrapper):
            core = core.env
        self._core = core
        self._ale = sticky_actions(core) if _is_ale(core) else None

    def take(self) -> Snapshot:
        """The environment's state now."""
        return tuple(take() for take in self._take)

    def restore(self, snapshot: Snapshot) -> None:
        """Returns the environment to ``snapshot``."""
        if len(snapshot) != len(self._restore):
            raise SnapshotError(f"a snapshot of {len(snapshot)} layers for an environment of {len(self._restore)}")
        for restore, state in zip(self._restore, snapshot):
            restore(state)

    def reseed(self, seed: np.random.SeedSequence) -> None:
        """Fresh random numbers from ``seed`` instead of the ones a restored snapshot brought: a
        new ``np_random`` for a ``gymnasium.Env`` core (``np.random.default_rng(seed)``) and, for
        an Atari core, a new state of ALE's generator (from ``seed``'s first child)."""
        if isinstance(self._core, gymnasium.Env):
            self._core.np_random = np.random.default_rng(seed)
        if self._ale is not None:
            self._ale.reseed(seed.spawn(1)[0])
