"""The policy of a parameters message, evaluated in numpy over a batch of observations.

Two networks share the heads (:class:`StochasticPolicy`): :class:`Policy`, an MLP on feature
vectors, and :class:`ConvolutionalPolicy`, a convolutional network on uint8 frames (parameters
with a convolutional trunk, §3.3 flag bit 1; the network is
:class:`~trpo_worker.convolution.ConvolutionalNetwork`: p/255, valid convolutions, channels-last,
never normalised). :func:`policy_from_parameters` builds the one a parameters message describes.

The MLP policy computes what the Swift sampler computes (docs/protocol.md §3.3, "Parameter layout",
"Categorical head", "Gaussian head", "Normaliser"):

- observations are standardised as ``clip((x − mean) / sqrt(variance + 1e-8), −clip, clip)``;
- each layer computes ``y = x·W + b`` with ``W`` stored ``[inputs × outputs]`` row-major (input
  index major) followed by the biases; hidden layers apply tanh (or relu), the output is linear;
- a categorical head samples an index from softmax(logits) by inverse CDF on one uniform draw
  (the first index whose cumulative probability exceeds the draw, the last index otherwise);
- a Gaussian head samples ``mean + exp(logStd) ⊙ ε``, ε ~ N(0, I), unclipped.

The network runs in float64 by default (the learner's own precision); ``dtype=np.float32``
mirrors the Swift sampling evaluator, which runs the network in single precision. Only the
actions depend on it: the learner recomputes every log-probability itself.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Union

import numpy as np
import numpy.typing as npt

from .codec import Activation, F64Array, HeadKind, NORMALIZER_EPSILON, Parameters
from .convolution import ConvolutionalArchitecture, ConvolutionalNetwork, ConvolutionShapeError, ConvolutionSpec

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class PolicyShapeError(ValueError):
    """The parameters' policy does not fit an environment."""


