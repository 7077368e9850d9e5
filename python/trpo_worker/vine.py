"""Vine collection (TRPO paper §5.2) over E copies of the run's environment.

One collection of n rollout-set states (docs/protocol.md §3.3 "Vine collections", §3.9):

1. **Rollout set first.** n of the E·L trunk positions (copy e, step t) are drawn uniformly
   without replacement before anything is simulated, so the trunks only snapshot the chosen
   states.
2. **Trunks.** Every copy starts a fresh episode and runs L = trunkSteps steps of π_old, the
   copies in lockstep with one batched forward pass per step; an episode that ends is reset
   and the trunk goes on. At each chosen position the raw observation and a snapshot
   (:mod:`trpo_worker.snapshot`) are kept. The trunks themselves are kept as a chunk's
   trajectories (copy after copy; a trunk's last row is cut, with its bootstrap observation),
   for the learner's value function.
3. **Actions.** At every rollout-set state K actions: each action once for a discrete space with
   at most K actions (eq. 15, estimator 0; K becomes the action count), otherwise K draws from
   π_old (eq. 16, estimator 1). log π_old of each comes from a double-precision forward pass.
4. **Branches.** For each (n, k): restore s_n's snapshot into a copy, take a_{n,k}, then follow
   π_old for at most T − 1 more steps, stopping at termination or truncation (the time limit
   is part of the snapshot). Each branch reports its return Σ_{t<L} γᵗ r_t with the parameters'
   vine γ (nothing bootstrapped: the learner adds γᴸ V(s_L) to a cut branch), its length L, its
   end (terminated, or cut by T or the time limit) and, when cut, the observation s_L. The E
   copies run E branches at a time in lockstep; a copy whose branch ends starts the next.

The copies are the single-path sampler's (:class:`~trpo_worker.sampler.EnvironmentCopies`): made
from the run's environment name and arguments (built-in ids, ``gym:ID``, ``py:MODULE:FACTORY``),
their observations converted and their actions clipped by the same adapter, so a vine chunk's
states are the observations a single-path chunk of the same environment would carry.

**Frames.** With a convolutional policy (:class:`~trpo_worker.policy.ConvolutionalPolicy`, e.g.
on an Atari game, ``gym:ALE/Pong-v5``) every observation is kept as the environment's uint8
frame, end to end — states, trunks, bootstrap and cut observations — never widened to float64
(a trunk of 1,000 steps on 8 copies of 84×84×4 frames is 226 MB as bytes, 1.8 GB as float64),
and the chunk carries them as such (a pixel vine chunk, docs/protocol.md §3.9 flag bit 0). The
network runs in float32, as the Swift sampling evaluator does, for the trunks and the
continuations; the first actions' log π_old (and the draws of estimator 1) come from the same
network in float64.

**Common random numbers.** With them, every branch of state n draws its continuation's action
noise from its own generator on ``SeedSequence([seed, stream, BRANCH_TAG, collection, n])``, and
finds the environment's random generators as the snapshot left them (its ``np_random``; for an
Atari game also ALE's generator, which draws v5's sticky actions): the K branches see the same
numbers in the same order and differ only through their first action. Without them, branch k
uses ``[…, n, k]`` for its action noise and reseeds the environment's generators from it too
(:meth:`Snapshots.reseed <trpo_worker.snapshot.Snapshots.reseed>`). For a state's branches to
agree bit for bit, a branch's forward passes must not depend on which other branches share its
batch, so the continuation evaluates the network row by row
(:meth:`~trpo_worker.policy.StochasticPolicy.row_forward`).

Other streams (all on ``SeedSequence``, all with the collection index, so a collection depends
only on (seed, stream, collection) and the policy): the rollout set ``[seed, stream, SET_TAG,
collection]``; the trunk actions ``[seed, stream, TRUNK_TAG, collection]`` (one generator for
the batch); copy e's j-th trunk reset ``[seed, stream, e, RESET_TAG, collection, j]``; the drawn
first actions ``[seed, stream, FIRST_TAG, collection]``. These are not the Swift sampler's
streams (the tags are its tags), so a Python worker's collections differ from a Swift worker's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from .codec import End, F64Array, ObservationArray, Trajectories, U8Array, U32Array, VineSettings
from .environments import SimulatorError
from .policy import AnyPolicy, ConvolutionalPolicy
from .sampler import EnvironmentCopies, join_copies
from .snapshot import Snapshot, Snapshots, cannot_snapshot

RESET_TAG = 0x7672_6573_6574_0000  # "vreset"
TRUNK_TAG = 0x7674_7275_6E6B_0000  # "vtrunk"
SET_TAG = 0x7673_6574_0000_0000  # "vset"
FIRST_TAG = 0x7666_6972_7374_0000  # "vfirst"
BRANCH_TAG = 0x7662_7261_6E63_6800  # "vbranch"

ENUMERATED_ACTIONS = 0  # estimator 0: eq. 15, every action of a small discrete space once
IMPORTANCE_SAMPLED = 1  # estimator 1: eq. 16, K actions drawn from π_old

NOISE_BLOCK = 64  # continuation steps of policy noise drawn at a time per branch


@dataclass
class VineData:
    """One collection: what a vine chunk (docs/protocol.md §3.9) carries besides its header."""

    states: ObservationArray  # [N, observationSize], raw: float64, or uint8 frames
    actions: F64Array  # [N·K, actionWidth], state after state; a discrete action is its index
    branch_returns: F64Array  # [N·K], Σ_{t<L} γᵗ r_t, nothing bootstrapped
    log_probabilities: F64Array  # [N·K], log π_old(a | s)
    branch_lengths: U32Array  # [N·K], L ≥ 1
    branch_ends: U8Array  # [N·K], End.TERMINATED or End.TRUNCATED (cut by T or the time limit)
    cut_observations: ObservationArray  # [cut branches, observationSize], s_L of each cut branch in branch order
    actions_per_state: int  # K
    estimator: int  # ENUMERATED_ACTIONS or IMPORTANCE_SAMPLED
    trunks: Trajectories  # the trunks, copy after copy; their episode returns are the finished trunk episodes

    @property
    def state_count(self) -> int:
        return int(self.states.shape[0])

    @property
    def pixels(self) -> bool:
        """Whether the observations are uint8 frames (a pixel vine chunk)."""
        return bool(self.states.dtype == np.uint8)

    @property
    def trunk_steps(self) -> int:
        """Simulator steps spent on trunks."""
        return self.trunks.rows

    @property
    def branch_steps(self) -> int:
        """Simulator steps spent on branches, their first steps included."""
        return int(self.branch_lengths.sum(dtype=np.int64))

    @property
    def episode_returns(self) -> F64Array:
        return self.trunks.episode_returns

    @property
    def episode_lengths(self) -> U32Array:
        return self.trunks.episode_lengths


@dataclass
class Branches:
    """What the branch phase returns: per branch (state after state) its return, length, end and,
    for the cut ones, the observation s_L; and the simulator steps it took."""

    returns: F64Array
    lengths: U32Array
    ends: U8Array
    cut_observations: ObservationArray
    steps: int


def seed_of(*path: int) -> int:
    """A reset seed (for ``env.reset(seed=…)``) derived from a stream path."""
    return int(np.random.SeedSequence(list(path)).generate_state(1)[0])


def generator(*path: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(list(path)))


def fill_noise(rng: np.random.Generator, out: F64Array) -> None:
    """Fills ``out`` in place with a policy's action noise
    (:meth:`~trpo_worker.policy.StochasticPolicy.noise`): uniforms for a categorical head
    (``[rows]``), standard normals for a Gaussian one (``[rows × dimension]``)."""
    if out.ndim == 1:
        rng.random(out=out)
    else:
        rng.standard_normal(out=out)


class VineSampler(EnvironmentCopies):
    """E copies of an environment that can snapshot its state, collecting vine batches.

    The copies are made from ``environment_id`` with the keyword arguments ``arguments_json``
    (the welcome's). Load a policy with :meth:`load`, then :meth:`collect`: the k-th collection
    after a load uses collection index ``collection + k·2³²`` (mod 2⁶⁴), as docs/protocol.md
    §3.3 says. Observations are float64, or uint8 frames while a convolutional policy is loaded
    (:attr:`pixels`).
    """

    def __init__(self, environment_id: str, copies: int, seed: int, stream: int, settings: VineSettings,
                 arguments_json: str = "") -> None:
        super().__init__(environment_id, copies, arguments_json)
        why = next((reason for reason in map(cannot_snapshot, self.envs) if reason is not None), None)
        if why is not None:
            self.close()
            raise SimulatorError(f"the vine needs an environment that can snapshot and restore its state; "
                                 f"{environment_id} cannot ({why}; implement snapshot()/restore(), see "
                                 f"docs/environments.md)")
        self.snapshots = [Snapshots(env) for env in self.envs]
        self.seed = seed
        self.stream = stream
        self.settings = settings
        if self.discrete and self.action_count <= settings.actions_per_state:
            self.actions_per_state, self.estimator = self.action_count, ENUMERATED_ACTIONS
        else:
            self.actions_per_state, self.estimator = settings.actions_per_state, IMPORTANCE_SAMPLED
        self.policy: Optional[AnyPolicy] = None
        self.exact: Optional[AnyPolicy] = None  # the policy in double precision, for the first actions
        self.first_collection = 0
        self.collections_made = 0
        # Workspace: each copy's current observation; for the branch running on each copy, its
        # block of continuation noise and how many rows of it it has used.
        self.observations: ObservationArray = np.zeros((copies, self.observation_size))
        block = max(1, min(settings.rollout_length - 1, NOISE_BLOCK))
        self.noise = np.zeros((copies, block) if self.discrete else (copies, block, self.action_width))
        self.noise_used = np.zeros(copies, dtype=np.intp)
        self.all_copies = np.arange(copies)

    @property
    def maximum_states(self) -> int:
        """The largest rollout set one collection can draw: every trunk state, E·L."""
        return self.copies * self.settings.trunk_steps

    @property
    def pixels(self) -> bool:
        """Whether the observations are kept (and chunks carry them) as uint8 frames."""
        return bool(self.observations.dtype == np.uint8)

    def load(self, policy: AnyPolicy, collection: int) -> None:
        """Switches to a policy version whose first collection has index ``collection``;
        SimulatorError for a policy that does not fit the environment (a convolutional policy
        needs uint8 observations of its frames' size, and then the observations are kept as
        such)."""
        self.check(policy)
        pixels = isinstance(policy, ConvolutionalPolicy)
        if pixels:
            frame = self.adapter.frame
            if frame is None:  # check_policy refuses a convolutional policy first
                raise SimulatorError(f"{self.environment_id}'s observations are not uint8 frames")
            self.observe = frame
        else:
            self.observe = self.adapter.observation
        if pixels != self.pixels:
            shape = (self.copies, self.observation_size)
            self.observations = np.zeros(shape, dtype=np.uint8) if pixels else np.zeros(shape)
        self.policy = policy
        self.exact = policy.in_double_precision() if isinstance(policy, ConvolutionalPolicy) else policy
        self.first_collection = collection
        self.collections_made = 0

    def collect(self, states: int, interrupt: Optional[Callable[[], bool]] = None,
                interrupt_every: int = 16) -> Optional[VineData]:
        """One collection with a rollout set of ``states`` states (1 … :attr:`maximum_states`);
        None when ``interrupt()``, asked every ``interrupt_every`` lockstep steps of the trunks
        and of the branches, returns True. The collection index advances either way."""
        policy = self.policy
        if policy is None:
            raise RuntimeError("no policy loaded")
        if not 1 <= states <= self.maximum_states:
            raise ValueError(f"a rollout set of {states} states does not fit {self.maximum_states} trunk states")
        collection = (self.first_collection + (self.collections_made << 32)) % 2**64
        self.collections_made += 1
        trunks = self._trunks(policy, collection, states, interrupt, interrupt_every)
        if trunks is None:
            return None
        observed, snapshots, trunk_data = trunks
        exact = self.exact
        assert exact is not None
        actions, log_probabilities = self._first_actions(exact, collection, observed)
        branches = self.branches(collection, snapshots, actions, interrupt, interrupt_every)
        if branches is None:
            return None
        if not self.pixels:  # frames are bytes, finite by construction
            self._check_finite("the observation", observed, "observations must be finite")
            self._check_finite("the observation", trunk_data.observations, "observations must be finite")
            self._check_finite("the observation", trunk_data.bootstrap_observations, "observations must be finite")
            self._check_finite("the observation", branches.cut_observations, "observations must be finite")
        self._check_finite("the reward", trunk_data.rewards, "rewards must be finite")
        self._check_finite("rewards whose discounted sum over a branch is", branches.returns, "rewards must be finite")
        self._check_finite("rewards whose sum over an episode is", trunk_data.episode_returns, "rewards must be finite")
        return VineData(states=observed, actions=actions, branch_returns=branches.returns,
                        log_probabilities=log_probabilities, branch_lengths=branches.lengths,
                        branch_ends=branches.ends, cut_observations=branches.cut_observations,
                        actions_per_state=self.actions_per_state, estimator=self.estimator, trunks=trunk_data)

    # ------------------------------------------------------------ phases

    def _trunks(self, policy: AnyPolicy, collection: int, states: int, interrupt: Optional[Callable[[], bool]],
                interrupt_every: int) -> Optional[tuple[ObservationArray, list[Snapshot], Trajectories]]:
        """Runs every copy's trunk; returns the rollout set's raw observations and snapshots
        (in trunk-position order) and the trunks as trajectories, or None if interrupted."""
        E, L = self.copies, self.settings.trunk_steps
        seed, stream = self.seed, self.stream
        chosen = np.sort(generator(seed, stream, SET_TAG, collection).choice(E * L, size=states, replace=False))
        marks: dict[int, list[tuple[int, int]]] = {}  # step t → (copy, rollout-set row) snapshotted there
        for row, position in enumerate(chosen.tolist()):
            copy, t = divmod(position, L)
            marks.setdefault(t, []).append((copy, row))
        obs, to_actions, to_observation = self.observations, self.adapter.actions, self.observe
        kept = obs.dtype  # float64, or uint8 frames
        observed = np.zeros((states, self.observation_size), dtype=kept)
        snapshots: list[Snapshot] = [()] * states
        rng = generator(seed, stream, TRUNK_TAG, collection)
        trunk_obs = np.zeros((E, L, self.observation_size), dtype=kept)
        trunk_act = np.zeros((E, L, self.action_width))
        trunk_rew = [[0.0] * L for _ in range(E)]
        trunk_ends = np.zeros((E, L), dtype=np.uint8)
        bootstrap: dict[tuple[int, int], ObservationArray] = {}
        episodes = [0] * E
        episode_returns = [0.0] * E
        episode_lengths = [0] * E
        returns: list[float] = []
        lengths: list[int] = []

        def reset(e: int) -> None:
            obs[e] = self._reset(e, seed_of(seed, stream, e, RESET_TAG, collection, episodes[e]))
            episodes[e] += 1
            episode_returns[e] = 0.0
            episode_lengths[e] = 0

        for e in range(E):
            reset(e)
        for t in range(L):
            if interrupt is not None and t > 0 and t % interrupt_every == 0 and interrupt():
                return None
            for e, row in marks.get(t, ()):
                observed[row] = obs[e]
                snapshots[row] = self.snapshots[e].take()
            sampled = policy.sample(obs, rng)
            trunk_obs[:, t] = obs
            trunk_act[:, t] = sampled
            env_actions = to_actions(sampled)
            for e in range(E):
                next_obs, reward, terminated, truncated, continues = self._step(e, env_actions[e])
                trunk_rew[e][t] = reward
                episode_returns[e] += reward
                episode_lengths[e] += 1
                if continues:
                    trunk_ends[e, t] = End.TERMINATED
                    obs[e] = to_observation(next_obs)
                elif terminated or truncated:
                    if terminated:
                        trunk_ends[e, t] = End.TERMINATED
                    else:
                        trunk_ends[e, t] = End.TRUNCATED
                        bootstrap[(e, t)] = to_observation(next_obs)
                    returns.append(episode_returns[e])
                    lengths.append(episode_lengths[e])
                    reset(e)
                else:
                    obs[e] = to_observation(next_obs)
                    if t == L - 1:  # the trunk's end cuts this copy's trajectory
                        trunk_ends[e, t] = End.TRUNCATED
                        bootstrap[(e, t)] = obs[e].copy()
        trunks = join_copies(trunk_obs, trunk_act, trunk_rew, trunk_ends, bootstrap, returns, lengths, [L] * E)
        return observed, snapshots, trunks

    def _first_actions(self, policy: AnyPolicy, collection: int, states: ObservationArray
                       ) -> tuple[F64Array, F64Array]:
        """The K actions of every rollout-set state, ``[N·K × actionWidth]``, and their log π_old,
        from ``policy`` (the loaded one in double precision)."""
        k = self.actions_per_state
        outputs = np.repeat(policy.forward(states), k, axis=0)
        if self.estimator == ENUMERATED_ACTIONS:
            actions: F64Array = np.tile(np.arange(k, dtype=np.float64), states.shape[0]).reshape(-1, 1)
        else:
            rng = generator(self.seed, self.stream, FIRST_TAG, collection)
            actions = policy.draw(outputs, policy.noise(rng, outputs.shape[0]))
        return actions, policy.log_probabilities(outputs, actions)

    def branches(self, collection: int, snapshots: list[Snapshot], actions: F64Array,
                 interrupt: Optional[Callable[[], bool]] = None, interrupt_every: int = 16
                 ) -> Optional[Branches]:
        """The branch phase of collection ``collection`` on its own: from each of the N
        snapshots, K branches whose first actions are ``actions`` (``[N·K × actionWidth]``, state
        after state), E at a time. Returns what they returned (:class:`Branches`), or None if
        ``interrupt()`` (asked every ``interrupt_every`` lockstep steps) returned True."""
        policy = self.policy
        if policy is None:
            raise RuntimeError("no policy loaded")
        E, K = self.copies, self.actions_per_state
        T, gamma = self.settings.rollout_length, self.settings.gamma
        crn = self.settings.common_random_numbers
        seed, stream = self.seed, self.stream
        total = len(snapshots) * K
        q_values = np.zeros(total)
        branch_lengths = np.zeros(total, dtype=np.uint32)
        branch_ends = np.zeros(total, dtype=np.uint8)
        end_observations: dict[int, ObservationArray] = {}  # s_L of each cut branch
        obs, restorers = self.observations, self.snapshots
        first_actions = self.adapter.actions(actions)
        to_actions, to_observation = self.adapter.actions, self.observe
        noise, used = self.noise, self.noise_used
        block = noise.shape[1]
        noise_streams: list[Optional[np.random.Generator]] = [None] * E
        branch = [-1] * E  # the branch each copy runs (-1: none)
        q = [0.0] * E
        discount = [1.0] * E
        taken = [0] * E
        next_branch = 0
        steps = 0

        def finish(b: int, value: float, length: int, terminated: bool, next_obs: Any) -> None:
            """Records branch b's return and length, and whether it terminated or was cut (then
            with its end observation)."""
            q_values[b] = value
            branch_lengths[b] = length
            if terminated:
                branch_ends[b] = End.TERMINATED
            else:
                branch_ends[b] = End.TRUNCATED
                end_observations[b] = to_observation(next_obs)

        def start(i: int) -> None:
            """Starts the next branch that outlives its first step on copy i (branches that end
            at their first step are finished here); leaves the copy idle when none is left."""
            nonlocal next_branch, steps
            while next_branch < total:
                b = next_branch
                next_branch += 1
                n, k = divmod(b, K)
                restorers[i].restore(snapshots[n])
                action_seed, environment_seed = np.random.SeedSequence(
                    [seed, stream, BRANCH_TAG, collection, n] if crn else
                    [seed, stream, BRANCH_TAG, collection, n, k]).spawn(2)
                if not crn:
                    restorers[i].reseed(environment_seed)
                next_obs, reward, terminated, truncated, _ = self._step(i, first_actions[b])
                steps += 1
                if terminated or truncated or T == 1:
                    finish(b, reward, 1, terminated, next_obs)
                    continue
                branch[i], q[i], discount[i], taken[i] = b, reward, 1.0, 1
                obs[i] = to_observation(next_obs)
                rng = noise_streams[i] = np.random.default_rng(action_seed)
                fill_noise(rng, noise[i])
                used[i] = 0
                return
            branch[i] = -1

        for i in range(E):
            start(i)
        iteration = 0
        while True:
            active = [i for i in range(E) if branch[i] >= 0]
            if not active:
                break
            iteration += 1
            if interrupt is not None and iteration % interrupt_every == 0 and interrupt():
                return None
            rows = self.all_copies if len(active) == E else np.asarray(active)
            outputs = policy.row_forward(obs[rows])
            step_actions = policy.draw(outputs, noise[rows, used[rows]])
            used[rows] += 1
            env_actions = to_actions(step_actions)
            for j, i in enumerate(active):
                next_obs, reward, terminated, truncated, _ = self._step(i, env_actions[j])
                steps += 1
                discount[i] *= gamma
                q[i] += discount[i] * reward
                taken[i] += 1
                if terminated or truncated or taken[i] >= T:
                    finish(branch[i], q[i], taken[i], terminated, next_obs)
                    start(i)
                    continue
                obs[i] = to_observation(next_obs)
                if used[i] == block:
                    rng = noise_streams[i]
                    assert rng is not None
                    fill_noise(rng, noise[i])
                    used[i] = 0
        cut = np.zeros((len(end_observations), self.observation_size), dtype=obs.dtype)
        for row, b in enumerate(sorted(end_observations)):  # in branch order
            cut[row] = end_observations[b]
        return Branches(returns=q_values, lengths=branch_lengths, ends=branch_ends, cut_observations=cut, steps=steps)
