"""A convolutional network over uint8 frames, evaluated in numpy over a batch.

It computes what Swift's ``ConvolutionalNetwork`` computes (Sources/Core/ConvolutionLayout.swift
and ConvolutionGeometry.swift):

- an image is stored channels-last: pixel (y, x), channel c is element ``(y·W + x)·C + c`` of its
  row; a uint8 pixel ``p`` is read as ``p / 255``;
- each convolution is "valid" (no padding): ``F`` filters of ``k × k`` moved by ``s`` pixels give
  ``(H − k)//s + 1`` rows and ``(W − k)//s + 1`` columns of positions; its weights are a
  ``[k·k·C × F]`` row-major block whose rows run over (ky, kx, c) — TensorFlow's ``[k, k, C, F]``
  filter layout flattened — followed by its ``F`` biases; the output is stored channels-last;
- the last feature map, flattened as stored, feeds dense layers laid out as the MLP policy's
  (``[inputs × outputs]`` weights, then biases), the last one linear;
- the activation (relu or tanh) follows every convolution and every hidden dense layer.

Parameters are those layers in that order, one flat vector. The network runs in float32 by
default (as the Swift sampling evaluator does); ``dtype=np.float64`` matches the learner's own
double-precision forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import numpy.typing as npt

from .codec import Activation, F64Array


class ConvolutionShapeError(ValueError):
    """An architecture that cannot be built, or parameters or frames that do not fit it."""


@dataclass(frozen=True)
class ConvolutionSpec:
    """``filters`` square ``kernel × kernel`` filters moved by ``stride`` pixels, no padding."""

    filters: int
    kernel: int
    stride: int


@dataclass(frozen=True)
class ConvolutionalArchitecture:
    """Convolutions on an image ``(height, width, channels)``, then dense hidden layers."""

    input: tuple[int, int, int]
    convolutions: tuple[ConvolutionSpec, ...]
    hidden_sizes: tuple[int, ...]
    activation: Activation = Activation.RELU

    def feature_shapes(self) -> list[tuple[int, int, int]]:
        """The input's shape and each convolution's output shape, channels-last."""
        shapes = [self.input]
        for c in self.convolutions:
            h, w, _ = shapes[-1]
            if min(c.filters, c.kernel, c.stride) < 1 or c.kernel > h or c.kernel > w:
                raise ConvolutionShapeError(f"convolution {c} does not fit a {h}×{w} feature map")
            shapes.append(((h - c.kernel) // c.stride + 1, (w - c.kernel) // c.stride + 1, c.filters))
        return shapes

    def parameter_count(self, output_size: int) -> int:
        shapes = self.feature_shapes()
        count = sum(c.kernel * c.kernel * s[2] * c.filters + c.filters for c, s in zip(self.convolutions, shapes))
        h, w, f = shapes[-1]
        widths = [h * w * f, *self.hidden_sizes, output_size]
        return count + sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))


# The networks of Sources/Core/ConvolutionalArchitecture.swift, on four stacked 84×84 grey frames.
PAPER_ATARI = ConvolutionalArchitecture((84, 84, 4), (ConvolutionSpec(16, 4, 2), ConvolutionSpec(16, 4, 2)), (20,))
CNN_SMALL = ConvolutionalArchitecture((84, 84, 4), (ConvolutionSpec(8, 8, 4), ConvolutionSpec(16, 4, 2)), (128,))
DQN_2013 = ConvolutionalArchitecture((84, 84, 4), (ConvolutionSpec(16, 8, 4), ConvolutionSpec(32, 4, 2)), (256,))


class ConvolutionalNetwork:
    """A network of a :class:`ConvolutionalArchitecture` with ``output_size`` linear outputs."""

    def __init__(self, architecture: ConvolutionalArchitecture, output_size: int, parameters: npt.ArrayLike,
                 dtype: type = np.float32) -> None:
        if output_size < 1 or not architecture.convolutions or any(s < 1 for s in architecture.hidden_sizes) \
                or min(architecture.input) < 1:
            raise ConvolutionShapeError(f"bad architecture {architecture} with {output_size} outputs")
        self.shapes = architecture.feature_shapes()
        theta = np.asarray(parameters, dtype=np.float64).reshape(-1)
        expected = architecture.parameter_count(output_size)
        if theta.size != expected:
            raise ConvolutionShapeError(f"{theta.size} parameters for {architecture} with {output_size} outputs "
                                        f"(expected {expected})")
        self.architecture = architecture
        self.output_size = output_size
        self.dtype = dtype
        offset = 0
        # Each convolution's weights as [k, k, C, F] (rows of the [k·k·C × F] block over (ky, kx, c)).
        self.filters: list[tuple[npt.NDArray[Any], npt.NDArray[Any]]] = []
        for c, (_, _, channels) in zip(architecture.convolutions, self.shapes):
            n = c.kernel * c.kernel * channels * c.filters
            w = theta[offset:offset + n].reshape(c.kernel, c.kernel, channels, c.filters)
            b = theta[offset + n:offset + n + c.filters]
            offset += n + c.filters
            self.filters.append((np.ascontiguousarray(w, dtype=dtype), np.ascontiguousarray(b, dtype=dtype)))
        h, w_, f = self.shapes[-1]
        widths = [h * w_ * f, *architecture.hidden_sizes, output_size]
        self.dense: list[tuple[npt.NDArray[Any], npt.NDArray[Any]]] = []
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            dense_w = theta[offset:offset + fan_in * fan_out].reshape(fan_in, fan_out)
            b = theta[offset + fan_in * fan_out:offset + fan_in * fan_out + fan_out]
            offset += fan_in * fan_out + fan_out
            self.dense.append((np.ascontiguousarray(dense_w, dtype=dtype), np.ascontiguousarray(b, dtype=dtype)))

    @property
    def input_size(self) -> int:
        h, w, c = self.architecture.input
        return h * w * c

    def _activate(self, x: npt.NDArray[Any]) -> None:
        if self.architecture.activation == Activation.TANH:
            np.tanh(x, out=x)
        else:
            np.maximum(x, 0, out=x)

    def forward(self, frames: npt.ArrayLike) -> F64Array:
        """Outputs ``[n × output_size]`` for ``n`` uint8 frames, given as ``[n × H·W·C]`` rows or
        ``[n, H, W, C]`` images."""
        pixels = np.asarray(frames)
        if pixels.dtype != np.uint8:
            raise ConvolutionShapeError(f"frames must be uint8, got {pixels.dtype}")
        n = pixels.shape[0] if pixels.ndim >= 1 else 0
        if pixels.size != n * self.input_size:
            raise ConvolutionShapeError(f"frames of {pixels.shape} do not hold {n} images of {self.architecture.input}")
        x: npt.NDArray[Any] = pixels.reshape(n, *self.architecture.input).astype(self.dtype)
        x *= self.dtype(1 / 255)  # in place: one image-sized buffer per call, not two
        for spec, (w, b) in zip(self.architecture.convolutions, self.filters):
            x = _convolve(x, w, b, spec.stride)
            self._activate(x)
        h = x.reshape(n, -1)
        last = len(self.dense) - 1
        for index, (w, b) in enumerate(self.dense):
            h = h @ w + b
            if index < last:
                self._activate(h)
        return np.asarray(h, dtype=np.float64)


def _convolve(images: npt.NDArray[Any], weights: npt.NDArray[Any], bias: npt.NDArray[Any],
              stride: int) -> npt.NDArray[Any]:
    """A valid convolution of ``[n, H, W, C]`` images by ``[k, k, C, F]`` weights: ``[n, H', W', F]``."""
    k = weights.shape[0]
    # [n, H−k+1, W−k+1, C, k, k] windows, every stride-th position, reordered to (ky, kx, c).
    windows = np.lib.stride_tricks.sliding_window_view(images, (k, k), axis=(1, 2))[:, ::stride, ::stride]
    patches = windows.transpose(0, 1, 2, 4, 5, 3)
    n, oh, ow = patches.shape[:3]
    out = patches.reshape(n * oh * ow, -1) @ weights.reshape(-1, weights.shape[3])
    out += bias
    result: npt.NDArray[Any] = out.reshape(n, oh, ow, weights.shape[3])
    return result


def architecture_of(input_shape: Sequence[int], convolutions: Sequence[Sequence[int]], hidden_sizes: Sequence[int],
                    activation: Activation = Activation.RELU) -> ConvolutionalArchitecture:
    """An architecture from plain sequences: ``convolutions`` as ``(filters, kernel, stride)`` triples."""
    h, w, c = (int(v) for v in input_shape)
    return ConvolutionalArchitecture((h, w, c), tuple(ConvolutionSpec(*(int(v) for v in s)) for s in convolutions),
                                     tuple(int(v) for v in hidden_sizes), Activation(activation))