class StochasticPolicy:
    """A network's outputs turned into actions: a categorical head (logits) or a diagonal
    Gaussian one (means, with ``log_std``). Subclasses give the network: :meth:`forward` maps
    raw observations ``[n × input_size]`` to outputs ``[n × output_size]``."""

    head: HeadKind
    log_std: F64Array
    std: F64Array

    def _set_head(self, head: HeadKind, log_std: npt.ArrayLike) -> None:
        self.head = HeadKind(head)
        self.log_std = np.asarray(log_std, dtype=np.float64).reshape(-1)
        if self.head == HeadKind.GAUSSIAN and self.log_std.size != self.output_size:
            raise PolicyShapeError(f"{self.log_std.size} log-stds for {self.output_size} Gaussian dimensions")
        if self.head == HeadKind.CATEGORICAL and self.log_std.size != 0:
            raise PolicyShapeError("a categorical head has no log-stds")
        self.std = np.exp(self.log_std)

    @property
    def input_size(self) -> int:
        raise NotImplementedError

    @property
    def output_size(self) -> int:
        raise NotImplementedError

    @property
    def action_width(self) -> int:
        return 1 if self.head == HeadKind.CATEGORICAL else self.output_size

    def forward(self, observations: npt.ArrayLike) -> F64Array:
        """Outputs (logits or means) ``[n × output_size]`` for raw observations."""
        raise NotImplementedError

    def row_forward(self, observations: npt.ArrayLike) -> F64Array:
        """Like :meth:`forward`, but every row evaluated on its own, so that a row's outputs do
        not depend on the other rows of the batch (the vine's common random numbers need a
        state's branches to agree bit for bit, whichever branches share their batch)."""
        raise NotImplementedError

    def sample(self, observations: npt.ArrayLike, rng: np.random.Generator,
               deterministic: bool = False) -> F64Array:
        """One action per raw observation row: ``[n × actionWidth]``, float64, unclipped."""
        out = self.forward(observations)
        n = int(out.shape[0])
        if deterministic:
            if self.head == HeadKind.CATEGORICAL:
                mode: F64Array = np.argmax(out, axis=1).astype(np.float64).reshape(n, 1)
                return mode
            return out
        return self.draw(out, self.noise(rng, n))

    def noise(self, rng: np.random.Generator, rows: int) -> F64Array:
        """The random numbers :meth:`draw` turns into ``rows`` actions: one uniform in [0, 1) per
        row (categorical head) or ``[rows × dimension]`` standard normals (Gaussian head)."""
        if self.head == HeadKind.CATEGORICAL:
            uniforms: F64Array = np.asarray(rng.random(rows))
            return uniforms
        normals: F64Array = np.asarray(rng.standard_normal((rows, self.output_size)))
        return normals

    def draw(self, outputs: F64Array, noise: F64Array) -> F64Array:
        """Actions ``[n × actionWidth]`` from the network's outputs and :meth:`noise`: the index
        the uniform selects by inverse CDF of softmax(logits), or ``mean + exp(logStd) ⊙ ε``.
        Row by row: a row's action depends only on its outputs and its noise."""
        n = int(outputs.shape[0])
        if self.head == HeadKind.CATEGORICAL:
            p = softmax(outputs)
            cumulative = np.cumsum(p, axis=1)
            chosen = np.argmax(noise[:, None] < cumulative, axis=1)
            # No cumulative sum above the draw (rounding): the last action, as in Swift.
            chosen[~(noise < cumulative[:, -1])] = outputs.shape[1] - 1
            result: F64Array = chosen.astype(np.float64).reshape(n, 1)
            return result
        noisy: F64Array = outputs + self.std * noise
        return noisy

    def log_probabilities(self, outputs: npt.ArrayLike, actions: npt.ArrayLike) -> F64Array:
        """log π(a | s) per row from network outputs and actions (NaN for invalid discrete actions)."""
        out = np.asarray(outputs, dtype=np.float64)
        act = np.asarray(actions, dtype=np.float64).reshape(out.shape[0], -1)
        if self.head == HeadKind.CATEGORICAL:
            k = out.shape[1]
            a = act[:, 0]
            valid = (a >= 0) & (a < k) & (a == np.trunc(a))
            index = np.where(valid, a, 0).astype(np.int64)
            picked = out[np.arange(out.shape[0]), index] - logsumexp(out)
            categorical: F64Array = np.where(valid, picked, np.nan)
            return categorical
        z = (act - out) / self.std
        gaussian: F64Array = -0.5 * np.sum(z * z, axis=1) - float(np.sum(self.log_std)) - out.shape[1] * HALF_LOG_2PI
        return gaussian


