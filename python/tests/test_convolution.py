"""The numpy convolutional network against the Swift implementation on the same parameters.

``fixtures/convolution_reference.json`` is written by Swift
(``TRPO_WRITE_FIXTURES=1 swift test --filter ConvolutionFixtureExport``, the test
``Tests/LearnerTests/ConvolutionFixtureExport.swift``): for three networks (one and two
convolutions, relu and tanh, strides that drop edge pixels, non-square input, the geometry of
Baselines' cnn_small) it holds uint8 frames and what Swift computes from them: the outputs in
double precision (``ConvolutionalNetwork.forward``) and the sampling evaluator's
single-precision outputs (``ConvolutionalEvaluator``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from trpo_worker.codec import Activation
from trpo_worker.convolution import (CNN_SMALL, DQN_2013, PAPER_ATARI, ConvolutionalNetwork,
                                     ConvolutionShapeError, architecture_of)

FIXTURE = Path(__file__).parent / "fixtures" / "convolution_reference.json"
CASES: list[dict[str, Any]] = json.loads(FIXTURE.read_text())["cases"] if FIXTURE.exists() else []


def network_of(case: dict[str, Any], dtype: type) -> ConvolutionalNetwork:
    architecture = architecture_of(case["input"], [(c["filters"], c["kernel"], c["stride"]) for c in case["convolutions"]],
                                   case["hiddenSizes"],
                                   Activation.TANH if case["activation"] == "tanh" else Activation.RELU)
    return ConvolutionalNetwork(architecture, case["outputSize"], case["parameters"], dtype=dtype)


def frames_of(case: dict[str, Any]) -> np.ndarray:
    return np.asarray(case["frames"], dtype=np.uint8).reshape(case["rows"], -1)


def test_fixture_present() -> None:
    assert FIXTURE.exists(), f"{FIXTURE} is missing: run TRPO_WRITE_FIXTURES=1 swift test --filter ConvolutionFixtureExport"
    assert {c["name"] for c in CASES} == {"two-conv-relu", "one-conv-tanh", "cnn-small-geometry"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_double_precision_matches_swift(case: dict[str, Any]) -> None:
    out = network_of(case, np.float64).forward(frames_of(case))
    expected = np.asarray(case["outputs"]).reshape(case["rows"], case["outputSize"])
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_single_precision_matches_the_sampling_evaluator(case: dict[str, Any]) -> None:
    out = network_of(case, np.float32).forward(frames_of(case))
    evaluator = np.asarray(case["evaluatorOutputs"]).reshape(case["rows"], case["outputSize"])
    exact = np.asarray(case["outputs"]).reshape(case["rows"], case["outputSize"])
    scale = np.abs(exact).max()
    np.testing.assert_allclose(out, evaluator, atol=2e-5 * scale)
    # And the single-precision result is a rounding of the exact one, not another function.
    np.testing.assert_allclose(out, exact, atol=2e-5 * scale)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_images_and_rows_are_the_same_input(case: dict[str, Any]) -> None:
    network = network_of(case, np.float64)
    rows = frames_of(case)
    images = rows.reshape(case["rows"], *case["input"])
    np.testing.assert_array_equal(network.forward(rows), network.forward(images))


def test_a_rows_outputs_do_not_depend_on_the_batch() -> None:
    case = CASES[0]
    network = network_of(case, np.float64)
    rows = frames_of(case)
    whole = network.forward(rows)
    for i in range(case["rows"]):
        np.testing.assert_allclose(network.forward(rows[i:i + 1])[0], whole[i], rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("architecture, actions, count", [
    (PAPER_ATARI, 6, 120_692 + 21 * 6), (CNN_SMALL, 4, 170_136 + 129 * 4), (DQN_2013, 18, 676_144 + 257 * 18)])
def test_preset_parameter_counts_are_swifts(architecture: Any, actions: int, count: int) -> None:
    # The counts ConvolutionalArchitecture.swift documents for its presets.
    assert architecture.parameter_count(actions) == count
    network = ConvolutionalNetwork(architecture, actions, np.zeros(count))
    frames = np.full((2, 84 * 84 * 4), 255, dtype=np.uint8)
    assert network.forward(frames).shape == (2, actions)


def test_bad_input_is_refused_with_the_reason() -> None:
    case = CASES[0]
    network = network_of(case, np.float32)
    with pytest.raises(ConvolutionShapeError, match="uint8"):
        network.forward(frames_of(case).astype(np.float32))
    with pytest.raises(ConvolutionShapeError, match="do not hold"):
        network.forward(frames_of(case)[:, :-1])
    with pytest.raises(ConvolutionShapeError, match="expected"):
        network_of({**case, "parameters": case["parameters"][:-1]}, np.float32)
    with pytest.raises(ConvolutionShapeError, match="does not fit"):
        architecture_of((5, 5, 1), [(2, 6, 1)], [4]).parameter_count(2)
    with pytest.raises(ConvolutionShapeError, match="bad architecture"):
        ConvolutionalNetwork(architecture_of((5, 5, 1), [], [4]), 2, [])