class Policy(StochasticPolicy):
    """An MLP policy with a categorical or diagonal-Gaussian head and an optional normaliser."""

    def __init__(
        self,
        layer_sizes: list[int],
        parameters: npt.ArrayLike,
        head: HeadKind,
        log_std: npt.ArrayLike = (),
        activation: Activation = Activation.TANH,
        normalizer_mean: Optional[npt.ArrayLike] = None,
        normalizer_variance: Optional[npt.ArrayLike] = None,
        normalizer_clip: float = 10.0,
        dtype: type = np.float64,
    ) -> None:
        if len(layer_sizes) < 2 or any(s < 1 for s in layer_sizes):
            raise PolicyShapeError(f"bad layer sizes {layer_sizes}")
        theta = np.asarray(parameters, dtype=np.float64).reshape(-1)
        expected = sum(a * b + b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))
        if theta.size != expected:
            raise PolicyShapeError(f"{theta.size} parameters for layer sizes {layer_sizes} (expected {expected})")
        self.layer_sizes = list(layer_sizes)
        self.activation = Activation(activation)
        self.dtype = dtype
        self._set_head(head, log_std)
        self.weights: list[tuple[npt.NDArray[np.floating], npt.NDArray[np.floating]]] = []
        offset = 0
        for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:]):
            w = theta[offset:offset + fan_in * fan_out].reshape(fan_in, fan_out)
            offset += fan_in * fan_out
            b = theta[offset:offset + fan_out]
            offset += fan_out
            self.weights.append((np.ascontiguousarray(w, dtype=dtype), np.ascontiguousarray(b, dtype=dtype)))
        self.mean: Optional[F64Array] = None
        self.scale: Optional[F64Array] = None
        self.clip = float(normalizer_clip)
        if normalizer_mean is not None:
            mean = np.asarray(normalizer_mean, dtype=np.float64).reshape(-1)
            variance = np.asarray(normalizer_variance, dtype=np.float64).reshape(-1)
            if mean.size != self.input_size or variance.size != self.input_size:
                raise PolicyShapeError("normaliser size differs from the network's input width")
            self.mean = mean
            self.scale = np.sqrt(variance + NORMALIZER_EPSILON)

    @classmethod
    def from_parameters(cls, p: Parameters, dtype: type = np.float64) -> "Policy":
        """The MLP policy of dense parameters (:func:`policy_from_parameters` takes either kind)."""
        if p.convolutions is not None:
            raise PolicyShapeError("the parameters' policy is convolutional, not an MLP")
        n = p.normalizer
        return cls(p.layer_sizes, p.parameters, p.head, p.log_std, p.activation,
                   None if n is None else n.mean, None if n is None else n.variance,
                   10.0 if n is None else n.clip, dtype=dtype)

    @property
    def input_size(self) -> int:
        return self.layer_sizes[0]

    @property
    def output_size(self) -> int:
        return self.layer_sizes[-1]

    def normalize(self, observations: npt.ArrayLike) -> F64Array:
        """Standardised copies of raw observations ``[n × inputs]`` (unchanged without a normaliser)."""
        x = np.asarray(observations, dtype=np.float64)
        if self.mean is None or self.scale is None:
            return x
        return np.clip((x - self.mean) / self.scale, -self.clip, self.clip)

    def outputs(self, normalized: npt.ArrayLike) -> F64Array:
        """The network's outputs ``[n × outputs]`` (logits or means) for normalised inputs."""
        h: npt.NDArray[Any] = np.asarray(normalized, dtype=self.dtype)
        last = len(self.weights) - 1
        for index, (w, b) in enumerate(self.weights):
            h = h @ w + b
            if index < last:
                if self.activation == Activation.TANH:
                    np.tanh(h, out=h)
                else:
                    np.maximum(h, 0, out=h)
        return np.asarray(h, dtype=np.float64)

    def row_outputs(self, normalized: npt.ArrayLike) -> F64Array:
        """Like :meth:`outputs`, but every row is evaluated on its own (one vector–matrix product
        per row and layer), so a row's outputs do not depend on the other rows of the batch. A
        batched matrix product does not guarantee that: BLAS kernels differ with the batch's
        shape and the row's position in it (with OpenBLAS the last bits of a row change), and
        the vine's common random numbers need a state's branches to agree bit for bit."""
        h: npt.NDArray[Any] = np.asarray(normalized, dtype=self.dtype)[:, None, :]
        last = len(self.weights) - 1
        for index, (w, b) in enumerate(self.weights):
            h = np.matmul(h, w)
            h += b
            if index < last:
                if self.activation == Activation.TANH:
                    np.tanh(h, out=h)
                else:
                    np.maximum(h, 0, out=h)
        return np.asarray(h[:, 0, :], dtype=np.float64)

    def forward(self, observations: npt.ArrayLike) -> F64Array:
        """Outputs for raw observations."""
        return self.outputs(self.normalize(observations))

    def row_forward(self, observations: npt.ArrayLike) -> F64Array:
        """Outputs for raw observations, row by row (:meth:`row_outputs`)."""
        return self.row_outputs(self.normalize(observations))


class ConvolutionalPolicy(StochasticPolicy):
    """A convolutional policy (§3.3 "Convolutional trunk"): uint8 frames read as p/255 (never
    normalised) through :class:`~trpo_worker.convolution.ConvolutionalNetwork`, with a
    categorical or diagonal-Gaussian head sampled as :class:`Policy`'s. The network runs in
    float32 by default, as the Swift sampling evaluator does (``dtype=np.float64``: the learner's
    own precision); only the actions depend on it."""

    def __init__(self, architecture: ConvolutionalArchitecture, parameters: npt.ArrayLike, head: HeadKind,
                 output_size: int, log_std: npt.ArrayLike = (), dtype: type = np.float32) -> None:
        try:
            self.network = ConvolutionalNetwork(architecture, output_size, parameters, dtype=dtype)
        except ConvolutionShapeError as error:
            raise PolicyShapeError(str(error)) from None
        self.architecture = architecture
        self.dtype = dtype
        self.parameters = np.asarray(parameters, dtype=np.float64).reshape(-1)
        self._set_head(head, log_std)

    @classmethod
    def from_parameters(cls, p: Parameters, dtype: type = np.float32) -> "ConvolutionalPolicy":
        """The convolutional policy of parameters with a convolutional trunk."""
        trunk = p.convolutions
        if trunk is None:
            raise PolicyShapeError("the parameters' policy is an MLP, not convolutional")
        if p.normalizer is not None:
            raise PolicyShapeError("a convolutional policy takes no normaliser")
        if len(p.layer_sizes) < 2 or p.layer_sizes[-1] != p.head_size:
            raise PolicyShapeError(f"layer sizes {p.layer_sizes} for a head of {p.head_size}")
        architecture = ConvolutionalArchitecture(
            trunk.input, tuple(ConvolutionSpec(*layer) for layer in trunk.layers), tuple(p.layer_sizes[1:-1]),
            Activation(p.activation))
        try:
            architecture.feature_shapes()  # the convolutions fit
        except ConvolutionShapeError as error:
            raise PolicyShapeError(str(error)) from None
        flattened = trunk.output_size
        if flattened != p.layer_sizes[0]:
            raise PolicyShapeError(f"the convolutions' flattened output is {flattened} values, the first layer size "
                                   f"{p.layer_sizes[0]}")
        return cls(architecture, p.parameters, p.head, p.head_size, p.log_std, dtype=dtype)

    @property
    def input_size(self) -> int:
        return self.network.input_size

    @property
    def output_size(self) -> int:
        return self.network.output_size

    def forward(self, observations: npt.ArrayLike) -> F64Array:
        """Outputs for uint8 frames ``[n × H·W·C]`` (or ``[n, H, W, C]``); PolicyShapeError for
        anything else."""
        try:
            return self.network.forward(observations)
        except ConvolutionShapeError as error:
            raise PolicyShapeError(str(error)) from None

    def row_forward(self, observations: npt.ArrayLike) -> F64Array:
        """Outputs for uint8 frames, one frame per network evaluation: a batch of one has the
        same shapes whatever the batch, so a frame's outputs are the same bits wherever it
        sits."""
        frames = np.asarray(observations)
        outputs = np.empty((frames.shape[0], self.output_size))
        for row in range(frames.shape[0]):
            outputs[row] = self.forward(frames[row:row + 1])[0]
        return outputs

    def in_double_precision(self) -> "ConvolutionalPolicy":
        """This policy with its network in float64 (the learner's precision): itself when it is
        already, else a copy built from the same parameters."""
        if self.dtype == np.float64:
            return self
        return ConvolutionalPolicy(self.architecture, self.parameters, self.head, self.output_size, self.log_std,
                                   dtype=np.float64)


AnyPolicy = Union[Policy, ConvolutionalPolicy]


def policy_from_parameters(p: Parameters) -> AnyPolicy:
    """The policy a parameters message describes: :class:`ConvolutionalPolicy` (float32, as the
    Swift worker samples) when it has a convolutional trunk, else :class:`Policy` (float64).
    PolicyShapeError when the description is inconsistent."""
    if p.convolutions is not None:
        return ConvolutionalPolicy.from_parameters(p)
    return Policy.from_parameters(p)


def softmax(logits: F64Array) -> F64Array:
    """Row-wise softmax, stably (maximum subtracted)."""
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    result: F64Array = z / z.sum(axis=1, keepdims=True)
    return result


def logsumexp(logits: F64Array) -> F64Array:
    m = logits.max(axis=1)
    result: F64Array = m + np.log(np.exp(logits - m[:, None]).sum(axis=1))
    return result
